"""An engine over a shard's chunks, each target with its QC round trip, in one or more processes.

One process runs the chunks in order through one engine, as every engine allows: SAM 2 keeps
its feature cache for the whole shard, so each image is encoded once per job. An engine whose
targets are independent (``independent_targets``, the registration engine: each target is
predicted from its own templates alone) may also run in worker processes, one target (its
forward prediction and its round trip) at a time; each worker builds its own engine and reads
its own images, and the results come back in chunk order, the same as from one process.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from traitrack.engines import make_engine
from traitrack.engines.base import Engine, Frame, Prediction
from traitrack.io import read_image, read_mask
from traitrack.order import Chunk
from traitrack.pieces import allowed_pieces, keep_pieces
from traitrack.qc import evidence_of, round_trip
from traitrack.samples import Specimen
from traitrack.structures import StructureTable
from traitrack.working_size import photograph_shape, read_working_image, resize_labels

log = logging.getLogger(__name__)


class SpecimenStore:
    """Reads images and template masks on demand, keeping templates (reused by many chunks).

    Parameters
    ----------
    members : list of Specimen
        The specimens a job may read (targets and the templates they use).
    structures : StructureTable
        The part table, to read template masks.
    """

    def __init__(
        self, members: list[Specimen], structures: StructureTable, working_megapixels: float = 0
    ):
        self.by_name = {m.specimen: m for m in members}
        self.structures = structures
        # photographs read reduced to this (traitrack.working_size); 0: as they are
        self.working_megapixels = working_megapixels
        self._template_cache: dict[str, Frame] = {}

    def image(self, name: str) -> np.ndarray:
        """Read a specimen's image (not kept).

        Parameters
        ----------
        name : str
            The specimen's slug.

        Returns
        -------
        numpy.ndarray
            (H, W, 3) RGB uint8.
        """
        return read_working_image(self.by_name[name].image, self.working_megapixels)

    def template_labels(self, name: str) -> np.ndarray:
        """A template's label map at its photograph's own size, without decoding the photograph.

        Parameters
        ----------
        name : str
            The template's slug.

        Returns
        -------
        numpy.ndarray
            (H, W) uint8 labels of the photograph's (height, width).
        """
        specimen = self.by_name[name]
        try:
            shape = photograph_shape(specimen.image)
        except Exception:  # noqa: BLE001 - a file only tifffile reads: decode it for its size
            shape = read_image(specimen.image).shape[:2]
        return read_mask(specimen.mask, self.structures, specimen.image, shape)

    def template(self, name: str) -> Frame:
        """Return a template's frame (image and label map), read on first use and kept.

        Parameters
        ----------
        name : str
            The template's slug.

        Returns
        -------
        Frame
            The template frame.
        """
        if name not in self._template_cache:
            specimen = self.by_name[name]
            image = read_working_image(specimen.image, self.working_megapixels)
            shape = photograph_shape(specimen.image) if self.working_megapixels else image.shape
            labels = read_mask(specimen.mask, self.structures, specimen.image, shape[:2])
            labels = resize_labels(labels, image.shape[:2])
            self._template_cache[name] = Frame(name, image, labels)
        return self._template_cache[name]


@dataclass(frozen=True)
class EngineSpec:
    """What builds a job's engine, in the job and again in each of its worker processes.

    Attributes
    ----------
    name : str
        ``registration`` or ``sam2``.
    options : Mapping or None
        The engine's config section.
    seed : int
        The config's seed.
    finetuned_weights : str
        The species' fine-tuned SAM 2 weights, or "" for none.
    threads : int
        The job's threads.
    """

    name: str
    options: Mapping[str, Any] | None
    seed: int
    finetuned_weights: str = ""
    threads: int = 1
    working_megapixels: float = 0.0  # limits.working_megapixels: photographs read reduced

    def __post_init__(self) -> None:
        # a plain str and int, whatever the caller passed (a Snakemake input file, a Path,
        # None): the spec is pickled into worker processes and must carry no caller's types
        object.__setattr__(self, "finetuned_weights", str(self.finetuned_weights or ""))
        object.__setattr__(self, "threads", int(self.threads))

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, finetuned_weights: str = "", threads: int = 1
    ) -> EngineSpec:
        """The spec of the config's ``engine``, its section, ``seed`` and
        ``limits.working_megapixels``."""
        name = config["engine"]
        megapixels = config["limits"]["working_megapixels"]
        return cls(name, config[name], config["seed"], finetuned_weights, threads, megapixels)

    def workers(self) -> int:
        """Worker processes the job's threads allow: one per ``registration.threads`` threads.

        The registration engine's own ``threads`` option stays what the config says (1 by
        default, which keeps results the same on every machine); the job's further threads
        become processes, each predicting whole targets, which is where its time goes
        (GrabCut, registration and the classifiers use one core each). Other engines: 1.
        """
        if self.name != "registration":
            return 1
        per_engine = int(dict(self.options or {}).get("threads", 1))
        return max(1, int(self.threads) // max(1, per_engine))

    def build(self) -> Engine:
        """Build the engine (see :func:`engine_for_job`)."""
        return engine_for_job(
            self.name, self.options, self.seed, self.finetuned_weights, self.threads
        )


def engine_for_job(
    engine_name: str,
    engine_options: Mapping[str, Any] | None,
    seed: int,
    finetuned_weights: str | Path = "",
    threads: int = 1,
) -> Engine:
    """Build the configured engine for one job.

    Parameters
    ----------
    engine_name : str
        ``registration`` or ``sam2``.
    engine_options : Mapping or None
        The engine's config section.
    seed : int
        The config's seed.
    finetuned_weights : str or Path
        The species' fine-tuned SAM 2 weights, or "" for none.
    threads : int
        The job's threads: torch's for SAM 2. The registration engine keeps its own
        ``threads`` option and the job runs ``threads // registration.threads`` of them
        (:meth:`EngineSpec.workers`).

    Returns
    -------
    Engine
        The engine.

    Raises
    ------
    ValueError
        If fine-tuned weights are given to an engine other than ``sam2``.
    """
    options = dict(engine_options or {})
    if finetuned_weights:
        if engine_name != "sam2":
            raise ValueError(
                f"fine-tuned weights {finetuned_weights} need `engine: sam2`, not {engine_name!r}"
            )
        options["finetuned_weights"] = str(finetuned_weights)
    if engine_name == "sam2":
        import torch

        torch.set_num_threads(int(threads))
    return make_engine(engine_name, options, seed=seed)


@dataclass
class TargetResult:
    """One target's forward prediction and its round-trip rows (:func:`traitrack.qc.round_trip`)."""

    prediction: Prediction
    round_trips: list[dict]


def predict_chunk(
    engine: Engine,
    store: SpecimenStore,
    chunk: Chunk,
    structures: StructureTable,
    max_templates: int,
) -> list[TargetResult]:
    """The engine over one chunk, then each target's round trip to its nearest templates.

    Parameters
    ----------
    engine : Engine
        The job's engine.
    store : SpecimenStore
        Reads the chunk's images and template masks.
    chunk : Chunk
        Templates, then targets in order.
    structures : StructureTable
        The part table.
    max_templates : int
        ``qc.max_templates``: how many of a target's templates the round trip goes back to.

    Returns
    -------
    list of TargetResult
        One per target, in chunk order.
    """
    templates = [store.template(t) for t in chunk.templates]
    targets = [
        Frame(t, store.image(t), templates=tuple(chunk.target_templates.get(t, ())))
        for t in chunk.targets
    ]
    predictions = engine.propagate(templates + targets, structures)
    results = []
    for target, prediction in zip(targets, predictions):
        prediction = with_template_pieces(prediction, store, structures)
        qc_templates = [store.template(t) for t in prediction.templates][:max_templates]
        rows = round_trip(
            engine, target, prediction.labels, qc_templates, structures, evidence_of(prediction)
        )
        results.append(TargetResult(prediction, rows))
    return results


def with_template_pieces(
    prediction: Prediction, store: SpecimenStore, structures: StructureTable
) -> Prediction:
    """The prediction with each part in no more pieces than its templates (``traitrack.pieces``)."""
    templates = [store.template(t).labels for t in prediction.templates]
    labels = keep_pieces(prediction.labels, allowed_pieces(templates, structures))
    return prediction if labels is prediction.labels else replace(prediction, labels=labels)


def predict_chunks(
    spec: EngineSpec,
    engine: Engine,
    members: list[Specimen],
    chunks: Sequence[Chunk],
    structures: StructureTable,
    max_templates: int,
) -> Iterator[TargetResult]:
    """Every target of ``chunks``, in order: in this process, or in worker processes.

    Parameters
    ----------
    spec : EngineSpec
        What built ``engine``: the workers build theirs from it.
    engine : Engine
        The job's engine, used when the job runs in one process.
    members : list of Specimen
        The specimens the chunks may name.
    chunks : sequence of Chunk
        The shard's chunks.
    structures : StructureTable
        The part table.
    max_templates : int
        ``qc.max_templates``.

    Yields
    ------
    TargetResult
        One per target, in chunk order.
    """
    workers = spec.workers() if getattr(engine, "independent_targets", False) else 1
    targets = sum(len(chunk.targets) for chunk in chunks)
    workers = min(workers, targets)
    if workers <= 1:
        store = SpecimenStore(members, structures, spec.working_megapixels)
        for chunk in chunks:
            yield from predict_chunk(engine, store, chunk, structures, max_templates)
        return
    log.info("%d targets over %d worker processes", targets, workers)
    tasks = [
        Chunk(chunk.templates, [target], {target: chunk.target_templates.get(target, [])})
        for chunk in chunks
        for target in chunk.targets
    ]
    # spawn: a worker inherits no thread pool or lock of this process (OpenCV, OpenMP)
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(spec, members, structures, max_templates),
    ) as pool:
        for results in pool.map(_predict_in_worker, tasks):
            yield from results


_WORKER: dict[str, Any] = {}


def _start_worker(spec, members, structures, max_templates) -> None:
    _WORKER.update(
        engine=spec.build(),
        store=SpecimenStore(members, structures, spec.working_megapixels),
        structures=structures,
        max_templates=max_templates,
    )


def _predict_in_worker(task: Chunk) -> list[TargetResult]:
    """One target, as a chunk of the templates of its own chunk and itself."""
    return predict_chunk(
        _WORKER["engine"],
        _WORKER["store"],
        task,
        _WORKER["structures"],
        _WORKER["max_templates"],
    )
