"""The small-part local search: an eye re-placed inside its head by appearance and position."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from traitrack.engines.registration.engine import OptionsError, RegistrationEngine
from traitrack.engines.registration.local import PartTemplate, place_small_part

HEAD, EYE = 1, 2


def head_with_eye(size, head_centre, head_axes, eye_centre, eye_radius, rng):
    """A textured grey scene with a pale elliptic head and a dark round eye; image and labels."""
    image = (rng.normal(180, 6, (*size, 3))).clip(0, 255).astype(np.uint8)
    labels = np.zeros(size, np.uint8)
    cv2.ellipse(labels, head_centre, head_axes, 0, 0, 360, HEAD, -1)
    image[labels == HEAD] = (150, 110, 70)
    eye = np.zeros(size, np.uint8)
    cv2.circle(eye, eye_centre, eye_radius, 1, -1)
    image[eye == 1] = (30, 25, 20)
    labels[eye == 1] = EYE
    image = cv2.GaussianBlur(image, (0, 0), 1.0)
    return image, labels


def moved_eye(rng, eye_centre, eye_radius=8):
    """The usual template (eye at (60, 50), radius 8) and a target with the same head whose eye
    lies at ``eye_centre``: the target's image, its truth, its labels with the eye left as
    head, and the template list."""
    template_image, template_labels = head_with_eye(
        (120, 160), (80, 60), (50, 35), (60, 50), 8, rng
    )
    target_image, truth = head_with_eye((120, 160), (80, 60), (50, 35), eye_centre, eye_radius, rng)
    head_only = np.where(truth == EYE, HEAD, truth).astype(np.uint8)
    return target_image, truth, head_only, [PartTemplate(template_image, template_labels, 1.0)]


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def test_eye_found_where_the_template_has_it_and_the_transfer_lost_it(rng):
    template_image, template_labels = head_with_eye(
        (120, 160), (80, 60), (50, 35), (60, 50), 8, rng
    )
    # the target: same layout, larger; its transferred labels know the head but put the eye off
    target_image, truth = head_with_eye((150, 200), (100, 75), (62, 44), (75, 62), 10, rng)
    transferred = np.where(truth == EYE, HEAD, truth).astype(np.uint8)
    cv2.circle(transferred, (130, 90), 10, EYE, -1)
    placed = place_small_part(
        target_image, transferred, [PartTemplate(template_image, template_labels, 1.0)], EYE, HEAD
    )
    assert iou(placed == EYE, truth == EYE) > 0.6
    assert iou(transferred == EYE, truth == EYE) == 0.0
    # the wrongly placed eye went back to the head; nothing outside head and eye changed
    assert set(np.unique(placed[transferred == HEAD])) <= {HEAD, EYE}
    assert np.array_equal(placed[transferred == 0] == 0, np.ones((transferred == 0).sum(), bool))


def test_appearance_moves_the_eye_away_from_the_templates_position(rng):
    # this target's eye sits lower and further back than in the template
    target_image, truth, head_only, template = moved_eye(rng, (90, 70))
    by_appearance = place_small_part(target_image, head_only, template, EYE, HEAD, pull=0.2)
    by_position_only = place_small_part(
        target_image, head_only, template, EYE, HEAD, pull=50.0, blob=0.0
    )
    assert iou(by_appearance == EYE, truth == EYE) > 0.6
    assert iou(by_appearance == EYE, truth == EYE) > iou(by_position_only == EYE, truth == EYE)


def test_nothing_changes_without_a_parent_or_a_template_part(rng):
    template_image, template_labels = head_with_eye(
        (120, 160), (80, 60), (50, 35), (60, 50), 8, rng
    )
    no_eye = PartTemplate(
        template_image, np.where(template_labels == EYE, HEAD, template_labels), 1.0
    )
    target_image, truth = head_with_eye((120, 160), (80, 60), (50, 35), (60, 50), 8, rng)
    assert np.array_equal(place_small_part(target_image, truth, [no_eye], EYE, HEAD), truth)
    empty = np.zeros_like(truth)
    template = [PartTemplate(template_image, template_labels, 1.0)]
    assert np.array_equal(place_small_part(target_image, empty, template, EYE, HEAD), empty)


def test_templates_the_fusion_dropped_do_not_vote(rng):
    target_image, truth, head_only, (template,) = moved_eye(rng, (90, 70))
    dropped = PartTemplate(template.image, template.labels, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an all-zero vote once divided by zero
        placed = place_small_part(target_image, head_only, [dropped], EYE, HEAD, classifier=4.0)
    assert np.array_equal(placed, head_only)
    kept = place_small_part(target_image, head_only, [template, dropped], EYE, HEAD)
    assert np.array_equal(kept, place_small_part(target_image, head_only, [template], EYE, HEAD))


@pytest.mark.parametrize(
    "small_parts", [["eye"], {"eye": 3}, {"eye": "eye"}], ids=["list", "non-string", "self"]
)
def test_bad_small_parts_option_raises_naming_it(small_parts):
    with pytest.raises(OptionsError, match="small_parts"):
        RegistrationEngine.from_options({"small_parts": small_parts}, seed=0)


def test_engine_places_the_configured_small_part(rng):
    from traitrack.engines.base import Frame
    from traitrack.structures import StructureTable

    structures = StructureTable.from_config(
        {"structures": [{"name": "head", "value": 1}, {"name": "eye", "value": 2}]}
    )
    template_image, template_labels = head_with_eye(
        (120, 160), (80, 60), (50, 35), (60, 50), 8, rng
    )
    target_image, truth = head_with_eye((120, 160), (84, 58), (52, 36), (66, 50), 8, rng)
    frames = [Frame("template", template_image, template_labels), Frame("target", target_image)]
    options = {"small_parts": {"eye": "head"}, "demons_iterations": 10}
    (placed,) = RegistrationEngine.from_options(options, seed=0).propagate(frames, structures)
    assert iou(placed.labels == EYE, truth == EYE) > 0.6
    with pytest.raises(KeyError, match="nose"):
        RegistrationEngine.from_options({"small_parts": {"nose": "head"}}, seed=0).propagate(
            frames, structures
        )


def test_the_templates_classifier_finds_an_eye_far_from_where_the_template_has_it(rng):
    """The target's eye lies at the back of its head, the template's at the front.  The
    template match's pull towards the template's position holds it there; the classifier,
    which has learnt how the eye differs from its own head, finds it."""
    target_image, truth, head_only, template = moved_eye(rng, (110, 60))
    matched = place_small_part(target_image, head_only, template, EYE, HEAD, classifier=0.0)
    learnt = place_small_part(target_image, head_only, template, EYE, HEAD, classifier=4.0)
    assert iou(matched == EYE, truth == EYE) < 0.2  # the trap holds: the match alone misses
    assert iou(learnt == EYE, truth == EYE) > 0.8


def test_the_stamp_gives_way_to_the_targets_own_eye(rng):
    """The templates' eye is round; the target's is an oval with a specular highlight.
    Stamped where the search put it, the round shape covers part of the oval; the target's own
    dark patch (its convex hull, over the highlight) replaces it."""
    from traitrack.engines.registration.local import own_region

    head = np.zeros((120, 160), np.uint8)
    cv2.ellipse(head, (80, 60), (50, 35), 0, 0, 360, 1, -1)
    truth = np.zeros_like(head)
    cv2.ellipse(truth, (62, 50), (12, 7), 20, 0, 360, 1, -1)
    image = np.full((*head.shape, 3), 180, np.float32)
    image[head == 1] = (150, 110, 70)
    image[truth == 1] = (40, 30, 25)
    image = cv2.GaussianBlur(image + rng.normal(0, 6, image.shape), (0, 0), 1.0)
    cv2.circle(image, (60, 49), 2, (250, 250, 250), -1)  # the highlight
    image = image.clip(0, 255).astype(np.uint8)
    stamp = np.zeros_like(head)
    cv2.circle(stamp, (58, 53), 9, 1, -1)
    stamp = stamp.astype(bool)
    snapped = own_region(image, stamp, head > 0, min_overlap=0.3)
    assert iou(stamp, truth == 1) < 0.6
    assert iou(snapped, truth == 1) > 0.85
    # a stamp put on plain head overlaps no patch of the head: it stays
    elsewhere = np.zeros_like(head)
    cv2.circle(elsewhere, (100, 70), 9, 1, -1)
    assert np.array_equal(own_region(image, elsewhere > 0, head > 0, 0.3), elsewhere > 0)


def test_the_engine_snaps_only_when_asked(rng):
    target_image, truth, head_only, template = moved_eye(rng, (62, 52), eye_radius=11)
    stamped = place_small_part(target_image, head_only, template, EYE, HEAD, snap=0.0)
    snapped = place_small_part(target_image, head_only, template, EYE, HEAD, snap=0.3)
    assert iou(snapped == EYE, truth == EYE) > 0.85 > iou(stamped == EYE, truth == EYE)
    with pytest.raises(OptionsError, match="small_part_snap"):
        RegistrationEngine.from_options({"small_part_snap": -0.1}, seed=0)
