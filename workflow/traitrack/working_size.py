"""Photographs of any size at a bounded working size, and label maps back at the photograph's.

A 50-megapixel camera file holds far more pixels than finding a specimen's outline or
registering it needs (the registration engine works at ``registration.working_size``, 224 px,
SAM 2 at its 1024 px square, the student at ``student.size``), yet an engine that keeps a few
full-size float maps of it needs tens of gigabytes. So ``describe`` and ``propagate`` read
each photograph reduced to at most ``limits.working_megapixels`` (JPEGs decoded at a reduced
scale by Pillow's ``draft``, so the full image is never in memory), the engines run on that,
and the label maps are scaled back (:func:`resize_labels`) to the photograph's own size before
they are written, so ``measure`` measures on the photograph's pixel grid and ``px_per_mm``
keeps its meaning. Photographs at or under the limit are read exactly as before.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from traitrack.io import read_image
from traitrack.mask_fit import read_header

JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe")
MAJORITY_SAMPLES = 4  # per side of a reduced pixel, when a label map is reduced


def working_shape(shape: tuple[int, int], max_megapixels: float) -> tuple[int, int]:
    """(height, width) at most ``max_megapixels``, same aspect; ``shape`` itself when under it.

    Parameters
    ----------
    shape : tuple of int
        The photograph's (height, width).
    max_megapixels : float
        The limit; 0 or less: no limit.

    Returns
    -------
    tuple of int
        The working (height, width).
    """
    height, width = shape
    if max_megapixels <= 0 or height * width <= max_megapixels * 1e6:
        return height, width
    scale = math.sqrt(max_megapixels * 1e6 / (height * width))
    return max(1, int(height * scale)), max(1, int(width * scale))


def photograph_shape(path: str | os.PathLike) -> tuple[int, int]:
    """The photograph's (height, width) as :func:`traitrack.io.read_image` reads it, from its
    header (EXIF orientation applied), without decoding it."""
    header = read_header(path)
    return header.height, header.width


def read_working_image(path: str | os.PathLike, max_megapixels: float) -> np.ndarray:
    """A photograph as :func:`traitrack.io.read_image` reads it, reduced to the working size.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    max_megapixels : float
        ``limits.working_megapixels``; 0: the full image.

    Returns
    -------
    numpy.ndarray
        (h, w, 3) RGB uint8 of :func:`working_shape`; exactly ``read_image(path)`` when the
        photograph is not larger.
    """
    if max_megapixels <= 0:
        return read_image(path)
    try:
        shape = photograph_shape(path)
    except Exception:  # noqa: BLE001 - let read_image give its own error for a bad file
        return read_image(path)
    target = working_shape(shape, max_megapixels)
    if target == shape:
        return read_image(path)
    if Path(path).suffix.lower() in JPEG_SUFFIXES:
        with Image.open(path) as image:
            stored = target if image.size[::-1] == shape else target[::-1]
            image.draft("RGB", (stored[1], stored[0]))  # decode at 1/2, 1/4 or 1/8 scale
            image = ImageOps.exif_transpose(image).convert("RGB")
            reduced = np.asarray(image)
    else:
        reduced = read_image(path)
    return cv2.resize(reduced, (target[1], target[0]), interpolation=cv2.INTER_AREA)


def resize_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A label map at another (height, width), without new label values.

    Enlarging (a working-size prediction back to the photograph's size) takes each pixel's
    label from the pixel whose area holds its centre (OpenCV's ``INTER_NEAREST_EXACT``; plain
    ``INTER_NEAREST`` rounds down, which shifts the map by up to half a source pixel towards
    the top left). Reducing (a template's full-size mask to the working photograph) gives each
    working pixel the label that covers most of its area, as the photograph is reduced by
    area (``INTER_AREA``): a single sample per working pixel would keep or drop a thin leg
    by where it happens to fall.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) uint8 label map.
    shape : tuple of int
        The (height, width) wanted.

    Returns
    -------
    numpy.ndarray
        ``labels`` itself when the shape is already right, else the resized map.
    """
    if tuple(labels.shape[:2]) == tuple(shape):
        return labels
    labels = np.ascontiguousarray(labels)
    height, width = shape
    if height >= labels.shape[0] and width >= labels.shape[1]:
        return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return _majority_labels(labels, (height, width))


def _majority_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Each pixel of the reduced map gets the label covering most of its area (ties: the
    lower label), one label at a time so memory stays at a few maps of the reduced size.

    The votes are counted on a grid of at most ``MAJORITY_SAMPLES`` x ``MAJORITY_SAMPLES``
    centre-aligned samples per reduced pixel (all of the map's pixels when it is no larger),
    so that OpenCV averages whole blocks: a 50-megapixel mask costs 0.1 s, not 1.3 s.
    """
    height, width = shape
    factor = max(1, min(MAJORITY_SAMPLES, labels.shape[0] // height, labels.shape[1] // width))
    grid = (height * factor, width * factor)
    if grid != labels.shape:
        labels = cv2.resize(labels, grid[::-1], interpolation=cv2.INTER_NEAREST_EXACT)
    best_share = np.zeros(shape, np.uint8)
    reduced = np.zeros(shape, labels.dtype)
    present = np.flatnonzero(np.bincount(labels.ravel()))  # sorted: a tie keeps the lower
    for label in present.astype(labels.dtype):
        share = cv2.resize(
            (labels == label).view(np.uint8) * np.uint8(255),
            (width, height),
            interpolation=cv2.INTER_AREA,
        )
        wins = share > best_share
        best_share[wins] = share[wins]
        reduced[wins] = label
    return reduced
