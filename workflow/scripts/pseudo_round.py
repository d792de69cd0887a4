"""Rule pseudo_round: a species propagated again with pseudo-templates (self_training.rounds)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.pseudo import run_pseudo_round  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

run_pseudo_round(
    snakemake.params.samples,
    snakemake.wildcards.species,
    snakemake.input.labels,
    snakemake.input.qc,
    snakemake.input.descriptors,
    structures=StructureTable.from_config(snakemake.params.structures),
    self_training=snakemake.params.self_training,
    engine_name=snakemake.params.engine,
    engine_options=snakemake.params.engine_options,
    seed=snakemake.params.seed,
    qc=snakemake.params.qc,
    k=snakemake.params.k,
    chunk_length=snakemake.params.chunk_length,
    pool=snakemake.params.pool,
    labels_out=snakemake.output.labels,
    predictions_out=snakemake.output.predictions,
    qc_out=snakemake.output.qc,
    coco_out=snakemake.output.coco,
    finetuned_weights=snakemake.input.get("finetuned", ""),
    threads=snakemake.threads,
)
