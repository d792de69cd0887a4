"""The weights-free ``registration`` engine: label transfer by silhouette registration.

For each target: an orientation by appearance (:mod:`.registration_orient`, within the
dataset's prior) -> its foreground silhouette (:mod:`traitrack.foreground`); for each of its
templates: global alignment (multi-start similarity, then affine) -> deformation (demons) ->
the template's per-structure maps warped onto the target; then fusion over templates weighted
by registration quality and agreement with the other templates, outliers dropped
(:mod:`.registration_fusion`) -> the compact parts' boundaries snapped to the target's own
edges (:mod:`.registration_edges`) -> thin structures extended onto the target's own appendage
pixels and thin dark lines attached to it, each piece labelled as the transferred thin
structure it is connected to -> small parts re-placed by a local search inside
their parent, by template match and by a pixel classifier learnt from the templates
(:mod:`.registration_local`, :mod:`.registration_appearance`) -> optionally, silhouette pixels
that a classifier learnt from the templates calls annotated body, and that the transfer left
unlabelled, given to the nearest part (:mod:`.registration_body`).  Nothing assumes that a
template's labels are hand-made: the QC round trip calls the same
:meth:`RegistrationEngine.propagate` with a predicted target as template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import SimpleITK as sitk
from threadpoolctl import threadpool_limits

from ..describe import hog_descriptor
from ..foreground import attached_to, foreground_from_prior, thin_dark_lines
from ..metrics import nanmean
from ..structures import StructureTable
from .base import Frame, Prediction, probability_summary, split_chunk, templates_for
from .registration_align import (
    Alignment,
    Silhouette,
    body_of,
    full_resolution_mask,
    mirrored,
    prepare_silhouette,
    register,
    silhouette_from_mask,
    warp_maps,
    warp_working_mask,
    working_resolution_mask,
)
from .registration_body import body_probability, body_samples, fill_body
from .registration_fusion import (
    assign_appendages,
    consensus_weights,
    fuse_probabilities,
    labels_from_probabilities,
    mean_dice,
    one_hot,
    template_agreement,
    template_weights,
)
from .registration_edges import snap_to_edges
from .registration_local import PartTemplate, place_small_part
from .registration_options import (  # noqa: F401  (re-exported for callers)
    DEFAULT_OPTIONS,
    OptionsError,
    check_options,
)
from .registration_orient import allowed_turns, apply_turn, choose_turn, undo_turn


@dataclass
class _Template:
    """A template frame prepared once per chunk: silhouette(s) and full-resolution maps.

    ``views`` holds (silhouette, (N, H, W) structure indicator maps, RGB image) per mirror
    state; ``body_samples`` the body classifier's training pixels per view (empty when
    ``body_fill`` is off).
    """

    specimen: str
    views: list[tuple[Silhouette, np.ndarray, np.ndarray]]
    descriptor: np.ndarray
    body_samples: list[tuple[np.ndarray, np.ndarray]]

    def samples_for(self, silhouette: Silhouette) -> tuple[np.ndarray, np.ndarray]:
        """The body samples of the view whose silhouette registration chose."""
        index = next(i for i, view in enumerate(self.views) if view[0] is silhouette)
        return self.body_samples[index]


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
        check_options(merged)
        return cls(merged, seed=seed)

    def propagate(self, frames: Sequence[Frame], structures: StructureTable) -> list[Prediction]:
        """One fused :class:`Prediction` per target, in chunk order."""
        templates, targets = split_chunk(frames)
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(self.options["threads"]))
        cv2.setNumThreads(int(self.options["threads"]))
        prepared: dict[str, _Template] = {}
        predictions = []
        # the classifiers' OpenMP and BLAS pools too, or each job would use every core
        with threadpool_limits(limits=int(self.options["threads"])):
            for target in targets:
                chosen = templates_for(target, templates)
                for template in chosen:
                    if template.specimen not in prepared:
                        prepared[template.specimen] = self._prepare_template(
                            template, structures
                        )
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
            plain_detail=float(self.options["foreground_detail"]),
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
        image = _rgb(frame.image)
        views = [(silhouette, maps, image)]
        if self.options["try_mirror"]:
            views.append((
                mirrored(silhouette),
                np.ascontiguousarray(maps[:, :, ::-1]),
                np.ascontiguousarray(image[:, ::-1]),
            ))
        samples = []
        if self.options["body_fill"] > 0:
            samples = [
                body_samples(
                    view_silhouette.image,
                    view_silhouette.mask,
                    working_resolution_mask(view_silhouette, view_maps.sum(axis=0) > 0.5),
                )
                for view_silhouette, view_maps, _ in views
            ]
        return _Template(frame.specimen, views, hog_descriptor(image), samples)

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
    ) -> tuple[Alignment, np.ndarray, Silhouette, np.ndarray]:
        """Register every view (plain, mirrored) of a template; keep the best-fitting one."""
        best = None
        for silhouette, maps, image in template.views:
            alignment = self._register(target, silhouette)
            if best is None or alignment.dice > best[0].dice:
                best = (alignment, maps, silhouette, image)
        return best

    def _refine(
        self, target: Silhouette, aligned: list[tuple[Alignment, np.ndarray, Silhouette, np.ndarray]]
    ) -> tuple[Silhouette, list[tuple[Alignment, np.ndarray, Silhouette, np.ndarray]]]:
        """Second pass: target foreground guided by the warped templates, then re-registration."""
        weights = template_weights(
            [alignment.dice for alignment, *_ in aligned], float(self.options["weight_power"])
        )
        prior = sum(
            weight * warp_working_mask(silhouette.mask, silhouette, target, alignment.transform)
            for weight, (alignment, _, silhouette, _) in zip(weights, aligned)
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
                image,
            )
            for alignment, maps, silhouette, image in aligned
        ]
        return refined, realigned

    def _predict(
        self, target: Frame, templates: list[_Template], structures: StructureTable
    ) -> Prediction:
        """Turn the target as its appearance says, predict, and turn the labels back."""
        turn = choose_turn(
            target.image,
            [template.descriptor for template in templates],
            allowed_turns(self.options["orient_rotations"], self.options["orient_mirror"]),
            float(self.options["orient_margin"]),
        )
        if turn.is_identity:
            return self._predict_as_is(target, templates, structures)
        turned = Frame(target.specimen, apply_turn(np.asarray(target.image), turn))
        prediction = self._predict_as_is(turned, templates, structures)
        prediction.labels = undo_turn(prediction.labels, turn)
        return prediction

    def _predict_as_is(
        self, target: Frame, templates: list[_Template], structures: StructureTable
    ) -> Prediction:
        silhouette = self._silhouette(target.image)
        aligned = [self._align(silhouette, template) for template in templates]
        if self.options["refine_foreground"]:
            silhouette, aligned = self._refine(silhouette, aligned)
        warped = [
            warp_maps(maps, template_silhouette, silhouette, alignment.transform)
            for alignment, maps, template_silhouette, _ in aligned
        ]
        qualities = [alignment.dice for alignment, *_ in aligned]
        weights = consensus_weights(
            warped,
            template_weights(qualities, float(self.options["weight_power"])),
            structures,
            power=float(self.options["agreement_power"]),
            drop_below=float(self.options["drop_below"]),
        )
        probabilities = fuse_probabilities(warped, weights)
        image = _rgb(target.image)
        body = full_resolution_mask(silhouette)
        allowed = body if self.options["restrict_to_foreground"] else np.ones_like(body)
        labels = labels_from_probabilities(probabilities, allowed)
        small = set(dict(self.options["small_parts"]))
        compact = [s.label for s in structures if s.kind == "blob" and s.name not in small]
        transferred = labels
        labels = snap_to_edges(
            image, probabilities, labels, allowed, compact,
            beta=float(self.options["snap_beta"]),
            confidence=float(self.options["snap_confidence"]),
        )
        edge_agreement = (
            mean_dice(transferred, labels, compact) if self.options["snap_beta"] > 0 else np.nan
        )
        thin = [s.label for s in structures if s.kind == "thin"]
        if self.options["thin_from_silhouette"] and thin:
            labels = assign_appendages(
                labels, probabilities,
                appendages=self._appendages(image, silhouette, body, labels),
                thin_labels=thin,
                spread=float(self.options["thin_spread"]) / silhouette.spacing[0],
                min_probability=float(self.options["thin_min_probability"]),
                follow_connections=bool(self.options["thin_follow_connections"]),
            )
        labels = self._place_small_parts(image, labels, aligned, weights, structures)
        # the templates' agreement with what they transferred, before the body fill adds
        # pixels that no template put there
        agreement = template_agreement(warped, labels, structures)
        if self.options["body_fill"] > 0:
            labels = self._fill_body(
                labels, silhouette, allowed, templates, aligned, weights, compact
            )
        blobs = [agreement[s.name] for s in structures if s.kind == "blob"]
        return Prediction(
            specimen=target.specimen,
            labels=labels,
            confidence=probability_summary(labels, probabilities, structures),
            object_score=agreement,
            templates=tuple(t.specimen for t in templates),
            agreement=nanmean(blobs or list(agreement.values())),
            edge_agreement=float(edge_agreement),
        )

    def _fill_body(self, labels, silhouette, allowed, templates, aligned, weights, compact):
        """Unlabelled silhouette pixels that the templates' body classifier calls body, and
        that touch a labelled part, take the nearest compact part (:mod:`.registration_body`)."""
        samples = [
            template.samples_for(template_silhouette)
            for template, (_, _, template_silhouette, _) in zip(templates, aligned)
        ]
        probability = body_probability(
            silhouette.image, silhouette.mask, samples, weights, seed=self.seed
        )
        if probability is None:
            return labels
        height, width = silhouette.full_shape
        probability = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
        probability[~allowed] = 0.0
        return fill_body(labels, probability, float(self.options["body_fill"]), compact)

    def _appendages(
        self, image: np.ndarray, silhouette: Silhouette, body: np.ndarray, labels: np.ndarray
    ) -> np.ndarray:
        """The target's own thin-part pixels (full resolution): its silhouette minus the
        silhouette's opening, plus unlabelled pixels on thin dark lines attached to the body."""
        appendages = full_resolution_mask(
            silhouette,
            silhouette.mask & ~body_of(silhouette.mask, int(self.options["appendage_radius"])),
        )
        if not self.options["ridge_sigmas"]:
            return appendages
        band = max(1, round(float(self.options["ridge_band"]) * max(silhouette.mask.shape)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1,) * 2)
        near = cv2.dilate(silhouette.mask.astype(np.uint8), kernel).astype(bool)
        lines = thin_dark_lines(
            image,
            tuple(s / silhouette.spacing[0] for s in self.options["ridge_sigmas"]),
            float(self.options["ridge_quantile"]),
            region=full_resolution_mask(silhouette, near),
        )
        return appendages | (attached_to(lines, body) & (labels == 0))

    def _place_small_parts(self, image, labels, aligned, weights, structures):
        """Re-place each configured small part by a local search inside its parent part
        (``image``: the target's RGB image)."""
        for part_name, parent_name in dict(self.options["small_parts"]).items():
            part, parent = structures.by_name(part_name).label, structures.by_name(parent_name).label
            candidates = [
                PartTemplate(
                    image=image,
                    labels=labels_from_probabilities(maps),
                    weight=float(weight),
                )
                for (_, maps, _, image), weight in zip(aligned, weights)
            ]
            labels = place_small_part(
                image, labels, candidates, part, parent,
                pull=float(self.options["small_part_pull"]),
                blob=float(self.options["small_part_blob"]),
                classifier=float(self.options["small_part_classifier"]),
                snap=float(self.options["small_part_snap"]),
                seed=self.seed,
            )
        return labels


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"registration engine needs uint8 images, got dtype {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])
