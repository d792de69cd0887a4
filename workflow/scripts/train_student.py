"""Rule train_student: the student network of one species; resumes a killed run."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.selftrain import run_train_student  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_train_student(
    config["samples"],
    snakemake.wildcards.species,
    snakemake.input.labels,
    snakemake.input.predictions,
    snakemake.input.qc,
    structures=StructureTable.from_config(config),
    self_training=config["self_training"],
    seed=config["seed"],
    pool=config["select"]["template_pool"],
    weights_out=snakemake.output.weights,
    losses_out=snakemake.output.losses,
    plot_out=snakemake.output.plot,
    training_out=snakemake.output.training,
    state_path=snakemake.params.state,
    threads=snakemake.threads,
)
