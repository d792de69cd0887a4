"""The cycle score of trait-based retrieval: does the query's part come back from a candidate?

For a query with its part's mask and a candidate specimen, an engine (SAM 2's tracker, or the
weights-free registration engine) carries the query's part to the candidate from an empty
memory (the forward pass), then, again from an empty memory, carries the candidate with that
prediction as its only template back to the query (the backward pass, which starts from the
candidate: SST's own script ran its "backward" pass from the query again). The IoU of the part
brought back with the query's own mask is high when the two parts correspond, shape and
appearance alike. It is the QC round trip (:func:`traitrack.qc.round_trip`) with the query in
the template's place, so it needs no ground truth either; each candidate costs two engine
calls, which is why ``retrieve.cycle`` is off by default.
"""

from __future__ import annotations

import numpy as np

from traitrack.engines.base import Engine, Frame
from traitrack.structures import StructureTable


def only_part(labels: np.ndarray, label: int) -> np.ndarray:
    """The label map with every other structure set to background (uint8)."""
    return np.where(np.asarray(labels) == label, label, 0).astype(np.uint8)


def cycle_iou(
    engine: Engine,
    structures: StructureTable,
    query: Frame,
    candidate: Frame,
    label: int,
) -> float:
    """IoU of the query's part with the part brought back through the candidate.

    Parameters
    ----------
    engine : Engine
        Any engine of :mod:`traitrack.engines`; every ``propagate`` call starts from an empty
        memory (the protocol), so nothing of the forward pass reaches the backward one except
        the candidate's predicted labels.
    structures : StructureTable
        The part table.
    query : Frame
        The query's image and labels (only ``label`` is carried).
    candidate : Frame
        The candidate's image; its labels, if any, are not used.
    label : int
        The part's label.

    Returns
    -------
    float
        0..1; 0 when the part does not reach the candidate or does not come back.
    """
    truth = np.asarray(query.labels) == label
    if not truth.any():
        return 0.0
    forward_template = Frame(query.specimen, query.image, only_part(query.labels, label))
    (forward,) = engine.propagate(
        [forward_template, Frame(candidate.specimen, candidate.image)], structures
    )
    carried = only_part(forward.labels, label)
    if not carried.any():
        return 0.0
    backward_template = Frame(candidate.specimen, candidate.image, carried)
    (backward,) = engine.propagate(
        [backward_template, Frame(query.specimen, query.image)], structures
    )
    back = np.asarray(backward.labels) == label
    union = np.logical_or(back, truth).sum()
    return float(np.logical_and(back, truth).sum() / union) if union else 0.0
