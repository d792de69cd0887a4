"""Letterboxing and normalisation: frames of any shape into a network's square input, and
masks back out; the one place both SAM 2 and the student take their input geometry and their
ImageNet normalisation from.

SAM 2 and the student each see a square ``size x size`` image.  A specimen photo is scaled so its longer side
fills the square (aspect ratio kept) and centred, the rest padded.  The two mask mappings are
built as each other's inverse:

* into the square (:func:`letterbox_mask`): every model pixel takes the frame pixel whose
  centre is nearest (pixel-centre convention);
* out of the square (:func:`unletterbox_logits`): the valid region is cropped and every frame
  pixel reads the model pixel nearest its centre; a frame larger than the square (which the
  model sees shrunk) is resampled bilinearly instead.

For a frame no larger than the square (scale >= 1) a mask sent in and read back is reproduced
exactly: the model pixel nearest a frame pixel's centre always lies in the block of model
pixels that copied that frame pixel.  A frame larger than the square loses detail finer than
``1 / scale`` pixels on the way in.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

# ImageNet mean RGB in 0..255: SAM 2 normalises by it, so this padding becomes ~0 input.
PAD_RGB = (124, 116, 104)
IMAGE_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGE_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Where a ``height x width`` frame sits inside the ``size x size`` model input.

    Attributes
    ----------
    height, width : int
        The frame's size.
    size : int
        The model input's side.
    inner_height, inner_width : int
        The scaled frame's size inside the square.
    top, left : int
        The scaled frame's offset inside the square.
    """

    height: int
    width: int
    size: int
    inner_height: int
    inner_width: int
    top: int
    left: int

    @property
    def rows(self) -> slice:
        """The square's rows that hold the frame."""
        return slice(self.top, self.top + self.inner_height)

    @property
    def cols(self) -> slice:
        """The square's columns that hold the frame."""
        return slice(self.left, self.left + self.inner_width)


def fit_letterbox(height: int, width: int, size: int) -> Letterbox:
    """Place a frame in the square: longer side = ``size``, centred.

    Parameters
    ----------
    height, width : int
        The frame's size.
    size : int
        The model input's side.

    Returns
    -------
    Letterbox
        The placement.

    Raises
    ------
    ValueError
        If the frame is empty.
    """
    if height < 1 or width < 1:
        raise ValueError(f"cannot letterbox an empty frame of shape {(height, width)}")
    scale = size / max(height, width)
    inner_height = min(size, max(1, round(height * scale)))
    inner_width = min(size, max(1, round(width * scale)))
    return Letterbox(
        height=height,
        width=width,
        size=size,
        inner_height=inner_height,
        inner_width=inner_width,
        top=(size - inner_height) // 2,
        left=(size - inner_width) // 2,
    )


def letterbox_image(image: np.ndarray, box: Letterbox) -> np.ndarray:
    """An RGB uint8 frame resized into the square and padded with the mean colour.

    Area averaging when shrinking avoids aliasing; bilinear when enlarging.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) RGB uint8 frame.
    box : Letterbox
        Its placement (:func:`fit_letterbox`).

    Returns
    -------
    numpy.ndarray
        (S, S, 3) uint8.

    Raises
    ------
    ValueError
        If the image does not have the placement's frame size.
    """
    if image.shape[:2] != (box.height, box.width):
        raise ValueError(
            f"image of shape {image.shape[:2]} does not match letterbox {(box.height, box.width)}"
        )
    shrinking = box.inner_height < box.height or box.inner_width < box.width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    inner = cv2.resize(image, (box.inner_width, box.inner_height), interpolation=interpolation)
    out = np.empty((box.size, box.size, 3), dtype=np.uint8)
    out[:] = PAD_RGB
    out[box.rows, box.cols] = inner
    return out


def normalise_squares(squares: np.ndarray) -> torch.Tensor:
    """Turn letterboxed uint8 RGB squares into normalised (B, 3, S, S) float32 input.

    Both SAM 2 and the student's ImageNet encoder expect the ImageNet mean and standard
    deviation removed.

    Parameters
    ----------
    squares : numpy.ndarray
        (B, S, S, 3) uint8 (:func:`letterbox_image`, stacked).

    Returns
    -------
    torch.Tensor
        (B, 3, S, S) float32, normalised by the ImageNet mean and standard deviation.
    """
    scaled = np.asarray(squares, dtype=np.float32) / 255.0
    normalised = (scaled - IMAGE_MEAN) / IMAGE_STD
    return torch.from_numpy(np.ascontiguousarray(normalised.transpose(0, 3, 1, 2)))


def normalise_image(square: np.ndarray) -> torch.Tensor:
    """One letterboxed (S, S, 3) uint8 square as SAM 2's (1, 3, S, S) input
    (:func:`normalise_squares`)."""
    return normalise_squares(square[None])


def _centre_sources(inner: int, outer: int) -> np.ndarray:
    """For each of ``inner`` model pixels, the frame pixel (of ``outer``) nearest its centre."""
    positions = (np.arange(inner) + 0.5) * (outer / inner)
    return np.minimum(positions.astype(np.int64), outer - 1)


def letterbox_mask(mask: np.ndarray, box: Letterbox) -> np.ndarray:
    """A boolean (or label) map of frame shape placed into the square, nearest pixel centre.

    Padding is 0 (background).  Works on any integer or boolean dtype, so a label map can be
    letterboxed once and split into structures afterwards.

    Parameters
    ----------
    mask : numpy.ndarray
        (H, W) mask or label map at the frame's size.
    box : Letterbox
        The frame's placement.

    Returns
    -------
    numpy.ndarray
        (S, S), the dtype of ``mask``.

    Raises
    ------
    ValueError
        If the mask does not have the placement's frame size.
    """
    if mask.shape[:2] != (box.height, box.width):
        raise ValueError(
            f"mask of shape {mask.shape[:2]} does not match letterbox {(box.height, box.width)}"
        )
    rows = _centre_sources(box.inner_height, box.height)
    cols = _centre_sources(box.inner_width, box.width)
    out = np.zeros((box.size, box.size), dtype=mask.dtype)
    out[box.rows, box.cols] = mask[np.ix_(rows, cols)]
    return out


def unletterbox_logits(logits: torch.Tensor, box: Letterbox) -> torch.Tensor:
    """Model-resolution logits (N, S, S) -> logits at the frame's own pixels (N, H, W).

    The padding is cropped away and the valid region resampled bilinearly onto the frame's
    pixel centres.  Logits of any resolution that divides ``S`` (SAM 2's low-res S/4 masks)
    are first brought to ``S`` so the crop stays on whole pixels.

    Parameters
    ----------
    logits : torch.Tensor
        (N, s, s) logits, ``s`` dividing ``S``.
    box : Letterbox
        The frame's placement.

    Returns
    -------
    torch.Tensor
        (N, H, W) float32.

    Raises
    ------
    ValueError
        If ``logits`` is not 3-D.
    """
    if logits.ndim != 3:
        raise ValueError(f"expected logits of shape (N, S, S), got {tuple(logits.shape)}")
    logits = logits.float()
    if logits.shape[-1] != box.size:
        logits = torch.nn.functional.interpolate(
            logits[:, None], size=(box.size, box.size), mode="bilinear", align_corners=False
        )[:, 0]
    inner = logits[:, box.rows, box.cols]
    if inner.shape[-2:] == (box.height, box.width):
        return inner.contiguous()
    # The model has at least as many pixels as the frame: read the nearest model pixel, the
    # exact inverse of letterbox_mask.  (Bilinear blending would let three neighbours from
    # other blocks outvote the right one in 2-D.)  Otherwise the frame is finer: bilinear.
    mode = "nearest-exact" if box.inner_height >= box.height else "bilinear"
    return torch.nn.functional.interpolate(
        inner[:, None],
        size=(box.height, box.width),
        mode=mode,
        **({"align_corners": False} if mode == "bilinear" else {}),
    )[:, 0]


def labels_from_logits(logits: torch.Tensor) -> np.ndarray:
    """Resolve overlaps by logit: each pixel goes to the structure with the highest positive logit.

    Parameters
    ----------
    logits : torch.Tensor
        (N, H, W), one map per structure in label order.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map (0 = background: no positive logit).
    """
    if logits.shape[0] == 0:
        return np.zeros(tuple(logits.shape[1:]), dtype=np.uint8)
    best, index = logits.max(dim=0)
    labels = torch.where(best > 0, index + 1, torch.zeros_like(index))
    return labels.to(torch.uint8).cpu().numpy()
