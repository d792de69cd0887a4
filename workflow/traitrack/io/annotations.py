r"""COCO and labelme JSON annotations to internal label maps.

Decisions:

- The JSON kind is detected from its content: a dict with ``images`` and ``annotations`` is
  COCO (Descriptron, CVAT, our own :func:`traitrack.io.write_coco`), a dict with ``shapes`` is
  labelme.
- COCO image entries are matched to the image by **base name** (folders are ignored, ``/`` and
  ``\`` both count as separators); if no base name matches, a unique match of the name
  without its extension is accepted (an image converted from TIFF to PNG keeps its mask).
  A COCO file with a single image needs no name.
- Segmentations may be polygons, uncompressed RLE (``counts`` a list) or compressed RLE
  (``counts`` a string); all are rasterised with pycocotools so every source agrees pixel for
  pixel.  labelme polygons and rectangles are rasterised the same way, circles with
  scikit-image, ``mask`` shapes are decoded from their embedded PNG; shapes without area
  (points, lines) are skipped because they cannot mark a part's pixels.
- Overlapping annotations: **the smaller annotation is painted on top** (larger ones first;
  on equal area the later one wins).  Small parts drawn over big ones (an eye on a head) thus
  stay visible, whatever order the annotation tool saved them in.
- Categories are matched by name through :meth:`StructureTable.category_lookup`; a name the
  config does not declare raises :class:`InputError`.  In labelme files the labels
  ``_background_`` and ``background`` paint background unless the config names a part so.
"""

from __future__ import annotations

import base64
import io as _bytes_io
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask
from skimage.draw import disk

from traitrack.io.common import InputError
from traitrack.structures import StructureTable

LABELME_BACKGROUND = ("_background_", "background")
_AREALESS_SHAPES = ("point", "points", "line", "linestrip")
_FORMAT_HINT = {
    "COCO": "`images`, `annotations` and `categories` are lists of objects; a polygon "
    "segmentation is a list of lists of numbers",
    "labelme": "`shapes` is a list of objects, each with a `label` and `points` as a list of "
    "[x, y] number pairs",
}


def labels_from_annotation_json(
    path: Path, data: Any, structures: StructureTable, image_name: str | None
) -> np.ndarray:
    """Rasterise a COCO or labelme file, chosen by the JSON's content.

    Parameters
    ----------
    path : Path
        The mask file, for messages.
    data : Any
        The parsed JSON.
    structures : StructureTable
        The part table; categories are matched by name.
    image_name : str or None
        The image the mask belongs to (picks the entry of a COCO file with many images).

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map.

    Raises
    ------
    InputError
        If the JSON is neither COCO nor labelme, or cannot be rasterised.
    """
    kind = None
    if isinstance(data, dict) and "images" in data and "annotations" in data:
        kind, reader = "COCO", lambda: labels_from_coco(path, data, structures, image_name)
    elif isinstance(data, dict) and "shapes" in data:
        kind, reader = "labelme", lambda: labels_from_labelme(path, data, structures)
    if kind is not None:
        try:
            return reader()
        except InputError:
            raise
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as error:
            # a hand-edited or truncated export: `shapes` not a list, non-numeric points ...
            raise InputError(
                f"mask file {str(path)!r} is malformed {kind} JSON ({type(error).__name__}: "
                f"{str(error)[:120]}); export it again from the annotation tool, or fix the "
                f"file by hand ({_FORMAT_HINT[kind]})"
            ) from None
    raise InputError(
        f"mask file {str(path)!r} is JSON but neither COCO (keys `images`, `annotations`) nor "
        "labelme (key `shapes`); export the annotations in one of these formats"
    )


def basename(name: str) -> str:
    """Return a file name without folders, whichever separator the annotation tool used.

    Parameters
    ----------
    name : str
        A path with slash or backslash separators.

    Returns
    -------
    str
        The last component.
    """
    return re.split(r"[\\/]", str(name))[-1]


def _find_image_entry(path: Path, images: list[dict], image_name: str | None) -> dict:
    if image_name is None:
        if len(images) == 1:
            return images[0]
        raise InputError(
            f"mask file {str(path)!r} is a COCO file with {len(images)} images; the reader "
            "needs the image's file name to pick one (give the `image` column of the sample sheet)"
        )
    wanted = basename(image_name)
    exact = [entry for entry in images if basename(entry.get("file_name", "")) == wanted]
    if not exact:
        stem = Path(wanted).stem
        exact = [e for e in images if Path(basename(e.get("file_name", ""))).stem == stem]
    if len(exact) == 1:
        return exact[0]
    listed = [basename(entry.get("file_name", "")) for entry in images[:8]]
    problem = "several image entries match" if exact else "no image entry matches"
    raise InputError(
        f"mask file {str(path)!r}: {problem} the image {wanted!r} (compared by file name "
        f"without folders); the file lists {listed}{' ...' if len(images) > 8 else ''}. "
        "Fix the `image` or `mask` column of the sample sheet, or export the COCO file "
        "with this image"
    )


def labels_from_coco(
    path: Path, data: dict, structures: StructureTable, image_name: str | None
) -> np.ndarray:
    """Rasterise the annotations of one image of a COCO file (rules in the module docstring).

    Parameters
    ----------
    path : Path
        The mask file, for messages.
    data : dict
        The parsed COCO document.
    structures : StructureTable
        The part table; categories are matched by name.
    image_name : str or None
        The image whose entry to use; may be None when the file has a single image.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map at the entry's ``height`` and ``width``.

    Raises
    ------
    InputError
        If no single image entry matches, the entry lacks its size, a category is not
        declared or a segmentation is neither polygons nor RLE.
    """
    entry = _find_image_entry(path, data["images"], image_name)
    try:
        height, width = int(entry["height"]), int(entry["width"])
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(
            f"mask file {str(path)!r}: the image entry {entry.get('file_name')!r} lacks "
            "`height`/`width`; re-export the COCO file"
        ) from error
    names = {category["id"]: category["name"] for category in data.get("categories", [])}
    lookup = structures.category_lookup()
    annotations = [a for a in data["annotations"] if a.get("image_id") == entry.get("id")]
    used = [
        names.get(a.get("category_id"), f"<category id {a.get('category_id')}>")
        for a in annotations
    ]
    _check_names(path, used, lookup)
    pieces = [
        (_coco_segmentation_mask(path, a.get("segmentation"), height, width), lookup[name])
        for a, name in zip(annotations, used)
    ]
    return paint_smaller_on_top(pieces, (height, width))


def _coco_segmentation_mask(path: Path, segmentation: Any, height: int, width: int) -> np.ndarray:
    if isinstance(segmentation, list):
        polygons = [list(map(float, p)) for p in segmentation if len(p) >= 6]
        if not polygons:
            return np.zeros((height, width), dtype=bool)
        rle = coco_mask.merge(coco_mask.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        if list(segmentation.get("size", [])) != [height, width]:
            raise InputError(
                f"mask file {str(path)!r}: an RLE segmentation has size {segmentation.get('size')} "
                f"but its image entry says {[height, width]} (height, width); re-export the file"
            )
        if isinstance(segmentation["counts"], list):  # uncompressed RLE
            rle = coco_mask.frPyObjects(segmentation, height, width)
        else:
            rle = segmentation
    else:
        raise InputError(
            f"mask file {str(path)!r}: an annotation has segmentation {str(segmentation)[:60]!r}, "
            "which is neither polygons nor RLE; re-export the COCO file with segmentations"
        )
    return decode_rle(rle)


def labels_from_labelme(path: Path, data: dict, structures: StructureTable) -> np.ndarray:
    """Rasterise a labelme file's shapes (rules in the module docstring).

    Parameters
    ----------
    path : Path
        The mask file, for messages.
    data : dict
        The parsed labelme document.
    structures : StructureTable
        The part table; labels are matched by category name.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map at the file's ``imageHeight`` and ``imageWidth``.

    Raises
    ------
    InputError
        If the file lacks its image size, a label is not declared or a shape cannot be
        rasterised.
    """
    try:
        shape = (int(data["imageHeight"]), int(data["imageWidth"]))
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(
            f"mask file {str(path)!r} is labelme JSON without `imageHeight`/`imageWidth`; "
            "save it again with labelme"
        ) from error
    lookup = structures.category_lookup()
    for name in LABELME_BACKGROUND:
        lookup.setdefault(name, 0)
    shapes = [s for s in data["shapes"] if s.get("shape_type") not in _AREALESS_SHAPES]
    used = [str(s.get("label", "")) for s in shapes]
    _check_names(path, used, lookup)
    pieces = [(_labelme_shape_mask(path, s, shape), lookup[n]) for s, n in zip(shapes, used)]
    return paint_smaller_on_top(pieces, shape)


def _labelme_shape_mask(path: Path, item: dict, shape: tuple[int, int]) -> np.ndarray:
    kind = item.get("shape_type") or "polygon"
    points = np.asarray(item.get("points", []), dtype=float).reshape(-1, 2)
    height, width = shape
    if kind == "circle" and len(points) >= 2:
        radius = float(np.hypot(*(points[1] - points[0])))
        mask = np.zeros(shape, dtype=bool)
        mask[disk((points[0][1], points[0][0]), radius, shape=shape)] = True
        return mask
    if kind == "mask" and item.get("mask"):
        return _labelme_embedded_mask(item["mask"], points, shape)
    if kind == "rectangle" and len(points) >= 2:
        (x1, y1), (x2, y2) = points[0], points[1]
        points = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    elif kind != "polygon" or len(points) < 3:
        raise InputError(
            f"mask file {str(path)!r}: labelme shape {item.get('label')!r} of type {kind!r} with "
            f"{len(points)} points cannot be rasterised; use polygons, rectangles or circles"
        )
    rle = coco_mask.merge(coco_mask.frPyObjects([points.ravel().tolist()], height, width))
    return decode_rle(rle)


def decode_rle(rle: dict) -> np.ndarray:
    """Decode one RLE to a boolean mask.

    pycocotools 2.0.x under numpy 2 warns about ``__array__`` on every decode (its own
    internals, harmless); the warning is silenced here only, so logs stay readable.

    Parameters
    ----------
    rle : dict
        A pycocotools RLE (``size`` and compressed ``counts``).

    Returns
    -------
    numpy.ndarray
        (H, W) bool.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="__array__ implementation", category=DeprecationWarning
        )
        return coco_mask.decode(rle).astype(bool)


def _labelme_embedded_mask(encoded: str, points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Decode a labelme ``mask`` shape: a PNG of its bounding box, top-left at ``points[0]``."""
    with Image.open(_bytes_io.BytesIO(base64.b64decode(encoded))) as image:
        local = np.asarray(image.convert("L")) > 0
    top, left = int(round(points[0][1])), int(round(points[0][0]))
    mask = np.zeros(shape, dtype=bool)
    region = mask[top : top + local.shape[0], left : left + local.shape[1]]
    region |= local[: region.shape[0], : region.shape[1]]
    return mask


def _check_names(path: Path, used: list[str], lookup: dict[str, int]) -> None:
    unknown = sorted({name for name in used if name not in lookup})
    if unknown:
        raise InputError(
            f"mask file {str(path)!r} uses categories {unknown[:8]} that the config does not "
            f"declare; known categories: {sorted(lookup)}. Fix `structures[].category` "
            "(it defaults to the structure's name) in the config"
        )


def paint_smaller_on_top(
    pieces: list[tuple[np.ndarray, int]], shape: tuple[int, int]
) -> np.ndarray:
    """Paint boolean masks with their labels, largest first, so smaller ones end on top.

    Parameters
    ----------
    pieces : list of (numpy.ndarray, int)
        (H, W) boolean mask and label of every annotation; on equal area the later one wins.
    shape : tuple of int
        (H, W).

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map.
    """
    labels = np.zeros(shape, dtype=np.uint8)
    order = sorted(range(len(pieces)), key=lambda i: -int(pieces[i][0].sum()))
    for index in order:
        mask, label = pieces[index]
        labels[mask] = label
    return labels
