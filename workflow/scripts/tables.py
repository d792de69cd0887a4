"""Rule tables: all-species trait and evaluation tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.report import run_tables  # noqa: E402

run_tables(
    snakemake.input.traits,
    snakemake.input.evaluations,
    traits_out=snakemake.output.traits,
    evaluation_out=snakemake.output.evaluation,
    summary_out=snakemake.output.summary,
)
