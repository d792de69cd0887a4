"""Rule describe: image descriptors of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.prepare import run_describe  # noqa: E402

run_describe(
    snakemake.params.samples,
    snakemake.wildcards.species,
    snakemake.output[0],
    method=snakemake.params.method,
    thumbnail_size=snakemake.params.thumbnail_size,
    pool=snakemake.params.pool,
    seed=snakemake.params.seed,
    registration=snakemake.params.registration,
    sam2=snakemake.params.sam2,
    working_megapixels=snakemake.params.working_megapixels,
)
