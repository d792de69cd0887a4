"""Stage of ``bulk.smk``: which targets the teacher labels when the student is the engine.

With ``self_training.student.bulk`` the teacher (``propagate``, and ``pseudo_round``) runs on
the pseudo-video ``run_bulk_sample`` writes: the species' own, cut to a sample of its targets
(:mod:`traitrack.selftrain.bulk`); ``train_student`` learns from the templates and those
labels, and ``predict_student`` labels every target of the full pseudo-video.
"""

from __future__ import annotations

import logging
from pathlib import Path

from traitrack.describe import load_ranking_descriptors
from traitrack.io import write_table
from traitrack.order import read_pseudovideo, write_pseudovideo
from traitrack.selftrain.bulk import choose_sample, restrict_chunks
from traitrack.species_context import SpeciesContext

log = logging.getLogger(__name__)


def run_bulk_sample(
    context: SpeciesContext,
    *,
    descriptors: str | Path,
    pseudovideo: str | Path,
    size: int,
    sample_out: str | Path,
    pseudovideo_out: str | Path,
) -> None:
    """Choose the targets the teacher labels and cut the pseudo-video to them.

    Parameters
    ----------
    context : SpeciesContext
        The species: its targets and its own templates.
    descriptors : str or Path
        The species' ``descriptors.npz`` (rule ``describe``), read as ``annotate_next``
        reads it (:func:`~traitrack.describe.load_ranking_descriptors`).
    pseudovideo : str or Path
        The species' ``pseudovideo.json`` (rule ``order``).
    size : int
        ``self_training.student.bulk_sample``: how many targets the teacher labels.
    sample_out : str or Path
        ``bulk/sample.tsv``: the chosen targets in the order they were chosen
        (:func:`~traitrack.selftrain.bulk.choose_sample`).
    pseudovideo_out : str or Path
        ``bulk/pseudovideo.json``: the teacher's pseudo-video.
    """
    species = context.species
    names, vectors = load_ranking_descriptors(descriptors)
    index = {name: i for i, name in enumerate(names)}
    targets = [m.specimen for m in context.targets]
    templates = [m.specimen for m in context.members if m.is_template]
    shape = vectors.shape[1:]
    sample = choose_sample(
        targets,
        vectors[[index[t] for t in targets]].reshape(len(targets), *shape),
        vectors[[index[t] for t in templates]].reshape(len(templates), *shape),
        size,
    )
    mode, chunks = read_pseudovideo(pseudovideo)
    kept = restrict_chunks(chunks, set(sample["specimen"]))
    write_table(sample_out, sample)
    write_pseudovideo(pseudovideo_out, species, mode, kept)
    log.info(
        "bulk %s: the teacher labels %d of %d targets (%d chunks); the student the rest",
        species,
        len(sample),
        len(targets),
        len(kept),
    )
