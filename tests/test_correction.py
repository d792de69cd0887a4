"""The correction loop: predictions exported as labelme JSON and COCO, read back by traitrack's
own mask readers, and the corrected file making the specimen a template."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from skimage import draw

from traitrack.correction import coco_document, label_pieces, labelme_document
from traitrack.io import InputError, read_mask, write_label_png
from traitrack.propagation import SpecimenStore
from traitrack.samples import read_sample_sheet, specimens
from traitrack.species_context import SpeciesContext
from traitrack.stages.correction import choose_targets, run_export_corrections
from traitrack.structures import StructureTable

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "example"
STRUCTURES = StructureTable.from_config(
    yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def awkward_labels() -> np.ndarray:
    """A body with a true hole, a part inside another's hole, a background island, legs."""
    labels = np.zeros((120, 160), dtype=np.uint8)
    rr, cc = draw.ellipse(60, 80, 40, 55)
    labels[rr, cc] = 3  # elytra
    rr, cc = draw.disk((60, 60), 12)
    labels[rr, cc] = 0  # a true hole
    rr, cc = draw.disk((60, 110), 10)
    labels[rr, cc] = 1  # head inside the elytra's hole
    labels[57:63, 107:113] = 0  # a background island inside the head
    labels[59:61, 109:111] = 2  # and a pronotum inside that
    for row in (30, 60, 90):
        rr, cc = draw.line(row, 20, row + 15, 2)
        labels[rr, cc] = 4  # one-pixel legs, touching the border
    labels[10:13, 140:158] = 5
    return labels


def round_trip(tmp_path: Path, labels: np.ndarray, kind: str) -> np.ndarray:
    if kind == "labelme":
        document = labelme_document(labels, STRUCTURES, "image.png")
    else:
        document = coco_document([("image.png", labels)], STRUCTURES)
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(document))
    return read_mask(path, STRUCTURES, "image.png", labels.shape)


@pytest.mark.parametrize("kind", ["labelme", "coco"])
def test_blob_parts_and_their_holes_come_back(tmp_path, kind):
    labels = awkward_labels()
    back = round_trip(tmp_path, labels, kind)
    for structure in STRUCTURES:
        if structure.kind == "blob":
            assert np.array_equal(back == structure.label, labels == structure.label), structure
    assert (back[60, 60], back[66, 110], back[58, 108]) == (0, 1, 0)
    assert back[59, 109] == 2


def test_labelme_marks_enclosed_background_and_paints_largest_first():
    document = labelme_document(awkward_labels(), STRUCTURES, "image.png")
    labels = [shape["label"] for shape in document["shapes"]]
    assert labels[0] == "elytra" and labels.count("_background_") == 2
    areas = [piece.filled_area for piece in label_pieces(awkward_labels())]
    assert areas == sorted(areas, reverse=True)


def test_coco_uses_masks_for_parts_with_a_true_hole_and_polygons_elsewhere():
    document = coco_document([("image.png", awkward_labels())], STRUCTURES)
    crowd = {a["category_id"] for a in document["annotations"] if a["iscrowd"]}
    assert crowd == {3, 1}  # the elytra and the head hold background; the rest are polygons
    polygon = next(a for a in document["annotations"] if a["category_id"] == 5)
    assert isinstance(polygon["segmentation"], list)
    assert [c["name"] for c in document["categories"]] == [s.category for s in STRUCTURES]


@pytest.mark.parametrize("kind", ["labelme", "coco"])
def test_the_example_ground_truth_survives_the_round_trip(tmp_path, kind):
    worst = {s.name: 1.0 for s in STRUCTURES}
    for path in sorted((EXAMPLE / "gt").glob("*.png")):
        labels = read_mask(path, STRUCTURES)
        back = round_trip(tmp_path, labels, kind)
        for s in STRUCTURES:
            worst[s.name] = min(worst[s.name], iou(back == s.label, labels == s.label))
    for s in STRUCTURES:
        assert worst[s.name] >= (0.99 if s.kind == "blob" else 0.9), (s.name, worst)


def test_choose_targets_flagged_first_by_rank_or_the_named_ones():
    qc = pd.DataFrame(
        {"specimen": ["a", "b", "c"], "qc_rank": [0.5, 0.1, 0.9], "flagged": [True, True, False]}
    )
    assert choose_targets(qc) == ["b", "a"]
    assert choose_targets(qc, which="all") == ["b", "a", "c"]
    assert choose_targets(qc, ["c", "a"]) == ["a", "c"]
    with pytest.raises(InputError, match="corrections.specimens"):
        choose_targets(qc, ["zz"])


def test_an_exported_and_corrected_prediction_becomes_a_template(tmp_path):
    labels = awkward_labels()
    image = tmp_path / "images" / "sp_2.png"
    image.parent.mkdir()
    Image.fromarray(np.full((*labels.shape, 3), 90, dtype=np.uint8)).save(image)
    Image.fromarray(np.full((*labels.shape, 3), 90, dtype=np.uint8)).save(
        tmp_path / "images" / "sp_1.png"
    )
    write_label_png(tmp_path / "labels" / "sp_2.png", labels)
    pd.DataFrame({"specimen": ["sp_2"], "qc_rank": [0.0], "flagged": [True]}).to_csv(
        tmp_path / "qc.tsv", sep="\t", index=False
    )
    sheet = pd.DataFrame(
        {
            "specimen": ["sp_1", "sp_2"],
            "species": ["sp", "sp"],
            "image": [str(tmp_path / "images" / "sp_1.png"), str(image)],
            "mask": [str(tmp_path / "images" / "sp_1.png"), ""],
        }
    )
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    out = tmp_path / "corrections"
    exported = run_export_corrections(
        SpeciesContext.from_sheet(tmp_path / "samples.tsv", "sp", structures=STRUCTURES),
        labels_dir=tmp_path / "labels",
        qc=tmp_path / "qc.tsv",
        out_dir=out,
    )
    assert exported == ["sp_2"]
    document = json.loads((out / "sp_2.json").read_text())
    assert (out / document["imagePath"]).resolve() == image.resolve()
    assert document["flags"] == {"flagged": True}
    listing = pd.read_csv(out / "corrections.tsv", sep="\t")
    assert listing["specimen"].tolist() == ["sp_2"] and listing["flagged"].tolist() == [True]
    # the curator's fix: the background hole of the elytra was wrong
    document["shapes"] = [s for s in document["shapes"] if s["label"] != "_background_"]
    (tmp_path / "sp_2.fixed.json").write_text(json.dumps(document))
    sheet.loc[1, "mask"] = str(tmp_path / "sp_2.fixed.json")
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    rows = specimens(read_sample_sheet(tmp_path / "samples.tsv"), "sp")
    assert [r.specimen for r in rows if r.is_template] == ["sp_1", "sp_2"]
    template = SpecimenStore(rows, STRUCTURES).template("sp_2")
    expected = labels.copy()
    rr, cc = draw.disk((60, 60), 12)
    expected[rr, cc] = 3
    expected[57:63, 107:113] = 1
    expected[59:61, 109:111] = 2
    assert np.array_equal(template.labels, expected)
    coco = json.loads((out / "cvat.coco.json").read_text())
    assert [i["file_name"] for i in coco["images"]] == ["sp_2.png"]


@pytest.mark.workflow
def test_the_command_line_exports_the_chosen_targets(tmp_path_factory, tmp_path, monkeypatch):
    """`traitrack export-corrections` runs the workflow's rule on the finished example."""
    from scratch_project import finished_fast_example

    from traitrack.cli import main

    workdir = tmp_path / "project"
    shutil.copytree(finished_fast_example(tmp_path_factory), workdir, symlinks=True)
    monkeypatch.chdir(workdir)
    common = ["--species", "carabus_synth", "--config", "config/config.yaml", "fast.yaml"]
    out = workdir / "results" / "carabus_synth" / "corrections"
    assert main(["export-corrections", *common, "--specimens", "carabus_synth_05"]) == 0
    assert (out / "carabus_synth_05.json").exists()
    assert pd.read_csv(out / "corrections.tsv", sep="\t")["specimen"].tolist() == [
        "carabus_synth_05"
    ]
    assert main(["export-corrections", *common, "--specimens", "nobody"]) != 0
