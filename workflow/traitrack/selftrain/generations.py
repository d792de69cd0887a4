"""Students of students: iterated distillation (Noisy Student; S4M's refined pseudo-labels).

A trained student has learnt from every pseudo-label of the species together, so where the
teacher erred on one specimen the student often labels it as the others; fused with the
teacher (:func:`~traitrack.selftrain.inference.fuse_with_teacher`) its labels of the
unlabelled specimens are better pseudo-labels than the teacher's alone.  Generation ``g + 1``
is a fresh student (same network, same augmentation) trained on the templates and generation
``g``'s fused labels, weighted as the teacher's were (the teacher's ``qc_rank`` of the
specimen, the student's per-structure confidence, the boundary term).  Each generation saves
its own resumable state, so a killed job resumes in the generation it was in.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from traitrack.selftrain.data import Sample, make_sample
from traitrack.selftrain.inference import predict
from traitrack.selftrain.options import StudentOptions
from traitrack.selftrain.student import fingerprint, train, training_epochs
from traitrack.structures import StructureTable


@dataclass(frozen=True)
class Labelled:
    """One training image at its own size with its labels (hand-made or a pseudo-label).

    ``qc_rank`` and ``confidence`` weigh a pseudo-label (:func:`make_sample`); a template
    ignores them.
    """

    specimen: str
    image: np.ndarray
    labels: np.ndarray
    qc_rank: float = 1.0
    confidence: Mapping[str, float] | None = None


def training_samples(
    templates: Sequence[Labelled],
    pseudo_labels: Sequence[Labelled],
    structures: StructureTable,
    options: StudentOptions,
) -> list[Sample]:
    """The student's samples: templates (weight 1) then pseudo-labels (weighted).

    Parameters
    ----------
    templates, pseudo_labels : sequence of Labelled
        Hand-made masks; the teacher's (or a student's) labels of unlabelled specimens.
    structures : StructureTable
        The part table.
    options : StudentOptions
        ``size``, ``boundary_px`` and ``spare_thin_parts``.

    Returns
    -------
    list of Sample
        Letterboxed into the student's square.
    """
    samples = [
        make_sample(
            t.specimen, t.image, t.labels, options.size, is_template=True, structures=structures
        )
        for t in templates
    ]
    samples += [
        make_sample(
            p.specimen,
            p.image,
            p.labels,
            options.size,
            is_template=False,
            qc_rank=p.qc_rank,
            confidence=p.confidence,
            boundary_px=options.boundary_px,
            spare_thin=options.spare_thin_parts,
            structures=structures,
        )
        for p in pseudo_labels
    ]
    return samples


def relabel(
    network: torch.nn.Module,
    teacher_labels: Sequence[Labelled],
    structures: StructureTable,
    options: StudentOptions,
) -> list[Labelled]:
    """The next generation's pseudo-labels: the student fused with the teacher's labels.

    Fused at ``teacher_weight`` as ``predict_student`` fuses (without ``test_flips``); the
    teacher's ``qc_rank`` stays with each specimen, the confidence becomes the fused
    probability's mean inside each structure.
    """
    predictions = predict(
        network,
        [p.image for p in teacher_labels],
        [p.specimen for p in teacher_labels],
        structures,
        options.size,
        teacher_labels=[p.labels for p in teacher_labels],
        teacher_weight=options.teacher_weight,
    )
    return [
        dataclasses.replace(p, labels=prediction.labels, confidence=prediction.confidence)
        for p, prediction in zip(teacher_labels, predictions)
    ]


def generation_state(state_path: str | Path, generation: int) -> Path:
    """Generation 1's state is ``state_path``; generation ``g`` > 1's ``NAME-gG.SUFFIX``."""
    path = Path(state_path)
    return path if generation == 1 else path.with_name(f"{path.stem}-g{generation}{path.suffix}")


def generation_key(first_key: str, generation: int, options: StudentOptions) -> str:
    """Generation ``g``'s state key: generation 1's fingerprint, ``g`` and ``teacher_weight``.

    Generation g > 1's samples follow from generation 1's training set and these settings, so
    the key needs not hash them: a resumed job on another device, whose relabelled confidences
    differ in the last bit, resumes the generation instead of starting it again.
    """
    if generation == 1:
        return first_key
    text = f"{first_key}:generation {generation}:teacher_weight {options.teacher_weight!r}"
    return hashlib.sha256(text.encode()).hexdigest()


def train_generations(
    templates: Sequence[Labelled],
    pseudo_labels: Sequence[Labelled],
    structures: StructureTable,
    options: StudentOptions,
    *,
    seed: int = 0,
    state_path: str | Path | None = None,
    stop_after: int | None = None,
    log: Callable[[str], None] = print,
    on_generation: Callable[[int, torch.nn.Module], None] | None = None,
    first_samples: Sequence[Sample] | None = None,
) -> tuple[torch.nn.Module, pd.DataFrame, bool]:
    """Train ``options.generations`` students, each on the previous one's fused labels.

    Parameters
    ----------
    templates, pseudo_labels : sequence of Labelled
        Hand-made masks and the teacher's labels (:func:`training_samples`).
    structures : StructureTable
        The part table.
    options : StudentOptions
        ``self_training.student``.
    seed : int
        The config's seed.
    state_path : str or Path, optional
        Generation 1's resumable state (:func:`generation_state` names the others').
    stop_after : int, optional
        Stop after this many epochs of the first generation that has not finished (tests: a
        killed job).
    log : callable
        Receives the epoch lines.
    on_generation : callable, optional
        Called with each generation's number and trained network (benchmarks score each).
    first_samples : sequence of Sample, optional
        Generation 1's samples when the caller has built them already
        (:func:`training_samples` of the same templates and pseudo-labels), so that they are
        not letterboxed and weighed twice.

    Returns
    -------
    network : torch.nn.Module
        The last generation's student.
    losses : pandas.DataFrame
        Every generation's loss rows, with a ``generation`` column first.
    finished : bool
        False when ``stop_after`` stopped a generation before its end.
    """
    tables, current = [], list(pseudo_labels)
    network, first_key = None, ""
    for generation in range(1, options.generations + 1):
        if generation > 1:
            current = relabel(network, current, structures, options)
            samples = training_samples(templates, current, structures, options)
        else:
            samples = first_samples or training_samples(templates, current, structures, options)
            first_key = fingerprint(samples, options, seed)
        state = None if state_path is None else generation_state(state_path, generation)
        network, losses = train(
            samples,
            structures,
            options,
            seed=seed,
            state_path=state,
            stop_after=stop_after,
            log=lambda line, g=generation: log(f"generation {g}: {line}"),
            key=generation_key(first_key, generation, options),
        )
        tables.append(losses.assign(generation=generation))
        if stop_after is not None and len(losses) < training_epochs(samples, options):
            return network, _joined(tables), False
        if on_generation is not None:
            on_generation(generation, network)
    return network, _joined(tables), True


def _joined(tables: list[pd.DataFrame]) -> pd.DataFrame:
    table = pd.concat(tables, ignore_index=True)
    return table[["generation", *[c for c in table.columns if c != "generation"]]]
