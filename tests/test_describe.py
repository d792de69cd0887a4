"""Descriptors centred on their species' mean: a textured photograph no longer looks near all."""

from __future__ import annotations

import numpy as np

from traitrack.describe import centre_descriptors
from traitrack.select import rank_annotation_candidates
from traitrack.species_context import SpeciesContext


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


def beetle_on_a_card(shape, centre, scale, width_ratio=0.45, card=True):
    """A dark oval body with a narrower head on a pale photograph with a grey card label, the
    specimen ``scale`` px long at ``centre``: where a photograph puts a specimen, and how large,
    varies between photographs of one species."""
    import cv2

    image = np.full((*shape, 3), 235, np.uint8)
    if card:
        image[int(shape[0] * 0.7) :, : int(shape[1] * 0.45)] = 170
    cx, cy = centre
    body = (int(scale * 0.32), int(scale * 0.32 * width_ratio * 2))
    cv2.ellipse(
        image, (cx, cy + int(scale * 0.12)), (body[1], body[0]), 0, 0, 360, (40, 30, 20), -1
    )
    cv2.circle(image, (cx, cy - int(scale * 0.3)), int(scale * 0.1), (40, 30, 20), -1)
    return image


def test_the_specimen_descriptor_follows_the_specimen_not_its_place_in_the_photograph():
    from traitrack.describe import describe_specimens
    from traitrack.hog import hog_descriptor

    near = beetle_on_a_card((240, 320), (110, 110), 150)
    moved = beetle_on_a_card((240, 320), (230, 130), 90)  # same shape, smaller, elsewhere
    other = beetle_on_a_card((240, 320), (110, 110), 150, width_ratio=0.22)  # a slimmer species
    specimen = describe_specimens([near, moved, other])
    np.testing.assert_allclose(np.linalg.norm(specimen, axis=1), 1.0, rtol=1e-5)
    assert np.linalg.norm(specimen[0] - specimen[1]) < np.linalg.norm(specimen[0] - specimen[2])
    # the photograph's thumbnail puts the slim species nearer: the test can fail
    thumbnail = np.stack([hog_descriptor(x) for x in (near, moved, other)])
    assert np.linalg.norm(thumbnail[0] - thumbnail[1]) > np.linalg.norm(thumbnail[0] - thumbnail[2])


def test_the_specimen_crop_of_an_empty_silhouette_is_the_whole_image():
    from traitrack.describe import specimen_crop

    image = np.zeros((10, 12, 3), np.uint8)
    crop, silhouette = specimen_crop(image, np.zeros((10, 12), bool))
    assert crop.shape == image.shape and not silhouette.any()
    foreground = np.zeros((10, 12), bool)
    foreground[3:6, 4:8] = True
    crop, silhouette = specimen_crop(image, foreground, pad_fraction=0.0)
    assert crop.shape[:2] == (3, 4) and silhouette.all()


def test_annotate_next_ranks_by_the_thumbnail_that_the_specimen_method_also_writes(tmp_path):
    from traitrack.describe import load_descriptors, load_ranking_descriptors, save_descriptors

    names = ["a", "b"]
    specimen, thumbnail = np.eye(2, dtype=np.float32), np.ones((2, 2), np.float32)
    save_descriptors(tmp_path / "both.npz", names, specimen, "specimen", thumbnail)
    assert np.array_equal(load_descriptors(tmp_path / "both.npz")[1], specimen)
    ranked_names, ranked = load_ranking_descriptors(tmp_path / "both.npz")
    assert ranked_names == names and np.array_equal(ranked, thumbnail)
    save_descriptors(tmp_path / "one.npz", names, specimen, "hog")
    assert np.array_equal(load_ranking_descriptors(tmp_path / "one.npz")[1], specimen)


def test_the_describe_stage_writes_the_ranking_only_for_the_specimen_method(tmp_path):
    from PIL import Image

    from traitrack.config import load_config
    from traitrack.describe import describe_images
    from traitrack.stages.prepare import run_describe

    rows = ["specimen\tspecies\timage\tmask"]
    for i in range(3):
        image = beetle_on_a_card((60, 80), (30 + 10 * i, 30), 40)
        Image.fromarray(image).save(tmp_path / f"s{i}.png")
        rows.append(f"s{i}\tgenus_species\t{tmp_path / f's{i}.png'}\t")
    (tmp_path / "samples.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "config.yaml").write_text(
        f"samples: {tmp_path / 'samples.tsv'}\nstructures: [{{name: head, value: 1}}]\n"
    )
    config = load_config(tmp_path / "config.yaml")
    settings = dict(thumbnail_size=64, seed=0, registration=config["registration"])
    context = SpeciesContext.from_config(config, "genus_species")
    run_describe(context, out=tmp_path / "d.npz", method="specimen", **settings)
    with np.load(tmp_path / "d.npz") as data:
        assert str(data["method"]) == "specimen"
        images = [np.asarray(Image.open(tmp_path / f"s{i}.png")) for i in range(3)]
        (expected,) = centre_descriptors(describe_images(images))
        np.testing.assert_allclose(data["ranking"], expected, atol=1e-6)
        assert data["descriptors"].shape[1] != expected.shape[1]
    run_describe(context, out=tmp_path / "h.npz", method="hog", **settings)
    with np.load(tmp_path / "h.npz") as data:
        assert "ranking" not in data.files
