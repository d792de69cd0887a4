"""Stage of ``review.smk``'s ``export_corrections``: predictions as files to correct.

For the flagged (or chosen) targets of a species, writes into ``out_dir``:

- ``<specimen>.json``: labelme JSON, one polygon per piece of every part
  (:func:`traitrack.correction.labelme_document`), opening the specimen's image;
- ``cvat.coco.json``: all of them in one COCO file for CVAT (polygons, RLE masks where a
  part has a hole);
- ``corrections.tsv``: which specimens, their QC (``qc_rank``, ``flagged``), the files, and
  the sample-sheet line to use once the file is corrected.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from traitrack.correction import coco_document, labelme_document, relative_path
from traitrack.io import InputError, atomic_output, read_label_png, write_table
from traitrack.species_context import SpeciesContext

log = logging.getLogger(__name__)

WHICH = ("flagged", "all")


def choose_targets(
    qc: pd.DataFrame, chosen: Sequence[str] = (), which: str = "flagged"
) -> list[str]:
    """The targets to export: ``chosen`` if given, else the flagged ones (or all), by qc_rank.

    Parameters
    ----------
    qc : pandas.DataFrame
        The species' ``qc.tsv`` (``specimen``, ``qc_rank``, ``flagged``).
    chosen : sequence of str
        Specimens named by the user; each must be a target of the table.
    which : str
        ``flagged`` or ``all``, when ``chosen`` is empty.

    Returns
    -------
    list of str
        The specimens, worst ``qc_rank`` first (the order to correct them in).

    Raises
    ------
    InputError
        If a chosen specimen is not a target of the species or ``which`` is unknown.
    """
    if which not in WHICH:
        raise InputError(f"corrections.which is {which!r}; use one of {list(WHICH)}")
    ranked = qc.sort_values(["qc_rank", "specimen"], kind="stable")
    if chosen:
        unknown = sorted(set(chosen) - set(ranked["specimen"]))
        if unknown:
            raise InputError(
                f"corrections.specimens names {unknown}, which are no targets of this species' "
                "qc.tsv (templates are corrected in their own mask file); fix the list"
            )
        return [s for s in ranked["specimen"] if s in set(chosen)]
    if which == "all":
        return list(ranked["specimen"])
    flagged = ranked["flagged"].astype(str).str.upper().isin(["TRUE", "1"])
    return list(ranked.loc[flagged, "specimen"])


def run_export_corrections(
    context: SpeciesContext,
    *,
    labels_dir: str | Path,
    qc: str | Path,
    out_dir: str | Path,
    chosen: Sequence[str] = (),
    which: str = "flagged",
) -> list[str]:
    """Export a species' flagged (or chosen) predictions for correction (module docstring).

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    labels_dir : str or Path
        The species' final ``labels/``.
    qc : str or Path
        Its ``qc.tsv``.
    structures : StructureTable
        The part table (category names).
    out_dir : str or Path
        The folder to write.
    chosen : sequence of str
        Specimens to export (config ``corrections.specimens``); empty: by ``which``.
    which : str
        ``flagged`` or ``all`` (config ``corrections.which``).

    Returns
    -------
    list of str
        The exported specimens.
    """
    species, structures = context.species, context.structures
    sheet = {s.specimen: s for s in context.members}
    table = pd.read_csv(qc, sep="\t")
    names = choose_targets(table, chosen, which)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    qc_by_name = table.set_index("specimen")
    records, rows = [], []
    for name in names:
        specimen = sheet[name]
        labels = read_label_png(Path(labels_dir) / f"{name}.png")
        flagged = str(qc_by_name.loc[name, "flagged"]).upper() in ("TRUE", "1")
        document = labelme_document(
            labels,
            structures,
            relative_path(specimen.image, out_dir),
            flags={"flagged": flagged},
        )
        path = out_dir / f"{name}.json"
        with atomic_output(path) as temporary:
            Path(temporary).write_text(json.dumps(document), encoding="utf-8")
        records.append((Path(specimen.image).name, labels))
        rows.append(
            {
                "specimen": name,
                "qc_rank": qc_by_name.loc[name, "qc_rank"],
                "flagged": flagged,
                "labelme": path.as_posix(),
                "image": specimen.image,
            }
        )
    with atomic_output(out_dir / "cvat.coco.json") as temporary:
        Path(temporary).write_text(json.dumps(coco_document(records, structures)), encoding="utf-8")
    write_table(
        out_dir / "corrections.tsv",
        pd.DataFrame(rows, columns=["specimen", "qc_rank", "flagged", "labelme", "image"]),
    )
    log.info("exported %d of %d targets of %s to %s", len(names), len(table), species, out_dir)
    return names
