"""Foreground by detail: what holds a specimen (a pin out of focus) stays out, the specimen in."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from traitrack.silhouette import border_model_init, foreground_mask, mark_by_detail


def pinned_specimen(textured: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark specimen (sharp outline; sculptured or glossy-plain inside) on a pale, noisy
    card, with an out-of-focus pin behind it from the top border down to the specimen.

    Returns the image, the specimen's mask and the pin's mask (where it is not behind the
    specimen).
    """
    rng = np.random.default_rng(3)
    size = 160
    image = np.full((size, size, 3), 205, np.float32) + rng.normal(0, 3, (size, size, 1))
    pin = np.zeros((size, size), np.float32)
    pin[:90, 70:86] = 1.0
    pin = cv2.GaussianBlur(pin, (0, 0), 4.0)
    image = image * (1 - 0.9 * pin[..., None]) + 0.9 * pin[..., None] * np.array([70, 70, 75])
    specimen = np.zeros((size, size), np.uint8)
    cv2.ellipse(specimen, (80, 100), (50, 26), 0, 0, 360, 1, -1)
    specimen = specimen.astype(bool)
    body = np.array([60, 35, 25], np.float32)
    if textured:
        body = body + rng.normal(0, 25, (size, size, 1))
    image[specimen] = np.broadcast_to(body, image.shape)[specimen]
    image = np.clip(image, 0, 255).astype(np.uint8)
    return image, specimen, (pin > 0.5) & ~specimen


@pytest.mark.parametrize("textured", [True, False])
def test_an_out_of_focus_pin_is_dropped_and_the_specimen_kept(textured):
    image, specimen, pin = pinned_specimen(textured)
    kept = foreground_mask(image)
    assert (kept & pin).sum() > 0.5 * pin.sum()  # GrabCut alone keeps the pin
    found = foreground_mask(image, foreground_detail=0.1)
    assert (found & pin).sum() < 0.1 * pin.sum()
    assert (found & specimen).sum() / (found | specimen).sum() > 0.9


def test_detail_is_ignored_when_it_would_leave_no_foreground():
    plain = np.full((64, 64, 3), 128, np.uint8)
    init = border_model_init(plain)
    assert np.array_equal(mark_by_detail(plain, init, 0.1), init)
