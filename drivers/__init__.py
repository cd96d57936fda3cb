"""Adapters from storage to inspector objects: SQLite and Postgres (SQLAlchemy Core), JSON trace files.

``open_source`` is the one entry point: give it what the user typed or dropped."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.paths import open_regular, regular_file
from inspector.errors import NotATraceSource, SourceNotFound
from inspector.locations import is_postgres_url, redact_url
from inspector.source import TraceSource

if TYPE_CHECKING:  # the signing library loads only when a bundle is opened
    from inspector.bundle import PublicKey

__all__ = ["open_source"]


def open_source(
    location: str | os.PathLike[str], *, busy_timeout: float = 5.0, password: str | None = None,
    trusted_keys: Sequence[PublicKey] = (), allow_untrusted: bool = False,
) -> TraceSource:
    """Open a trace source read-only: a SQLite ``traces.db``, a one-run JSON trace file, an AOS
    bundle JSON, an export bundle ``.zip`` (verified first: one that fails verification opens only
    with ``allow_untrusted``; with ``trusted_keys`` its signer must be one of them), or a
    ``postgresql://user@host:port/db`` URL (``password`` is used for that connection only;
    without one, libpq's ``PGPASSWORD`` and ``~/.pgpass`` apply).

    Raises :class:`inspector.errors.SourceError` subclasses naming the location and the problem;
    :class:`inspector.errors.PasswordRequired` when the server wants a password.
    """
    text = os.fspath(location)
    if is_postgres_url(text):
        from drivers.pg_reader import PostgresTraceReader

        return PostgresTraceReader(text, password=password)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        raise NotATraceSource(f"sources of kind '{scheme}://' are not supported yet", location=redact_url(text))
    path, _st = regular_file(Path(text).expanduser(), folder_file="traces.db")
    try:
        with open_regular(path) as fh:
            # SQLite files start with their header; JSON may start with any amount of blank space.
            head = fh.read(65536)
    except OSError as exc:
        raise SourceNotFound(f"cannot be read: {exc.strerror or exc}", location=str(path)) from None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        from drivers.bundle import open_bundle

        return open_bundle(path, trusted_keys=trusted_keys, allow_untrusted=allow_untrusted)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        from drivers.files import open_json_trace

        return open_json_trace(path)
    from drivers.sqlite_reader import SQLiteTraceReader

    return SQLiteTraceReader(path, busy_timeout=busy_timeout)
