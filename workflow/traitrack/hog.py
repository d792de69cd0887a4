"""The HOG descriptor of a small letterboxed grey thumbnail: how alike two images look.

Its own module because both the descriptors (:mod:`traitrack.describe`) and the registration
engine's orientation search use it, and neither should import the other.
"""

from __future__ import annotations

import numpy as np
from skimage.color import rgb2gray
from skimage.feature import hog
from skimage.transform import resize


def letterbox_grey(image: np.ndarray, size: int) -> np.ndarray:
    """Grey thumbnail of ``size`` x ``size``, aspect ratio kept, padded with the border median.

    Padding with the image's own border colour rather than black keeps the pad from looking
    like a dark specimen edge.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) RGB or (H, W) grey uint8 image.
    size : int
        The thumbnail's side.

    Returns
    -------
    numpy.ndarray
        (size, size) float grey values in 0..1.
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
    """Return the L2-normalised HOG vector of the letterboxed grey thumbnail.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) RGB or (H, W) grey uint8 image.
    size : int
        The thumbnail's side (:func:`letterbox_grey`).

    Returns
    -------
    numpy.ndarray
        1-D float32 vector (9 orientations, 8 px cells, 2 x 2 cell blocks); all zeros for a
        featureless image.
    """
    features = hog(
        letterbox_grey(image, size),
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(2, 2),
        feature_vector=True,
    )
    norm = np.linalg.norm(features)
    return (features / norm if norm > 0 else features).astype(np.float32)
