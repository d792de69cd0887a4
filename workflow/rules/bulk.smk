# The student as the engine of a large species (config `self_training.student.bulk`): the
# teacher's rounds (`propagate`, `pseudo_round`) read the pseudo-video this rule cuts to a
# sample of the species' targets chosen to cover its descriptor space (facility location, as
# `annotate_next` ranks), `train_student` learns from the templates and those labels, and
# `predict_student` labels every target of the species' full pseudo-video.


rule bulk_sample:
    input:
        descriptors=SPECIES_FILES.descriptors,
        pseudovideo=SPECIES_FILES.pseudovideo,
        samples=ancient(config["samples"]),
    output:
        sample=SPECIES_FILES.bulk("sample.tsv"),
        pseudovideo=SPECIES_FILES.bulk("pseudovideo.json"),
    log:
        log_path("bulk_sample", "{species}"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        sheet=sheet_columns("specimen", "species", "mask"),
        settings=settings_digest("bulk_sample", config),
    script:
        "../scripts/bulk_sample.py"
