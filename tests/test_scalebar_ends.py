"""Scale-bar ends on rendered bars that fade out: onto a background of nearly their own grey,
and blurred (whose ramps must not be taken for a fainter part of the bar)."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from traitrack.scalebar.detect import find_bars


def bar_onto_card(*, over=4, card_x=0.62, card_level=236, bar_level=246):
    """A light bar on grey whose right part lies on a near-white card: 256 x 256, drawn 4x
    larger and reduced (ends between pixels). Returns the image and the true ends."""
    big = 256 * over
    image = Image.new("RGB", (big, big), (150, 150, 150))
    draw = ImageDraw.Draw(image)
    # the card: white, brightening to the right as a lit card does
    for x in range(int(card_x * big), big):
        level = min(255, card_level - 14 + int(14 * (x - card_x * big) / (0.1 * big)))
        draw.line([(x, 0), (x, big)], fill=(level,) * 3)
    left, right = round(85.3 * over), round(170.1 * over)
    row = 239 * over
    draw.rectangle([left, row, right - 1, row + over - 1], fill=(bar_level,) * 3)
    image = image.resize((256, 256), Image.BOX)
    return np.asarray(image), (left / over, right / over)


def test_a_bar_that_runs_onto_a_white_card_keeps_its_end():
    image, (left, right) = bar_onto_card()
    bar = find_bars(image)[0]
    assert bar.polarity == "light"
    assert bar.left == pytest.approx(left, abs=0.3)
    assert bar.right == pytest.approx(right, abs=0.6)


@pytest.mark.parametrize("blur", [1.0, 2.0, 3.0])
def test_blurred_ends_are_not_extended(blur):
    big, over = 1024, 4
    image = Image.new("RGB", (big, big), (160, 160, 160))
    draw = ImageDraw.Draw(image)
    left, right, row = 410, 710, 880
    draw.rectangle([left, row, right - 1, row + 3 * over - 1], fill=(10, 10, 10))
    image = image.resize((256, 256), Image.BOX).filter(ImageFilter.GaussianBlur(blur))
    bar = find_bars(np.asarray(image))[0]
    assert bar.left == pytest.approx(left / over, abs=0.3)
    assert bar.right == pytest.approx(right / over, abs=0.3)
