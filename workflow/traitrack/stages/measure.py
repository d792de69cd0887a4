"""Stage of ``measure.smk``: the trait tables of a species."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from traitrack.io import read_image, read_label_png, read_pixel_size, write_table
from traitrack.samples import read_sample_sheet, specimens
from traitrack.structures import StructureTable
from traitrack.traits import measure_specimen

log = logging.getLogger(__name__)

PROVENANCE = ["specimen", "species", "source", "engine", "random_weights", "templates"]


def run_measure(
    samples: str | Path,
    species: str,
    labels_dir: str | Path,
    predictions: str | Path,
    structures: StructureTable,
    per_specimen_dir: str | Path,
    species_table: str | Path,
) -> None:
    """Traits of every specimen of a species (templates measured on their own masks).

    Parameters
    ----------
    samples : the sample sheet (``px_per_mm`` per row, else the image's TIFF metadata).
    species : the species slug.
    labels_dir : ``results/{species}/labels``.
    predictions : ``predictions.tsv``, the provenance of every label map.
    structures : the part table.
    per_specimen_dir, species_table : where the per-specimen CSVs and the species' CSV go.
    """
    sheet = read_sample_sheet(samples)
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
        for position, column in enumerate(PROVENANCE[2:], start=2):
            traits.insert(position, column, source[column])
        traits["px_per_mm"] = px_per_mm
        traits["confidence"] = [source.get(f"confidence_{name}") for name in traits["structure"]]
        write_table(per_specimen_dir / f"{specimen.specimen}.csv", traits)
        tables.append(traits)
    write_table(species_table, pd.concat(tables, ignore_index=True))
