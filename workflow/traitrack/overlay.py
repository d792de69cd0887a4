"""Overlays: a specimen image with its structures tinted, outlined and named in a legend.

Every structure keeps one fixed colour (``Structure.colour``) in every overlay of a run, so a
reviewer scanning hundreds of images learns the colours once.  Structure pixels are blended
with their colour, the outline of each structure (its boundary pixels, inside the structure)
is drawn in the full colour, and background pixels are left exactly as they were.  The legend
is a white strip to the right of the image with a swatch and the name of every declared
structure, drawn with Pillow's built-in font, so no plotting library is needed.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage.segmentation import find_boundaries
from skimage.util import img_as_ubyte

from traitrack import rgb
from traitrack.io.common import atomic_output
from traitrack.structures import StructureTable

LEGEND_BACKGROUND = (255, 255, 255)
TEXT_COLOUR = (0, 0, 0)


class OverlayError(ValueError):
    """The image and label map cannot be overlaid (sizes or shapes do not fit)."""


def render_overlay(
    image: np.ndarray,
    labels: np.ndarray,
    structures: StructureTable,
    alpha: float = 0.45,
    legend: bool = True,
    title: str | None = None,
) -> np.ndarray:
    """Return the overlay as an RGB uint8 array.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) RGB, RGBA or (H, W) greyscale image, any dtype skimage can convert.
    labels : numpy.ndarray
        (H, W) label map (0 background, structure ``i`` has label ``i + 1``); labels not
        declared in ``structures`` are left untinted.
    structures : StructureTable
        The part table: colours and legend names.
    alpha : float
        Weight of the structure colour in the blend (0 = invisible, 1 = opaque).
    legend : bool
        Add the legend strip to the right of the image.
    title : str, optional
        Text in a band above the image (e.g. the specimen name).

    Returns
    -------
    numpy.ndarray
        (H', W', 3) uint8; H' >= H and W' >= W when a legend or title is added, and the image
        occupies the top-left (below the title band, if any).

    Raises
    ------
    OverlayError
        If the label map's size differs from the image's, or ``alpha`` is outside 0..1.
    """
    rgb = _as_rgb_uint8(image)
    labels = np.asarray(labels)
    if labels.shape != rgb.shape[:2]:
        raise OverlayError(
            f"label map size {labels.shape} differs from image size {rgb.shape[:2]}; "
            "overlay the mask predicted for this very image"
        )
    if not 0.0 <= alpha <= 1.0:
        raise OverlayError(f"alpha must be between 0 and 1, got {alpha}")
    tinted = tint(rgb, labels, structures, alpha)
    if not legend and title is None:
        return tinted
    return _add_legend_and_title(tinted, structures, legend, title)


def write_overlay(
    path: str | os.PathLike, image, labels, structures: StructureTable, **kwargs
) -> None:
    """Render with :func:`render_overlay` and write the overlay as a PNG, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The PNG file.
    image, labels, structures
        As for :func:`render_overlay`.
    **kwargs
        Passed on to :func:`render_overlay` (``alpha``, ``legend``, ``title``).
    """
    overlay = render_overlay(image, labels, structures, **kwargs)
    with atomic_output(path) as temporary:
        Image.fromarray(overlay).save(temporary, format="PNG")


def tint(
    rgb: np.ndarray, labels: np.ndarray, structures: StructureTable, alpha: float
) -> np.ndarray:
    """Blend structure pixels with their colour and draw their outlines; background untouched.

    Parameters
    ----------
    rgb : numpy.ndarray
        (H, W, 3) uint8 image.
    labels : numpy.ndarray
        (H, W) label map; labels not declared in ``structures`` are left untinted.
    structures : StructureTable
        The part table: the colours.
    alpha : float
        Weight of the structure colour in the blend.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) uint8, a new array.
    """
    colours = np.zeros((max(structures.labels, default=0) + 1, 3), dtype=float)
    declared = np.zeros(len(colours), dtype=bool)
    for structure in structures:
        colours[structure.label] = structure.colour
        declared[structure.label] = True
    known = np.where((labels >= 0) & (labels < len(colours)), labels, 0).astype(np.intp)
    inside = declared[known]
    out = rgb.copy()
    blend = (1.0 - alpha) * rgb[inside] + alpha * colours[known[inside]]
    out[inside] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    outline = find_boundaries(np.where(inside, known, 0), mode="inner") & inside
    out[outline] = colours[known[outline]].astype(np.uint8)
    return out


def _add_legend_and_title(
    tinted: np.ndarray, structures: StructureTable, legend: bool, title: str | None
) -> np.ndarray:
    height, width = tinted.shape[:2]
    font = _font(height)
    line = _text_size(font, "Ag")[1]
    pad = max(4, line // 2)
    swatch = line
    title_band = line + 2 * pad if title is not None else 0
    names = [s.name for s in structures] if legend else []
    text_width = max((_text_size(font, n)[0] for n in names), default=0)
    strip = pad + swatch + pad + text_width + pad if legend else 0
    legend_height = pad + len(names) * (line + pad)
    canvas_width = width + strip
    if title is not None:
        canvas_width = max(canvas_width, _text_size(font, title)[0] + 2 * pad)
    canvas = Image.new(
        "RGB", (canvas_width, title_band + max(height, legend_height)), LEGEND_BACKGROUND
    )
    canvas.paste(Image.fromarray(tinted), (0, title_band))
    draw = ImageDraw.Draw(canvas)
    if title is not None:
        draw.text((pad, pad), title, fill=TEXT_COLOUR, font=font)
    for index, structure in enumerate(structures if legend else ()):
        top = title_band + pad + index * (line + pad)
        left = width + pad
        draw.rectangle(
            (left, top, left + swatch - 1, top + swatch - 1),
            fill=tuple(structure.colour),
            outline=TEXT_COLOUR,
        )
        draw.text((left + swatch + pad, top), structure.name, fill=TEXT_COLOUR, font=font)
    return np.asarray(canvas)


def _font(image_height: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font, sized so the legend stays readable on large scans."""
    size = int(np.clip(image_height // 30, 11, 64))
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _text_size(font, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return int(np.ceil(right)), int(np.ceil(bottom))


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    image = rgb.as_rgb(image, error=OverlayError)
    return image if image.dtype == np.uint8 else img_as_ubyte(image)
