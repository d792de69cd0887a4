"""Reading what users bring (images, masks in every format, pixel sizes) and writing our outputs.

This is the one import point; the code lives in

- :mod:`traitrack.io_common`: :class:`InputError`, :func:`atomic_output`;
- :mod:`traitrack.io_images`: :func:`read_image`, :func:`read_pixel_size` (format rules there);
- :mod:`traitrack.io_masks` and :mod:`traitrack.io_annotations`: :func:`read_mask` for label
  PNG/TIFF, RGB colour PNG, COCO and labelme JSON (mapping and overlap rules there);
- :mod:`traitrack.io_write`: :func:`write_label_png`, :func:`read_label_png`,
  :func:`write_coco`, :func:`write_table`.
"""

from .io_common import InputError, atomic_output
from .io_images import read_image, read_pixel_size
from .io_masks import read_mask
from .io_write import read_label_png, write_coco, write_label_png, write_table

__all__ = [
    "InputError",
    "atomic_output",
    "read_image",
    "read_pixel_size",
    "read_mask",
    "read_label_png",
    "write_coco",
    "write_label_png",
    "write_table",
]
