"""What the student's square costs: the true masks letterboxed in and out.

The student sees every specimen letterboxed into a ``size`` square and its softmax is mapped
back to the image's pixels (:func:`traitrack.selftrain.inference.image_softmax`). A student
that labelled every pixel of the square right would still score below 1 where a part is a few
pixels thick at that size: this prints that ceiling, per structure and as the mIoU over the
same evaluation targets as ``benchmarks/self_training.py`` (``--tuning-split`` as there), for
each ``--sizes``, and each structure's area in the targets' own pixels. Each target's true
label map goes into the square by nearest pixel centre (:func:`letterbox_mask`, as training
letterboxes labels), becomes one-hot log-probabilities, and comes back through
:func:`unletterbox_logits` (bilinear, as inference does) to an argmax.
No training, a few seconds.

Data: ../shared/data (beetles-5part: NEON "Beetles as Sentinel Taxa" images, East et al. 2026,
doi 10.57967/hf/8716, CC BY 4.0, masks from Imageomics BeetleFlow; ants-4part: AntWeb images,
www.antweb.org, CC BY 4.0, masks by EPFL CS-433 "ml-project-2-kalamariunionen" with UNIL).
Example::

    .venv/bin/python benchmarks/resolution_ceiling.py --set both --sizes 256 384 512
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from registration_real import DATA, SETS, split  # noqa: E402

from traitrack.io import read_mask  # noqa: E402
from traitrack.letterbox import (  # noqa: E402
    fit_letterbox,
    letterbox_mask,
    unletterbox_logits,
)
from traitrack.metrics import class_iou, mean_iou  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402


def through_square(labels: np.ndarray, size: int, classes: int) -> np.ndarray:
    """A label map letterboxed into a ``size`` square and mapped back to its own pixels."""
    box = fit_letterbox(labels.shape[0], labels.shape[1], size)
    square = letterbox_mask(labels, box).astype(np.int64)
    one_hot = (square[None] == np.arange(classes)[:, None, None]).astype(np.float32)
    logits = torch.from_numpy(np.log(np.clip(one_hot, 1e-6, None)))
    return unletterbox_logits(logits, box).argmax(dim=0).numpy()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("beetles", "ants", "both"), default="both")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 384, 512])
    parser.add_argument("--tuning-split", action="store_true")
    args = parser.parse_args(argv)
    for key in ("beetles", "ants") if args.set == "both" else (args.set,):
        folder, config = SETS[key]
        structures = StructureTable.from_config(config)
        images = sorted((DATA / folder / "images").glob("*.png"))
        if not images:
            raise SystemExit(f"no images in {DATA / folder / 'images'}; is ../shared/data there?")
        targets, _ = split(images, args.targets, args.tuning_split)
        truths = [read_mask(p.parent.parent / "masks" / p.name, structures) for p in targets]
        sides = [max(t.shape) for t in truths]
        names = [s.name for s in structures.structures]
        print(
            f"\n## {folder}, {'tuning' if args.tuning_split else 'benchmark'} split: "
            f"{len(targets)} targets, longer side {min(sides)}-{max(sides)} px (median "
            f"{int(np.median(sides))})"
        )
        areas = [[int((t == label).sum()) for t in truths] for label in structures.labels]
        print(
            "area in px over the targets (median, 10th percentile): "
            + ", ".join(
                f"{name} {np.median(a):.0f}, {np.percentile(a, 10):.0f}"
                for name, a in zip(names, areas)
            )
        )
        print("| size | mIoU | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 2))
        classes = max(structures.labels) + 1
        for size in args.sizes:
            ious = [
                class_iou(through_square(t, size, classes), t, structures.labels) for t in truths
            ]
            per = [np.nanmean([iou[label] for iou in ious]) for label in structures.labels]
            print(
                f"| {size} | {np.mean([mean_iou(iou) for iou in ious]):.3f} | "
                + " | ".join(f"{v:.3f}" for v in per)
                + " |",
                flush=True,
            )


if __name__ == "__main__":
    main()
