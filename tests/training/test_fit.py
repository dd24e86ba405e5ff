"""Short CPU fits on a tiny synthetic subject: loss terms, resume, checkpoints, outputs and the command."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from recmv.cli.main import main
from recmv.errors import InputFileError, RecmvError
from recmv.geometry.temporal import smooth_axis_angles
from recmv.losses.smoothness import dct_smoothness_loss, dct_windows
from recmv.tables import LEG_SPANNING_GARMENTS
from recmv.training.config import GarmentTuning, LossWeights, fast_config, reference_config
from recmv.training.data import load_fit_data
from recmv.training.fit import fit_subject
from recmv.training.trainer import Trainer
from tests.training.conftest import tiny_config


TERMS = (
    "silhouette", "deformation_consistency", "pc_sdf", "eikonal", "rigidity", "normal", "colour", "dct",
    "body_penetration", "pose_prior", "mean_offset",
)


@pytest.fixture(scope="module")
def initial_state(tiny_subject, tmp_path_factory):
    """A trainer after the SDF initial fit, and its state to restart every term's run from."""
    config = tiny_config(epochs=5)
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path_factory.mktemp("terms"))
    trainer.initialise_sdfs(progress=False)
    return trainer.model.state_dict()


@pytest.mark.parametrize(("term", "vertex_optimizer"), [(term, "adam") for term in TERMS] + [("silhouette", "none")])
def test_a_short_run_decreases_each_active_term(tiny_subject, initial_state, tmp_path, term, vertex_optimizer):
    """Each term alone is optimised from a start away from its minimum, on fixed explicit meshes:
    with Adam on the vertices (SelfRecon), and the silhouette also through the SDF alone (MeshSDF)."""
    weights = LossWeights(**{name: (1.0 if name == term else 0.0) for name in TERMS})
    stage = dataclasses.replace(tiny_config().stages[0], weights=weights, refresh_every=1000)
    optim = dataclasses.replace(tiny_config().optim, vertex_optimizer=vertex_optimizer, vertex_lr=2e-3)
    config = tiny_config(epochs=4, stages=(stage,), optim=optim)
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path)
    trainer.model.load_state_dict(initial_state)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        # Offsets of centimetres and a stretched deformation; jittered poses.
        trainer.model.deformer.mlp[-1].weight.copy_(0.05 * torch.randn(trainer.model.deformer.mlp[-1].weight.shape, generator=generator))
        trainer.model.frames.poses.add_(0.05 * torch.randn(trainer.model.frames.poses.shape, generator=generator))
    trainer.refresh_meshes(stage)
    with torch.no_grad():  # as if the explicit step had moved the vertices off the zero level set
        for vertices in trainer.meshes.vertices:
            vertices.add_(0.01 * torch.randn(vertices.shape, generator=generator))
            if term == "body_penetration":  # shrink the garments into the body
                vertices.copy_(vertices.mean(0) + 0.7 * (vertices - vertices.mean(0)))
    frames = torch.arange(2)
    before = trainer.evaluate(frames, stage)
    assert set(before) == {term}
    sdf_before = [p.detach().clone() for p in trainer.model.sdfs.parameters()]
    trainer.run(progress=False)
    trainer.iteration = 0  # the same random draws and annealing as `before`
    after = trainer.evaluate(frames, stage)
    assert after[term] < before[term]
    if term == "silhouette":  # only MeshSDF's projection carries the silhouette into the SDFs
        changed = any(not torch.equal(a, p) for a, p in zip(sdf_before, trainer.model.sdfs.parameters(), strict=True))
        assert changed == (vertex_optimizer == "none")


def test_the_pose_prior_pulls_towards_the_input_smoothed_in_time(tiny_subject, initial_state, tmp_path):
    """With sigma 0 the refined poses start on the prior's target; with sigma > 0 the target is the
    smoothed input, which the 4 frames of the tiny subject's motion do not follow exactly."""
    weights = LossWeights(**{name: (1.0 if name == "pose_prior" else 0.0) for name in TERMS})
    stage = dataclasses.replace(tiny_config().stages[0], weights=weights)
    values = {}
    for sigma in (0.0, 2.0):
        trainer = Trainer(
            tiny_config(stages=(stage,), pose_prior_sigma=sigma), load_fit_data(tiny_subject, 64), tmp_path / str(sigma)
        )
        trainer.model.load_state_dict(initial_state)
        trainer.refresh_meshes(stage)
        assert torch.equal(trainer.prior_poses, smooth_axis_angles(trainer.data.poses, sigma))
        values[sigma] = trainer.evaluate(torch.arange(trainer.data.num_frames), stage)["pose_prior"]
    assert values[0.0] == pytest.approx(0.0, abs=1e-6)
    assert values[2.0] > 1e-3


def test_initial_codes_scale_with_the_code_std(tiny_subject, tmp_path):
    codes = {}
    for std in (0.1, 0.3):
        deformer = dataclasses.replace(tiny_config().deformer, code_std=std)
        trainer = Trainer(tiny_config(deformer=deformer), load_fit_data(tiny_subject, 64), tmp_path / str(std))
        codes[std] = torch.stack(list(trainer.model.frames.garment_codes)).detach()
    torch.testing.assert_close(codes[0.3], 3 * codes[0.1])


def test_hanging_skinning_skins_the_skirt_from_the_hips_and_leaves_the_upper_alone(tiny_subject, tmp_path):
    data = load_fit_data(tiny_subject, 64)
    skirt, upper = data.garments.index("skirt"), data.garments.index("short_sleeve_upper")
    default = Trainer(tiny_config(), data, tmp_path / "default")
    assert all(grid is data.grid for grid in default.model.subject.garment_grids)
    model = Trainer(tiny_config(hanging_skinning=True), data, tmp_path / "hanging").model
    assert model.subject.garment_grids[upper] is data.grid
    skirt_points = data.templates[skirt].vertices
    still, lifted = model.frames.poses[:1].detach().clone(), model.frames.poses[:1].detach().clone()
    lifted[0, data.body.landmark_joints["left_hip"]] = torch.tensor([-1.2, 0.0, 0.0])  # the knee up by ~70°
    trans = model.frames.trans[:1].detach()
    transforms = [data.body(p, data.shape, trans).transforms for p in (still, lifted)]
    hanging = [model.skin_only(skirt_points, t, skirt) for t in transforms]
    following = [default.model.skin_only(skirt_points, t, skirt) for t in transforms]
    torch.testing.assert_close(hanging[0], hanging[1])
    assert (following[1] - following[0]).norm(dim=-1).max() > 0.05


def test_resume_after_a_kill_matches_an_uninterrupted_run(tiny_subject, tmp_path):
    overrides = dict(tiny_config(epochs=3).__dict__)
    fit_subject(tiny_subject, tmp_path / "straight", overrides=overrides, write_meshes=False, progress=False)
    # "Killed" after 3 iterations: the checkpoint at iteration 2 survives, iteration 3 is lost.
    fit_subject(tiny_subject, tmp_path / "killed", overrides=overrides, write_meshes=False, progress=False, stop_after=3)
    log_lines = (tmp_path / "killed" / "log.jsonl").read_text().splitlines()
    assert len(log_lines) == 3
    fit_subject(tiny_subject, tmp_path / "killed", resume=True, write_meshes=False, progress=False)
    straight = torch.load(tmp_path / "straight" / "checkpoints" / "latest.pt", weights_only=True)
    resumed = torch.load(tmp_path / "killed" / "checkpoints" / "latest.pt", weights_only=True)
    assert straight["iteration"] == resumed["iteration"] == 6
    for name, value in straight["model"].items():
        torch.testing.assert_close(resumed["model"][name], value, rtol=0, atol=0, msg=name)
    straight_log = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    resumed_log = [json.loads(line) for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in resumed_log] == list(range(6))
    assert [r["silhouette"] for r in resumed_log] == [r["silhouette"] for r in straight_log]


def test_corrupt_or_foreign_checkpoints_are_refused(tiny_subject, tmp_path):
    overrides = dict(tiny_config(epochs=1).__dict__)
    run = tmp_path / "run"
    fit_subject(tiny_subject, run, overrides=overrides, write_meshes=False, progress=False)
    with pytest.raises(RecmvError, match="already holds a fit"):
        fit_subject(tiny_subject, run, overrides=overrides, progress=False)
    checkpoint = run / "checkpoints" / "latest.pt"
    good = checkpoint.read_bytes()
    checkpoint.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputFileError, match="corrupt"):
        fit_subject(tiny_subject, run, resume=True, progress=False)
    checkpoint.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputFileError, match="latest.pt"):
        fit_subject(tiny_subject, run, resume=True, progress=False)
    # A checkpoint of another run (other seed: other networks' identity) is named as such.
    other = tmp_path / "other"
    fit_subject(tiny_subject, other, overrides={**overrides, "seed": 5}, write_meshes=False, progress=False)
    checkpoint.write_bytes((other / "checkpoints" / "latest.pt").read_bytes())
    with pytest.raises(InputFileError, match="different run"):
        fit_subject(tiny_subject, run, resume=True, progress=False)
    with pytest.raises(RecmvError, match="preset"):
        fit_subject(tiny_subject, other, preset="reference", resume=True, progress=False)


def test_fit_writes_config_log_and_posed_meshes(tiny_subject, tmp_path):
    overrides = dict(tiny_config(epochs=1).__dict__)
    run = tmp_path / "run"
    summary = fit_subject(tiny_subject, run, overrides=overrides, progress=False)
    saved = json.loads((run / "config.json").read_text())
    assert saved["epochs"] == 1 and saved["stages"][0]["name"] == "coarse"
    assert summary.iterations == 2
    assert set(summary.final_terms) == set(tiny_config().stages[0].weights.active())
    for garment in ("short_sleeve_upper", "skirt"):
        names = sorted(p.name for p in (run / "meshes" / garment).iterdir())
        assert names == ["000000.obj", "000001.obj", "000002.obj", "000003.obj", "canonical.obj"]


def test_fit_command_end_to_end(tiny_subject, tmp_path, capsys):
    """The command with a partial --config (the tiny setting) laid over the fast preset, --curves on top."""
    run, config = tmp_path / "run", tiny_config(epochs=1)
    partial = {key: value for key, value in config.to_json().items() if key not in ("sdf", "deformer")}
    partial["sdf_init"] = {"iterations": config.sdf_init.iterations, "batch_size": config.sdf_init.batch_size}
    (tmp_path / "tiny.json").write_text(json.dumps(partial))
    command = ["fit", str(tiny_subject), "--out", str(run), "--config", str(tmp_path / "tiny.json"), "--curves", "coupled"]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "iterations" in printed and str(run) in printed
    assert (run / "meshes" / "skirt" / "000003.obj").exists()
    saved = json.loads((run / "config.json").read_text())
    assert saved["working_size"] == 64 and saved["sdf_init"]["iterations"] == 40 and saved["curves"]["coupled"] is True
    assert saved["sdf_init"]["learning_rate"] == config.sdf_init.learning_rate  # untouched keys keep the preset's
    if not torch.cuda.is_available():
        assert main(["fit", str(tiny_subject), "--out", str(tmp_path / "bad"), "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epoch": 3}, "unknown fit config key 'epoch'"),
        ({"sdf_init": {"iters": 3}}, "unknown fit config key 'sdf_init.iters'"),
        ({"epochs": "ten"}, "'epochs' must be a number"),
        ({"sdf": 3}, "'sdf' must be an object"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"deformer": {"code_std": -0.1}}, "code_std >= 0"),
        ({"preset": "reference"}, "names preset 'reference' but --preset is fast"),
    ],
)
def test_bad_config_files_are_refused_naming_the_key(tiny_subject, tmp_path, capsys, changes, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(changes))
    command = ["fit", str(tiny_subject), "--out", str(tmp_path / "run"), "--preset", "fast", "--config", str(path)]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert message in error and str(path) in error
    assert not (tmp_path / "run" / "config.json").exists()


def test_config_file_picks_the_preset_and_a_resume_refuses_one(tmp_path):
    from recmv.training.fit import resolve_config

    config = resolve_config(tmp_path, None, False, {"epochs": 3}, {"preset": "reference", "working_size": 96}, "x.json")
    assert config.preset == "reference" and config.working_size == 96 and config.epochs == 3
    assert config.sdf.hidden_dim == reference_config().sdf.hidden_dim
    with pytest.raises(RecmvError, match="x.json: a resumed fit keeps the config"):
        resolve_config(tmp_path, None, True, {}, {"epochs": 3}, "x.json")


def test_reference_preset_runs_a_few_iterations_on_cpu(tiny_subject, tmp_path):
    """REC-MV's own networks (8x512 SDFs, 4x512 deformer, 128-d codes) and loss weights, on coarse cells."""
    config = reference_config()
    stages = tuple(dataclasses.replace(s, cell_size=0.05, rays_per_image=64) for s in config.stages)
    # A short initial fit at a gentle rate: the 1200-step one is not the point here.
    sdf_init = dataclasses.replace(config.sdf_init, iterations=20, batch_size=1000, learning_rate=5e-4)
    config = dataclasses.replace(
        config, epochs=1, working_size=64, stages=stages, regulariser_points=256, sdf_init=sdf_init
    )
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path)
    assert trainer.model.sdfs[0].config.hidden_dim == 512 and trainer.model.deformer.config.latent_dim == 128
    trainer.initialise_sdfs(progress=False)
    trainer.run(stop_after=2, progress=False)
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(records) == 2
    assert set(records[0]) >= set(config.stages[0].weights.active())
    assert all(math.isfinite(value) for record in records for key, value in record.items() if key not in ("stage",))


def test_the_fast_preset_holds_its_curves_unless_asked_to_refine_them():
    curve_terms = ("curve_projection", "curve_sdf", "curve_smoothness", "curve_cap")
    held, refined = fast_config(), fast_config(refine_curves=True)
    for stage in held.stages:
        assert all(getattr(stage.weights, term) == 0 for term in curve_terms), stage.name
    for stage in refined.stages:
        assert all(getattr(stage.weights, term) > 0 for term in curve_terms), stage.name
    assert not held.curves.cap_openings and refined.curves.cap_openings
    # Everything but the curves is the same preset.
    assert held.replace(stages=refined.stages, curves=refined.curves) == refined


TUNED_TERMS = ("deformation_consistency", "mean_offset", "rigidity")


def _evaluate_with_tuning(tiny_subject, initial_state, tmp_path, tuning):
    """Deformation consistency, mean offset and rigidity of offsets of centimetres, under some garment tuning."""
    weights = LossWeights(**{name: float(name in TUNED_TERMS) for name in TERMS})
    config = tiny_config(weights=weights, garment_tuning=tuning)
    trainer = Trainer(config, load_fit_data(tiny_subject, config.working_size), tmp_path)
    trainer.model.load_state_dict(initial_state)
    with torch.no_grad():
        last = trainer.model.deformer.mlp[-1].weight
        last.copy_(0.05 * torch.randn(last.shape, generator=torch.Generator().manual_seed(0)))
    trainer.refresh_meshes(config.stages[0])
    return trainer.evaluate(torch.arange(2), config.stages[0])


def test_garment_tuning_scales_only_the_named_garments_share_of_the_deformation_terms(
    tiny_subject, initial_state, tmp_path
):
    def terms(tuning, name):
        return _evaluate_with_tuning(tiny_subject, initial_state, tmp_path / name, tuning)

    both = terms((), "both")
    off = dict.fromkeys(TUNED_TERMS, 0.0)
    skirt = terms((GarmentTuning(("short_sleeve_upper",), **off),), "skirt")
    upper = terms((GarmentTuning(("skirt",), **off),), "upper")
    doubled = terms((GarmentTuning(("skirt", "short_sleeve_upper"), **dict.fromkeys(TUNED_TERMS, 2.0)),), "x2")
    for term in TUNED_TERMS:
        assert skirt[term] > 1e-6 and upper[term] > 1e-6, term
        assert float(skirt[term] + upper[term]) == pytest.approx(float(both[term]), rel=1e-5), term
        assert float(doubled[term]) == pytest.approx(2 * float(both[term]), rel=1e-5), term


def test_a_consistency_margin_frees_only_the_named_garments_short_offsets(tiny_subject, initial_state, tmp_path):
    both = _evaluate_with_tuning(tiny_subject, initial_state, tmp_path / "both", ())
    only_upper = _evaluate_with_tuning(tiny_subject, initial_state, tmp_path / "upper", (GarmentTuning(("skirt",), deformation_consistency=0.0),))
    margin = (GarmentTuning(("skirt",), consistency_margin=1.0),)
    freed = _evaluate_with_tuning(tiny_subject, initial_state, tmp_path / "margin", margin)
    assert float(both["deformation_consistency"]) > float(only_upper["deformation_consistency"]) > 1e-6
    # A metre of margin frees every offset of the skirt and leaves the shirt's share as it was.
    assert float(freed["deformation_consistency"]) == pytest.approx(float(only_upper["deformation_consistency"]), rel=1e-5)


def test_garment_tuning_gives_a_garment_its_own_code_learning_rate(tiny_subject, tmp_path):
    config = tiny_config(epochs=1, garment_tuning=(GarmentTuning(("skirt",), codes_lr=10.0),))
    data = load_fit_data(tiny_subject, config.working_size)
    trainer = Trainer(config, data, tmp_path)
    trainer.initialise_sdfs(progress=False)
    before = [codes.detach().clone() for codes in trainer.model.frames.garment_codes]
    trainer.run(stop_after=1, progress=False)
    # Adam's first step moves every element with a gradient by the learning rate.
    step = {
        name: float((codes.detach() - start).abs().max())
        for name, codes, start in zip(data.garments, trainer.model.frames.garment_codes, before, strict=True)
    }
    assert step["short_sleeve_upper"] > 0
    assert step["skirt"] == pytest.approx(10 * step["short_sleeve_upper"], rel=1e-3)


def test_garment_tuning_takes_the_first_entry_that_names_a_garment_and_refuses_unknown_names(tmp_path):
    from recmv.training.config import merged_config

    changes = {"garment_tuning": [{"garments": ["dress"], "codes_lr": 2.0}, {"garments": ["dress", "skirt"], "codes_lr": 3.0}]}
    config = merged_config(fast_config(), changes, "x.json")
    assert config.tuning("dress").codes_lr == 2.0 and config.tuning("skirt").codes_lr == 3.0
    assert config.tuning("long_pants") == GarmentTuning()
    with pytest.raises(RecmvError, match="x.json: .*unknown garments \\['cape'\\]"):
        merged_config(fast_config(), {"garment_tuning": [{"garments": ["cape"]}]}, "x.json")
    for field in ("mean_offset", "consistency_margin", "mask_dilation"):
        with pytest.raises(RecmvError, match="consistency_margin must be >= 0"):
            merged_config(fast_config(), {"garment_tuning": [{"garments": ["skirt"], field: -1.0}]}, "x.json")


def _silhouette_term(subject: str, initial_state: dict, folder, **changes) -> float:
    """The silhouette term alone on the tiny subject's first two frames, from the same model state."""
    config = tiny_config(weights=LossWeights(**{name: float(name == "silhouette") for name in TERMS}), **changes)
    trainer = Trainer(config, load_fit_data(subject, config.working_size), folder)
    trainer.model.load_state_dict(initial_state)
    trainer.refresh_meshes(config.stages[0])
    return float(trainer.evaluate(torch.arange(2), config.stages[0])["silhouette"])


def test_the_silhouette_term_follows_the_mask_dilation(tiny_subject, initial_state, tmp_path):
    none, half, whole = (
        _silhouette_term(tiny_subject, initial_state, tmp_path / str(d), mask_dilation=d) for d in (0.0, 0.5, 1.0)
    )
    # Per image and garment, 1 - IoU against a blend of two targets is a ratio of affine functions of the
    # blend, so it moves one way between the blend's ends; here the grown masks lower it.
    assert none != pytest.approx(whole, abs=1e-4)
    assert min(none, whole) < half < max(none, whole)


def test_each_garments_masks_are_dilated_by_its_own_factor(tiny_subject, initial_state, tmp_path):
    def term(shirt: float, skirt: float) -> float:
        tuning = (GarmentTuning(("short_sleeve_upper",), mask_dilation=shirt), GarmentTuning(("skirt",), mask_dilation=skirt))
        return _silhouette_term(tiny_subject, initial_state, tmp_path / f"{shirt}_{skirt}", garment_tuning=tuning)

    # The term is a mean over (image, garment) pairs, each depending on its own garment's dilation only,
    # so the two mixed settings add up to the two uniform ones; and they differ from each other, which
    # they would not if the factors were ignored.
    shirt_only, skirt_only = term(1.0, 0.0), term(0.0, 1.0)
    assert shirt_only + skirt_only == pytest.approx(term(0.0, 0.0) + term(1.0, 1.0), rel=1e-5)
    assert shirt_only != pytest.approx(skirt_only, abs=1e-5)


def test_a_negative_mask_dilation_is_refused_by_name():
    from recmv.training.config import merged_config

    assert merged_config(fast_config(), {"mask_dilation": 0.75}, "x.json").mask_dilation == 0.75
    with pytest.raises(RecmvError, match="x.json: .*mask_dilation must be >= 0"):
        merged_config(fast_config(), {"mask_dilation": -0.5}, "x.json")


def test_a_large_motion_fit_starts_each_garments_codes_at_its_rotation_mean(tiny_subject, tmp_path):
    from recmv.training.large_motion import start_from_rotation

    config = tiny_config()
    data = load_fit_data(tiny_subject, config.working_size)
    rotation = Trainer(config, data, tmp_path / "rotation").model.state_dict()
    keys = [f"frames.garment_codes.{g}" for g in range(len(data.garments))]
    for g, key in enumerate(keys):  # each garment's rotation codes away from zero by its own amount
        rotation[key] = rotation[key] + (g + 1)
    trainer = Trainer(config, data, tmp_path / "large")
    initial = [codes.detach().clone() for codes in trainer.model.frames.garment_codes]
    start_from_rotation(trainer, rotation)
    for g, codes in enumerate(trainer.model.frames.garment_codes):
        torch.testing.assert_close(codes.detach(), initial[g] + rotation[keys[g]].mean(0))


def test_the_fast_preset_loosens_the_deformation_of_skirts_and_dresses_only():
    config = fast_config()
    for garment in LEG_SPANNING_GARMENTS:
        tuning = config.tuning(garment)
        assert tuning.deformation_consistency < 1 and tuning.mean_offset == 0 and tuning.codes_lr > 1, garment
    # Only the skirt's offsets get a free margin and no rigidity term: the dress's surface drifted with them.
    assert config.tuning("skirt").consistency_margin > 0 and config.tuning("skirt").rigidity == 0
    assert config.tuning("dress").consistency_margin == 0 and config.tuning("dress").rigidity == 1
    for garment in ("short_sleeve_upper", "long_sleeve_upper"):
        assert config.tuning(garment) == GarmentTuning(), garment
    # Trousers keep the shared deformation and only match tighter masks, as dresses do; skirts do not.
    for garment in ("long_pants", "short_pants"):
        assert dataclasses.replace(config.tuning(garment), garments=(), mask_dilation=1.0) == GarmentTuning(), garment
    assert [config.tuning(g).mask_dilation < 1 for g in ("dress", "long_pants", "skirt")] == [True, True, False]
    assert reference_config().garment_tuning == ()


def test_the_dct_term_takes_the_configured_form_over_each_frames_window(tiny_subject, initial_state, tmp_path):
    weights = LossWeights(**{name: float(name == "dct") for name in TERMS})
    data = load_fit_data(tiny_subject, tiny_config().working_size)
    frames = torch.tensor([0, 3])
    terms = {}
    for detrend in (False, True):
        config = tiny_config(weights=weights, dct_detrend=detrend)
        trainer = Trainer(config, data, tmp_path / str(detrend))
        trainer.model.load_state_dict(initial_state)
        with torch.no_grad():  # a jittery, moving trajectory, so that both forms have something to penalise
            poses = trainer.model.frames.poses
            poses.add_(0.1 * torch.randn(poses.shape, generator=torch.Generator().manual_seed(0), dtype=poses.dtype))
            joints = trainer.model.pose(torch.arange(data.num_frames)).joints
            expected = torch.stack(
                [dct_smoothness_loss(joints[w], 30, detrend=detrend) for w in dct_windows(frames, data.num_frames, 30)]
            ).mean()
        trainer.refresh_meshes(config.stages[0])
        terms[detrend] = trainer.evaluate(frames, config.stages[0])["dct"]
        assert terms[detrend] > 1e-4
        assert terms[detrend] == pytest.approx(float(expected), rel=1e-6)
    assert terms[True] != pytest.approx(terms[False], rel=1e-3)
