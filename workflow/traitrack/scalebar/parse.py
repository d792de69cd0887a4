"""A scale bar's label ("0,5 mm", "500 µm", "1.0mm", "2 mm") as a length in millimetres.

OCR of a few pixels of text confuses look-alike characters (``l`` and ``1``, ``O`` and ``0``,
``S`` and ``5``) and drops decimal points ("05mm"). The parser repairs only these, inside a
number next to a unit; a label with no unit is read as millimetres but marked so, and a value
that is not one that scale bars use is kept but marked too: the caller lowers its confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# lengths (mm) that scale bars print; a value within SNAP_TOLERANCE of one is snapped to it
USUAL_MM = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    1.0,
    1.5,
    2.0,
    2.5,
    3.0,
    4.0,
    5.0,
    10.0,
)
SNAP_TOLERANCE = 0.03
MM_PER_UNIT = {"mm": 1.0, "um": 1e-3, "cm": 10.0}

# characters OCR puts for digits in a number, and for the micro sign
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1",
                                   "i": "1", "|": "1", "t": "1", "!": "1", "S": "5", "s": "5",
                                   "Z": "2", "z": "2", "B": "8"})  # fmt: skip
_MICRO = ("µ", "μ", "u", "U", "p")
_NUMBER = r"[0-9OoDQlIi|t!SsZzB]+(?:[.,·][0-9OoDQlIi|t!SsZzB]+)?"
_UNIT = r"(?:mm|nm|rnm|m m|um|µm|μm|pm|Um|cm|m)"
# a speck read as a point or comma between number and unit ("0.1.mm") is no part of either
_LABEL = re.compile(
    rf"(?P<number>{_NUMBER})\s*(?P<speck>[.,:]\s*(?={_UNIT}))?(?P<unit>{_UNIT})?(?![a-z])"
)


@dataclass(frozen=True)
class Label:
    """A parsed scale-bar label.

    Attributes
    ----------
    value : float
        The number as printed (after repairs), in ``unit``.
    unit : str
        ``mm``, ``um`` or ``cm``; ``mm`` when the text had none (``unit_read`` False).
    value_mm : float
        The bar's length in millimetres, snapped to a usual value when within 3 %.
    unit_read : bool
        Whether the text named the unit.
    usual : bool
        Whether ``value_mm`` is one of :data:`USUAL_MM`.
    repaired : bool
        Whether characters were changed (look-alikes, a missing decimal point).
    """

    value: float
    unit: str
    value_mm: float
    unit_read: bool
    usual: bool
    repaired: bool


def _unit_name(raw: str | None) -> str | None:
    if raw is None:
        return None
    raw = raw.replace(" ", "")
    if raw in ("mm", "nm", "rnm", "m"):  # how OCR misreads a small "mm"; no bar is metres long
        return "mm"
    if raw == "cm":
        return "cm"
    if raw[0] in _MICRO:
        return "um"
    return None


def snap_mm(value_mm: float) -> tuple[float, bool]:
    """The usual value within :data:`SNAP_TOLERANCE` of ``value_mm``, and whether one was."""
    for usual in USUAL_MM:
        if abs(value_mm - usual) <= SNAP_TOLERANCE * usual:
            return usual, True
    return value_mm, False


def _number(raw: str) -> tuple[float, bool] | None:
    text = raw.replace(",", ".").replace("·", ".")
    fixed = text.translate(_DIGIT_LOOKALIKES)
    repaired = fixed != text
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", fixed):
        return None
    if re.fullmatch(r"0[0-9]+", fixed):  # "05" for "0.5": the point was lost
        fixed = f"0.{fixed[1:]}"
        repaired = True
    return float(fixed), repaired


def parse_label(text: str) -> Label | None:
    """Read a scale bar's length from OCR text.

    Parameters
    ----------
    text : str
        What OCR read next to the bar ("0,5 mm", "500 µm", "1.0mm", "imm").

    Returns
    -------
    Label or None
        The first number followed by a unit; else a lone number (read as mm, ``unit_read``
        False); None when there is no number, the number is zero, or it has more than four
        digits.
    """
    candidates = []
    for match in _LABEL.finditer(text.strip()):
        raw = match.group("number")
        if not any(c.isdigit() for c in raw) and match.group("unit") is None:
            continue  # letters alone are words, not numbers
        parsed = _number(raw)
        if parsed is None or parsed[0] <= 0 or len(raw.replace(".", "").replace(",", "")) > 4:
            continue
        value, repaired = parsed
        unit = _unit_name(match.group("unit"))
        repaired = repaired or match.group("unit") == "m" or bool(match.group("speck"))
        candidates.append((unit is None, value, unit or "mm", repaired))
    if not candidates:
        return None
    no_unit, value, unit, repaired = min(candidates, key=lambda c: c[0])
    value_mm, usual = snap_mm(value * MM_PER_UNIT[unit])
    if usual:
        value = value_mm / MM_PER_UNIT[unit]
    return Label(value, unit, value_mm, not no_unit, usual, repaired)
