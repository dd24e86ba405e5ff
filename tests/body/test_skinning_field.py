import numpy as np
import pytest
import torch

from recmv.body.skinning_field import (
    SkinningGrid,
    _neighbour_count,
    _solve_laplace,
    cube_of,
    diffuse_skinning_weights,
    joint_subtrees,
    merge_joint_weights,
)
from recmv.errors import InputFileError, RecmvError

trimesh = pytest.importorskip("trimesh")


def rod(max_edge: float = 0.06) -> tuple[torch.Tensor, torch.Tensor]:
    """A closed cylinder along x: length 1, radius 0.15, centred at the origin."""
    mesh = trimesh.creation.cylinder(radius=0.15, height=1.0, sections=24)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    vertices, faces = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=max_edge)
    return torch.tensor(vertices, dtype=torch.float32), torch.tensor(faces, dtype=torch.int64)


def two_bone_weights(vertices: torch.Tensor, sharpness: float | None) -> torch.Tensor:
    """[V, 3] weights: joint 0 on the left (-x), joint 1 on the right, joint 2 unused.

    sharpness None gives a step at x = 0 (vertices on the plane get 1/2), otherwise a smoothstep
    over |x| < sharpness.
    """
    x = vertices[:, 0]
    if sharpness is None:
        left = (x < 0).float() + 0.5 * (x == 0).float()
    else:
        t = ((sharpness - x) / (2 * sharpness)).clamp(0, 1)
        left = t * t * (3 - 2 * t)
    return torch.stack([left, 1 - left, torch.zeros_like(left)], dim=1)


@pytest.fixture(scope="module")
def smooth_rod_grid():
    vertices, faces = rod()
    weights = two_bone_weights(vertices, sharpness=0.3)
    return vertices, weights, diffuse_skinning_weights(vertices, faces, weights, resolution=32)


def test_grid_reproduces_surface_weights(smooth_rod_grid):
    vertices, weights, grid = smooth_rod_grid
    error = (grid.query(vertices) - weights).abs().sum(dim=1)
    # Per-vertex L1 over joints; measured 0.005 mean, 0.017 max at 32^3 (3.4 cm voxels, 30 cm rod).
    assert error.mean() < 0.015
    assert error.max() < 0.05


def test_grid_is_a_partition_of_unity(smooth_rod_grid):
    _, _, grid = smooth_rod_grid
    assert grid.weights.dtype == torch.float32
    assert grid.weights.shape == (3, 32, 32, 32)
    assert grid.weights.min() >= 0
    torch.testing.assert_close(grid.weights.sum(dim=0), torch.ones(32, 32, 32))
    assert grid.weights[2].abs().max() == 0  # no vertex uses joint 2


def test_cube_spans_the_body(smooth_rod_grid):
    vertices, _, grid = smooth_rod_grid
    center, extent = cube_of(vertices)
    torch.testing.assert_close(grid.center, center)
    assert extent == pytest.approx(1.1 * 1.0, rel=1e-5)
    corners = torch.stack([center - extent / 2, center + extent / 2])
    torch.testing.assert_close(grid.normalize(corners), torch.tensor([[-1.0] * 3, [1.0] * 3]))


def test_step_weights_give_a_monotone_smooth_transition():
    vertices, faces = rod()
    grid = diffuse_skinning_weights(
        vertices, faces, two_bone_weights(vertices, sharpness=None), resolution=32
    )
    axis = torch.zeros(101, 3)
    axis[:, 0] = torch.linspace(-0.45, 0.45, 101)
    left = grid.query(axis)[:, 0]
    assert torch.all(left.diff() <= 1e-4), "left weight must not increase along +x"
    assert left[0] > 0.95 and left[-1] < 0.05
    assert left[50] == pytest.approx(0.5, abs=0.05)
    # Harmonic, not a step: inside the rod the change spreads over several voxels (3.4 cm each).
    assert left.diff().abs().max() < 0.1
    assert 0.1 < left[axis[:, 0].abs() < 0.05].min() and left[axis[:, 0].abs() < 0.05].max() < 0.9


def test_laplace_solve_with_two_fixed_planes_is_a_linear_ramp():
    size = 8
    x = torch.zeros(1, size, size, size, dtype=torch.float64)
    x[0, :, :, -1] = 1.0
    free = torch.ones(size, size, size, dtype=torch.float64)
    free[:, :, 0] = free[:, :, -1] = 0.0
    solution = _solve_laplace(x, free, iterations=100)[0]
    ramp = torch.linspace(0, 1, size, dtype=torch.float64).expand(size, size, size)
    # Zero-flux side faces: the ramp does not depend on y or z.
    torch.testing.assert_close(solution, ramp, atol=1e-8, rtol=0)


def test_neighbour_count_counts_in_grid_faces():
    count = _neighbour_count(torch.Size([3, 4, 5]), torch.float32, "cpu")
    assert count[1, 1, 1] == 6 and count[0, 0, 0] == 3 and count[0, 1, 1] == 5


def test_query_has_second_derivatives():
    generator = torch.Generator().manual_seed(0)
    weights = torch.rand(2, 4, 4, 4, generator=generator)
    grid = SkinningGrid(
        weights=weights / weights.sum(0), center=torch.tensor([0.1, 0.0, -0.2]), extent=2.0
    )
    points = (
        0.8 * torch.rand(5, 3, generator=generator, dtype=torch.float64) - 0.4
    ).requires_grad_()
    assert torch.autograd.gradgradcheck(grid.query, (points,))


def test_query_follows_replaced_or_edited_weights():
    # The channels-last copy kept between queries must not outlive the weights it was made from.
    weights = torch.zeros(2, 3, 3, 3)
    weights[0] = 1.0
    grid = SkinningGrid(weights=weights, center=torch.zeros(3), extent=2.0)
    points = torch.zeros(4, 3)
    torch.testing.assert_close(grid.query(points), torch.tensor([[1.0, 0.0]]).expand(4, 2))
    grid.weights = weights.flip(0)
    torch.testing.assert_close(grid.query(points), torch.tensor([[0.0, 1.0]]).expand(4, 2))
    grid.weights[0] = 0.5
    torch.testing.assert_close(grid.query(points), torch.tensor([[0.5, 1.0]]).expand(4, 2))
    assert grid.query(points.double()).dtype == torch.float64


def test_save_load_round_trip(tmp_path, smooth_rod_grid):
    _, _, grid = smooth_rod_grid
    path = tmp_path / "diffused_skinning_weights.npy"
    grid.save(path)
    array = np.load(path)
    assert array.dtype == np.float32 and array.shape == (3, 32, 32, 32)
    loaded = SkinningGrid.load(path, grid.center, grid.extent)
    torch.testing.assert_close(loaded.weights, grid.weights, atol=0, rtol=0)
    assert loaded.extent == grid.extent
    torch.testing.assert_close(loaded.center, grid.center)


def uniform(joints: int = 2, size: int = 4) -> np.ndarray:
    return np.full((joints, size, size, size), 1.0 / joints, dtype=np.float32)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((2, 4, 4), dtype=np.float32), "4-D"),
        (np.full((2, 4, 4, 5), 0.5, dtype=np.float32), "cubic"),
        (uniform().astype(np.int64), "floating-point"),
        (
            np.where(np.arange(2)[:, None, None, None] == 0, np.nan, 0.5)
            .repeat(4, 1)
            .repeat(4, 2)
            .repeat(4, 3),
            "NaN",
        ),
        (
            np.stack([np.full((4, 4, 4), 1.2), np.full((4, 4, 4), -0.2)]).astype(np.float32),
            r"\[0, 1\]",
        ),
        (uniform() * 0.9, "sum to 1"),
    ],
)
def test_bad_weight_files_are_named_with_the_problem(tmp_path, array, message):
    path = tmp_path / "diffused_skinning_weights.npy"
    np.save(path, array)
    with pytest.raises(InputFileError, match=message) as error:
        SkinningGrid.load(path, torch.zeros(3), 1.0)
    assert str(path) in str(error.value)


def test_unreadable_file_and_bad_cube(tmp_path):
    path = tmp_path / "diffused_skinning_weights.npy"
    path.write_text("not an array")
    with pytest.raises(InputFileError, match="readable"):
        SkinningGrid.load(path, torch.zeros(3), 1.0)
    np.save(path, uniform())
    with pytest.raises(RecmvError, match="extent"):
        SkinningGrid.load(path, torch.zeros(3), 0.0)
    with pytest.raises(RecmvError, match="center"):
        SkinningGrid.load(path, torch.zeros(2), 1.0)


def test_bad_body_inputs_raise():
    vertices, faces = rod(max_edge=0.3)
    weights = two_bone_weights(vertices, sharpness=0.3)
    with pytest.raises(RecmvError, match="weights"):
        diffuse_skinning_weights(vertices, faces, weights[:-1], resolution=16)
    with pytest.raises(RecmvError, match="faces"):
        diffuse_skinning_weights(vertices, faces + len(vertices), weights, resolution=16)


def test_merged_joints_keep_each_voxels_sum_and_move_only_the_sources():
    weights = torch.rand(5, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    merged = merge_joint_weights(weights, [1, 3], 0)
    torch.testing.assert_close(merged.sum(0), weights.sum(0))
    assert merged[[1, 3]].abs().max() == 0
    torch.testing.assert_close(merged[0], weights[0] + weights[1] + weights[3])
    torch.testing.assert_close(merged[[2, 4]], weights[[2, 4]])
    with pytest.raises(RecmvError, match="also a source"):
        merge_joint_weights(weights, [0, 1], 0)


def test_joint_subtrees_collect_every_descendant():
    # 0 root; 1 -> 2 -> 3 one leg, 4 -> 5 the other, 6 the spine
    parents = torch.tensor([-1, 0, 1, 2, 0, 4, 0])
    assert joint_subtrees(parents, [1, 4]) == [1, 2, 3, 4, 5]
    assert joint_subtrees(parents, [2]) == [2, 3]
