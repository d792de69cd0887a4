"""Rule pseudo_round: one shard of a species propagated again with pseudo-templates.

Guarded by ``__main__``: the registration engine's worker processes are spawned, and a spawned
process imports this script again (as ``__mp_main__``), which must not start the job again.
"""

import sys

if __name__ == "__main__":
    sys.path.insert(0, f"{snakemake.scriptdir}/..")
    from traitrack.logs import log_to

    log_to(snakemake.log[0])
    from traitrack.propagation import EngineSpec
    from traitrack.species_context import SpeciesContext
    from traitrack.stages.pseudo import run_pseudo_round

    config = snakemake.config  # whole sections: the user's values, defaults filled
    run_pseudo_round(
        SpeciesContext.from_config(config, snakemake.wildcards.species),
        labels_dir=snakemake.input.labels,
        qc_table=snakemake.input.qc,
        descriptors=snakemake.input.descriptors,
        pseudovideo=snakemake.input.pseudovideo,
        self_training=config["self_training"],
        engine_spec=EngineSpec.from_config(
            config,
            finetuned_weights=snakemake.input.get("finetuned", ""),
            threads=snakemake.threads,
        ),
        qc=config["qc"],
        k=config["select"]["k"],
        chunk_length=config["order"]["chunk_length"],
        labels_out=snakemake.output.labels,
        shard_out=snakemake.output.shard,
        shard=snakemake.wildcards.shard,
        first_shard=snakemake.input.first_shard,
    )
