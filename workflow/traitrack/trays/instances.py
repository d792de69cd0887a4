"""Specimen instances from foreground components: watershed splits, the count, reading order.

Touching specimens are split by a watershed on the distance transform: one marker per
distance peak, then neighbouring regions are merged again unless the boundary between them
is a narrow neck (shorter than ``neck_ratio`` times the narrower region's width), so the
waist between a beetle's pronotum and elytra stays whole while two beetles touching by a leg
or a flank come apart. Pieces of one specimen lying apart are joined, and a component that
holds two specimens is cut in two, by the shape of their body (``shape``): compact and
longer than wide for one specimen, with bays or too long for two. Where the tray's expected
count is known, the largest instances are split further (or the smallest merged into their
nearest neighbour) until the count fits.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import feature, segmentation

from traitrack.trays.shape import (
    body_solidity,
    is_one_body,
    looks_like_several,
    one_specimen,
    union_shape,
)


def watershed_split(mask: np.ndarray, *, min_separation: float, n_regions: int | None = None):
    """Cut one component at its distance peaks.

    Parameters
    ----------
    mask : numpy.ndarray
        The component's boolean mask (cropped to its box is enough).
    min_separation : float
        Least distance between two markers, pixels.
    n_regions : int, optional
        Exactly this many markers (the strongest peaks; k-means of the pixels if there are too
        few peaks). Default: every peak at least a third of the highest.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The regions' label map (1..n) and the distance transform.
    """
    distance = ndi.gaussian_filter(ndi.distance_transform_edt(mask), 1.0)
    peaks = feature.peak_local_max(
        distance,
        min_distance=max(1, int(min_separation)),
        threshold_abs=distance.max() / 3,
        labels=mask.astype(np.int32),
        exclude_border=False,
    )
    if n_regions is not None:
        peaks = peaks[:n_regions]
        if len(peaks) < n_regions:
            peaks = kmeans_centres(mask, n_regions)
    markers = np.zeros(mask.shape, np.int32)
    for index, (row, col) in enumerate(peaks, start=1):
        markers[row, col] = index
    if markers.max() <= 1:
        return mask.astype(np.int32), distance
    return segmentation.watershed(-distance, markers, mask=mask), distance


def kmeans_centres(mask: np.ndarray, k: int) -> np.ndarray:
    """``k`` seed points spread over the mask (k-means of its pixel coordinates)."""
    from scipy.cluster.vq import kmeans2

    points = np.argwhere(mask).astype(np.float64)
    rng = np.random.default_rng(0)
    centres, _ = kmeans2(points, k, minit="++", seed=rng)
    inside = np.argwhere(mask)
    nearest = [inside[np.argmin(((inside - c) ** 2).sum(1))] for c in centres]
    return np.array(nearest)


def merge_wide_necks(
    regions: np.ndarray,
    distance: np.ndarray,
    *,
    neck_ratio: float,
    typical_area: float,
    min_solidity: float,
):
    """Merge neighbouring regions unless the boundary between them is a narrow neck.

    A region smaller than 0.3 ``typical_area`` is always merged into the neighbour it shares
    the longest boundary with, and so are two regions that together are about one specimen
    (at most 2 ``typical_area``, the smaller under 0.7) whose union has one specimen's
    compact body (``shape.one_specimen``): a beetle cut at its waist.
    """
    regions = regions.copy()
    min_area = 0.3 * typical_area
    while True:
        ids = [i for i in np.unique(regions) if i]
        if len(ids) <= 1:
            return regions
        widths = {i: 2 * distance[regions == i].max() for i in ids}
        areas = {i: int((regions == i).sum()) for i in ids}
        best = None
        for i in ids:
            ring = ndi.binary_dilation(regions == i) & (regions != i) & (regions > 0)
            neighbours, counts = np.unique(regions[ring], return_counts=True)
            for j, boundary in zip(neighbours, counts, strict=True):
                small = min(areas[i], areas[j]) < min_area
                # two parts of one specimen split at its waist: together about one specimen
                small = small or (
                    areas[i] + areas[j] <= 2.0 * typical_area
                    and min(areas[i], areas[j]) < 0.7 * typical_area
                    and one_specimen(
                        regions, i, j, typical_area=typical_area, min_solidity=min_solidity
                    )
                )
                wide = boundary >= neck_ratio * min(widths[i], widths[j])
                if small or wide:
                    score = boundary / min(widths[i], widths[j]) + (1e6 if small else 0)
                    if best is None or score > best[0]:
                        best = (score, i, j)
        if best is None:
            return regions
        regions[regions == best[2]] = best[1]


def split_components(
    components: np.ndarray, *, typical_area: float, neck_ratio: float, min_solidity: float
) -> np.ndarray:
    """Split every component that holds several specimens (label map in, label map out)."""
    out = np.zeros(components.shape, np.int32)
    next_label = 1
    separation = 0.35 * np.sqrt(typical_area)
    for index, box in enumerate(ndi.find_objects(components), start=1):
        if box is None:
            continue
        mask = components[box] == index
        regions, distance = watershed_split(mask, min_separation=separation)
        regions = merge_wide_necks(
            regions,
            distance,
            neck_ratio=neck_ratio,
            typical_area=typical_area,
            min_solidity=min_solidity,
        )
        for region in [r for r in np.unique(regions) if r]:
            out[box][regions == region] = next_label
            next_label += 1
    return out


def fit_count(
    labels: np.ndarray, n_expected: int, *, typical_area: float, max_steps: int = 100
) -> np.ndarray:
    """Split the largest instances, or merge the smallest, until there are ``n_expected``.

    A split takes the instance with the largest area relative to ``typical_area`` (at least
    1.3 times it) into one more region than it holds specimens by the distance peaks; a merge
    gives the smallest instance (under 0.6 times ``typical_area``) to its nearest neighbour.
    Stops when neither applies: the count then stays off and the tray is flagged.
    """
    labels = relabel(labels)
    for _ in range(max_steps):
        count = int(labels.max())
        if count == n_expected:
            break
        areas = np.bincount(labels.ravel())[1:]
        if count < n_expected:
            target = int(np.argmax(areas)) + 1
            if areas[target - 1] < 1.3 * typical_area:
                break
            box = ndi.find_objects((labels == target).astype(np.int32))[0]
            mask = labels[box] == target
            regions, _ = watershed_split(
                mask, min_separation=0.25 * np.sqrt(typical_area), n_regions=2
            )
            if regions.max() < 2:
                break
            labels[box][mask & (regions == 2)] = count + 1
        else:
            smallest = int(np.argmin(areas)) + 1
            if areas[smallest - 1] >= 0.6 * typical_area:
                break
            others = (labels > 0) & (labels != smallest)
            _, (rows, cols) = ndi.distance_transform_edt(~others, return_indices=True)
            mask = labels == smallest
            owner = np.bincount(labels[rows[mask], cols[mask]]).argmax()
            labels[mask] = owner
            labels = relabel(labels)
    return relabel(labels)


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 1..n in order of first appearance, 0 kept."""
    ids = np.unique(labels)
    lookup = np.zeros(int(ids.max()) + 1, np.int32)
    lookup[ids[ids > 0]] = np.arange(1, (ids > 0).sum() + 1)
    return lookup[labels]


def reading_order(labels: np.ndarray) -> np.ndarray:
    """Renumber instances by rows, top to bottom, each row left to right.

    Instances are taken by the top of their box; an instance starts a new row when its
    centroid lies below the current row's lowest centroid by more than half the median
    instance height (so a row may be ragged, as specimens in a drawer are).
    """
    count = int(labels.max())
    if count == 0:
        return labels
    boxes = ndi.find_objects(labels)
    centres = np.array(ndi.center_of_mass(labels > 0, labels, range(1, count + 1)))
    heights = np.array([b[0].stop - b[0].start for b in boxes])
    tolerance = 0.5 * np.median(heights)
    order = np.argsort(centres[:, 0], kind="stable")
    rows, current = [], [order[0]]
    for index in order[1:]:
        if centres[index, 0] - np.mean(centres[current, 0]) > tolerance:
            rows.append(current)
            current = []
        current.append(index)
    rows.append(current)
    ranked = [i for row in rows for i in sorted(row, key=lambda i: centres[i, 1])]
    lookup = np.zeros(count + 1, labels.dtype)
    lookup[np.array(ranked) + 1] = np.arange(1, count + 1)
    return lookup[labels]


def merge_halves(
    labels: np.ndarray, *, typical_area: float, max_gap: float, min_solidity: float
) -> np.ndarray:
    """Join pieces of one specimen that lie apart (a beetle's head and pronotum apart from its
    elytra where the waist is thin or pale).

    The smallest instance under 0.7 ``typical_area`` is joined to the neighbour within
    ``max_gap`` pixels, together at most 2 ``typical_area``, whose union has the most compact
    body (``shape.union_shape``) among those whose body is one specimen's
    (``shape.is_one_body`` at ``min_solidity``); repeated until no instance qualifies. Area
    alone does not join: two small beetles touching are about one specimen's area too.
    """
    labels = labels.copy()
    margin = int(np.ceil(max_gap)) + 1
    refused: set[int] = set()
    while True:
        areas = np.bincount(labels.ravel())
        small = [i for i in np.argsort(areas) if 0 < areas[i] < 0.7 * typical_area]
        small = [i for i in small if i and i not in refused]
        if not small:
            return labels
        index = int(small[0])
        rows, cols = ndi.find_objects((labels == index).astype(np.int32))[0]
        box = (
            slice(max(0, rows.start - margin), rows.stop + margin),
            slice(max(0, cols.start - margin), cols.stop + margin),
        )
        window = labels[box]
        mine = window == index
        gap = ndi.distance_transform_edt(~mine)
        near = np.unique(window[(gap <= max_gap) & (window > 0) & ~mine])
        joinable = {}  # neighbour -> the solidity of the body joined with it
        for other in near:
            if areas[index] + areas[other] <= 2.0 * typical_area:
                solid, long = union_shape(labels, index, other, typical_area=typical_area)
                if is_one_body(solid, long, min_solidity=min_solidity):
                    joinable[int(other)] = solid
        if joinable:
            labels[labels == index] = max(joinable, key=joinable.get)
        else:
            refused.add(index)


def split_several(labels: np.ndarray, *, typical_area: float, min_solidity: float) -> np.ndarray:
    """Split instances that hold two touching specimens (``shape.looks_like_several``).

    Such an instance is cut in two by the distance-transform watershed at its two strongest
    peaks; the cut stays when both parts are at least 0.4 ``typical_area`` and each has one
    specimen's compact body (solidity at least ``min_solidity``).
    """
    labels = labels.copy()
    next_label = int(labels.max()) + 1
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        mask = labels[box] == index
        if not looks_like_several(mask, typical_area=typical_area, min_solidity=min_solidity):
            continue
        regions, _ = watershed_split(mask, min_separation=0.25 * np.sqrt(typical_area), n_regions=2)
        parts = [regions == k for k in (1, 2)]
        if regions.max() < 2 or min(p.sum() for p in parts) < 0.4 * typical_area:
            continue
        if all(body_solidity(p, typical_area=typical_area) >= min_solidity for p in parts):
            labels[box][parts[1]] = next_label
            next_label += 1
    return labels
