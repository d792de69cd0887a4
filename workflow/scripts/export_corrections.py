"""Rule export_corrections: a species' flagged predictions as labelme JSON and COCO for CVAT."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.correction import run_export_corrections  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

run_export_corrections(
    snakemake.params.samples,
    snakemake.wildcards.species,
    snakemake.input.labels,
    snakemake.input.qc,
    StructureTable.from_config(snakemake.params.structures),
    snakemake.output[0],
    chosen=snakemake.params.corrections["specimens"],
    which=snakemake.params.corrections["which"],
)
