"""Part boundaries snapped to the target's own edges by a seeded random walker."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from traitrack.engines.registration.edges import snap_to_edges
from traitrack.engines.registration.engine import OptionsError, RegistrationEngine

HEAD, BODY, LEG = 1, 2, 3


def two_part_scene(rng, boundary=60):
    """A grey background with a specimen of two differently coloured parts meeting at column
    ``boundary``, and the true label map."""
    image = rng.normal(200, 4, (80, 120, 3))
    labels = np.zeros((80, 120), np.uint8)
    labels[20:60, 20:boundary] = HEAD
    labels[20:60, boundary:100] = BODY
    image[labels == HEAD] = (160, 60, 40)
    image[labels == BODY] = (40, 40, 40)
    image = cv2.GaussianBlur(image.clip(0, 255).astype(np.uint8), (0, 0), 0.8)
    return image, labels


def offset_probabilities(labels, shift, spread=6):
    """Fused-like maps: the boundary between the parts moved ``shift`` px right and every map
    blurred, so the boundary is uncertain over a band and in the wrong place."""
    moved = labels.copy()
    boundary = np.argmax((labels == BODY).any(axis=0))
    moved[(labels > 0) & (np.arange(labels.shape[1]) < boundary + shift)] = HEAD
    maps = [(moved == label).astype(np.float32) for label in (HEAD, BODY, LEG)]
    return np.stack([cv2.GaussianBlur(m, (0, 0), spread) for m in maps])


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def test_an_offset_boundary_moves_onto_the_colour_edge(rng):
    image, truth = two_part_scene(rng)
    probabilities = offset_probabilities(truth, shift=6)
    background = 1 - probabilities.sum(0)
    labels = np.argmax(np.concatenate([background[None], probabilities]), 0).astype(np.uint8)
    foreground = truth > 0
    labels[~foreground] = 0
    snapped = snap_to_edges(
        image, probabilities, labels, foreground, [HEAD, BODY], snap_beta=3000, snap_confidence=0.9
    )
    before = iou(labels == HEAD, truth == HEAD)
    after = iou(snapped == HEAD, truth == HEAD)
    assert before < 0.9
    assert after > 0.95 and after > before + 0.1  # the head: the walker found its edge
    assert iou(snapped == BODY, truth == BODY) > 0.9  # (a blurred rim pixel may go either way)
    assert not snapped[~foreground].any()


def test_thin_parts_and_a_zero_beta_are_left_alone(rng):
    image, truth = two_part_scene(rng)
    probabilities = offset_probabilities(truth, shift=6)
    labels = truth.copy()
    labels[60:70, 30:33] = LEG  # a leg the engine placed from the target's own pixels
    foreground = labels > 0
    snapped = snap_to_edges(
        image, probabilities, labels, foreground, [HEAD, BODY], snap_beta=3000, snap_confidence=0.9
    )
    assert (snapped[labels == LEG] == LEG).all()
    unchanged = snap_to_edges(
        image, probabilities, labels, foreground, [HEAD, BODY], snap_beta=0, snap_confidence=0.9
    )
    assert (unchanged == labels).all()


def test_without_confident_seeds_the_labels_stay(rng):
    image, truth = two_part_scene(rng)
    faint = offset_probabilities(truth, shift=0) * 0.3
    snapped = snap_to_edges(
        image, faint, truth, truth > 0, [HEAD, BODY], snap_beta=3000, snap_confidence=0.9
    )
    assert (snapped == truth).all()


def test_snap_options_are_checked():
    with pytest.raises(OptionsError, match="snap_beta"):
        RegistrationEngine.from_options({"snap_beta": -1.0}, seed=0)
    with pytest.raises(OptionsError, match="snap_confidence"):
        RegistrationEngine.from_options({"snap_confidence": "high"}, seed=0)
