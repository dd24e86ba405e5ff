"""Which curve points the camera sees (REC-MV §4.3), by exact ray casting instead of a z-buffer.

REC-MV samples a body-only z-buffer at each projected point and allows a per-curve depth slack of
5-10 cm, because its curves sit a garment's thickness off the body. Here the occluders are the
posed body *and* the posed garment meshes, so the first surface on a curve point's camera ray is
normally the garment the point lies on: the far side of a hem or a cuff is hidden by the garment's
near side, as it is in the image, and a few centimetres of slack are enough.
"""

from __future__ import annotations

import torch

from recmv.render.camera import PinholeCamera
from recmv.render.raycast import TriangleTree, cast_rays


def visible_points(
    points: torch.Tensor,
    occluders: list[tuple[torch.Tensor, torch.Tensor]],
    camera: PinholeCamera,
    tolerance: float | torch.Tensor,
    tree: TriangleTree | None = None,
) -> torch.Tensor:
    """[N] bool: in front of the camera, inside the image, and no surface more than `tolerance`
    metres before the point on its ray from the camera centre.

    Args:
        points: [N, 3] world points.
        occluders: list of (vertices [V, 3] world, faces [F, 3]) meshes.
        tolerance: metres, scalar or [N].
        tree: a ray-casting tree to refit and keep (see `recmv.render.raycast.cast_rays`).
    """
    with torch.no_grad():
        points = points.detach().float()
        vertices = torch.cat([v.detach().float() for v, _ in occluders])
        offsets = torch.cumsum(torch.tensor([0] + [v.shape[0] for v, _ in occluders[:-1]]), 0).tolist()
        faces = torch.cat([f.long() + o for (_, f), o in zip(occluders, offsets, strict=True)])
        origin = camera.center.detach().float().to(points.device).expand_as(points)
        ray = points - origin
        distance = ray.norm(dim=-1).clamp(min=1e-9)
        hits = cast_rays(vertices, faces.to(points.device), origin.contiguous(), (ray / distance[:, None]).contiguous(), tree)
        blocked = hits.hit & (hits.t < distance - torch.as_tensor(tolerance, device=points.device))
        pixels, depth = camera.project(points)
        pixels = pixels.detach()
        inside = (
            (depth.detach() > 0)
            & (pixels[:, 0] >= -0.5) & (pixels[:, 0] <= camera.width - 0.5)
            & (pixels[:, 1] >= -0.5) & (pixels[:, 1] <= camera.height - 0.5)
        )
    return inside & ~blocked
