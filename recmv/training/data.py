"""A subject folder loaded once into the tensors fitting needs, at the working resolution."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from recmv.body.base import BodyModel
from recmv.body.factory import build_body_model, shape_tensor
from recmv.body.skinning_field import SkinningGrid
from recmv.data.frames import SubjectFolder
from recmv.data.subject import SubjectMeta
from recmv.data.validate import validate_subject
from recmv.errors import InputFileError, RecmvError
from recmv.evaluation.baseline import load_skinning_grid
from recmv.render.camera import PinholeCamera
from recmv.templates.body_geometry import BodyGeometry
from recmv.templates.cache import garment_template
from recmv.templates.garments import GarmentParams, GarmentTemplate

log = logging.getLogger(__name__)


@dataclass
class FitData:
    """Per-frame observations and the subject's fixed parts.

    images: [F, H, W, 3] colours in [-1, 1]; normals: [F, H, W, 3] world normals (0 where unknown);
    masks: [F, G, H, W] soft garment masks in [0, 1] (clothing labels of each garment's group; the
        head and arms that REC-MV adds to the upper garment are hidden by the posed body instead);
    frames: [F] subject frame numbers; camera: at the working resolution.
    """

    subject: Path
    meta: SubjectMeta
    frames: torch.Tensor
    images: torch.Tensor
    normals: torch.Tensor
    masks: torch.Tensor
    has_normals: bool
    camera: PinholeCamera
    body: BodyModel
    shape: torch.Tensor
    poses: torch.Tensor
    trans: torch.Tensor
    grid: SkinningGrid
    templates: list[GarmentTemplate]

    @property
    def garments(self) -> list[str]:
        return list(self.meta.garments)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


def scaled_camera(camera: PinholeCamera, height: int, width: int) -> PinholeCamera:
    """The same camera for an image resized to height x width (pixel centres stay at integers)."""
    sx, sy = width / camera.width, height / camera.height
    return PinholeCamera(
        fx=camera.fx * sx,
        fy=camera.fy * sy,
        cx=(camera.cx + 0.5) * sx - 0.5,
        cy=(camera.cy + 0.5) * sy - 0.5,
        rotation=camera.rotation,
        translation=camera.translation,
        width=width,
        height=height,
    )


def _resize(stack: np.ndarray, height: int, width: int) -> torch.Tensor:
    """[F, H, W, C] -> [F, height, width, C] float32 by area averaging (keeps soft mask edges)."""
    tensor = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32)).permute(0, 3, 1, 2)
    if tensor.shape[-2:] != (height, width):
        tensor = F.interpolate(tensor, size=(height, width), mode="area")
    return tensor.permute(0, 2, 3, 1).contiguous()


def load_fit_data(
    subject: str | Path,
    working_size: int | None,
    segment: str = "rotation",
    body_model_path: str | Path | None = None,
) -> FitData:
    """Validate and read a subject for fitting.

    segment: "rotation" (REC-MV's first phase), "large_motion", or "all" frames.
    """
    subject = Path(subject)
    problems = validate_subject(subject, body_model_path=body_model_path)
    if problems:
        listed = "\n  ".join(str(problem) for problem in problems)
        raise RecmvError(f"{subject} is not a valid subject folder (see `recmv validate`):\n  {listed}")
    folder = SubjectFolder(subject, body_model_path=body_model_path)
    meta = folder.meta
    frames = _segment_frames(subject, meta, folder.num_frames, segment)
    full_h, full_w = folder.image_size
    scale = 1.0 if working_size is None else min(1.0, working_size / max(full_h, full_w))
    height, width = max(1, round(full_h * scale)), max(1, round(full_w * scale))
    garments = list(meta.garments)
    images = np.stack([folder.image(f).astype(np.float32) / 127.5 - 1.0 for f in frames])
    masks = np.stack(
        [np.stack([m.astype(np.float32) for m in folder.clothing_masks(f).values()], axis=-1) for f in frames]
    )
    has_normals = all(folder.normal_path(f).exists() for f in frames)
    normals = (
        np.stack([folder.normals(f) for f in frames]) if has_normals else np.zeros((len(frames), full_h, full_w, 3))
    )
    if not has_normals:
        log.warning("%s: no normal maps for every frame; the normal term is off", subject)
    body = build_body_model(meta.body)
    shape = shape_tensor(meta.body)
    params = folder.body_params
    rest = body.rest(shape)
    grid = load_skinning_grid(subject, meta, rest.vertices)
    geometry = BodyGeometry.from_body_model(body, shape)
    templates = [garment_template(kind, geometry, GarmentParams.defaults(kind)) for kind in garments]
    return FitData(
        subject=subject,
        meta=meta,
        frames=torch.as_tensor(frames),
        images=_resize(images, height, width),
        normals=_resize(normals, height, width),
        masks=_resize(masks, height, width).permute(0, 3, 1, 2).contiguous(),
        has_normals=has_normals,
        camera=scaled_camera(folder.camera, height, width),
        body=body,
        shape=shape,
        poses=torch.as_tensor(params.poses[frames], dtype=torch.float32),
        trans=torch.as_tensor(params.trans[frames], dtype=torch.float32),
        grid=grid,
        templates=templates,
    )


def _segment_frames(subject: Path, meta: SubjectMeta, num_frames: int, segment: str) -> list[int]:
    if segment == "all":
        return list(range(num_frames))
    bounds = (meta.segments or {}).get(segment)
    if segment == "rotation" and not bounds:
        return list(range(num_frames))
    if not bounds:
        raise InputFileError(subject / "subject.json", f"no {segment!r} segment in 'segments'")
    first, last = bounds
    return list(range(first, last + 1))
