"""Rule select: the k nearest templates of every target."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.prepare import run_select  # noqa: E402

run_select(
    snakemake.input.samples,
    snakemake.wildcards.species,
    snakemake.input.descriptors,
    snakemake.output[0],
    k=snakemake.params.k,
    pool=snakemake.params.pool,
)
