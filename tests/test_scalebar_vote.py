"""The vote that settles an unsure scale-bar label: taken only when nearly all reads agree."""

import itertools
import math

import pytest
from test_scalebar import render

from traitrack.scalebar.calibrate import read_scale
from traitrack.scalebar.detect import find_bars
from traitrack.scalebar.read import text_region
from traitrack.scalebar.vote import VARIANTS, vote_read


def engine_reading(detected, recognised):
    """An OCR engine called as RapidOCR is: the detector finds ``detected`` under the bar;
    recognition alone returns the next of ``recognised`` (an iterator)."""

    def engine(enlarged, use_det=True, **_kwargs):
        if not use_det:
            text = next(recognised)
            return ([[text, 0.9]] if text else None), None
        h, w = enlarged.shape[:2]
        box = [[0.3 * w, 0.75 * h], [0.7 * w, 0.75 * h], [0.7 * w, 0.9 * h], [0.3 * w, 0.9 * h]]
        return [[box, detected, 0.99]], None

    return engine


def test_a_vote_settles_two_reads_that_disagree():
    """ "0.2 mm" read "2mm" by the small detector and "0.2mm" by the large one: uncertain
    alone, settled when every recognition-only read gives 0.2 mm."""
    image, length, _ = render(1.0, label="0.2 mm")
    agreeing = itertools.repeat("0.2mm")
    engines = [engine_reading("2mm", agreeing), engine_reading("0.2mm", agreeing)]
    reading = read_scale(image, engine=engines)
    assert reading.status == "ok", reading
    assert reading.value_mm == 0.2
    assert reading.px_per_mm == pytest.approx(length / 0.2, rel=0.01)
    assert f"read by vote: {VARIANTS} of {VARIANTS}" in reading.note


def test_scattered_reads_settle_nothing():
    image, _, _ = render(1.0, label="1 mm")
    scattered = itertools.cycle(["1mm", "2mm", "7m", "", "1m", "H"])
    reading = read_scale(image, engine=engine_reading("", scattered))
    assert reading.status == "uncertain" and math.isnan(reading.px_per_mm)


def test_a_vote_needs_a_quorum_and_near_agreement():
    image, _, _ = render(1.0, label="1 mm")
    bar = find_bars(image)[0]
    region = text_region(bar, image.shape)
    # 20 of 48 reads agree, the rest read nothing: under the quorum of half
    few = itertools.chain(itertools.repeat("1mm", 20), itertools.repeat(""))
    assert vote_read(image, bar, region, engine_reading("", few)) is None
    # 30 agree, 6 give another length with a unit: under 90 % agreement
    split = itertools.chain(itertools.repeat("1mm", 30), itertools.repeat("2mm", 6))
    assert (
        vote_read(
            image, bar, region, engine_reading("", itertools.chain(split, itertools.repeat("")))
        )
        is None
    )
    # 30 agree, 2 give another length: taken, its share of all reads as its score
    most = itertools.chain(itertools.repeat("1 mm", 30), ["2mm"] * 2, itertools.repeat(""))
    text, share, label, _, count, reads = vote_read(image, bar, region, engine_reading("", most))
    assert (text, label.value_mm, count, reads) == ("1 mm", 1.0, 30, VARIANTS)
    assert share == 30 / VARIANTS


def test_a_vote_never_takes_an_unusual_length():
    image, _, _ = render(1.0, label="1 mm")
    bar = find_bars(image)[0]
    unusual = itertools.repeat("15mm")
    assert vote_read(image, bar, text_region(bar, image.shape), engine_reading("", unusual)) is None


def test_a_vote_under_the_confidence_asked_stays_uncertain_and_says_why():
    image, _, _ = render(1.0, label="0.2 mm")
    agreeing = itertools.repeat("0.2mm")
    engines = [engine_reading("2mm", agreeing), engine_reading("0.2mm", agreeing)]
    reading = read_scale(image, engine=engines, min_confidence=1.01)
    assert reading.status == "uncertain"
    assert reading.note == f"read by vote: {VARIANTS} of {VARIANTS}, low confidence"
