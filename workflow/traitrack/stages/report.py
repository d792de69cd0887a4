"""Stages measure, evaluate, overlays and tables: from label maps to what users open."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
from tqdm import tqdm

from ..io import read_image, read_label_png, read_mask, read_pixel_size, write_table
from ..metrics import evaluate_pair, evaluation_table, summarise_evaluation
from ..overlay import write_overlay
from ..samples import read_sample_sheet, specimens
from ..structures import StructureTable
from ..traits import measure_specimen

log = logging.getLogger(__name__)

PROVENANCE = ["specimen", "species", "source", "engine", "random_weights", "templates"]


def run_measure(
    samples: str | Path,
    species: str,
    labels_dir: str | Path,
    predictions: str | Path,
    config: Mapping[str, Any],
    per_specimen_dir: str | Path,
    species_table: str | Path,
) -> None:
    """Traits of every specimen of a species (templates measured on their own masks)."""
    sheet = read_sample_sheet(samples)
    structures = StructureTable.from_config(config)
    provenance = pd.read_csv(predictions, sep="\t").set_index("specimen")
    per_specimen_dir = Path(per_specimen_dir)
    per_specimen_dir.mkdir(parents=True, exist_ok=True)
    tables = []
    for specimen in tqdm(specimens(sheet, species), desc=f"measure {species}"):
        image = read_image(specimen.image)
        labels = read_label_png(Path(labels_dir) / f"{specimen.specimen}.png")
        px_per_mm = specimen.px_per_mm or read_pixel_size(specimen.image)
        traits = measure_specimen(labels, image, structures, px_per_mm=px_per_mm)
        source = provenance.loc[specimen.specimen]
        traits.insert(0, "specimen", specimen.specimen)
        traits.insert(1, "species", species)
        for position, column in enumerate(["source", "engine", "random_weights", "templates"], start=2):
            traits.insert(position, column, source[column])
        traits["px_per_mm"] = px_per_mm
        traits["confidence"] = [source.get(f"confidence_{name}") for name in traits["structure"]]
        write_table(per_specimen_dir / f"{specimen.specimen}.csv", traits)
        tables.append(traits)
    write_table(species_table, pd.concat(tables, ignore_index=True))


def run_evaluate(
    samples: str | Path,
    species: str,
    labels_dir: str | Path,
    config: Mapping[str, Any],
    out: str | Path,
) -> None:
    """IoU of every predicted target that has a ``gt_mask`` (templates are not scored)."""
    sheet = read_sample_sheet(samples)
    structures = StructureTable.from_config(config)
    rows = []
    for specimen in specimens(sheet, species):
        if specimen.gt_mask is None or specimen.is_template:
            continue
        predicted = read_label_png(Path(labels_dir) / f"{specimen.specimen}.png")
        truth = read_mask(specimen.gt_mask, structures, specimen.image, predicted.shape)
        rows.append(
            {
                "specimen": specimen.specimen,
                "species": species,
                "engine": config["engine"],
                **evaluate_pair(predicted, truth, structures),
            }
        )
    write_table(out, evaluation_table(rows))


def run_overlays(
    samples: str | Path,
    species: str,
    labels_dir: str | Path,
    config: Mapping[str, Any],
    out_dir: str | Path,
) -> None:
    """An overlay PNG (fixed colour per structure, with legend) for every specimen."""
    sheet = read_sample_sheet(samples)
    structures = StructureTable.from_config(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for specimen in tqdm(specimens(sheet, species), desc=f"overlays {species}"):
        labels = read_label_png(Path(labels_dir) / f"{specimen.specimen}.png")
        title = f"{specimen.specimen} ({'template' if specimen.is_template else 'predicted'})"
        write_overlay(out_dir / f"{specimen.specimen}.png", read_image(specimen.image), labels, structures, title=title)


def run_tables(
    trait_tables: Sequence[str | Path],
    evaluation_tables: Sequence[str | Path],
    traits_out: str | Path,
    evaluation_out: str | Path,
    summary_out: str | Path,
) -> None:
    """All species' traits in one table; evaluation per image, and summarised per species and overall."""
    write_table(traits_out, pd.concat([pd.read_csv(p) for p in trait_tables], ignore_index=True))
    frames = [pd.read_csv(p, sep="\t") for p in evaluation_tables]
    evaluation = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    write_table(evaluation_out, evaluation)
    summary = summarise_evaluation(evaluation, by=("engine", "species")) if len(evaluation) else evaluation
    write_table(summary_out, summary)
