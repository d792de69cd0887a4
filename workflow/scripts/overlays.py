"""Rule overlays: overlay PNGs of a species."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.report import run_overlays  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_overlays(
    config["samples"],
    snakemake.wildcards.species,
    snakemake.input.labels,
    StructureTable.from_config(config),
    snakemake.output[0],
    working_megapixels=config["limits"]["working_megapixels"],
)
