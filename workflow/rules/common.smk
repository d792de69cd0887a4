import hashlib
import math
import os
import sys
from functools import cache
from pathlib import Path

import yaml
from snakemake.utils import validate

# workflow/, the folder of the traitrack package (this file is in workflow/rules/)
WORKFLOW_DIR = Path(workflow.current_basedir).parent
sys.path.insert(0, str(WORKFLOW_DIR))
# planning the DAG needs the sample sheet only: nothing heavier than pandas is imported here
from traitrack.samples import (  # noqa: E402
    read_sample_sheet,
    species_list,
    species_members,
    training_set,
)
from traitrack.shards import SHARD_PATTERN, shard_count, shard_names  # noqa: E402
from traitrack.paths import (  # noqa: E402
    PooledLayout,
    SpeciesLayout,
    TrayLayout,
    benchmark_path,
    final_stage,
    log_path,
    self_trained_stages,
    teacher_stage,
)
from traitrack.settings import settings_digest  # noqa: E402
from traitrack.config_keys import check_config_keys  # noqa: E402

CONFIG_SCHEMA_DIR = WORKFLOW_DIR / "schemas"
# every unknown key at once, each with the nearest valid one, before the schema's own message
check_config_keys(
    config,
    yaml.safe_load((CONFIG_SCHEMA_DIR / "config.schema.yaml").read_text()),
    " + ".join(dict.fromkeys(map(str, workflow.configfiles))) or "the config",
)
validate(config, schema="../schemas/config.schema.yaml", set_default=True)

# trays (trays.smk): once `snakemake trays` has split them, the sample sheet with their crops
USER_SAMPLES = config["samples"]
TRAY_FILES = TrayLayout()
TRAY_SAMPLES = TRAY_FILES.samples
if config["trays"] and Path(TRAY_SAMPLES).exists():
    config["samples"] = TRAY_SAMPLES
SAMPLES = read_sample_sheet(config["samples"])
validate(SAMPLES, schema="../schemas/samples.schema.yaml")
SPECIES = species_list(SAMPLES)
ENGINE = config["engine"]
# every output path, from the layout table (traitrack.paths): `SPECIES_FILES` holds the
# patterns with the `{species}` wildcard, `layout(species)` one species' paths
SPECIES_FILES = SpeciesLayout("{species}")
POOLED = PooledLayout()
layout = SpeciesLayout
# what every rule that reads masks or label maps needs to know about the parts
STRUCTURES = {"structures": config["structures"], "background": config["background"]}


wildcard_constraints:
    species="|".join(SPECIES),
    shard=SHARD_PATTERN,
    stage="round2|student",


@cache
def members(species):
    """The species' specimens plus the templates it may borrow (config select.template_pool).

    Cached: every input function and `params:` entry of every job of the species asks for it,
    and each computation scans the whole sample sheet.
    """
    return tuple(species_members(SAMPLES, species, config["select"]["template_pool"]))


def species_trays(species):
    """The trays a species' crops were cut from (the sheet's `tray` column, once split)."""
    if "tray" not in SAMPLES.columns:
        return []
    rows = SAMPLES[SAMPLES["species"] == species]
    return sorted({tray for tray in rows["tray"] if tray})


def rows_digest(rows, fields):
    """Fingerprint of the sample-sheet columns `fields` of some rows.

    A `params:` entry instead of the sheet as an input file: editing the rows of one species
    reruns that species only, and only the rules that read the edited columns (a new
    `px_per_mm` reruns `measure`, not the GPU rule `propagate`).
    """
    values = [tuple(getattr(row, field) for field in fields) for row in rows]
    return hashlib.sha256(repr(values).encode()).hexdigest()[:16]


@cache
def sheet_digest(species, fields):
    """The digest of the rows a species' jobs read (cached: many jobs ask)."""
    return rows_digest(members(species), fields)


def sheet_columns(*fields):
    """Input function for `params: sheet=`: the digest of a species' rows in these columns."""
    return lambda wildcards: sheet_digest(wildcards.species, fields)


@cache
def shards(species):
    """The names of a species' `propagate` shards (traitrack.shards): its targets over
    `shard.size`, known from the sample sheet when the DAG is planned."""
    targets = sum(
        1 for m in members(species) if m.species == species and not m.is_template
    )
    return shard_names(shard_count(targets, config["shard"]["size"]))


@cache
def teacher_shards(species):
    """The shards of the teacher's rounds (`propagate`, `pseudo_round`): with
    `self_training.student.bulk` its sample's targets over `shard.size`, else `shards`.
    """
    if not config["self_training"]["student"]["bulk"]:
        return shards(species)
    targets = sum(
        1 for m in members(species) if m.species == species and not m.is_template
    )
    sample = min(targets, config["self_training"]["student"]["bulk_sample"])
    return shard_names(shard_count(sample, config["shard"]["size"]))


def teacher_pseudovideo(wildcards):
    """The pseudo-video of the teacher's rounds: the species' own, or with
    `self_training.student.bulk` the one `bulk_sample` cuts to its sample (bulk.smk)."""
    if config["self_training"]["student"]["bulk"]:
        return layout(wildcards.species).bulk("pseudovideo.json")
    return layout(wildcards.species).pseudovideo


def shard_files(name):
    """Input function of `gather` and `gather_selftrain`: one output (`labels`, `table`) of
    every shard of the species, in shard order: `propagate`'s, or with a `stage` wildcard
    that self-training stage's (`pseudo_round`'s, `predict_student`'s)."""

    def files(wildcards):
        stage = wildcards.get("stage", "")
        gathered = layout(wildcards.species).gathered(stage)
        names = shards if stage == "student" else teacher_shards
        return [
            getattr(gathered.shard(shard), name) for shard in names(wildcards.species)
        ]

    return files


def member_images(wildcards):
    return [m.image for m in members(wildcards.species)]


def member_masks(wildcards):
    return [m.mask for m in members(wildcards.species) if m.mask]


def member_gt_masks(wildcards):
    return [
        m.gt_mask
        for m in members(wildcards.species)
        if m.gt_mask and m.species == wildcards.species
    ]


def has_ground_truth(species):
    return any(
        m.gt_mask and not m.mask for m in members(species) if m.species == species
    )


def resource(rule_name, key, default):
    """A rule's resource from the config's `resources` section, else the default."""
    return config["resources"].get(rule_name, {}).get(key, default)


def scaled(rule_name, key, default):
    """Memory or runtime that grows with the attempt, so a retry after OOM/timeout gets more."""
    base = resource(rule_name, key, default)
    return lambda wildcards, attempt: base * attempt


def describe_runtime(wildcards, attempt):
    """Minutes for `describe`: the configured runtime, or for the weights-free specimen
    descriptor 30 min plus 1 s per image (its GrabCut silhouette measured 0.2-0.35 s per image
    on the shared sets), growing with the attempt like `scaled`."""
    configured = config["resources"].get("describe", {}).get("runtime")
    if configured is None and config["describe"]["method"] == "specimen":
        configured = 30 + math.ceil(len(member_images(wildcards)) / 60)
    return (configured or 30) * attempt


def propagate_threads(rule="propagate"):
    """Threads of `propagate` (or `pseudo_round`, the same driver): `resources.<rule>.threads`,
    else the registration engine's `threads` option, else 2 for SAM 2's torch threads. The
    registration engine runs threads // registration.threads worker processes, so the job uses
    what it reserves.
    """
    if ENGINE == "registration":
        default = config["registration"].get("threads", 1)
    else:
        default = 2
    return resource(rule, "threads", default)


def sam2_checkpoint(wildcards):
    """The configured SAM 2 checkpoint, as an input (so `download_checkpoint` can make it)."""
    path = config["sam2"].get("checkpoint", "")
    return [path] if path else []


def finetuned_weights(wildcards):
    """The species' fine-tuned SAM 2 weights when `finetune.enabled`, else nothing."""
    if config["finetune"]["enabled"]:
        return layout(wildcards.species).finetune("weights.pt")
    return []


def gpus(rule_name, needs_gpu):
    """GPUs of a rule: `resources.<rule>.gpu` from the config, else 1 when it runs SAM 2.

    The executor turns `gpu` into its own request (`--gpus` for SLURM); partitions and
    the `gres` spelling belong to the profile, never to the workflow.
    """
    return resource(rule_name, "gpu", 1 if needs_gpu else 0)


def slurm_partition(rule_name, needs_gpu):
    """The `slurm_partition` resource of the rules that may ask for a GPU. The profile's GPU
    partition (environment variable TRAITRACK_SLURM_GPU_PARTITION, else
    TRAITRACK_SLURM_PARTITION) only when the job asks for a GPU (`gpus`), else the CPU one.

    A profile's resource expressions cannot see a job's other resources, so the profile
    (profiles/slurm) could only send a rule to the GPU partition whatever the engine; the
    names of the partitions stay in the environment the profile documents. Empty when unset:
    SLURM's default partition. Local runs ignore it.
    """
    cpu = os.environ.get("TRAITRACK_SLURM_PARTITION", "")
    if gpus(rule_name, needs_gpu) > 0:
        return os.environ.get("TRAITRACK_SLURM_GPU_PARTITION") or cpu
    return cpu


def final_outputs():
    outputs = [
        POOLED.traits,
        POOLED.evaluation_summary,
        POOLED.report_traits,
        POOLED.report_qc,
        POOLED.report_evaluation,
        POOLED.data_dictionary,
        POOLED.review,
    ]
    for species in SPECIES:
        outputs += [
            layout(species).annotate_next,
            layout(species).overlays,
            final_files(species).coco,
            *comparison_outputs(species),
        ]
    if config["trays"]:
        split_done = config["samples"] == TRAY_SAMPLES
        outputs.append(TRAY_FILES.traits if split_done else TRAY_FILES.table)
    return outputs


# ---- fine-tuning (rule finetune in finetune.smk)

if config["finetune"]["enabled"] and ENGINE != "sam2":
    raise ValueError(
        f"finetune.enabled: true fine-tunes SAM 2, but the config says engine: {ENGINE}; "
        "set engine: sam2 or finetune.enabled: false"
    )


@cache
def finetune_set(species):
    """The specimens a species trains on (cached: every input function of the job asks)."""
    finetune = config["finetune"]
    return training_set(
        SAMPLES, species, finetune["pool"], finetune["allow_gt_targets"]
    )


def finetune_images(wildcards):
    return [m.image for m in finetune_set(wildcards.species).members]


def finetune_masks(wildcards):
    return [m.mask for m in finetune_set(wildcards.species).templates]


def finetune_sheet(wildcards):
    """Digest of the training rows: a new specimen in the pool retrains, other rows do not."""
    fields = ("specimen", "species", "image", "mask", "gt_mask", "genus")
    return rows_digest(finetune_set(wildcards.species).members, fields)


# ---- self-training (rules pseudo_round, train_student, predict_student in selftrain.smk)

SELF_TRAINING = config["self_training"]
PSEUDO_ROUND = SELF_TRAINING["rounds"] > 1
STUDENT = SELF_TRAINING["student"]["enabled"]
SELF_TRAINED_STAGES = self_trained_stages(SELF_TRAINING)
TEACHER_STAGE = teacher_stage(SELF_TRAINING)
FINAL_STAGE = final_stage(SELF_TRAINING)

if SELF_TRAINING["rounds"] > 2:
    raise ValueError(
        f"self_training.rounds: {SELF_TRAINING['rounds']}: the workflow runs at most 2 "
        "propagate rounds (the second with pseudo-templates); set rounds: 1 or 2"
    )


def final_files(species):
    """The species' final labels and tables (traitrack.paths.final_stage): the student's,
    round 2's or the first round's; measure, overlays, annotate_next and tables read them.
    """
    return layout(species).gathered(FINAL_STAGE)


def teacher_file(name):
    """Input function: a file (`labels`, `predictions`, `qc`) of the species' last propagate
    round (traitrack.paths.teacher_stage)."""
    return lambda wildcards: getattr(
        layout(wildcards.species).gathered(TEACHER_STAGE), name
    )


def final_file(name):
    """Input function: a file (`labels`, `predictions`, `qc`) of the species' final labels
    (`final_files`)."""
    return lambda wildcards: getattr(final_files(wildcards.species), name)


def stage_engine(stage):
    """The engine name the tables of a self-training stage carry (`<engine>+pseudo`,
    `<engine>+student`, `<engine>+pseudo+student`), as its stage writes it."""
    name = f"{ENGINE}+pseudo" if PSEUDO_ROUND else ENGINE
    return f"{name}+student" if stage == "student" else name


def comparison_outputs(species):
    """With self-training on, the evaluations of the stages before the final one, beside it
    (the final one is in `results/evaluation.tsv`)."""
    if not SELF_TRAINED_STAGES or not has_ground_truth(species):
        return []
    stages = ["", *SELF_TRAINED_STAGES]
    return [
        layout(species).gathered(stage).evaluation
        for stage in stages
        if stage != FINAL_STAGE
    ]


# ---- retrieval (rule retrieve in review.smk)


def retrieval_species(specimen):
    """The species `retrieve.pool` searches for a query specimen of the sheet."""
    pool = config["retrieve"]["pool"]
    if pool == "all":
        return SPECIES
    if pool == "species":
        return [SAMPLES.loc[specimen, "species"]] if specimen in SAMPLES.index else []
    return [pool] if isinstance(pool, str) else list(pool)


def retrieval_inputs(name):
    """Input function of `retrieve`: a file of the final folder of every pool species."""
    return lambda wildcards: [
        getattr(final_files(species), name)
        for species in retrieval_species(wildcards.specimen)
        if species in SPECIES
    ]
