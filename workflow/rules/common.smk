import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))
from traitrack.samples import read_sample_sheet, species_list  # noqa: E402
from traitrack.stages.prepare import species_members  # noqa: E402

validate(config, schema="../schemas/config.schema.yaml", set_default=True)

SAMPLES = read_sample_sheet(config["samples"])
validate(SAMPLES, schema="../schemas/samples.schema.yaml")
SPECIES = species_list(SAMPLES)
ENGINE = config["engine"]
CONFIG_SCHEMA_DIR = Path(workflow.basedir) / "workflow" / "schemas"


wildcard_constraints:
    species="|".join(SPECIES),


def members(species):
    """The species' specimens plus the templates it may borrow (config select.template_pool)."""
    return species_members(SAMPLES, species, config["select"]["template_pool"])


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


def final_outputs():
    outputs = ["results/traits.csv", "results/evaluation_summary.tsv"]
    for species in SPECIES:
        outputs += [
            f"results/{species}/annotate_next.tsv",
            f"results/{species}/overlays",
            f"results/{species}/masks.coco.json",
        ]
    return outputs
