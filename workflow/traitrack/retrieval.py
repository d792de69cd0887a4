"""Trait-based retrieval: the specimens whose part looks like (or unlike) a query's.

A part is described three ways (:func:`part_profile`), each giving its own score against the
query (:func:`score_candidates`):

- **traits**: a vector of scale-free shape (eccentricity, solidity, minor / major axis,
  compactness 4 pi A / P^2), size (log area, in mm^2 where every part has a pixel size, else
  px) and colour (CIELab mean and median); each trait standardised by its spread over the
  query and the pool, and the three groups weighed alike (``trait_distance``, lower is closer);
- **shape**: the part's mask turned onto its major axis, centred and scaled to a fixed area on
  a small square; the IoU of two such masks, best over the four flips that the axis leaves
  open (``shape_iou``, higher is closer);
- **appearance**: HOG of the part's grey crop aligned the same way, the part alone on a flat
  ground; the cosine similarity, best over the same flips (``appearance_similarity``).

The scores have different scales and different failure modes, so they are **combined by rank**
(:func:`combine_by_rank`): each candidate's rank under each score (1 the closest, ties shared);
their median is ``combined_rank`` (two descriptions that agree outvote a third that a
photograph's scale or colour cast misleads), ties broken by their mean (``mean_rank``);
``order: similar`` lists the lowest first, ``dissimilar`` the highest. (SST's own retrieval script sorts its similarity ascending, so its "top k" are the
least similar; the tests here check that the most similar comes first.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage import color, measure
from skimage.feature import hog
from skimage.transform import AffineTransform, warp

ORDERS = ("similar", "dissimilar")
SHAPE_TRAITS = ("eccentricity", "solidity", "axis_ratio", "compactness")
COLOUR_TRAITS = (
    "lab_mean_l",
    "lab_mean_a",
    "lab_mean_b",
    "lab_median_l",
    "lab_median_a",
    "lab_median_b",
)
SCORES = ("trait_distance", "shape_iou", "appearance_similarity")
#: the optional fourth score (``retrieve.cycle``, :mod:`traitrack.retrieval_cycle`)
CYCLE_SCORE = "cycle_iou"
# the frame parts are aligned in: a square of CANVAS px, the part scaled to AREA_SHARE of it
CANVAS = 64
AREA_SHARE = 0.25
THUMBNAIL = 160


class RetrievalError(ValueError):
    """A query or a pool that cannot be scored (an empty part, an unknown order)."""


@dataclass(frozen=True)
class PartProfile:
    """What retrieval compares of one specimen's part.

    Attributes
    ----------
    specimen : str
        The specimen (or the query's name).
    traits : dict of str to float
        The trait vector (:data:`SHAPE_TRAITS`, ``log_area``, :data:`COLOUR_TRAITS`).
    area_unit : str
        ``mm2`` or ``px``: the unit of ``log_area``.
    shape : numpy.ndarray
        (CANVAS, CANVAS) bool, the aligned mask.
    appearance : numpy.ndarray
        (4, n) HOG vectors of the aligned crop and its three flips.
    crop : numpy.ndarray
        The part's box in the photograph (padded, longest side THUMBNAIL px), RGB uint8, for
        the contact sheet.
    crop_mask : numpy.ndarray
        The part in ``crop``, bool.
    """

    specimen: str
    traits: dict
    area_unit: str
    shape: np.ndarray
    appearance: np.ndarray
    crop: np.ndarray
    crop_mask: np.ndarray


def part_profile(
    specimen: str,
    image: np.ndarray,
    mask: np.ndarray,
    px_per_mm: float | None = None,
    *,
    pixel_area: float = 1.0,
) -> PartProfile:
    """Describe one part of one specimen (module docstring).

    Parameters
    ----------
    specimen : str
        Its name.
    image : numpy.ndarray
        (H, W, 3) RGB uint8.
    mask : numpy.ndarray
        (H, W) bool, the part.
    px_per_mm : float, optional
        The photograph's pixel size; with it the size trait is in mm^2.
    pixel_area : float
        How many of the photograph's pixels one pixel of ``image`` stands for (a photograph
        read reduced: :func:`traitrack.working_size.read_working_image`), so the size trait
        stays in the photograph's px or in mm^2.

    Returns
    -------
    PartProfile
        The profile.

    Raises
    ------
    RetrievalError
        If the part is empty.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise RetrievalError(f"{specimen}: the part is empty, so it has nothing to compare")
    props = measure.regionprops(mask.astype(np.uint8))[0]
    area = float(props.area) * pixel_area / (px_per_mm**2 if px_per_mm else 1.0)
    perimeter = max(float(props.perimeter), 1.0)
    lab = color.rgb2lab(image[mask][np.newaxis].astype(float) / 255.0)[0]
    traits = {
        "eccentricity": float(props.eccentricity),
        "solidity": float(props.solidity),
        "axis_ratio": float(props.axis_minor_length / max(props.axis_major_length, 1e-9)),
        "compactness": float(min(4 * np.pi * props.area / perimeter**2, 1.0)),
        "log_area": float(np.log(area)),
        **{f"lab_mean_{c}": float(v) for c, v in zip("lab", lab.mean(axis=0))},
        **{f"lab_median_{c}": float(v) for c, v in zip("lab", np.median(lab, axis=0))},
    }
    shape, aligned = aligned_part(image, mask)
    grey = color.rgb2gray(aligned)
    grey = np.where(shape, grey, grey[shape].mean())  # the part alone on a flat ground
    appearance = np.stack([_hog(flipped) for flipped in _flips(grey)])
    crop, crop_mask = _thumbnail(image, mask, props.bbox)
    unit = "mm2" if px_per_mm else "px"
    return PartProfile(specimen, traits, unit, shape, appearance, crop, crop_mask)


def aligned_part(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part's mask and RGB crop turned onto its major axis, centred, scaled to one area.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) RGB uint8.
    mask : numpy.ndarray
        (H, W) bool, non-empty.

    Returns
    -------
    tuple of numpy.ndarray
        (CANVAS, CANVAS) bool mask and (CANVAS, CANVAS, 3) uint8 crop; the major axis runs
        along the canvas' columns and the part covers about AREA_SHARE of it.
    """
    props = measure.regionprops(mask.astype(np.uint8))[0]
    row, col = props.centroid
    scale = np.sqrt(AREA_SHARE * CANVAS**2 / props.area)
    # skimage's orientation is the angle between the row axis and the major axis
    angle = props.orientation - np.pi / 2
    # canvas (x, y) -> image (x, y): centre, undo the scale, turn back, move to the centroid
    to_image = (
        AffineTransform(translation=(-CANVAS / 2 + 0.5, -CANVAS / 2 + 0.5))
        + AffineTransform(scale=1 / scale)
        + AffineTransform(rotation=-angle)
        + AffineTransform(translation=(col, row))
    )
    shape = warp(mask.astype(float), to_image, output_shape=(CANVAS, CANVAS), order=1) > 0.5
    crop = warp(image, to_image, output_shape=(CANVAS, CANVAS), order=1, preserve_range=True)
    return shape, crop.astype(np.uint8)


def score_candidates(query: PartProfile, candidates: Sequence[PartProfile]) -> pd.DataFrame:
    """The three scores of every candidate against the query (module docstring).

    Parameters
    ----------
    query : PartProfile
        The query's part.
    candidates : sequence of PartProfile
        The pool's parts.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, in the given order: ``specimen`` and :data:`SCORES`.
    """
    if not candidates:
        return pd.DataFrame(columns=["specimen", *SCORES])
    return pd.DataFrame(
        {
            "specimen": [c.specimen for c in candidates],
            "trait_distance": trait_distances(query, candidates),
            "shape_iou": [best_flip_iou(query.shape, c.shape) for c in candidates],
            "appearance_similarity": [
                float(np.max(c.appearance @ query.appearance[0])) for c in candidates
            ],
        }
    )


def trait_distances(query: PartProfile, candidates: Sequence[PartProfile]) -> np.ndarray:
    """Distance of every candidate's trait vector to the query's, the groups weighed alike.

    Each trait is divided by its spread (median absolute deviation, else standard deviation)
    over the query and the pool, so no unit dominates; the distance is the sum over the shape,
    size and colour groups of the root-mean-square difference within the group. The size
    group is left out when the parts' areas are in different units.

    Parameters
    ----------
    query : PartProfile
        The query.
    candidates : sequence of PartProfile
        The pool.

    Returns
    -------
    numpy.ndarray
        One distance per candidate.
    """
    groups = [SHAPE_TRAITS, COLOUR_TRAITS]
    if all(c.area_unit == query.area_unit for c in candidates):
        groups.append(("log_area",))
    total = np.zeros(len(candidates))
    for group in groups:
        values = np.array([[p.traits[t] for t in group] for p in [query, *candidates]])
        spread = 1.4826 * np.median(np.abs(values - np.median(values, axis=0)), axis=0)
        spread = np.where(spread > 1e-9, spread, values.std(axis=0))
        spread = np.where(spread > 1e-9, spread, 1.0)
        scaled = values / spread
        total += np.sqrt(np.mean((scaled[1:] - scaled[0]) ** 2, axis=1))
    return total


def best_flip_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two aligned masks, best over ``b``'s four flips (the axis' two ends, mirrored).

    Parameters
    ----------
    a, b : numpy.ndarray
        (CANVAS, CANVAS) bool.

    Returns
    -------
    float
        The best IoU.
    """
    best = 0.0
    for flipped in _flips(b):
        union = np.logical_or(a, flipped).sum()
        best = max(best, float(np.logical_and(a, flipped).sum() / union) if union else 0.0)
    return best


def combine_by_rank(scores: pd.DataFrame, order: str = "similar") -> pd.DataFrame:
    """Rank the candidates under each score and by the mean of those ranks.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`score_candidates`'s table, with :data:`CYCLE_SCORE` where it was computed (it
        is ranked too, higher closer); any further columns are kept.
    order : str
        ``similar`` (the closest first) or ``dissimilar`` (the farthest first).

    Returns
    -------
    pandas.DataFrame
        ``scores`` with ``rank_<score>`` (1 the closest, ties share the mean rank),
        ``combined_rank`` (their median) and ``mean_rank`` columns, sorted by ``order``, ties
        by ``mean_rank``, ``trait_distance``, then specimen; ``rank`` the position in that
        order, first.

    Raises
    ------
    RetrievalError
        If ``order`` is unknown.
    """
    if order not in ORDERS:
        raise RetrievalError(f"retrieve.order is {order!r}; use one of {list(ORDERS)}")
    table = scores.copy()
    present = [s for s in (*SCORES, CYCLE_SCORE) if s in table]
    for score in present:
        ascending = score == "trait_distance"  # a distance: lower is closer
        table[f"rank_{score}"] = table[score].rank(ascending=ascending, method="average")
    ranks = table[[f"rank_{s}" for s in present]]
    table["combined_rank"] = ranks.median(axis=1)
    table["mean_rank"] = ranks.mean(axis=1)
    similar = order == "similar"
    table = table.sort_values(
        ["combined_rank", "mean_rank", "trait_distance", "specimen"],
        ascending=[similar, similar, similar, True],
        kind="stable",
    ).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def largest_piece(mask: np.ndarray) -> np.ndarray:
    """The mask's largest 8-connected piece (a stray pixel should not turn the axis).

    Parameters
    ----------
    mask : numpy.ndarray
        (H, W) bool.

    Returns
    -------
    numpy.ndarray
        (H, W) bool; ``mask`` itself when it is empty.
    """
    pieces, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count <= 1:
        return np.asarray(mask, dtype=bool)
    sizes = np.bincount(pieces.ravel())[1:]
    return pieces == (int(np.argmax(sizes)) + 1)


def _thumbnail(image: np.ndarray, mask: np.ndarray, bbox) -> tuple[np.ndarray, np.ndarray]:
    """The part's box, padded by a fifth, shrunk to THUMBNAIL px at most, and its mask."""
    top, left, bottom, right = bbox
    pad = int(0.2 * max(bottom - top, right - left)) + 2
    top, left = max(top - pad, 0), max(left - pad, 0)
    bottom, right = min(bottom + pad, mask.shape[0]), min(right + pad, mask.shape[1])
    crop, part = image[top:bottom, left:right], mask[top:bottom, left:right]
    step = max(1, int(np.ceil(max(crop.shape[:2]) / THUMBNAIL)))
    return np.ascontiguousarray(crop[::step, ::step, :3]), part[::step, ::step]


def _flips(array: np.ndarray) -> list[np.ndarray]:
    return [array, array[:, ::-1], array[::-1], array[::-1, ::-1]]


def _hog(grey: np.ndarray) -> np.ndarray:
    vector = hog(grey, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2))
    return vector / max(np.linalg.norm(vector), 1e-12)
