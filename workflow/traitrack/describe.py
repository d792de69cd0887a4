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

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from traitrack.hog import hog_descriptor


def describe_images(images: Sequence[np.ndarray], size: int = 64) -> np.ndarray:
    """Describe images by :func:`hog_descriptor`, one row per image.

    Parameters
    ----------
    images : sequence of numpy.ndarray
        The images.
    size : int
        The thumbnail's side.

    Returns
    -------
    numpy.ndarray
        (n_images, n_features) float32.
    """
    return np.stack([hog_descriptor(image, size) for image in images])


def specimen_crop(image: np.ndarray, foreground: np.ndarray, pad_fraction: float = 0.05):
    """Cut an image and its silhouette to the silhouette's bounding box, padded.

    Parameters
    ----------
    image : numpy.ndarray
        The image.
    foreground : numpy.ndarray
        (H, W) boolean silhouette on ``image``'s grid.
    pad_fraction : float
        The padding, as a fraction of the bounding box's longer side (clipped at the image's
        edges).

    Returns
    -------
    crop, silhouette : numpy.ndarray
        Views of ``image`` and ``foreground``; both whole when the silhouette is empty.
    """
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

    The crop takes out the specimen's place and scale in the frame; the silhouette's HOG adds
    its outline and pose without the colour and texture that differ between genera.
    ``benchmarks/registration_real.py`` picks templates by this descriptor, and with
    ``--describe hog`` by the whole photograph's thumbnail instead, for comparison.

    Parameters
    ----------
    image : numpy.ndarray
        The specimen's image.
    foreground : numpy.ndarray
        The specimen's silhouette on ``image``'s grid.
    size : int
        The thumbnail side of both HOGs.

    Returns
    -------
    numpy.ndarray
        1-D float32, twice :func:`hog_descriptor`'s length.
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
    foreground_detail: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Describe images by :func:`specimen_descriptor`, one row per image.

    Each row is computed on the working-size image and silhouette that the registration engine
    registers (:func:`traitrack.engines.registration.align.prepare_silhouette`), so the
    keyword arguments are the engine's options of the same names.

    Parameters
    ----------
    images : sequence of numpy.ndarray
        The images.
    size : int
        The thumbnail side of the HOGs.
    working_size : int
        The registration's working size.
    grabcut_iterations : int
        GrabCut iterations of the silhouette.
    foreground_detail : float
        The registration's ``foreground_detail``: when > 0, the silhouette's GrabCut also
        starts from where the image has fine detail (:func:`traitrack.silhouette.mark_by_detail`).
    seed : int
        Seeds GrabCut.

    Returns
    -------
    numpy.ndarray
        (n_images, n_features) float32.
    """
    silhouettes = specimen_silhouettes(
        images,
        working_size=working_size,
        grabcut_iterations=grabcut_iterations,
        foreground_detail=foreground_detail,
        seed=seed,
    )
    return np.stack([specimen_descriptor(s.image, s.mask, size) for s in silhouettes])


def specimen_silhouettes(
    images: Iterable[np.ndarray],
    *,
    working_size: int,
    grabcut_iterations: int,
    foreground_detail: float,
    seed: int,
):
    """Each image's working-size image and silhouette as the registration engine finds them
    (:func:`traitrack.engines.registration.align.prepare_silhouette`), one image at a time:
    what the ``specimen`` and ``cnn`` descriptors are cut to."""
    from traitrack.engines.registration.align import prepare_silhouette

    for image in images:
        yield prepare_silhouette(
            image,
            working_size=working_size,
            sigma=0.0,
            body_radius=0,
            grabcut_iterations=grabcut_iterations,
            seed=seed,
            foreground_detail=foreground_detail,
        )


def save_descriptors(
    path: str | Path,
    names: Sequence[str],
    descriptors: np.ndarray,
    method: str,
    ranking: np.ndarray | None = None,
) -> None:
    """Write descriptors as ``.npz`` (names, matrix, method), atomically.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file.
    names : sequence of str
        The specimens, one per row.
    descriptors : numpy.ndarray
        One row per specimen.
    method : str
        The ``describe.method`` that made them.
    ranking : numpy.ndarray, optional
        The matrix ``annotate_next`` ranks by, when it differs from ``descriptors`` (see
        :func:`load_ranking_descriptors`).
    """
    from traitrack.io import atomic_output

    extra = {} if ranking is None else {"ranking": ranking}
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(
                handle, names=np.asarray(names), descriptors=descriptors, method=method, **extra
            )


def load_descriptors(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read descriptors written by :func:`save_descriptors`.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file.

    Returns
    -------
    names : list of str
        The specimens.
    descriptors : numpy.ndarray
        One row per specimen.
    """
    with np.load(path, allow_pickle=False) as data:
        return [str(n) for n in data["names"]], data["descriptors"]


def load_ranking_descriptors(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read the descriptors ``annotate_next`` ranks candidates by.

    That is the file's ``ranking`` matrix (the thumbnail HOG, which ``describe.method:
    specimen`` also writes), else its descriptors.  Why two: the specimen descriptor picks
    better templates for a given target, but ranked by it the shared ants' first picks served
    the other specimens worse than random picks, while ranked by the thumbnail they serve them
    better (``benchmarks/learning_curve.py`` ranks by the thumbnail, as the workflow does).

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file (:func:`save_descriptors`).

    Returns
    -------
    names : list of str
        The specimens.
    matrix : numpy.ndarray
        One row per specimen.
    """
    with np.load(path, allow_pickle=False) as data:
        matrix = data["ranking"] if "ranking" in data.files else data["descriptors"]
        return [str(n) for n in data["names"]], matrix


def centre_descriptors(*blocks: np.ndarray) -> list[np.ndarray]:
    """The blocks' rows minus their joint mean, each row L2-normalised again.

    Raw HOG vectors of one species share a large common component, and a photograph that
    is mostly texture (a specimen on a fibrous card) lies near their mean: it becomes a *hub*,
    among the nearest neighbours of far more images than a typical one, and template choice by
    raw distance picks it first.  Centring removes the common component (Suzuki et al. 2013,
    "Centering similarity measures to reduce hubs").  Rows of zeros stay.

    Parameters
    ----------
    *blocks : numpy.ndarray
        Descriptor matrices of one species (e.g. targets and templates), centred on their
        joint mean; a block may have no rows.

    Returns
    -------
    list of numpy.ndarray
        The blocks in order, float32.
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
    """Compute the Euclidean distances between rows of ``a`` and rows of ``b``.

    Parameters
    ----------
    a, b : numpy.ndarray
        (n, d) and (m, d) descriptor matrices.

    Returns
    -------
    numpy.ndarray
        (n, m) distances.
    """
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None))
