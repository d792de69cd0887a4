# Self-training from a species' unlabelled specimens (config `self_training`, off by default).
# `pseudo_round` (rounds: 2) propagates the species again with the first round's best targets
# by qc_rank as extra templates (a shard where no target receives one copies the first round's); `train_student` trains a small network on the templates'
# masks and the last round's labels of the targets, weighted by the QC, and `predict_student`
# lets it predict every target, with the teacher engine's QC round trip. `pseudo_round` and
# `predict_student` run per shard, as `propagate` does, and `gather_selftrain` joins a stage's
# shards into what `gather` writes, in results/{species}/round2 and results/{species}/student;
# `final_files` (common.smk) says which one measure, evaluate, overlays and annotate_next read.
# Their shards list no images, as `propagate`'s (propagate.smk says why); the `image` column is
# in their sheet digests.


rule pseudo_round:
    input:
        labels=SPECIES_FILES.gathered().labels,
        qc=SPECIES_FILES.gathered().qc,
        descriptors=SPECIES_FILES.descriptors,
        pseudovideo=teacher_pseudovideo,
        first_shard=SPECIES_FILES.gathered().shard("{shard}").table,
        masks=member_masks,
        checkpoint=sam2_checkpoint if ENGINE == "sam2" else [],
        finetuned=finetuned_weights,
    output:
        labels=directory(SPECIES_FILES.gathered("round2").shard("{shard}").labels),
        shard=SPECIES_FILES.gathered("round2").shard("{shard}").table,
    log:
        log_path("pseudo_round", "{species}", "{shard}"),
    benchmark:
        benchmark_path("pseudo_round", "{species}", "{shard}")
    conda:
        "../../envs/sam2.yaml" if ENGINE == "sam2" else "../../envs/traitrack.yaml"
    threads: propagate_threads("pseudo_round")
    resources:
        mem_mb=scaled("pseudo_round", "mem_mb", 8000),
        runtime=scaled("pseudo_round", "runtime", 240),
        gpu=gpus("pseudo_round", ENGINE == "sam2"),
        slurm_partition=slurm_partition("pseudo_round", ENGINE == "sam2"),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "gt_mask", "genus"),
        settings=settings_digest("pseudo_round", config),
    script:
        "../scripts/pseudo_round.py"


# A GPU job under SLURM that also runs on the CPU. A killed job is retried (or rerun with
# --rerun-incomplete) from results/{species}/student/state.pt, saved after every epoch: not an
# output, so Snakemake leaves it in place; deleted when the job finishes.
rule train_student:
    input:
        labels=teacher_file("labels"),
        predictions=teacher_file("predictions"),
        qc=teacher_file("qc"),
        images=member_images,
        masks=member_masks,
    output:
        weights=SPECIES_FILES.student("weights.pt"),
        losses=SPECIES_FILES.student("losses.tsv"),
        plot=SPECIES_FILES.student("losses.png"),
        training=SPECIES_FILES.student("training.tsv"),
    log:
        log_path("train_student", "{species}"),
    benchmark:
        benchmark_path("train_student", "{species}")
    conda:
        "../../envs/sam2.yaml"
    threads: resource("train_student", "threads", 2)
    resources:
        mem_mb=scaled("train_student", "mem_mb", 8000),
        runtime=scaled("train_student", "runtime", 120),
        gpu=gpus("train_student", True),
        slurm_partition=slurm_partition("train_student", True),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "gt_mask", "genus"),
        state=SPECIES_FILES.student("state.pt"),
        settings=settings_digest("train_student", config),
    script:
        "../scripts/train_student.py"


rule predict_student:
    input:
        weights=SPECIES_FILES.student("weights.pt"),
        qc=teacher_file("qc"),
        teacher_labels=teacher_file("labels"),
        pseudovideo=SPECIES_FILES.pseudovideo,
        masks=member_masks,
        checkpoint=sam2_checkpoint if ENGINE == "sam2" else [],
        finetuned=finetuned_weights,
    output:
        labels=directory(SPECIES_FILES.gathered("student").shard("{shard}").labels),
        shard=SPECIES_FILES.gathered("student").shard("{shard}").table,
    log:
        log_path("predict_student", "{species}", "{shard}"),
    benchmark:
        benchmark_path("predict_student", "{species}", "{shard}")
    conda:
        "../../envs/sam2.yaml"
    threads: resource("predict_student", "threads", 2)
    resources:
        mem_mb=scaled("predict_student", "mem_mb", 8000),
        runtime=scaled("predict_student", "runtime", 120),
        gpu=gpus("predict_student", ENGINE == "sam2"),
        slurm_partition=slurm_partition("predict_student", ENGINE == "sam2"),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "genus"),
        settings=settings_digest("predict_student", config),
    script:
        "../scripts/predict_student.py"


# A self-training stage's shards joined as `gather` joins propagate's: the QC's ranks and flags
# over the whole species, the tables byte for byte those of one job over every target.
use rule gather as gather_selftrain with:
    output:
        labels=directory(SPECIES_FILES.gathered("{stage}").labels),
        predictions=SPECIES_FILES.gathered("{stage}").predictions,
        qc=SPECIES_FILES.gathered("{stage}").qc,
        coco=SPECIES_FILES.gathered("{stage}").coco,
    log:
        log_path("gather", "{species}.{stage}"),
    benchmark:
        benchmark_path("gather", "{species}.{stage}")


# The evaluation of a self-training stage's labels, beside them; `tables` pools the final
# stage's, and with self-training on rule all also asks for the earlier stages' (the teacher's
# is rule evaluate's results/{species}/evaluation.tsv) to compare.
rule evaluate_selftrain:
    input:
        labels=SPECIES_FILES.gathered("{stage}").labels,
        gt=member_gt_masks,
        validation=SPECIES_FILES.ground_truth_validation,
    output:
        SPECIES_FILES.gathered("{stage}").evaluation,
    log:
        log_path("evaluate", "{species}.{stage}"),
    benchmark:
        benchmark_path("evaluate", "{species}.{stage}")
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("evaluate", "threads", 1)
    resources:
        mem_mb=scaled("evaluate", "mem_mb", 2000),
        runtime=scaled("evaluate", "runtime", 30),
    params:
        sheet=sheet_columns("specimen", "mask", "gt_mask"),
        engine=lambda wildcards: stage_engine(wildcards.stage),
        settings=settings_digest("evaluate_selftrain", config),
    script:
        "../scripts/evaluate.py"
