"""Rule calibrate: every specimen's pixel size and where it came from."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.calibrate import run_calibrate  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_calibrate(
    config["samples"],
    snakemake.wildcards.species,
    snakemake.output.table,
    snakemake.output.overlays,
    dict(config["calibrate"]),
    tray_dirs=list(snakemake.input.trays),
)
