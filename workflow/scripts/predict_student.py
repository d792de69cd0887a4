"""Rule predict_student: the student predicts the targets of one shard, with the QC."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.propagation import EngineSpec  # noqa: E402
from traitrack.stages.selftrain import run_predict_student  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

config = snakemake.config  # whole sections: the user's values, defaults filled
run_predict_student(
    config["samples"],
    snakemake.wildcards.species,
    snakemake.input.weights,
    snakemake.input.qc,
    snakemake.input.teacher_labels,
    snakemake.input.pseudovideo,
    structures=StructureTable.from_config(config),
    self_training=config["self_training"],
    engine_spec=EngineSpec.from_config(
        config,
        finetuned_weights=snakemake.input.get("finetuned", ""),
        threads=snakemake.threads,
    ),
    qc=config["qc"],
    pool=config["select"]["template_pool"],
    labels_dir=snakemake.output.labels,
    shard_out=snakemake.output.shard,
    shard=snakemake.wildcards.shard,
)
