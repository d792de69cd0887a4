"""Stage of ``checkpoint.smk``: the official SAM 2.1 checkpoint, fetched and verified."""

from __future__ import annotations

from pathlib import Path


def run_download_checkpoint(size: str, out: str | Path) -> None:
    """Download the SAM 2.1 checkpoint of one model size and verify it.

    The file is loaded strictly into the model before it is kept, so a truncated or foreign
    file fails the job and is deleted.

    Parameters
    ----------
    size : str
        The model size: ``tiny``, ``small``, ``base_plus`` or ``large``.
    out : str or Path
        Where the verified checkpoint is written.
    """
    from traitrack.engines.sam2.download import download_and_verify
    from traitrack.engines.sam2.model import checkpoint_url

    download_and_verify(checkpoint_url(size), out, size)
