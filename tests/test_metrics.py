"""IoU and summaries on hand-made label maps with exact answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from traitrack.metrics import (
    EvaluationError,
    class_iou,
    evaluate_pair,
    evaluation_table,
    mean_iou,
    outline_iou,
    share_above,
    spearman,
    spearman_interval,
    summarise_evaluation,
    with_true_outline,
)
from traitrack.structures import Structure, StructureTable


@pytest.fixture
def table() -> StructureTable:
    return StructureTable(
        structures=(
            Structure("head", 1, (255, 0, 0)),
            Structure("body", 2, (0, 255, 0)),
            Structure("eye", 3, (0, 0, 255)),
        )
    )


def square(top: int, left: int, size: int = 10, label: int = 1, shape=(40, 40)) -> np.ndarray:
    labels = np.zeros(shape, dtype=np.uint8)
    labels[top : top + size, left : left + size] = label
    return labels


def test_perfect_prediction():
    truth = square(5, 5)
    assert class_iou(truth, truth, [1]) == {1: 1.0}


def test_disjoint_prediction_scores_zero():
    assert class_iou(square(0, 0), square(20, 20), [1]) == {1: 0.0}


def test_half_shifted_squares_score_one_third():
    # overlap 50 px, union 150 px
    assert class_iou(square(5, 5), square(5, 10), [1])[1] == pytest.approx(1 / 3, abs=1e-12)


def test_class_absent_from_both_is_nan_and_ignored():
    ious = class_iou(square(5, 5), square(5, 5), [1, 2])
    assert ious[1] == 1.0 and math.isnan(ious[2])
    assert mean_iou(ious) == 1.0


def test_class_predicted_but_absent_from_truth_counts_as_zero():
    pred = square(5, 5) + square(25, 25, label=2)
    ious = class_iou(pred, square(5, 5), [1, 2])
    assert ious == {1: 1.0, 2: 0.0}
    assert mean_iou(ious) == 0.5


def test_mean_iou_of_nothing_is_nan():
    assert math.isnan(mean_iou({}))
    assert math.isnan(mean_iou({1: float("nan")}))


def test_shape_mismatch_is_rejected():
    with pytest.raises(EvaluationError, match="shape"):
        class_iou(np.zeros((4, 4)), np.zeros((4, 5)), [1])


def test_evaluate_pair_reports_every_structure(table):
    truth = square(0, 0, label=1) + square(20, 20, label=2)
    pred = square(0, 0, label=1) + square(20, 25, label=2)  # body shifted by half
    result = evaluate_pair(pred, truth, table)
    assert result["iou_head"] == 1.0
    assert result["iou_body"] == pytest.approx(1 / 3)
    assert math.isnan(result["iou_eye"])
    assert result["miou"] == pytest.approx((1 + 1 / 3) / 2)
    assert result["n_masks"] == 2
    assert result["share_iou_gt_0.7"] == 0.5


def test_share_above_is_strict_and_skips_nan():
    assert share_above([0.7, 0.71, float("nan"), 0.2]) == pytest.approx(1 / 3)
    assert math.isnan(share_above([float("nan")]))


def test_summary_per_species_and_overall(table):
    rows = [
        {
            "specimen": "a1",
            "species": "ant",
            "miou": 0.9,
            "iou_head": 0.9,
            "iou_body": float("nan"),
        },
        {"specimen": "a2", "species": "ant", "miou": 0.5, "iou_head": 0.6, "iou_body": 0.4},
        {"specimen": "b1", "species": "bee", "miou": 0.8, "iou_head": 0.8, "iou_body": 0.8},
    ]
    evaluation = evaluation_table(rows)
    assert list(evaluation.columns[:3]) == ["specimen", "species", "miou"]
    summary = summarise_evaluation(evaluation).set_index("species")
    assert list(summary.index) == ["ant", "bee", "all"]
    ant = summary.loc["ant"]
    assert ant.n_images == 2 and ant.n_masks == 3
    assert ant.miou == pytest.approx(0.7)
    assert ant.iou_head == pytest.approx(0.75)
    assert ant.iou_body == pytest.approx(0.4)  # NaN (absent) ignored
    assert ant["share_iou_gt_0.7"] == pytest.approx(1 / 3)
    overall = summary.loc["all"]
    assert overall.n_images == 3 and overall.n_masks == 5
    assert overall["share_iou_gt_0.7"] == pytest.approx(3 / 5)  # pooled over masks
    assert overall.miou == pytest.approx((0.9 + 0.5 + 0.8) / 3)


def test_overall_rows_keep_outer_groups_apart():
    rows = [
        {"engine": "reg", "species": "ant", "miou": 0.2, "iou_head": 0.2},
        {"engine": "reg", "species": "bee", "miou": 0.4, "iou_head": 0.4},
        {"engine": "sam2", "species": "ant", "miou": 0.9, "iou_head": 0.9},
    ]
    summary = summarise_evaluation(evaluation_table(rows), by=("engine", "species"))
    overall = summary[summary.species == "all"].set_index("engine")
    assert overall.loc["reg", "miou"] == pytest.approx(0.3)
    assert overall.loc["sam2", "miou"] == pytest.approx(0.9)


def test_summary_needs_its_group_columns():
    with pytest.raises(EvaluationError, match="species"):
        summarise_evaluation(evaluation_table([{"miou": 0.5}]))


def test_spearman_ranks_and_nan_safety():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, np.nan, 3, 4], [1, 4, 5, 9, 16]) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 2], [1, 2]))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_true_outline_keeps_the_arrangement_and_drops_the_foreground_errors():
    truth = np.zeros((4, 6), int)
    truth[1:3, 0:3], truth[1:3, 3:6] = 1, 2
    pred = np.zeros((4, 6), int)
    pred[0:3, 0:2], pred[0:3, 4:6] = 1, 2  # one row too many, the middle columns missed
    imposed = with_true_outline(pred, truth)
    assert outline_iou(pred, truth) == pytest.approx(8 / 16)
    assert (imposed[0] == 0).all() and (imposed[3] == 0).all()
    assert imposed[1].tolist() == [1, 1, 1, 2, 2, 2]  # each gap pixel takes the nearer part
    assert with_true_outline(np.zeros_like(truth), truth).max() == 0


def test_true_outline_refuses_maps_of_different_sizes():
    with pytest.raises(EvaluationError):
        with_true_outline(np.zeros((2, 2), int), np.zeros((3, 2), int))


def test_spearman_interval_brackets_the_estimate_and_narrows_with_more_pairs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    low, high = spearman_interval(x[:30], y[:30])
    wide = high - low
    assert low < spearman(x[:30], y[:30]) < high
    low, high = spearman_interval(x, y)
    assert low < spearman(x, y) < high and high - low < wide
    assert math.isnan(spearman_interval(np.ones(5), np.arange(5.0))[0])
