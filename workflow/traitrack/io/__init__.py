"""Reading what users bring (images, masks in every format, pixel sizes) and writing our outputs.

This is the one import point; the code lives in

- :mod:`traitrack.io.common`: :class:`InputError`, :func:`atomic_output`;
- :mod:`traitrack.io.images`: :func:`read_image`, :func:`read_pixel_size` (format rules there);
- :mod:`traitrack.io.masks` and :mod:`traitrack.io.annotations`: :func:`read_mask` for label
  PNG/TIFF, RGB colour PNG, COCO and labelme JSON (mapping and overlap rules there);
- :mod:`traitrack.io.write`: :func:`write_label_png`, :func:`read_label_png`,
  :func:`write_coco`, :func:`write_table`.
"""

from importlib import import_module

# name -> module; loaded on first use, so that ``traitrack.io.common`` (the sample sheet's
# errors, read when Snakemake plans the DAG) does not import the image and mask readers
_HOMES = {
    "InputError": "common",
    "atomic_output": "common",
    "require_file": "common",
    "read_image": "images",
    "read_pixel_size": "images",
    "read_mask": "masks",
    "read_label_png": "write",
    "write_coco": "write",
    "write_label_png": "write",
    "write_table": "write",
}

__all__ = list(_HOMES)


def __getattr__(name: str):
    """Import a public name from its home module on first use (PEP 562)."""
    if name not in _HOMES:
        raise AttributeError(f"module 'traitrack.io' has no attribute {name!r}")
    value = getattr(import_module(f"traitrack.io.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
