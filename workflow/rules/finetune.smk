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
        weights="results/{species}/finetune/weights.pt",
        loss="results/{species}/finetune/loss.tsv",
        plot="results/{species}/finetune/loss.png",
    log:
        "logs/finetune/{species}.log",
    benchmark:
        "results/benchmarks/finetune/{species}.tsv"
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
        settings=finetune_settings,
        samples=config["samples"],
        structures=STRUCTURES,
        finetune=config["finetune"],
        sam2=config["sam2"],
        seed=config["seed"],
    script:
        "../scripts/finetune.py"
