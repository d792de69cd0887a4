"""Trays through Snakemake on the example: split first, then the crops as specimens."""

import pandas as pd
import pytest
from scratch_project import copy_project, planned_jobs, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def tray_run(tmp_path_factory):
    """The example with its tray: `snakemake trays`, then the whole workflow."""
    workdir = copy_project(
        tmp_path_factory.mktemp("trays"), {"trays": "resources/example/trays.tsv"}
    )
    first = snakemake(workdir, "--cores", "2", "trays")
    assert first.returncode == 0, first.stderr[-4000:]
    plan = snakemake(workdir, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-4000:]
    second = snakemake(workdir, "--cores", "2", timeout=1200)
    assert second.returncode == 0, second.stderr[-4000:]
    return workdir, plan.stdout


def test_split_plans_one_job_per_tray_and_crops_join_their_species(tray_run):
    workdir, plan = tray_run
    table = pd.read_csv(workdir / "results" / "trays" / "trays.tsv", sep="\t")
    assert list(table["tray"]) == ["tray_01"] and table.loc[0, "n_found"] == 6
    jobs = planned_jobs(plan)
    assert ("split", "tray=tray_01") not in jobs  # already done, not planned again
    assert sum(rule == "describe" for rule, _ in jobs) == 2  # one per species, crops included


def test_trait_rows_of_crops_carry_their_tray_and_box(tray_run):
    workdir, _ = tray_run
    traits = pd.read_csv(workdir / "results" / "traits.csv")
    crops = traits[traits["specimen"].str.startswith("tray_01_")]
    assert crops["specimen"].nunique() == 6
    by_tray = pd.read_csv(workdir / "results" / "trays" / "traits" / "tray_01.csv")
    assert sorted(by_tray["specimen"].unique()) == sorted(crops["specimen"].unique())
    assert {"tray", "tray_number", "box_x0_px", "box_y1_px"} <= set(by_tray.columns)
    shared = [c for c in crops.columns if c in by_tray.columns]
    order = ["specimen", "structure"]
    left = crops[shared].sort_values(order).reset_index(drop=True)
    right = by_tray[shared].sort_values(order).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
