"""Send a job's stderr (logging, tqdm progress, tracebacks) to its Snakemake log file."""

from __future__ import annotations

import logging
import sys


def log_to(path: str) -> None:
    """Redirect stderr to ``path`` (line-buffered) and log INFO and above there.

    Parameters
    ----------
    path : str
        The job's log file (the rule's ``log:``); it is overwritten.
    """
    sys.stderr = open(path, "w", buffering=1)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
