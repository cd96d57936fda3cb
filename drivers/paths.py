"""What a path is, decided once before SQLite, ``json`` or ``zipfile`` see it.

SQLite and Python's readers meet odd paths in their own ways: opening a FIFO with no writer
blocks forever, ``/dev/zero`` reads as an endless empty file and ``/dev/urandom`` as garbage, a
name over the file system's limit fails with ``ENAMETOOLONG`` in whatever call comes first.
:func:`regular_file` stats the path once and says in the user's words what it is instead of a
file; only a regular file goes on to be read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from inspector.errors import NotATraceSource, SourceNotFound

__all__ = ["open_regular", "regular_file"]

_KINDS = (
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a file: it is not read, since reading it could wait forever"),
    (stat.S_ISCHR, "is a device, not a file"),
    (stat.S_ISBLK, "is a block device, not a file"),
    (stat.S_ISSOCK, "is a socket, not a file"),
)


def regular_file(path: Path, *, folder_file: str | None = None) -> tuple[Path, os.stat_result]:
    """``path`` (or, for a folder, ``path / folder_file`` when there is one) and its ``stat`` when
    it is a regular, non-empty file; else a ``SourceError`` naming it and saying what it is."""
    location = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceNotFound("no such file", location=location) from None
    except NotADirectoryError:
        raise SourceNotFound("no such file (a part of its path is a file, not a folder)", location=location) from None
    except PermissionError:
        raise SourceNotFound("permission denied: the file cannot be read", location=location) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise SourceNotFound("the name is too long for the file system", location=location) from None
        if exc.errno == errno.ELOOP:
            raise SourceNotFound("too many levels of symbolic links", location=location) from None
        raise SourceNotFound(f"cannot be read: {exc.strerror or exc}", location=location) from None
    except ValueError:  # a NUL byte in the name
        raise SourceNotFound("the name contains a NUL character", location=location) from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        inner = path / folder_file if folder_file else None
        if inner is not None and inner.exists():
            return regular_file(inner)
        what = f"is a folder without a {folder_file}" if folder_file else "is a folder, not a file"
        raise SourceNotFound(what, location=location)
    for test, words in _KINDS:
        if test(mode):
            raise NotATraceSource(words, location=location)
    if not stat.S_ISREG(mode):
        raise NotATraceSource("is not a regular file", location=location)
    if st.st_size == 0:
        raise NotATraceSource("is empty (0 bytes)", location=location)
    return path, st


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading once :func:`regular_file` accepts it, without blocking should
    it have become a FIFO or a device in between (checked again on the open file)."""
    location = str(path)
    regular_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError:
        raise SourceNotFound("permission denied: the file cannot be read", location=location) from None
    except OSError as exc:
        raise SourceNotFound(f"cannot be read: {exc.strerror or exc}", location=location) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between the stat and the open
        os.close(fd)
        raise NotATraceSource("is not a regular file", location=location)
    return os.fdopen(fd, "rb")
