"""The example through a real SLURM cluster with `--profile profiles/slurm`.

Needs the one-node cluster of `.ci/slurm-cluster.sh start` (CI starts it; the tests skip when
no cluster answers, and fail instead when TRAITRACK_REQUIRE_SLURM is set, as in CI). `propagate` is forced to ask for a GPU (`resources.propagate.gpu: 1`), as
it does with the SAM 2 engine; the scheduler's own records (`scontrol show job`, kept for an
hour by MinJobAge) must show that it did, in the GPU partition, and the results must equal
those of a local run. Each species is cut into two shards (`shard.size: 5`, 10 targets): the
records must show one `propagate` job per shard, and the gathered results must still equal
those of the local run, which is one job per species.
"""

import filecmp
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from scratch_project import copy_project, finished_fast_example, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

CLUSTER_DIR = Path(os.environ.get("TRAITRACK_SLURM_DIR", "/tmp/traitrack-slurm"))
SPECIES = ("carabus_synth", "pterostichus_synth")
# the cluster's partitions (.ci/slurm-cluster.sh), passed as the profile's variables
PARTITIONS = {"TRAITRACK_SLURM_PARTITION": "cpu", "TRAITRACK_SLURM_GPU_PARTITION": "gpu"}
SMALL = {"mem_mb": 1000, "runtime": 20}
SHARDS = ("1-of-2", "2-of-2")
SLURM_CONFIG = {
    "shard": {"size": 5},
    "resources": {
        "propagate": {"gpu": 1, "threads": 1, **SMALL},
        **{rule: SMALL for rule in ("describe", "gather", "measure", "evaluate", "overlays")},
    },
}
RUN_TIMEOUT = 900


def cluster_env():
    """The environment for SLURM's client commands, or None when no cluster answers."""
    conf = os.environ.get("SLURM_CONF") or str(CLUSTER_DIR / "slurm.conf")
    if not Path(conf).exists():
        return None
    env = {**os.environ, "SLURM_CONF": conf, **PARTITIONS}
    try:
        state = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=10, env=env
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    states = state.stdout.split()
    if state.returncode or not any(s in ("idle", "mixed", "allocated") for s in states):
        return None
    return env


@pytest.fixture(scope="module")
def env():
    env = cluster_env()
    if env is None:
        message = "no SLURM cluster up (start one with .ci/slurm-cluster.sh start)"
        if os.environ.get("TRAITRACK_REQUIRE_SLURM"):  # CI: a missing cluster is a failure
            pytest.fail(message)
        pytest.skip(message)
    return env


def scheduler_records(workdir, env):
    """`scontrol show job` of every job submitted from `workdir`, as dicts of its fields."""
    out = subprocess.run(
        ["scontrol", "show", "job", "-o"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=True,
    ).stdout
    records = []
    for line in out.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if fields.get("WorkDir") == str(workdir):
            records.append(fields)
    return records


def cancel_jobs(workdir, env):
    ids = [
        r["JobId"]
        for r in scheduler_records(workdir, env)
        if r["JobState"] in ("PENDING", "RUNNING")
    ]
    if ids:
        subprocess.run(["scancel", *ids], timeout=30, env=env)


@pytest.fixture(scope="module")
def runs(env, tmp_path_factory):
    local = finished_fast_example(tmp_path_factory)
    cluster = copy_project(tmp_path_factory.mktemp("cluster"), SLURM_CONFIG)
    try:
        result = snakemake(
            cluster,
            "--profile",
            str(cluster / "profiles" / "slurm"),
            "--slurm-status-command",
            "squeue",  # no slurmdbd on the test cluster, so no sacct
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--jobs",
            "4",
            timeout=RUN_TIMEOUT,
            env=env,
        )
    except subprocess.TimeoutExpired:
        cancel_jobs(cluster, env)
        raise
    assert result.returncode == 0, result.stderr[-6000:]
    return local, cluster


def rule_and_wildcards(record):
    """The rule and the wildcard values of a job, from the comment the executor gives it."""
    match = re.fullmatch(r"rule_(\w+?)_wildcards_([\w-]+)", record["Comment"])
    assert match, record["Comment"]
    return match.group(1), match.group(2)


def test_every_cluster_job_completed(runs, env):
    records = scheduler_records(runs[1], env)
    assert records and all(r["JobState"] == "COMPLETED" for r in records)
    submitted = sorted(rule_and_wildcards(r) for r in records)
    rules = ("calibrate", "describe", "gather", "measure", "evaluate", "overlays")
    expected = [(rule, species) for rule in rules for species in SPECIES]
    expected += [("propagate", f"{species}_{shard}") for species in SPECIES for shard in SHARDS]
    assert submitted == sorted(expected)


def test_each_shard_ran_as_its_own_job(runs, env):
    """One scheduler job per shard, each with its own id and its own log of its own targets."""
    shard_jobs = {
        rule_and_wildcards(r)[1]: r["JobId"]
        for r in scheduler_records(runs[1], env)
        if rule_and_wildcards(r)[0] == "propagate"
    }
    assert len(shard_jobs) == len(set(shard_jobs.values())) == len(SPECIES) * len(SHARDS)
    for species in SPECIES:
        targets = []
        for shard in SHARDS:
            log = (runs[1] / "logs" / "propagate" / species / f"{shard}.log").read_text()
            assert f"wrote shard {shard} of {species}" in log
            document = runs[1] / "results" / species / "shards" / shard / "shard.json"
            targets += [row["specimen"] for row in json.loads(document.read_text())["predictions"]]
        assert len(targets) == len(set(targets)) == 10


def test_gpu_jobs_asked_the_scheduler_for_a_gpu(runs, env):
    for record in scheduler_records(runs[1], env):
        rule, _ = rule_and_wildcards(record)
        asked = record.get("TresPerJob", "") + record.get("TresPerNode", "")
        if rule == "propagate":
            assert "gres:gpu:1" in asked, record
            assert record["Partition"] == "gpu"
        else:
            assert "gpu" not in asked, record
            assert record["Partition"] == "cpu"


def test_cluster_results_equal_local_results(runs):
    local, cluster = (run / "results" for run in runs)
    files = ["traits.csv", "evaluation.tsv", "evaluation_summary.tsv"]
    for species in SPECIES:
        files += [
            f"{species}/{name}"
            for name in ("qc.tsv", "predictions.tsv", "masks.coco.json", "annotate_next.tsv")
        ]
        files += [
            f"{species}/labels/{png.name}"
            for png in sorted((local / species / "labels").glob("*.png"))
        ]
    assert len(files) > 30
    match, mismatch, errors = filecmp.cmpfiles(local, cluster, files, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)
