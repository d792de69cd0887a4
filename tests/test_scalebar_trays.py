"""A tray's scale bar calibrates all of its crops, read once on the tray photograph."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traitrack.scalebar.calibrate import ScaleReading
from traitrack.scalebar.tray import bar_window, shifted, tray_scale_boxes
from traitrack.species_context import SpeciesContext
from traitrack.structures import Structure, StructureTable

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "example"
# the example tray's bar (traitrack.trays.compose on 1300 x 900): columns 806-1117, "10 mm"
BAR_LEFT, BAR_RIGHT, BAR_MM = 806, 1118, 10.0

BODY = StructureTable(structures=(Structure("body", 1, (255, 0, 0)),))  # calibrate reads no mask


def test_the_window_holds_the_label_and_readings_move_into_the_tray():
    assert bar_window((806, 81, 1118, 95), (900, 1300)) == (494, 0, 1300, 282)
    reading = ScaleReading(bar_left_x_px=10.0, bar_right_x_px=50.0, bar_y_px=5.0)
    moved = shifted(reading, 100, 200)
    assert (moved.bar_left_x_px, moved.bar_right_x_px, moved.bar_y_px) == (110, 150, 205)
    assert moved.text_box == (0, 0, 0, 0)  # no text: no box to move
    boxed = shifted(ScaleReading(text_box=(1.0, 2.0, 3.0, 4.0)), 10, 20)
    assert boxed.text_box == (11, 22, 13, 24)


def test_boxes_come_from_tray_json(tmp_path):
    summary = {
        "image": "tray.png",
        "excluded": [
            {"kind": "label", "box_px": [1, 2, 3, 4]},
            {"kind": "scale_bar", "box_px": [10, 20, 300, 32]},
        ],
    }
    (tmp_path / "tray.json").write_text(json.dumps(summary))
    assert tray_scale_boxes(tmp_path) == ("tray.png", [(10, 20, 300, 32)])


@pytest.fixture(scope="module")
def split_without_pixel_size(tmp_path_factory):
    """The example tray split, its tray sheet without a pixel size, and the merged sheet."""
    from traitrack.stages.trays import run_split, run_tray_table

    work = tmp_path_factory.mktemp("trays")
    shutil.copy(EXAMPLE / "trays" / "tray_01.png", work / "tray_01.png")
    sheet = pd.read_csv(EXAMPLE / "trays.tsv", sep="\t", dtype=str)
    sheet["image"] = str(work / "tray_01.png")
    sheet["px_per_mm"] = ""
    sheet.to_csv(work / "trays.tsv", sep="\t", index=False)
    out = work / "out" / "tray_01"
    run_split(work / "trays.tsv", "tray_01", out, {})
    user = work / "samples.tsv"
    pd.read_csv(EXAMPLE / "samples.tsv", sep="\t", dtype=str).head(2).to_csv(
        user, sep="\t", index=False
    )
    run_tray_table(user, [str(out)], work / "table.tsv", work / "merged.tsv")
    return work, out


def test_every_crop_takes_the_trays_bar_read_once(split_without_pixel_size, monkeypatch):
    pytest.importorskip("rapidocr_onnxruntime")
    from traitrack.config import load_config
    from traitrack.scalebar import tray as tray_module
    from traitrack.stages.calibrate import read_scale_table, run_calibrate

    work, out = split_without_pixel_size
    calls = []
    original = tray_module.read_tray_scale

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(tray_module, "read_tray_scale", counted)
    options = load_config(ROOT / "config" / "config.yaml")["calibrate"]
    table = run_calibrate(
        SpeciesContext.from_sheet(work / "merged.tsv", "carabus_synth", structures=BODY),
        scale_table=work / "scale.tsv",
        overlay_dir=work / "overlays",
        options=options,
        tray_dirs=[str(out)],
    ).set_index("specimen")
    crops = table[table.index.str.startswith("tray_01_")]
    assert len(crops) == 6 and len(calls) == 1
    assert set(crops.method) == {"tray_scalebar"} and set(crops.status) == {"ok"}
    assert set(crops.scale_image) == {str(work / "tray_01.png")}
    assert set(crops.value_mm) == {BAR_MM}
    # the bar's ends in the tray photograph's pixels, the pixel size its crops'
    assert crops.bar_left_x_px.iloc[0] == pytest.approx(BAR_LEFT, abs=0.5)
    assert crops.bar_right_x_px.iloc[0] == pytest.approx(BAR_RIGHT, abs=0.5)
    expected = (BAR_RIGHT - BAR_LEFT) / BAR_MM
    assert np.allclose(crops.px_per_mm, expected, rtol=0.005)
    # the specimens photographed alone keep the sheet's pixel size
    assert set(table.loc[~table.index.str.startswith("tray_01_"), "method"]) == {"sheet"}
    assert read_scale_table(work / "scale.tsv")["tray_01_001"][1] == "tray_scalebar"
    assert (work / "overlays" / "tray_01_001.png").exists()


def test_a_tray_without_a_recorded_bar_leaves_its_crops_to_themselves(
    split_without_pixel_size, tmp_path
):
    from traitrack.config import load_config
    from traitrack.stages.calibrate import run_calibrate

    work, out = split_without_pixel_size
    bare = shutil.copytree(out, tmp_path / "tray_01")
    summary = json.loads((bare / "tray.json").read_text())
    summary["excluded"] = [e for e in summary["excluded"] if e["kind"] != "scale_bar"]
    (bare / "tray.json").write_text(json.dumps(summary))
    pytest.importorskip("rapidocr_onnxruntime")
    options = load_config(ROOT / "config" / "config.yaml")["calibrate"]
    table = run_calibrate(
        SpeciesContext.from_sheet(work / "merged.tsv", "carabus_synth", structures=BODY),
        scale_table=tmp_path / "scale.tsv",
        overlay_dir=tmp_path / "overlays",
        options=options,
        tray_dirs=[str(bare)],
    ).set_index("specimen")
    crops = table[table.index.str.startswith("tray_01_")]
    merged = pd.read_csv(work / "merged.tsv", sep="\t", dtype=str, keep_default_na=False)
    images = merged.set_index("specimen").loc[crops.index, "image"]
    assert list(crops.scale_image) == list(images)  # each crop looked at on its own
    assert "tray_scalebar" not in set(crops.method)


@pytest.mark.workflow
def test_the_calibrate_rule_reads_the_trays_bar(tmp_path):
    """Through Snakemake: split, then calibrate a species whose crops' tray has no pixel size
    in the tray sheet; the crops get the tray's bar."""
    pytest.importorskip("rapidocr_onnxruntime")
    from scratch_project import copy_project, snakemake

    workdir = copy_project(tmp_path, {"trays": "resources/example/trays.tsv"})
    trays = workdir / "resources" / "example" / "trays.tsv"
    sheet = pd.read_csv(trays, sep="\t", dtype=str)
    sheet["px_per_mm"] = ""
    sheet.to_csv(trays, sep="\t", index=False)
    first = snakemake(workdir, "--cores", "1", "trays")
    assert first.returncode == 0, first.stderr[-4000:]
    second = snakemake(workdir, "--cores", "1", "results/carabus_synth/scale.tsv")
    assert second.returncode == 0, second.stderr[-4000:]
    table = pd.read_csv(workdir / "results" / "carabus_synth" / "scale.tsv", sep="\t")
    crops = table[table.specimen.str.startswith("tray_01_")]
    assert len(crops) == 6 and set(crops.method) == {"tray_scalebar"}
    assert np.allclose(crops.px_per_mm, (BAR_RIGHT - BAR_LEFT) / BAR_MM, rtol=0.005)
