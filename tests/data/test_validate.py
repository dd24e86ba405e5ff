import json
import shutil

import numpy as np
import pytest

from recmv.cli.main import main
from recmv.data import formats
from recmv.data.validate import validate_subject
from tests.data.fixtures import make_tiny_subject


@pytest.fixture
def subject(tmp_path):
    return make_tiny_subject(tmp_path / "subject")


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _gap(s):
    (s / "imgs" / "000001.png").rename(s / "imgs" / "000005.png")


def _mixed_sizes(s):
    formats.write_image(s / "imgs" / "000002.png", np.zeros((16, 32, 3), np.uint8))


def _missing_mask(s):
    (s / "masks" / "000001.png").unlink()


def _camera_missing_key(s):
    data = dict(np.load(s / "camera.npz"))
    del data["fy"]
    np.savez(s / "camera.npz", **data)


def _poses_wrong_shape(s):
    data = dict(np.load(s / "smpl_rec.npz"))
    data["trans"] = data["trans"][:2]
    np.savez(s / "smpl_rec.npz", **data)


def _nan_parameters(s):
    data = dict(np.load(s / "smpl_rec.npz"))
    data["poses"][1, 3, 0] = np.nan
    np.savez(s / "smpl_rec.npz", **data)


def _empty_mask(s):
    formats.write_mask(s / "masks" / "000002.png", np.zeros((32, 32), bool))


def _unknown_garment(s):
    _edit_json(s / "subject.json", lambda d: d["garments"].append("cape"))


def _unknown_curve_label(s):
    _edit_json(s / "mask2fl" / "000000.json", lambda d: d["shapes"][0].update(label="collar"))


def _malformed_json(s):
    (s / "featurelines" / "000000.json").write_text("{not json")


def _orphan_curve(s):
    _edit_json(s / "subject.json", lambda d: d["curve_owner"].pop("bottom_curve"))


def _grid_joint_count(s):
    grid = np.load(s / "diffused_skinning_weights.npy")
    np.save(s / "diffused_skinning_weights.npy", grid[:24] / grid[:24].sum(axis=0, keepdims=True))


CASES = [
    (_gap, "imgs", "gap"),
    (_mixed_sizes, "000002.png", "differs"),
    (_missing_mask, "masks", "missing"),
    (_camera_missing_key, "camera.npz", "'fy'"),
    (_poses_wrong_shape, "smpl_rec.npz", "'trans'"),
    (_nan_parameters, "smpl_rec.npz", "NaN"),
    (_empty_mask, "000002.png", "empty"),
    (_unknown_garment, "subject.json", "cape"),
    (_unknown_curve_label, "mask2fl", "collar"),
    (_malformed_json, "featurelines", "JSON"),
    (_orphan_curve, "subject.json", "owned by no garment"),
    (_grid_joint_count, "diffused_skinning_weights.npy", "24 joints"),
]


def test_valid_subject_has_no_problem(subject):
    assert validate_subject(subject) == []


@pytest.mark.parametrize("corrupt, path_part, message_part", CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_each_fault_gives_one_clear_problem(subject, corrupt, path_part, message_part):
    corrupt(subject)
    problems = validate_subject(subject)
    assert len(problems) == 1, [str(p) for p in problems]
    assert path_part in problems[0].path
    assert message_part in problems[0].message


def test_cli_prints_problems_and_exits_nonzero(subject, capsys):
    assert main(["validate", str(subject)]) == 0
    assert "OK" in capsys.readouterr().out
    _empty_mask(subject)
    assert main(["validate", str(subject)]) == 1
    out = capsys.readouterr().out
    assert "000002.png: mask is empty" in out


def test_missing_subject_json_is_inferred_from_rec_mv_files(subject):
    (subject / "subject.json").unlink()
    from recmv.data.subject import SubjectMeta

    meta = SubjectMeta.load(subject)
    assert meta.garments == ["short_sleeve_upper", "skirt"] and meta.body["model"] == "anny"
    assert meta.keyframes == [0]


def test_smpl_subject_without_subject_json_asks_for_it(subject):
    (subject / "subject.json").unlink()
    data = dict(np.load(subject / "smpl_rec.npz"))
    data["poses"] = data["poses"][:, :24]
    np.savez(subject / "smpl_rec.npz", **data)
    problems = validate_subject(subject)
    assert any("subject.json" in p.path and "model_path" in p.message for p in problems)


def test_not_a_folder(tmp_path):
    problems = validate_subject(tmp_path / "nowhere")
    assert len(problems) == 1 and "not a folder" in problems[0].message
    shutil.rmtree(tmp_path, ignore_errors=True)
