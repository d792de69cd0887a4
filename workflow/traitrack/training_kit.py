"""What every training loop of traitrack shares: the rate schedule, the resumable state, the
loss table and its plot.

Palindrome fine-tuning (:mod:`traitrack.finetune.train`, one row per optimiser step) and the
student (:mod:`traitrack.selftrain.student`, one row per epoch) are two loops with one kit:

- the learning rate: a cosine from the peak rate towards 0 (:func:`cosine_rate`), times an
  optional linear warm-up (:func:`warmup_factor`);
- the resumable state (:func:`save_training`, :func:`load_training`): the weights, the
  optimiser, the loss rows so far and how far the training got, under a key of everything the
  weights depend on; written atomically, read with ``weights_only=True``, and a state of
  another key (other settings or inputs) or an unreadable one is ignored, so a killed job
  resumes to the weights an uninterrupted one would have produced and never mixes two trainings;
- the loss plot (:func:`write_loss_plot`); the loss table is written by
  :func:`traitrack.io.write_table`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from matplotlib.figure import Figure

from traitrack.io import atomic_output

log = logging.getLogger(__name__)


def cosine_rate(base: float, position: float, total: float) -> float:
    """Cosine decay from ``base`` at ``position`` 0 towards 0 at ``total`` (steps or epochs)."""
    return base * 0.5 * (1 + math.cos(math.pi * position / max(total, 1)))


def warmup_factor(step: int, warmup_steps: float) -> float:
    """The linear warm-up's factor at optimiser step ``step`` (from 0): ``(step + 1) /
    (warmup_steps + 1)`` during the first ``warmup_steps`` steps, then 1."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    return 1.0


@dataclass(frozen=True)
class SavedTraining:
    """A training state read back by :func:`load_training`.

    Attributes
    ----------
    progress : int
        How far the training got: steps (fine-tuning) or epochs (the student) done.
    weights : dict of str to torch.Tensor
        The learning weights by name (a state dict, or the named trainable parameters).
    optimiser : dict
        The optimiser's ``state_dict()``.
    rows : list of dict
        The loss rows so far.
    """

    progress: int
    weights: dict
    optimiser: dict
    rows: list


def save_training(
    path: str | os.PathLike,
    *,
    key: str,
    progress: int,
    weights: Mapping[str, torch.Tensor],
    optimiser: torch.optim.Optimizer,
    rows: Sequence[Mapping],
) -> None:
    """Write the resumable state of a training, atomically.

    Parameters
    ----------
    path : str or PathLike
        The state file.
    key : str
        What the weights depend on (settings, model, training set): a later run resumes only
        a state with its own key.
    progress : int
        Steps or epochs done.
    weights : Mapping
        The learning weights by name; stored on the CPU.
    optimiser : torch.optim.Optimizer
        Its state is stored with them.
    rows : sequence of Mapping
        The loss rows so far (numbers and strings only).
    """
    payload = {
        "key": key,
        "progress": int(progress),
        "weights": {name: tensor.detach().cpu().clone() for name, tensor in weights.items()},
        "optimiser": optimiser.state_dict(),
        "rows": [{k: _plain(v) for k, v in row.items()} for row in rows],
    }
    with atomic_output(path) as temporary:
        torch.save(payload, temporary)


def _plain(value):
    """A numpy or torch scalar as a Python number (``weights_only`` loading refuses numpy)."""
    return value.item() if hasattr(value, "item") else value


def load_training(path: str | os.PathLike | None, *, key: str) -> SavedTraining | None:
    """Read a state written by :func:`save_training` if it belongs to this run.

    Returns
    -------
    SavedTraining or None
        ``None`` when there is no file, it cannot be read, or it has another key (resuming it
        would mix two trainings): the training then starts from the beginning.
    """
    if path is None or not Path(path).is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # atomic writes leave no half file, but a foreign one may be there
        log.warning("ignoring the training state %s, which cannot be read: %s", path, error)
        return None
    if not isinstance(payload, dict) or payload.get("key") != key:
        return None
    return SavedTraining(
        int(payload["progress"]), payload["weights"], payload["optimiser"], list(payload["rows"])
    )


def write_loss_plot(
    path: str | Path,
    table: pd.DataFrame,
    *,
    columns: Sequence[str],
    ylabel: str,
    xlabel: str,
    title: str = "",
    window: int = 1,
    points: str | None = None,
    breaks: Sequence[float] = (),
) -> None:
    """A loss plot (PNG, atomically): each of ``columns`` against the row number.

    Parameters
    ----------
    path : str or Path
        The PNG.
    table : pandas.DataFrame
        One row per step or epoch; an empty table gives empty axes.
    columns : sequence of str
        The lines, each a running mean over ``window`` rows (1: the values themselves).
    ylabel, xlabel, title : str
        The axes' labels and the title.
    window : int
        The running mean's length, at most a fifth of the rows.
    points : str, optional
        A column also drawn as grey points, unsmoothed (the noisy per-step loss).
    breaks : sequence of float
        Row positions marked by dotted vertical lines (where a new training starts).
    """
    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    axes = figure.add_subplot()
    if not table.empty:
        x = range(1, len(table) + 1)
        window = max(1, min(window, len(table) // 5 or 1))
        if points is not None:
            axes.plot(x, table[points], ".", color="0.7", markersize=3, label=points)
        for column in columns:
            values = table[column].rolling(window, min_periods=1).mean()
            label = column.replace("_", " ") + (f" (mean of {window})" if window > 1 else "")
            axes.plot(x, values, linewidth=1, label=label)
        for position in breaks:
            axes.axvline(position, color="grey", linestyle=":", linewidth=1)
        axes.legend(fontsize=7, ncol=2, frameon=False)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary)
