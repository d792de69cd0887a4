"""Mask colours and values mapped to labels by counting (small codes) or sorting (others)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traitrack.io import InputError
from traitrack.io.masks import map_colours, map_values
from traitrack.structures import Structure, StructureTable


def table(values: tuple[int, int] | None = None) -> StructureTable:
    """Two parts coded by colour, or by the two ``values``."""
    return StructureTable(
        structures=(
            Structure("head", 1, (9, 9, 9), rgb=(200, 0, 0), value=values and values[0]),
            Structure("legs", 2, (9, 9, 9), rgb=(0, 0, 255), value=values and values[1]),
        )
    )


def test_colours_map_to_labels_and_unknown_colours_are_listed():
    colours = np.zeros((6, 5, 3), np.uint8)
    colours[1:3, 1:4] = (200, 0, 0)
    colours[4, :] = (0, 0, 255)
    labels = map_colours(Path("m.png"), colours, table())
    expected = np.zeros((6, 5), np.uint8)
    expected[1:3, 1:4] = 1
    expected[4, :] = 2
    np.testing.assert_array_equal(labels, expected)
    colours[0, 0] = (1, 2, 3)
    with pytest.raises(InputError, match=r"m\.png.*\(1, 2, 3\)"):
        map_colours(Path("m.png"), colours, table())


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64])
def test_values_of_every_integer_type_map_to_labels(dtype):
    values_of = (7, 200) if dtype == np.uint8 else (7, 40000 if dtype != np.int64 else -5)
    values = np.zeros((4, 4), dtype)
    values[0] = values_of[0]
    values[3, 1:] = values_of[1]
    labels = map_values(Path("m.tif"), values, table(values_of))
    expected = np.zeros((4, 4), np.uint8)
    expected[0] = 1
    expected[3, 1:] = 2
    np.testing.assert_array_equal(labels, expected)
    values[2, 2] = 9
    with pytest.raises(InputError, match=r"m\.tif.*\[9\]"):
        map_values(Path("m.tif"), values, table(values_of))
