"""Rule download_checkpoint: fetch the official SAM 2.1 checkpoint and verify it strictly."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.engines.sam2_model import checkpoint_url, download_and_verify  # noqa: E402

size = snakemake.wildcards.size
download_and_verify(checkpoint_url(size), snakemake.output[0], size)
