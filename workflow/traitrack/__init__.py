"""traitrack: segment the parts of museum specimens from a few annotated templates per species.

The library is Snakemake-free: small functions on numpy arrays and dataclasses.  The workflow's
rules call it through thin scripts in ``workflow/scripts`` or through the ``traitrack`` command.
"""

__version__ = "0.1.0"
