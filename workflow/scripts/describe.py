"""Rule describe: image descriptors of a species (thin adapter over traitrack)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.prepare import run_describe  # noqa: E402

run_describe(snakemake.config["samples"], snakemake.wildcards.species, snakemake.output[0], snakemake.config)
