"""Parts in pieces: a blob part keeps as many pieces as its templates have, the rest goes to
what surrounds it; thin parts and `pieces: any` are left alone."""

from __future__ import annotations

import numpy as np
import pytest

from traitrack.engines.base import Prediction
from traitrack.pieces import allowed_pieces, keep_pieces, template_pieces
from traitrack.propagation import with_template_pieces
from traitrack.structures import StructureTable

CONFIG = {
    "structures": [
        {"name": "head"},
        {"name": "pronotum"},
        {"name": "legs", "kind": "thin"},
        {"name": "eyes", "pieces": "any"},
    ]
}
STRUCTURES = StructureTable.from_config(CONFIG)


def labels_with_strays() -> np.ndarray:
    labels = np.zeros((60, 80), dtype=np.uint8)
    labels[10:30, 10:40] = 2  # pronotum
    labels[15:20, 20:25] = 1  # a stray of head inside the pronotum
    labels[40:50, 10:20] = 1  # the head
    labels[2:4, 70:72] = 1  # a stray of head in the background
    labels[40:42, 50:70] = 3  # two legs
    labels[50:52, 50:70] = 3
    labels[5:7, 50:52] = 4  # two eyes
    labels[5:7, 60:62] = 4
    return labels


def test_defaults_by_kind_and_a_bad_value_is_refused():
    assert [s.pieces for s in STRUCTURES] == ["templates", "templates", "any", "any"]
    with pytest.raises(ValueError, match="pieces"):
        StructureTable.from_config({"structures": [{"name": "head", "pieces": "one"}]})


def test_strays_go_to_their_surround_and_thin_parts_stay():
    labels = labels_with_strays()
    kept = keep_pieces(labels, allowed_pieces([], STRUCTURES))
    assert (kept[15:20, 20:25] == 2).all()  # inside the pronotum: pronotum, no hole
    assert (kept[2:4, 70:72] == 0).all()  # in the background: background
    assert (kept[40:50, 10:20] == 1).all()  # the largest piece stays
    changed = kept != labels
    assert changed.sum() == 25 + 4
    assert (kept == 3).sum() == (labels == 3).sum() and (kept == 4).sum() == (labels == 4).sum()
    assert labels[15, 20] == 1  # the input is left alone


def test_templates_in_two_pieces_allow_two():
    template = np.zeros((60, 80), dtype=np.uint8)
    template[10:30, 10:20] = 1
    template[10:30, 30:40] = 1
    template[0, 0] = 1  # a speck under 5% of the part does not count
    assert template_pieces(template, 1) == 2
    assert allowed_pieces([template], STRUCTURES)[1] == 2
    kept = keep_pieces(labels_with_strays(), {1: 2})
    assert (kept[15:20, 20:25] == 1).all() and (kept[2:4, 70:72] == 0).all()


def test_an_unchanged_prediction_is_the_same_object():
    labels = np.zeros((10, 10), dtype=np.uint8)
    labels[2:5, 2:5] = 1
    assert keep_pieces(labels, {1: 1, 2: 1}) is labels

    class Store:
        def template(self, name):
            return type("Frame", (), {"labels": labels})()

    prediction = Prediction("t", labels, templates=("a",))
    assert with_template_pieces(prediction, Store(), STRUCTURES) is prediction
    strays = labels_with_strays()
    cleaned = with_template_pieces(Prediction("t", strays, templates=("a",)), Store(), STRUCTURES)
    assert cleaned.labels[2, 70] == 0 and cleaned.specimen == "t"
