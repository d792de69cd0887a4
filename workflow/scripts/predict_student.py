"""Rule predict_student: the student predicts the targets of one shard, with the QC."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.propagation import EngineSpec  # noqa: E402
from traitrack.stages.selftrain import run_predict_student  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

run_predict_student(
    snakemake.params.samples,
    snakemake.wildcards.species,
    snakemake.input.weights,
    snakemake.input.qc,
    snakemake.input.teacher_labels,
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
    pool=snakemake.params.pool,
    labels_dir=snakemake.output.labels,
    shard_out=snakemake.output.shard,
    shard=snakemake.wildcards.shard,
)
