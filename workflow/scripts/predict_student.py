"""Rule predict_student: the student predicts the targets of one shard, with the QC.

Guarded by ``__main__``: the teacher's round trips may run in spawned worker processes, and a
spawned process imports this script again (as ``__mp_main__``), which must not start the job
again.
"""

import sys

if __name__ == "__main__":
    sys.path.insert(0, f"{snakemake.scriptdir}/..")
    from traitrack.logs import log_to

    log_to(snakemake.log[0])
    from traitrack.propagation import EngineSpec
    from traitrack.species_context import SpeciesContext
    from traitrack.stages.selftrain import run_predict_student

    config = snakemake.config  # whole sections: the user's values, defaults filled
    run_predict_student(
        SpeciesContext.from_config(config, snakemake.wildcards.species),
        weights=snakemake.input.weights,
        teacher_qc=snakemake.input.qc,
        teacher_labels=snakemake.input.teacher_labels,
        pseudovideo=snakemake.input.pseudovideo,
        self_training=config["self_training"],
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
