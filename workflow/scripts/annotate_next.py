"""Rule annotate_next: which unlabelled specimens to annotate first."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.annotate_next import run_annotate_next  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_annotate_next(
    context,
    descriptors=snakemake.input.descriptors,
    qc=snakemake.input.qc,
    out=snakemake.output[0],
)
