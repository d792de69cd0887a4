"""Which config keys each rule's outputs depend on: the rerun triggers, written once.

A rule's script reads whole config sections from ``snakemake.config`` (the user's values, with
the schema's defaults filled where the user is silent), so no stage ever holds a default
where the user set a value. What a rule's ``params:`` carry is only :func:`settings_digest`
of :func:`rule_settings`: the settings whose change must rerun the rule, and no others (the
registration engine's alignment options do not rerun ``describe``; the student's
prediction-only keys do not retrain it). Pure functions of the config, importable by
``common.smk`` without anything heavier than the schema's loader.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: the registration options that ``describe`` reads (the silhouette's foreground)
DESCRIBE_REGISTRATION_KEYS = ("working_size", "grabcut_iterations", "foreground_detail")


def _parts(config: Mapping[str, Any]) -> dict:
    return {"structures": config["structures"], "background": config["background"]}


def _engine(config: Mapping[str, Any]) -> dict:
    engine = config["engine"]
    return {
        "engine": engine,
        engine: config[engine],
        "seed": config["seed"],
        "qc": config["qc"],
        "limits.working_megapixels": config["limits"]["working_megapixels"],
    }


def student_training_settings(student: Mapping[str, Any]) -> dict:
    """The student options its weights depend on: all but those used only when it predicts
    (:meth:`traitrack.selftrain.options.StudentOptions.prediction_only`)."""
    from traitrack.selftrain.options import StudentOptions

    prediction_only = StudentOptions.from_config(student).prediction_only()
    return {key: value for key, value in student.items() if key not in prediction_only}


def rule_settings(rule: str, config: Mapping[str, Any]) -> dict:
    """The config values a rule's outputs depend on (its rerun triggers besides its files).

    Parameters
    ----------
    rule : str
        A rule name of the workflow.
    config : Mapping
        The validated config, defaults filled.

    Returns
    -------
    dict
        Key paths to values; empty for a rule that reads no setting.
    """
    self_training = config["self_training"]
    pool = {"select.template_pool": config["select"]["template_pool"]}
    if rule == "describe":
        registration = config["registration"]
        settings = {
            "describe": config["describe"],
            **pool,
            "seed": config["seed"],
            "registration": {k: registration[k] for k in DESCRIBE_REGISTRATION_KEYS},
            "limits.working_megapixels": config["limits"]["working_megapixels"],
        }
        if config["describe"]["method"] == "sam2":
            settings["sam2"] = config["sam2"]
        return settings
    if rule == "select":
        return {"select.k": config["select"]["k"], **pool}
    if rule == "order":
        return {"order": config["order"]}
    if rule == "finetune":
        sam2 = {k: v for k, v in config["sam2"].items() if k != "finetuned_weights"}
        return {
            "finetune": config["finetune"],
            "sam2": sam2,
            "seed": config["seed"],
            "limits.working_megapixels": config["limits"]["working_megapixels"],
        } | _parts(config)
    if rule == "propagate":
        return _engine(config) | _parts(config)
    if rule in ("gather", "gather_selftrain"):
        return {"qc": config["qc"]} | _parts(config)
    if rule == "pseudo_round":
        pseudo = {k: v for k, v in self_training.items() if k != "student"}
        return {
            "self_training": pseudo,
            "select.k": config["select"]["k"],
            "order.chunk_length": config["order"]["chunk_length"],
            **pool,
        } | (_engine(config) | _parts(config))
    if rule == "train_student":
        return {
            "self_training.allow_gt_targets": self_training["allow_gt_targets"],
            "self_training.student": student_training_settings(self_training["student"]),
            "seed": config["seed"],
            "limits.working_megapixels": config["limits"]["working_megapixels"],
            **pool,
        } | _parts(config)
    if rule == "predict_student":
        return {"self_training.student": self_training["student"], **pool} | (
            _engine(config) | _parts(config)
        )
    if rule == "bulk_sample":
        return {"self_training.student.bulk_sample": self_training["student"]["bulk_sample"]}
    if rule == "measure":
        return {"traits": config["traits"]} | _parts(config)
    if rule == "overlays":
        return {"limits.working_megapixels": config["limits"]["working_megapixels"]} | _parts(
            config
        )
    if rule in ("evaluate", "evaluate_selftrain"):
        return _parts(config)
    if rule == "export_corrections":
        return {"corrections": config["corrections"]} | _parts(config)
    if rule == "retrieve":
        engine = _engine(config) if config["retrieve"]["cycle"] else {}
        limits = {"limits.working_megapixels": config["limits"]["working_megapixels"]}
        return {"retrieve": config["retrieve"], **limits} | engine | _parts(config)
    if rule == "validate":
        limits = {"limits.max_megapixels": config["limits"]["max_megapixels"]}
        return {**pool, **limits} | _parts(config)
    if rule == "calibrate":
        return {"calibrate": config["calibrate"]}
    if rule == "split":
        return {"split": config["split"]}
    if rule == "plots":
        return {"seed": config["seed"]}
    return {}


def settings_digest(rule: str, config: Mapping[str, Any]) -> str:
    """A short fingerprint of :func:`rule_settings`, for a rule's ``params: settings=``."""
    text = json.dumps(rule_settings(rule, config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
