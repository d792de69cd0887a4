"""Rule order: pseudo-video chunks of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.prepare import run_order  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_order(
    snakemake.wildcards.species,
    snakemake.input.selection,
    snakemake.input.descriptors,
    snakemake.output[0],
    mode=config["order"]["mode"],
    chunk_length=config["order"]["chunk_length"],
)
