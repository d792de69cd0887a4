"""Rule tray_table: the tray table and the sample sheet with the trays' crops."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.trays import run_tray_table  # noqa: E402

run_tray_table(
    snakemake.input.samples,
    list(snakemake.input.trays),
    snakemake.output.table,
    snakemake.output.samples,
    crops_table=snakemake.output.crops,
    species_sheet=snakemake.input.species or None,
)
