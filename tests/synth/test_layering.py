import math

import torch
import trimesh

from recmv.synth.layering import tuck_under
from recmv.templates.garments import GarmentTemplate


def _tube(radius: float, bottom: float, top: float, kind: str) -> GarmentTemplate:
    """An open vertical tube (normals outward) with its bottom loop named as a hem."""
    sections, height_steps = 48, 30
    angles = torch.arange(sections) * 2 * math.pi / sections
    heights = torch.linspace(bottom, top, height_steps)
    vertices = torch.stack(
        [torch.stack([radius * torch.cos(angles), h.expand(sections), radius * torch.sin(angles)], dim=1) for h in heights]
    ).reshape(-1, 3)
    faces = []
    for i in range(height_steps - 1):
        for j in range(sections):
            a, b = i * sections + j, i * sections + (j + 1) % sections
            c, d = a + sections, b + sections
            faces += [[a, c, b], [b, c, d]]
    faces = torch.tensor(faces)
    if trimesh.Trimesh(vertices.numpy(), faces.numpy()).face_normals[0] @ vertices[0].numpy() < 0:
        faces = faces[:, [0, 2, 1]]
    name = "upper_bottom" if kind == "short_sleeve_upper" else "bottom_curve"
    return GarmentTemplate(kind=kind, vertices=vertices, faces=faces, boundaries={name: torch.arange(sections)})


def test_lower_garment_is_tucked_inside_the_upper_above_its_hem():
    upper = _tube(0.20, bottom=0.0, top=0.5, kind="short_sleeve_upper")
    lower = _tube(0.23, bottom=-0.6, top=0.1, kind="skirt")
    tucked = tuck_under(lower, upper, gap=0.006, band=0.04)
    radius = tucked.vertices[:, [0, 2]].norm(dim=1)
    y = tucked.vertices[:, 1]
    covered = y >= 0.0
    assert torch.allclose(radius[covered], torch.full_like(radius[covered], 0.194), atol=2e-3)
    far_below = y < -0.05
    assert torch.allclose(tucked.vertices[far_below], lower.vertices[far_below])
    fading = (y < 0.0) & (y > -0.04)
    assert ((radius[fading] > 0.194) & (radius[fading] < 0.23)).all()
    assert torch.equal(tucked.faces, lower.faces)
