"""Stages of ``review.smk``: what a curator reads, reviews and corrects.

The rules ``data_dictionary`` and ``review`` each call one function here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from traitrack.correction import relative_path
from traitrack.dictionary import dictionary_table
from traitrack.io import atomic_output
from traitrack.plots import table_html
from traitrack.review import review_html, review_table, thumbnail_uri


def run_data_dictionary(out: str | Path) -> None:
    """Write the trait tables' data dictionary as an HTML page for the report.

    Parameters
    ----------
    out : str or Path
        The HTML file.
    """
    page = table_html(
        dictionary_table(),
        "Trait tables: data dictionary",
        note="Every column of results/traits.csv and the species' and specimens' CSVs. "
        "Booleans are TRUE/FALSE; a length is _mm with a pixel size and _px without.",
    )
    page = page.replace("</style>", " th,td{text-align:left;vertical-align:top}</style>", 1)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(page)


def run_review(
    species: Sequence[str],
    qc_tables: Sequence[str | Path],
    annotate_tables: Sequence[str | Path],
    overlay_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    thumbnail_size: int = 240,
) -> None:
    """Write the review page (:mod:`traitrack.review`): every species' targets, doubtful first.

    Parameters
    ----------
    species : sequence of str
        The species, in the order of the three lists below.
    qc_tables, annotate_tables : sequence of str or Path
        Each species' final ``qc.tsv`` and its ``annotate_next.tsv``.
    overlay_dirs : sequence of str or Path
        Each species' ``overlays/``; the page embeds thumbnails and links the full overlays
        relative to its own folder.
    out : str or Path
        The HTML page (``results/review.html``).
    thumbnail_size : int
        Longest side (px) of the embedded thumbnails.
    """
    out = Path(out)
    qc = {s: pd.read_csv(p, sep="\t") for s, p in zip(species, qc_tables)}
    ranking = {s: pd.read_csv(p, sep="\t") for s, p in zip(species, annotate_tables)}
    table = review_table(qc, ranking)
    thumbnails, links = {}, {}
    folders = dict(zip(species, overlay_dirs))
    for row in table.itertuples(index=False):
        overlay = Path(folders[row.species]) / f"{row.specimen}.png"
        thumbnails[row.specimen] = thumbnail_uri(overlay, thumbnail_size)
        links[row.specimen] = relative_path(overlay, out.parent)
    with atomic_output(out) as temporary:
        Path(temporary).write_text(review_html(table, thumbnails, links), encoding="utf-8")
