"""What the templates call the body: a per-target pixel classifier over the silhouette.

Some sets annotate less than the camera sees: the shared ants' masks leave out legs,
antennae and the lower mesosoma, which GrabCut keeps (its silhouette overlaps their annotated
body by about 0.5 IoU).  Registration then aligns silhouettes that include legs in another
pose, and the fused maps leave parts of the body unlabelled (the gaster most of all).  The
templates show, pixel by pixel, which part of *their* silhouette is annotated body; two
classifiers learn that from them, per target, on features relative to the silhouette (colour
against the specimen's own, thickness, how deep inside the silhouette a pixel lies, and its
place relative to the silhouette's centre and spread).  Silhouette pixels the classifier calls
body, left unlabelled by the transfer and attached to a labelled part, then take the nearest
compact part's label (:func:`fill_body`).

Position is a feature here, unlike for small parts (:mod:`.appearance`): the
lower mesosoma and the legs are told apart by where they lie as much as by their look.

The probability is the mean of gradient-boosted trees and a logistic regression.  Trees,
because whether a pixel is body depends on combinations of features (thickness with place,
colour with depth) that a linear model cannot express.  The regression, because trees cut the
position features at the template's exact coordinates, so with one template and a shifted
target (``tests/test_registration_body.py``) the trees alone fill less of the body than the
mean.  The comparisons behind these choices: README, "How the defaults were chosen".  Both
learn from :data:`MAX_SAMPLES` template pixels drawn in proportion to their weights (see
:func:`body_probability`).  Everything runs at the registration's working size.  The engine's
numbers: ``registration.options`` (``body_fill``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy import ndimage as ndi
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from traitrack.engines.registration.appearance import lab_against
from traitrack.silhouette import attached_to, nearest_source_labels

#: local scales, as fractions of the square root of the silhouette's area
_COLOUR_SCALES = (0.05, 0.1)
_THICKNESS_SCALES = (0.05, 0.1)
_DEPTH_SCALES = (0.03, 0.06, 0.12)
#: template pixels the classifiers learn from (a seeded draw, in proportion to their weights)
MAX_SAMPLES = 20_000
#: boosting iterations (fixed: no early stopping, so the same inputs give the same trees)
BOOSTING_ITERATIONS = 60


def body_features(image: np.ndarray, silhouette: np.ndarray) -> np.ndarray:
    """(H, W, F) features of every pixel, relative to the specimen's ``silhouette``.

    Lab colour and its local means, as z-scores over the silhouette; the distance to the
    silhouette's edge and its local maximum (thickness: legs are thin) over the median
    distance; the silhouette's local density (how deep inside a pixel lies); the position
    relative to the silhouette's centroid in units of its spread, with squares and product.
    """
    lab, median, spread = lab_against(image, silhouette)
    size = float(np.sqrt(silhouette.sum()))
    features = [(lab[..., c] - median[c]) / spread[c] for c in range(3)]
    for scale in _COLOUR_SCALES:
        for c in range(3):
            blurred = cv2.GaussianBlur(lab[..., c], (0, 0), scale * size)
            features.append((blurred - median[c]) / spread[c])
    distance = ndi.distance_transform_edt(silhouette).astype(np.float32)
    typical = float(np.median(distance[silhouette])) + 1e-3
    features.append(distance / typical)
    for scale in _THICKNESS_SCALES:
        width = int(2 * scale * size) | 1
        features.append(ndi.grey_dilation(distance, size=width) / typical)
    inside = silhouette.astype(np.float32)
    features += [cv2.GaussianBlur(inside, (0, 0), scale * size) for scale in _DEPTH_SCALES]
    rows, cols = np.nonzero(silhouette)
    yy, xx = np.mgrid[: silhouette.shape[0], : silhouette.shape[1]].astype(np.float32)
    across = (xx - cols.mean()) / (cols.std() + 1.0)
    down = (yy - rows.mean()) / (rows.std() + 1.0)
    features += [across, down, across * across, down * down, across * down]
    return np.stack(features, axis=-1)


def body_samples(
    image: np.ndarray, silhouette: np.ndarray, annotated: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One template's training pixels: features and annotated-or-not over its silhouette."""
    region = silhouette | annotated
    return body_features(image, region)[region], annotated[region]


def body_probability(
    image: np.ndarray,
    silhouette: np.ndarray,
    samples: Sequence[tuple[np.ndarray, np.ndarray]],
    weights: Sequence[float],
    seed: int = 0,
) -> np.ndarray | None:
    """P(annotated body) for every pixel of the target's ``silhouette`` (0 outside).

    ``samples``: each template's :func:`body_samples`; a template's pixels weigh its fusion
    weight, and the two classes weigh the same.  None when the templates show only one class
    (every silhouette pixel annotated, or none), so the caller leaves labels as they are.  The
    mean of trees and a logistic regression (see the module's docstring); the trees use as many
    threads as the caller allows (``threadpoolctl``).

    The classifiers learn from :data:`MAX_SAMPLES` pixels drawn with replacement in proportion
    to those weights, not from weighted pixels: scikit-learn bins weighted samples for its trees
    with one weighted percentile per bin edge and feature, which took 2.8 of the 3.3 s this
    function spent per ant (5 templates, one core).  The draw took it to 0.7 s; on the ants'
    tuning split (40 targets) one template / 5 fused scored 0.410 / 0.563 against 0.409 / 0.561.
    """
    kept = [(s, w) for s, w in zip(samples, weights) if len(s[1])]
    if not kept or not silhouette.any():
        return None
    features = np.concatenate([x for (x, _), _ in kept])
    classes = np.concatenate([y for (_, y), _ in kept])
    if classes.all() or not classes.any():
        return None
    pixel_weights = np.concatenate([np.full(len(y), max(float(w), 1e-6)) for (_, y), w in kept])
    for value in (True, False):
        pixel_weights[classes == value] /= pixel_weights[classes == value].sum()
    drawn = np.random.default_rng(seed).choice(
        len(classes), MAX_SAMPLES, p=pixel_weights / pixel_weights.sum()
    )
    # each class holds half the mass, so a draw of MAX_SAMPLES holds both: no check after it
    features, classes = features[drawn], classes[drawn]
    trees = HistGradientBoostingClassifier(
        max_iter=BOOSTING_ITERATIONS, early_stopping=False, random_state=seed
    )
    trees.fit(features, classes)
    linear = LogisticRegression(max_iter=1000, random_state=seed)
    linear.fit(features, classes)
    target_features = body_features(image, silhouette)[silhouette]
    probability = np.zeros(silhouette.shape, np.float32)
    probability[silhouette] = 0.5 * (
        trees.predict_proba(target_features)[:, 1] + linear.predict_proba(target_features)[:, 1]
    )
    return probability


def fill_body(
    labels: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    fill_labels: Sequence[int],
) -> np.ndarray:
    """``labels`` with the unlabelled pixels the classifier calls body (> ``threshold``) and
    that are connected to a labelled part given the nearest of ``fill_labels``.

    Connected (8-neighbourhood, through other such pixels) because a detached patch is more
    likely a mount or a leg the classifier mistook than body the transfer missed.
    """
    sources = np.isin(labels, list(fill_labels))
    candidates = (probability > threshold) & (labels == 0)
    if not sources.any() or not candidates.any():
        return labels
    added = attached_to(candidates, labels > 0)
    if not added.any():
        return labels
    return np.where(added, nearest_source_labels(labels, sources), labels)
