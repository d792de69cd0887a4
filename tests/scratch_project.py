"""Helpers for tests that run Snakemake on the example in a scratch copy of the project."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

# The example with cheap registration settings: same DAG, same files, ~10x faster propagate.
FAST_CONFIG = {
    "select": {"k": 1},
    "registration": {
        "working_size": 96,
        "start_angles": 1,
        "similarity_iterations": 20,
        "affine_iterations": 20,
        "demons_iterations": 5,
        "grabcut_iterations": 1,
    },
}

_FINISHED: dict[str, Path] = {}

JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")
JOB_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def copy_project(destination: Path, extra_config: dict | None = None) -> Path:
    """The workflow, config, envs, profiles and example data, plus `fast.yaml` (FAST_CONFIG)."""
    for name in ("workflow", "config", "envs", "profiles"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(source, destination / name)
    shutil.copytree(ROOT / "resources" / "example", destination / "resources" / "example")
    config = {**FAST_CONFIG, **(extra_config or {})}
    (destination / "fast.yaml").write_text(yaml.safe_dump(config))
    return destination


def snakemake_argv(workdir: Path, *args: str) -> list[str]:
    """The command line of Snakemake in `workdir` with the example config plus fast.yaml."""
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


def snakemake(
    workdir: Path, *args: str, timeout: int = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run Snakemake in `workdir` with the example config plus fast.yaml."""
    return subprocess.run(
        snakemake_argv(workdir, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def planned_jobs(dry_run_output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run lists; wildcards is '' for aggregate jobs."""
    jobs: list[tuple[str, str]] = []
    for line in dry_run_output.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            jobs.append((header.group(1), ""))
            continue
        wildcards = JOB_WILDCARDS.match(line)
        if wildcards and jobs and not jobs[-1][1]:
            jobs[-1] = (jobs[-1][0], wildcards.group(1))
    return jobs


def finished_fast_example(tmp_path_factory) -> Path:
    """The example run locally with FAST_CONFIG, once per test session; treat it as read-only.

    Shared by tests/test_rerun.py (copies it before changing anything) and tests/test_slurm.py
    (compares the cluster's results with it), which saves one run of the example.
    """
    if "fast" not in _FINISHED:
        workdir = copy_project(tmp_path_factory.mktemp("finished"))
        result = snakemake(workdir, "--cores", "2")
        assert result.returncode == 0, result.stderr[-4000:]
        _FINISHED["fast"] = workdir
    return _FINISHED["fast"]
