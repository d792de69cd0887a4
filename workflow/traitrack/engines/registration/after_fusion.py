"""The registration engine's steps after fusion: from fused probabilities to a target's labels.

Arg-max, the compact parts snapped to the target's own edges (:mod:`.edges`), the thin
parts extended onto the target's own appendage pixels and attached thin dark lines, the small
parts re-placed inside their parents (:mod:`.local`), then optionally the body fill
(:mod:`.body`). The QC's single-template agreement runs them again for each template alone,
so they take the scene and the templates as arguments and keep no state of their own.
"""

from __future__ import annotations

import cv2
import numpy as np

from traitrack.engines.registration.align import body_of, full_resolution_mask
from traitrack.engines.registration.body import body_probability, fill_body
from traitrack.engines.registration.edges import snap_to_edges
from traitrack.engines.registration.fusion import assign_appendages, labels_from_probabilities
from traitrack.engines.registration.local import PartTemplate, place_small_part
from traitrack.engines.registration.options import RegistrationOptions
from traitrack.engines.registration.state import Scene, Steps
from traitrack.silhouette import attached_to, thin_dark_lines


def steps_after_fusion(
    scene: Scene,
    probabilities,
    templates,
    aligned,
    weights,
    options: RegistrationOptions,
    seed: int,
) -> Steps:
    """Labels from fused probabilities: arg-max, snapped to the target's edges, thin parts
    onto its appendages, small parts re-placed, then the body fill.

    Parameters
    ----------
    scene : Scene
        The target: image, silhouette, structures, and its own appendage pixels once found.
    probabilities : numpy.ndarray
        The fused per-structure probabilities.
    templates, aligned : sequence
        The prepared templates and their alignments to the target.
    weights : numpy.ndarray
        Each template's fusion weight.
    options : RegistrationOptions
        The engine's options.
    seed : int
        Seeds the small parts' and the body's classifiers.

    Returns
    -------
    Steps
        The labels after each step.
    """
    transferred = labels_from_probabilities(probabilities, scene.allowed)
    snapped = snap_to_edges(
        scene.image,
        probabilities,
        transferred,
        scene.allowed,
        scene.compact,
        snap_beta=options.snap_beta,
        snap_confidence=options.snap_confidence,
    )
    labels = snapped
    thin = list(scene.structures.thin_labels)
    if options.thin_from_silhouette and thin:
        labels = assign_appendages(
            labels,
            probabilities,
            appendages=_appendages(scene, labels, options),
            thin_labels=thin,
            spread=options.thin_spread / scene.silhouette.spacing[0],
            min_probability=options.thin_min_probability,
            follow_connections=options.thin_follow_connections,
        )
    unfilled = _place_small_parts(
        scene.image, labels, aligned, weights, scene.structures, options, seed
    )
    filled = unfilled
    if options.body_fill > 0:
        filled = _fill_body(
            unfilled,
            scene.silhouette,
            scene.allowed,
            templates,
            aligned,
            weights,
            scene.compact,
            options,
            seed,
        )
    return Steps(transferred, snapped, unfilled, filled)


def _fill_body(labels, silhouette, allowed, templates, aligned, weights, compact, options, seed):
    """Unlabelled silhouette pixels that the templates' body classifier calls body, and
    that touch a labelled part, take the nearest compact part (:mod:`.body`)."""
    samples = [
        template.samples_for(chosen.silhouette) for template, chosen in zip(templates, aligned)
    ]
    probability = body_probability(silhouette.image, silhouette.mask, samples, weights, seed=seed)
    if probability is None:
        return labels
    height, width = silhouette.full_shape
    probability = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
    probability[~allowed] = 0.0
    return fill_body(labels, probability, options.body_fill, compact)


def _appendages(scene: Scene, labels: np.ndarray, options: RegistrationOptions) -> np.ndarray:
    """The target's own thin-part pixels (full resolution): its silhouette minus the
    silhouette's opening, plus unlabelled pixels on thin dark lines attached to the body.
    Both are the target's alone, so ``scene`` keeps them for every template's steps."""
    silhouette = scene.silhouette
    if scene.own_appendages is None:
        opened = body_of(silhouette.mask, options.appendage_radius)
        scene.own_appendages = full_resolution_mask(silhouette, silhouette.mask & ~opened)
        if options.ridge_sigmas:
            band = max(1, round(options.ridge_band * max(silhouette.mask.shape)))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1,) * 2)
            near = cv2.dilate(silhouette.mask.astype(np.uint8), kernel).astype(bool)
            lines = thin_dark_lines(
                scene.image,
                tuple(s / silhouette.spacing[0] for s in options.ridge_sigmas),
                options.ridge_quantile,
                region=full_resolution_mask(silhouette, near),
            )
            scene.attached_lines = attached_to(lines, scene.body)
    if scene.attached_lines is None:
        return scene.own_appendages
    return scene.own_appendages | (scene.attached_lines & (labels == 0))


def _place_small_parts(image, labels, aligned, weights, structures, options, seed):
    """Re-place each configured small part by a local search inside its parent part
    (``image``: the target's RGB image)."""
    for part_name, parent_name in options.small_parts.items():
        part, parent = (
            structures.by_name(part_name).label,
            structures.by_name(parent_name).label,
        )
        candidates = [
            PartTemplate(
                image=template.image,
                labels=labels_from_probabilities(template.maps),
                weight=float(weight),
            )
            for template, weight in zip(aligned, weights)
        ]
        labels = place_small_part(
            image,
            labels,
            candidates,
            part,
            parent,
            pull=options.small_part_pull,
            blob=options.small_part_blob,
            classifier=options.small_part_classifier,
            snap=options.small_part_snap,
            seed=seed,
        )
    return labels
