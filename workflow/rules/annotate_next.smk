# Which unlabelled specimens to annotate first: after `propagate`, because a low QC score
# raises a specimen's rank.


rule annotate_next:
    input:
        descriptors=SPECIES_FILES.descriptors,
        qc=final_file("qc"),
        samples=ancient(config["samples"]),
    output:
        SPECIES_FILES.annotate_next,
    log:
        log_path("annotate_next", "{species}"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        sheet=sheet_columns("specimen", "mask"),
    script:
        "../scripts/annotate_next.py"
