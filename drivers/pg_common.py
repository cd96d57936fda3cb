"""What every Postgres reader shares: a read-only engine, and psycopg errors in our words.

Connections are opened with ``default_transaction_read_only = on`` and a statement timeout (both
as libpq ``options``, so they hold for every transaction the pool hands out), and the URL the user
sees never carries the password.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from inspector import locations
from inspector.errors import (
    NotATraceSource,
    PasswordRequired,
    QueryCancelled,
    SourceError,
    SourceNotFound,
    SourceUnavailable,
)

__all__ = [
    "DEFAULT_STATEMENT_TIMEOUT_MS",
    "Canceller",
    "PgLocation",
    "iso",
    "make_engine",
    "translate_errors",
]

log = logging.getLogger(__name__)

DEFAULT_STATEMENT_TIMEOUT_MS = 30_000


def iso(value: Any) -> str | None:
    """A timestamp as the inspector carries it: ISO 8601 text in UTC. A naive value (a foreign
    ``timestamp`` column without time zone) is taken as UTC; anything else is shown as text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return str(value)


class PgLocation(locations.PgLocation):
    """A Postgres URL (:class:`inspector.locations.PgLocation`: what is shown, never a password)
    and the SQLAlchemy URL that connects."""

    def sa_url(self) -> sa.URL:
        return sa.URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query=self.connect_query,
        )


def make_engine(
    location: PgLocation,
    *,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    connect_timeout_s: int = 5,
    pool_size: int = 3,
    application_name: str = "aos-trace-inspector",
) -> sa.Engine:
    """A pooled engine whose every session is read-only and has a statement timeout.

    TCP keepalives and a TCP user timeout make a dropped network (not just a stopped server)
    fail a read within about a minute instead of the kernel's ~15: the statement timeout is
    enforced by the server, which a dead link never reaches."""
    options = f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)}"
    return sa.create_engine(
        location.sa_url(),
        pool_size=pool_size,
        max_overflow=4,
        pool_pre_ping=True,
        connect_args={
            "options": options,
            "connect_timeout": connect_timeout_s,
            "application_name": application_name,
            "keepalives": 1,
            "keepalives_idle": 20,
            "keepalives_interval": 5,
            "keepalives_count": 4,
            "tcp_user_timeout": int(statement_timeout_ms) + 10_000,
        },
    )


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None)


def _message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    text = " ".join(line.strip() for line in str(orig).strip().splitlines()[:1]) or type(orig).__name__
    text = text.removeprefix("connection failed: ")
    # libpq: 'connection to server at "h", port p failed: FATAL:  why' — keep the why.
    if " failed: " in text and text.startswith("connection to server"):
        text = text.split(" failed: ", 1)[1].removeprefix("FATAL:").strip()
    return text


def _translate(exc: BaseException, location: str, doing: str) -> BaseException:
    """The error a user should see for a psycopg/SQLAlchemy error, or ``exc`` itself when it is
    our own bug (a programming error in our SQL)."""
    if isinstance(exc, SourceError | QueryCancelled):
        return exc
    state = _sqlstate(exc) or ""
    msg = _message(exc)
    if state == "57014":  # query_canceled: statement timeout or our cancel
        if "statement timeout" in msg:
            return QueryCancelled(f"{doing}: stopped by the statement timeout", location=location)
        return QueryCancelled(f"{doing}: cancelled", location=location)
    low = msg.lower()
    if state in ("28P01", "28000") or "password authentication failed" in low or "no password supplied" in low:
        return PasswordRequired(f"the server refused the login: {msg.removeprefix('fe_sendauth: ')}",
                                location=location)
    if state == "3D000" or ("database" in low and "does not exist" in low):
        return SourceNotFound(f"no such database: {msg}", location=location)
    if "role" in low and "does not exist" in low:
        return SourceNotFound(f"no such user: {msg}", location=location)
    if state in ("42P01", "42703"):
        return NotATraceSource(f"{doing}: the database lacks what AOS writes ({msg})", location=location)
    if state == "42501":
        return SourceError(f"{doing}: permission denied ({msg})", location=location)
    import psycopg

    # A connection lost mid-stream on a server-side cursor is psycopg's own OperationalError,
    # often without a SQLSTATE ("server closed the connection unexpectedly").
    if state.startswith("08") or state in ("57P01", "57P02", "57P03") or isinstance(
        exc, sa.exc.OperationalError | sa.exc.InterfaceError | psycopg.OperationalError | psycopg.InterfaceError
    ) or getattr(exc, "connection_invalidated", False):
        return SourceUnavailable(f"{doing}: the server is unreachable or closed the connection ({msg})",
                                 location=location)
    if isinstance(exc, sa.exc.DBAPIError):
        return SourceError(f"{doing}: {msg}", location=location)
    return exc


@contextlib.contextmanager
def translate_errors(location: str, doing: str) -> Iterator[None]:
    """Re-raise database errors inside the block as :class:`SourceError` subclasses."""
    try:
        yield
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        translated = _translate(exc, location, doing)
        if translated is exc:
            raise
        raise translated from None
    except Exception as exc:  # psycopg errors raised outside SQLAlchemy (server-side cursors)
        import psycopg

        if isinstance(exc, psycopg.Error):
            raise _translate(exc, location, doing) from None
        raise


class Canceller:
    """Cancels whatever query is running on connections registered with it (from another thread:
    the GUI's Cancel button). ``psycopg.Connection.cancel_safe()`` asks the server to stop the
    running statement; the reading thread then gets :class:`QueryCancelled`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: set = set()

    @contextlib.contextmanager
    def track(self, conn: sa.Connection) -> Iterator[None]:
        raw = conn.connection.driver_connection
        with self._lock:
            self._active.add(raw)
        try:
            yield
        finally:
            with self._lock:
                self._active.discard(raw)

    def cancel_all(self) -> int:
        with self._lock:
            active = list(self._active)
        for raw in active:
            try:
                raw.cancel_safe(timeout=3.0)
            except Exception as exc:  # noqa: BLE001 - the connection may be gone already
                log.info("cancel request not delivered: %s", exc)
        return len(active)
