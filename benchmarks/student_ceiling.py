"""What limits the student: its teacher's labels, or the network and the images.

``benchmarks/self_training.py`` trains the student on the N templates' true masks and the
teacher's labels of ``--unlabelled`` other specimens.  This trains the same network, with the
same settings, split, templates (``annotate_next``'s first N) and unlabelled specimens, on

* **templates**: the N templates alone (what the unlabelled specimens add at all);
* **oracle**: the templates and the unlabelled specimens' *true* masks, as pseudo-labels of
  QC rank and confidence 1 (lowered near part boundaries as any pseudo-label is): what
  perfect pseudo-labels would give, a diagnostic that reads their ground truth, never a mode
  of the workflow,

and prints the mIoU of each student alone over the same evaluation targets, per structure
too.  Where ``oracle`` stays below a goal, better pseudo-labels alone cannot reach it with this
network from random initialisation on this many images; where ``oracle`` is far above
``student``, the teacher's labels are what limits it.  No registration runs: each column is
one student's training (the schema's ``steps``; ``--option KEY=VALUE`` as in
``self_training.py``), resumable from ``--cache``.  Run the two sets side by side, one torch
thread each (see ``self_training.py``).

Data: ../shared/data (beetles-5part: NEON "Beetles as Sentinel Taxa" images, East et al. 2026,
doi 10.57967/hf/8716, CC BY 4.0, masks from Imageomics BeetleFlow; ants-4part: AntWeb images,
www.antweb.org, CC BY 4.0, masks by EPFL CS-433 "ml-project-2-kalamariunionen" with UNIL).
Example::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/student_ceiling.py --set beetles \\
        --threads 1 --cache /tmp/student_ceiling
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from registration_real import SETS, yaml_pairs  # noqa: E402
from self_training_specimens import (  # noqa: E402
    add_specimen_arguments,
    choose_specimens,
    print_table,
)

from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.metrics import class_iou, mean_iou  # noqa: E402
from traitrack.selftrain.options import SelfTrainingOptions  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

COLUMNS = ("templates", "oracle")


def run_set(key: str, args: argparse.Namespace, settings: SelfTrainingOptions) -> dict:
    """Each column's mIoU at each N for one set; prints per-structure means and a table."""
    import torch

    from traitrack.selftrain import student
    from traitrack.selftrain.generations import Labelled, train_generations, training_samples
    from traitrack.selftrain.inference import image_softmax

    folder, config = SETS[key]
    structures = StructureTable.from_config(config)
    targets, pool, ordered, unlabelled = choose_specimens(
        key, args.targets, args.unlabelled, max(args.sizes), args.tuning_split
    )
    mask_of = lambda p: read_mask(p.parent.parent / "masks" / p.name, structures)  # noqa: E731
    truth = {p.stem: mask_of(p) for p in targets}
    target_images = {p.stem: read_image(p) for p in targets}
    names = [s.name for s in structures.structures]
    options = settings.student
    true_labels = (
        [Labelled(p.stem, read_image(p), mask_of(p)) for p in unlabelled]
        if "oracle" in args.columns
        else []
    )
    print(
        f"\n## {folder}, {'tuning' if args.tuning_split else 'benchmark'} split: "
        f"{len(targets)} targets, {len(unlabelled)} unlabelled, sizes {args.sizes}, columns "
        f"{args.columns}, torch threads {torch.get_num_threads()}, student {options.as_config()}",
        flush=True,
    )
    table: dict[int, dict[str, float]] = {}
    for n in args.sizes:
        templates = [
            Labelled(p.stem, read_image(p), mask_of(p)) for p in (pool[i] for i in ordered[:n])
        ]
        table[n] = {}
        for column in args.columns:
            start = time.perf_counter()
            extra = true_labels if column == "oracle" else []
            samples = training_samples(templates, extra, structures, options)
            fingerprint = student.fingerprint(samples, options, 0)
            state = Path(args.cache) / f"ceiling-{fingerprint[:24]}.pt" if args.cache else None
            network, losses, _ = train_generations(
                templates,
                extra,
                structures,
                options,
                seed=0,
                state_path=state,
                log=str,
                first_samples=samples,
            )
            ious = []
            for name, image in target_images.items():
                softmax = image_softmax(network, image, options.size, options.test_flips)
                ious.append(class_iou(softmax.argmax(axis=0), truth[name], structures.labels))
            table[n][column] = float(np.mean([mean_iou(iou) for iou in ious]))
            per = [np.nanmean([iou[label] for iou in ious]) for label in structures.labels]
            print(
                f"  N={n} {column}: mIoU {table[n][column]:.3f}; "
                + ", ".join(f"{a} {v:.3f}" for a, v in zip(names, per))
                + f" ({len(samples)} training images, {len(losses)} epochs, "
                f"{time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    print_table(table, args.columns)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_specimen_arguments(parser)
    parser.add_argument("--columns", nargs="+", choices=COLUMNS, default=list(COLUMNS))
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--cache", type=str, default="", help="folder of training states")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    settings = SelfTrainingOptions.from_config({"student": yaml_pairs(args.option)})
    for key in ("beetles", "ants") if args.set == "both" else (args.set,):
        run_set(key, args, settings)


if __name__ == "__main__":
    main()
