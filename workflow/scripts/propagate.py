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
    from traitrack.stages.propagate import run_propagate
    from traitrack.structures import StructureTable

    run_propagate(
        snakemake.params.samples,
        snakemake.wildcards.species,
        snakemake.input.pseudovideo,
        structures=StructureTable.from_config(snakemake.params.structures),
        engine_spec=EngineSpec(
            snakemake.params.engine,
            snakemake.params.engine_options,
            snakemake.params.seed,
            snakemake.input.get("finetuned", ""),
            snakemake.threads,
            snakemake.params.working_megapixels,
        ),
        qc=snakemake.params.qc,
        labels_dir=snakemake.output.labels,
        shard_out=snakemake.output.shard,
        shard=snakemake.wildcards.shard,
    )
