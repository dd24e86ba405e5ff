"""Realism options of `recmv synth`: backgrounds, lighting drift, shake, blur, noise and the MP4."""

from __future__ import annotations

import numpy as np
import pytest

from recmv.synth.appearance import Light
from recmv.synth.config import RealismParams
from recmv.synth.realism import (
    FrameLook,
    background_image,
    film_frame,
    frame_looks,
    motion_blur,
    shift_image,
    smooth_walk,
)


@pytest.mark.parametrize("kind", ["texture", "noise"])
def test_backgrounds_are_varied_images(kind):
    image = background_image(kind, 64, np.random.default_rng(0))
    assert image.shape == (64, 64, 3) and 0.0 <= image.min() and image.max() <= 1.0
    assert image.std() > 0.05  # not plain
    assert not np.allclose(image, background_image(kind, 64, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="background must be one of"):
        background_image("sky", 8, np.random.default_rng(0))


def test_noise_background_has_a_falling_power_spectrum():
    grey = background_image("noise", 128, np.random.default_rng(0)).mean(axis=-1)
    power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    freq = np.hypot(*np.meshgrid(np.fft.fftfreq(128), np.fft.fftfreq(128), indexing="ij"))
    low, high = power[(freq > 0.02) & (freq < 0.05)].mean(), power[(freq > 0.2) & (freq < 0.4)].mean()
    assert low > 30 * high  # 1/f amplitude: about (0.3 / 0.035)² ≈ 70 times the power


def test_off_means_clean_frames():
    looks = frame_looks(5, RealismParams(), Light(), np.random.default_rng(0))
    for look in looks:
        assert look.shift == (0, 0) and look.exposure == 1.0 and look.blur_length == 0.0
        assert look.light == Light()
    rgb = np.random.default_rng(0).integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:6, 2:6] = True
    filmed = film_frame(rgb, mask, np.zeros((8, 8, 3)), looks[0], 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(filmed[mask], rgb[mask])
    assert (filmed[~mask] == 0).all()


def test_drift_is_smooth_and_scaled():
    walk = smooth_walk(60, 2, np.random.default_rng(0))
    np.testing.assert_allclose(walk.std(axis=0), 1.0)
    assert np.abs(np.diff(walk, axis=0)).mean() < 0.3 * np.abs(walk).mean()  # slow drift, not jitter
    looks = frame_looks(60, RealismParams(camera_shake_px=2.0, light_jitter=0.4), Light(), np.random.default_rng(0))
    shifts = np.array([look.shift for look in looks], dtype=float)
    assert 1.0 < shifts.std() < 3.0
    assert len({look.light.direction for look in looks}) > 30


def test_shift_is_exact_and_blur_keeps_brightness():
    image = np.zeros((10, 10), dtype=np.uint8)
    image[4, 4] = 9
    moved = shift_image(image, (2, -1), nearest=True)
    assert moved[3, 6] == 9 and moved.sum() == 9
    edge = np.zeros((21, 21, 3))
    edge[:, 10:] = 1.0
    blurred = motion_blur(edge, 6.0, 0.0)
    assert 0.2 < blurred[10, 10, 0] < 0.8 and blurred[10, 2, 0] == 0 and blurred[10, 18, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(motion_blur(np.full((9, 9, 3), 0.4), 5.0, 1.0), 0.4, atol=1e-6)


def test_film_frame_adds_noise_of_the_requested_size():
    rgb = np.full((64, 64, 3), 128, dtype=np.uint8)
    mask = np.ones((64, 64), dtype=bool)
    look = FrameLook(Light(), 1.0, (0, 0), 0.0, 0.0)
    filmed = film_frame(rgb, mask, np.zeros((64, 64, 3)), look, 4.0, np.random.default_rng(0))
    assert (filmed.astype(float) - 128).std() == pytest.approx(4.0, rel=0.1)
