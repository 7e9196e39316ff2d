"""Atomic output: a report file is either the old one or the complete new one."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from perfkit.errors import InputError


def write_error(path: str | Path, exc: OSError) -> InputError:
    """One line naming the file perfkit could not write, and why (disk full, read-only...)."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        why = "no space left on device"
    elif code == errno.EISDIR:
        why = "is a directory"
    else:
        why = f"cannot write: {exc.strerror or os.strerror(code or 0) or type(exc).__name__}"
    return InputError(path, why)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and rename.

    Text is written with every known password scrubbed. A write that fails (a full disk,
    a read-only directory) raises :class:`InputError` naming ``path``; the temp file is
    removed and an existing file at ``path`` is left as it was.
    """
    from perfkit.redact import scrub

    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(target, "output directory does not exist")
    payload = scrub(data, key_values=False).encode("utf-8") if isinstance(data, str) else data
    if target.exists() and not target.is_file():
        # /dev/null, a FIFO, a terminal: renaming over it would replace the device itself
        try:
            with open(target, "wb") as fh:
                fh.write(payload)
        except OSError as exc:
            raise write_error(target, exc) from None
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise write_error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o777)
        else:
            # mkstemp creates 0600; a report should get the usual umask-derived mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(target, exc) from None
        raise
