"""Rule measure: trait tables of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.measure import run_measure  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_measure(
    context,
    labels_dir=snakemake.input.labels,
    predictions=snakemake.input.predictions,
    per_specimen_dir=snakemake.output.per_specimen,
    species_table=snakemake.output.table,
    sheet_columns=config["traits"]["sheet_columns"],
    scale_table=snakemake.input.scale,
    colour_megapixels=config["traits"]["colour_megapixels"],
)
