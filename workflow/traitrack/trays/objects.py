"""What a tray's foreground components are: labels, scale bars, specimens, fragments.

A printed label is a light, nearly rectangular component (its text and its edge make it
foreground, its holes are filled); a scale bar is a long thin dark rectangle. Both are kept
out of the specimens and recorded with their boxes, the scale bar for calibration. What is
left is sorted by a size prior: components near the median size are specimens (or several
touching ones), small ones are fragments (a detached leg or antenna) given to the nearest
specimen when close enough, else dropped as dust.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class Excluded:
    """An object kept out of the specimens.

    Attributes
    ----------
    kind : str
        ``label``, ``scale_bar`` or ``line`` (a pin or a tray wall).
    box : tuple of int
        (x0, y0, x1, y1) in the photograph's pixels, x1 and y1 exclusive.
    """

    kind: str
    box: tuple[int, int, int, int]


def rectangle_shape(component: np.ndarray) -> tuple[float, float, float]:
    """Fill ratio (area / minimum rotated rectangle's area), elongation, short side."""
    points = cv2.findNonZero(component.astype(np.uint8))
    (_, _), (width, height), _ = cv2.minAreaRect(points)
    width, height = max(width, 1.0), max(height, 1.0)
    fill = float(component.sum()) / (width * height)
    return min(fill, 1.0), max(width, height) / min(width, height), min(width, height)


def classify_component(
    component: np.ndarray,
    lightness: np.ndarray,
    *,
    background_lightness: float,
    label_fill: float,
    bar_elongation: float,
    bar_fill: float,
    bar_min_width: float = 0.0,
) -> str:
    """``label``, ``scale_bar`` or ``object`` for one filled component.

    Parameters
    ----------
    component : numpy.ndarray
        The component's boolean mask (holes filled), cropped to its box.
    lightness : numpy.ndarray
        CIELab L of the same crop.
    background_lightness : float
        The background's L near the component.
    label_fill, bar_elongation, bar_fill : float
        A label fills at least ``label_fill`` of its rotated rectangle and is mostly light
        (its median L at least the background's minus 15, or above 75); a scale bar is at
        least ``bar_elongation`` times longer than wide and fills ``bar_fill`` (dark on a light
        tray, light on a dark one), and wider than ``bar_min_width`` (a thinner one is a line).
    """
    if component.sum() < 12:
        return "object"
    fill, elongation, short_side = rectangle_shape(component)
    median_lightness = float(np.median(lightness[component]))
    if elongation >= bar_elongation and fill >= bar_fill and short_side > bar_min_width:
        return "scale_bar"
    if fill >= label_fill and elongation < bar_elongation:
        if median_lightness >= min(background_lightness - 15, 75.0):
            return "label"
    return "object"


def attach_fragments(
    labels: np.ndarray, fragments: np.ndarray, *, max_distance: float
) -> np.ndarray:
    """Give each fragment component to the nearest specimen within ``max_distance``.

    Parameters
    ----------
    labels : numpy.ndarray
        The specimens' label map (0 background).
    fragments : numpy.ndarray
        Boolean mask of the small components.
    max_distance : float
        Farther fragments are dropped (dust, debris).

    Returns
    -------
    numpy.ndarray
        The label map with the attached fragments.
    """
    if not fragments.any() or labels.max() == 0:
        return labels
    distance, (rows, cols) = ndi.distance_transform_edt(labels == 0, return_indices=True)
    nearest = labels[rows, cols]
    pieces, count = ndi.label(fragments)
    out = labels.copy()
    for index, piece in enumerate(ndi.find_objects(pieces), start=1):
        inside = pieces[piece] == index
        gaps = distance[piece][inside]
        if gaps.min() <= max_distance:
            owner = nearest[piece][inside][np.argmin(gaps)]
            out[piece][inside] = owner
    return out
