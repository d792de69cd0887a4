"""Image descriptors that say which specimens look alike.

The weights-free descriptor is HOG on a small letterboxed grey thumbnail: the prototype on the
shared beetles and ants found it the best cheap descriptor for picking templates (shape and
pose dominate, colour and background clutter matter less).  ``method: specimen`` describes the
specimen instead of the photograph: HOG of the specimen's own crop and of its silhouette, so
that where the specimen sits in the frame, how large it is there, and the mount around it stop
deciding who looks alike.  A SAM 2 engine may supply pooled encoder features instead
(``method: sam2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage.color import rgb2gray
from skimage.feature import hog
from skimage.transform import resize


def letterbox_grey(image: np.ndarray, size: int) -> np.ndarray:
    """Grey thumbnail of ``size`` x ``size``, aspect ratio kept, padded with the border median.

    Padding with the image's own border colour rather than black keeps the pad from looking
    like a dark specimen edge.
    """
    grey = rgb2gray(image) if image.ndim == 3 else image.astype(float) / 255.0
    height, width = grey.shape
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    small = resize(grey, (new_h, new_w), anti_aliasing=True, preserve_range=True)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    canvas = np.full((size, size), float(np.median(border)))
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = small
    return canvas


def hog_descriptor(image: np.ndarray, size: int = 64) -> np.ndarray:
    """L2-normalised HOG vector of the letterboxed grey thumbnail."""
    features = hog(
        letterbox_grey(image, size),
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(2, 2),
        feature_vector=True,
    )
    norm = np.linalg.norm(features)
    return (features / norm if norm > 0 else features).astype(np.float32)


def describe_images(images: Sequence[np.ndarray], size: int = 64) -> np.ndarray:
    """Stack of HOG descriptors, one row per image."""
    return np.stack([hog_descriptor(image, size) for image in images])


def specimen_crop(image: np.ndarray, foreground: np.ndarray, pad_fraction: float = 0.05):
    """The image and its silhouette cut to the silhouette's bounding box, padded by
    ``pad_fraction`` of its longer side (the whole image when the silhouette is empty)."""
    ys, xs = np.nonzero(foreground)
    if len(ys) == 0:
        return image, foreground
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    pad = int(pad_fraction * max(bottom - top, right - left))
    top, left = max(0, top - pad), max(0, left - pad)
    bottom, right = min(foreground.shape[0], bottom + pad), min(foreground.shape[1], right + pad)
    return image[top:bottom, left:right], foreground[top:bottom, left:right]


def specimen_descriptor(image: np.ndarray, foreground: np.ndarray, size: int = 64) -> np.ndarray:
    """HOG of the specimen's crop joined to HOG of its silhouette (unit length).

    ``foreground`` is the specimen's silhouette on ``image``'s grid.  The crop takes out the
    specimen's place and scale in the frame; the silhouette's HOG adds its outline and pose
    without the colour and texture that differ between genera.  Measured on the shared ants
    (one template's mIoU over the 5 nearest, 40 targets; scratch ``/tmp/s12/desc.py``): 0.428
    -> 0.434 on the tuning split and 0.369 -> 0.397 on the benchmark split against the
    thumbnail's HOG.
    """
    crop, silhouette = specimen_crop(image, foreground)
    outline = (np.asarray(silhouette, bool) * 255).astype(np.uint8)
    joined = np.concatenate([hog_descriptor(crop, size), hog_descriptor(outline, size)])
    return (joined / np.sqrt(2)).astype(np.float32)


def describe_specimens(
    images: Sequence[np.ndarray],
    *,
    size: int = 64,
    working_size: int = 224,
    grabcut_iterations: int = 5,
    plain_detail: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Stack of :func:`specimen_descriptor` rows, on the working-size image and silhouette that
    the registration engine registers (:func:`traitrack.engines.registration.align.prepare_silhouette`)."""
    from traitrack.engines.registration.align import prepare_silhouette

    rows = []
    for image in images:
        silhouette = prepare_silhouette(
            image,
            working_size=working_size,
            sigma=0.0,
            body_radius=0,
            grabcut_iterations=grabcut_iterations,
            seed=seed,
            plain_detail=plain_detail,
        )
        rows.append(specimen_descriptor(silhouette.image, silhouette.mask, size))
    return np.stack(rows)


def save_descriptors(
    path: str | Path,
    names: Sequence[str],
    descriptors: np.ndarray,
    method: str,
    ranking: np.ndarray | None = None,
) -> None:
    """Write descriptors as ``.npz`` (names, matrix, method) atomically; ``ranking``, when
    given, is the matrix ``annotate_next`` ranks by (see :func:`load_ranking_descriptors`)."""
    from traitrack.io import atomic_output

    extra = {} if ranking is None else {"ranking": ranking}
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(
                handle, names=np.asarray(names), descriptors=descriptors, method=method, **extra
            )


def load_descriptors(path: str | Path) -> tuple[list[str], np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return [str(n) for n in data["names"]], data["descriptors"]


def load_ranking_descriptors(path: str | Path) -> tuple[list[str], np.ndarray]:
    """The descriptors ``annotate_next`` ranks candidates by: the file's ``ranking`` matrix
    (the thumbnail HOG, which ``describe.method: specimen`` also writes), else its descriptors.

    Why two: the specimen descriptor picks better templates for a target, but ranked by it the
    shared ants' first picks served the others worse than random ones (learning curve, 20
    targets: N = 1 / 5 at 0.323 / 0.400 against a random mean of 0.366 / 0.426), while ranked by
    the thumbnail they had been ahead at every N in sessions 6-11.
    """
    with np.load(path, allow_pickle=False) as data:
        matrix = data["ranking"] if "ranking" in data.files else data["descriptors"]
        return [str(n) for n in data["names"]], matrix


def centre_descriptors(*blocks: np.ndarray) -> list[np.ndarray]:
    """The blocks' rows minus their joint mean, each row L2-normalised again.

    Raw HOG vectors of one species share a large common component, and a photograph that
    is mostly texture (a specimen on a fibrous card) lies near their mean: it becomes a *hub*,
    near everything.  On the shared ants (300 images) the five strongest hubs were among the
    5 nearest neighbours of 45-51 images each (median 2); template choice by raw distance
    picks them first.  Centring removes the common component (Suzuki et al. 2013, "Centering
    similarity measures to reduce hubs"): the largest count fell to 17.  Rows of zeros stay.
    """
    blocks = tuple(np.asarray(block, np.float64) for block in blocks)
    filled = [block for block in blocks if len(block)]
    if not filled:
        return [block.astype(np.float32) for block in blocks]
    mean = np.concatenate(filled).mean(axis=0)
    out = []
    for block in blocks:
        centred = block - mean
        norm = np.linalg.norm(centred, axis=1, keepdims=True)
        out.append((centred / np.where(norm > 0, norm, 1.0)).astype(np.float32))
    return out


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows of ``a`` and rows of ``b``."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None))
