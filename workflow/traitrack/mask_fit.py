"""Does a mask lie on its photograph, or on the photograph turned or flipped?

Annotation tools that ignore a JPEG's EXIF orientation draw the mask on the stored pixels,
while traitrack (like every viewer) reads the photograph with the orientation applied
(:func:`traitrack.io.read_image`). A 180-degree turn or a flip keeps the size, so nothing else
notices, and every target registered from such a template is wrong (IoU 0.08-0.10 on the
example). The check compares the mask's foreground with the photograph's foreground (pixels
unlike the border's colour, Otsu's threshold) on small copies, for the mask as given and for
each of the seven other turns and flips; a mask that fits one of them clearly better is put
the wrong way round.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps
from skimage.filters import threshold_otsu
from skimage.transform import resize

# the eight turns and flips of an image, as functions of a (H, W) array, and how to say them
DIHEDRAL = {
    "as given": lambda a: a,
    "turned 90 degrees clockwise": lambda a: np.rot90(a, -1),
    "turned 180 degrees": lambda a: np.rot90(a, 2),
    "turned 90 degrees anticlockwise": lambda a: np.rot90(a, 1),
    "flipped left-right": lambda a: a[:, ::-1],
    "flipped top-bottom": lambda a: a[::-1, :],
    "transposed": lambda a: a.T,
    "anti-transposed": lambda a: np.rot90(a, 2).T,
}
# EXIF orientation tag -> what the reader does to the stored pixels (PIL's exif_transpose)
EXIF_ORIENTATION = {
    2: "flipped left-right",
    3: "turned 180 degrees",
    4: "flipped top-bottom",
    5: "transposed",
    6: "turned 90 degrees clockwise",
    7: "anti-transposed",
    8: "turned 90 degrees anticlockwise",
}
CHECK_SIZE = 256  # longest side of the copies compared: enough for a specimen's outline


@dataclass(frozen=True)
class ImageHeader:
    """What the photograph's header says, without decoding its pixels.

    Attributes
    ----------
    height, width : int
        The size as traitrack reads the image (EXIF orientation applied).
    orientation : int
        The EXIF orientation tag (1 when absent: stored as shown).
    """

    height: int
    width: int
    orientation: int = 1

    @property
    def stored_shape(self) -> tuple[int, int]:
        """(height, width) of the pixels as stored, before the EXIF orientation."""
        if self.orientation in (5, 6, 7, 8):
            return self.width, self.height
        return self.height, self.width

    @property
    def megapixels(self) -> float:
        """Width times height, in millions of pixels."""
        return self.height * self.width / 1e6


def read_header(path: str | os.PathLike) -> ImageHeader:
    """The photograph's size and EXIF orientation from its header (no pixels decoded).

    Parameters
    ----------
    path : str or os.PathLike
        An image Pillow opens (TIFFs too: their first page).

    Returns
    -------
    ImageHeader
        The size as read (orientation applied) and the orientation tag.

    Raises
    ------
    OSError, PIL.UnidentifiedImageError
        If Pillow cannot open the file.
    """
    with Image.open(path) as image:
        orientation = int(image.getexif().get(0x0112, 1) or 1)
        width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageHeader(height=height, width=width, orientation=orientation)


def read_small(path: str | os.PathLike, size: int = CHECK_SIZE) -> np.ndarray:
    """The photograph as read (EXIF orientation applied), longest side about ``size``, RGB.

    JPEGs are decoded at a reduced scale (Pillow's ``draft``), so a 50-megapixel file costs
    a fraction of its full decode.
    """
    with Image.open(path) as image:
        image.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail((size, size))
        return np.asarray(image)


def foreground(rgb: np.ndarray) -> np.ndarray:
    """Pixels unlike the border's median colour (Otsu's threshold on the colour distance).

    Parameters
    ----------
    rgb : numpy.ndarray
        (H, W, 3) image.

    Returns
    -------
    numpy.ndarray
        (H, W) bool.
    """
    pixels = rgb.astype(np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    distance = np.linalg.norm(pixels - np.median(border, axis=0), axis=2)
    if float(distance.max()) - float(distance.min()) < 1e-6:
        return np.zeros(distance.shape, dtype=bool)
    return distance > threshold_otsu(distance)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape (0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


@dataclass(frozen=True)
class Fit:
    """How well a mask's foreground matches the photograph's, as given and at its best.

    Attributes
    ----------
    as_given : float
        IoU of the mask as given.
    best : str
        The turn or flip (a key of :data:`DIHEDRAL`) that fits best.
    best_iou : float
        Its IoU.
    """

    as_given: float
    best: str
    best_iou: float

    def misplaced(self, floor: float = 0.5, margin: float = 0.15, ratio: float = 1.3) -> bool:
        """Whether another turn or flip fits clearly better than the mask as given.

        The defaults flag none of 168 correct real masks and 63 of 68 beetle masks turned by
        180 degrees, 22 of 100 ant masks (``benchmarks/mask_orientation.py``).

        Parameters
        ----------
        floor : float
            IoU the best must reach: below it the photograph's foreground is too unlike any
            mask (ants on a graded background, masks without legs) to decide anything.
        margin : float
            IoU the best must gain over the mask as given.
        ratio : float
            Factor the best must reach over the mask as given; together with ``margin`` it
            keeps symmetric specimens (a beetle and its mirror image) from being flagged.
        """
        return (
            self.best != "as given"
            and self.best_iou >= floor
            and self.best_iou >= self.as_given + margin
            and self.best_iou >= self.as_given * ratio
        )


def mask_fit(labels: np.ndarray, small_image: np.ndarray) -> Fit:
    """Compare a label map's foreground with a small copy of its photograph, all 8 ways.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) label map, 0 background, at the photograph's size (or its turned size).
    small_image : numpy.ndarray
        (h, w, 3) reduced photograph as read (:func:`read_small`).

    Returns
    -------
    Fit
        The IoU as given and the best turn or flip.
    """
    target = foreground(small_image)
    scores = {}
    for name, turn in DIHEDRAL.items():
        turned = turn(labels > 0)
        if turned.shape[0] * target.shape[1] != turned.shape[1] * target.shape[0]:
            # another aspect ratio (beyond rounding): this turn cannot be the photograph's
            if abs(turned.shape[0] / turned.shape[1] - target.shape[0] / target.shape[1]) > 0.02:
                continue
        small = resize(turned.astype(np.float32), target.shape, order=1, anti_aliasing=True)
        scores[name] = iou(small > 0.5, target)
    as_given = scores.get("as given", 0.0)
    best = max(scores, key=lambda name: (scores[name], name == "as given"))
    return Fit(as_given=as_given, best=best, best_iou=scores[best])


def exif_hint(header: ImageHeader, turn: str) -> str:
    """Why a mask may lie turned: the photograph's EXIF orientation, when it explains it."""
    applied = EXIF_ORIENTATION.get(header.orientation)
    if applied is None:
        return ""
    return (
        f"; the photograph's EXIF orientation ({header.orientation}) has it {applied} when "
        "read, and the annotation tool seems to have drawn the mask on the stored pixels"
    )
