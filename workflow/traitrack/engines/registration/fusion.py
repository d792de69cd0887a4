"""Label fusion for the registration engine: per-structure probabilities over templates.

Averaging warped one-hot maps (weighted by how well each template's silhouette fits the target)
keeps thin structures as partial votes, where majority voting of hard labels erases them.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from skimage.segmentation import watershed

from traitrack.structures import StructureTable


def one_hot(labels: np.ndarray, structures: StructureTable) -> np.ndarray:
    """(N, H, W) float32 indicator maps of structures 1..N of a label map."""
    labels = np.asarray(labels)
    return (
        np.stack([(labels == structure.label).astype(np.float32) for structure in structures])
        if len(structures)
        else np.zeros((0, *labels.shape), np.float32)
    )


def template_weights(
    qualities: Sequence[float], power: float, priors: Sequence[float] | None = None
) -> np.ndarray:
    """Fusion weights from registration qualities (silhouette Dice in 0..1), summing to 1.

    Raising Dice to a power lets well-fitting templates dominate: 0.9 vs 0.7 becomes 0.66 vs
    0.34 with power 2, and 0.93 vs 0.07 with power 10.  ``priors`` (one per template, > 0)
    scale each template's weight before normalising: a pseudo-template (a target's predicted
    masks, :mod:`traitrack.selftrain.pseudo`) is less trustworthy than a hand-made one however
    well it registers, so it gets a prior below 1.  None (or all 1) gives the same bytes as
    without priors.
    """
    quality = np.clip(np.asarray(qualities, float), 1e-6, 1.0) ** float(power)
    if priors is not None:
        priors = np.asarray(priors, float)
        if priors.shape != quality.shape or not np.all(priors > 0):
            raise ValueError(f"template priors must be one positive number per template: {priors}")
        quality = quality * priors
    return quality / quality.sum()


def fuse_probabilities(warped: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Weighted mean of the templates' warped (N, H, W) probability maps."""
    fused = np.zeros_like(warped[0], dtype=np.float32)
    for maps, weight in zip(warped, weights):
        fused += np.float32(weight) * maps.astype(np.float32)
    return fused


def labels_from_probabilities(
    probabilities: np.ndarray, foreground: np.ndarray | None = None
) -> np.ndarray:
    """Label map by arg-max over background and structures; background outside ``foreground``.

    Background probability is what the structures leave (1 - their sum), so a pixel becomes a
    structure only when the templates put more mass on it than on background.
    """
    background = np.clip(1.0 - probabilities.sum(axis=0), 0.0, 1.0)[None]
    labels = np.argmax(np.concatenate([background, probabilities]), axis=0).astype(np.uint8)
    if foreground is not None:
        labels[~foreground] = 0
    return labels


def assign_appendages(
    labels: np.ndarray,
    probabilities: np.ndarray,
    appendages: np.ndarray,
    thin_labels: Sequence[int],
    spread: float,
    min_probability: float,
    follow_connections: bool = True,
) -> np.ndarray:
    """Give the target's own appendage pixels to the nearest transferred thin structure.

    A smooth deformation of a silhouette cannot put a template's leg on the target's leg: the
    legs lie differently in every specimen, so averaged thin maps are faint and offset.  The
    target's silhouette minus its body (``appendages``) shows where its legs and antennae
    really are; each such pixel still labelled background is claimed if the thin structures'
    fused probability, blurred by ``spread`` px, reaches ``min_probability`` there.

    A claimed pixel takes the label of the transferred thin structure it is connected to
    (``follow_connections``: nearest along the claimed and transferred thin pixels, see
    :func:`label_by_connection`), so that an antenna's tip stays antenna where a leg's blurred
    map outweighs it; a claimed piece connected to none takes the structure whose blurred
    probability is highest there.
    """
    if not len(thin_labels) or not appendages.any():
        return labels
    blurred = np.stack(
        [cv2.GaussianBlur(probabilities[label - 1], (0, 0), float(spread)) for label in thin_labels]
    )
    best = np.argmax(blurred, axis=0)
    strong = np.take_along_axis(blurred, best[None], axis=0)[0] >= min_probability
    claim = appendages & (labels == 0) & strong
    result = labels.copy()
    result[claim] = np.asarray(thin_labels, np.uint8)[best[claim]]
    if follow_connections:
        transferred = np.isin(labels, thin_labels)
        connected = label_by_connection(np.where(transferred, labels, 0), claim | transferred)
        reached = claim & (connected > 0)
        result[reached] = connected[reached]
    return result


def label_by_connection(seeds: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Each pixel of ``within`` labelled as its nearest seed along ``within`` (8-connected),
    0 where no seed is connected.

    A watershed over a flat image floods from every seed at one pace, so it assigns by path
    length inside ``within`` rather than by straight-line distance: a pixel on an antenna
    reaches the antenna's own seed before a leg that lies closer across the background.
    """
    flooded = watershed(
        np.zeros(seeds.shape, np.uint8), seeds.astype(np.int32), mask=within, connectivity=2
    )
    return flooded.astype(seeds.dtype)


def template_agreement(
    warped: Sequence[np.ndarray], labels: np.ndarray, structures: StructureTable
) -> dict[str, float]:
    """Per structure, the mean Dice between each template's warped mask and the fused mask.

    High when the templates agree where the structure is; NaN when it was not predicted.
    """
    agreement = {}
    for structure in structures:
        fused = labels == structure.label
        if not fused.any():
            agreement[structure.name] = float("nan")
            continue
        scores = []
        for maps in warped:
            single = maps[structure.label - 1] >= 0.5
            scores.append(2 * (single & fused).sum() / (single.sum() + fused.sum()))
        agreement[structure.name] = float(np.mean(scores))
    return agreement


def consensus_weights(
    warped: Sequence[np.ndarray],
    weights: np.ndarray,
    structures: StructureTable,
    *,
    power: float,
    drop_below: float,
) -> np.ndarray:
    """Fusion weights that let templates agreeing with the others win, outliers dropped.

    A template that registered badly (turned round, or onto the mount) can still fit the
    silhouette well, so its registration quality alone does not expose it; what does is that
    its parts land elsewhere than the other templates'.  Each template's agreement is the mean
    Dice, over the compact (``blob``) structures, between its own warped labels and the fusion
    of all the *other* templates; weights become ``weights * agreement ** power``, and a
    template whose agreement is below ``drop_below`` times the best one's gets weight 0.  With
    fewer than three templates there is no majority to agree with, and ``weights`` is returned.
    """
    weights = np.asarray(weights, float)
    if len(warped) < 3 or (power == 0 and drop_below == 0):
        return weights
    blobs = [s.label for s in structures if s.kind == "blob"] or [s.label for s in structures]
    own = [labels_from_probabilities(maps) for maps in warped]
    agreement = np.zeros(len(warped))
    for index, labels in enumerate(own):
        others = [maps for j, maps in enumerate(warped) if j != index]
        rest = np.delete(weights, index)
        consensus = labels_from_probabilities(fuse_probabilities(others, rest / rest.sum()))
        agreement[index] = mean_dice(labels, consensus, blobs)
    agreement = np.nan_to_num(agreement, nan=0.0)
    adjusted = weights * np.clip(agreement, 1e-6, 1.0) ** float(power)
    if agreement.max() > 0:
        adjusted[agreement < float(drop_below) * agreement.max()] = 0.0
    return adjusted / adjusted.sum() if adjusted.sum() > 0 else weights


def mean_dice(a: np.ndarray, b: np.ndarray, labels: Sequence[int]) -> float:
    """Mean Dice of two label maps over ``labels`` (those absent from both are skipped)."""
    scores = []
    for label in labels:
        x, y = a == label, b == label
        total = x.sum() + y.sum()
        if total:
            scores.append(2 * (x & y).sum() / total)
    return float(np.mean(scores)) if scores else float("nan")
