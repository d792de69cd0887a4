"""What every reader and writer of :mod:`traitrack.io` shares: the error type and atomic output.

Kept apart so that the image, mask and writer modules can use them without importing each
other; users import everything from :mod:`traitrack.io`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class InputError(ValueError):
    """A user file cannot be used as given; the message names the file and says how to fix it."""


def require_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise :class:`InputError` if it is not an existing file.

    Checked up front so the user sees "file not found" with the config or sample-sheet column
    to fix, rather than a library's low-level OSError.

    Parameters
    ----------
    path : str or os.PathLike
        The file a user named.
    what : str
        What the file is (``image``, ``mask`` ...), for the message.

    Returns
    -------
    Path
        ``path`` as a Path.

    Raises
    ------
    InputError
        If ``path`` does not exist or is not a file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{what} file {str(path)!r} does not exist or is not a file; "
            "check the path in the sample sheet (paths are relative to the working directory)"
        )
    return path


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    A job that fails half-way then leaves nothing that looks finished (Snakemake and users
    trust existing outputs).  The temporary file sits in the same folder, so the final
    ``os.replace`` is an atomic rename on one file system, and keeps the suffix of ``path`` so
    that writers choosing a format by suffix (PIL, pandas, tifffile) pick the right one.
    Parent folders are created.  On an exception the temporary file is removed and the
    exception propagates.

    Parameters
    ----------
    path : str or os.PathLike
        The output's final path.

    Yields
    ------
    Path
        The temporary path to write to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}"
    )
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        # mkstemp creates the file private (0600); give the output ordinary permissions.
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
