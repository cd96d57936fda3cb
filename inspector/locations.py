"""Where a source or a server is, as the text the user typed: which kind of location it is, and how
it is shown without its password. String work only (no I/O, no driver): the GUI thread may call it,
and the drivers, the CLI and the windows share it.

Postgres URLs follow libpq's URI rules (percent-escapes decoded; a missing host, port, user or
database left to libpq's defaults; a ``password`` query parameter taken as the password). Redis
URLs are redis-py's (``redis://``, ``rediss://``, ``unix://``).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from inspector.errors import NotATraceSource, UsageError

__all__ = [
    "PG_SCHEMES",
    "REDIS_SCHEMES",
    "PgLocation",
    "check_redis_url",
    "is_postgres_url",
    "location_key",
    "redact_url",
    "redis_display_url",
    "split_pg_password",
    "split_redis_password",
    "with_redis_password",
]

PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
REDIS_SCHEMES = ("redis", "rediss", "unix")
_REDIS_EXPECTED = "expected redis://[user[:password]@]host[:port][/db], rediss://… or unix:///path"


def redact_url(url: str) -> str:
    """A URL fit for messages and logs: any password in its user-info replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return url.split("://", 1)[0] + "://***"


def is_postgres_url(text: str) -> bool:
    return text.split("://", 1)[0].lower() in PG_SCHEMES if "://" in text else False


class PgLocation:
    """A Postgres URL split into what is shown (never a password) and what connects.

    A malformed URL is :class:`NotATraceSource`, named without its password.
    """

    def __init__(self, url: str, password: str | None = None) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise NotATraceSource(f"not a valid Postgres URL: {exc}", location=redact_url(url)) from None
        query_password = None
        self.connect_query: dict[str, str] = {}
        shown: list[tuple[str, str]] = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key == "password":
                query_password = value
                continue
            self.connect_query[key] = value
            if key != "passfile":
                shown.append((key, value))
        self.user = unquote(parts.username) if parts.username else None
        self.host = unquote(parts.hostname) if parts.hostname else None
        self.port = port
        self.database = unquote(parts.path.lstrip("/")) or None
        if password is not None:
            self.password = password
        elif parts.password is not None:
            self.password = unquote(parts.password)
        else:
            self.password = query_password
        netloc = (quote(self.user, safe="") + "@" if self.user else "") + (self.host or "") + (
            f":{self.port}" if self.port else "")
        #: What messages, the title bar and the recent list show: never the password.
        query = urlencode(shown)
        self.display = f"postgresql://{netloc}/{quote(self.database or '', safe='')}" + (f"?{query}" if query else "")
        #: A short name: "db on host:port" (or on the local socket).
        where = f"{self.host or 'local socket'}" + (f":{self.port}" if self.port else "")
        self.short = f"{self.database or self.user or 'postgres'} on {where}"


def split_pg_password(url: str) -> tuple[str, str | None]:
    """``(url without password, password or None)`` for a Postgres URL; other text unchanged. A
    malformed URL comes back redacted (opening it will say what is wrong; never show a password)."""
    if not is_postgres_url(url):
        return url, None
    try:
        loc = PgLocation(url)
    except NotATraceSource:
        return redact_url(url), None
    return loc.display, loc.password


def location_key(text: str) -> str:
    """A location as a key (to tell whether two typed locations name one source): a Postgres URL
    without its password, a path made absolute. String work only: no disk access."""
    text = text.strip()
    if is_postgres_url(text):
        return split_pg_password(text)[0]
    if "://" in text:
        return text
    return os.path.normpath(os.path.abspath(os.path.expanduser(text)))


# -- Redis -------------------------------------------------------------------------------------


def _join(scheme: str, netloc: str, path: str, query: str, fragment: str) -> str:
    # Not urlunsplit: it drops the "//" of an empty host (unix:///path).
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def redis_display_url(url: str) -> str:
    """The URL as messages show it: no password, neither in the user-info nor as ``?password=``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            host = parts.hostname or ""
            if ":" in host:
                host = f"[{host}]"
            netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        query = "&".join("password=***" if piece.split("=", 1)[0] == "password" else piece
                         for piece in parts.query.split("&")) if parts.query else ""
        if (netloc, query) == (parts.netloc, parts.query):
            return url
        return _join(parts.scheme, netloc, parts.path, query, parts.fragment)
    except ValueError:
        return url.split("://", 1)[0] + "://***"


def check_redis_url(url: str) -> None:
    """Raise :class:`UsageError` (naming the URL without its password) unless ``url`` looks like a
    Redis URL redis-py can open."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise UsageError(f"not a valid Redis URL ({exc}); {_REDIS_EXPECTED}",
                         location=redis_display_url(url)) from None
    if parts.scheme not in REDIS_SCHEMES:
        raise UsageError(f"not a Redis URL; {_REDIS_EXPECTED}", location=redis_display_url(url))
    if parts.scheme != "unix" and not parts.hostname:
        raise UsageError(f"no host in the Redis URL; {_REDIS_EXPECTED}", location=redis_display_url(url))


def split_redis_password(url: str) -> tuple[str, str | None]:
    """``(url without its password, the password or None)``: the password of the user-info part
    (``redis://user:pw@host``) and a ``?password=`` parameter are both taken out; the password
    comes back decoded (``%40`` → ``@``). Text that is no URL comes back unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if "://" not in url:
        return url, None
    password: str | None = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        user, sep, pw = userinfo.partition(":")
        if sep:
            password = unquote(pw)
            netloc = f"{user}@{hostport}" if user else hostport
    query = parts.query
    if query:
        pairs = query.split("&")
        kept = [p for p in pairs if p.split("=", 1)[0] != "password"]
        if len(kept) != len(pairs):
            if password is None:
                found = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "password"]
                password = found[-1] if found else None
            query = "&".join(kept)
    if (netloc, query) == (parts.netloc, parts.query):
        return url, password
    return _join(parts.scheme, netloc, parts.path, query, parts.fragment), password or None


def with_redis_password(url: str, password: str | None) -> str:
    """``url`` (without a password) with ``password`` put back: in the user-info part, or as a
    ``?password=`` parameter for a ``unix://`` socket (which has no host to put it before)."""
    if not password:
        return url
    parts = urlsplit(url)
    encoded = quote(password, safe="")
    if parts.scheme == "unix":
        query = f"{parts.query}&password={encoded}" if parts.query else f"password={encoded}"
        return _join(parts.scheme, parts.netloc, parts.path, query, parts.fragment)
    user, _, hostport = parts.netloc.rpartition("@")
    return _join(parts.scheme, f"{user}:{encoded}@{hostport}", parts.path, parts.query, parts.fragment)
