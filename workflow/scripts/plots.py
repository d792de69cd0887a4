"""Rule plots: trait distributions per species, one figure per structure, for the report."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.report import run_plots  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_plots(snakemake.input[0], snakemake.output[0], seed=config["seed"])
