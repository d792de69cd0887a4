# Palindrome fine-tuning of SAM 2 per species (config `finetune`, off by default): trains on the
# species' templates and unlabelled specimens (its genus' or all with `finetune.pool`) and writes
# the tuned weights that `propagate` loads when `finetune.enabled`. A GPU job under SLURM; a job
# killed by its time limit is retried with more runtime and resumes from
# results/{species}/finetune/state.pt (not an output, so Snakemake leaves it in place).
rule finetune:
    input:
        images=finetune_images,
        masks=finetune_masks,
        checkpoint=sam2_checkpoint,
    output:
        weights=SPECIES_FILES.finetune("weights.pt"),
        loss=SPECIES_FILES.finetune("loss.tsv"),
        plot=SPECIES_FILES.finetune("loss.png"),
    log:
        log_path("finetune", "{species}"),
    benchmark:
        benchmark_path("finetune", "{species}")
    conda:
        "../../envs/sam2.yaml"
    threads: resource("finetune", "threads", 2)
    resources:
        mem_mb=scaled("finetune", "mem_mb", 16000),
        runtime=scaled("finetune", "runtime", 240),
        gpu=gpus("finetune", True),
        slurm_partition=slurm_partition("finetune", True),
    params:
        sheet=finetune_sheet,
        settings=settings_digest("finetune", config),
    script:
        "../scripts/finetune.py"
