"""Where the SLURM profile sends each job, for both engines, from a dry run's resolved resources.

A job goes to the GPU partition if and only if it asks for a GPU: with the default
registration engine `propagate` (the heaviest CPU job) stays in the CPU partition, with
`engine: sam2` it asks for a GPU and goes to the GPU partition; `finetune` and the student
always ask. The partitions are the profile's environment variables, as the README exports
them. (tests/test_slurm.py runs the example through a real one-node cluster.)
"""

from __future__ import annotations

import os
import re

import pytest
from scratch_project import copy_project, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

ENV = {"TRAITRACK_SLURM_PARTITION": "cpu", "TRAITRACK_SLURM_GPU_PARTITION": "gpu"}
SAM2 = {
    "engine": "sam2",
    "sam2": {"checkpoint": "resources/checkpoints/sam2.1_hiera_tiny.pt"},
    "finetune": {"enabled": True, "allow_gt_targets": True},  # every example target has gt
}
STUDENT = {"self_training": {"rounds": 2, "student": {"enabled": True}}}
RESOURCES = re.compile(r"^\s+resources: (.*)$")


def planned_resources(workdir, env):
    """(rule, {resource: value}) of every job of a dry run with the SLURM profile."""
    result = snakemake(
        workdir, "--profile", str(workdir / "profiles" / "slurm"), "--dry-run", env=env
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    rules = [rule for rule, _ in planned_jobs(result.stdout)]
    resources = [
        dict(item.split("=", 1) for item in match.group(1).split(", "))
        for match in map(RESOURCES.match, result.stdout.splitlines())
        if match
    ]
    jobs = [(rule, res) for rule, res in zip(rules, resources) if rule != "all"]
    assert len(jobs) >= 20
    return jobs


def assert_gpu_jobs_only_in_gpu_partition(jobs):
    for rule, resources in jobs:
        asks = int(resources.get("gpu", 0)) > 0
        assert resources["slurm_partition"] == ("gpu" if asks else "cpu"), (rule, resources)


@pytest.mark.parametrize(
    "extra, gpu_rules",
    [
        ({}, set()),
        (STUDENT, {"train_student"}),
        (SAM2, {"propagate", "finetune"}),
        (
            {**SAM2, **STUDENT},
            {"propagate", "finetune", "pseudo_round", "train_student", "predict_student"},
        ),
    ],
    ids=["registration", "registration+student", "sam2", "sam2+student"],
)
def test_only_jobs_that_ask_for_a_gpu_go_to_the_gpu_partition(tmp_path, extra, gpu_rules):
    workdir = copy_project(tmp_path, extra)
    jobs = planned_resources(workdir, {**os.environ, **ENV})
    assert_gpu_jobs_only_in_gpu_partition(jobs)
    asking = {rule for rule, resources in jobs if int(resources.get("gpu", 0)) > 0}
    assert asking == gpu_rules
    if "propagate" not in gpu_rules:
        propagate = [res for rule, res in jobs if rule == "propagate"]
        assert propagate and all(res["slurm_partition"] == "cpu" for res in propagate)


def test_a_forced_gpu_request_goes_to_the_gpu_partition(tmp_path):
    workdir = copy_project(tmp_path, {"resources": {"propagate": {"gpu": 1}}})
    jobs = planned_resources(workdir, {**os.environ, **ENV})
    assert_gpu_jobs_only_in_gpu_partition(jobs)
    assert {res["slurm_partition"] for rule, res in jobs if rule == "propagate"} == {"gpu"}


def test_without_a_gpu_partition_gpu_jobs_use_the_cpu_one(tmp_path):
    workdir = copy_project(tmp_path, SAM2)
    env = {**os.environ, "TRAITRACK_SLURM_PARTITION": "cpu"}
    env.pop("TRAITRACK_SLURM_GPU_PARTITION", None)
    jobs = planned_resources(workdir, env)
    assert {res["slurm_partition"] for _, res in jobs} == {"cpu"}
