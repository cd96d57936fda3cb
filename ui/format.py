"""How numbers, sizes and times look in the app and the CLI's tables."""

from __future__ import annotations

from inspector.model import parse_timestamp
from inspector.units import fmt_cost, fmt_duration  # the core's: the export report shows them too

__all__ = ["fmt_bytes", "fmt_cost", "fmt_duration", "fmt_count", "fmt_interval", "fmt_timestamp", "shorten"]


def fmt_count(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def fmt_interval(seconds: int) -> str:
    """A round interval width: ``30 s``, ``5 min``, ``3 h``, ``1 day``, ``14 days``."""
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
    return f"{seconds} s"


def fmt_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1024
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} TB"  # pragma: no cover


def fmt_timestamp(text: str | None, *, millis: bool = False) -> str:
    """Stored timestamps shown to the second (``millis``: to the millisecond, for the ±30 s
    replay window), with the offset when it is not UTC; the stored text when it does not parse."""
    if not text:
        return ""
    dt = parse_timestamp(text)
    if dt is None:
        return text
    offset = dt.utcoffset()
    suffix = "" if offset is None or offset.total_seconds() == 0 else dt.strftime(" %z")
    frac = f".{dt.microsecond // 1000:03d}" if millis else ""
    return dt.strftime("%Y-%m-%d %H:%M:%S") + frac + suffix


def shorten(text: str, limit: int = 200) -> str:
    head = text[: limit + 1].replace("\n", "⏎ ")  # only the head: a text may be megabytes long
    return head if len(head) <= limit else head[: limit - 1] + "…"
