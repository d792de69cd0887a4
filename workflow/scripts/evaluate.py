"""Rule evaluate: IoU against gt_mask for the targets of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.evaluate import run_evaluate  # noqa: E402
from traitrack.stages.validate import require_valid  # noqa: E402

require_valid(snakemake.input.validation, snakemake.wildcards.species)
config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_evaluate(
    context,
    labels_dir=snakemake.input.labels,
    engine=snakemake.params.engine,
    out=snakemake.output[0],
    # bulk: the first round labelled only the teacher's sample
    labelled_only=config["self_training"]["student"]["bulk"],
)
