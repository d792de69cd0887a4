"""Traits of one specimen: size, shape, position and colour of every declared structure.

:func:`measure_specimen` turns a label map (0 background, 1..N structures) and its image into
a table with one row per structure declared in the :class:`StructureTable`, in declaration
order.  Absent structures still get a row (``present`` False, area 0, ``n_components`` 0, NaN
elsewhere), so every specimen's table has the same rows and tables stack cleanly.

Columns, in this order (``U`` is ``mm`` when ``px_per_mm`` is given, else ``px``):

- ``structure``, ``kind``, ``present``, ``n_components`` (8-connected pieces of the mask)
- ``area_px`` (pixel count, always written so pixel counts survive a calibration) and, with a
  pixel size, ``area_mm2``.  A pixel count is its own unit, so there is no ``area_px2``.
- ``perimeter_U`` (skimage ``perimeter``: boundary length with 4-connectivity weighting)
- ``length_U``, ``width_U``: extent of the structure's pixels along and across its principal
  (major inertia) axis, counting whole pixels (max - min of the projected pixel centres + 1),
  so an axis-aligned 10 x 4 rectangle has length 10 and width 4.
- ``feret_max_U`` (largest caliper diameter), ``major_axis_U``, ``minor_axis_U`` (of the
  ellipse with the same second moments)
- ``centreline_length_U``, ``centreline_longest_U`` (``thin`` structures only, NaN for
  ``blob``): the mask is skeletonised (8-connected), and in each connected piece of the
  skeleton the longest geodesic path is found by two shortest-path sweeps (orthogonal steps
  1, diagonal steps sqrt(2); exact on tree-shaped skeletons, a close lower bound when the
  skeleton has loops).  The path, which runs between the centres of its end pixels, is
  measured as a polyline through every 5th pixel, which removes the staircase over-estimate
  of counting pixel steps (see :func:`traitrack.centreline.skeleton_path_lengths`).
  ``centreline_length`` is the sum over pieces (e.g. all six legs together) and
  ``centreline_longest`` the longest single piece (e.g. one leg), because a structure like
  ``legs`` is several separate parts.  A structure more than twice
  :data:`CENTRELINE_THICKNESS_PX` thick (``2 * area / perimeter``; a leg on a 50-megapixel
  photograph) is skeletonised on its mask reduced by ``thickness // 32`` (block mean >= 0.5)
  and the lengths scaled back: 1-4% shorter than at full size on upscaled beetles
  (``benchmarks/measure_large.py``), at a hundredth of the time.
- ``eccentricity`` (0 = circle), ``solidity`` (area / convex hull area)
- ``orientation_deg``: angle of the major axis from the image's horizontal axis, counter-
  clockwise as the image is displayed (rows increasing downwards), in (-90, 90].  This is
  skimage's ``orientation`` (measured from the row axis) turned by 90 degrees, chosen because
  "30 degrees" then means what a person looking at the picture expects.
- ``centroid_row_px``, ``centroid_col_px``; ``bbox_min_row_px``, ``bbox_min_col_px``,
  ``bbox_max_row_px``, ``bbox_max_col_px`` (half-open like skimage and numpy slices: the max
  is one past the last pixel).  Positions always stay in pixels: they locate the structure
  in the image, they are not sizes.
- colour inside the structure: ``rgb_mean_r``, ``rgb_mean_g``, ``rgb_mean_b``,
  ``rgb_median_r``, ``rgb_median_g``, ``rgb_median_b`` (0-255 scale) and ``lab_mean_l``,
  ``lab_mean_a``, ``lab_mean_b``, ``lab_median_l``, ``lab_median_a``, ``lab_median_b``
  (CIELab, D65, from :func:`skimage.color.rgb2lab` of each pixel).  With
  ``reduced_image`` the colour of each full-size pixel is read from the reduced photograph's
  pixel it falls in.

Provenance (specimen, engine, templates, confidence) is added by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from skimage import color
from skimage.util import img_as_float

from traitrack import mask_runs, region_measures, rgb
from traitrack.centreline import centreline_lengths
from traitrack.structures import Structure, StructureTable

LENGTH_TRAITS = (
    "perimeter",
    "length",
    "width",
    "feret_max",
    "major_axis",
    "minor_axis",
    "centreline_length",
    "centreline_longest",
)
SHAPE_TRAITS = ("eccentricity", "solidity", "orientation_deg")
POSITION_TRAITS = (
    "centroid_row_px",
    "centroid_col_px",
    "bbox_min_row_px",
    "bbox_min_col_px",
    "bbox_max_row_px",
    "bbox_max_col_px",
)
COLOUR_TRAITS = tuple(
    f"{space}_{stat}_{channel}"
    for space, channels in (("rgb", "rgb"), ("lab", "lab"))
    for stat in ("mean", "median")
    for channel in channels
)


class MeasurementError(ValueError):
    """The inputs to a measurement do not fit together (shapes, pixel size)."""


def trait_columns(px_per_mm: float | None = None) -> list[str]:
    """Return the column names of :func:`measure_specimen`'s table, in order.

    Parameters
    ----------
    px_per_mm : float, optional
        The calibration; with it lengths are ``_mm`` and ``area_mm2`` is added, without it
        lengths are ``_px``.

    Returns
    -------
    list of str
        The columns, as listed in the module docstring.
    """
    unit = "mm" if px_per_mm is not None else "px"
    areas = ["area_px", "area_mm2"] if px_per_mm is not None else ["area_px"]
    return [
        "structure",
        "kind",
        "present",
        "n_components",
        *areas,
        *(f"{name}_{unit}" for name in LENGTH_TRAITS),
        *SHAPE_TRAITS,
        *POSITION_TRAITS,
        *COLOUR_TRAITS,
    ]


def measure_specimen(
    labels: np.ndarray,
    image: np.ndarray,
    structures: StructureTable,
    px_per_mm: float | None = None,
    *,
    reduced_image: bool = False,
) -> pd.DataFrame:
    """Measure every declared structure of one specimen.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) integer label map, 0 background, structure ``i`` has label ``i + 1``; values
        not declared in ``structures`` are ignored.
    image : numpy.ndarray
        (H, W, 3) RGB image (RGBA and greyscale are accepted), any integer or float dtype that
        :func:`skimage.util.img_as_float` understands.
    structures : StructureTable
        The part table; fixes the rows and their order.
    px_per_mm : float, optional
        Pixels per millimetre.  With it lengths are in mm and areas in mm^2; without it they
        are in pixels.
    reduced_image : bool
        ``image`` is the photograph reduced (same aspect ratio, e.g.
        :func:`traitrack.working_size.read_working_image`): the colour of a structure is then
        read from the reduced pixel under each of its full-size pixels (each reduced pixel
        weighted by how many of the structure's pixels fall in it). Everything else is
        measured on ``labels`` whatever the image's size.

    Returns
    -------
    pandas.DataFrame
        One row per structure, the columns listed in the module docstring.

    Raises
    ------
    MeasurementError
        If the label map is not 2-D, its size differs from the image's (with
        ``reduced_image``: the image is larger or of another aspect ratio), or ``px_per_mm``
        is not a positive number.
    """
    labels = np.asarray(labels)
    image = np.asarray(image)
    _as_rgb_float(image[:1, :1])  # the image's shape checked before any work
    if labels.ndim != 2:
        raise MeasurementError(f"labels must be a 2-D label map, got shape {labels.shape}")
    if labels.dtype.kind not in "iu" or labels.dtype.itemsize > 4:
        labels = labels.astype(np.int32)  # find_objects takes integer maps of up to 32 bits
    if reduced_image:
        _check_reduced(image.shape[:2], labels.shape)
    elif image.shape[:2] != labels.shape:
        raise MeasurementError(
            f"image size {image.shape[:2]} differs from label map size {labels.shape}; "
            "measure the mask predicted for this very image"
        )
    scale = _mm_per_px(px_per_mm)
    columns = trait_columns(px_per_mm)
    # each structure on its bounding box only: memory and time follow the part, not the
    # photograph (a 50-megapixel image as float RGB alone would be 1.2 GB)
    boxes = mask_runs.label_boxes(labels, [s.label for s in structures])
    rows = []
    for s in structures:
        box = boxes.get(s.label, (slice(0, 0), slice(0, 0)))
        mask = labels[box] == s.label
        rows.append(_measure_structure(mask, image, s, scale, box, labels.shape))
    return pd.DataFrame(rows, columns=columns)


def combine_tables(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack per-specimen tables, keeping first-seen column order.

    Tables measured in px and in mm can be mixed: the result has both sets of columns, NaN
    where a table did not have a column.

    Parameters
    ----------
    frames : iterable of pandas.DataFrame
        :func:`measure_specimen` tables (with whatever columns the caller added); empty ones
        are skipped.

    Returns
    -------
    pandas.DataFrame
        All rows; an empty frame when there are none.
    """
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    columns: list[str] = []
    for frame in frames:
        columns.extend(c for c in frame.columns if c not in columns)
    return pd.concat([f.reindex(columns=columns) for f in frames], ignore_index=True)


def _measure_structure(
    mask: np.ndarray,
    image: np.ndarray,
    structure: Structure,
    mm_per_px: float | None,
    box: tuple[slice, slice],
    full_shape: tuple[int, int],
) -> dict:
    """One structure's row, from its mask cut to ``box`` (positions put back) and the whole
    image (at the label map's ``full_shape`` or reduced)."""
    top, left = box[0].start or 0, box[1].start or 0
    unit = "px" if mm_per_px is None else "mm"
    row: dict = {"structure": structure.name, "kind": structure.kind, "present": bool(mask.any())}
    if not row["present"]:
        row.update(n_components=0, area_px=0)
        if mm_per_px is not None:
            row["area_mm2"] = 0.0
        return row  # every other column becomes NaN when the DataFrame is built

    runs = mask_runs.trace(mask)
    shape = region_measures.moments(runs)
    corners = runs.hull_corners
    area_convex, feret_max = region_measures.convex_measures(mask.shape, corners)
    lengths_px = {
        "perimeter": region_measures.perimeter(runs),
        **dict(
            zip(
                ("length", "width"),
                region_measures.principal_extents(corners, shape["orientation"]),
            )
        ),
        "feret_max": feret_max,
        "major_axis": shape["axis_major_length"],
        "minor_axis": shape["axis_minor_length"],
    }
    lengths_px.update(
        centreline_lengths(mask, runs, structure.kind, shape["area"], lengths_px["perimeter"])
    )
    lengths_px = {name: lengths_px[name] for name in LENGTH_TRAITS}
    row["n_components"] = runs.n_pieces
    row["area_px"] = shape["area"]
    if mm_per_px is not None:
        row["area_mm2"] = shape["area"] * mm_per_px**2
    factor = 1.0 if mm_per_px is None else mm_per_px
    row.update({f"{name}_{unit}": float(value) * factor for name, value in lengths_px.items()})
    bottom, right = top + mask.shape[0], left + mask.shape[1]
    row.update(
        eccentricity=float(shape["eccentricity"]),
        solidity=shape["area"] / area_convex,
        orientation_deg=_display_orientation(shape["orientation"]),
        centroid_row_px=float(shape["centroid"][0]) + top,
        centroid_col_px=float(shape["centroid"][1]) + left,
        **dict(zip(POSITION_TRAITS[2:], (top, left, bottom, right))),
        **_colour_of(mask, runs, image, box, full_shape),
    )
    return row


def _check_reduced(reduced: tuple[int, int], shape: tuple[int, int]) -> None:
    """A reduced image must be at most the label map's size and of its aspect ratio."""
    (height, width), (rows, cols) = reduced, shape
    fits = 0 < height <= rows and 0 < width <= cols
    if not fits or abs(height / rows - width / cols) > 1.5 / min(height, width):
        raise MeasurementError(
            f"reduced image size {reduced} is not the label map {shape} scaled down; "
            "read the photograph the label map was predicted for"
        )


def _colour_of(
    mask: np.ndarray,
    runs: mask_runs.MaskRuns,
    image: np.ndarray,
    box: tuple[slice, slice],
    full_shape: tuple[int, int],
) -> dict[str, float]:
    """Colour traits of the structure ``mask`` (cut to ``box`` of a ``full_shape`` map; its
    ``runs`` count its pixels under each pixel of a reduced ``image``)."""
    if image.shape[:2] == tuple(full_shape):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            return _colour(_as_rgb_float(image[box])[mask])
        pixels = image[box][mask]
        return region_measures.colour_statistics(pixels, np.ones(len(pixels), np.int64))
    image = rgb.as_rgb(image, error=MeasurementError)
    # full-size pixel (r, c) lies in reduced pixel (r * h // H, c * w // W)
    rows = np.arange(box[0].start, box[0].stop) * image.shape[0] // full_shape[0]
    cols = np.arange(box[1].start, box[1].stop) * image.shape[1] // full_shape[1]
    # the box's rows and columns fall in consecutive reduced ones (the image is not larger)
    col_starts = np.flatnonzero(np.r_[True, np.diff(cols) > 0])
    counts = mask_runs.count_in_blocks(runs, rows - rows[0], np.r_[col_starts, len(cols)])
    reduced = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    inside = counts > 0
    return region_measures.colour_statistics(reduced[inside], counts[inside])


def _display_orientation(orientation: float) -> float:
    """Convert skimage's orientation (from the row axis) to degrees from horizontal, CCW."""
    degrees = np.rad2deg(orientation) + 90.0  # in [0, 180]
    return float(degrees - 180.0 if degrees > 90.0 else degrees)


def _colour(pixels: np.ndarray) -> dict[str, float]:
    """Mean and median RGB (0-255) and CIELab of an (n, 3) array of float RGB in 0..1."""
    lab = color.rgb2lab(pixels[np.newaxis])[0]
    values = {}
    for space, data, channels in (("rgb", pixels * 255.0, "rgb"), ("lab", lab, "lab")):
        for stat, reduce in (("mean", np.mean), ("median", np.median)):
            for channel, column in zip(channels, reduce(data, axis=0)):
                values[f"{space}_{stat}_{channel}"] = float(column)
    return values


def _as_rgb_float(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB in 0..1 from RGB, RGBA or greyscale input."""
    return img_as_float(rgb.as_rgb(image, error=MeasurementError))


def _mm_per_px(px_per_mm: float | None) -> float | None:
    if px_per_mm is None:
        return None
    value = float(px_per_mm)
    if not np.isfinite(value) or value <= 0:
        raise MeasurementError(
            f"px_per_mm must be a positive number of pixels per millimetre, got {px_per_mm!r}; "
            "fix the px_per_mm column of the sample sheet or leave it empty to measure in px"
        )
    return 1.0 / value
