# Palindrome fine-tuning of SAM 2 per species (config `finetune`, off by default): trains on the
# species' templates and unlabelled specimens (its genus' or all with `finetune.pool`) and writes
# the tuned weights that `propagate` loads when `finetune.enabled`. A GPU job under SLURM; a job
# killed by its time limit is retried with more runtime and resumes from
# results/{species}/finetune/state.pt (not an output, so Snakemake leaves it in place).
from traitrack.palindrome_data import training_set  # noqa: E402

if config["finetune"]["enabled"] and ENGINE != "sam2":
    raise ValueError(
        f"finetune.enabled: true fine-tunes SAM 2, but the config says engine: {ENGINE}; "
        "set engine: sam2 or finetune.enabled: false"
    )


@cache
def finetune_set(species):
    """The specimens a species trains on (cached: every input function of the job asks)."""
    finetune = config["finetune"]
    return training_set(SAMPLES, species, finetune["pool"], finetune["allow_gt_targets"])


def finetune_images(wildcards):
    return [m.image for m in finetune_set(wildcards.species).members]


def finetune_masks(wildcards):
    return [m.mask for m in finetune_set(wildcards.species).templates]


def finetune_sheet(wildcards):
    """Digest of the training rows: a new specimen in the pool retrains, other rows do not."""
    fields = ("specimen", "species", "image", "mask", "gt_mask", "genus")
    rows = [tuple(getattr(m, f) for f in fields) for m in finetune_set(wildcards.species).members]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def finetune_settings(wildcards):
    """What the weights depend on besides the files: changing any of it retrains."""
    sam2 = {k: v for k, v in config["sam2"].items() if k != "finetuned_weights"}
    return repr((config["finetune"], sam2, config["seed"], config["structures"], config["background"]))


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
    params:
        sheet=finetune_sheet,
        settings=finetune_settings,
    script:
        "../scripts/finetune.py"
