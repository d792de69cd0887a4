"""Rule propagate: the engine over one shard of a species' chunks, then the QC round trip.

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
    from traitrack.stages.propagate import run_propagate

    config = snakemake.config  # whole sections: the user's values, defaults filled
    run_propagate(
        SpeciesContext.from_config(config, snakemake.wildcards.species),
        pseudovideo=snakemake.input.pseudovideo,
        engine_spec=EngineSpec.from_config(
            config,
            finetuned_weights=snakemake.input.get("finetuned", ""),
            threads=snakemake.threads,
        ),
        qc=config["qc"],
        labels_dir=snakemake.output.labels,
        shard_out=snakemake.output.shard,
        shard=snakemake.wildcards.shard,
    )
