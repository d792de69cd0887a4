"""A small picture of a scale-bar reading: the bar's ends, the text's box and what was read."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from traitrack.scalebar.calibrate import ScaleReading

STATUS_COLOURS = {
    "ok": (0, 170, 0),
    "uncertain": (230, 140, 0),
    "outlier": (220, 0, 0),
    "no_bar": (120, 120, 120),
}


def scale_overlay(image: np.ndarray, reading: ScaleReading, *, width: int = 480) -> np.ndarray:
    """The image around its bar (the whole image without one), enlarged, with the reading drawn.

    Parameters
    ----------
    image : np.ndarray
        The RGB uint8 photograph.
    reading : ScaleReading
        What :func:`traitrack.scalebar.calibrate.read_scale` found (after the species check).
    width : int
        Width of the picture (px); a caption strip is added below.

    Returns
    -------
    np.ndarray
        RGB uint8.
    """
    height_px, width_px = image.shape[:2]
    colour = STATUS_COLOURS.get(reading.status, (0, 0, 0))
    ends = _ends(reading)
    if ends is not None:
        (ax, ay), (bx, by) = ends
        boxes = [(ax, ay, bx, by)]
        if reading.text:
            boxes.append(reading.text_box)
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[2] for b in boxes)
        y1 = max(b[3] for b in boxes)
        pad = max(8.0, 0.3 * reading.bar_length_px)
        left, top = int(max(0, x0 - pad)), int(max(0, y0 - pad))
        right, bottom = int(min(width_px, x1 + pad)), int(min(height_px, y1 + pad))
    else:
        left, top, right, bottom = 0, 0, width_px, height_px
    crop = Image.fromarray(np.ascontiguousarray(image[top:bottom, left:right, :3]))
    scale = width / max(1, crop.width)
    crop = crop.resize((width, max(1, round(crop.height * scale))), Image.NEAREST)
    canvas = Image.new("RGB", (crop.width, crop.height + 34), (255, 255, 255))
    canvas.paste(crop, (0, 0))
    draw = ImageDraw.Draw(canvas)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - left) * scale, (y - top) * scale

    if ends is not None:
        half = max(4.0, reading.bar_thickness_px * scale)
        upright = reading.bar_orientation == "vertical"
        for x, y in ends:  # a tick across the bar at each end, a line along it beside it
            cx, cy = at(x, y)
            tick = [(cx - 2 * half, cy), (cx + 2 * half, cy)] if upright else None
            draw.line(tick or [(cx, cy - 2 * half), (cx, cy + 2 * half)], fill=colour, width=2)
        dx, dy = (reading.bar_thickness_px, 0) if upright else (0, reading.bar_thickness_px)
        draw.line([at(x + dx, y + dy) for x, y in ends], fill=colour, width=1)
        if reading.text:
            bx0, by0, bx1, by1 = reading.text_box
            draw.rectangle([at(bx0, by0), at(bx1, by1)], outline=(0, 90, 255), width=2)
    px_per_mm = f"{reading.px_per_mm:.2f} px/mm" if math.isfinite(reading.px_per_mm) else "-"
    length = f"{reading.bar_length_px:.2f} px" if math.isfinite(reading.bar_length_px) else ""
    caption = f"{reading.status}  read {reading.text!r}  {length}  {px_per_mm}"
    draw.text((4, crop.height + 4), caption, fill=colour)
    if reading.note:
        draw.text((4, crop.height + 18), reading.note, fill=(60, 60, 60))
    return np.asarray(canvas)


def _ends(reading: ScaleReading):
    """The bar's two ends ``((x, y), (x, y))`` in image pixels, None without a bar."""
    if not math.isfinite(reading.bar_length_px):
        return None
    if reading.bar_orientation == "vertical":
        x = reading.bar_x_px
        return (x, reading.bar_top_y_px), (x, reading.bar_bottom_y_px)
    y = reading.bar_y_px
    return (reading.bar_left_x_px, y), (reading.bar_right_x_px, y)
