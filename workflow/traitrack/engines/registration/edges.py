"""Part boundaries snapped to the target's own edges (random walker from confident seeds).

A template's boundaries arrive on the target through a smooth deformation of its silhouette,
so where a part meets the next (an ant's neck or petiole, a beetle's pronotum and elytra) they
fall a few pixels off the target's real edge.  The fused probabilities are sure about each
part's core and the background far from the body; what lies between is decided by the
target's image: a random walker (scikit-image) on its colour, seeded with the confident
pixels, so an uncertain pixel joins the part it is connected to without crossing an edge.
What it gains on the shared data: README, "How the defaults were chosen" (`snap_beta`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import cv2
import numpy as np
from skimage.segmentation import random_walker


def snap_to_edges(
    image: np.ndarray,
    probabilities: np.ndarray,
    labels: np.ndarray,
    foreground: np.ndarray,
    compact_labels: Sequence[int],
    *,
    snap_beta: float,
    snap_confidence: float,
) -> np.ndarray:
    """``labels`` with the compact parts' boundaries (and theirs with background) re-decided.

    ``image`` is the target's uint8 RGB image at the labels' size.
    ``probabilities`` is the fused (N, H, W) map of structures 1..N; seeds are the pixels
    where background (1 - their sum) or a compact structure reaches ``snap_confidence``, and every
    pixel outside ``foreground`` is background.  Pixels labelled as a thin or small structure
    are left as they are, and so is everything when ``snap_beta`` is 0 or no part has a seed.
    """
    if snap_beta <= 0 or not len(compact_labels):
        return labels
    background = np.clip(1.0 - probabilities.sum(axis=0), 0.0, 1.0)
    seeds = np.zeros(labels.shape, np.int32)
    seeds[background >= snap_confidence] = 1
    classes = [0]
    for label in compact_labels:
        confident = probabilities[label - 1] >= snap_confidence
        if confident.any():
            classes.append(int(label))
            seeds[confident] = len(classes)
    seeds[~foreground] = 1
    if len(classes) < 2 or (seeds == 0).sum() == 0:
        return labels
    colour = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB).astype(np.float64) / 255.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # probability range notes at high beta
        walked = random_walker(
            colour, seeds, beta=float(snap_beta), mode="cg_j", tol=1e-2, channel_axis=-1
        )
    decided = np.zeros(labels.shape, np.uint8)
    valid = walked >= 1
    decided[valid] = np.asarray(classes, np.uint8)[walked[valid] - 1]
    open_to_change = np.isin(labels, classes) & valid
    result = labels.copy()
    result[open_to_change] = decided[open_to_change]
    return result
