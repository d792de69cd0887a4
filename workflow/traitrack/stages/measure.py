"""Stage of ``measure.smk``: the trait tables of a species."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from traitrack.io import InputError, read_label_png, read_pixel_size, write_table
from traitrack.samples import Specimen
from traitrack.species_context import SpeciesContext
from traitrack.stages.calibrate import read_scale_table
from traitrack.traits import measure_specimen
from traitrack.working_size import read_working_image

log = logging.getLogger(__name__)

PROVENANCE = ["specimen", "species", "source", "engine", "random_weights", "templates"]


def run_measure(
    context: SpeciesContext,
    *,
    labels_dir: str | Path,
    predictions: str | Path,
    per_specimen_dir: str | Path,
    species_table: str | Path,
    sheet_columns: Sequence[str] = (),
    scale_table: str | Path | None = None,
    colour_megapixels: float = 0,
) -> None:
    """Measure the traits of every specimen of a species (templates on their own masks).

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    labels_dir : str or Path
        ``results/{species}/labels``.
    predictions : str or Path
        ``predictions.tsv``, the provenance of every label map.
    per_specimen_dir : str or Path
        Where the per-specimen CSVs go.
    species_table : str or Path
        The species' CSV, all its specimens' rows.
    sheet_columns : sequence of str
        Further sample-sheet columns (a catalogue number, a collection) copied into every row
        after ``species`` (config ``traits.sheet_columns``).
    scale_table : str or Path, optional
        ``results/{species}/scale.tsv`` (``calibrate``): each specimen's pixel size and its
        ``calibration_method``; without it, the sheet's ``px_per_mm`` or TIFF metadata.
    colour_megapixels : float
        ``traits.colour_megapixels``: a larger photograph is read reduced to this size for the
        colour traits (every other trait is measured on the full-size label map); 0: full size.

    Every per-specimen CSV has the species table's columns, in its order: a specimen measured
    in px in a species measured in mm has empty ``_mm`` columns, not other ones.

    Raises
    ------
    InputError
        If a ``sheet_columns`` entry is not a column of the sample sheet.
    """
    species, structures = context.species, context.structures
    scales = read_scale_table(scale_table) if scale_table else {}
    sheet = context.sheet
    missing = [c for c in sheet_columns if c not in sheet.columns]
    if missing:
        raise InputError(
            f"{context.sheet_path}: config traits.sheet_columns names {missing}, which the sample sheet "
            f"lacks; add the column(s) to the sheet or remove them from traits.sheet_columns"
        )
    provenance = pd.read_csv(predictions, sep="\t").set_index("specimen")
    per_specimen_dir = Path(per_specimen_dir)
    per_specimen_dir.mkdir(parents=True, exist_ok=True)
    tables = []
    for specimen in tqdm(context.members, desc=f"measure {species}"):
        # the label map at full size, the photograph only as large as its colours need
        image = read_working_image(specimen.image, colour_megapixels)
        labels = read_label_png(Path(labels_dir) / f"{specimen.specimen}.png")
        if specimen.specimen in scales:
            px_per_mm, method = scales[specimen.specimen]
        else:
            px_per_mm, method = _unjudged_pixel_size(specimen)
        traits = measure_specimen(
            labels, image, structures, px_per_mm=px_per_mm, reduced_image=True
        )
        source = provenance.loc[specimen.specimen]
        traits.insert(0, "specimen", specimen.specimen)
        traits.insert(1, "species", species)
        for position, column in enumerate(sheet_columns, start=2):
            traits.insert(position, column, sheet.loc[specimen.specimen, column])
        for position, column in enumerate(PROVENANCE[2:], start=2 + len(sheet_columns)):
            traits.insert(position, column, source[column])
        traits["px_per_mm"] = px_per_mm
        traits["calibration_method"] = method
        traits["confidence"] = [source.get(f"confidence_{name}") for name in traits["structure"]]
        tables.append(traits)
    table = pd.concat(tables, ignore_index=True)
    for traits in tables:  # after the species' table: its columns are the union of all
        write_table(
            per_specimen_dir / f"{traits['specimen'].iloc[0]}.csv",
            traits.reindex(columns=table.columns),
        )
    write_table(species_table, table)


def _unjudged_pixel_size(specimen: Specimen) -> tuple[float | None, str]:
    """The sheet's ``px_per_mm``, else TIFF metadata, else none (no ``scale.tsv`` given)."""
    if specimen.px_per_mm:
        return specimen.px_per_mm, "sheet"
    metadata = read_pixel_size(specimen.image)
    return (metadata, "metadata") if metadata is not None else (None, "none")
