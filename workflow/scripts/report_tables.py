"""Rule report_tables: the QC and evaluation tables as HTML pages the report can show."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.report import run_report_tables  # noqa: E402

run_report_tables(
    snakemake.input.qc,
    snakemake.input.evaluation,
    qc_out=snakemake.output.qc,
    evaluation_out=snakemake.output.evaluation,
)
