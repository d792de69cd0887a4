"""Rule finetune: palindrome fine-tuning of SAM 2 on one species; resumes a killed run."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.palindrome import run_finetune  # noqa: E402

run_finetune(
    snakemake.config["samples"],
    snakemake.wildcards.species,
    snakemake.config,
    weights_out=snakemake.output.weights,
    loss_out=snakemake.output.loss,
    plot_out=snakemake.output.plot,
    threads=snakemake.threads,
)
