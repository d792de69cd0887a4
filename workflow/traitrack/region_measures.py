"""The shape and colour measures of one structure, in time and memory that follow its outline.

:mod:`traitrack.traits` gives every structure the numbers of scikit-image's ``regionprops``
(area, moments, perimeter, convex hull, Feret diameter). ``regionprops`` builds them from
full-size float arrays of the structure's bounding box (the convex hull image by testing every
pixel of the box against the hull polygon, the Feret diameter from the contour of that image),
which on a 50-megapixel photograph costs tens of seconds and gigabytes. The functions here give
the same numbers from the mask's sparse form (:mod:`traitrack.mask_runs`: its border pixels
and its rows' runs, from one pass of OpenCV's contour following):

- area, centroid, axes, eccentricity and orientation from the moments summed over the runs
  (each run's sums of columns and squared columns in closed form, integers throughout);
- the perimeter with scikit-image's estimator (the border pixels' 3 x 3 codes of border
  neighbours weighted by :data:`PERIMETER_WEIGHTS`), the codes looked up at the border
  pixels alone;
- the convex hull from the mask's outer contours, widened by half a pixel
  exactly as ``convex_hull_image`` does; its pixel count and the Feret diameter from the hull
  polygon's run of pixels in every row and column, never the hull image itself;
- the extents along and across the major axis from the hull's pixel centres (a linear
  function's extremes over a set of points lie on its convex hull);
- colour as counts of distinct colours: mean and median of RGB and CIELab weighted by how
  many pixels have each colour, so a colour's CIELab is computed once, not once per pixel.

The results equal ``regionprops``' up to float rounding (``tests/test_region_measures.py``
compares them on random shapes).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import ConvexHull, QhullError
from skimage import color

from traitrack.mask_runs import MaskRuns

PERIMETER_WEIGHTS = np.zeros(50)
PERIMETER_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1.0
PERIMETER_WEIGHTS[[21, 33]] = math.sqrt(2)
PERIMETER_WEIGHTS[[13, 23]] = (1 + math.sqrt(2)) / 2
_NEIGHBOUR_WEIGHTS = [(-1, 0, 2), (1, 0, 2), (0, -1, 2), (0, 1, 2)] + [
    (d_row, d_col, 10) for d_row in (-1, 1) for d_col in (-1, 1)
]  # the code skimage's perimeter filter gives a border pixel's border neighbours
_HALF_PIXEL = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, -0.5], [0.0, 0.5]])  # (row, col)
_ON_EDGE = 1e-7  # a pixel centre this close to a hull edge counts as inside, as in skimage


def moments(runs: MaskRuns) -> dict[str, float]:
    """Area, centroid and second-moment measures of a mask, as ``regionprops`` names them.

    The raw moments are exact integer sums over the runs (a run of columns ``s .. e`` in row
    ``r`` adds ``r ** i`` times the sum of ``c ** j`` over its columns), the central ones exact
    integer differences divided once, so they carry less rounding than a float sum.

    Parameters
    ----------
    runs : MaskRuns
        The mask's sparse form (:func:`traitrack.mask_runs.trace`), not empty.

    Returns
    -------
    dict
        ``area``, ``centroid`` (row, col), ``axis_major_length``, ``axis_minor_length``,
        ``eccentricity``, ``orientation`` (radians from the row axis, skimage's convention).
    """
    row, first, last = runs.run_rows, runs.run_starts, runs.run_stops - 1
    count = last - first + 1
    col_sum = (first + last) * count // 2
    col_squares = _square_sum(last) - _square_sum(first - 1)
    m00, m01, m10 = (int(v.sum()) for v in (count, row * count, col_sum))
    m02, m11, m20 = (int(v.sum()) for v in (row * row * count, row * col_sum, col_squares))
    # skimage's inertia tensor in (row, col): [[var(col), -cov], [-cov, var(row)]]
    a = (m00 * m20 - m10 * m10) / m00**2
    b = -((m00 * m11 - m10 * m01) / m00**2)  # -0.0 where it is 0, as skimage's
    c = (m00 * m02 - m01 * m01) / m00**2
    big, small = sorted(np.clip(np.linalg.eigvalsh([[a, b], [b, c]]), 0, None), reverse=True)
    if a - c == 0:
        orientation = math.pi / 4 if b < 0 else -math.pi / 4
    else:
        orientation = 0.5 * math.atan2(-2 * b, c - a)
    return {
        "area": m00,
        "centroid": (m01 / m00, m10 / m00),
        "axis_major_length": 4 * math.sqrt(big),
        "axis_minor_length": 4 * math.sqrt(small),
        "eccentricity": 0.0 if big == 0 else math.sqrt(1 - small / big),
        "orientation": orientation,
    }


def _square_sum(n: np.ndarray) -> np.ndarray:
    """0^2 + 1^2 + ... + n^2 for each n >= -1 (int64)."""
    return n * (n + 1) * (2 * n + 1) // 6


def perimeter(runs: MaskRuns) -> float:
    """skimage's ``perimeter`` (4-neighbourhood) of a mask.

    skimage weights each border pixel (the mask less its erosion by the 4-neighbour cross) by
    its 3 x 3 code: 1 for itself, 2 per border pixel among its 4 neighbours, 10 per border
    pixel among its diagonal ones. The codes are looked up among the border pixels alone
    (each neighbour's index searched in the sorted border), with no image of the box.
    """
    width = runs.shape[1] + 2  # indices of a box padded by one pixel: no neighbour wraps
    index = (runs.border_rows + 1) * width + runs.border_cols + 1
    codes = np.ones(len(index), dtype=np.int64)
    for d_row, d_col, weight in _NEIGHBOUR_WEIGHTS:
        neighbour = index + d_row * width + d_col
        found = np.searchsorted(index, neighbour).clip(max=len(index) - 1)
        codes += weight * (index[found] == neighbour)
    return float(PERIMETER_WEIGHTS[codes].sum())


def convex_measures(shape: tuple[int, int], corners: np.ndarray) -> tuple[int, float]:
    """Pixel count of skimage's ``image_convex`` and ``feret_diameter_max`` of a mask.

    skimage takes the hull of the pixel centres moved half a pixel up, down, left and right,
    keeps the pixels whose centres lie in or on it, and measures the largest distance between
    points of that image's 0.5-level contour. Both the hull image's rows and its columns are
    runs of pixels, so its contour points are the midpoints just outside each run's ends; the
    count and the largest distance come from those runs.

    Parameters
    ----------
    shape : tuple of int
        (H, W) of the mask's box.
    corners : numpy.ndarray
        The hull's pixel centres (:attr:`traitrack.mask_runs.MaskRuns.hull_corners`).

    Returns
    -------
    tuple
        (hull pixel count, largest Feret diameter in px).
    """
    points = np.unique((corners[:, None, :] + _HALF_PIXEL).reshape(-1, 2), axis=0)
    try:
        polygon = points[ConvexHull(points).vertices]
    except QhullError:  # a single pixel: its diamond is its own hull
        polygon = points
    height, width = shape
    rows = np.arange(height, dtype=float)
    first_col, last_col = _runs(polygon, rows)
    cols = np.arange(width, dtype=float)
    first_row, last_row = _runs(polygon[:, ::-1], cols)
    in_row = last_col >= first_col
    in_col = last_row >= first_row
    count = int(np.sum(last_col[in_row] - first_col[in_row] + 1))
    outline = np.concatenate(
        [
            np.column_stack([rows[in_row], first_col[in_row] - 0.5]),
            np.column_stack([rows[in_row], last_col[in_row] + 0.5]),
            np.column_stack([first_row[in_col] - 0.5, cols[in_col]]),
            np.column_stack([last_row[in_col] + 0.5, cols[in_col]]),
        ]
    )
    try:
        outline = outline[ConvexHull(outline).vertices]
    except QhullError:  # all on one line: its two ends
        order = np.lexsort(outline.T[::-1])
        outline = outline[[order[0], order[-1]]]
    difference = outline[:, None, :] - outline[None, :, :]
    return count, float(math.sqrt(np.max(np.einsum("ijk,ijk->ij", difference, difference))))


def _runs(polygon: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last integer position inside a convex polygon along each line ``y = lines``.

    ``polygon`` is (n, 2) (y, x) in order around the hull; a line that misses it gets
    first > last.
    """
    start, end = polygon, np.roll(polygon, -1, axis=0)
    y0, x0, y1, x1 = start[:, 0], start[:, 1], end[:, 0], end[:, 1]
    y = lines[:, None]
    crosses = (y >= np.minimum(y0, y1) - _ON_EDGE) & (y <= np.maximum(y0, y1) + _ON_EDGE)
    flat = y1 == y0
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(flat, x0, x0 + (y - y0) * (x1 - x0) / np.where(flat, 1.0, y1 - y0))
    low = np.where(crosses, x, np.inf)
    high = np.where(crosses, x, -np.inf)
    low = np.minimum(low, np.where(crosses & flat, np.minimum(x0, x1), np.inf)).min(axis=1)
    high = np.maximum(high, np.where(crosses & flat, np.maximum(x0, x1), -np.inf)).max(axis=1)
    first = np.ceil(low - _ON_EDGE)
    last = np.floor(high + _ON_EDGE)
    return first, last


def principal_extents(corners: np.ndarray, orientation: float) -> tuple[float, float]:
    """Whole-pixel extent along and across the major axis, from the hull's pixel centres."""
    rows, cols = corners[:, 0], corners[:, 1]
    along = rows * math.cos(orientation) + cols * math.sin(orientation)
    across = -rows * math.sin(orientation) + cols * math.cos(orientation)
    return float(np.ptp(along) + 1), float(np.ptp(across) + 1)


def colour_statistics(colours: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """Mean and median RGB (0-255) and CIELab over pixels given as colours and their counts.

    Parameters
    ----------
    colours : numpy.ndarray
        (n, 3) uint8 RGB.
    counts : numpy.ndarray
        (n,) how many pixels have each colour (the same colour may come more than once).

    Returns
    -------
    dict
        ``rgb_mean_r`` ... ``lab_median_b``, as :mod:`traitrack.traits` names them. The
        median of an even number of pixels is the mean of the two middle ones, as numpy's.

    Notes
    -----
    Each colour's 24-bit code and its count (below 2**32) are packed into one 64-bit key,
    so a plain sort (vectorised in numpy, several times faster than the ``argsort`` that
    ``numpy.unique`` needs for an inverse) groups equal colours with their counts.
    """
    codes = (colours[:, 0].astype(np.uint64) << 16) | (colours[:, 1].astype(np.uint64) << 8)
    codes |= colours[:, 2]
    keys = np.sort((codes << 32) | np.asarray(counts, dtype=np.uint64))
    codes = keys >> 32
    firsts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    weights = np.add.reduceat(keys & 0xFFFFFFFF, firsts).astype(np.int64)
    unique = codes[firsts]
    rgb = np.column_stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255])
    rgb = rgb.astype(np.uint8)
    lab = color.rgb2lab(rgb[np.newaxis])[0]
    values = {}
    for space, data, channels in (("rgb", rgb, "rgb"), ("lab", lab, "lab")):
        means = weights @ data.astype(float) / weights.sum()
        medians = [_weighted_median(data[:, i], weights) for i in range(3)]
        for stat, numbers in (("mean", means), ("median", medians)):
            for channel, value in zip(channels, numbers):
                values[f"{space}_{stat}_{channel}"] = float(value)
    return values


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """numpy's median of ``values`` each repeated ``weights`` times."""
    order = np.argsort(values, kind="stable")
    ends = np.cumsum(weights[order])
    total = int(ends[-1])
    lower = values[order][np.searchsorted(ends, (total - 1) // 2, side="right")]
    upper = values[order][np.searchsorted(ends, total // 2, side="right")]
    return float(np.mean([lower, upper]))
