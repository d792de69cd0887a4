"""Photographs over limits.working_megapixels are read reduced, label maps go back full size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from traitrack.io import read_image
from traitrack.working_size import (
    photograph_shape,
    read_working_image,
    resize_labels,
    working_shape,
)


def test_working_shape_keeps_small_photographs_and_the_aspect():
    assert working_shape((300, 200), 2) == (300, 200)
    assert working_shape((6000, 8000), 0) == (6000, 8000)
    height, width = working_shape((6000, 8000), 2)
    assert height * width <= 2e6 and abs(width / height - 8000 / 6000) < 0.01


def gradient(height, width):
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows * 255 // height, cols * 255 // width, (rows + cols) % 256], -1).astype(
        np.uint8
    )


def test_small_photograph_is_read_exactly(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(gradient(120, 90)).save(path)
    assert np.array_equal(read_working_image(path, 2), read_image(path))


@pytest.mark.parametrize("orientation", [1, 6])
def test_large_jpeg_is_read_reduced_with_its_orientation(tmp_path, orientation):
    path = tmp_path / "large.jpg"
    stored = gradient(1500, 2000)  # 3 MP
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    full = read_image(path)
    assert photograph_shape(path) == full.shape[:2]
    reduced = read_working_image(path, 1)
    assert reduced.shape[:2] == working_shape(full.shape[:2], 1)
    # the same picture, smaller: compare with the full read scaled down
    expected = np.asarray(Image.fromarray(full).resize(reduced.shape[1::-1], Image.BOX))
    assert np.abs(reduced.astype(int) - expected.astype(int)).mean() < 4


def test_labels_go_back_to_the_photographs_size_without_new_values():
    labels = np.zeros((100, 80), np.uint8)
    labels[20:60, 10:50] = 3
    labels[70:90, 30:40] = 1
    full = resize_labels(labels, (1000, 800))
    assert full.shape == (1000, 800) and set(np.unique(full)) == {0, 1, 3}
    assert resize_labels(full, (100, 80)).tolist() == labels.tolist()
    assert resize_labels(labels, (100, 80)) is labels


@pytest.mark.workflow
def test_reduced_propagate_writes_labels_at_the_photographs_size(tmp_path):
    """The example with a working size under its photographs' (0.045 MP): labels full size."""
    import pandas as pd
    from scratch_project import copy_project, snakemake

    from traitrack.io import read_label_png

    workdir = copy_project(tmp_path, {"limits": {"working_megapixels": 0.02}})
    result = snakemake(workdir, "--cores", "2", "results/traits/carabus_synth.csv")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    sheet = pd.read_csv(workdir / "config" / "samples.tsv", sep="\t", dtype=str)
    for row in sheet[sheet["species"] == "carabus_synth"].itertuples():
        labels = read_label_png(
            workdir / "results" / "carabus_synth" / "labels" / f"{row.specimen}.png"
        )
        assert labels.shape == read_image(workdir / row.image).shape[:2]
        assert labels.any()


def test_enlarged_labels_stay_centred_on_their_pixels():
    """Pixel 5 of 10 covers 12.5-15 of 25: the pixels whose centres fall there, not 13-14."""
    labels = np.zeros((10, 10), np.uint8)
    labels[5, 5] = 2
    rows, cols = np.nonzero(resize_labels(labels, (25, 25)))
    assert set(rows) == {12, 13, 14} and set(cols) == {12, 13, 14}


def test_reduced_labels_take_the_label_covering_most_of_each_pixel():
    """A 2-px stripe in the lower two thirds of a 3-px block row is that reduced row's label;
    one sample per block (its top row) would have lost it."""
    labels = np.zeros((30, 30), np.uint8)
    labels[10:12, :] = 4  # rows 10-11 of the block rows 9-11
    labels[:, 0:1] = 1  # one column of three: background wins
    reduced = resize_labels(labels, (10, 10))
    assert (reduced[3, 1:] == 4).all()
    assert set(np.unique(reduced[:, 0])) <= {0, 4}
    assert reduced.dtype == labels.dtype
