"""Load and validate a config the same way the Snakefile does, defaults filled from the schema.

The schema (``workflow/schemas/config.schema.yaml``) is the single source of defaults; the
``traitrack`` CLI uses this module, the Snakefile uses ``snakemake.utils.validate`` on the same
schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
CONFIG_SCHEMA = SCHEMA_DIR / "config.schema.yaml"


def _with_defaults(validator_class):
    """A validator that fills ``default`` values of missing properties before validating them."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = _copy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def _copy(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


DefaultFillingValidator = _with_defaults(Draft202012Validator)


def validate_config(config: Mapping[str, Any]) -> dict:
    """A copy of ``config`` with defaults filled; raises ValueError listing every problem."""
    schema = yaml.safe_load(CONFIG_SCHEMA.read_text())
    filled = _copy(dict(config))
    errors = sorted(DefaultFillingValidator(schema).iter_errors(filled), key=lambda e: list(e.path))
    if errors:
        lines = [f"  {'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors]
        raise ValueError("invalid config:\n" + "\n".join(lines))
    return filled


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> dict:
    """Read a YAML config, apply top-level overrides, validate and fill defaults."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: config file not found")
    config = yaml.safe_load(path.read_text()) or {}
    config.update(overrides or {})
    try:
        return validate_config(config)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
