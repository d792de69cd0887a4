"""Parts in pieces: mIoU and trait outliers with and without :func:`traitrack.pieces.keep_pieces`.

The protocol of ``benchmarks/registration_real.py``: each set's images sorted by name, every
4th a target (``--targets`` of them, evenly spaced), the rest the template pool; each target's
5 nearest pool images by the workflow's specimen descriptor are its templates, fused by the
registration engine with the set's settings (``config/datasets/``). Each prediction is scored
as the engine gives it and after each blob part keeps as many pieces as its templates have
(:func:`traitrack.pieces.allowed_pieces`), paired, on the same targets:

- mIoU and per-part IoU against the hand-made mask;
- blob parts in more than one piece (the templates have none or fewer);
- trait outliers: blob parts whose ``length_px`` or ``area_px`` (``traitrack.traits``)
  differs from the hand-made mask's by more than 25% (thin parts are not measured here).

``--option qc_single_templates=false`` is the default here: that option adds QC evidence and
leaves the labels alone.

Data: ../shared/data (beetles-5part: NEON "Beetles as Sentinel Taxa" images, CC BY 4.0, masks
from Imageomics BeetleFlow; ants-4part: AntWeb images, CC BY 4.0, masks by EPFL CS-433
"ml-project-2-kalamariunionen" with UNIL). Example::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pieces.py --set both --targets 40 --workers 1
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from registration_real import DATA, NEAREST, SET_OPTIONS, SETS, nearest_templates, split  # noqa: E402

from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.registration.engine import (  # noqa: E402
    RegistrationEngine,
    RegistrationOptions,
)
from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.metrics import class_iou, mean_iou  # noqa: E402
from traitrack.pieces import allowed_pieces, keep_pieces  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402
from traitrack.traits import measure_specimen  # noqa: E402

OUTLIER = 0.25


def run_target(task: tuple) -> dict:
    """One target: the fused prediction, as given and with its pieces kept; scores of both."""
    target, templates, config, options = task
    structures = StructureTable.from_config(config)
    engine = RegistrationEngine(options, seed=0)
    mask_of = lambda p: read_mask(p.parent.parent / "masks" / p.name, structures)  # noqa: E731
    frames = [Frame(p.stem, read_image(p), mask_of(p)) for p in templates]
    image, truth = read_image(target), mask_of(target)
    (prediction,) = engine.propagate([*frames, Frame(target.stem, image)], structures)
    kept = keep_pieces(prediction.labels, allowed_pieces([f.labels for f in frames], structures))
    blob_only = lambda labels: np.where(np.isin(labels, structures.thin_labels), 0, labels)  # noqa: E731
    true_traits = measure_specimen(blob_only(truth), image, structures).set_index("structure")
    result = {"target": target.stem, "changed": int((kept != prediction.labels).sum())}
    for name, labels in (("engine", prediction.labels), ("pieces", kept)):
        ious = class_iou(labels, truth, structures.labels)
        traits = measure_specimen(blob_only(labels), image, structures).set_index("structure")
        result[name] = {
            "miou": mean_iou(ious),
            "iou": ious,
            "split": sum(
                int(
                    traits.loc[s.name, "n_components"]
                    > max(1, true_traits.loc[s.name, "n_components"])
                )
                for s in structures
                if s.kind == "blob"
            ),
            "outliers": sum(
                _outlier(traits.loc[s.name, trait], true_traits.loc[s.name, trait])
                for s in structures
                if s.kind == "blob"
                for trait in ("length_px", "area_px")
            ),
        }
    return result


def _outlier(predicted: float, true: float) -> int:
    if not (np.isfinite(true) and true > 0 and np.isfinite(predicted)):
        return 0
    return int(abs(predicted / true - 1) > OUTLIER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*SETS, "both"], default="both")
    parser.add_argument("--targets", type=int, default=40)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    for key in SETS if args.set == "both" else (args.set,):
        folder, config = SETS[key]
        images = sorted((DATA / folder / "images").glob("*.png"))
        chosen, pool = split(images, args.targets)
        options = RegistrationOptions.from_config(
            {**SET_OPTIONS[key], "qc_single_templates": False}
        )
        neighbours = nearest_templates(chosen, pool, NEAREST, "specimen", options)
        tasks = [(t, n, config, options) for t, n in zip(chosen, neighbours)]
        if args.workers > 1:
            with multiprocessing.get_context("spawn").Pool(args.workers) as workers:
                results = workers.map(run_target, tasks, chunksize=1)
        else:
            results = [run_target(task) for task in tasks]
        structures = StructureTable.from_config(config)
        print(f"\n## {folder}: {len(results)} targets, {NEAREST} templates fused, pool {len(pool)}")
        header = ["labels", "mIoU", *structures.names, "blob parts split", "trait outliers"]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for name, label in (("engine", "as the engine gives them"), ("pieces", "pieces kept")):
            cells = [
                label,
                f"{np.mean([r[name]['miou'] for r in results]):.4f}",
                *(
                    f"{np.nanmean([r[name]['iou'][s.label] for r in results]):.4f}"
                    for s in structures
                ),
                str(sum(r[name]["split"] for r in results)),
                str(sum(r[name]["outliers"] for r in results)),
            ]
            print("| " + " | ".join(cells) + " |")
        gains = np.array([r["pieces"]["miou"] - r["engine"]["miou"] for r in results])
        print(
            f"paired mIoU change: mean {gains.mean():+.4f}, targets better {int((gains > 0).sum())}, "
            f"worse {int((gains < 0).sum())}, same {int((gains == 0).sum())}; "
            f"pixels changed per target {np.mean([r['changed'] for r in results]):.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
