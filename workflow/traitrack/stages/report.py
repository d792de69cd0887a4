"""Stages of ``report.smk`` (overlays, tables, plots, report_tables): what users open and the report shows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from traitrack.io import read_image, read_label_png, write_table
from traitrack.metrics import summarise_evaluation
from traitrack.overlay import write_overlay
from traitrack.plots import write_distribution_plots, write_table_html
from traitrack.samples import read_sample_sheet, specimens
from traitrack.structures import StructureTable

log = logging.getLogger(__name__)


def run_overlays(
    samples: str | Path,
    species: str,
    labels_dir: str | Path,
    structures: StructureTable,
    out_dir: str | Path,
) -> None:
    """An overlay PNG (fixed colour per structure, with legend) for every specimen."""
    sheet = read_sample_sheet(samples)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for specimen in tqdm(specimens(sheet, species), desc=f"overlays {species}"):
        labels = read_label_png(Path(labels_dir) / f"{specimen.specimen}.png")
        title = f"{specimen.specimen} ({'template' if specimen.is_template else 'predicted'})"
        write_overlay(
            out_dir / f"{specimen.specimen}.png",
            read_image(specimen.image),
            labels,
            structures,
            title=title,
        )


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
    summary = (
        summarise_evaluation(evaluation, by=("engine", "species"))
        if len(evaluation)
        else evaluation
    )
    write_table(summary_out, summary)


def run_plots(traits: str | Path, out_dir: str | Path, seed: int) -> None:
    """Trait distributions per species, one figure per structure, for the report."""
    write_distribution_plots(traits, out_dir, seed=seed)


def run_report_tables(
    qc_tables: Sequence[str | Path],
    evaluation_summary: str | Path,
    qc_out: str | Path,
    evaluation_out: str | Path,
) -> None:
    """The QC and evaluation tables as HTML pages the report can show."""
    write_table_html(
        qc_tables,
        qc_out,
        "QC round trip",
        note=(
            "Each species' lowest qc.flag_share by qc_rank (and any below qc.threshold) are "
            "flagged: check them first."
        ),
    )
    write_table_html(
        [evaluation_summary],
        evaluation_out,
        "Evaluation against ground truth (gt_mask)",
        note="Mean IoU per species and structure; 'all' pools every species.",
    )
