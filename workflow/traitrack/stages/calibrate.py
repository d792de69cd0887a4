"""Stage of ``calibrate.smk``: every specimen's pixel size and where it came from.

Order of trust: the sample sheet's ``px_per_mm``, then the image's TIFF calibration, then the
scale bar in the photograph (:mod:`traitrack.scalebar`); a sheet column ``scale_bar_mm`` gives
the bar's length so that only its pixel length is measured. A scale-bar reading that is not
``ok`` (``uncertain``, ``no_bar``, ``outlier`` against the species' median) leaves the
specimen in pixels (``method`` ``none``) unless ``calibrate.use_species_median`` is set, then
it takes the median of the species' ``ok`` pixel sizes (``method`` ``species_median``).
A tray's crop (a row with ``tray``) takes the bar its tray's split found, read once on the tray
photograph for all of its crops (``method`` ``tray_scalebar``, :mod:`traitrack.scalebar.tray`);
``scale_image`` names the photograph every bar was read on, its coordinates in its pixels.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from traitrack.io import atomic_output, read_image, read_pixel_size, write_table
from traitrack.species_context import SpeciesContext

log = logging.getLogger(__name__)

METHODS = ("sheet", "metadata", "scalebar", "tray_scalebar", "species_median", "none")
BAR_METHODS = ("scalebar", "tray_scalebar")
COLUMNS = [
    "specimen", "species", "px_per_mm", "method", "status", "confidence", "px_per_mm_bar",
    "bar_left_x_px", "bar_right_x_px", "bar_y_px", "bar_length_px", "bar_thickness_px",
    "bar_x_px", "bar_top_y_px", "bar_bottom_y_px", "bar_orientation", "bar_polarity",
    "text", "value", "unit", "value_mm", "note",
    "text_left_px", "text_top_px", "text_right_px", "text_bottom_px", "scale_image",
]  # fmt: skip


def run_calibrate(
    context: SpeciesContext,
    *,
    scale_table: str | Path,
    overlay_dir: str | Path,
    options: dict,
    tray_dirs: list[str] | None = None,
) -> pd.DataFrame:
    """Write ``results/{species}/scale.tsv`` and an overlay per scale-bar reading.

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    scale_table : str or Path
        The table to write, one row per specimen (columns :data:`COLUMNS`).
    overlay_dir : str or Path
        Where ``{specimen}.png`` goes for every specimen whose scale bar was looked for.
    options : dict
        The config's ``calibrate`` section.
    tray_dirs : list of str, optional
        The split folders of the species' trays (``results/trays/{tray}``); a crop of a tray
        not among them is read on its own.

    Returns
    -------
    pandas.DataFrame
        The table written.
    """
    species = context.species
    from traitrack.scalebar.calibrate import ScaleReading, flag_outliers, read_scale
    from traitrack.scalebar.overlay import scale_overlay
    from traitrack.scalebar.tray import TrayScales

    overlay_dir = Path(overlay_dir)
    overlay_dir.mkdir(parents=True, exist_ok=True)
    rows, images = [], {}
    trays = TrayScales({Path(d).name: d for d in tray_dirs or []}, read_image, options)
    for specimen in tqdm(context.members, desc=f"calibrate {species}"):
        row = {"specimen": specimen.specimen, "species": species}
        if specimen.px_per_mm:
            row |= {"px_per_mm": specimen.px_per_mm, "method": "sheet", "status": "ok"}
        elif (metadata := read_pixel_size(specimen.image)) is not None:
            row |= {"px_per_mm": metadata, "method": "metadata", "status": "ok", "confidence": 1.0}
        elif options["scale_bar"] and trays.has_bar(
            tray := _tray(context.sheet, specimen.specimen)
        ):
            image, path, reading = trays.reading(tray, specimen.scale_bar_mm)
            images[specimen.specimen] = (image, reading)
            row |= reading.row() | {"px_per_mm_bar": reading.px_per_mm}
            row |= {"method": "tray_scalebar", "scale_image": path}
        elif options["scale_bar"]:
            image = read_image(specimen.image)
            reading = read_scale(
                image,
                bar_mm=specimen.scale_bar_mm,
                min_confidence=options["min_confidence"],
                candidates=options["candidates"],
            )
            images[specimen.specimen] = (image, reading)
            row |= reading.row() | {"px_per_mm_bar": reading.px_per_mm, "method": "scalebar"}
            row["scale_image"] = specimen.image
        else:
            row |= {"method": "none", "status": "no_bar", "note": "scale_bar is off"}
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    text_columns = ("method", "status", "bar_orientation", "bar_polarity", "text", "unit", "note")
    for column in (*text_columns, "scale_image"):
        table[column] = table[column].astype(object).where(table[column].notna(), "")
    table["confidence"] = table.confidence.where(table.method.ne("sheet"), 1.0)
    table = _judge(table, options, flag_outliers)
    for specimen, (image, reading) in images.items():
        row = table.loc[table.specimen == specimen].iloc[0]
        reading = ScaleReading(**{**vars(reading), "status": row.status, "note": row.note})
        with atomic_output(overlay_dir / f"{specimen}.png") as temporary:
            Image.fromarray(scale_overlay(image, reading)).save(temporary)
    for row in table[table.method.isin(["none", "species_median"])].itertuples():
        log.warning("%s: scale bar %s (%s): %s", row.specimen, row.status, row.note, row.method)
    write_table(scale_table, table)
    return table


def _judge(table: pd.DataFrame, options: dict, flag_outliers) -> pd.DataFrame:
    """The species check and which pixel size each scale-bar specimen keeps."""
    table = table.copy()
    judged = flag_outliers(
        table.px_per_mm.astype(float).to_numpy(),
        table.status.to_numpy(),
        tolerance=options["outlier_tolerance"],
        min_ok=options["min_ok_for_check"],
    )
    bar = table.method.isin(BAR_METHODS)
    # the sheet's and the metadata's pixel sizes count for the median but are kept as given
    outlier = bar & (judged == "outlier")
    table.loc[outlier, "status"] = "outlier"
    table.loc[outlier, "note"] = "px_per_mm far from the species' median"
    kept = table.status.eq("ok")
    table.loc[bar & kept, "px_per_mm"] = table.loc[bar & kept, "px_per_mm_bar"]
    median = float(np.median(table.loc[kept, "px_per_mm"])) if kept.any() else math.nan
    unusable = bar & ~kept
    if options["use_species_median"] and math.isfinite(median):
        table.loc[unusable, "px_per_mm"] = median
        table.loc[unusable, "method"] = "species_median"
    else:
        table.loc[unusable, "px_per_mm"] = math.nan
        table.loc[unusable, "method"] = "none"
    return table


def _tray(sheet: pd.DataFrame, specimen: str) -> str:
    """The tray a specimen was cut from ("" for a photograph of its own)."""
    return str(sheet.at[specimen, "tray"] or "") if "tray" in sheet.columns else ""


def read_scale_table(path: str | Path) -> dict[str, tuple[float | None, str]]:
    """``specimen -> (px_per_mm or None, method)`` from a ``scale.tsv``."""
    table = pd.read_csv(path, sep="\t", dtype={"specimen": str})
    return {
        row.specimen: (float(row.px_per_mm) if pd.notna(row.px_per_mm) else None, row.method)
        for row in table.itertuples()
    }
