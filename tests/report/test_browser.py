"""The report page in headless Chromium: no console errors, the viewer draws, the slider changes frame.

Needs Debian's `chromium` package (the CI setup installs it); skipped with a reason when it is absent.
"""

import tempfile
from pathlib import Path

import numpy as np
import pytest

from recmv.report import build_report
from recmv.report.build import PALETTE, VIEWER_BACKGROUND
from tests.report.cdp import find_chromium
from tests.report.fixtures import make_fake_run

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

CANVAS_RECT = """(() => {
  const canvas = document.querySelector('#viewer canvas');
  canvas.scrollIntoView();
  const r = canvas.getBoundingClientRect();
  return [r.left, r.top, r.width, r.height, window.devicePixelRatio];
})()"""


def rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def garment_pixels(crop: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """[H, W] bool: pixels that are a shade (0.2-1.05 times) of `colour`, as Lambert shading gives."""
    pixels = crop.astype(float)
    scale = (pixels @ colour) / (colour @ colour)
    residual = np.linalg.norm(pixels - scale[..., None] * colour, axis=-1)
    return (scale > 0.2) & (scale < 1.05) & (residual < 12)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    pytest.importorskip("websocket", reason="the browser test drives Chromium with websocket-client")
    from tests.report.cdp import Browser

    run = make_fake_run(tmp_path_factory.mktemp("report"), frames=5)
    report = build_report(run)
    with tempfile.TemporaryDirectory() as profile, Browser(CHROMIUM, Path(profile)) as browser:
        browser.open(report.resolve().as_uri())
        browser.wait_for("document.querySelector('#viewer canvas').dataset.drawnFrame === '0'")
        yield browser


def canvas_crop(browser) -> np.ndarray:
    left, top, width, height, ratio = browser.evaluate(CANVAS_RECT)
    shot = browser.screenshot()
    y0, x0 = round(top * ratio), round(left * ratio)
    return shot[y0 + 2 : y0 + round(height * ratio) - 2, x0 + 2 : x0 + round(width * ratio) - 2]


def test_page_loads_without_console_errors_and_starts_the_viewer(page):
    assert page.errors == []
    assert page.evaluate("document.querySelector('.viewer-message').textContent") == ""
    assert page.evaluate("document.querySelector('.frame-label').textContent") == "frame 0 (1 / 5)"


def test_viewer_draws_each_garment_in_its_colour(page):
    crop = canvas_crop(page)
    background = np.all(np.abs(crop.astype(int) - rgb(VIEWER_BACKGROUND)) <= 2, axis=-1)
    assert 0.02 < (~background).mean() < 0.9
    for colour in PALETTE[:2]:
        assert garment_pixels(crop, rgb(colour)).sum() > 500


def test_slider_changes_the_drawn_frame(page):
    before = canvas_crop(page)
    page.evaluate(
        "(() => { const s = document.querySelector('.frame-slider'); s.value = '4';"
        " s.dispatchEvent(new Event('input')); })()"
    )
    page.wait_for("document.querySelector('#viewer canvas').dataset.drawnFrame === '4'")
    after = canvas_crop(page)
    assert page.evaluate("document.querySelector('.frame-label').textContent") == "frame 4 (5 / 5)"
    changed = np.any(np.abs(after.astype(int) - before.astype(int)) > 10, axis=-1)
    assert changed.mean() > 0.01
    # The garments moved 0.2 m along +x: the upper garment's pixels shift right on screen.
    columns = [np.nonzero(garment_pixels(image, rgb(PALETTE[0])))[1].mean() for image in (before, after)]
    assert columns[1] > columns[0] + 5
    assert page.errors == []
