"""The student as the engine of a large species (``self_training.student.bulk``).

The sample is a facility-location ranking's head (one pick per group of specimens before a
second from any), the teacher's pseudo-video holds only it, and through Snakemake on the
example's first species (10 targets, a sample of 3, a tiny student): the teacher's jobs label only
the sample, the student labels every target, and ``predictions.tsv`` and the trait table say
``student`` for the targets the student alone labelled.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from traitrack.order import Chunk
from traitrack.selftrain.bulk import STUDENT_ALONE, choose_sample, restrict_chunks


def test_the_sample_covers_every_group_before_a_second_pick_in_any():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    sizes = [12, 6, 3, 2]  # the templates sit in the first group
    vectors = np.concatenate(
        [c + rng.normal(scale=0.3, size=(n, 2)) for c, n in zip(centres, sizes)]
    )
    group = np.repeat(np.arange(4), sizes)
    names = [f"t{i:02d}" for i in range(len(vectors))]
    templates = centres[:1] + rng.normal(scale=0.3, size=(2, 2))
    sample = choose_sample(names, vectors, templates, 3)
    assert list(sample["rank"]) == [1, 2, 3]
    picked = [group[names.index(name)] for name in sample["specimen"]]
    assert picked == [1, 2, 3]  # the uncovered groups, the largest first
    everything = choose_sample(names, vectors, templates, 100)
    assert sorted(everything["specimen"]) == names


def test_the_pseudovideo_is_cut_to_the_sample():
    chunks = [
        Chunk(["a", "b"], ["t1", "t2", "t3"], {"t1": ["a"], "t2": ["b"], "t3": ["a"]}),
        Chunk(["c"], ["t4", "t5"], {"t4": ["c"], "t5": ["c"]}),
        Chunk(["a", "c"], ["t6"], {"t6": ["c", "a"]}),
    ]
    kept = restrict_chunks(chunks, {"t3", "t1", "t6"})
    assert [c.targets for c in kept] == [["t1", "t3"], ["t6"]]
    assert kept[0].templates == ["a"]  # b served only t2
    assert kept[0].target_templates == {"t1": ["a"], "t3": ["a"]}
    assert kept[1].templates == ["a", "c"]  # the chunk's order, nearest first


SPECIES = ("carabus_synth",)  # one species keeps the run short; the other runs alike
SAMPLE = 3
BULK = {
    "rounds": 1,
    "allow_gt_targets": True,
    "student": {
        "enabled": True,
        "bulk": True,
        "bulk_sample": SAMPLE,
        "encoder": "unet",
        "size": 64,
        "channels": [8, 16, 32],
        "epochs": 2,
        "batch_size": 4,
        "teacher_weight": 0.45,
    },
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("monai")
    from scratch_project import copy_project, snakemake

    workdir = copy_project(tmp_path_factory.mktemp("bulk"), {"self_training": BULK})
    targets = [f"results/traits/{species}.csv" for species in SPECIES]
    result = snakemake(workdir, "--cores", "1", *targets, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.mark.workflow
@pytest.mark.parametrize("species", SPECIES)
def test_the_teacher_labels_the_sample_and_the_student_every_target(project, species):
    folder = project / "results" / species
    sheet = pd.read_csv(project / "config" / "samples.tsv", sep="\t", dtype=str)
    rows = sheet[sheet["species"] == species]
    targets = set(rows.loc[rows["mask"].isna(), "specimen"])
    assert len(targets) > SAMPLE
    sample = set(pd.read_csv(folder / "bulk" / "sample.tsv", sep="\t")["specimen"])
    assert len(sample) == SAMPLE and sample <= targets
    # the teacher's jobs: only the sample's targets
    taught = set()
    for shard in (folder / "shards").glob("*/shard.json"):
        taught |= {row["specimen"] for row in json.loads(shard.read_text())["predictions"]}
    assert taught == sample
    teacher_qc = pd.read_csv(folder / "qc.tsv", sep="\t")
    assert set(teacher_qc["specimen"]) == sample
    # the student: every target, with the QC
    student = folder / "student"
    assert {p.stem for p in (student / "labels").glob("*.png")} >= targets
    qc = pd.read_csv(student / "qc.tsv", sep="\t")
    assert set(qc["specimen"]) == targets
    predictions = pd.read_csv(student / "predictions.tsv", sep="\t").set_index("specimen")
    engines = predictions.loc[sorted(targets), "engine"]
    assert set(engines[engines != STUDENT_ALONE].index) == sample
    assert set(engines[sorted(sample)]) == {"registration+student"}
    traits = pd.read_csv(project / "results" / "traits" / f"{species}.csv").set_index("specimen")
    assert (traits.loc[sorted(targets - sample), "engine"] == STUDENT_ALONE).all()
    assert (traits.loc[sorted(sample), "engine"] == "registration+student").all()
    training = pd.read_csv(student / "training.tsv", sep="\t")
    assert set(training.loc[training["source"] == "pseudo_label", "specimen"]) == sample
