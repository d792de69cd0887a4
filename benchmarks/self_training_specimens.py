"""The specimens and registrations of ``benchmarks/self_training.py`` (and its diagnostics).

:func:`choose_specimens` fixes a set's evaluation targets, ``annotate_next`` order and
unlabelled specimens, so that ``benchmarks/student_ceiling.py`` trains on exactly the
specimens ``self_training.py`` does; :func:`register` segments one specimen with the
registration engine and caches the result per (specimen, templates, priors), so that an
interrupted benchmark resumes.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from registration_real import DATA, SET_OPTIONS, SETS, describe_paths, split  # noqa: E402

from traitrack.describe import centre_descriptors  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.registration.engine import (  # noqa: E402
    RegistrationEngine,
    RegistrationOptions,
)
from traitrack.io import read_image  # noqa: E402
from traitrack.qc import evidence_of, round_trip  # noqa: E402
from traitrack.select import rank_annotation_candidates  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402


def register(task: tuple) -> tuple:
    """One specimen segmented from its templates (hand-made or pseudo), with its QC rows."""
    name, path, templates, priors, config, options, qc_to, cache = task
    key = hashlib.sha256(repr((str(path), [t[0] for t in templates], priors)).encode())
    key = key.hexdigest()
    stored = Path(cache) / f"{key[:24]}.npz" if cache else None
    if stored is not None and stored.exists():
        data = np.load(stored, allow_pickle=False)
        qc = [
            {k: np.nan if v is None else v for k, v in r.items()}
            for r in json.loads(str(data["qc"]))
        ]
        return name, data["labels"], {"confidence": json.loads(str(data["confidence"]))}, qc
    structures = StructureTable.from_config(config)
    engine = RegistrationEngine(options, seed=0)
    weights = dict(priors)
    frames = [
        Frame(n, read_image(p), labels, weight=weights.get(n, 1.0)) for n, p, labels in templates
    ]
    image = read_image(path)
    (prediction,) = engine.propagate([*frames, Frame(name, image)], structures)
    back = [f for f in frames if f.specimen in qc_to][:1]
    rows = round_trip(
        engine, Frame(name, image), prediction.labels, back, structures, evidence_of(prediction)
    )
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            stored,
            labels=prediction.labels,
            confidence=json.dumps(prediction.confidence),
            qc=json.dumps(rows),
        )
    return name, prediction.labels, {"confidence": prediction.confidence}, rows


def run_tasks(tasks: list[tuple], workers: int) -> dict:
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(register, tasks, chunksize=1)
    else:
        results = [register(task) for task in tasks]
    return {name: (labels, extra, rows) for name, labels, extra, rows in results}


def nearest(distances: np.ndarray, candidates: list[int], k: int) -> list[int]:
    return [candidates[i] for i in np.argsort(distances[candidates], kind="stable")[:k]]


def choose_specimens(
    key: str, n_targets: int, n_unlabelled: int, most_templates: int, tuning: bool
) -> tuple[list[Path], list[Path], list[int], list[Path]]:
    """A set's evaluation targets, pool, ``annotate_next``'s order of the pool (indices) and
    the unlabelled specimens: ``n_unlabelled`` evenly spaced pool specimens that are none of
    the first ``most_templates`` templates (shared with ``benchmarks/student_ceiling.py``)."""
    folder, _ = SETS[key]
    images = sorted((DATA / folder / "images").glob("*.png"))
    if not images:
        raise SystemExit(f"no images in {DATA / folder / 'images'}; is ../shared/data there?")
    targets, pool = split(images, n_targets, tuning)
    options = RegistrationOptions.from_config(SET_OPTIONS[key])
    _, ranking_desc = centre_descriptors(
        describe_paths(targets, "hog", options), describe_paths(pool, "hog", options)
    )
    ranking = rank_annotation_candidates([p.stem for p in pool], ranking_desc, ranking_desc[:0])
    index = {p.stem: i for i, p in enumerate(pool)}
    ordered = [index[n] for n in ranking["specimen"]]
    chosen_all = set(ordered[:most_templates])
    free = [i for i in range(len(pool)) if i not in chosen_all]
    spaced = np.linspace(0, len(free) - 1, min(n_unlabelled, len(free))).round().astype(int)
    return targets, pool, ordered, [pool[free[i]] for i in spaced]


def add_specimen_arguments(parser) -> None:
    """The options that choose the specimens (:func:`choose_specimens`), alike in both
    benchmarks, and ``--option`` for the student's settings."""
    parser.add_argument("--set", choices=("beetles", "ants", "both"), default="both")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--unlabelled", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--tuning-split", action="store_true")
    parser.add_argument(
        "--option", action="append", default=[], help="self_training.student KEY=VALUE (YAML value)"
    )


def print_table(table: dict[int, dict[str, float]], columns: list[str]) -> None:
    """A markdown table of each N's scores in ``columns``."""
    print("| N | " + " | ".join(columns) + " |\n|" + "---|" * (len(columns) + 1))
    for n, scores in table.items():
        print(f"| {n} | " + " | ".join(f"{scores[c]:.3f}" for c in columns) + " |", flush=True)
