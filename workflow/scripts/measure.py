"""Rule measure: trait tables of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.measure import run_measure  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_measure(
    config["samples"],
    snakemake.wildcards.species,
    snakemake.input.labels,
    snakemake.input.predictions,
    StructureTable.from_config(config),
    per_specimen_dir=snakemake.output.per_specimen,
    species_table=snakemake.output.table,
    sheet_columns=config["traits"]["sheet_columns"],
    scale_table=snakemake.input.scale,
    colour_megapixels=config["traits"]["colour_megapixels"],
)
