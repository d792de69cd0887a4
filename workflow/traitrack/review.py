"""The review page: every target of every species, the doubtful ones first, with its overlay.

A curator with a drawer of 500 predictions wants to see at a glance which ones to look at.
:func:`review_table` joins each species' ``qc.tsv`` and ``annotate_next.tsv`` and sorts it:
per species, flagged targets first, then by ``qc_rank`` (lowest, the most doubtful, first).
:func:`review_html` writes one self-contained page: per species a table whose rows show a
thumbnail of the overlay (embedded, so the page works wherever it is opened, also inside the
Snakemake report) linking to the full overlay, the QC evidence, the templates the prediction
came from and the ``annotate_next`` rank; a few lines of inline JavaScript (no network) filter
by species and flag.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

# QC columns shown, in this order, when the table has them (qc.tsv's evidence, traitrack.qc)
EVIDENCE = (
    "qc_score",
    "round_trip_miou",
    "agreement",
    "edge_agreement",
    "single_template_agreement",
)

EVIDENCE_NAMES = {
    "qc_score": "qc_score",
    "round_trip_miou": "round trip mIoU",
    "agreement": "template agreement",
    "edge_agreement": "edge agreement",
    "single_template_agreement": "single-template agreement",
}

_STYLE = """
body{font-family:sans-serif;font-size:13px;margin:12px}
table{border-collapse:collapse;margin-bottom:18px}
th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;vertical-align:middle}
th{background:#f4f4f4;position:sticky;top:0}
th{max-width:90px;white-space:normal}
td.name,td.templates,td.parts{text-align:left}
td.templates{max-width:220px;font-size:12px}
td.parts{font-size:11px;white-space:nowrap}
tr.flagged{background:#fff0f0}
tr.flagged .flag{color:#b00000;font-weight:bold}
img.thumb{max-width:160px;max-height:120px;display:block}
#controls{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ccc}
.hidden{display:none}
"""

_SCRIPT = """
function applyFilters() {
  var species = document.getElementById('species').value;
  var flag = document.getElementById('flag').value;
  var shown = 0;
  document.querySelectorAll('section.species').forEach(function (section) {
    var visible = 0;
    section.querySelectorAll('tr.target').forEach(function (row) {
      var keep = (species === '' || row.dataset.species === species) &&
        (flag === '' || row.dataset.flagged === flag);
      row.classList.toggle('hidden', !keep);
      if (keep) { visible += 1; }
    });
    section.classList.toggle('hidden', visible === 0);
    shown += visible;
  });
  document.getElementById('count').textContent = shown + ' shown';
}
var query = new URLSearchParams(window.location.search);
if (query.has('species')) { document.getElementById('species').value = query.get('species'); }
if (query.has('flag')) { document.getElementById('flag').value = query.get('flag'); }
document.getElementById('species').addEventListener('change', applyFilters);
document.getElementById('flag').addEventListener('change', applyFilters);
applyFilters();
"""


def review_table(
    qc: Mapping[str, pd.DataFrame], annotate_next: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Every species' targets in review order: flagged first, then by ``qc_rank``.

    Parameters
    ----------
    qc : mapping of str to pandas.DataFrame
        Each species' ``qc.tsv`` (``specimen``, ``qc_rank``, ``flagged``, the evidence,
        ``templates``), by species slug.
    annotate_next : mapping of str to pandas.DataFrame, optional
        Each species' ``annotate_next.tsv`` (``rank``, ``specimen``).

    Returns
    -------
    pandas.DataFrame
        ``species`` first, one row per target, ``flagged`` as bool and ``annotate_next_rank``
        (NaN where a species has no ranking); species in name order, then flagged targets,
        then ``qc_rank`` ascending (the most doubtful first), ties by specimen.
    """
    frames = []
    for species in sorted(qc):
        table = qc[species].copy()
        table.insert(0, "species", species)
        table["flagged"] = table["flagged"].astype(str).str.upper().isin(["TRUE", "1"])
        ranking = (annotate_next or {}).get(species)
        ranks = {} if ranking is None else dict(zip(ranking["specimen"], ranking["rank"]))
        table["annotate_next_rank"] = [ranks.get(s, np.nan) for s in table["specimen"]]
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["species", "specimen", "flagged", "qc_rank"])
    table = pd.concat(frames, ignore_index=True)
    table["_not_flagged"] = ~table["flagged"]
    table = table.sort_values(
        ["species", "_not_flagged", "qc_rank", "specimen"], kind="stable"
    ).drop(columns="_not_flagged")
    return table.reset_index(drop=True)


def thumbnail_uri(path: str | Path, size: int = 240) -> str:
    """An overlay as a small JPEG data URI (longest side ``size`` px), for embedding.

    Parameters
    ----------
    path : str or Path
        The overlay PNG.
    size : int
        Longest side of the thumbnail.

    Returns
    -------
    str
        ``data:image/jpeg;base64,...``; "" if the file is missing.
    """
    path = Path(path)
    if not path.exists():
        return ""
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def review_html(
    table: pd.DataFrame,
    thumbnails: Mapping[str, str],
    links: Mapping[str, str],
    title: str = "Review: the doubtful predictions first",
) -> str:
    """The review page (module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`review_table`'s table.
    thumbnails : mapping of str to str
        Per specimen, its overlay's data URI (:func:`thumbnail_uri`).
    links : mapping of str to str
        Per specimen, the full overlay's path relative to the page.
    title : str
        The heading.

    Returns
    -------
    str
        The HTML document.
    """
    species_list = list(dict.fromkeys(table["species"]))
    options = "".join(
        f"<option value='{html.escape(s)}'>{html.escape(s)}</option>" for s in species_list
    )
    flagged = int(table["flagged"].sum()) if len(table) else 0
    intro = (
        f"<p>{len(table)} targets in {len(species_list)} species, {flagged} flagged (marked "
        "FLAGGED, red rows, listed first). Within a species the rows follow <code>qc_rank</code>, "
        "the most doubtful first: check the flagged ones and correct them "
        "(<code>snakemake corrections</code>). A thumbnail opens the full overlay. "
        "<code>annotate_next</code> is the target's rank in annotate_next.tsv.</p>"
    )
    controls = (
        "<div id='controls'>species <select id='species'><option value=''>all</option>"
        f"{options}</select> flag <select id='flag'><option value=''>all</option>"
        "<option value='true'>flagged</option><option value='false'>not flagged</option>"
        "</select> <span id='count'></span></div>"
    )
    sections = [
        _species_section(species, table[table["species"] == species], thumbnails, links)
        for species in species_list
    ]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h2>{html.escape(title)}</h2>{intro}{controls}{''.join(sections)}"
        f"<script>{_SCRIPT}</script></body></html>"
    )


def _species_section(
    species: str, rows: pd.DataFrame, thumbnails: Mapping[str, str], links: Mapping[str, str]
) -> str:
    # evidence columns an engine left empty (SAM 2 has no agreement) are not shown
    evidence = [c for c in EVIDENCE if c in rows.columns and rows[c].notna().any()]
    parts = [c for c in rows.columns if c.startswith("iou_")]
    header = ["#", "overlay", "specimen", "qc_rank", "annotate next", "templates"]
    header += [EVIDENCE_NAMES[c] for c in evidence] + ["round trip IoU per part"] * bool(parts)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for position, row in enumerate(rows.itertuples(index=False), start=1):
        values = row._asdict()
        name = str(values["specimen"])
        image = thumbnails.get(name, "")
        picture = (
            f"<img class='thumb' src='{image}' alt='overlay of {html.escape(name)}'>"
            if image
            else "no overlay"
        )
        link = links.get(name)
        if link:
            picture = f"<a href='{html.escape(link)}' target='_blank'>{picture}</a>"
        mark = "<br><span class='flag'>FLAGGED</span>" if values["flagged"] else ""
        templates = str(values.get("templates", "")).replace(";", "; ")
        per_part = "<br>".join(
            f"{html.escape(c.removeprefix('iou_'))} {_number(values.get(c))}" for c in parts
        )
        cells = [
            f"<td>{position}</td>",
            f"<td>{picture}</td>",
            f"<td class='name'>{html.escape(name)}{mark}</td>",
            f"<td>{_number(values.get('qc_rank'))}</td>",
            f"<td>{_rank(values.get('annotate_next_rank'))}</td>",
            f"<td class='templates'>{html.escape(templates)}</td>",
            *(f"<td>{_number(values.get(c))}</td>" for c in evidence),
            *([f"<td class='parts'>{per_part}</td>"] if parts else []),
        ]
        flag = "true" if values["flagged"] else "false"
        classes = "target flagged" if values["flagged"] else "target"
        body.append(
            f"<tr class='{classes}' data-species='{html.escape(species)}' data-flagged='{flag}' "
            f"data-specimen='{html.escape(name)}'>{''.join(cells)}</tr>"
        )
    flagged = int(rows["flagged"].sum())
    return (
        f"<section class='species' data-species='{html.escape(species)}'>"
        f"<h3>{html.escape(species)}: {len(rows)} targets, {flagged} flagged</h3>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )


def _number(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{value:.3f}" if np.isfinite(value) else ""


def _rank(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    return str(int(value)) if np.isfinite(value) else ""
