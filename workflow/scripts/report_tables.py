"""Rule report_tables: the QC and evaluation tables as HTML pages the report can show."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.plots import write_table_html  # noqa: E402

write_table_html(
    snakemake.input.qc,
    snakemake.output.qc,
    "QC round trip",
    note=(
        "Each species' lowest qc.flag_share by qc_rank (and any below qc.threshold) are "
        "flagged: check them first."
    ),
)
write_table_html(
    [snakemake.input.evaluation],
    snakemake.output.evaluation,
    "Evaluation against ground truth (gt_mask)",
    note="Mean IoU per species and structure; 'all' pools every species.",
)
