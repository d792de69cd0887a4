"""Inputs at the edges of what the workflow takes: empty sheets, long ids, reserved species
names, non-finite pixel sizes, malformed labelme/COCO files, and (through Snakemake) a species
of templates only and a species of one target."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from traitrack.io import InputError, read_mask
from traitrack.samples import MAX_SPECIMEN_LENGTH, RESERVED_SPECIES, read_sample_sheet
from traitrack.structures import StructureTable

HEADER = "specimen\tspecies\timage\tpx_per_mm\n"
STRUCTURES = StructureTable.from_config({"structures": [{"name": "head"}, {"name": "body"}]})


def sheet(tmp_path, text):
    path = tmp_path / "samples.tsv"
    path.write_text(text)
    return path


def test_header_only_sheet_is_an_error_at_parse_time(tmp_path):
    path = sheet(tmp_path, HEADER)
    with pytest.raises(InputError, match="header but no specimen rows") as raised:
        read_sample_sheet(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-3", "abc"])
def test_px_per_mm_must_be_finite_and_positive(tmp_path, value):
    path = sheet(tmp_path, HEADER + f"a_1\ta\ta.png\t{value}\n")
    with pytest.raises(InputError, match=r"`px_per_mm` must be a positive, finite.*\['a_1'\]"):
        read_sample_sheet(path)


def test_specimen_id_too_long_for_a_file_name(tmp_path):
    long_id = "x" * 300
    path = sheet(tmp_path, HEADER + f"{long_id}\ta\ta.png\t\nok\ta\tb.png\t\n")
    with pytest.raises(InputError) as raised:
        read_sample_sheet(path)
    message = str(raised.value)
    assert str(path) in message and "`specimen`" in message and "shorten them" in message
    assert f"longer than {MAX_SPECIMEN_LENGTH}" in message
    # the longest accepted id still fits with atomic_output's temporary name beside it
    fits = "y" * MAX_SPECIMEN_LENGTH
    read_sample_sheet(sheet(tmp_path, HEADER + f"{fits}\ta\ta.png\t\n"))
    assert len(f".{fits}.abcdefgh.tmp.png".encode()) <= 255


@pytest.mark.parametrize("name", ["traits", "labels", "report"])
def test_reserved_species_names(tmp_path, name):
    assert name in RESERVED_SPECIES
    path = sheet(tmp_path, HEADER + f"a_1\t{name}\ta.png\t\n")
    with pytest.raises(InputError, match=rf"`species` \['{name}'\] would collide.*rename"):
        read_sample_sheet(path)


def write_json(tmp_path, data, name="mask.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


LABELME = {"imageHeight": 20, "imageWidth": 20}


@pytest.mark.parametrize(
    "shapes",
    [
        {"label": "head"},  # `shapes` not a list
        ["head"],  # a shape that is not an object
        [{"label": "head", "points": [["a", "b"], [1, 2], [3, 4]]}],  # non-numeric points
        [{"label": "head", "points": [[1, 2, 3], [4]]}],  # ragged points
    ],
)
def test_malformed_labelme_names_the_file(tmp_path, shapes):
    path = write_json(tmp_path, {**LABELME, "shapes": shapes})
    with pytest.raises(InputError) as raised:
        read_mask(path, STRUCTURES)
    message = str(raised.value)
    assert str(path) in message and "malformed labelme JSON" in message
    assert "`shapes` is a list of objects" in message


def test_malformed_coco_names_the_file(tmp_path):
    data = {
        "images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 20}],
        "annotations": [{"image_id": 1, "category_id": 1, "segmentation": [["x"] * 6]}],
        "categories": [{"id": 1, "name": "head"}],
    }
    path = write_json(tmp_path, data)
    with pytest.raises(InputError, match=r"malformed COCO JSON") as raised:
        read_mask(path, STRUCTURES, image_name="a.png")
    assert str(path) in str(raised.value)
    data["annotations"] = "none"
    path = write_json(tmp_path, data, "annotations.json")
    with pytest.raises(InputError, match=r"malformed COCO JSON"):
        read_mask(path, STRUCTURES, image_name="a.png")


def test_wellformed_labelme_still_reads(tmp_path):
    shapes = [{"label": "head", "points": [[2, 2], [10, 2], [10, 10], [2, 10]]}]
    labels = read_mask(write_json(tmp_path, {**LABELME, "shapes": shapes}), STRUCTURES)
    assert labels.shape == (20, 20) and labels.max() == 1 and (labels == 1).sum() > 40


# ---- through Snakemake: a species of templates only, a species of one target


@pytest.mark.workflow
def test_templates_only_species_and_one_target_species(tmp_path):
    from scratch_project import copy_project, snakemake

    workdir = copy_project(tmp_path)
    samples = workdir / "config" / "samples.tsv"
    table = pd.read_csv(samples, sep="\t", dtype=str, keep_default_na=False)
    keep = (table["mask"] != "") | (table["specimen"] == "carabus_synth_03")
    table[keep].to_csv(samples, sep="\t", index=False)
    result = snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    traits = pd.read_csv(workdir / "results" / "traits.csv")
    templates_only = traits[traits["species"] == "pterostichus_synth"]
    assert set(templates_only["specimen"]) == {"pterostichus_synth_01", "pterostichus_synth_02"}
    assert set(templates_only["source"]) == {"template"}
    assert templates_only["present"].all()
    one_target = traits[(traits["species"] == "carabus_synth") & (traits["source"] != "template")]
    assert set(one_target["specimen"]) == {"carabus_synth_03"}
    ranking = pd.read_csv(
        workdir / "results" / "pterostichus_synth" / "annotate_next.tsv", sep="\t"
    )
    assert ranking.empty
    qc = pd.read_csv(workdir / "results" / "carabus_synth" / "qc.tsv", sep="\t")
    assert list(qc["specimen"]) == ["carabus_synth_03"]
