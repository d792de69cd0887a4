"""The example through the workflow with the SAM 2 engine and palindrome fine-tuning.

Tiny SAM 2 with random weights at 256 (no checkpoint can be downloaded here): checks the wiring
-- finetune before propagate, the tuned weights loaded, every output marked as random weights --
not the quality of the masks.
"""

import pandas as pd
import pytest
from scratch_project import copy_project, snakemake

pytest.importorskip("sam2")
pytestmark = [pytest.mark.sam2, pytest.mark.workflow]

SAM2_CONFIG = {
    "engine": "sam2",
    "sam2": {
        "model_size": "tiny",
        "image_size": 256,
        "device": "cpu",
        "allow_random_weights": True,
    },
    "finetune": {"enabled": True, "steps": 2, "save_every": 1, "allow_gt_targets": True},
    "resources": {"finetune": {"threads": 1}, "propagate": {"threads": 1}},
}


def test_sam2_with_finetuning_runs_the_workflow(tmp_path):
    workdir = copy_project(tmp_path, SAM2_CONFIG)
    result = snakemake(workdir, "--cores", "2", timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    results = workdir / "results"
    for species in ("carabus_synth", "pterostichus_synth"):
        assert (results / species / "finetune" / "weights.pt").exists()
        assert len(pd.read_csv(results / species / "finetune" / "loss.tsv", sep="\t")) == 2
        log = (workdir / "logs" / "propagate" / species / "1-of-1.log").read_text()
        assert "finetune/weights.pt" in log or "fine-tuned" in log.lower()
    traits = pd.read_csv(results / "traits.csv")
    predicted = traits[traits["source"] == "prediction"]
    assert set(predicted["engine"]) == {"sam2"}
    assert predicted["random_weights"].all()
    assert not traits.loc[traits["source"] == "template", "random_weights"].any()
