"""What every per-species stage starts from, built once: :class:`SpeciesContext`.

A stage of one species (``run_<rule>`` in :mod:`traitrack.stages`) used to read the sample
sheet, pick the species' rows, its templates (borrowed ones included, ``select.template_pool``)
and its targets, and build an image store, each in its own words. The context does that once,
the same way for every stage; the rule's script builds it from the config
(:meth:`SpeciesContext.from_config`) and a test can build it from a sheet in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from traitrack.samples import (
    Specimen,
    read_sample_sheet,
    species_members,
    specimens,
    template_pool,
)
from traitrack.structures import StructureTable


@dataclass(frozen=True, eq=False)
class SpeciesContext:
    """One species of a run: its sheet rows, templates, targets, part table and image store.

    Attributes
    ----------
    species : str
        The species slug.
    sheet : pandas.DataFrame
        The whole sample sheet (:func:`~traitrack.samples.read_sample_sheet`): borrowed
        templates and the store read other species' rows.
    structures : StructureTable
        The part table.
    pool : str
        ``select.template_pool``: where the species' templates come from (``species``,
        ``genus`` or ``all``).
    working_megapixels : float
        ``limits.working_megapixels``: photographs read reduced to this (0: as they are).
    sheet_path : str
        The sample sheet's file, for messages and for stages that hand it on.
    """

    species: str
    sheet: pd.DataFrame
    structures: StructureTable
    pool: str = "species"
    working_megapixels: float = 0.0
    sheet_path: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any], species: str) -> SpeciesContext:
        """The context of one species of a validated config (the schema's defaults filled).

        Parameters
        ----------
        config : Mapping
            The workflow's config: ``samples`` (the sheet, with the trays' crops once they are
            split), ``structures``/``background``, ``select.template_pool`` and
            ``limits.working_megapixels``.
        species : str
            The species slug.
        """
        return cls.from_sheet(
            config["samples"],
            species,
            structures=StructureTable.from_config(config),
            pool=config["select"]["template_pool"],
            working_megapixels=config["limits"]["working_megapixels"],
        )

    @classmethod
    def from_sheet(
        cls,
        path: str | Path,
        species: str,
        *,
        structures: StructureTable,
        pool: str = "species",
        working_megapixels: float = 0.0,
    ) -> SpeciesContext:
        """The context of one species of the sample sheet at ``path``."""
        return cls(
            species,
            read_sample_sheet(path),
            structures,
            pool,
            float(working_megapixels),
            str(path),
        )

    @cached_property
    def members(self) -> list[Specimen]:
        """The species' own rows, in sheet order."""
        return specimens(self.sheet, self.species)

    @cached_property
    def templates(self) -> list[Specimen]:
        """The hand-made templates the species uses: its own, or its pool's (``pool``)."""
        return template_pool(self.sheet, self.species, self.pool)

    @cached_property
    def targets(self) -> list[Specimen]:
        """The species' specimens without a hand-made mask, in sheet order."""
        return [m for m in self.members if not m.is_template]

    @cached_property
    def readable(self) -> list[Specimen]:
        """The rows the species' jobs read: its own, then the templates it borrows."""
        return species_members(self.sheet, self.species, self.pool)

    @cached_property
    def everyone(self) -> list[Specimen]:
        """Every row of the sheet (a store may be asked for any specimen a chunk names)."""
        return specimens(self.sheet)

    def store(self, *, reduced: bool = True, pseudo=None):
        """A :class:`~traitrack.specimen_store.SpecimenStore` over the sheet's rows.

        Parameters
        ----------
        reduced : bool
            Read photographs at the working size (``working_megapixels``); ``False``: as
            they are.
        pseudo : traitrack.propagation.PseudoTemplates, optional
            An earlier round's pseudo-templates.
        """
        from traitrack.specimen_store import SpecimenStore

        megapixels = self.working_megapixels if reduced else 0.0
        return SpecimenStore(self.everyone, self.structures, megapixels, pseudo)
