"""Procedural garment templates on the canonical body, with boundary loops named by feature curve.

A garment is the zero set of a signed distance field in canonical space: the body offset by the
garment's looseness (fitted parts) and/or elliptic slices around the trunk (skirts, tubes, the skirt
of a dress), morphologically closed so it does not dip into creases. Marching cubes gives a closed
surface; it is cut open along plane loops (neck, cuffs, waist, hems), and the piece around the
trunk is kept. Each remaining boundary loop is the loop of one cut and takes that cut's curve name
(tables.CURVES_BOUNDING).

Loose garments on some bodies need care: a cuff or trouser hem whose plane would also cut into the
trunk, the other leg or the neckline moves down its limb until it meets the limb alone; slivers a
cut leaves along its loop are trimmed or flipped away; loops are relaxed along themselves.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import trimesh

from recmv.errors import InputFileError, RecmvError
from recmv.geometry.proximity import push_outside
from recmv.fileio import atomic_path, write_json
from recmv.tables import CURVES_BOUNDING, GARMENT_TYPES
from recmv.templates.body_geometry import BodyGeometry, arm_cut, chain_length, point_along
from recmv.templates.cutting import PlaneCut, boundary_loops, compact, components, cut_mesh, section_loop_faces
from recmv.templates.fields import FieldSampler, Grid, closing, ellipse_field, isosurface, mesh_signed_distance
from recmv.templates.profiles import trunk_points, trunk_profile
from recmv.templates.relax import relax_surface
from recmv.templates.slivers import flip_thin_triangles, trim_loop_slivers

logger = logging.getLogger(__name__)

# Marching-cubes grid spacing per target edge length: gives about the target mean edge length.
_GRID_PER_EDGE = 1.15
# Relaxation rounds before and after cutting.
_RELAX_ITERATIONS = 8
# Vertices closer to a cut plane than this share of the edge length are snapped onto it.
_SNAP_SHARE = 0.3
# Step down the limb, as a share of its length, of a limb cut that meets the trunk too.
_LIMB_STEP = 0.02
# Vertices end at least half the looseness plus this from the skin (metres: rounding to float32
# must not bring them back), after this many pushes (one push can land near another body part).
_PUSH_CLEARANCE = 1.0e-4
_PUSH_ROUNDS = 2
# Room left beyond the outermost cuts inside the grid, metres.
_GRID_MARGIN = 0.1

SLEEVED = ("short_sleeve_upper", "long_sleeve_upper", "no_sleeve_upper", "dress")
HANGING = ("tube", "skirt", "dress")
FITTED = ("short_sleeve_upper", "long_sleeve_upper", "no_sleeve_upper", "long_pants", "short_pants", "dress")


@dataclass
class GarmentParams:
    """Shape of a procedural garment. Heights are shares of the pelvis-to-neck height above the pelvis.

    A field a garment type has no use for is ignored (a skirt has no sleeves).
    """

    resolution: float = 0.015
    """Target edge length, metres."""
    looseness: float = 0.02
    """Gap between skin and garment, metres."""
    smoothing: float = 0.03
    """Radius of the closing that bridges creases and narrow gaps, metres."""
    sleeve_length: float = 0.3
    """Cuff position down the arm, as a share of the shoulder-to-wrist length (at most 0.97)."""
    cuff_tilt: float = 0.0
    """How far the cuff plane turns from across the arm (0) to the upright armhole plane (1)."""
    neck_height: float = 0.25
    """Neckline centre above the neck joint, as a share of the neck-to-head distance."""
    neckline_tilt: float = 0.3
    """Forward tilt of the neckline plane, radians: the neckline dips at the front."""
    top_height: float = 0.12
    """Top edge of a lower garment (waist) or of a tube; for a dress, where its skirt starts."""
    hem_height: float = 0.0
    """Bottom hem of an upper garment, tube, skirt or dress (negative: below the pelvis)."""
    leg_length: float = 0.35
    """Trouser hem position down the leg, as a share of the hip-to-ankle length (at most 0.97)."""
    flare: float = 0.0
    """Widening of a skirt below the hips, metres of radius per metre of drop."""

    @classmethod
    def defaults(cls, kind: str) -> GarmentParams:
        """The default parameters of a garment type (tables.GARMENT_TYPES)."""
        _check_kind(kind)
        return cls(**_DEFAULTS[kind])


_DEFAULTS: dict[str, dict[str, float]] = {
    "short_sleeve_upper": {"sleeve_length": 0.3, "hem_height": 0.0},
    "long_sleeve_upper": {"sleeve_length": 0.9, "hem_height": 0.0},
    "no_sleeve_upper": {"sleeve_length": 0.05, "cuff_tilt": 1.0, "hem_height": 0.0},
    "tube": {"top_height": 0.5, "hem_height": 0.1},
    "skirt": {"top_height": 0.12, "hem_height": -0.6, "flare": 0.3},
    "long_pants": {"top_height": 0.12, "leg_length": 0.92},
    "short_pants": {"top_height": 0.12, "leg_length": 0.35},
    "dress": {"sleeve_length": 0.05, "cuff_tilt": 1.0, "top_height": 0.2, "hem_height": -0.7, "flare": 0.3},
}


def _check_kind(kind: str) -> None:
    if kind not in GARMENT_TYPES:
        raise RecmvError(f"unknown garment type {kind!r}; expected one of {', '.join(GARMENT_TYPES)}")


@dataclass
class GarmentTemplate:
    """An open garment mesh in canonical space.

    vertices: [V, 3] float32. faces: [F, 3] int64, oriented outwards (away from the body).
    boundaries: curve name -> [L] int64 vertex ids of that boundary loop, in order.
    """

    kind: str
    vertices: torch.Tensor
    faces: torch.Tensor
    boundaries: dict[str, torch.Tensor]

    def to_trimesh(self) -> trimesh.Trimesh:
        return trimesh.Trimesh(self.vertices.detach().cpu().numpy(), self.faces.cpu().numpy(), process=False)

    def save(self, path: str | Path) -> Path:
        """Write the mesh as OBJ and its loops as boundaries.json ({curve: [vertex ids]}) beside it.

        path: an .obj file, or a folder (then `canonical.obj` in it). Returns the OBJ path.
        """
        path = Path(path)
        obj_path = path if path.suffix.lower() == ".obj" else path / "canonical.obj"
        vertices = self.vertices.detach().cpu().double().numpy()
        faces = self.faces.cpu().numpy() + 1
        lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in vertices] + [f"f {a} {b} {c}" for a, b, c in faces]
        with atomic_path(obj_path) as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        write_json(obj_path.parent / "boundaries.json", {n: loop.tolist() for n, loop in self.boundaries.items()})
        return obj_path

    @classmethod
    def load(cls, path: str | Path, kind: str | None = None) -> GarmentTemplate:
        """Read what `save` wrote. kind defaults to the name of the folder holding the OBJ."""
        path = Path(path)
        obj_path = path if path.suffix.lower() == ".obj" else path / "canonical.obj"
        kind = kind or obj_path.parent.name
        _check_kind(kind)
        labels_path = obj_path.parent / "boundaries.json"
        try:
            mesh = trimesh.load(obj_path, process=False, maintain_order=True, force="mesh")
            labels = json.loads(labels_path.read_text())
        except (OSError, ValueError) as error:
            raise InputFileError(obj_path, f"cannot read the garment template ({error})") from error
        if set(labels) != set(CURVES_BOUNDING[kind]):
            raise InputFileError(labels_path, f"expected the loops {list(CURVES_BOUNDING[kind])}, got {list(labels)}")
        return cls(
            kind=kind,
            vertices=torch.tensor(np.asarray(mesh.vertices), dtype=torch.float32),
            faces=torch.tensor(np.asarray(mesh.faces), dtype=torch.int64),
            boundaries={name: torch.tensor(labels[name], dtype=torch.int64) for name in CURVES_BOUNDING[kind]},
        )


def garment_cuts(kind: str, body: BodyGeometry, params: GarmentParams) -> list[PlaneCut]:
    """The named cuts of a garment type, one per curve of tables.CURVES_BOUNDING[kind], in that order."""
    pelvis, unit = body.landmark("pelvis"), body.torso_length
    up = np.array([0.0, 1.0, 0.0])

    def level(name: str, share: float, direction: float) -> PlaneCut:
        return PlaneCut(name, pelvis + share * unit * up, direction * up)

    cuts: dict[str, PlaneCut] = {}
    if kind in SLEEVED:
        neck, head = body.landmark("neck"), body.landmark("head")
        axis = (head - neck) / np.linalg.norm(head - neck)
        normal = axis + np.tan(params.neckline_tilt) * np.array([0.0, 0.0, 1.0])
        cuts["neck"] = PlaneCut("neck", neck + params.neck_height * (head - neck), normal / np.linalg.norm(normal))
        for side in ("left", "right"):
            cuts[f"{side}_cuff"] = limb_cut(f"{side}_cuff", body, params, params.sleeve_length)
    if kind in ("short_sleeve_upper", "long_sleeve_upper"):
        cuts["upper_bottom"] = level("upper_bottom", params.hem_height, -1.0)
    if kind in ("no_sleeve_upper", "dress", "tube", "skirt"):
        cuts["bottom_curve"] = level("bottom_curve", params.hem_height, -1.0)
    if kind == "tube":
        cuts["neck"] = level("neck", params.top_height, 1.0)
    if kind in ("skirt", "long_pants", "short_pants"):
        cuts["upper_bottom"] = level("upper_bottom", params.top_height, 1.0)
    if kind in ("long_pants", "short_pants"):
        for side in ("left", "right"):
            cuts[f"{side}_pant"] = limb_cut(f"{side}_pant", body, params, params.leg_length)
    return [cuts[name] for name in CURVES_BOUNDING[kind]]


def limb_cut(name: str, body: BodyGeometry, params: GarmentParams, share: float) -> PlaneCut:
    """The cuff ("left_cuff", "right_cuff") or trouser hem ("left_pant", "right_pant") cut `share`
    of the way down its limb (at most 0.97)."""
    side = name.split("_")[0]
    if name.endswith("_cuff"):
        return arm_cut(body, side, share, params.cuff_tilt, name)
    leg = body.leg(side)
    point, tangent = point_along(leg, min(share, 0.97) * chain_length(leg))
    return PlaneCut(name, point, tangent)


def separate_limb_cuts(
    cuts: list[PlaneCut], vertices: np.ndarray, faces: np.ndarray, body: BodyGeometry, params: GarmentParams
) -> list[PlaneCut]:
    """The cuts with each limb cut moved down its limb, where needed, to where its plane meets the
    garment surface (vertices [V, 3], faces [F, 3]) in a loop around the limb alone, clear of the
    other cuts' loops.

    Near the armpit or crotch the garment's looseness and closing can fuse a limb with the trunk or
    the other leg, so that a plane there meets both in one loop; and a loose armhole can reach the
    neckline. Cutting there would cut into the trunk or leave no shoulder strap.
    """
    cuts = list(cuts)
    for index, cut in enumerate(cuts):
        if not cut.name.endswith(("_cuff", "_pant")):
            continue
        share = params.sleeve_length if cut.name.endswith("_cuff") else params.leg_length
        others = cuts[:index] + cuts[index + 1 :]
        while not _around_limb_alone(cut, others, vertices, faces, body, params):
            share += _LIMB_STEP
            if share > 0.97 + _LIMB_STEP:
                raise RecmvError(f"cut {cut.name!r}: the garment surface does not separate from the limb")
            cut = limb_cut(cut.name, body, params, share)
            logger.debug("%s moved to %.2f of its limb to clear the trunk", cut.name, share)
        cuts[index] = cut
    return cuts


def _around_limb_alone(cut: PlaneCut, others: list[PlaneCut], vertices, faces, body: BodyGeometry, params) -> bool:
    """Whether the garment's section loop at a limb cut shares no vertex with the other cuts' loops
    and reaches no further out than the body's own section there plus the room the looseness and
    closing give."""
    try:
        loop_faces = section_loop_faces(vertices, faces, cut)
    except RecmvError:
        return False
    loop_vertices = np.unique(faces[loop_faces])
    for other in others:
        if np.isin(faces[section_loop_faces(vertices, faces, other)], loop_vertices).any():
            return False
    room = params.looseness + params.smoothing + 2.0 * params.resolution
    return _section_radius(vertices, faces, loop_faces, cut) <= _body_section_radius(body, cut) + room


def _body_section_radius(body: BodyGeometry, cut: PlaneCut) -> float:
    """How far the body's own section loop at a cut reaches from its centre (inf if it has none)."""
    vertices, faces = body.vertices_np(), body.faces_np()
    try:
        return _section_radius(vertices, faces, section_loop_faces(vertices, faces, cut), cut)
    except RecmvError:
        return float("inf")


def _section_radius(vertices: np.ndarray, faces: np.ndarray, loop_faces: np.ndarray, cut: PlaneCut) -> float:
    """Largest distance from the cut's centre of a section loop (its faces [C]) projected on the plane."""
    centres = vertices[faces[loop_faces]].mean(axis=1)
    on_plane = centres - np.outer(cut.values(centres), cut.normal)
    return float(np.linalg.norm(on_plane - cut.point, axis=1).max())


def _grid(body: BodyGeometry, cuts: list[PlaneCut], params: GarmentParams, reach: float) -> Grid:
    """The grid around the body between the lowest and highest cut, `reach` wider than the body."""
    vertices = body.vertices_np()
    heights = np.array([cut.point[1] for cut in cuts])
    margin = _GRID_MARGIN + params.looseness + params.smoothing
    low = np.array([vertices[:, 0].min() - reach, heights.min() - margin, vertices[:, 2].min() - reach])
    high = np.array([vertices[:, 0].max() + reach, heights.max() + margin, vertices[:, 2].max() + reach])
    return Grid.around(low, high, params.resolution * _GRID_PER_EDGE)


def _garment_field(kind: str, body: BodyGeometry, cuts: list[PlaneCut], params: GarmentParams) -> tuple[Grid, np.ndarray]:
    """The grid and the garment's closed signed distance field on it, before cutting."""
    heights = [cut.point[1] for cut in cuts]
    hem, top = min(heights), max(heights)
    if kind == "dress":
        top = body.landmark("pelvis")[1] + params.top_height * body.torso_length
    drop = max(body.landmark("left_hip")[1] - hem, 0.0)
    grid = _grid(body, cuts, params, reach=params.looseness + params.smoothing + params.flare * drop + 0.05)
    points = grid.points()
    field = np.full(len(points), np.inf)
    if kind in FITTED:
        field = mesh_signed_distance(body.vertices_np(), body.faces_np(), points) - params.looseness
    if kind in HANGING:
        profile = trunk_profile(
            trunk_points(body, 0.5 * grid.spacing),
            grid.axis(1),
            centre_x=float(body.landmark("pelvis")[0]),
            hip_height=float(body.landmark("left_hip")[1]),
            looseness=params.looseness,
            flare=params.flare,
        )
        margin = _GRID_MARGIN / 2
        skirt_top = top if kind == "dress" else top + margin
        field = np.minimum(field, ellipse_field(points, profile, hem - margin, skirt_top))
    return grid, closing(grid, field, params.smoothing)


def _named_loops(vertices: np.ndarray, faces: np.ndarray, cuts: list[PlaneCut]) -> dict[str, np.ndarray] | None:
    """Each boundary loop of a mesh named after the cut whose plane it lies in, or None unless
    the loops are exactly one per cut."""
    named: dict[str, np.ndarray] = {}
    for loop in boundary_loops(faces):
        offsets = [float(np.abs(cut.values(vertices[loop])).max()) for cut in cuts]
        best = int(np.argmin(offsets))
        if offsets[best] > 1.0e-6 or cuts[best].name in named:
            return None
        named[cuts[best].name] = loop
    if len(named) != len(cuts):
        return None
    return {cut.name: named[cut.name] for cut in cuts}


def _garment_piece(vertices: np.ndarray, faces: np.ndarray, cuts: list[PlaneCut], kind: str) -> tuple:
    """The part of the cut surface bounded by every cut and nothing else: (vertices, faces, loops)."""
    for part in components(vertices, faces):
        part_vertices, part_faces = compact(vertices, faces[part])
        loops = _named_loops(part_vertices, part_faces, cuts)
        if loops is not None:
            return part_vertices, part_faces, loops
    raise RecmvError(
        f"{kind}: no piece of the surface is bounded by exactly the cuts {[cut.name for cut in cuts]}; "
        "the garment parameters put a cut where the surface does not separate cleanly"
    )


def build_garment(kind: str, body: BodyGeometry, params: GarmentParams | None = None) -> GarmentTemplate:
    """A procedural garment of type `kind` on the canonical body, boundary loops named by curve."""
    _check_kind(kind)
    params = params if params is not None else GarmentParams.defaults(kind)
    if params.resolution <= 0.0 or params.looseness <= 0.0:
        raise RecmvError(f"garment resolution and looseness must be positive, got {params}")
    cuts = garment_cuts(kind, body, params)
    grid, values = _garment_field(kind, body, cuts, params)
    sampler = FieldSampler(grid, values)
    vertices, faces = isosurface(grid, values)
    vertices = relax_surface(vertices, faces, sampler, _RELAX_ITERATIONS)
    edge = float(np.linalg.norm(vertices[faces[:, 0]] - vertices[faces[:, 1]], axis=1).mean())
    cuts = separate_limb_cuts(cuts, vertices, faces, body, params)
    for cut in cuts:
        vertices, faces = cut_mesh(vertices, faces, cut, snap=_SNAP_SHARE * edge)
    vertices, faces, loops = _garment_piece(vertices, faces, cuts, kind)
    vertices, faces, loops = trim_loop_slivers(vertices, faces, loops, {cut.name: cut for cut in cuts})
    vertices = relax_surface(vertices, faces, sampler, _RELAX_ITERATIONS, loops=list(loops.values()))
    faces = flip_thin_triangles(vertices, faces)
    # The grid field is only trilinear: make sure no vertex ended up nearer the skin than half the
    # looseness (at sharp body features; a few vertices at most, moved by millimetres).
    body_vertices, body_faces = body.vertices.detach().cpu().double(), body.faces.cpu()
    points = torch.from_numpy(vertices)
    for _ in range(_PUSH_ROUNDS):
        points = push_outside(body_vertices, body_faces, points, 0.5 * params.looseness + _PUSH_CLEARANCE)
    vertices = points.numpy()
    logger.debug("%s: %d vertices, %d faces", kind, len(vertices), len(faces))
    return GarmentTemplate(
        kind=kind,
        vertices=torch.tensor(vertices, dtype=torch.float32),
        faces=torch.tensor(faces, dtype=torch.int64),
        boundaries={name: torch.tensor(loop, dtype=torch.int64) for name, loop in loops.items()},
    )

