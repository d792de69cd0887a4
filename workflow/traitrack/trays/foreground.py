"""The tray's foreground: a background model from the border, colour distance, edges, lines.

Everything here works on the reduced working image (``working_image``). The background is a
plane per CIELab channel fitted to the tray's border strip (robust to a few specimens or a
label touching the border, and to a lighting gradient across the tray); a pixel is foreground
where its colour is far from that plane, or where it sits on a strong edge and is moderately
far. Long straight thin lines (pins seen from the side, tray walls, threads) are found with a
probabilistic Hough transform on the thin part of the foreground and taken out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage import morphology


@dataclass(frozen=True)
class BackgroundModel:
    """A plane per CIELab channel, ``value = a + b * x + c * y`` in working pixels.

    Attributes
    ----------
    coefficients : numpy.ndarray
        (3, 3): per channel (L, a, b) the plane's (a, b, c).
    threshold : float
        The colour distance (Delta E) above which a pixel is foreground.
    """

    coefficients: np.ndarray
    threshold: float

    def evaluate(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The modelled background at working coordinates, (len(rows), len(cols), 3)."""
        yy, xx = np.meshgrid(rows.astype(np.float32), cols.astype(np.float32), indexing="ij")
        planes = [c[0] + c[1] * xx + c[2] * yy for c in self.coefficients]
        return np.stack(planes, axis=-1).astype(np.float32)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 -> CIELab float32 (L in 0-100)."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def working_image(image: np.ndarray, *, working_megapixels: float) -> tuple[np.ndarray, float]:
    """The image reduced (area averaging) to at most ``working_megapixels``, and the scale."""
    height, width = image.shape[:2]
    scale = min(1.0, float(np.sqrt(working_megapixels * 1e6 / (height * width))))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def fit_background(
    lab: np.ndarray, *, border_fraction: float, min_delta_e: float, noise_factor: float
) -> BackgroundModel:
    """Fit the background plane to the border strip, and the foreground threshold.

    The fit is repeated once without the border pixels far from the first fit (a specimen, a
    label or a line reaching the border). The threshold is ``noise_factor`` times the 95th
    percentile of the remaining border pixels' distance, and at least ``min_delta_e``.
    """
    height, width = lab.shape[:2]
    band = max(2, round(border_fraction * min(height, width)))
    border = np.zeros((height, width), bool)
    border[:band] = border[-band:] = True
    border[:, :band] = border[:, -band:] = True
    rows, cols = np.nonzero(border)
    values = lab[rows, cols].astype(np.float64)
    design = np.stack([np.ones_like(rows), cols, rows], axis=1).astype(np.float64)
    keep = np.ones(len(rows), bool)
    for _ in range(2):
        coefficients, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        distance = np.linalg.norm(values - design @ coefficients, axis=1)
        keep = distance <= max(3.0 * np.median(distance), min_delta_e / 2)
    threshold = max(min_delta_e, noise_factor * float(np.percentile(distance[keep], 95)))
    return BackgroundModel(coefficients.T.astype(np.float32), threshold)


def colour_distance(lab: np.ndarray, model: BackgroundModel, rows, cols) -> np.ndarray:
    """Delta E of every pixel of a (crop of the) working-scale Lab image from the model."""
    return np.linalg.norm(lab - model.evaluate(rows, cols), axis=-1)


def foreground_mask(
    lab: np.ndarray, model: BackgroundModel, *, edge_threshold: float, min_hole: int
) -> np.ndarray:
    """Foreground of the working image: far in colour, or on an edge and half as far.

    Small holes are filled (a specimen's reflection), and larger ones whose mean distance is
    above half the threshold, so that what follows sees solid bodies.
    """
    height, width = lab.shape[:2]
    distance = colour_distance(lab, model, np.arange(height), np.arange(width))
    distance = cv2.GaussianBlur(distance, (0, 0), 0.7)
    lightness = lab[..., 0]
    edges = np.hypot(cv2.Sobel(lightness, cv2.CV_32F, 1, 0), cv2.Sobel(lightness, cv2.CV_32F, 0, 1))
    mask = (distance > model.threshold) | (
        (edges > edge_threshold) & (distance > model.threshold / 2)
    )
    mask = ndi.binary_opening(mask, np.ones((2, 2), bool))
    mask = morphology.remove_small_holes(mask, max_size=min_hole)
    # larger holes are filled too where they are not plainly background: the low-contrast
    # middle of a dark specimen on a dark tray, not the tray seen through a leg's loop
    holes, count = ndi.label(ndi.binary_fill_holes(mask) & ~mask)
    if count:
        means = ndi.mean(distance, holes, np.arange(1, count + 1))
        mask |= np.isin(holes, np.flatnonzero(means > model.threshold / 2) + 1)
    return mask


@dataclass(frozen=True)
class Line:
    """A long straight thin object: its end points (x0, y0, x1, y1) and width, working pixels."""

    x0: int
    y0: int
    x1: int
    y1: int
    width: int


def remove_lines(
    mask: np.ndarray, *, min_length_fraction: float, max_width: int
) -> tuple[np.ndarray, list[Line], np.ndarray]:
    """Take long straight thin lines out of the foreground.

    Only the thin part of the foreground (what an opening with a disk of radius
    ``max_width`` removes; the foreground mask is about twice as wide as the line drawn) can be
    a line, so a line crossing a specimen is cut where it is
    thin and the specimen stays whole.

    Returns
    -------
    (numpy.ndarray, list of Line, numpy.ndarray)
        The foreground without the lines, the lines, and the removed pixels.
    """
    disk = morphology.disk(max_width).astype(np.uint8)
    thick = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disk) > 0
    thin = mask & ~thick
    min_length = round(min_length_fraction * max(mask.shape))
    found = cv2.HoughLinesP(
        thin.astype(np.uint8) * 255,
        rho=1,
        theta=np.pi / 360,
        threshold=max(10, min_length // 2),
        minLineLength=min_length,
        maxLineGap=min_length,
    )
    drawn = np.zeros(mask.shape, np.uint8)
    lines = []
    for segment in [] if found is None else found.reshape(-1, 4):
        x0, y0, x1, y1 = _extended(segment, mask.shape)
        if any(_same_line(line, (x0, y0, x1, y1), max_width) for line in lines):
            continue
        cv2.line(drawn, (x0, y0), (x1, y1), 1, thickness=2 * max_width + 3)
        lines.append(Line(x0, y0, x1, y1, max_width))
    removed = thin & (drawn > 0)
    if removed.any():
        # the line's whole thin component along the drawn band, not just the band's core
        removed = ndi.binary_dilation(removed, iterations=1) & thin
    return mask & ~removed, lines, removed


def _extended(segment, shape) -> tuple[int, int, int, int]:
    """A segment extended to the image's border (a pin or a wall goes on past a specimen)."""
    x0, y0, x1, y1 = (float(v) for v in segment)
    height, width = shape
    if abs(x1 - x0) >= abs(y1 - y0):
        slope = (y1 - y0) / (x1 - x0)
        return 0, round(y0 - slope * x0), width - 1, round(y0 + slope * (width - 1 - x0))
    slope = (x1 - x0) / (y1 - y0)
    return round(x0 - slope * y0), 0, round(x0 + slope * (height - 1 - y0)), height - 1


def _same_line(line: Line, ends, tolerance: int) -> bool:
    """Whether two border-to-border lines are the same within ``tolerance`` pixels."""
    mine = np.array([line.x0, line.y0, line.x1, line.y1])
    return bool(np.abs(mine - np.array(ends)).max() <= 2 * tolerance)
