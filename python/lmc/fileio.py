"""Atomic file writes shared by the data and checkpoint writers."""

from __future__ import annotations

import os
import tempfile
from typing import Iterable


def atomic_write(path, chunks: Iterable[bytes]) -> None:
    """Write `chunks` to `path` so that a reader sees the old file or the
    whole new one: a temporary file in the same directory, fsync, rename.
    The file gets the usual permissions (0666 less the umask)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600 files
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
