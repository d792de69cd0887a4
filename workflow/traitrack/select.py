"""Which templates serve which target, and which specimen to annotate next.

``nearest_templates`` gives every target its k nearest templates in descriptor space.
``rank_annotation_candidates`` orders the unlabelled specimens by how much annotating them would
add: greedy facility location from the existing templates (each pick is the specimen that most
reduces the summed distance of all candidates to their nearest annotated-or-picked specimen),
with each specimen's term weighted up by a low QC score so that specimens the engine fails on,
and their neighbours, rise in the list.

Facility location rather than a greedy k-center walk (pick the specimen farthest from
everything annotated): a template serves only the targets near it, and k-center picks
outliers, whose annotation helps no other specimen.  On raw HOG vectors facility location
would pick *hubs* first (photographs that are mostly texture, near everything in descriptor
space), so the workflow centres descriptors on the species' mean before they get here
(:func:`traitrack.describe.centre_descriptors`).  ``benchmarks/learning_curve.py`` compares
this ranking with random picks.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from traitrack.describe import pairwise_distances


class NoTemplatesError(ValueError):
    """A species has no template to start from."""


def nearest_templates(
    target_names: Sequence[str],
    target_descriptors: np.ndarray,
    template_names: Sequence[str],
    template_descriptors: np.ndarray,
    k: int,
) -> pd.DataFrame:
    """Select the k nearest templates of every target in descriptor space.

    Ties are broken by template name so the choice is deterministic.

    Parameters
    ----------
    target_names : sequence of str
        The targets' slugs.
    target_descriptors : numpy.ndarray
        One descriptor row per target.
    template_names : sequence of str
        The templates' slugs.
    template_descriptors : numpy.ndarray
        One descriptor row per template.
    k : int
        Templates per target (all of them if there are fewer).

    Returns
    -------
    pandas.DataFrame
        Columns ``target``, ``rank`` (1 = nearest), ``template``, ``distance``; ``k`` rows per
        target.

    Raises
    ------
    NoTemplatesError
        If there is no template.
    """
    if len(template_names) == 0:
        raise NoTemplatesError("no templates to select from")
    k = min(k, len(template_names))
    distances = pairwise_distances(target_descriptors, template_descriptors)
    order_by_name = np.argsort(np.asarray(template_names), kind="stable")
    rows = []
    for i, target in enumerate(target_names):
        row = distances[i][order_by_name]
        picked = order_by_name[np.argsort(row, kind="stable")[:k]]
        for rank, j in enumerate(picked, start=1):
            rows.append((target, rank, template_names[j], float(distances[i, j])))
    return pd.DataFrame(rows, columns=["target", "rank", "template", "distance"])


def rank_annotation_candidates(
    candidate_names: Sequence[str],
    candidate_descriptors: np.ndarray,
    annotated_descriptors: np.ndarray,
    qc_scores: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Rank unlabelled specimens by greedy facility location, low QC scores weighted up.

    Every candidate ``i`` costs ``(2 - qc_i) * d_i``, where ``d_i`` is its descriptor distance to
    the nearest annotated-or-already-picked specimen (the largest pairwise distance while there
    is none).  Each pick is the candidate whose annotation most reduces the total cost, i.e. the
    one that would be the nearest template of many specimens, weighted towards specimens the
    engine fails on.  Unlike a k-center walk (pick the farthest specimen), an outlier only
    reduces its own term, so a representative of a dense group comes first; with nothing
    annotated the first pick is the (weighted) medoid.  The objective is submodular, so the
    greedy order is computed lazily (exact, stale gains are only upper bounds).  Ties go to the
    smaller name, so the order does not depend on the input order.

    Parameters
    ----------
    candidate_names : sequence of str
        The unlabelled specimens' slugs.
    candidate_descriptors : numpy.ndarray
        One descriptor row per candidate.
    annotated_descriptors : numpy.ndarray
        Descriptors of the specimens already annotated (may have no rows).
    qc_scores : Mapping of str to float, optional
        Round-trip QC score (0..1, higher is better) per candidate; missing ones count as 1
        (no evidence of failure).

    Returns
    -------
    pandas.DataFrame
        ``rank`` (1 = annotate first), ``specimen``, ``coverage_distance`` (distance to the
        nearest annotated-or-already-picked specimen when picked; NaN for the first pick when
        nothing is annotated), ``qc_score`` and ``priority`` (the reduction of the total
        weighted distance that annotating it brings, given the specimens ranked before it).
    """
    qc_scores = dict(qc_scores or {})
    n = len(candidate_names)
    if n == 0:
        return pd.DataFrame(
            columns=["rank", "specimen", "coverage_distance", "qc_score", "priority"]
        )
    qc = np.array([_clip01(qc_scores.get(name, 1.0)) for name in candidate_names])
    weight = 2.0 - qc
    within = pairwise_distances(candidate_descriptors, candidate_descriptors).astype(np.float64)
    np.fill_diagonal(within, 0.0)
    if len(annotated_descriptors):
        nearest = pairwise_distances(candidate_descriptors, annotated_descriptors).min(axis=1)
        nearest = nearest.astype(np.float64)
        covered = np.ones(n, dtype=bool)
    else:
        nearest = np.full(n, float(within.max()))
        covered = np.zeros(n, dtype=bool)

    def gain(j: int) -> float:
        return float((weight * (nearest - np.minimum(nearest, within[:, j]))).sum())

    heap = [(-gain(j), str(candidate_names[j]), j) for j in range(n)]
    heapq.heapify(heap)
    rows = []
    while heap:
        _, name, pick = heapq.heappop(heap)
        fresh = gain(pick)
        if heap and (-fresh, name) > heap[0][:2]:
            heapq.heappush(heap, (-fresh, name, pick))  # stale bound: re-queue with the true gain
            continue
        coverage = float(nearest[pick]) if covered[pick] else np.nan
        rows.append((len(rows) + 1, candidate_names[pick], coverage, float(qc[pick]), fresh))
        nearest = np.minimum(nearest, within[:, pick])
        covered[:] = True
    return pd.DataFrame(
        rows, columns=["rank", "specimen", "coverage_distance", "qc_score", "priority"]
    )


def _clip01(value: float) -> float:
    value = float(value)
    return 1.0 if np.isnan(value) else min(1.0, max(0.0, value))
