"""After a kill: what README.md tells the user to do, step by step, on a scratch example.

Snakemake killed with its jobs (SIGKILL to the process group: a node lost, an OOM kill of the
whole session) leaves the working directory locked and the running jobs' outputs incomplete.
The next run refuses the locked directory; `--unlock` (once no other Snakemake runs there)
frees it; `--rerun-incomplete` reruns the jobs that were cut off (a plain rerun refuses
outputs that a killed job had started to write) and finishes, with every finished output of
the killed run kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pandas as pd
import pytest
from scratch_project import copy_project, snakemake, snakemake_argv

pytestmark = pytest.mark.workflow


def output_of(result):
    return result.stdout + result.stderr


def test_unlock_then_rerun_incomplete_after_a_kill(tmp_path):
    workdir = copy_project(tmp_path)
    run = subprocess.Popen(
        snakemake_argv(workdir, "--cores", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    propagate_logs = workdir / "logs" / "propagate"
    while not propagate_logs.exists() and time.monotonic() < deadline:
        assert run.poll() is None, "the run ended before propagate started"
        time.sleep(0.5)
    assert propagate_logs.exists(), "propagate never started"
    os.killpg(run.pid, signal.SIGKILL)  # Snakemake and its running job, as a lost node
    run.wait(timeout=60)
    time.sleep(0.5)  # the species' folder of propagate's log is there
    species = sorted(path.name for path in propagate_logs.iterdir())[0]
    descriptors = workdir / "results" / species / "descriptors.npz"
    finished_before = descriptors.stat()

    refused = snakemake(workdir, "--cores", "2")
    assert refused.returncode != 0
    assert "cannot be locked" in output_of(refused)

    unlocked = snakemake(workdir, "--unlock")
    assert unlocked.returncode == 0, output_of(unlocked)[-2000:]

    resumed = snakemake(workdir, "--cores", "2", "--rerun-incomplete")
    assert resumed.returncode == 0, output_of(resumed)[-4000:]
    traits = pd.read_csv(workdir / "results" / "traits.csv")
    samples = pd.read_csv(workdir / "config" / "samples.tsv", sep="\t")
    assert set(traits["specimen"]) == set(samples["specimen"])
    # what finished before the kill was kept, not redone
    assert descriptors.stat().st_mtime_ns == finished_before.st_mtime_ns
    assert snakemake(workdir, "--dry-run").stdout.count("Nothing to be done") == 1
