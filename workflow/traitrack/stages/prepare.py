"""Stages describe, select, order and annotate_next: from the sample sheet to pseudo-videos.

Each ``run_*`` function reads files, calls the pure functions of the library and writes its
outputs atomically; the workflow's scripts and the ``traitrack`` CLI both call them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from tqdm import tqdm

from ..describe import (
    centre_descriptors,
    describe_images,
    describe_specimens,
    load_descriptors,
    load_ranking_descriptors,
    save_descriptors,
)
from ..io import read_image, write_table
from ..order import build_chunks, write_pseudovideo
from ..samples import read_sample_sheet, specimens, template_pool
from ..select import NoTemplatesError, nearest_templates, rank_annotation_candidates

log = logging.getLogger(__name__)


def species_members(sheet: pd.DataFrame, species: str, pool: str) -> list:
    """The species' specimens plus templates borrowed from the wider pool, in sheet order."""
    own = specimens(sheet, species)
    borrowed = [t for t in template_pool(sheet, species, pool) if t.species != species]
    return own + borrowed


def silhouette_settings(registration: Mapping[str, Any] | None) -> dict:
    """The registration engine's foreground settings (its defaults where the config is silent),
    so that ``describe.method: specimen`` sees the silhouette the engine will register."""
    from ..engines.registration import DEFAULT_OPTIONS

    options = {**DEFAULT_OPTIONS, **(registration or {})}
    return {
        "working_size": int(options["working_size"]),
        "grabcut_iterations": int(options["grabcut_iterations"]),
        "plain_detail": float(options["foreground_detail"]),
    }


def run_describe(
    samples: str | Path, species: str, out: str | Path, config: Mapping[str, Any]
) -> None:
    """Descriptors of every specimen of a species and of the templates it may borrow, centred
    on their mean (:func:`traitrack.describe.centre_descriptors`)."""
    sheet = read_sample_sheet(samples)
    members = species_members(sheet, species, config["select"]["template_pool"])
    method = config["describe"]["method"]
    ranking = None
    if method == "hog":
        images = (read_image(m.image) for m in tqdm(members, desc=f"describe {species}"))
        descriptors = describe_images(list(images), size=config["describe"]["thumbnail_size"])
    elif method == "specimen":
        images = [read_image(m.image) for m in tqdm(members, desc=f"describe {species}")]
        descriptors = describe_specimens(
            images, size=config["describe"]["thumbnail_size"], seed=config["seed"],
            **silhouette_settings(config.get("registration")),
        )
        # annotate_next ranks by the thumbnail (traitrack.describe.load_ranking_descriptors)
        (ranking,) = centre_descriptors(
            describe_images(images, size=config["describe"]["thumbnail_size"])
        )
    elif method == "sam2":
        from ..engines import make_engine

        engine = make_engine("sam2", config.get("sam2"), seed=config["seed"])
        descriptors = engine.describe_images([read_image(m.image) for m in members])
    else:
        raise ValueError(f"describe.method must be specimen, hog or sam2, got {method!r}")
    (descriptors,) = centre_descriptors(descriptors)  # one species' common look removed: no hubs
    save_descriptors(out, [m.specimen for m in members], descriptors, method, ranking)


def run_select(
    samples: str | Path,
    species: str,
    descriptors: str | Path,
    out: str | Path,
    config: Mapping[str, Any],
) -> None:
    """The k nearest templates of every target of the species."""
    sheet = read_sample_sheet(samples)
    pool = config["select"]["template_pool"]
    names, vectors = load_descriptors(descriptors)
    index = {name: i for i, name in enumerate(names)}
    templates = [t.specimen for t in template_pool(sheet, species, pool)]
    targets = [s.specimen for s in specimens(sheet, species) if not s.is_template]
    if not templates:
        ranking = rank_annotation_candidates(targets, vectors[[index[t] for t in targets]], vectors[:0])
        first = ", ".join(ranking["specimen"].head(3))
        raise NoTemplatesError(
            f"species {species!r} has no template (no row with a `mask` in {samples}). "
            f"Annotate these specimens first and add their masks to the sample sheet: {first}; "
            "or set `select: template_pool: genus` (or `all`) in the config to borrow templates."
        )
    table = nearest_templates(
        targets,
        vectors[[index[t] for t in targets]].reshape(len(targets), -1),
        templates,
        vectors[[index[t] for t in templates]],
        k=config["select"]["k"],
    )
    write_table(out, table)


def run_order(
    species: str,
    selection: str | Path,
    descriptors: str | Path,
    out: str | Path,
    config: Mapping[str, Any],
) -> None:
    """Pseudo-video chunks of the species, written as ``pseudovideo.json``."""
    names, vectors = load_descriptors(descriptors)
    table = pd.read_csv(selection, sep="\t")
    chunks = build_chunks(
        config["order"]["mode"],
        table,
        {name: vectors[i] for i, name in enumerate(names)},
        config["order"]["chunk_length"],
    )
    write_pseudovideo(out, species, config["order"]["mode"], chunks)


def run_annotate_next(
    samples: str | Path,
    species: str,
    descriptors: str | Path,
    qc: str | Path,
    out: str | Path,
) -> None:
    """Unlabelled specimens ranked by how much annotating them would add."""
    sheet = read_sample_sheet(samples)
    names, vectors = load_ranking_descriptors(descriptors)
    index = {name: i for i, name in enumerate(names)}
    members = specimens(sheet, species)
    candidates = [s.specimen for s in members if not s.is_template]
    annotated = [s.specimen for s in members if s.is_template]
    qc_table = pd.read_csv(qc, sep="\t")
    scores = dict(zip(qc_table["specimen"], qc_table["qc_score"])) if len(qc_table) else {}
    ranking = rank_annotation_candidates(
        candidates,
        vectors[[index[c] for c in candidates]].reshape(len(candidates), -1),
        vectors[[index[a] for a in annotated]].reshape(len(annotated), -1),
        scores,
    )
    write_table(out, ranking)
