"""Predicted label maps as files an annotation tool opens for editing: labelme JSON and COCO.

The correction loop: QC flags a prediction, :func:`labelme_document` (or
:func:`coco_document`, for CVAT) turns its label map into polygons, a curator fixes them, and
the edited file in the sample sheet's ``mask`` column makes the specimen a template on the
next run.

Decisions:

- **Coordinates are pixel edges.** A polygon vertex ``(x, y)`` is a point of the image plane
  where pixel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)``, COCO's convention,
  which is how :mod:`traitrack.io.annotations` rasterises both formats (pycocotools). The
  outlines are traced along the pixels' edges (:func:`skimage.measure.find_contours` at level
  0.5, shifted by half a pixel), so reading a file back gives the label map again; a part one
  pixel wide can lose pixels where its outline pinches to a point.
- **One polygon per piece, holes kept by painting order.** Every connected piece (8-connected)
  of every part becomes one polygon: its outline with its holes filled. Background enclosed by
  the specimen's parts (between the legs and the body, inside a part) becomes a polygon
  labelled ``_background_`` (labelme); background pieces are 4-connected, as the holes of
  8-connected parts are. Shapes are written largest first: a piece inside
  another's hole is always smaller, so painting in file order (labelme) or smaller on top
  (:func:`traitrack.io.annotations.paint_smaller_on_top`) gives every pixel its own label.
- **COCO for CVAT has no background category**, so a piece whose filled outline would cover
  background (a part with a true hole, or around one) is written as an RLE mask
  (``iscrowd`` 1, which CVAT opens as a brush-editable mask); every other piece is a polygon.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask
from scipy import ndimage
from skimage import measure

from traitrack.structures import StructureTable

LABELME_VERSION = "5.4.1"
BACKGROUND_LABEL = "_background_"
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class Piece:
    """One connected piece of one label, as its outline.

    Attributes
    ----------
    value : int
        The label (0 for enclosed background).
    polygons : list of numpy.ndarray
        (n, 2) vertex arrays in ``(x, y)`` pixel-edge coordinates; one for a piece, more only
        where the filled outline pinches at a corner.
    filled_area : int
        Pixels of the piece with its holes filled: the painting order.
    covers_background : bool
        Whether the filled outline covers background pixels (a hole with nothing in it).
    mask : numpy.ndarray
        (H, W) bool, the piece's own pixels (for RLE).
    """

    value: int
    polygons: list[np.ndarray]
    filled_area: int
    covers_background: bool
    mask: np.ndarray


def label_pieces(labels: np.ndarray, *, background_holes: bool = True) -> list[Piece]:
    """Cut a label map into pieces, largest filled area first (the painting order).

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) label map, 0 background.
    background_holes : bool
        Also return the background pieces that do not touch the image's border.

    Returns
    -------
    list of Piece
        Every piece of every label (and the enclosed background's), in decreasing
        ``filled_area``; ties keep label then position order.
    """
    labels = np.asarray(labels)
    background = labels == 0
    pieces = []
    values = [int(v) for v in np.unique(labels) if v != 0]
    for value in ([0] if background_holes else []) + values:
        # parts are 8-connected, so background (and the holes filled below) 4-connected
        components, count = ndimage.label(labels == value, structure=_EIGHT if value else None)
        for index in range(1, count + 1):
            own = components == index
            if value == 0 and _touches_border(own):
                continue
            filled = ndimage.binary_fill_holes(own)
            pieces.append(
                Piece(
                    value=value,
                    polygons=outline(filled),
                    filled_area=int(filled.sum()),
                    covers_background=bool((filled & ~own & background).any()),
                    mask=own,
                )
            )
    return sorted(pieces, key=lambda piece: -piece.filled_area)


def outline(mask: np.ndarray) -> list[np.ndarray]:
    """The outer outline(s) of a hole-free mask, along its pixels' edges.

    Parameters
    ----------
    mask : numpy.ndarray
        (H, W) bool.

    Returns
    -------
    list of numpy.ndarray
        (n, 2) ``(x, y)`` vertices in pixel-edge coordinates, collinear vertices dropped.
    """
    padded = np.pad(mask, 1).astype(float)
    polygons = []
    for contour in measure.find_contours(padded, 0.5, fully_connected="high"):
        rows, cols = contour[:, 0] - 0.5, contour[:, 1] - 0.5  # -1 padding, +0.5 to edges
        points = np.column_stack([cols, rows])
        polygons.append(_drop_collinear(points))
    return polygons


def labelme_document(
    labels: np.ndarray, structures: StructureTable, image_path: str, flags: dict | None = None
) -> dict:
    """A labelme JSON document of a label map: one polygon per piece (module docstring).

    Parameters
    ----------
    labels : numpy.ndarray
        (H, W) label map (0 background, 1..N the structures).
    structures : StructureTable
        Gives each label's category name.
    image_path : str
        ``imagePath``: the image, relative to the JSON file's folder (labelme opens it).
    flags : dict, optional
        labelme's image-level ``flags`` (e.g. ``{"flagged": true}``).

    Returns
    -------
    dict
        The document (``imageData`` null: labelme reads the image from ``imagePath``).
    """
    names = {s.label: s.category for s in structures}
    shapes = []
    for piece in label_pieces(labels):
        for polygon in piece.polygons:
            shapes.append(
                {
                    "label": names[piece.value] if piece.value else BACKGROUND_LABEL,
                    "points": np.round(polygon, 3).tolist(),
                    "group_id": None,
                    "description": "",
                    "shape_type": "polygon",
                    "flags": {},
                }
            )
    height, width = labels.shape
    return {
        "version": LABELME_VERSION,
        "flags": flags or {},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": None,
        "imageHeight": int(height),
        "imageWidth": int(width),
    }


def coco_document(records: Iterable[tuple[str, np.ndarray]], structures: StructureTable) -> dict:
    """A COCO document CVAT imports for editing: polygons, RLE masks for pieces with holes.

    Parameters
    ----------
    records : iterable of (str, numpy.ndarray)
        ``(file_name, labels)`` per image; CVAT matches ``file_name`` to the task's images,
        traitrack's reader by its base name.
    structures : StructureTable
        The categories (``id`` the label, ``name`` the category).

    Returns
    -------
    dict
        The document.
    """
    images, annotations = [], []
    for image_id, (file_name, labels) in enumerate(records, start=1):
        height, width = labels.shape
        images.append(
            {"id": image_id, "file_name": file_name, "height": int(height), "width": int(width)}
        )
        for piece in label_pieces(labels, background_holes=False):
            rle = coco_mask.encode(np.asfortranarray(piece.mask.astype(np.uint8)))
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": piece.value,
                "area": float(coco_mask.area(rle)),
                "bbox": [float(v) for v in coco_mask.toBbox(rle)],
            }
            if piece.covers_background:
                annotation.update(
                    segmentation={"size": [int(height), int(width)], "counts": _counts(piece.mask)},
                    iscrowd=1,
                )
            else:
                annotation.update(
                    segmentation=[np.round(p, 3).ravel().tolist() for p in piece.polygons],
                    iscrowd=0,
                )
            annotations.append(annotation)
    categories = [{"id": s.label, "name": s.category, "supercategory": "part"} for s in structures]
    return {"info": {}, "images": images, "annotations": annotations, "categories": categories}


def relative_path(target: str | Path, start: str | Path) -> str:
    """``target`` relative to the folder ``start``, with ``/`` separators (labelme's imagePath).

    Parameters
    ----------
    target, start : str or Path
        The file and the folder it is seen from.

    Returns
    -------
    str
        The relative path.
    """
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def _counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE counts: run lengths in column-major order, background first."""
    flat = mask.ravel(order="F")
    bounds = np.r_[0, np.flatnonzero(flat[1:] != flat[:-1]) + 1, flat.size]
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _drop_collinear(points: np.ndarray) -> np.ndarray:
    """Drop the vertices that lie on the line through their neighbours (and the closing copy)."""
    if len(points) > 1 and np.allclose(points[0], points[-1]):
        points = points[:-1]
    if len(points) < 4:
        return points
    before, after = np.roll(points, 1, axis=0), np.roll(points, -1, axis=0)
    cross = (points[:, 0] - before[:, 0]) * (after[:, 1] - before[:, 1]) - (
        points[:, 1] - before[:, 1]
    ) * (after[:, 0] - before[:, 0])
    keep = np.abs(cross) > 1e-9
    return points[keep] if keep.sum() >= 3 else points
