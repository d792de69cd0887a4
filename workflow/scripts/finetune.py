"""Rule finetune: palindrome fine-tuning of SAM 2 on one species; resumes a killed run."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.finetune import run_finetune  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_finetune(
    context,
    finetune=config["finetune"],
    sam2=config["sam2"],
    seed=config["seed"],
    weights_out=snakemake.output.weights,
    loss_out=snakemake.output.loss,
    plot_out=snakemake.output.plot,
    threads=snakemake.threads,
)
