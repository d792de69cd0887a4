"""Rules gather and gather_selftrain: a species' shards (propagate's, or a self-training
stage's) joined into its labels, tables and COCO file."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.propagate import run_gather  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_gather(
    context,
    shards=snakemake.input.shards,
    shard_labels=snakemake.input.labels,
    qc=config["qc"],
    labels_dir=snakemake.output.labels,
    predictions_out=snakemake.output.predictions,
    qc_out=snakemake.output.qc,
    coco_out=snakemake.output.coco,
)
