import math

import torch
import trimesh

from recmv.render.camera import PinholeCamera
from recmv.render.raycast import TriangleTree, cast_rays, render_meshes


def _sphere(radius=0.5, centre=(0.0, 0.0, 3.0)):
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32) + torch.tensor(centre)
    return vertices, torch.tensor(mesh.faces)


def _camera(size=64, focal=60.0):
    c = (size - 1) / 2
    return PinholeCamera(focal, focal, c, c, torch.eye(3), torch.zeros(3), size, size)


def test_ray_hits_sphere_front_at_analytic_distance():
    vertices, faces = _sphere()
    origins = torch.zeros(3, 3)
    dirs = torch.tensor([[0.0, 0.0, 1.0], [0.1, 0.0, 1.0], [1.0, 0.0, 0.0]])
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    hits = cast_rays(vertices, faces, origins, dirs)
    assert hits.face.tolist()[2] == -1
    assert abs(hits.t[0].item() - 2.5) < 2e-3
    # Barycentric interpolation of the hit face reproduces the hit point.
    point = (vertices[faces[hits.face[1]]] * hits.barycentric[1][:, None]).sum(0)
    assert torch.allclose(point, origins[1] + hits.t[1] * dirs[1], atol=1e-5)


def test_render_silhouette_matches_projected_disc():
    vertices, faces = _sphere()
    camera = _camera(size=96, focal=80.0)
    render = render_meshes([(vertices, faces)], camera)
    # A sphere of radius r at distance d projects to a disc of radius f*r/sqrt(d²-r²).
    radius_px = 80.0 * 0.5 / math.sqrt(3.0**2 - 0.5**2)
    rows, cols = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    disc = ((cols - camera.cx) ** 2 + (rows - camera.cy) ** 2) <= radius_px**2
    iou = (disc & render.foreground).sum() / (disc | render.foreground).sum()
    assert iou > 0.95


def test_nearer_mesh_occludes_farther_one():
    far = _sphere(centre=(0.0, 0.0, 4.0))
    near = _sphere(radius=0.2, centre=(0.0, 0.0, 2.0))
    render = render_meshes([far, near], _camera())
    centre = render.mesh_id[31:33, 31:33]
    assert (centre == 1).all()
    assert (render.mesh_id == 0).any()
    assert abs(render.depth[32, 32].item() - 1.8) < 0.01


def test_refitted_tree_gives_the_hits_of_a_fresh_one():
    # One tree across moving vertices (a far move, a deformation) and then other faces.
    vertices, faces = _sphere()
    camera = _camera(size=48, focal=40.0)
    tree = TriangleTree()
    moved = [vertices, vertices + torch.tensor([0.6, -0.3, 1.0]), vertices * torch.tensor([1.5, 0.7, 1.0])]
    for points in moved:
        refitted = render_meshes([(points, faces)], camera, tree)
        fresh = render_meshes([(points, faces)], camera)
        assert torch.equal(refitted.face, fresh.face)
        torch.testing.assert_close(refitted.depth, fresh.depth)
    other_vertices, other_faces = _sphere(radius=0.3)
    refitted = render_meshes([(other_vertices, other_faces)], camera, tree)
    assert torch.equal(refitted.face, render_meshes([(other_vertices, other_faces)], camera).face)
