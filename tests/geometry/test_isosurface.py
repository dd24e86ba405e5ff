import numpy as np
import pytest
import torch
from skimage import measure

from recmv.errors import RecmvError
from recmv.geometry.isosurface import extract_isosurface, level_shapes


def sphere(points: torch.Tensor) -> torch.Tensor:
    return points.norm(dim=-1) - 0.47  # off the lattice, so no face degenerates


def two_spheres(points: torch.Tensor) -> torch.Tensor:
    a = (points - torch.tensor([0.3, 0.0, 0.0], dtype=points.dtype)).norm(dim=-1) - 0.35
    b = (points + torch.tensor([0.3, 0.1, 0.0], dtype=points.dtype)).norm(dim=-1) - 0.3
    return torch.minimum(a, b)


def cube(low: float = -1.0, high: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((3,), low, dtype=torch.float64), torch.full((3,), high, dtype=torch.float64)


def test_sphere_is_accurate_outward_and_evaluated_sparsely():
    surface = extract_isosurface(sphere, *cube(), resolution=129)
    v, f = surface.vertices, surface.faces
    cell = 2.0 / 128
    assert (v.norm(dim=-1) - 0.47).abs().max() < 0.5 * cell
    normals = torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]], dim=-1)
    assert ((normals * v[f].mean(1)).sum(-1) > 0).all()
    assert surface.evaluated_points < 0.2 * surface.grid_points


def test_equals_dense_marching_cubes_when_the_band_is_wide_enough():
    low, high = cube()
    surface = extract_isosurface(two_spheres, low, high, resolution=65, coarse_resolution=9, band=3.0)
    shape = level_shapes(high - low, 65, 9)[-1]
    axes = [torch.linspace(-1, 1, n, dtype=torch.float64) for n in shape]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)
    dense = two_spheres(grid.reshape(-1, 3)).reshape(shape).numpy()
    vertices, faces, _, _ = measure.marching_cubes(dense, 0.0, spacing=(2 / 64,) * 3)
    np.testing.assert_allclose(surface.vertices.numpy(), vertices - 1.0, atol=1e-6)
    assert surface.faces.shape[0] == faces.shape[0]


def test_empty_surface_and_non_cubic_box():
    empty = extract_isosurface(lambda p: p.norm(dim=-1) + 1.0, *cube(), resolution=33)
    assert empty.vertices.shape == (0, 3) and empty.faces.shape == (0, 3)
    low = torch.tensor([-1.0, -0.25, -0.5], dtype=torch.float64)
    high = torch.tensor([1.0, 0.25, 0.5], dtype=torch.float64)
    shape = level_shapes(high - low, 65, 16)[-1]
    spacing = (high - low) / (torch.tensor(shape, dtype=torch.float64) - 1)
    assert shape[0] >= 65 and spacing.max() <= 2 / 64 + 1e-12  # cells no larger than asked, ~cubic
    surface = extract_isosurface(lambda p: p.norm(dim=-1) - 0.2, low, high, resolution=65)
    assert (surface.vertices.norm(dim=-1) - 0.2).abs().max() < 2 / 64


def test_bad_arguments_are_named():
    with pytest.raises(RecmvError, match="bbox_min"):
        extract_isosurface(sphere, *cube(1.0, -1.0), resolution=16)
    with pytest.raises(RecmvError, match="resolution"):
        extract_isosurface(sphere, *cube(), resolution=1)
    with pytest.raises(RecmvError, match="sdf_fn"):
        extract_isosurface(lambda p: p, *cube(), resolution=16)
