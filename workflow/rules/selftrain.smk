# Self-training from a species' unlabelled specimens (config `self_training`, off by default).
# `pseudo_round` (rounds: 2) propagates the species again with the first round's best targets
# by qc_rank as extra templates; `train_student` trains a small network on the templates'
# masks and the last round's labels of the targets, weighted by the QC, and `predict_student`
# lets it predict every target, with the teacher engine's QC round trip. `pseudo_round` and
# `predict_student` run per shard, as `propagate` does, and `gather_selftrain` joins a stage's
# shards into what `gather` writes, in results/{species}/round2 and results/{species}/student;
# `final_dir` (common.smk) says which one measure, evaluate, overlays and annotate_next read.
# Their shards list no images, as `propagate`'s (propagate.smk says why); the `image` column is
# in their sheet digests.


rule pseudo_round:
    input:
        labels="results/{species}/labels",
        qc="results/{species}/qc.tsv",
        descriptors="results/{species}/descriptors.npz",
        pseudovideo="results/{species}/pseudovideo.json",
        masks=member_masks,
        checkpoint=sam2_checkpoint if ENGINE == "sam2" else [],
        finetuned=finetuned_weights,
    output:
        labels=directory("results/{species}/round2/shards/{shard}/labels"),
        shard="results/{species}/round2/shards/{shard}/shard.json",
    log:
        "logs/pseudo_round/{species}/{shard}.log",
    benchmark:
        "results/benchmarks/pseudo_round/{species}/{shard}.tsv"
    conda:
        "../../envs/sam2.yaml" if ENGINE == "sam2" else "../../envs/traitrack.yaml"
    threads: resource("pseudo_round", "threads", 2 if ENGINE == "sam2" else 1)
    resources:
        mem_mb=scaled("pseudo_round", "mem_mb", 8000),
        runtime=scaled("pseudo_round", "runtime", 240),
        gpu=gpus("pseudo_round", ENGINE == "sam2"),
        slurm_partition=slurm_partition("pseudo_round", ENGINE == "sam2"),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "gt_mask", "genus"),
        samples=config["samples"],
        structures=STRUCTURES,
        self_training=pseudo_round_settings(),
        engine=ENGINE,
        engine_options=config[ENGINE],
        seed=config["seed"],
        qc=config["qc"],
        k=config["select"]["k"],
        chunk_length=config["order"]["chunk_length"],
        pool=config["select"]["template_pool"],
    script:
        "../scripts/pseudo_round.py"


# A GPU job under SLURM that also runs on the CPU. A killed job is retried (or rerun with
# --rerun-incomplete) from results/{species}/student/state.pt, saved after every epoch: not an
# output, so Snakemake leaves it in place; deleted when the job finishes.
rule train_student:
    input:
        labels=teacher_file("labels"),
        predictions=teacher_file("predictions.tsv"),
        qc=teacher_file("qc.tsv"),
        images=member_images,
        masks=member_masks,
    output:
        weights="results/{species}/student/weights.pt",
        losses="results/{species}/student/losses.tsv",
        plot="results/{species}/student/losses.png",
        training="results/{species}/student/training.tsv",
    log:
        "logs/train_student/{species}.log",
    benchmark:
        "results/benchmarks/train_student/{species}.tsv"
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
        samples=config["samples"],
        structures=STRUCTURES,
        self_training=student_settings(),
        seed=config["seed"],
        pool=config["select"]["template_pool"],
        state="results/{species}/student/state.pt",
    script:
        "../scripts/train_student.py"


rule predict_student:
    input:
        weights="results/{species}/student/weights.pt",
        qc=teacher_file("qc.tsv"),
        teacher_labels=teacher_file("labels"),
        pseudovideo="results/{species}/pseudovideo.json",
        masks=member_masks,
        checkpoint=sam2_checkpoint if ENGINE == "sam2" else [],
        finetuned=finetuned_weights,
    output:
        labels=directory("results/{species}/student/shards/{shard}/labels"),
        shard="results/{species}/student/shards/{shard}/shard.json",
    log:
        "logs/predict_student/{species}/{shard}.log",
    benchmark:
        "results/benchmarks/predict_student/{species}/{shard}.tsv"
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
        samples=config["samples"],
        structures=STRUCTURES,
        self_training={"student": SELF_TRAINING["student"]},
        engine=ENGINE,
        engine_options=config[ENGINE],
        seed=config["seed"],
        qc=config["qc"],
        pool=config["select"]["template_pool"],
    script:
        "../scripts/predict_student.py"


# A self-training stage's shards joined as `gather` joins propagate's: the QC's ranks and flags
# over the whole species, the tables byte for byte those of one job over every target.
use rule gather as gather_selftrain with:
    output:
        labels=directory("results/{species}/{stage}/labels"),
        predictions="results/{species}/{stage}/predictions.tsv",
        qc="results/{species}/{stage}/qc.tsv",
        coco="results/{species}/{stage}/masks.coco.json",
    log:
        "logs/gather/{species}.{stage}.log",
    benchmark:
        "results/benchmarks/gather/{species}.{stage}.tsv"


# The evaluation of a self-training stage's labels, beside them; `tables` pools the final
# stage's, and with self-training on rule all also asks for the earlier stages' (the teacher's
# is rule evaluate's results/{species}/evaluation.tsv) to compare.
rule evaluate_selftrain:
    input:
        labels="results/{species}/{stage}/labels",
        gt=member_gt_masks,
        validation="results/{species}/ground_truth_validation.tsv",
    output:
        "results/{species}/{stage}/evaluation.tsv",
    log:
        "logs/evaluate/{species}.{stage}.log",
    benchmark:
        "results/benchmarks/evaluate/{species}.{stage}.tsv"
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("evaluate", "threads", 1)
    resources:
        mem_mb=scaled("evaluate", "mem_mb", 2000),
        runtime=scaled("evaluate", "runtime", 30),
    params:
        sheet=sheet_columns("specimen", "mask", "gt_mask"),
        samples=config["samples"],
        structures=STRUCTURES,
        engine=lambda wildcards: stage_engine(wildcards.stage),
    script:
        "../scripts/evaluate.py"
