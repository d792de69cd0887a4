"""Shards and worker processes of `propagate` on a large species (a script, not a test).

Two measurements, each printed as it finishes:

1. ``--plan``: a synthetic sheet of ``--specimens`` specimens in one species
   (``plan_time.synthetic_sheet``): seconds of ``snakemake --dry-run`` and jobs per rule
   (``--self-training``: with ``config/selftrain.yaml``, whose ``pseudo_round`` and
   ``predict_student`` are sharded too).
2. ``--beetles``: ``../shared/data/beetles-5part`` as one species, the pool (three of every
   four images by name) as templates and every fourth image as a target (68), the schema's
   defaults (5 templates per target) with ``config/datasets/beetles-5part.yaml``. The species is described, selected and
   ordered once; then ``propagate`` and ``gather`` run again for each setup: one job with 1
   worker, one job with 2 workers (``resources.propagate.threads: 2``), and 2 shards (``shard.size``
   of half the targets, 1 worker each) as 2 jobs through the local SLURM cluster
   (``.ci/slurm-cluster.sh start``; skipped when none answers). It prints the run's wall time,
   each ``propagate`` job's seconds and peak memory (Snakemake's ``benchmark:`` files,
   ``max_rss`` of the job and its worker processes) and checks that every setup's labels and
   tables are the bytes of the first.

    .venv/bin/python benchmarks/shards.py --plan
    .venv/bin/python benchmarks/shards.py --plan --self-training
    .venv/bin/python benchmarks/shards.py --beetles
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from plan_time import job_counts, plan, synthetic_sheet

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
BEETLES = ROOT.parent / "shared" / "data" / "beetles-5part"
SPECIES = "beetles"
SLURM_DIR = Path(os.environ.get("TRAITRACK_SLURM_DIR", "/tmp/traitrack-slurm"))
OUTPUTS = ["qc.tsv", "predictions.tsv", "masks.coco.json"]


def measure_plan(specimens: int, self_training: bool) -> None:
    configs = (ROOT / "config" / "selftrain.yaml",) if self_training else ()
    with tempfile.TemporaryDirectory(prefix="traitrack-shards-") as scratch:
        workdir = Path(scratch)
        sheet = workdir / "samples.tsv"
        synthetic_sheet(specimens, 1).to_csv(sheet, sep="\t", index=False)
        seconds, output = plan(workdir, sheet, None, configs)
    counts = job_counts(output)
    sharded = ("propagate", "pseudo_round", "predict_student") if self_training else ("propagate",)
    print(
        f"plan: specimens={specimens} species=1 self_training={self_training} "
        f"plan_seconds={seconds:.1f} jobs={counts.get('total')} "
        + " ".join(f"{rule}={counts.get(rule, 0)}" for rule in sharded)
    )


def beetles_sheet(path: Path) -> int:
    """The beetles as one species (the benchmark split of registration_real.py); targets."""
    images = sorted((BEETLES / "images").glob("*.png"))
    rows = [
        {
            "specimen": f"b{image.stem}",  # a slug of digits alone reads back as a number
            "species": SPECIES,
            "image": str(image),
            "mask": "" if index % 4 == 0 else str(BEETLES / "masks" / image.name),
        }
        for index, image in enumerate(images)
    ]
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return sum(1 for row in rows if not row["mask"])


def run(workdir: Path, config: dict, *args: str, env: dict | None = None) -> float:
    (workdir / "setup.yaml").write_text(yaml.safe_dump(config))
    command = [
        str(SNAKEMAKE),
        *args,  # before the config files, which take every word after them
        "--snakefile",
        str(ROOT / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(ROOT / "config" / "config.yaml"),
        str(ROOT / "config" / "datasets" / "beetles-5part.yaml"),
        str(workdir / "setup.yaml"),
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake failed:\n{result.stderr[-4000:]}")
    return seconds


def slurm_env() -> dict | None:
    conf = SLURM_DIR / "slurm.conf"
    if not conf.exists():
        return None
    env = {**os.environ, "SLURM_CONF": str(conf), "TRAITRACK_SLURM_PARTITION": "cpu"}
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env)
    return env if state.returncode == 0 and "idle" in state.stdout else None


def measure_beetles(only: list[str]) -> None:
    if not BEETLES.is_dir():
        sys.exit(f"{BEETLES} is absent")
    scratch = Path(tempfile.mkdtemp(prefix="traitrack-shards-"))
    sheet = scratch / "samples.tsv"
    targets = beetles_sheet(sheet)
    # the schema's defaults where config/config.yaml sets the example's own
    base = {"samples": str(sheet), "select": {"k": 5}, "order": {"chunk_length": 16}}
    prepare = run(scratch, base, "--cores", "2", f"results/{SPECIES}/pseudovideo.json")
    print(f"beetles: {targets} targets, describe+select+order {prepare:.0f} s ({scratch})")
    half = -(-targets // 2)
    small = {"mem_mb": 6000, "runtime": 120}
    setups = {
        "1 job, 1 worker": ({"resources": {"propagate": {"threads": 1}}}, ["--cores", "1"]),
        "1 job, 2 workers": ({"resources": {"propagate": {"threads": 2}}}, ["--cores", "2"]),
        "2 shards via SLURM": (
            {"shard": {"size": half}, "resources": {"propagate": {"threads": 1, **small}}},
            ["--profile", str(ROOT / "profiles" / "slurm"), "--jobs", "2"]
            + [
                "--slurm-status-command",
                "squeue",
                "--slurm-init-seconds-before-status-checks",
                "2",
            ],
        ),
    }
    reference = None
    for name, (config, args) in setups.items():
        if only and not any(word in name for word in only):
            continue
        env = None
        if "SLURM" in name:
            env = slurm_env()
            if env is None:
                print(f"{name}: skipped, no SLURM cluster answers (.ci/slurm-cluster.sh start)")
                continue
        for old in ("shards", "labels", *OUTPUTS):
            path = scratch / "results" / SPECIES / old
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        shutil.rmtree(scratch / "results" / "benchmarks" / "propagate", ignore_errors=True)
        seconds = run(
            scratch,
            {**base, **config},
            *[f"results/{SPECIES}/{output}" for output in OUTPUTS],
            *args,
            "--forcerun=propagate",
            env=env,
        )
        jobs = sorted((scratch / "results" / "benchmarks" / "propagate" / SPECIES).glob("*.tsv"))
        per_job = [pd.read_csv(job, sep="\t").iloc[0] for job in jobs]
        print(
            f"{name}: wall {seconds:.0f} s (propagate + gather); "
            + "; ".join(
                f"{job.stem}: {row['s']:.0f} s, peak {row['max_rss']:.0f} MB"
                for job, row in zip(jobs, per_job)
            )
        )
        copy = scratch / f"outputs-{len(jobs)}-{name.split()[2]}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(
            scratch / "results" / SPECIES, copy, ignore=shutil.ignore_patterns("shards")
        )
        if reference is None:
            reference = copy
            continue
        files = OUTPUTS + [f"labels/{p.name}" for p in sorted((reference / "labels").glob("*.png"))]
        _, mismatch, errors = filecmp.cmpfiles(reference, copy, files, shallow=False)
        print(
            f"  same bytes as the first setup: {not mismatch and not errors} ({len(files)} files)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", action="store_true", help="time the plan of a large species")
    parser.add_argument("--specimens", type=int, default=10_000)
    parser.add_argument(
        "--self-training",
        action="store_true",
        help="--plan with config/selftrain.yaml (pseudo round and student)",
    )
    parser.add_argument("--beetles", action="store_true", help="time the beetles' propagate")
    parser.add_argument(
        "--only", nargs="*", default=[], help="beetles setups whose name has a word"
    )
    args = parser.parse_args()
    if not (args.plan or args.beetles):
        parser.error("say --plan, --beetles or both")
    if args.plan:
        measure_plan(args.specimens, args.self_training)
    if args.beetles:
        measure_beetles(args.only)


if __name__ == "__main__":
    main()
