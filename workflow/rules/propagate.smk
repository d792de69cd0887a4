# A species' targets in shards of whole pseudo-video chunks (config `shard.size`), one
# `propagate` job each: the shards run side by side, and a killed one reruns alone. `gather`
# joins them into the species' outputs, with the QC ranked over the whole species.
# A shard does not list the species' images as inputs: which it reads is decided in the job,
# and 50 shards of a 10,000-specimen species listing all of them took 17 s more to plan. They
# still rerun it: an edited image reruns `describe`, and all after it, and the `image` column
# is in the shard's sheet digest.


rule propagate:
    input:
        pseudovideo=teacher_pseudovideo,
        masks=member_masks,
        checkpoint=sam2_checkpoint if ENGINE == "sam2" else [],
        finetuned=finetuned_weights,
    output:
        labels=directory(SPECIES_FILES.gathered().shard("{shard}").labels),
        shard=SPECIES_FILES.gathered().shard("{shard}").table,
    log:
        log_path("propagate", "{species}", "{shard}"),
    benchmark:
        benchmark_path("propagate", "{species}", "{shard}")
    conda:
        "../../envs/sam2.yaml" if ENGINE == "sam2" else "../../envs/traitrack.yaml"
    threads: propagate_threads()
    resources:
        mem_mb=scaled("propagate", "mem_mb", 8000),
        runtime=scaled("propagate", "runtime", 120),
        gpu=gpus("propagate", ENGINE == "sam2"),
        slurm_partition=slurm_partition("propagate", ENGINE == "sam2"),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "genus"),
        settings=settings_digest("propagate", config),
    script:
        "../scripts/propagate.py"


rule gather:
    input:
        shards=shard_files("table"),
        labels=shard_files("labels"),
        masks=member_masks,
    output:
        labels=directory(SPECIES_FILES.gathered().labels),
        predictions=SPECIES_FILES.gathered().predictions,
        qc=SPECIES_FILES.gathered().qc,
        coco=SPECIES_FILES.gathered().coco,
    log:
        log_path("gather", "{species}"),
    benchmark:
        benchmark_path("gather", "{species}")
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("gather", "threads", 1)
    resources:
        mem_mb=scaled("gather", "mem_mb", 2000),
        runtime=scaled("gather", "runtime", 30),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask"),
        settings=settings_digest("gather", config),
    script:
        "../scripts/gather.py"
