"""The shape and colour measures of one structure, in time and memory that follow its outline.

:mod:`traitrack.traits` gives every structure the numbers of scikit-image's ``regionprops``
(area, moments, perimeter, convex hull, Feret diameter). ``regionprops`` builds them from
full-size float arrays of the structure's bounding box (the convex hull image by testing every
pixel of the box against the hull polygon, the Feret diameter from the contour of that image),
which on a 50-megapixel photograph costs tens of seconds and gigabytes. The functions here give
the same numbers from cheaper inputs:

- area, centroid, axes, eccentricity and orientation from OpenCV's image moments of the
  boolean mask (integer sums, no float copy of the box); the pieces from OpenCV's contours;
- the perimeter with scikit-image's estimator (erosion with the 4-neighbour cross, the border
  pixels' 3 x 3 codes weighted by :data:`PERIMETER_WEIGHTS`) computed with OpenCV's erosion and
  filter on uint8;
- the convex hull from the mask's outline pixels (OpenCV contours), widened by half a pixel
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

import cv2
import numpy as np
from scipy.spatial import ConvexHull, QhullError
from skimage import color

PERIMETER_WEIGHTS = np.zeros(50)
PERIMETER_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1.0
PERIMETER_WEIGHTS[[21, 33]] = math.sqrt(2)
PERIMETER_WEIGHTS[[13, 23]] = (1 + math.sqrt(2)) / 2
_PERIMETER_KERNEL = np.array([[10, 2, 10], [2, 1, 2], [10, 2, 10]], dtype=np.float32)
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_HALF_PIXEL = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, -0.5], [0.0, 0.5]])  # (row, col)
_ON_EDGE = 1e-7  # a pixel centre this close to a hull edge counts as inside, as in skimage


def moments(mask: np.ndarray) -> dict[str, float]:
    """Area, centroid and second-moment measures of a boolean mask, as ``regionprops`` names them.

    Parameters
    ----------
    mask : numpy.ndarray
        (H, W) bool, not empty.

    Returns
    -------
    dict
        ``area``, ``centroid`` (row, col), ``axis_major_length``, ``axis_minor_length``,
        ``eccentricity``, ``orientation`` (radians from the row axis, skimage's convention).
    """
    m = cv2.moments(mask.view(np.uint8), binaryImage=True)
    area = m["m00"]
    # skimage's inertia tensor in (row, col): [[var(col), -cov], [-cov, var(row)]]
    a, b, c = m["mu20"] / area, -m["mu11"] / area, m["mu02"] / area
    big, small = sorted(np.clip(np.linalg.eigvalsh([[a, b], [b, c]]), 0, None), reverse=True)
    if a - c == 0:
        orientation = math.pi / 4 if b < 0 else -math.pi / 4
    else:
        orientation = 0.5 * math.atan2(-2 * b, c - a)
    return {
        "area": int(round(area)),
        "centroid": (m["m01"] / area, m["m10"] / area),
        "axis_major_length": 4 * math.sqrt(big),
        "axis_minor_length": 4 * math.sqrt(small),
        "eccentricity": 0.0 if big == 0 else math.sqrt(1 - small / big),
        "orientation": orientation,
    }


def perimeter(mask: np.ndarray) -> float:
    """skimage's ``perimeter`` (4-neighbourhood) of a boolean mask.

    Only border pixels (the mask less its erosion) have a code of nonzero weight (the
    weighted codes are odd: the centre's own 1), so the 3 x 3 codes (at most 49, exact in
    8 bits) are counted at those pixels alone, by a histogram masked to the border, with no
    list of their positions.
    """
    image = mask.view(np.uint8)
    eroded = cv2.erode(image, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    border = cv2.subtract(image, eroded)
    codes = cv2.filter2D(border, cv2.CV_8U, _PERIMETER_KERNEL, borderType=cv2.BORDER_CONSTANT)
    counts = cv2.calcHist([codes], [0], border, [50], [0, 50]).ravel()
    return float(counts @ PERIMETER_WEIGHTS)


def outline(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """The convex hull's pixel centres and the number of 8-connected pieces of a boolean mask.

    Returns
    -------
    tuple
        ((n, 2) float (row, col) of the hull's corner pixels, number of pieces). OpenCV's
        contours follow foreground pieces 8-connected; each piece has one outer contour (the
        top level of the two-level hierarchy, pieces inside another's hole included).
    """
    contours, hierarchy = cv2.findContours(
        mask.view(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    outer = [c for c, link in zip(contours, hierarchy[0]) if link[3] < 0]
    points = np.concatenate([c.reshape(-1, 2) for c in outer])
    hull = cv2.convexHull(points).reshape(-1, 2)
    return hull[:, ::-1].astype(float), len(outer)


def convex_measures(mask: np.ndarray, corners: np.ndarray) -> tuple[int, float]:
    """Pixel count of skimage's ``image_convex`` and ``feret_diameter_max`` of a mask.

    skimage takes the hull of the pixel centres moved half a pixel up, down, left and right,
    keeps the pixels whose centres lie in or on it, and measures the largest distance between
    points of that image's 0.5-level contour. Both the hull image's rows and its columns are
    runs of pixels, so its contour points are the midpoints just outside each run's ends; the
    count and the largest distance come from those runs.

    Parameters
    ----------
    mask : numpy.ndarray
        (H, W) bool, not empty.
    corners : numpy.ndarray
        The hull's pixel centres (:func:`outline`).

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
    height, width = mask.shape
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
    """
    codes = (colours[:, 0].astype(np.uint32) << 16) | (colours[:, 1].astype(np.uint32) << 8)
    codes |= colours[:, 2]
    unique, inverse = np.unique(codes, return_inverse=True)
    weights = np.bincount(inverse.ravel(), weights=counts).astype(np.int64)
    rgb = np.column_stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255])
    lab = color.rgb2lab(rgb.astype(np.uint8)[np.newaxis])[0]
    values = {}
    for space, data, channels in (("rgb", rgb.astype(float), "rgb"), ("lab", lab, "lab")):
        means = weights @ data / weights.sum()
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
