"""Rule pseudo_round: one shard of a species propagated again with pseudo-templates."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.propagation import EngineSpec  # noqa: E402
from traitrack.stages.pseudo import run_pseudo_round  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_pseudo_round(
    config["samples"],
    snakemake.wildcards.species,
    snakemake.input.labels,
    snakemake.input.qc,
    snakemake.input.descriptors,
    snakemake.input.pseudovideo,
    structures=StructureTable.from_config(config),
    self_training=config["self_training"],
    engine_spec=EngineSpec.from_config(
        config,
        finetuned_weights=snakemake.input.get("finetuned", ""),
        threads=snakemake.threads,
    ),
    qc=config["qc"],
    k=config["select"]["k"],
    chunk_length=config["order"]["chunk_length"],
    pool=config["select"]["template_pool"],
    labels_out=snakemake.output.labels,
    shard_out=snakemake.output.shard,
    shard=snakemake.wildcards.shard,
    first_shard=snakemake.input.first_shard,
)
