# The official SAM 2.1 checkpoint for a model size, fetched on the login node (needs internet)
# and verified by loading it strictly into the model: a truncated or foreign file fails the
# rule and is deleted. Use it as `checkpoint: resources/checkpoints/sam2.1_hiera_<size>.pt`.


localrules:
    download_checkpoint,


rule download_checkpoint:
    output:
        "resources/checkpoints/sam2.1_hiera_{size}.pt",
    log:
        "logs/download_checkpoint/sam2.1_hiera_{size}.log",
    wildcard_constraints:
        size="tiny|small|base_plus|large",
    conda:
        "../../envs/sam2.yaml"
    script:
        "../scripts/download_checkpoint.py"
