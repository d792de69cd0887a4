"""Figures and tables for the Snakemake report: trait distributions per species and structure.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot), so nothing depends
on a global backend or state, and the same table always gives the same picture (the jitter of
the points uses a fixed seed).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from traitrack.io import InputError

# Traits worth a panel, in this order; a trait is shown when the table has a value for it.
DISTRIBUTION_TRAITS = ("area_mm2", "length_mm", "width_mm", "centreline_length_mm")
# Used instead when no specimen has a pixel size (the mm columns are then empty).
PIXEL_TRAITS = ("area_px",)
REQUIRED_COLUMNS = ("specimen", "species", "structure", "present")


def distribution_traits(table: pd.DataFrame) -> list[str]:
    """Return the trait columns of ``table`` worth a panel: mm ones with a value, else px.

    Parameters
    ----------
    table : pandas.DataFrame
        The pooled trait table.

    Returns
    -------
    list of str
        The :data:`DISTRIBUTION_TRAITS` that hold at least one finite value, else those of
        :data:`PIXEL_TRAITS`; empty if none does.
    """
    for candidates in (DISTRIBUTION_TRAITS, PIXEL_TRAITS):
        found = [
            column
            for column in candidates
            if column in table.columns
            and np.isfinite(pd.to_numeric(table[column], errors="coerce")).any()
        ]
        if found:
            return found
    return []


def structure_traits(table: pd.DataFrame, structure: str, traits: Sequence[str]) -> list[str]:
    """Return the ``traits`` that hold a value for ``structure``: its figure's panels.

    A blob part has no centre line, so its figure gets no empty ``centreline_length`` panel.

    Parameters
    ----------
    table : pandas.DataFrame
        The pooled trait table.
    structure : str
        The structure.
    traits : sequence of str
        The table's panels (:func:`distribution_traits`).

    Returns
    -------
    list of str
        Those of ``traits`` with a finite value among the structure's present rows; all of
        ``traits`` when none has (the figure then says so by its empty panels).
    """
    rows = present_parts(table[table["structure"] == structure])
    found = [
        trait
        for trait in traits
        if trait in rows.columns and np.isfinite(pd.to_numeric(rows[trait], errors="coerce")).any()
    ]
    return found or list(traits)


def present_parts(table: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of parts that were found (``present``), whatever the CSV reader made of it.

    Parameters
    ----------
    table : pandas.DataFrame
        A trait table; ``present`` may be bool or the strings ``True``/``1``.

    Returns
    -------
    pandas.DataFrame
        The rows with a present part.
    """
    present = table["present"].astype(str).str.lower().isin(["true", "1"])
    return table[present]


def distribution_figure(
    table: pd.DataFrame, structure: str, traits: Sequence[str], seed: int = 0
) -> Figure:
    """One panel per trait: a box per species with every specimen drawn as a jittered point.

    Templates (manual masks) are drawn as open circles and predictions as dots, so a reader
    sees at once whether the predicted parts sit in the range of the hand-made ones.

    Parameters
    ----------
    table : pandas.DataFrame
        The pooled trait table.
    structure : str
        The structure to plot.
    traits : sequence of str
        The trait columns, one panel each (:func:`distribution_traits`).
    seed : int
        Seeds the jitter of the points.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, not attached to pyplot.
    """
    rows = present_parts(table[table["structure"] == structure])
    species = sorted(rows["species"].unique())
    figure = Figure(figsize=(3.2 * max(len(traits), 1), 0.6 * max(len(species), 1) + 1.6))
    axes = figure.subplots(1, max(len(traits), 1), squeeze=False)[0]
    rng = np.random.default_rng(seed)
    for axis, trait in zip(axes, traits):
        values = [
            pd.to_numeric(rows.loc[rows["species"] == s, trait], errors="coerce") for s in species
        ]
        finite = [v[np.isfinite(v)] for v in values]
        if any(len(v) for v in finite):
            axis.boxplot(
                [v.to_numpy() for v in finite],
                orientation="horizontal",
                tick_labels=species,
                showfliers=False,
                widths=0.6,
            )
        for position, column in enumerate(finite, start=1):
            source = (
                rows.loc[column.index, "source"]
                if "source" in rows
                else pd.Series("", column.index)
            )
            jitter = position + rng.uniform(-0.15, 0.15, len(column))
            manual = (source == "template").to_numpy()
            axis.scatter(column[~manual], jitter[~manual], s=10, color="tab:blue", zorder=3)
            axis.scatter(
                column[manual],
                jitter[manual],
                s=18,
                facecolors="none",
                edgecolors="tab:red",
                zorder=3,
            )
        axis.set_yticks(range(1, len(species) + 1), species)
        axis.set_xlabel(trait)
        axis.grid(axis="x", alpha=0.3)
    figure.suptitle(f"{structure}: blue dots predicted, red circles templates")
    figure.tight_layout()
    return figure


def write_distribution_plots(
    traits_csv: str | Path, out_dir: str | Path, seed: int = 0
) -> list[Path]:
    """Write one distribution figure per structure as ``<structure>.png`` in ``out_dir``.

    Parameters
    ----------
    traits_csv : str or Path
        The pooled trait table (``results/traits.csv``).
    out_dir : str or Path
        The folder; created if missing.
    seed : int
        Seeds the jitter of the points.

    Returns
    -------
    list of Path
        The PNGs written.

    Raises
    ------
    InputError
        If the trait table lacks the columns the plots need.
    """
    table = pd.read_csv(traits_csv)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"{traits_csv}: trait table without column(s) {missing}; it should come from the "
            "`tables` rule (results/traits.csv)"
        )
    traits = distribution_traits(table)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for structure in pd.unique(table["structure"]):
        panels = structure_traits(table, structure, traits)
        figure = distribution_figure(table, structure, panels, seed=seed)
        path = out_dir / f"{structure}.png"
        figure.savefig(path, dpi=100)
        written.append(path)
    return written


def table_html(table: pd.DataFrame, title: str, note: str = "") -> str:
    """Render a table as a small standalone HTML page.

    The Snakemake report shows HTML pages, but offers a TSV only as a download.

    Parameters
    ----------
    table : pandas.DataFrame
        The table; floats are shown with three decimals, NaN as blank.
    title : str
        The page's title and heading.
    note : str
        A paragraph under the heading (none if empty).

    Returns
    -------
    str
        The HTML document.
    """
    body = table.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="", border=0)
    style = (
        "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} "
        "th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right} th{background:#f4f4f4}"
    )
    paragraph = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h3>{html.escape(title)}</h3>{paragraph}{body}</body></html>"
    )


def write_table_html(
    tables: Sequence[str | Path], out: str | Path, title: str, note: str = ""
) -> None:
    """Concatenate tab-separated tables (e.g. every species' ``qc.tsv``) into one HTML page.

    Parameters
    ----------
    tables : sequence of str or Path
        The TSV files; empty ones are skipped.
    out : str or Path
        The HTML file.
    title, note : str
        As for :func:`table_html`.
    """
    frames = [pd.read_csv(path, sep="\t") for path in tables]
    frames = [frame for frame in frames if len(frame)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(table_html(table, title, note))
