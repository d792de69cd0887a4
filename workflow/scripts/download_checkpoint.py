"""Rule download_checkpoint: fetch the official SAM 2.1 checkpoint and verify it strictly."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.checkpoint import run_download_checkpoint  # noqa: E402

run_download_checkpoint(snakemake.wildcards.size, snakemake.output[0])
