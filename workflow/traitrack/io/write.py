"""Writing the workflow's outputs: label-map PNGs, COCO JSON with RLE, and tables.

Every writer goes through :func:`atomic_output`, so a failed job leaves no half-written file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from pycocotools import mask as coco_mask

from traitrack.io.common import InputError, atomic_output, require_file
from traitrack.structures import StructureTable

TABLE_SEPARATORS = {".csv": ",", ".tsv": "\t"}


def write_label_png(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write internal labels as a single-channel 8-bit PNG (values are the labels, 0 background).

    Parameters
    ----------
    path : str or os.PathLike
        The PNG file (written atomically).
    labels : numpy.ndarray
        (H, W) label map with values in 0..255.

    Raises
    ------
    ValueError
        If ``labels`` is not 2-D or has values outside 0..255.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D label map, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError("labels must lie in 0..255 to be written as an 8-bit PNG")
    with atomic_output(path) as temporary:
        Image.fromarray(labels.astype(np.uint8), mode="L").save(temporary, format="PNG")


def read_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read a label PNG written by :func:`write_label_png`.

    Parameters
    ----------
    path : str or os.PathLike
        The PNG file.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map.

    Raises
    ------
    InputError
        If the file is missing or is not a single-channel 8-bit image.
    """
    path = require_file(path, "label map")
    with Image.open(path) as image:
        if image.mode not in ("L", "P"):
            raise InputError(
                f"label map {str(path)!r} has mode {image.mode}, not single-channel 8-bit; "
                "user masks are read with `read_mask`, label maps come from `write_label_png`"
            )
        if image.mode == "L":  # OpenCV's PNG decoder is about 1.5x Pillow's (50 MP: 0.16 s)
            import cv2  # here: the table writers' light jobs need not load it

            labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if (
                labels is not None
                and labels.dtype == np.uint8
                and labels.shape == (image.height, image.width)
            ):
                return labels
        return np.array(image, dtype=np.uint8)


def write_coco(
    path: str | os.PathLike,
    records: Iterable[tuple[str, np.ndarray, dict]],
    structures: StructureTable,
    info: dict | None = None,
) -> None:
    """Write label maps as one COCO file with one compressed-RLE annotation per present part.

    Annotations of one image are disjoint, so :func:`traitrack.io.read_mask` gives back the
    label map exactly.

    Parameters
    ----------
    path : str or os.PathLike
        The JSON file (written atomically).
    records : iterable of (str, numpy.ndarray, dict)
        ``(file_name, labels, extra)`` per image; ``extra`` (e.g. specimen, engine, per-part
        confidence) is merged into the image entry so downstream tools keep it.  Non-finite
        floats in it become ``null`` so the file stays strict JSON.
    structures : StructureTable
        Gives the categories (``id`` = internal label, ``name`` = category).
    info : dict, optional
        The COCO ``info`` block.
    """
    images, annotations = [], []
    for image_id, (file_name, labels, extra) in enumerate(records, start=1):
        labels = np.asarray(labels)
        height, width = labels.shape
        images.append(
            {
                "id": image_id,
                "file_name": str(file_name),
                "height": int(height),
                "width": int(width),
                **(extra or {}),
            }
        )
        for structure in structures:
            annotation = _rle_annotation(labels == structure.label)
            if annotation is None:
                continue
            annotation.update(
                id=len(annotations) + 1, image_id=image_id, category_id=structure.label
            )
            annotations.append(annotation)
    document = {
        "info": info or {},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": s.label, "name": s.category, "supercategory": "part"} for s in structures
        ],
    }
    with atomic_output(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(_plain_json(document), handle, allow_nan=False)


def _rle_annotation(mask: np.ndarray) -> dict | None:
    if not mask.any():
        return None
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {
        "segmentation": {
            "size": [int(s) for s in rle["size"]],
            "counts": rle["counts"].decode("ascii"),
        },
        "area": float(coco_mask.area(rle)),
        "bbox": [float(v) for v in coco_mask.toBbox(rle)],
        "iscrowd": 0,
    }


def _plain_json(value: Any) -> Any:
    """Numpy scalars/arrays to Python, non-finite floats to None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def write_table(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write a table atomically as CSV (``.csv``) or tab-separated (``.tsv``), without index.

    Booleans are written ``TRUE``/``FALSE`` (:func:`r_booleans`), which base R's ``read.csv``,
    readr and pandas all read as logicals; Python's ``True``/``False`` stay text in base R.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its suffix picks the separator.
    frame : pandas.DataFrame
        The table.

    Raises
    ------
    ValueError
        If the suffix is neither ``.csv`` nor ``.tsv``.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in TABLE_SEPARATORS:
        raise ValueError(f"table path {os.fspath(path)!r} must end in .csv or .tsv")
    with atomic_output(path) as temporary:
        r_booleans(frame).to_csv(temporary, sep=TABLE_SEPARATORS[suffix], index=False)


def r_booleans(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with its boolean columns as the strings ``TRUE``/``FALSE``.

    A column is boolean when its dtype is, or when every value it holds that is not missing
    is a bool (a bool column with gaps is an object column in pandas); missing values stay
    missing.  Other columns are left as they are.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.

    Returns
    -------
    pandas.DataFrame
        A copy when a column was converted, else ``frame`` itself.
    """
    converted = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or (
            values.dtype == object
            and values.notna().any()
            and all(isinstance(v, (bool, np.bool_)) for v in values.dropna())
        ):
            converted[column] = values.map(
                lambda v: v if v is None or v is pd.NA or v != v else ("TRUE" if v else "FALSE")
            )
    return frame.assign(**converted) if converted else frame
