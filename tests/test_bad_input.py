"""Bad inputs, each built in a scratch copy of the example, must be reported before any heavy
job runs: every problem at once, each with its file, its sheet row or config key, and the fix.

The sheet's own mistakes (non-finite `px_per_mm`, over-long specimen ids, reserved species
names, a header without rows) stop the plan itself; the files' mistakes (masks, COCO/labelme,
`gt_mask`, EXIF orientation, encodings shared by two structures) stop rule `validate`, which
`describe` waits for; `gt_mask` problems stop `evaluate` only, never the trait tables.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scratch_project import copy_project, snakemake

pytestmark = pytest.mark.workflow

HEAVY = ("describe", "propagate", "measure", "evaluate", "overlays")


def read_sheet(workdir):
    return pd.read_csv(
        workdir / "config" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False
    )


def write_sheet(workdir, sheet):
    sheet.to_csv(workdir / "config" / "samples.tsv", sep="\t", index=False)


def output_of(result):
    return result.stdout + result.stderr


def ran(workdir, rule):
    """Whether any job of `rule` started (its log folder exists)."""
    return (workdir / "logs" / rule).exists()


def save_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path)


@pytest.fixture(scope="module")
def broken_files(tmp_path_factory):
    """Both species' templates and ground truth broken in six ways."""
    workdir = copy_project(tmp_path_factory.mktemp("bad_files"))
    sheet = read_sheet(workdir)
    bad = workdir / "bad"
    rows = sheet.set_index("specimen")

    def mask_of(name):
        return np.asarray(Image.open(workdir / rows.loc[name, "mask"]).convert("RGB"))

    def image_of(name):
        return np.asarray(Image.open(workdir / rows.loc[name, "image"]).convert("RGB"))

    # carabus_synth_01: all background
    save_png(bad / "empty.png", np.zeros_like(mask_of("carabus_synth_01")))
    sheet.loc[sheet.specimen == "carabus_synth_01", "mask"] = "bad/empty.png"
    # carabus_synth_02: a JPEG stored upside down with EXIF orientation 3; mask on stored pixels
    exif = Image.Exif()
    exif[0x0112] = 3
    Image.fromarray(np.rot90(image_of("carabus_synth_02"), 2).copy()).save(
        bad / "exif3.jpg", quality=95, exif=exif
    )
    save_png(bad / "exif3_mask.png", np.rot90(mask_of("carabus_synth_02"), 2))
    sheet.loc[sheet.specimen == "carabus_synth_02", ["image", "mask"]] = [
        "bad/exif3.jpg",
        "bad/exif3_mask.png",
    ]
    # pterostichus_synth_01: EXIF orientation 6, the mask at the stored (unturned) size
    exif[0x0112] = 6
    Image.fromarray(np.rot90(image_of("pterostichus_synth_01"), 1).copy()).save(
        bad / "exif6.jpg", quality=95, exif=exif
    )
    save_png(bad / "exif6_mask.png", np.rot90(mask_of("pterostichus_synth_01"), 1))
    sheet.loc[sheet.specimen == "pterostichus_synth_01", ["image", "mask"]] = [
        "bad/exif6.jpg",
        "bad/exif6_mask.png",
    ]
    # pterostichus_synth_02: malformed labelme JSON
    (bad / "labelme.json").write_text(
        json.dumps({"imageHeight": 10, "imageWidth": 10, "shapes": {"label": "head"}})
    )
    sheet.loc[sheet.specimen == "pterostichus_synth_02", "mask"] = "bad/labelme.json"
    # pterostichus_synth_03 (a target): a gt_mask with an undeclared colour
    gt = np.asarray(
        Image.open(workdir / rows.loc["pterostichus_synth_03", "gt_mask"]).convert("RGB")
    )
    save_png(bad / "gt_small.png", gt[::2, ::2])  # for pterostichus_synth_04 below
    gt = gt.copy()
    gt[:5, :5] = (7, 7, 7)
    save_png(bad / "gt_colour.png", gt)
    sheet.loc[sheet.specimen == "pterostichus_synth_03", "gt_mask"] = "bad/gt_colour.png"
    # pterostichus_synth_04 (a target): a gt_mask of another size
    sheet.loc[sheet.specimen == "pterostichus_synth_04", "gt_mask"] = "bad/gt_small.png"
    write_sheet(workdir, sheet)
    result = snakemake(workdir, "--cores", "2", "--keep-going")
    return workdir, result


def test_nothing_heavy_ran(broken_files):
    workdir, result = broken_files
    assert result.returncode != 0
    for rule in HEAVY:
        assert not ran(workdir, rule), f"{rule} ran before the inputs were valid"
    assert not (workdir / "results" / "carabus_synth" / "descriptors.npz").exists()


def log_of(workdir, species, ground_truth=False):
    name = f"{species}.ground_truth.log" if ground_truth else f"{species}.log"
    return (workdir / "logs" / "validate" / name).read_text()


def test_shared_encoding_is_reported_as_such(tmp_path):
    structures = [
        {"name": "head", "rgb": [200, 0, 0], "value": 1},
        {"name": "pronotum", "rgb": [200, 0, 0], "value": 2},
        {"name": "elytra", "rgb": [0, 0, 200], "value": 3},
        {"name": "legs", "kind": "thin", "rgb": [200, 200, 0], "value": 4},
        {"name": "antennae", "kind": "thin", "rgb": [200, 0, 200], "value": 5},
    ]
    workdir = copy_project(tmp_path, {"structures": structures})
    result = snakemake(workdir, "--cores", "1")
    text = output_of(result)
    assert result.returncode != 0
    assert "`structures[].rgb` the config" in text
    assert "structures ['head', 'pronotum'] share the rgb [200, 0, 0]" in text
    assert "give each structure its own `rgb`" in text
    # no undeclared colour, in whichever species' check ran first (the run stops at the first)
    logs = [path.read_text() for path in (workdir / "logs" / "validate").glob("*.log")]
    assert logs and not any("does not declare" in text for text in logs)
    assert not ran(workdir, "describe")


def test_every_problem_at_once_with_file_row_and_fix(broken_files):
    workdir, result = broken_files
    carabus = log_of(workdir, "carabus_synth")
    ptero = log_of(workdir, "pterostichus_synth")
    ptero_truth = log_of(workdir, "pterostichus_synth", ground_truth=True)
    # the empty template
    assert "row 1 (carabus_synth_01), `mask` bad/empty.png: the mask is all background" in carabus
    # the mask drawn on the stored pixels of an EXIF-turned JPEG, same size
    line = next(x for x in carabus.splitlines() if "bad/exif3_mask.png" in x)
    assert "row 2 (carabus_synth_02), `mask`" in line
    assert "turned 180 degrees" in line and "EXIF orientation (3)" in line
    assert "fix: annotate the photograph as it is shown" in line
    # the mask at the stored size of an EXIF-turned (90 degrees) JPEG
    line = next(x for x in ptero.splitlines() if "bad/exif6_mask.png" in x)
    assert "the photograph's stored size" in line and "EXIF orientation (6)" in line
    # malformed labelme names the file and what the format wants
    line = next(x for x in ptero.splitlines() if "bad/labelme.json" in x)
    assert "row 14 (pterostichus_synth_02), `mask`" in line
    assert "malformed labelme JSON" in line and "`shapes` is a list of objects" in line
    # the gt_mask problems name the gt_mask column and say they block evaluate only
    line = next(x for x in ptero_truth.splitlines() if "bad/gt_colour.png" in x)
    assert "`gt_mask`" in line and "(7, 7, 7)" in line.replace("[7, 7, 7]", "(7, 7, 7)")
    assert "empty the row's `gt_mask` (it is used by `evaluate` only)" in line
    line = next(x for x in ptero_truth.splitlines() if "bad/gt_small.png" in x)
    assert "`gt_mask`" in line and re.search(r"the mask is \d+ x \d+ px but its photograph", line)
    # the job's error lists the species' blocking problems, not only the first
    text = output_of(result)
    assert "carabus_synth: 2 problem(s)" in text  # empty mask, EXIF 3
    assert "pterostichus_synth: 2 problem(s)" in text  # EXIF 6, labelme (gt_mask: evaluate)
    assert "bad/gt_colour.png" not in ptero  # the gt_mask files: their own job


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("px_per_mm", "inf", "`px_per_mm` must be a positive, finite number"),
        ("specimen", "s" * 300, "shorten them"),
        ("species", "traits", "would collide with the workflow's own outputs"),
    ],
)
def test_sheet_mistakes_stop_the_plan(tmp_path, column, value, expected):
    workdir = copy_project(tmp_path)
    sheet = read_sheet(workdir)
    sheet.loc[sheet.index[-1], column] = value
    write_sheet(workdir, sheet)
    result = snakemake(workdir, "--cores", "1")
    assert result.returncode != 0
    assert expected in output_of(result)
    assert "config/samples.tsv" in output_of(result)
    assert not (workdir / "logs").exists()


def test_header_only_sheet_stops_the_plan(tmp_path):
    workdir = copy_project(tmp_path)
    sheet = read_sheet(workdir)
    write_sheet(workdir, sheet.iloc[:0])
    result = snakemake(workdir, "--cores", "1")
    assert result.returncode != 0
    assert "header but no specimen rows" in output_of(result)


def test_gt_mask_problem_blocks_evaluate_only_and_small_template_warns(tmp_path):
    workdir = copy_project(tmp_path)
    sheet = read_sheet(workdir)
    keep = (sheet["species"] == "carabus_synth") & (
        (sheet["mask"] != "") | sheet["specimen"].isin(["carabus_synth_03", "carabus_synth_04"])
    )
    sheet = sheet[keep].copy()
    gt = np.asarray(Image.open(workdir / sheet.iloc[2]["gt_mask"]).convert("RGB")).copy()
    gt[:5, :5] = (7, 7, 7)
    save_png(workdir / "bad" / "gt_colour.png", gt)
    sheet.loc[sheet.specimen == "carabus_synth_03", "gt_mask"] = "bad/gt_colour.png"
    # a template photographed 4 times smaller (a thumbnail), its mask alike
    small = workdir / "bad" / "small"
    row = sheet[sheet.specimen == "carabus_synth_02"].iloc[0]
    for column, resample in (("image", Image.BILINEAR), ("mask", Image.NEAREST)):
        with Image.open(workdir / row[column]) as image:
            image.resize((image.width // 4, image.height // 4), resample).save(
                small.with_name(f"small_{column}.png")
            )
    sheet.loc[sheet.specimen == "carabus_synth_02", ["image", "mask"]] = [
        "bad/small_image.png",
        "bad/small_mask.png",
    ]
    write_sheet(workdir, sheet)
    result = snakemake(workdir, "--cores", "2", "--keep-going")
    assert result.returncode != 0  # evaluate failed
    text = output_of(result)
    assert (workdir / "results" / "traits.csv").exists()
    traits = pd.read_csv(workdir / "results" / "traits.csv")
    assert {"carabus_synth_03", "carabus_synth_04"} <= set(traits["specimen"])
    assert not (workdir / "results" / "carabus_synth" / "evaluation.tsv").exists()
    log = (workdir / "logs" / "evaluate" / "carabus_synth.log").read_text()
    assert "`gt_mask` bad/gt_colour.png" in log and "stop `evaluate`" in log
    assert "the trait tables are not affected" in log
    assert "Error in rule evaluate" in text
    table = pd.read_csv(workdir / "results" / "carabus_synth" / "validation.tsv", sep="\t")
    warning = table[table["severity"] == "warning"].iloc[0]
    assert warning["specimen"] == "carabus_synth_02" and warning["column"] == "image"
    factor = float(re.search(r"is (\d+\.\d)x smaller \(linear\)", warning["problem"]).group(1))
    assert 3.5 <= factor <= 5.0  # a quarter of the size; the targets differ in size
