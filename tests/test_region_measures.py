"""The bounded measures give scikit-image's regionprops numbers, and colour read reduced."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage import color, draw, measure

from traitrack import centreline, mask_runs, region_measures, traits
from traitrack.structures import Structure, StructureTable


def random_shapes(seed: int, count: int = 40) -> list[np.ndarray]:
    """Blobs, holed blobs, pieces, slanted lines, single pixels, one-row and one-column masks."""
    rng = np.random.default_rng(seed)
    shapes = []
    for index in range(count):
        size = int(rng.integers(5, 90))
        noise = ndimage.gaussian_filter(rng.random((size, size + 7)), sigma=rng.uniform(1, 4))
        mask = noise > np.quantile(noise, rng.uniform(0.3, 0.9))
        if index % 5 == 0:
            mask = np.zeros((size, size + 7), bool)
            rr, cc = draw.line(0, int(rng.integers(0, size)), size - 1, size + 6)
            mask[rr, cc] = True
        shapes.append(mask)
    shapes += [np.ones((1, 1), bool), np.ones((1, 9), bool), np.ones((7, 1), bool)]
    ring = np.zeros((30, 30), bool)
    rr, cc = draw.disk((15, 15), 12)
    ring[rr, cc] = True
    rr, cc = draw.disk((15, 15), 6)
    ring[rr, cc] = False
    ring[14:17, 14:17] = True  # a piece inside the hole
    shapes.append(ring)
    return shapes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shape_measures_equal_regionprops(seed):
    for mask in random_shapes(seed):
        props = measure.regionprops(mask.astype(np.uint8))[0]
        runs = mask_runs.trace(mask)
        shape = region_measures.moments(runs)
        corners, pieces = runs.hull_corners, runs.n_pieces
        hull_count, feret = region_measures.convex_measures(mask.shape, corners)
        assert shape["area"] == props.area
        assert shape["centroid"] == pytest.approx(props.centroid, rel=1e-12)
        assert shape["axis_major_length"] == pytest.approx(props.axis_major_length, rel=1e-9)
        assert shape["axis_minor_length"] == pytest.approx(
            props.axis_minor_length, rel=1e-9, abs=1e-9
        )
        assert shape["eccentricity"] == pytest.approx(props.eccentricity, rel=1e-9, abs=1e-9)
        assert shape["orientation"] == pytest.approx(props.orientation, abs=1e-9)
        assert region_measures.perimeter(runs) == pytest.approx(props.perimeter, rel=1e-12)
        assert pieces == measure.label(mask, connectivity=2).max()
        assert hull_count == props.area_convex
        assert feret == pytest.approx(props.feret_diameter_max, rel=1e-12)
        rows, cols = np.nonzero(mask)
        o = props.orientation
        along = rows * np.cos(o) + cols * np.sin(o)
        across = -rows * np.sin(o) + cols * np.cos(o)
        assert region_measures.principal_extents(corners, o) == pytest.approx(
            (np.ptp(along) + 1, np.ptp(across) + 1), rel=1e-12
        )


def test_colour_statistics_equal_numpy_per_pixel():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 500):
        pixels = rng.integers(0, 256, (n, 3), dtype=np.uint8)
        pixels[: n // 2] = pixels[0]  # repeated colours
        values = region_measures.colour_statistics(pixels, np.ones(n, np.int64))
        lab = color.rgb2lab(pixels[np.newaxis])[0]
        for space, data in (("rgb", pixels.astype(float)), ("lab", lab)):
            for stat, reduce in (("mean", np.mean), ("median", np.median)):
                got = [values[f"{space}_{stat}_{c}"] for c in space]
                assert got == pytest.approx(reduce(data, axis=0), rel=1e-12, abs=1e-9)


def two_part_table() -> StructureTable:
    return StructureTable(
        structures=(
            Structure("body", 1, (255, 0, 0)),
            Structure("leg", 2, (0, 255, 0), kind="thin"),
        )
    )


def big_specimen(scale: int) -> tuple[np.ndarray, np.ndarray]:
    """A body and two legs, drawn at ``scale`` times 100 x 150 px, and a colour image."""
    labels = np.zeros((100 * scale, 150 * scale), np.uint8)
    rr, cc = draw.ellipse(50 * scale, 75 * scale, 30 * scale, 45 * scale, shape=labels.shape)
    labels[rr, cc] = 1
    for start, end in (((20, 30), (5, 5)), ((80, 120), (95, 145))):
        rr, cc = draw.line(*(v * scale for v in start), *(v * scale - 1 for v in end))
        leg = np.zeros(labels.shape, bool)
        leg[rr, cc] = True
        labels[ndimage.binary_dilation(leg, iterations=scale) & (labels == 0)] = 2
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*labels.shape, 3), dtype=np.uint8)
    image[labels == 1] //= 2
    return labels, image


def test_big_label_map_measured_as_regionprops():
    labels, image = big_specimen(8)  # 0.96 MP: legs 17 px thick, centre lines at full size
    table = traits.measure_specimen(labels, image, two_part_table()).set_index("structure")
    for structure in ("body", "leg"):
        mask = labels == traits_label(structure)
        props = measure.regionprops(mask.astype(np.uint8))[0]
        row = table.loc[structure]
        assert row.area_px == props.area
        assert row.perimeter_px == pytest.approx(props.perimeter, rel=1e-12)
        assert row.feret_max_px == pytest.approx(props.feret_diameter_max, rel=1e-12)
        assert row.solidity == pytest.approx(props.solidity, rel=1e-12)
        assert row.eccentricity == pytest.approx(props.eccentricity, rel=1e-9)
        assert row.n_components == measure.label(mask, connectivity=2).max()
        assert (row.bbox_min_row_px, row.bbox_min_col_px) == props.bbox[:2]
        assert (row.bbox_max_row_px, row.bbox_max_col_px) == props.bbox[2:]
        pixels = image[mask].astype(float)
        assert row.rgb_mean_g == pytest.approx(pixels[:, 1].mean(), rel=1e-12)
        assert row.rgb_median_b == pytest.approx(np.median(pixels[:, 2]))


def traits_label(structure: str) -> int:
    return two_part_table().by_name(structure).label


def test_thick_centre_line_is_found_reduced_within_three_percent(monkeypatch):
    labels, image = big_specimen(40)  # legs 81 px thick: reduced by 2
    table = traits.measure_specimen(labels, image, two_part_table()).set_index("structure")
    monkeypatch.setattr(centreline, "CENTRELINE_THICKNESS_PX", np.inf)
    full = traits.measure_specimen(labels, image, two_part_table()).set_index("structure")
    for column in ("centreline_length_px", "centreline_longest_px"):
        assert table.loc["leg", column] == pytest.approx(full.loc["leg", column], rel=0.03)
    others = [c for c in table.columns if not c.startswith("centreline") and c != "kind"]
    assert table[others].equals(full[others])


def test_colour_from_a_reduced_image_weights_each_reduced_pixel_by_its_share():
    labels = np.zeros((40, 60), np.uint8)
    labels[10:30, 0:30] = 1  # the left half of rows 10-30
    full = np.zeros((40, 60, 3), np.uint8)
    reduced = np.zeros((20, 30, 3), np.uint8)
    reduced[:, :15] = (100, 50, 0)
    reduced[:, 14] = (200, 150, 100)  # the reduced column under full columns 28 and 29
    table = traits.measure_specimen(labels, reduced, two_part_table(), reduced_image=True)
    body = table.set_index("structure").loc["body"]
    assert body.rgb_mean_r == pytest.approx((14 * 100 + 1 * 200) / 15)
    assert body.rgb_median_r == 100
    exact = traits.measure_specimen(labels, full, two_part_table()).set_index("structure")
    shape_columns = ["area_px", "perimeter_px", "feret_max_px", "centroid_row_px"]
    assert list(body[shape_columns]) == list(exact.loc["body", shape_columns])


@pytest.mark.parametrize("shape", [(80, 120), (21, 15), (20, 40)])
def test_a_reduced_image_of_another_shape_is_refused(shape):
    labels = np.zeros((40, 60), np.uint8)
    image = np.zeros((*shape, 3), np.uint8)
    with pytest.raises(traits.MeasurementError, match="scaled down"):
        traits.measure_specimen(labels, image, two_part_table(), reduced_image=True)
