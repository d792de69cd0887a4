"""What palindrome fine-tuning trains on: the pool's templates and targets, and the step order.

A species is trained on its templates (rows with a ``mask``) and its unlabelled specimens
(targets); ``pool: genus`` or ``all`` widens both to the species' genus or the whole sheet.
Targets whose ``gt_mask`` is kept for evaluation are left out unless ``allow_gt_targets`` says
otherwise, so fine-tuning never sees the specimens it will be scored on.

Each step draws one template and one target.  The draw is a function of (seed, step) only,
so a job restarted at step k draws what the killed job would have drawn, and it cycles through
shuffled rounds: every template is visited once in each round of ``len(templates)`` steps,
every target once in each round of ``len(targets)`` steps (one epoch).

Images and masks go through the same code as inference: :mod:`traitrack.letterbox`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from traitrack.letterbox import (
    fit_letterbox,
    letterbox_image,
    letterbox_mask,
    normalise_image,
)
from traitrack.samples import Specimen, TrainingSet, training_set  # noqa: F401  (re-exported)
from traitrack.specimen_store import read_template_labels
from traitrack.structures import StructureTable


@dataclass(frozen=True)
class PairSampler:
    """The (template, target) indices of every step, reproducible from (seed, step) alone.

    Attributes
    ----------
    templates : int
        How many templates there are to draw from.
    targets : int
        How many targets there are to draw from.
    seed : int
        The run's seed.
    """

    templates: int
    targets: int
    seed: int = 0

    def pair(self, step: int) -> tuple[int, int]:
        """Return the (template, target) indices of step ``step``.

        Parameters
        ----------
        step : int
            The training step, from 0.

        Returns
        -------
        tuple of int
            Indices into the templates and into the targets.
        """
        return _shuffled_round(step, self.templates, self.seed, 0), _shuffled_round(
            step, self.targets, self.seed, 1
        )


def _shuffled_round(step: int, count: int, seed: int, stream: int) -> int:
    """Position ``step`` of a sequence of independent shuffles of ``range(count)``."""
    round_index, position = divmod(step, count)
    order = np.random.default_rng([seed, stream, round_index]).permutation(count)
    return int(order[position])


def model_input(image: np.ndarray, size: int) -> torch.Tensor:
    """Turn an RGB uint8 frame into the normalised (1, 3, S, S) letterboxed model input.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) RGB uint8 frame.
    size : int
        The model's square input side ``S``.

    Returns
    -------
    torch.Tensor
        (1, 3, S, S) float32, as inference feeds the model.
    """
    return normalise_image(letterbox_image(image, fit_letterbox(*image.shape[:2], size)))


def structure_masks(labels: np.ndarray, count: int, size: int) -> torch.Tensor:
    """Split a label map into (N, S, S) boolean letterboxed masks, structure i in row i - 1.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) label map (0 background, 1..N structures).
    count : int
        The number of structures N.
    size : int
        The model's square input side ``S``.

    Returns
    -------
    torch.Tensor
        (N, S, S) bool.
    """
    square = torch.from_numpy(
        letterbox_mask(labels, fit_letterbox(*labels.shape[:2], size)).astype(np.int64)
    )
    return square[None] == torch.arange(1, count + 1)[:, None, None]


@dataclass(frozen=True)
class Template:
    """A template ready for the cycle: its sample-sheet row and letterboxed masks.

    Attributes
    ----------
    specimen : Specimen
        The template's row (name and image file).
    masks : torch.Tensor
        (N, S, S) bool, one letterboxed mask per structure.
    """

    specimen: Specimen
    masks: torch.Tensor


def load_templates(
    templates: tuple[Specimen, ...], structures: StructureTable, size: int
) -> list[Template]:
    """Read every template's mask once (they are few and used at every step).

    Parameters
    ----------
    templates : tuple of Specimen
        The training set's templates.
    structures : StructureTable
        The part table, to read the masks.
    size : int
        The model's square input side.

    Returns
    -------
    list of Template
        One per template, in the given order.
    """
    loaded = []
    for specimen in templates:
        labels = read_template_labels(specimen, structures)
        loaded.append(Template(specimen, structure_masks(labels, len(structures), size)))
    return loaded


def file_key(specimen: Specimen, size: int) -> str:
    """Return a feature-cache key naming the specimen and its image file's size and time stamp.

    A changed image file gets a new key, so stale features are never reused.

    Parameters
    ----------
    specimen : Specimen
        The sample-sheet row.
    size : int
        The model's square input side.

    Returns
    -------
    str
        ``<specimen>-<size>-<bytes>-<mtime_ns>``.
    """
    stat = Path(specimen.image).stat()
    return f"{specimen.specimen}-{size}-{stat.st_size}-{stat.st_mtime_ns}"
