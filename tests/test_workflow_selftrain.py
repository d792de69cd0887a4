"""Self-training through Snakemake: a pseudo-template round, then the student, on the example.

The example (cheap registration settings, tests/scratch_project.py) runs once with
``self_training: {rounds: 2, student: {enabled: true}}`` and a tiny student (64 px, 3
epochs). Every example target has a ``gt_mask``; the copy's sample sheet drops it from five
targets per species, so that some targets may teach and the others must not.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest
from scratch_project import copy_project, planned_jobs, snakemake

from traitrack.io import read_label_png
from traitrack.species_context import SpeciesContext
from traitrack.structures import StructureTable

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("albumentations")

from traitrack.selftrain.files import load_weights  # noqa: E402
from traitrack.stages.selftrain import run_train_student  # noqa: E402

pytestmark = pytest.mark.workflow

SELF_TRAINING = {
    "rounds": 2,
    "pseudo_share": 0.3,
    "keep_hand_made": 1,
    "student": {
        "enabled": True,
        "size": 64,
        "channels": [8, 16, 32],
        "epochs": 3,
        "batch_size": 4,
    },
}
UNEVALUATED = {
    f"{species}_{i:02d}" for species in ("carabus", "pterostichus") for i in (3, 5, 7, 9, 11)
}
SPECIES = ("carabus_synth", "pterostichus_synth")


def unevaluated(name: str) -> bool:
    """Whether the test's sheet drops a specimen's gt_mask."""
    return name.replace("_synth", "") in UNEVALUATED


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    # two templates per target (the example's k; the fast settings' 1 leaves no room beside the
    # nearest hand-made template, which every target keeps with keep_hand_made 1)
    config = {"self_training": SELF_TRAINING, "select": {"k": 2}}
    workdir = copy_project(tmp_path_factory.mktemp("selftrain"), config)
    sheet_path = workdir / "config" / "samples.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[sheet["specimen"].map(unevaluated), "gt_mask"] = ""
    sheet.to_csv(sheet_path, sep="\t", index=False)
    result = snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def sheet_of(workdir) -> pd.DataFrame:
    return pd.read_csv(
        workdir / "config" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False
    )


def structures_of(workdir) -> StructureTable:
    import yaml

    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    return StructureTable.from_config(config)


@pytest.mark.parametrize("species", SPECIES)
def test_student_outputs_exist_and_reload(project, species):
    folder = project / "results" / species / "student"
    for name in ("weights.pt", "losses.tsv", "losses.png", "training.tsv", "masks.coco.json"):
        assert (folder / name).exists(), name
    assert not (folder / "state.pt").exists()  # the resumable state goes once the job is done
    losses = pd.read_csv(folder / "losses.tsv", sep="\t")
    assert list(losses["epoch"]) == [1, 2, 3]
    network = load_weights(folder / "weights.pt", structures_of(project))
    with torch.no_grad():
        logits = network(torch.zeros(1, 3, 64, 64))
    assert logits.shape == (1, 6, 64, 64)
    sheet = sheet_of(project)
    own = sheet[sheet["species"] == species]
    for specimen in own["specimen"]:
        labels = read_label_png(folder / "labels" / f"{specimen}.png")
        assert labels.dtype == np.uint8 and labels.max() <= 5


@pytest.mark.parametrize("species", SPECIES)
def test_no_specimen_with_ground_truth_teaches(project, species):
    sheet = sheet_of(project)
    own = sheet[sheet["species"] == species]
    training = pd.read_csv(project / "results" / species / "student" / "training.tsv", sep="\t")
    pseudo = set(training.loc[training["source"] == "pseudo_label", "specimen"])
    assert pseudo == set(own.loc[(own["mask"] == "") & (own["gt_mask"] == ""), "specimen"])
    templates = set(training.loc[training["source"] == "template", "specimen"])
    assert templates == set(own.loc[own["mask"] != "", "specimen"])
    round2 = pd.read_csv(
        project / "results" / species / "round2" / "predictions.tsv", sep="\t", dtype=str
    ).fillna("")
    targets = round2[round2["source"] == "prediction"]
    chosen = {t for value in targets["pseudo_templates"] for t in value.split(";") if t}
    assert chosen, "the second round used no pseudo-template"
    assert all(unevaluated(name) for name in chosen)
    for specimen, templates_ in zip(targets["specimen"], targets["templates"]):
        assert specimen not in templates_.split(";")


@pytest.mark.parametrize("species", SPECIES)
def test_the_student_goes_through_qc_measure_and_evaluate(project, species):
    results = project / "results"
    name = "registration+pseudo+student"
    predictions = pd.read_csv(results / species / "student" / "predictions.tsv", sep="\t")
    assert set(predictions.loc[predictions["source"] == "prediction", "engine"]) == {name}
    qc = pd.read_csv(results / species / "student" / "qc.tsv", sep="\t")
    assert set(qc["engine"]) == {name}
    assert qc["round_trip_miou"].notna().all()
    assert qc["qc_rank"].between(0, 1).all() and qc["flagged"].any()
    traits = pd.read_csv(results / "traits" / f"{species}.csv")
    assert set(traits.loc[traits["source"] == "prediction", "engine"]) == {name}
    evaluation = pd.read_csv(results / "evaluation.tsv", sep="\t")
    assert set(evaluation.loc[evaluation["species"] == species, "engine"]) == {name}
    # the earlier stages' evaluations stay beside the final one, to compare
    teacher = pd.read_csv(results / species / "evaluation.tsv", sep="\t")
    assert set(teacher["engine"]) == {"registration"}
    round2 = pd.read_csv(results / species / "round2" / "evaluation.tsv", sep="\t")
    assert set(round2["engine"]) == {"registration+pseudo"}
    ranking = pd.read_csv(results / species / "annotate_next.tsv", sep="\t")
    assert sorted(ranking["specimen"]) == sorted(qc["specimen"])


def test_a_killed_training_resumes_from_its_state(project, tmp_path, monkeypatch):
    """A job killed after its first epoch left state.pt; the rerun goes on from there."""
    workdir = tmp_path / "project"
    shutil.copytree(project, workdir, symlinks=True)
    species = "carabus_synth"
    folder = workdir / "results" / species / "student"
    finished = load_weights(folder / "weights.pt", structures_of(workdir)).state_dict()
    for name in ("weights.pt", "losses.tsv", "losses.png", "training.tsv"):
        (folder / name).unlink()
    config = {"allow_gt_targets": False, "student": SELF_TRAINING["student"]}
    teacher = workdir / "results" / species / "round2"
    monkeypatch.chdir(workdir)  # the sheet's paths are relative to the project
    run_train_student(
        SpeciesContext.from_sheet(
            workdir / "config" / "samples.tsv", species, structures=structures_of(workdir)
        ),
        labels_dir=teacher / "labels",
        predictions=teacher / "predictions.tsv",
        qc_table=teacher / "qc.tsv",
        self_training=config,
        seed=0,
        weights_out=folder / "weights.pt",
        losses_out=folder / "losses.tsv",
        plot_out=folder / "losses.png",
        training_out=folder / "training.tsv",
        threads=2,
        stop_after=1,
    )
    assert (folder / "state.pt").exists() and not (folder / "weights.pt").exists()
    result = snakemake(workdir, "--cores", "2", f"results/{species}/student/weights.pt")
    assert result.returncode == 0, result.stderr[-4000:]
    log = (workdir / "logs" / "train_student" / f"{species}.log").read_text()
    assert "resuming after epoch 1" in log
    assert not (folder / "state.pt").exists()
    assert list(pd.read_csv(folder / "losses.tsv", sep="\t")["epoch"]) == [1, 2, 3]
    resumed = load_weights(folder / "weights.pt", structures_of(workdir)).state_dict()
    for key, value in finished.items():
        assert torch.allclose(value.float(), resumed[key].float(), atol=1e-4), key


SELF_TRAINING_RULES = {"pseudo_round", "train_student", "predict_student", "evaluate_selftrain"}


@pytest.mark.parametrize(
    ("self_training", "rules", "final"),
    [
        ({}, set(), ""),
        ({"student": {"enabled": True}}, SELF_TRAINING_RULES - {"pseudo_round"}, "/student"),
        ({"rounds": 2}, {"pseudo_round", "evaluate_selftrain"}, "/round2"),
    ],
)
def test_the_plan_follows_the_switches(tmp_path, self_training, rules, final):
    """Which self-training jobs are planned, and which folder measure and overlays read."""
    workdir = copy_project(tmp_path, {"self_training": self_training})
    result = snakemake(workdir, "--dry-run", "--forceall", "--printshellcmds", timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    planned = {rule for rule, _ in planned_jobs(result.stdout)}
    assert planned & SELF_TRAINING_RULES == rules
    inputs = job_inputs(result.stdout)
    for species in SPECIES:
        folder = f"results/{species}{final}"
        assert f"{folder}/labels" in inputs[("measure", species)]
        assert f"{folder}/predictions.tsv" in inputs[("measure", species)]
        assert f"{folder}/labels" in inputs[("overlays", species)]
        assert f"{folder}/qc.tsv" in inputs[("annotate_next", species)]
        assert f"{folder}/evaluation.tsv" in inputs[("evaluation_tables", "")]
    if not rules:
        assert "/student/" not in result.stdout and "/round2/" not in result.stdout


def job_inputs(dry_run_output: str) -> dict[tuple[str, str], list[str]]:
    """The input files of every planned job, by (rule, species); species '' for aggregates."""
    inputs, rule, files = {}, None, []
    for line in dry_run_output.splitlines():
        header = re.match(r"^(?:local)?rule (\w+):$", line)
        if header:
            rule, files = header.group(1), []
            inputs[(rule, "")] = files
        elif rule and line.startswith("    input: "):
            files += line.removeprefix("    input: ").split(", ")
        elif rule and line.startswith("    wildcards: "):
            fields = dict(f.split("=", 1) for f in line.removeprefix("    wildcards: ").split(", "))
            inputs[(rule, fields.get("species", ""))] = inputs.pop((rule, ""))
    return inputs


def merged_copy(project, workdir, **overrides):
    """A copy of the project whose config.yaml, fast.yaml and overrides form merged.yaml."""
    import yaml

    shutil.copytree(project, workdir, symlinks=True)
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    for layer in (yaml.safe_load((workdir / "fast.yaml").read_text()), overrides):
        for key, value in layer.items():
            config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    (workdir / "merged.yaml").write_text(yaml.safe_dump(config))
    return workdir


def test_the_cli_predicts_what_the_rule_wrote(project, tmp_path, monkeypatch):
    """`traitrack predict-student` runs the stage on the same files as rule predict_student."""
    from traitrack.cli import main

    workdir = merged_copy(project, tmp_path / "project")
    species = "pterostichus_synth"
    folder = workdir / "results" / species / "student"
    written = {name: (folder / name).read_bytes() for name in ("predictions.tsv", "qc.tsv")}
    shutil.rmtree(folder / "labels")
    monkeypatch.chdir(workdir)
    assert (
        main(["predict-student", "--species", species, "--config", "merged.yaml", "--cores", "2"])
        == 0
    )
    for name, content in written.items():
        assert (folder / name).read_bytes() == content, name


def test_the_sharded_stages_write_what_one_job_wrote(project, tmp_path, monkeypatch):
    """pseudo_round and predict_student run per shard, as propagate does: with a small
    `shard.size` the workflow plans one job per shard, and the stages run shard by shard and
    gathered (the CLI, as the rules call them) write the one-shard run's bytes."""
    import json

    from traitrack.cli import main

    workdir = merged_copy(project, tmp_path / "project", shard={"size": 6})
    species = "carabus_synth"
    base = workdir / "results" / species
    stages = {"round2": "pseudo-round", "student": "predict-student"}
    written = {}
    for stage in stages:
        folder = base / stage
        written[stage] = {
            path.relative_to(folder): path.read_bytes()
            for path in [folder / "predictions.tsv", folder / "qc.tsv", folder / "masks.coco.json"]
            + sorted((folder / "labels").glob("*.png"))
        }
        shutil.rmtree(folder / "labels")
    dry = snakemake(workdir, "-n", "--configfile", str(workdir / "merged.yaml"), "--forceall")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = planned_jobs(dry.stdout)
    for rule in ("propagate", "pseudo_round", "predict_student"):
        shards = sorted(w for r, w in jobs if r == rule and species in w)
        assert len(shards) == 2, (rule, shards)
    assert sum(r == "gather_selftrain" for r, _ in jobs) == 2 * len(SPECIES)

    monkeypatch.chdir(workdir)
    for stage, command in stages.items():
        assert main([command, "--species", species, "--config", "merged.yaml", "--cores", "2"]) == 0
        documents = [
            json.loads((base / stage / "shards" / name / "shard.json").read_text())
            for name in ("1-of-2", "2-of-2")
        ]
        assert len(documents) == 2 and all(d["predictions"] for d in documents)
        for name, content in written[stage].items():
            assert (base / stage / name).read_bytes() == content, (stage, name)


def test_a_teacher_weight_reruns_the_prediction_not_the_training(project, tmp_path):
    """teacher_weight acts when the student predicts: changing it plans predict_student again
    but not train_student; above 0.5 the teacher's label wins at every pixel."""
    import yaml

    workdir = tmp_path / "project"
    shutil.copytree(project, workdir, symlinks=True)
    fast = yaml.safe_load((workdir / "fast.yaml").read_text())
    fast["self_training"]["student"]["teacher_weight"] = 0.6
    (workdir / "fast.yaml").write_text(yaml.safe_dump(fast))
    species = "carabus_synth"
    folder = workdir / "results" / species
    target = f"results/{species}/student/predictions.tsv"
    plan = snakemake(workdir, "--dry-run", target)
    assert plan.returncode == 0, plan.stderr[-4000:]
    rules = {rule for rule, _ in planned_jobs(plan.stdout)}
    assert "predict_student" in rules and "train_student" not in rules, rules
    result = snakemake(workdir, "--cores", "2", target)
    assert result.returncode == 0, result.stderr[-4000:]
    written = sorted((folder / "student" / "labels").glob("*.png"))
    assert written
    for path in written:
        teacher = read_label_png(folder / "round2" / "labels" / path.name)
        np.testing.assert_array_equal(read_label_png(path), teacher, err_msg=path.name)


def test_hand_made_templates_kept_leave_no_place_to_pseudo_templates(
    project, tmp_path, monkeypatch
):
    """keep_hand_made = select.k: a species with k hand-made templates gets no pseudo-template,
    and each target keeps the templates of its first round."""
    from traitrack.cli import main

    overrides = {"self_training": {**SELF_TRAINING, "keep_hand_made": 2}}
    workdir = merged_copy(project, tmp_path / "project", **overrides)
    species = "pterostichus_synth"
    monkeypatch.chdir(workdir)
    assert (
        main(["pseudo-round", "--species", species, "--config", "merged.yaml", "--cores", "2"]) == 0
    )

    def targets_of(folder):
        table = pd.read_csv(folder / "predictions.tsv", sep="\t", dtype=str).fillna("")
        return table[table["source"] == "prediction"].set_index("specimen")

    second = targets_of(workdir / "results" / species / "round2")
    first = targets_of(workdir / "results" / species)
    assert set(second["pseudo_templates"]) == {""}
    for specimen, templates in second["templates"].items():
        assert set(templates.split(";")) == set(first.loc[specimen, "templates"].split(";"))
    before = targets_of(project / "results" / species / "round2")
    assert any(before["pseudo_templates"] != ""), "keep_hand_made 1 used no pseudo-template"
