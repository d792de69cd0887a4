"""Rule pseudo_round: one shard of a species propagated again with pseudo-templates."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.propagation import EngineSpec  # noqa: E402
from traitrack.stages.pseudo import run_pseudo_round  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

run_pseudo_round(
    snakemake.params.samples,
    snakemake.wildcards.species,
    snakemake.input.labels,
    snakemake.input.qc,
    snakemake.input.descriptors,
    snakemake.input.pseudovideo,
    structures=StructureTable.from_config(snakemake.params.structures),
    self_training=snakemake.params.self_training,
    engine_spec=EngineSpec(
        snakemake.params.engine,
        snakemake.params.engine_options,
        snakemake.params.seed,
        snakemake.input.get("finetuned", ""),
        snakemake.threads,
    ),
    qc=snakemake.params.qc,
    k=snakemake.params.k,
    chunk_length=snakemake.params.chunk_length,
    pool=snakemake.params.pool,
    labels_out=snakemake.output.labels,
    shard_out=snakemake.output.shard,
    shard=snakemake.wildcards.shard,
    first_shard=snakemake.input.first_shard,
)
