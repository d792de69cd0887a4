"""Shards: a species' pseudo-video cut into runs of whole chunks, one ``propagate`` job each.

A species of thousands of specimens is days of one job; cut into shards it is many jobs that
run side by side on a cluster, and a job that dies loses its own shard only. The number of
shards follows from the sample sheet (the species' targets over ``shard.size``), so Snakemake
knows every job when it plans the DAG; which chunks a shard takes is decided in the job, from
the pseudo-video that rule ``order`` wrote, by :func:`split_chunks`, so the split is the same
in every job and on every rerun.

A shard is named ``{index}-of-{count}`` (1-based): the name alone says which part of which
split it is, so the outputs of an older split with another count never pass for this one's.

Nothing here reads files or imports more than the standard library: ``common.smk`` calls
:func:`shard_count` and :func:`shard_names` while Snakemake plans.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TypeVar

SHARD_NAME = re.compile(r"^(\d+)-of-(\d+)$")
SHARD_PATTERN = r"\d+-of-\d+"
"""The ``{shard}`` wildcard's constraint in the workflow."""

ChunkLike = TypeVar("ChunkLike")


def shard_count(targets: int, size: int) -> int:
    """Return how many shards a species of ``targets`` targets is cut into.

    Parameters
    ----------
    targets : int
        The species' targets (its specimens without a mask).
    size : int
        ``shard.size``: the most targets a shard should hold.

    Returns
    -------
    int
        ``ceil(targets / size)``, at least 1: a species without targets still has one
        (empty) shard, so that its per-species outputs exist.

    Raises
    ------
    ValueError
        If ``size`` is below 1 or ``targets`` is negative.
    """
    if size < 1:
        raise ValueError(f"shard.size must be >= 1, got {size}")
    if targets < 0:
        raise ValueError(f"a species cannot have {targets} targets")
    return max(1, math.ceil(targets / size))


def shard_name(index: int, count: int) -> str:
    """Return the name of shard ``index`` (1-based) of ``count``, e.g. ``2-of-5``.

    Parameters
    ----------
    index : int
        The shard, 1..count.
    count : int
        The species' shards.

    Returns
    -------
    str
        The name, used as the ``{shard}`` wildcard and as the folder of the shard's outputs.

    Raises
    ------
    ValueError
        If ``index`` is not in 1..count.
    """
    if not 1 <= index <= count:
        raise ValueError(f"shard {index} does not exist in a split into {count}")
    return f"{index}-of-{count}"


def shard_names(count: int) -> list[str]:
    """Return the names of all shards of a split into ``count``, in order.

    Parameters
    ----------
    count : int
        The species' shards.

    Returns
    -------
    list of str
        ``1-of-count`` .. ``count-of-count``.
    """
    return [shard_name(index, count) for index in range(1, count + 1)]


def parse_shard(name: str) -> tuple[int, int]:
    """Return ``(index, count)`` of a shard name written by :func:`shard_name`.

    Parameters
    ----------
    name : str
        E.g. ``2-of-5``.

    Returns
    -------
    tuple of int
        The 1-based index and the count.

    Raises
    ------
    ValueError
        If the name is not of that form or the index is out of range.
    """
    match = SHARD_NAME.match(str(name))
    if not match:
        raise ValueError(f"a shard is named INDEX-of-COUNT (e.g. 1-of-3), got {name!r}")
    index, count = int(match.group(1)), int(match.group(2))
    shard_name(index, count)  # checks the range
    return index, count


def split_chunks(chunks: Sequence[ChunkLike], count: int) -> list[list[ChunkLike]]:
    """Cut chunks into ``count`` runs of whole, consecutive chunks with similar target counts.

    Whole chunks, because a chunk is what an engine tracks through (SAM 2's memory runs
    along it); consecutive, so that the shards joined in order are the pseudo-video again
    and the gathered tables list the targets as one job would. Each cut is the chunk boundary
    nearest to an even share of the targets, kept so that every shard gets at least one chunk
    while there are chunks enough (with fewer chunks than shards the last shards are empty).

    Parameters
    ----------
    chunks : sequence
        The pseudo-video's chunks in order (anything with a ``targets`` list).
    count : int
        The number of shards (:func:`shard_count`).

    Returns
    -------
    list of list
        ``count`` lists of chunks, in order; joined they are ``chunks``.

    Raises
    ------
    ValueError
        If ``count`` is below 1.
    """
    if count < 1:
        raise ValueError(f"a split needs at least one shard, got {count}")
    sizes = [len(chunk.targets) for chunk in chunks]
    before = [0]
    for size in sizes:
        before.append(before[-1] + size)  # targets before each boundary
    total = before[-1]
    cuts = [0]
    for shard in range(1, count):
        low = min(cuts[-1] + 1, len(chunks))
        high = max(low, len(chunks) - (count - shard))
        goal = total * shard / count
        # nearest boundary to an even share; ties go to the earlier boundary
        cuts.append(min(range(low, high + 1), key=lambda b: (abs(before[b] - goal), b)))
    cuts.append(len(chunks))
    return [list(chunks[cuts[i] : cuts[i + 1]]) for i in range(count)]
