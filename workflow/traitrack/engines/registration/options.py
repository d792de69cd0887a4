"""Options of the registration engine as one typed, frozen object.

The config schema's ``registration`` section (``workflow/schemas/config.schema.yaml``) holds
each option's type, range, default and description; :class:`RegistrationOptions` takes them
from there (:class:`traitrack.config.SchemaOptions`), so the engine, the ``describe`` step and
the benchmarks read one set of values and every bad key is named at once, before any image is
read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from traitrack.config import OptionsError, SchemaOptions

__all__ = ["OptionsError", "RegistrationOptions"]


@dataclass(frozen=True)
class RegistrationOptions(SchemaOptions, section="registration", label="registration engine"):
    """The config's ``registration`` section; each field's meaning and default are in the schema
    (and config/README.md).

    Build it with :meth:`from_config` (unknown keys and unusable values raise
    :class:`OptionsError` naming every one), or change one with :func:`dataclasses.replace`,
    which checks the new values too.
    """

    working_size: int
    threads: int
    grabcut_iterations: int
    foreground_detail: float
    template_silhouette: str
    refine_foreground: bool
    prior_margin: float
    body_radius: int
    silhouette_sigma: float
    start_angles: int
    turn_penalty: float
    try_mirror: bool
    similarity_iterations: int
    affine_iterations: int
    demons_iterations: int
    demons_smoothing: float
    weight_power: float
    thin_from_silhouette: bool
    appendage_radius: int
    thin_spread: float
    thin_min_probability: float
    thin_follow_connections: bool
    ridge_sigmas: tuple[float, ...]
    ridge_quantile: float
    ridge_band: float
    snap_beta: float
    snap_confidence: float
    restrict_to_foreground: bool
    agreement_power: float
    drop_below: float
    orient_rotations: tuple[int, ...]
    orient_mirror: bool
    orient_margin: float
    small_parts: dict[str, str]
    small_part_pull: float
    small_part_blob: float
    small_part_classifier: float
    small_part_snap: float
    body_fill: float
    qc_single_templates: bool

    def _problems(self) -> dict[str, str]:
        small = self.small_parts
        if isinstance(small, Mapping) and any(part == parent for part, parent in small.items()):
            return {"small_parts": "a part cannot be its own parent"}
        return {}
