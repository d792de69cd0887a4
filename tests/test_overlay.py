"""Overlay colours, legend strip and atomic writing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from traitrack.overlay import OverlayError, render_overlay, write_overlay
from traitrack.structures import Structure, StructureTable

RED, GREEN = (255, 0, 0), (0, 200, 0)


@pytest.fixture
def table() -> StructureTable:
    return StructureTable(
        structures=(Structure("head", 1, RED), Structure("long_antenna", 2, GREEN, kind="thin"))
    )


@pytest.fixture
def scene() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    labels = np.zeros((60, 80), dtype=np.uint8)
    labels[10:30, 10:30] = 1
    labels[40:50, 40:70] = 2
    return image, labels


def test_overlay_without_legend_keeps_size(table, scene):
    image, labels = scene
    assert render_overlay(image, labels, table, legend=False).shape == image.shape


def test_legend_strip_is_added_to_the_right(table, scene):
    image, labels = scene
    overlay = render_overlay(image, labels, table)
    assert overlay.dtype == np.uint8 and overlay.ndim == 3
    assert overlay.shape[1] > image.shape[1]
    assert overlay.shape[0] >= image.shape[0]
    strip = overlay[:, image.shape[1] :]
    # the strip holds a swatch of each structure colour and dark text on white
    for colour in (RED, GREEN):
        assert np.all(strip == colour, axis=-1).any()
    assert (strip.sum(axis=-1) < 100).any()


def test_structure_pixels_take_their_colour_blend(table, scene):
    image, labels = scene
    alpha = 0.45
    overlay = render_overlay(image, labels, table, alpha=alpha, legend=False)
    inner = (slice(12, 28), slice(12, 28))  # away from the outline
    expected = np.rint((1 - alpha) * image[inner] + alpha * np.array(RED)).astype(np.uint8)
    np.testing.assert_array_equal(overlay[inner], expected)
    # the outline is drawn in the full colour
    assert tuple(overlay[10, 15]) == RED and tuple(overlay[45, 40]) == GREEN


def test_background_pixels_are_unchanged(table, scene):
    image, labels = scene
    overlay = render_overlay(image, labels, table)
    background = labels == 0
    np.testing.assert_array_equal(
        overlay[: image.shape[0], : image.shape[1]][background], image[background]
    )


def test_undeclared_labels_stay_untinted(table, scene):
    image, labels = scene
    labels = labels.copy()
    labels[0:5, 0:5] = 9
    overlay = render_overlay(image, labels, table, legend=False)
    np.testing.assert_array_equal(overlay[0:5, 0:5], image[0:5, 0:5])


def test_title_adds_a_band_above(table, scene):
    image, labels = scene
    plain = render_overlay(image, labels, table)
    titled = render_overlay(image, labels, table, title="specimen_001")
    band = titled.shape[0] - plain.shape[0]
    assert band > 0
    np.testing.assert_array_equal(
        titled[band : band + image.shape[0], : image.shape[1]],
        plain[: image.shape[0], : image.shape[1]],
    )


def test_rendering_is_deterministic(table, scene):
    image, labels = scene
    first = render_overlay(image, labels, table, title="x")
    second = render_overlay(image.copy(), labels.copy(), table, title="x")
    np.testing.assert_array_equal(first, second)


def test_mismatched_sizes_are_rejected(table, scene):
    image, labels = scene
    with pytest.raises(OverlayError, match="differs"):
        render_overlay(image, labels[:10], table)


def test_write_overlay_writes_png_atomically(table, scene, tmp_path):
    image, labels = scene
    path = tmp_path / "out" / "overlay.png"
    write_overlay(path, image, labels, table, alpha=0.3)
    np.testing.assert_array_equal(
        np.asarray(Image.open(path)), render_overlay(image, labels, table, alpha=0.3)
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["overlay.png"]  # no temporary left


def test_failed_write_leaves_nothing(table, scene, tmp_path):
    image, labels = scene
    path = tmp_path / "overlay.png"
    with pytest.raises(OverlayError):
        write_overlay(path, image, labels, table, alpha=2.0)
    assert list(tmp_path.iterdir()) == []
