"""The body classifier: what the templates annotate of their silhouettes, learnt and filled in."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from traitrack.engines.base import Frame
from traitrack.engines.registration.body import body_probability, body_samples, fill_body
from traitrack.engines.registration.engine import OptionsError, RegistrationEngine
from traitrack.structures import StructureTable

HEAD, GASTER = 1, 2


def insect(size, centre, leg_angles, rng):
    """A profile 'insect': two thick ellipses (annotated head and gaster) with thin legs of the
    same colour (in the silhouette, not annotated), on a pale textured background.
    Returns the image, its silhouette and its labels."""
    image = rng.normal(215, 5, (*size, 3)).clip(0, 255).astype(np.uint8)
    labels = np.zeros(size, np.uint8)
    cx, cy = centre
    cv2.ellipse(labels, (cx - 22, cy), (16, 13), 0, 0, 360, HEAD, -1)
    cv2.ellipse(labels, (cx + 18, cy), (26, 18), 0, 0, 360, GASTER, -1)
    legs = np.zeros(size, np.uint8)
    for angle in leg_angles:
        end = (int(cx + 45 * np.cos(np.radians(angle))), int(cy + 45 * np.sin(np.radians(angle))))
        cv2.line(legs, (cx, cy + 8), end, 1, 2)
    silhouette = (labels > 0) | (legs > 0)
    image[silhouette] = (90, 60, 40)
    image = cv2.GaussianBlur(image, (0, 0), 0.8)
    return image, silhouette, labels


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def test_the_classifier_tells_the_body_from_legs_of_the_same_colour(rng):
    template = insect((140, 180), (90, 60), (60, 90, 120), rng)
    image, silhouette, labels = insect((150, 200), (105, 70), (45, 75, 135), rng)
    samples = [body_samples(template[0], template[1], template[2] > 0)]
    probability = body_probability(image, silhouette, samples, [1.0])
    legs = silhouette & (labels == 0)
    assert probability[labels > 0].mean() > 0.7
    assert probability[legs].mean() < 0.3
    assert not probability[~silhouette].any()


def test_the_templates_count_with_their_fusion_weights(rng):
    """Two templates disagree about the gaster: the heavier one decides."""
    image, silhouette, labels = insect((140, 180), (90, 60), (60, 90, 120), rng)
    legs = silhouette & (labels == 0)
    with_gaster = body_samples(image, silhouette, labels > 0)
    with_legs_not_gaster = body_samples(image, silhouette, (labels == HEAD) | legs)
    target, target_silhouette, target_labels = insect((150, 200), (105, 70), (60, 90, 120), rng)
    gaster = target_labels == GASTER
    samples = [with_gaster, with_legs_not_gaster]
    assert body_probability(target, target_silhouette, samples, [0.99, 0.01])[gaster].mean() > 0.7
    assert body_probability(target, target_silhouette, samples, [0.01, 0.99])[gaster].mean() < 0.3


def test_no_classifier_when_the_templates_annotate_all_or_nothing(rng):
    image, silhouette, labels = insect((140, 180), (90, 60), (60, 90), rng)
    everything = [body_samples(image, silhouette, silhouette)]
    nothing = [body_samples(image, silhouette, np.zeros_like(silhouette))]
    assert body_probability(image, silhouette, everything, [1.0]) is None
    assert body_probability(image, silhouette, nothing, [1.0]) is None


def test_fill_takes_attached_body_pixels_and_leaves_detached_ones():
    labels = np.zeros((40, 60), np.uint8)
    labels[10:30, 5:20] = HEAD
    labels[10:30, 35:50] = GASTER
    probability = np.zeros(labels.shape, np.float32)
    probability[10:30, 20:35] = 0.9  # the gap between the parts: body the transfer missed
    probability[0:4, 52:58] = 0.95  # a detached patch (a mount's point)
    probability[32:38, 5:50] = 0.5  # below the threshold
    filled = fill_body(labels, probability, 0.7, [HEAD, GASTER])
    assert (filled[10:30, 20:27] == HEAD).all() and (filled[10:30, 29:35] == GASTER).all()
    assert not filled[0:4, 52:58].any() and not filled[32:38].any()
    assert np.array_equal(filled[labels > 0], labels[labels > 0])


def test_fill_gives_nothing_to_parts_outside_the_fill_list():
    labels = np.zeros((20, 40), np.uint8)
    labels[5:15, 2:10] = HEAD
    labels[5:15, 10:14] = GASTER  # stands for a small part: not a source
    probability = np.full(labels.shape, 0.9, np.float32)
    filled = fill_body(labels, probability, 0.7, [HEAD])
    assert set(np.unique(filled)) == {HEAD, GASTER}
    assert (filled[:, 14:] == HEAD).all()


def test_the_engine_only_adds_labels_where_the_transfer_left_background(rng):
    structures = StructureTable.from_config(
        {"structures": [{"name": "head", "value": 1}, {"name": "gaster", "value": 2}]}
    )
    template_image, _, template_labels = insect((140, 180), (90, 60), (60, 90, 120), rng)
    target_image, _, truth = insect((140, 180), (95, 66), (50, 80, 130), rng)
    frames = [Frame("template", template_image, template_labels), Frame("target", target_image)]
    plain = RegistrationEngine.from_options({}, seed=0).propagate(frames, structures)[0]
    filled = RegistrationEngine.from_options({"body_fill": 0.7}, seed=0).propagate(
        frames, structures
    )[0]
    kept = plain.labels > 0
    assert np.array_equal(filled.labels[kept], plain.labels[kept])
    added = (filled.labels > 0) & ~kept
    assert added.any() and (truth[added] > 0).mean() > 0.8


@pytest.mark.parametrize("value", [1.0, 1.5, -0.1, True])
def test_body_fill_must_be_a_probability_below_one(value):
    with pytest.raises(OptionsError, match="body_fill"):
        RegistrationEngine.from_options({"body_fill": value}, seed=0)
