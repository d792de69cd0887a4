"""Image descriptors that say which specimens look alike.

The weights-free descriptor is HOG on a small letterboxed grey thumbnail: the prototype on the
shared beetles and ants found it the best cheap descriptor for picking templates (shape and
pose dominate, colour and background clutter matter less).  A SAM 2 engine may supply pooled
encoder features instead (``method: sam2``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from skimage.color import rgb2gray
from skimage.feature import hog
from skimage.transform import resize


def letterbox_grey(image: np.ndarray, size: int) -> np.ndarray:
    """Grey thumbnail of ``size`` x ``size``, aspect ratio kept, padded with the border median.

    Padding with the image's own border colour rather than black keeps the pad from looking
    like a dark specimen edge.
    """
    grey = rgb2gray(image) if image.ndim == 3 else image.astype(float) / 255.0
    height, width = grey.shape
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    small = resize(grey, (new_h, new_w), anti_aliasing=True, preserve_range=True)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    canvas = np.full((size, size), float(np.median(border)))
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = small
    return canvas


def hog_descriptor(image: np.ndarray, size: int = 64) -> np.ndarray:
    """L2-normalised HOG vector of the letterboxed grey thumbnail."""
    features = hog(
        letterbox_grey(image, size),
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(2, 2),
        feature_vector=True,
    )
    norm = np.linalg.norm(features)
    return (features / norm if norm > 0 else features).astype(np.float32)


def describe_images(images: Sequence[np.ndarray], size: int = 64) -> np.ndarray:
    """Stack of HOG descriptors, one row per image."""
    return np.stack([hog_descriptor(image, size) for image in images])


def save_descriptors(path: str | Path, names: Sequence[str], descriptors: np.ndarray, method: str) -> None:
    """Write descriptors as ``.npz`` (names, matrix, method) atomically."""
    from .io import atomic_output

    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, names=np.asarray(names), descriptors=descriptors, method=method)


def load_descriptors(path: str | Path) -> tuple[list[str], np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return [str(n) for n in data["names"]], data["descriptors"]


def centre_descriptors(*blocks: np.ndarray) -> list[np.ndarray]:
    """The blocks' rows minus their joint mean, each row L2-normalised again.

    Raw HOG vectors of one species share a large common component, and a photograph that
    is mostly texture (a specimen on a fibrous card) lies near their mean: it becomes a *hub*,
    near everything.  On the shared ants (300 images) the five strongest hubs were among the
    5 nearest neighbours of 45-51 images each (median 2); template choice by raw distance
    picks them first.  Centring removes the common component (Suzuki et al. 2013, "Centering
    similarity measures to reduce hubs"): the largest count fell to 17.  Rows of zeros stay.
    """
    blocks = tuple(np.asarray(block, np.float64) for block in blocks)
    filled = [block for block in blocks if len(block)]
    if not filled:
        return [block.astype(np.float32) for block in blocks]
    mean = np.concatenate(filled).mean(axis=0)
    out = []
    for block in blocks:
        centred = block - mean
        norm = np.linalg.norm(centred, axis=1, keepdims=True)
        out.append((centred / np.where(norm > 0, norm, 1.0)).astype(np.float32))
    return out


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows of ``a`` and rows of ``b``."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None))
