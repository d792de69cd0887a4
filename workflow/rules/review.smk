rule data_dictionary:
    output:
        report(
            "results/report/data_dictionary.html",
            caption="../report/data_dictionary.rst",
            category="Trait tables",
            labels={"table": "data dictionary"},
        ),
    log:
        "logs/data_dictionary/all.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/data_dictionary.py"


rule export_corrections:
    input:
        labels=final_file("labels"),
        qc=final_file("qc.tsv"),
    output:
        directory("results/{species}/corrections"),
    log:
        "logs/export_corrections/{species}.log",
    conda:
        "../../envs/traitrack.yaml"
    params:
        sheet=sheet_columns("specimen", "image"),
        samples=config["samples"],
        structures=STRUCTURES,
        corrections=config["corrections"],
    script:
        "../scripts/export_corrections.py"


rule corrections:
    input:
        expand("results/{species}/corrections", species=SPECIES),
    localrule: True


rule review:
    input:
        qc=[f"{final_dir(species)}/qc.tsv" for species in SPECIES],
        annotate_next=expand("results/{species}/annotate_next.tsv", species=SPECIES),
        overlays=expand("results/{species}/overlays", species=SPECIES),
    output:
        report(
            "results/review.html",
            caption="../report/review.rst",
            category="Quality control",
            labels={"table": "review: the doubtful predictions first"},
        ),
    log:
        "logs/review/all.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        species=SPECIES,
    script:
        "../scripts/review.py"


rule retrieve:
    input:
        labels=retrieval_inputs("labels"),
        qc=retrieval_inputs("qc.tsv"),
    output:
        table="results/retrieval/{specimen}/{structure}.tsv",
        sheet="results/retrieval/{specimen}/{structure}.png",
    log:
        "logs/retrieve/{specimen}.{structure}.log",
    benchmark:
        "results/benchmarks/retrieve/{specimen}.{structure}.tsv"
    conda:
        "../../envs/traitrack.yaml"
    resources:
        mem_mb=scaled("retrieve", "mem_mb", 2000),
        runtime=scaled("retrieve", "runtime", 60),
    params:
        samples=config["samples"],
        structures=STRUCTURES,
        retrieve=config["retrieve"],
        final_dirs={species: final_dir(species) for species in SPECIES},
    script:
        "../scripts/retrieve.py"
