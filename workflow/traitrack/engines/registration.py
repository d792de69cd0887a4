"""The weights-free ``registration`` engine: label transfer by silhouette registration.

For each target and each of its templates: foreground silhouettes (:mod:`traitrack.foreground`)
-> global alignment (multi-start similarity, then affine) -> deformation (demons) -> the
template's per-structure maps warped onto the target -> fusion over templates weighted by
registration quality -> thin structures extended onto the target's own appendage pixels.  Nothing assumes that a template's labels are hand-made: the QC round
trip calls the same :meth:`RegistrationEngine.propagate` with a predicted target as template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import SimpleITK as sitk

from ..foreground import foreground_from_prior
from ..structures import StructureTable
from .base import Frame, Prediction, probability_summary, split_chunk, templates_for
from .registration_align import (
    Alignment,
    Silhouette,
    body_of,
    prepare_silhouette,
    register,
    silhouette_from_mask,
    warp_maps,
    warp_working_mask,
)
from .registration_fusion import (
    assign_appendages,
    fuse_probabilities,
    labels_from_probabilities,
    one_hot,
    template_agreement,
    template_weights,
)

DEFAULT_OPTIONS: dict[str, Any] = {
    # working size (px, longest side) at which silhouettes are found and registered
    "working_size": 224,
    # SimpleITK / OpenCV threads per engine (1 keeps results reproducible across machines)
    "threads": 1,
    # GrabCut iterations for the foreground silhouettes
    "grabcut_iterations": 5,
    # a template's silhouette: "labels" (its labelled area), "image" (GrabCut on its image, as
    # for targets) or "union" (both; keeps unlabelled legs and mounts that the target's
    # GrabCut silhouette will also contain)
    "template_silhouette": "union",
    # second foreground pass on the target: GrabCut initialised from the templates warped onto
    # it, then affine + demons again on that silhouette
    "refine_foreground": False,
    # in that pass, pixels farther than this fraction of the working size from the warped
    # templates are certain background
    "prior_margin": 0.05,
    # radius (working px) of an opening that strips legs and antennae off the silhouettes
    # before registration; 0 registers whole silhouettes, which measured best on the shared
    # beetles and ants once template silhouettes include what GrabCut sees ("union")
    "body_radius": 0,
    # Gaussian blur (working px) of the silhouettes before mean-squares alignment and demons
    "silhouette_sigma": 2.0,
    # number of equally spaced initial rotations of the similarity alignment (4: every 90 deg)
    "start_angles": 4,
    # a turned start must reach this fraction of the unturned start's metric to win (1: plain
    # metric decides; small: trust the templates' pose, as HOG-selected templates share it)
    "turn_penalty": 0.35,
    # also try each template mirrored left-right and keep whichever registers better
    "try_mirror": False,
    # gradient-descent iterations of the similarity and the affine stage (per pyramid level)
    "similarity_iterations": 100,
    "affine_iterations": 100,
    # demons iterations (0 disables the deformable step) and field smoothing (working px)
    "demons_iterations": 60,
    "demons_smoothing": 2.0,
    # fusion weight of a template = (silhouette Dice after registration) ** weight_power
    "weight_power": 4.0,
    # thin structures also take the target's own appendage pixels (silhouette minus its
    # opening by a disc of appendage_radius working px) near where the templates put them:
    # spread = blur (working px) of the fused thin maps, min_probability = the blurred
    # probability a pixel needs to be claimed
    "thin_from_silhouette": True,
    "appendage_radius": 3,
    "thin_spread": 8.0,
    "thin_min_probability": 0.01,
    # force background where the target's own silhouette is absent
    "restrict_to_foreground": True,
}


TEMPLATE_SILHOUETTES = ("labels", "image", "union")


class OptionsError(ValueError):
    """The registration engine's options are not usable; the message names the bad keys."""


@dataclass
class _Template:
    """A template frame prepared once per chunk: silhouette(s) and full-resolution maps.

    ``views`` holds (silhouette, (N, H, W) structure indicator maps) per mirror state.
    """

    specimen: str
    views: list[tuple[Silhouette, np.ndarray]]


class RegistrationEngine:
    """Label transfer by registration of foreground silhouettes; see the module docstring."""

    name = "registration"

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        self.options = {**DEFAULT_OPTIONS, **dict(options or {})}
        self.seed = int(seed)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], seed: int) -> "RegistrationEngine":
        """Build from the config's engine section; unknown keys and bad values raise."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
        if unknown:
            raise OptionsError(
                f"unknown registration engine option(s) {unknown}; "
                f"known options are {sorted(DEFAULT_OPTIONS)}"
            )
        merged = {**DEFAULT_OPTIONS, **options}
        _check_options(merged)
        return cls(merged, seed=seed)

    def propagate(self, frames: Sequence[Frame], structures: StructureTable) -> list[Prediction]:
        """One fused :class:`Prediction` per target, in chunk order."""
        templates, targets = split_chunk(frames)
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(self.options["threads"]))
        cv2.setNumThreads(int(self.options["threads"]))
        prepared: dict[str, _Template] = {}
        predictions = []
        for target in targets:
            chosen = templates_for(target, templates)
            for template in chosen:
                if template.specimen not in prepared:
                    prepared[template.specimen] = self._prepare_template(template, structures)
            predictions.append(
                self._predict(target, [prepared[t.specimen] for t in chosen], structures)
            )
        return predictions

    # -- steps ------------------------------------------------------------------------------

    def _silhouette(
        self, image: np.ndarray, known_foreground: np.ndarray | None = None
    ) -> Silhouette:
        return prepare_silhouette(
            _rgb(image),
            known_foreground=known_foreground,
            working_size=int(self.options["working_size"]),
            sigma=float(self.options["silhouette_sigma"]),
            body_radius=int(self.options["body_radius"]),
            grabcut_iterations=int(self.options["grabcut_iterations"]),
            seed=self.seed,
        )

    def _template_silhouette(self, image: np.ndarray, labelled: np.ndarray) -> Silhouette:
        mode = self.options["template_silhouette"]
        if mode == "labels":
            return self._silhouette(image, labelled)
        from_image = self._silhouette(image)
        if mode == "image":
            return from_image
        union = from_image.mask | working_resolution_mask(from_image, labelled)
        return silhouette_from_mask(
            union, from_image.image, from_image.full_shape,
            sigma=float(self.options["silhouette_sigma"]),
            body_radius=int(self.options["body_radius"]),
        )

    def _prepare_template(self, frame: Frame, structures: StructureTable) -> _Template:
        labels = np.asarray(frame.labels)
        if labels.shape != frame.image.shape[:2]:
            raise ValueError(
                f"template {frame.specimen!r}: label map shape {labels.shape} differs from the "
                f"image's {frame.image.shape[:2]}; masks must have the image's height and width"
            )
        silhouette = self._template_silhouette(frame.image, labels > 0)
        maps = one_hot(labels, structures)
        views = [(silhouette, maps)]
        if self.options["try_mirror"]:
            views.append((mirrored(silhouette), np.ascontiguousarray(maps[:, :, ::-1])))
        return _Template(frame.specimen, views)

    def _register(self, target: Silhouette, template: Silhouette, initial=None) -> Alignment:
        return register(
            target, template,
            start_angles=int(self.options["start_angles"]),
            turn_penalty=float(self.options["turn_penalty"]),
            similarity_iterations=int(self.options["similarity_iterations"]),
            affine_iterations=int(self.options["affine_iterations"]),
            demons_iterations=int(self.options["demons_iterations"]),
            demons_smoothing=float(self.options["demons_smoothing"]),
            initial=initial,
        )

    def _align(
        self, target: Silhouette, template: _Template
    ) -> tuple[Alignment, np.ndarray, Silhouette]:
        """Register every view (plain, mirrored) of a template; keep the best-fitting one."""
        best = None
        for silhouette, maps in template.views:
            alignment = self._register(target, silhouette)
            if best is None or alignment.dice > best[0].dice:
                best = (alignment, maps, silhouette)
        return best

    def _refine(
        self, target: Silhouette, aligned: list[tuple[Alignment, np.ndarray, Silhouette]]
    ) -> tuple[Silhouette, list[tuple[Alignment, np.ndarray, Silhouette]]]:
        """Second pass: target foreground guided by the warped templates, then re-registration."""
        weights = template_weights(
            [alignment.dice for alignment, _, _ in aligned], float(self.options["weight_power"])
        )
        prior = sum(
            weight * warp_working_mask(silhouette.mask, silhouette, target, alignment.transform)
            for weight, (alignment, _, silhouette) in zip(weights, aligned)
        )
        mask = foreground_from_prior(
            target.image, prior,
            iterations=int(self.options["grabcut_iterations"]),
            margin_fraction=float(self.options["prior_margin"]),
            seed=self.seed,
        )
        refined = silhouette_from_mask(
            mask, target.image, target.full_shape,
            sigma=float(self.options["silhouette_sigma"]),
            body_radius=int(self.options["body_radius"]),
        )
        realigned = [
            (
                self._register(refined, silhouette, initial=alignment.global_transform),
                maps,
                silhouette,
            )
            for alignment, maps, silhouette in aligned
        ]
        return refined, realigned

    def _predict(
        self, target: Frame, templates: list[_Template], structures: StructureTable
    ) -> Prediction:
        silhouette = self._silhouette(target.image)
        aligned = [self._align(silhouette, template) for template in templates]
        if self.options["refine_foreground"]:
            silhouette, aligned = self._refine(silhouette, aligned)
        warped = [
            warp_maps(maps, template_silhouette, silhouette, alignment.transform)
            for alignment, maps, template_silhouette in aligned
        ]
        qualities = [alignment.dice for alignment, _, _ in aligned]
        weights = template_weights(qualities, float(self.options["weight_power"]))
        probabilities = fuse_probabilities(warped, weights)
        foreground = (
            full_resolution_mask(silhouette) if self.options["restrict_to_foreground"] else None
        )
        labels = labels_from_probabilities(probabilities, foreground)
        thin = [s.label for s in structures if s.kind == "thin"]
        if self.options["thin_from_silhouette"] and thin:
            labels = assign_appendages(
                labels, probabilities,
                appendages=full_resolution_mask(
                    silhouette,
                    silhouette.mask
                    & ~body_of(silhouette.mask, int(self.options["appendage_radius"])),
                ),
                thin_labels=thin,
                spread=float(self.options["thin_spread"]) / silhouette.spacing[0],
                min_probability=float(self.options["thin_min_probability"]),
            )
        return Prediction(
            specimen=target.specimen,
            labels=labels,
            confidence=probability_summary(labels, probabilities, structures),
            object_score=template_agreement(warped, labels, structures),
            templates=tuple(t.specimen for t in templates),
        )


def mirrored(silhouette: Silhouette) -> Silhouette:
    """The silhouette flipped left-right; the geometry is symmetric, so only pixels move."""
    smooth = sitk.GetImageFromArray(sitk.GetArrayViewFromImage(silhouette.smooth)[:, ::-1].copy())
    return Silhouette(
        mask=silhouette.mask[:, ::-1].copy(),
        body=silhouette.body[:, ::-1].copy(),
        smooth=smooth,
        image=silhouette.image[:, ::-1].copy(),
        full_shape=silhouette.full_shape,
        spacing=silhouette.spacing,
        origin=silhouette.origin,
    )


def full_resolution_mask(silhouette: Silhouette, mask: np.ndarray | None = None) -> np.ndarray:
    """A working-size mask (default: the silhouette) scaled up to the image's own size.

    Linear interpolation, then >= 0.5, so edges are not blocky.
    """
    height, width = silhouette.full_shape
    mask = silhouette.mask if mask is None else mask
    scaled = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return scaled >= 0.5


def working_resolution_mask(silhouette: Silhouette, mask: np.ndarray) -> np.ndarray:
    """A full-resolution mask scaled down to the silhouette's working size (area, >= 0.5)."""
    height, width = silhouette.mask.shape
    scaled = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    return scaled >= 0.5


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"registration engine needs uint8 images, got dtype {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def _check_options(options: Mapping[str, Any]) -> None:
    """Raise :class:`OptionsError` naming every option of the wrong type or range."""
    minimum_ints = {"working_size": 16, "threads": 1, "start_angles": 1}
    non_negative_ints = (
        "body_radius", "appendage_radius", "grabcut_iterations", "similarity_iterations",
        "affine_iterations",
        "demons_iterations",
    )
    bad = [k for k, low in minimum_ints.items() if not _is_int(options[k]) or options[k] < low]
    bad += [k for k in non_negative_ints if not _is_int(options[k]) or options[k] < 0]
    bad += [
        k for k in (
            "silhouette_sigma", "demons_smoothing", "weight_power", "turn_penalty", "prior_margin",
            "thin_spread", "thin_min_probability",
        )
        if not isinstance(options[k], (int, float))
        or isinstance(options[k], bool)
        or options[k] < 0
    ]
    flags = ("try_mirror", "restrict_to_foreground", "refine_foreground", "thin_from_silhouette")
    bad += [k for k in flags if not isinstance(options[k], bool)]
    if options["template_silhouette"] not in TEMPLATE_SILHOUETTES:
        bad.append("template_silhouette")
    if bad:
        raise OptionsError(
            f"registration engine option(s) {sorted(set(bad))} have unusable values "
            f"({ {k: options[k] for k in sorted(set(bad))} }); see DEFAULT_OPTIONS for the types"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
