"""The ``sam2`` engine: SAM 2.1's video memory carries the templates' masks to the targets.

One engine object lives for a whole job (a species): the model is built once and every
image's backbone features are computed once and reused by every chunk and by the QC round
trip.  Each ``propagate`` call starts from an empty memory: the templates of the chunk become
conditioning frames with all their structures (tracked together as one batch of objects), then
the targets follow in the chunk's order.  Frames are letterboxed into the model's square input
and the logits are mapped back onto each frame's own pixels (:mod:`traitrack.letterbox`); overlapping
structures are resolved by the highest logit.

Built with ``allow_random_weights: true`` and no checkpoint (tests only), the engine sets
``random_weights = True``; the workflow writes that flag into every output it makes.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from traitrack.config import SchemaOptions
from traitrack.engines.base import (
    Frame,
    Prediction,
    probability_summary,
    split_chunk,
    templates_for,
)
from traitrack.engines.sam2.checkpoint import apply_finetuned_weights
from traitrack.engines.sam2.features import FeatureCache, ImageFeatures, image_key
from traitrack.engines.sam2.model import ModelSpec, build_model
from traitrack.engines.sam2.tracker import Sam2Tracker, TrackedFrame
from traitrack.letterbox import (
    fit_letterbox,
    labels_from_logits,
    letterbox_image,
    letterbox_mask,
    normalise_image,
    unletterbox_logits,
)
from traitrack.structures import StructureTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sam2Options(SchemaOptions, section="sam2", label="sam2 engine"):
    """The config's ``sam2`` section: the model, its weights and the feature cache.

    Each field's meaning and default are in the config schema (and config/README.md); build it
    with :meth:`from_config`, which names every unknown key or unusable value.
    """

    model_size: str
    checkpoint: str
    image_size: int
    device: str
    dtype: str
    allow_random_weights: bool
    offload_features_to_cpu: bool
    feature_dtype: str
    features_in_memory: int
    feature_cache_dir: str
    memory_frames: int
    finetuned_weights: str
    vos_optimized: bool


class Sam2Engine:
    """SAM 2.1 video propagation behind the engine protocol (see module docstring)."""

    name = "sam2"

    def __init__(
        self,
        spec: ModelSpec,
        offload_features_to_cpu: bool = True,
        feature_dtype: str = "float32",
        features_in_memory: int = 16,
        feature_cache_dir: str | Path | None = None,
        memory_frames: int | None = None,
        finetuned_weights: str | Path | None = None,
    ):
        self.spec = spec
        self.model, self.device, self.dtype = build_model(spec)
        self.finetuned_weights = str(finetuned_weights or "")
        if self.finetuned_weights:
            apply_finetuned_weights(self.model, self.finetuned_weights, spec.model_size)
            log.info("sam2 engine uses fine-tuned weights %s", self.finetuned_weights)
        self.random_weights = spec.random_weights
        if self.random_weights:
            warnings.warn(
                "sam2 engine built with RANDOM weights (allow_random_weights: true): its masks are "
                "meaningless and every output is marked random_weights=True",
                stacklevel=2,
            )
        self.image_size = spec.image_size
        self.tracker = Sam2Tracker(self.model, self.device, self.dtype, memory_frames)
        if feature_dtype not in ("float32", "bfloat16"):
            raise ValueError(
                f"sam2 feature_dtype must be float32 or bfloat16, got {feature_dtype!r}"
            )
        self.features = FeatureCache(
            encode=self._encode,
            in_memory=int(features_in_memory),
            storage_device="cpu" if offload_features_to_cpu else self.device,
            storage_dtype=getattr(torch, feature_dtype),
            cache_dir=feature_cache_dir or None,
            model_tag=self._model_tag(),
        )

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None, seed: int = 0) -> Sam2Engine:
        """Build from the config's ``sam2`` section.

        Parameters
        ----------
        options : Mapping or None
            The config section; keys it leaves out take the schema's defaults.
        seed : int
            The config's seed (random weights, tests only).

        Returns
        -------
        Sam2Engine
            The engine, its model built.

        Raises
        ------
        traitrack.config.OptionsError
            If a key is unknown (a typo) or a value unusable; the message names every one.
        """
        settings = Sam2Options.from_config(options)
        return cls(
            model_spec(settings, seed),
            offload_features_to_cpu=settings.offload_features_to_cpu,
            feature_dtype=settings.feature_dtype,
            features_in_memory=settings.features_in_memory,
            feature_cache_dir=settings.feature_cache_dir or None,
            memory_frames=settings.memory_frames,
            finetuned_weights=settings.finetuned_weights or None,
        )

    # -- the protocol ---------------------------------------------------------------------------
    def propagate(self, frames: Sequence[Frame], structures: StructureTable) -> list[Prediction]:
        """One :class:`Prediction` per target, in chunk order, from a fresh memory."""
        templates, targets = split_chunk(frames)
        return [
            prediction
            for prediction in self._run(templates, targets, structures)
            if prediction is not None
        ]

    def track_chunk(
        self, frames: Sequence[Frame], structures: StructureTable
    ) -> list[tuple[Frame, Prediction]]:
        """Like :meth:`propagate` but also returns the templates' outputs (read back through SAM 2).

        The geometry test uses it: a template's mask must come back unchanged.
        """
        templates, targets = split_chunk(frames)
        ordered = templates + targets
        return list(zip(ordered, self._run(templates, targets, structures, include_templates=True)))

    def _run(self, templates, targets, structures, include_templates: bool = False):
        count = len(structures)
        if count == 0:
            raise ValueError("the sam2 engine needs at least one structure")
        for frame in [*templates, *targets]:
            _check_frame(frame, count)
        template_names = tuple(t.specimen for t in templates)
        conditioning = [
            (self.image_features(t.specimen, t.image), self._structure_masks(t, count))
            for t in templates
        ]
        target_features = (self.image_features(t.specimen, t.image) for t in targets)
        num_frames = len(templates) + len(targets)
        for tracked in self.tracker.track(conditioning, target_features, num_frames):
            if tracked.conditioning:
                frame = templates[tracked.index]
                if include_templates:
                    yield self._prediction(frame, tracked, structures, template_names)
                continue
            target = targets[tracked.index - len(templates)]
            chosen = tuple(t.specimen for t in templates_for(target, templates))
            ordered = chosen + tuple(n for n in template_names if n not in chosen)
            yield self._prediction(target, tracked, structures, ordered)

    def _prediction(
        self, frame: Frame, tracked: TrackedFrame, structures, template_names
    ) -> Prediction:
        box = fit_letterbox(*frame.image.shape[:2], self.image_size)
        logits = unletterbox_logits(tracked.logits, box)
        labels = labels_from_logits(logits)
        probabilities = torch.sigmoid(logits).cpu().numpy()
        scores = tracked.object_scores.cpu().numpy()
        return Prediction(
            specimen=frame.specimen,
            labels=labels,
            confidence=probability_summary(labels, probabilities, structures),
            object_score={s.name: float(scores[s.label - 1]) for s in structures},
            templates=tuple(template_names),
        )

    # -- features -------------------------------------------------------------------------------
    def image_features(self, name: str, image: np.ndarray) -> ImageFeatures:
        """Backbone features of a frame, computed once per job (see :class:`FeatureCache`)."""
        return self.features.get(image_key(name, image), image)

    def _encode(self, image: np.ndarray) -> ImageFeatures:
        box = fit_letterbox(*image.shape[:2], self.image_size)
        return self.tracker.encode(normalise_image(letterbox_image(image, box)))

    def _structure_masks(self, frame: Frame, count: int) -> torch.Tensor:
        """(N, S, S) boolean masks of a template, structure i in row i - 1."""
        box = fit_letterbox(*frame.image.shape[:2], self.image_size)
        square = torch.from_numpy(letterbox_mask(frame.labels, box).astype(np.int64))
        return square[None] == torch.arange(1, count + 1)[:, None, None]

    def describe_images(
        self, images: Sequence[np.ndarray], names: Sequence[str] | None = None
    ) -> np.ndarray:
        """SAM 2 image descriptors: the stride-16 encoder features pooled over the specimen.

        Returns an (n_images, 256) float32 array, each row the mean feature over the grid
        cells covered by the image (the letterbox padding is left out) divided by its norm,
        so cosine similarity is a dot product.  Features go through the job's cache, so an
        image described here is not encoded again when it is propagated.
        """
        names = list(names) if names is not None else [f"image{i}" for i in range(len(images))]
        if len(names) != len(images):
            raise ValueError(f"describe_images got {len(images)} images but {len(names)} names")
        rows = []
        for name, image in zip(names, images):
            _check_image(name, image)
            top = self.image_features(name, image).levels[-1][0].float()  # (C, h, w)
            box = fit_letterbox(*image.shape[:2], self.image_size)
            stride = self.image_size // top.shape[-1]
            rows_slice = slice(box.top // stride, -(-(box.top + box.inner_height) // stride))
            cols_slice = slice(box.left // stride, -(-(box.left + box.inner_width) // stride))
            pooled = top[:, rows_slice, cols_slice].mean(dim=(1, 2))
            rows.append((pooled / pooled.norm().clamp_min(1e-12)).cpu().numpy())
        return (
            np.stack(rows).astype(np.float32)
            if rows
            else np.zeros((0, self.model.hidden_dim), np.float32)
        )

    describe = describe_images

    # -- housekeeping ---------------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        """What produced the masks, for logs and output metadata."""
        return {
            "engine": self.name,
            "model_size": self.spec.model_size,
            "checkpoint": self.spec.checkpoint or "",
            "image_size": self.image_size,
            "random_weights": self.random_weights,
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
            "memory_frames": self.tracker.memory_frames,
            "finetuned_weights": self.finetuned_weights,
        }

    def close(self) -> None:
        """Free the feature cache (and delete its temporary spill directory)."""
        self.features.close()

    def __enter__(self) -> Sam2Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _model_tag(self) -> str:
        weights = (
            Path(self.spec.checkpoint).stem if self.spec.checkpoint else f"random{self.spec.seed}"
        )
        if self.finetuned_weights:  # tuned conv_s0/conv_s1 (or adapters) change the cached features
            weights += "-tuned" + _file_digest(self.finetuned_weights)
        return f"{self.spec.model_size}-{self.image_size}-{weights}"


def model_spec(options: Sam2Options, seed: int = 0) -> ModelSpec:
    """The network and weights that the engine's options name; shared with fine-tuning.

    Parameters
    ----------
    options : Sam2Options
        The engine's options.
    seed : int
        Seeds random weights (tests only).

    Returns
    -------
    ModelSpec
        What :func:`traitrack.engines.sam2.model.build_model` builds.
    """
    return ModelSpec(
        model_size=options.model_size,
        checkpoint=options.checkpoint or None,
        image_size=options.image_size,
        device=options.device,
        dtype=options.dtype,
        allow_random_weights=options.allow_random_weights,
        seed=int(seed),
        vos_optimized=options.vos_optimized,
    )


def _file_digest(path: str | Path) -> str:
    """A short content digest, so a persistent feature cache never mixes two tunings."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:12]


def _check_image(name: str, image: np.ndarray) -> None:
    if (
        not isinstance(image, np.ndarray)
        or image.ndim != 3
        or image.shape[2] != 3
        or image.dtype != np.uint8
    ):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", None)
        raise ValueError(
            f"frame {name!r}: the sam2 engine needs an RGB uint8 image of shape (H, W, 3), got shape "
            f"{shape} dtype {dtype}; read images with traitrack.io.read_image"
        )


def _check_frame(frame: Frame, count: int) -> None:
    _check_image(frame.specimen, frame.image)
    if frame.labels is None:
        return
    if frame.labels.shape != frame.image.shape[:2]:
        raise ValueError(
            f"template {frame.specimen!r}: label map of shape {frame.labels.shape} does not match "
            f"its image {frame.image.shape[:2]}; the mask file must have the image's size"
        )
    if frame.labels.size and int(frame.labels.max()) > count:
        raise ValueError(
            f"template {frame.specimen!r}: label {int(frame.labels.max())} exceeds the {count} structures "
            "declared in the config"
        )
