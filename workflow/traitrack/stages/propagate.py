"""Stage of ``propagate.smk``: one shard of a species through the engine, then the gather.

``run_propagate`` is one job per shard (:mod:`traitrack.shards`): the engine over the shard's
chunks, each target's QC round trip in the same job, so that an engine with an image-feature
cache (SAM 2) encodes every image once per job; every ``propagate`` call still starts from an
empty memory, so the round trip learns nothing from the forward pass. A shard writes its label
maps and ``shard.json``: its prediction rows and raw round-trip rows, in JSON because JSON
gives every float back exactly. ``run_gather`` joins a species' shards in order into the
species' outputs: the QC's ranks and flags are computed there, over the whole species, and the
tables come out byte for byte as one job over all chunks would write them.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from traitrack.io import atomic_output, read_label_png, write_coco, write_label_png, write_table
from traitrack.order import Chunk, read_pseudovideo
from traitrack.propagation import (  # noqa: F401  (engine_for_job re-exported for callers)
    EngineSpec,
    SpecimenStore,
    TargetResult,
    engine_for_job,
    predict_chunks,
)
from traitrack.qc import EVIDENCE, summarise_round_trips
from traitrack.shards import parse_shard, split_chunks
from traitrack.species_context import SpeciesContext
from traitrack.structures import StructureTable
from traitrack.working_size import photograph_shape, resize_labels

log = logging.getLogger(__name__)

QC_COLUMNS = [
    "specimen",
    "templates",
    "round_trip_miou",
    *EVIDENCE,
    "qc_score",
    "qc_rank",
    "flagged",
]


def run_propagate(
    context: SpeciesContext,
    *,
    pseudovideo: str | Path,
    engine_spec: EngineSpec,
    qc: Mapping[str, Any],
    labels_dir: str | Path,
    shard_out: str | Path,
    shard: str = "1-of-1",
) -> None:
    """Segment every target of one shard of a species and take its QC round trips.

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    pseudovideo : str or Path
        ``pseudovideo.json`` (rule ``order``).
    engine_spec : EngineSpec
        The engine, its config section, the seed, the species' fine-tuned SAM 2 weights (rule
        ``finetune``) and the job's threads: worker processes for the registration engine
        (:meth:`~traitrack.propagation.EngineSpec.workers`), torch's threads for SAM 2.
    qc : Mapping
        The config's ``qc`` section (``max_templates`` is read here).
    labels_dir : str or Path
        Where the shard's targets' label PNGs go.
    shard_out : str or Path
        ``shard.json``: the shard's prediction rows and raw round-trip rows, written last, so
        that it exists only when the whole shard is done.
    shard : str
        Which shard, ``INDEX-of-COUNT`` (:func:`~traitrack.shards.parse_shard`).
    """
    species, structures = context.species, context.structures
    sheet = context.sheet
    mine = shard_chunks(pseudovideo, shard)
    engine = engine_spec.build()
    labels_dir = Path(labels_dir)
    labels_dir.mkdir(parents=True, exist_ok=True)
    results = predict_chunks(
        engine_spec, engine, context.everyone, mine, structures, qc["max_templates"]
    )
    written = write_results(
        results,
        sheet=sheet,
        labels_dir=labels_dir,
        working_megapixels=engine_spec.working_megapixels,
        engine_name=engine.name,
        random_weights=engine.random_weights,
        structures=structures,
        progress=f"propagate {species} {shard}",
        total=sum(len(chunk.targets) for chunk in mine),
    )
    rows = [row for row, _ in written]
    round_trips = [trip for _, trips in written for trip in trips]
    write_shard(
        shard_out, species, shard, engine.name, engine.random_weights, mine, rows, round_trips
    )


def write_results(
    results: Iterable[TargetResult],
    *,
    sheet: pd.DataFrame,
    labels_dir: Path,
    working_megapixels: float,
    engine_name: str,
    random_weights: bool,
    structures: StructureTable,
    progress: str,
    total: int,
) -> list[tuple[dict, list[dict]]]:
    """Write each target's label map (at its photograph's size) as its result arrives.

    Returns
    -------
    list of tuple
        Per target, in arrival order: its prediction row (:func:`_prediction_row`) and its
        round-trip rows, for :func:`write_shard`.
    """
    written = []
    for result in tqdm(results, total=total, desc=progress, unit="target"):
        prediction = result.prediction
        labels = prediction.labels
        if working_megapixels:  # back at the photograph's size
            image = sheet.loc[prediction.specimen, "image"]
            labels = resize_labels(labels, photograph_shape(image))
        write_label_png(labels_dir / f"{prediction.specimen}.png", labels)
        row = _prediction_row(prediction, engine_name, random_weights, structures)
        written.append((row, result.round_trips))
    return written


def shard_chunks(pseudovideo: str | Path, shard: str) -> list[Chunk]:
    """The pseudo-video chunks of one shard (``INDEX-of-COUNT``): consecutive whole chunks,
    cut alike by every job and every stage that shards a species (:func:`split_chunks`)."""
    index, count = parse_shard(shard)
    _, chunks = read_pseudovideo(pseudovideo)
    return split_chunks(chunks, count)[index - 1]


def write_shard(
    shard_out: str | Path,
    species: str,
    shard: str,
    engine_name: str,
    random_weights: bool,
    chunks: Sequence[Chunk],
    rows: Sequence[dict],
    round_trips: Sequence[dict],
) -> None:
    """``shard.json``: a shard's prediction rows and raw round-trip rows, for :func:`run_gather`.

    Written atomically and last, so that it exists only when the whole shard is done; JSON
    gives every float back exactly, so the gathered tables are those of one job.
    """
    document = {
        "species": species,
        "shard": shard,
        "engine": engine_name,
        "random_weights": bool(random_weights),
        "chunks": len(chunks),
        "predictions": list(rows),
        "round_trips": list(round_trips),
    }
    with atomic_output(shard_out) as tmp:
        Path(tmp).write_text(json.dumps(document, indent=1, default=_plain))
    log.info(
        "wrote shard %s of %s: %d chunks, %d targets, engine %s",
        shard,
        species,
        len(chunks),
        sum(len(chunk.targets) for chunk in chunks),
        engine_name,
    )


def run_gather(
    context: SpeciesContext,
    *,
    shards: Sequence[str | Path],
    shard_labels: Sequence[str | Path],
    qc: Mapping[str, Any],
    labels_dir: str | Path,
    predictions_out: str | Path,
    qc_out: str | Path,
    coco_out: str | Path,
) -> None:
    """Join a species' shards into its label maps, ``predictions.tsv``, ``qc.tsv`` and COCO.

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    shards : sequence of str or Path
        Every shard's ``shard.json``, in shard order.
    shard_labels : sequence of str or Path
        Every shard's label folder, in the same order.
    qc : Mapping
        The config's ``qc`` section (``threshold``, ``flag_share``).
    labels_dir : str or Path
        Every specimen's label PNG: the shards' copied, the templates' own masks written.
    predictions_out : str or Path
        ``predictions.tsv``, the provenance of every label map.
    qc_out : str or Path
        ``qc.tsv``: the round trip per target, with ``qc_rank`` and ``flagged`` over the
        whole species (:func:`~traitrack.qc.summarise_round_trips`).
    coco_out : str or Path
        The species' masks as one COCO file.

    Raises
    ------
    ValueError
        If the shards were made by different engines.
    """
    species, _structures = context.species, context.structures
    documents = [json.loads(Path(path).read_text()) for path in shards]
    engines = {(d["engine"], d["random_weights"]) for d in documents}
    if len(engines) != 1:
        raise ValueError(f"the shards of {species} were made by different engines: {engines}")
    engine_name, random_weights = engines.pop()
    labels_dir = Path(labels_dir)
    labels_dir.mkdir(parents=True, exist_ok=True)
    rows, round_trips = [], []
    for document, folder in zip(documents, shard_labels):
        for row in document["predictions"]:
            name = f"{row['specimen']}.png"
            with atomic_output(labels_dir / name) as tmp:
                shutil.copyfile(Path(folder) / name, tmp)
        rows += document["predictions"]
        round_trips += document["round_trips"]

    write_species_outputs(
        context,
        rows=rows,
        round_trips=round_trips,
        qc=qc,
        engine_name=engine_name,
        random_weights=random_weights,
        labels_dir=labels_dir,
        predictions_out=predictions_out,
        qc_out=qc_out,
        coco_out=coco_out,
    )
    log.info("gathered %d shards, %d targets of %s", len(documents), len(rows), species)


def write_species_outputs(
    context: SpeciesContext,
    *,
    rows: Sequence[dict],
    round_trips: Sequence[dict],
    qc: Mapping[str, Any],
    engine_name: str,
    random_weights: bool,
    labels_dir: Path,
    predictions_out: str | Path,
    qc_out: str | Path,
    coco_out: str | Path,
    summarised: bool = False,
) -> None:
    """The templates' own masks, ``predictions.tsv``, ``qc.tsv`` and COCO of a species: what
    :func:`run_gather` and the self-training stages (:mod:`traitrack.stages.selftrain`,
    :mod:`traitrack.stages.pseudo`) write.

    Parameters
    ----------
    context : SpeciesContext
        The species: its templates' masks are written beside the targets' label maps.
    rows : sequence of dict
        The targets' prediction rows (their label maps already in ``labels_dir``).
    round_trips : sequence of dict
        Raw :func:`~traitrack.qc.round_trip` rows, or with ``summarised`` the rows of
        :func:`~traitrack.qc.summarise_round_trips`.
    qc : Mapping
        The config's ``qc`` section (``threshold``, ``flag_share``).
    engine_name : str
        The engine column of ``qc.tsv`` and the COCO file's info.
    random_weights : bool
        Whether the engine ran on random weights (tests).
    labels_dir : Path
        The label folder.
    predictions_out, qc_out, coco_out : str or Path
        The outputs.
    summarised : bool
        Whether ``round_trips`` are summarised already.
    """
    species, structures = context.species, context.structures
    store = context.store(reduced=False)
    rows = list(rows)
    for member in context.members:
        if member.is_template:
            labels = store.template_labels(member.specimen)  # the photograph is not read
            write_label_png(labels_dir / f"{member.specimen}.png", labels)
            rows.append(_template_row(member.specimen, structures))
    write_table(predictions_out, pd.DataFrame(rows))
    if summarised:
        summary = list(round_trips)
    else:
        summary = summarise_round_trips(round_trips, qc["threshold"], qc["flag_share"])
    qc_table = pd.DataFrame(summary) if summary else pd.DataFrame(columns=QC_COLUMNS)
    qc_table.insert(1, "engine", engine_name)
    write_table(qc_out, qc_table)
    write_coco(
        coco_out,
        (
            (
                Path(store.by_name[r["specimen"]].image).name,
                read_label_png(labels_dir / f"{r['specimen']}.png"),
                r,
            )
            for r in rows
        ),
        structures,
        info={"species": species, "engine": engine_name, "random_weights": random_weights},
    )
    log.info("wrote %d targets of %s (%s)", len(qc_table), species, engine_name)


def _plain(value):
    """JSON for numpy scalars (the engines' confidences): their exact Python value."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _prediction_row(
    prediction, engine: str, random_weights: bool, structures: StructureTable
) -> dict:
    row = {
        "specimen": prediction.specimen,
        "source": "prediction",
        "engine": engine,
        "random_weights": random_weights,
        "templates": ";".join(prediction.templates),
    }
    for structure in structures:
        row[f"confidence_{structure.name}"] = prediction.confidence.get(structure.name, np.nan)
        row[f"object_score_{structure.name}"] = prediction.object_score.get(structure.name, np.nan)
    return row


def _template_row(specimen: str, structures: StructureTable) -> dict:
    row = {
        "specimen": specimen,
        "source": "template",
        "engine": "manual",
        "random_weights": False,
        "templates": specimen,
    }
    for structure in structures:
        row[f"confidence_{structure.name}"] = 1.0
        row[f"object_score_{structure.name}"] = np.nan
    return row
