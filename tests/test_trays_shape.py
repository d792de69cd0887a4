"""Joining and cutting tray pieces by the shape of their body, without the tray's count."""

import cv2
import numpy as np
from scipy import ndimage as ndi

from traitrack.trays import split_tray
from traitrack.trays.instances import split_several
from traitrack.trays.shape import looks_like_several, one_specimen

BACKGROUND = (236, 224, 196)
INK = (40, 30, 25)
NEIGHBOURS = [
    ((110, 110), 10),
    ((330, 120), 80),
    ((560, 110), 150),
    ((120, 380), 100),
    ((690, 380), 30),
]
"""Centres and angles of the whole beetles around the pair a test is about."""


def tray(shape=(500, 800)):
    """A plain cream card with a little noise."""
    rng = np.random.default_rng(1)
    image = np.empty((*shape, 3), np.float32)
    image[:] = BACKGROUND
    image += rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def beetle(image, centre, angle, *, scale=1.0, waist_gap=0, colour=INK):
    """Draw a beetle: elytra, pronotum and head along its axis, three legs a side.

    ``waist_gap`` leaves that many pixels of tray between the elytra and the pronotum, as a
    thin pale waist does at the working scale. Returns the unit vector towards the head.
    """
    direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    side = np.array([-direction[1], direction[0]])
    centre = np.asarray(centre, float)
    elytra, pronotum, head = 44 * scale, 17 * scale, 9 * scale
    width = 26 * scale

    def point(vector):
        return tuple(int(round(v)) for v in centre + vector)

    def axes(a, b):
        return (int(round(a)), int(round(b)))

    for sign in (-1, 1):  # legs
        for offset in (-20, 0, 20):
            start = point(offset * scale * direction)
            end = point(offset * scale * direction + sign * (width + 16 * scale) * side)
            cv2.line(image, start, end, colour, max(1, round(2 * scale)))
    cv2.ellipse(image, point(0 * direction), axes(elytra, width), angle, 0, 360, colour, -1)
    front = elytra + waist_gap + pronotum
    cv2.ellipse(
        image, point(front * direction), axes(pronotum, 0.8 * width), angle, 0, 360, colour, -1
    )
    cv2.circle(
        image, point((front + pronotum + head - 2) * direction), int(round(head)), colour, -1
    )
    return direction


def label_at(labels, point):
    return int(labels[int(point[1]), int(point[0])])


def test_a_beetle_cut_at_its_waist_is_joined_without_the_count():
    image = tray()
    for centre, angle in NEIGHBOURS:
        beetle(image, centre, angle)
    direction = beetle(image, (400, 360), 200, waist_gap=4)
    result = split_tray(image)
    assert result.n_found == 6
    elytra = np.array([400, 360])
    pronotum = elytra + (44 + 4 + 17) * direction
    assert label_at(result.labels, elytra) == label_at(result.labels, pronotum) > 0


def test_two_small_beetles_touching_end_to_end_stay_apart_without_the_count():
    image = tray()
    for centre, angle in [*NEIGHBOURS, ((700, 200), 95)]:
        beetle(image, centre, angle)
    # two small beetles head to head, their heads touching: together about one specimen
    first = np.array([330.0, 370.0])
    direction = beetle(image, first, 0, scale=0.78)
    reach = (44 + 17 + 17 + 2 * 9 - 2) * 0.78
    second = first + 2 * reach * direction
    beetle(image, second, 180, scale=0.78)
    result = split_tray(image)
    assert result.n_found == 8
    assert 0 < label_at(result.labels, first) != label_at(result.labels, second) > 0


def test_two_beetles_side_by_side_are_not_one_specimen():
    image = tray((300, 300))
    beetle(image, (150, 120), 0)
    beetle(image, (150, 172), 0)  # flank to flank
    mask = np.any(np.abs(image.astype(int) - BACKGROUND) > 40, axis=-1)
    labels = np.zeros(mask.shape, np.int32)
    labels[:146][mask[:146]] = 1
    labels[146:][mask[146:]] = 2
    area = mask.sum() / 2
    assert not one_specimen(labels, 1, 2, typical_area=area, min_solidity=0.74)


def test_pieces_of_one_beetle_are_one_specimen_and_a_pair_end_to_end_is_several():
    image = tray((300, 500))
    direction = beetle(image, (200, 150), 0, waist_gap=4)
    mask = np.any(np.abs(image.astype(int) - BACKGROUND) > 40, axis=-1)
    cut = int(200 + 44 + 2)
    labels = np.zeros(mask.shape, np.int32)
    labels[:, :cut][mask[:, :cut]] = 1
    labels[:, cut:][mask[:, cut:]] = 2
    area = float(mask.sum())
    assert direction[0] == 1.0
    assert one_specimen(labels, 1, 2, typical_area=area, min_solidity=0.74)
    assert not looks_like_several(mask, typical_area=area, min_solidity=0.74)
    pair = tray((300, 700))
    beetle(pair, (150, 150), 0)
    beetle(pair, (150 + 2 * (44 + 17 + 17 + 18 - 2), 150), 180)
    both = np.any(np.abs(pair.astype(int) - BACKGROUND) > 40, axis=-1)
    assert looks_like_several(both, typical_area=both.sum() / 2, min_solidity=0.74)


def test_a_component_of_two_beetles_end_to_end_is_cut_in_two():
    image = tray((300, 700))
    beetle(image, (150, 150), 0)
    beetle(image, (150 + 2 * (44 + 17 + 17 + 18 - 8), 150), 180)  # heads overlapping
    both = np.any(np.abs(image.astype(int) - BACKGROUND) > 40, axis=-1)
    assert ndi.label(both)[1] == 1
    cut = split_several(both.astype(np.int32), typical_area=both.sum() / 2, min_solidity=0.74)
    assert cut.max() == 2
    assert cut[150, 150] != cut[150, 150 + 2 * (44 + 17 + 17 + 18 - 8)]
