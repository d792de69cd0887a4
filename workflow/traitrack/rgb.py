"""One image array as RGB: the single place where greyscale is repeated and alpha dropped.

The readers in :mod:`traitrack.io` already give RGB uint8 (compositing alpha over white,
scaling bit depths); this is for arrays that callers pass in directly.
"""

from __future__ import annotations

import numpy as np


def as_rgb(
    image: np.ndarray, *, error: type[Exception] = ValueError, owner: str = "image"
) -> np.ndarray:
    """The image as contiguous (H, W, 3) RGB of its own dtype.

    Parameters
    ----------
    image : array_like
        (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA.
    error : type of Exception
        What to raise for another shape (the caller's own error type).
    owner : str
        Who needs the image, for the message.

    Returns
    -------
    numpy.ndarray
        (H, W, 3), grey repeated into every channel, alpha dropped.

    Examples
    --------
    >>> as_rgb(np.zeros((2, 3), np.uint8)).shape
    (2, 3, 3)
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise error(
            f"{owner} must be RGB (H, W, 3), RGBA or greyscale (H, W), got shape {image.shape}"
        )
    return np.ascontiguousarray(image[..., :3])
