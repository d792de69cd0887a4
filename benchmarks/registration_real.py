"""Benchmark the registration engine on the shared real specimens (a script, not a test).

Split (deterministic): the images of a set sorted by name; every 4th (index 0, 4, 8, ...) is a
target, the other three quarters are the template pool.  ``--targets N`` keeps N of those
targets, evenly spaced through the sorted list.  In the beetle set consecutive numbers are
often one species, so a target's relatives stay in the pool (the workflow's situation: a few
annotated specimens of the same species).

``--tuning-split`` is the split that engine defaults are chosen on, so that the benchmark's
targets stay unseen: targets at index 2, 6, 10, ... and a pool of the odd indices (neither
contains a benchmark target).

For each target the 5 nearest pool images by the workflow's default descriptor are its
templates (``--describe specimen``: HOG of the specimen's crop and silhouette,
:func:`traitrack.describe.specimen_descriptor`; ``--describe hog``: HOG of a 64x64 letterboxed
grey thumbnail of the whole photograph, as ``describe: method: hog``; ``--describe cnn``: the
ImageNet EfficientNet-Lite0's pooled features of the specimen's crop, as ``method: cnn``,
:mod:`traitrack.describe_cnn`); the engine runs with the
nearest alone and with all 5 fused.  QC round trip: the 5-template prediction is used as the
only template to segment the nearest template back, scored against that template's true
labels; the Spearman correlation between this round-trip mIoU and the target's true mIoU says
whether the round trip ranks the targets.  The same is printed for the fused prediction's own
evidence (template agreement, edge agreement, single-template agreement) and for the workflow's
``qc_score`` and ``qc_rank`` (:mod:`traitrack.qc`), which combine all four.

Data: ../shared/data (beetles-5part: NEON "Beetles as Sentinel Taxa" images, CC BY 4.0, masks
from Imageomics BeetleFlow; ants-4part: AntWeb images, CC BY 4.0, masks by EPFL CS-433
"ml-project-2-kalamariunionen" with UNIL).  Example::

    .venv/bin/python benchmarks/registration_real.py --set both --targets 40 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.describe import centre_descriptors, describe_specimens  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.registration.engine import (  # noqa: E402
    RegistrationEngine,
    RegistrationOptions,
)
from traitrack.hog import hog_descriptor  # noqa: E402
from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.metrics import (  # noqa: E402
    class_iou,
    mean_iou,
    nanmean,
    outline_iou,
    spearman,
    spearman_interval,
    with_true_outline,
)
from traitrack.qc import EVIDENCE, qc_ranks, qc_score  # noqa: E402
from traitrack.select import nearest_templates as select_templates  # noqa: E402
from traitrack.stages.prepare import silhouette_settings  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
PRESETS = ROOT / "config" / "datasets"
NEAREST = 5


def load_set(folder: str) -> tuple[dict, dict]:
    """A shared set's structures (its masks' encoding) and the engine options its project
    would carry, from the preset the workflow ships (``config/datasets/<folder>.yaml``)."""
    preset = yaml.safe_load((PRESETS / f"{folder}.yaml").read_text())
    config = {"structures": preset["structures"], "background": preset["background"]}
    return config, dict(preset.get("registration") or {})


SETS, SET_OPTIONS = {}, {}
for _key, _folder in (("beetles", "beetles-5part"), ("ants", "ants-4part")):
    _config, SET_OPTIONS[_key] = load_set(_folder)
    SETS[_key] = (_folder, _config)


def split(
    images: list[Path], targets: int | None, tuning: bool = False
) -> tuple[list[Path], list[Path]]:
    """Every 4th image by name is a target (``targets`` of them, evenly spaced); the rest pool.

    ``tuning``: targets from index 2 on (2, 6, 10, ...), the pool from the odd indices only.
    """
    if tuning:
        chosen = images[2::4]
        pool = images[1::2]
    else:
        chosen = images[0::4]
        pool = [path for index, path in enumerate(images) if index % 4]
    if targets is not None and targets < len(chosen):
        spaced = np.linspace(0, len(chosen) - 1, targets).round().astype(int)
        chosen = [chosen[i] for i in spaced]
    return chosen, pool


def describe_paths(paths: list[Path], method: str, options: RegistrationOptions) -> np.ndarray:
    """Descriptors of ``paths`` as the workflow's describe step computes them (``method``
    ``specimen`` or ``hog``; ``options``: the set's registration options, whose foreground
    settings the specimen descriptor shares)."""
    images = [read_image(p) for p in paths]
    if method == "hog":
        return np.stack([hog_descriptor(image) for image in images])
    if method == "cnn":
        from traitrack.describe_cnn import cnn_descriptors

        return cnn_descriptors(images, **silhouette_settings(options))
    return describe_specimens(images, **silhouette_settings(options))


def nearest_templates(
    targets: list[Path], pool: list[Path], k: int, method: str = "specimen", options=None
) -> list[list[Path]]:
    """The k pool images closest to each target, chosen as the workflow chooses: descriptors
    (:func:`describe_paths`) centred over the whole set (its describe step), then
    :func:`traitrack.select.nearest_templates`."""
    options = options or {}
    start = time.perf_counter()
    target_desc, pool_desc = centre_descriptors(
        describe_paths(targets, method, options), describe_paths(pool, method, options)
    )
    seconds = (time.perf_counter() - start) / (len(targets) + len(pool))
    print(f"{method} descriptors: {seconds:.2f} s per image (one process, reading included)")
    by_name = {p.stem: p for p in pool}
    table = select_templates([t.stem for t in targets], target_desc, list(by_name), pool_desc, k=k)
    chosen = table.groupby("target", sort=False)["template"].agg(list)
    return [[by_name[name] for name in chosen[t.stem]] for t in targets]


def evaluate_target(task: tuple) -> dict:
    """Run one target: 1 template, 5 fused, and the QC round trip; return scores and timings."""
    target, templates, config, options, qc_templates = task
    structures = StructureTable.from_config(config)
    engine = RegistrationEngine(options, seed=0)
    mask_of = lambda p: read_mask(p.parent.parent / "masks" / p.name, structures)  # noqa: E731
    template_frames = [Frame(p.stem, read_image(p), mask_of(p)) for p in templates]
    image, truth = read_image(target), mask_of(target)
    result = {"target": target.stem}
    for name, frames in (("one", template_frames[:1]), ("fused", template_frames)):
        start = time.perf_counter()
        (prediction,) = engine.propagate([*frames, Frame(target.stem, image)], structures)
        result[f"{name}_seconds"] = time.perf_counter() - start
        result[f"{name}_iou"] = class_iou(prediction.labels, truth, structures.labels)
        result[f"{name}_miou"] = mean_iou(result[f"{name}_iou"])
        for field in EVIDENCE:  # the prediction's own QC evidence, as the workflow's QC takes it
            result[f"{name}_{field}"] = prediction.evidence.get(field, np.nan)
        result[f"{name}_outline_iou"] = outline_iou(prediction.labels, truth)
        result[f"{name}_true_outline_miou"] = mean_iou(
            class_iou(with_true_outline(prediction.labels, truth), truth, structures.labels)
        )
    # the QC round trip, as the workflow's (qc.max_templates nearest templates, mean of them)
    nearest = template_frames[:qc_templates]
    back_frames = [Frame(target.stem, image, prediction.labels)]
    back_frames += [Frame(t.specimen, t.image) for t in nearest]
    backs = engine.propagate(back_frames, structures)
    per_template = [
        class_iou(b.labels, t.labels, structures.labels) for b, t in zip(backs, nearest)
    ]
    result["round_trip_iou"] = {
        label: nanmean([ious[label] for ious in per_template]) for label in structures.labels
    }
    result["round_trip_miou"] = float(np.mean([mean_iou(ious) for ious in per_template]))
    return result


def run_set(
    key: str,
    targets: int | None,
    workers: int,
    options: dict,
    csv: Path | None = None,
    qc_templates: int = 1,
    tuning: bool = False,
    describe: str = "specimen",
) -> list[dict]:
    folder, config = SETS[key]
    images = sorted((DATA / folder / "images").glob("*.png"))
    if not images:
        raise SystemExit(f"no images in {DATA / folder / 'images'}; is ../shared/data there?")
    chosen, pool = split(images, targets, tuning)
    options = RegistrationOptions.from_config({**SET_OPTIONS[key], **options})
    neighbours = nearest_templates(chosen, pool, NEAREST, describe, options)
    tasks = [(t, n, config, options, qc_templates) for t, n in zip(chosen, neighbours)]
    print(
        f"\n## {folder}, {'tuning' if tuning else 'benchmark'} split: {len(chosen)} targets, "
        f"pool of {len(pool)}, {workers} worker(s), templates by {describe} descriptors, "
        f"set options {SET_OPTIONS[key]}, QC round trip to {qc_templates} template(s)",
        flush=True,
    )
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool_of_workers:
            results = pool_of_workers.map(evaluate_target, tasks, chunksize=1)
    else:
        results = [evaluate_target(task) for task in tasks]
    report(results, StructureTable.from_config(config))
    if csv is not None:
        write_csv(csv, key, results, StructureTable.from_config(config))
    return results


def report(results: list[dict], structures: StructureTable) -> None:
    """Print the table: mIoU, per-class IoU and seconds per target, then the QC correlation."""
    header = ["templates", "mIoU", *structures.names, "s/target"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, label in (("one", "1 (nearest)"), ("fused", f"{NEAREST} fused")):
        per_class = [np.nanmean([r[f"{name}_iou"][s.label] for r in results]) for s in structures]
        cells = [
            label,
            f"{np.nanmean([r[f'{name}_miou'] for r in results]):.3f}",
            *(f"{v:.3f}" for v in per_class),
            f"{np.mean([r[f'{name}_seconds'] for r in results]):.1f}",
        ]
        print("| " + " | ".join(cells) + " |")
    print(
        "Foreground (what limits the rows above): IoU of the predicted with the true outline, "
        "and the mIoU with the true outline imposed on the predicted parts:"
    )
    for name, label in (("one", "1 (nearest)"), ("fused", f"{NEAREST} fused")):
        outline = np.nanmean([r[f"{name}_outline_iou"] for r in results])
        imposed = np.nanmean([r[f"{name}_true_outline_miou"] for r in results])
        print(f"  {label}: outline IoU {outline:.3f}, mIoU with the true outline {imposed:.3f}")
    truth = np.array([r["fused_miou"] for r in results])
    round_trip = np.array([r["round_trip_miou"] for r in results])
    evidence = {field: np.array([r[f"fused_{field}"] for r in results]) for field in EVIDENCE}
    agreement, edges = evidence["agreement"], evidence["edge_agreement"]
    print(
        f"QC ({len(results)} targets; true = {NEAREST}-fused mIoU; "
        "worst quarter = share of the truly worst quarter among the lowest-scored quarter):"
    )
    for name, score in (
        ("round trip", round_trip),
        ("template agreement", agreement),
        ("edge agreement", edges),
        ("single-template agreement", evidence["single_template_agreement"]),
        ("round trip x agreement x edge agreement", qc_score(round_trip, agreement, edges)),
        ("rank of round trip, agreement, edge agreement", qc_ranks(round_trip, agreement, edges)),
        ("qc_score = the product of all four", qc_score(round_trip, *evidence.values())),
        (
            "qc_rank = mean percentile rank of the four (flags)",
            qc_ranks(round_trip, *evidence.values()),
        ),
    ):
        if np.isnan(score).all():  # e.g. qc_single_templates=false: nothing to rank
            print(f"  {name}: not computed (NaN for every target)")
            continue
        low, high = spearman_interval(score, truth)
        print(
            f"  {name}: mean {np.nanmean(score):.3f}, Spearman {spearman(score, truth):.3f} "
            f"(95% bootstrap {low:.2f} to {high:.2f}), "
            f"worst quarter {worst_quarter_capture(score, truth):.2f}",
            flush=True,
        )


def worst_quarter_capture(score: np.ndarray, truth: np.ndarray) -> float:
    """Share of the truly worst quarter of targets that the lowest-scored quarter contains."""
    quarter = max(1, len(truth) // 4)
    flagged = set(np.argsort(np.nan_to_num(score, nan=-1.0), kind="stable")[:quarter])
    worst = set(np.argsort(np.nan_to_num(truth, nan=-1.0), kind="stable")[:quarter])
    return len(flagged & worst) / quarter


def write_csv(path: Path, key: str, results: list[dict], structures: StructureTable) -> None:
    """Per-target scores (one row per target and setting) for a closer look."""
    import pandas as pd

    rows = []
    for r in results:
        for name in ("one", "fused"):
            row = {"set": key, "target": r["target"], "templates": name}
            row["miou"] = r[f"{name}_miou"]
            row.update({f"iou_{s.name}": r[f"{name}_iou"][s.label] for s in structures})
            row["seconds"] = r[f"{name}_seconds"]
            row["round_trip_miou"] = r["round_trip_miou"]
            row.update({field: r[f"{name}_{field}"] for field in EVIDENCE})
            row["outline_iou"] = r[f"{name}_outline_iou"]
            row["true_outline_miou"] = r[f"{name}_true_outline_miou"]
            row.update({f"round_trip_{s.name}": r["round_trip_iou"][s.label] for s in structures})
            rows.append(row)
    frame = pd.DataFrame(rows)
    path = scores_path(path, key)
    frame.to_csv(path, mode="a", header=not path.exists(), index=False)


def scores_path(path: Path, key: str) -> Path:
    """NAME-SET.csv for ``--csv NAME.csv`` or ``NAME``: one file per set, as each set has its own
    columns, and a CSV whatever the name ends with."""
    return path.with_name(f"{path.stem}-{key}{path.suffix or '.csv'}")


def yaml_pairs(pairs: list[str]) -> dict:
    """``key=value`` pairs (``--option``), each value read as YAML (``true``, ``0.1``,
    ``[0, 90]``, ``{eye: head}``) as in a config file."""
    return {key: yaml.safe_load(value) for key, _, value in (p.partition("=") for p in pairs)}


def parse_options(pairs: list[str]) -> dict:
    """Engine options from ``key=value`` pairs (:func:`yaml_pairs`), checked by
    :class:`RegistrationOptions`."""
    options = yaml_pairs(pairs)
    RegistrationOptions.from_config(options)  # a typo or a bad value stops here, named
    return options


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("beetles", "ants", "both"), default="both")
    parser.add_argument("--targets", type=int, default=None, help="targets per set (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="processes over targets")
    parser.add_argument("--option", action="append", default=[], help="engine option key=value")
    parser.add_argument(
        "--csv",
        type=Path,
        default=None,
        help="append per-target scores to NAME-SET.csv, given NAME or NAME.csv (one file per set)",
    )
    parser.add_argument(
        "--qc-templates",
        type=int,
        default=1,
        help="templates the QC round trip goes back to (the workflow's qc.max_templates)",
    )
    parser.add_argument(
        "--tuning-split",
        action="store_true",
        help="the split defaults are tuned on (targets 2, 6, 10, ...; pool: odd indices)",
    )
    parser.add_argument(
        "--describe",
        choices=("specimen", "hog", "cnn"),
        default="specimen",
        help="descriptor that picks each target's templates (the workflow's describe.method)",
    )
    args = parser.parse_args(argv)
    options = parse_options(args.option)
    print(f"engine options: {RegistrationOptions.from_config(options)}")
    for key in ("beetles", "ants") if args.set == "both" else (args.set,):
        run_set(
            key,
            args.targets,
            args.workers,
            options,
            args.csv,
            args.qc_templates,
            args.tuning_split,
            args.describe,
        )


if __name__ == "__main__":
    main()
