"""Which templates serve which target, and which specimen to annotate next.

``nearest_templates`` gives every target its k nearest templates in descriptor space.
``rank_annotation_candidates`` orders the unlabelled specimens by how much annotating them would
add: a greedy k-center walk from the existing templates (each pick is the specimen farthest from
everything already annotated or picked), with each specimen's distance weighted up by a low QC
score so that specimens the engine fails on rise in the list.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .describe import pairwise_distances


class NoTemplatesError(ValueError):
    """A species has no template to start from."""


def nearest_templates(
    target_names: Sequence[str],
    target_descriptors: np.ndarray,
    template_names: Sequence[str],
    template_descriptors: np.ndarray,
    k: int,
) -> pd.DataFrame:
    """Table (target, rank, template, distance) with the k nearest templates per target.

    Ties are broken by template name so the choice is deterministic.
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
    """Greedy k-center ranking of unlabelled specimens, low QC scores weighted up.

    Parameters
    ----------
    candidate_names, candidate_descriptors : the unlabelled specimens.
    annotated_descriptors : descriptors of the specimens already annotated (may be empty).
    qc_scores : round-trip QC score (0..1, higher is better) per candidate; missing ones count
        as 1 (no evidence of failure).

    Returns
    -------
    DataFrame with ``rank`` (1 = annotate first), ``specimen``, ``coverage_distance`` (distance to
    the nearest annotated-or-already-picked specimen when picked), ``qc_score`` and ``priority``
    (coverage distance times ``2 - qc_score``).
    """
    qc_scores = dict(qc_scores or {})
    n = len(candidate_names)
    if n == 0:
        return pd.DataFrame(columns=["rank", "specimen", "coverage_distance", "qc_score", "priority"])
    qc = np.array([_clip01(qc_scores.get(name, 1.0)) for name in candidate_names])
    weight = 2.0 - qc
    if len(annotated_descriptors):
        nearest = pairwise_distances(candidate_descriptors, annotated_descriptors).min(axis=1)
        first = None
    else:
        # Nothing annotated yet: start from the medoid (the most typical specimen), which the
        # prototype found a better first template than an outlier.
        within = pairwise_distances(candidate_descriptors, candidate_descriptors)
        nearest = np.full(n, np.inf)
        first = int(np.argmin(within.sum(axis=1)))
    remaining = np.ones(n, dtype=bool)
    rows = []
    for rank in range(1, n + 1):
        priority = np.where(remaining, nearest * weight, -np.inf)
        pick = first if rank == 1 and first is not None else int(np.argmax(priority))
        coverage = float(nearest[pick]) if np.isfinite(nearest[pick]) else np.nan
        rows.append((rank, candidate_names[pick], coverage, float(qc[pick]), coverage * weight[pick]))
        remaining[pick] = False
        from_pick = pairwise_distances(candidate_descriptors, candidate_descriptors[pick : pick + 1])[:, 0]
        nearest = np.minimum(nearest, from_pick)
    return pd.DataFrame(rows, columns=["rank", "specimen", "coverage_distance", "qc_score", "priority"])


def _clip01(value: float) -> float:
    value = float(value)
    return 1.0 if np.isnan(value) else min(1.0, max(0.0, value))
