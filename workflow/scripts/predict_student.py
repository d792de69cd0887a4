"""Rule predict_student: the student predicts every target of a species, with the QC."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")
from traitrack.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
from traitrack.stages.selftrain import run_predict_student  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

run_predict_student(
    snakemake.params.samples,
    snakemake.wildcards.species,
    snakemake.input.weights,
    snakemake.input.qc,
    snakemake.input.teacher_labels,
    structures=StructureTable.from_config(snakemake.params.structures),
    self_training=snakemake.params.self_training,
    engine_name=snakemake.params.engine,
    engine_options=snakemake.params.engine_options,
    seed=snakemake.params.seed,
    qc=snakemake.params.qc,
    pool=snakemake.params.pool,
    labels_dir=snakemake.output.labels,
    predictions_out=snakemake.output.predictions,
    qc_out=snakemake.output.qc,
    coco_out=snakemake.output.coco,
    finetuned_weights=snakemake.input.get("finetuned", ""),
    threads=snakemake.threads,
)
