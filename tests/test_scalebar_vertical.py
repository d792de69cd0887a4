"""Upright scale bars: a bar drawn vertically beside the specimen, its label beside it,
rendered at several sizes, blur and JPEG quality as the horizontal ones are."""

import io
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from traitrack.scalebar.calibrate import read_scale
from traitrack.scalebar.detect import find_bars
from traitrack.scalebar.overlay import scale_overlay


def font(size):
    """DejaVu Sans, which matplotlib ships, at ``size`` px."""
    from matplotlib import font_manager

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def render_upright(
    scale=1.0, *, label="1 mm", bar_px=70.3, dark=True, label_left=True, blur=0.0, jpeg=None
):
    """A 256 x 256 photograph-like image (x ``scale``): a grey ground, a dark 'specimen' with
    a leg, an upright bar of ``bar_px`` (x scale) px near the right edge and its label written
    level beside it. Drawn 4x larger and reduced, so the bar's ends fall between pixels.

    Returns the image, the bar's length (px) and its ``(top, bottom, centre column)``."""
    over = 4
    size = int(round(256 * scale))
    big = size * over
    ground = 150 if dark else 70
    image = Image.new("RGB", (big, big), (ground, ground, ground + 8))
    draw = ImageDraw.Draw(image)
    draw.ellipse([0.1 * big, 0.2 * big, 0.6 * big, 0.6 * big], fill=(60, 40, 30))
    draw.line([(0.3 * big, 0.55 * big), (0.2 * big, 0.9 * big)], fill=(70, 50, 35), width=big // 90)
    bottom = round(0.85 * big)
    top = bottom - round(bar_px * scale * over)  # whole pixels of the 4x drawing
    thickness = round(max(2.0, 2.5 * scale) * over)
    glyphs = font(int(11 * scale * over))
    box = draw.textbbox((0, 0), label, font=glyphs)
    width, height = box[2] - box[0], box[3] - box[1]
    gap = 3 * scale * over
    left = round(0.93 * big)  # the bar near the right edge, its label to its left
    x = left - gap - width - box[0]
    if not label_left:  # the label on its right: the bar leaves room for it
        left -= round(width + 2 * gap)
        x = left + thickness + gap - box[0]
    colour = (12, 12, 12) if dark else (245, 245, 245)
    draw.rectangle([left, top, left + thickness - 1, bottom - 1], fill=colour)
    draw.text((x, (top + bottom) / 2 - height / 2 - box[1]), label, font=glyphs, fill=colour)
    image = image.resize((size, size), Image.BOX)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur * scale))
    if jpeg:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=jpeg)
        image = Image.open(buffer).convert("RGB")
    ends = (top / over, bottom / over, (left + thickness / 2) / over)
    return np.asarray(image), (bottom - top) / over, ends


@pytest.mark.parametrize("scale", [1.0, 2.0])
@pytest.mark.parametrize("dark", [True, False])
def test_upright_bar_ends_to_a_tenth_of_a_pixel(scale, dark):
    image, length, (top, bottom, column) = render_upright(scale, dark=dark)
    bar = find_bars(image, orientation="vertical")[0]
    assert bar.orientation == "vertical"
    assert bar.polarity == ("dark" if dark else "light")
    assert bar.left == pytest.approx(top, abs=0.1)
    assert bar.right == pytest.approx(bottom, abs=0.1)
    assert bar.row == pytest.approx(column, abs=0.5)
    assert bar.length == pytest.approx(length, abs=0.2)
    left, upper, right, lower = bar.box
    assert (upper, lower) == (bar.left, bar.right) and left < column < right


def test_an_upright_bar_is_no_horizontal_candidate():
    image, _, _ = render_upright(1.0)
    assert not any(abs(bar.length - 70.3) < 2 for bar in find_bars(image))


@pytest.mark.parametrize(
    ("scale", "label", "value_mm", "blur", "jpeg", "label_left", "dark"),
    [
        (1.0, "1 mm", 1.0, 0.0, None, True, True),
        (1.0, "0.5 mm", 0.5, 0.7, 80, False, True),
        (2.0, "2 mm", 2.0, 1.0, 70, True, False),
        (2.0, "500 µm", 0.5, 0.0, 60, False, True),
    ],
)
def test_rendered_upright_bar_and_label_give_the_pixel_size(
    scale, label, value_mm, blur, jpeg, label_left, dark
):
    pytest.importorskip("rapidocr_onnxruntime")
    image, length, (top, bottom, column) = render_upright(
        scale, label=label, blur=blur, jpeg=jpeg, label_left=label_left, dark=dark
    )
    reading = read_scale(image)
    assert reading.status == "ok", reading
    assert reading.bar_orientation == "vertical"
    assert reading.value_mm == pytest.approx(value_mm)
    assert reading.px_per_mm == pytest.approx(length / value_mm, rel=0.01)
    assert reading.bar_top_y_px == pytest.approx(top, abs=0.5)
    assert reading.bar_bottom_y_px == pytest.approx(bottom, abs=0.5)
    assert reading.bar_x_px == pytest.approx(column, abs=1.0)
    assert math.isnan(reading.bar_left_x_px) and math.isnan(reading.bar_y_px)
    picture = scale_overlay(image, reading)
    assert picture.ndim == 3 and picture.shape[1] == 480


def test_an_upright_stroke_does_not_take_a_level_bar_s_label(monkeypatch):
    """A level bar whose label went unread, and an upright stroke (a pin, a leg) ending next
    to that label: the label is the level bar's, so the upright stroke gets no length from it
    even when it is read on the upright pass."""
    from traitrack.scalebar import calibrate
    from traitrack.scalebar.parse import parse_label
    from traitrack.scalebar.read import NOTHING, TextRead

    big = 1024
    image = Image.new("RGB", (big, big), (150, 150, 158))
    draw = ImageDraw.Draw(image)
    draw.rectangle([600, 880, 899, 891], fill=(12, 12, 12))  # level bar, 75 px long
    draw.rectangle([560, 560, 571, 859], fill=(12, 12, 12))  # upright stroke, 75 px long
    image = np.asarray(image.resize((256, 256), Image.BOX))
    label_box = (170.0, 225.0, 190.0, 231.0)  # under the level bar, near the stroke's end

    def unread_on_the_level_pass(_image, bar, **_kwargs):
        if bar.orientation == "horizontal":
            return NOTHING
        return TextRead("1 mm", 0.99, parse_label("1 mm"), label_box)

    monkeypatch.setattr(calibrate, "read_label", unread_on_the_level_pass)
    reading = read_scale(image)
    assert reading.status == "uncertain" and math.isnan(reading.px_per_mm)
    assert reading.bar_orientation == "horizontal"
    # the same label beside the upright stroke, far from the level bar, is the stroke's
    beside = (120.0, 170.0, 136.0, 176.0)

    def beside_the_stroke(_image, bar, **_kwargs):
        if bar.orientation == "horizontal":
            return NOTHING
        return TextRead("1 mm", 0.99, parse_label("1 mm"), beside)

    monkeypatch.setattr(calibrate, "read_label", beside_the_stroke)
    reading = read_scale(image)
    assert reading.status == "ok" and reading.bar_orientation == "vertical"
    assert reading.px_per_mm == pytest.approx(75.0, abs=0.5)
