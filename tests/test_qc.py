"""QC: the round trip, the template agreement, and the score that combines them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from traitrack.engines.base import Frame, Prediction
from traitrack.qc import evidence_of, qc_ranks, qc_score, round_trip, summarise_round_trips
from traitrack.structures import Structure, StructureTable

STRUCTURES = StructureTable((Structure("head", 1, (200, 0, 0)), Structure("body", 2, (0, 0, 200))))


class EchoEngine:
    """Returns, for every target, the first template's labels: a perfect round trip."""

    name = "echo"

    def __init__(self):
        self.chunks = []

    def propagate(self, frames, structures):
        self.chunks.append(frames)
        template = next(f for f in frames if f.labels is not None)
        return [Prediction(f.specimen, template.labels.copy()) for f in frames if f.labels is None]


def labels(shift=0):
    array = np.zeros((20, 20), np.uint8)
    array[2 + shift : 8 + shift, 5:15] = 1
    array[8 + shift : 18, 5:15] = 2
    return array


def test_round_trip_sends_the_prediction_back_onto_the_templates():
    engine = EchoEngine()
    target = Frame("t", np.zeros((20, 20, 3), np.uint8))
    templates = [
        Frame("a", np.zeros((20, 20, 3), np.uint8), labels()),
        Frame("b", np.zeros((20, 20, 3), np.uint8), labels(2)),
    ]
    evidence = evidence_of(
        Prediction(
            "t",
            labels(),
            evidence={"agreement": 0.8, "edge_agreement": 0.9, "single_template_agreement": 0.7},
        )
    )
    rows = round_trip(engine, target, labels(), templates, STRUCTURES, evidence)
    (chunk,) = engine.chunks
    assert chunk[0].specimen == "t" and np.array_equal(chunk[0].labels, labels())
    assert all(frame.labels is None for frame in chunk[1:])  # templates' truth is not passed on
    assert [r["template"] for r in rows] == ["a", "b"]
    assert rows[0]["round_trip_miou"] == 1.0 and rows[1]["round_trip_miou"] < 1.0
    assert rows[0]["agreement"] == 0.8 and rows[1]["edge_agreement"] == 0.9
    assert rows[1]["single_template_agreement"] == 0.7
    bare = round_trip(EchoEngine(), target, labels(), templates, STRUCTURES)
    assert math.isnan(bare[0]["agreement"]) and math.isnan(bare[0]["edge_agreement"])


def test_qc_score_is_round_trip_times_the_evidence_and_round_trip_alone_without_it():
    assert qc_score(0.8, 0.5) == pytest.approx(0.4)
    assert qc_score(0.8, 0.5, 0.5) == pytest.approx(0.2)
    assert qc_score(0.8, float("nan"), float("nan")) == pytest.approx(0.8)
    assert qc_score(0.8) == pytest.approx(0.8)
    np.testing.assert_allclose(qc_score([0.5, 0.9], [1.2, -1.0]), [0.5, 0.0])


def test_summary_flags_a_consistent_round_trip_when_templates_disagree():
    rows = [
        {
            "specimen": "good",
            "template": "a",
            "iou_head": 0.9,
            "round_trip_miou": 0.9,
            "agreement": 0.9,
        },
        {
            "specimen": "flipped",
            "template": "a",
            "iou_head": 0.9,
            "round_trip_miou": 0.9,
            "agreement": 0.3,
        },
        {
            "specimen": "sam2",
            "template": "a",
            "iou_head": 0.7,
            "round_trip_miou": 0.7,
            "agreement": float("nan"),
        },
    ]
    summary = {row["specimen"]: row for row in summarise_round_trips(rows, threshold=0.5)}
    assert not summary["good"]["flagged"] and summary["flipped"]["flagged"]
    assert summary["flipped"]["round_trip_miou"] == 0.9
    assert summary["flipped"]["qc_score"] == pytest.approx(0.27)
    assert summary["sam2"]["qc_score"] == pytest.approx(0.7) and not summary["sam2"]["flagged"]
    assert math.isnan(summary["sam2"]["agreement"])


def test_summary_flags_a_prediction_whose_boundaries_the_target_edges_move():
    rows = [
        {
            "specimen": "fits",
            "template": "a",
            "iou_head": 0.8,
            "round_trip_miou": 0.8,
            "agreement": 0.9,
            "edge_agreement": 0.95,
        },
        {
            "specimen": "off",
            "template": "a",
            "iou_head": 0.8,
            "round_trip_miou": 0.8,
            "agreement": 0.9,
            "edge_agreement": 0.5,
        },
    ]
    summary = {row["specimen"]: row for row in summarise_round_trips(rows, threshold=0.5)}
    assert not summary["fits"]["flagged"] and summary["off"]["flagged"]
    assert summary["off"]["qc_score"] == pytest.approx(0.36)
    assert summary["off"]["edge_agreement"] == 0.5


def test_summary_flags_a_prediction_that_its_templates_alone_would_not_make():
    """Templates that agree on the compact parts but, each alone, put the eye elsewhere."""
    rows = [
        {
            "specimen": specimen,
            "template": "a",
            "iou_head": 0.8,
            "round_trip_miou": 0.8,
            "agreement": 0.9,
            "edge_agreement": 0.9,
            "single_template_agreement": alone,
        }
        for specimen, alone in (("sure", 0.9), ("unsure", 0.4))
    ]
    summary = {row["specimen"]: row for row in summarise_round_trips(rows, threshold=0.5)}
    assert not summary["sure"]["flagged"] and summary["unsure"]["flagged"]
    assert summary["unsure"]["qc_score"] == pytest.approx(0.8 * 0.9 * 0.9 * 0.4)
    assert summary["unsure"]["qc_rank"] < summary["sure"]["qc_rank"]


def test_the_lowest_quarter_by_rank_is_flagged_whatever_the_scores():
    """Eight targets whose scores all lie above the threshold: the two that rank lowest over
    the round trip and both pieces of evidence are flagged, not the one the product (decided
    by the round trip's wide spread) puts lowest."""
    signals = {  # round trip, agreement, edge agreement
        "a": (0.90, 0.95, 0.99),
        "b": (0.85, 0.90, 0.98),
        "c": (0.80, 0.92, 0.97),
        "d": (0.75, 0.91, 0.96),
        "e": (0.70, 0.94, 0.95),
        "poor_evidence": (0.72, 0.60, 0.80),
        "poorer": (0.71, 0.62, 0.81),
        "low_round_trip": (0.30, 0.96, 0.995),
    }
    rows = [
        {
            "specimen": name,
            "template": "t",
            "iou_head": rt,
            "round_trip_miou": rt,
            "agreement": agreement,
            "edge_agreement": edges,
        }
        for name, (rt, agreement, edges) in signals.items()
    ]
    summary = {row["specimen"]: row for row in summarise_round_trips(rows, threshold=0.2)}
    assert min(summary, key=lambda name: summary[name]["qc_score"]) == "low_round_trip"
    assert {name for name, row in summary.items() if row["flagged"]} == {"poor_evidence", "poorer"}
    assert all(0 < row["qc_rank"] <= 1 for row in summary.values())
    # no share: the threshold alone flags; a NaN round trip is always flagged
    by_threshold = summarise_round_trips(rows, threshold=0.3, flag_share=0.0)
    assert {row["specimen"] for row in by_threshold if row["flagged"]} == {"low_round_trip"}
    rows[0]["round_trip_miou"] = float("nan")
    assert summarise_round_trips(rows, threshold=0.0, flag_share=0.0)[0]["flagged"]


def test_ranks_leave_out_missing_evidence():
    ranks = qc_ranks([0.2, 0.8, 0.5], [float("nan")] * 3)
    np.testing.assert_allclose(ranks, [1 / 3, 1.0, 2 / 3])
