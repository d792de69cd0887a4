"""The ``traitrack`` command: one subcommand per workflow stage, a thin front to Snakemake.

A subcommand asks Snakemake for the outputs of its rule for one species (the paths from the
layout table, :mod:`traitrack.paths`) and forces that rule to run, so the stage runs exactly
as the workflow runs it: the same inputs (the final stage's labels with self-training on, the
fine-tuned SAM 2 weights with fine-tuning on), the same settings and the same outputs, and
whatever it needs that is missing is made first. Run it in the project folder, where
``snakemake`` would run:

    traitrack describe --species carabus_synth
    traitrack propagate --species carabus_synth --shard 1-of-2 --cores 4
    traitrack measure --species carabus_synth --config config/config.yaml my.yaml --dry-run

Words after ``--`` go to Snakemake as they are (``-- --profile profiles/slurm``).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from traitrack.config import validate_config
from traitrack.paths import PooledLayout, SpeciesLayout, TrayLayout, final_stage

#: the workflow this command runs (workflow/Snakefile, beside the package)
SNAKEFILE = Path(__file__).resolve().parents[1] / "Snakefile"


@dataclass(frozen=True)
class Stage:
    """A subcommand: the rule it forces and the stage folder whose outputs it asks for."""

    rule: str
    help: str
    #: ``""`` the first round, ``round2``/``student`` a self-training stage; None: not sharded
    sharded_stage: str | None = None
    #: what one job covers: a ``species`` of the sample sheet or a ``tray`` of the tray sheet
    unit: str = "species"


STAGES = {
    "describe": Stage("describe", "image descriptors of a species' specimens (descriptors.npz)"),
    "select": Stage("select", "the k nearest templates of every target (selection.tsv)"),
    "order": Stage("order", "pseudo-video chunks (pseudovideo.json)"),
    "finetune": Stage("finetune", "palindrome fine-tuning of SAM 2 (finetune/weights.pt)"),
    "propagate": Stage(
        "propagate",
        "segment every target with the engine and the QC round trip, shard by shard "
        "(shards/), then gather them (labels/, qc.tsv, COCO)",
        sharded_stage="",
    ),
    "pseudo-round": Stage(
        "pseudo_round",
        "self-training: a second propagate round with the best targets by qc_rank as "
        "pseudo-templates, shard by shard (round2/shards/), then gathered (round2/)",
        sharded_stage="round2",
    ),
    "train-student": Stage(
        "train_student",
        "self-training: train the student network (student/weights.pt, losses.tsv); "
        "resumes from student/state.pt",
    ),
    "predict-student": Stage(
        "predict_student",
        "self-training: the student segments every target, with the QC, shard by shard "
        "(student/shards/), then gathered (student/labels/, qc.tsv, COCO)",
        sharded_stage="student",
    ),
    "bulk-sample": Stage(
        "bulk_sample",
        "self_training.student.bulk: the targets the teacher labels and its pseudo-video "
        "(bulk/sample.tsv, bulk/pseudovideo.json)",
    ),
    "annotate-next": Stage(
        "annotate_next", "rank unlabelled specimens by what annotating them would add"
    ),
    "calibrate": Stage(
        "calibrate",
        "each specimen's pixel size: sheet, TIFF metadata or scale bar (scale.tsv, "
        "scale_overlays/)",
    ),
    "measure": Stage("measure", "trait tables (results/traits/SPECIES.csv, one CSV a specimen)"),
    "evaluate": Stage("evaluate", "IoU of the first round against gt_mask (evaluation.tsv)"),
    "overlays": Stage("overlays", "overlay PNGs with a legend (overlays/)"),
    "export-corrections": Stage(
        "export_corrections",
        "the flagged (or chosen) targets' labels as labelme JSON and a COCO file for CVAT, to "
        "correct and put in the sheet's mask column (corrections/)",
    ),
    "split": Stage(
        "split",
        "split one tray of the tray sheet (`trays:`) into specimens (results/trays/TRAY/)",
        unit="tray",
    ),
}


def stage_targets(stage: str, species: str, shard: str | None = None) -> list[str]:
    """The files a subcommand asks Snakemake for: its rule's outputs for the species.

    Parameters
    ----------
    stage : str
        A key of :data:`STAGES`.
    species : str
        The species slug (the tray's, for a tray stage).
    shard : str, optional
        For a sharded stage, one shard (``INDEX-of-COUNT``): that shard's outputs only.
        Without it, the gathered outputs, which need every shard.

    Returns
    -------
    list of str
        Paths relative to the project folder, from :class:`traitrack.paths.SpeciesLayout`.
    """
    if STAGES[stage].unit == "tray":
        return [TrayLayout().split(species)]
    layout = SpeciesLayout(species)
    sharded = STAGES[stage].sharded_stage
    if sharded is not None:
        gathered = layout.gathered(sharded)
        if shard:
            return [gathered.shard(shard).labels, gathered.shard(shard).table]
        return [gathered.labels, gathered.predictions, gathered.qc, gathered.coco]
    if shard:
        raise ValueError(f"--shard: {stage} is one job per species; leave --shard out")
    return {
        "describe": [layout.descriptors],
        "select": [layout.selection],
        "order": [layout.pseudovideo],
        "finetune": [layout.finetune(name) for name in ("weights.pt", "loss.tsv", "loss.png")],
        "train-student": [layout.student("weights.pt"), layout.student("losses.tsv")],
        "bulk-sample": [layout.bulk("sample.tsv"), layout.bulk("pseudovideo.json")],
        "annotate-next": [layout.annotate_next],
        "calibrate": [layout.scale_table, layout.scale_overlays],
        "measure": [layout.traits_table, layout.traits_dir],
        "evaluate": [layout.gathered().evaluation],
        "overlays": [layout.overlays],
        "export-corrections": [layout.corrections],
    }[stage]


def snakemake_command(args: argparse.Namespace) -> list[str]:
    """The Snakemake command line of a subcommand: its rule forced, its outputs as targets.

    Only the stage's own rule is forced: the jobs after it in the same stage (``gather``
    after the shards) rerun because their inputs are new, and the jobs before it run only
    when their outputs are missing or out of date, as in any Snakemake run.
    """
    targets = stage_targets(args.stage, args.unit_name, args.shard)
    return forced_run(args, STAGES[args.stage].rule, targets, config_overrides(args))


def forced_run(
    args: argparse.Namespace, rule: str, targets: list[str], overrides: dict
) -> list[str]:
    """Snakemake asked for ``targets`` with ``rule`` forced, the subcommand's config files,
    cores and dry run, and ``overrides`` (config sections) layered last.

    The overrides go in a config file of their own: Snakemake's ``--config`` reads a nested
    value's numbers and booleans as strings.
    """
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE)]
    command += ["--cores", str(args.cores), "--show-failed-logs"]
    command += ["--configfile", *args.config]
    if overrides:
        command.append(str(_overrides_file(overrides)))
    if args.samples:
        command += ["--config", f"samples={args.samples}"]
    if args.dry_run:
        command.append("--dry-run")
    command += ["--forcerun", rule]
    command += list(getattr(args, "snakemake_args", []))
    # `--` ends the options that take several words (--configfile, --config, --forcerun)
    return [*command, "--", *targets]


def _overrides_file(overrides: dict) -> Path:
    """A YAML file of ``overrides`` in the temporary folder, named by its content."""
    import hashlib

    import yaml

    text = yaml.safe_dump(overrides, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"traitrack-overrides-{digest}.yaml"
    path.write_text(text)
    return path


def config_overrides(args: argparse.Namespace) -> dict:
    """Config sections a subcommand's own options set (JSON, which Snakemake's ``--config``
    reads as YAML): ``export-corrections --specimens/--all``."""
    if args.stage == "export-corrections" and (args.specimens or args.all):
        which = "all" if args.all else "flagged"
        return {"corrections": {"which": which, "specimens": args.specimens or []}}
    return {}


def _checked_config(args: argparse.Namespace) -> dict:
    """The config files layered and validated as the Snakefile will (a mistake ends here,
    with exit status 2, before Snakemake starts)."""
    import yaml
    from snakemake.utils import update_config  # Snakemake's own merge of config files

    config: dict = {}
    for path in args.config:
        if not Path(path).is_file():
            raise ValueError(f"--config {path}: config file not found")
        update_config(config, yaml.safe_load(Path(path).read_text()) or {})
    try:
        return validate_config({**config, **({"samples": args.samples} if args.samples else {})})
    except ValueError as error:
        raise ValueError(f"{' + '.join(args.config)}: {error}") from None


def _run_stage(args: argparse.Namespace) -> int:
    """Check the config, then let Snakemake run the stage; its exit status is the command's."""
    _checked_config(args)
    return subprocess.run(snakemake_command(args), check=False).returncode


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
        "Each subcommand runs one workflow stage for one species, through Snakemake.",
    )
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, stage in STAGES.items():
        command = sub.add_parser(name, help=stage.help, description=stage.help)
        if stage.unit == "tray":
            command.add_argument(
                "--tray", dest="unit_name", required=True, help="tray slug from the tray sheet"
            )
        else:
            command.add_argument(
                "--species",
                dest="unit_name",
                required=True,
                help="species slug from the sample sheet",
            )
        command.add_argument(
            "--config",
            nargs="+",
            default=["config/config.yaml"],
            help="config YAML files, later ones over earlier ones (default: %(default)s)",
        )
        command.add_argument("--samples", help="sample sheet, overriding the config's `samples`")
        command.add_argument(
            "--cores",
            "--threads",
            type=int,
            default=1,
            help="cores Snakemake may use (default: %(default)s)",
        )
        command.add_argument(
            "--dry-run", "-n", action="store_true", help="show the jobs, run nothing"
        )
        if name == "export-corrections":
            command.add_argument(
                "--specimens", nargs="+", help="export these targets (default: the flagged ones)"
            )
            command.add_argument("--all", action="store_true", help="export every target")
        if stage.sharded_stage is not None:
            command.add_argument(
                "--shard",
                help="run only this shard (INDEX-of-COUNT, as the workflow names them) and "
                "leave the gather; default: every shard, then the gather",
            )
        command.add_argument(
            "snakemake_args",
            nargs=argparse.REMAINDER,
            help="after --: further Snakemake options (e.g. -- --profile profiles/slurm)",
        )
        command.set_defaults(func=_run_stage, shard=None, specimens=None, all=False)
    add_retrieve(sub)
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


def add_retrieve(sub) -> None:
    """The ``retrieve`` subcommand: its query is a specimen or a photograph, not a species."""
    help_text = (
        "rank the specimens whose part looks like a query's (a specimen of the results, or a "
        "photograph with its mask): a TSV and a contact sheet"
    )
    retrieve = sub.add_parser("retrieve", help=help_text, description=help_text)
    retrieve.add_argument("--structure", required=True, help="the part to compare")
    retrieve.add_argument("--specimen", help="query: a specimen of the sample sheet")
    retrieve.add_argument("--image", help="query: a photograph (with --mask)")
    retrieve.add_argument("--mask", help="query: the photograph's mask, any declared encoding")
    retrieve.add_argument("--pool", nargs="+", help="species, all, or species slugs (config)")
    retrieve.add_argument("--order", choices=["similar", "dissimilar"], help="(config)")
    retrieve.add_argument("--top", type=int, help="candidates on the contact sheet (config)")
    retrieve.add_argument(
        "--cycle", action="store_true", help="also score the engine's cycle (retrieve.cycle)"
    )
    retrieve.add_argument("--config", nargs="+", default=["config/config.yaml"])
    retrieve.add_argument("--samples", help="sample sheet, overriding the config's `samples`")
    retrieve.add_argument("--cores", type=int, default=1, help="cores Snakemake may use")
    retrieve.add_argument("--dry-run", "-n", action="store_true", help="show the jobs only")
    retrieve.add_argument("--out", help="photograph queries: output prefix")
    retrieve.set_defaults(func=_run_retrieve)


def _run_retrieve(args: argparse.Namespace) -> int:
    """A specimen query runs the workflow's ``retrieve`` rule; a photograph, which is no
    workflow target, calls the stage on the final stage's labels (the layout table's)."""
    config = _checked_config(args)
    options = dict(config["retrieve"])
    if args.pool:
        single = len(args.pool) == 1 and args.pool[0] in ("species", "all")
        options["pool"] = args.pool[0] if single else list(args.pool)
    options["order"] = args.order or options["order"]
    options["top"] = args.top or options["top"]
    options["cycle"] = args.cycle or options["cycle"]
    if args.specimen:
        target = PooledLayout().retrieval(args.specimen, args.structure, ".tsv")
        command = forced_run(args, "retrieve", [target], {"retrieve": options})
        return subprocess.run(command, check=False).returncode
    if not (args.image and args.mask):
        raise ValueError("retrieve: give --specimen, or --image with --mask")
    from traitrack.propagation import EngineSpec
    from traitrack.samples import read_sample_sheet, species_list
    from traitrack.stages.retrieve import run_retrieve
    from traitrack.structures import StructureTable

    final = final_stage(config["self_training"])
    species = species_list(read_sample_sheet(config["samples"]))
    out = Path(args.out or PooledLayout().retrieval(Path(args.image).stem, args.structure, ""))
    run_retrieve(
        config["samples"],
        StructureTable.from_config(config),
        args.structure,
        {name: SpeciesLayout(name).gathered(final).folder for name in species},
        out.with_suffix(".tsv"),
        out.with_suffix(".png"),
        query_image=args.image,
        query_mask=args.mask,
        pool=options["pool"],
        order=options["order"],
        top=options["top"],
        cycle_engine=EngineSpec.from_config(config, threads=args.cores)
        if options["cycle"]
        else None,
        working_megapixels=config["limits"]["working_megapixels"],
    )
    return 0


def _write_example(out: str, seed: int) -> int:
    from traitrack.example.synthetic import write_example
    from traitrack.example.tray import write_example_tray

    write_example(out, seed=seed)
    write_example_tray(out, seed=seed)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``traitrack`` command.

    Input errors found before Snakemake starts (``ValueError``, which
    :class:`~traitrack.io.InputError` is) are printed without a traceback, because their
    message names the file and the fix.

    Parameters
    ----------
    argv : list of str, optional
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        The exit status: Snakemake's, or 2 on an input error found first.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if getattr(args, "snakemake_args", None) and args.snakemake_args[0] == "--":
        args.snakemake_args = args.snakemake_args[1:]
    try:
        return args.func(args)
    except ValueError as error:  # our input errors name the file and the fix
        print(f"traitrack {args.stage}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
