"""Where a synthetic specimen lands in its photograph, and thin strokes rasterised exactly.

A :class:`Placement` maps the body frame (:mod:`traitrack.example.anatomy`, mm) into image
pixels with its own rotation, mirroring, scale, pixel size and position, and back;
:func:`place` draws one that fits a 180-260 px image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SIDE, MIN_SIDE = 260, 180


@dataclass(frozen=True)
class Placement:
    """Where a specimen lands in its image.

    Attributes
    ----------
    angle : float
        Rotation in degrees.
    mirrored : bool
        Whether the specimen is mirrored across its long axis.
    scale : float
        The specimen's size relative to its body plan.
    px_per_mm : float
        Pixels per millimetre.
    centre : tuple of float
        Where the body frame's origin lands, (x, y) in pixels.
    shape : tuple of int
        The image's (height, width).
    """

    angle: float
    mirrored: bool
    scale: float
    px_per_mm: float
    centre: tuple[float, float]
    shape: tuple[int, int]

    def to_pixels(self, points_mm: np.ndarray) -> np.ndarray:
        """Map body-frame points (mm at scale 1) to image pixels.

        Parameters
        ----------
        points_mm : numpy.ndarray
            (..., 2) points (u, v).

        Returns
        -------
        numpy.ndarray
            (..., 2) points (x, y) in pixels.
        """
        u, v = points_mm[..., 0] * (-1 if self.mirrored else 1), points_mm[..., 1]
        cos, sin = np.cos(np.radians(self.angle)), np.sin(np.radians(self.angle))
        factor = self.px_per_mm * self.scale
        x = self.centre[0] + factor * (cos * u - sin * v)
        y = self.centre[1] + factor * (sin * u + cos * v)
        return np.stack([x, y], axis=-1)

    def body_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the body-frame coordinates (mm at scale 1) of every pixel centre.

        The inverse of :meth:`to_pixels`.

        Returns
        -------
        u, v : numpy.ndarray
            (H, W) each.
        """
        y, x = np.mgrid[: self.shape[0], : self.shape[1]].astype(float)
        factor = self.px_per_mm * self.scale
        dx, dy = (x - self.centre[0]) / factor, (y - self.centre[1]) / factor
        cos, sin = np.cos(np.radians(self.angle)), np.sin(np.radians(self.angle))
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy
        return (-u if self.mirrored else u), v


def place(extent_points_mm: np.ndarray, rng: np.random.Generator) -> Placement:
    """Draw a pose and fit the image around it: sides 180-260 px, pixel size about 20-30 per mm.

    The pixel size is lowered when the posed specimen would not fit in 260 px, and the margins
    are random so the specimen is not always centred.

    Parameters
    ----------
    extent_points_mm : numpy.ndarray
        (n, 2) body-frame points (mm) the image must contain.
    rng : numpy.random.Generator
        Draws the pose, pixel size and margins.

    Returns
    -------
    Placement
        The pose and the image around it.
    """
    angle = rng.uniform(-25, 25)
    mirrored = bool(rng.random() < 0.3)
    scale = rng.uniform(0.82, 1.18)
    probe = Placement(angle, mirrored, scale, 1.0, (0.0, 0.0), (0, 0)).to_pixels(extent_points_mm)
    low, high = probe.min(axis=0), probe.max(axis=0)  # mm at the posed orientation
    margins = rng.uniform(6, 30, size=(2, 2))  # (x, y) x (before, after)
    room = rng.uniform(0.85, 1.0) * MAX_SIDE - margins.sum(axis=1)
    px_per_mm = float(np.floor(min(rng.uniform(20, 30), *(room / (high - low))) * 10) / 10)
    size = (high - low) * px_per_mm + margins.sum(axis=1)
    extra = np.maximum(MIN_SIDE - size, 0) + rng.uniform(0, 12, size=2)
    share = rng.uniform(0.2, 0.8, size=2)
    before = margins[:, 0] + extra * share
    size = np.minimum(np.ceil(size + extra), MAX_SIDE).astype(int)
    centre = before - low * px_per_mm
    return Placement(
        angle,
        mirrored,
        scale,
        px_per_mm,
        (float(centre[0]), float(centre[1])),
        (int(size[1]), int(size[0])),
    )


def path_mask(shape: tuple[int, int], path_px: np.ndarray, widths) -> np.ndarray:
    """Pixels whose centre lies within ``width / 2`` of each segment of a polyline (x, y).

    An exact stroke width matters here: the thin structures must be 2-3 px wide, and cv2's
    integer thicknesses draw 3 or 5 px.

    Parameters
    ----------
    shape : tuple of int
        The image's (height, width).
    path_px : numpy.ndarray
        (n, 2) polyline (x, y) in pixels.
    widths : sequence of float
        Stroke width of each of the n - 1 segments, in pixels.

    Returns
    -------
    numpy.ndarray
        (H, W) bool.
    """
    mask = np.zeros(shape, bool)
    for (ax, ay), (bx, by), width in zip(path_px[:-1], path_px[1:], widths):
        x0, y0 = (
            max(int(np.floor(min(ax, bx) - width)), 0),
            max(int(np.floor(min(ay, by) - width)), 0),
        )
        x1 = max(int(np.ceil(max(ax, bx) + width)) + 1, 0)
        y1 = max(int(np.ceil(max(ay, by) + width)) + 1, 0)
        y, x = np.mgrid[y0 : min(y1, shape[0]), x0 : min(x1, shape[1])].astype(float)
        dx, dy = bx - ax, by - ay
        along = np.clip(((x - ax) * dx + (y - ay) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        mask[y0:y1, x0:x1] |= np.hypot(x - ax - along * dx, y - ay - along * dy) <= width / 2
    return mask
