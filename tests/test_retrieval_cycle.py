"""The cycle score of retrieval: forward from the query, backward from the candidate."""

import numpy as np
import pandas as pd
from test_retrieval import (
    STRUCTURES,
    test_the_stage_writes_a_ranked_table_with_qc_and_a_contact_sheet,
)

from traitrack.engines.base import Frame, Prediction
from traitrack.propagation import EngineSpec
from traitrack.retrieval import combine_by_rank
from traitrack.retrieval_cycle import cycle_iou
from traitrack.stages.retrieve import run_retrieve


class RecordingEngine:
    """Copies the chunk's template labels onto its target, shifted right by ``shift`` px;
    records every chunk it was given."""

    name = "recording"
    random_weights = False

    def __init__(self, shift=0):
        self.shift = shift
        self.chunks = []

    def propagate(self, frames, structures):
        self.chunks.append(list(frames))
        labels = np.roll(frames[0].labels, self.shift, axis=1)
        return [Prediction(frames[1].specimen, labels)]


def frames():
    image = np.zeros((40, 60, 3), np.uint8)
    labels = np.zeros((40, 60), np.uint8)
    labels[10:30, 10:30] = 1  # the part
    labels[5:8, 40:50] = 2  # another structure, not carried
    return Frame("query", image, labels), Frame("candidate", image + 5)


def test_the_backward_pass_starts_from_the_candidate_with_its_prediction():
    engine = RecordingEngine()
    query, candidate = frames()
    assert cycle_iou(engine, STRUCTURES, query, candidate, 1) == 1.0
    (forward, backward) = engine.chunks
    assert [f.specimen for f in forward] == ["query", "candidate"]
    assert set(np.unique(forward[0].labels)) == {0, 1}  # only the part is carried
    assert forward[1].labels is None
    assert [f.specimen for f in backward] == ["candidate", "query"]
    assert np.array_equal(backward[0].labels, forward[0].labels)  # the forward prediction
    assert backward[1].labels is None  # the query's own mask never reaches the backward pass


def test_a_part_that_does_not_come_back_scores_lower():
    query, candidate = frames()
    moved = cycle_iou(RecordingEngine(shift=5), STRUCTURES, query, candidate, 1)
    assert moved == (20 * 10) / (20 * 30)  # shifted 5 px twice: 10 of 20 columns overlap
    empty = Frame("query", query.image, np.zeros_like(query.labels))
    assert cycle_iou(RecordingEngine(), STRUCTURES, empty, candidate, 1) == 0.0


def test_the_cycle_is_ranked_with_the_other_scores():
    scores = pd.DataFrame(
        {
            "specimen": ["a", "b"],
            "trait_distance": [1.0, 1.0],
            "shape_iou": [0.5, 0.5],
            "appearance_similarity": [0.5, 0.5],
            "cycle_iou": [0.2, 0.9],
        }
    )
    table = combine_by_rank(scores)
    assert table["specimen"].tolist() == ["b", "a"]
    assert table["rank_cycle_iou"].tolist() == [1.0, 2.0]


def test_the_stage_scores_the_cycle_with_the_registration_engine(tmp_path):
    test_the_stage_writes_a_ranked_table_with_qc_and_a_contact_sheet(tmp_path)
    options = {"working_size": 96, "start_angles": 1, "demons_iterations": 5}
    table = run_retrieve(
        tmp_path / "samples.tsv",
        STRUCTURES,
        "pronotum",
        {"sp": tmp_path / "sp"},
        tmp_path / "cycle.tsv",
        tmp_path / "cycle.png",
        query_specimen="q",
        cycle_engine=EngineSpec("registration", options, 0),
    )
    assert table["cycle_iou"].between(0, 1).all() and "rank_cycle_iou" in table
    by_name = table.set_index("specimen")["cycle_iou"]
    assert by_name["t"] > by_name["c"]  # the same ellipse comes back better than a cross
