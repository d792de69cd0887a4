"""Cycle-consistency QC: score a prediction without ground truth by the round trip.

For a target, its predicted masks become the only template of a fresh chunk whose targets are
the template(s) it was predicted from; the engine transfers the masks back, and the IoU against
the template's true masks scores the forward prediction.  A fresh ``propagate`` call carries no
state of the forward pass (the protocol requires every call to start from an empty memory).

The round trip is blind to a consistent mistake: a specimen segmented head-to-tail maps back
onto its template just as well, and a registration maps its own labels back whether or not
they fit the target.  So the QC score also takes the forward prediction's own evidence
(:data:`EVIDENCE`): how well its templates agree, how much of its part boundaries the
target's own edges confirm, and how well what each template predicts alone agrees with the
fused prediction (small and thin parts included).  Engines that have no such evidence leave
it NaN, and the round trip stands alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import rankdata

from traitrack.engines.base import Engine, Frame, Prediction
from traitrack.metrics import class_iou, mean_iou, nanmean
from traitrack.structures import StructureTable

EVIDENCE = ("agreement", "edge_agreement", "single_template_agreement")
"""The :class:`Prediction` fields (0..1, NaN when the engine has none) that the QC carries."""


def round_trip(
    engine: Engine,
    target: Frame,
    predicted: np.ndarray,
    templates: Sequence[Frame],
    structures: StructureTable,
    evidence: Mapping[str, float] | None = None,
) -> list[dict]:
    """Carry a target's predicted masks back onto its templates and score them there.

    Parameters
    ----------
    engine : Engine
        The engine that made the forward prediction; a fresh :meth:`Engine.propagate` call.
    target : Frame
        The target frame (its image; labels are ignored).
    predicted : numpy.ndarray
        The target's predicted label map from the forward pass.
    templates : sequence of Frame
        Template frames with their true labels.
    structures : StructureTable
        The part table.
    evidence : Mapping of str to float, optional
        The forward prediction's :data:`EVIDENCE` (see :func:`evidence_of`), carried into the
        rows for :func:`summarise_round_trips`.

    Returns
    -------
    list of dict
        One row per template: ``specimen``, ``template``, ``iou_<structure>`` of the masks
        carried target -> template, their mean ``round_trip_miou``, and the evidence.
    """
    chunk = [Frame(target.specimen, target.image, labels=predicted)] + [
        Frame(t.specimen, t.image, labels=None) for t in templates
    ]
    backward: list[Prediction] = engine.propagate(chunk, structures)
    rows = []
    for template, prediction in zip(templates, backward):
        ious = class_iou(prediction.labels, template.labels, structures.labels)
        row = {"specimen": target.specimen, "template": template.specimen}
        row.update(
            {f"iou_{structures.by_label(label).name}": value for label, value in ious.items()}
        )
        row["round_trip_miou"] = mean_iou(ious)
        row.update({key: float((evidence or {}).get(key, np.nan)) for key in EVIDENCE})
        rows.append(row)
    return rows


def evidence_of(prediction: Prediction) -> dict[str, float]:
    """Return the QC evidence a forward prediction carries (see :data:`EVIDENCE`).

    Parameters
    ----------
    prediction : Prediction
        A forward prediction.

    Returns
    -------
    dict of str to float
        One entry per :data:`EVIDENCE` field, NaN where the engine has none.
    """
    return {key: float(prediction.evidence.get(key, np.nan)) for key in EVIDENCE}


def summarise_round_trips(
    rows: Sequence[Mapping], threshold: float, flag_share: float = 0.25
) -> list[dict]:
    """Summarise a species' round trips per target: means, the QC score and rank, a flag.

    Parameters
    ----------
    rows : sequence of Mapping
        :func:`round_trip` rows of one species' targets.
    threshold : float
        ``qc.threshold``: a target whose ``qc_score`` is NaN or below it is flagged.
    flag_share : float
        ``qc.flag_share``: the share of the targets lowest by ``qc_rank`` (see
        :func:`qc_ranks`) that is flagged; a quarter by default, none of a species with fewer
        than 1 / flag_share targets.

    Returns
    -------
    list of dict
        One row per target: ``specimen``, ``templates``, the means over its templates of
        ``iou_<structure>``, ``round_trip_miou`` and the evidence, then ``qc_score``,
        ``qc_rank`` and ``flagged``.
    """
    by_target: dict[str, list[Mapping]] = {}
    for row in rows:
        by_target.setdefault(row["specimen"], []).append(row)
    summary = []
    for specimen, group in by_target.items():
        out = {"specimen": specimen, "templates": ";".join(r["template"] for r in group)}
        keys = [k for k in group[0] if k.startswith("iou_")]
        for key in keys:
            out[key] = nanmean([r[key] for r in group])
        out["round_trip_miou"] = nanmean([r["round_trip_miou"] for r in group])
        for key in EVIDENCE:
            out[key] = nanmean([r.get(key, float("nan")) for r in group])
        out["qc_score"] = float(qc_score(out["round_trip_miou"], *(out[k] for k in EVIDENCE)))
        summary.append(out)
    signals = [[out["round_trip_miou"] for out in summary]]
    signals += [[out[key] for out in summary] for key in EVIDENCE]
    ranks = qc_ranks(*signals)
    lowest = set(np.argsort(ranks, kind="stable")[: int(flag_share * len(summary) + 1e-9)])
    for index, out in enumerate(summary):
        out["qc_rank"] = float(ranks[index])
        out["flagged"] = bool(
            index in lowest or np.isnan(out["qc_score"]) or out["qc_score"] < threshold
        )
    return summary


def qc_ranks(round_trip_miou, *evidence) -> np.ndarray:
    """Return each target's mean percentile rank among its species' targets over the signals.

    The rank (0..1, 1 best) is averaged over the round trip and each piece of evidence; NaN
    evidence is left out, and a NaN round trip ranks lowest.

    Ranks rather than the product (:func:`qc_score`), which the signal with the widest spread
    decides (the round trip; the edge agreement varies least, so counts least), weigh the
    signals alike.  ``benchmarks/registration_real.py`` prints both, each with its Spearman
    correlation with the true mIoU and the share of the truly worst quarter that its lowest
    quarter holds.

    Parameters
    ----------
    round_trip_miou : array_like
        The targets' round-trip mIoU.
    *evidence : array_like
        Further signals (0..1, NaN where missing), one value per target each.

    Returns
    -------
    numpy.ndarray
        The mean percentile rank of every target.
    """
    columns = [np.nan_to_num(np.asarray(round_trip_miou, dtype=float), nan=-1.0)]
    columns += [np.asarray(factor, dtype=float) for factor in evidence]
    count = len(columns[0])
    percentiles = []
    for column in columns:
        known = ~np.isnan(column)
        percentile = np.full(count, np.nan)
        percentile[known] = rankdata(column[known]) / max(1, known.sum())
        percentiles.append(percentile)
    # the round trip is never NaN, so no column of the mean is empty
    return np.nanmean(np.vstack(percentiles), axis=0)


def qc_score(round_trip_miou, *evidence):
    """Return the QC score: round-trip mIoU times each piece of the prediction's evidence.

    The round trip alone is blind to a consistent mistake (a head-tail flip maps back onto the
    template just as well) and, for a registration, to labels that fit its template but not
    the target; templates that disagree about where the parts are, and part boundaries that
    the target's own edges move, and templates that each alone would place the small and thin
    parts elsewhere, reveal those.  Evidence that is missing (NaN: an engine without it, or a
    single template, which agrees with itself) counts as 1.  Every piece of evidence enters
    the product, rather than the subset that correlates best on each benchmark set, so that
    the QC is not fitted to the benchmark's targets; ``benchmarks/registration_real.py``
    prints the Spearman correlation with the true mIoU of each signal and of the product.

    Parameters
    ----------
    round_trip_miou : float or array_like
        The round-trip mIoU (0..1).
    *evidence : float or array_like
        The prediction's :data:`EVIDENCE`, each 0..1 or NaN; clipped to 0..1.

    Returns
    -------
    numpy.ndarray
        The score (0..1; a 0-d array for scalar input), NaN where the round trip is NaN.
    """
    score = np.asarray(round_trip_miou, dtype=float)
    for factor in evidence:
        factor = np.nan_to_num(np.asarray(factor, dtype=float), nan=1.0)
        score = score * np.clip(factor, 0.0, 1.0)
    return score
