"""Traits of synthetic shapes whose answers are known analytically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skimage import color, draw

from traitrack.centreline import skeleton_path_lengths
from traitrack.structures import Structure, StructureTable
from traitrack.traits import (
    MeasurementError,
    combine_tables,
    measure_specimen,
    trait_columns,
)

SIZE = 200


@pytest.fixture
def table() -> StructureTable:
    return StructureTable(
        structures=(
            Structure("body", 1, (255, 0, 0)),
            Structure("leg", 2, (0, 255, 0), kind="thin"),
        )
    )


def grey_image() -> np.ndarray:
    return np.full((SIZE, SIZE, 3), 128, dtype=np.uint8)


def disc_labels(radius: int = 40) -> np.ndarray:
    labels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    rr, cc = draw.disk((100, 100), radius)
    labels[rr, cc] = 1
    return labels


def row_of(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame.set_index("structure").loc[name]


def test_disc_matches_circle_formulas(table):
    radius = 40
    body = row_of(measure_specimen(disc_labels(radius), grey_image(), table), "body")
    assert body.present
    assert body.area_px == pytest.approx(np.pi * radius**2, rel=0.02)
    assert body.perimeter_px == pytest.approx(2 * np.pi * radius, rel=0.05)
    for column in ("length_px", "width_px", "feret_max_px", "major_axis_px", "minor_axis_px"):
        assert body[column] == pytest.approx(2 * radius, rel=0.03), column
    assert body.eccentricity < 0.05
    assert body.solidity > 0.97
    assert body.n_components == 1
    assert (body.centroid_row_px, body.centroid_col_px) == pytest.approx((100, 100), abs=0.5)
    assert np.isnan(body.centreline_length_px)  # blob structures get no centre line


def test_rectangle_extents_and_bbox(table):
    labels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    labels[50:70, 30:130] = 1  # 20 rows x 100 cols
    body = row_of(measure_specimen(labels, grey_image(), table), "body")
    assert body.area_px == 2000
    assert body.length_px == pytest.approx(100, abs=1)
    assert body.width_px == pytest.approx(20, abs=1)
    assert body.orientation_deg == pytest.approx(0, abs=1e-6)
    assert body.solidity == pytest.approx(1.0)
    bbox = body[["bbox_min_row_px", "bbox_min_col_px", "bbox_max_row_px", "bbox_max_col_px"]]
    assert list(bbox) == [50, 30, 70, 130]


def test_vertical_rectangle_orientation_is_90(table):
    labels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    labels[30:130, 50:70] = 1
    body = row_of(measure_specimen(labels, grey_image(), table), "body")
    assert abs(body.orientation_deg) == pytest.approx(90, abs=1e-6)
    assert body.length_px == pytest.approx(100, abs=1)


@pytest.mark.parametrize("angle", [30, -45])
def test_rotated_ellipse_axes_and_orientation(table, angle):
    a, b = 60, 20
    labels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    # skimage.draw rotates counter-clockwise as displayed; a = radius along columns before rotating
    rr, cc = draw.ellipse(100, 100, b, a, shape=labels.shape, rotation=np.deg2rad(angle))
    labels[rr, cc] = 1
    body = row_of(measure_specimen(labels, grey_image(), table), "body")
    assert body.major_axis_px == pytest.approx(2 * a, rel=0.02)
    assert body.minor_axis_px == pytest.approx(2 * b, rel=0.03)
    assert body.orientation_deg == pytest.approx(angle, abs=1.0)
    assert body.length_px == pytest.approx(2 * a, rel=0.03)
    assert body.width_px == pytest.approx(2 * b, rel=0.06)
    assert body.feret_max_px == pytest.approx(2 * a, rel=0.03)
    assert body.eccentricity == pytest.approx(np.sqrt(1 - (b / a) ** 2), abs=0.01)


def arc_labels(radius: float, degrees: float, thickness: int) -> np.ndarray:
    """A quarter-ish circular arc of given thickness, drawn as the set of pixels near the arc."""
    rows, cols = np.mgrid[:SIZE, :SIZE]
    centre = (SIZE - 20, 20)
    distance = np.hypot(rows - centre[0], cols - centre[1])
    angle = np.rad2deg(np.arctan2(centre[0] - rows, cols - centre[1]))
    near = np.abs(distance - radius) <= (thickness - 1) / 2 + 0.5
    labels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    labels[near & (angle >= 0) & (angle <= degrees)] = 2
    return labels


@pytest.mark.parametrize("thickness", [1, 3])
def test_thin_arc_centreline_length(table, thickness):
    radius, degrees = 120, 80
    labels = arc_labels(radius, degrees, thickness)
    leg = row_of(measure_specimen(labels, grey_image(), table), "leg")
    expected = radius * np.deg2rad(degrees)
    assert leg.centreline_length_px == pytest.approx(expected, rel=0.05)
    assert leg.centreline_longest_px == pytest.approx(leg.centreline_length_px)


def test_centreline_sums_pieces_and_keeps_longest():
    skeleton = np.zeros((20, 40), dtype=bool)
    skeleton[5, 2:12] = True  # 10 pixels: length 9
    skeleton[10:20, 20] = True  # 10 pixels: length 9
    skeleton[0:5, 30:35] = np.eye(5, dtype=bool)  # diagonal: 4 * sqrt(2)
    lengths = sorted(skeleton_path_lengths(skeleton))
    assert lengths == pytest.approx([4 * np.sqrt(2), 9, 9])


@pytest.mark.parametrize("degrees", [10, 22.5, 35])
def test_centreline_of_slanted_line_has_no_staircase_bias(degrees):
    skeleton = np.zeros((200, 250), dtype=bool)
    end = (
        190 - round(200 * np.sin(np.deg2rad(degrees))),
        10 + round(200 * np.cos(np.deg2rad(degrees))),
    )
    rr, cc = draw.line(190, 10, *end)
    skeleton[rr, cc] = True
    expected = np.hypot(end[0] - 190, end[1] - 10)
    assert skeleton_path_lengths(skeleton) == pytest.approx([expected], rel=0.01)


def test_centreline_of_branched_skeleton_is_longest_path():
    skeleton = np.zeros((30, 30), dtype=bool)
    skeleton[15, 0:30] = True  # main line, length 29
    skeleton[5:15, 10] = True  # side branch of 10 px: path 10 + 19 = 29 at most
    assert skeleton_path_lengths(skeleton) == pytest.approx([29.0])


def test_pixel_size_converts_units(table):
    labels = disc_labels(40)
    in_px = row_of(measure_specimen(labels, grey_image(), table), "body")
    in_mm = measure_specimen(labels, grey_image(), table, px_per_mm=10)
    assert list(in_mm.columns) == trait_columns(10)
    assert "length_mm" in in_mm.columns and "length_px" not in in_mm.columns
    body = row_of(in_mm, "body")
    assert body.area_px == in_px.area_px
    assert body.area_mm2 == pytest.approx(in_px.area_px / 100)
    assert body.length_mm == pytest.approx(in_px.length_px / 10)
    assert body.perimeter_mm == pytest.approx(in_px.perimeter_px / 10)
    assert body.centroid_row_px == in_px.centroid_row_px  # positions stay in px


@pytest.mark.parametrize("bad", [0, -3, float("nan")])
def test_bad_pixel_size_is_rejected(table, bad):
    with pytest.raises(MeasurementError, match="px_per_mm"):
        measure_specimen(disc_labels(), grey_image(), table, px_per_mm=bad)


def test_colour_of_a_painted_structure(table):
    paint = (200, 30, 90)
    image = grey_image()
    labels = disc_labels(30)
    image[labels == 1] = paint
    body = row_of(measure_specimen(labels, image, table), "body")
    assert (body.rgb_mean_r, body.rgb_mean_g, body.rgb_mean_b) == pytest.approx(paint)
    assert (body.rgb_median_r, body.rgb_median_g, body.rgb_median_b) == pytest.approx(paint)
    expected_lab = color.rgb2lab(np.array([[paint]], dtype=np.uint8))[0, 0]
    assert (body.lab_mean_l, body.lab_mean_a, body.lab_mean_b) == pytest.approx(
        expected_lab, abs=1e-4
    )
    assert (body.lab_median_l, body.lab_median_a, body.lab_median_b) == pytest.approx(
        expected_lab, abs=1e-4
    )


def test_absent_structure_has_a_row_of_nan(table):
    frame = measure_specimen(disc_labels(), grey_image(), table)
    assert list(frame.structure) == ["body", "leg"]
    assert list(frame.columns) == trait_columns(None)
    leg = row_of(frame, "leg")
    assert not leg.present
    assert leg.area_px == 0 and leg.n_components == 0
    for column in (
        "perimeter_px",
        "length_px",
        "solidity",
        "rgb_mean_r",
        "lab_median_b",
        "centroid_row_px",
        "centreline_length_px",
    ):
        assert np.isnan(leg[column]), column


def test_two_components_are_counted(table):
    labels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    labels[10:20, 10:20] = 1
    labels[50:60, 50:60] = 1
    labels[20:25, 20:25] = 1  # touches the first square only diagonally: same component
    body = row_of(measure_specimen(labels, grey_image(), table), "body")
    assert body.n_components == 2
    assert body.area_px == 225


def test_mismatched_sizes_are_rejected(table):
    with pytest.raises(MeasurementError, match="differs"):
        measure_specimen(disc_labels(), grey_image()[:100], table)


def test_combine_tables_mixes_px_and_mm(table):
    in_px = measure_specimen(disc_labels(), grey_image(), table).assign(specimen="a")
    in_mm = measure_specimen(disc_labels(), grey_image(), table, px_per_mm=10).assign(specimen="b")
    combined = combine_tables([in_px, in_mm])
    assert len(combined) == 4
    assert list(combined.columns[: len(in_px.columns)]) == list(in_px.columns)
    assert {"length_px", "length_mm", "area_mm2"} <= set(combined.columns)
    assert combined.loc[combined.specimen == "a", "length_mm"].isna().all()
    assert combined.loc[(combined.specimen == "b") & combined.present, "length_mm"].notna().all()
    assert combine_tables([]).empty
