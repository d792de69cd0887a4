# Which unlabelled specimens to annotate first: after `propagate`, because a low QC score
# raises a specimen's rank.


rule annotate_next:
    input:
        descriptors="results/{species}/descriptors.npz",
        qc=final_file("qc.tsv"),
        samples=ancient(config["samples"]),
    output:
        "results/{species}/annotate_next.tsv",
    log:
        "logs/annotate_next/{species}.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        sheet=sheet_columns("specimen", "mask"),
    script:
        "../scripts/annotate_next.py"
