"""The generated example set: deterministic, consistent, and shaped like real specimen data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage.morphology import skeletonize

from traitrack.example.synthetic import (
    BODY_PLANS,
    SAMPLE_COLUMNS,
    encode_rgb,
    example_structures,
    main,
    render_specimen,
    write_example,
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("example_a")
    return out, write_example(out, seed=0)


def _read(path: str) -> np.ndarray:
    return np.asarray(Image.open(path))


def _labels(mask_rgb: np.ndarray) -> np.ndarray:
    lookup = example_structures().rgb_lookup()
    labels = np.full(mask_rgb.shape[:2], 255, np.uint8)
    for rgb, label in lookup.items():
        labels[np.all(mask_rgb == rgb, axis=-1)] = label
    assert (labels != 255).all(), "mask holds a colour outside the structure table"
    return labels


def test_sample_sheet_columns_slugs_and_templates(generated):
    out, sheet = generated
    on_disk = pd.read_csv(out / "samples.tsv", sep="\t", keep_default_na=False)
    assert list(on_disk.columns) == SAMPLE_COLUMNS
    assert len(on_disk) == 24 and on_disk["specimen"].is_unique
    assert set(on_disk["species"]) == {"carabus_synth", "pterostichus_synth"}
    templates = on_disk[on_disk["mask"] != ""]
    assert templates.groupby("species").size().to_dict() == {
        "carabus_synth": 2,
        "pterostichus_synth": 2,
    }
    assert (on_disk["gt_mask"] != "").all()
    assert on_disk["px_per_mm"].between(15, 30).all()
    assert on_disk["specimen"].tolist() == sheet["specimen"].tolist()


def test_image_formats_follow_species(generated):
    _, sheet = generated
    suffixes = sheet.groupby("species")["image"].agg(lambda paths: {Path(p).suffix for p in paths})
    assert suffixes.to_dict() == {"carabus_synth": {".png"}, "pterostichus_synth": {".jpg"}}
    assert Image.open(sheet["image"].iloc[-1]).format == "JPEG"


def test_images_and_masks_agree_in_size_and_sizes_vary(generated):
    _, sheet = generated
    shapes = set()
    for row in sheet.itertuples():
        image, gt = _read(row.image), _read(row.gt_mask)
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
        assert image.shape == gt.shape
        assert all(180 <= side <= 260 for side in image.shape[:2])
        shapes.add(image.shape[:2])
    assert len(shapes) > 12


def test_every_structure_in_every_gt_and_templates_equal_gt(generated):
    _, sheet = generated
    for row in sheet.itertuples():
        labels = _labels(_read(row.gt_mask))
        assert set(np.unique(labels)) == {0, 1, 2, 3, 4, 5}, row.specimen
        if row.mask:
            assert np.array_equal(_read(row.mask), _read(row.gt_mask))


def test_thin_structures_are_thin_and_blobs_are_not(generated):
    _, sheet = generated
    for row in sheet.itertuples():
        labels = _labels(_read(row.gt_mask))
        for name in ("legs", "antennae", "elytra"):
            region = labels == example_structures().by_name(name).label
            width = region.sum() / skeletonize(region).sum()
            if name == "elytra":
                assert width > 10, (row.specimen, width)
            else:
                assert width < 4, (row.specimen, name, width)


def test_bodies_measure_a_realistic_length_in_mm(generated):
    _, sheet = generated
    for row in sheet.itertuples():
        body = np.isin(_labels(_read(row.gt_mask)), (1, 2, 3))
        rows, cols = np.nonzero(body)
        # the axis is within 25 degrees of vertical, so the height bounds the length closely
        length_mm = (rows.max() - rows.min()) / row.px_per_mm
        assert 4.5 < length_mm < 12, (row.specimen, length_mm)


def test_species_differ_in_shape_and_colour(generated):
    _, sheet = generated
    elongation, hue = {}, {}
    for row in sheet.itertuples():
        labels = _labels(_read(row.gt_mask))
        elytra = labels == 3
        rows, cols = np.nonzero(elytra)
        eigen = np.linalg.eigvalsh(np.cov(np.stack([rows, cols])))
        elongation.setdefault(row.species, []).append(np.sqrt(eigen[1] / eigen[0]))
        red_minus_green = _read(row.image)[elytra].astype(float) @ [1, -1, 0]
        hue.setdefault(row.species, []).append(red_minus_green.mean())
    assert min(elongation["carabus_synth"]) > max(elongation["pterostichus_synth"])
    assert max(hue["carabus_synth"]) < 0 < min(hue["pterostichus_synth"])


def test_same_seed_same_bytes_other_seed_other_images(generated, tmp_path):
    first, sheet = generated
    again = write_example(tmp_path / "again", seed=0)
    other = write_example(tmp_path / "other", seed=1)
    for index in (0, 5, 13, 23):
        for column in ("image", "gt_mask"):
            a = Path(sheet[column].iloc[index]).read_bytes()
            assert a == Path(again[column].iloc[index]).read_bytes()
            assert a != Path(other[column].iloc[index]).read_bytes()
    assert sheet["px_per_mm"].tolist() == again["px_per_mm"].tolist()


def test_render_label_map_matches_encoding():
    specimen = render_specimen(BODY_PLANS[0], np.random.default_rng(7))
    assert specimen.image.shape[:2] == specimen.labels.shape
    encoded = encode_rgb(specimen.labels, example_structures())
    assert np.array_equal(_labels(encoded), specimen.labels)


def test_sheet_paths_are_relative_to_root(tmp_path):
    sheet = write_example(tmp_path / "resources" / "example", seed=3, root=tmp_path)
    assert sheet["image"].iloc[0] == "resources/example/images/carabus_synth_01.png"
    assert sheet["mask"].iloc[0] == "resources/example/masks/carabus_synth_01.png"
    assert sheet["mask"].iloc[5] == ""
    assert (tmp_path / sheet["gt_mask"].iloc[-1]).is_file()


def test_command_line_writes_the_set(tmp_path, capsys):
    main([str(tmp_path / "cli"), "--seed", "2"])
    assert "24 specimens" in capsys.readouterr().out
    assert len(list((tmp_path / "cli" / "gt").glob("*.png"))) == 24
    assert len(list((tmp_path / "cli" / "masks").glob("*.png"))) == 4
