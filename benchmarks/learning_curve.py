"""Label efficiency: annotate N specimens chosen by ``annotate_next`` versus N chosen at random.

Split (deterministic, from ``benchmarks/registration_real.py``): the images of a set sorted by
name; every 4th is an evaluation target (``--targets`` of them, evenly spaced), the other
three quarters are the candidate pool for annotation.  For each N in ``--sizes`` (default
1, 5, 20):

* "ours": the first N rows of :func:`traitrack.select.rank_annotation_candidates` over the
  pool with nothing annotated yet (the thumbnail HOG of the images, no QC scores) - the ranking
  the workflow's ``annotate_next`` rule writes;
* "random": N drawn uniformly from the pool, ``--draws`` draws with seeds 0, 1, ... (draw s is
  the first N of a permutation of the pool seeded with s, so its selections are nested like
  ours).

Every evaluation target is then segmented by the registration engine with the min(5, N)
nearest selected specimens by the specimen descriptor as templates (fused), scored with
:func:`traitrack.metrics.mean_iou`, and the table gives the mean mIoU over the targets:
ours, the random mean (min/max over draws) and ours - random.  Identical (target, templates)
runs are computed once, and with ``--cache FILE`` (a TSV of set, target, templates, mIoU)
across invocations too: the random draws do not depend on the ranking, so a rerun after
changing it only segments the new "ours" selections.

Data: ../shared/data (beetles-5part: NEON "Beetles as Sentinel Taxa" images, East et al. 2026,
doi 10.57967/hf/8716, CC BY 4.0, masks from Imageomics BeetleFlow; ants-4part: AntWeb images,
www.antweb.org, CC BY 4.0, masks by EPFL CS-433 "ml-project-2-kalamariunionen" with UNIL).
Example::

    .venv/bin/python benchmarks/learning_curve.py --set both --targets 20 --draws 5 --workers 2 \
        --cache /tmp/learning_curve_runs.tsv
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from registration_real import DATA, SET_OPTIONS, SETS, describe_paths, split  # noqa: E402

from traitrack.describe import centre_descriptors, pairwise_distances  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.registration.engine import (  # noqa: E402
    RegistrationEngine,
    RegistrationOptions,
)
from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.metrics import class_iou, mean_iou  # noqa: E402
from traitrack.select import rank_annotation_candidates  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

FUSED = 5  # templates per target: the min(FUSED, N) nearest selected specimens


def segment(task: tuple) -> tuple[str, tuple[str, ...], float, float]:
    """Segment one target with its templates (fused); return its mIoU and the seconds taken."""
    target, templates, config, options = task
    structures = StructureTable.from_config(config)
    engine = RegistrationEngine(options, seed=0)
    mask_of = lambda p: read_mask(p.parent.parent / "masks" / p.name, structures)  # noqa: E731
    frames = [Frame(p.stem, read_image(p), mask_of(p)) for p in templates]
    start = time.perf_counter()
    (prediction,) = engine.propagate([*frames, Frame(target.stem, read_image(target))], structures)
    seconds = time.perf_counter() - start
    miou = mean_iou(class_iou(prediction.labels, mask_of(target), structures.labels))
    return target.stem, tuple(p.stem for p in templates), miou, seconds


def selections(pool: list[Path], pool_desc: np.ndarray, sizes: list[int], draws: int) -> dict:
    """``{(strategy, draw, N): [pool indices]}`` for "ours" (draw 0) and "random" (draws 0..)."""
    names = [p.stem for p in pool]
    ranking = rank_annotation_candidates(names, pool_desc, pool_desc[:0])
    index = {name: i for i, name in enumerate(names)}
    ours = [index[name] for name in ranking["specimen"]]
    chosen = {("ours", 0, n): ours[:n] for n in sizes}
    for draw in range(draws):
        order = np.random.default_rng(draw).permutation(len(pool))
        chosen.update({("random", draw, n): [int(i) for i in order[:n]] for n in sizes})
    return chosen


def load_cache(path: Path | None, key: str) -> dict:
    """``{(target, templates): mIoU}`` already computed for this set."""
    if path is None or not path.exists():
        return {}
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines()[1:]]
    return {(t, tuple(m.split("+"))): float(v) for s, t, m, v in rows if s == key}


def save_cache(path: Path | None, key: str, results: list[tuple]) -> None:
    if path is None or not results:
        return
    new = not path.exists()
    with open(path, "a") as handle:
        if new:
            handle.write("set\ttarget\ttemplates\tmiou\n")
        for target, templates, miou, _ in results:
            handle.write(f"{key}\t{target}\t{'+'.join(templates)}\t{miou!r}\n")


def run_set(
    key: str, targets: int, sizes: list[int], draws: int, workers: int, cache: Path | None = None
) -> dict:
    folder, config = SETS[key]
    images = sorted((DATA / folder / "images").glob("*.png"))
    if not images:
        raise SystemExit(f"no images in {DATA / folder / 'images'}; is ../shared/data there?")
    chosen_targets, pool = split(images, targets)
    options = RegistrationOptions.from_config(SET_OPTIONS[key])
    # the workflow's default descriptor, centred over the whole set as its describe step centres
    # a species'
    target_desc, pool_desc = centre_descriptors(
        describe_paths(chosen_targets, "specimen", options),
        describe_paths(pool, "specimen", options),
    )
    to_pool = pairwise_distances(target_desc, pool_desc)
    # annotate_next ranks by the thumbnail HOG (traitrack.describe.load_ranking_descriptors),
    # centred like the other descriptors over the whole set
    _, ranking_desc = centre_descriptors(
        describe_paths(chosen_targets, "hog", options), describe_paths(pool, "hog", options)
    )
    chosen = selections(pool, ranking_desc, sizes, draws)

    # which templates each (selection, target) uses; the unique runs go to the workers
    plan: dict[tuple, list[tuple]] = {}
    unique: dict[tuple, tuple] = {}
    for selection, members in chosen.items():
        members = np.asarray(members)
        runs = []
        for t, target in enumerate(chosen_targets):
            near = members[
                np.argsort(to_pool[t, members], kind="stable")[: min(FUSED, len(members))]
            ]
            templates = tuple(pool[j] for j in near)
            runs.append((target.stem, tuple(p.stem for p in templates)))
            unique.setdefault(runs[-1], (target, templates, config, options))
        plan[selection] = runs
    print(
        f"\n## {folder}: {len(chosen_targets)} targets, pool of {len(pool)}, sizes {sizes}, "
        f"{draws} random draw(s), {len(unique)} distinct runs, {workers} worker(s), "
        f"set options {SET_OPTIONS[key]}",
        flush=True,
    )
    for n in sizes:
        print(f"ours, N={n}: {' '.join(pool[i].stem for i in chosen[('ours', 0, n)])}")
    scores = load_cache(cache, key)
    tasks = [task for run, task in unique.items() if run not in scores]
    start = time.perf_counter()
    results = []
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool_of_workers:
            for result in pool_of_workers.imap_unordered(segment, tasks, chunksize=1):
                results.append(result)
                save_cache(cache, key, [result])  # as they come, so an interrupted run resumes
    else:
        for task in tasks:
            results.append(segment(task))
            save_cache(cache, key, results[-1:])
    scores.update({(target, templates): miou for target, templates, miou, _ in results})
    seconds = [s for *_, s in results] or [np.nan]
    print(
        f"{len(results)} new runs ({len(unique) - len(results)} from the cache) in "
        f"{time.perf_counter() - start:.0f} s wall ({np.mean(seconds):.1f} s per run in a worker)",
        flush=True,
    )
    curve = {sel: float(np.nanmean([scores[run] for run in runs])) for sel, runs in plan.items()}
    report(curve, sizes, draws)
    return curve


def report(curve: dict, sizes: list[int], draws: int) -> None:
    """One row per N: ours, random mean (min/max over draws), ours - random."""
    if draws == 0:  # ours only (e.g. to fill the cache)
        print("\n".join(f"N={n}: ours mIoU {curve[('ours', 0, n)]:.3f}" for n in sizes), flush=True)
        return
    header = [
        "N",
        "ours mIoU",
        f"random mean ({draws} draws)",
        "random min",
        "random max",
        "ours - random",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n in sizes:
        ours = curve[("ours", 0, n)]
        rand = np.array([curve[("random", d, n)] for d in range(draws)])
        cells = [
            str(n),
            f"{ours:.3f}",
            f"{rand.mean():.3f}",
            f"{rand.min():.3f}",
            f"{rand.max():.3f}",
            f"{ours - rand.mean():+.3f}",
        ]
        print("| " + " | ".join(cells) + " |")
    ahead = all(
        curve[("ours", 0, n)] > np.mean([curve[("random", d, n)] for d in range(draws)])
        for n in sizes
    )
    print(f"ours ahead of the random mean at every N: {'yes' if ahead else 'NO'}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("beetles", "ants", "both"), default="both")
    parser.add_argument("--targets", type=int, default=20, help="evaluation targets per set")
    parser.add_argument("--draws", type=int, default=5, help="random draws (seeds 0..draws-1)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20], help="values of N")
    parser.add_argument("--workers", type=int, default=2, help="processes over runs")
    parser.add_argument("--cache", type=Path, default=None, help="TSV of per-run mIoU to reuse")
    args = parser.parse_args(argv)
    for key in ("beetles", "ants") if args.set == "both" else (args.set,):
        run_set(key, args.targets, sorted(args.sizes), args.draws, args.workers, args.cache)


if __name__ == "__main__":
    main()
