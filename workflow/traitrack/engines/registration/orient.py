"""Orientation of a target before registration, decided by appearance.

A silhouette cannot tell a beetle's head from its tail, nor an ant facing left from one facing
right: both fit a template's outline almost as well turned round.  Appearance can: the HOG
descriptor of a grey thumbnail (:func:`traitrack.hog.hog_descriptor`, the descriptor that
selects templates) of the target turned the right way is closer to its templates' descriptors
than any other turn.  The config states which turns a dataset allows (its prior: beetles may
lie in any of four quarter turns, ants face left and only an odd one is mirrored); the unturned
pose wins unless another is clearly closer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from traitrack.hog import hog_descriptor

QUARTER_TURNS = (0, 90, 180, 270)


@dataclass(frozen=True)
class Turn:
    """A quarter turn (counter-clockwise degrees) after an optional left-right mirror."""

    degrees: int = 0
    mirror: bool = False

    @property
    def is_identity(self) -> bool:
        """True for the turn that changes nothing."""
        return self.degrees == 0 and not self.mirror


def apply_turn(array: np.ndarray, turn: Turn) -> np.ndarray:
    """``array`` (H, W[, C]) mirrored (if asked), then turned counter-clockwise."""
    if turn.mirror:
        array = array[:, ::-1]
    return np.ascontiguousarray(np.rot90(array, turn.degrees // 90))


def undo_turn(array: np.ndarray, turn: Turn) -> np.ndarray:
    """The inverse of :func:`apply_turn`: back to the original frame."""
    array = np.rot90(array, -(turn.degrees // 90))
    if turn.mirror:
        array = array[:, ::-1]
    return np.ascontiguousarray(array)


def allowed_turns(rotations: Sequence[int], mirror: bool) -> list[Turn]:
    """The turns a dataset allows; the identity always comes first."""
    turns = [Turn(0, False)]
    for flip in (False, True) if mirror else (False,):
        for degrees in rotations:
            turn = Turn(int(degrees) % 360, flip)
            if turn not in turns:
                turns.append(turn)
    return turns


def choose_turn(
    image: np.ndarray,
    template_descriptors: Sequence[np.ndarray],
    turns: Sequence[Turn],
    margin: float,
) -> Turn:
    """The allowed turn whose HOG descriptor is nearest (mean distance) to the templates'.

    Another turn replaces the identity only when its distance is below ``(1 - margin)`` times
    the identity's: the templates were chosen for looking like the target as it is, so a turn
    must earn its place.
    """
    if len(turns) <= 1 or not len(template_descriptors):
        return Turn()
    references = np.stack(template_descriptors)
    distances = [
        float(np.linalg.norm(references - hog_descriptor(apply_turn(image, turn)), axis=1).mean())
        for turn in turns
    ]
    identity = distances[0]
    best = int(np.argmin(distances))
    if best == 0 or distances[best] >= (1.0 - margin) * identity:
        return Turn()
    return turns[best]
