"""`recmv bench`: schedule shortening, the stage runner, the tables and a tiny suite end to end."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recmv.cli.bench import subset_of
from recmv.cli.main import main
from recmv.evaluation import bench
from recmv.evaluation.bench import (
    BenchSubject, BenchSuite, FitScale, MethodRecord, StageResult, fit_overrides, preset_ratios, run_stage,
    segment_metrics, shortened_config,
)
from recmv.report.bench_tables import bench_markdown
from recmv.training.config import fast_config
from tests.training.conftest import tiny_config


def test_shortened_config_scales_the_schedule():
    config = shortened_config("fast", FitScale(epochs=8, working_size=128, sdf_init_iterations=150))
    assert config.epochs == 8 and config.working_size == 128
    assert [s.start_epoch for s in config.stages] == [0, 2, 5]  # 0, 7, 17 of 28 epochs
    assert config.optim.milestones == (4, 7)  # 14, 23 of 28
    assert config.optim.warmup_iterations == 17
    assert (config.sdf_init.iterations, config.sdf_init.lr_step) == (150, 52)
    squeezed = shortened_config("fast", FitScale(epochs=2))
    assert [s.start_epoch for s in squeezed.stages] == [0, 1, 2]
    assert shortened_config("fast", FitScale()) == fast_config()


def test_fit_overrides_rebuild_the_config_from_its_preset():
    config = tiny_config(epochs=3)
    assert fast_config().replace(**fit_overrides(config)) == config


def allocate_then_fail(megabytes: int) -> dict:
    block = np.ones(megabytes * 2**20 // 8)
    raise ValueError(f"failed after {block.nbytes // 2**20} MiB")


def test_a_stage_in_its_own_process_reports_its_failure_time_and_memory(tmp_path):
    result = run_stage("demo", allocate_then_fail, {"megabytes": 300}, tmp_path / "stage.log")
    assert result.status == "failed"
    assert "ValueError: failed after 300 MiB" in result.error and str(tmp_path / "stage.log") in result.error
    assert result.peak_rss_gib > 0.29 and result.wall_s >= 0
    assert "Traceback" in (tmp_path / "stage.log").read_text()


def write_pid_then_sleep(path: str) -> dict:
    Path(path).write_text(str(os.getpid()))
    time.sleep(120)
    return {}


def test_a_terminated_bench_takes_its_running_stage_with_it(tmp_path):
    pid_file = tmp_path / "stage.pid"
    script = (
        "from pathlib import Path\n"
        "from recmv.evaluation.bench_stages import run_stage\n"
        "from tests.evaluation.test_bench import write_pid_then_sleep\n"
        f"run_stage('sleep', write_pid_then_sleep, {{'path': {str(pid_file)!r}}}, Path({str(tmp_path / 'stage.log')!r}))\n"
    )
    bench = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 180  # a spawned interpreter importing torch on a loaded machine
    while not pid_file.exists() or not pid_file.read_text():
        assert bench.poll() is None and time.monotonic() < deadline, "the stage never started"
        time.sleep(0.1)
    stage_pid = int(pid_file.read_text())
    bench.send_signal(signal.SIGTERM)
    assert bench.wait(timeout=30) == 128 + signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(stage_pid, 0)


def test_segment_metrics_average_frames_and_keep_the_worst_iou():
    rows = [
        {"frame": 0, "chamfer_cm": 1.0, "s2p_cm": 2.0, "mask_iou": 0.9, "boundary_cm": {"hem": 1.0, "waist": 3.0}},
        {"frame": 1, "chamfer_cm": 3.0, "s2p_cm": None, "mask_iou": 0.96, "boundary_cm": {"hem": 4.0, "waist": float("nan")}},
    ]
    out = segment_metrics(rows)
    assert out["chamfer_cm"] == pytest.approx(2.0) and out["s2p_cm"] == pytest.approx(2.0)
    assert out["mask_iou"] == pytest.approx(0.93) and out["mask_iou_min"] == pytest.approx(0.9)
    assert out["mask_iou_worst_frame"] == 0
    assert out["boundary_cm_mean"] == pytest.approx((2.0 + 4.0) / 2)
    assert list(out["boundary_cm"]) == ["hem", "waist"]
    assert out["boundary_cm"]["hem"] == pytest.approx(2.5) and out["boundary_cm"]["waist"] == pytest.approx(3.0)
    assert segment_metrics([{"mask_iou": 0.5}])["boundary_cm"] == {}
    assert segment_metrics([])["mask_iou_min"] is None
    assert segment_metrics([])["mask_iou_worst_frame"] is None
    unscored_first = segment_metrics([{"frame": 7, "mask_iou": float("nan")}, {"frame": 8, "mask_iou": 0.5}])
    assert unscored_first["mask_iou_min"] == 0.5 and unscored_first["mask_iou_worst_frame"] == 8


def record(method: str, fit_s: float, chamfer: float) -> MethodRecord:
    stages = {"synth": StageResult("synth", "ok", 10.0, 1.0), "fit": StageResult("fit", "ok", fit_s, 2.0)}
    return MethodRecord("s", method, stages, {"overall": {"chamfer_cm": chamfer, "mask_iou": 0.8}, "garments": {}})


def test_preset_ratios_divide_the_second_preset_by_the_first():
    ratios = preset_ratios([record("fast", 100.0, 2.0), record("reference", 400.0, 1.0)], ("fast", "reference"))
    row = ratios["subjects"]["s"]
    assert row["fit_time"] == pytest.approx(4.0) and row["total_time"] == pytest.approx(410 / 110)
    assert row["chamfer_cm"] == pytest.approx(0.5) and row["mask_iou"] == pytest.approx(1.0)
    assert row["s2p_cm"] is None
    assert ratios["geometric_mean"]["fit_time"] == pytest.approx(4.0)


TINY_SUITE = BenchSuite(
    "quick", (BenchSubject("dress", ("dress",), seed=3, frames=4, large_motion="walk", large_motion_frames=3),),
    size=64, topology="notoes_collapse5pc", grid_resolution=16, garment_resolution=0.03, eval_samples=2000,
    extract_media=False,
)


@pytest.mark.slow
def test_bench_command_runs_a_tiny_suite_and_records_a_failing_stage(tmp_path, capsys, monkeypatch):
    fit_stage = bench.fit_stage

    def fit_or_fail(**kwargs):
        if kwargs["preset"] == "reference":
            raise RuntimeError("reference fit refused by the test")
        return fit_stage(**kwargs)

    monkeypatch.setitem(bench.SUITES, "quick", TINY_SUITE)
    monkeypatch.setattr(bench, "shortened_config", lambda preset, scale: tiny_config(epochs=1))
    monkeypatch.setattr(bench, "fit_stage", fit_or_fail)
    out = tmp_path / "bench"
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps({"seed": 7}))
    code = main([
        "bench", "--quick", "--size", "72", "--presets", "fast,reference", "--config", str(changes), "--in-process", "--out", str(out),
    ])
    printed = capsys.readouterr().out
    assert code == 1 and "1 failed stage(s)" in printed
    data = json.loads((out / "bench.json").read_text())
    assert data["complete"] is True and data["suite"]["size"] == 72
    assert json.loads((out / "subjects" / "dress" / "subject.json").read_text())["image_size"] == [72, 72]
    records = {r["method"]: r for r in data["records"]}
    assert list(records) == ["fast", "reference", bench.TEMPLATE_METHOD]
    fast = records["fast"]
    assert data["config_changes"] == {"seed": 7}
    assert json.loads((out / "runs" / "dress" / "fast" / "config.json").read_text())["seed"] == 7
    curve_errors = fast["stages"]["fit"]["value"]["canonical_curves_cm"]
    assert set(curve_errors) == set(json.loads((out / "subjects" / "dress" / "gt" / "curves" / "canonical.json").read_text()))
    assert all(0 < e < 50 for e in curve_errors.values())
    assert set(fast["stages"]["fit"]["value"]["skinning_gap_cm"]) == set(curve_errors)
    stages = ("synth", "skinning", "fit", "large_motion", "extract", "eval")
    assert all(fast["stages"][s]["status"] == "ok" for s in stages)
    assert all(fast["stages"][s]["wall_s"] > 0 for s in stages)
    segments = fast["metrics"]["garments"]["dress"]["segments"]
    assert set(segments) == {"rotation", "large_motion"} and segments["large_motion"]["chamfer_cm"] > 0
    reference = records["reference"]["stages"]
    assert reference["fit"]["status"] == "failed" and "refused by the test" in reference["fit"]["error"]
    assert reference["eval"]["status"] == "skipped" and records["reference"]["metrics"] is None
    template = records[bench.TEMPLATE_METHOD]
    assert template["stages"]["template"]["status"] == "ok" and template["metrics"]["overall"]["chamfer_cm"] > 0
    table = (out / "bench.md").read_text()
    cd = fast["metrics"]["garments"]["dress"]["mean"]["chamfer_cm"]
    assert f"| dress | dress | fast | {cd:.2f} |" in table
    assert "template only, no fitting" in table and "## reference / fast" in table
    assert "reference / fit: failed" in table
    assert '`{"seed": 7}`' in table and "## Canonical curves" in table and "GT canonical loops skinned" in table
    rotation = segments["rotation"]
    frame_rows = json.loads((out / "runs" / "dress" / "fast_extract" / "metrics.json").read_text())["garments"]["dress"]["frames"]
    rotation_rows = [f for f in frame_rows if f["frame"] < TINY_SUITE.subjects[0].frames]
    worst = min(rotation_rows, key=lambda f: f["mask_iou"])
    assert rotation["mask_iou_worst_frame"] == worst["frame"] and rotation["mask_iou_min"] == worst["mask_iou"]
    assert f"| {rotation['mask_iou_min']:.3f} | {rotation['mask_iou_worst_frame']} |" in table
    loops = rotation["boundary_cm"]
    assert set(loops) == set(curve_errors)
    assert f"| dress | dress | fast | rotation | {', '.join(f'{n} ' + ('–' if e is None else f'{e:.2f}') for n, e in loops.items())} |" in table
    mean = sum(curve_errors.values()) / len(curve_errors)
    assert f"| dress | fast | {', '.join(f'{n} {e:.2f}' for n, e in curve_errors.items())} | {mean:.2f} |" in table


def test_bench_rejects_unknown_presets_and_an_earlier_bench_folder(tmp_path, capsys):
    assert main(["bench", "--presets", "fast,slowest", "--out", str(tmp_path)]) == 2
    assert "--presets" in capsys.readouterr().err
    (tmp_path / "bench.json").write_text("{}")
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 2
    assert "already holds a bench" in capsys.readouterr().err
    assert main(["bench", "--size", "10", "--out", str(tmp_path / "small")]) == 2
    assert "--size" in capsys.readouterr().err
    assert main(["bench", "--subjects", "dress,jumpsuit", "--out", str(tmp_path / "some")]) == 2
    assert "--subjects" in capsys.readouterr().err and not (tmp_path / "some").exists()
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps({"optim": {"sdf_learning_rate": 0.001}}))
    assert main(["bench", "--quick", "--config", str(changes), "--out", str(tmp_path / "other")]) == 2
    error = capsys.readouterr().err
    assert f"--config {changes}" in error and "optim.sdf_learning_rate" in error and not (tmp_path / "other").exists()


def test_subjects_option_keeps_the_named_subjects_in_suite_order():
    suite = bench.SUITES["default"]
    chosen = subset_of(suite, "dress, short_sleeve_upper+skirt")
    assert [s.name for s in chosen.subjects] == ["short_sleeve_upper+skirt", "dress"]
    assert chosen.size == suite.size and chosen.fit == suite.fit


def test_markdown_of_a_bench_without_ratios_has_no_ratio_table():
    data = {
        "suite": dataclasses.asdict(TINY_SUITE), "machine": {"platform": "p", "cpus": 2, "python": "3", "torch": "t", "recmv": "r"},
        "fit_configs": {"fast": {"epochs": 1, "working_size": 64}}, "total_wall_s": 1.0,
        "records": [record("fast", 5.0, 1.5).to_json()], "ratios": None,
    }
    table = bench_markdown(data)
    assert "| s | fast | 10.0 | – | 5.0 | – | – | – | 15.0 | 2.00 |" in table
    assert "## fast" not in table and "/ fast" not in table and "Incomplete" not in table
    assert "**Incomplete**" in bench_markdown({**data, "complete": False})
