"""The student as the engine for a large species: bulk mode against the teacher on every target.

``../shared/data/beetles-5part`` (or ``--set ants``) as one species: ``--templates`` images
evenly spaced by name carry their hand-made masks, every other image is a target with its mask
as ``gt_mask`` (scoring only; ``--limit`` keeps every k-th image so that at most that many
remain). Two runs of the workflow, each in its own folder under ``--workdir`` with the schema's
defaults and ``config/datasets/<set>.yaml``:

* ``teacher``: the registration engine on every target (self-training off);
* ``bulk``: ``self_training.student.bulk: true``: the teacher on a ``--sample`` of the targets
  chosen by facility location on the descriptors (rule ``bulk_sample``), the student trained on
  the templates and those labels, predicting every other target (``allow_gt_targets: true``:
  every target here has a ``gt_mask``; the student learns from the teacher's labels, never
  from it).

``--sample`` and ``--steps`` set ``bulk_sample`` and the student's ``steps`` (the schema's
defaults without them). Each run is ``snakemake --cores 1`` (``OMP_NUM_THREADS=1``), resumable (a finished run is
only read). It prints each run's mIoU over every target (the mean of ``evaluation.tsv``'s
per-target ``miou``), the core-seconds of every job (``cpu_time``
of Snakemake's ``benchmark:`` files, per rule), and the projection to ``--project`` specimens
from the measured per-target seconds of the rules that grow with the targets: the teacher
N x (preparation + propagate and gather per target); bulk N x (preparation + predict_student
and its gather per target) + the training once + ``--project-sample`` x the teacher's per target.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bulk_student.py --workdir /tmp/bulk --run teacher \
        --limit 68
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bulk_student.py --workdir /tmp/bulk --run bulk \
        --limit 68 --sample 16 --steps 60
    .venv/bin/python benchmarks/bulk_student.py --workdir /tmp/bulk --report

Data: beetles: NEON "Beetles as Sentinel Taxa" images (East et al. 2026, doi
10.57967/hf/8716, CC BY 4.0), masks from Imageomics BeetleFlow; ants: AntWeb images
(www.antweb.org, CC BY 4.0), masks by EPFL CS-433 "ml-project-2-kalamariunionen" with UNIL.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
DATA = ROOT.parent / "shared" / "data"
SETS = {"beetles": "beetles-5part", "ants": "ants-4part"}
SPECIES = "bulk_species"


def write_sheet(path: Path, dataset: str, templates: int, limit: int | None) -> tuple[int, int]:
    """The set as one species: ``templates`` evenly spaced images with masks, the rest
    targets with a ``gt_mask``. Returns (templates, targets)."""
    images = sorted((DATA / dataset / "images").glob("*.png"))
    if limit and len(images) > limit:
        step = -(-len(images) // limit)
        images = images[::step]
    chosen = {round(i * len(images) / templates) for i in range(templates)}
    rows = []
    for index, image in enumerate(images):
        mask = str(DATA / dataset / "masks" / image.name)
        rows.append(
            {
                "specimen": f"s{image.stem}",  # a slug of digits alone reads back as a number
                "species": SPECIES,
                "image": str(image),
                "mask": mask if index in chosen else "",
                "gt_mask": "" if index in chosen else mask,
            }
        )
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return len(chosen), len(rows) - len(chosen)


def run_config(run: str, sheet: Path, sample: int, steps: int | None) -> dict:
    """The run's config layered over the defaults and the set's file."""
    config = {"samples": str(sheet), "select": {"k": 5}, "order": {"chunk_length": 16}}
    if run == "bulk":
        config["self_training"] = {
            "allow_gt_targets": True,
            "student": {"enabled": True, "bulk": True},
        }
        if sample:
            config["self_training"]["student"]["bulk_sample"] = sample
        if steps:
            config["self_training"]["student"]["steps"] = steps
    return config


def snakemake(workdir: Path, dataset: str, config: dict, *targets: str) -> float:
    (workdir / "setup.yaml").write_text(yaml.safe_dump(config))
    command = [
        str(SNAKEMAKE),
        *targets,
        "--cores",
        "1",
        "--snakefile",
        str(ROOT / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(ROOT / "config" / "config.yaml"),
        str(ROOT / "config" / "datasets" / f"{dataset}.yaml"),
        str(workdir / "setup.yaml"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "workflow")}
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"snakemake failed in {workdir}:\n{result.stderr[-4000:]}")
    return time.perf_counter() - start


def evaluation_file(run: str) -> str:
    stage = "student/" if run == "bulk" else ""
    return f"results/{SPECIES}/{stage}evaluation.tsv"


def mean_iou(path: Path) -> tuple[float, int]:
    """The mean of the targets' mIoU, and the number of targets."""
    table = pd.read_csv(path, sep="\t")
    return float(table["miou"].mean()), len(table)


def core_seconds(workdir: Path) -> pd.DataFrame:
    """Every job's ``cpu_time`` and wall seconds, by rule, from the benchmark files."""
    rows = []
    for path in sorted((workdir / "results" / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(workdir / "results" / "benchmarks").parts[0]
        if rule in ("gather", "evaluate") and "." in path.stem:  # {species}.{stage}
            rule += "_selftrain"
        row = pd.read_csv(path, sep="\t").iloc[0]
        rows.append(
            {
                "rule": rule,
                "job": path.stem,
                "cpu_s": float(row["cpu_time"]),
                "wall_s": float(row["s"]),
                "max_rss_mb": float(row["max_rss"]),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--set", choices=sorted(SETS), default="beetles")
    parser.add_argument("--templates", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--sample", type=int, default=None, help="default: the schema's")
    parser.add_argument("--steps", type=int, default=None, help="default: the schema's")
    parser.add_argument("--run", choices=["teacher", "bulk"], action="append", default=[])
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--project", type=int, default=10_000)
    parser.add_argument("--project-sample", type=int, default=200)
    args = parser.parse_args(argv)
    dataset = SETS[args.set]
    args.workdir.mkdir(parents=True, exist_ok=True)
    for run in args.run:
        folder = args.workdir / run
        folder.mkdir(exist_ok=True)
        sheet = folder / "samples.tsv"
        templates, targets = write_sheet(sheet, dataset, args.templates, args.limit)
        config = run_config(run, sheet, args.sample, args.steps)
        seconds = snakemake(folder, dataset, config, evaluation_file(run))
        print(f"{run}: {templates} templates, {targets} targets, wall {seconds:.0f} s")
    if args.report:
        report(args)


PREPARE = ("validate", "validate_ground_truth", "describe", "select", "order", "calibrate")
"""Rules both runs share (they grow with the specimens, alike in both)."""
SCORING = ("evaluate", "evaluate_selftrain")
"""The benchmark's scoring against gt_mask: no part of a user's compute."""


def report(args: argparse.Namespace) -> None:
    """mIoU and core-seconds of each finished run, and the projection to ``--project``."""
    runs = {}
    for run in ("teacher", "bulk"):
        folder = args.workdir / run
        evaluation = folder / evaluation_file(run)
        if not evaluation.is_file():
            print(f"{run}: not finished ({evaluation} absent)")
            continue
        miou, targets = mean_iou(evaluation)
        table = pd.read_csv(evaluation, sep="\t")
        parts = {c[4:]: table[c].mean() for c in table.columns if c.startswith("iou_")}
        jobs = core_seconds(folder)
        by_rule = jobs.groupby("rule")["cpu_s"].sum()
        runs[run] = {"miou": miou, "targets": targets, "by_rule": by_rule, "jobs": jobs}
        print(
            f"{run}: mIoU {miou:.3f} over {targets} targets ("
            + ", ".join(f"{k} {v:.3f}" for k, v in parts.items())
            + f"); core-seconds {by_rule.sum():.0f} in all, "
            + ", ".join(f"{rule} {seconds:.0f}" for rule, seconds in by_rule.items())
            + f"; peak memory {jobs['max_rss_mb'].max():.0f} MB"
        )
        if run == "bulk":
            predictions = pd.read_csv(
                folder / f"results/{SPECIES}/student/predictions.tsv", sep="\t"
            )
            alone = predictions["engine"].eq("student")
            scored = table.set_index("specimen")
            fused = scored.index.isin(predictions.loc[~alone, "specimen"])
            by_target = scored["miou"]
            print(
                f"  bulk: the student alone labelled {int(alone.sum())} targets "
                f"(mIoU {by_target[~fused].mean():.3f}), the teacher's sample fused "
                f"{int(fused.sum())} (mIoU {by_target[fused].mean():.3f})"
            )
    if set(runs) != {"teacher", "bulk"}:
        return
    teacher, bulk = runs["teacher"], runs["bulk"]
    targets = teacher["targets"]
    shared = sum(teacher["by_rule"].get(rule, 0.0) for rule in PREPARE)
    teacher_cost = teacher["by_rule"].sum() - shared
    bulk_cost = bulk["by_rule"].sum() - sum(bulk["by_rule"].get(r, 0.0) for r in PREPARE)
    teacher_cost -= sum(teacher["by_rule"].get(r, 0.0) for r in SCORING)
    bulk_cost -= sum(bulk["by_rule"].get(r, 0.0) for r in SCORING)
    print(
        f"compute after the shared preparation ({shared:.0f} core-s), scoring left out: teacher "
        f"{teacher_cost:.0f}, bulk {bulk_cost:.0f} core-s ({bulk_cost / teacher_cost:.0%}); "
        f"mIoU bulk - teacher {bulk['miou'] - teacher['miou']:+.3f}"
    )
    sample = len(
        pd.read_csv(args.workdir / "bulk" / f"results/{SPECIES}/bulk/sample.tsv", sep="\t")
    )
    rules = bulk["by_rule"]
    per_target_teacher = teacher["by_rule"][["propagate", "gather"]].sum() / targets
    per_target_student = (
        rules.get("predict_student", 0.0) + rules.get("gather_selftrain", 0.0)
    ) / targets
    training = rules.get("train_student", 0.0)
    prepare = shared / (targets + args.templates)
    n = args.project
    projected_teacher = n * (prepare + per_target_teacher)
    projected_bulk = (
        n * (prepare + per_target_student) + training + args.project_sample * (per_target_teacher)
    )
    print(
        f"per target: teacher {per_target_teacher:.1f} core-s (propagate + gather), student "
        f"{per_target_student:.1f} (predict_student with its QC round trip + gather), "
        f"preparation {prepare:.2f}; training {training:.0f} core-s once; sample {sample}"
    )
    print(
        f"projected to {n} specimens (teacher sample {args.project_sample}): teacher "
        f"{projected_teacher / 3600:.1f} core-h, bulk {projected_bulk / 3600:.1f} core-h "
        f"({projected_bulk / projected_teacher:.0%})"
    )
    sys.path.insert(0, str(ROOT / "workflow"))
    from traitrack.selftrain.options import SelfTrainingOptions

    setup = yaml.safe_load((args.workdir / "bulk" / "setup.yaml").read_text())
    default_steps = SelfTrainingOptions.from_config(None).student.steps
    steps = setup["self_training"]["student"].get("steps", default_steps)
    if steps != default_steps:
        at_default = projected_bulk + training * (default_steps / steps - 1)
        print(
            f"  with the default {default_steps} training steps (the {steps} measured scaled): "
            f"bulk {at_default / 3600:.1f} core-h ({at_default / projected_teacher:.0%})"
        )


if __name__ == "__main__":
    main()
