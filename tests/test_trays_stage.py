"""The split stage on the example tray: its files, a corrected split, and traits traced back."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from traitrack.stages.trays import run_split, run_tray_table, run_tray_traits
from traitrack.trays.files import read_instances
from traitrack.trays.sheet import BOX
from traitrack.trays.upright import crop_to_tray

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "example"


@pytest.fixture(scope="module")
def split_example(tmp_path_factory):
    """The example tray split by the stage, in a scratch folder with its own tray sheet."""
    work = tmp_path_factory.mktemp("trays")
    shutil.copy(EXAMPLE / "trays" / "tray_01.png", work / "tray_01.png")
    sheet = pd.read_csv(EXAMPLE / "trays.tsv", sep="\t", dtype=str)
    sheet["image"] = str(work / "tray_01.png")
    sheet.to_csv(work / "trays.tsv", sep="\t", index=False)
    run_split(work / "trays.tsv", "tray_01", work / "out" / "tray_01", {})
    return work


def test_split_writes_every_file(split_example):
    out = split_example / "out" / "tray_01"
    instances = cv2.imread(str(out / "instances.png"), cv2.IMREAD_UNCHANGED)
    assert instances.dtype == np.uint16 and instances.max() == 6
    truth = cv2.imread(str(EXAMPLE / "trays" / "tray_01.truth.png"), cv2.IMREAD_UNCHANGED)
    for k in range(1, 7):  # every specimen found matches one true specimen closely
        found = instances == k
        best = np.bincount(truth[found]).argmax()
        iou = (found & (truth == best)).sum() / (found | (truth == best)).sum()
        assert iou > 0.9
    assert np.array_equal(read_instances(out / "instances.coco.json", instances.shape), instances)
    summary = json.loads((out / "tray.json").read_text())
    assert summary["status"] == "ok" and summary["n_found"] == summary["n_expected"] == 6
    assert {e["kind"] for e in summary["excluded"]} == {"label", "scale_bar", "line"}
    assert Image.open(out / "overlay.png").size == (instances.shape[1], instances.shape[0])


def crop_in_tray(row, shape):
    """The crop's pixels mapped back to the tray through the sample row's turn and origin:
    the crop's mask, and the tray's (row, col) of every mask pixel."""
    mask = np.array(Image.open(Path(row.image).with_suffix(".mask.png"))) > 0
    rows, cols = np.nonzero(mask)
    x, y = crop_to_tray(
        cols, rows, angle_deg=row.angle_deg, origin=(row.origin_x_px, row.origin_y_px)
    )
    y = np.clip(np.round(y).astype(int), 0, shape[0] - 1)
    return mask, (y, np.clip(np.round(x).astype(int), 0, shape[1] - 1))


def test_crops_are_their_specimen_turned_upright(split_example):
    out = split_example / "out" / "tray_01"
    tray = np.array(Image.open(split_example / "tray_01.png"))[..., :3]
    instances = cv2.imread(str(out / "instances.png"), cv2.IMREAD_UNCHANGED)
    rows = pd.read_csv(out / "samples.tsv", sep="\t")
    assert list(rows["specimen"]) == [f"tray_01_{k:03d}" for k in range(1, 7)]
    assert (rows["angle_deg"].abs() > 1).any()  # the example's specimens lie at angles
    for row in rows.itertuples():
        crop = np.array(Image.open(row.image))[..., :3]
        mask, at = crop_in_tray(row, instances.shape)
        assert crop.shape[:2] == mask.shape
        assert (instances[at] == row.tray_number).mean() > 0.97
        area = (instances == row.tray_number).sum()
        assert abs(int(mask.sum()) - int(area)) < 0.03 * area
        colour = np.abs(crop[mask].astype(int) - tray[at].astype(int)).mean()
        assert colour < 12  # the specimen's own pixels, resampled
        x0, y0, x1, y1 = (getattr(row, c) for c in BOX)
        assert (x0 <= at[1]).all() and (at[1] < x1).all() and (y0 <= at[0]).all()
        assert row.species == "carabus_synth" and row.px_per_mm == 21.8


def test_unturned_crops_are_the_tray_inside_their_box(split_example, tmp_path):
    run_split(
        split_example / "trays.tsv", "tray_01", tmp_path / "tray_01", {"crop_rotation": "none"}
    )
    tray = np.array(Image.open(split_example / "tray_01.png"))
    instances = cv2.imread(str(tmp_path / "tray_01" / "instances.png"), cv2.IMREAD_UNCHANGED)
    rows = pd.read_csv(tmp_path / "tray_01" / "samples.tsv", sep="\t")
    assert (rows["angle_deg"] == 0).all()
    for row in rows.itertuples():
        x0, y0, x1, y1 = (getattr(row, c) for c in BOX)
        assert (row.origin_x_px, row.origin_y_px) == (x0, y0)
        crop = np.array(Image.open(row.image))
        mask = np.array(Image.open(Path(row.image).with_suffix(".mask.png"))) > 0
        assert crop.shape[:2] == mask.shape == (y1 - y0, x1 - x0)
        assert np.array_equal(mask, instances[y0:y1, x0:x1] == row.tray_number)
        assert np.array_equal(crop[mask], tray[y0:y1, x0:x1][mask])


def test_a_crops_traits_trace_to_its_tray(split_example, tmp_path):
    out = split_example / "out" / "tray_01"
    user_sheet = tmp_path / "samples.tsv"
    shutil.copy(EXAMPLE / "samples.tsv", user_sheet)
    run_tray_table(user_sheet, [str(out)], tmp_path / "trays.tsv", tmp_path / "merged.tsv")
    merged = pd.read_csv(tmp_path / "merged.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert len(merged) == 24 + 6 and (merged["tray"] != "").sum() == 6
    # a stand-in for measure: each crop's foreground area and centroid, on the crop alone
    masks = [
        np.array(Image.open(Path(p).with_suffix(".mask.png"))) > 0
        for p in merged.loc[merged["tray"] != "", "image"]
    ]
    traits = pd.DataFrame(
        {
            "specimen": merged.loc[merged["tray"] != "", "specimen"],
            "area_px2": [int(m.sum()) for m in masks],
            "centroid_row_px": [np.nonzero(m)[0].mean() for m in masks],
            "centroid_col_px": [np.nonzero(m)[1].mean() for m in masks],
        }
    )
    traits.to_csv(tmp_path / "traits.csv", index=False)
    run_tray_traits(tmp_path / "traits.csv", tmp_path / "merged.tsv", tmp_path / "by_tray")
    table = pd.read_csv(tmp_path / "by_tray" / "tray_01.csv")
    instances = cv2.imread(str(out / "instances.png"), cv2.IMREAD_UNCHANGED)
    assert len(table) == 6
    for row in table.itertuples():
        # the trait row's tray, number, box and turn lead back to the same pixels in the tray
        x0, y0, x1, y1 = (getattr(row, c) for c in BOX)
        assert row.tray == "tray_01"
        specimen = instances == row.tray_number
        area = specimen.sum()
        assert specimen[y0:y1, x0:x1].sum() == area
        assert abs(row.area_px2 - area) < 0.03 * area
        rows, cols = np.nonzero(specimen)
        assert abs(row.tray_centroid_row_px - rows.mean()) < 1.5
        assert abs(row.tray_centroid_col_px - cols.mean()) < 1.5
    trays = pd.read_csv(tmp_path / "trays.tsv", sep="\t")
    assert trays.loc[0, "n_found"] == 6 and trays.loc[0, "status"] == "ok"
    assert json.loads(trays.loc[0, "scale_bar_boxes_px"])


def test_a_corrected_instance_map_replaces_the_split(split_example, tmp_path):
    out = split_example / "out" / "tray_01"
    instances = cv2.imread(str(out / "instances.png"), cv2.IMREAD_UNCHANGED)
    corrected = instances.copy()
    corrected[corrected == 6] = 5  # the user joins two specimens in their tool
    cv2.imwrite(str(tmp_path / "corrected.png"), corrected)
    sheet = pd.read_csv(split_example / "trays.tsv", sep="\t", dtype=str)
    sheet["instances"] = str(tmp_path / "corrected.png")
    sheet.to_csv(tmp_path / "trays.tsv", sep="\t", index=False)
    run_split(tmp_path / "trays.tsv", "tray_01", tmp_path / "tray_01", {})
    summary = json.loads((tmp_path / "tray_01" / "tray.json").read_text())
    assert summary["instances_source"] == "corrected"
    assert summary["n_found"] == 5 and summary["status"] == "count_mismatch"
    again = cv2.imread(str(tmp_path / "tray_01" / "instances.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(again, corrected)
    assert len(pd.read_csv(tmp_path / "tray_01" / "samples.tsv", sep="\t")) == 5


def test_a_second_sheet_gives_single_crops_their_species(split_example, tmp_path):
    out = shutil.copytree(split_example / "out" / "tray_01", tmp_path / "tray_01")
    rows = pd.read_csv(out / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    rows["species"] = ""  # a tray photographed before anyone named its specimens
    rows.to_csv(out / "samples.tsv", sep="\t", index=False)
    user_sheet = tmp_path / "samples.tsv"
    shutil.copy(EXAMPLE / "samples.tsv", user_sheet)
    species = tmp_path / "species.tsv"
    species.write_text("specimen\tspecies\ntray_01_002\tpterostichus_synth\ntray_01_004\t\n")
    run_tray_table(
        user_sheet,
        [str(out)],
        tmp_path / "trays.tsv",
        tmp_path / "merged.tsv",
        crops_table=tmp_path / "crops.tsv",
        species_sheet=species,
    )
    merged = pd.read_csv(tmp_path / "merged.tsv", sep="\t", dtype=str, keep_default_na=False)
    crops = merged[merged["tray"] != ""]
    assert list(crops["specimen"]) == ["tray_01_002"]
    assert list(crops["species"]) == ["pterostichus_synth"]
    assert len(pd.read_csv(tmp_path / "crops.tsv", sep="\t")) == 6
    species.write_text("specimen\tspecies\ntray_09_001\tcarabus_synth\n")
    with pytest.raises(ValueError, match="no crop is called"):
        run_tray_table(
            user_sheet, [str(out)], tmp_path / "t.tsv", tmp_path / "m.tsv", species_sheet=species
        )


def test_the_command_line_splits_a_tray(tmp_path, monkeypatch):
    """`traitrack split --tray` runs the workflow's `split` rule for that tray."""
    from traitrack.cli import main

    for name in ("config", "resources"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    config = ["--config", "config/config.yaml", "config/trays.yaml"]
    assert main(["split", "--tray", "tray_01", *config]) == 0
    crops = tmp_path / "results" / "trays" / "tray_01" / "crops"
    assert len(list(crops.glob("*.mask.png"))) == 6
    assert (tmp_path / "logs" / "split" / "tray_01.log").exists()
