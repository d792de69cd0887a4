"""The weights-free registration engine on synthetic specimens with known part masks.

A specimen is drawn from its pose (centre, angle, scale): an elliptic body, a pronotum disc, a
head disc and two thin legs, dark and textured, on a bright cluttered background.  Moving the
pose gives a target whose true labels are known exactly.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from traitrack.engines import make_engine
from traitrack.engines.base import Frame
from traitrack.engines.registration.engine import (
    OptionsError,
    RegistrationEngine,
    RegistrationOptions,
)
from traitrack.engines.registration.fusion import (
    assign_appendages,
    consensus_weights,
    fuse_probabilities,
    labels_from_probabilities,
    template_weights,
)
from traitrack.metrics import class_iou, mean_iou
from traitrack.silhouette import foreground_mask
from traitrack.structures import Structure, StructureTable

STRUCTURES = StructureTable(
    (
        Structure("head", 1, (200, 0, 0)),
        Structure("pronotum", 2, (0, 200, 0)),
        Structure("elytra", 3, (0, 0, 200)),
        Structure("legs", 4, (200, 200, 0), kind="thin"),
    )
)
BLOBS = (1, 2, 3)
FAST = {"working_size": 128}


def draw_specimen(
    shape=(112, 112), centre=(56, 56), angle=0.0, scale=1.0, seed=0, elongation=1.0
) -> tuple[np.ndarray, np.ndarray]:
    """RGB image and label map of a synthetic beetle in the given pose."""
    rng = np.random.default_rng(seed)
    height, width = shape
    image = np.full((height, width, 3), 225, np.uint8)
    image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    for _ in range(4):  # clutter: pale boxes like label fragments
        x, y = rng.integers(0, width - 12), rng.integers(0, height - 12)
        image[y : y + rng.integers(4, 12), x : x + rng.integers(4, 12)] = rng.integers(170, 215)
    labels = np.zeros(shape, np.uint8)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def at(dx: float, dy: float) -> tuple[int, int]:
        """A point given in the specimen's own frame (y down the body axis), in the image."""
        dx, dy = dx * scale, dy * scale
        x, y = centre[0] + cos * dx - sin * dy, centre[1] + sin * dx + cos * dy
        return int(round(x)), int(round(y))

    size = lambda r: max(1, int(round(r * scale)))  # noqa: E731
    for side in (-1, 1):  # legs first, so the body paints over their roots
        cv2.line(labels, at(0, 5), at(side * 30, 22), 4, size(2))
        cv2.line(labels, at(0, -8), at(side * 28, -22), 4, size(2))
    cv2.ellipse(labels, at(0, 12), (size(15), size(22 * elongation)), angle, 0, 360, 3, -1)
    cv2.circle(labels, at(0, -16), size(11), 2, -1)
    cv2.circle(labels, at(0, -32), size(7), 1, -1)
    colours = {1: (40, 20, 10), 2: (70, 35, 20), 3: (30, 30, 60), 4: (60, 40, 25)}
    for label, colour in colours.items():
        inside = labels == label
        texture = rng.normal(0, 10, (inside.sum(), 3))
        image[inside] = np.clip(np.array(colour) + texture, 0, 255).astype(np.uint8)
    return image, labels


def iou(predicted: np.ndarray, truth: np.ndarray, label: int) -> float:
    a, b = predicted == label, truth == label
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else float("nan")


def blob_miou(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([iou(predicted, truth, label) for label in BLOBS]))


def run(templates, target_image, options=None, seed=0):
    engine = RegistrationEngine.from_options({**FAST, **(options or {})}, seed=seed)
    frames = [Frame(f"template{i}", image, labels) for i, (image, labels) in enumerate(templates)]
    frames.append(Frame("target", target_image))
    return engine.propagate(frames, STRUCTURES)[0]


@pytest.fixture(scope="module")
def template():
    return draw_specimen(seed=1)


@pytest.fixture(scope="module")
def moved():
    return draw_specimen(centre=(60, 52), angle=25.0, scale=1.15, seed=2)


@pytest.fixture(scope="module")
def moved_prediction(template, moved):
    return run([template], moved[0])


def test_foreground_finds_the_specimen_on_a_cluttered_background(template):
    image, labels = template
    found = foreground_mask(image)
    truth = labels > 0
    assert (found & truth).sum() / (found | truth).sum() > 0.85


def test_labels_transfer_to_a_moved_rotated_scaled_specimen(moved, moved_prediction):
    assert blob_miou(moved_prediction.labels, moved[1]) > 0.85
    assert iou(moved_prediction.labels, moved[1], 4) > 0.5  # thin legs follow the body


def test_identity_gives_near_perfect_labels(template):
    prediction = run([template], template[0])
    assert blob_miou(prediction.labels, template[1]) > 0.95
    assert (prediction.labels == template[1]).mean() > 0.97


@pytest.mark.parametrize(
    "options",
    [
        {"try_mirror": True},
        {"refine_foreground": True},
        {"template_silhouette": "labels"},
        {"template_silhouette": "image", "body_radius": 3},
    ],
)
def test_optional_steps_keep_the_transfer_good(template, moved, options):
    """Mirror candidates, the shape-guided foreground pass, other template silhouettes."""
    prediction = run([template], moved[0], options)
    assert blob_miou(prediction.labels, moved[1]) > 0.85


def test_output_has_each_targets_own_size_when_sizes_differ():
    small_template = draw_specimen(shape=(100, 90), centre=(45, 52), scale=0.8, seed=3)
    target_image, target_labels = draw_specimen(
        shape=(140, 124), centre=(62, 72), scale=1.2, seed=4
    )
    prediction = run([small_template], target_image)
    assert prediction.labels.shape == target_labels.shape
    assert prediction.labels.dtype == np.uint8
    assert blob_miou(prediction.labels, target_labels) > 0.7


def test_runs_are_deterministic(template, moved, moved_prediction):
    again = run([template], moved[0])
    np.testing.assert_array_equal(again.labels, moved_prediction.labels)
    assert again.confidence == moved_prediction.confidence


def test_prediction_fields_are_filled(moved_prediction):
    assert moved_prediction.specimen == "target"
    assert moved_prediction.templates == ("template0",)
    assert set(moved_prediction.confidence) == set(STRUCTURES.names)
    assert set(moved_prediction.object_score) == set(STRUCTURES.names)
    for name in ("head", "pronotum", "elytra"):
        assert 0.5 < moved_prediction.confidence[name] <= 1.0
        assert 0.5 < moved_prediction.object_score[name] <= 1.0
    blob_agreement = [moved_prediction.object_score[n] for n in ("head", "pronotum", "elytra")]
    assert moved_prediction.evidence["agreement"] == pytest.approx(np.mean(blob_agreement))
    assert (
        0.8 < moved_prediction.evidence["edge_agreement"] <= 1.0
    )  # a clean target: edges confirm it


def test_edge_agreement_is_nan_without_the_snap(template, moved):
    prediction = run([template], moved[0], {"snap_beta": 0.0})
    assert np.isnan(prediction.evidence["edge_agreement"])


def test_single_template_agreement_is_what_each_template_predicts_alone(
    template, moved, moved_prediction
):
    """Each template alone through the same steps, scored against the fused labels, gives the
    numbers that running the engine with that template alone gives (one registration each)."""
    good = draw_specimen(centre=(56, 58), angle=15.0, scale=1.1, seed=5)
    bad = draw_specimen(centre=(50, 50), angle=-10.0, scale=0.9, seed=6, elongation=1.9)
    fused = run([template, good, bad], moved[0])
    alone = [run([one], moved[0]).labels for one in (template, good, bad)]
    scores = [mean_iou(class_iou(labels, fused.labels, STRUCTURES.labels)) for labels in alone]
    assert min(scores) < 0.95  # the templates do not all predict the fused labels
    assert fused.evidence["single_template_agreement"] == pytest.approx(np.mean(scores))
    assert np.isnan(
        moved_prediction.evidence["single_template_agreement"]
    )  # one template: no evidence
    off = run([template, good], moved[0], {"qc_single_templates": False})
    assert np.isnan(off.evidence["single_template_agreement"])


def test_round_trip_from_a_predicted_target_recovers_the_template(
    template, moved, moved_prediction
):
    """The QC pass uses a prediction as the template; the engine must not care."""
    back = run([(moved[0], moved_prediction.labels)], template[0])
    assert blob_miou(back.labels, template[1]) > 0.7


def test_fusion_with_a_good_template_is_no_worse_than_the_bad_one_alone(moved):
    good = draw_specimen(centre=(56, 58), angle=15.0, scale=1.1, seed=5)
    bad = draw_specimen(centre=(50, 50), angle=-10.0, scale=0.9, seed=6, elongation=1.9)
    bad_alone = blob_miou(run([bad], moved[0]).labels, moved[1])
    fused = run([bad, good], moved[0])
    assert fused.templates == ("template0", "template1")
    assert blob_miou(fused.labels, moved[1]) >= bad_alone


def test_targets_use_only_their_named_templates(template, moved):
    engine = RegistrationEngine.from_options(FAST, seed=0)
    decoy_image, decoy_labels = draw_specimen(seed=7)
    frames = [
        Frame("good", *template),
        Frame("decoy", decoy_image, np.where(decoy_labels > 0, 1, 0).astype(np.uint8)),
        Frame("target", moved[0], templates=("good",)),
    ]
    (prediction,) = engine.propagate(frames, STRUCTURES)
    assert prediction.templates == ("good",)


def test_a_chunk_without_templates_raises(moved):
    engine = RegistrationEngine.from_options(FAST, seed=0)
    with pytest.raises(ValueError, match="template"):
        engine.propagate([Frame("target", moved[0])], STRUCTURES)


def test_unknown_and_bad_options_raise_naming_them():
    with pytest.raises(ValueError, match="warp_speed"):
        RegistrationEngine.from_options({"warp_speed": 9}, seed=0)
    with pytest.raises(OptionsError, match="working_size"):
        RegistrationEngine.from_options({"working_size": 0}, seed=0)
    with pytest.raises(OptionsError, match="qc_single_templates"):
        RegistrationEngine.from_options({"qc_single_templates": "yes"}, seed=0)
    with pytest.raises(OptionsError, match="template_silhouette"):
        RegistrationEngine.from_options({"template_silhouette": "guess"}, seed=0)
    assert make_engine("registration", {}, seed=3).name == "registration"
    assert RegistrationEngine.from_options({}, seed=0).options == RegistrationOptions()


def test_fusion_weights_favour_the_better_registration():
    weights = template_weights([0.9, 0.45], power=2.0)
    np.testing.assert_allclose(weights, [0.8, 0.2])
    good = np.zeros((2, 1, 3), np.float32)
    good[0, 0, 0] = good[1, 0, 1] = 1.0  # structure 1 at pixel 0, structure 2 at pixel 1
    bad = np.zeros_like(good)
    bad[1, 0, 0] = 1.0  # structure 2 at pixel 0
    fused = fuse_probabilities([good, bad], weights)
    labels = labels_from_probabilities(fused)
    np.testing.assert_array_equal(labels, [[1, 2, 0]])
    outside = labels_from_probabilities(fused, foreground=np.array([[True, False, True]]))
    np.testing.assert_array_equal(outside, [[1, 0, 0]])


def test_demons_step_improves_the_fit_beyond_the_affine():
    """The composite transform (field first, then affine) must fit better than the affine alone;
    composing in the wrong order loses the gain."""
    from traitrack.engines.registration.align import (
        align_similarity,
        deform,
        prepare_silhouette,
        refine_affine,
        silhouette_dice,
    )

    target_image, target_labels = draw_specimen(seed=2)
    template_image, template_labels = draw_specimen(seed=6, elongation=1.6, centre=(56, 50))
    prepare = dict(working_size=128, sigma=2.0, body_radius=0, grabcut_iterations=5, seed=0)
    target = prepare_silhouette(target_image, known_foreground=target_labels > 0, **prepare)
    template = prepare_silhouette(template_image, known_foreground=template_labels > 0, **prepare)
    start = align_similarity(target, template, start_angles=4, turn_penalty=0.35, iterations=100)
    affine = refine_affine(target, template, start, iterations=100)
    deformed = deform(target, template, affine, iterations=60, smoothing=2.0)
    fit = silhouette_dice(target, template, deformed)
    assert fit > silhouette_dice(target, template, affine) + 0.05
    assert fit > 0.95  # field and affine swapped gives 0.93 here


def test_consensus_weights_drop_the_template_that_disagrees():
    table = StructureTable((Structure("head", 1, (200, 0, 0)), Structure("elytra", 2, (0, 0, 200))))

    def maps(shift):
        image = np.zeros((2, 40, 40), np.float32)
        image[0, 5 + shift : 15 + shift, 10:30] = 1
        image[1, 15 + shift : 35 + shift, 10:30] = 1
        return image

    warped = [maps(0), maps(1), maps(0), maps(18)]  # the last one is turned round, in effect
    equal = np.full(4, 0.25)
    weights = consensus_weights(warped, equal, table, power=2.0, drop_below=0.5)
    assert weights[3] == 0.0 and np.isclose(weights.sum(), 1.0)
    assert weights[0] == pytest.approx(weights[2]) and weights[0] >= weights[1] > 0
    soft = consensus_weights(warped, equal, table, power=2.0, drop_below=0.0)
    assert 0 < soft[3] < soft[1]
    # off by default, and with fewer than three templates there is no majority to agree with
    assert np.array_equal(consensus_weights(warped, equal, table, power=0, drop_below=0), equal)
    pair = np.array([0.5, 0.5])
    assert np.array_equal(consensus_weights(warped[2:], pair, table, power=2, drop_below=0.5), pair)


def test_only_lines_attached_to_the_body_count_as_appendages():
    from traitrack.silhouette import attached_to

    body = np.zeros((30, 30), bool)
    body[10:20, 10:20] = True
    lines = np.zeros_like(body)
    lines[14, 20:28] = True  # a leg leaving the body
    lines[2, 2:12] = True  # a stroke of label text, apart from the body
    kept = attached_to(lines, body)
    assert kept[14, 20:28].all() and not kept[2].any()
    assert not attached_to(lines, np.zeros_like(body)).any()


def test_an_antennas_tip_stays_with_the_antenna_it_is_connected_to():
    """Legs (4) and antennae (5): the transfer put an antenna's base beside the head; its
    unlabelled tip curves down past where the templates' legs lie, and a separate stub lies
    there too.  Connected, the tip is antenna; the unconnected stub is leg."""
    labels = np.zeros((60, 60), np.uint8)
    labels[20:40, 20:40] = 1  # the body
    labels[10:20, 30] = 5  # the transferred antenna's base
    appendages = np.zeros_like(labels, bool)
    appendages[2:10, 30] = True  # the rest of the antenna, upwards ...
    appendages[2, 31:55] = True  # ... then right ...
    appendages[3:30, 54] = True  # ... and down, past the legs
    appendages[25, 44:50] = True  # a leg's stub, on its own
    probabilities = np.zeros((5, 60, 60), np.float32)
    probabilities[4, 10:20, 30] = 1.0
    probabilities[3, 22:32, 42:52] = 1.0  # the templates' legs, beside the tip's lower end
    kwargs = dict(thin_labels=[4, 5], spread=12.0, min_probability=1e-4)
    followed = assign_appendages(labels, probabilities, appendages, **kwargs)
    by_blur = assign_appendages(
        labels, probabilities, appendages, follow_connections=False, **kwargs
    )
    tip = (slice(20, 30), 54)
    assert (by_blur[tip] == 4).all()  # the blurred maps alone give the tip to the legs
    assert (followed[tip] == 5).all() and (followed[2:10, 30] == 5).all()
    assert (followed[25, 44:50] == 4).all() and (by_blur[25, 44:50] == 4).all()
    assert (followed[labels > 0] == labels[labels > 0]).all()  # transferred pixels keep theirs
