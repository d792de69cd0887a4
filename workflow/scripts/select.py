"""Rule select: the k nearest templates of every target."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.prepare import run_select  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_select(
    context,
    descriptors=snakemake.input.descriptors,
    out=snakemake.output[0],
    k=config["select"]["k"],
)
