"""Rule export_corrections: a species' flagged predictions as labelme JSON and COCO for CVAT."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.correction import run_export_corrections  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_export_corrections(
    context,
    labels_dir=snakemake.input.labels,
    qc=snakemake.input.qc,
    out_dir=snakemake.output[0],
    chosen=config["corrections"]["specimens"],
    which=config["corrections"]["which"],
)
