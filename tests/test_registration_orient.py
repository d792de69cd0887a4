"""Orientation by appearance: quarter turns and mirror chosen before registration."""

from __future__ import annotations

import numpy as np
import pytest
from test_registration import STRUCTURES, blob_miou, draw_specimen

from traitrack.engines.base import Frame
from traitrack.engines.registration.engine import OptionsError, RegistrationEngine
from traitrack.engines.registration.orient import (
    Turn,
    allowed_turns,
    apply_turn,
    choose_turn,
    undo_turn,
)
from traitrack.hog import hog_descriptor

ALL_TURNS = allowed_turns([0, 90, 180, 270], mirror=True)


@pytest.mark.parametrize("turn", ALL_TURNS, ids=str)
def test_undo_turn_inverts_apply_turn_on_odd_shapes(turn):
    array = np.arange(5 * 7 * 3).reshape(5, 7, 3)
    assert np.array_equal(undo_turn(apply_turn(array, turn), turn), array)


def test_allowed_turns_start_with_the_identity_and_hold_no_duplicates():
    assert allowed_turns([0], mirror=False) == [Turn()]
    turns = allowed_turns([180, 0, 540], mirror=True)
    assert turns[0] == Turn() and len(turns) == len(set(turns)) == 4


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_turned_specimen_is_turned_back_by_appearance(degrees):
    image, _ = draw_specimen(seed=1)
    template_descriptor = hog_descriptor(draw_specimen(seed=2)[0])
    turned = apply_turn(image, Turn(degrees))
    chosen = choose_turn(turned, [template_descriptor], ALL_TURNS, margin=0.05)
    assert apply_turn(turned, chosen).shape == image.shape
    assert chosen == Turn((360 - degrees) % 360)


def test_the_identity_wins_when_no_turn_is_allowed_or_none_is_clearly_better():
    image, _ = draw_specimen(seed=1)
    descriptor = hog_descriptor(draw_specimen(seed=2)[0])
    assert choose_turn(apply_turn(image, Turn(180)), [descriptor], [Turn()], 0.05) == Turn()
    assert choose_turn(image, [descriptor], ALL_TURNS, margin=0.05) == Turn()
    assert choose_turn(apply_turn(image, Turn(180)), [descriptor], ALL_TURNS, 0.99) == Turn()


def test_engine_segments_an_upside_down_specimen_when_turns_are_allowed():
    template = Frame("template", *draw_specimen(seed=1))
    image, truth = draw_specimen(seed=3, angle=8)
    frames = [template, Frame("target", apply_turn(image, Turn(180)))]
    truth = apply_turn(truth, Turn(180))
    fixed = {"working_size": 128, "start_angles": 1}
    (plain,) = RegistrationEngine.from_options(fixed, seed=0).propagate(frames, STRUCTURES)
    oriented_options = {**fixed, "orient_rotations": [0, 90, 180, 270]}
    (oriented,) = RegistrationEngine.from_options(oriented_options, seed=0).propagate(
        frames, STRUCTURES
    )
    assert oriented.labels.shape == truth.shape
    assert blob_miou(oriented.labels, truth) > 0.7
    assert blob_miou(oriented.labels, truth) > blob_miou(plain.labels, truth) + 0.2


@pytest.mark.parametrize("rotations", [[45], 90, ["0"]], ids=["not-quarter", "scalar", "string"])
def test_bad_orient_rotations_raise_naming_the_option(rotations):
    with pytest.raises(OptionsError, match="orient_rotations"):
        RegistrationEngine.from_options({"orient_rotations": rotations}, seed=0)
