"""Options of the registration engine: their defaults, what each does, and their check.

Kept apart from the engine so that the config README, the benchmark and the engine read one
table; :func:`check_options` names every bad key at once, before any image is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from traitrack.engines.registration.orient import QUARTER_TURNS

DEFAULT_OPTIONS: dict[str, Any] = {
    # working size (px, longest side) at which silhouettes are found and registered
    "working_size": 224,
    # SimpleITK / OpenCV threads per engine (1 keeps results reproducible across machines)
    "threads": 1,
    # GrabCut iterations for the foreground silhouettes
    "grabcut_iterations": 5,
    # for photographs whose background is out of focus (focus-stacked, as AntWeb's ants):
    # GrabCut starts from where the image has fine detail as well as from colour, so that pins
    # out of focus, card points and mounts stay out of the silhouette.  Pixels below this
    # fraction of the image's 99th-percentile detail are plain; plain regions reaching the
    # border are background.  0 (colour alone) for specimens on printed labels, which have
    # detail everywhere.  See traitrack.silhouette.mark_by_detail.  On the ants' tuning split
    # (``registration_real.py --tuning-split --targets 40 --option foreground_detail=X``,
    # 5 fused) mIoU rose from 0.366 to 0.470 / 0.475 / 0.497 / 0.473 / 0.427 with
    # 0.05 / 0.075 / 0.1 / 0.15 / 0.2 (ants: 0.1); on the beetles' it fell from 0.596 to
    # 0.522 (0.1) and 0.467 (0.15)
    "foreground_detail": 0.0,
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
    "thin_spread": 16.0,
    "thin_min_probability": 0.003,
    # ... each claimed pixel then labelled as the transferred thin structure it is connected to
    # (nearest along the thin pixels), not by the blurred maps alone, which give an antenna's
    # tip to a leg whose averaged map lies nearer.  Beetles' tuning split (scratch run of the
    # benchmark's fused path, 40 targets): legs 0.467 -> 0.475, antennae 0.296 -> 0.334;
    # benchmark split (``registration_real.py --set beetles``, 5 fused): legs 0.449 -> 0.451,
    # antennae 0.274 -> 0.298
    "thin_follow_connections": True,
    # ... and the pixels on thin dark lines attached to the silhouette (Sato ridge filter at
    # these scales, working px, above this quantile of the ridge response near the specimen):
    # GrabCut at the working size loses most antennae.  On the shared beetles (40 targets, 5
    # templates, the same registrations fused again) legs rose from 0.29 to 0.42 and antennae
    # from 0.16 to 0.26 IoU; [] turns it off.  The quantile was chosen on the beetles'
    # tuning split, which holds none of the benchmark's targets (``registration_real.py
    # --tuning-split --targets 40``): 0.85 against 0.9 raised legs 0.451 -> 0.467 and
    # antennae 0.261 -> 0.296; 0.825 and 0.875 gained less
    "ridge_sigmas": [1.0, 2.0, 3.0],
    "ridge_quantile": 0.85,
    # ... that quantile taken within this band around the silhouette (fraction of the working
    # size), so that the background's size and clutter do not move the threshold
    "ridge_band": 0.05,
    # the compact parts' boundaries snapped to the target's own edges: a random walker on its
    # colour (beta: edge sensitivity, 0 turns it off) seeded where the fused probability of a
    # part or of background reaches snap_confidence; see registration.edges
    "snap_beta": 3000.0,
    "snap_confidence": 0.9,
    # force background where the target's own silhouette is absent
    "restrict_to_foreground": True,
    # fusion weights also from each template's agreement with the other templates (Dice of
    # the compact parts, to the power agreement_power), and templates below drop_below times
    # the best agreement dropped (0 and 0: registration quality alone).  On the shared data
    # (40 targets, 5 templates): beetles 0.571 -> 0.579 mIoU (the same registrations fused
    # again), ants 0.395 -> 0.393 (two full runs)
    "agreement_power": 4.0,
    "drop_below": 0.8,
    # orientation by appearance before registration (the dataset's prior): the quarter turns
    # (degrees) a target may need, whether it may be mirrored, and how much closer (relative
    # HOG distance to its templates) a turned pose must be to replace the unturned one
    "orient_rotations": [0],
    "orient_mirror": False,
    "orient_margin": 0.05,
    # small parts placed by a local appearance search inside their parent part, as
    # {part: parent} structure names (ants: {eye: head}); see registration.local
    "small_parts": {},
    # that search's pull towards the registered position (squared distance in parent radii)
    "small_part_pull": 1.0,
    # and its weight of a round-patch (|LoG|) detector at the part's size
    "small_part_blob": 0.5,
    # weight of the part's probability from a pixel classifier trained on the templates (its
    # look relative to its parent: registration.appearance), against the template match's
    # score; 0 turns it off.  On the ants' tuning split (``registration_real.py --set ants
    # --tuning-split --targets 40``, 5 fused) the eye's IoU rose from 0.138 (off) to 0.257 /
    # 0.288 / 0.281 with 2 / 4 / 8, and the mIoU from 0.497 to 0.539 with 4
    "small_part_classifier": 4.0,
    # the placed part gives way to the target's own dark or pale patch that overlaps it with at
    # least this IoU (registration.local.own_region); 0 keeps the templates' stamped shape.
    # On the ants' tuning split (40 targets, 5 fused; a scratch run of the benchmark's fused
    # path, which gives 0.563 / 0.288 as ``registration_real.py --tuning-split`` does at 0) eye
    # IoU 0.288 (0) -> 0.319 / 0.320 / 0.316 (0.2 / 0.3 / 0.45), mIoU 0.563 -> 0.571 (0.3)
    "small_part_snap": 0.3,
    # for sets whose masks leave out part of what the camera sees (the ants' legs): unlabelled
    # silhouette pixels that a classifier learnt from the templates calls annotated body with
    # more than this probability, and that touch a labelled part, take the nearest compact
    # part (registration.body); 0 turns it off
    "body_fill": 0.0,
    # QC evidence: each template (also those the fusion dropped) predicts the target alone,
    # through every step after fusion (no second registration), and the mean mIoU of those
    # predictions with the fused one is the prediction's single_template_agreement (see
    # qc.EVIDENCE); false skips that work and leaves it NaN
    "qc_single_templates": True,
}


TEMPLATE_SILHOUETTES = ("labels", "image", "union")


class OptionsError(ValueError):
    """The registration engine's options are not usable; the message names the bad keys."""


def check_options(options: Mapping[str, Any]) -> None:
    """Raise :class:`OptionsError` naming every option of the wrong type or range."""
    minimum_ints = {"working_size": 16, "threads": 1, "start_angles": 1}
    non_negative_ints = (
        "body_radius",
        "appendage_radius",
        "grabcut_iterations",
        "similarity_iterations",
        "affine_iterations",
        "demons_iterations",
    )
    bad = [k for k, low in minimum_ints.items() if not _is_int(options[k]) or options[k] < low]
    bad += [k for k in non_negative_ints if not _is_int(options[k]) or options[k] < 0]
    bad += [
        k
        for k in (
            "silhouette_sigma",
            "demons_smoothing",
            "weight_power",
            "turn_penalty",
            "prior_margin",
            "thin_spread",
            "thin_min_probability",
            "small_part_pull",
            "small_part_blob",
            "small_part_classifier",
            "small_part_snap",
            "body_fill",
            "orient_margin",
            "agreement_power",
            "drop_below",
            "ridge_quantile",
            "ridge_band",
            "snap_beta",
            "snap_confidence",
            "foreground_detail",
        )
        if not isinstance(options[k], (int, float))
        or isinstance(options[k], bool)
        or options[k] < 0
    ]
    flags = (
        "try_mirror",
        "restrict_to_foreground",
        "refine_foreground",
        "thin_from_silhouette",
        "thin_follow_connections",
        "orient_mirror",
        "qc_single_templates",
    )
    bad += [k for k in flags if not isinstance(options[k], bool)]
    sigmas = options["ridge_sigmas"]
    if not isinstance(sigmas, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in sigmas
    ):
        bad.append("ridge_sigmas")
    if isinstance(options["ridge_quantile"], (int, float)) and options["ridge_quantile"] >= 1:
        bad.append("ridge_quantile")
    if isinstance(options["body_fill"], (int, float)) and options["body_fill"] >= 1:
        bad.append("body_fill")
    rotations = options["orient_rotations"]
    if not isinstance(rotations, (list, tuple)) or not all(
        _is_int(r) and r % 360 in QUARTER_TURNS for r in rotations
    ):
        bad.append("orient_rotations")
    small = options["small_parts"]
    if not isinstance(small, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k != v for k, v in small.items()
    ):
        bad.append("small_parts")
    if options["template_silhouette"] not in TEMPLATE_SILHOUETTES:
        bad.append("template_silhouette")
    if bad:
        raise OptionsError(
            f"registration engine option(s) {sorted(set(bad))} have unusable values "
            f"({ {k: options[k] for k in sorted(set(bad))} }); see DEFAULT_OPTIONS for the types"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
