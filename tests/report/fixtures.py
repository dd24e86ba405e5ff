"""A fake run folder for report tests, written without fitting: two analytic garments that move.

The "upper" garment is an open cylinder, the "lower" one an open cone below it, both in the world
frame (y down) 3 m in front of an identity camera; every frame moves them `STEP` metres along +x.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from recmv.data import formats
from recmv.geometry.mesh_io import write_mesh
from recmv.render.camera import PinholeCamera

STEP = 0.05
IMAGE_SIZE = 96


def open_tube(top_radius: float, bottom_radius: float, top: float, bottom: float, sections: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """An open frustum around the y axis from y = top to y = bottom: vertices [2 S, 3], faces [2 S, 3]."""
    angles = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    ring = np.stack([np.cos(angles), np.zeros_like(angles), np.sin(angles)], axis=-1)
    upper = ring * top_radius + [0, top, 0]
    lower = ring * bottom_radius + [0, bottom, 0]
    i = np.arange(sections)
    j = (i + 1) % sections
    faces = np.concatenate([np.stack([i, j, i + sections], -1), np.stack([j, j + sections, i + sections], -1)])
    return np.concatenate([upper, lower]), faces


GARMENTS = {
    "short_sleeve_upper": open_tube(0.18, 0.18, -0.45, 0.0),
    "skirt": open_tube(0.18, 0.3, 0.0, 0.4),
}


def garment_at(name: str, frame: int) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces = GARMENTS[name]
    return vertices + [STEP * frame, 0.0, 3.0], faces


def make_fake_run(root: Path, frames: int = 5, with_subject: bool = True, with_metrics: bool = True) -> Path:
    """Write root/run (config, run.json, log.jsonl, summary, meshes/) and root/subject; return the run."""
    run, subject = root / "run", root / "subject"
    for name in GARMENTS:
        for frame in range(frames):
            vertices, faces = garment_at(name, frame)
            write_mesh(run / "meshes" / name / f"{frame:06d}.obj", torch.from_numpy(vertices), torch.from_numpy(faces))
    (run / "config.json").write_text(json.dumps({"preset": "fast", "epochs": 3, "marker": "config-marker-42"}))
    (run / "run.json").write_text(json.dumps({"subject": str(subject), "segment": "rotation", "device": "cpu"}))
    (run / "summary.json").write_text(json.dumps({"finished": True, "iterations": 30, "timings": {"train": 1.5}}))
    with open(run / "log.jsonl", "w") as stream:
        for iteration in range(30):
            stage = "coarse" if iteration < 15 else "fine"
            record = {"iteration": iteration, "epoch": iteration // 10, "stage": stage, "seconds": 0.1,
                      "silhouette": float(np.exp(-0.1 * iteration)), "eikonal": 0.5}
            stream.write(json.dumps(record) + "\n")
    if with_metrics:
        metrics = {"samples": 1000, "frames": list(range(frames)), "garments": {
            name: {"mean": {"chamfer_cm": 1.2345, "mask_iou": 0.9, "boundary_cm": {"neck": 2.5}},
                   "acceleration_cm_per_frame2": {"ratio": 1.1}} for name in GARMENTS}}
        (run / "meshes" / "metrics.json").write_text(json.dumps(metrics))
    if with_subject:
        camera = PinholeCamera(100.0, 100.0, (IMAGE_SIZE - 1) / 2, (IMAGE_SIZE - 1) / 2, torch.eye(3), torch.zeros(3),
                               IMAGE_SIZE, IMAGE_SIZE)
        subject.mkdir(parents=True, exist_ok=True)
        formats.write_camera(subject / "camera.npz", camera)
        (subject / "subject.json").write_text(json.dumps({"image_size": [IMAGE_SIZE, IMAGE_SIZE]}))
        for frame in range(frames):
            formats.write_image(subject / "imgs" / f"{frame:06d}.png", np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 40, np.uint8))
    return run
