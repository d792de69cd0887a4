"""Agreement between predicted and ground-truth label maps, per image and summarised.

The unit is the *mask*: one structure in one image.  A structure absent from both the
prediction and the truth says nothing about the engine, so its IoU is NaN and it is left out
of every mean and share; a structure present in only one of them is a miss (IoU 0) and counts.

Typical use::

    rows = [{"specimen": s, "species": sp, "engine": e, **evaluate_pair(pred, truth, table)}
            for ...]
    table = evaluation_table(rows)                       # one row per image
    summary = summarise_evaluation(table, by=("species",))  # per species, plus an "all" row

Columns written by :func:`evaluate_pair` and read by :func:`summarise_evaluation`:
``miou`` (mean IoU of the image's masks), ``iou_<structure>`` per structure, ``n_masks``
(masks present in truth or prediction) and ``share_iou_gt_0.7`` (share of those masks with
IoU above the threshold; the column name follows the threshold).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from traitrack.silhouette import nearest_source_labels
from traitrack.structures import StructureTable

IOU_THRESHOLD = 0.7
ALL = "all"


class EvaluationError(ValueError):
    """Prediction and truth cannot be compared (different sizes, missing columns)."""


def class_iou(pred: np.ndarray, truth: np.ndarray, labels: Sequence[int]) -> dict[int, float]:
    """Intersection over union per label.

    Returns NaN for a label absent from both maps (so it does not count in means) and 0 for a
    label present in only one of them.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise EvaluationError(
            f"prediction shape {pred.shape} differs from ground truth shape {truth.shape}; "
            "the ground-truth mask must belong to the same image as the prediction"
        )
    ious = {}
    for label in labels:
        in_pred, in_truth = pred == label, truth == label
        union = np.count_nonzero(in_pred | in_truth)
        intersection = np.count_nonzero(in_pred & in_truth)
        ious[int(label)] = intersection / union if union else float("nan")
    return ious


def mean_iou(ious: Mapping[int, float]) -> float:
    """Mean over the labels present in truth or prediction (NaN entries skipped); NaN if none.

    Background is excluded by not passing label 0 to :func:`class_iou`.
    """
    return nanmean(list(ious.values()))


def share_above(ious: Sequence[float], threshold: float = IOU_THRESHOLD) -> float:
    """Share of the non-NaN IoUs strictly above ``threshold``; NaN if there are none."""
    values = np.asarray(ious, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.mean(values > threshold)) if values.size else float("nan")


def share_column(threshold: float = IOU_THRESHOLD) -> str:
    return f"share_iou_gt_{threshold:g}"


def evaluate_pair(
    pred: np.ndarray,
    truth: np.ndarray,
    structures: StructureTable,
    threshold: float = IOU_THRESHOLD,
) -> dict[str, float]:
    """Scores of one predicted label map against its ground truth.

    Returns ``{"miou", "iou_<name>" for every structure, "n_masks", "share_iou_gt_<t>"}``.
    """
    ious = class_iou(pred, truth, structures.labels)
    result: dict[str, float] = {"miou": mean_iou(ious)}
    result.update({f"iou_{s.name}": ious[s.label] for s in structures})
    result["n_masks"] = int(np.count_nonzero(~np.isnan(list(ious.values()))))
    result[share_column(threshold)] = share_above(list(ious.values()), threshold)
    return result


def evaluation_table(rows: Sequence[Mapping]) -> pd.DataFrame:
    """One row per evaluated image, identifying columns first, then ``miou`` and the IoUs.

    ``rows`` are dicts of identifiers (specimen, species, engine ...) merged with
    :func:`evaluate_pair`'s result.  Structures missing from some rows (different structure
    tables) become NaN, which the summaries treat as "absent".
    """
    table = pd.DataFrame(list(rows))
    if table.empty:
        return table
    scores = [c for c in table.columns if c == "miou" or c.startswith("iou_")]
    tail = [c for c in table.columns if c == "n_masks" or c.startswith("share_iou_gt_")]
    identifiers = [c for c in table.columns if c not in scores and c not in tail]
    return table[identifiers + scores + tail]


def summarise_evaluation(
    table: pd.DataFrame,
    by: Sequence[str] = ("species",),
    threshold: float = IOU_THRESHOLD,
    overall: bool = True,
) -> pd.DataFrame:
    """Summary per group of :func:`evaluation_table`'s rows.

    Per group: ``n_images``; ``miou`` (mean over images of the per-image mIoU);
    ``iou_<name>`` (mean over images where the structure was present in truth or
    prediction); ``n_masks``; and ``share_iou_gt_<t>``, pooled over all masks of the group
    (not a mean of per-image shares, so images with many masks weigh more, as masks are the
    unit being counted).

    With ``overall`` (the default), rows aggregating over the last ``by`` key are appended,
    with that key set to ``"all"``: ``by=("species",)`` adds one overall row, and
    ``by=("engine", "species")`` adds one overall row per engine, so engines are never mixed.
    """
    by = list(by)
    missing = [c for c in [*by, "miou"] if c not in table.columns]
    if missing:
        raise EvaluationError(
            f"evaluation table lacks columns {missing}; build it with evaluation_table() "
            "from evaluate_pair() results that carry these identifiers"
        )
    iou_columns = [c for c in table.columns if c.startswith("iou_")]
    parts = [_summarise_groups(table, by, iou_columns, threshold)]
    if overall and not table.empty:
        pooled = table.assign(**{by[-1]: ALL})
        parts.append(_summarise_groups(pooled, by, iou_columns, threshold))
    return pd.concat(parts, ignore_index=True)


def _summarise_groups(
    table: pd.DataFrame, by: list[str], iou_columns: list[str], threshold: float
) -> pd.DataFrame:
    records = []
    for key, group in table.groupby(by, sort=True, dropna=False):
        ious = group[iou_columns].to_numpy(dtype=float)
        record = dict(zip(by, key))
        record["n_images"] = len(group)
        record["miou"] = nanmean(group["miou"].to_numpy(dtype=float))
        record.update({c: nanmean(group[c].to_numpy(dtype=float)) for c in iou_columns})
        record["n_masks"] = int(np.count_nonzero(~np.isnan(ious)))
        record[share_column(threshold)] = share_above(ious.ravel(), threshold)
        records.append(record)
    columns = [*by, "n_images", "miou", *iou_columns, "n_masks", share_column(threshold)]
    return pd.DataFrame(records, columns=columns)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation over the pairs where both values are finite.

    NaN when fewer than three such pairs remain or either side is constant, rather than a
    warning and a misleading number (used to ask whether QC scores rank true quality).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise EvaluationError(f"spearman needs paired values, got {x.shape} and {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(x, y).statistic)


def nanmean(values) -> float:
    """Mean over the non-NaN values, NaN (without a warning) when there are none."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def spearman_interval(
    x: Sequence[float], y: Sequence[float], draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% bootstrap interval of :func:`spearman` over resampled pairs.

    Why: a QC correlation from 40 targets moves by about 0.1 when a few targets change, so a
    number near a goal says little without its interval.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, x.size, size=(draws, x.size))
    values = np.array([spearman(x[p], y[p]) for p in picks])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def with_true_outline(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The prediction's part labels inside the true outline (all annotated structures), the
    outline's unlabelled pixels given the nearest predicted label, nothing outside it.

    Why: scored against the truth this is what the predicted *arrangement* of parts is worth
    with a perfect foreground, the ceiling of any foreground fix (a benchmark diagnostic).
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise EvaluationError(f"prediction {pred.shape} and truth {truth.shape} differ in size")
    outline = truth > 0
    inside = np.where(outline, pred, 0)
    if not inside.any():
        return inside
    return np.where(outline, nearest_source_labels(inside, inside > 0), 0)


def outline_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """IoU of the predicted and the true outline (any structure against background)."""
    pred, truth = np.asarray(pred) > 0, np.asarray(truth) > 0
    union = np.count_nonzero(pred | truth)
    return float(np.count_nonzero(pred & truth) / union) if union else float("nan")
