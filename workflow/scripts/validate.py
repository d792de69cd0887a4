"""Rules validate and validate_ground_truth: every problem of a species' inputs, before any
heavy job."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.validate import ValidationError, run_validate  # noqa: E402

try:
    run_validate(
        snakemake.input.samples,
        snakemake.wildcards.species,
        snakemake.params.structures,
        snakemake.output[0],
        pool=snakemake.params.pool,
        max_megapixels=snakemake.params.max_megapixels,
        ground_truth=snakemake.params.ground_truth,
    )
except ValidationError as error:
    # on Snakemake's own output too, not only in the log: every problem where the user looks
    print(error, flush=True)
    raise
