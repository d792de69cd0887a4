"""Self-training: pseudo-templates for a second round, and the student network.

The student's tests train tiny networks on the example's synthetic beetles on the CPU (one
torch thread), so each takes seconds; what they check is the mechanics (it learns, it resumes,
its weights reload, the geometry), not the quality, which ``benchmarks/self_training.py``
measures on real specimens.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_registration import FAST, STRUCTURES, draw_specimen

from traitrack.engines.base import Frame, Prediction, templates_for
from traitrack.engines.registration.engine import RegistrationEngine
from traitrack.engines.registration.fusion import template_weights
from traitrack.example.synthetic import BODY_PLANS, example_structures, render_specimen
from traitrack.io import write_label_png
from traitrack.metrics import class_iou, mean_iou
from traitrack.propagation import (
    EngineSpec,
    PseudoTemplates,
    RoundTripTask,
    SpecimenStore,
    predict_chunks,
    round_trip_targets,
)
from traitrack.samples import Specimen
from traitrack.selftrain.options import SelfTrainingOptions, StudentOptions
from traitrack.selftrain.pseudo import (
    assign_templates,
    choose_pseudo_templates,
    chunks_by_templates,
)
from traitrack.structures import StructureTable

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("albumentations")

from traitrack.selftrain import files, inference, student  # noqa: E402
from traitrack.selftrain.data import (  # noqa: E402
    boundary_confidence,
    make_sample,
    pseudo_label_weights,
)

SIZE = 64
TINY = {"size": SIZE, "encoder": "unet", "channels": [8, 16, 32], "batch_size": 2, "lr": 0.01}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the results are the same on every machine and leave cores free."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def beetles():
    rng = np.random.default_rng(3)
    return [render_specimen(BODY_PLANS[0], rng) for _ in range(8)]


def samples_of(beetles, templates=2, pseudo=0, size=SIZE):
    """Templates with their true masks; pseudo-labels: the true masks with a shifted row, as a
    teacher's imperfect labels."""
    structures = example_structures()
    out = [
        make_sample(f"t{i}", b.image, b.labels, size, is_template=True, structures=structures)
        for i, b in enumerate(beetles[:templates])
    ]
    for i, b in enumerate(beetles[templates : templates + pseudo]):
        noisy = np.roll(b.labels, 2, axis=0)
        out.append(
            make_sample(
                f"p{i}",
                b.image,
                noisy,
                size,
                is_template=False,
                structures=structures,
                qc_rank=0.8,
                confidence={"elytra": 0.9},
                boundary_px=2.0,
            )
        )
    return out


# -- the student -------------------------------------------------------------------------------


def test_the_student_learns_a_synthetic_task_from_two_templates_better_than_chance(beetles):
    structures = example_structures()
    options = StudentOptions.from_config({**TINY, "size": 96, "channels": [16, 32, 64, 128]})
    options = StudentOptions.from_config({**options.as_config(), "epochs": 120})
    network, losses = student.train(
        samples_of(beetles, size=96), structures, options, log=lambda line: None
    )
    assert losses["loss"].iloc[-5:].mean() < losses["loss"].iloc[:5].mean()
    targets = beetles[2:]
    predictions = inference.predict(
        network, [b.image for b in targets], [f"x{i}" for i in range(6)], structures, 96
    )
    learnt = np.mean(
        [
            mean_iou(class_iou(p.labels, b.labels, structures.labels))
            for p, b in zip(predictions, targets)
        ]
    )
    # chance: every pixel drawn from the templates' own class frequencies
    counts = np.bincount(np.concatenate([b.labels.ravel() for b in beetles[:2]]), minlength=6)
    rng = np.random.default_rng(0)
    chance = np.mean(
        [
            mean_iou(
                class_iou(
                    rng.choice(6, size=b.labels.shape, p=counts / counts.sum()).astype(np.uint8),
                    b.labels,
                    structures.labels,
                )
            )
            for b in targets
        ]
    )
    assert all(p.labels.shape == b.labels.shape for p, b in zip(predictions, targets))
    assert learnt > chance + 0.15, (learnt, chance)
    elytra = np.mean([class_iou(p.labels, b.labels, [3])[3] for p, b in zip(predictions, targets)])
    assert elytra > 0.5


def test_fusing_with_the_teacher_keeps_its_label_unless_the_student_is_surer():
    # three pixels, classes 0..2; the teacher says 1 everywhere
    student_softmax = np.array(
        [[0.9, 0.5, 0.1], [0.05, 0.3, 0.1], [0.05, 0.2, 0.8]], dtype=np.float32
    )[:, None, :]
    teacher = np.ones((1, 3), dtype=np.uint8)

    def labels(weight):
        return inference.fuse_with_teacher(student_softmax, teacher, weight).argmax(axis=0)[0]

    assert list(labels(0.0)) == [0, 0, 2]  # the student alone
    # w = 1/3: the teacher's label stands unless the student prefers another by more than 0.5
    assert list(labels(1 / 3)) == [0, 1, 2]
    assert list(labels(0.6)) == [1, 1, 1]  # above 0.5 the teacher alone
    fused = inference.fuse_with_teacher(student_softmax, teacher, 0.3)
    np.testing.assert_allclose(fused.sum(axis=0), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        inference.fuse_with_teacher(student_softmax, np.ones((2, 3), np.uint8), 0.3)


def test_test_flips_average_the_flipped_views_and_keep_the_training_fingerprint(beetles):
    structures = example_structures()
    options = StudentOptions.from_config(TINY)
    torch.manual_seed(0)
    network = student.build_network(len(structures.labels) + 1, options)
    image = beetles[0].image[:SIZE, :SIZE]  # square: the letterbox has no padding to flip
    mirrored = image[:, ::-1]

    plain = inference.image_softmax(network, image, SIZE)
    plain_mirrored = inference.image_softmax(network, mirrored, SIZE)
    # an untrained network is not flip-equivariant, so the comparison below can fail
    assert not np.allclose(plain_mirrored, plain[:, :, ::-1], atol=1e-4)

    averaged = inference.image_softmax(network, image, SIZE, test_flips=True)
    averaged_mirrored = inference.image_softmax(network, mirrored, SIZE, test_flips=True)
    np.testing.assert_allclose(averaged_mirrored, averaged[:, :, ::-1], atol=1e-5)
    np.testing.assert_allclose(averaged.sum(axis=0), 1.0, rtol=1e-5)
    (prediction,) = inference.predict(network, [image], ["a"], structures, SIZE, test_flips=True)
    np.testing.assert_array_equal(prediction.labels, averaged.argmax(axis=0))

    flipped = StudentOptions.from_config({**TINY, "test_flips": True})
    assert flipped.fingerprint() == options.fingerprint()


def test_a_killed_training_resumes_to_the_same_weights(beetles, tmp_path):
    structures = example_structures()
    options = StudentOptions.from_config({**TINY, "epochs": 4, "refine_from": 0.5})
    samples = samples_of(beetles, pseudo=3)
    whole, whole_losses = student.train(
        samples, structures, options, state_path=tmp_path / "a.pt", log=lambda line: None
    )
    student.train(
        samples, structures, options, state_path=tmp_path / "b.pt", stop_after=2, log=print
    )
    lines = []
    resumed, resumed_losses = student.train(
        samples, structures, options, state_path=tmp_path / "b.pt", log=lines.append
    )
    assert "resuming after epoch 2" in lines[0]
    assert len(lines) == 3  # the resume line and epochs 3 and 4 only
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    columns = ["epoch", "loss", "cross_entropy", "dice", "disagreement", "lr"]
    pd.testing.assert_frame_equal(whole_losses[columns], resumed_losses[columns])
    assert np.isnan(whole_losses["disagreement"].iloc[0])  # refining from epoch 3 only
    assert whole_losses["disagreement"].iloc[2:].notna().all()


def test_the_training_length_is_a_step_budget_in_whole_epochs_unless_epochs_are_set(beetles):
    structures = example_structures()
    options = StudentOptions.from_config({"steps": 1000, "batch_size": 8})
    assert options.total_epochs(40) == 200  # 5 batches an epoch
    assert options.total_epochs(400) == 20
    assert options.total_epochs(41) == 167  # 6 batches: rounded up to whole epochs
    assert StudentOptions.from_config({"epochs": 3}).total_epochs(400) == 3
    samples = samples_of(beetles, pseudo=3)  # 5 images an epoch: 3 batches of 2
    stepped = StudentOptions.from_config({**TINY, "steps": 7, "refine_from": 0.5})
    _, losses = student.train(samples, structures, stepped, log=lambda line: None)
    assert list(losses["epoch"]) == [1, 2, 3]
    assert losses["disagreement"].isna().tolist() == [True, True, False]  # round(0.5 * 3) = 2
    assert losses["lr"].iloc[0] == pytest.approx(0.01)


def test_the_timing_benchmark_runs_the_configured_training(capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import student_timing

    # 12 specimens, 5 of them templates: 12 images an epoch, 3 batches of 4; 7 steps: 3 epochs
    tiny = ["size=32", "channels=[4, 8]", "batch_size=4", "steps=7"]
    student_timing.main(["--specimens", "12", "--threads", "1", *[f"--option={o}" for o in tiny]])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "12 synthetic specimens at 32 px" in line
    assert "3 epochs (the configured training)" in line, line


def test_a_state_of_another_training_set_is_not_resumed(beetles, tmp_path):
    structures = example_structures()
    options = StudentOptions.from_config({**TINY, "epochs": 2})
    student.train(samples_of(beetles), structures, options, state_path=tmp_path / "s.pt", log=print)
    lines = []
    student.train(
        samples_of(beetles, pseudo=1),
        structures,
        options,
        state_path=tmp_path / "s.pt",
        log=lines.append,
    )
    assert not any("resuming" in line for line in lines)


def test_the_weights_reload_exactly(beetles, tmp_path):
    structures = example_structures()
    options = StudentOptions.from_config({**TINY, "epochs": 2})
    network, losses = student.train(samples_of(beetles), structures, options, log=lambda line: None)
    files.save_weights(tmp_path / "weights.pt", network, structures, options)
    files.write_losses(losses, tmp_path / "loss.tsv", tmp_path / "loss.png")
    loaded = files.load_weights(tmp_path / "weights.pt", structures)
    for key, value in network.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    images = [b.image for b in beetles[2:4]]
    before = inference.predict(network, images, ["a", "b"], structures, SIZE)
    after = inference.predict(loaded, images, ["a", "b"], structures, SIZE)
    assert all(np.array_equal(x.labels, y.labels) for x, y in zip(before, after))
    assert list(pd.read_csv(tmp_path / "loss.tsv", sep="\t")["epoch"]) == [1, 2]
    assert (tmp_path / "loss.png").stat().st_size > 0
    with pytest.raises(ValueError, match="structures"):
        files.load_weights(tmp_path / "weights.pt", STRUCTURES)


def test_samples_keep_the_inference_geometry_and_weigh_the_padding_zero(beetles):
    structures = example_structures()
    template, pseudo = samples_of(beetles, templates=1, pseudo=1)
    for sample in (template, pseudo):
        assert sample.image.shape == (SIZE, SIZE, 3) and sample.labels.shape == (SIZE, SIZE)
        assert sample.weights.min() == 0.0  # the padding (the beetles are taller than wide)
    assert set(np.unique(template.weights)) == {0.0, 1.0}
    assert pseudo.weights.max() <= 0.8 + 1e-6  # the target's QC rank caps its weights
    labels = np.zeros((9, 9), np.uint8)
    labels[:, 5:] = 1
    near = boundary_confidence(labels, 2.0)
    assert near[4, 4] < near[4, 0] and near[4, 5] < near[4, 8]
    assert make_sample(
        "g",
        beetles[0].image[..., 0],
        beetles[0].labels,
        SIZE,
        is_template=True,
        structures=structures,
    ).image.shape == (SIZE, SIZE, 3)


def test_sparing_thin_parts_keeps_their_pseudo_labels_and_the_outlines_of_the_others():
    structures = example_structures()  # legs and antennae are kind: thin
    legs, antennae = (s.label for s in structures if s.name in ("legs", "antennae"))
    assert structures.thin_labels == (legs, antennae)
    labels = np.zeros((40, 50), np.uint8)
    labels[5:35, 5:25] = 1  # a head 20 px across
    labels[10:30, 40:42] = legs  # 2 px across, away from it
    labels[18:21, 12:15] = antennae  # inside the head
    plain = pseudo_label_weights(labels, structures, qc_rank=1.0, boundary_px=3.0)
    spared = pseudo_label_weights(labels, structures, qc_rank=1.0, boundary_px=3.0, spare_thin=True)
    leg, antenna = labels == legs, labels == antennae
    assert plain[leg].max() == 0.0  # every pixel of the leg is on its outline
    assert plain[antenna].max() < 0.3
    assert spared[leg].min() > 0.9 and spared[antenna].min() > 0.9
    # the head's outline against the background still weighs 0, its pixels beside the
    # antenna no longer nearly so
    assert spared[5, 15] == 0.0 and spared[19, 16] > 0.9 > plain[19, 16]
    # a label map without thin parts is weighed alike either way
    blobs = np.where((labels == legs) | (labels == antennae), 0, labels)
    np.testing.assert_array_equal(
        pseudo_label_weights(blobs, structures, qc_rank=1.0, boundary_px=3.0),
        pseudo_label_weights(blobs, structures, qc_rank=1.0, boundary_px=3.0, spare_thin=True),
    )


# -- pseudo-templates --------------------------------------------------------------------------


def test_pseudo_templates_are_the_top_share_by_qc_rank_without_evaluation_ground_truth():
    qc = pd.DataFrame(
        {
            "specimen": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "qc_rank": [0.9, 0.8, 0.95, 0.1, 0.8, np.nan, 0.3, 0.2],
        }
    )
    assert choose_pseudo_templates(qc, 0.5) == ["c", "a", "b", "e"]  # ties by name
    assert choose_pseudo_templates(qc, 0.5, exclude={"c"}, already={"b"}) == ["a", "e"]
    assert choose_pseudo_templates(qc, 0.0) == []
    # every target has evaluation ground truth: none becomes a pseudo-template
    assert choose_pseudo_templates(qc, 1.0, exclude=set(qc["specimen"])) == []
    with pytest.raises(ValueError, match="qc_rank"):
        choose_pseudo_templates(qc.drop(columns="qc_rank"), 0.5)


# the synthetic part table, its masks read from RGB files in its colours
ON_DISK = StructureTable(tuple(replace(s, rgb=s.colour) for s in STRUCTURES))


def _on_disk(tmp_path, frames: dict) -> list[Specimen]:
    """Specimens whose images (and masks, where labelled) are written to ``tmp_path``."""
    members = []
    for name, (image, labels) in frames.items():
        Image.fromarray(image).save(tmp_path / f"{name}.png")
        mask = None
        if labels is not None:  # an RGB mask in the part table's colours
            mask = str(tmp_path / f"{name}.mask.png")
            colours = np.zeros((*labels.shape, 3), np.uint8)
            for structure in ON_DISK:
                colours[labels == structure.label] = structure.rgb
            Image.fromarray(colours).save(mask)
        members.append(Specimen(name, "sp", str(tmp_path / f"{name}.png"), mask))
    return members


def test_a_pseudo_template_carries_its_prediction_never_its_ground_truth(tmp_path):
    truth = np.full((4, 4), 3, np.uint8)
    predicted = np.full((4, 4), 1, np.uint8)
    members = _on_disk(tmp_path, {"a": (np.zeros((4, 4, 3), np.uint8), truth)})
    (tmp_path / "round1").mkdir()
    write_label_png(tmp_path / "round1" / "a.png", predicted)
    store = SpecimenStore(
        members, ON_DISK, pseudo=PseudoTemplates(str(tmp_path / "round1"), ("a",), 0.5)
    )
    frame = store.template("a")
    assert np.array_equal(frame.labels, predicted)
    assert frame.weight == 0.5 and store.is_pseudo("a")
    assert np.array_equal(SpecimenStore(members, ON_DISK).template("a").labels, truth)


def test_no_target_is_its_own_template_and_a_hand_made_one_is_always_kept():
    names = ["t1", "p1", "p2", "p3"]
    descriptors = np.array([[10.0], [0.0], [1.0], [2.0]])
    chosen = assign_templates(
        ["p1", "x"],
        np.array([[0.0], [1.1]]),
        names,
        descriptors,
        2,
        true_templates={"t1"},
        keep_hand_made=1,
    )
    assert chosen["p1"] == ("p2", "t1")
    assert chosen["x"] == ("p2", "t1")
    assert all(target not in templates for target, templates in chosen.items())


def test_kept_hand_made_templates_are_never_displaced_and_pseudo_ones_fill_empty_places():
    descriptors = np.array([[10.0], [11.0], [0.0], [1.0]])
    names = ["t1", "t2", "p1", "p2"]
    two_true = assign_templates(
        ["x"],
        np.array([[0.5]]),
        names,
        descriptors,
        2,
        true_templates={"t1", "t2"},
        keep_hand_made=2,
    )
    assert two_true["x"] == ("t1", "t2")
    one_kept = assign_templates(
        ["x"],
        np.array([[0.5]]),
        names,
        descriptors,
        2,
        true_templates={"t1", "t2"},
        keep_hand_made=1,
    )
    assert one_kept["x"] == ("p1", "t1")
    one_true = assign_templates(
        ["x"],
        np.array([[0.5]]),
        names[:1] + names[2:],
        descriptors[[0, 2, 3]],
        2,
        true_templates={"t1"},
        keep_hand_made=2,
    )
    assert one_true["x"] == ("p1", "t1")


class RecordingEngine:
    """Copies each target's nearest template's labels; records every chunk it is given."""

    name = "recording"
    random_weights = False

    def __init__(self):
        self.chunks = []

    def propagate(self, frames, structures):
        self.chunks.append([(f.specimen, f.is_template, f.weight) for f in frames])
        templates = [f for f in frames if f.is_template]
        return [
            Prediction(
                f.specimen,
                templates_for(f, templates)[0].labels.copy(),
                templates=tuple(t.specimen for t in templates_for(f, templates)),
            )
            for f in frames
            if not f.is_template
        ]


def test_the_second_round_never_shows_a_target_itself_and_scores_against_true_templates(
    tmp_path,
):
    image = np.zeros((8, 8, 3), np.uint8)
    labels = np.ones((8, 8), np.uint8)
    unlabelled = {name: (image, None) for name in ("p1", "p2", "x")}
    members = _on_disk(tmp_path, {"t1": (image, labels), **unlabelled})
    (tmp_path / "round1").mkdir()
    for name, value in (("p1", 2), ("p2", 3)):
        write_label_png(tmp_path / "round1" / f"{name}.png", labels * value)
    assigned = {"p1": ("p2", "t1"), "p2": ("p1", "t1"), "x": ("p1", "p2", "t1")}
    chunks = chunks_by_templates(["p1", "p2", "x"], assigned, chunk_length=16)
    engine = RecordingEngine()
    pseudo = PseudoTemplates(str(tmp_path / "round1"), ("p1", "p2"), 0.5)
    spec = EngineSpec("recording", None, 0)
    results = list(predict_chunks(spec, engine, members, chunks, ON_DISK, 1, pseudo=pseudo))
    forward = engine.chunks[::2]  # each chunk's forward pass, then its target's round trip
    for chunk in forward:
        shown = {name for name, is_template, _ in chunk if is_template}
        assert not shown & {name for name, is_template, _ in chunk if not is_template}
    weights = {name: weight for chunk in forward for name, is_t, weight in chunk if is_t}
    assert weights == {"p1": 0.5, "p2": 0.5, "t1": 1.0}
    # QC: the target as template, hand-made templates only as targets
    back = engine.chunks[1::2]
    assert all([name for name, is_t, _ in chunk if not is_t] == ["t1"] for chunk in back)
    assert [r.prediction.specimen for r in results] == ["p1", "p2", "x"]
    assert all({row["template"] for row in r.round_trips} == {"t1"} for r in results)
    with pytest.raises(ValueError, match="itself"):
        chunks_by_templates(["p1"], {"p1": ("p1",)}, chunk_length=16)


# -- the registration engine's template priors --------------------------------------------------


def test_template_priors_of_one_fuse_exactly_as_none():
    qualities = [0.91, 0.7, 0.83]
    plain = template_weights(qualities, 4.0)
    assert np.array_equal(plain, template_weights(qualities, 4.0, [1.0, 1.0, 1.0]))
    lowered = template_weights(qualities, 4.0, [1.0, 0.5, 0.5])
    assert lowered[0] > plain[0] and np.isclose(lowered.sum(), 1.0)
    with pytest.raises(ValueError, match="positive"):
        template_weights(qualities, 4.0, [1.0, 0.0, 1.0])


def test_a_registration_engine_with_template_weights_of_one_gives_the_same_labels():
    templates = [draw_specimen(seed=1), draw_specimen(angle=10.0, seed=4)]
    target = draw_specimen(centre=(60, 52), angle=25.0, scale=1.15, seed=2)[0]
    frames = [Frame(f"t{i}", image, labels) for i, (image, labels) in enumerate(templates)]
    frames.append(Frame("target", target))
    options = SelfTrainingOptions().pseudo_weight  # the schema's default
    engine = RegistrationEngine.from_options(FAST, seed=0)
    plain = engine.propagate(frames, STRUCTURES)[0]
    ones = [replace(f, weight=1.0) if f.is_template else f for f in frames]
    same = engine.propagate(ones, STRUCTURES)[0]
    assert np.array_equal(plain.labels, same.labels)
    assert plain.confidence == same.confidence
    lowered = [replace(f, weight=options) if f.specimen == "t1" else f for f in frames]
    changed = engine.propagate(lowered, STRUCTURES)[0]
    assert changed.confidence != plain.confidence


def test_a_second_registration_round_with_a_pseudo_template_runs_and_is_qc_scored(tmp_path):
    template = draw_specimen(seed=1)
    first = draw_specimen(centre=(58, 54), angle=10.0, seed=3)
    second = draw_specimen(centre=(60, 52), angle=25.0, scale=1.15, seed=2)
    engine = RegistrationEngine.from_options(FAST, seed=0)
    (predicted,) = engine.propagate([Frame("t", *template), Frame("p", first[0])], STRUCTURES)
    members = _on_disk(tmp_path, {"t": template, "p": (first[0], None), "x": (second[0], None)})
    (tmp_path / "round1").mkdir()
    write_label_png(tmp_path / "round1" / "p.png", predicted.labels)
    chunks = chunks_by_templates(["x"], {"x": ("t", "p")}, chunk_length=16)
    pseudo = PseudoTemplates(str(tmp_path / "round1"), ("p",), 0.5)
    spec = EngineSpec("registration", FAST, 0)
    (result,) = predict_chunks(spec, engine, members, chunks, ON_DISK, 1, pseudo=pseudo)
    assert result.prediction.templates == ("t", "p")
    assert mean_iou(class_iou(result.prediction.labels, second[1], STRUCTURES.labels)) > 0.5
    assert {row["template"] for row in result.round_trips} == {"t"}  # back to "t" only


class StrayPieceEngine(RecordingEngine):
    """Copies the nearest template's labels and adds a detached speck of its first part."""

    def propagate(self, frames, structures):
        predictions = super().propagate(frames, structures)
        for prediction in predictions:
            prediction.labels[0, 0] = 1
        return predictions


def test_a_second_round_keeps_each_part_in_as_many_pieces_as_its_templates(tmp_path):
    """As in the first round (``traitrack.pieces``): a part that is one piece in every
    template, hand-made or pseudo, is one piece in the prediction."""
    image = np.zeros((8, 8, 3), np.uint8)
    labels = np.zeros((8, 8), np.uint8)
    labels[3:6, 3:6] = 1
    members = _on_disk(tmp_path, {"t1": (image, labels), "p1": (image, None), "x": (image, None)})
    (tmp_path / "round1").mkdir()
    write_label_png(tmp_path / "round1" / "p1.png", labels)
    chunks = chunks_by_templates(["x"], {"x": ("p1", "t1")}, chunk_length=16)
    pseudo = PseudoTemplates(str(tmp_path / "round1"), ("p1",), 0.5)
    spec = EngineSpec("stray", None, 0)
    engine = StrayPieceEngine()
    (result,) = predict_chunks(spec, engine, members, chunks, ON_DISK, 1, pseudo=pseudo)
    assert result.prediction.labels[0, 0] == 0  # the speck is gone
    assert np.array_equal(result.prediction.labels, labels)


def test_round_trips_of_predictions_made_elsewhere_are_the_same_in_workers(tmp_path):
    """The student's QC: the teacher's round trips of label maps it did not predict, in one
    process or in two worker processes, row for row."""
    template = draw_specimen(seed=1)
    targets = {f"x{i}": draw_specimen(angle=8.0 * i, seed=2 + i) for i in range(3)}
    members = _on_disk(
        tmp_path, {"t": template, **{name: (image, None) for name, (image, _) in targets.items()}}
    )
    tasks = []
    for name, (_, truth) in targets.items():
        write_label_png(tmp_path / f"{name}.pred.png", truth)
        tasks.append(RoundTripTask(name, str(tmp_path / f"{name}.pred.png"), ("t",), {}))
    engine = RegistrationEngine.from_options(FAST, seed=0)
    one = list(
        round_trip_targets(EngineSpec("registration", FAST, 0), engine, members, tasks, ON_DISK)
    )
    two = list(
        round_trip_targets(
            EngineSpec("registration", FAST, 0, threads=2), engine, members, tasks, ON_DISK
        )
    )
    assert [[row["specimen"] for row in rows] for rows in one] == [["x0"], ["x1"], ["x2"]]
    assert json.dumps(one) == json.dumps(two)  # NaN evidence compares equal as text
    assert all(rows[0]["template"] == "t" for rows in one)
