"""A mask's sparse form (border pixels, runs) and what is counted from it equal the dense way."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from traitrack import mask_runs


def random_masks(seed: int, count: int = 400) -> list[np.ndarray]:
    """Noise, smooth blobs with holes, near-checkerboards and nearly full boxes, 1 to 40 px."""
    rng = np.random.default_rng(seed)
    masks = []
    for index in range(count):
        height, width = (int(n) for n in rng.integers(1, 41, 2))
        if index % 4 == 0:
            mask = rng.random((height, width)) < rng.uniform(0.1, 0.9)
        elif index % 4 == 1:
            noise = ndimage.gaussian_filter(rng.random((height, width)), rng.uniform(0.5, 3))
            mask = noise > np.quantile(noise, rng.uniform(0.2, 0.9))
        elif index % 4 == 2:
            checkers = np.indices((height, width)).sum(0) % 2 == 0
            mask = checkers & (rng.random((height, width)) < 0.9)
        else:
            mask = rng.random((height, width)) < 0.97
        if mask.any():
            masks.append(mask)
    return masks


@pytest.mark.parametrize("seed", [0, 1])
def test_contour_points_are_the_border_and_runs_rebuild_the_mask(seed):
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for mask in random_masks(seed):
        runs = mask_runs.trace(mask)
        image = mask.view(np.uint8)
        eroded = cv2.erode(image, cross, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        border = np.zeros_like(mask)
        border[runs.border_rows, runs.border_cols] = True
        assert np.array_equal(border, (image - eroded).astype(bool))
        rebuilt = np.zeros_like(mask)
        for row, start, stop in zip(runs.run_rows, runs.run_starts, runs.run_stops):
            assert not rebuilt[row, start:stop].any()
            rebuilt[row, start:stop] = True
        assert np.array_equal(rebuilt, mask)


def test_counts_in_blocks_equal_the_pixels_of_each_block():
    rng = np.random.default_rng(4)
    for mask in random_masks(2, count=200):
        height, width = mask.shape
        row_block = np.sort(rng.integers(0, 4, height))
        row_block = np.unique(row_block, return_inverse=True)[1]  # no block row left empty
        cuts = rng.choice(np.arange(1, width), int(rng.integers(0, width)), replace=False)
        edges = np.r_[0, np.sort(cuts), width]
        counts = mask_runs.count_in_blocks(mask_runs.trace(mask), row_block, edges)
        expected = np.add.reduceat(mask.astype(int), edges[:-1], axis=1)
        expected = np.stack([expected[row_block == r].sum(0) for r in range(row_block[-1] + 1)])
        assert np.array_equal(counts, expected)


@pytest.mark.parametrize("step", [2, 3, 5, 6, 22, 36])
def test_block_majority_equals_opencv_area_reduction(step):
    rng = np.random.default_rng(step)
    n = step * step
    for _ in range(5):
        height, width = (int(v) for v in rng.integers(step, 6 * step, 2))
        mask = np.zeros((height, width), bool)
        for top in range(0, height, step):  # counts at and around one half, ties included
            for left in range(0, width, step):
                block = mask[top : top + step, left : left + step]
                share = rng.integers(max(0, n // 2 - 2), n // 2 + 3)
                block.flat[rng.permutation(block.size)[:share]] = True
        if not mask.any():
            continue
        padded = np.zeros((-(-height // step) * step, -(-width // step) * step), np.uint8)
        padded[:height, :width] = mask * np.uint8(255)
        size = (padded.shape[1] // step, padded.shape[0] // step)
        expected = cv2.resize(padded, size, interpolation=cv2.INTER_AREA) >= 128
        got = mask_runs.block_majority(mask_runs.trace(mask), step)
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64])
def test_label_boxes_equal_find_objects(dtype):
    rng = np.random.default_rng(7)
    labels = np.zeros((60, 90), dtype)
    for value in range(1, 20):  # more than eight labels: several bit groups
        top, left = rng.integers(0, 50), rng.integers(0, 80)
        labels[top : top + rng.integers(1, 10), left : left + rng.integers(1, 10)] = value
    labels[labels == 9] = 0  # one label absent
    wanted = [1, 5, 8, 9, 12, 19, 300]
    found = ndimage.find_objects(labels.astype(np.int32))
    expected = {v: found[v - 1] for v in wanted if v <= len(found) and found[v - 1]}
    assert mask_runs.label_boxes(labels, wanted) == expected
    assert 9 not in expected and 300 not in expected
