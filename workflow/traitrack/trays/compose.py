"""Compose trays with known instances from single-specimen images and their masks.

Used by the benchmark (real beetles cut out by the union of their part masks), the tests and
the example: specimens at random positions and angles on a tray background, some touching a
neighbour, with a printed label and a scale bar in the top strip and a pin line across.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BACKGROUNDS = {
    # name: (RGB, noise sigma, blotch amplitude)
    "white_foam": ((242, 242, 238), 4.0, 5.0),
    "cream_card": ((236, 224, 196), 2.0, 2.0),
    "grey": ((150, 150, 152), 3.0, 3.0),
    "dark": ((48, 46, 52), 2.5, 2.0),
}


@dataclass
class ComposedTray:
    """A composed tray and its truth.

    Attributes
    ----------
    image : numpy.ndarray
        (H, W, 3) uint8.
    instances : numpy.ndarray
        uint16 truth, 0 background, 1..n in placement order.
    sources : list of int
        Index into the given specimens of each instance.
    label_box, scale_bar_box : tuple of int
        (x0, y0, x1, y1) of the printed label and the scale bar.
    touching : int
        How many specimens were slid against a neighbour.
    parts : numpy.ndarray or None
        uint8 part labels of every placed specimen at the tray's size (0 background), where
        ``part_maps`` were given: the specimens' part masks through the same transforms.
    """

    image: np.ndarray
    instances: np.ndarray
    sources: list[int]
    label_box: tuple[int, int, int, int]
    scale_bar_box: tuple[int, int, int, int]
    touching: int
    parts: np.ndarray | None = None


def tray_background(shape, name: str, rng: np.random.Generator) -> np.ndarray:
    """A tray surface: the colour, a lighting gradient, low-frequency blotches and noise."""
    colour, noise, blotch = BACKGROUNDS[name]
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tilt = rng.uniform(-0.04, 0.04, 2)
    gain = 1 + tilt[0] * (xx / width - 0.5) + tilt[1] * (yy / height - 0.5)
    small = rng.normal(0, blotch, (max(2, height // 64), max(2, width // 64))).astype(np.float32)
    blotches = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    surface = np.empty((height, width, 3), np.float32)
    for channel in range(3):
        surface[..., channel] = colour[channel] * gain + blotches
    surface += rng.normal(0, noise, surface.shape).astype(np.float32)
    return np.clip(surface, 0, 255).astype(np.uint8)


def _rotated(image: np.ndarray, mask: np.ndarray, angle: float, scale: float, parts=None):
    """The specimen and mask (and part labels, if given) rotated by ``angle`` degrees and
    scaled, on a canvas that fits."""
    height, width = mask.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    out_w, out_h = int(height * sin + width * cos) + 2, int(height * cos + width * sin) + 2
    matrix[0, 2] += out_w / 2 - width / 2
    matrix[1, 2] += out_h / 2 - height / 2
    rgb = cv2.warpAffine(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    warped = cv2.warpAffine(mask.astype(np.uint8), matrix, (out_w, out_h), flags=cv2.INTER_NEAREST)
    rows, cols = np.nonzero(warped)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    if parts is None:
        return rgb[box], warped[box] > 0, None
    labels = cv2.warpAffine(parts.astype(np.uint8), matrix, (out_w, out_h), flags=cv2.INTER_NEAREST)
    return rgb[box], warped[box] > 0, labels[box]


def _fits(occupied: np.ndarray, mask: np.ndarray, row: int, col: int) -> bool:
    height, width = mask.shape
    if row < 0 or col < 0 or row + height > occupied.shape[0] or col + width > occupied.shape[1]:
        return False
    return not (occupied[row : row + height, col : col + width] & mask).any()


def compose_tray(
    specimens,
    *,
    shape: tuple[int, int],
    background: str,
    rng: np.random.Generator,
    touching_fraction: float = 0.3,
    fill: float = 0.3,
    gap: int | None = None,
    rescale: bool = True,
    part_maps=None,
    max_angle: float = 180.0,
) -> ComposedTray:
    """Compose one tray.

    Parameters
    ----------
    specimens : sequence of (numpy.ndarray, numpy.ndarray)
        (RGB uint8, boolean mask) of each specimen to place, all of them placed.
    shape : (int, int)
        The tray's (height, width) in pixels.
    background : str
        A key of ``BACKGROUNDS``.
    rng : numpy.random.Generator
        All randomness (positions, angles, sizes, texture).
    touching_fraction : float
        Share of specimens slid against an already placed one until they touch.
    fill : float
        Share of the specimen area (below the label strip) the specimens' boxes cover.
    gap : int, optional
        Least distance between specimens that are not touching (default 1% of the side).
    rescale : bool
        Scale each specimen to the size ``fill`` asks for (0.85-1.15 of it); False keeps the
        specimens' own pixel size (one pixel size for the whole tray).
    part_maps : sequence of numpy.ndarray, optional
        Each specimen's part labels (the mask's shape, 0 background), placed with it into
        ``ComposedTray.parts``; they draw nothing from ``rng``, so the tray is the same.
    max_angle : float
        Angles are drawn from (-max_angle, max_angle) degrees around upright (180: any angle;
        a pinned drawer's specimens are upright within a few tens of degrees).
    """
    height, width = shape
    image = tray_background(shape, background, rng)
    strip = int(0.14 * height)
    dark = background == "dark"
    ink = (235, 235, 235) if dark else (20, 20, 20)
    # pin line (under the specimens) across the specimen area
    thickness = max(2, round(0.002 * max(shape)))
    y0, y1 = rng.integers(strip + thickness, height - thickness, 2)
    line_colour = (170, 170, 175) if dark else (95, 95, 100)
    cv2.line(image, (0, int(y0)), (width - 1, int(y1)), line_colour, thickness)
    # printed label and scale bar in the top strip
    label_box = (int(0.04 * width), int(0.02 * height), int(0.34 * width), int(0.12 * height))
    cv2.rectangle(image, label_box[:2], (label_box[2] - 1, label_box[3] - 1), (248, 247, 240), -1)
    cv2.rectangle(
        image, label_box[:2], (label_box[2] - 1, label_box[3] - 1), (120, 120, 120), thickness
    )
    font = (label_box[3] - label_box[1]) / 110
    for line_no, text in enumerate(["Carabidae  NEON", "leg. tray 0001", "det. traitrack"]):
        origin = (
            label_box[0] + int(0.02 * width),
            label_box[1] + int((line_no + 1) * 0.028 * height),
        )
        cv2.putText(
            image,
            text,
            origin,
            cv2.FONT_HERSHEY_SIMPLEX,
            font,
            (25, 25, 25),
            max(1, thickness // 2),
        )
    bar_h = max(12, round(0.016 * height))
    bar_box = (int(0.62 * width), int(0.09 * height), int(0.86 * width), int(0.09 * height) + bar_h)
    cv2.rectangle(image, bar_box[:2], (bar_box[2] - 1, bar_box[3] - 1), ink, -1)
    cv2.putText(
        image,
        "10 mm",
        (bar_box[0], bar_box[1] - bar_h),
        cv2.FONT_HERSHEY_SIMPLEX,
        font,
        ink,
        max(1, thickness // 2),
    )
    # specimens
    area = (height - strip) * width
    side = np.sqrt(fill * area / max(1, len(specimens)) / 0.55)
    gap = gap if gap is not None else max(2, round(0.01 * min(shape)))
    occupied = np.zeros(shape, bool)
    occupied[:strip] = True
    instances = np.zeros(shape, np.uint16)
    parts = np.zeros(shape, np.uint8) if part_maps is not None else None
    sources, touching, placed = [], 0, []
    for index, (rgb, mask) in enumerate(specimens):
        scale = side * rng.uniform(0.85, 1.15) / max(mask.shape) if rescale else 1.0
        angle = float(rng.uniform(0, 360))
        if max_angle < 180:
            angle = (angle / 360 - 0.5) * 2 * max_angle
        piece_parts = None if part_maps is None else part_maps[index]
        piece, piece_mask, piece_parts = _rotated(rgb, mask, angle, scale, piece_parts)
        position = None
        if placed and rng.random() < touching_fraction:
            position = _slide_to_touch(occupied, piece_mask, placed, rng)
            touching += position is not None
        if position is None:
            grown = cv2.dilate(occupied.astype(np.uint8), np.ones((2 * gap + 1,) * 2, np.uint8)) > 0
            for _ in range(2000):
                row = int(rng.integers(strip, height - piece_mask.shape[0] + 1))
                col = int(rng.integers(0, width - piece_mask.shape[1] + 1))
                if _fits(grown, piece_mask, row, col):
                    position = (row, col)
                    break
        if position is None:
            continue
        row, col = position
        window = (slice(row, row + piece_mask.shape[0]), slice(col, col + piece_mask.shape[1]))
        image[window][piece_mask] = piece[piece_mask]
        instances[window][piece_mask] = len(sources) + 1
        if parts is not None:
            parts[window][piece_mask] = piece_parts[piece_mask]
        occupied[window] |= piece_mask
        placed.append((row + piece_mask.shape[0] / 2, col + piece_mask.shape[1] / 2))
        sources.append(index)
    return ComposedTray(image, instances, sources, label_box, bar_box, touching, parts)


def _slide_to_touch(occupied, mask, placed, rng):
    """Slide the specimen towards a placed one until the next step would overlap it."""
    centre = placed[int(rng.integers(len(placed)))]
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.sin(angle), np.cos(angle)])
    half = np.array(mask.shape) / 2
    last = None
    for distance in np.arange(2.5 * max(mask.shape), 0, -2.0):
        row, col = (np.array(centre) + distance * direction - half).astype(int)
        inside = row >= 0 and col >= 0
        inside = inside and row + mask.shape[0] <= occupied.shape[0]
        inside = inside and col + mask.shape[1] <= occupied.shape[1]
        if not inside:
            if last is not None:
                return None
            continue
        if not _fits(occupied, mask, row, col):
            return last
        last = (int(row), int(col))
    return None
