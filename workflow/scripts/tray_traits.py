"""Rule tray_traits: each tray's specimens' traits with their tray, number and box."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.trays import run_tray_traits  # noqa: E402

run_tray_traits(snakemake.input.traits, snakemake.input.samples, snakemake.output[0])
