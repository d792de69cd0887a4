"""A label that the other readers left unsure, read many ways and taken only when nearly all
reads agree.

Where the text detector and the ink reader (:mod:`traitrack.scalebar.ink`) leave a label
unsure (not read, read with a low score, or two reads giving different lengths: a small "0.2 mm"
read "2mm" by the detector and "0.2mm" by the ink reader), the line of ink nearest to the bar is
read by recognition alone in :data:`VARIANTS` ways: enlarged to each of :data:`READ_HEIGHTS`
with each of :data:`INTERPOLATIONS`, as it is and with its contrast stretched. A length is taken
when at least :data:`QUORUM` of all the reads give it with a unit, at least :data:`AGREEMENT` of
those giving any length with a unit give this one, and it is a usual length; its score is the
share of all reads that give it. On labels 3-4 px high (illegible by eye too) the reads scatter
and nothing is taken.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np

from traitrack.scalebar.detect import BarCandidate
from traitrack.scalebar.ink import colourless, ink_lines
from traitrack.scalebar.parse import parse_label

READ_HEIGHTS = (24, 32, 40, 48, 64, 80)
INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4, cv2.INTER_NEAREST)
VARIANTS = 2 * len(READ_HEIGHTS) * len(INTERPOLATIONS)
QUORUM = 0.5  # of all reads
AGREEMENT = 0.9  # of the reads that give a length with a unit


def vote_read(image: np.ndarray, bar: BarCandidate, region, engine):
    """The label of ``bar`` by a vote of :data:`VARIANTS` recognition-only reads.

    Parameters
    ----------
    image : np.ndarray
        RGB uint8 image.
    bar : BarCandidate
        The bar whose label is read.
    region : tuple of int
        ``(left, top, right, bottom)`` searched (:func:`traitrack.scalebar.read.text_region`).
    engine : callable
        RapidOCR (or one called as it is), used with ``use_det=False``.

    Returns
    -------
    tuple or None
        ``(text, share, label, box, count, reads)``: the most frequent agreeing text, the share
        of all reads giving its length, the parsed label, the line's box in image pixels, and
        how many of how many reads gave it; None when the vote settles nothing.
    """
    lines = ink_lines(image, bar, region)
    if not lines:
        return None
    x0, y0, x1, y1 = lines[0]  # the nearest line, a pixel wider on each side
    x0, y0 = max(0, x0 - 1), max(0, y0 - 1)
    x1, y1 = min(image.shape[1], x1 + 1), min(image.shape[0], y1 + 1)
    crop = np.clip(colourless(image[y0:y1, x0:x1], bar.polarity), 0, 255).astype(np.uint8)
    if crop.size == 0:
        return None
    stretched = cv2.normalize(crop, None, 0, 255, cv2.NORM_MINMAX)
    variants = [
        (grey, height, interpolation)
        for grey in (crop, stretched)
        for height in READ_HEIGHTS
        for interpolation in INTERPOLATIONS
    ]
    with_unit, values = [], Counter()
    for done, (grey, height, interpolation) in enumerate(variants):
        if max(values.values(), default=0) + len(variants) - done < QUORUM * VARIANTS:
            return None  # no length can reach the quorum any more
        rgb = np.ascontiguousarray(np.repeat(grey[..., None], 3, 2))
        scale = height / rgb.shape[0]
        enlarged = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=interpolation)
        results, _ = engine(enlarged, use_det=False, use_cls=False)
        label = parse_label(str(results[0][0])) if results else None
        if label is not None and label.unit_read:
            with_unit.append((str(results[0][0]), label))
            values[label.value_mm] += 1
    if not with_unit:
        return None
    value, count = values.most_common(1)[0]
    if count < QUORUM * VARIANTS or count < AGREEMENT * len(with_unit):
        return None
    agreeing = [(text, label) for text, label in with_unit if label.value_mm == value]
    text = Counter(text for text, _ in agreeing).most_common(1)[0][0]
    label = next(label for each, label in agreeing if each == text)
    if not label.usual:
        return None
    box = (float(x0), float(y0), float(x1), float(y1))
    return text, count / VARIANTS, label, box, count, VARIANTS
