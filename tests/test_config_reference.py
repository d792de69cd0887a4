"""The config schema is the one home of every default: config/README.md documents every key of
it with the same default, the typed option classes hold the same keys and defaults, and a
config that leaves a section out gets all of that section's defaults from the Snakefile's
validation and from ``traitrack.config`` alike."""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from traitrack.config import (
    CONFIG_SCHEMA,
    OptionsError,
    config_schema,
    section_defaults,
    section_schema,
    validate_config,
)
from traitrack.engines.registration.options import RegistrationOptions

README = Path(__file__).resolve().parents[1] / "config" / "README.md"
MINIMAL = {"structures": [{"name": "head"}]}
# keys of a mapping whose names the user chooses, as config/README.md writes them
PLACEHOLDERS = {"resources": "<rule>"}
JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}
# (module, class, section, fields that are not keys of the section, keys that are not fields)
OPTION_CLASSES = [
    ("traitrack.engines.registration.options", "RegistrationOptions", ("registration",), (), ()),
    ("traitrack.engines.sam2.engine", "Sam2Options", ("sam2",), (), ()),
    ("traitrack.finetune.train", "FinetuneOptions", ("finetune",), ("seed",), ("enabled",)),
    ("traitrack.finetune.weights", "LoraOptions", ("finetune", "lora"), (), ()),
    ("traitrack.selftrain.options", "SelfTrainingOptions", ("self_training",), (), ()),
    ("traitrack.selftrain.options", "StudentOptions", ("self_training", "student"), (), ()),
]


def schema_keys(schema: dict, prefix: str = "") -> dict[str, dict]:
    """Every key of the schema, as config/README.md names it, with its schema."""
    keys = {}
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        keys[key] = sub
        keys.update(schema_keys(sub, key))
        items = sub.get("items")
        if isinstance(items, dict) and "properties" in items:
            keys.update(schema_keys(items, f"{key}[]"))
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            placeholder = f"{key}.{PLACEHOLDERS[key]}"
            keys[placeholder] = extra
            keys.update(schema_keys(extra, placeholder))
    return keys


def readme_rows() -> dict[str, str]:
    """``{key: default cell}`` of the key tables: "## Keys" (full keys) and "### `section`
    options" (keys within the section)."""
    rows: dict[str, str] = {}
    prefix = None
    for line in README.read_text().splitlines():
        if line.startswith("#"):
            section = re.fullmatch(r"#+ `([\w.]+)` options", line)
            prefix = section[1] if section else ("" if line == "## Keys" else None)
            continue
        if prefix is None or not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([^`]+)`", cells[0])
        assert name, f"a key table's row must start with one backticked key: {line}"
        key = f"{prefix}.{name[1]}" if prefix else name[1]
        assert key not in rows, f"{key} has two rows in config/README.md"
        rows[key] = cells[1]
    return rows


def same(a, b) -> bool:
    """Equal values of the same types (``0`` is not ``0.0`` and ``false`` is not ``0``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def options_class(module: str, name: str):
    if module not in ("traitrack.engines.registration.options", "traitrack.selftrain.options"):
        pytest.importorskip("torch")
        pytest.importorskip("sam2")
    return getattr(importlib.import_module(module), name)


# -- config/README.md ----------------------------------------------------------------------------


def test_every_schema_key_has_a_row_in_the_readme_and_every_row_a_key():
    keys, rows = set(schema_keys(config_schema())), set(readme_rows())
    assert {"structures[].name", "resources.<rule>.threads", "finetune.lora.rank"} <= keys
    assert not keys - rows, f"keys without a row in config/README.md: {sorted(keys - rows)}"
    assert not rows - keys, f"rows of config/README.md the schema lacks: {sorted(rows - keys)}"


def test_the_readme_states_each_default_as_the_schema_does():
    rows = readme_rows()
    wrong = {}
    for key, schema in schema_keys(config_schema()).items():
        if "default" not in schema:
            continue
        cell = re.fullmatch(r"`([^`]*)`", rows[key])
        stated = yaml.safe_load(cell[1]) if cell else None
        if cell is None or not same(stated, schema["default"]):
            wrong[key] = (rows[key], schema["default"])
    assert not wrong, f"README default cell vs schema default: {wrong}"


def test_every_key_of_the_schema_is_described():
    missing = [
        key for key, schema in schema_keys(config_schema()).items() if "description" not in schema
    ]
    assert not missing, f"keys without a description in the schema: {missing}"


# -- the typed options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, name, section, own_fields, config_only",
    OPTION_CLASSES,
    ids=[entry[1] for entry in OPTION_CLASSES],
)
def test_option_class_matches_its_schema_section(module, name, section, own_fields, config_only):
    cls = options_class(module, name)
    properties = section_schema(*section)["properties"]
    fields = {f.name for f in dataclasses.fields(cls)}
    assert fields - set(own_fields) == set(properties) - set(config_only)
    hints = typing.get_type_hints(cls)
    for field in fields - set(own_fields):
        hint, declared = hints[field], properties[field]["type"]
        origin = typing.get_origin(hint)
        if origin is tuple:
            assert declared == "array", field
        elif origin is dict or dataclasses.is_dataclass(hint):
            assert declared == "object", field
        else:
            assert JSON_TYPES[hint] == declared, field
    defaults = cls().as_config()
    nested = [
        key
        for key in defaults
        if properties[key]["type"] == "object" and "properties" in properties[key]
    ]
    Draft202012Validator(section_schema(*section)).validate(defaults)
    expected = {k: v for k, v in section_defaults(*section).items() if k not in config_only}
    for key in nested:  # a nested section's defaults are its own class's (tested on their own)
        expected[key] = section_defaults(*section, key)
    assert same(defaults, expected)


def test_finetune_seed_defaults_to_the_top_level_seed():
    cls = options_class("traitrack.finetune.train", "FinetuneOptions")
    assert cls().seed == section_defaults()["seed"]
    assert cls.from_config({"seed": 7}).seed == 7


def test_options_name_every_bad_key_at_once():
    with pytest.raises(OptionsError) as error:
        RegistrationOptions.from_config({"working_size": 8, "snap_beta": -1.0, "try_mirror": 1})
    for key in ("working_size", "snap_beta", "try_mirror"):
        assert key in str(error.value)
    with pytest.raises(OptionsError, match="warp_speed"):
        RegistrationOptions.from_config({"warp_speed": 9})
    with pytest.raises(OptionsError, match="working_size"):
        dataclasses.replace(RegistrationOptions(), working_size=0)


def test_numbers_take_their_field_type():
    options = RegistrationOptions.from_config({"snap_beta": 3000, "ridge_sigmas": [1, 2]})
    assert type(options.snap_beta) is float and options.ridge_sigmas == (1.0, 2.0)
    assert all(type(sigma) is float for sigma in options.ridge_sigmas)
    assert options.as_config()["ridge_sigmas"] == [1.0, 2.0]


# -- defaults filled by both validators ----------------------------------------------------------


def filled_by_snakemake(config: dict) -> dict:
    from snakemake.utils import validate

    config = yaml.safe_load(yaml.safe_dump(config))
    validate(config, str(CONFIG_SCHEMA), set_default=True)
    return config


@pytest.mark.parametrize(
    "fill", [validate_config, filled_by_snakemake], ids=["traitrack", "snakemake"]
)
def test_a_config_without_engine_sections_gets_every_default(fill):
    config = fill(MINIMAL)
    for section in ("registration", "sam2", "background", "describe", "select", "order", "qc"):
        assert same(config[section], section_defaults(section)), section
    lora = section_defaults("finetune", "lora")
    assert same(config["finetune"], {**section_defaults("finetune"), "lora": lora})
    assert RegistrationOptions.from_config(config["registration"]) == RegistrationOptions()
    partial = fill({**MINIMAL, "registration": {"working_size": 96}})["registration"]
    assert partial == {**section_defaults("registration"), "working_size": 96}


def test_a_bad_registration_value_is_a_config_error():
    with pytest.raises(ValueError, match="registration/working_size"):
        validate_config({**MINIMAL, "registration": {"working_size": 8}})
    with pytest.raises(ValueError, match="warp_speed"):
        validate_config({**MINIMAL, "registration": {"warp_speed": 9}})


def test_the_readme_key_tables_are_the_schemas():
    """config/README.md's key tables are written from the schema (`make docs`): the one
    source of every key's default and description."""
    from traitrack.config_reference import with_tables

    text = README.read_text()
    assert with_tables(text, config_schema()) == text, "run `make docs` after editing the schema"
