"""Smoke runs of the commands through `recmv`'s entry point."""

import json

import numpy as np
import pytest

from recmv.body.factory import build_body_model
from recmv.cli.main import build_parser, main
from tests.data.fixtures import make_tiny_subject


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("synth", "validate", "skinning", "eval", "demo"):
        assert command in out
    assert build_parser().parse_args(["validate", "x"]).command == "validate"


def test_skinning_writes_a_grid_that_matches_the_body(tmp_path, capsys):
    subject = make_tiny_subject(tmp_path / "subject")
    meta = json.loads((subject / "subject.json").read_text())
    meta["body"]["topology"] = "notoes_collapse5pc"
    (subject / "subject.json").write_text(json.dumps(meta))
    assert main(["skinning", str(subject), "--resolution", "16"]) == 0
    assert "38 joints at 16³" in capsys.readouterr().out
    grid = np.load(subject / "diffused_skinning_weights.npy")
    assert grid.shape == (38, 16, 16, 16) and np.allclose(grid.sum(axis=0), 1.0, atol=1e-4)
    stored = json.loads((subject / "subject.json").read_text())["skinning_grid"]
    body = build_body_model(meta["body"])
    vertices = body.rest().vertices
    centre = 0.5 * (vertices.min(dim=0).values + vertices.max(dim=0).values)
    assert np.allclose(stored["center"], centre.numpy(), atol=1e-5)


def test_skinning_rejects_a_tiny_resolution(tmp_path, capsys):
    subject = make_tiny_subject(tmp_path / "subject")
    assert main(["skinning", str(subject), "--resolution", "2"]) == 2
    assert "--resolution" in capsys.readouterr().err
