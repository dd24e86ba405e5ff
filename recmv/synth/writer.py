"""Write a synthetic scene as a subject folder (REC-MV layout) with ground truth in `gt/`."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from recmv import fileio
from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.geometry.mesh_io import write_mesh
from recmv.synth.appearance import (
    GARMENT_PALETTE,
    SKIN_TONES,
    Light,
    body_vertex_labels,
    face_labels,
)
from recmv.synth.config import NoiseParams, RealismParams, SynthConfig
from recmv.synth.curves2d import VisibleCurve, visible_curve
from recmv.synth.realism import (
    FrameLook,
    VideoWriter,
    background_image,
    film_frame,
    frame_looks,
    shift_image,
)
from recmv.synth.render import FrameImages, SceneMesh, render_frame
from recmv.synth.scene import SynthScene, build_scene
from recmv.tables import GARMENT_ATR_LABEL, curve_owners, subject_curves

logger = logging.getLogger(__name__)


def synthesize(config: SynthConfig, out: str | Path) -> str:
    """Build and write a synthetic subject; returns a one-line summary."""
    start = time.perf_counter()
    scene = build_scene(config)
    write_subject(scene, Path(out))
    garments = ", ".join(g.template.kind for g in scene.garments)
    return (
        f"wrote {out}: {scene.frames} frames at {config.size}x{config.size}, garments {garments}, "
        f"in {time.perf_counter() - start:.1f} s"
    )


def subject_meta(scene: SynthScene, name: str) -> SubjectMeta:
    config = scene.config
    garments = [g.template.kind for g in scene.garments]
    rotation_end = config.frames - 1
    large = [config.frames, scene.frames - 1] if config.large_motion else None
    return SubjectMeta(
        name=name,
        garments=garments,
        curves=list(subject_curves(garments)),
        curve_owner=curve_owners(garments),
        garment_boundaries={g.template.kind: list(g.template.boundaries) for g in scene.garments},
        body=dict(scene.body_description),
        segments={"rotation": [0, rotation_end], "large_motion": large},
        keyframes=list(range(0, scene.frames, config.keyframe_every)),
        image_size=[config.size, config.size],
        skinning_grid={"center": scene.skinning_grid.center.tolist(), "extent": float(scene.skinning_grid.extent)},
    )


def scene_meshes(scene: SynthScene, frame: int, body_face_labels: torch.Tensor, skin: tuple) -> list[SceneMesh]:
    """The body and garments of one frame, ready to render."""
    meshes = [
        SceneMesh(scene.body_vertices[frame], scene.body.faces, scene.canonical_body, body_face_labels, skin, False)
    ]
    for index, garment in enumerate(scene.garments):
        template = garment.template
        labels = torch.full((template.faces.shape[0],), GARMENT_ATR_LABEL[template.kind], dtype=torch.int64)
        color = GARMENT_PALETTE[index % len(GARMENT_PALETTE)]
        meshes.append(SceneMesh(garment.posed[frame], template.faces, template.vertices, labels, color, True))
    return meshes


def apply_mask_noise(images: FrameImages, noise: NoiseParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Erode or dilate the mask by up to `noise.mask_px` pixels; the parsing follows (new pixels take
    the nearest label, lost pixels become background)."""
    mask, parsing = images.mask, images.parsing
    if noise.mask_px <= 0:
        return mask, parsing
    radius = int(rng.integers(-noise.mask_px, noise.mask_px + 1))
    if radius == 0:
        return mask, parsing
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1, 2 * abs(radius) + 1))
    op = cv2.dilate if radius > 0 else cv2.erode
    noisy = op(mask.astype(np.uint8), kernel).astype(bool)
    return noisy, formats.fill_parsing(parsing, noisy)


def apply_normal_noise(normals: np.ndarray, mask: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    if sigma <= 0:
        return normals
    noisy = normals + rng.normal(0.0, sigma, size=normals.shape)
    noisy /= np.linalg.norm(noisy, axis=-1, keepdims=True).clip(min=1e-12)
    return np.where(mask[..., None], noisy, 0.0)


def noisy_poses(poses: torch.Tensor, degrees: float, rng: np.random.Generator) -> np.ndarray:
    """Poses [F, J, 3] with Gaussian axis-angle noise of `degrees` standard deviation per component."""
    if degrees <= 0:
        return poses.numpy()
    return poses.numpy() + rng.normal(0.0, math.radians(degrees), size=poses.shape).astype(np.float32)


def realism_looks(frames: int, realism: RealismParams, rng: np.random.Generator) -> list[FrameLook]:
    """Per-frame light, shake and blur; the clean default light and no shift when realism is off."""
    return frame_looks(frames, realism, Light(), rng)


def shifted(images: FrameImages, shift: tuple[int, int]) -> FrameImages:
    """A frame's images moved by a camera-shake shift (dx, dy) pixels; uncovered pixels are background."""
    if shift == (0, 0):
        return images
    return FrameImages(
        rgb=shift_image(images.rgb, shift, nearest=True),
        mask=shift_image(images.mask, shift, nearest=True),
        normals=shift_image(images.normals, shift, nearest=True),
        parsing=shift_image(images.parsing, shift, nearest=True),
        depth=shift_image(images.depth, shift, nearest=True),
        mesh_id=shift_image(images.mesh_id, shift, nearest=True, fill=-1),
    )


def shifted_curve(curve: VisibleCurve, shift: tuple[int, int]) -> VisibleCurve:
    return VisibleCurve(curve.name, [s + np.asarray(shift, dtype=float) for s in curve.stretches])


def curve_loops(scene: SynthScene, owners: dict[str, str]) -> dict[str, tuple[int, torch.Tensor]]:
    """Curve name -> (garment index, loop vertex ids): each curve's loop on the garment that owns it.

    A shared curve (the waist bounds both garments) is taken from its owner; a curve whose owner is
    not worn falls back to the first garment it bounds.
    """
    loops: dict[str, tuple[int, torch.Tensor]] = {}
    for index, garment in enumerate(scene.garments):
        for curve, loop in garment.template.boundaries.items():
            if owners.get(curve) == garment.template.kind or curve not in loops:
                loops[curve] = (index, loop)
    return loops


def frame_curves(scene: SynthScene, frame: int, loops: dict[str, tuple[int, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """World 3D loops of every curve in one frame."""
    return {curve: scene.garments[index].posed[frame][loop] for curve, (index, loop) in loops.items()}


def write_keyframe_curves(out: Path, frame: int, curves: list[VisibleCurve], size: int) -> None:
    stem = f"{frame:06d}"
    dense = {c.name: c.dense_points for c in curves if len(c.stretches)}
    pairs = {c.name: c.endpoint_pairs for c in curves if len(c.stretches)}
    formats.write_labelme(out / "mask2fl" / f"{stem}.json", dense, image_size=(size, size), image_path=f"../imgs/{stem}.png")
    formats.write_labelme(
        out / "featurelines" / f"{stem}.json", pairs, image_size=(size, size), image_path=f"../imgs/{stem}.png"
    )


def write_gt_canonical(scene: SynthScene, out: Path, loops: dict[str, tuple[int, torch.Tensor]]) -> None:
    gt = out / "gt"
    for garment in scene.garments:
        template = garment.template
        folder = gt / "garments" / template.kind
        write_mesh(folder / "canonical.obj", template.vertices, template.faces)
        fileio.write_json(folder / "boundaries.json", {k: v.tolist() for k, v in template.boundaries.items()})
    canonical = {curve: scene.garments[index].template.vertices[loop].tolist() for curve, (index, loop) in loops.items()}
    fileio.write_json(gt / "curves" / "canonical.json", canonical)
    write_mesh(gt / "body" / "canonical.obj", scene.canonical_body, scene.body.faces)


def write_subject(scene: SynthScene, out: Path) -> None:
    """Write every file of the subject folder and its `gt/`."""
    config = scene.config
    rng = np.random.default_rng(config.seed + 1)
    meta = subject_meta(scene, out.name)
    loops = curve_loops(scene, meta.curve_owner)
    keyframes = set(meta.keyframes)
    rest_labels = body_vertex_labels(
        scene.body.skinning_weights, scene.canonical_body, scene.body.parents.tolist(), scene.body.landmark_joints
    )
    body_face_labels = face_labels(rest_labels, scene.body.faces)
    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    # The realism draws use their own generator, so turning them on leaves every other draw unchanged.
    film_rng = np.random.default_rng(config.seed + 2)
    realism = config.realism
    looks = realism_looks(scene.frames, realism, film_rng)
    background = background_image(realism.background, config.size, film_rng)
    video = VideoWriter(out / "video.mp4", (config.size, config.size), realism.video_fps) if realism.video else None

    for frame in tqdm(range(scene.frames), desc="synth: render", unit="frame"):
        stem = f"{frame:06d}"
        look = looks[frame]
        meshes = scene_meshes(scene, frame, body_face_labels, skin)
        images = shifted(render_frame(meshes, scene.camera, look.light), look.shift)
        mask, parsing = apply_mask_noise(images, config.noise, rng)
        normals = apply_normal_noise(images.normals, images.mask, config.noise.normal_sigma, rng)
        rgb = film_frame(images.rgb, images.mask, background, look, realism.image_noise, film_rng)
        formats.write_image(out / "imgs" / f"{stem}.png", rgb)
        if video is not None:
            video.append(rgb)
        formats.write_mask(out / "masks" / f"{stem}.png", mask)
        formats.write_normal_map(out / "normals" / f"{stem}.png", normals, images.mask)
        formats.write_parsing(out / "parsing_SCH_ATR" / f"{stem}.npy", parsing)
        formats.write_mask_parsing(
            out / "parsing_SCH_ATR" / f"mask_parsing_{stem}.npy", formats.fill_parsing(parsing, mask)
        )
        for garment in scene.garments:
            write_mesh(out / "gt" / "garments" / garment.template.kind / f"{stem}.obj", garment.posed[frame], garment.template.faces)
        write_mesh(out / "gt" / "body" / f"{stem}.obj", scene.body_vertices[frame], scene.body.faces)
        world_loops = frame_curves(scene, frame, loops)
        fileio.write_json(out / "gt" / "curves" / f"{stem}.json", {k: v.tolist() for k, v in world_loops.items()})
        if frame in keyframes:
            scene_geometry = [(m.vertices, m.faces) for m in meshes]
            curves = [visible_curve(name, loop, scene_geometry, scene.camera) for name, loop in world_loops.items()]
            write_keyframe_curves(out, frame, [shifted_curve(c, look.shift) for c in curves], config.size)

    if video is not None:
        video.close()
    if any(look.shift != (0, 0) for look in looks):
        fileio.write_json(out / "gt" / "camera_shake.json", [list(look.shift) for look in looks])

    write_gt_canonical(scene, out, loops)
    formats.write_camera(out / "camera.npz", scene.camera)
    formats.write_body_params(
        out / "smpl_rec.npz",
        formats.BodyParams(
            poses=noisy_poses(scene.poses, config.noise.pose_degrees, rng),
            shape=scene.shape.numpy(),
            trans=scene.transl.numpy(),
            vid_seg_indices=[0, config.frames] if config.large_motion else None,
        ),
    )
    scene.skinning_grid.save(out / "diffused_skinning_weights.npy")
    meta.save(out / "subject.json")
