"""Stages of ``prepare.smk`` (describe, select, order): from the sample sheet to pseudo-videos.

Each ``run_<rule>`` function reads files, calls the pure functions of the library and writes
its outputs atomically; the workflow's scripts and the ``traitrack`` CLI both call them with
plain values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from traitrack.describe import (
    centre_descriptors,
    describe_specimens,
    hog_descriptor,
    load_descriptors,
    save_descriptors,
)
from traitrack.engines.registration.options import RegistrationOptions
from traitrack.io import read_image, write_table
from traitrack.order import build_chunks, write_pseudovideo
from traitrack.select import NoTemplatesError, nearest_templates, rank_annotation_candidates
from traitrack.species_context import SpeciesContext
from traitrack.working_size import read_working_image

log = logging.getLogger(__name__)


def silhouette_settings(registration: Mapping[str, Any] | RegistrationOptions | None) -> dict:
    """The registration engine's foreground settings, so that ``describe.method: specimen``
    sees the silhouette the engine will register.

    Parameters
    ----------
    registration : Mapping, RegistrationOptions or None
        The config's ``registration`` section (the schema's defaults where it is silent), or
        the engine's options.

    Returns
    -------
    dict
        Keyword arguments of :func:`traitrack.describe.describe_specimens`.
    """
    if not isinstance(registration, RegistrationOptions):
        registration = RegistrationOptions.from_config(registration)
    return {
        "working_size": registration.working_size,
        "grabcut_iterations": registration.grabcut_iterations,
        "foreground_detail": registration.foreground_detail,
    }


def run_describe(
    context: SpeciesContext,
    *,
    out: str | Path,
    method: str,
    thumbnail_size: int,
    seed: int,
    registration: Mapping[str, Any] | None = None,
    sam2: Mapping[str, Any] | None = None,
) -> None:
    """Descriptors of every specimen of a species and of the templates it may borrow.

    Parameters
    ----------
    context : the species (its rows and the templates it borrows, ``select.template_pool``);
        larger photographs than its ``working_megapixels`` are read reduced (``hog`` and
        ``specimen``), one at a time.
    out : the ``descriptors.npz`` to write.
    method : ``specimen``, ``hog``, ``cnn`` or ``sam2`` (config ``describe.method``).
    thumbnail_size : side of the HOG thumbnails (config ``describe.thumbnail_size``).
    seed : the config's seed (GrabCut's draws).
    registration, sam2 : the engines' config sections: ``specimen`` finds silhouettes with the
        registration engine's foreground settings, ``sam2`` pools the SAM 2 encoder.

    Descriptors are centred on their mean (:func:`traitrack.describe.centre_descriptors`):
    one species' common look removed, no photograph becomes everyone's nearest neighbour.
    """
    species = context.species
    members = context.readable
    ranking = None
    # one photograph in memory at a time, read at most at limits.working_megapixels
    images = (
        read_working_image(m.image, context.working_megapixels)
        for m in tqdm(members, desc=f"describe {species}")
    )
    if method == "hog":
        descriptors = np.stack([hog_descriptor(image, thumbnail_size) for image in images])
    elif method == "specimen":
        settings = silhouette_settings(registration)
        rows, thumbnails = [], []
        for image in images:
            rows.append(describe_specimens([image], size=thumbnail_size, seed=seed, **settings))
            # annotate_next ranks by the thumbnail (traitrack.describe.load_ranking_descriptors)
            thumbnails.append(hog_descriptor(image, thumbnail_size))
        descriptors = np.concatenate(rows)
        (ranking,) = centre_descriptors(np.stack(thumbnails))
    elif method == "cnn":
        from traitrack.describe_cnn import cnn_descriptors

        descriptors = cnn_descriptors(images, seed=seed, **silhouette_settings(registration))
    elif method == "sam2":
        from traitrack.engines import make_engine

        engine = make_engine("sam2", sam2, seed=seed)
        descriptors = engine.describe_images([read_image(m.image) for m in members])
    else:
        raise ValueError(f"describe.method must be specimen, hog, cnn or sam2, got {method!r}")
    (descriptors,) = centre_descriptors(descriptors)
    save_descriptors(out, [m.specimen for m in members], descriptors, method, ranking)


def run_select(
    context: SpeciesContext,
    *,
    descriptors: str | Path,
    out: str | Path,
    k: int,
) -> None:
    """The ``k`` nearest templates of every target of the species (``selection.tsv``), from
    its own templates or, with the context's ``pool`` (config ``select.template_pool``), its
    genus' or all.

    A species without templates is an error naming the specimens to annotate first.
    """
    species = context.species
    names, vectors = load_descriptors(descriptors)
    index = {name: i for i, name in enumerate(names)}
    templates = [t.specimen for t in context.templates]
    targets = [s.specimen for s in context.targets]
    if not templates:
        ranking = rank_annotation_candidates(
            targets, vectors[[index[t] for t in targets]], vectors[:0]
        )
        first = ", ".join(ranking["specimen"].head(3))
        raise NoTemplatesError(
            f"species {species!r} has no template (no row with a `mask` in {context.sheet_path}). "
            f"Annotate these specimens first and add their masks to the sample sheet: {first}; "
            "or set `select: template_pool: genus` (or `all`) in the config to borrow templates."
        )
    table = nearest_templates(
        targets,
        vectors[[index[t] for t in targets]].reshape(len(targets), *vectors.shape[1:]),
        templates,
        vectors[[index[t] for t in templates]],
        k=k,
    )
    write_table(out, table)


def run_order(
    context: SpeciesContext,
    *,
    selection: str | Path,
    descriptors: str | Path,
    out: str | Path,
    mode: str,
    chunk_length: int,
) -> None:
    """Pseudo-video chunks of the species (``pseudovideo.json``; config ``order``), from its
    ``selection.tsv`` and ``descriptors.npz``."""
    names, vectors = load_descriptors(descriptors)
    table = pd.read_csv(selection, sep="\t")
    chunks = build_chunks(
        mode, table, {name: vectors[i] for i, name in enumerate(names)}, chunk_length
    )
    write_pseudovideo(out, context.species, mode, chunks)
