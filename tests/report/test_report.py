"""The HTML report: packing, charts, renders, page contents, the command, and the page in Chromium."""

import base64
import json
import re

import numpy as np
import pytest
import torch

from recmv.cli.main import main
from recmv.errors import InputFileError
from recmv.render.camera import PinholeCamera
from recmv.report import build_report
from recmv.report.charts import loss_chart, moving_average, stage_starts, term_series
from recmv.report.images import scaled_camera, shade_render
from recmv.report.meshes import GarmentSequence, pack_sequence, quantise
from tests.report.fixtures import IMAGE_SIZE, garment_at, make_fake_run


def mesh_json(page: str) -> dict:
    source = re.search(r'<script type="application/json" id="recmv-meshes">(.*?)</script>', page, re.S).group(1)
    return json.loads(source)


def unpack_positions(garment: dict, slot: int) -> np.ndarray:
    steps = np.frombuffer(base64.b64decode(garment["positions"][slot]), dtype="<u2").reshape(-1, 3)
    return np.asarray(garment["origin"]) + steps * np.asarray(garment["scale"])


def test_quantised_positions_round_trip_within_half_a_step():
    rng = np.random.default_rng(0)
    frames = [rng.normal(size=(50, 3)) for _ in range(3)]
    origin, scale, steps = quantise(frames)
    for original, q in zip(frames, steps):
        assert q.dtype == np.dtype("<u2")
        assert np.abs(origin + q * scale - original).max() <= 0.5 * scale.max() + 1e-12


def test_packing_stores_shared_faces_once_and_changing_faces_per_frame():
    vertices, faces = garment_at("skirt", 0)
    same = GarmentSequence("skirt", [0, 1], [vertices, vertices + 0.1], [faces, faces])
    assert len(pack_sequence(same, "#ff0000")["faces"]) == 1
    changed = GarmentSequence("skirt", [0, 1], [vertices, vertices], [faces, faces[::-1]])
    packed = pack_sequence(changed, "#ff0000")
    assert len(packed["faces"]) == 2
    decoded = np.frombuffer(base64.b64decode(packed["faces"][1]), dtype="<u4").reshape(-1, 3)
    assert np.array_equal(decoded, faces[::-1])


def test_moving_average_matches_a_loop():
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])
    expected = [np.mean(values[max(0, i - 2) : i + 1]) for i in range(len(values))]
    assert np.allclose(moving_average(values, 3), expected)


def test_loss_series_and_stage_switches_come_from_the_log():
    records = [
        {"iteration": 0, "stage": "coarse", "silhouette": 1.0, "seconds": 0.1},
        {"iteration": 1, "stage": "coarse", "silhouette": float("nan"), "eikonal": 2.0},
        {"iteration": 2, "stage": "fine", "silhouette": 0.5},
    ]
    series = term_series(records)
    assert sorted(series) == ["eikonal", "silhouette"]
    assert series["silhouette"][0].tolist() == [0.0, 2.0] and series["silhouette"][1].tolist() == [1.0, 0.5]
    assert stage_starts(records) == [(2.0, "fine")]


def test_loss_chart_uses_a_log_axis_only_for_wide_positive_ranges():
    iterations = np.arange(10.0)
    assert "(log)" in loss_chart("a", iterations, np.logspace(0, -3, 10), [])
    assert "(log)" not in loss_chart("b", iterations, np.linspace(1, 2, 10), [])
    assert "(log)" not in loss_chart("c", iterations, np.linspace(-1, 100, 10), [])


def test_scaled_camera_keeps_the_projection_of_pixel_edges():
    camera = PinholeCamera(200.0, 200.0, 99.5, 59.5, torch.eye(3), torch.zeros(3), 200, 120)
    small = scaled_camera(camera, 100)
    assert (small.width, small.height) == (100, 60)
    point = torch.tensor([[0.3, -0.2, 2.0]])
    (u, v), (u2, v2) = (c.project(point)[0][0].tolist() for c in (camera, small))
    assert u2 == pytest.approx((u + 0.5) / 2 - 0.5) and v2 == pytest.approx((v + 0.5) / 2 - 0.5)


def test_render_paints_each_garment_in_its_colour():
    camera = PinholeCamera(100.0, 100.0, 47.5, 47.5, torch.eye(3), torch.zeros(3), IMAGE_SIZE, IMAGE_SIZE)
    colours = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    image = shade_render([garment_at("short_sleeve_upper", 0), garment_at("skirt", 0)], colours, camera, np.ones(3))
    upper_row = round(100 * -0.2 / 3.18 + 47.5)  # the cylinder's middle, at its front (z = 3 - 0.18)
    lower_row = round(100 * 0.2 / 2.76 + 47.5)
    r, g, b = image[upper_row, 48].astype(int)
    assert r > 60 and g == 0 and b == 0
    r, g, b = image[lower_row, 48].astype(int)
    assert b > 60 and r == 0 and g == 0
    assert (image[0, 0] == 255).all()


def test_report_holds_every_section_inline(tmp_path):
    run = make_fake_run(tmp_path)
    out = build_report(run)
    page = out.read_text()
    assert out == run / "report.html"
    assert "config-marker-42" in page and "1.234" in page and "neck" in page
    assert page.count('<svg class="loss-chart"') == 2
    assert page.count('src="data:image/png;base64,') == 4 * 3
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page
    data = mesh_json(page)
    assert data["frames"] == [0, 1, 2, 3, 4]
    upper = data["garments"][0]
    assert upper["name"] == "short_sleeve_upper"
    expected = garment_at("short_sleeve_upper", 3)[0]
    assert np.abs(unpack_positions(upper, 3) - expected).max() < 1e-4


def test_report_without_subject_or_metrics_says_so(tmp_path):
    run = make_fake_run(tmp_path, with_subject=False, with_metrics=False)
    page = build_report(run, tmp_path / "page.html").read_text()
    assert "No metrics.json" in page and "no renders" in page
    assert 'src="data:image/png' not in page


def test_report_names_a_missing_mesh_folder(tmp_path):
    run = make_fake_run(tmp_path)
    with pytest.raises(InputFileError, match="nowhere"):
        build_report(run, extract=tmp_path / "nowhere")


def test_report_command_reads_an_extract_folder(tmp_path, capsys):
    run = make_fake_run(tmp_path)
    extract = run / "meshes"
    (run / "meshes").rename(tmp_path / "extracted")
    assert main(["report", str(run), "--extract", str(tmp_path / "extracted"), "--out", str(tmp_path / "r.html")]) == 0
    assert "report written to" in capsys.readouterr().out
    assert not extract.exists() and (tmp_path / "r.html").exists()
    assert main(["report", str(run)]) == 2
    assert "meshes" in capsys.readouterr().err
