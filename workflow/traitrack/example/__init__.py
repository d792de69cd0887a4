"""The bundled synthetic example (``resources/example``).

:mod:`traitrack.example.synthetic` draws the specimens, :mod:`traitrack.example.paint` the
photograph around them; :func:`write_example` writes the set.
"""

from traitrack.example.synthetic import write_example

__all__ = ["write_example"]
