"""What palindrome fine-tuning trains on: the pool's templates and targets, and the step order.

A species is trained on its templates (rows with a ``mask``) and its unlabelled specimens
(targets); ``pool: genus`` or ``all`` widens both to the species' genus or the whole sheet.
Targets whose ``gt_mask`` is kept for evaluation are left out unless ``allow_gt_targets`` says
otherwise, so fine-tuning never sees the specimens it will be scored on.

Each step draws one template and one target.  The draw is a function of (seed, step) only,
so a job restarted at step k draws what the killed job would have drawn, and it cycles through
shuffled rounds: every template is visited once in each round of ``len(templates)`` steps,
every target once in each round of ``len(targets)`` steps (one epoch).

Images and masks go through the same code as inference: :mod:`traitrack.engines.letterbox`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .engines.letterbox import fit_letterbox, letterbox_image, letterbox_mask, normalise_image
from .io import InputError, read_image, read_mask
from .samples import Specimen, specimens
from .structures import StructureTable

POOLS = ("species", "genus", "all")


@dataclass(frozen=True)
class TrainingSet:
    """The specimens one fine-tuning job learns from, in sample-sheet order."""

    species: str
    templates: tuple[Specimen, ...]
    targets: tuple[Specimen, ...]

    @property
    def members(self) -> tuple[Specimen, ...]:
        return self.templates + self.targets


def pool_specimens(sheet: pd.DataFrame, species: str, pool: str = "species") -> list[Specimen]:
    """All rows of the species, of its genus, or of the whole sheet."""
    if pool not in POOLS:
        raise ValueError(f"finetune.pool must be one of {POOLS}, got {pool!r}")
    own = specimens(sheet, species)
    if not own:
        raise InputError(f"no specimen of species {species!r} in the sample sheet")
    if pool == "species":
        return own
    if pool == "genus":
        return [s for s in specimens(sheet) if s.genus == own[0].genus]
    return specimens(sheet)


def training_set(
    sheet: pd.DataFrame, species: str, pool: str = "species", allow_gt_targets: bool = False
) -> TrainingSet:
    """Templates and targets of a species' pool; an empty side is an error saying what to do."""
    rows = pool_specimens(sheet, species, pool)
    templates = tuple(s for s in rows if s.is_template)
    targets = tuple(s for s in rows if not s.is_template and (allow_gt_targets or not s.gt_mask))
    if not templates:
        raise InputError(
            f"fine-tuning {species!r} (finetune.pool: {pool}) found no template (row with a `mask`); "
            "annotate a specimen first or widen finetune.pool to genus or all"
        )
    if not targets:
        held_out = [s.specimen for s in rows if not s.is_template and s.gt_mask]
        hint = (
            f"; {len(held_out)} rows are held out because they have a `gt_mask` "
            "(set finetune.allow_gt_targets: true to train on them too)"
            if held_out
            else ""
        )
        raise InputError(
            f"fine-tuning {species!r} (finetune.pool: {pool}) found no unlabelled specimen{hint}"
        )
    return TrainingSet(species, templates, targets)


@dataclass(frozen=True)
class PairSampler:
    """The (template, target) indices of every step, reproducible from (seed, step) alone."""

    templates: int
    targets: int
    seed: int = 0

    def pair(self, step: int) -> tuple[int, int]:
        return _shuffled_round(step, self.templates, self.seed, 0), _shuffled_round(
            step, self.targets, self.seed, 1
        )


def _shuffled_round(step: int, count: int, seed: int, stream: int) -> int:
    """Position ``step`` of a sequence of independent shuffles of ``range(count)``."""
    round_index, position = divmod(step, count)
    order = np.random.default_rng([seed, stream, round_index]).permutation(count)
    return int(order[position])


def model_input(image: np.ndarray, size: int) -> torch.Tensor:
    """An RGB uint8 frame as the normalised (1, 3, S, S) letterboxed model input."""
    return normalise_image(letterbox_image(image, fit_letterbox(*image.shape[:2], size)))


def structure_masks(labels: np.ndarray, count: int, size: int) -> torch.Tensor:
    """(N, S, S) boolean letterboxed masks of a label map, structure i in row i - 1."""
    square = torch.from_numpy(letterbox_mask(labels, fit_letterbox(*labels.shape[:2], size)).astype(np.int64))
    return square[None] == torch.arange(1, count + 1)[:, None, None]


@dataclass(frozen=True)
class Template:
    """A template ready for the cycle: its name, image file and letterboxed masks."""

    specimen: Specimen
    masks: torch.Tensor


def load_templates(templates: tuple[Specimen, ...], structures: StructureTable, size: int) -> list[Template]:
    """Read every template's mask once (they are few and used at every step)."""
    loaded = []
    for specimen in templates:
        image = read_image(specimen.image)
        labels = read_mask(specimen.mask, structures, specimen.image, image.shape[:2])
        loaded.append(Template(specimen, structure_masks(labels, len(structures), size)))
    return loaded


def file_key(specimen: Specimen, size: int) -> str:
    """A feature-cache key naming the specimen and its image file's size and time stamp."""
    stat = Path(specimen.image).stat()
    return f"{specimen.specimen}-{size}-{stat.st_size}-{stat.st_mtime_ns}"
