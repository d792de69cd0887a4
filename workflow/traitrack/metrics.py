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
    """Compute the intersection over union per label.

    Parameters
    ----------
    pred, truth : numpy.ndarray
        Label maps of one image, the same shape.
    labels : sequence of int
        The labels to score (leave out 0 to exclude background).

    Returns
    -------
    dict of int to float
        IoU per label: NaN for a label absent from both maps (so it does not count in means),
        0 for a label present in only one of them.

    Raises
    ------
    EvaluationError
        If the maps differ in shape.
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
    """Average the IoUs of the labels present in truth or prediction (NaN entries skipped).

    Background is excluded by not passing label 0 to :func:`class_iou`.

    Parameters
    ----------
    ious : Mapping of int to float
        :func:`class_iou`'s result.

    Returns
    -------
    float
        The mean; NaN if no label is present.
    """
    return nanmean(list(ious.values()))


def share_above(ious: Sequence[float], threshold: float = IOU_THRESHOLD) -> float:
    """Return the share of the non-NaN IoUs strictly above ``threshold``.

    Parameters
    ----------
    ious : sequence of float
        IoUs of masks; NaN (absent from both maps) is left out.
    threshold : float
        The IoU a mask must exceed.

    Returns
    -------
    float
        The share, 0..1; NaN if there is no non-NaN IoU.
    """
    values = np.asarray(ious, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.mean(values > threshold)) if values.size else float("nan")


def share_column(threshold: float = IOU_THRESHOLD) -> str:
    """Return the name of the share column for ``threshold`` (``share_iou_gt_0.7``).

    Parameters
    ----------
    threshold : float
        The IoU threshold.

    Returns
    -------
    str
        The column name.
    """
    return f"share_iou_gt_{threshold:g}"


def evaluate_pair(
    pred: np.ndarray,
    truth: np.ndarray,
    structures: StructureTable,
    threshold: float = IOU_THRESHOLD,
) -> dict[str, float]:
    """Score one predicted label map against its ground truth.

    Parameters
    ----------
    pred, truth : numpy.ndarray
        The predicted and the true label map of one image.
    structures : StructureTable
        The part table; every structure gets a column.
    threshold : float
        The IoU threshold of the share column.

    Returns
    -------
    dict of str to float
        ``miou``, ``iou_<name>`` for every structure, ``n_masks`` and ``share_iou_gt_<t>``.
    """
    ious = class_iou(pred, truth, structures.labels)
    result: dict[str, float] = {"miou": mean_iou(ious)}
    result.update({f"iou_{s.name}": ious[s.label] for s in structures})
    result["n_masks"] = int(np.count_nonzero(~np.isnan(list(ious.values()))))
    result[share_column(threshold)] = share_above(list(ious.values()), threshold)
    return result


def evaluation_table(rows: Sequence[Mapping]) -> pd.DataFrame:
    """Build the evaluation table: one row per image, identifiers, then ``miou`` and the IoUs.

    Structures missing from some rows (different structure tables) become NaN, which the
    summaries treat as "absent".

    Parameters
    ----------
    rows : sequence of Mapping
        Dicts of identifiers (specimen, species, engine ...) merged with
        :func:`evaluate_pair`'s result.

    Returns
    -------
    pandas.DataFrame
        Identifying columns first, then ``miou`` and ``iou_<name>``, then ``n_masks`` and the
        share column; an empty frame for no rows.
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
    """Summarise :func:`evaluation_table`'s rows per group.

    Per group: ``n_images``; ``miou`` (mean over images of the per-image mIoU);
    ``iou_<name>`` (mean over images where the structure was present in truth or
    prediction); ``n_masks``; and ``share_iou_gt_<t>``, pooled over all masks of the group
    (not a mean of per-image shares, so images with many masks weigh more, as masks are the
    unit being counted).

    With ``overall`` (the default), rows aggregating over the last ``by`` key are appended,
    with that key set to ``"all"``: ``by=("species",)`` adds one overall row, and
    ``by=("engine", "species")`` adds one overall row per engine, so engines are never mixed.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`evaluation_table`'s result.
    by : sequence of str
        The grouping columns.
    threshold : float
        The IoU threshold of the share column.
    overall : bool
        Append the rows that pool the last ``by`` key.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``n_images``, ``miou``, ``iou_<name>``,
        ``n_masks`` and the share column.

    Raises
    ------
    EvaluationError
        If ``table`` lacks a ``by`` column or ``miou``.
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
    """Compute the Spearman rank correlation over the pairs where both values are finite.

    Used to ask whether QC scores rank true quality.

    Parameters
    ----------
    x, y : sequence of float
        Paired values.

    Returns
    -------
    float
        The correlation; NaN when fewer than three finite pairs remain or either side is
        constant, rather than a warning and a misleading number.

    Raises
    ------
    EvaluationError
        If ``x`` and ``y`` differ in shape.
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
    """Average the non-NaN values; NaN (without a warning) when there are none.

    Parameters
    ----------
    values : array_like
        Numbers, NaN allowed.

    Returns
    -------
    float
        The mean of the non-NaN values, or NaN.
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def spearman_interval(
    x: Sequence[float], y: Sequence[float], draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Return the 95% bootstrap interval of :func:`spearman` over resampled pairs.

    Why: a correlation over a few dozen targets moves noticeably when a few targets change, so
    a number near a goal says little without its interval.

    Parameters
    ----------
    x, y : sequence of float
        Paired values.
    draws : int
        Bootstrap resamples.
    seed : int
        Seeds the resampling.

    Returns
    -------
    low, high : float
        The 2.5th and 97.5th percentiles; NaN if no resample gives a correlation.
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
    """Impose the true outline on a prediction, keeping its arrangement of parts.

    The result has the prediction's part labels inside the true outline (all annotated
    structures), the outline's unlabelled pixels given the nearest predicted label, and nothing
    outside it.  Why: scored against the truth this is what the predicted *arrangement* of
    parts is worth with a perfect foreground, the ceiling of any foreground fix (a benchmark
    diagnostic).

    Parameters
    ----------
    pred, truth : numpy.ndarray
        The predicted and the true label map of one image.

    Returns
    -------
    numpy.ndarray
        A label map of the same shape; all 0 if no predicted part lies inside the outline.

    Raises
    ------
    EvaluationError
        If the maps differ in shape.
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
    """Compute the IoU of the predicted and the true outline (any structure against background).

    Parameters
    ----------
    pred, truth : numpy.ndarray
        The predicted and the true label map of one image.

    Returns
    -------
    float
        The IoU; NaN when both are empty.
    """
    pred, truth = np.asarray(pred) > 0, np.asarray(truth) > 0
    union = np.count_nonzero(pred | truth)
    return float(np.count_nonzero(pred & truth) / union) if union else float("nan")
