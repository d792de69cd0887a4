"""The synthetic beetles' bodies: two species' body plans and their parts in millimetres.

A specimen is drawn in its body frame (u across the body, to the specimen's right; v along
it, towards the abdomen tip; mm at scale 1): head, pronotum and elytra as super-ellipses,
legs and antennae as jointed polylines. :mod:`traitrack.example.pose` places the frame into
an image, :mod:`traitrack.example.synthetic` rasterises and paints it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEAD, PRONOTUM, ELYTRA, LEGS, ANTENNAE = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class BodyPlan:
    """The shape and colour of one species, in millimetres at specimen scale 1.

    Half sizes are (half width, half length).  ``elytra_taper`` narrows the elytra towards the
    tip, ``pronotum_waist`` narrows the pronotum towards its base (heart shape when > 0).
    Leg lengths are femur, tibia, tarsus.

    Attributes
    ----------
    species : str
        The species slug.
    image_format : str
        ``png`` or ``jpg``.
    elytra_half, pronotum_half, head_half : tuple of float
        Half sizes of the blobs.
    elytra_taper, pronotum_waist : float
        Narrowing of the elytra and pronotum (see above).
    antenna_length : float
        Length of one antenna.
    leg_lengths : tuple of float
        Femur, tibia and tarsus of a middle leg (front legs are shorter, hind legs longer).
    body_rgb, leg_rgb : tuple of int
        Base colours of the body and of the legs and antennae.
    """

    species: str
    image_format: str
    elytra_half: tuple[float, float]
    elytra_taper: float
    pronotum_half: tuple[float, float]
    pronotum_waist: float
    head_half: tuple[float, float]
    antenna_length: float
    leg_lengths: tuple[float, float, float]
    body_rgb: tuple[int, int, int]
    leg_rgb: tuple[int, int, int]


BODY_PLANS = (
    BodyPlan(
        "carabus_synth",
        "png",
        (1.3, 2.15),
        0.18,
        (1.0, 0.66),
        0.22,
        (0.7, 0.6),
        2.4,
        (1.25, 1.3, 1.1),
        (58, 78, 44),
        (30, 30, 28),
    ),
    BodyPlan(
        "pterostichus_synth",
        "jpg",
        (1.55, 1.85),
        0.05,
        (1.3, 0.62),
        -0.06,
        (0.55, 0.48),
        2.1,
        (1.0, 1.1, 0.9),
        (96, 54, 32),
        (112, 58, 34),
    ),
)


def _superellipse(u, v, cu, cv, half_w, half_l, exponent):
    return np.abs((u - cu) / half_w) ** exponent + np.abs((v - cv) / half_l) ** exponent <= 1.0


def part_centres(plan: BodyPlan) -> dict[str, float]:
    """Axial centres of the three blobs, with the body centred on v = 0."""
    (_, el), (_, pl), (_, hl) = plan.elytra_half, plan.pronotum_half, plan.head_half
    elytra = el
    pronotum = -pl + 0.08
    head = pronotum - pl - 0.55 * hl
    middle = ((head - hl) + 2 * el) / 2
    return {"elytra": elytra - middle, "pronotum": pronotum - middle, "head": head - middle}


def blob_labels(u: np.ndarray, v: np.ndarray, plan: BodyPlan) -> np.ndarray:
    """Label head, pronotum and elytra at body-frame points (mm); later parts cover earlier ones.

    Parameters
    ----------
    u, v : numpy.ndarray
        Body-frame coordinates in mm (across and along the body).
    plan : BodyPlan
        The species' shape.

    Returns
    -------
    numpy.ndarray
        uint8 labels of the shape of ``u``: 0, HEAD, PRONOTUM or ELYTRA.
    """
    c = part_centres(plan)
    labels = np.zeros(np.shape(u), np.uint8)
    ew, el = plan.elytra_half
    along = (v - c["elytra"]) / el
    width = ew * (1 - plan.elytra_taper * np.clip(along, 0, 1))
    exponent = np.where(along < 0, 4.0, 2.2)  # square shoulders, rounded tip
    labels[np.abs(u / width) ** exponent + np.abs(along) ** exponent <= 1] = ELYTRA
    pw, pl = plan.pronotum_half
    width = pw * (1 - plan.pronotum_waist * np.clip((v - c["pronotum"]) / pl, -1, 1))
    labels[np.abs(u / width) ** 2.8 + np.abs((v - c["pronotum"]) / pl) ** 2.8 <= 1] = PRONOTUM
    hw, hl = plan.head_half
    head = _superellipse(u, v, 0, c["head"], hw, hl, 2.3)
    for side in (-1, 1):  # eyes bulge at the sides, mandibles point forward and inward
        head |= _superellipse(u, v, side * 0.92 * hw, c["head"] - 0.15 * hl, 0.22 * hw, 0.3 * hl, 2)
        mu, mv = u - side * 0.38 * hw, v - (c["head"] - 0.95 * hl)
        cos, sin = np.cos(np.radians(30)), side * np.sin(np.radians(30))
        head |= _superellipse(
            cos * mu + sin * mv, -sin * mu + cos * mv, 0, 0, 0.13 * hw, 0.5 * hl, 2
        )
    labels[head] = HEAD
    return labels


def _polyline(start, headings_deg, lengths) -> np.ndarray:
    points = [np.asarray(start, float)]
    for heading, length in zip(headings_deg, lengths):
        step = np.array([np.cos(np.radians(heading)), np.sin(np.radians(heading))]) * length
        points.append(points[-1] + step)
    return np.array(points)


def appendage_paths(
    plan: BodyPlan, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Jointed leg and curved antenna centre lines in body-frame mm, with a random pose each.

    Legs start under the body (the body is painted over them), so only the free part shows.
    Headings are degrees from the +u axis towards +v (posterior).

    Parameters
    ----------
    plan : BodyPlan
        The species' shape.
    rng : numpy.random.Generator
        Draws the pose.

    Returns
    -------
    legs : list of numpy.ndarray
        Six (4, 2) polylines (u, v), femur, tibia and tarsus.
    antennae : list of numpy.ndarray
        Two (12, 2) polylines (u, v).
    """
    c = part_centres(plan)
    (ew, el), (pw, pl), (hw, hl) = plan.elytra_half, plan.pronotum_half, plan.head_half
    elytra_front = c["elytra"] - el
    sockets = {  # leg: (attachment u, v), headings of femur/tibia/tarsus, length factor
        "front": ((0.55 * pw, c["pronotum"] + 0.3 * pl), (-35, -75, -95), 0.9),
        "middle": ((0.4 * ew, elytra_front + 0.25 * el), (15, 50, 70), 1.0),
        "hind": ((0.4 * ew, elytra_front + 0.6 * el), (40, 75, 95), 1.15),
    }
    legs = []
    for side in (1, -1):
        for (su, sv), headings, factor in sockets.values():
            swing = rng.normal(0, 12)
            turned = np.array(headings) + swing + rng.normal(0, 8, 3)
            path = _polyline(
                (su, sv), turned, np.array(plan.leg_lengths) * factor * rng.uniform(0.92, 1.08)
            )
            legs.append(path * [side, 1])
    antennae = []
    for side in (1, -1):
        start, end = -80 + rng.normal(0, 8), -25 + rng.normal(0, 12)
        headings = np.linspace(start, end, 11)
        path = _polyline(
            (0.5 * hw, c["head"] - 0.6 * hl), headings, np.full(11, plan.antenna_length / 11)
        )
        antennae.append(path * [side, 1])
    return legs, antennae


def extent_points(plan: BodyPlan, legs, antennae) -> np.ndarray:
    """Body-frame points (mm) of the whole specimen: its blobs on a 0.05 mm grid, and its legs'
    and antennae's polyline vertices; what :func:`traitrack.example.pose.place` must fit."""
    step = 0.05
    v, u = np.mgrid[-6:6:step, -3:3:step]
    inside = blob_labels(u, v, plan) > 0
    return np.concatenate([np.stack([u[inside], v[inside]], axis=1), *legs, *antennae])
