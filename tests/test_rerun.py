"""Rerunning one species: what a dry run plans after a change to one species' inputs.

The example is run once (cheap registration settings, shared with tests/test_slurm.py) in a
scratch copy; each test copies that finished project, changes one thing and checks the dry
run's job list: the changed species' jobs, the all-species aggregates (tables, plots, report
tables) and nothing of the other species. The report is built from the same finished run.
"""

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scratch_project import copy_project, finished_fast_example, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

CHANGED, UNCHANGED = "carabus_synth", "pterostichus_synth"
AGGREGATES = {"tables", "evaluation_tables", "plots", "report_tables", "review", "all"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_fast_example(tmp_path_factory)


@pytest.fixture
def project(finished, tmp_path):
    """A copy of the finished run (mtimes and Snakemake's metadata kept)."""
    copy = tmp_path / "project"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


def dry_run(workdir, *args):
    result = snakemake(workdir, "--dry-run", *args, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return planned_jobs(result.stdout)


def species_of(wildcards):
    """The species of a job's wildcards line ('species=x' or 'species=x, shard=1-of-1')."""
    fields = dict(item.split("=", 1) for item in wildcards.split(", "))
    return fields["species"]


def sheet(workdir):
    return pd.read_csv(
        workdir / "config" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False
    )


def test_a_finished_run_has_nothing_to_do(project):
    assert dry_run(project) == []


def test_one_species_table_plans_only_that_species(tmp_path):
    workdir = copy_project(tmp_path)
    jobs = dry_run(workdir, f"results/traits/{CHANGED}.csv")
    assert {rule for rule, _ in jobs} == {
        "validate",
        "describe",
        "select",
        "order",
        "propagate",
        "gather",
        "calibrate",
        "measure",
    }
    assert {species_of(w) for _, w in jobs} == {CHANGED}


def test_forcing_one_species_table_reruns_only_that_species(project):
    jobs = dry_run(project, "--forceall", f"results/traits/{CHANGED}.csv")
    assert {species_of(w) for _, w in jobs} == {CHANGED}
    rules = ["validate", "calibrate", "describe", "select", "order", "propagate", "gather"]
    assert sorted(rule for rule, _ in jobs) == sorted([*rules, "measure"])


def assert_only_changed_species(jobs, expected_rules):
    per_species = [(rule, species_of(w)) for rule, w in jobs if w]
    assert {species for _, species in per_species} == {CHANGED}, jobs
    assert {rule for rule, _ in per_species} == expected_rules
    assert {rule for rule, w in jobs if not w} <= AGGREGATES


def test_changed_template_mask_reruns_only_its_species(project):
    template = sheet(project).query("species == @CHANGED and mask != ''").iloc[0]
    mask_path = project / template["mask"]
    mask = np.array(Image.open(mask_path))
    mask[0, 0] = 255 - mask[0, 0]  # one pixel: new content, not just a new mtime
    Image.fromarray(mask).save(mask_path)
    jobs = dry_run(project)
    assert_only_changed_species(
        jobs,
        {
            "validate",  # and describe after it, which waits for every input to be valid
            "describe",
            "select",
            "order",
            "propagate",
            "gather",
            "measure",
            "overlays",
            "evaluate",
            "annotate_next",
        },
    )


def test_sheet_edit_of_one_species_reruns_only_it(project):
    """A species' template swapped for another mask file in the sample sheet (not in place)."""
    table = sheet(project)
    row = table.index[(table["species"] == CHANGED) & (table["mask"] != "")][0]
    old = project / table.loc[row, "mask"]
    new = old.with_name(f"{old.stem}_v2{old.suffix}")
    shutil.copy(old, new)
    table.loc[row, "mask"] = str(new.relative_to(project))
    table.to_csv(project / "config" / "samples.tsv", sep="\t", index=False)
    jobs = dry_run(project)
    assert_only_changed_species(
        jobs,
        {
            "validate",
            "validate_ground_truth",
            "describe",
            "select",
            "order",
            "propagate",
            "gather",
            "measure",
            "overlays",
            "evaluate",
            "annotate_next",
        },
    )


def test_image_edited_in_place_reruns_its_species(project):
    """`propagate` shards do not list the images; `describe` does, and all after it reruns."""
    target = sheet(project).query("species == @CHANGED and mask == ''").iloc[0]
    path = project / target["image"]
    image = np.array(Image.open(path))
    image[0, 0] = 255 - image[0, 0]
    Image.fromarray(image).save(path)
    jobs = dry_run(project)
    assert_only_changed_species(
        jobs,
        {
            "validate",
            "validate_ground_truth",
            "describe",
            "select",
            "order",
            "propagate",
            "gather",
            "calibrate",
            "measure",
            "overlays",
            "evaluate",
            "annotate_next",
        },
    )


def test_new_pixel_size_remeasures_without_propagating(project):
    table = sheet(project)
    row = table.index[table["species"] == CHANGED][-1]
    table.loc[row, "px_per_mm"] = "30.5"
    table.to_csv(project / "config" / "samples.tsv", sep="\t", index=False)
    jobs = dry_run(project)
    assert_only_changed_species(jobs, {"calibrate", "measure"})


def test_report_has_rulegraph_overlays_tables_and_plots(finished, tmp_path):
    report = tmp_path / "report.html"
    result = snakemake(finished, "--report", str(report), timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    text = report.read_text()
    for expected in (
        "Overlays",
        "Quality control",
        "Evaluation",
        "Trait distributions",
        "rulegraph",
    ):
        assert expected in text, expected
    for structure in ("head", "pronotum", "elytra", "legs", "antennae"):
        assert f"{structure}.png" in text
    assert f"{UNCHANGED}_05.png" in text and "qc.html" in text and "evaluation.html" in text


def planned_describe_runtime(tmp_path, extra_config=None):
    """The runtime (minutes) a dry run gives the changed species' `describe` job."""
    import re

    tmp_path.mkdir()
    workdir = copy_project(tmp_path, extra_config)
    result = snakemake(workdir, "--dry-run", f"results/{CHANGED}/descriptors.npz", timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    describe = re.search(r"rule describe:.*?runtime=(\d+)", result.stdout, flags=re.S)
    return int(describe.group(1)), sheet(workdir)


def test_the_specimen_descriptor_asks_for_time_by_the_number_of_images(tmp_path):
    runtime, rows = planned_describe_runtime(tmp_path / "specimen")
    images = int((rows["species"] == CHANGED).sum())
    assert runtime == 30 + -(-images // 60)  # 30 min plus 1 s per image, rounded up
    hog, _ = planned_describe_runtime(tmp_path / "hog", {"describe": {"method": "hog"}})
    assert hog == 30
    configured, _ = planned_describe_runtime(
        tmp_path / "set", {"resources": {"describe": {"runtime": 7}}}
    )
    assert configured == 7
