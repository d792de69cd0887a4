"""Painting of the synthetic example's backgrounds: paper, printed label card, pin head.

:mod:`traitrack.example.synthetic` draws the label maps and the specimen itself; these
functions paint what surrounds a specimen in a museum photograph.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

_SUBPIXEL = 4  # cv2 fixed-point bits: coordinates are drawn with 1/16 px precision


def _draw_path(canvas: np.ndarray, path_px: np.ndarray, value, thickness: int) -> None:
    """Paint a polyline into the photograph (cv2, sub-pixel coordinates)."""
    fixed = np.round(path_px * (1 << _SUBPIXEL)).astype(np.int32)
    cv2.polylines(canvas, [fixed], False, value, thickness, cv2.LINE_AA, _SUBPIXEL)


def _paper(shape, rng) -> np.ndarray:
    """Off-white card: tint, a linear light gradient, soft blotches and fibre grain."""
    h, w = shape
    tint = np.array([226, 219, 202]) + rng.normal(0, 6, 3)
    y, x = np.mgrid[:h, :w]
    phi = rng.uniform(0, 2 * np.pi)
    gradient = rng.uniform(8, 22) * ((x * np.cos(phi) + y * np.sin(phi)) / max(h, w) - 0.5)
    blotches = ndimage.gaussian_filter(rng.normal(0, 1, shape), 14)
    blotches *= 6 / (blotches.std() + 1e-9)
    grain = ndimage.gaussian_filter(rng.normal(0, 1, shape), 0.7) * 5
    return tint[None, None, :] + (gradient + blotches + grain)[..., None]


def _label_card(canvas: np.ndarray, rng, anchor) -> None:
    """The specimen's printed data label: a paler tilted card with rows of word-like dashes."""
    h, w = canvas.shape[:2]
    card_w, card_h = rng.uniform(0.55, 0.9) * w, rng.uniform(0.22, 0.36) * h
    angle = np.radians(rng.uniform(-7, 7))
    centre = np.array(
        [anchor[0] + rng.uniform(-0.2, 0.2) * w, anchor[1] + rng.uniform(0.05, 0.3) * h]
    )
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def quad(x0, y0, x1, y1):
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) - [card_w / 2, card_h / 2]
        return np.round((corners @ rot.T + centre) * (1 << _SUBPIXEL)).astype(np.int32)

    paper = tuple(float(c) for c in np.array([244, 242, 234]) + rng.normal(0, 3, 3))
    cv2.fillPoly(canvas, [quad(0, 0, card_w, card_h)], paper, lineType=cv2.LINE_AA, shift=_SUBPIXEL)
    cv2.polylines(
        canvas, [quad(0, 0, card_w, card_h)], True, (170, 168, 160), 1, cv2.LINE_AA, _SUBPIXEL
    )
    ink = tuple(float(c) for c in rng.uniform(60, 110) + rng.normal(0, 5, 3))
    row_y, row_h = 5.0, float(rng.uniform(1.5, 2.5))
    while row_y + row_h < card_h - 4:
        x = 5.0 + rng.uniform(0, 6)
        end = card_w - 5 - rng.uniform(0, 0.4) * card_w
        while x < end:
            word = rng.uniform(3, 14)
            cv2.fillPoly(
                canvas,
                [quad(x, row_y, min(x + word, end), row_y + row_h)],
                ink,
                lineType=cv2.LINE_AA,
                shift=_SUBPIXEL,
            )
            x += word + rng.uniform(2.5, 4)
        row_y += row_h + rng.uniform(3, 4.5)


def _background(labels, pin_xy, rng, placement) -> np.ndarray:
    """Paper, label card, the pin shaft below the body, dust, and the specimen's soft shadow."""
    image = _paper(placement.shape, rng)
    if rng.random() < 0.85:
        _label_card(image, rng, placement.centre)
    angle = np.radians(rng.uniform(35, 145))
    shaft = np.array(
        [
            pin_xy,
            pin_xy
            + rng.uniform(0.35, 0.7)
            * placement.shape[0]
            * np.array([np.cos(angle), np.sin(angle)]),
        ]
    )
    _draw_path(image, shaft, (120, 118, 112), 2)
    _draw_path(image, shaft - 0.5, (205, 205, 200), 1)
    for _ in range(rng.integers(3, 9)):
        cv2.circle(
            image,
            tuple(int(p) for p in rng.uniform(0, 1, 2) * placement.shape[::-1]),
            int(rng.integers(0, 2)),
            tuple(float(a) for a in rng.uniform(40, 90, 3)),
            -1,
        )
    shadow = ndimage.shift(
        ndimage.gaussian_filter((labels > 0).astype(float), 3.5), (4, 3), order=1
    )
    return image * (1 - 0.4 * shadow)[..., None]


def _pin_head(shape, centre, radius, rng) -> tuple[np.ndarray, np.ndarray]:
    """The round pin head (pearl or black, with a specular spot): its pixels and its paint."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    distance = np.hypot(xx - centre[0], yy - centre[1]) / radius
    colour = np.array([214, 204, 178] if rng.random() < 0.6 else [32, 32, 36]) * rng.uniform(
        0.92, 1.05
    )
    light = np.exp(
        -(
            (
                np.hypot(xx - centre[0] + 0.35 * radius, yy - centre[1] + 0.35 * radius)
                / (0.35 * radius)
            )
            ** 2
        )
    )
    return distance <= 1.0, colour * (1.05 - 0.35 * distance**2)[..., None] + 90 * light[..., None]
