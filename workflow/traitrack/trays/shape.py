"""Whether pieces of foreground are one specimen or several: evidence from their shape.

A beetle's mask often falls into two pieces at the working scale (its forebody and its
elytra, where the waist is thin or pale), and two small beetles touching look, by area alone,
like one specimen. Shape tells them apart once the legs and antennae are opened away
(``body_mask``): the body of one specimen is compact, nearly convex, so the union of its two
pieces fills most of its convex hull; two specimens side by side or end to end leave large
concave bays between them. The solidity of the union's body (``body_solidity``) is the
evidence used to join two pieces (``one_specimen``) and to split a component that holds two
specimens (``looks_like_several``).
"""

from __future__ import annotations

import cv2
import numpy as np

BODY_OPENING = 0.06
"""Radius of the opening that takes legs and antennae off, times sqrt(typical area)."""

MAX_ELONGATION = 4.0
"""Longest body of one specimen, length over width (the square root of the ratio of its
second moments): beetles reach about 3.4, two lying end to end 3.7-5 on the tuning trays."""

MIN_ELONGATION = 1.5
"""Shortest body two pieces may join into: a beetle is longer than wide (its joined pieces
2.2-3.4 on the tuning trays), two beetles side by side are about as wide as long."""


def body_mask(mask: np.ndarray, *, typical_area: float) -> np.ndarray:
    """The mask with its thin parts (legs, antennae, a touching leg) opened away.

    The opening's disc has a radius of ``BODY_OPENING`` times the square root of the typical
    specimen area (at least one pixel): thinner than a beetle's pronotum, thicker than its legs.
    """
    radius = max(1, round(BODY_OPENING * np.sqrt(typical_area)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    padded = np.pad(mask.astype(np.uint8), radius + 1)
    opened = cv2.morphologyEx(padded, cv2.MORPH_OPEN, disc)
    return opened[radius + 1 : -radius - 1, radius + 1 : -radius - 1] > 0


def solidity(mask: np.ndarray) -> float:
    """Area over the convex hull's area (with half its perimeter, so that a one-pixel-wide
    shape is not 'convex'); 0 for an empty mask."""
    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is None:
        return 0.0
    hull = cv2.convexHull(points)
    return float(mask.sum()) / max(1.0, cv2.contourArea(hull) + 0.5 * cv2.arcLength(hull, True))


def elongation(mask: np.ndarray) -> float:
    """Length over width of a mask: the square root of the ratio of its second moments."""
    rows, cols = np.nonzero(mask)
    if len(rows) < 3:
        return 1.0
    values = np.linalg.eigvalsh(np.cov(np.stack([rows, cols]).astype(np.float64)))
    return float(np.sqrt(values[-1] / max(values[0], 1e-9)))


def body_solidity(mask: np.ndarray, *, typical_area: float) -> float:
    """The solidity of the mask's body (``body_mask``), a small gap between pieces closed."""
    return solidity(_closed_body(mask, typical_area))


def body_shape(mask: np.ndarray, *, typical_area: float) -> tuple[float, float]:
    """The body's (``body_mask``, a small gap closed) solidity and elongation."""
    body = _closed_body(mask, typical_area)
    return solidity(body), elongation(body) if body.any() else 1.0


def _closed_body(mask: np.ndarray, typical_area: float) -> np.ndarray:
    body = body_mask(mask, typical_area=typical_area).astype(np.uint8)
    return cv2.morphologyEx(np.pad(body, 3), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0


def union_shape(
    labels: np.ndarray, first: int, second: int, *, typical_area: float
) -> tuple[float, float]:
    """The body's solidity and elongation (``body_shape``) of instances ``first`` and
    ``second`` of ``labels`` together, on the union's box."""
    union = (labels == first) | (labels == second)
    rows, cols = np.nonzero(union)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    return body_shape(union[box], typical_area=typical_area)


def is_one_body(solid: float, long: float, *, min_solidity: float) -> bool:
    """Whether a body of that solidity and elongation is one specimen's: solidity at least
    ``min_solidity``, elongation between ``MIN_ELONGATION`` and ``MAX_ELONGATION``."""
    return solid >= min_solidity and MIN_ELONGATION <= long <= MAX_ELONGATION


def one_specimen(
    labels: np.ndarray, first: int, second: int, *, typical_area: float, min_solidity: float
) -> bool:
    """Whether instances ``first`` and ``second`` of ``labels`` are pieces of one specimen.

    True when their union's body is compact and shaped like one specimen's
    (``union_shape``, ``is_one_body``). A beetle cut at its waist joins into a nearly convex
    body (solidity 0.75-0.92 on the benchmark's tuning trays); two beetles touching or lying
    near each other leave bays between them (0.46-0.73).
    """
    shape = union_shape(labels, first, second, typical_area=typical_area)
    return is_one_body(*shape, min_solidity=min_solidity)


def looks_like_several(mask: np.ndarray, *, typical_area: float, min_solidity: float) -> bool:
    """Whether one component is more likely several touching specimens than one.

    At least 1.3 times the typical area, and a body less compact than ``min_solidity`` or
    longer than ``MAX_ELONGATION`` (two beetles end to end).
    """
    if mask.sum() < 1.3 * typical_area:
        return False
    solid, long = body_shape(mask, typical_area=typical_area)
    return solid < min_solidity or long > MAX_ELONGATION
