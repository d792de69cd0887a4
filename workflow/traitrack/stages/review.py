"""Stages of ``review.smk``: what a curator reads, reviews and corrects.

The rules ``data_dictionary`` and ``review`` each call one function here.
"""

from __future__ import annotations

from pathlib import Path

from traitrack.dictionary import dictionary_table
from traitrack.plots import table_html


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
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(page)
