"""Specimen foreground (silhouette) from the image alone.

The registration engine aligns silhouettes, not grey values: labels, pins and mounts dominate
the intensities of museum photographs, and a silhouette ignores them.  The foreground is found
by GrabCut (OpenCV) initialised from a background colour model learnt on the image border, so a
specimen touching the border is not cut off the way a fixed rectangle would cut it.  For
focus-stacked photographs, where only the specimen is in focus, that initialisation also
follows the image's fine detail (:func:`mark_by_detail`), so pins and mounts stay out.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.filters import sato, threshold_otsu

from traitrack import rgb


def foreground_mask(
    image: np.ndarray,
    *,
    iterations: int = 5,
    border_fraction: float = 0.03,
    min_component_fraction: float = 0.2,
    foreground_detail: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Boolean silhouette of the specimen in an RGB (or grey) uint8 image.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) or (H, W) uint8; work at a modest size (~200-256 px), GrabCut is
        quadratic-ish in cost and the registration does not need more.
    iterations : int
        GrabCut iterations.
    border_fraction : float
        Width of the border strip that models the background, as a fraction of the shorter
        side.
    min_component_fraction : float
        Connected components smaller than this fraction of the largest are dropped (label
        fragments, dust); the largest is always kept.
    foreground_detail : float
        When > 0, GrabCut starts from where the image has fine detail as well as from colour
        (see :func:`mark_by_detail`): for photographs whose background is out of focus, so
        that pins, card points and mounts stay out.
    seed : int
        Seeds OpenCV's random generator, which GrabCut's colour-model initialisation uses, so
        that the same image always gives the same silhouette.

    Returns
    -------
    numpy.ndarray
        (H, W) bool; never empty (falls back to the colour-model initialisation, then to the
        whole image minus the border, so downstream registration always has something to
        align).
    """
    rgb = _as_rgb(image)
    init = border_model_init(rgb, border_fraction)
    if foreground_detail > 0:
        init = mark_by_detail(rgb, init, foreground_detail)
    has_both = (init == cv2.GC_PR_FGD).any() and (init != cv2.GC_PR_FGD).any()
    foreground = _grabcut_foreground(rgb, init, iterations, seed, run=has_both)
    foreground = clean_silhouette(foreground, min_component_fraction)
    if not foreground.any():
        foreground = clean_silhouette(init == cv2.GC_PR_FGD, min_component_fraction)
    if not foreground.any():
        foreground = np.zeros(rgb.shape[:2], bool)
        strip = _strip_width(rgb.shape[:2], border_fraction)
        foreground[strip : -strip or None, strip : -strip or None] = True
    return foreground


def foreground_from_prior(
    image: np.ndarray,
    prior: np.ndarray,
    *,
    iterations: int = 5,
    margin_fraction: float = 0.1,
    core_radius: int = 3,
    min_component_fraction: float = 0.2,
    seed: int = 0,
) -> np.ndarray:
    """Silhouette by GrabCut initialised from a shape prior (templates warped onto the image).

    The border colour model fails on pale specimens on pale mounts and on vignetted
    backgrounds; templates registered onto the image know roughly where the specimen is.
    Pixels where the prior is >= 0.5 start as probable foreground (its eroded core where the
    prior is >= 0.9 as certain foreground), pixels farther than ``margin_fraction`` of the
    image's longer side from the prior as certain background (mounts, pins, labels and, for
    sets that do not annotate them, legs), the rest as probable background.  Falls back to the
    prior itself if GrabCut leaves nothing.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) or (H, W) uint8.
    prior : numpy.ndarray
        (H, W) float in 0..1: how strongly the warped templates put the specimen at each
        pixel (e.g. their weighted mean mask).
    iterations : int
        GrabCut iterations.
    margin_fraction : float
        Pixels farther than this fraction of the longer side from the prior start as certain
        background.
    core_radius : int
        Erosion radius (px) of the certain-foreground core; 0 for none.
    min_component_fraction : float
        As for :func:`foreground_mask`.
    seed : int
        Seeds GrabCut.

    Returns
    -------
    numpy.ndarray
        (H, W) bool; :func:`foreground_mask` of the image when the prior is empty.
    """
    rgb = _as_rgb(image)
    inside = prior >= 0.5
    if not inside.any():
        return foreground_mask(rgb, iterations=iterations, seed=seed)
    init = np.full(inside.shape, cv2.GC_PR_BGD, np.uint8)
    init[inside] = cv2.GC_PR_FGD
    margin = max(1, int(round(margin_fraction * max(inside.shape))))
    far = ndi.distance_transform_edt(~inside) > margin
    init[far] = cv2.GC_BGD
    if core_radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * core_radius + 1,) * 2)
        core = cv2.erode((prior >= 0.9).astype(np.uint8), kernel).astype(bool)
        init[core] = cv2.GC_FGD
    has_background = (init == cv2.GC_BGD).any() or (init == cv2.GC_PR_BGD).any()
    foreground = clean_silhouette(
        _grabcut_foreground(rgb, init, iterations, seed, run=has_background), min_component_fraction
    )
    return foreground if foreground.any() else inside


def thin_dark_lines(
    image: np.ndarray,
    sigmas: tuple[float, ...],
    quantile: float = 0.9,
    region: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels on thin dark lines (legs, antennae): Sato's ridge filter above a quantile.

    GrabCut at the registration's working size loses most antennae and the tips of legs; a
    multi-scale ridge filter on the full-resolution grey image finds them.  It also finds ink
    on labels and the edges of mounts, so callers keep only the ridges near where the
    templates put thin parts.  The threshold is the ``quantile`` of the response inside
    ``region``: around the specimen, so that an empty or a busy background elsewhere does not
    move it.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) or (H, W) uint8.
    sigmas : tuple of float
        The ridge filter's scales, in pixels of ``image`` (at least 0.5).
    quantile : float
        The response quantile a ridge pixel must exceed.
    region : numpy.ndarray, optional
        (H, W) bool, where the quantile is taken; the whole image when None or empty.

    Returns
    -------
    numpy.ndarray
        (H, W) bool.
    """
    rgb = _as_rgb(image)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    ridges = sato(grey, sigmas=[max(0.5, float(s)) for s in sigmas], black_ridges=True)
    inside = ridges[region] if region is not None and region.any() else ridges
    return ridges > np.quantile(inside, float(quantile))


def attached_to(lines: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Keep the pixels of ``lines`` connected to ``body``.

    Connected means 8-neighbourhood, through other such pixels: legs and antennae are attached
    to the specimen, the strokes of a label's text or a mount's edge are not.

    Parameters
    ----------
    lines : numpy.ndarray
        (H, W) bool, e.g. :func:`thin_dark_lines`.
    body : numpy.ndarray
        (H, W) bool, the specimen's body.

    Returns
    -------
    numpy.ndarray
        (H, W) bool, a subset of ``lines``.
    """
    count, components = cv2.connectedComponents((lines | body).astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(lines, bool)
    keep = np.zeros(count, bool)
    keep[np.unique(components[body])] = True
    keep[0] = False
    return lines & keep[components]


def nearest_source_labels(labels: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Give every pixel the label of the nearest pixel of ``sources`` (Euclidean).

    This is how gaps between parts are given to a part.

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) label map.
    sources : numpy.ndarray
        (H, W) bool, the pixels whose labels count; must hold at least one pixel.

    Returns
    -------
    numpy.ndarray
        (H, W) label map, the dtype of ``labels``.
    """
    rows, cols = ndi.distance_transform_edt(~sources, return_distances=False, return_indices=True)
    return labels[rows, cols]


def border_model_init(rgb: np.ndarray, border_fraction: float = 0.03) -> np.ndarray:
    """GrabCut initial mask from how far each pixel's colour lies from the border's colours.

    Border pixels whose colour is typical of the border become certain background; every other
    pixel is probable foreground when its colour is unlike the border (distance in CIELab above
    an Otsu threshold) and probable background otherwise.  Border pixels that look like the
    specimen stay "probable", so specimens touching the border survive.

    Parameters
    ----------
    rgb : numpy.ndarray
        (H, W, 3) uint8.
    border_fraction : float
        Width of the border strip, as a fraction of the shorter side.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 of OpenCV's GrabCut classes (``GC_BGD``, ``GC_PR_BGD``, ``GC_PR_FGD``).
    """
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    height, width = rgb.shape[:2]
    strip = _strip_width((height, width), border_fraction)
    border = np.zeros((height, width), bool)
    border[:strip], border[-strip:], border[:, :strip], border[:, -strip:] = True, True, True, True
    distance = _distance_to_border_colours(lab, border)
    threshold = _otsu(distance)
    init = np.full((height, width), cv2.GC_PR_BGD, np.uint8)
    init[distance > threshold] = cv2.GC_PR_FGD
    init[border & (distance <= threshold)] = cv2.GC_BGD
    return init


def mark_by_detail(
    rgb: np.ndarray, init: np.ndarray, foreground_detail: float, *, sigma: float = 2.0
) -> np.ndarray:
    """A GrabCut initial mask corrected by where the image has fine detail.

    In focus-stacked photographs (AntWeb's ants) the specimen is the one thing in focus: its
    outline, sculpture, hairs and legs give it detail, while the background, a pin behind it
    and the plain surface of a card point or mount have none.  Colour alone often prefers the
    white card to a pale specimen.  Detail is |Laplacian| of the grey image blurred by
    ``sigma`` px, relative to its 99th percentile over the image.  Plain pixels (detail below
    ``foreground_detail``) connected to the image border become certain background, other plain
    pixels probable background, and detailed ones (above twice ``foreground_detail``) probable
    foreground.  A glossy part's plain middle is enclosed by its detailed outline, so it is
    left to GrabCut.  If that would leave under 1% of the image as probable foreground, the
    colour-only ``init`` is returned.  Not for specimens on printed labels, which have detail
    everywhere.

    Parameters
    ----------
    rgb : numpy.ndarray
        (H, W, 3) uint8.
    init : numpy.ndarray
        (H, W) GrabCut initial mask from colour (:func:`border_model_init`).
    foreground_detail : float
        The relative detail below which a pixel counts as plain.
    sigma : float
        Blur of the Laplacian, in pixels.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 GrabCut initial mask, a new array or ``init`` itself.
    """
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    detail = cv2.GaussianBlur(np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=3)), (0, 0), sigma)
    relative = detail / max(float(np.quantile(detail, 0.99)), 1e-6)
    plain = relative < foreground_detail
    regions, _ = ndi.label(plain)
    outside = np.isin(regions, _labels_on_border(regions))
    marked = init.copy()
    marked[(marked == cv2.GC_PR_FGD) & plain] = cv2.GC_PR_BGD
    marked[relative > 2 * foreground_detail] = cv2.GC_PR_FGD
    marked[outside] = cv2.GC_BGD
    return marked if (marked == cv2.GC_PR_FGD).sum() > 0.01 * marked.size else init


def clean_silhouette(
    mask: np.ndarray, min_component_fraction: float = 0.2, max_hole_fraction: float = 0.002
) -> np.ndarray:
    """Largest connected component(s) with small holes filled.

    Components below ``min_component_fraction`` of the largest are dropped.  Holes up to
    ``max_hole_fraction`` of the image are filled (a glint or a pin head breaking a part);
    larger ones are kept open, because legs and a mount often enclose real background.

    Parameters
    ----------
    mask : numpy.ndarray
        (H, W) bool.
    min_component_fraction : float
        Components smaller than this fraction of the largest are dropped.
    max_hole_fraction : float
        Holes (not touching the border) up to this fraction of the image are filled.

    Returns
    -------
    numpy.ndarray
        (H, W) bool; all False when ``mask`` is.
    """
    labelled, count = ndi.label(mask)
    if count == 0:
        return np.zeros_like(mask, bool)
    sizes = np.bincount(labelled.ravel())[1:]
    keep = np.flatnonzero(sizes >= min_component_fraction * sizes.max()) + 1
    kept = np.isin(labelled, keep)
    holes, hole_count = ndi.label(~kept)
    if hole_count:
        hole_sizes = np.bincount(holes.ravel())
        small = hole_sizes <= max_hole_fraction * mask.size
        small[_labels_on_border(holes)] = False
        small[0] = False
        kept |= small[holes]
    return kept


def _distance_to_border_colours(
    lab: np.ndarray, border: np.ndarray, clusters: int = 4, min_share: float = 0.2
) -> np.ndarray:
    """Per pixel, the CIELab distance to the nearest of the main border colour clusters.

    Clusters holding less than ``min_share`` of the border are ignored: they are the ink of a
    label or a leg crossing the border, not the background, and would make a dark specimen look
    like background.
    """
    samples = lab[border]
    clusters = max(1, min(clusters, len(samples)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)
    _, assigned, centres = cv2.kmeans(samples, clusters, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(assigned.ravel(), minlength=clusters) / len(samples)
    centres = centres[shares >= min(min_share, shares.max())]
    flat = lab.reshape(-1, 3)
    distance = np.full(len(flat), np.inf, np.float32)
    for centre in centres:
        distance = np.minimum(distance, np.linalg.norm(flat - centre, axis=1))
    return distance.reshape(lab.shape[:2])


def _labels_on_border(labelled: np.ndarray) -> np.ndarray:
    """The labels (> 0) of a labelled image's regions that touch its border."""
    rim = np.concatenate([labelled[0], labelled[-1], labelled[:, 0], labelled[:, -1]])
    return np.unique(rim[rim > 0])


def _otsu(values: np.ndarray) -> float:
    if np.ptp(values) == 0:
        return float(values.max())
    return float(threshold_otsu(values))


def _strip_width(shape: tuple[int, int], border_fraction: float) -> int:
    return max(1, int(round(border_fraction * min(shape))))


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"foreground_mask needs a uint8 image, got dtype {image.dtype}")
    return rgb.as_rgb(image, owner="foreground_mask's image")


def _grabcut_foreground(
    rgb: np.ndarray, init: np.ndarray, iterations: int, seed: int, run: bool
) -> np.ndarray:
    """Run GrabCut from an initial label mask (seeded, so deterministic); return its foreground.

    The foreground is the definite and probable foreground.  ``run=False`` returns the initial
    mask's foreground unchanged (GrabCut needs both foreground and background seeds).
    """
    mask = init.copy()
    if run:
        cv2.setRNGSeed(int(seed))
        bgd_model = np.zeros((1, 65), np.float64)
        fgd_model = np.zeros((1, 65), np.float64)
        cv2.grabCut(
            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
            mask,
            None,
            bgd_model,
            fgd_model,
            int(iterations),
            cv2.GC_INIT_WITH_MASK,
        )
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
