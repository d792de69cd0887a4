"""Rule describe: image descriptors of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.prepare import run_describe  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_describe(
    context,
    out=snakemake.output[0],
    method=config["describe"]["method"],
    thumbnail_size=config["describe"]["thumbnail_size"],
    seed=config["seed"],
    registration=config["registration"],
    sam2=config["sam2"],
)
