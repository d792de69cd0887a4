"""Stage of ``annotate_next.smk``: which unlabelled specimens to annotate first.

It runs after ``propagate`` because low QC scores weigh in the ranking.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from traitrack.describe import load_ranking_descriptors
from traitrack.io import write_table
from traitrack.select import rank_annotation_candidates
from traitrack.species_context import SpeciesContext


def run_annotate_next(
    context: SpeciesContext,
    *,
    descriptors: str | Path,
    qc: str | Path,
    out: str | Path,
) -> None:
    """Rank a species' unlabelled specimens by how much annotating them would add.

    Parameters
    ----------
    context : SpeciesContext
        The species: its sheet rows, templates and part table.
    descriptors : str or Path
        The species' ``descriptors.npz`` (rule ``describe``); ranked by
        :func:`~traitrack.describe.load_ranking_descriptors`.
    qc : str or Path
        The species' ``qc.tsv`` (rule ``propagate``); low ``qc_score`` weighs a specimen up.
    out : str or Path
        The ranking table, ``annotate_next.tsv``
        (:func:`~traitrack.select.rank_annotation_candidates`).
    """
    names, vectors = load_ranking_descriptors(descriptors)
    index = {name: i for i, name in enumerate(names)}
    members = context.members
    candidates = [s.specimen for s in members if not s.is_template]
    annotated = [s.specimen for s in members if s.is_template]
    qc_table = pd.read_csv(qc, sep="\t")
    scores = dict(zip(qc_table["specimen"], qc_table["qc_score"])) if len(qc_table) else {}
    ranking = rank_annotation_candidates(
        candidates,
        vectors[[index[c] for c in candidates]].reshape(len(candidates), *vectors.shape[1:]),
        vectors[[index[a] for a in annotated]].reshape(len(annotated), *vectors.shape[1:]),
        scores,
    )
    write_table(out, ranking)
