"""A small part's look, learnt from the templates: a per-target pixel classifier.

An ant's eye is a dark oval on a pale head, a pale grey sheen on a black one, or a smooth patch
on a sculptured one; a template's eye patch matched by correlation (:mod:`.local`)
finds it only in a head coloured like the template's.  What the eyes share is how they differ
from *their own* head.  So every pixel is described relative to its parent part (Lab colour,
local mean, texture and a blob response at the part's size, each as a z-score over the parent),
and a logistic regression learns part-versus-parent from the target's templates.  No position
enters the features: where the part lies is the template match's job, which is added to this
probability in :func:`traitrack.engines.registration.local.place_small_part`.

A linear model, because it has a handful of templates to learn from, often of other genera:
on the shared ants' tuning split a random forest and gradient boosting placed the eye worse
(eye IoU 0.20 and 0.21 against 0.27 in a scratch comparison; more flexible models can fit the
few templates' own heads).  The engine's numbers: ``registration.options``
(``small_part_classifier``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression


def relative_features(image: np.ndarray, region: np.ndarray, part_radius: float) -> np.ndarray:
    """(H, W, F) features of every pixel, as z-scores against ``region`` (the parent part).

    Lab colour; at half the part's radius and at its radius, the local mean of L, a, b and the
    local standard deviation of L (texture); the scale-normalised Laplacian of Gaussian at the
    part's size (signed: dark and pale blobs differ); the gradient magnitude.
    """
    lab, median, spread = lab_against(image, region)
    lightness = lab[..., 0]
    features = [(lab[..., c] - median[c]) / spread[c] for c in range(3)]
    for sigma in (max(0.7, part_radius / 2), max(0.7, part_radius)):
        mean = cv2.GaussianBlur(lightness, (0, 0), sigma)
        square = cv2.GaussianBlur(lightness * lightness, (0, 0), sigma)
        features.append((mean - median[0]) / spread[0])
        features.append(np.sqrt(np.maximum(square - mean * mean, 0)) / spread[0])
        for c in (1, 2):
            features.append((cv2.GaussianBlur(lab[..., c], (0, 0), sigma) - median[c]) / spread[c])
    features.append(scale_normalised_log(lightness, part_radius) / spread[0])
    features.append(gradient_magnitude(cv2.GaussianBlur(lightness, (0, 0), 1.0)) / spread[0])
    return np.stack(features, axis=-1)


def gradient_magnitude(channel: np.ndarray) -> np.ndarray:
    """|Sobel gradient| of a (smoothed) float32 channel: how strong an edge each pixel lies on,
    for the classifier's features and for the small part's rim (registration.local)."""
    return np.hypot(cv2.Sobel(channel, cv2.CV_32F, 1, 0), cv2.Sobel(channel, cv2.CV_32F, 0, 1))


def lab_against(image: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image in CIELab (float), and the median and spread (standard deviation + 1) of each
    channel over ``region``: what features relative to a part or a specimen are scored by."""
    lab = cv2.cvtColor(np.ascontiguousarray(image[..., :3], np.uint8), cv2.COLOR_RGB2LAB)
    lab = lab.astype(np.float32)
    inside = lab[region]
    return lab, np.median(inside, axis=0), inside.std(axis=0) + 1.0


def scale_normalised_log(channel: np.ndarray, part_radius: float) -> np.ndarray:
    """Signed Laplacian of Gaussian at the scale of a round patch of ``part_radius`` px
    (sigma = radius / sqrt 2, at least 0.7), times sigma squared so that scales compare."""
    sigma = max(part_radius / np.sqrt(2), 0.7)
    return cv2.Laplacian(cv2.GaussianBlur(channel, (0, 0), sigma), cv2.CV_32F) * sigma**2


def part_probability(
    image: np.ndarray,
    region: np.ndarray,
    templates: Sequence,
    part: int,
    parent: int,
    seed: int = 0,
) -> tuple[np.ndarray, float] | None:
    """P(part) for every pixel of ``region`` in the target (0 outside), and the part's expected
    radius in the target (px), from a classifier trained on the templates' parents.

    ``templates``: objects with ``image``, ``labels`` and ``weight``
    (:class:`~traitrack.engines.registration.local.PartTemplate`).  A template's pixels count
    with its fusion weight; the two classes are balanced.  None when no template shows the part
    (or all of them show nothing else), so the caller falls back to the template match.
    """
    samples, classes, weights, radii = [], [], [], []
    for template in templates:
        own_part = template.labels == part
        own_region = own_part | (template.labels == parent)
        if not own_part.any() or own_part.sum() == own_region.sum():
            continue
        own_radius = float(np.sqrt(own_part.sum() / np.pi))
        radii.append(own_radius * np.sqrt(region.sum() / own_region.sum()))
        features = relative_features(template.image, own_region, own_radius)
        samples.append(features[own_region])
        classes.append(own_part[own_region])
        weights.append(np.full(int(own_region.sum()), max(float(template.weight), 1e-6)))
    if not samples:
        return None
    classes = np.concatenate(classes)
    weights = np.concatenate(weights)
    for value in (True, False):  # balance the classes: the part is a few % of its parent
        weights[classes == value] /= weights[classes == value].sum()
    classifier = LogisticRegression(max_iter=500, random_state=seed)
    classifier.fit(np.concatenate(samples), classes, sample_weight=weights * len(weights))
    radius = float(np.median(radii))
    probability = np.zeros(region.shape, np.float32)
    probability[region] = classifier.predict_proba(
        relative_features(image, region, radius)[region]
    )[:, 1]
    return probability, radius
