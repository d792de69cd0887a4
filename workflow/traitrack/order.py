"""Order a species' specimens into pseudo-video chunks.

Specimens of one species look alike, so a tracker can follow each structure from the annotated
templates through a sequence in which neighbouring frames are similar.  A chunk is the unit an
engine sees: its templates first (conditioning frames), then its targets in order.

Modes
-----
chain
    Every target joins its nearest template; from each template a greedy nearest-neighbour chain
    walks through that template's targets, so consecutive frames differ little.  Chains are cut
    into chunks of ``chunk_length`` targets.
pairs
    One chunk per target, conditioned on the templates selected for it (with ``k: 1`` this is the
    template-target pair of the SST paper).
filename
    Targets sorted by specimen name, cut into chunks of ``chunk_length``.

Every target also carries the templates selected for it; a chunk's templates are the union of
its targets' templates, nearest first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from traitrack.describe import pairwise_distances

ORDER_MODES = ("chain", "pairs", "filename")


@dataclass
class Chunk:
    """Templates (conditioning frames) then targets, and each target's own templates.

    Attributes
    ----------
    templates : list of str
        The chunk's templates, nearest first: the union of its targets' templates.
    targets : list of str
        The targets in the order the engine sees them.
    target_templates : dict of str to list of str
        Each target's own selected templates, by rank.
    """

    templates: list[str]
    targets: list[str]
    target_templates: dict[str, list[str]] = field(default_factory=dict)


def templates_by_target(selection: pd.DataFrame) -> dict[str, list[str]]:
    """Map every target to its templates, by rank, from the select table.

    Parameters
    ----------
    selection : pandas.DataFrame
        The select table (target, rank, template, distance).

    Returns
    -------
    dict of str to list of str
        Target -> its templates, nearest first.
    """
    ordered = selection.sort_values(["target", "rank"])
    return {t: list(g["template"]) for t, g in ordered.groupby("target", sort=False)}


def build_chunks(
    mode: str,
    selection: pd.DataFrame,
    descriptors: Mapping[str, np.ndarray],
    chunk_length: int,
) -> list[Chunk]:
    """Order a species' targets into pseudo-video chunks (modes in the module docstring).

    Parameters
    ----------
    mode : str
        One of :data:`ORDER_MODES`.
    selection : pandas.DataFrame
        The select table (target, rank, template, distance).
    descriptors : Mapping of str to numpy.ndarray
        Specimen -> descriptor vector, for targets and templates.
    chunk_length : int
        Maximum number of targets per chunk (``pairs`` ignores it).

    Returns
    -------
    list of Chunk
        Every target in exactly one chunk.

    Raises
    ------
    ValueError
        If ``mode`` is unknown or ``chunk_length`` is below 1.
    """
    if mode not in ORDER_MODES:
        raise ValueError(f"order mode must be one of {ORDER_MODES}, got {mode!r}")
    if chunk_length < 1:
        raise ValueError(f"chunk_length must be >= 1, got {chunk_length}")
    per_target = templates_by_target(selection)
    if mode == "pairs":
        return [
            Chunk(list(t), [target], {target: list(t)}) for target, t in sorted(per_target.items())
        ]
    if mode == "filename":
        sequences = [sorted(per_target)]
    else:
        sequences = _nearest_neighbour_chains(per_target, descriptors)
    chunks = []
    for sequence in sequences:
        for start in range(0, len(sequence), chunk_length):
            targets = sequence[start : start + chunk_length]
            chunks.append(
                Chunk(
                    _union_in_rank_order(targets, per_target),
                    targets,
                    {t: per_target[t] for t in targets},
                )
            )
    return chunks


def _nearest_neighbour_chains(
    per_target: Mapping[str, list[str]], descriptors: Mapping[str, np.ndarray]
) -> list[list[str]]:
    """One greedy chain per template through the targets whose nearest template it is."""
    groups: dict[str, list[str]] = {}
    for target in sorted(per_target):
        groups.setdefault(per_target[target][0], []).append(target)
    chains = []
    for template in sorted(groups):
        members = groups[template]
        vectors = np.stack([descriptors[m] for m in members])
        current = descriptors[template][None, :]
        remaining = list(range(len(members)))
        chain = []
        while remaining:
            distances = pairwise_distances(current, vectors[remaining])[0]
            pick = remaining.pop(int(np.argmin(distances)))
            chain.append(members[pick])
            current = vectors[pick][None, :]
        chains.append(chain)
    return chains


def _union_in_rank_order(targets: Sequence[str], per_target: Mapping[str, list[str]]) -> list[str]:
    """Union of the targets' templates, by best rank then first appearance."""
    best: dict[str, tuple[int, int]] = {}
    for position, target in enumerate(targets):
        for rank, template in enumerate(per_target[target]):
            best[template] = min(best.get(template, (rank, position)), (rank, position))
    return sorted(best, key=lambda t: best[t])


def write_pseudovideo(path: str | Path, species: str, mode: str, chunks: Sequence[Chunk]) -> None:
    """Write a species' chunks as ``pseudovideo.json`` (atomically).

    Parameters
    ----------
    path : str or Path
        The JSON file.
    species : str
        The species slug, recorded in the file.
    mode : str
        The order mode the chunks were built with, recorded in the file.
    chunks : sequence of Chunk
        The chunks, in order.
    """
    from traitrack.io import atomic_output

    document = {"species": species, "mode": mode, "chunks": [asdict(c) for c in chunks]}
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(document, indent=1))


def read_pseudovideo(path: str | Path) -> tuple[str, list[Chunk]]:
    """Read ``pseudovideo.json`` as written by :func:`write_pseudovideo`.

    Parameters
    ----------
    path : str or Path
        The JSON file.

    Returns
    -------
    mode : str
        The order mode.
    chunks : list of Chunk
        The chunks, in order.
    """
    document = json.loads(Path(path).read_text())
    return document["mode"], [Chunk(**c) for c in document["chunks"]]
