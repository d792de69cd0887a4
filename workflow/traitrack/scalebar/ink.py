"""A scale bar's label found by its ink and read by recognition alone.

RapidOCR's text detector misses labels a few pixels high and splits labels that a leg crosses.
Text printed with the bar is of the bar's colour: a dark bar's label is dark and colourless. On
the grey that hides colour (each pixel's brightest channel for a dark bar, its darkest for a
light one) an orange leg turns into background and the label stays. The ink is what stands
out from its local ground (a top-hat a few strokes wide, so shading is no ink) towards the
bar's level by more than ``INK_FRACTION`` of the bar's own top-hat; its components near
the bar (not the bar, not taller than the bar is long), grouped into lines, give the label's
box, which is cut out, enlarged by linear interpolation
(steadier than cubic on text 4-8 px high) to each of :data:`READ_HEIGHTS` and read by the
recognition network alone. The reads must agree: a label is taken when at least two reads
give the same length with a unit and none gives another.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np

from traitrack.scalebar.detect import BarCandidate
from traitrack.scalebar.parse import parse_label

INK_FRACTION = 0.25  # of the bar's top-hat
READ_HEIGHTS = (32, 48, 64)


def colourless(image: np.ndarray, polarity: str) -> np.ndarray:
    """Grey (float32) on which coloured things look like a light (``dark``) or dark ground."""
    rgb = image[..., :3].astype(np.float32)
    return rgb.max(axis=2) if polarity == "dark" else rgb.min(axis=2)


def ink_lines(
    image: np.ndarray, bar: BarCandidate, region: tuple[int, int, int, int]
) -> list[tuple[int, int, int, int]]:
    """Boxes ``(left, top, right, bottom)`` of lines of ink near ``bar``, nearest first.

    Parameters
    ----------
    image : np.ndarray
        RGB uint8 image.
    bar : BarCandidate
        The bar whose label is looked for.
    region : tuple of int
        ``(left, top, right, bottom)`` searched (:func:`traitrack.scalebar.read.text_region`).

    Returns
    -------
    list of tuple of int
        One box per line, with a pixel of margin, sorted by their gap to the bar.
    """
    left, top, right, bottom = region
    grey = colourless(image[top:bottom, left:right], bar.polarity)
    if grey.size == 0:
        return []
    # ink against its local ground (a top-hat wider than a stroke), so a shaded ground or a
    # card's edge is no ink; its level against the bar's own response
    size = int(max(7, 4 * bar.thickness)) | 1
    square = np.ones((size, size), np.uint8)
    if bar.polarity == "dark":
        response = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, square) - grey
    else:
        response = grey - cv2.morphologyEx(grey, cv2.MORPH_OPEN, square)
    bar_left, bar_top, bar_right, bar_bottom = bar.box
    bar_rows = slice(max(0, int(bar_top) - top), max(0, int(np.ceil(bar_bottom)) - top))
    bar_cols = slice(max(0, int(bar_left) - left), max(0, int(np.ceil(bar_right)) - left))
    on_bar = response[bar_rows, bar_cols]
    contrast = float(np.median(on_bar)) if on_bar.size else 0.0
    if contrast <= 0:
        return []
    ink = (response > INK_FRACTION * contrast).astype(np.uint8)
    # the bar itself (and a pixel around it) is no text
    rows = slice(max(0, bar_rows.start - 1), bar_rows.stop + 1)
    ink[rows, max(0, bar_cols.start - 1) : bar_cols.stop + 1] = 0
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    glyphs = [
        (x, y, x + w, y + h)
        for x, y, w, h, area in stats[1:count]
        if 2 <= h <= max(4.0, 0.5 * bar.length) and w <= bar.length and area >= 2
    ]
    lines = _group(glyphs)
    boxes = [
        (
            max(0, x0 + left - 1),
            max(0, y0 + top - 1),
            min(image.shape[1], x1 + left + 1),
            min(image.shape[0], y1 + top + 1),
        )
        for x0, y0, x1, y1 in lines
    ]
    return sorted(boxes, key=lambda box: _gap(box, bar))


def _group(glyphs):
    """Glyph boxes on one line (rows overlapping by half, gaps under a line height) joined."""
    lines: list[list[int]] = []
    for x0, y0, x1, y1 in sorted(glyphs):
        for line in lines:
            overlap = min(line[3], y1) - max(line[1], y0)
            height = max(line[3] - line[1], y1 - y0)
            if overlap >= 0.5 * min(line[3] - line[1], y1 - y0) and x0 - line[2] <= height:
                line[:] = [min(line[0], x0), min(line[1], y0), max(line[2], x1), max(line[3], y1)]
                break
        else:
            lines.append([x0, y0, x1, y1])
    # a line of text is wider than tall (a lone speck or a leg's stub is not)
    return [tuple(line) for line in lines if line[2] - line[0] >= 1.5 * (line[3] - line[1])]


def _gap(box, bar: BarCandidate) -> float:
    x0, y0, x1, y1 = box
    left, top, right, bottom = bar.box
    dy = max(0.0, y0 - bottom, top - y1)
    dx = max(0.0, x0 - right, left - x1)
    return float(np.hypot(dx, dy))


def read_ink_line(image: np.ndarray, box: tuple[int, int, int, int], polarity: str, engine):
    """Recognition-only reads of one line of ink at each of :data:`READ_HEIGHTS`.

    Returns
    -------
    tuple
        ``(text, score, label, disagreement)``: the agreed text with the lowest score of the
        agreeing reads and its parsed label; ``label`` None when fewer than two reads give a
        length with a unit; ``disagreement`` the text of a read giving another length.
    """
    x0, y0, x1, y1 = box
    crop = colourless(image[y0:y1, x0:x1], polarity)
    if crop.size == 0:
        return "", 0.0, None, ""
    crop = np.ascontiguousarray(np.repeat(np.clip(crop, 0, 255).astype(np.uint8)[..., None], 3, 2))
    reads = []
    for height in READ_HEIGHTS:
        scale = height / crop.shape[0]
        enlarged = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        results, _ = engine(enlarged, use_det=False, use_cls=False)
        if results:
            text, score = str(results[0][0]), float(results[0][1])
            reads.append((text, score, parse_label(text)))
    with_unit = [read for read in reads if read[2] is not None and read[2].unit_read]
    if not with_unit:
        best = max(reads, key=lambda read: read[1], default=("", 0.0, None))
        return best[0], best[1], None, ""
    votes = Counter(read[2].value_mm for read in with_unit)
    value, count = votes.most_common(1)[0]
    agreeing = [read for read in with_unit if read[2].value_mm == value]
    other = [read[0] for read in with_unit if read[2].value_mm != value]
    text, _, label = max(agreeing, key=lambda read: read[1])
    score = min(read[1] for read in agreeing)
    if count < 2:
        return text, score, None, ""
    return text, score, label, other[0] if other else ""
