"""The part table: which structures a species has and how each input format encodes them.

Structures are declared once in the config.  Internally, label 0 is background and the
structure declared at position ``i`` has label ``i + 1``; every reader maps its input encoding
(RGB colours, integer values, COCO/labelme category names) onto these labels, and every writer
maps back.  Keeping the mapping in one table means no module guesses an encoding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MEASUREMENT_KINDS = ("blob", "thin")
PIECES = ("templates", "any")


@dataclass(frozen=True)
class Structure:
    """One part of a specimen (head, elytra, legs ...).

    Attributes
    ----------
    name : str
        Slug used in file and column names.
    label : int
        Internal label value (1..N).
    colour : tuple of int
        Display colour for overlays, RGB 0-255.
    kind : str
        ``blob`` (compact part) or ``thin`` (legs, antennae: also gets a centre-line length).
    rgb : tuple of int or None
        Colour of this part in RGB colour-coded mask PNGs.
    value : int or None
        Integer value of this part in single-channel label mask PNG/TIFFs.
    category : str
        Category/label name in COCO and labelme JSON (defaults to ``name``).
    pieces : str
        ``templates`` (a prediction keeps as many pieces as its templates have,
        :mod:`traitrack.pieces`) or ``any``; defaults to ``templates`` for ``blob`` parts and
        ``any`` for ``thin`` ones.
    """

    name: str
    label: int
    colour: tuple[int, int, int]
    kind: str = "blob"
    rgb: tuple[int, int, int] | None = None
    value: int | None = None
    category: str = ""
    pieces: str = ""

    def __post_init__(self) -> None:
        if self.kind not in MEASUREMENT_KINDS:
            raise ValueError(
                f"structure {self.name!r}: kind must be one of {MEASUREMENT_KINDS}, got {self.kind!r}"
            )
        if not self.category:
            object.__setattr__(self, "category", self.name)
        if not self.pieces:
            object.__setattr__(self, "pieces", "templates" if self.kind == "blob" else "any")
        if self.pieces not in PIECES:
            raise ValueError(
                f"structure {self.name!r}: pieces must be one of {PIECES}, got {self.pieces!r}"
            )


@dataclass(frozen=True)
class StructureTable:
    """All structures of a run plus how background is encoded in each input format.

    Attributes
    ----------
    structures : tuple of Structure
        In declaration order; structure ``i`` (from 0) has label ``i + 1``.
    background_rgb : tuple of int
        Background's colour in RGB colour-coded masks.
    background_value : int
        Background's value in single-channel masks.
    ignore_values : tuple of int
        Further single-channel values read as background.
    """

    structures: tuple[Structure, ...]
    background_rgb: tuple[int, int, int] = (0, 0, 0)
    background_value: int = 0
    ignore_values: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [s.name for s in self.structures]
        if len(set(names)) != len(names):
            raise ValueError(f"structure names must be unique, got {names}")
        for index, structure in enumerate(self.structures):
            if structure.label != index + 1:
                raise ValueError("structure labels must be 1..N in declaration order")

    def __len__(self) -> int:
        return len(self.structures)

    def __iter__(self):
        return iter(self.structures)

    @property
    def names(self) -> list[str]:
        """The structures' names, in label order."""
        return [s.name for s in self.structures]

    @property
    def labels(self) -> list[int]:
        """The structures' labels, 1..N."""
        return [s.label for s in self.structures]

    @property
    def thin_labels(self) -> tuple[int, ...]:
        """The labels of the ``kind: thin`` structures (legs, antennae), in label order."""
        return tuple(s.label for s in self.structures if s.kind == "thin")

    def by_name(self, name: str) -> Structure:
        """Return the structure called ``name``.

        Parameters
        ----------
        name : str
            A structure's name.

        Returns
        -------
        Structure
            The structure.

        Raises
        ------
        KeyError
            If no structure has that name; the message lists the known ones.
        """
        for structure in self.structures:
            if structure.name == name:
                return structure
        raise KeyError(f"no structure named {name!r}; known: {self.names}")

    def by_label(self, label: int) -> Structure:
        """Return the structure with internal label ``label``.

        Parameters
        ----------
        label : int
            An internal label, 1..N.

        Returns
        -------
        Structure
            The structure.
        """
        return self.structures[label - 1]

    def rgb_lookup(self) -> dict[tuple[int, int, int], int]:
        """Map RGB colours to internal labels, background included (maps to 0).

        Returns
        -------
        dict of tuple to int
            Colour -> label, for the structures that declare ``rgb``.
        """
        lookup = {tuple(self.background_rgb): 0}
        lookup.update({s.rgb: s.label for s in self.structures if s.rgb is not None})
        return lookup

    def value_lookup(self) -> dict[int, int]:
        """Map single-channel values to internal labels, background included (maps to 0).

        Returns
        -------
        dict of int to int
            Value -> label, for the structures that declare ``value``; ``background_value``
            and ``ignore_values`` map to 0.
        """
        lookup = {int(self.background_value): 0}
        lookup.update({int(v): 0 for v in self.ignore_values})
        lookup.update({s.value: s.label for s in self.structures if s.value is not None})
        return lookup

    def category_lookup(self) -> dict[str, int]:
        """Map COCO / labelme category names to internal labels.

        Returns
        -------
        dict of str to int
            Category -> label.
        """
        return {s.category: s.label for s in self.structures}

    def palette(self) -> dict[int, tuple[int, int, int]]:
        """Map internal labels to their display colours.

        Returns
        -------
        dict of int to tuple of int
            Label -> RGB 0-255.
        """
        return {s.label: s.colour for s in self.structures}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StructureTable:
        """Build the table from the validated config.

        Parameters
        ----------
        config : Mapping
            The config; its ``structures`` list and optional ``background`` section are read.

        Returns
        -------
        StructureTable
            The table, labels 1..N in the config's order.
        """
        background = config.get("background", {}) or {}
        return cls(
            structures=tuple(
                _structure_from_entry(index + 1, entry)
                for index, entry in enumerate(config["structures"])
            ),
            background_rgb=tuple(background.get("rgb", (0, 0, 0))),
            background_value=int(background.get("value", 0)),
            ignore_values=tuple(int(v) for v in background.get("ignore_values", ())),
        )

    def subset(self, names: Iterable[str]) -> StructureTable:
        """Return a table of only some structures, relabelled 1..M.

        Used by benchmarks that vary the number of structures.

        Parameters
        ----------
        names : iterable of str
            The structures to keep, in their new order.

        Returns
        -------
        StructureTable
            The smaller table, background encodings unchanged.
        """
        picked = [self.by_name(n) for n in names]
        return StructureTable(
            structures=tuple(
                Structure(s.name, i + 1, s.colour, s.kind, s.rgb, s.value, s.category)
                for i, s in enumerate(picked)
            ),
            background_rgb=self.background_rgb,
            background_value=self.background_value,
            ignore_values=self.ignore_values,
        )


def _structure_from_entry(label: int, entry: Mapping[str, Any]) -> Structure:
    rgb = entry.get("rgb")
    return Structure(
        name=entry["name"],
        label=label,
        colour=tuple(int(c) for c in entry.get("colour", rgb or _default_colour(label))),
        kind=entry.get("kind", "blob"),
        rgb=tuple(int(c) for c in rgb) if rgb is not None else None,
        value=int(entry["value"]) if entry.get("value") is not None else None,
        category=entry.get("category", entry["name"]),
        pieces=entry.get("pieces", ""),
    )


_TAB10 = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


def _default_colour(label: int) -> tuple[int, int, int]:
    return _TAB10[(label - 1) % len(_TAB10)]
