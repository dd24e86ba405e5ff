import math

import numpy as np
import pytest
import torch

from recmv.errors import RecmvError
from recmv.geometry.rotations import axis_angle_to_matrix
from recmv.losses.deformation import (
    deformation_consistency_loss, geman_mcclure, mean_offset_loss, offset_norm, rigidity_loss,
)
from recmv.losses.sdf import eikonal_loss, eikonal_samples, normal_alignment_loss, surface_loss
from recmv.losses.shading import colour_loss, normal_loss, observed_normals, per_image_mean
from recmv.losses.silhouette import dilate_masks, silhouette_loss
from recmv.losses.smoothness import dct_smoothness_loss, dct_windows, end_slope_quadratic, pose_prior_loss


def test_dilation_grows_a_pixel_into_a_square():
    masks = torch.zeros(1, 1, 9, 9, dtype=torch.bool)
    masks[0, 0, 4, 4] = True
    dilated = dilate_masks(masks, 2)
    assert dilated.sum() == 25 and dilated[0, 0, 2:7, 2:7].all()
    assert torch.equal(dilate_masks(masks, 0), masks.float())


def test_a_fractional_dilation_grows_the_mask_by_part_of_a_ring():
    masks = torch.zeros(1, 1, 9, 9, dtype=torch.bool)
    masks[0, 0, 4, 4] = True
    dilated = dilate_masks(masks, 1.25)
    # The 3 x 3 square whole, the next ring at a quarter, nothing beyond.
    assert torch.all(dilated[0, 0, 3:6, 3:6] == 1)
    assert dilated.sum().item() == pytest.approx(9 + 0.25 * 16)
    assert dilated[0, 0, 2, 2].item() == pytest.approx(0.25) and dilated[0, 0, 1, 1] == 0
    with pytest.raises(RecmvError, match="radius_px"):
        dilate_masks(masks, -1)


def test_silhouette_loss_is_mean_of_one_minus_iou_over_valid_pairs():
    pred = torch.zeros(2, 2, 4, 4)
    target = torch.zeros(2, 2, 4, 4)
    pred[0, 0, :2] = 1  # 8 px
    target[0, 0, :1] = 1  # 4 px inside: IoU 0.5
    pred[1, 1] = 1
    target[1, 1] = 1  # IoU 1
    valid = torch.tensor([[True, False], [False, True]])
    assert silhouette_loss(pred, target, valid).item() == pytest.approx(0.25)
    with pytest.raises(RecmvError, match="valid"):
        silhouette_loss(pred, target, valid[:1])


def test_geman_mcclure_and_consistency():
    assert geman_mcclure(torch.tensor(0.0), 0.5).item() == 0.0
    assert geman_mcclure(torch.tensor(4 * 0.25), 0.5).item() == pytest.approx(1.0)  # x/c^2 = 4 -> 8/8
    assert geman_mcclure(torch.tensor(1e9), 0.5).item() == pytest.approx(2.0, rel=1e-6)
    a = torch.randn(10, 3, dtype=torch.float64)
    assert deformation_consistency_loss(a, a).item() == 0.0
    shifted = a + torch.tensor([0.01, 0.0, 0.0], dtype=torch.float64)
    assert deformation_consistency_loss(shifted, a, 0.01).item() == pytest.approx(2 * 1 / 5)
    assert offset_norm(torch.tensor([[3.0, 4.0, 0.0]])).item() == 5.0


def test_consistency_margin_frees_short_offsets_and_charges_the_excess_of_long_ones():
    a = torch.randn(10, 3, dtype=torch.float64)
    direction = torch.nn.functional.normalize(torch.randn(10, 3, dtype=torch.float64), dim=-1)
    assert deformation_consistency_loss(a + 0.019 * direction, a, 0.01, margin=0.02).item() == 0.0
    # 3 cm past a 2 cm margin costs what 1 cm costs without one.
    expected = deformation_consistency_loss(a + 0.01 * direction, a, 0.01).item()
    assert deformation_consistency_loss(a + 0.03 * direction, a, 0.01, margin=0.02).item() == pytest.approx(expected)
    moved = (a + 0.03 * direction).requires_grad_(True)
    deformation_consistency_loss(moved, a, 0.01, margin=0.02).backward()
    # The pull points back along each offset.
    assert torch.all((moved.grad * direction).sum(-1) > 0)


def test_rigidity_is_zero_for_rotations_and_positive_for_stretch():
    rotations = axis_angle_to_matrix(torch.randn(6, 3, dtype=torch.float64))
    assert rigidity_loss(rotations).item() == pytest.approx(0.0, abs=1e-12)
    stretched = rotations * torch.tensor([1.3, 1.0, 1.0], dtype=torch.float64)
    expected = geman_mcclure(torch.tensor(math.log(1.3) ** 2, dtype=torch.float64), 0.5).item()
    assert rigidity_loss(stretched).item() == pytest.approx(expected)
    assert torch.isfinite(rigidity_loss(torch.zeros(2, 3, 3)))


def test_gradchecks():
    jac = (torch.eye(3, dtype=torch.float64) + 0.2 * torch.randn(4, 3, 3, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(rigidity_loss, (jac,))
    a = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: deformation_consistency_loss(x, b, 0.5), (a,))
    assert torch.autograd.gradcheck(lambda x: deformation_consistency_loss(x, b, 0.5, margin=0.1), (a,))
    grad = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    observed = torch.nn.functional.normalize(torch.randn(6, 3, dtype=torch.float64), dim=-1)
    dirs = torch.nn.functional.normalize(torch.randn(6, 3, dtype=torch.float64), dim=-1)
    index = torch.tensor([0, 0, 1, 1, 1, 0])
    # The facing weight is detached by design (REC-MV), so the unweighted loss is the one to check.
    assert torch.autograd.gradcheck(lambda g, j: normal_loss(j, g, observed, dirs, index, 2, weighted=False), (grad, jac.detach()[[0, 1, 2, 3, 0, 1]].clone().requires_grad_(True)))


def test_sdf_terms_on_a_sphere():
    points = torch.nn.functional.normalize(torch.randn(100, 3, dtype=torch.float64), dim=-1)
    assert surface_loss(points.norm(dim=-1) - 1.0).item() == pytest.approx(0.0, abs=1e-12)
    assert eikonal_loss(points).item() == pytest.approx(0.0, abs=1e-12)  # grad of |x| - 1 is x/|x|
    assert eikonal_loss(2 * points).item() == pytest.approx(1.0)
    assert normal_alignment_loss(points, points).item() == pytest.approx(0.0, abs=1e-12)
    box = (torch.full((3,), -2.0, dtype=torch.float64), torch.full((3,), 2.0, dtype=torch.float64))
    samples = eikonal_samples(points, 0.01, box, 0.5, torch.Generator().manual_seed(0))
    assert samples.shape == (150, 3)
    assert (samples[:100] - points).norm(dim=-1).max() < 0.1
    assert (samples[100:].abs() <= 2.0).all()


def test_normal_loss_zero_when_observation_agrees_and_skips_empty_normals():
    normals = torch.nn.functional.normalize(torch.randn(8, 3, dtype=torch.float64), dim=-1)
    eye = torch.eye(3, dtype=torch.float64).expand(8, 3, 3)
    dirs = -normals  # looking straight at each point: weight 1
    index = torch.zeros(8, dtype=torch.long)
    assert normal_loss(eye, 3 * normals, normals, dirs, index, 1).item() == pytest.approx(0.0, abs=1e-12)
    flipped = normal_loss(eye, normals, -normals, dirs, index, 1, weighted=False)
    assert flipped.item() == pytest.approx(2.0)
    assert normal_loss(eye, normals, torch.zeros_like(normals), dirs, index, 1).item() == 0.0
    rotation = axis_angle_to_matrix(torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)).expand(8, 3, 3)
    world = (rotation @ normals[:, :, None])[:, :, 0]
    torch.testing.assert_close(observed_normals(rotation, normals), world)
    assert normal_loss(rotation, normals, world, -world, index, 1).item() == pytest.approx(0.0, abs=1e-12)


def test_per_image_means_match_a_loop():
    values = torch.rand(20, dtype=torch.float64)
    index = torch.randint(0, 4, (20,))
    index[index == 2] = 3  # image 2 has no rays: left out of the mean
    means = [values[index == i].mean().item() for i in range(4) if (index == i).any()]
    assert per_image_mean(values, index, 4).item() == pytest.approx(np.mean(means))
    predicted, observed = torch.rand(20, 3, dtype=torch.float64), torch.rand(20, 3, dtype=torch.float64)
    per_ray = (predicted - observed).abs().sum(-1)
    assert colour_loss(predicted, observed, index, 4).item() == pytest.approx(per_image_mean(per_ray, index, 4).item())


def test_dct_smoothness_penalises_jitter_not_smooth_motion():
    n = torch.arange(30, dtype=torch.float64) + 0.5
    low = [torch.cos(math.pi * n * k / 30) for k in range(4)]  # DCT-II bases 0..3: no high frequency
    smooth = torch.stack([low[0] + 0.5 * low[1], low[2], 0.3 * low[3]], dim=-1)[:, None]  # [30, 1, 3]
    jitter = smooth + 0.01 * torch.tensor([(-1.0) ** i for i in range(30)], dtype=torch.float64)[:, None, None]
    assert dct_smoothness_loss(smooth).item() == pytest.approx(0.0, abs=1e-12)
    assert dct_smoothness_loss(jitter).item() > 1e-3
    assert dct_smoothness_loss(smooth[:2]).item() == 0.0


def _turn(frames: int = 30, radius: float = 0.7) -> torch.Tensor:
    """A point going once round a circle at constant speed (a joint of a body turning on the spot) -> [T, 1, 3]."""
    angle = 2 * math.pi * torch.arange(frames, dtype=torch.float64) / frames
    return torch.stack([radius * angle.sin(), torch.zeros_like(angle), radius * angle.cos()], -1)[:, None]


def test_end_slope_quadratic_takes_a_quadratic_motion_whole():
    time = torch.arange(12, dtype=torch.float64)[:, None]
    motion = 0.3 * time - 0.02 * time.square() + torch.tensor([[0.0, 1.0, -2.0]], dtype=torch.float64)
    quadratic = end_slope_quadratic(motion)
    # Up to the start value, which the DCT keeps in its lowest basis, the quadratic is the motion itself.
    assert torch.allclose(motion - quadratic, motion[:1].expand_as(motion), atol=1e-12)
    assert torch.all(quadratic[0] == 0)
    with pytest.raises(RecmvError, match="3 frames"):
        end_slope_quadratic(motion[:2])


def test_detrended_dct_smoothness_spares_a_turn_and_still_penalises_jitter():
    turn = _turn()
    jitter = 0.01 * torch.tensor([(-1.0) ** i for i in range(30)], dtype=torch.float64)[:, None, None]
    plain, detrended = dct_smoothness_loss(turn).item(), dct_smoothness_loss(turn, detrend=True).item()
    assert detrended < plain / 5
    assert dct_smoothness_loss(turn + jitter, detrend=True).item() > 10 * detrended
    # The plain term pulls hardest on the two ends of the turn; detrended, its pull there is a fraction of that.
    pulls = []
    for detrend in (False, True):
        moving = turn.clone().requires_grad_()
        dct_smoothness_loss(moving, detrend=detrend).backward()
        pulls.append(moving.grad.norm(dim=-1).squeeze(-1))
    ends = [0, 1, 28, 29]
    assert pulls[0][ends].mean() > 1.5 * pulls[0][5:25].mean()
    assert pulls[1][ends].mean() < 0.5 * pulls[0][ends].mean()


def test_pose_prior_is_quadratic_near_the_input_and_linear_far_from_it():
    given = torch.randn(2, 50, 3, dtype=torch.float64)
    assert pose_prior_loss(given, given).item() == 0.0
    for distance in (0.001, 0.05):  # metres, against the 5 mm scale
        moved = given + torch.tensor([0.0, distance, 0.0], dtype=torch.float64)
        expected = math.sqrt(1 + (distance / 0.005) ** 2) - 1
        assert pose_prior_loss(moved, given).item() == pytest.approx(expected, rel=1e-9)
    # The pull on a vertex is bounded by 1 / scale however far it has gone (mean over 100 vertices).
    far = (given + 1.0).requires_grad_()
    pose_prior_loss(far, given).backward()
    assert far.grad.norm(dim=-1).max().item() == pytest.approx(1 / 0.005 / 100, rel=1e-3)
    with pytest.raises(RecmvError, match="vertices, given"):
        pose_prior_loss(given, given[:, :10])


def test_mean_offset_is_zero_without_offsets_and_keeps_pulling_long_ones():
    assert mean_offset_loss(torch.zeros(10, 3, dtype=torch.float64)).item() == 0.0
    offsets = torch.tensor([[0.0, 0.005, 0.0], [0.04, 0.0, 0.03]], dtype=torch.float64, requires_grad=True)
    expected = np.mean([math.sqrt(1 + 0.5**2) - 1, math.sqrt(1 + 5.0**2) - 1])  # 5 mm and 5 cm, 1 cm scale
    loss = mean_offset_loss(offsets)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    # Unlike the consistency term's Geman-McClure, whose pull on a 5 cm offset has almost vanished.
    assert offsets.grad[1].norm().item() == pytest.approx(5 / math.sqrt(26) / 0.01 / 2, rel=1e-9)
    with pytest.raises(RecmvError, match="offsets"):
        mean_offset_loss(offsets[0])


def test_dct_windows_are_centred_and_clamped():
    windows = dct_windows(torch.tensor([0, 10, 19]), 20, 6)
    assert windows.tolist() == [[0, 1, 2, 3, 4, 5], [7, 8, 9, 10, 11, 12], [14, 15, 16, 17, 18, 19]]
    assert dct_windows(torch.tensor([1]), 3, 30).tolist() == [[0, 1, 2]]
