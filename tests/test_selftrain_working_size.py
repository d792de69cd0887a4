"""Self-training on photographs over the working size: every label map at the photograph's size."""

from __future__ import annotations

import pandas as pd
import pytest
from scratch_project import copy_project, snakemake

from traitrack.io import read_image, read_label_png

pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("albumentations")

pytestmark = pytest.mark.workflow

SPECIES = "carabus_synth"


def test_pseudo_round_and_student_write_labels_at_the_photographs_size(tmp_path):
    config = {
        "limits": {"working_megapixels": 0.02},  # the example's photographs are 0.045 MP
        "select": {"k": 2},
        "self_training": {
            "rounds": 2,
            "pseudo_share": 0.3,
            "keep_hand_made": 1,
            "student": {"enabled": True, "size": 64, "channels": [8, 16], "epochs": 1},
        },
    }
    workdir = copy_project(tmp_path, config)
    result = snakemake(workdir, "--cores", "2", f"results/traits/{SPECIES}.csv")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    sheet = pd.read_csv(workdir / "config" / "samples.tsv", sep="\t", dtype=str)
    shapes = {
        row.specimen: read_image(workdir / row.image).shape[:2]
        for row in sheet[sheet["species"] == SPECIES].itertuples()
    }
    written = sorted((workdir / "results" / SPECIES).rglob("*.png"))
    folders = set()
    for path in written:
        if path.stem in shapes and "labels" in path.parent.name:
            assert read_label_png(path).shape == shapes[path.stem], path
            folders.add(path.parent.relative_to(workdir).as_posix())
    assert len(folders) >= 3, folders  # the first round's, the pseudo round's, the student's
