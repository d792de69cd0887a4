"""Scale-bar candidates in a photograph: straight, thin, uniform strokes, horizontal or upright.

A bar is thinner than the specimen's legs are long and darker (or lighter) than what lies just
above and below it. A vertical closing (opening for light bars) with a line taller than any bar
removes thin horizontal strokes and keeps what is tall (legs, pins, the body), so its difference
to the image (a top-hat) lights up bars, text and thin horizontal bits of the specimen but not
edges of cards or backgrounds. A horizontal opening of that mask keeps straight runs at least
``min_length`` long, which text never has; each surviving component is scored on its shape
(long, thin, of even thickness, filled) and on how even its grey level is (a bar is one colour,
a leg is not). End points come from the top-hat profile along the bar's core rows: the
half-contrast crossing at each end with linear interpolation, against the plateau next to that
end (a bar crossing from a dark to a light background keeps both ends sharp); ticks at the ends
count as part of the bar. An upright bar is found the same way on the transposed image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np


@dataclass(frozen=True)
class BarCandidate:
    """One bar found in an image.

    Its position is given along and across the bar: for a ``vertical`` bar, ``row`` is its
    centre column and ``left``/``right`` its top and bottom ends (it was found on the transposed
    image); :attr:`box` is in image coordinates for either.

    Attributes
    ----------
    polarity : str
        ``dark`` (a black bar on a lighter ground) or ``light``.
    row : float
        The bar's centre row (px).
    left, right : float
        Its ends (px, sub-pixel; pixel ``i`` spans ``[i, i+1)``).
    thickness : float
        Rows it covers (px).
    contrast : float
        Its median top-hat response (grey levels of 0-255).
    evenness : float
        1 minus the spread of its grey level relative to its contrast (1 = one colour).
    score : float
        Shape and evenness together, 0..1.
    orientation : str
        ``horizontal`` or ``vertical`` (upright).
    """

    polarity: str
    row: float
    left: float
    right: float
    thickness: float
    contrast: float
    evenness: float
    score: float
    orientation: str = "horizontal"

    @property
    def length(self) -> float:
        """The bar's length (px), end to end."""
        return self.right - self.left

    @property
    def top(self) -> float:
        """Its first row (px; its first column when vertical)."""
        return self.row - self.thickness / 2

    @property
    def bottom(self) -> float:
        """The row after its last (px; the column after its last when vertical)."""
        return self.row + self.thickness / 2

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` of the bar in image pixels, either orientation."""
        across = (self.row - self.thickness / 2, self.row + self.thickness / 2)
        if self.orientation == "vertical":
            return across[0], self.left, across[1], self.right
        return self.left, across[0], self.right, across[1]


def to_grey(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 image as float32 grey levels 0-255."""
    if image.ndim == 2:
        return image.astype(np.float32)
    return cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)


def _odd(value: float) -> int:
    value = int(round(value))
    return value + 1 - value % 2


def find_bars(
    image: np.ndarray,
    *,
    min_contrast: float = 24.0,
    max_thickness_fraction: float = 0.03,
    min_length_fraction: float = 0.05,
    keep: int = 6,
    orientation: str = "horizontal",
) -> list[BarCandidate]:
    """The likeliest scale bars of one orientation in an image, best first.

    Parameters
    ----------
    image : np.ndarray
        RGB uint8 (or grey) image.
    min_contrast : float
        Grey levels a bar must differ from what lies above and below it.
    max_thickness_fraction : float
        The thickest bar looked for, as a fraction of the image's shorter side (at least 4 px).
    min_length_fraction : float
        The shortest bar looked for, as a fraction of the image's side along the bar (at
        least 12 px).
    keep : int
        How many candidates to return.
    orientation : str
        ``horizontal`` or ``vertical``: upright bars are looked for on the transposed image.

    Returns
    -------
    list of BarCandidate
        Sorted by ``score``, highest first; empty when nothing bar-like is there.
    """
    grey = to_grey(image)
    if orientation == "vertical":
        grey = np.ascontiguousarray(grey.T)
    elif orientation != "horizontal":
        raise ValueError(f"orientation is horizontal or vertical, not {orientation!r}")
    height, width = grey.shape
    tall = _odd(max(9, 2 * max(4, max_thickness_fraction * min(height, width)) + 1))
    min_length = max(12, int(round(min_length_fraction * width)))
    column = np.ones((tall, 1), np.uint8)
    row_line = np.ones((1, min_length), np.uint8)
    candidates = []
    for polarity in ("dark", "light"):
        if polarity == "dark":
            response = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, column) - grey
        else:
            response = grey - cv2.morphologyEx(grey, cv2.MORPH_OPEN, column)
        mask = (response >= min_contrast).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, row_line)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for index in range(1, count):
            x, y, w, h, _area = stats[index]
            if w < min_length or h > tall // 2 + 1:
                continue
            candidate = _measure(grey, response, labels[y : y + h, x : x + w] == index, x, y)
            if candidate is not None:
                candidates.append(
                    BarCandidate(polarity, *candidate[:-1], score=candidate[-1])
                )  # fmt: skip
    if orientation == "vertical":
        candidates = [replace(c, orientation="vertical") for c in candidates]
    candidates.sort(key=lambda c: (-c.score, c.row, c.left))
    return _without_halos(candidates)[:keep]


def _without_halos(candidates: list[BarCandidate]) -> list[BarCandidate]:
    """Drop a stroke hugging a better one of the other polarity along the same span.

    Sharpened photographs ring: a black bar has a light line along it (and a white bar a dark
    one) of the same length, which is no bar of its own.
    """
    kept: list[BarCandidate] = []
    for candidate in candidates:  # best first
        hugs = any(
            other.polarity != candidate.polarity
            and abs(other.row - candidate.row) <= (other.thickness + candidate.thickness) / 2 + 2
            and min(other.right, candidate.right) - max(other.left, candidate.left)
            > 0.5 * candidate.length
            for other in kept
        )
        if not hugs:
            kept.append(candidate)
    return kept


def _measure(grey, response, component, x0, y0):
    """Core rows, sub-pixel ends and scores of one component; None if it is no bar."""
    h, w = component.shape
    coverage = component.sum(axis=1) / w
    if coverage.max() < 0.8:
        return None
    # core rows: those whose mean response reaches half the strongest row's, around it
    strength = response[y0 : y0 + h, x0 : x0 + w].mean(axis=1)
    peak = int(np.argmax(strength))
    first = last = peak
    while first > 0 and strength[first - 1] >= 0.5 * strength[peak]:
        first -= 1
    while last < h - 1 and strength[last + 1] >= 0.5 * strength[peak]:
        last += 1
    rows = np.arange(first, last + 1) + y0
    profile = response[rows].mean(axis=0)
    depth = len(rows)  # a blurred bar is thicker, and its ends ramp over as many pixels
    left = _end(profile, x0, step=-1, depth=depth)
    right = _end(profile, x0 + w - 1, step=+1, depth=depth)
    if left is None or right is None or right - left < 8:
        return None
    inner = slice(int(np.ceil(left)) + 1, int(np.floor(right)) - 1)
    plateau = profile[inner]
    contrast = float(np.median(plateau))
    levels = grey[rows, inner].mean(axis=0)
    spread = float(np.subtract(*np.percentile(levels, [90, 10])))
    evenness = float(np.clip(1 - spread / max(contrast, 1e-6), 0, 1))
    # thickness at half contrast along the bar's middle column profile
    thickness = _thickness(response, rows, inner, contrast)
    length = right - left
    elongation = length / max(thickness, 1.0)
    filled = float(np.mean(plateau >= 0.5 * contrast))
    shape = np.clip((elongation - 3) / 5, 0, 1) * filled**2
    score = float(shape * evenness**4 * min(1.0, contrast / 60))
    row = float(rows.mean() + 0.5)
    # the scores are those of the bar at full contrast; its ends may lie further on, fainter,
    # where the rows just above and below stay clear of it (a bar, not a leg)
    above, below = max(rows[0] - 1, 0), min(rows[-1] + 1, response.shape[0] - 1)
    flank = np.maximum(response[above], response[below])
    left = _end(profile, x0, step=-1, depth=depth, flank=flank)
    right = _end(profile, x0 + w - 1, step=+1, depth=depth, flank=flank)
    return row, left, right, thickness, contrast, evenness, score


def _thickness(response, rows, inner, contrast):
    top, bottom = rows[0], rows[-1]
    column = response[:, inner].mean(axis=1)
    half = contrast / 2
    thickness = float(bottom - top + 1)
    # fractional rows above and below the core that reach past half contrast
    for edge in (top - 1, bottom + 1):
        if 0 <= edge < len(column):
            thickness += float(np.clip((column[edge] - half) / max(half, 1e-6), 0, 1))
    return thickness


def _end(profile, start, *, step, depth=1, flank=None):
    """The sub-pixel end reached walking from inside the bar in direction ``step``.

    The half-level is half the plateau next to the end (the median of 6 px starting ``depth``
    px inside it, past the ramp of a blurred end), so a bar that crosses a change of
    background keeps its true end. With ``flank`` (the response of the rows next to the bar's),
    a bar that goes on fainter past that end ends where the fainter part does
    (:func:`_faded_end`).
    """
    size = len(profile)
    x = start
    # walk out from the component's own end while the response stays high
    for _ in range(3):
        near, far = x - depth * step, x - (depth + 6) * step
        inside = profile[max(0, min(near, far)) : max(near, far) + 1]
        inside = inside[inside > 0]
        if inside.size == 0:
            return None
        half = float(np.median(inside)) / 2
        while 0 <= x + step < size and profile[x + step] > half:
            x += step
        while 0 <= x < size and profile[x] <= half:
            x -= step  # the component may reach a pixel past the half-level
        if not 0 <= x + step < size:
            return float(size if step > 0 else 0)
    if flank is not None:
        x, half = _faded_end(profile, flank, x, step=step, half=half)
    a, b = profile[x], profile[x + step]
    crossing = x + step * (a - half) / (a - b)
    return float(crossing + 0.5)


def _faded_end(profile, flank, x, *, step, half, run=3, floor=6.0):
    """The end of a bar that goes on, fainter, past the half-level (``x``, ``half``).

    A bar that crosses onto a background of nearly its own grey level loses contrast there
    but not its shape: its response falls from the plateau to a lower, flat one before it
    ends. When at least ``run`` pixels past ``x`` stay above an eighth of the plateau (and
    ``floor`` grey levels) and their last ``run`` are flat (within a factor 1.5), the end is the
    half-crossing of that lower plateau, provided the rows next to the bar respond less than
    half as much there (a leg or a card's edge touching the end is as wide as it is dark).
    The ramp of a blurred end falls steadily: it is never flat over its last ``run`` pixels.
    """
    size = len(profile)
    end = x
    while 0 <= end + step < size and profile[end + step] > max(half / 4, floor):
        end += step
    if abs(end - x) < run or not 0 <= end + step < size:
        return x, half
    tail = profile[[end - k * step for k in range(run)]]
    if tail.max() > 1.5 * tail.min():
        return x, half
    span = slice(min(x, end) + 1, max(x, end) + 1)
    if np.median(flank[span]) > 0.5 * np.median(profile[span]):
        return x, half
    return end, float(np.median(tail)) / 2
