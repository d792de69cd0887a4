"""Stage of ``trays.smk``: split trays into specimens, the tray table, traits per tray."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
from PIL import Image

from traitrack.io import read_image, write_table
from traitrack.io.common import InputError, atomic_output
from traitrack.samples import SLUG, read_sample_sheet
from traitrack.trays import SplitOptions, TraySplit, split_tray
from traitrack.trays import files as tray_files
from traitrack.trays.sheet import generated_rows, read_tray_sheet, traits_by_tray
from traitrack.trays.upright import crop_frames

log = logging.getLogger(__name__)


def run_split(trays: str | Path, tray: str, out_dir: str | Path, options: dict) -> None:
    """Split one tray and write its files (``traitrack.trays.files``), ``tray.json`` (count,
    status, excluded objects) and ``samples.tsv`` (its crops' generated sample rows).

    A tray whose sheet row names ``instances`` (a corrected PNG or COCO file) takes those
    instances instead of the split; the label, scale bar and line boxes are then the split's.
    """
    row = read_tray_sheet(trays).loc[tray]
    out_dir = Path(out_dir)
    image = read_image(row["image"])[..., :3]
    n_expected = int(row["n_expected"]) if row["n_expected"] else None
    split_options = SplitOptions.from_config(options)
    result = split_tray(image, n_expected=n_expected, options=split_options)
    source = "split"
    if row["instances"]:
        labels = tray_files.read_instances(row["instances"], image.shape[:2])
        result = TraySplit(labels, result.excluded, n_expected, "ok", result.working_scale)
        if n_expected and result.n_found != n_expected:
            result.status = "count_mismatch"
        source = "corrected"
    log.info("tray %s: %d specimens (%s), %s", tray, result.n_found, source, result.status)
    tray_files.write_instances_png(out_dir / "instances.png", result.labels)
    tray_files.write_coco(
        out_dir / "instances.coco.json", result.labels, result.excluded, Path(row["image"]).name
    )
    with atomic_output(out_dir / "overlay.png") as temporary:
        picture = tray_files.overlay(image, result.labels, result.excluded)
        Image.fromarray(picture).save(temporary, format="PNG")
    frames = crop_frames(
        result.labels,
        padding=options.get("crop_padding", 0.05),
        rotation_mode=options.get("crop_rotation", "upright"),
    )
    for stale in (out_dir / "crops").glob(f"{tray}_*.png"):  # a rerun by hand, fewer specimens
        stale.unlink()
    crops = tray_files.write_crops(
        out_dir / "crops",
        tray,
        image,
        result.labels,
        frames,
        background=options.get("crop_background", "contrast"),
    )
    write_table(out_dir / "samples.tsv", generated_rows(row, crops, frames))
    summary = {
        "tray": tray,
        "image": row["image"],
        "instances_source": source,
        "n_found": result.n_found,
        "n_expected": n_expected,
        "status": result.status,
        "excluded": [{"kind": e.kind, "box_px": list(e.box)} for e in result.excluded],
    }
    with atomic_output(out_dir / "tray.json") as temporary:
        Path(temporary).write_text(json.dumps(summary, indent=1))


def run_tray_table(
    samples: str | Path,
    tray_dirs: list[str],
    table: str | Path,
    merged: str | Path,
    *,
    crops_table: str | Path | None = None,
    species_sheet: str | Path | None = None,
) -> None:
    """``results/trays/trays.tsv`` (one row per tray) and the sample sheet with the crops.

    The merged sheet is the user's sample sheet followed by every crop with a species: its
    tray's, or the one ``species_sheet`` (``tray_species:``, columns specimen and species)
    gives it; the workflow reads it in place of ``samples:`` once it exists. ``crops_table``
    lists every crop, with or without a species: the sheet to fill.
    """
    summaries, generated = [], []
    for folder in map(Path, tray_dirs):
        summary = json.loads((folder / "tray.json").read_text())
        excluded = summary.pop("excluded")
        for kind in ("label", "scale_bar", "line"):
            boxes = [e["box_px"] for e in excluded if e["kind"] == kind]
            summary[f"{kind}_boxes_px"] = json.dumps(boxes)
        summaries.append(summary)
        generated.append(
            pd.read_csv(folder / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
        )
    write_table(table, pd.DataFrame(summaries))
    sheet = read_sample_sheet(samples).reset_index(drop=True)
    crops = pd.concat(generated, ignore_index=True) if generated else pd.DataFrame()
    if species_sheet and len(crops):
        crops["species"] = assign_species(crops, species_sheet)
    if crops_table:
        write_table(crops_table, crops)
    if len(crops):
        crops = crops[crops["species"] != ""]
    write_table(merged, pd.concat([sheet, crops], ignore_index=True).fillna(""))


def assign_species(crops: pd.DataFrame, species_sheet: str | Path) -> pd.Series:
    """The crops' species, those named in ``species_sheet`` replacing their tray's.

    Raises
    ------
    InputError
        Naming the file, for a missing column, a specimen that is no crop, or a bad slug.
    """
    path = Path(species_sheet)
    given = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if not {"specimen", "species"} <= set(given.columns):
        raise InputError(f"{path}: needs the columns specimen and species (a crop per row)")
    unknown = sorted(set(given["specimen"]) - set(crops["specimen"]))
    if unknown:
        raise InputError(f"{path}: no crop is called {unknown[:10]}; see results/trays/crops.tsv")
    given = given[given["species"].str.strip() != ""]
    bad = [v for v in given["species"] if not SLUG.match(v.strip())]
    if bad:
        raise InputError(f"{path}: `species` values must be slugs: {bad[:10]}")
    lookup = dict(zip(given["specimen"], given["species"].str.strip(), strict=True))
    return crops["specimen"].map(lookup).fillna(crops["species"])


def run_tray_traits(traits: str | Path, merged: str | Path, out_dir: str | Path) -> None:
    """``results/trays/{tray}/traits.csv``: the tray's specimens' traits with tray and box."""
    table = pd.read_csv(traits)
    sheet = pd.read_csv(merged, sep="\t", dtype=str, keep_default_na=False)
    sheet = sheet[sheet.get("tray", pd.Series(dtype=str)).fillna("") != ""]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for tray, rows in traits_by_tray(table, sheet).items():
        with atomic_output(out_dir / f"{tray}.csv") as temporary:
            rows.to_csv(temporary, index=False)
