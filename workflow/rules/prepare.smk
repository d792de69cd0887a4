rule describe:
    input:
        images=member_images,
    output:
        "results/{species}/descriptors.npz",
    log:
        "logs/describe/{species}.log",
    benchmark:
        "results/benchmarks/describe/{species}.tsv"
    conda:
        "../../envs/traitrack.yaml"
    threads: 1
    resources:
        mem_mb=scaled("describe", "mem_mb", 2000),
        runtime=scaled("describe", "runtime", 30),
    script:
        "../scripts/describe.py"


rule select:
    input:
        descriptors="results/{species}/descriptors.npz",
        samples=config["samples"],
    output:
        "results/{species}/selection.tsv",
    log:
        "logs/select/{species}.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/select.py"


rule order:
    input:
        selection="results/{species}/selection.tsv",
        descriptors="results/{species}/descriptors.npz",
    output:
        "results/{species}/pseudovideo.json",
    log:
        "logs/order/{species}.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/order.py"


rule annotate_next:
    input:
        descriptors="results/{species}/descriptors.npz",
        qc="results/{species}/qc.tsv",
        samples=config["samples"],
    output:
        "results/{species}/annotate_next.tsv",
    log:
        "logs/annotate_next/{species}.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/annotate_next.py"
