import argparse
import json

import numpy as np
import pytest

from recmv.cli import validate as validate_cli
from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.data.validate import validate_subject
from recmv.errors import InputFileError
from tests.data.fixtures import make_tiny_subject


@pytest.fixture
def subject(tmp_path):
    return make_tiny_subject(tmp_path / "subject")


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _edit_npz(path, change):
    data = dict(np.load(path))
    change(data)
    np.savez(path, **data)


def _gap_renamed(s):
    (s / "imgs" / "000001.png").rename(s / "imgs" / "000005.png")


def _gap_deleted(s):
    (s / "imgs" / "000001.png").unlink()


def _mixed_sizes(s):
    formats.write_image(s / "imgs" / "000002.png", np.zeros((16, 32, 3), np.uint8))


def _missing_masks(s):
    (s / "masks" / "000001.png").unlink()
    (s / "masks" / "000002.png").unlink()


def _camera_missing_fy(s):
    _edit_npz(s / "camera.npz", lambda d: d.pop("fy"))


def _camera_nan(s):
    _edit_npz(s / "camera.npz", lambda d: d.update(fx=np.float32(np.nan)))


def _poses_wrong_shape(s):
    _edit_npz(s / "smpl_rec.npz", lambda d: d.update(poses=d["poses"][..., :2]))


def _trans_frame_count(s):
    _edit_npz(s / "smpl_rec.npz", lambda d: d.update(trans=d["trans"][:2]))


def _poses_nan(s):
    _edit_npz(s / "smpl_rec.npz", lambda d: d["poses"].__setitem__((1, 3, 0), np.nan))


def _trans_inf(s):
    _edit_npz(s / "smpl_rec.npz", lambda d: d["trans"].__setitem__((0, 2), np.inf))


def _empty_mask(s):
    formats.write_mask(s / "masks" / "000002.png", np.zeros((32, 32), bool))


def _unknown_garment(s):
    (s / "subject.json").write_text((s / "subject.json").read_text().replace('"skirt"', '"skort"'))


def _unknown_curve_in_meta(s):
    _edit_json(s / "subject.json", lambda d: d["curves"].append("collar"))


def _unknown_curve_label(s):
    _edit_json(s / "mask2fl" / "000000.json", lambda d: d["shapes"][0].update(label="collar"))


def _label_not_a_subject_curve(s):
    _edit_json(s / "featurelines" / "000002.json", lambda d: d["shapes"][0].update(label="left_pant"))


def _malformed_subject_json(s):
    (s / "subject.json").write_text('{"garments": ["skirt"')


def _malformed_featureline(s):
    (s / "featurelines" / "000000.json").write_text("{not json")


def _orphan_curve(s):
    _edit_json(s / "subject.json", lambda d: d["curve_owner"].pop("bottom_curve"))


def _owner_not_worn(s):
    _edit_json(s / "subject.json", lambda d: d["curve_owner"].update(neck="dress"))


def _grid_joint_count(s):
    grid = np.load(s / "diffused_skinning_weights.npy")
    np.save(s / "diffused_skinning_weights.npy", grid[:24] / grid[:24].sum(axis=0, keepdims=True))


def _grid_not_normalised(s):
    np.save(s / "diffused_skinning_weights.npy", np.load(s / "diffused_skinning_weights.npy") * 0.5)


def _partial_normals(s):
    (s / "normals" / "000001.png").unlink()


CASES = [
    (_partial_normals, "normals", "normal maps missing for 1 frame(s): 000001"),
    (_gap_renamed, "imgs", "000001 missing, 000005 out of sequence"),
    (_gap_deleted, "imgs", "000001 missing"),
    (_mixed_sizes, "imgs/000002.png", "16x32 differs"),
    (_missing_masks, "masks", "missing for 2 frame(s): 000001, 000002"),
    (_camera_missing_fy, "camera.npz", "missing key(s) 'fy'"),
    (_camera_nan, "camera.npz", "'fx' contains NaN"),
    (_poses_wrong_shape, "smpl_rec.npz", "'poses' must be [F, J, 3]"),
    (_trans_frame_count, "smpl_rec.npz", "'trans' must be [3, 3]"),
    (_poses_nan, "smpl_rec.npz", "'poses' contains NaN"),
    (_trans_inf, "smpl_rec.npz", "'trans' contains NaN or inf"),
    (_empty_mask, "masks/000002.png", "empty"),
    (_unknown_garment, "subject.json", "unknown garment(s) ['skort']"),
    (_unknown_curve_in_meta, "subject.json", "unknown curve name(s) ['collar']"),
    (_unknown_curve_label, "mask2fl/000000.json", "unknown curve label(s) ['collar']"),
    (_label_not_a_subject_curve, "featurelines/000002.json", "['left_pant'] are not among the subject's curves"),
    (_malformed_subject_json, "subject.json", "not readable JSON"),
    (_malformed_featureline, "featurelines/000000.json", "not readable JSON"),
    (_orphan_curve, "subject.json", "['bottom_curve'] are owned by no garment"),
    (_owner_not_worn, "subject.json", "garment(s) ['dress'] that the subject does not wear"),
    (_grid_joint_count, "diffused_skinning_weights.npy", "grid has 24 joints, the body model has 38"),
    (_grid_not_normalised, "diffused_skinning_weights.npy", "sum to 1"),
]


def test_valid_subject_has_no_problem(subject):
    assert validate_subject(subject) == []


@pytest.mark.parametrize("corrupt, path_part, message_part", CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_each_fault_gives_one_clear_problem(subject, corrupt, path_part, message_part):
    corrupt(subject)
    problems = validate_subject(subject)
    assert len(problems) == 1, [str(p) for p in problems]
    assert problems[0].path.endswith(path_part), problems[0]
    assert message_part in problems[0].message, problems[0]


def test_normal_maps_are_optional(subject):
    for path in (subject / "normals").iterdir():
        path.unlink()
    (subject / "normals").rmdir()
    assert validate_subject(subject) == []


def test_problems_in_several_files_are_all_reported(subject):
    _empty_mask(subject)
    _camera_missing_fy(subject)
    _malformed_featureline(subject)
    assert len(validate_subject(subject)) == 3


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    validate_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_prints_ok_summary(subject, capsys):
    assert _run_cli(["validate", str(subject)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"OK: {subject} (3 frames, 32x32, garments short_sleeve_upper, skirt, body anny)"
    )


def test_cli_prints_one_line_per_problem_and_exits_1(subject, capsys):
    _empty_mask(subject)
    _camera_missing_fy(subject)
    assert _run_cli(["validate", str(subject)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"{subject / 'masks' / '000002.png'}: mask is empty (no foreground pixel)"
    assert lines[1].startswith(f"{subject / 'camera.npz'}: missing key(s) 'fy'")
    assert lines[2] == f"2 problem(s) in {subject}"


def test_missing_subject_json_is_inferred_from_rec_mv_files(subject):
    written = SubjectMeta.load(subject)
    (subject / "subject.json").unlink()
    inferred = SubjectMeta.load(subject)
    assert inferred.garments == written.garments == ["short_sleeve_upper", "skirt"]
    assert inferred.curves == written.curves
    assert inferred.curve_owner == written.curve_owner
    assert inferred.garment_boundaries == written.garment_boundaries
    assert inferred.body == {"model": "anny", "topology": "notoes", "shape": [0.5] * 6}
    assert inferred.keyframes == [0, 2] and inferred.image_size == [32, 32]
    assert inferred.segments == {"rotation": [0, 2], "large_motion": None}
    assert validate_subject(subject) == []


def test_inferred_garments_follow_parsing_and_curves(tmp_path):
    subject = make_tiny_subject(
        tmp_path / "s", frames=6, garments=("long_sleeve_upper", "long_pants"), keyframes=(0, 3)
    )
    (subject / "subject.json").unlink()
    meta = SubjectMeta.load(subject)
    assert meta.garments == ["short_sleeve_upper", "long_pants"]  # bare arms in the fixture: short sleeves
    assert meta.curves == ["neck", "left_cuff", "right_cuff", "upper_bottom", "left_pant", "right_pant"]
    assert meta.segments == {"rotation": [0, 3], "large_motion": [4, 5]}


def _make_smpl(subject):
    (subject / "subject.json").unlink()
    _edit_npz(subject / "smpl_rec.npz", lambda d: d.update(poses=d["poses"][:, :24], shape=np.zeros(10, np.float32)))


def test_smpl_subject_without_subject_json_asks_for_the_model(subject):
    _make_smpl(subject)
    with pytest.raises(InputFileError, match="--body-model"):
        SubjectMeta.load(subject)
    problems = [p for p in validate_subject(subject) if p.path.endswith("subject.json")]
    assert len(problems) == 1 and '"model_path"' in problems[0].message


def test_smpl_subject_with_body_model_path(subject):
    _make_smpl(subject)
    meta = SubjectMeta.load(subject, body_model_path="/models/SMPL_NEUTRAL.pkl")
    assert meta.body["model"] == "smpl" and meta.body["model_path"] == "/models/SMPL_NEUTRAL.pkl"
    assert meta.body["shape"] == [0.0] * 10
    _grid_joint_count(subject)
    problems = validate_subject(subject, body_model_path="/models/SMPL_NEUTRAL.pkl")
    assert [p.message for p in problems] == ["the SMPL model file '/models/SMPL_NEUTRAL.pkl' does not exist"]
    model = subject.parent / "SMPL_NEUTRAL.npz"
    model.write_bytes(b"")
    assert validate_subject(subject, body_model_path=model) == []


def test_unknown_joint_count_asks_for_subject_json(subject):
    (subject / "subject.json").unlink()
    _edit_npz(subject / "smpl_rec.npz", lambda d: d.update(poses=d["poses"][:, :30]))
    with pytest.raises(InputFileError, match="30 joints"):
        SubjectMeta.load(subject)


def test_wrongly_typed_subject_json_names_the_key(subject):
    _edit_json(subject / "subject.json", lambda d: d.update(garments="skirt"))
    problems = validate_subject(subject)
    assert len(problems) == 1 and "'garments' must be a list of garment names" in problems[0].message


def test_not_a_folder(tmp_path):
    problems = validate_subject(tmp_path / "nowhere")
    assert len(problems) == 1 and "not a folder" in problems[0].message


def test_garbage_files_give_problems_not_tracebacks(subject):
    (subject / "imgs" / "000001.png").write_bytes(b"garbage")
    (subject / "masks" / "000002.png").write_bytes(b"")
    np.savez(subject / "camera.npz", fx="a", fy=1.0, cx=0.0, cy=0.0, quat=np.array([0, 0, 0, 1.0]), T=np.zeros(3))
    _edit_json(subject / "subject.json", lambda d: d.update(body={"model": "anny", "shape": 5}))
    np.save(subject / "parsing_SCH_ATR" / "000000.npy", np.array(["x"]))
    (subject / "mask2fl" / "000000.json").write_text(
        json.dumps({"shapes": [{"label": "neck", "points": [[1, 2], [3]]}]})
    )
    (subject / "featurelines" / "000002.json").write_text("[1, 2]")
    np.save(subject / "diffused_skinning_weights.npy", np.array([[1]]))
    paths = sorted(p.path.replace(str(subject) + "/", "") for p in validate_subject(subject))
    assert paths == [
        "camera.npz",
        "diffused_skinning_weights.npy",
        "featurelines/000002.json",
        "imgs/000001.png",
        "mask2fl/000000.json",
        "masks/000002.png",
        "parsing_SCH_ATR/000000.npy",
        "subject.json",
    ]
