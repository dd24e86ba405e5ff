import torch
import trimesh

from recmv.geometry.proximity import closest_points, push_outside


def _sphere():
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.5)
    return torch.tensor(mesh.vertices, dtype=torch.float32), torch.tensor(mesh.faces)


def test_signed_distance_of_sphere_matches_analytic():
    vertices, faces = _sphere()
    queries = torch.randn(500, 3, generator=torch.Generator().manual_seed(0)) * 0.4
    signed = closest_points(vertices, faces, queries).signed_distance(queries)
    assert torch.allclose(signed, queries.norm(dim=1) - 0.5, atol=3e-3)


def test_push_outside_moves_only_points_too_close():
    vertices, faces = _sphere()
    queries = torch.tensor([[0.0, 0.0, 0.1], [0.0, 0.0, 0.499], [0.0, 0.0, 0.9]])
    pushed = push_outside(vertices, faces, queries, margin=0.01)
    radii = pushed.norm(dim=1)
    assert (radii[:2] > 0.505).all() and (radii[:2] < 0.52).all()
    assert torch.equal(pushed[2], queries[2])
