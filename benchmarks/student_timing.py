"""A student's training cost on 2 CPU cores: seconds per epoch, minutes, peak memory.

A species of ``--specimens`` synthetic specimens (the example's beetles, 5 of them templates,
the rest pseudo-labelled) at the student's size, trained as configured (``steps``, or
``epochs`` where set; ``--epochs`` overrides), with torch on ``--threads`` threads.  On a
shared machine the wall times grow with the load; the CPU time per optimiser step does not.  The
student's settings are the schema's defaults, changed by ``--option KEY=VALUE``.  Example::

    .venv/bin/python benchmarks/student_timing.py --threads 2
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from registration_real import yaml_pairs  # noqa: E402

from traitrack.selftrain.options import SelfTrainingOptions  # noqa: E402


def timing(args: argparse.Namespace, settings: SelfTrainingOptions) -> None:
    """Seconds per epoch, minutes in all and peak memory of a student on a synthetic species."""
    import torch

    from traitrack.example.synthetic import BODY_PLANS, example_structures, render_specimen
    from traitrack.selftrain import student
    from traitrack.selftrain.data import make_sample

    structures = example_structures()
    rng = np.random.default_rng(0)
    specimens = [render_specimen(BODY_PLANS[0], rng) for _ in range(args.specimens)]
    size = settings.student.size
    samples = [
        make_sample(
            f"s{i}",
            s.image,
            s.labels,
            size,
            is_template=i < 5,
            structures=structures,
            qc_rank=0.7,
            confidence={},
            boundary_px=settings.student.boundary_px,
            spare_thin=settings.student.spare_thin_parts,
        )
        for i, s in enumerate(specimens)
    ]
    epochs = args.epochs or student.training_epochs(samples, settings.student)
    options = SelfTrainingOptions.from_config(
        {"student": {**settings.student.as_config(), "epochs": epochs}}
    ).student
    start = time.perf_counter()
    cpu_start = time.process_time()
    network, losses = student.train(samples, structures, options, seed=0, log=print)
    device = student.device_of(network)
    gpu = (
        f"; peak GPU memory {torch.cuda.max_memory_allocated() / 1024**3:.2f} GB on "
        f"{torch.cuda.get_device_name(device)}"
        if device.type == "cuda"
        else ""
    )
    cpu = time.process_time() - cpu_start
    seconds = losses["seconds"]
    refining = seconds.iloc[options.refine_epoch(epochs) :]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    steps = epochs * int(
        np.ceil(
            len(student.epoch_order(samples, options.template_share, 0, 0)) / options.batch_size
        )
    )
    configured = options.total_epochs(
        len(student.epoch_order(samples, options.template_share, 0, 0))
    )
    print(
        f"\n## student timing ({options.encoder}): {len(samples)} synthetic specimens at {size} px, torch threads "
        f"{torch.get_num_threads()}: {epochs} epochs "
        f"({'--epochs' if args.epochs else 'the configured training'}), "
        f"{seconds.mean():.1f} s per epoch (refining epochs {refining.mean():.1f} s), "
        f"training {seconds.sum() / 60:.1f} min; peak memory (RSS) {peak_gb:.2f} GB; "
        f"{time.perf_counter() - start:.0f} s in all; CPU time {cpu:.0f} s, "
        f"{cpu / steps:.2f} CPU-s per step of {options.batch_size} ({steps} steps; the "
        f"configured training is {configured} epochs){gpu}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specimens", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=0, help="0: the configured training")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument(
        "--option", action="append", default=[], help="self_training.student KEY=VALUE (YAML value)"
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    timing(args, SelfTrainingOptions.from_config({"student": yaml_pairs(args.option)}))


if __name__ == "__main__":
    main()
