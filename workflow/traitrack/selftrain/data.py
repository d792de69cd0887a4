"""The student's training images: letterboxed as at inference, weighted, augmented.

Every image is placed into the student's square exactly as SAM 2's inference places a frame
(:mod:`traitrack.letterbox`), and the student's predictions are mapped back the
same way, so training and inference see one geometry.  A template's hand-made mask weighs 1 at
every pixel; a pseudo-label weighs the teacher's confidence in it: the target's QC rank times,
per pixel, the teacher's confidence in the pixel's structure, lowered near part boundaries
(:func:`pseudo_label_weights`), where a registration's errors lie.  The padding weighs 0: the
student is never asked about it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# albumentations asks PyPI for a newer version at import unless told not to: a job on a
# cluster node should not reach out
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from traitrack import rgb  # noqa: E402
from traitrack.letterbox import (  # noqa: E402
    PAD_RGB,
    fit_letterbox,
    letterbox_image,
    letterbox_mask,
)
from traitrack.structures import StructureTable  # noqa: E402


@dataclass
class Sample:
    """One training image in the student's square.

    Attributes
    ----------
    specimen : str
        The specimen's slug.
    image : numpy.ndarray
        (S, S, 3) uint8, letterboxed.
    labels : numpy.ndarray
        (S, S) uint8 label map (hand-made for a template, the teacher's for a pseudo-label).
    weights : numpy.ndarray
        (S, S) float32 per-pixel loss weight (0 on the padding).
    is_template : bool
        Whether ``labels`` are hand-made.
    """

    specimen: str
    image: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    is_template: bool


def boundary_confidence(labels: np.ndarray, width: float, spared: Sequence[int] = ()) -> np.ndarray:
    """Per pixel, ``1 - exp(-d / width)`` for ``d`` its distance (px) to a label boundary.

    A registration carries a part's position well and its outline roughly, so a pseudo-label
    is least trustworthy along the outlines; pixels on a boundary weigh about 0, pixels
    ``width`` away 0.63, far ones 1.  ``width`` 0 gives 1 everywhere.

    A thin part (legs, antennae: ``kind: thin``) is all outline: at ``width`` 3 and 256 px the
    shared beetles' antennae are about 6 px across, so every one of their pixels would weigh
    little and their pseudo-labels would teach nothing.  The outlines of the ``spared`` labels
    are no boundaries (neither for them nor for their neighbours), so they keep the weight of
    their surroundings.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) label map.
    width : float
        The decay distance in pixels.
    spared : sequence of int
        Labels whose outlines are not boundaries (``self_training.student.spare_thin_parts``:
        the ``kind: thin`` structures, ``StructureTable.thin_labels``).

    Returns
    -------
    numpy.ndarray
        (H, W) float32 in 0..1.
    """
    labels = np.asarray(labels)
    if width <= 0:
        return np.ones(labels.shape, np.float32)
    is_spared = np.zeros(max(int(labels.max()), *spared, 0) + 1, bool)
    is_spared[list(spared)] = True
    edge = np.zeros(labels.shape, bool)
    # each pair of vertical, then horizontal neighbours; both pixels of a pair that differs
    # (and involves no spared label) are on the boundary
    for before, after in ((np.s_[:-1], np.s_[1:]), (np.s_[:, :-1], np.s_[:, 1:])):
        a, b = labels[before], labels[after]
        differs = (a != b) & ~is_spared[a] & ~is_spared[b]
        edge[before] |= differs
        edge[after] |= differs
    if not edge.any():
        return np.ones(labels.shape, np.float32)
    distance = ndimage.distance_transform_edt(~edge)
    return (1.0 - np.exp(-distance / float(width))).astype(np.float32)


def pseudo_label_weights(
    labels: np.ndarray,
    structures: StructureTable,
    *,
    qc_rank: float,
    confidence: Mapping[str, float] | None = None,
    boundary_px: float = 0.0,
    spare_thin: bool = False,
) -> np.ndarray:
    """Per-pixel weights of a pseudo-label: target QC x structure confidence x boundary term.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) the teacher's label map (in the square the student sees, so that
        ``boundary_px`` is in the student's pixels).
    structures : StructureTable
        The part table.
    qc_rank : float
        The target's ``qc_rank`` (0..1, 1 best; NaN counts as 0): a target the QC doubts
        teaches little.
    confidence : Mapping of str to float, optional
        The teacher's per-structure confidence (``Prediction.confidence``, 0..1, NaN for a
        structure not predicted); background pixels take 1.
    boundary_px : float
        :func:`boundary_confidence`'s width.
    spare_thin : bool
        Whether it spares the outlines of the ``kind: thin`` structures.

    Returns
    -------
    numpy.ndarray
        (H, W) float32 in 0..1.
    """
    rank = float(np.nan_to_num(qc_rank, nan=0.0))
    per_label = np.ones(len(structures) + 1, np.float32)
    for structure in structures:
        value = (confidence or {}).get(structure.name, 1.0)
        per_label[structure.label] = float(np.clip(np.nan_to_num(value, nan=1.0), 0.0, 1.0))
    weights = per_label[np.asarray(labels, np.int64)] * boundary_confidence(
        labels, boundary_px, structures.thin_labels if spare_thin else ()
    )
    return (np.clip(rank, 0.0, 1.0) * weights).astype(np.float32)


def make_sample(
    specimen: str,
    image: np.ndarray,
    labels: np.ndarray,
    size: int,
    *,
    is_template: bool,
    structures: StructureTable,
    qc_rank: float = 1.0,
    confidence: Mapping[str, float] | None = None,
    boundary_px: float = 0.0,
    spare_thin: bool = False,
) -> Sample:
    """Letterbox one image and its labels into the square and weigh its pixels.

    Parameters
    ----------
    specimen : str
        The slug.
    image : numpy.ndarray
        (H, W, 3) RGB uint8.
    labels : numpy.ndarray
        (H, W) label map.
    size : int
        The student's side (``self_training.student.size``).
    is_template : bool
        Hand-made labels (weight 1 everywhere) or a pseudo-label
        (:func:`pseudo_label_weights`).
    structures : StructureTable
        The part table.
    qc_rank, confidence, boundary_px, spare_thin
        A pseudo-label's weights (:func:`pseudo_label_weights`).

    Returns
    -------
    Sample
        The letterboxed sample.
    """
    image = rgb.as_rgb(image, owner="the student's image")
    box = fit_letterbox(image.shape[0], image.shape[1], size)
    square_labels = letterbox_mask(np.asarray(labels, np.uint8), box)
    inside = letterbox_mask(np.ones(image.shape[:2], np.uint8), box).astype(np.float32)
    if is_template:
        weights = inside
    else:
        weights = inside * pseudo_label_weights(
            square_labels,
            structures,
            qc_rank=qc_rank,
            confidence=confidence,
            boundary_px=boundary_px,
            spare_thin=spare_thin,
        )
    return Sample(
        specimen, letterbox_image(image[..., :3], box), square_labels, weights, is_template
    )


def augmentation(rotate_deg: float, scale: float, colour: float, flips: bool) -> A.Compose:
    """The student's augmentation: flips, rotation, scale, colour (albumentations).

    Geometry moves image, labels and weights together (labels and weights by nearest
    neighbour); what the rotation brings in from outside the square is the letterbox padding
    colour with weight 0, as the padding at inference.

    Parameters
    ----------
    rotate_deg, scale, colour : float
        ``self_training.student`` ``rotate_deg``, ``scale`` and ``colour``.
    flips : bool
        Random horizontal and vertical flips.

    Returns
    -------
    albumentations.Compose
        Call it as ``transform(image=..., masks=[labels, weights])``; seed it with
        ``set_random_seed``.
    """
    steps = []
    if flips:
        steps += [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
    if rotate_deg > 0 or scale > 0:
        steps.append(
            A.Affine(
                scale=(1.0 - scale, 1.0 + scale),
                rotate=(-rotate_deg, rotate_deg),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=cv2.BORDER_CONSTANT,
                fill=PAD_RGB,
                fill_mask=0,
                p=0.9,
            )
        )
    if colour > 0:
        steps.append(
            A.ColorJitter(
                brightness=colour, contrast=colour, saturation=colour, hue=colour / 6, p=0.8
            )
        )
    return A.Compose(steps)
