"""Download an official SAM 2.1 checkpoint and verify that it loads before it is kept.

A failed download or a file that does not load strictly into its model is deleted, so
nothing that looks like a finished checkpoint is ever left behind (rule
``download_checkpoint``).
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path

from traitrack.engines.sam2.checkpoint import CheckpointError, load_checkpoint_strict
from traitrack.engines.sam2.model import instantiate_model


def verify_checkpoint(path: str | os.PathLike, model_size: str) -> None:
    """Raise :class:`CheckpointError` unless ``path`` loads strictly into a ``model_size`` model.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    model_size : str
        One of :data:`~traitrack.engines.sam2.model.MODEL_CONFIGS`.
    """
    model = instantiate_model(model_size, image_size=1024)
    load_checkpoint_strict(model, path)


def download_and_verify(url: str, dest: str | os.PathLike, model_size: str) -> Path:
    """Download ``url`` to ``dest`` through a temporary name, verify it, then rename it.

    A failed download or a file that does not load strictly into the model is deleted, so
    nothing that looks like a finished checkpoint is ever left at ``dest``.

    Parameters
    ----------
    url : str
        The checkpoint's URL (:func:`~traitrack.engines.sam2.model.checkpoint_url`).
    dest : str or os.PathLike
        Where the verified checkpoint goes.
    model_size : str
        The model it must load into.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    CheckpointError
        If the download stops short or the file does not load strictly.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    os.close(handle)
    temporary = Path(temporary)
    try:
        with urllib.request.urlopen(url) as response, open(temporary, "wb") as out:
            expected = response.headers.get("Content-Length")
            written = _copy_with_progress(response, out, int(expected) if expected else None)
        if expected is not None and written != int(expected):
            raise CheckpointError(
                f"download of {url} stopped after {written} of {expected} bytes; try again"
            )
        verify_checkpoint(temporary, model_size)
        os.replace(temporary, dest)
    finally:
        temporary.unlink(missing_ok=True)
    return dest


def _copy_with_progress(source, target, total: int | None, block: int = 1 << 20) -> int:
    from tqdm import tqdm

    written = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc="download checkpoint") as progress:
        while chunk := source.read(block):
            target.write(chunk)
            written += len(chunk)
            progress.update(len(chunk))
    return written
