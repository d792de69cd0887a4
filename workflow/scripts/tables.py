"""Rules tables and evaluation_tables: all-species trait and evaluation tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.report import run_tables  # noqa: E402

# rule tables writes the traits, rule evaluation_tables the evaluation
run_tables(
    getattr(snakemake.input, "traits", []),
    getattr(snakemake.input, "evaluations", []),
    traits_out=getattr(snakemake.output, "traits", None),
    evaluation_out=getattr(snakemake.output, "evaluation", None),
    summary_out=getattr(snakemake.output, "summary", None),
)
