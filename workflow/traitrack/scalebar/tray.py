"""The scale bar of a tray photograph, read once for all of the tray's crops.

The split (:mod:`traitrack.trays`) keeps the tray's scale bar out of the specimens and records
its box in ``results/trays/{tray}/tray.json`` (``excluded``, kind ``scale_bar``). A crop holds
no bar, and it is not rescaled, so the tray's pixel size is its crops': the bar is read on the
tray photograph, in a window around that box wide enough for its label (a bar's length to each
side, 0.6 of it above and below), and only bars whose centre lies in the box are taken. The
reading's coordinates are the tray photograph's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from traitrack.scalebar.calibrate import ScaleReading, read_scale


def tray_scale_boxes(tray_dir: str | Path) -> tuple[str, list[tuple[int, int, int, int]]]:
    """The tray photograph's path and its scale bars' boxes ``(x0, y0, x1, y1)`` (pixels).

    Parameters
    ----------
    tray_dir : str or Path
        The tray's split folder (``results/trays/{tray}``), which holds ``tray.json``.

    Returns
    -------
    tuple
        ``(image, boxes)``; ``boxes`` is empty when the split found no scale bar.
    """
    summary = json.loads((Path(tray_dir) / "tray.json").read_text())
    boxes = [
        tuple(int(v) for v in item["box_px"])
        for item in summary.get("excluded", [])
        if item["kind"] == "scale_bar"
    ]
    return summary["image"], boxes


def bar_window(box, shape) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` around a scale bar's box that holds its label too."""
    x0, y0, x1, y1 = box
    height, width = shape[:2]
    long = max(x1 - x0, y1 - y0)
    return (
        max(0, int(x0 - long)),
        max(0, int(y0 - 0.6 * long)),
        min(width, int(x1 + long)),
        min(height, int(y1 + 0.6 * long)),
    )


def read_tray_scale(
    image: np.ndarray,
    boxes: list[tuple[int, int, int, int]],
    *,
    bar_mm: float | None = None,
    min_confidence: float = 0.5,
    candidates: int = 3,
    engine=None,
) -> ScaleReading:
    """The scale-bar reading of a tray photograph, in its pixels.

    Parameters
    ----------
    image : np.ndarray
        The tray photograph (RGB uint8).
    boxes : list of tuple of int
        Its scale bars' boxes from the split (:func:`tray_scale_boxes`); the most confident
        reading of them is returned.
    bar_mm, min_confidence, candidates, engine
        As for :func:`traitrack.scalebar.calibrate.read_scale`.

    Returns
    -------
    ScaleReading
        ``no_bar`` when there are no boxes or no bar in any of them.
    """
    best = ScaleReading(note="the tray's split found no scale bar")
    for box in boxes:
        left, top, right, bottom = bar_window(box, image.shape)
        window = np.ascontiguousarray(image[top:bottom, left:right])
        x0, y0, x1, y1 = box
        reading = read_scale(
            window,
            bar_mm=bar_mm,
            min_confidence=min_confidence,
            candidates=candidates,
            engine=engine,
            within=(x0 - left, y0 - top, x1 - left, y1 - top),
        )
        reading = shifted(reading, left, top)
        if best.status == "no_bar" or reading.confidence > best.confidence:
            best = reading
    return best


def shifted(reading: ScaleReading, dx: float, dy: float) -> ScaleReading:
    """A reading made on a window, in the coordinates of the photograph it was cut from."""
    text_box = reading.text_box
    if any(text_box):
        text_box = (text_box[0] + dx, text_box[1] + dy, text_box[2] + dx, text_box[3] + dy)
    return dataclasses.replace(
        reading,
        bar_left_x_px=reading.bar_left_x_px + dx,
        bar_right_x_px=reading.bar_right_x_px + dx,
        bar_y_px=reading.bar_y_px + dy,
        bar_x_px=reading.bar_x_px + dx,
        bar_top_y_px=reading.bar_top_y_px + dy,
        bar_bottom_y_px=reading.bar_bottom_y_px + dy,
        text_box=text_box,
    )


class TrayScales:
    """Each tray's reading, made once and kept for all of its crops.

    Parameters
    ----------
    tray_dirs : dict
        ``tray -> its split folder``.
    read_image : callable
        Reads a photograph as RGB uint8 (``traitrack.io.read_image``).
    options : dict
        ``min_confidence`` and ``candidates`` (the config's ``calibrate`` section).
    """

    def __init__(self, tray_dirs: dict[str, str | Path], read_image, options: dict):
        self.tray_dirs = {tray: Path(folder) for tray, folder in tray_dirs.items()}
        self.read_image = read_image
        self.options = options
        self._readings: dict = {}

    def has_bar(self, tray: str) -> bool:
        """Whether the tray's split recorded a scale bar (its folder known and split)."""
        folder = self.tray_dirs.get(tray)
        return (
            folder is not None
            and (folder / "tray.json").exists()
            and bool(tray_scale_boxes(folder)[1])
        )

    def reading(self, tray: str, bar_mm: float | None = None):
        """``(tray photograph, its path, ScaleReading)`` of one tray (read on first use)."""
        key = (tray, bar_mm)
        if key not in self._readings:
            path, boxes = tray_scale_boxes(self.tray_dirs[tray])
            image = self.read_image(path)[..., :3]
            reading = read_tray_scale(
                image,
                boxes,
                bar_mm=bar_mm,
                min_confidence=self.options["min_confidence"],
                candidates=self.options["candidates"],
            )
            self._readings[key] = (image, path, reading)
        return self._readings[key]
