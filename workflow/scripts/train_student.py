"""Rule train_student: the student network of one species; resumes a killed run."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.selftrain import run_train_student  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_train_student(
    context,
    labels_dir=snakemake.input.labels,
    predictions=snakemake.input.predictions,
    qc_table=snakemake.input.qc,
    self_training=config["self_training"],
    seed=config["seed"],
    weights_out=snakemake.output.weights,
    losses_out=snakemake.output.losses,
    plot_out=snakemake.output.plot,
    training_out=snakemake.output.training,
    state_path=snakemake.params.state,
    threads=snakemake.threads,
)
