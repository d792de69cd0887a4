"""config/README.md's key tables, written from the config schema (``make docs``).

The schema (``workflow/schemas/config.schema.yaml``) is the one home of every key's default
and description; the README's tables under "## Keys" and "### `section` options" are
generated from it, so the two cannot say different things
(``tests/test_config_reference.py`` checks the file is current). A key's ``default`` cell is
its schema ``default``, or ``x-default-doc`` where the default depends on something else
(``the rule's own``), ``required`` for a required key, else ``none``.

Run ``python -m traitrack.config_reference config/README.md`` to rewrite the tables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

#: the sections with a table of their own, under "### `section` options"
SUBSECTIONS = (
    "split",
    "registration",
    "sam2",
    "finetune",
    "self_training",
    "self_training.student",
)
#: keys of a mapping whose names the user chooses, as the README writes them
PLACEHOLDERS = {"resources": "<rule>"}
TABLE_HEADER = ["| key | default | meaning |", "|---|---|---|"]


def schema_keys(schema: dict, prefix: str = "") -> list[tuple[str, dict, bool]]:
    """Every key of the schema in its order: (the README's name of it, its schema, required)."""
    keys = []
    required = set(schema.get("required", ()))
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        keys.append((key, sub, name in required))
        keys += schema_keys(sub, key)
        items = sub.get("items")
        if isinstance(items, dict) and "properties" in items:
            keys += schema_keys(items, f"{key}[]")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            placeholder = f"{key}.{PLACEHOLDERS[key]}"
            keys.append((placeholder, extra, False))
            keys += schema_keys(extra, placeholder)
    return keys


def default_cell(schema: dict, required: bool) -> str:
    """The ``default`` column: the schema's default in YAML flow style, backticked."""
    if "x-default-doc" in schema:
        return schema["x-default-doc"]
    if schema.get("default") == "":
        return '`""`'
    if "default" in schema:
        text = yaml.safe_dump(schema["default"], default_flow_style=True, width=10_000)
        return f"`{text.strip().removesuffix('...').strip()}`"
    return "required" if required else "none"


def section_of(key: str) -> str:
    """The table a key's row is in: the longest subsection it lies in, else ``""``."""
    inside = [s for s in SUBSECTIONS if key.startswith(s + ".")]
    return max(inside, key=len) if inside else ""


def key_tables(schema: dict) -> dict[str, list[str]]:
    """Every table's rows (header included), by section (``""`` for "## Keys")."""
    tables: dict[str, list[str]] = {section: list(TABLE_HEADER) for section in ("", *SUBSECTIONS)}
    for key, sub, required in schema_keys(schema):
        section = section_of(key)
        name = key[len(section) + 1 :] if section else key
        meaning = " ".join(str(sub.get("description", "")).split()).replace("|", "\\|")
        tables[section].append(f"| `{name}` | {default_cell(sub, required)} | {meaning} |")
    return tables


def with_tables(readme: str, schema: dict) -> str:
    """The README with every key table replaced by the schema's.

    Raises
    ------
    ValueError
        If a section's heading or table is missing from the README.
    """
    lines = readme.splitlines()
    for section, rows in key_tables(schema).items():
        heading = "## Keys" if not section else f"### `{section}` options"
        if heading not in lines:
            raise ValueError(f"config/README.md lacks the heading {heading!r}")
        start = lines.index(TABLE_HEADER[0], lines.index(heading))
        end = start
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        lines[start:end] = rows
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the README's key tables from the schema: ``README [SCHEMA]``."""
    argv = sys.argv[1:] if argv is None else argv
    readme = Path(argv[0])
    schema_path = Path(argv[1]) if len(argv) > 1 else Path("workflow/schemas/config.schema.yaml")
    schema = yaml.safe_load(schema_path.read_text())
    readme.write_text(with_tables(readme.read_text(), schema))
    return 0


if __name__ == "__main__":
    sys.exit(main())
