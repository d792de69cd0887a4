"""Stage of ``selftrain.smk``'s rule ``pseudo_round``: a second round with pseudo-templates.

The first round's best targets by ``qc_rank`` over the whole species (never one whose
``gt_mask`` scores the evaluation, unless ``self_training.allow_gt_targets``) join the
species' hand-made templates with their predicted masks (:mod:`traitrack.selftrain.pseudo`);
every target of one shard (the shards of ``propagate``) is propagated again from its
``select.k`` nearest templates of the round (never itself, always its nearest
``self_training.keep_hand_made`` hand-made ones), and its QC round trip goes back to
hand-made templates only. A shard writes what ``propagate`` writes (``shard.json``, label
maps), with a ``pseudo_templates`` column in its prediction rows and the engine named
``<engine>+pseudo``; rule ``gather_selftrain`` joins the shards as ``gather`` does.

A shard in which no target receives a pseudo-template (every place of its ``select.k`` holds a
hand-made template, e.g. ``keep_hand_made`` = ``select.k`` and that many templates, or no
pseudo-templates at all) would only propagate the first round again: it is not run, and the
first round's shard (its label maps, prediction rows and round trips) stands for it, named as
the round's output (:func:`reuse_first_round`).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from traitrack.describe import load_descriptors
from traitrack.engines.base import Frame
from traitrack.io import atomic_output, read_label_png, write_label_png
from traitrack.propagation import EngineSpec, SpecimenStore
from traitrack.samples import read_sample_sheet, specimens, template_pool
from traitrack.selftrain.options import SelfTrainingOptions
from traitrack.stages.propagate import _prediction_row, shard_chunks, write_shard
from traitrack.stages.selftrain import held_out
from traitrack.structures import StructureTable
from traitrack.working_size import photograph_shape, resize_labels

log = logging.getLogger(__name__)

PSEUDO_SUFFIX = "+pseudo"
"""Appended to the engine's name in the tables of a round with pseudo-templates."""


def run_pseudo_round(
    samples: str | Path,
    species: str,
    labels_dir: str | Path,
    qc_table: str | Path,
    descriptors: str | Path,
    pseudovideo: str | Path,
    *,
    structures: StructureTable,
    self_training: Mapping[str, Any] | None,
    engine_spec: EngineSpec,
    qc: Mapping[str, Any],
    k: int,
    chunk_length: int,
    pool: str,
    labels_out: str | Path,
    shard_out: str | Path,
    shard: str = "1-of-1",
    first_shard: str | Path | None = None,
) -> list[str]:
    """One shard of a second propagate round with the first round's best targets as templates.

    Parameters
    ----------
    samples : str or Path
        The sample sheet.
    species : str
        The species slug.
    labels_dir, qc_table : str or Path
        The first round's label maps and ``qc.tsv`` (rule ``gather``).
    descriptors : str or Path
        ``descriptors.npz`` (rule ``describe``): each target's ``k`` nearest templates of the
        round, hand-made and pseudo (:func:`~traitrack.selftrain.pseudo.assign_templates`,
        never itself, always its nearest ``self_training.keep_hand_made`` hand-made ones).
    pseudovideo : str or Path
        ``pseudovideo.json`` (rule ``order``): which targets the shard holds
        (:func:`~traitrack.stages.propagate.shard_chunks`).
    structures : StructureTable
        The part table.
    self_training : Mapping or None
        The config's ``self_training`` section (``pseudo_share``, ``pseudo_weight``,
        ``allow_gt_targets``).
    engine_spec : EngineSpec
        The engine, its config section, the seed, the species' fine-tuned SAM 2 weights and
        the job's threads (:func:`~traitrack.stages.propagate.run_propagate`).
    qc : Mapping
        The config's ``qc`` section.
    k, chunk_length : int
        ``select.k`` and ``order.chunk_length``.
    pool : str
        ``select.template_pool``.
    labels_out : str or Path
        Where the shard's targets' label PNGs go.
    shard_out : str or Path
        The shard's ``shard.json`` (:func:`~traitrack.stages.propagate.write_shard`), engine
        ``<engine>+pseudo``, each prediction row with its ``pseudo_templates``.
    shard : str
        Which shard, ``INDEX-of-COUNT``.
    first_shard : str or Path, optional
        The first round's ``shard.json`` of the same shard (rule ``propagate``): when no
        target of the shard receives a pseudo-template, its rows and ``labels_dir``'s label
        maps are the round's outputs and nothing is propagated.  Without it the round runs.

    Returns
    -------
    list of str
        The pseudo-templates, best rank first.
    """
    from traitrack.selftrain.pseudo import (
        assign_templates,
        choose_pseudo_templates,
        pseudo_template_frames,
        run_round,
    )

    options = SelfTrainingOptions.from_config(self_training)
    sheet = read_sample_sheet(samples)
    # photographs read at most at limits.working_megapixels, label maps written at full size
    store = SpecimenStore(specimens(sheet), structures, engine_spec.working_megapixels)
    true = [t.specimen for t in template_pool(sheet, species, pool)]
    own = specimens(sheet, species)
    targets = [t for chunk in shard_chunks(pseudovideo, shard) for t in chunk.targets]
    excluded = set(true) | {m.specimen for m in own if held_out(m, options.allow_gt_targets)}
    first_qc = pd.read_csv(qc_table, sep="\t")
    chosen = choose_pseudo_templates(first_qc, options.pseudo_share, exclude=excluded)
    log.info("pseudo-templates of %s: %s", species, ", ".join(chosen) or "none")
    names, vectors = load_descriptors(descriptors)
    index = {name: i for i, name in enumerate(names)}

    def rows_of(group):
        return vectors[[index[n] for n in group]].reshape(len(group), -1)

    assigned = assign_templates(
        targets,
        rows_of(targets),
        [*true, *chosen],
        rows_of([*true, *chosen]),
        k,
        true_templates=true,
        keep_hand_made=options.keep_hand_made,
    )
    if first_shard is not None and not receives_pseudo_templates(assigned, chosen):
        log.info(
            "shard %s of %s: no target receives a pseudo-template (each of its select.k = %d "
            "places holds a hand-made template); the first round's labels stand for this round",
            shard,
            species,
            k,
        )
        reuse_first_round(first_shard, labels_dir, labels_out, shard_out, PSEUDO_SUFFIX)
        return chosen
    images = {name: store.image(name) for name in [*targets, *chosen]}
    predicted = {
        name: resize_labels(
            read_label_png(Path(labels_dir) / f"{name}.png"), images[name].shape[:2]
        )
        for name in chosen
    }
    pseudo_frames = pseudo_template_frames(chosen, predicted, images)
    frames = [Frame(t, images[t], None, assigned[t]) for t in targets]
    engine = engine_spec.build()
    result = run_round(
        engine,
        [store.template(t) for t in true],
        pseudo_frames,
        frames,
        structures,
        pseudo_weight=options.pseudo_weight,
        qc_templates=qc["max_templates"],
        chunk_length=chunk_length,
        flag_share=qc["flag_share"],
        qc_threshold=qc["threshold"],
    )
    labels_out = Path(labels_out)
    labels_out.mkdir(parents=True, exist_ok=True)
    rows = []
    pseudo_of = dict(zip(result.provenance["specimen"], result.provenance["pseudo_templates"]))
    for prediction in result.predictions:
        labels = prediction.labels
        if engine_spec.working_megapixels:  # back at the photograph's size
            full_size = photograph_shape(store.by_name[prediction.specimen].image)
            labels = resize_labels(labels, full_size)
        write_label_png(labels_out / f"{prediction.specimen}.png", labels)
        row = _prediction_row(
            prediction, engine.name + PSEUDO_SUFFIX, engine.random_weights, structures
        )
        row["pseudo_templates"] = pseudo_of[prediction.specimen]
        rows.append(row)
    write_shard(
        shard_out,
        species,
        shard,
        engine.name + PSEUDO_SUFFIX,
        engine.random_weights,
        shard_chunks(pseudovideo, shard),
        rows,
        result.round_trips,
    )
    return chosen


def receives_pseudo_templates(assigned: Mapping[str, tuple[str, ...]], chosen) -> bool:
    """Whether any target's templates (:func:`~traitrack.selftrain.pseudo.assign_templates`)
    include a pseudo-template, i.e. whether a second round could differ from the first."""
    pseudo = set(chosen)
    return any(pseudo.intersection(names) for names in assigned.values())


def reuse_first_round(
    first_shard: str | Path,
    labels_dir: str | Path,
    labels_out: str | Path,
    shard_out: str | Path,
    suffix: str,
) -> None:
    """Write the first round's shard as this round's: its targets' label maps (copied from
    the gathered ``labels_dir``), its prediction rows (engine ``<engine><suffix>``, no
    ``pseudo_templates``) and its round trips, so the gathered round is the first one's."""
    document = json.loads(Path(first_shard).read_text())
    engine = document["engine"] + suffix
    rows = [{**row, "engine": engine, "pseudo_templates": ""} for row in document["predictions"]]
    labels_out = Path(labels_out)
    labels_out.mkdir(parents=True, exist_ok=True)
    for row in rows:
        name = f"{row['specimen']}.png"
        with atomic_output(labels_out / name) as temporary:
            shutil.copyfile(Path(labels_dir) / name, temporary)
    with atomic_output(shard_out) as temporary:
        Path(temporary).write_text(
            json.dumps({**document, "engine": engine, "predictions": rows}, indent=1)
        )
