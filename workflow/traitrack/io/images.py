"""Reading specimen images in every format users bring, and their pixel size.

Every image becomes RGB uint8 (H, W, 3), so engines, features and overlays handle one kind of
array.  Decisions (documented here because users will ask):

- JPEG/PNG and anything else Pillow reads: the EXIF orientation is applied, so the array is
  the image as a viewer shows it.
- Transparency (RGBA, grey+alpha, palette with transparency) is composited onto **white**:
  specimen photographs are cut out on a light background, and white keeps a transparent
  background looking like background rather than turning it black.
- Grey images are repeated to three channels.
- More than 8 bits (16-bit PNG/TIFF, 32-bit integers): scaled by the dtype's full range
  (``value * 255 / 65535``), **unless** the image's maximum is below 1/16 of that range (12-bit
  or lower camera data stored in a 16-bit container), in which case it is stretched from its
  own minimum to its own maximum; otherwise such images would be almost black.  Floats in
  [0, 1] are multiplied by 255, other floats are stretched by their own min/max.
- TIFF (read with tifffile): the first series; of a stack (pages, time, z, channels) the first
  plane.  A TIFF with a 3- or 4-long channel axis and no samples axis (an ImageJ RGB
  composite) is read as RGB(A).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageOps, UnidentifiedImageError

from traitrack.io.common import InputError, require_file

TIFF_SUFFIXES = (".tif", ".tiff")

# Millimetres per unit; keys lower-case, as ImageJ and OME spell them.
_MM_PER_UNIT = {
    "nm": 1e-6,
    "nanometer": 1e-6,
    "nanometre": 1e-6,
    "um": 1e-3,
    "µm": 1e-3,
    "μm": 1e-3,
    "micron": 1e-3,
    "microns": 1e-3,
    "micrometer": 1e-3,
    "micrometre": 1e-3,
    "\\u00b5m": 1e-3,
    "mm": 1.0,
    "millimeter": 1.0,
    "millimetre": 1.0,
    "cm": 10.0,
    "centimeter": 10.0,
    "centimetre": 10.0,
    "m": 1000.0,
    "meter": 1000.0,
    "metre": 1000.0,
    "in": 25.4,
    "inch": 25.4,
}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read any user image as RGB uint8 (H, W, 3); see the module docstring for the rules.

    Parameters
    ----------
    path : str or os.PathLike
        The image file (JPEG, PNG, TIFF or anything else Pillow reads).

    Returns
    -------
    numpy.ndarray
        (H, W, 3) uint8, C-contiguous.

    Raises
    ------
    InputError
        If the file is missing or no reader understands it.
    """
    path = require_file(path, "image")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            array = _read_tiff_plane(path)
        else:
            array = _read_with_pillow(path)
    except InputError:
        raise
    except (OSError, ValueError, UnidentifiedImageError, tifffile.TiffFileError) as error:
        raise InputError(
            f"image file {str(path)!r} could not be read ({error}); "
            "convert it to PNG, JPEG or TIFF or fix the path in the sample sheet"
        ) from error
    return _to_rgb_uint8(array, path)


def _read_with_pillow(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode == "P":
            image = image.convert("RGBA")
        elif image.mode in ("CMYK", "YCbCr", "LAB", "HSV", "1"):
            image = image.convert("RGB")
        elif image.mode == "PA":
            image = image.convert("RGBA")
        elif image.mode.startswith("I;16") or image.mode == "I":
            # 16-bit PNGs open as mode I / I;16; PNG cannot hold more than 16 bits.
            return np.asarray(image).astype(np.uint16)
        return np.asarray(image)


def _read_tiff_plane(path: Path) -> np.ndarray:
    """First plane of the first series of a TIFF as (H, W) or (H, W, channels)."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        array = series.asarray()
        axes = series.axes
    if "S" not in axes and "C" in axes and array.shape[axes.index("C")] in (3, 4):
        axes = axes.replace("C", "S")
    index = tuple(slice(None) if axis in "YXS" else 0 for axis in axes)
    array = array[index]
    kept = [axis for axis in axes if axis in "YXS"]
    order = [kept.index(axis) for axis in "YXS" if axis in kept]
    return np.transpose(array, order)


def _to_rgb_uint8(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise InputError(
            f"image file {str(path)!r} has shape {array.shape}, expected a 2-D grey or RGB(A) "
            "image; save a single RGB image (not a stack or multi-channel file)"
        )
    scaled = scale_to_uint8(array)
    channels = scaled.shape[2]
    if channels in (2, 4):
        colour, alpha = scaled[:, :, :-1].astype(np.float32), scaled[:, :, -1:] / 255.0
        scaled = np.rint(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if scaled.shape[2] == 1:
        scaled = np.repeat(scaled, 3, axis=2)
    return np.ascontiguousarray(scaled)


def scale_to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale any numeric array to uint8 by the rules in the module docstring.

    Parameters
    ----------
    array : numpy.ndarray
        Pixels of any numeric or boolean dtype.

    Returns
    -------
    numpy.ndarray
        uint8, the same shape (the input itself when it is already uint8).
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    values = array.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if np.issubdtype(array.dtype, np.floating):
        if low >= 0.0 and high <= 1.0:
            return np.rint(values * 255.0).astype(np.uint8)
        return _stretch(values, low, high)
    full = float(np.iinfo(array.dtype).max)
    if high < full / 16:
        return _stretch(values, low, high)
    return np.rint(np.clip(values, 0, full) * (255.0 / full)).astype(np.uint8)


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, np.uint8)
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)


def read_pixel_size(path: str | os.PathLike) -> float | None:
    """Pixels per millimetre from TIFF calibration metadata, or None if there is none.

    Understands ImageJ TIFFs (XResolution in pixels per ImageJ ``unit``) and OME-TIFFs
    (``PhysicalSizeX`` with ``PhysicalSizeXUnit``, micrometre by default as in the OME
    schema).  A plain TIFF's ResolutionUnit (inch/cm) is ignored on purpose: cameras and
    editors write 72 or 300 dpi that say nothing about the specimen.  Non-TIFF files give None.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.

    Returns
    -------
    float or None
        Pixels per millimetre, or None without usable calibration.

    Raises
    ------
    InputError
        If the file is missing, or is a TIFF that cannot be read.
    """
    path = require_file(path, "image")
    if path.suffix.lower() not in TIFF_SUFFIXES:
        return None
    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_ome and tif.ome_metadata:
                from_ome = _ome_pixels_per_mm(tif.ome_metadata)
                if from_ome is not None:
                    return from_ome
            if tif.is_imagej:
                return _imagej_pixels_per_mm(tif.pages.first, tif.imagej_metadata or {})
    except (OSError, ValueError, tifffile.TiffFileError) as error:
        raise InputError(
            f"image file {str(path)!r} could not be read as TIFF ({error}); "
            "re-save it or give `px_per_mm` in the sample sheet"
        ) from error
    return None


def _mm_per_unit(unit: str) -> float | None:
    return _MM_PER_UNIT.get(unit.strip().lower())


def _imagej_pixels_per_mm(page, metadata: dict) -> float | None:
    mm_per_unit = _mm_per_unit(str(metadata.get("unit", "")))
    tag = page.tags.get("XResolution")
    if mm_per_unit is None or tag is None:
        return None
    numerator, denominator = tag.value
    if not numerator or not denominator:
        return None
    pixels_per_unit = numerator / denominator
    return float(pixels_per_unit / mm_per_unit)


def _ome_pixels_per_mm(ome_xml: str) -> float | None:
    try:
        root = ElementTree.fromstring(ome_xml)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if re.sub(r"^\{.*\}", "", element.tag) != "Pixels":
            continue
        size = element.get("PhysicalSizeX")
        if size is None or float(size) <= 0:
            return None
        mm_per_unit = _mm_per_unit(element.get("PhysicalSizeXUnit", "µm"))
        if mm_per_unit is None:
            return None
        return float(1.0 / (float(size) * mm_per_unit))
    return None
