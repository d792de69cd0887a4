"""The weights-free ``registration`` engine: label transfer by silhouette registration.

For each target: an orientation by appearance (:mod:`.orient`, within the
dataset's prior) -> its foreground silhouette (:mod:`traitrack.silhouette`); for each of its
templates: global alignment (multi-start similarity, then affine) -> deformation (demons) ->
the template's per-structure maps warped onto the target; then fusion over templates weighted
by registration quality and agreement with the other templates, outliers dropped
(:mod:`.fusion`) -> the compact parts' boundaries snapped to the target's own
edges (:mod:`.edges`) -> thin structures extended onto the target's own appendage
pixels and thin dark lines attached to it, each piece labelled as the transferred thin
structure it is connected to -> small parts re-placed by a local search inside
their parent, by template match and by a pixel classifier learnt from the templates
(:mod:`.local`, :mod:`.appearance`) -> optionally, silhouette pixels
that a classifier learnt from the templates calls annotated body, and that the transfer left
unlabelled, given to the nearest part (:mod:`.body`); the steps after fusion are
:mod:`.after_fusion`'s.  For the QC, each template also runs the steps after fusion
alone, and their agreement with the fused labels is evidence (``qc_single_templates``).  Nothing assumes that a template's labels are hand-made: the QC
round trip calls the same :meth:`RegistrationEngine.propagate` with a predicted target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import SimpleITK as sitk
from threadpoolctl import threadpool_limits

from traitrack.engines.base import (
    Frame,
    Prediction,
    probability_summary,
    split_chunk,
    templates_for,
)
from traitrack.engines.registration.after_fusion import steps_after_fusion
from traitrack.engines.registration.align import (
    Alignment,
    Silhouette,
    mirrored,
    prepare_silhouette,
    register,
    silhouette_from_mask,
    warp_maps,
    warp_working_mask,
    working_resolution_mask,
)
from traitrack.engines.registration.body import body_samples
from traitrack.engines.registration.fusion import (
    consensus_weights,
    fuse_probabilities,
    mean_dice,
    one_hot,
    template_agreement,
    template_weights,
)
from traitrack.engines.registration.options import (  # noqa: F401  (re-exported for callers)
    OptionsError,
    RegistrationOptions,
)
from traitrack.engines.registration.orient import allowed_turns, apply_turn, choose_turn, undo_turn
from traitrack.engines.registration.state import (
    AlignedTemplate,
    PreparedTemplate,
    Scene,
    as_rgb,
)
from traitrack.hog import hog_descriptor
from traitrack.metrics import class_iou, mean_iou, nanmean
from traitrack.silhouette import foreground_from_prior
from traitrack.structures import StructureTable


class RegistrationEngine:
    """Label transfer by registration of foreground silhouettes; see the module docstring."""

    name = "registration"
    random_weights = False  # weights-free: nothing to be random
    # each target is predicted from its own templates alone, so a job may split a chunk's
    # targets over worker processes (traitrack.propagation) and get the same labels
    independent_targets = True

    def __init__(
        self,
        options: RegistrationOptions | None = None,
        seed: int = 0,
    ) -> None:
        """An engine with these options (the schema's defaults for None) and seed.

        Parameters
        ----------
        options : RegistrationOptions or None
            The engine's options; :meth:`from_options` builds them from a config section.
        seed : int
            Seeds GrabCut and the classifiers, so a target always gets the same labels.
        """
        self.options = options if options is not None else RegistrationOptions()
        self.seed = int(seed)

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None, seed: int) -> RegistrationEngine:
        """Build from the config's ``registration`` section.

        Parameters
        ----------
        options : Mapping or None
            The config section; keys it leaves out take the schema's defaults.
        seed : int
            The config's seed.

        Returns
        -------
        RegistrationEngine
            The engine.

        Raises
        ------
        OptionsError
            If a key is unknown or a value unusable; the message names every such key.
        """
        return cls(RegistrationOptions.from_config(options), seed=seed)

    def propagate(self, frames: Sequence[Frame], structures: StructureTable) -> list[Prediction]:
        """One fused :class:`Prediction` per target, in chunk order."""
        templates, targets = split_chunk(frames)
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(self.options.threads)
        cv2.setNumThreads(self.options.threads)
        prepared: dict[str, PreparedTemplate] = {}
        predictions = []
        # the classifiers' OpenMP and BLAS pools too, or each job would use every core
        with threadpool_limits(limits=self.options.threads):
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
            as_rgb(image),
            known_foreground=known_foreground,
            working_size=self.options.working_size,
            sigma=self.options.silhouette_sigma,
            body_radius=self.options.body_radius,
            grabcut_iterations=self.options.grabcut_iterations,
            foreground_detail=self.options.foreground_detail,
            seed=self.seed,
        )

    def _template_silhouette(self, image: np.ndarray, labelled: np.ndarray) -> Silhouette:
        mode = self.options.template_silhouette
        if mode == "labels":
            return self._silhouette(image, labelled)
        from_image = self._silhouette(image)
        if mode == "image":
            return from_image
        union = from_image.mask | working_resolution_mask(from_image, labelled)
        return silhouette_from_mask(
            union,
            from_image.image,
            from_image.full_shape,
            sigma=self.options.silhouette_sigma,
            body_radius=self.options.body_radius,
        )

    def _prepare_template(self, frame: Frame, structures: StructureTable) -> PreparedTemplate:
        labels = np.asarray(frame.labels)
        if labels.shape != frame.image.shape[:2]:
            raise ValueError(
                f"template {frame.specimen!r}: label map shape {labels.shape} differs from the "
                f"image's {frame.image.shape[:2]}; masks must have the image's height and width"
            )
        silhouette = self._template_silhouette(frame.image, labels > 0)
        maps = one_hot(labels, structures)
        image = as_rgb(frame.image)
        views = [(silhouette, maps, image)]
        if self.options.try_mirror:
            views.append(
                (
                    mirrored(silhouette),
                    np.ascontiguousarray(maps[:, :, ::-1]),
                    np.ascontiguousarray(image[:, ::-1]),
                )
            )
        samples = []
        if self.options.body_fill > 0:
            samples = [
                body_samples(
                    view_silhouette.image,
                    view_silhouette.mask,
                    working_resolution_mask(view_silhouette, view_maps.sum(axis=0) > 0.5),
                )
                for view_silhouette, view_maps, _ in views
            ]
        return PreparedTemplate(
            frame.specimen, views, hog_descriptor(image), samples, float(frame.weight)
        )

    def _register(self, target: Silhouette, template: Silhouette, initial=None) -> Alignment:
        return register(
            target,
            template,
            start_angles=self.options.start_angles,
            turn_penalty=self.options.turn_penalty,
            similarity_iterations=self.options.similarity_iterations,
            affine_iterations=self.options.affine_iterations,
            demons_iterations=self.options.demons_iterations,
            demons_smoothing=self.options.demons_smoothing,
            initial=initial,
        )

    def _align(self, target: Silhouette, template: PreparedTemplate) -> AlignedTemplate:
        """Register every view (plain, mirrored) of a template; keep the best-fitting one."""
        best = None
        for silhouette, maps, image in template.views:
            alignment = self._register(target, silhouette)
            if best is None or alignment.dice > best.alignment.dice:
                best = AlignedTemplate(alignment, maps, silhouette, image)
        return best

    def _priors(self, templates: Sequence[PreparedTemplate]) -> list[float] | None:
        """Each template's fusion prior (its frame's ``weight``), None when all are 1."""
        priors = [t.weight for t in templates]
        return None if all(prior == 1.0 for prior in priors) else priors

    def _refine(
        self, target: Silhouette, aligned: list[AlignedTemplate], priors: list[float] | None
    ) -> tuple[Silhouette, list[AlignedTemplate]]:
        """Second pass: target foreground guided by the warped templates, then re-registration."""
        weights = template_weights(
            [template.alignment.dice for template in aligned], self.options.weight_power, priors
        )
        prior = sum(
            weight
            * warp_working_mask(
                template.silhouette.mask, template.silhouette, target, template.alignment.transform
            )
            for weight, template in zip(weights, aligned)
        )
        mask = foreground_from_prior(
            target.image,
            prior,
            iterations=self.options.grabcut_iterations,
            margin_fraction=self.options.prior_margin,
            seed=self.seed,
        )
        refined = silhouette_from_mask(
            mask,
            target.image,
            target.full_shape,
            sigma=self.options.silhouette_sigma,
            body_radius=self.options.body_radius,
        )
        realigned = [
            AlignedTemplate(
                self._register(
                    refined, template.silhouette, initial=template.alignment.global_transform
                ),
                template.maps,
                template.silhouette,
                template.image,
            )
            for template in aligned
        ]
        return refined, realigned

    def _predict(
        self, target: Frame, templates: list[PreparedTemplate], structures: StructureTable
    ) -> Prediction:
        """Turn the target as its appearance says, predict, and turn the labels back."""
        turn = choose_turn(
            target.image,
            [template.descriptor for template in templates],
            allowed_turns(self.options.orient_rotations, self.options.orient_mirror),
            self.options.orient_margin,
        )
        if turn.is_identity:
            return self._predict_as_is(target, templates, structures)
        turned = Frame(target.specimen, apply_turn(np.asarray(target.image), turn))
        prediction = self._predict_as_is(turned, templates, structures)
        prediction.labels = undo_turn(prediction.labels, turn)
        return prediction

    def _predict_as_is(
        self, target: Frame, templates: list[PreparedTemplate], structures: StructureTable
    ) -> Prediction:
        silhouette = self._silhouette(target.image)
        aligned = [self._align(silhouette, template) for template in templates]
        if self.options.refine_foreground:
            silhouette, aligned = self._refine(silhouette, aligned, self._priors(templates))
        warped = [
            warp_maps(template.maps, template.silhouette, silhouette, template.alignment.transform)
            for template in aligned
        ]
        qualities = [template.alignment.dice for template in aligned]
        weights = consensus_weights(
            warped,
            template_weights(qualities, self.options.weight_power, self._priors(templates)),
            structures,
            power=self.options.agreement_power,
            drop_below=self.options.drop_below,
        )
        probabilities = fuse_probabilities(warped, weights)
        scene = Scene.of(as_rgb(target.image), silhouette, structures, self.options)
        steps = steps_after_fusion(
            scene, probabilities, templates, aligned, weights, self.options, self.seed
        )
        edge_agreement = (
            mean_dice(steps.transferred, steps.snapped, scene.compact)
            if self.options.snap_beta > 0
            else np.nan
        )
        # the templates' agreement with what they transferred, before the body fill adds
        # pixels that no template put there
        agreement = template_agreement(warped, steps.unfilled, structures)
        blobs = [agreement[s.name] for s in structures if s.kind == "blob"]
        return Prediction(
            specimen=target.specimen,
            labels=steps.labels,
            confidence=probability_summary(steps.labels, probabilities, structures),
            object_score=agreement,
            templates=tuple(t.specimen for t in templates),
            evidence={
                "agreement": nanmean(blobs or list(agreement.values())),
                "edge_agreement": float(edge_agreement),
                "single_template_agreement": self._single_template_agreement(
                    scene, steps.labels, warped, templates, aligned, weights
                ),
            },
        )

    def _single_template_agreement(self, scene, fused, warped, templates, aligned, weights):
        """Mean mIoU (all structures) between the fused labels and what each template
        predicts alone (the same registration, every step after fusion).

        The warped masks' agreement (:func:`template_agreement`) does not see the small and
        thin parts, which the steps after fusion re-place: each template alone re-places them
        by its own look, and where the templates put the eye in different places, the eye is
        likely wrong.  Templates the fusion dropped count too: that they disagree is the
        evidence.  NaN with ``qc_single_templates`` false or a single template.
        """
        if not self.options.qc_single_templates or len(weights) < 2:
            return float("nan")
        alone = np.ones(1)
        scores = [
            mean_iou(
                class_iou(
                    steps_after_fusion(
                        scene,
                        warped[i],
                        templates[i : i + 1],
                        aligned[i : i + 1],
                        alone,
                        self.options,
                        self.seed,
                    ).labels,
                    fused,
                    scene.structures.labels,
                )
            )
            for i in range(len(weights))
        ]
        return nanmean(scores)
