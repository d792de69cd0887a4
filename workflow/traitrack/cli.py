"""The ``traitrack`` command: one subcommand per workflow stage, for runs outside Snakemake.

Every stage reads and writes the same files as the workflow's rule of the same name, under
``--results`` (default ``results``), so a stage can be rerun or debugged by hand:

    traitrack describe --species carabus_synth
    traitrack propagate --species carabus_synth --config config/config.yaml
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from traitrack.config import load_config


def _species_paths(results: Path, species: str) -> dict[str, Path]:
    base = results / species
    return {
        "descriptors": base / "descriptors.npz",
        "selection": base / "selection.tsv",
        "pseudovideo": base / "pseudovideo.json",
        "shards": base / "shards",
        "labels": base / "labels",
        "predictions": base / "predictions.tsv",
        "qc": base / "qc.tsv",
        "coco": base / "masks.coco.json",
        "annotate_next": base / "annotate_next.tsv",
        "evaluation": base / "evaluation.tsv",
        "overlays": base / "overlays",
        "traits_dir": results / "traits" / species,
        "traits": results / "traits" / f"{species}.csv",
        "round2": base / "round2",
        "student": base / "student",
    }


def _gathered(folder: Path) -> dict[str, Path]:
    """The files ``gather`` (or a self-training stage) writes into a folder."""
    return {
        "labels_dir": folder / "labels",
        "predictions_out": folder / "predictions.tsv",
        "qc_out": folder / "qc.tsv",
        "coco_out": folder / "masks.coco.json",
    }


def _run_selftrain(stage: str, config: dict, species: str, p: dict, args) -> None:
    """The self-training stages (rules ``pseudo_round``, ``train_student``, ``predict_student``
    and ``gather_selftrain``): the sharded ones shard by shard (``--shard``: that one alone),
    then gathered."""
    from traitrack.propagation import EngineSpec
    from traitrack.stages import pseudo, selftrain
    from traitrack.structures import StructureTable

    samples, structures = config["samples"], StructureTable.from_config(config)
    engine = {
        "engine_spec": EngineSpec(
            config["engine"], config[config["engine"]], config["seed"], threads=args.threads
        ),
        "qc": config["qc"],
    }
    pool = config["select"]["template_pool"]
    teacher = p["round2"] if config["self_training"]["rounds"] > 1 else p["labels"].parent
    if stage == "train-student":
        folder = p["student"]
        selftrain.run_train_student(
            samples,
            species,
            teacher / "labels",
            teacher / "predictions.tsv",
            teacher / "qc.tsv",
            structures=structures,
            self_training=config["self_training"],
            seed=config["seed"],
            pool=pool,
            weights_out=folder / "weights.pt",
            losses_out=folder / "losses.tsv",
            plot_out=folder / "losses.png",
            training_out=folder / "training.tsv",
            threads=args.threads,
        )
        return
    folder = p["round2"] if stage == "pseudo-round" else p["student"]
    names = _shards(samples, species, config["shard"]["size"])
    for name in [args.shard] if args.shard else names:
        out = {"shard": name, "shard_out": folder / "shards" / name / "shard.json"}
        if stage == "pseudo-round":
            pseudo.run_pseudo_round(
                samples,
                species,
                p["labels"],
                p["qc"],
                p["descriptors"],
                p["pseudovideo"],
                structures=structures,
                self_training=config["self_training"],
                **engine,
                k=config["select"]["k"],
                chunk_length=config["order"]["chunk_length"],
                pool=pool,
                labels_out=folder / "shards" / name / "labels",
                first_shard=p["labels"].parent / "shards" / name / "shard.json",
                **out,
            )
        else:
            selftrain.run_predict_student(
                samples,
                species,
                p["student"] / "weights.pt",
                teacher / "qc.tsv",
                teacher / "labels",
                p["pseudovideo"],
                structures=structures,
                self_training=config["self_training"],
                **engine,
                pool=pool,
                labels_dir=folder / "shards" / name / "labels",
                **out,
            )
    if not args.shard:
        _gather(samples, species, folder, names, structures, config["qc"])


def _gather(samples, species, folder: Path, names, structures, qc) -> None:
    """Rule ``gather`` (or ``gather_selftrain``): the shards under ``folder`` joined there."""
    from traitrack.stages.propagate import run_gather

    run_gather(
        samples,
        species,
        [folder / "shards" / name / "shard.json" for name in names],
        [folder / "shards" / name / "labels" for name in names],
        structures=structures,
        qc=qc,
        **_gathered(folder),
    )


def _shards(samples: str, species: str, size: int) -> list[str]:
    """The species' shards as the workflow plans them (``common.smk``, ``shards``)."""
    from traitrack.samples import read_sample_sheet, specimens
    from traitrack.shards import shard_count, shard_names

    rows = specimens(read_sample_sheet(samples), species)
    return shard_names(shard_count(sum(not s.is_template for s in rows), size))


def _run_stage(args: argparse.Namespace) -> None:
    """Run one stage with the values its rule's ``params:`` would pass."""
    from traitrack.propagation import EngineSpec
    from traitrack.stages import annotate_next, evaluate, measure, prepare, propagate, report
    from traitrack.structures import StructureTable

    config = load_config(args.config, {"samples": args.samples} if args.samples else None)
    samples, species, seed = config["samples"], args.species, config["seed"]
    structures = StructureTable.from_config(config)
    p = _species_paths(Path(args.results), species)
    stage = args.stage
    if stage in SELF_TRAINING_STAGES:
        _run_selftrain(stage, config, species, p, args)
    elif stage == "describe":
        prepare.run_describe(
            samples,
            species,
            p["descriptors"],
            method=config["describe"]["method"],
            thumbnail_size=config["describe"]["thumbnail_size"],
            pool=config["select"]["template_pool"],
            seed=seed,
            registration=config["registration"],
            sam2=config["sam2"],
        )
    elif stage == "select":
        prepare.run_select(
            samples,
            species,
            p["descriptors"],
            p["selection"],
            k=config["select"]["k"],
            pool=config["select"]["template_pool"],
        )
    elif stage == "order":
        prepare.run_order(
            species,
            p["selection"],
            p["descriptors"],
            p["pseudovideo"],
            mode=config["order"]["mode"],
            chunk_length=config["order"]["chunk_length"],
        )
    elif stage == "propagate":
        names = _shards(samples, species, config["shard"]["size"])
        for name in [args.shard] if args.shard else names:
            propagate.run_propagate(
                samples,
                species,
                p["pseudovideo"],
                structures=structures,
                engine_spec=EngineSpec(
                    config["engine"], config[config["engine"]], seed, threads=args.threads
                ),
                qc=config["qc"],
                labels_dir=p["shards"] / name / "labels",
                shard_out=p["shards"] / name / "shard.json",
                shard=name,
            )
        if not args.shard:
            _gather(samples, species, p["labels"].parent, names, structures, config["qc"])
    elif stage == "annotate-next":
        annotate_next.run_annotate_next(
            samples, species, p["descriptors"], p["qc"], p["annotate_next"]
        )
    elif stage == "measure":
        measure.run_measure(
            samples,
            species,
            p["labels"],
            p["predictions"],
            structures,
            p["traits_dir"],
            p["traits"],
        )
    elif stage == "evaluate":
        evaluate.run_evaluate(
            samples, species, p["labels"], structures, config["engine"], p["evaluation"]
        )
    elif stage == "overlays":
        report.run_overlays(samples, species, p["labels"], structures, p["overlays"])


STAGES = {
    "describe": "image descriptors of a species' specimens (results/SPECIES/descriptors.npz)",
    "select": "the k nearest templates of every target (selection.tsv)",
    "order": "pseudo-video chunks (pseudovideo.json)",
    "propagate": "segment every target with the engine, then the QC round trip, shard by shard "
    "(shards/), then gather them (labels/, qc.tsv, COCO)",
    "annotate-next": "rank unlabelled specimens by what annotating them would add (annotate_next.tsv)",
    "measure": "trait tables (results/traits/SPECIES.csv and one CSV per specimen)",
    "evaluate": "IoU against gt_mask (evaluation.tsv)",
    "overlays": "overlay PNGs with a legend (overlays/)",
}

SELF_TRAINING_STAGES = {
    "pseudo-round": "self-training: a second propagate round with the best targets by qc_rank "
    "as pseudo-templates, shard by shard (round2/shards/), then gathered (round2/)",
    "train-student": "self-training: train the student network (student/weights.pt, "
    "losses.tsv); resumes from student/state.pt",
    "predict-student": "self-training: the student segments every target, with the QC, shard "
    "by shard (student/shards/), then gathered (student/labels/, qc.tsv, COCO)",
}
STAGES.update(SELF_TRAINING_STAGES)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``traitrack`` argument parser: one subcommand per stage, plus ``example``.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each subcommand sets ``func`` to the function that runs it.
    """
    parser = argparse.ArgumentParser(
        prog="traitrack",
        description="Segment specimen parts from a few templates per species and measure traits. "
        "Each subcommand runs one workflow stage for one species.",
    )
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, help_text in STAGES.items():
        stage = sub.add_parser(name, help=help_text, description=help_text)
        stage.add_argument("--species", required=True, help="species slug from the sample sheet")
        stage.add_argument(
            "--config", default="config/config.yaml", help="config YAML (default: %(default)s)"
        )
        stage.add_argument("--samples", help="sample sheet, overriding the config's `samples`")
        stage.add_argument(
            "--results", default="results", help="results folder (default: %(default)s)"
        )
        stage.add_argument(
            "--threads",
            type=int,
            default=1,
            help="threads (propagate, self-training; default: %(default)s)",
        )
        if name in ("propagate", "pseudo-round", "predict-student"):
            stage.add_argument(
                "--shard",
                help="run only this shard (INDEX-of-COUNT, as the workflow names them) and "
                "leave the gather; default: every shard of `shard.size`, then the gather",
            )
        stage.set_defaults(func=_run_stage)
    example = sub.add_parser(
        "example",
        help="write the synthetic example data set",
        description="Write the synthetic example data set.",
    )
    example.add_argument(
        "out", nargs="?", default="resources/example", help="folder (default: %(default)s)"
    )
    example.add_argument("--seed", type=int, default=0)
    example.set_defaults(func=lambda a: _write_example(a.out, a.seed))
    return parser


def _write_example(out: str, seed: int) -> None:
    from traitrack.example.synthetic import write_example

    write_example(out, seed=seed)


def main(argv: list[str] | None = None) -> int:
    """Run the ``traitrack`` command.

    Input errors (``ValueError``, which :class:`~traitrack.io.InputError` is) are printed
    without a traceback, because their message names the file and the fix.

    Parameters
    ----------
    argv : list of str, optional
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        The exit status: 0 on success, 2 on an input error.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ValueError as error:  # our input errors name the file and the fix
        print(f"traitrack {args.stage}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
