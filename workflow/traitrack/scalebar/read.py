"""The text next to a scale bar, enlarged and read by OCR.

OCR is RapidOCR (``rapidocr-onnxruntime``: PaddleOCR's PP-OCRv4 detection and recognition
networks in ONNX, shipped inside the wheel, so it works offline and installs with pip). The
region searched is a box around the bar, as tall above and below it as half the bar is long and
half a bar wider on each side, enlarged so that the box is about 200 px tall; the detector finds
the lines of text in it, and the line nearest to the bar (above, below or beside it) whose text
parses as a length is the label. A line split into several boxes ("1" and "mm") is joined.
Where the detector finds no label with a unit (text a few pixels high, a leg across it), the
line is found by its ink and read by recognition alone (:mod:`traitrack.scalebar.ink`); a
detector read scored below :data:`CONFIRM_BELOW` is checked by that reader too.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

import cv2
import numpy as np

from traitrack.scalebar.detect import BarCandidate
from traitrack.scalebar.ink import ink_lines, read_ink_line
from traitrack.scalebar.parse import Label, parse_label


@dataclass(frozen=True)
class TextRead:
    """The label read next to a bar.

    Attributes
    ----------
    text : str
        What OCR read (the joined line), empty when nothing.
    score : float
        OCR's confidence in it, 0..1 (the lowest of the joined boxes).
    label : Label or None
        The parsed length, None when the text has none.
    box : tuple of float
        ``(left, top, right, bottom)`` of the line in image pixels; zeros when nothing.
    disagreement : str
        Another reading of the same label that gave another length ("" when none).
    """

    text: str
    score: float
    label: Label | None
    box: tuple[float, float, float, float]
    disagreement: str = ""


NOTHING = TextRead("", 0.0, None, (0.0, 0.0, 0.0, 0.0))


# the text detector's input size (its shorter side, px): small first (fast), larger when the
# small one found no label (small text; 0.25 s and 1.1 s per image on one thread)
DETECTOR_SIDES = (320, 736)
# a read with a unit but an OCR score below this is checked by the ink reader
CONFIRM_BELOW = 0.9


@functools.cache
def rapidocr_engine(threads: int = 1, detector_side: int = 320):
    """RapidOCR with its bundled models, on ``threads`` CPU threads (made once per process).

    ``detector_side`` is the shorter side the text detector resizes its input to.

    Raises
    ------
    ImportError
        When ``rapidocr-onnxruntime`` is not installed, with the command that installs it.
    """
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as error:  # pragma: no cover - the pinned set-up installs it
        raise ImportError(
            "calibrate reads scale-bar labels with rapidocr-onnxruntime: install it with "
            "`pip install --no-deps rapidocr-onnxruntime==1.4.4` and the pins of "
            "envs/requirements.txt (see the Makefile)"
        ) from error
    return RapidOCR(
        intra_op_num_threads=threads,
        inter_op_num_threads=1,
        det_limit_side_len=detector_side,
        print_verbose=False,
    )


def text_region(bar: BarCandidate, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the box searched for the bar's label (pixels).

    Half a bar and two thicknesses beyond its ends, and across it as far as 0.45 bar (a
    vertical bar's label beside it is written across: as far as a bar)."""
    height, width = shape[:2]
    x0, y0, x1, y1 = bar.box
    along = 0.5 * bar.length + 2 * bar.thickness
    reach = max(5 * bar.thickness, 0.45 * bar.length, 8.0)
    if bar.orientation == "vertical":
        reach = max(reach, bar.length)
        x0, y0, x1, y1 = x0 - reach, y0 - along, x1 + reach, y1 + along
    else:
        x0, y0, x1, y1 = x0 - along, y0 - reach, x1 + along, y1 + reach
    left, top = int(max(0, np.floor(x0))), int(max(0, np.floor(y0)))
    right, bottom = int(min(width, np.ceil(x1))), int(min(height, np.ceil(y1)))
    return left, top, right, bottom


def read_label(image: np.ndarray, bar: BarCandidate, *, engine=None) -> TextRead:
    """Read the label of ``bar`` in ``image``.

    Parameters
    ----------
    image : np.ndarray
        RGB uint8 image.
    bar : BarCandidate
        The bar.
    engine : callable or list of callables, optional
        An OCR engine called as RapidOCR is (``engine(rgb) -> (results, elapsed)`` with
        results ``[[box, text, score], ...]``), or several tried in turn; by default
        :func:`rapidocr_engine` at each of :data:`DETECTOR_SIDES` until one finds a label with
        a unit.

    Returns
    -------
    TextRead
        The nearest line that parses as a length, else the nearest line, else nothing. A
        label of 1 mm or more read at the small detector size is read again at the larger
        one: small text loses its "0." ("0.2 mm" read "2mm"), and when the second read finds
        another length, ``disagreement`` names it.
    """
    if isinstance(engine, list | tuple):
        engines = list(engine)
    else:
        engines = [engine] if engine else [rapidocr_engine(1, side) for side in DETECTOR_SIDES]
    reads = []
    for index, each in enumerate(engines):
        read = _read_once(image, bar, each)
        if read.label is not None and read.label.unit_read:
            if read.label.value_mm >= 1 and index + 1 < len(engines):
                check = _read_once(image, bar, engines[index + 1])
                if check.label is not None and check.label.value_mm != read.label.value_mm:
                    return dataclasses.replace(read, disagreement=check.text)
            if read.score < CONFIRM_BELOW:
                return _confirmed(image, bar, read, engines[0])
            return read
        reads.append(read)
    by_ink = _read_by_ink(image, bar, engines[0])
    if by_ink is not None:
        return by_ink
    return max(reads, key=lambda read: (read.label is not None, read.score))


def _confirmed(image: np.ndarray, bar: BarCandidate, read: TextRead, engine) -> TextRead:
    """An unsure read checked against the ink reader: the same length raises its score to the
    ink reader's (three reads out of four agree), another length is a disagreement, no
    ink reading leaves it as it is."""
    by_ink = _read_by_ink(image, bar, engine)
    if by_ink is None:
        return read
    if by_ink.label.value_mm != read.label.value_mm or by_ink.disagreement:
        return dataclasses.replace(read, disagreement=by_ink.disagreement or by_ink.text)
    return dataclasses.replace(read, score=max(read.score, by_ink.score))


def _read_by_ink(image: np.ndarray, bar: BarCandidate, engine) -> TextRead | None:
    """The label where the text detector found none with a unit: the nearest of three lines of
    ink that reads as a length with a unit (:mod:`traitrack.scalebar.ink`), else None."""
    for box in ink_lines(image, bar, text_region(bar, image.shape))[:3]:
        text, score, label, disagreement = read_ink_line(image, box, bar.polarity, engine)
        if label is not None:
            return TextRead(text, score, label, tuple(map(float, box)), disagreement)
    return None


def _read_once(image: np.ndarray, bar: BarCandidate, engine) -> TextRead:
    left, top, right, bottom = text_region(bar, image.shape)
    crop = np.ascontiguousarray(image[top:bottom, left:right, :3])
    if crop.size == 0:
        return NOTHING
    scale = float(np.clip(200.0 / crop.shape[0], 0.25, 8.0))
    enlarged = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    results, _ = engine(enlarged, use_cls=False)
    boxes = []
    for points, text, score in results or []:
        points = np.asarray(points, float) / scale
        x0, y0 = points.min(axis=0) + (left, top)
        x1, y1 = points.max(axis=0) + (left, top)
        boxes.append((float(x0), float(y0), float(x1), float(y1), str(text), float(score)))
    lines = [_with_number(image, line, engine) for line in _lines(boxes)]
    if not lines:
        return NOTHING
    lines.sort(key=lambda line: _distance(line.box, bar))
    for line in lines:
        if line.label is not None:
            return line
    return lines[0]


def _with_number(image: np.ndarray, line: TextRead, engine) -> TextRead:
    """A unit read without its number ("mm" where a leg crosses the "1") read again, the box
    widened by two line heights to the left, by recognition alone."""
    if line.label is not None or not _UNIT_ONLY.fullmatch(line.text.strip()):
        return line
    x0, y0, x1, y1 = line.box
    height = y1 - y0
    left = int(max(0, x0 - 2 * height))
    top = int(max(0, y0 - 0.2 * height))
    right = int(min(image.shape[1], x1 + 0.3 * height))
    bottom = int(min(image.shape[0], np.ceil(y1 + 0.2 * height)))
    crop = np.ascontiguousarray(image[top:bottom, left:right, :3])
    if crop.size == 0:
        return line
    scale = 48.0 / crop.shape[0]
    enlarged = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    results, _ = engine(enlarged, use_det=False, use_cls=False)
    if not results:
        return line
    text, score = str(results[0][0]), float(results[0][1])
    return TextRead(text, score, parse_label(text), (float(left), y0, float(right), y1))


_UNIT_ONLY = re.compile(r"(mm|µm|μm|um|cm|m)")


def _lines(boxes) -> list[TextRead]:
    """Boxes on one line (overlapping rows, gaps under a line height) joined, left to right."""
    boxes = sorted(boxes, key=lambda b: b[0])
    lines: list[list] = []
    for box in boxes:
        for line in lines:
            last = line[-1]
            overlap = min(last[3], box[3]) - max(last[1], box[1])
            height = max(last[3] - last[1], box[3] - box[1])
            if overlap > 0.5 * height and box[0] - last[2] < height:
                line.append(box)
                break
        else:
            lines.append([box])
    reads = []
    for line in lines:
        text = " ".join(b[4] for b in line)
        box = (min(b[0] for b in line), min(b[1] for b in line))
        box += (max(b[2] for b in line), max(b[3] for b in line))
        reads.append(TextRead(text, min(b[5] for b in line), parse_label(text), box))
    return reads


def _distance(box, bar: BarCandidate) -> float:
    """Gap between a text box and the bar (px), rows and columns outside each other."""
    x0, y0, x1, y1 = box
    left, top, right, bottom = bar.box
    dy = max(0.0, y0 - bottom, top - y1)
    dx = max(0.0, x0 - right, left - x1)
    return float(np.hypot(dx, dy))
