"""Rule propagate: the engine over every chunk of a species, then the QC round trip."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.segment import run_propagate  # noqa: E402

run_propagate(
    snakemake.config["samples"],
    snakemake.wildcards.species,
    snakemake.input.pseudovideo,
    snakemake.config,
    labels_dir=snakemake.output.labels,
    predictions_out=snakemake.output.predictions,
    qc_out=snakemake.output.qc,
    coco_out=snakemake.output.coco,
    finetuned_weights=snakemake.input.get("finetuned", ""),
)
