"""Trays and drawers: one photograph of several specimens split into specimen instances.

``split.split_tray`` is the weights-free CPU method; ``compose`` builds trays with known
instances from single-specimen images (benchmark, tests and the example).
"""

from traitrack.trays.objects import Excluded
from traitrack.trays.split import STATUSES, SplitOptions, TraySplit, split_tray

__all__ = ["STATUSES", "Excluded", "SplitOptions", "TraySplit", "split_tray"]
