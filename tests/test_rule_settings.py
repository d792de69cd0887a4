"""Every setting a stage uses is the user's, and a rule reruns exactly when one of its own
settings changes.

Each rule's script is run with a stand-in for Snakemake's `snakemake` object whose config sets
every option the stage takes to a value other than the schema's default; the stage function is
replaced by one that records its arguments, so nothing heavy runs.
"""

import logging
import re
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from traitrack.config import section_defaults, validate_config
from traitrack.settings import rule_settings, settings_digest
from traitrack.species_context import SpeciesContext

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"

USER = validate_config(
    {
        "samples": "my/samples.tsv",
        "seed": 7,
        "structures": [{"name": "head", "value": 3}, {"name": "elytra", "value": 9}],
        "describe": {"method": "hog", "thumbnail_size": 48},
        "select": {"k": 3, "template_pool": "genus"},
        "order": {"mode": "chain", "chunk_length": 9},
        "qc": {"max_templates": 2},
        "registration": {"working_size": 200, "grabcut_iterations": 2},
        "self_training": {
            "rounds": 2,
            "keep_hand_made": 1,
            "allow_gt_targets": True,
            "pseudo_share": 0.4,
            "student": {"enabled": True, "size": 96, "teacher_weight": 0.3, "bulk_sample": 7},
        },
        "finetune": {"steps": 17},
        "limits": {"working_megapixels": 3},
    }
)


class Files(dict):
    """Snakemake's named input/output lists: by name, by position and with `get`; a name
    not given is a file of that name."""

    def __getattr__(self, name):
        return self[name] if name in self else f"{name}.file"

    def __getitem__(self, key):
        return list(self.values())[key] if isinstance(key, int) else super().__getitem__(key)


def unread_context(cls, path, species, **options):
    return cls(species, pd.DataFrame(), sheet_path=str(path), **options)


def run_script(rule, module, function, tmp_path, monkeypatch, **files):
    """Run a rule's script with the user's config; the arguments its stage got."""
    import importlib

    calls = []
    stage = importlib.import_module(f"traitrack.stages.{module}")
    monkeypatch.setattr(stage, function, lambda *a, **k: calls.append((a, k)))
    # the species context as the script builds it, without reading the (absent) sheet
    monkeypatch.setattr(SpeciesContext, "from_sheet", classmethod(unread_context))
    fake = SimpleNamespace(
        config=USER,
        input=Files(files.get("input", {"labels": "in"})),
        output=Files(files.get("output", {"out": str(tmp_path / "out")})),
        params=Files(files.get("params", {})),
        wildcards=Files({"species": "sp", "shard": "1-of-1", "stage": "student"}),
        log=[str(tmp_path / f"{rule}.log")],
        threads=1,
        scriptdir=str(SCRIPTS),
    )
    stderr, handlers = sys.stderr, list(logging.getLogger().handlers)
    try:
        runpy.run_path(str(SCRIPTS / f"{rule}.py"), {"snakemake": fake}, run_name="__main__")
    finally:
        sys.stderr = stderr
        logging.getLogger().handlers = handlers
    assert len(calls) == 1
    return calls[0]


def structures_of(context):
    return [(s.name, s.value) for s in context.structures]


STAGES = {
    # rule: (stage module, function, {argument: the user's value})
    "describe": (
        "prepare",
        "run_describe",
        {
            "method": "hog",
            "thumbnail_size": 48,
            "seed": 7,
            "registration": USER["registration"],
        },
    ),
    "select": ("prepare", "run_select", {"k": 3}),
    "order": ("prepare", "run_order", {"mode": "chain", "chunk_length": 9}),
    "gather": ("propagate", "run_gather", {"qc": USER["qc"]}),
    "propagate": ("propagate", "run_propagate", {"qc": USER["qc"]}),
    "pseudo_round": (
        "pseudo",
        "run_pseudo_round",
        {
            "self_training": USER["self_training"],
            "qc": USER["qc"],
            "k": 3,
            "chunk_length": 9,
        },
    ),
    "train_student": (
        "selftrain",
        "run_train_student",
        {"self_training": USER["self_training"], "seed": 7},
    ),
    "predict_student": (
        "selftrain",
        "run_predict_student",
        {"self_training": USER["self_training"], "qc": USER["qc"]},
    ),
    "bulk_sample": ("bulk", "run_bulk_sample", {"size": 7}),
    "finetune": ("finetune", "run_finetune", {"finetune": USER["finetune"], "seed": 7}),
    "measure": ("measure", "run_measure", {"colour_megapixels": 2}),
    "overlays": ("report", "run_overlays", {}),
    "evaluate": ("evaluate", "run_evaluate", {}),
    "plots": ("report", "run_plots", {"seed": 7}),
}


@pytest.mark.parametrize("rule", sorted(STAGES))
def test_every_setting_a_stage_gets_is_the_users(rule, tmp_path, monkeypatch):
    module, function, expected = STAGES[rule]
    params = {"state": "s.pt"} if rule == "train_student" else {}
    inputs = {"labels": "in"}
    if rule == "evaluate":
        params = {"engine": "registration"}
        inputs["validation"] = tmp_path / "ground_truth_validation.tsv"  # no problem found
        inputs["validation"].write_text("blocks\tsheet_row\tspecimen\tcolumn\tfile\tproblem\tfix\n")
    args, kwargs = run_script(
        rule, module, function, tmp_path, monkeypatch, params=params, input=inputs
    )
    for name, value in expected.items():
        assert kwargs[name] == value, name
    if rule != "plots":  # a species' stage: the context of the user's sheet and settings
        (context,) = args
        assert (context.species, context.sheet_path, context.pool) == (
            "sp",
            "my/samples.tsv",
            "genus",
        )
        assert structures_of(context) == [("head", 3), ("elytra", 9)]
        assert context.working_megapixels == 3
    spec = kwargs.get("engine_spec")
    if spec is not None:
        assert (spec.name, dict(spec.options), spec.seed) == (
            "registration",
            USER["registration"],
            7,
        )


def test_scripts_take_settings_from_the_config_not_from_params():
    """`params:` carry rerun triggers (digests) and derived values, never a setting."""
    # besides digests, derived values only: a path, the stage name, the species, final folders
    allowed = {"sheet", "settings", "state", "engine", "row", "species_names", "final_dirs"}
    allowed |= {"ground_truth"}
    for script in SCRIPTS.glob("*.py"):
        used = set(re.findall(r"snakemake\.params\.(\w+)", script.read_text()))
        assert used <= allowed, (script.name, used - allowed)


def test_a_setting_reruns_the_rules_that_read_it_and_no_others():
    def changed(**section):
        key, value = next(iter(section.items()))
        config = validate_config({**USER, key: {**USER[key], **value}})
        return {
            rule for rule in STAGES if settings_digest(rule, config) != settings_digest(rule, USER)
        }

    assert changed(order={"chunk_length": 5}) == {"order", "pseudo_round"}
    # the alignment's options do not describe the species again; its silhouette's do
    assert "describe" not in changed(registration={"demons_iterations": 5})
    assert "describe" in changed(registration={"working_size": 320})
    # the student's prediction-only keys rerun its prediction, not its training
    student = {**USER["self_training"]["student"], "teacher_weight": 0.1}
    assert changed(self_training={"student": student}) == {"predict_student"}
    student = {**USER["self_training"]["student"], "size": 64}
    assert changed(self_training={"student": student}) == {"train_student", "predict_student"}
    assert changed(self_training={"keep_hand_made": 2}) == {"pseudo_round"}
    colour = validate_config({**USER, "traits": {"colour_megapixels": 4}})
    assert {
        rule for rule in STAGES if settings_digest(rule, colour) != settings_digest(rule, USER)
    } == {"measure"}
    student = {**USER["self_training"]["student"], "bulk_sample": 9}
    assert changed(self_training={"student": student}) == {
        "bulk_sample",
        "train_student",
        "predict_student",
    }


def test_every_rule_with_settings_is_listed():
    defaults = validate_config({"structures": [{"name": "head"}]})
    for rule in STAGES:
        if rule not in ("select", "order"):
            assert rule_settings(rule, defaults), rule
    assert section_defaults("order")
