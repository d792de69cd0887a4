"""Reading user masks in every format into the internal label map (0 background, 1..N parts).

Formats and rules:

- Single-channel PNG/TIFF (and 3-channel images whose channels are all equal, when the config
  declares ``structures[].value``): each value is mapped through
  :meth:`StructureTable.value_lookup`; background need not be 0 (the ants use 6).
- RGB colour-coded PNG/TIFF: each colour is mapped through :meth:`StructureTable.rgb_lookup`;
  an alpha channel is ignored.
- Palette PNGs: the palette indices are the values when the config declares
  ``structures[].value``; otherwise the palette colours are used as an RGB mask.
- COCO and labelme JSON: see :mod:`traitrack.io.annotations`; the kind is detected from the
  content, not the file name.

Any value, colour or category the config does not declare raises :class:`InputError` naming the
file, the unknown and known encodings, and the config key to fix, so nothing is silently
painted as background.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from traitrack.io.annotations import labels_from_annotation_json
from traitrack.io.common import InputError, require_file
from traitrack.io.images import TIFF_SUFFIXES
from traitrack.structures import StructureTable

_SHOW_AT_MOST = 8


def read_mask(
    path: str | os.PathLike,
    structures: StructureTable,
    image_name: str | None = None,
    image_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Read any user mask as an internal label map (H, W) uint8.

    Parameters
    ----------
    path : str or os.PathLike
        The mask file (PNG, TIFF, COCO JSON or labelme JSON).
    structures : StructureTable
        The part table saying how the user's file encodes each part.
    image_name : str, optional
        The image this mask belongs to; needed to pick the image entry of a COCO file holding
        many images (matched by base name, so folders do not matter).
    image_shape : tuple of int, optional
        The image's shape; if given, a mask of a different height/width is an error, because
        a mask that does not line up with its image would teach the engine nonsense.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map, 0 background, structure ``i`` has label ``i + 1``.

    Raises
    ------
    InputError
        If the file is missing or unreadable, uses an encoding the config does not declare,
        or does not fit ``image_shape``.
    """
    path = require_file(path, "mask")
    if path.suffix.lower() == ".json":
        labels = labels_from_annotation_json(path, _load_json(path), structures, image_name)
    else:
        labels = _labels_from_raster(path, _read_raster(path, structures), structures)
    if image_shape is not None and tuple(labels.shape[:2]) != tuple(image_shape[:2]):
        raise InputError(
            f"mask file {str(path)!r} is {labels.shape[0]}x{labels.shape[1]} (height x width) "
            f"but its image{f' {image_name!r}' if image_name else ''} is "
            f"{image_shape[0]}x{image_shape[1]}; "
            "masks must have exactly the size of their image: re-export the mask at the "
            "image's size or fix the `mask` column of the sample sheet"
        )
    return labels


def _load_json(path: Path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(
            f"mask file {str(path)!r} is not valid JSON ({error}); "
            "export it again as COCO or labelme JSON"
        ) from error


def _declares_values(structures: StructureTable) -> bool:
    return any(s.value is not None for s in structures)


def _read_raster(path: Path, structures: StructureTable) -> np.ndarray:
    """The mask's raw pixels without any conversion that could change values or colours."""
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                return tif.pages.first.asarray()
        with Image.open(path) as image:
            if image.mode == "1":
                image = image.convert("L")
            if image.mode in ("P", "PA") and not _declares_values(structures):
                image = image.convert("RGB")  # no values declared: the palette colours count
            return np.asarray(image)  # P/PA: the palette indices are the values
    except (OSError, ValueError, UnidentifiedImageError, tifffile.TiffFileError) as error:
        raise InputError(
            f"mask file {str(path)!r} could not be read ({error}); "
            "save masks as PNG, TIFF, COCO JSON or labelme JSON"
        ) from error


def _labels_from_raster(path: Path, raw: np.ndarray, structures: StructureTable) -> np.ndarray:
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim == 3 and raw.shape[2] == 2:  # grey + alpha: the alpha says nothing about parts
        raw = raw[:, :, 0]
    if raw.ndim == 3 and raw.shape[2] in (3, 4):
        colours = raw[:, :, :3]
        if _declares_values(structures) and bool((colours == colours[:, :, :1]).all()):
            return map_values(path, colours[:, :, 0], structures)
        return map_colours(path, colours, structures)
    if raw.ndim == 2:
        return map_values(path, raw, structures)
    raise InputError(
        f"mask file {str(path)!r} has shape {raw.shape}; expected a single-channel label image "
        "or an RGB colour-coded image of the same height and width as the image"
    )


def map_values(path: Path, values: np.ndarray, structures: StructureTable) -> np.ndarray:
    """Map single-channel values to internal labels via ``structures.value_lookup()``.

    Parameters
    ----------
    path : Path
        The mask file, for messages.
    values : numpy.ndarray
        (H, W) integer values.
    structures : StructureTable
        The part table.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map.

    Raises
    ------
    InputError
        If a value is not declared; the message lists the known ones.
    """
    lookup = structures.value_lookup()
    unique = _distinct(values)
    unknown = [int(v) for v in unique if int(v) not in lookup]
    if unknown:
        known = _describe_known(lookup, structures)
        raise InputError(
            f"mask file {str(path)!r} contains values {_first(unknown)} that the config does "
            f"not declare; known values: {known}. Fix `structures[].value` or "
            "`background.value` (or list the value in `background.ignore_values`) in the config"
        )
    mapped = np.array([lookup[int(v)] for v in unique], dtype=np.uint8)
    return _replace(values, unique, mapped)


def map_colours(path: Path, colours: np.ndarray, structures: StructureTable) -> np.ndarray:
    """Map RGB colours to internal labels via ``structures.rgb_lookup()``.

    Parameters
    ----------
    path : Path
        The mask file, for messages.
    colours : numpy.ndarray
        (H, W, 3) uint8 colours.
    structures : StructureTable
        The part table.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8 label map.

    Raises
    ------
    InputError
        If the colours are not 8-bit, or a colour is not declared.
    """
    lookup = structures.rgb_lookup()
    if colours.dtype != np.uint8:
        raise InputError(
            f"mask file {str(path)!r} is an RGB mask with {colours.dtype} pixels; colour-coded "
            "masks must be 8-bit RGB (0-255 per channel): re-save it as an 8-bit RGB PNG"
        )
    # one 32-bit code per pixel, r + 256 g + 65536 b: the colours copied into 4 bytes
    quads = np.zeros((*colours.shape[:2], 4), dtype=np.uint8)
    quads[:, :, :3] = colours
    packed = quads.view("<u4")[:, :, 0]
    unique = _distinct(packed)
    triples = [(int(p & 255), int(p >> 8 & 255), int(p >> 16)) for p in unique]
    unknown = [t for t in triples if t not in lookup]
    if unknown:
        known = _describe_known(lookup, structures)
        raise InputError(
            f"mask file {str(path)!r} contains colours {_first(unknown)} that the config does "
            f"not declare; known colours: {known}. Fix `structures[].rgb` or `background.rgb` "
            "in the config (anti-aliased or JPEG masks have in-between colours: save masks "
            "as PNG without smoothing)"
        )
    mapped = np.array([lookup[t] for t in triples], dtype=np.uint8)
    return _replace(packed, unique, mapped)


_COUNTED = 2**24  # codes below this are found by counting (a 16 Mi-entry table), not sorting


def _distinct(codes: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array; counted, not sorted, where they are small
    and non-negative (a 50-megapixel RGB mask: 0.3 s instead of np.unique's 6 s)."""
    if codes.size and codes.dtype.kind == "u" and codes.dtype.itemsize <= 4:
        top = int(codes.max())
        if top < _COUNTED:
            return np.flatnonzero(np.bincount(codes.ravel(), minlength=top + 1))
    return np.unique(codes)


def _replace(codes: np.ndarray, unique: np.ndarray, mapped: np.ndarray) -> np.ndarray:
    """``mapped[i]`` wherever ``codes == unique[i]`` (every code is one of ``unique``)."""
    if unique.size and codes.dtype.kind == "u" and int(unique[-1]) < _COUNTED:
        table = np.zeros(int(unique[-1]) + 1, dtype=np.uint8)
        table[unique] = mapped
        return table[codes]
    return mapped[np.searchsorted(unique, codes)]


def _first(items: list) -> str:
    shown = ", ".join(str(item) for item in items[:_SHOW_AT_MOST])
    more = f" and {len(items) - _SHOW_AT_MOST} more" if len(items) > _SHOW_AT_MOST else ""
    return f"[{shown}{more}]"


def _describe_known(lookup: dict, structures: StructureTable) -> str:
    def name(label: int) -> str:
        return "background" if label == 0 else structures.by_label(label).name

    return ", ".join(f"{key} = {name(label)}" for key, label in lookup.items())
