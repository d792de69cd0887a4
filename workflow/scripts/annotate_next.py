"""Rule annotate_next: which unlabelled specimens to annotate first."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.annotate_next import run_annotate_next  # noqa: E402

run_annotate_next(
    snakemake.input.samples,
    snakemake.wildcards.species,
    snakemake.input.descriptors,
    snakemake.input.qc,
    snakemake.output[0],
)
