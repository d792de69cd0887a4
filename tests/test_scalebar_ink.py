"""Labels found by their ink and read by recognition alone (traitrack.scalebar.ink)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from traitrack.scalebar.detect import BarCandidate
from traitrack.scalebar.ink import colourless, ink_lines, read_ink_line

ROOT = Path(__file__).resolve().parents[1]
ANTS = ROOT.parent / "shared" / "data" / "ants-4part" / "images"
BAR = BarCandidate("dark", row=80.5, left=40.0, right=100.0, thickness=1.0, contrast=100.0,
                   evenness=1.0, score=1.0)  # fmt: skip


def tiny_label(*, leg=False):
    """A grey ground, a dark bar (row 80, columns 40-99) and a blocky 'label' of dark glyphs
    5 px high above it (columns 52-83), optionally an orange leg across the label."""
    image = np.full((120, 140, 3), 150, np.uint8)
    image[80, 40:100] = 10
    for x in range(52, 84, 4):  # eight glyphs, 3 px wide, one apart
        image[72:77, x : x + 3] = 40
    if leg:
        for i in range(40):
            image[60 + i, 60 + i // 2 : 63 + i // 2] = (210, 120, 40)
    return image


@pytest.mark.parametrize("leg", [False, True])
def test_the_labels_line_is_found_by_its_ink(leg):
    image = tiny_label(leg=leg)
    boxes = ink_lines(image, BAR, (0, 30, 140, 120))
    assert boxes, "no line found"
    x0, y0, x1, y1 = boxes[0]
    assert (x0, y0, y1) == (51, 71, 78) and x1 == 84


def test_colour_turns_into_ground_for_a_dark_bar():
    orange = np.array([[[210, 120, 40]]], np.uint8)
    assert colourless(orange, "dark")[0, 0] == 210  # as light as the ground
    assert colourless(orange, "light")[0, 0] == 40  # as dark as the ground


def engine_reading(*texts):
    """A recognition-only engine that reads ``texts`` in turn, one per call."""
    queue = list(texts)

    def engine(_image, **kwargs):
        assert kwargs.get("use_det") is False
        return [[queue.pop(0), 0.9]], None

    return engine


def test_reads_at_three_sizes_must_agree():
    image = tiny_label()
    box = (51, 71, 84, 78)
    text, score, label, other = read_ink_line(
        image, box, "dark", engine_reading("02mm", "0.2mm", "0m")
    )
    assert label is not None and label.value_mm == 0.2 and other == ""
    _, _, label, other = read_ink_line(image, box, "dark", engine_reading("02mm", "0.2mm", "2mm"))
    assert label.value_mm == 0.2 and other == "2mm"  # a dissent is named: the caller is unsure
    _, _, label, _ = read_ink_line(image, box, "dark", engine_reading("02mm", "2mm", "0m"))
    assert label is None  # one read each: no agreement


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("specimen", "value_mm", "px_per_mm"),
    [("casent0270618", 2.0, 24.22), ("casent0283440", 0.2, 184.70)],
)
def test_labels_the_text_detector_misses(specimen, value_mm, px_per_mm):
    """ "2 mm" with a leg across its "mm" and a "0.2 mm" 4 px high (truth table rows)."""
    pytest.importorskip("rapidocr_onnxruntime")
    if not ANTS.is_dir():
        pytest.skip("../shared/data is absent")
    from traitrack.scalebar.calibrate import read_scale

    reading = read_scale(np.asarray(Image.open(ANTS / f"{specimen}.png").convert("RGB")))
    assert reading.status == "ok" and reading.value_mm == value_mm
    assert reading.px_per_mm == pytest.approx(px_per_mm, rel=0.02)


def test_an_unsure_read_is_checked_by_the_ink_reader():
    from traitrack.scalebar.parse import parse_label
    from traitrack.scalebar.read import TextRead, _confirmed

    image = tiny_label()
    unsure = TextRead("1m", 0.6, parse_label("1m"), (51.0, 71.0, 84.0, 78.0))
    agreed = _confirmed(image, BAR, unsure, engine_reading("1mm", "1 mm", "1mm"))
    assert agreed.score == pytest.approx(0.9) and agreed.disagreement == ""
    other = _confirmed(image, BAR, unsure, engine_reading("2mm", "2mm", "2 mm"))
    assert other.score == 0.6 and other.disagreement == "2mm"
    nothing = _confirmed(image, BAR, unsure, engine_reading("", "", ""))
    assert nothing == unsure


def test_a_speck_between_number_and_unit_is_dropped_and_marked():
    from traitrack.scalebar.parse import parse_label

    label = parse_label("0.1.mm")
    assert label.value_mm == 0.1 and label.unit_read and label.repaired
    assert parse_label("0.1 mm").repaired is False
