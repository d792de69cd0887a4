"""Load and validate a config the same way the Snakefile does, defaults filled from the schema.

The schema (``workflow/schemas/config.schema.yaml``) is the one home of every default and of
every option's type and range: the ``traitrack`` CLI uses this module, the Snakefile uses
``snakemake.utils.validate`` on the same schema, and the typed option classes of the engines
and of fine-tuning (:class:`SchemaOptions`) take their defaults and checks from their section
of it (:func:`section_defaults`, :func:`section_schema`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import numbers
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from traitrack.config_keys import UnknownKeyError, check_config_keys

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


@functools.cache
def _loaded_schema() -> dict:
    return yaml.safe_load(CONFIG_SCHEMA.read_text())


def config_schema() -> dict:
    """The config schema, as a fresh copy that the caller may change.

    Returns
    -------
    dict
        ``workflow/schemas/config.schema.yaml`` as loaded by YAML.
    """
    return copy.deepcopy(_loaded_schema())


def section_schema(*path: str) -> dict:
    """The schema of one section of the config.

    Parameters
    ----------
    *path : str
        Keys from the top level down, e.g. ``"finetune", "lora"``; none for the whole config.

    Returns
    -------
    dict
        The section's schema (a copy).

    Raises
    ------
    KeyError
        If the schema has no such section.
    """
    schema = config_schema()
    for depth, name in enumerate(path):
        try:
            schema = schema["properties"][name]
        except KeyError:
            raise KeyError(f"the config schema has no key {'.'.join(path[: depth + 1])}") from None
    return schema


def section_defaults(*path: str) -> dict[str, Any]:
    """The defaults of the keys of one config section, as the schema states them.

    Parameters
    ----------
    *path : str
        Keys from the top level down, e.g. ``"registration"``; none for the top level.

    Returns
    -------
    dict
        ``{key: default}`` for every key of the section that has a default (copies).
    """
    properties = section_schema(*path).get("properties", {})
    return {name: prop["default"] for name, prop in properties.items() if "default" in prop}


def validate_config(config: Mapping[str, Any], source: str = "config") -> dict:
    """A copy of ``config`` with defaults filled; raises ValueError listing every problem.

    Unknown keys at any level are an :class:`~traitrack.config_keys.UnknownKeyError` first,
    each named with the nearest valid key.
    """
    check_config_keys(config, _loaded_schema(), source)
    filled = _copy(dict(config))
    errors = sorted(
        DefaultFillingValidator(config_schema()).iter_errors(filled), key=lambda e: list(e.path)
    )
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
        return validate_config(config, source=str(path))
    except UnknownKeyError:
        raise
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


# ---- typed options of a config section ------------------------------------------------------


class OptionsError(ValueError):
    """Options of a config section are not usable; the message names every bad key."""


class SchemaOptions:
    """Base of the frozen dataclasses that hold one config section as typed fields.

    A subclass names its section and declares one annotated field per key of it::

        @dataclass(frozen=True)
        class LoraOptions(SchemaOptions, section=("finetune", "lora"), label="finetune.lora"):
            enabled: bool
            rank: int

    A field without a default of its own takes the schema's ``default`` (so there is no second
    copy of any value; a field the schema gives no default is an error at import).  Building an
    instance checks every field that is a key of the section against the key's schema and
    raises :class:`OptionsError` naming every bad key; then numbers take their field's type
    (``int`` or ``float``: YAML's ``3000`` is a valid ``number``), sequences become tuples and
    mappings dicts, so the code that reads a field never casts it.
    """

    _section = ()
    _label = ""

    def __init_subclass__(cls, section: str | tuple[str, ...] = (), label: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        cls._section = (section,) if isinstance(section, str) else tuple(section)
        cls._label = label or ".".join(cls._section)
        cls._properties = section_schema(*cls._section).get("properties", {})
        cls._validators = {
            name: Draft202012Validator(schema) for name, schema in cls._properties.items()
        }
        cls._hints = typing.get_type_hints(cls)
        for name in cls.__dict__.get("__annotations__", {}):
            if name in cls.__dict__:
                continue  # a default of its own (a nested section, a top-level key)
            schema = cls._properties.get(name, {})
            if "default" not in schema:
                raise TypeError(
                    f"{cls.__name__}.{name}: the config schema's {'.'.join(cls._section)} "
                    "section gives it no default"
                )
            default = _as_field_value(schema["default"], cls._hints[name])
            if isinstance(default, dict):
                default = dataclasses.field(
                    default_factory=functools.partial(copy.deepcopy, default)
                )
            setattr(cls, name, default)

    def __post_init__(self) -> None:
        names = [f.name for f in dataclasses.fields(self) if f.name in self._properties]
        problems = {}
        for name in names:
            error = best_match(self._validators[name].iter_errors(_jsonable(getattr(self, name))))
            if error is not None:
                problems[name] = error.message
        problems.update(self._problems())
        if problems:
            listed = "; ".join(f"{name}: {problems[name]}" for name in sorted(problems))
            raise OptionsError(
                f"{self._label} option(s) {sorted(problems)} have unusable values ({listed}); "
                f"config/README.md and the schema's `{'.'.join(self._section)}` section give "
                "each one's type and range"
            )
        for name in names:
            value = _as_field_value(getattr(self, name), self._hints[name])
            object.__setattr__(self, name, value)

    def _problems(self) -> dict[str, str]:
        """Checks the schema cannot state, as ``{key: message}``; none by default."""
        return {}

    @classmethod
    def config_keys(cls) -> set[str]:
        """The section keys that are fields of the class.

        Returns
        -------
        set of str
            The names of the fields that are keys of the class's config section.
        """
        return {f.name for f in dataclasses.fields(cls) if f.name in cls._properties}

    @classmethod
    def check_keys(cls, section: Mapping[str, Any], ignored: tuple[str, ...] = ()) -> None:
        """Raise :class:`OptionsError` naming every key of ``section`` that is not an option.

        Parameters
        ----------
        section : Mapping
            The config section.
        ignored : tuple of str
            Keys of the section that are valid but not fields (read elsewhere).
        """
        known = cls.config_keys() | set(ignored)
        unknown = sorted(set(section) - known)
        if unknown:
            raise OptionsError(
                f"unknown {cls._label} option(s) {unknown}; known options are {sorted(known)}"
            )

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None):
        """The options of a config section, the schema's defaults where it is silent.

        Parameters
        ----------
        section : Mapping or None
            The config section (e.g. ``config["registration"]``); None or empty for the
            defaults.

        Returns
        -------
        SchemaOptions
            An instance of the class.

        Raises
        ------
        OptionsError
            If a key is unknown (naming every such key) or a value is unusable (naming every
            bad key).
        """
        values = dict(section or {})
        cls.check_keys(values)
        return cls(**values)

    def as_config(self) -> dict[str, Any]:
        """The options as a config section (tuples as lists, nested options as sections).

        Returns
        -------
        dict
            ``{key: value}`` for every field that is a key of the section; it validates
            against the section's schema.
        """
        return {name: _jsonable(getattr(self, name)) for name in sorted(self.config_keys())}


def _jsonable(value: Any) -> Any:
    """``value`` in the types JSON Schema checks: lists, dicts, Python numbers."""
    if isinstance(value, SchemaOptions):
        return value.as_config()
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, int)):
        return int(value)  # numpy integers
    return value


def _as_field_value(value: Any, hint: Any) -> Any:
    """A valid ``value`` as the field type ``hint`` holds it (float, int, tuple, dict)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(value, bool):
        return value
    if hint is float and isinstance(value, numbers.Real):
        return float(value)
    if hint is int and isinstance(value, numbers.Real):
        return int(value)
    if origin is tuple and isinstance(value, (list, tuple)):
        item = args[0] if args else Any
        return tuple(_as_field_value(v, item) for v in value)
    if origin in (dict, Mapping) and isinstance(value, Mapping):
        return dict(value)
    return value
