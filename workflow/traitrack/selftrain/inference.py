"""The student's predictions: its softmax at each image's own pixels, fused with the teacher.

Inference letterboxes each image as training did (and as SAM 2's inference does), optionally
averages the softmax over the image's flips (the student is trained with flips, so each flip
is another view of the same specimen: ``test_flips``), maps it back to the image's pixels and
fuses it with the teacher's label map (``teacher_weight``).  Both are ``PREDICTION_ONLY``
options: changing them reruns ``predict_student``, never the training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from traitrack.engines.base import Prediction, probability_summary
from traitrack.letterbox import (
    fit_letterbox,
    letterbox_image,
    normalise_squares,
    unletterbox_logits,
)
from traitrack.selftrain.student import device_of
from traitrack.structures import StructureTable

FLIP_DIMS = ((), (-1,), (-2,), (-2, -1))
"""The square's flips averaged by ``test_flips``: none, left-right, up-down, both."""


def fuse_with_teacher(
    probabilities: np.ndarray, teacher_labels: np.ndarray, teacher_weight: float
) -> np.ndarray:
    """Class scores of the student's softmax and the teacher's label map together.

    Each class scores ``(1 - w) * p_student + w * [the teacher's label]``, so the teacher's
    label stands unless the student prefers another class by more than ``w / (1 - w)``: the
    student decides where it is sure, the teacher where the student hesitates (at few
    templates, the student's thin parts; the teacher's misplaced ones the student has learnt
    from every pseudo-label together).  ``w`` 0 is the student alone; above 0.5 the teacher.

    ``probabilities`` is the student's (classes, H, W) softmax, background first;
    ``teacher_labels`` the teacher's (H, W) label map of the same image.  Returns (classes, H,
    W) scores that sum to 1 at every pixel.
    """
    if teacher_labels.shape != probabilities.shape[1:]:
        raise ValueError(
            f"teacher labels {teacher_labels.shape} do not match the student's "
            f"{probabilities.shape[1:]}"
        )
    classes = np.arange(probabilities.shape[0])[:, None, None]
    votes = (teacher_labels[None] == classes).astype(probabilities.dtype)
    return (1 - teacher_weight) * probabilities + teacher_weight * votes


def predict(
    network: torch.nn.Module,
    images: Sequence[np.ndarray],
    specimens: Sequence[str],
    structures: StructureTable,
    size: int,
    teacher_labels: Sequence[np.ndarray] | None = None,
    teacher_weight: float = 0.0,
    test_flips: bool = False,
) -> list[Prediction]:
    """Label maps at each image's own size, letterboxed in and out as at inference.

    Parameters
    ----------
    network : torch.nn.Module
        The student.
    images : sequence of numpy.ndarray
        (H, W, 3) RGB uint8 images, any sizes.
    specimens : sequence of str
        Their slugs.
    structures : StructureTable
        The part table.
    size : int
        The student's side (``self_training.student.size``).
    teacher_labels : sequence of numpy.ndarray, optional
        The teacher's label map of each image, fused with the student's softmax by
        :func:`fuse_with_teacher` (``self_training.student.teacher_weight``).
    teacher_weight : float
        The teacher's weight in that fusion; 0 (or no ``teacher_labels``): the student alone.
    test_flips : bool
        Average the softmax over the image's four flips (``self_training.student.test_flips``).

    Returns
    -------
    list of Prediction
        One per image: labels at the image's size (uint8) and each structure's mean
        (fused) probability inside its mask as ``confidence``; no templates and no QC evidence.
    """
    out = []
    for index, (specimen, image) in enumerate(zip(specimens, images)):
        probabilities = image_softmax(network, image, size, test_flips)
        if teacher_labels is not None and teacher_weight > 0:
            probabilities = fuse_with_teacher(
                probabilities, np.asarray(teacher_labels[index]), teacher_weight
            )
        labels = probabilities.argmax(axis=0).astype(np.uint8)
        out.append(
            Prediction(
                specimen=specimen,
                labels=labels,
                confidence=probability_summary(labels, probabilities[1:], structures),
            )
        )
    return out


def image_softmax(
    network: torch.nn.Module, image: np.ndarray, size: int, test_flips: bool = False
) -> np.ndarray:
    """The student's (classes, H, W) softmax at the image's own size, letterboxed in and out
    as at inference (what :func:`predict` labels, fused or not).

    With ``test_flips`` the letterboxed square and its three flips go through the network as
    one batch, and each softmax is flipped back and averaged before mapping out of the square.
    """
    network.eval()
    image = np.asarray(image)
    box = fit_letterbox(image.shape[0], image.shape[1], size)
    square = normalise_squares(letterbox_image(image[..., :3], box)[None])
    flips = FLIP_DIMS if test_flips else FLIP_DIMS[:1]
    with torch.no_grad():
        views = torch.cat([square.flip(dims) if dims else square for dims in flips])
        softmax = network(views.to(device_of(network))).softmax(dim=1).cpu()
        mean = torch.stack(
            [view.flip(dims) if dims else view for view, dims in zip(softmax, flips)]
        ).mean(dim=0)
        # log of the averaged softmax: mapped out as logits, its softmax is the average again
        logits = unletterbox_logits(mean.clamp_min(1e-12).log(), box)
    return logits.softmax(dim=0).numpy()
