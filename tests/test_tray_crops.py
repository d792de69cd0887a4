"""A tray's crops: on the tray, or on a flat colour that contrasts with the specimen."""

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi

from traitrack.trays.files import contrast_fill, write_crops
from traitrack.trays.upright import crop_frames


def two_specimens():
    """A dark tray with a dark specimen and a pale one, and their instance map."""
    image = np.full((100, 200, 3), 45, np.uint8)
    labels = np.zeros((100, 200), np.uint16)
    image[30:70, 20:60] = 15
    labels[30:70, 20:60] = 1
    image[30:70, 120:160] = 220
    labels[30:70, 120:160] = 2
    return image, labels


def test_contrast_background_fills_outside_the_grown_mask(tmp_path):
    image, labels = two_specimens()
    frames = crop_frames(labels, padding=0.25, rotation_mode="none")
    paths = write_crops(tmp_path, "t", image, labels, frames, background="contrast")
    for k, (path, colour) in enumerate(zip(paths, ((235,) * 3, (20,) * 3)), start=1):
        crop = np.array(Image.open(path))
        mask = np.array(Image.open(path.with_suffix(".mask.png"))) > 0
        x0, y0, x1, y1 = frames[k - 1].box
        assert np.array_equal(crop[mask], image[y0:y1, x0:x1][mask])  # the specimen as it is
        assert (crop[0, 0] == colour).all() and (crop[-1, -1] == colour).all()


def test_tray_background_keeps_the_photograph(tmp_path):
    image, labels = two_specimens()
    frames = crop_frames(labels, padding=0.25, rotation_mode="none")
    (first, _) = write_crops(tmp_path, "t", image, labels, frames)
    x0, y0, x1, y1 = frames[0].box
    assert np.array_equal(np.array(Image.open(first)), image[y0:y1, x0:x1])


def test_contrast_fill_is_light_for_dark_specimens_and_dark_for_pale_ones():
    assert contrast_fill(np.full((10, 3), 30, np.uint8)) == (235, 235, 235)
    assert contrast_fill(np.full((10, 3), 200, np.uint8)) == (20, 20, 20)


# ---------------------------------------------------------------- the crops benchmark

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DATA = BENCHMARKS.parent.parent / "shared" / "data" / "beetles-5part"


@pytest.mark.realdata
@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is absent")
def test_benchmark_beetles_lie_in_one_piece_with_their_parts():
    """The benchmark cuts a beetle out with its open waist closed: one body, every part pixel
    inside, the part labels unchanged."""
    sys.path.insert(0, str(BENCHMARKS))
    from tray_crops import cut_out, workflow_config

    from traitrack.structures import StructureTable

    structures = StructureTable.from_config(workflow_config())
    thin = [s.label for s in structures if s.kind == "thin"]
    for path in sorted((DATA / "images").glob("*.png"))[0:40:4]:
        image, mask, labels = cut_out(path, structures)
        assert image.shape[:2] == mask.shape == labels.shape
        assert mask[labels > 0].all()
        body = mask & ~np.isin(labels, thin)  # legs and antennae off
        assert ndi.label(body)[1] == 1  # one body, not two halves
