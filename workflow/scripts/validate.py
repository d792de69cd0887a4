"""Rules validate and validate_ground_truth: every problem of a species' inputs, before any
heavy job."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.validate import ValidationError, run_validate  # noqa: E402

try:
    config = snakemake.config  # whole sections: the user's values, defaults filled
    ground_truth = snakemake.params.ground_truth  # which rule: gt_mask files or the rest
    run_validate(
        SpeciesContext.from_config(config, snakemake.wildcards.species),
        out=snakemake.output[0],
        max_megapixels=0 if ground_truth else config["limits"]["max_megapixels"],
        ground_truth=ground_truth,
    )
except ValidationError as error:
    # on Snakemake's own output too, not only in the log: every problem where the user looks
    print(error, flush=True)
    raise
