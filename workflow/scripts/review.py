"""Rule review: every species' targets, flagged first, by qc_rank, with their overlays."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.review import run_review  # noqa: E402

run_review(
    snakemake.params.species_names,
    snakemake.input.qc,
    snakemake.input.annotate_next,
    snakemake.input.overlays,
    snakemake.output[0],
)
