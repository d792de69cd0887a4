"""The tray sheet (``trays.tsv``), the rows it generates for the sample sheet, traits per tray.

The tray sheet has one row per photograph: ``tray`` (slug), ``image``, optional ``species``
(all its specimens), ``n_expected``, ``px_per_mm`` and ``instances`` (a corrected instance
PNG or COCO file that replaces the split). It is separate from the sample sheet because a
tray's specimens are not known before the split: the sample sheet stays one row per specimen,
known when Snakemake plans, and the split's generated rows join it on the next run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from traitrack.io.common import InputError
from traitrack.samples import SLUG
from traitrack.trays.upright import crop_to_tray

TRAY_COLUMNS = ("species", "n_expected", "px_per_mm", "instances")
GENERATED = ["specimen", "species", "image", "px_per_mm", "tray", "tray_number"]
BOX = ["box_x0_px", "box_y0_px", "box_x1_px", "box_y1_px"]
FRAME = ["angle_deg", "origin_x_px", "origin_y_px"]


def read_tray_sheet(path: str | Path) -> pd.DataFrame:
    """Read and check ``trays.tsv``; indexed by tray, every column a stripped string.

    Raises
    ------
    InputError
        Naming the file and the rows, for a missing file or column, bad or repeated slugs, or
        a ``n_expected`` that is not a positive integer.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: tray sheet not found; set `trays:` in the config to its path")
    sheet = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    sheet.columns = [c.strip() for c in sheet.columns]
    missing = [c for c in ("tray", "image") if c not in sheet.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {missing}; columns: tray, image, optional "
            f"{list(TRAY_COLUMNS)}"
        )
    for column in TRAY_COLUMNS:
        if column not in sheet.columns:
            sheet[column] = ""
    sheet = sheet.apply(lambda col: col.str.strip())
    bad = [t for t in sheet["tray"] if not SLUG.match(t)]
    if bad or sheet["tray"].duplicated().any():
        raise InputError(f"{path}: `tray` must be unique slugs; bad or repeated: {bad[:10]}")
    bad = [t for t, n in zip(sheet["tray"], sheet["n_expected"]) if n and not n.isdigit()]
    if bad:
        raise InputError(f"{path}: `n_expected` must be a positive integer; bad rows: {bad}")
    return sheet.set_index("tray", drop=False)


def generated_rows(tray: pd.Series, crops: list[Path], frames) -> pd.DataFrame:
    """The sample-sheet rows of a tray's crops: specimen ``{tray}_{k:03d}``, tray, box, turn.

    A crop keeps the tray's pixel size (crops are not rescaled) and its species; a tray
    without a species gives rows with an empty species, which join the workflow once a
    species is given (in the tray sheet, or per crop in the ``tray_species`` sheet). The box
    (``box_*_px``, x1 and y1 exclusive) is the part of the tray photograph the crop covers, in
    its pixels; ``angle_deg`` is the counter-clockwise turn from the tray to the crop (0 when
    ``split.crop_rotation`` is ``none``) and ``origin_*_px`` the tray position of the crop's
    pixel (0, 0), which with the turn map crop positions to the tray
    (:func:`traitrack.trays.upright.crop_to_tray`).
    """
    rows = []
    for k, (path, frame) in enumerate(zip(crops, frames, strict=True), start=1):
        rows.append(
            [
                f"{tray['tray']}_{k:03d}",
                tray["species"],
                str(path),
                tray["px_per_mm"],
                tray["tray"],
                k,
                *frame.box,
                round(frame.angle_deg, 3),
                round(frame.origin[0], 3),
                round(frame.origin[1], 3),
            ]
        )
    return pd.DataFrame(rows, columns=GENERATED + BOX + FRAME)


def traits_by_tray(traits: pd.DataFrame, generated: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Trait rows of the trays' specimens, each with its tray, number, box and turn, per tray.

    The trait table's positions are the crop's (as for any photograph); where it has
    centroids, ``tray_centroid_row_px`` and ``tray_centroid_col_px`` give them in the tray.
    """
    columns = ["specimen", "tray", "tray_number", *BOX, *[c for c in FRAME if c in generated]]
    joined = generated[columns].merge(traits, on="specimen")
    if {"centroid_row_px", "centroid_col_px", *FRAME} <= set(joined.columns) and len(joined):
        numbers = joined[["centroid_col_px", "centroid_row_px", *FRAME]].astype(float)
        tray_points = [
            crop_to_tray(x, y, angle_deg=angle, origin=(x0, y0))
            for x, y, angle, x0, y0 in numbers.itertuples(index=False)
        ]
        joined["tray_centroid_col_px"] = [float(x) for x, _ in tray_points]
        joined["tray_centroid_row_px"] = [float(y) for _, y in tray_points]
    return {tray: rows.reset_index(drop=True) for tray, rows in joined.groupby("tray", sort=True)}
