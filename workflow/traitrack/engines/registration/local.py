"""Small parts (an ant's eye, a beetle's eye) placed by a local search inside their parent part.

A smooth deformation of a silhouette moves a 10-pixel eye by more than its own size, so the
warped eye rarely overlaps the real one, and fusion over templates averages it away.  The
parent part (the head) transfers well, and the eye has a look of its own (a rounded, shiny,
often darker or paler patch).  So: each template's eye patch, scaled by the parent's size
ratio, is matched (normalised cross-correlation, OpenCV) inside the target's transferred head;
the score maps of all templates are summed with the fusion weights, with a soft pull towards
where each template has its eye within its head.  A pixel classifier learnt from the templates
(:mod:`.appearance`) adds how likely each pixel is to be eye by its look relative
to its own head, which finds eyes that look unlike the templates' patches.  The templates' eye
shapes are then stamped, as a weighted vote, at the best position, and the stamp gives way to
the target's own dark or pale patch there when one overlaps it enough (:func:`own_region`):
the templates' eyes are of other sizes and shapes, the target's outline is in its pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from traitrack.engines.registration.appearance import (
    gradient_magnitude,
    part_probability,
    scale_normalised_log,
)

# share of the templates (by weight) that must cover a pixel of the placed part: below half,
# because templates disagree on the exact outline and an intersection shrinks the part
VOTE_SHARE = 0.3


@dataclass
class PartTemplate:
    """What one template contributes to a local search.

    image : its RGB image (uint8, own size, in the registered mirror state); labels : its label
    map; weight : its fusion weight.
    """

    image: np.ndarray
    labels: np.ndarray
    weight: float


def place_small_part(
    image: np.ndarray,
    labels: np.ndarray,
    templates: Sequence[PartTemplate],
    part: int,
    parent: int,
    *,
    margin: float = 0.5,
    pull: float = 1.0,
    blob: float = 0.5,
    classifier: float = 0.0,
    snap: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Return ``labels`` with structure ``part`` re-placed inside structure ``parent``.

    ``margin``: context around a template's part, as a fraction of the part's size, that the
    matched patch includes (the rim of the head around the eye is what makes the match).
    ``pull``: weight of the squared distance (in parent radii) from the registration's
    position, subtracted from the correlation; 0 trusts appearance alone.
    ``blob``: weight of a round-patch detector at the part's size (0..1 inside the parent),
    added to the correlation; on the shared ants, with the true head given, the eye's IoU rose
    from 0.12 to 0.15 with 0.5 (and to 0.17 with the 0.3 vote share below).
    ``classifier``: weight of the part's probability from a pixel classifier trained on the
    templates (:mod:`.appearance`; blurred at half the part's radius, 1 at its
    peak inside the parent), added to the template match's mean score; 0 turns it off.
    ``snap``: the least IoU with the stamped shape at which the target's own region replaces
    it (:func:`own_region`); 0 keeps the stamp.
    Nothing changes when the target has no parent region or no template shows the part.
    """
    region = (labels == parent) | (labels == part)
    if not region.any():
        return labels
    votes = []
    total = np.full(labels.shape, 0.0, np.float32)
    total_weight = 0.0
    target = image.astype(np.float32)
    radius = np.sqrt(region.sum() / np.pi)
    for template in templates:
        if template.weight <= 0:  # dropped by the fusion: no vote (all dropped: nothing moves)
            continue
        proposal = _score_map(target, region, template, part, parent, margin, pull, radius, blob)
        if proposal is None:
            continue
        score, stamp = proposal
        total += np.float32(template.weight) * score
        total_weight += template.weight
        votes.append((template.weight, stamp))
    if not votes:
        return labels
    total /= np.float32(total_weight)
    if classifier > 0:
        total += np.float32(classifier) * _appearance(image, region, templates, part, parent, seed)
    inside = np.where(region, total, -np.inf)
    centre_y, centre_x = np.unravel_index(np.argmax(inside), inside.shape)
    placed = _stamp_votes(labels.shape, votes, (centre_y, centre_x), total_weight)
    placed &= _dilate(region, 2)
    if snap > 0:
        placed = own_region(image, placed, region, snap)
    result = labels.copy()
    result[result == part] = parent
    result[placed] = part
    return result


def own_region(
    image: np.ndarray,
    placed: np.ndarray,
    region: np.ndarray,
    min_overlap: float,
    levels: int = 16,
) -> np.ndarray:
    """The target's own patch where ``placed`` lies, or ``placed`` itself when none overlaps it
    with an IoU of at least ``min_overlap``.

    Candidates are the connected pieces of ``region`` (the parent) whose lightness (CIELab L,
    blurred by 1 px) lies below or above a level: an eye darker or paler than its head is one
    such piece at some level.  The levels are ``levels`` quantiles over the parent (an eye is a
    few per cent of its head) and as many evenly spaced between its 1st and 99th percentile (a
    contrast gap between eye and head).  Each piece is taken as its convex hull within the
    parent, which closes over a specular highlight inside the eye, and must be 0.15 to 5 times
    the placed part's area.  Of the nested pieces around an eye, the one whose rim lies on the
    strongest edge wins (mean gradient along the rim, times the IoU with ``placed``), so the
    templates' size does not decide the outline.  The engine's numbers:
    ``registration.options`` (``small_part_snap``).
    """
    area = int(placed.sum())
    if area == 0 or not region.any():
        return placed
    ys, xs = np.nonzero(region | placed)
    window = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    inside, stamp = region[window], placed[window]
    lab = cv2.cvtColor(np.ascontiguousarray(image[window][..., :3], np.uint8), cv2.COLOR_RGB2LAB)
    lightness = cv2.GaussianBlur(lab[..., 0].astype(np.float32), (0, 0), 1.0)
    gradient = gradient_magnitude(lightness)
    best, best_score = None, -1.0
    sizes = (max(6, 0.15 * area), max(30, 5 * area))
    for piece in _pieces_touching(stamp, lightness, inside, levels, sizes):
        shape = _convex_hull(piece) & inside
        overlap = (shape & stamp).sum() / (shape | stamp).sum()
        if overlap < min_overlap:
            continue
        score = overlap * gradient[shape & ~_erode(shape)].mean()
        if score > best_score:
            best, best_score = shape, score
    if best is None:
        return placed
    result = np.zeros_like(placed)
    result[window] = best
    return result


def _pieces_touching(
    stamp: np.ndarray,
    lightness: np.ndarray,
    inside: np.ndarray,
    levels: int,
    sizes: tuple[float, float],
):
    """The connected pieces of ``inside`` darker or paler than each level that touch
    ``stamp``, of an area within ``sizes`` (the levels: see :func:`own_region`)."""
    values = lightness[inside]
    low, high = np.percentile(values, [1, 99])
    spaced = np.concatenate(
        [
            np.quantile(values, np.linspace(0.02, 0.98, levels)),
            np.linspace(low, high, levels + 2)[1:-1],
        ]
    )
    for level in spaced:
        for side in (lightness < level, lightness > level):
            count, pieces, stats, _ = cv2.connectedComponentsWithStats(
                (side & inside).astype(np.uint8), connectivity=4
            )
            for index in np.unique(pieces[stamp]):
                if index and sizes[0] <= stats[index, cv2.CC_STAT_AREA] <= sizes[1]:
                    yield pieces == index


def _erode(mask: np.ndarray) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def _convex_hull(mask: np.ndarray) -> np.ndarray:
    points = cv2.findNonZero(mask.astype(np.uint8))
    hull = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    return hull.astype(bool)


def _score_map(
    target: np.ndarray,
    region: np.ndarray,
    template: PartTemplate,
    part: int,
    parent: int,
    margin: float,
    pull: float,
    radius: float,
    blob: float,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per target pixel, the score of centring this template's part there, and its part shape.

    The score is NCC minus the position pull; -1 where the patch does not fit.
    """
    part_mask = template.labels == part
    parent_area = ((template.labels == parent) | part_mask).sum()
    if not part_mask.any() or parent_area == 0:
        return None
    scale = float(np.sqrt(region.sum() / parent_area))
    ys, xs = np.nonzero(part_mask)
    height, width = np.ptp(ys) + 1, np.ptp(xs) + 1
    pad = int(round(margin * max(height, width)))
    top, left = max(0, ys.min() - pad), max(0, xs.min() - pad)
    bottom = min(part_mask.shape[0], ys.max() + 1 + pad)
    right = min(part_mask.shape[1], xs.max() + 1 + pad)
    size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
    if min(size) < 3 or size[0] >= target.shape[1] or size[1] >= target.shape[0]:
        return None
    patch = cv2.resize(
        template.image[top:bottom, left:right].astype(np.float32),
        size,
        interpolation=cv2.INTER_AREA,
    )
    stamp = cv2.resize(
        part_mask[top:bottom, left:right].astype(np.float32),
        size,
        interpolation=cv2.INTER_LINEAR,
    )
    ncc = cv2.matchTemplate(target, patch, cv2.TM_CCOEFF_NORMED)
    ncc = np.nan_to_num(ncc, nan=-1.0)
    score = np.full(region.shape, -1.0, np.float32)
    offset_y, offset_x = size[1] // 2, size[0] // 2
    score[offset_y : offset_y + ncc.shape[0], offset_x : offset_x + ncc.shape[1]] = ncc
    if blob > 0:
        score += np.float32(blob) * _blobness(target, float(np.sqrt(stamp.sum() / np.pi)), region)
    expected = _expected_centre(template, region, part, parent)
    if pull > 0:
        yy, xx = np.mgrid[: region.shape[0], : region.shape[1]].astype(np.float32)
        distance = np.hypot(yy - expected[0], xx - expected[1]) / max(radius, 1.0)
        score -= np.float32(pull) * distance**2
    return score, stamp


def _appearance(image, region, templates, part, parent, seed) -> np.ndarray:
    """The classifier's part probability, blurred at half the part's radius so that the peak
    falls in the middle of a part-sized patch, scaled to 1 at its maximum inside ``region``."""
    found = part_probability(image, region, templates, part, parent, seed=seed)
    if found is None:
        return np.zeros(region.shape, np.float32)
    probability, radius = found
    blurred = cv2.GaussianBlur(probability, (0, 0), max(0.7, radius / 2))
    peak = blurred[region].max()
    return blurred / peak if peak > 0 else blurred


def _blobness(target: np.ndarray, part_radius: float, region: np.ndarray) -> np.ndarray:
    """Scale-normalised |Laplacian of Gaussian| at the part's radius, 0..1 inside ``region``:
    high on round patches of that size, dark or pale (eyes are either)."""
    grey = cv2.cvtColor(target.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    response = np.abs(scale_normalised_log(grey, part_radius))
    peak = response[region].max() if region.any() else 0
    return response / peak if peak > 0 else response


def _expected_centre(
    template: PartTemplate, region: np.ndarray, part: int, parent: int
) -> tuple[float, float]:
    """Where the part should be: at the same relative place in the target's parent bounding box
    as in the template's.  (The registration's warped part centre measured worse: the head's
    outline places the eye better than a deformation of the whole silhouette.)"""
    own = template.labels == part
    ys, xs = np.nonzero(own | (template.labels == parent))
    part_ys, part_xs = np.nonzero(own)
    relative_y = (part_ys.mean() - ys.min()) / max(1, np.ptp(ys))
    relative_x = (part_xs.mean() - xs.min()) / max(1, np.ptp(xs))
    target_ys, target_xs = np.nonzero(region)
    return (
        target_ys.min() + relative_y * np.ptp(target_ys),
        target_xs.min() + relative_x * np.ptp(target_xs),
    )


def _stamp_votes(
    shape: tuple[int, int],
    votes: list[tuple[float, np.ndarray]],
    centre: tuple[int, int],
    total_weight: float,
) -> np.ndarray:
    """Weighted vote of the templates' part shapes, each centred on ``centre``; >= half."""
    accumulated = np.zeros(shape, np.float32)
    for weight, stamp in votes:
        height, width = stamp.shape
        top, left = centre[0] - height // 2, centre[1] - width // 2
        y0, x0 = max(0, top), max(0, left)
        y1, x1 = min(shape[0], top + height), min(shape[1], left + width)
        if y1 <= y0 or x1 <= x0:
            continue
        accumulated[y0:y1, x0:x1] += (
            np.float32(weight) * stamp[y0 - top : y1 - top, x0 - left : x1 - left]
        )
    return accumulated >= VOTE_SHARE * total_weight


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
