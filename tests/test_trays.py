"""The weights-free tray split: touching specimens, lines, labels, reading order, the count."""

import cv2
import numpy as np
import pytest

from traitrack.trays import SplitOptions, split_tray
from traitrack.trays.compose import compose_tray
from traitrack.trays.instances import reading_order

BACKGROUND = (232, 228, 220)
INK = (50, 35, 25)


def tray(shape=(400, 600)):
    """A plain card tray with a little noise."""
    rng = np.random.default_rng(0)
    image = np.empty((*shape, 3), np.float32)
    image[:] = BACKGROUND
    image += rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def ellipse(image, centre, axes, angle=0.0, colour=INK):
    """Draw a filled ellipse, a specimen's body."""
    cv2.ellipse(image, centre, axes, angle, 0, 360, colour, -1)


def test_touching_ellipses_split_into_two():
    image = tray()
    ellipse(image, (220, 200), (70, 35))
    ellipse(image, (359, 200), (70, 35))  # touching at x = 290
    ellipse(image, (120, 330), (70, 35))  # two single ones: the size prior
    ellipse(image, (460, 330), (70, 35))
    result = split_tray(image, options=SplitOptions(working_megapixels=1.0))
    assert result.n_found == 4
    assert result.labels[200, 220] != result.labels[200, 359]
    assert result.labels[200, 220] > 0 and result.labels[200, 359] > 0


def test_separate_ellipses_keep_their_outline():
    image = tray()
    ellipse(image, (150, 200), (70, 35))
    ellipse(image, (420, 200), (70, 35), angle=30)
    result = split_tray(image)
    truth = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(truth, (150, 200), (70, 35), 0, 0, 360, 1, -1)
    found = result.labels == result.labels[200, 150]
    iou = (found & (truth > 0)).sum() / (found | (truth > 0)).sum()
    assert result.n_found == 2 and iou > 0.95


def test_long_line_is_removed_and_recorded():
    image = tray()
    cv2.line(image, (0, 300), (599, 80), (90, 90, 95), 3)
    ellipse(image, (150, 150), (60, 30))
    ellipse(image, (450, 330), (60, 30))
    result = split_tray(image)
    assert result.n_found == 2
    assert [e.kind for e in result.excluded] == ["line"]
    # the line's pixels away from the specimens belong to no specimen
    assert result.labels[190, 300] == 0 and result.labels[300, 0] == 0


def test_line_between_specimens_does_not_join_them():
    image = tray()
    ellipse(image, (150, 200), (60, 30))
    ellipse(image, (450, 200), (60, 30))
    cv2.line(image, (0, 200), (599, 200), (90, 90, 95), 3)
    result = split_tray(image)
    assert result.n_found == 2
    assert result.labels[200, 300] == 0


def test_label_and_scale_bar_are_excluded_with_their_boxes():
    image = tray()
    cv2.rectangle(image, (30, 20), (230, 90), (250, 250, 246), -1)
    cv2.rectangle(image, (30, 20), (230, 90), (120, 120, 120), 2)
    cv2.putText(image, "Carabus sp.", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (20, 20, 20), 2)
    cv2.rectangle(image, (380, 60), (560, 72), (15, 15, 15), -1)
    ellipse(image, (150, 280), (60, 30))
    ellipse(image, (450, 280), (60, 30))
    result = split_tray(image)
    kinds = {e.kind: e.box for e in result.excluded}
    assert result.n_found == 2
    assert set(kinds) == {"label", "scale_bar"}
    x0, y0, x1, y1 = kinds["label"]
    assert abs(x0 - 30) <= 3 and abs(y0 - 20) <= 3 and abs(x1 - 231) <= 3 and abs(y1 - 91) <= 3
    x0, y0, x1, y1 = kinds["scale_bar"]
    assert abs(x0 - 380) <= 3 and abs(x1 - 561) <= 3
    assert not result.labels[20:92, 30:232].any()


def test_reading_order_of_a_grid():
    labels = np.zeros((300, 400), np.int32)
    # a 3 x 4 grid numbered at random, rows slightly ragged
    rng = np.random.default_rng(3)
    ids = rng.permutation(12) + 1
    for k, (row, col) in enumerate([(r, c) for r in range(3) for c in range(4)]):
        top, left = 20 + 100 * row + (col % 2) * 12, 20 + 95 * col
        labels[top : top + 50, left : left + 40] = ids[k]
    ordered = reading_order(labels)
    expected = [20 + 100 * r + 25 for r in range(3)]
    for k in range(12):
        row, col = divmod(k, 4)
        top, left = expected[row] + (col % 2) * 12, 20 + 95 * col + 20
        assert ordered[top, left] == k + 1


def test_n_expected_drives_the_split():
    image = tray()
    # two specimens overlapping so much that no neck is left: one without the count
    ellipse(image, (250, 200), (80, 40))
    ellipse(image, (330, 215), (80, 40), angle=15)
    ellipse(image, (110, 70), (80, 40))
    ellipse(image, (480, 340), (80, 40))
    alone = split_tray(image)
    guided = split_tray(image, n_expected=4)
    assert alone.n_found == 3 and alone.status == "merged_suspected"
    assert guided.n_found == 4 and guided.status == "ok"
    assert split_tray(image, n_expected=5).status in {"count_mismatch", "merged_suspected"}


def test_fragment_is_reattached_to_its_specimen():
    image = tray()
    ellipse(image, (200, 200), (70, 35))
    ellipse(image, (450, 200), (70, 35))
    cv2.line(image, (272, 200), (300, 215), INK, 3)  # a detached leg beside the first
    result = split_tray(image)
    assert result.n_found == 2
    assert result.labels[212, 296] == result.labels[200, 200]


@pytest.mark.parametrize("background", ["white_foam", "cream_card", "grey", "dark"])
def test_composed_tray_of_synthetic_specimens(background):
    rng = np.random.default_rng(1)
    specimens = []
    for _ in range(6):
        image = np.zeros((90, 50, 3), np.uint8)
        mask = np.zeros((90, 50), np.uint8)
        cv2.ellipse(mask, (25, 45), (20, 40), 0, 0, 360, 1, -1)
        image[:] = (110, 60, 30) if background == "dark" else (60, 40, 25)
        specimens.append((image, mask > 0))
    composed = compose_tray(
        specimens, shape=(500, 700), background=background, rng=rng, touching_fraction=0.0
    )
    result = split_tray(composed.image, n_expected=len(composed.sources))
    assert result.n_found == len(composed.sources) == 6
    kinds = sorted(e.kind for e in result.excluded)
    assert "label" in kinds and "scale_bar" in kinds and "line" in kinds


def test_a_low_contrast_specimen_is_taken_whole_by_grabcut():
    """A dark body with a rim barely lighter than a dark, noisy tray: the colour threshold
    leaves ragged rim pixels out, GrabCut (``low_contrast_share``) takes the whole body."""
    rng = np.random.default_rng(0)
    image = np.empty((1200, 1800, 3), np.float32)
    image[:] = (48, 46, 52)
    truth = np.zeros(image.shape[:2], np.uint8)
    for number, (x, angle) in enumerate(((450, 0), (1300, 20)), start=1):
        cv2.ellipse(image, (x, 600), (270, 135), angle, 0, 360, (68, 66, 74), -1)
        cv2.ellipse(image, (x, 600), (160, 70), angle, 0, 360, (20, 18, 16), -1)
        cv2.ellipse(truth, (x, 600), (270, 135), angle, 0, 360, number, -1)
    image = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)

    def iou(share):
        labels = split_tray(image, options=SplitOptions(low_contrast_share=share)).labels
        found = labels == labels[600, 450]
        return (found & (truth == 1)).sum() / (found | (truth == 1)).sum()

    threshold_only, with_grabcut = iou(1.0), iou(0.25)
    assert threshold_only < 0.97
    assert with_grabcut > 0.99


def test_composed_part_labels_follow_their_specimens():
    rng = np.random.default_rng(3)
    parts = np.zeros((60, 30), np.uint8)
    parts[:20] = 1  # head
    parts[20:] = 2  # body
    image = np.full((60, 30, 3), 30, np.uint8)
    specimens = [(image, parts > 0)] * 3
    plain = compose_tray(
        specimens, shape=(300, 400), background="grey", rng=np.random.default_rng(3)
    )
    composed = compose_tray(
        specimens, shape=(300, 400), background="grey", rng=rng, part_maps=[parts] * 3
    )
    assert np.array_equal(plain.instances, composed.instances)  # the same tray
    assert np.array_equal(composed.parts > 0, composed.instances > 0)
    for number in range(1, int(composed.instances.max()) + 1):
        assert set(np.unique(composed.parts[composed.instances == number])) == {1, 2}
    upright = compose_tray(specimens, shape=(300, 400), background="grey", rng=rng, max_angle=10.0)
    for number in range(1, int(upright.instances.max()) + 1):
        rows, cols = np.nonzero(upright.instances == number)
        assert np.ptp(rows) > np.ptp(cols)  # still taller than wide within 10 degrees
