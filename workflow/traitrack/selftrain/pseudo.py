"""Pseudo-templates: a propagate round's best predictions become templates of the next round.

A species has a few hand-made templates and many unlabelled specimens.  After a first round,
the targets the QC ranks highest (``qc_rank``, :func:`traitrack.qc.summarise_round_trips`)
are most likely right, and they look like other targets that no hand-made template resembles;
carried with their predicted masks into a second round they bridge that gap.  Three rules keep
the second round honest:

* a specimen whose ground truth is used for scoring (``gt_mask``) never becomes a
  pseudo-template unless the config allows it (``self_training.allow_gt_targets``), and a
  pseudo-template's labels are always its *prediction*, never a mask read from disk;
* no target is ever its own template (:func:`assign_templates`), and a specimen is chosen as
  a pseudo-template once (:func:`choose_pseudo_templates`, ``already``);
* the QC round trip goes back to hand-made templates only
  (:func:`traitrack.propagation.predict_chunk`), so a target is never scored against its own
  earlier prediction.

The round runs through :mod:`traitrack.propagation` as the first does (its chunks from
:func:`chunks_by_templates`, in worker processes where the engine allows): a pseudo-template
is a template frame whose labels are the prediction and whose fusion weight is
``self_training.pseudo_weight`` (:class:`traitrack.propagation.PseudoTemplates`); the
registration engine fuses with it, an engine that tracks a chunk (SAM 2) gets it as one more
conditioning frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from traitrack.describe import pairwise_distances
from traitrack.order import Chunk


def choose_pseudo_templates(
    qc: pd.DataFrame,
    share: float,
    *,
    exclude: Iterable[str] = (),
    already: Iterable[str] = (),
) -> list[str]:
    """The specimens of a QC table that become pseudo-templates: the top ``share`` by rank.

    Parameters
    ----------
    qc : pandas.DataFrame
        A species' ``qc.tsv``: ``specimen`` and ``qc_rank`` (0..1, 1 best) per target.
    share : float
        The share of the table's targets to choose (``self_training.pseudo_share``); it is
        counted over all targets, so excluded ones leave their places empty rather than
        letting lower-ranked targets in.
    exclude : iterable of str
        Specimens never to choose: those whose ground truth scores the evaluation (unless
        ``self_training.allow_gt_targets``), and the hand-made templates.
    already : iterable of str
        Pseudo-templates of earlier rounds, which are templates already.

    Returns
    -------
    list of str
        The chosen specimens, best rank first; ties go to the smaller name.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"self_training.pseudo_share must lie in 0..1, got {share}")
    missing = {"specimen", "qc_rank"} - set(qc.columns)
    if missing:
        raise ValueError(f"the QC table lacks column(s) {sorted(missing)}")
    count = int(share * len(qc) + 1e-9)
    banned = set(exclude) | set(already)
    table = qc[["specimen", "qc_rank"]].copy()
    table["specimen"] = table["specimen"].astype(str)
    table["qc_rank"] = pd.to_numeric(table["qc_rank"]).fillna(-1.0)
    table = table.sort_values(["qc_rank", "specimen"], ascending=[False, True], kind="stable")
    top = table["specimen"].head(count)
    return [name for name in top if name not in banned]


def assign_templates(
    target_names: Sequence[str],
    target_descriptors: np.ndarray,
    template_names: Sequence[str],
    template_descriptors: np.ndarray,
    k: int,
    *,
    true_templates: Iterable[str],
    keep_hand_made: int,
) -> dict[str, tuple[str, ...]]:
    """Each target's k nearest templates of a round with pseudo-templates; never itself.

    Parameters
    ----------
    target_names, target_descriptors
        The targets and one descriptor row each.
    template_names, template_descriptors
        The round's templates (hand-made and pseudo) and one descriptor row each.
    k : int
        Templates per target (``select.k``).
    true_templates : iterable of str
        The hand-made templates among ``template_names``.
    keep_hand_made : int
        The nearest this many hand-made templates are always among a target's templates
        (``self_training.keep_hand_made``); at least 1, so that no target is predicted from
        pseudo-templates alone.

    Returns
    -------
    dict of str to tuple of str
        Per target, its templates, nearest first (ties by name).
    """
    true = set(true_templates)
    names = np.asarray([str(n) for n in template_names])
    distances = pairwise_distances(target_descriptors, template_descriptors)
    by_name = np.argsort(names, kind="stable")
    chosen = {}
    for row, target in enumerate(target_names):
        order = [j for j in by_name[np.argsort(distances[row][by_name], kind="stable")]]
        order = [j for j in order if names[j] != target]
        forced = [j for j in order if names[j] in true][:keep_hand_made]
        rest = [j for j in order if j not in forced][: max(0, k - len(forced))]
        picked = sorted(forced + rest, key=order.index)
        chosen[str(target)] = tuple(str(names[j]) for j in picked)
    return chosen


def chunks_by_templates(
    targets: Sequence[str], assigned: Mapping[str, Sequence[str]], chunk_length: int
) -> list[Chunk]:
    """The round's chunks: targets that name the same templates share one (at most
    ``chunk_length`` targets), whose templates are exactly those.

    An engine that conditions on every template of a chunk (SAM 2) thus never sees a target's
    own earlier prediction as a template; an engine that fuses per target (registration) gives
    the same labels however the targets are chunked.

    Parameters
    ----------
    targets : sequence of str
        The round's targets, in the shard's order (groups keep it).
    assigned : Mapping of str to sequence of str
        Each target's templates (:func:`assign_templates`).
    chunk_length : int
        ``order.chunk_length``.

    Returns
    -------
    list of Chunk
        For :func:`traitrack.propagation.predict_chunks`.

    Raises
    ------
    ValueError
        If a target names itself as a template.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for target in targets:
        names = tuple(assigned[target])
        if target in names:
            raise ValueError(f"target {target!r} names itself as a template")
        groups.setdefault(names, []).append(target)
    return [
        Chunk(
            list(names),
            members[start : start + chunk_length],
            {t: list(names) for t in members[start : start + chunk_length]},
        )
        for names, members in groups.items()
        for start in range(0, len(members), chunk_length)
    ]
