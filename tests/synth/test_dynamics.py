import math

import torch
import trimesh

from recmv.body.lbs import skin_points
from recmv.synth.dynamics import DynamicsParams, animate_garment, garment_freedom, smooth_weights


def _ring(radius=0.3, n=48):
    angles = torch.arange(n) * 2 * math.pi / n
    return torch.stack([radius * torch.sin(angles), torch.zeros(n), radius * torch.cos(angles)], dim=1)


def _spin_transforms(frames, step):
    """[F, 1, 4, 4] a single joint turning about +y by `step` radians per frame."""
    transforms = torch.eye(4).repeat(frames, 1, 1, 1)
    for t in range(frames):
        c, s = math.cos(step * t), math.sin(step * t)
        transforms[t, 0, :3, :3] = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return transforms


def _far_body(frames):
    box = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
    vertices = torch.tensor(box.vertices, dtype=torch.float32) + torch.tensor([10.0, 0.0, 0.0])
    return vertices.expand(frames, -1, -1), torch.tensor(box.faces)


def test_smooth_weights_keep_partition_of_unity_and_spread():
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])
    weights = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    smoothed = smooth_weights(weights, faces, iterations=5)
    assert torch.allclose(smoothed.sum(dim=1), torch.ones(4))
    assert (smoothed > 0).all() and (smoothed < 1).all()


def test_freedom_grows_from_waist_to_hem():
    vertices = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.0]])
    freedom = garment_freedom(vertices, "skirt", hip_height=1.0)
    assert freedom[0] == 0 and freedom[2] == 1.0 and 0 < freedom[1] < 1
    assert garment_freedom(vertices, "long_pants", hip_height=1.0).max() < 0.5


def test_without_inertia_or_ripple_the_garment_is_skinned_exactly():
    frames = 6
    ring = _ring()
    weights = torch.ones(len(ring), 1)
    transforms = _spin_transforms(frames, 0.2)
    body_vertices, body_faces = _far_body(frames)
    params = DynamicsParams(inertia=0.0, ripple_amplitude=0.0)
    posed = animate_garment(ring, weights, torch.ones(len(ring)), transforms, body_vertices, body_faces, params)
    assert torch.allclose(posed, skin_points(ring.expand(frames, -1, -1), weights[None], transforms), atol=1e-6)


def test_spinning_skirt_flares_out_and_lags():
    frames = 40
    ring = _ring()
    transforms = _spin_transforms(frames, 0.2)
    body_vertices, body_faces = _far_body(frames)
    params = DynamicsParams(ripple_amplitude=0.0)
    posed = animate_garment(
        ring, torch.ones(len(ring), 1), torch.ones(len(ring)), transforms, body_vertices, body_faces, params
    )
    radius = posed[-1, :, [0, 2]].norm(dim=1)
    assert (radius > 0.3 + 0.005).all()


def test_garment_is_pushed_out_of_the_body():
    frames = 3
    ring = _ring(radius=0.1)
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.2)
    body = torch.tensor(sphere.vertices, dtype=torch.float32).expand(frames, -1, -1)
    transforms = torch.eye(4).repeat(frames, 1, 1, 1)
    params = DynamicsParams(body_margin=0.01)
    posed = animate_garment(
        ring, torch.ones(len(ring), 1), torch.ones(len(ring)), transforms, body, torch.tensor(sphere.faces), params
    )
    assert (posed.norm(dim=-1) > 0.2 + 0.005).all()
