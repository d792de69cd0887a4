"""Rule bulk_sample: the targets the teacher labels when the student is the engine."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.bulk import run_bulk_sample  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_bulk_sample(
    SpeciesContext.from_config(config, snakemake.wildcards.species),
    descriptors=snakemake.input.descriptors,
    pseudovideo=snakemake.input.pseudovideo,
    size=config["self_training"]["student"]["bulk_sample"],
    sample_out=snakemake.output.sample,
    pseudovideo_out=snakemake.output.pseudovideo,
)
