"""A photograph's pixel size from its scale bar, with a confidence and a status.

Status (one per specimen):

- ``ok``: a bar and a label that parses with a unit to a usual length, confident enough;
- ``uncertain``: a bar, but its label is unread, has no unit, is an unusual length, or the
  confidence is low; the px_per_mm is written but not used unless the config says so;
- ``no_bar``: nothing bar-like;
- ``outlier``: ``ok`` on its own, but its px_per_mm disagrees with the species' other ``ok``
  specimens (:func:`flag_outliers`).

Confidence = OCR score x bar shape score (up to 1 at 0.3) x 0.45 without a unit x 0.4 for an
unusual length x 0.9 when characters were repaired; 0 when two reads of the label (at two
sizes of the text detector) give different lengths. A label left below ``min_confidence`` that
way is read again many ways (:mod:`traitrack.scalebar.vote`): when nearly all reads agree, the
share giving its length replaces the OCR score. A wrong value needs OCR to misread a digit
confidently into another usual length with its unit; the species check is what catches those.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from traitrack.scalebar.detect import BarCandidate, find_bars
from traitrack.scalebar.read import NOTHING, TextRead, rapidocr_engine, read_label, text_region
from traitrack.scalebar.vote import vote_read

STATUSES = ("ok", "uncertain", "no_bar", "outlier")


@dataclass
class ScaleReading:
    """One specimen's scale bar as read (a row of ``scale.tsv`` less the specimen's names).

    Attributes
    ----------
    px_per_mm : float
        Bar length / value (NaN without both).
    bar_left_x_px, bar_right_x_px, bar_y_px : float
        A horizontal bar's ends and row (NaN without one).
    bar_x_px, bar_top_y_px, bar_bottom_y_px : float
        A vertical bar's column and ends (NaN without one).
    bar_length_px, bar_thickness_px : float
        The bar's length and thickness (NaN without a bar).
    bar_orientation : str
        ``horizontal`` or ``vertical`` ("" without a bar).
    bar_polarity : str
        ``dark`` or ``light`` ("" without a bar).
    text : str
        What OCR read next to the bar.
    value, unit : float, str
        The label's number and unit (as printed, after repairs).
    value_mm : float
        The bar's length in mm (from the label or the sheet's ``scale_bar_mm``).
    confidence : float
        0..1, see the module's docstring.
    status : str
        One of :data:`STATUSES`.
    note : str
        Why the status is not ``ok``; for a label settled by vote, how many reads gave it.
    """

    px_per_mm: float = math.nan
    bar_left_x_px: float = math.nan
    bar_right_x_px: float = math.nan
    bar_y_px: float = math.nan
    bar_length_px: float = math.nan
    bar_thickness_px: float = math.nan
    bar_x_px: float = math.nan
    bar_top_y_px: float = math.nan
    bar_bottom_y_px: float = math.nan
    bar_orientation: str = ""
    bar_polarity: str = ""
    text: str = ""
    value: float = math.nan
    unit: str = ""
    value_mm: float = math.nan
    confidence: float = 0.0
    status: str = "no_bar"
    note: str = ""
    text_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def row(self) -> dict:
        """The reading as a table row (the text box as four columns)."""
        row = asdict(self)
        box = row.pop("text_box")
        for name, value in zip(("left", "top", "right", "bottom"), box, strict=True):
            row[f"text_{name}_px"] = value
        return row


def _label_confidence(read: TextRead, bar: BarCandidate) -> tuple[float, str]:
    label = read.label
    if label is None:
        return 0.0, "label not read" if not read.text else f"no length in {read.text!r}"
    if read.disagreement:
        return 0.0, f"reads disagree: {read.text!r} and {read.disagreement!r}"
    confidence = read.score * min(1.0, bar.score / 0.3)
    notes = []
    if not label.unit_read:
        confidence *= 0.45
        notes.append("no unit")
    if not label.usual:
        confidence *= 0.4
        notes.append("unusual length")
    if label.repaired:
        confidence *= 0.9
    return confidence, ", ".join(notes)


def read_scale(
    image: np.ndarray,
    *,
    bar_mm: float | None = None,
    min_confidence: float = 0.5,
    candidates: int = 3,
    engine=None,
    within: tuple[float, float, float, float] | None = None,
) -> ScaleReading:
    """Find the scale bar of an image and read its length.

    Horizontal bars are read first; upright (vertical) ones only when no horizontal bar's
    label reaches ``min_confidence``, and they replace it only when theirs does (or when there
    is no horizontal bar).

    Parameters
    ----------
    image : np.ndarray
        RGB uint8 image.
    bar_mm : float, optional
        The bar's length in mm when the collection always uses one (the sheet's
        ``scale_bar_mm``): then no text is read and the best bar is taken.
    min_confidence : float
        Below it the reading is ``uncertain``.
    candidates : int
        How many of the best bars to read text next to, best bar first: the first whose label
        reaches ``min_confidence`` wins, else the one with the most confident label.
    engine : callable, optional
        The OCR engine (:func:`traitrack.scalebar.read.read_label`).
    within : tuple of float, optional
        ``(left, top, right, bottom)``: only bars whose centre lies in this box (a scale bar's
        box found beforehand, as a tray's split does), up to 1.5 times as thick as it.

    Returns
    -------
    ScaleReading
    """
    horizontal = _bars(image, within, "horizontal")
    if bar_mm is not None:
        bars = horizontal or _bars(image, within, "vertical")
        if not bars:
            return ScaleReading(note="no bar-like stroke")
        confidence = min(1.0, bars[0].score / 0.3)
        return _reading(bars[0], NOTHING, bar_mm, confidence, min_confidence, "")
    best = _best_label(image, horizontal[:candidates], min_confidence, engine)
    if best is None or best[2] < min_confidence:  # upright bars only where no level one reads
        vertical = _best_label(
            image,
            _bars(image, within, "vertical")[:candidates],
            min_confidence,
            engine,
            level=horizontal[:candidates],
        )
        if vertical is not None and (best is None or vertical[2] >= min_confidence):
            best = vertical
    if best is None:
        return ScaleReading(note="no bar-like stroke")
    bar, read, confidence, note = best
    value_mm = read.label.value_mm if read.label is not None else math.nan
    return _reading(bar, read, value_mm, confidence, min_confidence, note)


def _bars(image, within, orientation: str) -> list[BarCandidate]:
    """:func:`find_bars` of one orientation, those centred in ``within`` when given."""
    if within is None:
        return find_bars(image, orientation=orientation)
    # the box also says how thick a bar to look for
    x0, y0, x1, y1 = within
    thickest = 1.5 * min(x1 - x0, y1 - y0) / min(image.shape[:2])
    bars = find_bars(image, max_thickness_fraction=max(0.03, thickest), orientation=orientation)
    centres = [((b.box[0] + b.box[2]) / 2, (b.box[1] + b.box[3]) / 2) for b in bars]
    return [b for b, (x, y) in zip(bars, centres, strict=True) if x0 <= x <= x1 and y0 <= y <= y1]


def _best_label(image, bars, min_confidence, engine, *, level=()):
    """``(bar, read, confidence, note)`` of the first of ``bars`` (best first) whose label
    reaches ``min_confidence``, else of the most confident; None without bars. A label nearer
    to one of the ``level`` (horizontal) bars than to its own is not taken: an upright stroke
    (a pin, a leg) next to a level bar's label is no bar. A level "bar" overlapping the label
    is a stroke of its text."""
    best = None
    for bar in bars:
        read = read_label(image, bar, engine=engine)
        if read.label is not None and _nearer_a_level_bar(read.box, bar, level):
            read = NOTHING
        confidence, note = _label_confidence(read, bar)
        if confidence < min_confidence:  # unsure: read many ways, taken if nearly all agree
            voted = _voted(image, bar, engine, level)
            if voted is not None and voted[1] > confidence:
                read, confidence, note = voted
        if best is None or confidence > best[2]:
            best = (bar, read, confidence, note)
        if confidence >= min_confidence:
            break
    return best


def _voted(image, bar, engine, level):
    """``(read, confidence, note)`` of the vote (:mod:`traitrack.scalebar.vote`), else None."""
    if isinstance(engine, list | tuple):
        engine = engine[0]
    voted = vote_read(image, bar, text_region(bar, image.shape), engine or rapidocr_engine(1))
    if voted is None:
        return None
    text, share, label, box, count, reads = voted
    if _nearer_a_level_bar(box, bar, level):
        return None
    read = TextRead(text, share, label, box)
    confidence, note = _label_confidence(read, bar)
    return read, confidence, ", ".join(filter(None, [f"read by vote: {count} of {reads}", note]))


def _nearer_a_level_bar(box, bar: BarCandidate, level) -> bool:
    """Whether a text box lies nearer one of the ``level`` (horizontal) bars than ``bar``."""
    return any(0 < _gap(box, other) < _gap(box, bar) for other in level)


def _gap(box, bar: BarCandidate) -> float:
    """Gap between a text box and a bar (px), rows and columns outside each other."""
    x0, y0, x1, y1 = box
    left, top, right, bottom = bar.box
    return float(np.hypot(max(0.0, x0 - right, left - x1), max(0.0, y0 - bottom, top - y1)))


def _reading(bar, read, value_mm, confidence, min_confidence, note) -> ScaleReading:
    label = read.label
    status = "ok" if confidence >= min_confidence and math.isfinite(value_mm) else "uncertain"
    reasons = [part for part in note.split(", ") if part and not part.startswith("read by vote")]
    if status == "uncertain" and not reasons:
        note = ", ".join(filter(None, [note, "low confidence"]))
    ends = ("bar_left_x_px", "bar_right_x_px", "bar_y_px")
    if bar.orientation == "vertical":
        ends = ("bar_top_y_px", "bar_bottom_y_px", "bar_x_px")
    return ScaleReading(
        **dict(
            zip(ends, (round(bar.left, 3), round(bar.right, 3), round(bar.row, 3)), strict=True)
        ),
        px_per_mm=bar.length / value_mm if math.isfinite(value_mm) else math.nan,
        bar_orientation=bar.orientation,
        bar_length_px=round(bar.length, 3),
        bar_thickness_px=round(bar.thickness, 3),
        bar_polarity=bar.polarity,
        text=read.text,
        value=label.value if label else math.nan,
        unit=label.unit if label else "",
        value_mm=value_mm,
        confidence=round(float(confidence), 4),
        status=status,
        note=note,
        text_box=tuple(round(v, 2) for v in read.box),
    )


def flag_outliers(
    px_per_mm: np.ndarray, status: np.ndarray, *, tolerance: float = 0.25, min_ok: int = 3
) -> np.ndarray:
    """Statuses with ``ok`` readings far from the species' median turned into ``outlier``.

    A reading is an outlier when its px_per_mm differs from the median of the species' ``ok``
    readings by more than ``tolerance`` (relative) and by more than three robust spreads (1.4826
    x the median absolute deviation, in log space), so a species photographed at two
    magnifications keeps both. Nothing is flagged with fewer than ``min_ok`` ``ok`` readings.

    Parameters
    ----------
    px_per_mm : np.ndarray
        One value per specimen.
    status : np.ndarray
        Their statuses (strings).
    tolerance : float
        Relative difference to the median always allowed.
    min_ok : int
        ``ok`` readings needed for the check.

    Returns
    -------
    np.ndarray
        The new statuses.
    """
    status = np.asarray(status, dtype=object).copy()
    ok = status == "ok"
    if ok.sum() < min_ok:
        return status
    logs = np.log(np.asarray(px_per_mm, float))
    median = float(np.median(logs[ok]))
    spread = 1.4826 * float(np.median(np.abs(logs[ok] - median)))
    limit = max(math.log1p(tolerance), 3 * spread)
    status[ok & (np.abs(logs - median) > limit)] = "outlier"
    return status
