"""What every Postgres reader shares: a read-only engine, and psycopg errors in our words.

Connections are opened with ``default_transaction_read_only = on`` and a statement timeout (both
as libpq ``options``, so they hold for every transaction the pool hands out), and the URL the user
sees never carries the password.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

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
    "is_postgres_url",
    "iso",
    "make_engine",
    "translate_errors",
]

DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


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


def is_postgres_url(text: str) -> bool:
    return text.split("://", 1)[0].lower() in SCHEMES if "://" in text else False


class PgLocation:
    """A Postgres URL split into what is shown (no password) and what connects."""

    def __init__(self, url: str, password: str | None = None) -> None:
        parts = urlsplit(url)
        if not parts.hostname and not parts.path.strip("/"):
            raise NotATraceSource("not a Postgres URL: expected postgresql://user@host:port/database", location=url)
        self.user = parts.username
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 5432
        self.database = parts.path.lstrip("/") or (self.user or "postgres")
        self.password = password if password is not None else parts.password
        self.query = parts.query
        netloc = (f"{self.user}@" if self.user else "") + f"{self.host}:{self.port}"
        #: What messages, the title bar and the recent list show: never the password.
        self.display = urlunsplit(("postgresql", netloc, "/" + self.database, self.query, ""))

    def sa_url(self) -> sa.URL:
        query = dict(p.split("=", 1) for p in self.query.split("&") if "=" in p) if self.query else {}
        return sa.URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query=query,
        )


def make_engine(
    location: PgLocation,
    *,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    connect_timeout_s: int = 5,
    pool_size: int = 3,
    application_name: str = "aos-trace-inspector",
) -> sa.Engine:
    """A pooled engine whose every session is read-only and has a statement timeout."""
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


def translate(exc: BaseException, location: str, doing: str) -> BaseException:
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
    if state.startswith("08") or state in ("57P01", "57P02", "57P03") or isinstance(
        exc, sa.exc.OperationalError | sa.exc.InterfaceError
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
        translated = translate(exc, location, doing)
        if translated is exc:
            raise
        raise translated from None
    except Exception as exc:  # psycopg errors raised outside SQLAlchemy (server-side cursors)
        import psycopg

        if isinstance(exc, psycopg.Error):
            raise translate(exc, location, doing) from None
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
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass
        return len(active)
