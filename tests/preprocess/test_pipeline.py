"""`recmv prepare` end to end on a filmed synthetic clip given as an MP4, with and without user inputs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from recmv.cli.main import main
from recmv.data import formats
from recmv.data.validate import validate_subject
from recmv.errors import InputFileError, RecmvError
from recmv.preprocess.bodyfit import BodyFitOptions
from recmv.preprocess.masks import mask_iou
from recmv.preprocess.pipeline import PrepareOptions, prepare_subject
from recmv.preprocess.video import CropBox, crop_image
from recmv.synth.realism import VideoWriter
from tests.preprocess.test_masks import needs_mediapipe

FAST_FIT = dataclasses.replace(BodyFitOptions(), iterations=4, global_iterations=4, batch_frames=4)


def tiny_options(subject, **changes) -> PrepareOptions:
    focal = float(np.load(subject / "camera.npz")["fx"])
    settings = {
        "garments": ("short_sleeve_upper", "skirt"), "size": 96, "keyframe_every": 2, "focal": focal,
        "topology": "notoes_collapse5pc", "grid_resolution": 8, "body_fit": FAST_FIT,
    }  # fmt: skip
    return PrepareOptions(**{**settings, **changes})


def gt_cropped(subject, prepared, folder: str, suffix: str, reader):
    crop = json.loads((prepared / "crop.json").read_text())
    box = CropBox(crop["x0"], crop["y0"], crop["side"], crop["size"])
    return [crop_image(np.asarray(reader(subject / folder / f"{f:06d}{suffix}")).astype(np.uint8), box, nearest=True)
            for f in crop["source_frames"]]  # fmt: skip


@needs_mediapipe
def test_prepare_from_video_only(filmed_subject, tmp_path):
    out = prepare_subject(filmed_subject / "video.mp4", tmp_path / "subject", tiny_options(filmed_subject), progress=False)
    assert [str(p) for p in validate_subject(out)] == []
    assert not (out / "normals").exists()
    truth = gt_cropped(filmed_subject, out, "masks", ".png", formats.read_mask)
    masks = [formats.read_mask(out / "masks" / f"{i:06d}.png") for i in range(len(truth))]
    assert np.mean([mask_iou(m, t > 0) for m, t in zip(masks, truth)]) > 0.75
    assert sorted(p.name for p in (out / "mask2fl").iterdir())
    report = json.loads((out / "prepare.json").read_text())
    assert set(report["seconds"]) >= {"frames", "masks_keypoints", "body_fit", "parsing", "curves", "skinning_grid"}
    assert np.load(out / "keypoints_coco17.npy").shape == (4, 17, 3)


@needs_mediapipe
def test_given_masks_parsing_and_normals_replace_their_steps(filmed_subject, tmp_path):
    options = tiny_options(
        filmed_subject, masks=str(filmed_subject / "masks"), parsing=str(filmed_subject / "parsing_SCH_ATR"),
        normals=str(filmed_subject / "normals"),
    )  # fmt: skip
    out = prepare_subject(filmed_subject / "imgs", tmp_path / "subject", options, progress=False)
    assert [str(p) for p in validate_subject(out)] == []
    truth = gt_cropped(filmed_subject, out, "masks", ".png", formats.read_mask)
    for index, mask in enumerate(truth):
        np.testing.assert_array_equal(formats.read_mask(out / "masks" / f"{index:06d}.png"), mask > 0)
    labels = gt_cropped(filmed_subject, out, "parsing_SCH_ATR", ".npy", formats.read_parsing)
    np.testing.assert_array_equal(formats.read_parsing(out / "parsing_SCH_ATR" / "000001.npy"), labels[1] * (truth[1] > 0))
    assert len(list((out / "normals").glob("*.png"))) == 4


@needs_mediapipe
def test_video_with_no_person_is_a_clear_error(tmp_path, capsys):
    writer = VideoWriter(tmp_path / "empty.mp4", (96, 96), fps=10)
    for shade in range(3):
        writer.append(np.full((96, 96, 3), 60 + 20 * shade, dtype=np.uint8))
    writer.close()
    code = main(["prepare", str(tmp_path / "empty.mp4"), "--out", str(tmp_path / "s"), "--garments", "tube", "--size", "64"])
    assert code == 2
    assert "empty.mp4: no person found" in capsys.readouterr().err


def test_corrupt_video_and_bad_options(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(InputFileError, match="broken.mp4: not a readable video"):
        prepare_subject(bad, tmp_path / "s", PrepareOptions(garments=("tube",)), progress=False)
    with pytest.raises(RecmvError, match="--smpl needs --body-model"):
        prepare_subject(bad, tmp_path / "s", PrepareOptions(garments=("tube",), smpl="seq.pkl"), progress=False)
    with pytest.raises(RecmvError, match="unknown or missing garment"):
        prepare_subject(bad, tmp_path / "s", PrepareOptions(garments=("cape",)), progress=False)
