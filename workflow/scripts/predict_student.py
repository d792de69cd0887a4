"""Rule predict_student: the student predicts the targets of one shard, with the QC."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.propagation import EngineSpec  # noqa: E402
from traitrack.species_context import SpeciesContext  # noqa: E402
from traitrack.stages.selftrain import run_predict_student  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
context = SpeciesContext.from_config(config, snakemake.wildcards.species)
run_predict_student(
    context,
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
