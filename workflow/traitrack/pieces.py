"""What a part may be: one piece, or as many as its templates show.

A predicted compact part (``kind: blob``) in several pieces is almost always a mistake: a
stray blob of the head beside the pronotum doubles the head's ``length_mm``. The templates say
what a part may be: a blob part may have as many pieces as the target's templates have at
most (pieces of at least ``MIN_SHARE`` of their part's area, so a hand-drawn speck does not
count), and at least one. Thin parts (legs, antennae) are several pieces by nature and are
left as they are. The config's ``structures[].pieces`` (``templates`` or ``any``) overrides
the kind's choice.

:func:`keep_pieces` keeps each limited part's largest pieces; the pixels of a dropped piece go
to whatever surrounds it most (another part it touches, or background), so no hole is left
where a stray piece sat inside another part. Applied to every forward prediction before its
QC (:func:`traitrack.propagation.predict_chunk`), so the round trip, the traits and the
overlays all see the same labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from traitrack.structures import StructureTable

MIN_SHARE = 0.05
_EIGHT = np.ones((3, 3), dtype=bool)


def template_pieces(labels: np.ndarray, label: int, min_share: float = MIN_SHARE) -> int:
    """How many pieces a template's part has, counting those of ``min_share`` of its area.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) label map.
    label : int
        The part.
    min_share : float
        Smallest share of the part's area a piece needs to count.

    Returns
    -------
    int
        The count; 0 when the part is absent.
    """
    pieces, count = ndimage.label(labels == label, structure=_EIGHT)
    if count == 0:
        return 0
    sizes = np.bincount(pieces.ravel())[1:]
    return int(np.sum(sizes >= min_share * sizes.sum()))


def allowed_pieces(
    templates: Sequence[np.ndarray], structures: StructureTable, min_share: float = MIN_SHARE
) -> dict[int, int]:
    """The most pieces each part with ``pieces: templates`` may have, from a target's templates.

    Parameters
    ----------
    templates : sequence of numpy.ndarray
        The templates' label maps.
    structures : StructureTable
        The part table; only parts with ``pieces: templates`` (blob parts unless the config
        says otherwise) get a limit.
    min_share : float
        As for :func:`template_pieces`.

    Returns
    -------
    dict of int to int
        Per limited label, the largest template count, at least 1.
    """
    return {
        s.label: max([1, *(template_pieces(t, s.label, min_share) for t in templates)])
        for s in structures
        if s.pieces == "templates"
    }


def keep_pieces(labels: np.ndarray, allowed: dict[int, int]) -> np.ndarray:
    """Keep each limited part's ``allowed`` largest pieces; give the others to their surround.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) label map.
    allowed : dict of int to int
        Per label, the most pieces it may have (:func:`allowed_pieces`); labels not named are
        left as they are.

    Returns
    -------
    numpy.ndarray
        A new label map (the input when nothing changes). A dropped piece's pixels take the
        label most of the pixels just outside it have (8-neighbours; ties to the lower label).
    """
    result = labels
    for label in sorted(allowed):
        pieces, count = ndimage.label(result == label, structure=_EIGHT)
        if count <= allowed[label]:
            continue
        if result is labels:
            result = labels.copy()
        sizes = np.bincount(pieces.ravel())[1:]
        order = np.argsort(-sizes, kind="stable")  # largest first, ties by position
        for index in order[allowed[label] :]:
            piece = pieces == index + 1
            ring = ndimage.binary_dilation(piece, structure=_EIGHT) & ~piece
            around = result[ring]
            around = around[around != label]
            result[piece] = np.bincount(around).argmax() if around.size else 0
    return result
