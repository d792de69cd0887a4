"""Read SAM 2 checkpoints and traitrack's fine-tuned weights, every failure a clear error.

Every file of weights is loaded here with ``weights_only=True`` (so that a downloaded file
cannot run code on unpickling), strictly (every key must match the model), and with an error
that names the file and the fix; :mod:`traitrack.engines.sam2.model` builds the network they
go into, and :mod:`traitrack.engines.sam2.download` fetches the official checkpoints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

FORMAT = "traitrack-palindrome-1"  # the fine-tuned weights file (traitrack.finetune.weights)


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, truncated or belongs to another model."""


def load_weights_file(path: Path, missing: str, unreadable: str, fix: str) -> Any:
    """``torch.load(..., weights_only=True)`` of a weights file, every failure a CheckpointError.

    ``weights_only=True`` keeps a downloaded file from running code on unpickling.

    Parameters
    ----------
    path : Path
        The weights file.
    missing : str
        The whole message for an absent file.
    unreadable, fix : str
        The message's start and end around torch's error for a file that cannot be loaded.

    Returns
    -------
    Any
        What the file holds, loaded on the CPU.

    Raises
    ------
    CheckpointError
        If the file is missing or cannot be loaded.
    """
    if not path.is_file():
        raise CheckpointError(missing)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError ...
        raise CheckpointError(f"{unreadable} ({type(error).__name__}: {error}); {fix}") from error


def load_checkpoint_strict(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load a SAM 2 checkpoint into ``model``; every key must match.

    ``weights_only=True`` keeps a downloaded file from running code on unpickling.

    Parameters
    ----------
    model : torch.nn.Module
        The network (:func:`~traitrack.engines.sam2.model.instantiate_model`), changed in place.
    path : str or os.PathLike
        The checkpoint file.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, has no ``model`` state dict, or does not fit the
        model.
    """
    path = Path(path)
    loaded = load_weights_file(
        path,
        missing=f"SAM 2 checkpoint {path} does not exist; run the download_checkpoint rule "
        "(snakemake resources/checkpoints/sam2.1_hiera_<size>.pt) or set engine options checkpoint",
        unreadable=f"SAM 2 checkpoint {path} cannot be read",
        fix="it is truncated or not a checkpoint: delete it and download it again",
    )
    state = loaded.get("model") if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(
            f"SAM 2 checkpoint {path} has no 'model' state dict; is it a SAM 2 checkpoint?"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(
            f"SAM 2 checkpoint {path} does not fit this model ({error}); "
            "check that engine option model_size matches the checkpoint"
        ) from error


# ---- fine-tuned weights (written by traitrack.finetune.weights, read here by the engine)


def read_weights(path: str | os.PathLike) -> dict[str, Any]:
    """Load a fine-tuned weights file with ``weights_only=True``.

    Parameters
    ----------
    path : str or os.PathLike
        The file written by :mod:`traitrack.finetune.weights`.

    Returns
    -------
    dict
        The payload: ``format``, ``mode``, ``base``, ``steps``, ``lora`` and ``state``.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable or not of :data:`FORMAT`.
    """
    path = Path(path)
    payload = load_weights_file(
        path,
        missing=f"fine-tuned weights {path} do not exist; run the finetune rule or fix sam2 option finetuned_weights",
        unreadable=f"fine-tuned weights {path} cannot be read",
        fix="delete the file and run the finetune rule again",
    )
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a traitrack fine-tuned weights file (format {FORMAT})"
        )
    return payload


def apply_finetuned_weights(
    model: torch.nn.Module, path: str | os.PathLike, model_size: str
) -> dict[str, Any]:
    """Put fine-tuned weights on top of a base model, in place.

    Full weights replace the trained parameters; LoRA adapters are merged into their layers.

    Parameters
    ----------
    model : torch.nn.Module
        The base model, changed in place.
    path : str or os.PathLike
        The fine-tuned weights file.
    model_size : str
        The base model's size; the file must have been trained on it.

    Returns
    -------
    dict
        The file's ``base`` record (what the weights were trained from).

    Raises
    ------
    CheckpointError
        If the file was made for another model size or names layers the model lacks.
    """
    payload = read_weights(path)
    base = payload["base"]
    if base.get("model_size") != model_size:
        raise CheckpointError(
            f"fine-tuned weights {path} were trained on a {base.get('model_size')!r} model but the engine uses "
            f"{model_size!r}; make sam2 option model_size match or fine-tune again"
        )
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        if payload["mode"] == "full":
            _check_names(path, payload["state"], parameters)
            for name, value in payload["state"].items():
                parameters[name].copy_(value)
        else:
            scale = payload["lora"]["alpha"] / payload["lora"]["rank"]
            layers = sorted({name.rsplit(".lora_", 1)[0] for name in payload["state"]})
            _check_names(path, {f"{layer}.weight": None for layer in layers}, parameters)
            for layer in layers:
                update = lora_update(
                    payload["state"][f"{layer}.lora_A"], payload["state"][f"{layer}.lora_B"]
                )
                parameters[f"{layer}.weight"].add_(scale * update.to(parameters[f"{layer}.weight"]))
    return base


def lora_update(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return the weight change ``B A`` of one LoRA adapter.

    Parameters
    ----------
    a, b : torch.Tensor
        The adapter's ``lora_A`` and ``lora_B``: 2-D for a linear layer, 4-D for a
        convolution (laid out as peft does).

    Returns
    -------
    torch.Tensor
        The update, the shape of the layer's weight.
    """
    if a.ndim == 2:
        return b @ a
    return torch.nn.functional.conv2d(a.transpose(0, 1), b).transpose(0, 1)


def _check_names(path, state: dict, parameters: dict) -> None:
    unknown = sorted(set(state) - set(parameters))
    if unknown:
        raise CheckpointError(
            f"fine-tuned weights {path} name layers this model lacks: {unknown[:5]}"
        )
