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


def body_solidity(mask: np.ndarray, *, typical_area: float) -> float:
    """The solidity of the mask's body (``body_mask``), a small gap between pieces closed."""
    body = body_mask(mask, typical_area=typical_area).astype(np.uint8)
    body = cv2.morphologyEx(np.pad(body, 3), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return solidity(body > 0)


def one_specimen(
    labels: np.ndarray, first: int, second: int, *, typical_area: float, min_solidity: float
) -> bool:
    """Whether instances ``first`` and ``second`` of ``labels`` are pieces of one specimen.

    True when their union's body is compact: its solidity (``body_solidity``) is at least
    ``min_solidity``. A beetle cut at its waist joins into a nearly convex body (0.75-0.92 on
    the benchmark's tuning trays); two beetles touching or lying near each other leave bays
    between them (0.46-0.73).
    """
    union = (labels == first) | (labels == second)
    rows, cols = np.nonzero(union)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    return body_solidity(union[box], typical_area=typical_area) >= min_solidity


def looks_like_several(mask: np.ndarray, *, typical_area: float, min_solidity: float) -> bool:
    """Whether one component is more likely several touching specimens than one.

    At least 1.5 times the typical area and a body less compact than ``min_solidity``.
    """
    return bool(mask.sum() >= 1.5 * typical_area) and (
        body_solidity(mask, typical_area=typical_area) < min_solidity
    )
