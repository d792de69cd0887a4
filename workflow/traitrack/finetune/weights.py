"""What fine-tuning trains, the tuned-weights file it writes, and its resumable training state.

Two modes:

* ``full`` (default): every parameter but the image encoder's is trained (memory attention,
  memory encoder, prompt encoder, mask decoder including its ``conv_s0``/``conv_s1``, object
  pointer heads); the file holds those parameters;
* ``lora``: everything is frozen and peft injects low-rank adapters into the linear layers named
  by ``target_modules``; the file holds the adapter matrices, and loading merges them into the
  base weights (``W + alpha / rank * B @ A``), so inference needs neither peft nor extra compute.

Both files are plain dicts of tensors, strings and numbers, read with ``weights_only=True`` on
top of the base checkpoint (:func:`traitrack.engines.sam2.checkpoint.apply_finetuned_weights`).  The training state (trainable
weights, AdamW moments, loss rows) is a separate file written every ``save_every`` steps
through a temporary name, so a killed job resumes from its last complete save.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from traitrack.config import SchemaOptions
from traitrack.engines.sam2.checkpoint import FORMAT
from traitrack.io import atomic_output


@dataclass(frozen=True)
class LoraOptions(SchemaOptions, section=("finetune", "lora"), label="finetune.lora"):
    """peft LoRA settings: the config's ``finetune.lora`` section, defaults from its schema."""

    enabled: bool
    rank: int
    alpha: float
    target_modules: tuple[str, ...]

    @property
    def scale(self) -> float:
        """The adapters' scale, ``alpha / rank``."""
        return self.alpha / self.rank


def make_trainable(
    model: torch.nn.Module, lora: LoraOptions
) -> list[tuple[str, torch.nn.Parameter]]:
    """Freeze what must not learn (adding LoRA adapters if asked); return what the optimiser updates."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if lora.enabled:
        inject_lora(model, lora)
        named = [(n, p) for n, p in model.named_parameters() if ".lora_" in n]
    else:
        named = [(n, p) for n, p in model.named_parameters() if not n.startswith("image_encoder.")]
    for _, parameter in named:
        parameter.requires_grad_(True)
    return named


def inject_lora(model: torch.nn.Module, lora: LoraOptions) -> None:
    """Wrap the target linear layers with peft LoRA adapters (B = 0: the model is unchanged)."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        target_modules=list(lora.target_modules),
        lora_dropout=0.0,
        bias="none",
    )
    try:
        inject_adapter_in_model(config, model)
    except ValueError as error:
        raise ValueError(
            f"finetune.lora.target_modules {list(lora.target_modules)} matched no layer of SAM 2 ({error}); "
            f"use names of linear layers such as {list(LoraOptions().target_modules)}"
        ) from error


def encoder_is_frozen(model: torch.nn.Module) -> bool:
    """True when no image-encoder parameter learns, so its features can be computed once."""
    return not any(p.requires_grad for p in model.image_encoder.parameters())


def tuned_state(
    named: list[tuple[str, torch.nn.Parameter]], lora: LoraOptions
) -> dict[str, torch.Tensor]:
    """The trained tensors as saved: parameter names, or ``<layer>.lora_A/B`` for adapters."""
    state = {}
    for name, parameter in named:
        if lora.enabled:
            layer, kind = name.split(".lora_")
            name = f"{layer}.lora_{kind.split('.')[0]}"
        state[name] = parameter.detach().float().cpu().clone()
    return state


def save_weights(
    path: str | os.PathLike, named, lora: LoraOptions, base: dict[str, Any], steps: int
) -> None:
    """Write the tuned-weights file (atomically: a killed job never leaves half a file)."""
    payload = {
        "format": FORMAT,
        "mode": "lora" if lora.enabled else "full",
        "base": dict(base),
        "steps": int(steps),
        "lora": {
            "rank": lora.rank,
            "alpha": float(lora.alpha),
            "target_modules": list(lora.target_modules),
        },
        "state": tuned_state(named, lora),
    }
    with atomic_output(path) as temporary:
        torch.save(payload, temporary)
