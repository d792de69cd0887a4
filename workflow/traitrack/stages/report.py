"""Stages of ``report.smk``: what users open and the report shows.

The rules ``overlays``, ``tables``, ``plots`` and ``report_tables`` each call one function here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from traitrack.io import read_label_png, write_table
from traitrack.metrics import summarise_evaluation
from traitrack.overlay import write_overlay
from traitrack.plots import write_distribution_plots, write_table_html
from traitrack.species_context import SpeciesContext
from traitrack.working_size import read_working_image, resize_labels

log = logging.getLogger(__name__)


def run_overlays(
    context: SpeciesContext,
    *,
    labels_dir: str | Path,
    out_dir: str | Path,
) -> None:
    """Write an overlay PNG (fixed colour per structure, with legend) for every specimen.

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows and part table (colours and legend names); a photograph
        larger than its ``working_megapixels`` is drawn reduced to it (its label map scaled
        to it, nearest neighbour).
    labels_dir : str or Path
        ``results/{species}/labels``.
    out_dir : str or Path
        Where ``<specimen>.png`` goes.
    """
    species, structures = context.species, context.structures
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for specimen in tqdm(context.members, desc=f"overlays {species}"):
        image = read_working_image(specimen.image, context.working_megapixels)
        labels = read_label_png(Path(labels_dir) / f"{specimen.specimen}.png")
        title = f"{specimen.specimen} ({'template' if specimen.is_template else 'predicted'})"
        write_overlay(
            out_dir / f"{specimen.specimen}.png",
            image,
            resize_labels(labels, image.shape[:2]),
            structures,
            title=title,
        )


def run_tables(
    trait_tables: Sequence[str | Path],
    evaluation_tables: Sequence[str | Path],
    traits_out: str | Path | None,
    evaluation_out: str | Path | None,
    summary_out: str | Path | None,
) -> None:
    """Pool every species' traits and evaluation; summarise the evaluation.

    Parameters
    ----------
    trait_tables : sequence of str or Path
        The species' trait CSVs.
    evaluation_tables : sequence of str or Path
        The species' evaluation TSVs (may be empty: no ``gt_mask`` anywhere).
    traits_out : str or Path
        All species' traits in one table.
    evaluation_out : str or Path
        The evaluation per image, all species.
    summary_out : str or Path
        The evaluation summarised per engine and species, plus each engine's overall row.

    An output given as None is not written (rule ``tables`` writes the traits, rule
    ``evaluation_tables`` the evaluation).
    """
    if traits_out is not None:
        traits = pd.concat([pd.read_csv(p) for p in trait_tables], ignore_index=True)
        write_table(traits_out, traits)
    if evaluation_out is None or summary_out is None:
        return
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
    """Plot trait distributions per species, one figure per structure, for the report.

    Parameters
    ----------
    traits : str or Path
        All species' traits (``results/traits.csv``).
    out_dir : str or Path
        Where ``<structure>.png`` goes.
    seed : int
        Seeds the jitter of the points, so the same table gives the same picture.
    """
    write_distribution_plots(traits, out_dir, seed=seed)


def run_report_tables(
    qc_tables: Sequence[str | Path],
    evaluation_summary: str | Path,
    qc_out: str | Path,
    evaluation_out: str | Path,
) -> None:
    """Write the QC and evaluation tables as HTML pages the report can show.

    Parameters
    ----------
    qc_tables : sequence of str or Path
        Every species' ``qc.tsv``.
    evaluation_summary : str or Path
        The evaluation summary TSV (:func:`run_tables`).
    qc_out, evaluation_out : str or Path
        The two HTML pages.
    """
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
