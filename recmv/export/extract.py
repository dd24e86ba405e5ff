"""`recmv extract` as a function: a fitted run folder -> open garment meshes with one topology per
garment in every frame, their curves, a GLB, videos and a manifest (REC-MV §7).

Per garment:
1. marching cubes of the canonical SDF (coarse-to-fine, only near the surface, in chunks);
2. the registration target: the faces visible from some direction, minus the caps past the curves;
3. the boundary curves: RUN/curves/canonical.json (the fit's learned curves) when present and each near
   the surface, else the template's loops projected onto the extracted surface (the manifest says which);
4. template registration (recmv.registration.register): loops onto curves, NICP, relaxation;
5. every frame: the registered canonical mesh through the learned warp, then pushed out of the posed body.

A run with a finished large-motion phase (RUN/large_motion/, `recmv fit --phase both`) gives the frames
of both segments: the phase keeps the SDFs and curves of the rotation fit, so one registration serves
every frame and the topology is the same throughout; each frame is posed by its own phase's warp.

Output layout (DIR):
    <garment>/canonical.obj, <garment>/<frame:06d>.obj|.ply, <garment>/boundaries.json
    curves/canonical.json, curves/<frame:06d>.json     {curve: [[x, y, z], ...]} (world, canonical)
    <subject>.glb                                      garments and body, one node per frame
    videos/overlay.mp4, videos/turntable.mp4
    manifest.json                                      everything above, options, sources, timings
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from recmv import __version__, fileio
from recmv.data.subject import SubjectMeta
from recmv.errors import InputFileError, RecmvError
from recmv.export.gltf import Track, write_glb
from recmv.export.pushout import push_out_of_body
from recmv.export.run import FittedRun, open_run
from recmv.export.video import GARMENT_COLOURS, shade, turntable_frames, write_mp4
from recmv.geometry.mesh_io import write_mesh
from recmv.geometry.proximity import closest_points
from recmv.registration.register import (
    RegisteredGarment,
    RegistrationConfig,
    register_template,
)
from recmv.registration.target import faces_past_curves, submesh, visible_faces
from recmv.training.explicit import canonical_mesh
from recmv.training.large_motion import PHASE_FOLDER

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "recmv-extract"
MANIFEST_VERSION = 1
MESH_FORMATS = ("obj", "ply")
CURVE_SURFACE_TOLERANCE = 0.02
"""A garment's learned curves are trusted only when each lies within this distance (metres, mean over its
points) of the extracted surface. One curve far off means their initialisation failed for the garment
(prepared subjects: a waist 4 cm off beside cuffs within 1 cm), and curves near the surface can still be
wrong there, so all of them go."""


@dataclass
class ExtractOptions:
    """Settings of `recmv extract`."""

    cell_size: float | None = None
    """Marching-cubes cell, metres (None: the run's mesh_cell_size)."""
    mesh_format: str = "obj"
    """Per-frame and canonical mesh files: obj or ply."""
    videos: bool = True
    """Write videos/overlay.mp4 and videos/turntable.mp4."""
    glb: bool = True
    """Write <subject>.glb (garments and body, animated)."""
    device: str = "cpu"
    """Torch device for marching cubes and the warp."""
    subject: Path | None = None
    """The subject folder, when it moved since the fit (default: the one in RUN/run.json)."""
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    """Template registration settings."""
    visibility_spacing: float | None = None
    """Ray spacing of the visibility filter, metres (None: 0.75 x the cell size)."""
    clearance: float = 0.001
    """Metres garment vertices keep outside the posed body."""
    push_rounds: int = 2
    """Push-out passes per frame (a push can land near another body part)."""
    chunk_frames: int = 8
    """Frames warped at once (memory)."""
    fps: float = 30.0
    """Frame rate of the GLB animation and the videos."""
    turntable_frames: int = 48
    """Views in the turntable video."""
    turntable_size: int = 256
    """Turntable video width and height, pixels."""
    large_motion: bool = True
    """Also give the frames of RUN/large_motion/ (the large-motion phase), when the run has one."""

    def validate(self) -> None:
        if self.mesh_format not in MESH_FORMATS:
            raise RecmvError(f"--format: expected one of {', '.join(MESH_FORMATS)}, got {self.mesh_format!r}")
        if self.cell_size is not None and not 0.0005 <= self.cell_size <= 0.1:
            raise RecmvError(f"--cell-size: expected metres between 0.0005 and 0.1, got {self.cell_size}")
        if self.chunk_frames < 1 or self.turntable_frames < 1 or self.turntable_size < 16 or self.fps <= 0:
            raise RecmvError("chunk_frames, turntable_frames must be >= 1, turntable_size >= 16 and fps > 0")


def read_curves(path: Path) -> dict[str, np.ndarray]:
    """{curve name: [K, 3]} from a curves JSON ({name: [[x, y, z], ...]})."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(path, f"cannot read curves ({error})") from error
    if not isinstance(data, dict):
        raise InputFileError(path, 'expected {"curve name": [[x, y, z], ...], ...}')
    curves = {}
    for name, points in data.items():
        array = np.asarray(points, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != 3 or len(array) < 3 or not np.isfinite(array).all():
            raise InputFileError(path, f"curve {name!r}: expected at least 3 finite [x, y, z] points")
        curves[name] = array
    return curves


def template_curves(loops: dict[str, np.ndarray], vertices: np.ndarray, faces: np.ndarray) -> dict[str, np.ndarray]:
    """The template's loops (name -> [L, 3]) moved onto the surface (vertices [V, 3], faces [F, 3]).

    Each loop goes to the closest points of the surface short of the loops' caps (faces_past_curves),
    so it lands on the garment's wall where the closed SDF caps the opening, not inside the cap.
    """
    middle = vertices.mean(axis=0)
    short_of_caps = ~faces_past_curves(vertices, faces, list(loops.values()), middle)
    kept_vertices, kept_faces = submesh(vertices, faces, short_of_caps if short_of_caps.any() else np.ones(len(faces), dtype=bool))
    curves = {}
    for name, points in loops.items():
        closest = closest_points(
            torch.from_numpy(kept_vertices.astype(np.float32)), torch.from_numpy(kept_faces), torch.from_numpy(points.astype(np.float32))
        )
        curves[name] = closest.points.numpy().astype(np.float64)
    return curves


def worst_curve_offset(curves: list[np.ndarray], vertices: np.ndarray, faces: np.ndarray) -> float:
    """The largest of the curves' mean distances (metres) from their points [K, 3] to the surface
    (vertices [V, 3], faces [F, 3]); 0 without curves."""
    if not curves:
        return 0.0
    points = torch.from_numpy(np.concatenate(curves).astype(np.float32))
    closest = closest_points(torch.from_numpy(vertices.astype(np.float32)), torch.from_numpy(faces), points)
    distances = (closest.points - points).norm(dim=-1).split([len(curve) for curve in curves])
    return max(float(d.mean()) for d in distances)


def extract_run(run_dir: str | Path, out_dir: str | Path, options: ExtractOptions | None = None, progress: bool = True) -> Path:
    """Extract a fitted run folder into out_dir (layout in the module docstring); returns manifest.json's path.

    options: default ExtractOptions().
    """
    options = options or ExtractOptions()
    options.validate()
    started = time.perf_counter()
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    run = open_run(run_dir, options.subject, options.device)
    phases = [run, *large_motion_phase(run_dir, options)]
    timings = {"load": time.perf_counter() - started}
    trainer, data = run.trainer, run.trainer.data
    cell = options.cell_size or run.config.mesh_cell_size
    learned_path = run_dir / "curves" / "canonical.json"
    learned = read_curves(learned_path) if learned_path.is_file() else {}
    registered: list[RegisteredGarment] = []
    sources: dict[str, str] = {}
    tick = time.perf_counter()
    for g, garment in enumerate(tqdm(data.garments, desc="register", unit="garment", disable=not progress)):
        template = data.templates[g]
        with torch.no_grad():
            mc_vertices, mc_faces = canonical_mesh(trainer.model.sdfs[g], trainer.boxes[g], cell, garment)
        mc_vertices, mc_faces = mc_vertices.double().cpu().numpy(), mc_faces.cpu().numpy()
        loops = {name: loop.numpy() for name, loop in template.boundaries.items()}
        template_vertices = template.vertices.double().cpu().numpy()
        offset = worst_curve_offset([learned[n] for n in loops if n in learned], mc_vertices, mc_faces)
        if all(name in learned for name in loops) and offset <= CURVE_SURFACE_TOLERANCE:
            curves, sources[garment] = {name: learned[name] for name in loops}, "learned"
        else:
            if all(name in learned for name in loops):
                log.warning("%s: a learned curve lies %.1f cm from the surface on average; using the template's loops", garment, 100 * offset)
            loop_points = {name: template_vertices[loop] for name, loop in loops.items()}
            curves, sources[garment] = template_curves(loop_points, mc_vertices, mc_faces), "template"
        keep = visible_faces(mc_vertices, mc_faces, options.visibility_spacing or 0.75 * cell)
        keep &= ~faces_past_curves(mc_vertices, mc_faces, list(curves.values()), mc_vertices.mean(axis=0))
        target_vertices, target_faces = submesh(mc_vertices, mc_faces, keep)
        result = register_template(
            template_vertices, template.faces.cpu().numpy(), loops, target_vertices, target_faces, curves, options.registration
        )
        result.stats.update(marching_cubes_faces=len(mc_faces), target_faces=len(target_faces))
        registered.append(result)
    timings["register"] = time.perf_counter() - tick

    tick = time.perf_counter()
    posed, bodies, pushed = _posed_phases(phases, registered, options, progress)
    frames = [frame for phase in phases for frame in phase.trainer.data.frames.tolist()]
    timings["warp"] = time.perf_counter() - tick
    tick = time.perf_counter()
    files = _write_meshes(out_dir, data.garments, frames, registered, posed, options.mesh_format, progress)
    curve_files = _write_curves(out_dir, data.meta, frames, registered, posed)
    timings["write"] = time.perf_counter() - tick
    subject_name = data.meta.name or run.subject.name
    glb = None
    if options.glb:
        tick = time.perf_counter()
        tracks = [
            Track(garment, posed[g], registered[g].faces, (*GARMENT_COLOURS[g % len(GARMENT_COLOURS)], 1.0))
            for g, garment in enumerate(data.garments)
        ]
        tracks.append(Track("body", bodies, data.body.faces.cpu().numpy(), (0.8, 0.8, 0.8, 1.0)))
        glb = write_glb(out_dir / f"{subject_name}.glb", tracks, options.fps).name
        timings["glb"] = time.perf_counter() - tick
    videos = {}
    if options.videos:
        tick = time.perf_counter()
        videos = _write_videos(out_dir, phases, registered, posed, bodies, options, progress)
        timings["videos"] = time.perf_counter() - tick
    timings["total"] = time.perf_counter() - started
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "recmv": __version__,
        "run": str(run_dir.resolve()),
        "run_recmv": run.recmv_version,
        "subject": str(run.subject.resolve()),
        "segment": run.segment,
        "frames": frames,
        "phases": [
            {"run": str(phase.run_dir.resolve()), "segment": phase.segment, "frames": phase.trainer.data.frames.tolist()}
            for phase in phases
        ],
        "cell_size_m": cell,
        "mesh_format": options.mesh_format,
        "curves": {
            "source": sources,
            "learned_file": str(learned_path) if learned else None,
            "canonical": "curves/canonical.json",
            "frames": curve_files,
        },
        "garments": {
            garment: {
                **files[garment],
                "loops": {name: len(loop) for name, loop in registered[g].boundaries.items()},
                "registration": registered[g].stats,
                "vertices_pushed_out": pushed[g],
            }
            for g, garment in enumerate(data.garments)
        },
        "glb": glb,
        "videos": videos,
        "options": _jsonable(asdict(options)),
        "timings_s": {name: round(seconds, 3) for name, seconds in timings.items()},
    }
    path = out_dir / "manifest.json"
    fileio.write_json(path, manifest)
    return path


def large_motion_phase(run_dir: Path, options: ExtractOptions) -> list[FittedRun]:
    """[the large-motion phase of run_dir] when it has one and options ask for it, else []."""
    phase_dir = run_dir / PHASE_FOLDER
    if not options.large_motion or not (phase_dir / "run.json").is_file():
        return []
    summary = phase_dir / "summary.json"
    finished = summary.is_file() and fileio.read_json_object(summary).get("finished") is True
    if not finished:
        raise RecmvError(
            f"{phase_dir}: the large-motion phase is unfinished; continue it with `recmv fit SUBJECT --out {run_dir} "
            "--phase large-motion --resume`, or extract the rotation frames alone with --rotation-only"
        )
    return [open_run(phase_dir, options.subject, options.device)]


def _posed_phases(
    phases: list[FittedRun], registered: list[RegisteredGarment], options: ExtractOptions, progress: bool
) -> tuple[list[np.ndarray], np.ndarray, list[int]]:
    """`_posed_frames` of every phase, frames one after the other."""
    results = [_posed_frames(phase, registered, options, progress) for phase in phases]
    posed = [np.concatenate([r[0][g] for r in results]) for g in range(len(registered))]
    bodies = np.concatenate([r[1] for r in results])
    pushed = [sum(r[2][g] for r in results) for g in range(len(registered))]
    return posed, bodies, pushed


def _posed_frames(
    run: FittedRun, registered: list[RegisteredGarment], options: ExtractOptions, progress: bool
) -> tuple[list[np.ndarray], np.ndarray, list[int]]:
    """Per garment [T, V, 3] posed vertices (pushed out of the body), the posed body [T, Vb, 3], and how
    many garment vertex positions were inside the body before the push, per garment."""
    trainer, model = run.trainer, run.trainer.model
    device = trainer.device
    band = model.band_weights(trainer.iteration, run.config.annealing_period).to(device)
    body_faces = trainer.data.body.faces.to(device)
    frames = torch.arange(trainer.data.num_frames, device=device)
    posed = [[] for _ in registered]
    bodies, pushed = [], [0 for _ in registered]
    canonical = [torch.from_numpy(r.vertices).to(device=device, dtype=torch.float32) for r in registered]
    bar = tqdm(total=len(frames), desc="frames", unit="frame", disable=not progress)
    for chunk in frames.split(options.chunk_frames):
        with torch.no_grad():
            body = model.pose(chunk)
            for g, vertices in enumerate(canonical):
                warped = model.warp(g, vertices, chunk, body.transforms, band).posed
                for slot in range(chunk.shape[0]):
                    points = warped[slot]
                    for round_index in range(options.push_rounds):
                        points, inside = push_out_of_body(points, body.vertices[slot], body_faces, options.clearance)
                        if round_index == 0:
                            pushed[g] += int(inside.sum())
                    posed[g].append(points.cpu().double().numpy())
        bodies.extend(body.vertices.cpu().double().numpy())
        bar.update(chunk.shape[0])
    bar.close()
    return [np.stack(p) for p in posed], np.stack(bodies), pushed


def _write_meshes(
    out_dir: Path, garments: list[str], frames: list[int], registered: list[RegisteredGarment],
    posed: list[np.ndarray], mesh_format: str, progress: bool,
) -> dict[str, dict]:
    files = {}
    bar = tqdm(total=len(garments) * len(frames), desc="write meshes", unit="mesh", disable=not progress)
    for g, garment in enumerate(garments):
        folder = out_dir / garment
        faces = torch.from_numpy(registered[g].faces)
        canonical = folder / f"canonical.{mesh_format}"
        write_mesh(canonical, torch.from_numpy(registered[g].vertices), faces)
        fileio.write_json(folder / "boundaries.json", {n: loop.tolist() for n, loop in registered[g].boundaries.items()})
        names = []
        for slot, frame in enumerate(frames):
            name = f"{frame:06d}.{mesh_format}"
            write_mesh(folder / name, torch.from_numpy(posed[g][slot]), faces)
            names.append(f"{garment}/{name}")
            bar.update(1)
        files[garment] = {
            "canonical": f"{garment}/{canonical.name}",
            "boundaries": f"{garment}/boundaries.json",
            "frames": names,
            "vertex_count": len(registered[g].vertices),
            "face_count": len(registered[g].faces),
        }
    bar.close()
    return files


def _write_curves(
    out_dir: Path, meta: SubjectMeta, frames: list[int], registered: list[RegisteredGarment], posed: list[np.ndarray]
) -> list[str]:
    """curves/canonical.json and curves/<frame>.json: each curve as its owner garment's registered loop."""
    garments = list(meta.garments)
    owners = {}
    for curve in meta.curves:
        owner = meta.curve_owner.get(curve)
        bounding = [g for g in garments if curve in registered[garments.index(g)].boundaries]
        if owner in bounding:
            owners[curve] = garments.index(owner)
        elif bounding:
            owners[curve] = garments.index(bounding[0])
    canonical = {c: registered[g].vertices[registered[g].boundaries[c]].tolist() for c, g in owners.items()}
    fileio.write_json(out_dir / "curves" / "canonical.json", canonical)
    names = []
    for slot, frame in enumerate(frames):
        per_frame = {c: posed[g][slot][registered[g].boundaries[c]].tolist() for c, g in owners.items()}
        name = f"curves/{frame:06d}.json"
        fileio.write_json(out_dir / name, per_frame)
        names.append(name)
    return names


def _write_videos(
    out_dir: Path, phases: list[FittedRun], registered: list[RegisteredGarment], posed: list[np.ndarray],
    bodies: np.ndarray, options: ExtractOptions, progress: bool,
) -> dict[str, str]:
    """videos/overlay.mp4 (garments over the input frames, body as occluder) and videos/turntable.mp4."""
    colours = [GARMENT_COLOURS[g % len(GARMENT_COLOURS)] for g in range(len(registered))]
    body_faces = phases[0].trainer.data.body.faces.cpu()
    frames, slot = [], 0
    bar = tqdm(total=len(bodies), desc="overlay video", unit="frame", disable=not progress)
    for phase in phases:
        data = phase.trainer.data
        camera = _fitted_camera(phase)
        for index in range(data.num_frames):
            background = ((data.images[index].detach().cpu().double().numpy() + 1.0) / 2.0).clip(0.0, 1.0)
            scene = [(torch.from_numpy(posed[g][slot]).float(), torch.from_numpy(r.faces)) for g, r in enumerate(registered)]
            scene.append((torch.from_numpy(bodies[slot]).float(), body_faces))
            frames.append(shade(scene, colours, camera, background, drawn=len(registered)))
            slot += 1
            bar.update(1)
    bar.close()
    overlay = write_mp4(out_dir / "videos" / "overlay.mp4", frames, options.fps)
    spin = turntable_frames(
        [(r.vertices, r.faces) for r in registered], colours, options.turntable_frames, options.turntable_size
    )
    turntable = write_mp4(out_dir / "videos" / "turntable.mp4", spin, options.fps)
    return {"overlay": f"videos/{overlay.name}", "turntable": f"videos/{turntable.name}"}


def _fitted_camera(run: FittedRun):
    """The run's refined camera, detached on the CPU in double precision."""
    with torch.no_grad():
        camera = run.trainer.model.frames.camera(run.trainer.data.camera)
    return type(camera)(
        fx=float(camera.fx), fy=float(camera.fy), cx=float(camera.cx), cy=float(camera.cy),
        rotation=camera.rotation.detach().cpu().double(), translation=camera.translation.detach().cpu().double(),
        width=camera.width, height=camera.height,
    )


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
