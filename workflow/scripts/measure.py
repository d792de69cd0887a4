"""Rule measure: trait tables of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.measure import run_measure  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

run_measure(
    snakemake.params.samples,
    snakemake.wildcards.species,
    snakemake.input.labels,
    snakemake.input.predictions,
    StructureTable.from_config(snakemake.params.structures),
    per_specimen_dir=snakemake.output.per_specimen,
    species_table=snakemake.output.table,
    scale_table=snakemake.input.scale,
)
