"""Stage of ``selftrain.smk``: the student of self-training.

``run_train_student`` trains the student network on the templates' hand-made masks and the
teacher's labels of the species' targets (:mod:`traitrack.selftrain.student`), and
``run_predict_student`` lets it predict the targets of one shard and writes what ``propagate``
writes (label maps, ``shard.json``); rule ``gather_selftrain`` joins the shards into what
``gather`` writes (``predictions.tsv``, ``qc.tsv`` ranked over the species,
``masks.coco.json``), so that ``measure``, ``evaluate``, ``overlays`` and ``annotate_next``
read it as they read the teacher's.
The QC round trip is the teacher engine's, back to hand-made templates, as
:func:`traitrack.qc.round_trip` does for the teacher. The second round with pseudo-templates
(rule ``pseudo_round``) is :mod:`traitrack.stages.pseudo`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from traitrack.io import read_label_png, write_label_png, write_table
from traitrack.propagation import EngineSpec, RoundTripTask, round_trip_targets
from traitrack.qc import evidence_of
from traitrack.samples import Specimen
from traitrack.selftrain.bulk import STUDENT_ALONE
from traitrack.selftrain.options import SelfTrainingOptions
from traitrack.species_context import SpeciesContext

# the rows propagate writes, so that the tables of every round read alike
from traitrack.stages.propagate import _prediction_row, shard_chunks, write_shard
from traitrack.structures import StructureTable
from traitrack.working_size import photograph_shape, resize_labels

log = logging.getLogger(__name__)

STUDENT_SUFFIX = "+student"
"""Appended to the teacher engine's name in every table the student's predictions reach."""


def held_out(member: Specimen, allow_gt_targets: bool) -> bool:
    """Whether a specimen's ground truth keeps it out of training and pseudo-templates.

    Parameters
    ----------
    member : Specimen
        A row of the sample sheet.
    allow_gt_targets : bool
        ``self_training.allow_gt_targets``.

    Returns
    -------
    bool
        True for a specimen with a ``gt_mask`` unless the config allows it.
    """
    return bool(member.gt_mask) and not allow_gt_targets


def run_train_student(
    context: SpeciesContext,
    *,
    labels_dir: str | Path,
    predictions: str | Path,
    qc_table: str | Path,
    self_training: Mapping[str, Any] | None,
    seed: int,
    weights_out: str | Path,
    losses_out: str | Path,
    plot_out: str | Path,
    training_out: str | Path,
    state_path: str | Path | None = None,
    threads: int | None = None,
    stop_after: int | None = None,
) -> pd.DataFrame:
    """Train a species' student on its templates and the teacher's labels of its targets.

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    labels_dir, predictions, qc_table : str or Path
        The teacher's label maps, ``predictions.tsv`` (per-structure confidence) and
        ``qc.tsv`` (``qc_rank``) of the species (rule ``gather``, or ``pseudo_round``).
    self_training : Mapping or None
        The config's ``self_training`` section.
    seed : int
        The config's seed.
    weights_out, losses_out, plot_out : str or Path
        The student's weights (:func:`~traitrack.selftrain.files.save_weights`), its loss
        table and plot.
    training_out : str or Path
        ``training.tsv``: every training image, its ``source`` (``template`` or
        ``pseudo_label``), ``qc_rank`` and mean pixel weight.
    state_path : str or Path, optional
        The resumable state, saved after every epoch (default ``state.pt`` next to the
        weights, not a rule output, so a killed job's epochs survive); deleted at the end.
    threads : int, optional
        torch's CPU threads (the job's allocation).
    stop_after : int, optional
        Stop after this many epochs without writing the outputs (tests: a killed job).

    Returns
    -------
    pandas.DataFrame
        The training table.
    """
    species, structures = context.species, context.structures
    import torch

    from traitrack.selftrain.files import save_weights, write_losses
    from traitrack.selftrain.generations import (
        Labelled,
        generation_state,
        train_generations,
        training_samples,
    )

    if threads:
        torch.set_num_threads(int(threads))
    options = SelfTrainingOptions.from_config(self_training)
    student = options.student
    # photographs at limits.working_megapixels, as the student's predictions read them; each
    # pseudo-label (written at the photograph's size) reduced to its photograph's working size
    store = context.store()
    ranks = _qc_ranks(qc_table)
    confidence = _confidences(predictions, structures)
    frames = [store.template(t.specimen) for t in context.templates]
    templates = [Labelled(frame.specimen, frame.image, frame.labels) for frame in frames]
    pseudo_labels = [
        Labelled(
            member.specimen,
            image := store.image(member.specimen),
            resize_labels(
                read_label_png(Path(labels_dir) / f"{member.specimen}.png"), image.shape[:2]
            ),
            ranks[member.specimen],
            confidence.get(member.specimen),
        )
        for member in context.members
        if not member.is_template
        and not held_out(member, options.allow_gt_targets)
        and member.specimen in ranks
    ]
    first = training_samples(templates, pseudo_labels, structures, student)
    table = pd.DataFrame(
        [
            {
                "specimen": sample.specimen,
                "source": "template" if sample.is_template else "pseudo_label",
                "qc_rank": 1.0 if sample.is_template else ranks[sample.specimen],
                "mean_weight": _mean_weight(sample.weights),
            }
            for sample in first
        ],
        columns=["specimen", "source", "qc_rank", "mean_weight"],
    )
    log.info(
        "student of %s: %d templates, %d pseudo-labels (held out for evaluation: %d), "
        "%d generation(s)",
        species,
        len(templates),
        len(pseudo_labels),
        sum(
            1
            for m in context.members
            if not m.is_template and held_out(m, options.allow_gt_targets)
        ),
        student.generations,
    )
    state_path = Path(state_path) if state_path else Path(weights_out).with_name("state.pt")
    network, losses, finished = train_generations(
        templates,
        pseudo_labels,
        structures,
        student,
        seed=seed,
        state_path=state_path,
        stop_after=stop_after,
        log=log.info,
        first_samples=first,
    )
    if not finished:
        return table
    save_weights(weights_out, network, structures, student)
    write_losses(losses, losses_out, plot_out)
    write_table(training_out, table)
    for generation in range(1, student.generations + 1):
        generation_state(state_path, generation).unlink(missing_ok=True)
    return table


def run_predict_student(
    context: SpeciesContext,
    *,
    weights: str | Path,
    teacher_qc: str | Path,
    teacher_labels: str | Path,
    pseudovideo: str | Path,
    self_training: Mapping[str, Any] | None,
    engine_spec: EngineSpec,
    qc: Mapping[str, Any],
    labels_dir: str | Path,
    shard_out: str | Path,
    shard: str = "1-of-1",
) -> None:
    """The student predicts the targets of one shard of a species, with their QC round trips.

    Each prediction's QC round trip is the teacher engine's: the student's masks are the only
    template of a fresh chunk whose targets are the hand-made templates the teacher's QC went
    back to (``teacher_qc``'s ``templates``), scored against their true masks.

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    weights : str or Path
        The student (rule ``train_student``).
    teacher_qc : str or Path
        The teacher's ``qc.tsv``: which templates each target's round trip goes back to, and
        the teacher's engine name, which the student's tables carry as ``<teacher>+student``.
    teacher_labels : str or Path
        The teacher's label PNGs, fused with the student's softmax where
        ``self_training.student.teacher_weight`` > 0 (read only then). With
        ``self_training.student.bulk`` the teacher labelled only a sample (rule
        ``bulk_sample``): every other target is the student's alone, engine ``student``
        (:data:`~traitrack.selftrain.bulk.STUDENT_ALONE`), its QC round trip back to its own
        nearest templates.
    pseudovideo : str or Path
        ``pseudovideo.json`` (rule ``order``): which targets the shard holds
        (:func:`~traitrack.stages.propagate.shard_chunks`).
    self_training : Mapping or None
        The config's ``self_training`` section (``student.size``).
    engine_spec : EngineSpec
        The teacher engine, its config section, the seed, the species' fine-tuned SAM 2
        weights, and the job's threads (torch's, for the student too).
    qc : Mapping
        The config's ``qc`` section.
    labels_dir : str or Path
        Where the shard's targets' label PNGs go.
    shard_out : str or Path
        The shard's ``shard.json`` (:func:`~traitrack.stages.propagate.write_shard`), engine
        ``<teacher>+student``.
    shard : str
        Which shard, ``INDEX-of-COUNT``.
    """
    species, structures = context.species, context.structures
    import torch

    from traitrack.selftrain.files import load_weights
    from traitrack.selftrain.inference import predict

    torch.set_num_threads(max(1, int(engine_spec.threads)))
    options = SelfTrainingOptions.from_config(self_training)
    # photographs read at most at limits.working_megapixels, label maps written at full size
    store = context.store()
    network = load_weights(weights, structures)
    engine = engine_spec.build()
    teacher, back_to = _teacher_qc(teacher_qc, engine.name)
    name = teacher + STUDENT_SUFFIX
    hand_made = [t.specimen for t in context.templates]
    trained_on = ";".join(hand_made)
    fallback = hand_made[: qc["max_templates"]]
    labels_dir = Path(labels_dir)
    labels_dir.mkdir(parents=True, exist_ok=True)
    rows, tasks = [], []
    chunks = shard_chunks(pseudovideo, shard)
    targets = [t for chunk in chunks for t in chunk.targets]
    # a target without a teacher QC row (bulk: the teacher never saw it) goes back to its own
    # nearest templates (rule select's)
    nearest = {t: c.target_templates.get(t, c.templates) for c in chunks for t in c.targets}
    size, weight = options.student.size, options.student.teacher_weight
    for target in tqdm(targets, desc=f"student {species} {shard}", unit="target"):
        image = store.image(target)
        # bulk: the teacher labelled only a sample; the student alone labels the rest
        taught = not options.student.bulk or target in back_to
        teacher_map = None
        if weight > 0 and taught:
            teacher_map = [
                resize_labels(
                    read_label_png(Path(teacher_labels) / f"{target}.png"), image.shape[:2]
                )
            ]
        (prediction,) = predict(
            network,
            [image],
            [target],
            structures,
            size,
            teacher_map,
            weight,
            options.student.test_flips,
        )
        labels = labels_dir / f"{target}.png"
        full_size = prediction.labels
        if context.working_megapixels:  # back at the photograph's size
            full_size = resize_labels(full_size, photograph_shape(store.by_name[target].image))
        write_label_png(labels, full_size)
        row = _prediction_row(
            prediction, name if taught else STUDENT_ALONE, engine.random_weights, structures
        )
        row["templates"] = trained_on
        rows.append(row)
        own = nearest[target][: qc["max_templates"]] or fallback
        templates = tuple(back_to.get(target, own))
        tasks.append(RoundTripTask(target, str(labels), templates, evidence_of(prediction)))
    # the teacher's round trips, through the propagation driver (its worker processes too)
    trips = round_trip_targets(engine_spec, engine, context.everyone, tasks, structures)
    round_trips = [row for rows_of_target in trips for row in rows_of_target]
    write_shard(shard_out, species, shard, name, engine.random_weights, chunks, rows, round_trips)


def _mean_weight(weights: np.ndarray) -> float:
    inside = weights[weights > 0]
    return float(inside.mean()) if inside.size else 0.0


def _qc_ranks(path: str | Path) -> dict[str, float]:
    table = pd.read_csv(path, sep="\t")
    return {str(s): float(r) for s, r in zip(table["specimen"], table["qc_rank"])}


def _teacher_qc(path: str | Path, engine: str) -> tuple[str, dict[str, list[str]]]:
    """The teacher's engine name (``registration+pseudo`` after a pseudo round) and each
    target's round-trip templates, from its ``qc.tsv``."""
    table = pd.read_csv(path, sep="\t", dtype={"specimen": str, "templates": str})
    names = table["engine"].dropna().unique() if "engine" in table else []
    templates = {s: str(t).split(";") for s, t in zip(table["specimen"], table["templates"])}
    return (str(names[0]) if len(names) else engine), templates


def _confidences(path: str | Path, structures: StructureTable) -> dict[str, dict[str, float]]:
    table = pd.read_csv(path, sep="\t").set_index("specimen")
    out = {}
    for specimen, row in table.iterrows():
        out[str(specimen)] = {
            s.name: float(row.get(f"confidence_{s.name}", np.nan)) for s in structures
        }
    return out
