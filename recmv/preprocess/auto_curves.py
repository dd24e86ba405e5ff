"""2D feature curves from ATR label maps (`recmv prepare`, step 6): what REC-MV reads from `mask2fl/`.

Each curve is the stretch of its garment's outline that borders the region expected beyond it:
- neck: the upper garment (or dress) against the face/neck, or against bare torso skin;
- left/right cuff: the upper garment against the skin of that arm;
- upper_bottom (waist): the upper garment against the lower one;
- bottom_curve: a skirt or dress against the legs or shoes (a sleeveless or tube top: against
  whatever lies below it);
- left/right pant: the trousers against that leg or shoe.
A hem (bottom_curve, pant hems) also runs where the garment's outline faces down onto the background
(between the legs, below the hem); a sideways outline there is the garment's side, not its hem, and a
trouser hem's stretch on the background stays near that leg's skin or shoe (the crotch faces down too).
Beside a cuff or a trouser hem, skin only a few pixels thin is a shaded fold of the garment or the
skin-coloured background between two limbs, not the limb.
ATR's left/right labels are the body's left and right, as curve names are. Bare torso skin is told
from arm skin by the fitted body parts when given (`recmv.preprocess.parsing`), else by touching
the face.

Parsing specks (tiny components) are dropped before outlines are traced, and stretches much shorter
than a curve's longest one are taken for parsing noise. A curve's points follow its garment's outline (x = column, y = row), each placed midway between the
garment pixel and the nearest neighbouring pixel; several visible stretches are concatenated, as in
the synth's `mask2fl` files. REC-MV compares curves by Chamfer distance, so the direction is free.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from recmv.errors import RecmvError
from recmv.preprocess import parsing as parts_ids
from recmv.tables import GARMENT_ATR_LABEL, GARMENT_TYPES, LOWER_GARMENTS, UPPER_GARMENTS, curve_owners, subject_curves

FACE, LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG, LEFT_SHOE, RIGHT_SHOE = 11, 14, 15, 12, 13, 9, 10
# Skin over the trunk or the head (neck) is bare torso, never arm.
_TRUNK_OR_HEAD_PARTS = (*parts_ids.TORSO_PARTS, parts_ids.HEAD)
# Dilation (px) that makes pixels of two regions "adjacent"; garment pixels farther from the neighbour drop out.
_REACH = 1
# Parsing specks smaller than this share of the image (and 4 px) are dropped before tracing outlines.
_SPECK_AREA = 2e-4
# Stretches shorter than this share of a curve's longest stretch are parsing noise, not the curve.
_MIN_RELATIVE_RUN = 0.25
# A component of a garment's label under this share of its largest one's area, and farther from it than
# this share of that one's size (square root of its area), is a parsing error rather than a piece of the garment.
_DETACHED_SHARE = 0.05
_DETACHED_REACH = 0.1
# A hem point faces down when the outward normal's row component exceeds this share of its length.
_DOWNWARD = 0.8
# No hem point faces up more than this share of the normal's length (60 degrees from straight up).
_UPWARD = 0.5
# A trouser hem's points on the background lie within this share of the garment's size (square root of
# its area) of that leg's skin or shoe: the crotch faces down onto the background too, far from both.
_PANT_HEM_REACH = 0.15
# Arm or leg skin thinner than about twice this share of the image side, beside a cuff or trouser hem,
# is a shaded fold or stripe of the garment or skin-coloured background between the limbs, not the limb.
_THIN_SKIN = 0.004


@dataclass
class CurveSpec:
    """How to find one curve in a label map: the garment's labels, its neighbour's, and hem rules.

    below_background: the curve also runs where the garment faces down onto the background.
    side: 'left' / 'right' to split background hem points by the nearer leg, None for no split.
    limb_end: a cuff or trouser hem, where the garment ends around an arm or a leg.
    """

    garment: tuple[int, ...]
    neighbour: str
    below_background: bool = False
    side: str | None = None
    limb_end: bool = False


def curve_specs(garments: list[str]) -> dict[str, CurveSpec]:
    """Curve name -> its CurveSpec for a subject wearing `garments` (curves in REC-MV's order)."""
    unknown = [g for g in garments if g not in GARMENT_TYPES]
    if unknown or not garments:
        raise RecmvError(f"garments: expected some of {', '.join(GARMENT_TYPES)}, got {garments!r}")
    owners = curve_owners(garments)
    lower = tuple(GARMENT_ATR_LABEL[g] for g in garments if g in LOWER_GARMENTS)
    upper = tuple(GARMENT_ATR_LABEL[g] for g in garments if g in UPPER_GARMENTS)
    specs = {}
    for curve in subject_curves(garments):
        own = (GARMENT_ATR_LABEL[owners[curve]],)
        if curve == "neck":
            specs[curve] = CurveSpec(own, "neck")
        elif curve in ("left_cuff", "right_cuff"):
            specs[curve] = CurveSpec(own, curve.split("_")[0] + "_arm", limb_end=True)
        elif curve == "upper_bottom":
            other = lower if own[0] not in lower else upper
            specs[curve] = CurveSpec(own, "labels:" + ",".join(map(str, other)) if other else "torso_skin")
        elif curve == "bottom_curve":
            below = lower if owners[curve] in UPPER_GARMENTS else ()
            labels = below + (LEFT_LEG, RIGHT_LEG, LEFT_SHOE, RIGHT_SHOE)
            specs[curve] = CurveSpec(own, "labels:" + ",".join(map(str, labels)), below_background=True)
        else:
            side = curve.split("_")[0]
            leg = (LEFT_LEG, LEFT_SHOE) if side == "left" else (RIGHT_LEG, RIGHT_SHOE)
            specs[curve] = CurveSpec(
                own, "labels:" + ",".join(map(str, leg)), below_background=True, side=side, limb_end=True
            )
    return specs


def torso_skin(labels: np.ndarray, body_parts: np.ndarray | None) -> np.ndarray:
    """[H, W] bool: skin labelled as arm (ATR has no torso label) that is really bare torso or neck."""
    arm_skin = np.isin(labels, (LEFT_ARM, RIGHT_ARM))
    if body_parts is not None:
        return arm_skin & np.isin(body_parts, _TRUNK_OR_HEAD_PARTS)
    return touching_face(arm_skin, labels)


def neck_skin(labels: np.ndarray, body_parts: np.ndarray | None) -> np.ndarray:
    """[H, W] bool: the bare torso skin that reaches the face. Skin of an arm that crosses the torso in a
    side view is taken for torso skin where the fitted body's arm is a little off; it lies apart from
    the face, and a neckline there would be a stretch of the sleeve's or the body's outline."""
    skin = torso_skin(labels, body_parts)
    if body_parts is None or not (labels == FACE).any():
        # Without body parts torso_skin already kept only what touches the face.
        return skin
    return touching_face(skin, labels)


def touching_face(region: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[H, W] bool: the connected components of `region` that come within two pixels of the face label."""
    components, _ = ndimage.label(region)
    near_face = ndimage.binary_dilation(labels == FACE, iterations=2)
    touching = np.unique(components[near_face & region])
    return np.isin(components, touching[touching > 0])


def neighbour_mask(labels: np.ndarray, neighbour: str, body_parts: np.ndarray | None) -> np.ndarray:
    """[H, W] bool region a curve's garment borders."""
    if neighbour == "neck":
        return (labels == FACE) | neck_skin(labels, body_parts)
    if neighbour == "torso_skin":
        return torso_skin(labels, body_parts)
    if neighbour in ("left_arm", "right_arm"):
        arm = labels == (LEFT_ARM if neighbour == "left_arm" else RIGHT_ARM)
        # Skin joined to the face is the neck's, wherever the fitted body's shoulder falls on it.
        return arm & ~torso_skin(labels, body_parts) & ~touching_face(arm, labels)
    return np.isin(labels, [int(v) for v in neighbour.split(":")[1].split(",")])


def outline_runs(garment: np.ndarray, keep: np.ndarray, min_points: int) -> list[np.ndarray]:
    """Stretches of the garment's outline whose pixels satisfy `keep` [H, W]: list of [K, 2] (x, y) int."""
    contours, _ = cv2.findContours(garment.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    runs = []
    for contour in contours:
        points = contour[:, 0, :]
        flags = keep[points[:, 1], points[:, 0]]
        if flags.all():
            runs.append(points)
            continue
        if not flags.any():
            continue
        start = int(np.flatnonzero(~flags)[0])
        points, flags = np.roll(points, -start, axis=0), np.roll(flags, -start)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
        runs.extend(points[a:b] for a, b in zip(edges[::2], edges[1::2]))
    return [run for run in runs if len(run) >= min_points]


def outward_downness(garment: np.ndarray) -> np.ndarray:
    """[H, W] float in [-1, 1]: the down-the-image share of the garment outline's outward normal (1: it
    faces straight down, -1: straight up; 0 away from the outline)."""
    smooth = ndimage.gaussian_filter(garment.astype(np.float32), 1.5)
    grad_row, grad_col = np.gradient(smooth)
    return -grad_row / np.maximum(np.hypot(grad_row, grad_col), 1e-6)


def extract_curve(
    labels: np.ndarray, spec: CurveSpec, body_parts: np.ndarray | None, min_points: int
) -> np.ndarray | None:
    """[K, 2] float points of one curve in one label map [H, W], or None when it is not visible."""
    min_area = max(4, int(_SPECK_AREA * labels.size))
    garment = drop_detached(drop_specks(np.isin(labels, spec.garment), min_area))
    if not garment.any():
        return None
    neighbour = drop_specks(neighbour_mask(labels, spec.neighbour, body_parts), min_area)
    if spec.limb_end:
        radius = max(1, round(_THIN_SKIN * min(labels.shape)))
        square = np.ones((3, 3), bool)
        core = ndimage.binary_opening(neighbour, structure=square, iterations=radius)
        # Back out to the skin's own outline near what stays: the opening also trims the thin wedge of
        # skin where a sleeve crosses the arm at a slant, which is the cuff's end.
        neighbour &= ndimage.binary_dilation(core, structure=square, iterations=radius)
    near = ndimage.binary_dilation(neighbour, iterations=_REACH)
    background = np.zeros_like(garment)
    if spec.below_background:
        downness = outward_downness(garment)
        # A hem is the garment's lower edge: where its outline faces up, skin or legs above it are a
        # parsing error at the waist (a dark stripe of the top taken for skin), not the hem.
        near &= downness > -_UPWARD
        background = labels == 0
        facing = ndimage.binary_dilation(background, iterations=_REACH) & (downness > _DOWNWARD)
        if spec.side is not None:
            reach = _PANT_HEM_REACH * np.sqrt(garment.sum())
            facing &= _nearer_side(labels, spec.side) & (_distance_to(neighbour) <= reach)
        near = near | facing
    runs = outline_runs(garment, near, min_points)
    if not runs:
        return None
    longest = max(len(run) for run in runs)
    points = np.concatenate([run for run in runs if len(run) >= _MIN_RELATIVE_RUN * longest])
    # Midway to the neighbour where it is adjacent, else to the background below.
    nearest = _nearest_pixels(neighbour, points)
    if background.any():
        to_background = _nearest_pixels(background, points)
        beside = np.abs(nearest - points).max(axis=1) <= _REACH if neighbour.any() else np.zeros(len(points), bool)
        nearest = np.where(beside[:, None], nearest, to_background)
    return 0.5 * (points + nearest).astype(np.float64)


def drop_specks(region: np.ndarray, min_area: int) -> np.ndarray:
    """[H, W] bool region without its connected components smaller than `min_area` pixels."""
    components, count = ndimage.label(region)
    if count == 0:
        return region
    sizes = np.bincount(components.reshape(-1), minlength=count + 1)
    keep = sizes >= min_area
    keep[0] = False
    return keep[components]


def drop_detached(region: np.ndarray) -> np.ndarray:
    """[H, W] bool region without the components that are both small beside its largest one (under
    _DETACHED_SHARE of its area) and apart from it (beyond _DETACHED_REACH of its size): a patch of
    garment label on a leg or the background, whose outline would add a false stretch to a curve."""
    components, count = ndimage.label(region)
    if count < 2:
        return region
    sizes = np.bincount(components.reshape(-1), minlength=count + 1)
    sizes[0] = 0
    largest = int(sizes.argmax())
    reach = max(1, round(_DETACHED_REACH * np.sqrt(sizes[largest])))
    near_largest = ndimage.binary_dilation(components == largest, iterations=reach)
    keep = sizes >= _DETACHED_SHARE * sizes[largest]
    keep[np.unique(components[near_largest])] = True
    keep[0] = False
    return keep[components]


def _nearest_pixels(region: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[K, 2] (x, y) of the region pixel nearest to each of points [K, 2] (x, y); the points themselves if empty."""
    if not region.any():
        return points.copy()
    _, (rows, cols) = ndimage.distance_transform_edt(~region, return_indices=True)
    return np.stack([cols[points[:, 1], points[:, 0]], rows[points[:, 1], points[:, 0]]], axis=-1)


def _distance_to(region: np.ndarray) -> np.ndarray:
    """[H, W] distance (px) of every pixel to the region [H, W] bool; infinite where the region is empty."""
    return ndimage.distance_transform_edt(~region) if region.any() else np.full(region.shape, np.inf)


def _nearer_side(labels: np.ndarray, side: str) -> np.ndarray:
    """[H, W] bool: pixels nearer to that side's leg or shoe than to the other side's."""
    to_left = _distance_to(np.isin(labels, (LEFT_LEG, LEFT_SHOE)))
    to_right = _distance_to(np.isin(labels, (RIGHT_LEG, RIGHT_SHOE)))
    return to_left < to_right if side == "left" else to_right < to_left


def feature_curves(
    labels: np.ndarray,
    garments: list[str],
    keyframes: list[int],
    body_parts: np.ndarray | None = None,
    min_points: int = 3,
) -> dict[int, dict[str, np.ndarray]]:
    """2D feature curves on keyframes.

    Args:
        labels: [F, H, W] ATR label maps.
        garments: the subject's garment types.
        keyframes: frame indices to extract curves on.
        body_parts: optional [F, H, W] body-part ids (`recmv.preprocess.parsing.render_body_parts`).
        min_points: shortest outline stretch kept, in outline pixels.
    Returns:
        keyframe -> curve name -> [K, 2] (x = column, y = row); curves not visible are left out.
    """
    if labels.ndim != 3 or not np.issubdtype(labels.dtype, np.integer):
        raise RecmvError(f"labels: expected integer [F, H, W] ATR maps, got {labels.dtype} {labels.shape}")
    if body_parts is not None and body_parts.shape != labels.shape:
        raise RecmvError(f"body_parts: expected shape {labels.shape}, got {body_parts.shape}")
    bad = [k for k in keyframes if not 0 <= k < labels.shape[0]]
    if bad:
        raise RecmvError(f"keyframes: {bad} outside 0..{labels.shape[0] - 1}")
    specs = curve_specs(garments)
    result = {}
    for frame in keyframes:
        frame_parts = None if body_parts is None else body_parts[frame]
        curves = {}
        for name, spec in specs.items():
            points = extract_curve(labels[frame], spec, frame_parts, min_points)
            if points is not None:
                curves[name] = points
        result[frame] = curves
    return result
