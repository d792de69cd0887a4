"""What the registration engine carries between its steps: a template prepared once per chunk,
a template registered onto a target, a target as the steps after fusion see it, and the label
maps after each of those steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traitrack import rgb
from traitrack.engines.registration.align import Alignment, Silhouette, full_resolution_mask
from traitrack.engines.registration.options import RegistrationOptions
from traitrack.structures import StructureTable


@dataclass
class PreparedTemplate:
    """A template frame prepared once per chunk: silhouette(s) and full-resolution maps.

    ``views`` holds (silhouette, (N, H, W) structure indicator maps, RGB image) per mirror
    state; ``body_samples`` the body classifier's training pixels per view (empty when
    ``body_fill`` is off).
    """

    specimen: str
    views: list[tuple[Silhouette, np.ndarray, np.ndarray]]
    descriptor: np.ndarray
    body_samples: list[tuple[np.ndarray, np.ndarray]]
    weight: float = 1.0  # the frame's fusion weight (Frame.weight)

    def samples_for(self, silhouette: Silhouette) -> tuple[np.ndarray, np.ndarray]:
        """The body samples of the view whose silhouette registration chose."""
        index = next(i for i, view in enumerate(self.views) if view[0] is silhouette)
        return self.body_samples[index]


@dataclass
class AlignedTemplate:
    """A template registered onto a target: the registration, and the template's view (plain or
    mirrored) that it chose, as (N, H, W) structure indicator maps, silhouette and RGB image."""

    alignment: Alignment
    maps: np.ndarray
    silhouette: Silhouette
    image: np.ndarray


@dataclass
class Scene:
    """One target as the steps after fusion see it: its RGB image, silhouette, silhouette at
    full resolution (``body``), where labels may go, and its compact (non-small) blobs; its
    own appendage pixels and the thin dark lines attached to its body, once found (they do not
    depend on the templates)."""

    image: np.ndarray
    silhouette: Silhouette
    body: np.ndarray
    allowed: np.ndarray
    compact: list[int]
    structures: StructureTable
    own_appendages: np.ndarray | None = None
    attached_lines: np.ndarray | None = None

    @classmethod
    def of(
        cls,
        image: np.ndarray,
        silhouette: Silhouette,
        structures: StructureTable,
        options: RegistrationOptions,
    ) -> Scene:
        """The scene of a target.

        Parameters
        ----------
        image : np.ndarray
            The target's uint8 RGB image.
        silhouette : Silhouette
            Its silhouette.
        structures : StructureTable
            The config's structures.
        options : RegistrationOptions
            The engine's options (``restrict_to_foreground``, ``small_parts``).

        Returns
        -------
        Scene
            The scene, its appendages and attached lines not yet found.
        """
        body = full_resolution_mask(silhouette)
        allowed = body if options.restrict_to_foreground else np.ones_like(body)
        small = set(options.small_parts)
        compact = [s.label for s in structures if s.kind == "blob" and s.name not in small]
        return cls(image, silhouette, body, allowed, compact, structures)


@dataclass
class Steps:
    """The label maps after each step: arg-max of the fusion, edge snap, thin and small parts
    (``unfilled``), body fill (``labels``, the prediction)."""

    transferred: np.ndarray
    snapped: np.ndarray
    unfilled: np.ndarray
    labels: np.ndarray


def as_rgb(image: np.ndarray) -> np.ndarray:
    """The image as contiguous uint8 RGB (grey repeated, alpha dropped)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"registration engine needs uint8 images, got dtype {image.dtype}")
    return rgb.as_rgb(image, owner="the registration engine's image")
