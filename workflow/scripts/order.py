"""Rule order: pseudo-video chunks of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.prepare import run_order  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_order(
    SpeciesContext.from_config(config, snakemake.wildcards.species),
    selection=snakemake.input.selection,
    descriptors=snakemake.input.descriptors,
    out=snakemake.output[0],
    mode=config["order"]["mode"],
    chunk_length=config["order"]["chunk_length"],
)
