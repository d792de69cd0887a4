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
* the QC round trip goes back to hand-made templates only (:func:`run_round`), so a target is
  never scored against its own earlier prediction.

The registration engine fuses pseudo-templates with a prior weight below 1
(``self_training.pseudo_weight``, its ``template_priors``); an engine that tracks a chunk
(SAM 2) gets them as extra conditioning frames.  Everything here is engine-agnostic: it builds
:class:`~traitrack.engines.base.Frame` chunks and calls ``Engine.propagate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from traitrack.describe import pairwise_distances
from traitrack.engines.base import Engine, Frame, Prediction
from traitrack.qc import evidence_of, round_trip, summarise_round_trips
from traitrack.structures import StructureTable


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


def pseudo_template_frames(
    chosen: Sequence[str],
    predictions: Mapping[str, np.ndarray],
    images: Mapping[str, np.ndarray],
) -> list[Frame]:
    """Template frames of the chosen specimens, each labelled with its *predicted* masks.

    Parameters
    ----------
    chosen : sequence of str
        The pseudo-templates (:func:`choose_pseudo_templates`).
    predictions : Mapping of str to numpy.ndarray
        Each target's predicted label map from the earlier round.
    images : Mapping of str to numpy.ndarray
        Each specimen's RGB image.

    Returns
    -------
    list of Frame
        One template frame per chosen specimen, in the given order.
    """
    return [Frame(name, images[name], labels=np.asarray(predictions[name])) for name in chosen]


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


@dataclass
class RoundResult:
    """What a propagate round with pseudo-templates gives.

    Attributes
    ----------
    predictions : list of Prediction
        One per target, in the targets' order.
    provenance : pandas.DataFrame
        Per target: ``specimen``, ``templates`` and ``pseudo_templates`` (";"-joined), so the
        outputs say which templates were predictions.
    round_trips : list of dict
        The raw :func:`traitrack.qc.round_trip` rows, going back to hand-made templates only
        (what a shard keeps, for the species' QC ranks at the gather).
    qc : pandas.DataFrame
        :func:`traitrack.qc.summarise_round_trips` of ``round_trips``: the round's QC over
        these targets alone.
    """

    predictions: list[Prediction]
    provenance: pd.DataFrame
    round_trips: list[dict]
    qc: pd.DataFrame


def run_round(
    engine: Engine,
    true_templates: Sequence[Frame],
    pseudo_templates: Sequence[Frame],
    targets: Sequence[Frame],
    structures: StructureTable,
    *,
    pseudo_weight: float = 1.0,
    qc_templates: int = 1,
    chunk_length: int = 16,
    flag_share: float = 0.25,
    qc_threshold: float = 0.0,
) -> RoundResult:
    """Propagate with hand-made and pseudo-templates, then the QC round trip.

    Targets whose ``templates`` name the same templates share a chunk (at most
    ``chunk_length`` targets), whose template frames are exactly those, so that an engine
    which conditions on every template of a chunk (SAM 2) never sees a target's own earlier
    prediction as a template.  A target that names no templates gets all hand-made ones.

    Parameters
    ----------
    engine : Engine
        Any engine; a registration engine (an engine with ``template_priors``) fuses the
        pseudo-templates with ``pseudo_weight``.
    true_templates, pseudo_templates : sequence of Frame
        Hand-made templates and pseudo-templates (:func:`pseudo_template_frames`).
    targets : sequence of Frame
        The round's targets; ``templates`` as :func:`assign_templates` gives them.
    structures : StructureTable
        The part table.
    pseudo_weight : float
        ``self_training.pseudo_weight``.
    qc_templates : int
        ``qc.max_templates``: how many of a target's hand-made templates (in its order) the
        round trip goes back to.
    chunk_length : int
        ``order.chunk_length``.
    flag_share, qc_threshold : float
        ``qc.flag_share`` and ``qc.threshold``.

    Returns
    -------
    RoundResult
        Predictions, provenance and QC.

    Raises
    ------
    ValueError
        If a target names itself, or a template that is neither hand-made nor pseudo.
    """
    frames = {f.specimen: f for f in [*true_templates, *pseudo_templates]}
    true_names = [f.specimen for f in true_templates]
    pseudo_names = {f.specimen for f in pseudo_templates}
    groups: dict[tuple[str, ...], list[Frame]] = {}
    for target in targets:
        names = tuple(target.templates) or tuple(true_names)
        if target.specimen in names:
            raise ValueError(f"target {target.specimen!r} names itself as a template")
        unknown = sorted(set(names) - set(frames))
        if unknown:
            raise ValueError(f"target {target.specimen!r} names unknown templates {unknown}")
        groups.setdefault(names, []).append(Frame(target.specimen, target.image, None, names))
    priors = getattr(engine, "template_priors", None)
    saved = dict(priors) if priors is not None else None
    if priors is not None:
        priors.update({name: float(pseudo_weight) for name in pseudo_names})
    by_target: dict[str, Prediction] = {}
    try:
        for names, members in groups.items():
            for start in range(0, len(members), chunk_length):
                chunk = [frames[n] for n in names] + members[start : start + chunk_length]
                for prediction in engine.propagate(chunk, structures):
                    by_target[prediction.specimen] = prediction
    finally:
        if priors is not None:
            priors.clear()
            priors.update(saved)
    predictions = [by_target[t.specimen] for t in targets]
    rows = []
    for target, prediction in zip(targets, predictions):
        names = tuple(target.templates) or tuple(true_names)
        back = [frames[n] for n in names if n not in pseudo_names][:qc_templates]
        if not back:  # every target keeps at least one hand-made template (assign_templates)
            back = list(true_templates[:1])
        rows += round_trip(
            engine, target, prediction.labels, back, structures, evidence_of(prediction)
        )
    provenance = pd.DataFrame(
        {
            "specimen": [p.specimen for p in predictions],
            "templates": [";".join(p.templates) for p in predictions],
            "pseudo_templates": [
                ";".join(t for t in p.templates if t in pseudo_names) for p in predictions
            ],
        }
    )
    qc = pd.DataFrame(summarise_round_trips(rows, qc_threshold, flag_share))
    return RoundResult(predictions, provenance, rows, qc)
