"""Rule split: one tray into specimen instances, crops and generated sample rows."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.trays import run_split  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_split(config["trays"], snakemake.wildcards.tray, snakemake.output[0], dict(config["split"]))
