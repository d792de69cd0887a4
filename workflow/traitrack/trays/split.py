"""Split a tray photograph into specimen instances (CPU, no weights).

The steps run on a reduced working image (``working_megapixels``) and only the final masks are
drawn at the photograph's own resolution, each inside its specimen's box, so memory grows with
the photograph only by the final 16-bit label map: background model and foreground
(``foreground``), lines out, labels and scale bars out (``objects``), the size prior,
watershed splits, pieces of one specimen joined and components of two cut by the shape of
their body (``shape``), and the expected count (``instances``), fragments back to their specimen,
reading order by rows, then each instance's full-resolution mask from the colour distance
inside its territory (the working instances grown by ``territory_px``), by GrabCut where the
specimen is too close to the tray in colour (``low_contrast_share``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage import morphology, segmentation

from traitrack.config import SchemaOptions
from traitrack.trays import foreground as fg
from traitrack.trays.instances import (
    fit_count,
    merge_halves,
    reading_order,
    relabel,
    split_components,
    split_several,
)
from traitrack.trays.objects import Excluded, attach_fragments, classify_component

STATUSES = ("ok", "count_mismatch", "merged_suspected", "fragment_suspected")


@dataclass(frozen=True)
class SplitOptions(SchemaOptions, section="split", label="split"):
    """Options of the weights-free split: the config's ``split`` section, whose schema holds
    every default, range and meaning (config/README.md)."""

    working_megapixels: float
    border_fraction: float
    min_delta_e: float
    noise_factor: float
    edge_threshold: float
    line_min_length: float
    line_max_width_px: int
    label_fill: float
    bar_elongation: float
    bar_fill: float
    min_specimen_fraction: float
    fragment_ratio: float
    fragment_distance: float
    neck_ratio: float
    body_solidity: float
    territory_px: int
    low_contrast_share: float

    @classmethod
    def from_config(cls, section: dict | None) -> SplitOptions:
        """Options from the config's ``split`` section (its other keys, such as
        ``crop_padding``, are read by the stage)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (section or {}).items() if k in names})


@dataclass
class TraySplit:
    """The result of splitting one tray.

    Attributes
    ----------
    labels : numpy.ndarray
        uint16 label map at the photograph's size: 0 background, k the k-th specimen in
        reading order.
    excluded : list of Excluded
        Labels, scale bars and lines, with boxes in the photograph's pixels.
    n_expected : int or None
        The tray's expected count, if given.
    status : str
        One of ``STATUSES``.
    working_scale : float
        Working image size / photograph size.
    """

    labels: np.ndarray
    excluded: list[Excluded] = field(default_factory=list)
    n_expected: int | None = None
    status: str = "ok"
    working_scale: float = 1.0

    @property
    def n_found(self) -> int:
        """How many specimens were found."""
        return int(self.labels.max())


def split_tray(
    image: np.ndarray, *, n_expected: int | None = None, options: SplitOptions | None = None
) -> TraySplit:
    """Split a tray photograph into specimens, labels, scale bars and lines.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) uint8 RGB photograph of the tray.
    n_expected : int, optional
        How many specimens the tray holds (from the tray's metadata); guides the splitting
        and sets the status.
    options : SplitOptions, optional
        Thresholds; the defaults suit foam, card, grey and dark trays.

    Returns
    -------
    TraySplit

    Examples
    --------
    >>> import numpy as np
    >>> tray = np.full((120, 200, 3), 230, np.uint8)
    >>> tray[30:80, 30:60] = 40
    >>> tray[30:80, 120:150] = 40
    >>> split_tray(tray).n_found
    2
    """
    options = options or SplitOptions()
    work, scale = fg.working_image(image, working_megapixels=options.working_megapixels)
    lab = fg.to_lab(work)
    area = work.shape[0] * work.shape[1]
    min_area = max(8, options.min_specimen_fraction * area)
    model = fg.fit_background(
        lab,
        border_fraction=options.border_fraction,
        min_delta_e=options.min_delta_e,
        noise_factor=options.noise_factor,
    )
    mask = fg.foreground_mask(
        lab, model, edge_threshold=options.edge_threshold, min_hole=int(min_area / 4)
    )
    background_l = float(model.evaluate(*(np.array([n / 2]) for n in work.shape[:2]))[0, 0, 0])
    excluded = []
    components, _ = ndi.label(ndi.binary_fill_holes(mask))
    for index, box in enumerate(ndi.find_objects(components), start=1):
        component = components[box] == index
        kind = classify_component(
            component,
            lab[box][..., 0],
            background_lightness=background_l,
            label_fill=options.label_fill,
            bar_elongation=options.bar_elongation,
            bar_fill=options.bar_fill,
            bar_min_width=2 * options.line_max_width_px,
        )
        if kind != "object" and component.sum() >= min_area / 4:
            excluded.append(Excluded(kind, _full_box(box, scale, image.shape[:2])))
            mask[box][component] = False
    mask, lines, removed = fg.remove_lines(
        mask, min_length_fraction=options.line_min_length, max_width=options.line_max_width_px
    )
    excluded += [
        Excluded("line", _line_box(line, work.shape[:2], scale, image.shape[:2])) for line in lines
    ]
    objects, _ = ndi.label(mask)
    objects = relabel(objects) if objects.any() else objects
    areas = np.bincount(objects.ravel())[1:]
    typical = _typical_area(areas, min_area)
    if typical is None:
        empty = np.zeros(image.shape[:2], np.uint16)
        status = "ok" if not n_expected else "count_mismatch"
        return TraySplit(empty, excluded, n_expected, status, scale)
    big = np.flatnonzero(areas >= options.fragment_ratio * typical) + 1
    specimens = np.where(np.isin(objects, big), objects, 0)
    fragments = (objects > 0) & (specimens == 0)
    instances = split_components(
        specimens,
        typical_area=typical,
        neck_ratio=options.neck_ratio,
        min_solidity=options.body_solidity,
    )
    instances = merge_halves(
        instances,
        typical_area=typical,
        max_gap=options.fragment_distance * np.sqrt(typical),
        min_solidity=options.body_solidity,
    )
    instances = split_several(instances, typical_area=typical, min_solidity=options.body_solidity)
    if n_expected:
        instances = fit_count(instances, n_expected, typical_area=typical)
    instances = attach_fragments(
        instances, fragments, max_distance=options.fragment_distance * np.sqrt(typical)
    )
    instances = reading_order(relabel(instances))
    status = _status(np.bincount(instances.ravel())[1:], typical, n_expected)
    labels = refine_full_resolution(
        image, instances, model, scale, removed=removed, options=options
    )
    return TraySplit(labels, excluded, n_expected, status, scale)


def _typical_area(areas: np.ndarray, min_area: float) -> float | None:
    """The median area of a specimen: of components above ``min_area``, then of those above
    a third of that median (so that legs and dust do not pull it down)."""
    candidates = areas[areas >= min_area]
    if len(candidates) == 0:
        return None
    median = float(np.median(candidates))
    return float(np.median(candidates[candidates >= median / 3]))


def _status(areas: np.ndarray, typical: float, n_expected: int | None) -> str:
    """The tray's status from its instances' areas and the expected count.

    An instance over 1.5 times the median specimen's area suggests a merge, one under 0.35
    times it a fragment; where the count matches ``n_expected`` only the extremes (2 and 0.3)
    flag, since specimens of one drawer differ in size.
    """
    counted = bool(n_expected) and len(areas) == n_expected
    large, small = (2.0, 0.3) if counted else (1.5, 0.35)
    merged = bool(len(areas)) and areas.max() > large * typical
    fragment = bool(len(areas)) and areas.min() < small * typical
    if n_expected and len(areas) != n_expected:
        if len(areas) < n_expected and merged:
            return "merged_suspected"
        if len(areas) > n_expected and fragment:
            return "fragment_suspected"
        return "count_mismatch"
    if merged:
        return "merged_suspected"
    if fragment:
        return "fragment_suspected"
    return "ok"


def _full_box(box, scale: float, shape) -> tuple[int, int, int, int]:
    """A working-image slice pair -> (x0, y0, x1, y1) in the photograph's pixels."""
    rows, cols = box
    return (
        int(np.floor(cols.start / scale)),
        int(np.floor(rows.start / scale)),
        min(shape[1], int(np.ceil(cols.stop / scale))),
        min(shape[0], int(np.ceil(rows.stop / scale))),
    )


def _line_box(line, work_shape, scale: float, shape) -> tuple[int, int, int, int]:
    half = line.width
    rows = slice(
        max(0, min(line.y0, line.y1) - half), min(work_shape[0], max(line.y0, line.y1) + half + 1)
    )
    cols = slice(
        max(0, min(line.x0, line.x1) - half), min(work_shape[1], max(line.x0, line.x1) + half + 1)
    )
    return _full_box((rows, cols), scale, shape)


def refine_full_resolution(
    image: np.ndarray,
    instances: np.ndarray,
    model,
    scale: float,
    *,
    removed: np.ndarray,
    options: SplitOptions,
) -> np.ndarray:
    """Each working instance's mask at the photograph's resolution.

    Inside the instance's territory (the working label map grown by ``territory_px``, so
    neighbours never share a pixel) a pixel belongs to the specimen when its colour is far
    from the background model; only the connected pieces that meet the working instance are
    kept, so thin legs lost at the working scale come back and nothing else does. Pixels of a
    removed line (``removed``, working scale) stay out. The colour distance is taken from the
    background around the specimen (``_local_distance``), which follows the tray's blotches
    and shading closer than the plane fitted to the border.
    """
    height, width = image.shape[:2]
    labels = np.zeros((height, width), np.uint16)
    territory = segmentation.expand_labels(instances, distance=options.territory_px)
    territory[ndi.binary_dilation(removed) & (instances == 0)] = 0
    margin = 3 * options.territory_px + 2
    for index, box in enumerate(ndi.find_objects(territory), start=1):
        if box is None:
            continue
        r0, r1 = max(0, box[0].start - margin), min(territory.shape[0], box[0].stop + margin)
        c0, c1 = max(0, box[1].start - margin), min(territory.shape[1], box[1].stop + margin)
        y0, y1 = int(np.floor(r0 / scale)), min(height, int(np.ceil(r1 / scale)))
        x0, x1 = int(np.floor(c0 / scale)), min(width, int(np.ceil(c1 / scale)))
        rows = np.clip(((np.arange(y0, y1) + 0.5) * scale).astype(int), 0, territory.shape[0] - 1)
        cols = np.clip(((np.arange(x0, x1) + 0.5) * scale).astype(int), 0, territory.shape[1] - 1)
        window = territory[np.ix_(rows, cols)]
        mine = window == index
        core = instances[np.ix_(rows, cols)] == index
        lab = fg.to_lab(image[y0:y1, x0:x1])
        coordinates = (
            (np.arange(y0, y1) + 0.5) * scale - 0.5,
            (np.arange(x0, x1) + 0.5) * scale - 0.5,
        )
        distance, threshold = _local_distance(lab, window == 0, model, options, coordinates)
        distance = cv2.medianBlur(distance.astype(np.float32), 3)  # single noisy pixels out
        inner = ndi.binary_erosion(core, iterations=max(2, round(2 / scale)))
        mask = mine & ((distance > threshold) | (inner & (distance > threshold / 2)))
        pieces, _ = ndi.label(mask)
        keep = np.unique(pieces[core & mask])
        mask = np.isin(pieces, keep[keep > 0])
        mask = morphology.remove_small_holes(mask, max_size=max(16, int(4 / scale**2)))
        if core.any() and (distance[core] <= threshold).mean() > options.low_contrast_share:
            mask = _grabcut_specimen(image[y0:y1, x0:x1], mask, core, mine, seed=index)
        labels[y0:y1, x0:x1][mask & mine] = index
    return labels


def _grabcut_specimen(
    rgb: np.ndarray,
    mask: np.ndarray,
    core: np.ndarray,
    mine: np.ndarray,
    *,
    seed: int,
    max_pixels: int = 250_000,
) -> np.ndarray:
    """A low-contrast specimen's mask by GrabCut (a dark beetle on a dark tray).

    Where much of the working instance is within the threshold of the background, colour
    distance alone loses the specimen's low-contrast parts; GrabCut's colour models of the
    specimen and its surroundings, with its smoothness term, take them back. Outside the
    territory is background, the thresholded mask's interior is specimen, the rest of the
    working instance probably specimen; only the pieces that meet the working instance stay.
    GrabCut runs on the window reduced to at most ``max_pixels`` (its time grows with the
    pixels: a 24 MP tray's specimens are large) and its result, brought back to the window's
    size, is added to the thresholded mask, which keeps the full resolution's thin parts.
    """
    start = np.full(mask.shape, cv2.GC_PR_BGD, np.uint8)
    start[~mine] = cv2.GC_BGD
    start[core | mask] = cv2.GC_PR_FGD
    start[ndi.binary_erosion(mask, iterations=2)] = cv2.GC_FGD
    height, width = mask.shape
    factor = min(1.0, float(np.sqrt(max_pixels / (height * width))))
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(start, size, interpolation=cv2.INTER_NEAREST)
    if not (small == cv2.GC_BGD).any() or not (small == cv2.GC_FGD).any():
        return mask
    cv2.setRNGSeed(int(seed))
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    cv2.grabCut(bgr, small, None, *models, 3, cv2.GC_INIT_WITH_MASK)
    found = ((small == cv2.GC_FGD) | (small == cv2.GC_PR_FGD)).astype(np.uint8)
    grown = (cv2.resize(found, (width, height), interpolation=cv2.INTER_LINEAR) > 0) & mine
    grown |= mask
    pieces, _ = ndi.label(grown)
    keep = np.unique(pieces[core & grown])
    return np.isin(pieces, keep[keep > 0])


def _local_distance(lab, background, model, options: SplitOptions, coordinates):
    """Colour distance from the local background (the median of ``background``'s pixels) and
    its threshold (``noise_factor`` times their 95th percentile, at least the model's); the
    model's distance where too few background pixels are near (``coordinates``: the crop's
    rows and columns in working pixels)."""
    if background.sum() < 50:
        return fg.colour_distance(lab, model, *coordinates), model.threshold
    local = np.median(lab[background], axis=0)
    distance = np.linalg.norm(lab - local, axis=-1)
    noise = float(np.percentile(distance[background], 95))
    return distance, max(model.threshold, options.noise_factor * noise)
