"""retrieve reads a photograph over limits.working_megapixels reduced, its traits unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from traitrack.io import write_label_png
from traitrack.retrieval import part_profile
from traitrack.stages.retrieve import _working_pair


@pytest.fixture
def photograph(tmp_path):
    """A 2 MP JPEG of a dark ellipse on a pale ground and its label map (the ellipse is 1)."""
    rows, cols = np.mgrid[0:1200, 0:1600]
    inside = ((rows - 600) / 300.0) ** 2 + ((cols - 800) / 500.0) ** 2 <= 1
    image = np.where(inside[..., None], [90, 60, 30], [230, 225, 215]).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "photo.jpg", quality=95)
    write_label_png(tmp_path / "labels.png", inside.astype(np.uint8))
    return tmp_path / "photo.jpg", tmp_path / "labels.png"


def test_reduced_pair_keeps_the_part_and_its_size_in_the_photographs_px(photograph):
    image, labels, pixel_area = _working_pair(*photograph, 0.5)
    assert image.shape[:2] == labels.shape and image.shape[0] * image.shape[1] <= 0.5e6
    assert pixel_area == pytest.approx(1200 * 1600 / labels.size)
    full_image, full_labels, one = _working_pair(*photograph, 0)
    assert one == 1.0 and full_labels.shape == (1200, 1600)
    reduced = part_profile("a", image, labels == 1, pixel_area=pixel_area)
    full = part_profile("a", full_image, full_labels == 1)
    assert reduced.area_unit == full.area_unit == "px"
    # the area in the photograph's px, and the shape and colour traits, as at full size
    assert reduced.traits["log_area"] == pytest.approx(full.traits["log_area"], abs=0.01)
    for name in ("eccentricity", "solidity", "axis_ratio"):
        assert reduced.traits[name] == pytest.approx(full.traits[name], abs=0.01), name
    assert reduced.traits["lab_mean_l"] == pytest.approx(full.traits["lab_mean_l"], abs=1.0)


def test_a_small_photograph_is_read_as_it_is(photograph):
    image, labels, pixel_area = _working_pair(*photograph, 5)
    assert image.shape[:2] == labels.shape == (1200, 1600) and pixel_area == 1.0
