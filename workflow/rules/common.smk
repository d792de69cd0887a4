import hashlib
import math
import sys
from functools import cache
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))
from traitrack.samples import read_sample_sheet, species_list  # noqa: E402
from traitrack.stages.prepare import species_members  # noqa: E402
from traitrack.palindrome_data import training_set  # noqa: E402

validate(config, schema="../schemas/config.schema.yaml", set_default=True)

SAMPLES = read_sample_sheet(config["samples"])
validate(SAMPLES, schema="../schemas/samples.schema.yaml")
SPECIES = species_list(SAMPLES)
ENGINE = config["engine"]
CONFIG_SCHEMA_DIR = Path(workflow.basedir) / "workflow" / "schemas"


wildcard_constraints:
    species="|".join(SPECIES),


@cache
def members(species):
    """The species' specimens plus the templates it may borrow (config select.template_pool).

    Cached: every input function and `params:` entry of every job of the species asks for it,
    and each computation scans the whole sample sheet.
    """
    return tuple(species_members(SAMPLES, species, config["select"]["template_pool"]))


@cache
def sheet_digest(species, fields):
    """Fingerprint of the sample-sheet columns `fields` of the rows a species' jobs read.

    A `params:` entry instead of the sheet as an input file: editing the rows of one species
    reruns that species only, and only the rules that read the edited columns (a new
    `px_per_mm` reruns `measure`, not the GPU rule `propagate`).
    """
    rows = [tuple(getattr(m, field) for field in fields) for m in members(species)]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def sheet_columns(*fields):
    """Input function for `params: sheet=`: the digest of a species' rows in these columns."""
    return lambda wildcards: sheet_digest(wildcards.species, fields)


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


def sam2_checkpoint(wildcards):
    """The configured SAM 2 checkpoint, as an input (so `download_checkpoint` can make it)."""
    path = config["sam2"].get("checkpoint", "")
    return [path] if path else []


def finetuned_weights(wildcards):
    """The species' fine-tuned SAM 2 weights when `finetune.enabled`, else nothing."""
    if config["finetune"]["enabled"]:
        return f"results/{wildcards.species}/finetune/weights.pt"
    return []


def gpus(rule_name, needs_gpu):
    """GPUs of a rule: `resources.<rule>.gpu` from the config, else 1 when it runs SAM 2.

    The executor turns `gpu` into its own request (`--gpus` for SLURM); partitions and
    the `gres` spelling belong to the profile, never to the workflow.
    """
    return resource(rule_name, "gpu", 1 if needs_gpu else 0)


def final_outputs():
    outputs = [
        "results/traits.csv",
        "results/evaluation_summary.tsv",
        "results/report/traits",
        "results/report/qc.html",
        "results/report/evaluation.html",
    ]
    for species in SPECIES:
        outputs += [
            f"results/{species}/annotate_next.tsv",
            f"results/{species}/overlays",
            f"results/{species}/masks.coco.json",
        ]
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
    rows = [
        tuple(getattr(m, f) for f in fields)
        for m in finetune_set(wildcards.species).members
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def finetune_settings(wildcards):
    """What the weights depend on besides the files: changing any of it retrains."""
    sam2 = {k: v for k, v in config["sam2"].items() if k != "finetuned_weights"}
    return repr(
        (
            config["finetune"],
            sam2,
            config["seed"],
            config["structures"],
            config["background"],
        )
    )
