"""The whole workflow on the bundled example, through Snakemake, in a scratch copy."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pycocotools import mask as mask_utils

from traitrack.io import read_label_png

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

pytestmark = pytest.mark.workflow


def copy_project(destination: Path) -> Path:
    for name in ("workflow", "config", "envs"):
        source = ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, destination / name)
    shutil.copytree(ROOT / "resources" / "example", destination / "resources" / "example")
    return destination


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(SNAKEMAKE),
            "--cores",
            "2",
            "--directory",
            str(workdir),
            "--snakefile",
            str(workdir / "workflow" / "Snakefile"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    workdir = copy_project(tmp_path_factory.mktemp("example"))
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_every_output_exists_and_is_consistent(example_run):
    results = example_run / "results"
    samples = pd.read_csv(example_run / "config" / "samples.tsv", sep="\t")
    traits = pd.read_csv(results / "traits.csv")
    assert set(traits["specimen"]) == set(samples["specimen"])
    for species, group in samples.groupby("species"):
        assert (results / "traits" / f"{species}.csv").exists()
        for specimen in group["specimen"]:
            assert (results / "traits" / species / f"{specimen}.csv").exists()
            assert (results / species / "overlays" / f"{specimen}.png").exists()
        qc = pd.read_csv(results / species / "qc.tsv", sep="\t")
        assert set(qc["specimen"]) == set(group.loc[group["mask"].isna(), "specimen"])
        ranking = pd.read_csv(results / species / "annotate_next.tsv", sep="\t")
        assert sorted(ranking["specimen"]) == sorted(qc["specimen"])
        video = json.loads((results / species / "pseudovideo.json").read_text())
        assert sorted(t for c in video["chunks"] for t in c["targets"]) == sorted(qc["specimen"])


def test_traits_are_in_mm_with_provenance(example_run):
    traits = pd.read_csv(example_run / "results" / "traits.csv")
    for column in ("area_mm2", "length_mm", "width_mm", "engine", "templates", "confidence"):
        assert column in traits.columns
    predicted = traits[traits["source"] == "prediction"]
    assert set(predicted["engine"]) == {"registration"}
    elytra = predicted[predicted["structure"] == "elytra"]
    assert (elytra["area_mm2"] > 1).all()


def test_coco_export_reads_back_exactly(example_run):
    results = example_run / "results"
    for coco_path in results.glob("*/masks.coco.json"):
        species = coco_path.parent.name
        coco = json.loads(coco_path.read_text())
        for image in coco["images"][:4]:
            labels = read_label_png(results / species / "labels" / f"{image['specimen']}.png")
            for annotation in (a for a in coco["annotations"] if a["image_id"] == image["id"]):
                decoded = mask_utils.decode(annotation["segmentation"]).astype(bool)
                assert (decoded == (labels == annotation["category_id"])).all()


def test_evaluation_reaches_a_floor(example_run):
    summary = pd.read_csv(example_run / "results" / "evaluation_summary.tsv", sep="\t")
    evaluation = pd.read_csv(example_run / "results" / "evaluation.tsv", sep="\t")
    assert len(evaluation) == 20  # 2 species x 10 targets
    assert evaluation["miou"].mean() > 0.4, summary.to_string()


def test_nothing_to_do_on_a_second_run(example_run):
    result = snakemake(example_run, "--dry-run")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr
