"""`recmv demo` end to end through the entry point, with the fit shrunk to seconds."""

import json

import pytest

from recmv.cli import demo
from recmv.cli.main import main
from recmv.errors import RecmvError
from tests.training.conftest import tiny_config


@pytest.mark.slow
def test_demo_runs_every_stage_and_prints_headline_metrics(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "demo_fit_config", lambda args: tiny_config(epochs=1))
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--frames", "4", "--size", "64", "--epochs", "1",
            "--topology", "notoes_collapse5pc", "--grid-resolution", "16", "--no-videos"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for step in ("[1/6] synth", "[2/6] fit", "[3/6] extract", "[4/6] eval", "[5/6] report", "[6/6] headline"):
        assert step in printed
    assert (out / "report.html").stat().st_size > 10_000
    metrics = json.loads((out / "garments" / "metrics.json").read_text())
    assert set(metrics["garments"]) == {"short_sleeve_upper", "skirt"}
    cd = metrics["garments"]["skirt"]["mean"]["chamfer_cm"]
    row = next(line for line in printed.splitlines() if line.startswith("skirt") and " fit " in line)
    assert f"{cd:.2f}" in row
    assert any(line.startswith("skirt") and "template only" in line for line in printed.splitlines())


@pytest.mark.parametrize("option", [["--frames", "2"], ["--epochs", "0"], ["--grid-resolution", "4"]])
def test_demo_rejects_bad_sizes(tmp_path, capsys, option):
    assert main(["demo", "--out", str(tmp_path / "d"), *option]) == 2
    assert "--frames must be at least 3" in capsys.readouterr().err


def test_a_rerun_clears_the_previous_demo_but_not_a_foreign_folder(tmp_path):
    out = tmp_path / "demo"
    (out / "run" / "checkpoints").mkdir(parents=True)
    (out / "report.html").write_text("old")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RecmvError, match="not empty"):
        demo.prepare_out_dir(out)
    (out / demo.MARKER).write_text("{}")
    assert demo.prepare_out_dir(out) == out
    assert sorted(p.name for p in out.iterdir()) == [demo.MARKER, "notes.txt"]
