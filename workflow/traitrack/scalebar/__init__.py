"""Pixel size from a photograph's scale bar: find the bar, read its label, judge the reading.

- :mod:`traitrack.scalebar.detect`: bar candidates and their sub-pixel ends;
- :mod:`traitrack.scalebar.read`: the label next to a bar, by OCR (RapidOCR);
- :mod:`traitrack.scalebar.parse`: the label's text as a length in mm;
- :mod:`traitrack.scalebar.calibrate`: one image's reading and status, the species check;
- :mod:`traitrack.scalebar.overlay`: a small picture of what was found.
"""
