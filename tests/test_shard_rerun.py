"""Nothing lost when a job dies: a real run killed mid-`propagate` reruns only its unfinished shard.

The example's first species is cut into two shards (`shard.size: 5`, 10 targets) and run with
one core, so the shards run one after the other. As soon as one shard is finished and the
other's job has started, the whole Snakemake process group is killed (SIGKILL, as a node that
dies). The rerun (`--rerun-incomplete`, as the SLURM profile sets) must plan and run the
unfinished shard alone, leave the finished one untouched, and give the same bytes as the
uninterrupted, unsharded run of the example.
"""

import filecmp
import os
import signal
import subprocess
import time

import pytest
from scratch_project import (
    SNAKEMAKE,
    copy_project,
    finished_fast_example,
    planned_jobs,
    snakemake,
)

pytestmark = pytest.mark.workflow

SPECIES = "carabus_synth"
TARGETS = [
    f"results/traits/{SPECIES}.csv",
    f"results/{SPECIES}/qc.tsv",
    f"results/{SPECIES}/masks.coco.json",
]
SHARDS = ("1-of-2", "2-of-2")


def command(workdir, *args):
    return [
        str(SNAKEMAKE),
        "--directory",
        str(workdir),
        "--snakefile",
        str(workdir / "workflow" / "Snakefile"),
        "--configfile",
        str(workdir / "config" / "config.yaml"),
        str(workdir / "fast.yaml"),
        *args,
    ]


def kill_mid_propagate(workdir, timeout=600):
    """Run until one shard is done and the other's job has started, then kill everything.

    Returns the finished and the killed shard.
    """
    shards = workdir / "results" / SPECIES / "shards"
    logs = workdir / "logs" / "propagate" / SPECIES
    process = subprocess.Popen(
        command(workdir, "--cores", "1", *TARGETS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [s for s in SHARDS if (shards / s / "shard.json").exists()]
            running = [s for s in SHARDS if (logs / f"{s}.log").exists() and s not in done]
            if done and running:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return done[0], running[0]
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        raise AssertionError("no shard finished in time")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_a_killed_shard_reruns_alone_with_the_same_bytes(tmp_path_factory):
    reference = finished_fast_example(tmp_path_factory)  # unsharded and uninterrupted
    workdir = copy_project(tmp_path_factory.mktemp("killed"), {"shard": {"size": 5}})
    finished, killed = kill_mid_propagate(workdir)
    shard_dir = workdir / "results" / SPECIES / "shards" / finished
    untouched = {
        path: path.stat().st_mtime_ns for path in sorted(shard_dir.rglob("*")) if path.is_file()
    }
    assert len(untouched) > 1
    assert not (workdir / "results" / SPECIES / "qc.tsv").exists()
    # calibrate runs beside propagate: a kill before it finished reruns it too
    calibrated = (workdir / "results" / SPECIES / "scale.tsv").exists()

    assert snakemake(workdir, "--unlock").returncode == 0
    plan = snakemake(workdir, "--dry-run", "--rerun-incomplete", *TARGETS)
    assert plan.returncode == 0, plan.stderr[-4000:]
    planned = planned_jobs(plan.stdout)
    assert ("propagate", f"species={SPECIES}, shard={killed}") in planned, planned
    assert not [job for job in planned if finished in job[1]], planned

    rerun = snakemake(workdir, "--cores", "2", "--rerun-incomplete", *TARGETS)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    ran = planned_jobs(rerun.stderr)
    assert [w for rule, w in ran if rule == "propagate"] == [f"species={SPECIES}, shard={killed}"]
    expected_rules = {"propagate", "gather", "measure"} | (set() if calibrated else {"calibrate"})
    assert {rule for rule, _ in ran} == expected_rules
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched

    results, expected = workdir / "results", reference / "results"
    files = [f"traits/{SPECIES}.csv"] + [
        f"{SPECIES}/{name}" for name in ("qc.tsv", "predictions.tsv", "masks.coco.json")
    ]
    files += [
        f"{SPECIES}/labels/{png.name}"
        for png in sorted((expected / SPECIES / "labels").glob("*.png"))
    ]
    assert len(files) == 4 + 12
    match, mismatch, errors = filecmp.cmpfiles(expected, results, files, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)
