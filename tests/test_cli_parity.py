"""The `traitrack` command runs each stage as the workflow's rule does.

For every subcommand, with self-training (two rounds and the student, in bulk mode) and SAM 2
fine-tuning on, the job the command forces is the job the workflow plans for that rule and species: the
same inputs (the final stage's labels, the fine-tuned weights) and the same outputs. Both
plans are Snakemake dry runs, so nothing heavy runs.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from traitrack.cli import STAGES, main, stage_targets
from traitrack.paths import SpeciesLayout

ROOT = Path(__file__).resolve().parents[1]
SPECIES = "carabus_synth"
ALL_ON = {
    "engine": "sam2",
    "sam2": {"checkpoint": "resources/checkpoints/sam2.1_hiera_tiny.pt", "model_size": "tiny"},
    "finetune": {"enabled": True, "allow_gt_targets": True},
    "self_training": {
        "rounds": 2,
        "allow_gt_targets": True,
        "student": {"enabled": True, "bulk": True},
    },
    "trays": "resources/example/trays.tsv",
}


def planned(dry_run: str) -> dict[tuple[str, str], dict[str, str]]:
    """The jobs of a dry run by (rule, wildcards): their `input`, `output` and `reason`."""
    jobs: dict[tuple[str, str], dict[str, str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run):
        header = re.match(r"(?:local)?rule (\w+):", block)
        if not header:
            continue
        fields = dict(re.findall(r"^\s+(input|output|reason|wildcards): (.*)$", block, re.M))
        jobs[(header.group(1), fields.get("wildcards", ""))] = fields
    return jobs


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The example project with everything on, in `all_on.yaml`."""
    workdir = tmp_path_factory.mktemp("parity")
    for name in ("config", "resources"):
        shutil.copytree(ROOT / name, workdir / name)
    (workdir / "all_on.yaml").write_text(yaml.safe_dump(ALL_ON))
    return workdir


@pytest.fixture(scope="module")
def workflow_plan(project):
    """What the workflow itself plans for every job (rule all and the on-demand corrections,
    everything forced)."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "workflow" / "Snakefile")]
        + ["--dry-run", "--forceall", "--configfile", "config/config.yaml", "all_on.yaml"]
        + ["--", "all", "corrections"],  # and the on-demand export for correction
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return planned(result.stdout)


@pytest.mark.workflow
@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_command_forces_the_job_the_workflow_plans(
    stage, project, workflow_plan, monkeypatch, capfd
):
    monkeypatch.chdir(project)
    shard = ["--shard", "1-of-1"] if STAGES[stage].sharded_stage is not None else []
    unit = ["--tray", "tray_01"] if STAGES[stage].unit == "tray" else ["--species", SPECIES]
    config = ["--config", "config/config.yaml", "all_on.yaml"]
    assert main([stage, *unit, *config, *shard, "--dry-run"]) == 0
    jobs = planned(capfd.readouterr().out)
    forced = {key: job for key, job in jobs.items() if job.get("reason") == "Forced execution"}
    rule = STAGES[stage].rule
    assert [key[0] for key in forced] == [rule], forced.keys()
    ((key, job),) = forced.items()
    assert (SPECIES if STAGES[stage].unit == "species" else "tray_01") in key[1]
    assert job["input"] == workflow_plan[key]["input"]
    assert job["output"] == workflow_plan[key]["output"]


@pytest.mark.workflow
def test_measure_reads_the_final_stage_and_propagate_the_finetuned_weights(workflow_plan):
    """The drift the command had: with self-training on it measured the first round's labels,
    and its propagate ignored the fine-tuned SAM 2 weights."""
    final = SpeciesLayout(SPECIES).gathered("student")
    for rule in ("measure", "overlays"):
        assert workflow_plan[(rule, f"species={SPECIES}")]["input"].startswith(final.labels)
    assert final.qc in workflow_plan[("annotate_next", f"species={SPECIES}")]["input"]
    propagate = workflow_plan[("propagate", f"species={SPECIES}, shard=1-of-1")]
    assert SpeciesLayout(SPECIES).finetune("weights.pt") in propagate["input"].split(", ")


def test_a_shard_asks_for_that_shard_and_a_stage_for_its_gathered_files():
    layout = SpeciesLayout(SPECIES)
    assert stage_targets("propagate", SPECIES, "2-of-3") == [
        layout.gathered().shard("2-of-3").labels,
        layout.gathered().shard("2-of-3").table,
    ]
    assert layout.gathered("round2").qc in stage_targets("pseudo-round", SPECIES)
    with pytest.raises(ValueError, match="--shard"):
        stage_targets("measure", SPECIES, "1-of-2")


@pytest.mark.workflow
def test_retrieve_for_a_specimen_forces_the_rule_with_typed_options(project, monkeypatch, capfd):
    """`traitrack retrieve --specimen` runs rule retrieve; its options (a number, a boolean)
    reach the config typed, which Snakemake's --config would not do for a nested value."""
    monkeypatch.chdir(project)
    command = ["retrieve", "--specimen", "carabus_synth_03", "--structure", "pronotum"]
    assert main([*command, "--top", "5", "--cycle", "--dry-run"]) == 0
    jobs = planned(capfd.readouterr().out)
    forced = [key for key, job in jobs.items() if job.get("reason") == "Forced execution"]
    assert forced == [("retrieve", "specimen=carabus_synth_03, structure=pronotum")]
