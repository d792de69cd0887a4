"""Rule propagate: the engine over every chunk of a species, then the QC round trip."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.propagate import run_propagate  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

run_propagate(
    snakemake.params.samples,
    snakemake.wildcards.species,
    snakemake.input.pseudovideo,
    structures=StructureTable.from_config(snakemake.params.structures),
    engine_name=snakemake.params.engine,
    engine_options=snakemake.params.engine_options,
    seed=snakemake.params.seed,
    qc=snakemake.params.qc,
    labels_dir=snakemake.output.labels,
    predictions_out=snakemake.output.predictions,
    qc_out=snakemake.output.qc,
    coco_out=snakemake.output.coco,
    finetuned_weights=snakemake.input.get("finetuned", ""),
    threads=snakemake.threads,
)
