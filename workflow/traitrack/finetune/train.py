"""Palindrome fine-tuning: cycle-consistent self-training of SAM 2 on a species' own specimens.

Each step takes one template x0 (with all its structure masks) and one unlabelled specimen x1
of the species' pool, runs the cycle x0 -> x1 -> x0' (:mod:`traitrack.finetune.cycle`: the
memory is reset between the halves and x1 is prompted with its own *soft* prediction), and
minimises the per-structure BCE + Dice (+ object score) loss of x0' against x0's true masks,
summed over structures, with one backward pass through the whole cycle.

By default everything but the image encoder learns, and the encoder's features are computed
once per image (:class:`FeatureSource`); with ``lora.enabled`` only peft LoRA adapters learn
(:mod:`traitrack.finetune.weights`).  AdamW with a cosine learning-rate schedule, gradient
clipping, bfloat16 autocast on CUDA, and a seed that fixes the order of (template, target)
pairs (:mod:`traitrack.finetune.data`).  Every ``save_every`` steps the training state is
saved; a job killed and restarted with the same inputs and settings resumes from it and ends
with the weights an uninterrupted run would have produced.

Outputs: the tuned weights (or adapters), a loss table (one row per step) and a loss plot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from traitrack.config import SchemaOptions, section_defaults
from traitrack.engines.sam2.features import FeatureCache, ImageFeatures
from traitrack.engines.sam2.model import autocast, positional_encodings
from traitrack.finetune.cycle import (
    CycleOutput,
    cycle_loss,
    encode_levels,
    frame_inputs,
    palindrome_cycle,
)
from traitrack.finetune.data import (
    PairSampler,
    Template,
    file_key,
    model_input,
)
from traitrack.finetune.weights import LoraOptions, encoder_is_frozen
from traitrack.samples import Specimen
from traitrack.training_kit import cosine_rate, load_training, save_training
from traitrack.training_kit import write_loss_plot as write_loss_plot_of
from traitrack.working_size import read_working_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneOptions(SchemaOptions, section="finetune", label="finetune"):
    """The config's ``finetune`` section, defaults from its schema (see config/README.md);
    ``lora`` is its ``lora`` subsection and ``seed`` the top-level seed."""

    steps: int
    epochs: int
    lr: float
    weight_decay: float
    grad_clip: float
    object_weight: float
    pool: str
    allow_gt_targets: bool
    save_every: int
    lora: LoraOptions = field(default_factory=LoraOptions)
    seed: int = section_defaults()["seed"]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FinetuneOptions:
        """The training settings of a config.

        Parameters
        ----------
        config : Mapping
            The whole config (its ``finetune`` section and ``seed``); what it leaves out takes
            the schema's defaults.

        Returns
        -------
        FinetuneOptions
            The settings; ``finetune.enabled`` is the workflow's switch, not one of them.

        Raises
        ------
        traitrack.config.OptionsError
            If a key is unknown or a value unusable; the message names every one.
        """
        section = dict(config.get("finetune") or {})
        cls.check_keys(section, ignored=("enabled",))
        section.pop("enabled", None)
        lora = LoraOptions.from_config(section.pop("lora", None))
        seed = int(config.get("seed", section_defaults()["seed"]))
        return cls(**section, lora=lora, seed=seed)

    def total_steps(self, targets: int) -> int:
        """``epochs`` passes over the targets when set, else ``steps``."""
        return self.epochs * targets if self.epochs else self.steps


class FeatureSource:
    """Raw image-encoder levels of a specimen, in the model's letterboxed input geometry.

    A frozen encoder's features do not change during training: they are computed once per
    image, kept in a bounded RAM cache that spills to a temporary folder
    (:class:`~traitrack.engines.sam2.features.FeatureCache`).  A learning encoder (LoRA
    adapters inside it) runs at every step, inside the graph.
    """

    def __init__(
        self,
        model,
        device: torch.device,
        dtype: torch.dtype,
        in_memory: int = 16,
        storage_dtype=torch.float32,
        working_megapixels: float = 0.0,
    ):
        self.model, self.device, self.dtype = model, device, dtype
        # photographs read as propagate reads them (limits.working_megapixels), so the tuned
        # weights see at training what they see when they predict
        self.working_megapixels = working_megapixels
        self.frozen = encoder_is_frozen(model)
        self.pos = tuple(positional_encodings(model, device, dtype))  # the same for every image
        self.cache = FeatureCache(
            self._encode_frozen,
            in_memory=in_memory,
            storage_dtype=storage_dtype,
            model_tag="palindrome-raw",
        )

    def levels(
        self, specimen: Specimen
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """The encoder's levels of a specimen and their position encodings.

        Parameters
        ----------
        specimen : Specimen
            A specimen of the training set.

        Returns
        -------
        tuple
            ``(levels, positions)``: float32 tensors on the model's device (from the cache
            when the encoder is frozen, else computed inside the graph).
        """
        if self.frozen:
            features = self.cache.get(file_key(specimen, self.model.image_size), specimen)
            return tuple(
                level.to(self.device, torch.float32) for level in features.levels
            ), self.pos
        with autocast(self.device, self.dtype):
            levels, pos = encode_levels(self.model, self._input(specimen))
        return levels, pos

    def _encode_frozen(self, specimen: Specimen) -> ImageFeatures:
        with torch.no_grad(), autocast(self.device, self.dtype):
            levels, _ = encode_levels(self.model, self._input(specimen))
        return ImageFeatures(tuple(level.float() for level in levels))

    def _input(self, specimen: Specimen) -> torch.Tensor:
        image = read_working_image(specimen.image, self.working_megapixels)
        return model_input(image, self.model.image_size).to(self.device)

    def close(self) -> None:
        """Free the feature cache and its spill folder."""
        self.cache.close()


def cycle_step(
    model, features: FeatureSource, template: Template, target: Specimen, object_weight: float = 1.0
) -> tuple[torch.Tensor, CycleOutput]:
    """Per-structure losses (N,) of one cycle template -> target -> template, with its graph."""
    levels0, pos = features.levels(template.specimen)
    levels1, pos1 = features.levels(target)
    masks = template.masks.to(features.device)
    with autocast(features.device, features.dtype):
        x0 = frame_inputs(model, levels0, pos, masks.shape[0])
        x1 = frame_inputs(model, levels1, pos1, masks.shape[0])
        out = palindrome_cycle(model, x0, masks, x1)
    return cycle_loss(out.backward.logits, out.backward.object_scores, masks, object_weight), out


def train(
    model,
    named: list[tuple[str, torch.nn.Parameter]],
    features: FeatureSource,
    templates: list[Template],
    targets: tuple[Specimen, ...],
    options: FinetuneOptions,
    structure_names: list[str],
    state_path: str | os.PathLike | None = None,
    fingerprint: str = "",
    on_step: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """Run (or resume) the training; returns one loss row per step.

    ``on_step(step, row)`` is called after each step and its state save (tests raise from it
    to simulate a job killed mid-training).
    """
    parameters = [p for _, p in named]
    optimizer = torch.optim.AdamW(parameters, lr=options.lr, weight_decay=options.weight_decay)
    total = options.total_steps(len(targets))
    start, rows = 0, []
    saved = load_training(state_path, key=fingerprint)
    if saved is not None:
        with torch.no_grad():
            for name, parameter in named:
                parameter.copy_(saved.weights[name])
        optimizer.load_state_dict(saved.optimiser)
        start, rows = saved.progress, saved.rows
        log.info("resuming fine-tuning at step %d of %d from %s", start, total, state_path)
    sampler = PairSampler(len(templates), len(targets), options.seed)
    for step in range(start, total):
        template_index, target_index = sampler.pair(step)
        template, target = templates[template_index], targets[target_index]
        lr = cosine_rate(options.lr, step, total)
        for group in optimizer.param_groups:
            group["lr"] = lr
        began = time.perf_counter()
        losses, _ = cycle_step(model, features, template, target, options.object_weight)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        norm = (
            torch.nn.utils.clip_grad_norm_(parameters, options.grad_clip)
            if options.grad_clip > 0
            else torch.nan
        )
        optimizer.step()
        rows.append(
            _loss_row(
                step,
                template.specimen.specimen,
                target.specimen,
                losses,
                structure_names,
                lr,
                float(norm),
                time.perf_counter() - began,
            )
        )
        if state_path is not None and (step + 1) % options.save_every == 0 and step + 1 < total:
            save_training(
                state_path,
                key=fingerprint,
                progress=step + 1,
                weights=dict(named),
                optimiser=optimizer,
                rows=rows,
            )
        if step % 10 == 0 or step + 1 == total:
            log.info(
                "step %d/%d loss %.4f (%s -> %s)",
                step + 1,
                total,
                rows[-1]["loss"],
                template.specimen.specimen,
                target.specimen,
            )
        if on_step is not None:
            on_step(step, rows[-1])
    return rows


def _loss_row(step, template, target, losses, names, lr, grad_norm, seconds) -> dict:
    values = losses.detach().cpu().numpy().astype(float)
    row = {"step": step + 1, "template": template, "target": target, "loss": float(values.sum())}
    row.update({f"loss_{name}": float(v) for name, v in zip(names, values)})
    row.update({"lr": lr, "grad_norm": grad_norm, "seconds": seconds})
    return row


def fingerprint_of(*parts: Any) -> str:
    """A digest of everything a saved state depends on (settings, model, training set)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def loss_table(rows: list[dict], names: list[str]) -> pd.DataFrame:
    """Rows as a table with a fixed column order (an empty training gives the header only)."""
    columns = [
        "step",
        "template",
        "target",
        "loss",
        *[f"loss_{n}" for n in names],
        "lr",
        "grad_norm",
        "seconds",
    ]
    return pd.DataFrame(rows, columns=columns)


def write_loss_plot(
    path: str | Path, table: pd.DataFrame, title: str = "", window: int = 20
) -> None:
    """Loss per step (points) with its running mean, and each structure's running mean."""
    write_loss_plot_of(
        path,
        table,
        columns=["loss", *[c for c in table.columns if c.startswith("loss_")]],
        ylabel="cycle loss (BCE + Dice + object score)",
        xlabel="step",
        title=f"palindrome fine-tuning {title}".strip(),
        window=window,
        points="loss",
    )


def mean_cycle_loss(
    model, features: FeatureSource, templates: list[Template], targets, object_weight: float = 1.0
) -> float:
    """Mean summed cycle loss over every (template, target) pair, without gradients (evaluation)."""
    values = []
    with torch.no_grad():
        for template in templates:
            for target in targets:
                values.append(
                    float(cycle_step(model, features, template, target, object_weight)[0].sum())
                )
    return float(np.mean(values))
