"""The student's ``init_weights``: a state dict loaded strictly, or an error naming file and key.

A wrong file must never be ignored (loading with ``strict=False`` would leave every
mismatched layer at random and train from scratch while looking pretrained), and a file that
needs code to unpickle is refused (``weights_only=True``) with what to do instead, never with
torch's advice to turn ``weights_only`` off.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

KEY = "self_training.student.init_weights"


class InitWeightsError(ValueError):
    """``init_weights`` is missing, unsafe to unpickle or does not fit the student network."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of an ``init_weights`` file (a plain one, or a student's ``weights.pt``).

    Parameters
    ----------
    path : str or Path
        The file ``self_training.student.init_weights`` names.

    Returns
    -------
    dict
        Parameter name -> tensor.

    Raises
    ------
    InitWeightsError
        Naming the file, the config key and the fix, if the file is missing, cannot be read
        with ``weights_only=True`` or holds no dict of tensors.
    """
    path = Path(path)
    fix = (
        f"set `{KEY}` to a file written by torch.save(network.state_dict(), path) (or a "
        "student's results/<species>/student/weights.pt), or to '' to start from random weights"
    )
    if not path.is_file():
        raise InitWeightsError(f"{path}: `{KEY}` names no file; {fix}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InitWeightsError(
            f"{path}: `{KEY}` holds Python objects besides tensors (a pickled model or "
            f"optimiser), which are not loaded because unpickling them can run code; {fix}"
        ) from None
    except Exception as error:  # truncated or not a torch file: EOFError, RuntimeError ...
        raise InitWeightsError(
            f"{path}: `{KEY}` cannot be read as a torch file ({type(error).__name__}); {fix}"
        ) from None
    if isinstance(payload, Mapping) and isinstance(payload.get("state_dict"), Mapping):
        payload = payload["state_dict"]
    if not isinstance(payload, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in payload.values()
    ):
        raise InitWeightsError(f"{path}: `{KEY}` holds no state dict of tensors; {fix}")
    return dict(payload)


def load_init_weights(network: torch.nn.Module, path: str | Path) -> None:
    """Load ``init_weights`` into the student, in place; every key and shape must match.

    Parameters
    ----------
    network : torch.nn.Module
        The student as built from the config (``self_training.student.channels`` and the
        structures).
    path : str or Path
        The file.

    Raises
    ------
    InitWeightsError
        Naming the file, the first mismatched parameter keys and the fix.
    """
    state = read_state_dict(path)
    expected = network.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong_shape = [
        f"{key} {tuple(state[key].shape)} (the network's: {tuple(value.shape)})"
        for key, value in expected.items()
        if key in state and tuple(state[key].shape) != tuple(value.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing[:3]}" + (" ..." if len(missing) > 3 else ""))
    if unexpected:
        problems.append(
            f"unexpected keys {unexpected[:3]}" + (" ..." if len(unexpected) > 3 else "")
        )
    if wrong_shape:
        problems.append(
            f"other shapes: {wrong_shape[:3]}" + (" ..." if len(wrong_shape) > 3 else "")
        )
    if problems:
        raise InitWeightsError(
            f"{path}: `{KEY}` does not fit the student network ({'; '.join(problems)}); it "
            "must come from a student with the same `self_training.student.channels` and the "
            f"same structures, or set `{KEY}` to '' to start from random weights"
        )
    network.load_state_dict(state, strict=True)
