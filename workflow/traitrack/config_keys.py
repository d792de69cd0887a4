"""Unknown config keys at every level, each named with the nearest valid key.

A misspelt key (``selcet:`` for ``select:``, ``propagte`` under ``resources:``) would otherwise
be ignored and the run would go on with the defaults, silently changing the results. JSON
Schema's own message ("Additional properties are not allowed") names neither the nearest key
nor where it sits in the file, so both the Snakefile (``workflow/rules/common.smk``) and the
``traitrack`` command (:func:`traitrack.config.validate_config`) call :func:`check_config_keys`
before the schema validation. It needs only the standard library, so planning the DAG stays
light.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any


class UnknownKeyError(ValueError):
    """The config has keys the schema does not know; the message lists every one."""


def nearest(name: str, valid: list[str] | tuple[str, ...]) -> str | None:
    """The valid name nearest to ``name`` (difflib's ratio >= 0.6), or None.

    Parameters
    ----------
    name : str
        The unknown key.
    valid : sequence of str
        The keys valid at its place.

    Returns
    -------
    str or None
        The closest valid key, None when none is close.
    """
    matches = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_keys(config: Any, schema: Mapping[str, Any], path: str = "") -> list[str]:
    """Every unknown key of ``config`` under ``schema``, each as one line of the error.

    Objects with ``properties`` accept only those keys (the top level too); a mapping whose
    keys the user chooses (``additionalProperties`` a schema) accepts the names its
    ``propertyNames.enum`` lists (``resources:`` takes rule names only); lists of objects
    (``structures``) are checked item by item.

    Parameters
    ----------
    config : Any
        The config, or a value in it.
    schema : Mapping
        The schema of that value.
    path : str
        Where the value sits, as config/README.md writes it (``registration``, ``structures[2]``).

    Returns
    -------
    list of str
        ``"`path.key`: did you mean `near`?"`` or ``"`path.key`: unknown key; valid keys are
        [...]"``, in the config's order; empty when every key is known.
    """
    problems: list[str] = []
    if isinstance(config, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(config):
            problems += unknown_keys(item, schema["items"], f"{path}[{index}]")
        return problems
    if not isinstance(config, Mapping):
        return problems
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    names = schema.get("propertyNames", {}).get("enum")
    if isinstance(extra, Mapping):
        valid = list(names) if names is not None else None
    elif properties:
        valid = list(properties)
    else:
        return problems
    for key, value in config.items():
        where = f"{path}.{key}" if path else str(key)
        if valid is not None and key not in valid:
            problems.append(_unknown(where, key, valid))
            continue
        sub = properties.get(key, extra if isinstance(extra, Mapping) else None)
        if isinstance(sub, Mapping):
            problems += unknown_keys(value, sub, where)
    return problems


def _unknown(where: str, key: Any, valid: list[str]) -> str:
    near = nearest(key, valid)
    if near is not None:
        return f"`{where}`: did you mean `{near}`?"
    return f"`{where}`: unknown key; valid keys here are {sorted(valid)}"


def check_config_keys(config: Mapping[str, Any], schema: Mapping[str, Any], source: str) -> None:
    """Raise :class:`UnknownKeyError` listing every unknown key of ``config`` at once.

    Parameters
    ----------
    config : Mapping
        The whole config.
    schema : Mapping
        The config schema (``workflow/schemas/config.schema.yaml``).
    source : str
        The config file(s), for the message.

    Raises
    ------
    UnknownKeyError
        Naming each unknown key, the nearest valid key and where config/README.md lists them.
    """
    problems = unknown_keys(config, schema)
    if problems:
        raise UnknownKeyError(
            f"{source}: unknown config key(s), which would be ignored:\n  "
            + "\n  ".join(problems)
            + "\nfix the spelling; config/README.md lists every key"
        )
