"""The data dictionary of the trait tables: every column's name, unit, definition and parts.

One table, :data:`COLUMNS`, says what each column of ``results/traits.csv`` (and of the
species' and specimens' CSVs) means; ``docs/traits.md`` and the report's data-dictionary page
are written from it (:func:`dictionary_table`, :func:`dictionary_markdown`), and a test checks
that it covers every column :mod:`traitrack.traits` and the ``measure`` stage write.

A length trait has two names: ``<trait>_mm`` where the specimen has a pixel size, else
``<trait>_px`` (a species with both has both, empty where they do not apply).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from traitrack.traits import COLOUR_TRAITS, LENGTH_TRAITS

BOTH = "blob, thin"


@dataclass(frozen=True)
class Column:
    """One column of the trait tables.

    Attributes
    ----------
    name : str
        The column's name; ``{U}`` stands for ``mm`` or ``px``.
    unit : str
        Its unit; ``{U}`` as in ``name``, ``-`` for text, flags and counts without a unit.
    definition : str
        What it means and how it is computed.
    kinds : str
        The kinds of part (``structures[].kind``) that have a value: ``blob``, ``thin`` or
        both; ``all rows`` for columns that do not depend on the part.
    """

    name: str
    unit: str
    definition: str
    kinds: str = BOTH


_LENGTH_DEFINITIONS = {
    "perimeter": "Boundary length of the part (scikit-image `perimeter`, 4-connectivity "
    "weighting), all its pieces together.",
    "length": "Extent of the part's pixels along its major inertia axis, counting whole "
    "pixels: an axis-aligned 10 x 4 rectangle has length 10.",
    "width": "Extent of the part's pixels across its major inertia axis (as `length`): the "
    "10 x 4 rectangle has width 4.",
    "feret_max": "Largest caliper (Feret) diameter: the longest distance between two points "
    "of the part's convex hull.",
    "major_axis": "Major axis length of the ellipse with the part's second moments.",
    "minor_axis": "Minor axis length of the ellipse with the part's second moments.",
    "centreline_length": "Length of the part's centre line: the longest path through each "
    "piece of its skeleton, summed over the pieces (all six legs together).",
    "centreline_longest": "The longest single piece's centre line (one leg, one antenna).",
}

COLUMNS: tuple[Column, ...] = (
    Column("specimen", "-", "The specimen's slug, from the sample sheet.", "all rows"),
    Column("species", "-", "The species' slug, from the sample sheet.", "all rows"),
    Column(
        "<traits.sheet_columns>",
        "-",
        "Each sample-sheet column named in config `traits.sheet_columns` (a catalogue number), "
        "copied as it is.",
        "all rows",
    ),
    Column(
        "source",
        "-",
        "`template` (measured on the hand-made mask of the sheet's `mask` column) or "
        "`prediction` (on the engine's labels).",
        "all rows",
    ),
    Column(
        "engine",
        "-",
        "The engine that predicted the labels (`registration`, `sam2`; `+pseudo`, "
        "`+student` for self-training stages); `manual` for template rows.",
        "all rows",
    ),
    Column(
        "random_weights",
        "TRUE/FALSE",
        "TRUE only for SAM 2 built with random weights (tests): such labels mean nothing.",
        "all rows",
    ),
    Column(
        "templates",
        "-",
        "The templates the prediction came from, separated by `;`; a template names itself.",
        "all rows",
    ),
    Column("structure", "-", "The part's name (config `structures[].name`).", "all rows"),
    Column(
        "kind", "-", "The part's kind, `blob` or `thin` (config `structures[].kind`).", "all rows"
    ),
    Column(
        "present",
        "TRUE/FALSE",
        "Whether the part has any pixel. An absent part keeps its row: area 0, "
        "`n_components` 0, every other trait empty.",
        "all rows",
    ),
    Column(
        "n_components",
        "count",
        "Pieces of the part's mask (8-connected).",
    ),
    Column("area_px", "px", "Pixel count of the part (kept when a pixel size is known)."),
    Column("area_mm2", "mm2", "Area of the part, area_px / px_per_mm^2 (with a pixel size)."),
    *(
        Column(
            f"{name}_{{U}}",
            "{U}",
            definition,
            "thin" if name.startswith("centreline") else BOTH,
        )
        for name, definition in ((n, _LENGTH_DEFINITIONS[n]) for n in LENGTH_TRAITS)
    ),
    Column("eccentricity", "0-1", "Eccentricity of the moment ellipse: 0 a circle, near 1 a line."),
    Column("solidity", "0-1", "Area / area of the convex hull: 1 for a convex part."),
    Column(
        "orientation_deg",
        "degree",
        "Angle of the major axis from the image's horizontal, counter-clockwise as the image is "
        "displayed, in (-90, 90].",
    ),
    Column("centroid_row_px", "px", "Row of the part's centroid in the image (0 at the top)."),
    Column("centroid_col_px", "px", "Column of the part's centroid in the image (0 at the left)."),
    Column("bbox_min_row_px", "px", "First row of the part's bounding box."),
    Column("bbox_min_col_px", "px", "First column of the part's bounding box."),
    Column("bbox_max_row_px", "px", "One past the last row of the bounding box (half-open)."),
    Column("bbox_max_col_px", "px", "One past the last column of the bounding box (half-open)."),
    *(
        Column(
            name,
            "0-255" if name.startswith("rgb") else "CIELab",
            f"{name.split('_')[1].capitalize()} of the part's pixels' "
            + (
                f"{name[-1].upper()} channel (sRGB, 0-255)."
                if name.startswith("rgb")
                else {"l": "L* (lightness, 0-100)", "a": "a* (green-red)", "b": "b* (blue-yellow)"}[
                    name[-1]
                ]
                + " (CIELab, D65, scikit-image rgb2lab)."
            ),
        )
        for name in COLOUR_TRAITS
    ),
    Column(
        "px_per_mm",
        "px/mm",
        "The pixel size used (`results/{species}/scale.tsv`): the sheet's `px_per_mm`, else "
        "the TIFF's metadata, else the scale bar read from the photograph when its reading is "
        "`ok`; empty: traits in px.",
        "all rows",
    ),
    Column(
        "calibration_method",
        "",
        "Where `px_per_mm` came from: `sheet`, `metadata`, `scalebar`, `tray_scalebar` (the "
        "bar of the tray the specimen was cut from), `species_median` "
        "(`calibrate.use_species_median`) or `none`.",
        "all rows",
    ),
    Column(
        "confidence",
        "0-1",
        "The engine's confidence in the part: the mean foreground probability inside the "
        "predicted mask; 1 for templates, empty where the part was not predicted.",
        "all rows",
    ),
)


def column_names(unit: str) -> list[str]:
    """The dictionary's column names with ``{U}`` replaced by ``unit`` (``mm`` or ``px``).

    Parameters
    ----------
    unit : str
        ``mm`` or ``px``.

    Returns
    -------
    list of str
        The names, in table order.
    """
    return [c.name.replace("{U}", unit) for c in COLUMNS]


def dictionary_table() -> pd.DataFrame:
    """The data dictionary as a table: column, unit, definition, kinds.

    Returns
    -------
    pandas.DataFrame
        One row per column; a length trait's row is named ``<trait>_mm / <trait>_px``, with unit
        ``mm, or px`` (px where the specimen has no pixel size).
    """
    rows = []
    for column in COLUMNS:
        if "{U}" in column.name:
            name = f"{column.name.replace('{U}', 'mm')} / {column.name.replace('{U}', 'px')}"
            unit = "mm, or px"
        else:
            name, unit = column.name, column.unit
        rows.append(
            {"column": name, "unit": unit, "definition": column.definition, "kinds": column.kinds}
        )
    return pd.DataFrame(rows)


def dictionary_markdown() -> str:
    """The data dictionary as a Markdown page (``docs/traits.md``).

    Returns
    -------
    str
        The page.
    """
    table = dictionary_table()
    lines = [
        "# Trait tables: data dictionary",
        "",
        "Every column of `results/traits.csv`, `results/traits/{species}.csv` and",
        "`results/traits/{species}/{specimen}.csv`, in their order: one row per specimen and",
        "declared part. Booleans are `TRUE`/`FALSE`, missing values empty. A length is `_mm`",
        "with a pixel size and `_px` without; a specimen's CSV has its species' columns. The",
        "report shows this table too. Written by `traitrack.dictionary` (edit it there).",
        "",
        "| column | unit | definition | parts |",
        "|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(f"| `{row.column}` | {row.unit} | {row.definition} | {row.kinds} |")
    return "\n".join(lines) + "\n"
