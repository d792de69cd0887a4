"""Engines behind one protocol (:mod:`traitrack.engines.base`); built by name from the config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from traitrack.engines.base import Engine, Frame, Prediction

ENGINE_NAMES = ("registration", "sam2")


def make_engine(name: str, options: Mapping[str, Any] | None = None, seed: int = 0) -> Engine:
    """Build the engine ``name`` from its config section.

    Imports lazily so that the registration engine never needs torch.

    Parameters
    ----------
    name : str
        One of :data:`ENGINE_NAMES`.
    options : Mapping or None
        The engine's config section (``registration:`` or ``sam2:``); None for the defaults.
    seed : int
        The config's seed, for the engine's random steps.

    Returns
    -------
    Engine
        The engine, ready for :meth:`Engine.propagate`.

    Raises
    ------
    ValueError
        If ``name`` is not a known engine.
    """
    options = dict(options or {})
    if name == "registration":
        from traitrack.engines.registration.engine import RegistrationEngine

        return RegistrationEngine.from_options(options, seed=seed)
    if name == "sam2":
        from traitrack.engines.sam2.engine import Sam2Engine

        return Sam2Engine.from_options(options, seed=seed)
    raise ValueError(f"unknown engine {name!r}; choose one of {ENGINE_NAMES}")


__all__ = ["Engine", "Frame", "Prediction", "make_engine", "ENGINE_NAMES"]
