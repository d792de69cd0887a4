"""The bundled synthetic example (``resources/example``): ``synthetic`` draws the specimens,
``paint`` the photograph around them; :func:`write_example` writes the set."""

from traitrack.example.synthetic import write_example

__all__ = ["write_example"]
