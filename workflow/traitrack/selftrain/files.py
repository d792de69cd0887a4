"""The student's files: its weights (read with ``weights_only=True``), loss table and plot.

Each is written atomically, so a killed ``train_student`` job leaves no half-written output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from traitrack.io import atomic_output, write_table
from traitrack.selftrain.options import StudentOptions
from traitrack.selftrain.student import build_network
from traitrack.structures import StructureTable
from traitrack.training_kit import write_loss_plot


def save_weights(
    path: str | Path, network: torch.nn.Module, structures: StructureTable, options: StudentOptions
) -> None:
    """Write the trained student (a plain dict of tensors, strings and numbers), atomically."""
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
        "structures": [s.name for s in structures],
        "options": options.fingerprint(),
    }
    with atomic_output(path) as temporary:
        torch.save(payload, temporary)


def load_weights(path: str | Path, structures: StructureTable) -> torch.nn.Module:
    """Read a student written by :func:`save_weights` (``weights_only=True``), eval mode.

    Raises
    ------
    ValueError
        If the file's structures are not the config's.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    names = [s.name for s in structures]
    if payload["structures"] != names:
        raise ValueError(
            f"{path}: the student was trained on structures {payload['structures']}, the config "
            f"declares {names}; train it again (rule train_student)"
        )
    options = StudentOptions.from_config({**payload["options"], "init_weights": ""})
    network = build_network(len(names) + 1, options, pretrained=False)
    network.load_state_dict(payload["state_dict"])
    network.eval()
    return network


def write_losses(losses: pd.DataFrame, table: str | Path, plot: str | Path | None = None) -> None:
    """The loss table (TSV) and, if ``plot`` is given, its plot (PNG), both atomically.

    The generations' epochs follow each other in the plot, each starting at a dotted line.
    """
    write_table(table, losses)
    if plot is None:
        return
    generations = losses.get("generation", pd.Series(1, index=losses.index)).to_numpy()
    starts = 1 + np.flatnonzero(generations[1:] != generations[:-1])
    write_loss_plot(
        plot,
        losses,
        columns=("loss", "cross_entropy", "dice"),
        ylabel="weighted loss",
        xlabel="epoch" if generations.max(initial=1) == 1 else "epoch, generation after generation",
        title="student",
        breaks=[start + 0.5 for start in starts],
    )
