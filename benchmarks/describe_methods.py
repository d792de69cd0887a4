"""Which descriptor picks templates whose parts lie as the target's: specimen, hog, cnn.

A registration-free proxy of ``benchmarks/registration_real.py --describe METHOD`` (which
registers every target to its 5 nearest templates and costs about 8 core-s per target): the
split of that benchmark (``--tuning-split`` as there), each target's 5 nearest pool images by
each ``describe.method`` (descriptors centred over the whole set, as the workflow's describe
step centres a species), and for each template the mIoU of its hand-made label map against the
target's ground truth after both are cut to their foreground's bounding box and scaled to one
``--side`` square (nearest neighbour): how alike the chosen templates' parts lie in a frame
normalised for place and size, which no registration aligns further. Printed per method: that
mIoU for the nearest template, the mean over the 5 nearest, and the descriptor's seconds per
image. It says which descriptor finds specimens of like shape and pose; the registration
benchmark says what the engine makes of them.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/describe_methods.py --set both --targets 40 \
        --tuning-split

Data: beetles: NEON "Beetles as Sentinel Taxa" images (East et al. 2026, doi
10.57967/hf/8716, CC BY 4.0), masks from Imageomics BeetleFlow; ants: AntWeb images
(www.antweb.org, CC BY 4.0), masks by EPFL CS-433 "ml-project-2-kalamariunionen" with UNIL.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from registration_real import DATA, SET_OPTIONS, SETS, describe_paths, split  # noqa: E402

from traitrack.describe import centre_descriptors  # noqa: E402
from traitrack.engines.registration.options import RegistrationOptions  # noqa: E402
from traitrack.io import read_mask  # noqa: E402
from traitrack.metrics import class_iou, mean_iou  # noqa: E402
from traitrack.select import nearest_templates  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

METHODS = ("specimen", "hog", "cnn")
NEAREST = 5


def normalised(labels: np.ndarray, side: int) -> np.ndarray:
    """A label map cut to its foreground's bounding box, scaled to ``side`` squared."""
    ys, xs = np.nonzero(labels)
    if len(ys):
        labels = labels[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return cv2.resize(labels, (side, side), interpolation=cv2.INTER_NEAREST)


def run_set(key: str, targets: int, tuning: bool, side: int) -> None:
    folder, config = SETS[key]
    structures = StructureTable.from_config(config)
    images = sorted((DATA / folder / "images").glob("*.png"))
    chosen, pool = split(images, targets, tuning)
    options = RegistrationOptions.from_config(SET_OPTIONS[key])
    masks = {
        p.stem: normalised(read_mask(DATA / folder / "masks" / p.name, structures), side)
        for p in chosen + pool
    }
    labels = list(range(1, len(structures) + 1))
    print(f"\n## {folder}, {'tuning' if tuning else 'benchmark'} split: {len(chosen)} targets")
    print("| describe.method | nearest template | mean of the 5 nearest | s per image |")
    print("|---|---|---|---|")
    for method in METHODS:
        start = time.perf_counter()
        target_rows = describe_paths(chosen, method, options)
        pool_rows = describe_paths(pool, method, options)
        seconds = (time.perf_counter() - start) / (len(chosen) + len(pool))
        target_rows, pool_rows = centre_descriptors(target_rows, pool_rows)
        table = nearest_templates(
            [p.stem for p in chosen], target_rows, [p.stem for p in pool], pool_rows, NEAREST
        )
        scores = {
            (row.target, row.rank): mean_iou(
                class_iou(masks[row.template], masks[row.target], labels)
            )
            for row in table.itertuples()
        }
        first = np.nanmean([v for (_, rank), v in scores.items() if rank == 1])
        every = np.nanmean(list(scores.values()))
        print(f"| {method} | {first:.3f} | {every:.3f} | {seconds:.2f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=["beetles", "ants", "both"], default="both")
    parser.add_argument("--targets", type=int, default=40)
    parser.add_argument("--tuning-split", action="store_true")
    parser.add_argument("--side", type=int, default=128)
    args = parser.parse_args(argv)
    for key in ("beetles", "ants") if args.set == "both" else (args.set,):
        run_set(key, args.targets, args.tuning_split, args.side)


if __name__ == "__main__":
    main()
