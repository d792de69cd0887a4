"""The student as the engine of a large species (``self_training.student.bulk``).

The teacher (registration or SAM 2) labels only a sample of the species' targets; the student
trains on the templates and those labels and predicts every target, so that the per-target cost
of a species of 10,000 specimens is the student's forward pass and QC round trip rather than
the teacher's registrations. The sample is chosen to cover the species' descriptor space:
greedy facility location from the hand-made templates, the ranking ``annotate_next`` uses
(:func:`traitrack.select.rank_annotation_candidates`), so the teacher's labels come from every
kind of specimen the student will meet, a dense group first, outliers last.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from traitrack.order import Chunk
from traitrack.select import rank_annotation_candidates

STUDENT_ALONE = "student"
"""The engine column of a target the teacher never saw: the student alone labelled it."""


def choose_sample(
    target_names: Sequence[str],
    target_descriptors: np.ndarray,
    template_descriptors: np.ndarray,
    size: int,
) -> pd.DataFrame:
    """The ``size`` targets the teacher labels: the first of a facility-location ranking.

    Parameters
    ----------
    target_names : sequence of str
        The species' targets.
    target_descriptors : numpy.ndarray
        One descriptor row per target (``annotate_next``'s, centred per species).
    template_descriptors : numpy.ndarray
        The hand-made templates' descriptors: what already covers the space.
    size : int
        How many targets to keep (all of them when the species has fewer).

    Returns
    -------
    pandas.DataFrame
        ``rank`` (1 = chosen first), ``specimen``, ``coverage_distance`` and ``priority`` of
        :func:`~traitrack.select.rank_annotation_candidates` (no QC weighting: the teacher
        has not run yet), ``min(size, targets)`` rows.
    """
    ranking = rank_annotation_candidates(target_names, target_descriptors, template_descriptors)
    ranking = ranking.drop(columns=["qc_score"])
    return ranking.head(size).reset_index(drop=True)


def restrict_chunks(chunks: Sequence[Chunk], keep: set[str]) -> list[Chunk]:
    """The pseudo-video cut to some targets: each chunk's kept targets in their order, their
    own templates, and the chunk's templates those of its kept targets (nearest first);
    chunks left without a target are dropped.

    Parameters
    ----------
    chunks : sequence of Chunk
        The species' pseudo-video (rule ``order``).
    keep : set of str
        The targets to keep.

    Returns
    -------
    list of Chunk
        The teacher's pseudo-video.
    """
    out = []
    for chunk in chunks:
        targets = [t for t in chunk.targets if t in keep]
        if not targets:
            continue
        own = {t: list(chunk.target_templates.get(t, chunk.templates)) for t in targets}
        used = {name for names in own.values() for name in names}
        templates = [t for t in chunk.templates if t in used]
        out.append(Chunk(templates, targets, own))
    return out
