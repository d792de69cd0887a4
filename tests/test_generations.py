"""Students of students (``self_training.student.generations``): relabelling, resuming.

Tiny networks on the example's synthetic beetles, one torch thread, as in test_selftrain.py;
the quality of a second generation is measured by ``benchmarks/self_training.py``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from traitrack.example.synthetic import BODY_PLANS, example_structures, render_specimen
from traitrack.selftrain.options import PREDICTION_ONLY, StudentOptions

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("albumentations")

from test_selftrain import one_thread  # noqa: E402, F401 (one torch thread, autouse)

from traitrack.selftrain import inference  # noqa: E402
from traitrack.selftrain.generations import (  # noqa: E402
    Labelled,
    generation_state,
    relabel,
    train_generations,
)

TINY = {
    "size": 48,
    "encoder": "unet",
    "channels": [8, 16],
    "batch_size": 2,
    "lr": 0.01,
    "epochs": 3,
}


@pytest.fixture(scope="module")
def specimens():
    """Two templates with their true masks and three pseudo-labels shifted by two rows."""
    rng = np.random.default_rng(5)
    beetles = [render_specimen(BODY_PLANS[0], rng) for _ in range(5)]
    templates = [Labelled(f"t{i}", b.image, b.labels) for i, b in enumerate(beetles[:2])]
    pseudo = [
        Labelled(f"p{i}", b.image, np.roll(b.labels, 2, axis=0), 0.8, {"elytra": 0.9})
        for i, b in enumerate(beetles[2:])
    ]
    return templates, pseudo


def quiet(line: str) -> None:
    """Drop the epoch lines."""


def test_relabelling_fuses_the_student_with_the_teacher_and_keeps_the_qc_rank(specimens):
    templates, pseudo = specimens
    structures = example_structures()
    options = StudentOptions.from_config({**TINY, "epochs": 1})
    network, _, _ = train_generations(templates, pseudo, structures, options, log=quiet)
    teacher_only = relabel(network, pseudo, structures, replace(options, teacher_weight=1.0))
    student_only = relabel(network, pseudo, structures, replace(options, teacher_weight=0.0))
    for before, teacher, alone in zip(pseudo, teacher_only, student_only):
        np.testing.assert_array_equal(teacher.labels, before.labels)
        softmax = inference.image_softmax(network, before.image, options.size)
        np.testing.assert_array_equal(alone.labels, softmax.argmax(axis=0))
        assert (alone.specimen, alone.qc_rank) == (before.specimen, before.qc_rank)
        assert set(alone.confidence) == {s.name for s in structures}


def test_each_generation_trains_a_new_student_on_its_predecessors_labels(specimens):
    templates, pseudo = specimens
    structures = example_structures()
    options = StudentOptions.from_config({**TINY, "generations": 2})
    networks = {}
    last, losses, finished = train_generations(
        templates, pseudo, structures, options, log=quiet, on_generation=networks.__setitem__
    )
    assert finished and list(networks) == [1, 2] and last is networks[2]
    assert list(losses["generation"]) == [1, 1, 1, 2, 2, 2]
    assert list(losses["epoch"]) == [1, 2, 3, 1, 2, 3]
    # the first generation is the one-generation student: the option does not retrain it
    one, _, _ = train_generations(templates, pseudo, structures, replace(options, generations=1))
    for key, value in one.state_dict().items():
        assert torch.equal(value, networks[1].state_dict()[key]), key
    assert any(
        not torch.equal(value, networks[2].state_dict()[key])
        for key, value in networks[1].state_dict().items()
    )


def test_a_training_killed_in_the_second_generation_resumes_there(specimens, tmp_path):
    templates, pseudo = specimens
    structures = example_structures()
    options = StudentOptions.from_config({**TINY, "generations": 2})
    whole, _, _ = train_generations(
        templates, pseudo, structures, options, state_path=tmp_path / "a.pt", log=quiet
    )
    state = tmp_path / "b.pt"
    train_generations(
        templates, pseudo, structures, replace(options, generations=1), state_path=state, log=quiet
    )
    _, _, finished = train_generations(
        templates, pseudo, structures, options, state_path=state, stop_after=2, log=quiet
    )
    assert not finished and generation_state(state, 2).name == "b-g2.pt"
    lines = []
    resumed, losses, finished = train_generations(
        templates, pseudo, structures, options, state_path=state, log=lines.append
    )
    assert finished and len(losses) == 6
    assert [line.split(":")[0] for line in lines if "resuming" in line] == [
        "generation 1",
        "generation 2",
    ]
    assert sum("student epoch" in line for line in lines) == 1  # generation 2's third epoch
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_generation_two_resumes_when_its_relabelled_confidences_differ_slightly(
    specimens, tmp_path, monkeypatch
):
    """A job resumed on another device relabels with float rounding differences (here 1e-5,
    which survives the float32 weights); it resumes generation 2 all the same, and only
    another ``teacher_weight`` starts it again."""
    from traitrack.selftrain import generations

    templates, pseudo = specimens
    structures = example_structures()
    options = StudentOptions.from_config({**TINY, "generations": 2})
    state = tmp_path / "s.pt"
    one = replace(options, generations=1)
    train_generations(templates, pseudo, structures, one, state_path=state, log=quiet)
    train_generations(
        templates, pseudo, structures, options, state_path=state, stop_after=2, log=quiet
    )
    exact = generations.relabel

    def on_another_device(*args, **kwargs):
        return [
            replace(p, confidence={k: v * (1 - 1e-5) for k, v in p.confidence.items()})
            for p in exact(*args, **kwargs)
        ]

    monkeypatch.setattr(generations, "relabel", on_another_device)
    lines: list[str] = []
    train_generations(templates, pseudo, structures, options, state_path=state, log=lines.append)
    assert any(line.startswith("generation 2: student: resuming after epoch 2") for line in lines)
    assert sum("student epoch" in line for line in lines) == 1
    lines.clear()
    other = replace(options, teacher_weight=0.2)
    train_generations(templates, pseudo, structures, other, state_path=state, log=lines.append)
    assert [line.split(":")[0] for line in lines if "resuming" in line] == ["generation 1"]
    assert sum("student epoch" in line for line in lines) == 3


def test_teacher_weight_decides_the_training_once_later_generations_learn_from_it():
    assert StudentOptions.from_config({}).prediction_only() == PREDICTION_ONLY
    later = StudentOptions.from_config({"generations": 2})
    assert later.prediction_only() == ("test_flips",)
    assert later.fingerprint() == StudentOptions.from_config({}).fingerprint()
