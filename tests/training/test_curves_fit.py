"""The feature curves inside short CPU fits on the tiny subject: initialisation, terms, files; the large-motion
phase and the extraction of both phases' frames."""

from __future__ import annotations

import dataclasses
import json
import shutil

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
import trimesh

from recmv.cli.main import main
from recmv.curves.config import CurveConfig
from recmv.errors import RecmvError
from recmv.synth.config import SynthConfig
from recmv.synth.writer import synthesize
from recmv.tables import LOWER_GARMENTS
from recmv.training.config import LossWeights
from recmv.training.curves import CURVE_TERMS, cap_pairs, curve_terms, initialise_curves
from recmv.training.data import load_fit_data
from recmv.training.fit import fit_subject
from recmv.training.large_motion import fit_large_motion
from recmv.training.trainer import Trainer
from tests.training.conftest import tiny_config

CURVES = CurveConfig(points=40, init_steps=20)


def curve_stage(coupled_weights: dict[str, float]):
    weights = LossWeights(
        silhouette=0.0, deformation_consistency=0.0, pc_sdf=0.0, eikonal=0.0, rigidity=0.0, normal=0.0, colour=0.0,
        dct=0.0, body_penetration=0.0, **coupled_weights,
    )
    return dataclasses.replace(tiny_config().stages[0], weights=weights, refresh_every=1000)


@pytest.fixture(scope="module")
def fitted_sdfs(tiny_subject, tmp_path_factory):
    config = tiny_config(curves=CURVES)
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path_factory.mktemp("curves"))
    trainer.initialise_sdfs(progress=False)
    return trainer.model.state_dict()


@pytest.mark.parametrize("coupled", [False, True])
def test_a_short_fit_decreases_the_curve_terms(tiny_subject, fitted_sdfs, tmp_path, coupled):
    stage = curve_stage({"curve_projection": 0.05, "curve_sdf": 10.0, "curve_smoothness": 0.1})
    config = tiny_config(epochs=4, stages=(stage,), curves=dataclasses.replace(CURVES, coupled=coupled, lr=3e-3))
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path)
    trainer.model.load_state_dict(fitted_sdfs)
    sdf_before = [p.detach().clone() for p in trainer.model.sdfs.parameters()]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # curves a few centimetres off, and wiggly
        trainer.model.curves.normal_offset.add_(0.03 + 0.01 * torch.randn(trainer.model.curves.normal_offset.shape, generator=generator))
        trainer.model.curves.log_scale.add_(0.1 * torch.randn(trainer.model.curves.log_scale.shape, generator=generator))
    trainer.refresh_meshes(stage)
    keyframes = torch.tensor([0, 2])
    before = trainer.evaluate(keyframes, stage)
    assert set(before) == {"curve_projection", "curve_sdf", "curve_smoothness"}
    trainer.run(progress=False)
    trainer.iteration = 0
    after = trainer.evaluate(keyframes, stage)
    for term in before:
        assert after[term] < before[term], term
    moved = any(not torch.equal(a, b) for a, b in zip(sdf_before, trainer.model.sdfs.parameters()))
    assert moved == coupled  # decoupled: the curve terms never touch the SDFs


def _curve_gradients(trainer: Trainer, stage) -> tuple[float, dict[str, torch.Tensor]]:
    """The curve terms' unweighted sum on two frames and its gradient on the SDFs, the deformer and the curves."""
    context = trainer._context(torch.tensor([0, 2]))
    total = sum(curve_terms(trainer, context, stage).values())
    model = trainer.model
    model.zero_grad(set_to_none=True)
    total.backward()
    parts = {"sdfs": model.sdfs, "deformer": model.deformer, "curves": model.curves}
    grads = {
        name: torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in module.parameters()])
        for name, module in parts.items()
    }
    return float(total.detach()), grads


def test_coupling_one_curve_lets_only_its_share_reach_the_rest_of_the_fit(tiny_subject, fitted_sdfs, tmp_path):
    stage = curve_stage({"curve_projection": 0.05, "curve_sdf": 10.0})
    data = load_fit_data(tiny_subject, tiny_config().working_size)

    def trainer_with(curves: CurveConfig) -> Trainer:
        trainer = Trainer(tiny_config(stages=(stage,), curves=curves), data, tmp_path)
        trainer.model.load_state_dict(fitted_sdfs)
        with torch.no_grad():  # curves off the surface and off their 2D curves, so both terms pull
            trainer.model.curves.normal_offset.add_(0.02)
        return trainer

    # "left_pant": a curve this subject lacks is ignored.
    value, grads = _curve_gradients(trainer_with(dataclasses.replace(CURVES, coupled_curves=("upper_bottom", "left_pant"))), stage)
    whole_value, whole = _curve_gradients(trainer_with(dataclasses.replace(CURVES, coupled=True)), stage)
    assert value == pytest.approx(whole_value, rel=1e-6)
    assert torch.allclose(grads["curves"], whole["curves"], rtol=1e-4, atol=1e-8)
    assert grads["sdfs"].abs().max() > 0 and grads["deformer"].abs().max() > 0

    # The deformer hears the projection term of the waist alone: every curve coupled, the others' 2D weights 0.
    oracle = trainer_with(dataclasses.replace(CURVES, coupled=True))
    names = oracle.model.curves.names
    waist = names.index("upper_bottom")
    oracle.curve_targets.weights = oracle.curve_targets.weights * torch.tensor([float(n == "upper_bottom") for n in names])
    assert torch.allclose(grads["deformer"], _curve_gradients(oracle, stage)[1]["deformer"], rtol=1e-4, atol=1e-10)

    # The SDFs hear the SDF-on-curve term of the waist's points alone, with the share they have in the whole term.
    model = oracle.model
    owners = model.curves.owners.tolist()
    owner = owners[waist]
    points = model.curves()[waist].detach()
    share = 1.0 / (len(set(owners)) * owners.count(owner) * points.shape[0])
    model.zero_grad(set_to_none=True)
    (share * model.sdfs[owner](points).sdf.abs().sum()).backward()
    expected = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in model.sdfs.parameters()])
    assert torch.allclose(grads["sdfs"], expected, rtol=1e-4, atol=1e-10)


def test_a_coupled_curve_moves_the_deformer_while_the_curves_are_frozen(tiny_subject, fitted_sdfs, tmp_path):
    stage = curve_stage({"curve_projection": 0.05})
    config = tiny_config(stages=(stage,), curves=dataclasses.replace(CURVES, lr=0.0, coupled_curves=("upper_bottom",)))
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path)
    trainer.model.load_state_dict(fitted_sdfs)
    with torch.no_grad():
        trainer.model.curves.normal_offset.add_(0.02)
    value, grads = _curve_gradients(trainer, stage)
    assert value > 0 and grads["deformer"].abs().max() > 0
    assert not any(p.requires_grad for p in trainer.model.curves.parameters())


def test_coupled_curves_must_be_curve_names():
    with pytest.raises(RecmvError, match="coupled_curves.*'waist'"):
        CurveConfig(coupled_curves=("waist",))


def test_the_cap_term_moves_the_lower_sdf_towards_the_waist_disc(tiny_subject, fitted_sdfs, tmp_path):
    stage = curve_stage({"curve_cap": 1.0})
    config = tiny_config(epochs=3, stages=(stage,), curves=CURVES)
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path)
    trainer.model.load_state_dict(fitted_sdfs)
    trainer.refresh_meshes(stage)
    frames = torch.tensor([0, 1])
    before = trainer.evaluate(frames, stage)
    assert set(before) == {"curve_cap"}
    trainer.run(progress=False)
    trainer.iteration = 0
    assert trainer.evaluate(frames, stage)["curve_cap"] < before["curve_cap"]


@pytest.mark.parametrize(("cap_hem", "cap_openings"), [(False, False), (True, False), (True, True)])
def test_cap_pairs(tiny_subject, tmp_path, cap_hem, cap_openings):
    config = tiny_config(curves=dataclasses.replace(CURVES, cap_hem=cap_hem, cap_openings=cap_openings))
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path)
    names, owners = trainer.model.curves.names, trainer.model.curves.owners.tolist()
    garments = trainer.data.garments
    lower = [g for g, kind in enumerate(garments) if kind in LOWER_GARMENTS]
    expected = [(g, names.index("upper_bottom")) for g in lower]
    if cap_hem:
        expected.append((owners[names.index("bottom_curve")], names.index("bottom_curve")))
    if cap_openings:  # every garment across each curve it owns, each pair once
        expected += [(o, c) for c, o in enumerate(owners) if (o, c) not in expected]
    assert cap_pairs(trainer) == expected
    assert len(set(cap_pairs(trainer))) == len(cap_pairs(trainer))


def test_initialisation_brings_template_curves_closer_to_the_annotations(tiny_subject, tmp_path):
    stage = curve_stage({"curve_projection": 1.0})
    config = tiny_config(stages=(stage,), curves=CURVES)
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path)
    trainer.refresh_meshes(stage)
    keyframes = torch.tensor([0, 2])
    before = trainer.evaluate(keyframes, stage)["curve_projection"]
    initialise_curves(trainer)
    assert trainer.evaluate(keyframes, stage)["curve_projection"] < before


@pytest.fixture(scope="module")
def two_phase_run(tmp_path_factory):
    """(subject, run, rotation model state): a rotation fit and then its large-motion phase by the command."""
    subject = tmp_path_factory.mktemp("large") / "subject"
    synthesize(
        SynthConfig(
            garments=("short_sleeve_upper", "skirt"), frames=2, large_motion="walk", large_motion_frames=2, size=48,
            seed=2, body_topology="notoes_collapse5pc", grid_resolution=16, keyframe_every=1, garment_resolution=0.04,
        ),
        subject,
    )
    run = tmp_path_factory.mktemp("large_run") / "run"
    overrides = dict(tiny_config(epochs=1, curves=CURVES).__dict__)
    fit_subject(subject, run, overrides=overrides, write_meshes=False, progress=False)
    rotation = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["model"]
    assert main(["fit", str(subject), "--out", str(run), "--phase", "large-motion", "--epochs", "1", "--no-meshes"]) == 0
    return subject, run, rotation


def test_fit_writes_curve_files_and_the_command_runs_the_large_motion_phase(two_phase_run):
    subject, run, rotation = two_phase_run
    canonical = json.loads((run / "curves" / "canonical.json").read_text())
    gt = json.loads((subject / "gt" / "curves" / "canonical.json").read_text())
    assert set(canonical) == set(gt)
    assert all(len(points) == CURVES.points and len(points[0]) == 3 for points in canonical.values())
    assert sorted(p.name for p in (run / "curves").glob("0*.json")) == ["000000.json", "000001.json"]

    phase = run / "large_motion"
    after = torch.load(phase / "checkpoints" / "latest.pt", weights_only=True)["model"]
    for name, value in rotation.items():
        if name.startswith(("sdfs.", "curves.")):
            torch.testing.assert_close(after[name], value, rtol=0, atol=0, msg=name)  # frozen
    assert not torch.equal(after["deformer.mlp.0.weight"], rotation["deformer.mlp.0.weight"])  # optimised
    assert sorted(p.name for p in (phase / "curves").glob("0*.json")) == ["000002.json", "000003.json"]
    assert json.loads((phase / "curves" / "canonical.json").read_text()) == canonical
    log = [json.loads(line) for line in (phase / "log.jsonl").read_text().splitlines()]
    assert log and not any(term in record for record in log for term in CURVE_TERMS)


def test_extract_gives_both_phases_frames_with_one_topology(two_phase_run, tmp_path):
    _, run, _ = two_phase_run
    out = tmp_path / "both"
    assert main(["extract", str(run), "--out", str(out), "--cell-size", "0.03", "--no-glb"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frames"] == [0, 1, 2, 3]
    assert [phase["frames"] for phase in manifest["phases"]] == [[0, 1], [2, 3]]
    for entry in manifest["garments"].values():
        faces = [trimesh.load(out / name, process=False).faces for name in entry["frames"]]
        assert len(faces) == 4 and all(np.array_equal(f, faces[0]) for f in faces)
    assert sorted(p.name for p in (out / "curves").glob("0*.json")) == [f"{i:06d}.json" for i in range(4)]
    assert len(imageio.mimread(out / manifest["videos"]["overlay"])) == 4

    rotation_only = tmp_path / "rotation"
    assert main(["extract", str(run), "--out", str(rotation_only), "--cell-size", "0.03", "--no-glb", "--no-videos", "--rotation-only"]) == 0
    assert json.loads((rotation_only / "manifest.json").read_text())["frames"] == [0, 1]


def test_extract_refuses_an_unfinished_large_motion_phase(two_phase_run, tmp_path, capsys):
    _, run, _ = two_phase_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    summary = copy / "large_motion" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "finished": False}))
    assert main(["extract", str(copy), "--out", str(tmp_path / "out"), "--no-glb", "--no-videos"]) == 2
    error = capsys.readouterr().err
    assert "large-motion phase is unfinished" in error and "--rotation-only" in error


def test_large_motion_phase_needs_a_finished_rotation_run(tiny_subject, tmp_path):
    from recmv.errors import InputFileError

    with pytest.raises(InputFileError, match="summary.json"):
        fit_large_motion(tiny_subject, tmp_path / "nothing")
