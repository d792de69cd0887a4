"""Stage of ``propagate.smk``: run the engine over every chunk, then the QC round trip, in one job.

Forward pass and QC share one engine object so that an engine with an image-feature cache
(SAM 2) encodes every image once per job; every ``propagate`` call still starts from an empty
memory, so the round trip learns nothing from the forward pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from traitrack.engines import make_engine
from traitrack.engines.base import Engine, Frame
from traitrack.io import (
    read_image,
    read_label_png,
    read_mask,
    write_coco,
    write_label_png,
    write_table,
)
from traitrack.order import read_pseudovideo
from traitrack.qc import EVIDENCE, evidence_of, round_trip, summarise_round_trips
from traitrack.samples import Specimen, read_sample_sheet, specimens
from traitrack.structures import StructureTable

log = logging.getLogger(__name__)


class SpecimenStore:
    """Reads images and template masks on demand, keeping templates (reused by many chunks).

    Parameters
    ----------
    members : list of Specimen
        The specimens a job may read (targets and the templates they use).
    structures : StructureTable
        The part table, to read template masks.
    """

    def __init__(self, members: list[Specimen], structures: StructureTable):
        self.by_name = {m.specimen: m for m in members}
        self.structures = structures
        self._template_cache: dict[str, Frame] = {}

    def image(self, name: str) -> np.ndarray:
        """Read a specimen's image (not kept).

        Parameters
        ----------
        name : str
            The specimen's slug.

        Returns
        -------
        numpy.ndarray
            (H, W, 3) RGB uint8.
        """
        return read_image(self.by_name[name].image)

    def template(self, name: str) -> Frame:
        """Return a template's frame (image and label map), read on first use and kept.

        Parameters
        ----------
        name : str
            The template's slug.

        Returns
        -------
        Frame
            The template frame.
        """
        if name not in self._template_cache:
            specimen = self.by_name[name]
            image = read_image(specimen.image)
            labels = read_mask(specimen.mask, self.structures, specimen.image, image.shape[:2])
            self._template_cache[name] = Frame(name, image, labels)
        return self._template_cache[name]


def engine_for_job(
    engine_name: str,
    engine_options: Mapping[str, Any] | None,
    seed: int,
    finetuned_weights: str | Path = "",
    threads: int = 1,
) -> Engine:
    """Build the configured engine for one job, using the job's ``threads``.

    Parameters
    ----------
    engine_name : str
        ``registration`` or ``sam2``.
    engine_options : Mapping or None
        The engine's config section.
    seed : int
        The config's seed.
    finetuned_weights : str or Path
        The species' fine-tuned SAM 2 weights, or "" for none.
    threads : int
        The job's threads: the registration engine's thread count, torch's for SAM 2.

    Returns
    -------
    Engine
        The engine.

    Raises
    ------
    ValueError
        If fine-tuned weights are given to an engine other than ``sam2``.
    """
    options = dict(engine_options or {})
    if engine_name == "registration":
        options["threads"] = int(threads)
    if finetuned_weights:
        if engine_name != "sam2":
            raise ValueError(
                f"fine-tuned weights {finetuned_weights} need `engine: sam2`, not {engine_name!r}"
            )
        options["finetuned_weights"] = str(finetuned_weights)
    if engine_name == "sam2":
        import torch

        torch.set_num_threads(int(threads))
    return make_engine(engine_name, options, seed=seed)


def run_propagate(
    samples: str | Path,
    species: str,
    pseudovideo: str | Path,
    *,
    structures: StructureTable,
    engine_name: str,
    engine_options: Mapping[str, Any] | None,
    seed: int,
    qc: Mapping[str, Any],
    labels_dir: str | Path,
    predictions_out: str | Path,
    qc_out: str | Path,
    coco_out: str | Path,
    finetuned_weights: str | Path = "",
    threads: int = 1,
) -> None:
    """Segment every target of a species, score it by the round trip, export masks.

    Parameters
    ----------
    samples : str or Path
        The sample sheet.
    species : str
        The species slug.
    pseudovideo : str or Path
        ``pseudovideo.json`` (rule ``order``).
    structures : StructureTable
        The part table.
    engine_name : str
        The engine's name.
    engine_options : Mapping or None
        The engine's config section.
    seed : int
        The config's seed.
    qc : Mapping
        The config's ``qc`` section (``threshold``, ``flag_share``, ``max_templates``).
    labels_dir : str or Path
        Where every specimen's label PNG goes (templates get their own masks).
    predictions_out : str or Path
        ``predictions.tsv``, the provenance of every label map.
    qc_out : str or Path
        ``qc.tsv``, the round-trip QC per target (:func:`~traitrack.qc.summarise_round_trips`).
    coco_out : str or Path
        The species' masks as one COCO file.
    finetuned_weights : str or Path
        The species' fine-tuned SAM 2 weights (rule ``finetune``), or "".
    threads : int
        The job's threads: the registration engine's thread count, torch's for SAM 2.
    """
    sheet = read_sample_sheet(samples)
    engine = engine_for_job(engine_name, engine_options, seed, finetuned_weights, threads)
    _, chunks = read_pseudovideo(pseudovideo)
    store = SpecimenStore(specimens(sheet), structures)
    labels_dir = Path(labels_dir)
    labels_dir.mkdir(parents=True, exist_ok=True)
    random_weights = engine.random_weights

    rows, qc_rows = [], []
    for chunk in tqdm(chunks, desc=f"propagate {species}", unit="chunk"):
        templates = [store.template(t) for t in chunk.templates]
        targets = [
            Frame(t, store.image(t), templates=tuple(chunk.target_templates.get(t, ())))
            for t in chunk.targets
        ]
        predictions = engine.propagate(templates + targets, structures)
        for target, prediction in zip(targets, predictions):
            write_label_png(labels_dir / f"{target.specimen}.png", prediction.labels)
            rows.append(_prediction_row(prediction, engine.name, random_weights, structures))
            qc_templates = [store.template(t) for t in prediction.templates][: qc["max_templates"]]
            qc_rows += round_trip(
                engine,
                target,
                prediction.labels,
                qc_templates,
                structures,
                evidence_of(prediction),
            )

    for specimen in specimens(sheet, species):
        if specimen.is_template:
            frame = store.template(specimen.specimen)
            write_label_png(labels_dir / f"{specimen.specimen}.png", frame.labels)
            rows.append(_template_row(specimen.specimen, structures))

    write_table(predictions_out, pd.DataFrame(rows))
    qc_table = pd.DataFrame(summarise_round_trips(qc_rows, qc["threshold"], qc["flag_share"]))
    if qc_table.empty:
        qc_table = pd.DataFrame(
            columns=[
                "specimen",
                "templates",
                "round_trip_miou",
                *EVIDENCE,
                "qc_score",
                "qc_rank",
                "flagged",
            ]
        )
    qc_table.insert(1, "engine", engine.name)
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
        info={"species": species, "engine": engine.name, "random_weights": random_weights},
    )
    log.info("propagated %d targets of %s with %s", len(qc_table), species, engine.name)


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
