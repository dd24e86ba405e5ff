"""REC-MV's endpoint-pair tool: hand-annotated curve endpoints (`featurelines/`) -> dense 2D curves (`mask2fl/`).

Each pair of endpoints brackets one visible stretch of a curve; the stretch is the shorter of the two
arcs of the garment's contour between the contour points nearest the endpoints (REC-MV's
`tools/parsing_mask_to_fl.py`, method reference §8). The garment region is the clothing-only ATR group
of the garment that owns the curve, opened with a 5×5 square to drop parsing specks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from recmv.data import formats
from recmv.errors import InputFileError
from recmv.tables import ATR_CLOTHING_GROUPS, LOWER_GARMENTS, ONE_PIECE_GARMENTS

# A pair that starts this close (pixels) to the previous pair's end continues it and is kept as drawn.
CONTINUATION_PX = 10.0
# Endpoints farther than this (pixels) from every contour are kept as drawn (REC-MV: 1000 px²).
SNAP_PX = float(np.sqrt(1000.0))


def clothing_group(garment: str) -> tuple[int, ...]:
    """The ATR labels of a garment's region for curve extraction (clothing only, no skin)."""
    if garment in ONE_PIECE_GARMENTS:
        return ATR_CLOTHING_GROUPS["upper_bottom"]
    return ATR_CLOTHING_GROUPS["bottom" if garment in LOWER_GARMENTS else "upper"]


def garment_region(labels: np.ndarray, garment: str) -> np.ndarray:
    """[H, W] bool region of `garment` in an ATR label map [H, W], opened with a 5×5 square."""
    region = np.isin(labels, clothing_group(garment)).astype(np.uint8)
    return cv2.morphologyEx(region, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8), iterations=2).astype(bool)


@dataclass
class Contour:
    """One closed outline of a region. points: [K, 2] (x, y) in order; area: enclosed pixels."""

    points: np.ndarray
    area: float

    def shorter_arc(self, i0: int, i1: int) -> np.ndarray:
        """[M, 2] the shorter of the two arcs from point i0 to point i1 (by polyline length), from i0."""
        count = len(self.points)
        forward = self.points[np.arange(i0, i0 + (i1 - i0) % count + 1) % count]
        backward = self.points[np.arange(i0, i0 - (i0 - i1) % count - 1, -1) % count]
        return forward if polyline_length(forward) <= polyline_length(backward) else backward


def polyline_length(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def region_contours(region: np.ndarray) -> list[Contour]:
    """Every outline (outer and hole) of a bool region [H, W] with more than 2 points."""
    found, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
    return [Contour(c[:, 0, :].astype(np.float64), float(cv2.contourArea(c))) for c in found if len(c) > 2]


def dense_stretch(start: np.ndarray, end: np.ndarray, contours: list[Contour]) -> np.ndarray:
    """[M, 2] one curve stretch: [start, shorter contour arc between the endpoints' nearest points, end].

    The pair is kept as drawn when no contour point lies within SNAP_PX of an endpoint.
    """
    nearest = [_nearest(point, contours) for point in (start, end)]
    if not contours or max(distance for _, _, distance in nearest) > SNAP_PX:
        return np.stack([start, end])
    (c0, _, _), (c1, _, _) = nearest
    contour = contours[c0] if contours[c0].area >= contours[c1].area else contours[c1]
    i0 = int(np.argmin(np.linalg.norm(contour.points - start, axis=1)))
    i1 = int(np.argmin(np.linalg.norm(contour.points - end, axis=1)))
    return np.concatenate([start[None], contour.shorter_arc(i0, i1), end[None]])


def _nearest(point: np.ndarray, contours: list[Contour]) -> tuple[int, int, float]:
    """(contour index, point index, distance) of the contour point nearest `point`."""
    best = (0, 0, np.inf)
    for index, contour in enumerate(contours):
        distances = np.linalg.norm(contour.points - point, axis=1)
        at = int(np.argmin(distances))
        if distances[at] < best[2]:
            best = (index, at, float(distances[at]))
    return best


def dense_curve(pairs: np.ndarray, contours: list[Contour]) -> np.ndarray:
    """[K, 2] a curve's dense polyline from its endpoint pairs [2k, 2] (each pair one visible stretch)."""
    if len(pairs) % 2:
        raise ValueError(f"endpoint pairs need an even number of points, got {len(pairs)}")
    pieces: list[np.ndarray] = []
    for start, end in pairs.reshape(-1, 2, 2):
        if pieces and np.linalg.norm(start - pieces[-1][-1]) <= CONTINUATION_PX:
            pieces.append(np.stack([start, end]))
        else:
            pieces.append(dense_stretch(start, end, contours))
    return np.concatenate(pieces) if pieces else np.zeros((0, 2))


def dense_curves(pairs: dict[str, np.ndarray], labels: np.ndarray, curve_owner: dict[str, str]) -> dict[str, np.ndarray]:
    """Curve name -> [K, 2] dense polyline, for one frame's endpoint pairs and its ATR label map [H, W].

    curve_owner: curve -> the garment whose contour the curve follows (subject.json's `curve_owner`).
    """
    contours: dict[str, list[Contour]] = {}
    dense = {}
    for name, points in pairs.items():
        garment = curve_owner.get(name)
        if garment is None:
            raise ValueError(f"curve {name!r} has no owning garment in curve_owner {sorted(curve_owner)}")
        if garment not in contours:
            contours[garment] = region_contours(garment_region(labels, garment))
        dense[name] = dense_curve(np.asarray(points, dtype=np.float64), contours[garment])
    return dense


def featurelines_to_mask2fl(
    featurelines: Path, parsing: Path, out: Path, curve_owner: dict[str, str]
) -> list[int]:
    """Convert every `featurelines/NNNNNN.json` with its `mask_parsing_NNNNNN.npy` (or `NNNNNN.npy`) in
    `parsing` into `out/NNNNNN.json`; returns the frames converted."""
    frames = []
    for path in sorted(featurelines.glob("[0-9][0-9][0-9][0-9][0-9][0-9].json")):
        pairs = formats.read_labelme(path)
        odd = [name for name, points in pairs.items() if len(points) % 2]
        if odd:
            raise InputFileError(path, f"curve(s) {odd} have an odd number of points; featurelines hold endpoint pairs")
        unknown = sorted(set(pairs) - set(curve_owner))
        if unknown:
            raise InputFileError(path, f"curve label(s) {unknown} are not among the subject's curves {sorted(curve_owner)}")
        candidates = [parsing / f"mask_parsing_{path.stem}.npy", parsing / f"{path.stem}.npy"]
        label_path = next((p for p in candidates if p.exists()), None)
        if label_path is None:
            raise InputFileError(path, f"no parsing map for this frame ({candidates[0].name} or {candidates[1].name})")
        labels = formats.read_parsing(label_path)
        dense = dense_curves(pairs, labels, curve_owner)
        formats.write_labelme(out / path.name, dense, image_size=labels.shape, image_path=f"../imgs/{path.stem}.png")
        frames.append(int(path.stem))
    if not frames:
        raise InputFileError(featurelines, "holds no NNNNNN.json endpoint files")
    return frames
