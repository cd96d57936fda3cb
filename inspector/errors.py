"""The inspector's own error tree: what went wrong with a source, in words a user can act on.

Drivers translate sqlite3 / psycopg / redis / OS errors into these at the boundary (STYLE §4).
"The environment's fault" (missing, locked, corrupt, foreign, unreachable) is a ``SourceError``;
anything else escaping a driver is our bug and is reported as such.
"""

from __future__ import annotations

__all__ = [
    "InspectorError",
    "SourceError",
    "SourceNotFound",
    "NotATraceSource",
    "CorruptSource",
    "SourceLocked",
    "SourceUnavailable",
    "PasswordRequired",
    "QueryCancelled",
    "RunNotFound",
    "UsageError",
    "one_line",
]

#: A message longer than this is cut (a damaged schema's SQL would otherwise be quoted whole).
_MESSAGE_CHARS = 400


def one_line(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """``text`` safe to print on one line of any terminal: line breaks, other control characters
    and lone surrogates (a file name that is not UTF-8) written as escapes, cut to ``limit``."""
    if text.isprintable() and len(text) <= limit:
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    line = "".join(out)
    return line if len(line) <= limit else line[: limit - 1] + "…"


class InspectorError(Exception):
    """Base of every error the inspector reports to a user. ``str()`` is the one-line message."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        message = one_line(str(message))
        location = one_line(str(location)) if location is not None else None
        self.location = location
        self.detail = message
        super().__init__(f"{location}: {message}" if location else message)


class SourceError(InspectorError):
    """A source could not be opened or read, through no fault of the inspector."""


class SourceNotFound(SourceError):
    """The file does not exist or cannot be read (permissions)."""


class NotATraceSource(SourceError):
    """The file is readable but is not an AOS trace source (not SQLite, no AOS tables, wrong JSON)."""


class CorruptSource(SourceError):
    """The file claims to be a trace source but is damaged (truncated, malformed pages)."""


class SourceLocked(SourceError):
    """Another process holds a lock that keeps us from reading right now; retrying may work."""


class SourceUnavailable(SourceError):
    """A server did not answer or dropped the connection; retrying may work."""


class PasswordRequired(SourceError):
    """The server wants a password (or the one given was refused): ask the user and try again."""


class QueryCancelled(InspectorError):
    """A read was cancelled by the user, or stopped by the statement timeout."""


class RunNotFound(InspectorError):
    """No run (and no orphan steps) with this id in the source."""


class UsageError(InspectorError):
    """The user asked for something malformed (a bad date, an unknown option value)."""
