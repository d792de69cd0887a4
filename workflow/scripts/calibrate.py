"""Rule calibrate: every specimen's pixel size and where it came from."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.calibrate import run_calibrate  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_calibrate(
    context,
    scale_table=snakemake.output.table,
    overlay_dir=snakemake.output.overlays,
    options=dict(config["calibrate"]),
    tray_dirs=list(snakemake.input.trays),
)
