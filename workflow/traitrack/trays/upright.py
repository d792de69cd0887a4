"""Where a specimen's crop lies in its tray, and the crop turned upright.

In a drawer or a unit tray a specimen lies at any angle, while single-specimen photographs,
and so the templates, mostly show it with its long axis vertical and its head up (the shared
beetles: about 3 in 4 within 30 degrees of vertical, 9 in 10 head up). The registration
engine does not make up the difference: its similarity alignment starts from quarter turns
but a turned start wins only when it fits far better (``registration.turn_penalty``), and
its appearance-based turn (``registration.orient_rotations``) is off by default, so a beetle
at 40 degrees or head down is registered as it lies and loses most of its parts. With
``split.crop_rotation: upright`` each crop is therefore cut turned so that the specimen's
long axis is vertical and its head end up.

The long axis is the principal axis (image moments) of the specimen's body: its mask opened
by a disk of half its largest inscribed radius, which takes off legs and antennae that would
swing the axis, with its holes then filled (the head of a pin through an elytron, which the
split leaves out of the mask, would move the centroid forward). The head end is the end
the body's centroid lies away from: the abdomen (elytra, gaster) carries the mass, so the
centroid sits behind the middle of the body's extent (right for 97.0% of the 202 pool
beetles of ``benchmarks/tray_crops.py`` with a head mask, 95.5% of its 66 target beetles).
Where the centroid is within half a percent of the length of the middle, the whole mask's
skewness along the axis decides instead (the antennae reach forward): 98.0% and 97.0%
(the threshold chosen on the pool beetles; ``tests/test_trays_upright.py`` checks the pool
on the shared data).

A :class:`CropFrame` is the crop's affine map from tray pixels (x right, y down) to crop
pixels. Everything measured on a crop (the trait table's positions and orientations) is in
the crop's frame, as for any single photograph; :meth:`CropFrame.to_tray` maps a crop
position back to the tray, and the generated sample rows carry ``angle_deg`` and the tray
position of the crop's origin (``origin_x_px``, ``origin_y_px``) so that the map is known
from the sheet alone (:func:`crop_to_tray`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

ROTATIONS = ("none", "upright", "vertical")
CENTRED = 0.005  # body centroids nearer their middle than this share of the length


@dataclass(frozen=True)
class CropFrame:
    """A crop's place in its tray.

    Attributes
    ----------
    angle_deg : float
        The counter-clockwise turn (degrees, as the picture is seen) from the tray to the crop.
    origin : tuple of float
        The tray position (x, y, pixels) of the crop's pixel (0, 0).
    size : tuple of int
        The crop's (width, height).
    box : tuple of int
        The tray's pixels the crop covers, (x0, y0, x1, y1) with x1 and y1 exclusive,
        clipped to the tray.
    """

    angle_deg: float
    origin: tuple[float, float]
    size: tuple[int, int]
    box: tuple[int, int, int, int]

    @property
    def matrix(self) -> np.ndarray:
        """The 2 x 3 affine map from tray pixels to crop pixels (OpenCV's convention)."""
        linear = rotation(self.angle_deg)
        return np.hstack([linear, -(linear @ np.asarray(self.origin))[:, None]])

    @property
    def is_turned(self) -> bool:
        """True when the crop is turned (not a plain window of the tray)."""
        return self.angle_deg != 0.0

    def cut(self, array: np.ndarray, *, nearest: bool = False, fill=None) -> np.ndarray:
        """The crop of ``array`` (the tray photograph, or a label map with ``nearest``).

        An unturned frame is a plain slice of the tray. A turned one is resampled (bilinear,
        or nearest for labels); pixels beyond the tray's edge take ``fill`` (default: the edge
        repeated for images, 0 for labels).
        """
        width, height = self.size
        if not self.is_turned:
            x0, y0 = (round(v) for v in self.origin)
            return array[y0 : y0 + height, x0 : x0 + width].copy()
        if nearest:
            border, value = cv2.BORDER_CONSTANT, 0 if fill is None else fill
        else:
            border = cv2.BORDER_REPLICATE if fill is None else cv2.BORDER_CONSTANT
            value = fill if fill is not None else 0
        source = np.ascontiguousarray(array)
        if source.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
            source = source.astype(np.float32)
        turned = cv2.warpAffine(
            source,
            self.matrix,
            (width, height),
            flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
            borderMode=border,
            borderValue=value,
        )
        return turned.astype(array.dtype, copy=False)

    def to_tray(self, x, y):
        """Crop positions (x right, y down; arrays or floats) as tray positions."""
        return crop_to_tray(x, y, angle_deg=self.angle_deg, origin=self.origin)


def rotation(angle_deg: float) -> np.ndarray:
    """The 2 x 2 map of a counter-clockwise turn as seen (image y points down)."""
    theta = math.radians(angle_deg)
    cos, sin = math.cos(theta), math.sin(theta)
    return np.array([[cos, sin], [-sin, cos]])


def crop_to_tray(x, y, *, angle_deg: float, origin: tuple[float, float]):
    """Tray positions (x, y) of crop positions, from a crop's ``angle_deg`` and ``origin``
    (the generated sample row's ``angle_deg``, ``origin_x_px``, ``origin_y_px``).

    For a trait row's centroid: ``x = centroid_col_px``, ``y = centroid_row_px``.
    """
    linear = rotation(angle_deg).T
    points = np.stack(np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float)))
    tray = linear @ points.reshape(2, -1) + np.asarray(origin, float)[:, None]
    return tray[0].reshape(points.shape[1:]), tray[1].reshape(points.shape[1:])


def body(mask: np.ndarray) -> np.ndarray:
    """The specimen's body: ``mask`` opened by a disk of half its largest inscribed radius
    (legs and antennae off), its largest piece with its holes filled (the head of a pin
    through an elytron, which the split leaves out); ``mask`` itself if nothing is left.

    The holes are filled after the opening: filled before it, the gaps that legs close
    against the body would become body too (measured: the head end right for 87% of the
    pool beetles instead of 97%).
    """
    mask = mask.astype(np.uint8)
    radius = int(round(0.5 * float(cv2.distanceTransform(mask, cv2.DIST_L2, 5).max())))
    if radius < 1:
        return mask > 0
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, disk)
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(opened)
    if count < 2:
        return mask > 0
    return ndi.binary_fill_holes(pieces == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])))


def upright_angle(mask: np.ndarray, *, head_up: bool = True) -> float:
    """The counter-clockwise turn (degrees, in (-180, 180]) that stands the specimen of
    ``mask`` on its long axis with its head end up (see the module's notes).

    With ``head_up=False`` the smallest turn that stands it on its long axis (in
    (-90, 90]): the end that was nearer the top stays up, for trays whose specimens all lie
    head up and only off the vertical.
    """
    mask = np.pad(np.asarray(mask, bool), 1)  # a border of background for the distances
    trunk = body(mask)
    moments = cv2.moments(trunk.astype(np.uint8), True)
    if moments["m00"] == 0:
        return 0.0
    mu20, mu02, mu11 = moments["mu20"], moments["mu02"], moments["mu11"]
    axis = 0.5 * math.atan2(2 * mu11, mu20 - mu02)  # from the x axis, y down
    direction = np.array([math.cos(axis), math.sin(axis)])
    rows, cols = np.nonzero(trunk)
    along = np.stack([cols, rows], 1) @ direction
    offset = (along.mean() - 0.5 * (along.min() + along.max())) / max(np.ptp(along), 1.0)
    if not head_up:
        offset = float(direction[1])  # the end with the smaller y (nearer the top) up
    elif abs(offset) < CENTRED:
        # the body's centroid too near its middle to tell: the legs and antennae decide, the
        # whole mask's longer tail along the axis being the head end's (antennae reach forward)
        rows, cols = np.nonzero(mask)
        whole = np.stack([cols, rows], 1) @ direction
        offset = -float(((whole - whole.mean()) ** 3).mean())
    if offset > 0:
        direction = -direction  # the head is the end the centroid lies away from
    heading = math.degrees(math.atan2(-direction[1], direction[0]))  # as seen, y up
    angle = (90.0 - heading) % 360.0
    return angle - 360.0 if angle > 180.0 else angle


def crop_frames(labels: np.ndarray, *, padding: float, rotation_mode: str) -> list[CropFrame]:
    """Each specimen's crop frame, padded by ``padding`` of its larger side.

    ``rotation_mode``: ``none`` (the specimen's box in the tray, clipped to the tray),
    ``upright`` (turned by :func:`upright_angle`, head end up by the body's shape) or
    ``vertical`` (the smallest turn that makes the long axis vertical); a turned crop may
    reach past the tray's edge.
    """
    if rotation_mode not in ROTATIONS:
        raise ValueError(f"crop rotation {rotation_mode!r} is not one of {ROTATIONS}")
    height, width = labels.shape
    frames = []
    # each specimen's pixels found within its bounding box, not over the whole tray
    for k, found in enumerate(ndi.find_objects(labels), start=1):
        if found is None:
            frames.append(CropFrame(0.0, (0.0, 0.0), (0, 0), (0, 0, 0, 0)))
            continue
        window = labels[found] == k
        rows, cols = np.nonzero(window)
        rows, cols = rows + found[0].start, cols + found[1].start
        angle = 0.0
        if rotation_mode != "none":
            angle = upright_angle(window, head_up=rotation_mode == "upright")
        if angle == 0.0:
            pad = round(padding * max(np.ptp(rows) + 1, np.ptp(cols) + 1))
            x0, y0 = max(0, int(cols.min()) - pad), max(0, int(rows.min()) - pad)
            x1, y1 = min(width, int(cols.max()) + 1 + pad), min(height, int(rows.max()) + 1 + pad)
            frames.append(
                CropFrame(0.0, (float(x0), float(y0)), (x1 - x0, y1 - y0), (x0, y0, x1, y1))
            )
            continue
        frames.append(turned_frame(rows, cols, angle, padding, (height, width)))
    return frames


def turned_frame(rows, cols, angle: float, padding: float, shape) -> CropFrame:
    """The frame turned by ``angle`` that holds the pixels (rows, cols), padded."""
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]])
    points = (np.stack([cols, rows], 1)[:, None, :] + corners[None]).reshape(-1, 2)
    turned = points @ rotation(angle).T
    low, high = turned.min(0), turned.max(0)
    pad = padding * float(max(high - low))
    low, high = np.floor(low - pad), np.ceil(high + pad)
    size = (int(high[0] - low[0]), int(high[1] - low[1]))
    # crop pixel centres sit at integer positions: the crop's (0, 0) is turned (low + 0.5)
    origin = rotation(angle).T @ (low + 0.5)
    outline = np.array([[0, 0], [size[0], 0], [0, size[1]], [size[0], size[1]]]) - 0.5
    in_tray = (outline @ rotation(angle)) + origin
    x0, y0 = np.floor(in_tray.min(0) + 0.5).astype(int)
    x1, y1 = np.ceil(in_tray.max(0) + 0.5).astype(int)
    height, width = shape
    box = (max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1)))
    return CropFrame(float(angle), (float(origin[0]), float(origin[1])), size, box)
