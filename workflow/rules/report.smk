rule overlays:
    input:
        labels="results/{species}/labels",
        images=member_images,
    output:
        directory("results/{species}/overlays"),
    log:
        "logs/overlays/{species}.log",
    conda:
        "../../envs/traitrack.yaml"
    threads: 1
    resources:
        mem_mb=scaled("overlays", "mem_mb", 2000),
        runtime=scaled("overlays", "runtime", 60),
    script:
        "../scripts/overlays.py"


rule tables:
    input:
        traits=expand("results/traits/{species}.csv", species=SPECIES),
        evaluations=[
            f"results/{species}/evaluation.tsv"
            for species in SPECIES
            if has_ground_truth(species)
        ],
    output:
        traits="results/traits.csv",
        evaluation="results/evaluation.tsv",
        summary="results/evaluation_summary.tsv",
    log:
        "logs/tables/all.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/tables.py"
