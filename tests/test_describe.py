"""Descriptors centred on their species' mean: a textured photograph no longer looks near all."""

from __future__ import annotations

import numpy as np

from traitrack.describe import centre_descriptors
from traitrack.select import rank_annotation_candidates


def species_with_a_hub(rng, groups=4, per_group=10, dims=64):
    """Unit vectors sharing a strong common component, in ``groups`` looks, plus one *hub*:
    the common component alone (a photograph that is mostly texture)."""
    common = rng.normal(size=dims)
    common /= np.linalg.norm(common)
    looks = rng.normal(size=(groups, dims))
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    rows = []
    for look in looks:
        for _ in range(per_group):
            v = 3 * common + look + 0.3 * rng.normal(size=dims) / np.sqrt(dims)
            rows.append(v / np.linalg.norm(v))
    rows.append(common)
    return np.array(rows, np.float32)


def test_centred_rows_are_unit_vectors_around_zero():
    rng = np.random.default_rng(0)
    a, b = rng.normal(5, 1, (6, 8)), rng.normal(5, 1, (4, 8))
    ca, cb = centre_descriptors(a, b)
    assert ca.shape == a.shape and cb.shape == b.shape
    np.testing.assert_allclose(np.linalg.norm(np.vstack([ca, cb]), axis=1), 1.0, rtol=1e-5)
    (alone,) = centre_descriptors(a[:1])
    assert not alone.any()  # one specimen: nothing to tell apart, and no NaN
    empty, full = centre_descriptors(a[:0], b)
    assert empty.shape == (0, 8) and full.shape == b.shape


def test_the_hub_is_picked_first_from_raw_descriptors_but_not_once_centred():
    vectors = species_with_a_hub(np.random.default_rng(1))
    names = [f"s{i:02d}" for i in range(len(vectors) - 1)] + ["texture"]
    raw = rank_annotation_candidates(names, vectors, vectors[:0])
    (centred,) = centre_descriptors(vectors)
    fixed = rank_annotation_candidates(names, centred, centred[:0])
    assert raw["specimen"].iloc[0] == "texture"
    assert "texture" not in set(fixed["specimen"].head(4))
    groups_covered = {int(name[1:]) // 10 for name in fixed["specimen"].head(4)}
    assert groups_covered == {0, 1, 2, 3}  # one representative of each look
