import numpy as np
import pytest
import torch
from skimage import measure

from recmv.errors import RecmvError
from recmv.geometry.isosurface import extract_isosurface, final_shape, level_shapes

RADIUS = 0.47  # off the lattice, so no vertex lands on a grid sample


def sphere(points: torch.Tensor) -> torch.Tensor:
    return points.norm(dim=-1) - RADIUS


def two_spheres(points: torch.Tensor) -> torch.Tensor:
    a = (points - points.new_tensor([0.3, 0.0, 0.0])).norm(dim=-1) - 0.35
    b = (points + points.new_tensor([0.3, 0.1, 0.0])).norm(dim=-1) - 0.3
    return torch.minimum(a, b)


def torus(points: torch.Tensor) -> torch.Tensor:
    ring = points[:, [0, 2]].norm(dim=-1) - 0.55
    return torch.stack((ring, points[:, 1]), dim=-1).norm(dim=-1) - 0.21


def cube(low: float = -1.0, high: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((3,), low, dtype=torch.float64), torch.full((3,), high, dtype=torch.float64)


def dense_marching_cubes(sdf, low, high, shape):
    """Oracle: every grid sample evaluated (linspace lattice), then skimage."""
    axes = [torch.linspace(float(low[i]), float(high[i]), shape[i], dtype=torch.float64) for i in range(3)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
    values = sdf(grid.reshape(-1, 3)).reshape(shape).numpy()
    spacing = ((high - low) / (torch.tensor(shape) - 1)).tolist()
    vertices, faces, _, _ = measure.marching_cubes(values, 0.0, spacing=spacing)
    return vertices + low.numpy(), faces


def face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    corners = vertices[faces]
    return torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0], dim=-1)


def test_sphere_is_accurate_outward_and_evaluated_sparsely():
    surface = extract_isosurface(sphere, *cube(), resolution=128)
    vertices, faces = surface.vertices, surface.faces
    cell = 2.0 / 127
    assert vertices.dtype == torch.float64 and faces.dtype == torch.int64
    assert faces.shape[0] > 10_000
    assert (vertices.norm(dim=-1) - RADIUS).abs().max() < 0.5 * cell
    normals = face_normals(vertices, faces)
    outward = (normals * vertices[faces].mean(1)).sum(-1)
    assert (outward > 0).all()
    # Divergence theorem: outward-wound faces enclose a positive volume close to the ball's.
    volume = (vertices[faces[:, 0]] * normals).sum() / 6
    assert abs(float(volume) - 4 / 3 * np.pi * RADIUS**3) < 0.01
    assert surface.grid_points == 128**3
    assert surface.evaluated_points < 0.15 * surface.grid_points


# 65: every level nested in the next; 60: a final level whose samples are off the coarser lattice.
@pytest.mark.parametrize("resolution", [65, 60])
@pytest.mark.parametrize("sdf", [two_spheres, torus])
def test_equals_dense_marching_cubes_when_the_band_is_wide_enough(sdf, resolution):
    low, high = cube()
    surface = extract_isosurface(sdf, low, high, resolution, coarse_resolution=9)
    vertices, faces = dense_marching_cubes(sdf, low, high, (resolution,) * 3)
    assert surface.vertices.shape == vertices.shape
    np.testing.assert_allclose(surface.vertices.numpy(), vertices, atol=1e-6)
    np.testing.assert_array_equal(surface.faces.numpy(), faces)
    assert surface.evaluated_points < 0.5 * surface.grid_points


def test_cells_straddling_the_level_are_evaluated_even_with_a_tiny_band():
    # The band alone would evaluate almost nothing; completing the cells that straddle the level
    # walks along the surface until every triangle sits between exact values.
    low, high = cube()
    surface = extract_isosurface(sphere, low, high, 65, band=1e-4)
    vertices, faces = dense_marching_cubes(sphere, low, high, (65,) * 3)
    np.testing.assert_allclose(surface.vertices.numpy(), vertices, atol=1e-6)
    np.testing.assert_array_equal(surface.faces.numpy(), faces)


def test_the_band_finds_a_feature_the_coarse_grid_misses():
    # A small sphere inside one coarse cell: every coarse sample is outside it, so only the band
    # (a Lipschitz bound on how far the sign can change) sends the finer levels to look there.
    centre = torch.tensor([-0.375, -0.375, -0.375], dtype=torch.float64)  # a coarse cell centre

    def with_droplet(points: torch.Tensor) -> torch.Tensor:
        return torch.minimum(sphere(points - 0.5), (points - centre).norm(dim=-1) - 0.05)

    def droplet_vertices(band: float) -> int:
        surface = extract_isosurface(with_droplet, *cube(), 65, coarse_resolution=9, band=band)
        return int(((surface.vertices - centre).norm(dim=-1) < 0.1).sum())

    assert droplet_vertices(band=2.0) > 20
    assert droplet_vertices(band=1e-4) == 0


def test_level_other_than_zero_and_float32_box():
    low, high = (t.float() for t in cube())
    surface = extract_isosurface(sphere, low, high, 64, level=0.2)
    assert surface.vertices.dtype == torch.float32
    assert (surface.vertices.norm(dim=-1) - (RADIUS + 0.2)).abs().max() < 0.5 * 2 / 63


def test_sdf_fn_is_called_in_chunks_without_grad():
    calls = []

    def recording(points: torch.Tensor) -> torch.Tensor:
        calls.append((points.shape[0], torch.is_grad_enabled(), points.dtype))
        return sphere(points)

    surface = extract_isosurface(recording, *cube(), 40, coarse_resolution=8, chunk_size=1000)
    assert max(n for n, _, _ in calls) <= 1000
    assert not any(grad for _, grad, _ in calls)
    assert all(dtype == torch.float64 for _, _, dtype in calls)
    assert sum(n for n, _, _ in calls) == surface.evaluated_points


@pytest.mark.parametrize("offset", [1.0, -3.0])
def test_no_crossing_gives_an_empty_surface(offset):
    empty = extract_isosurface(lambda p: p.norm(dim=-1) + offset, *cube(), resolution=33)
    assert empty.vertices.shape == (0, 3) and empty.faces.shape == (0, 3)
    assert empty.vertices.dtype == torch.float64 and empty.faces.dtype == torch.int64
    assert empty.grid_points == 33**3


def test_non_cubic_box_with_an_int_resolution_has_cubic_cells():
    low = torch.tensor([-1.0, -0.25, -0.5], dtype=torch.float64)
    high = torch.tensor([1.0, 0.25, 0.5], dtype=torch.float64)
    assert final_shape(high - low, 65) == (65, 17, 33)

    def ellipsoid(points: torch.Tensor) -> torch.Tensor:
        return (points / points.new_tensor([0.8, 0.2, 0.37])).norm(dim=-1) - 1.0

    surface = extract_isosurface(ellipsoid, low, high, 65)
    assert surface.grid_points == 65 * 17 * 33
    # Each marching-cubes vertex lies on a grid edge: two of its coordinates are on lattice planes,
    # which are 2/64 apart along every axis.
    steps = (surface.vertices - low) / (2 / 64)
    on_lattice = ((steps - steps.round()).abs() < 1e-6).sum(dim=-1)
    assert (on_lattice >= 2).all()
    explicit = extract_isosurface(ellipsoid, low, high, (65, 17, 33))
    torch.testing.assert_close(surface.vertices, explicit.vertices)


def test_level_schedule_doubles_up_to_the_final_shape():
    assert level_shapes((129, 129, 65), 16) == [(17, 17, 9), (33, 33, 17), (65, 65, 33), (129, 129, 65)]
    assert level_shapes((128, 20, 2), 16) == [(17, 4, 2), (33, 6, 2), (65, 11, 2), (128, 20, 2)]
    assert level_shapes((10, 10, 10), 16) == [(10, 10, 10)]


def test_bad_arguments_are_named():
    low, high = cube()
    with pytest.raises(RecmvError, match="bbox_min"):
        extract_isosurface(sphere, high, low, resolution=16)
    with pytest.raises(RecmvError, match="bbox_min"):
        extract_isosurface(sphere, low, torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64), resolution=16)
    with pytest.raises(RecmvError, match="resolution"):
        extract_isosurface(sphere, low, high, resolution=1)
    with pytest.raises(RecmvError, match="resolution"):
        extract_isosurface(sphere, low, high, resolution=(16, 1, 16))
    with pytest.raises(RecmvError, match="sdf_fn"):
        extract_isosurface(lambda p: p, low, high, resolution=16)
    with pytest.raises(RecmvError, match="sdf_fn"):
        extract_isosurface(lambda p: sphere(p)[:, None], low, high, resolution=16)
    with pytest.raises(RecmvError, match="sdf_fn"):
        extract_isosurface(lambda p: sphere(p) / 0.0 * 0.0, low, high, resolution=16)
