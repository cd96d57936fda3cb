"""JSON through orjson where it gives exactly what the standard library gives, the standard library
for the rest.

orjson parses and writes JSON several times faster than :mod:`json`, but not always alike: it
reads an integer beyond 64 bits as a float, rejects NaN, Infinity, 1e400 and lone surrogates (the
standard library accepts them), and writes a NaN or an infinity as ``null``. So:

* :func:`loads` asks orjson first, unless the text holds a run of 19 or more digits (an integer
  that may not fit in 64 bits); whatever orjson rejects is parsed by :func:`json.loads`, which
  decides (its value, or its error). Its second result, ``plain``, says that orjson read it: such a
  value holds nothing orjson would write differently (no NaN, no infinity, no integer beyond 64 bits,
  no lone surrogate).
* :func:`dumps` writes with orjson only what the caller knows is plain, and falls back on
  ``json.dumps(value, ensure_ascii=False)`` whenever orjson refuses (nesting deeper than it
  writes, an integer it cannot hold, a lone surrogate).

Without orjson installed, both are the standard library's. orjson is imported at the first call
(30-40 ms of a command's start that ``runs`` seldom needs).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["dumps", "fast", "loads", "orjson", "stdlib_dumps", "stored_text"]

_UNLOADED: Any = object()
#: The orjson module, None without it (tests set None to run the standard library alone).
orjson: Any = _UNLOADED


def fast() -> Any:
    """The orjson module, imported on first use; None when it is not installed."""
    global orjson
    if orjson is _UNLOADED:
        try:
            import orjson as module
        except ImportError:  # pragma: no cover - a dependency; the standard library does the same work
            module = None
        orjson = module
    return orjson

#: A run of 19 ASCII digits: maybe an integer beyond 64 bits, which orjson reads as a float. (Spelt
#: out: the regex engine skips ahead on a pattern that starts with a plain set, three times faster
#: than ``[0-9]{19}`` or ``\d{19}``.)
_LONG_DIGITS = re.compile("[0-9]" * 19).search


def loads(text: str) -> tuple[Any, bool]:
    """``(json.loads(text), plain)``: the standard library's value (or its exception), read by
    orjson when that gives the same value, in which case ``plain`` is True."""
    fj = orjson if orjson is not _UNLOADED else fast()
    if fj is not None and not _LONG_DIGITS(text):
        try:
            return fj.loads(text), True
        except fj.JSONDecodeError:
            pass  # NaN, 1e400, a lone surrogate, nesting past 1024, or not JSON: the stdlib says which
    return json.loads(text), False


def stored_text(value: bytes | bytearray | memoryview) -> str:
    """A stored value JSON has no type for, as text: a BLOB (SQLite hands one back as bytes, also
    for TEXT that is not UTF-8) as its UTF-8 text, bytes that are not UTF-8 as U+FFFD."""
    return bytes(value).decode("utf-8", "replace")


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return stored_text(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: Any, ensure_ascii: bool) -> str:
    if isinstance(key, str):
        return json.dumps(key, ensure_ascii=ensure_ascii)
    text = json.dumps({key: None}, ensure_ascii=ensure_ascii)  # json's own words for 1, 1.5, True, None
    return text[1:text.rindex(":")]


def _dumps_iterative(value: Any, ensure_ascii: bool) -> str:
    """``json.dumps(value, ensure_ascii=…)``'s text (default separators, no indent) without
    recursion: for a value nested deeper than the encoder's recursion allows (a stored JSON
    column read at 1,000 levels is written from inside a document, on a worker's stack)."""
    out: list[str] = []
    stack: list[list[Any]] = []

    def start(v: Any) -> None:
        if isinstance(v, dict):
            out.append("{")
            stack.append([iter(v.items()), True, True])
        elif isinstance(v, (list, tuple)):
            out.append("[")
            stack.append([iter(v), False, True])
        else:
            out.append(json.dumps(v, ensure_ascii=ensure_ascii, default=_default))

    start(value)
    while stack:
        frame = stack[-1]
        item = next(frame[0], _UNLOADED)
        if item is _UNLOADED:
            out.append("}" if frame[1] else "]")
            stack.pop()
            continue
        if not frame[2]:
            out.append(", ")
        frame[2] = False
        if frame[1]:
            out.append(_key(item[0], ensure_ascii) + ": ")
            start(item[1])
        else:
            start(item)
    return "".join(out)


def stdlib_dumps(value: Any, *, indent: int | None = None) -> str:
    """How the command line writes JSON: UTF-8 text, not ASCII escapes; NaN as ``NaN``; a BLOB
    as its text (:func:`stored_text`), wherever it sits. A lone surrogate (which UTF-8 cannot
    carry: writing it to stdout would fail) makes it ASCII, where it is a ``\\udXXX`` escape: the
    same JSON value. A value nested too deeply for the encoder's recursion is written without
    recursion (and without ``indent``): the same JSON value."""
    try:
        text = json.dumps(value, ensure_ascii=False, indent=indent, default=_default)
    except RecursionError:
        text = _dumps_iterative(value, ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return json.dumps(value, indent=indent, default=_default)
            except RecursionError:
                return _dumps_iterative(value, ensure_ascii=True)
    return text


def dumps(value: Any, plain: bool) -> str:
    """``stdlib_dumps(value)``'s document (the same keys and values; compact spacing): by orjson
    when ``plain`` (the caller knows ``value`` holds no NaN or infinity, which orjson would write
    as null), else, or when orjson refuses the value, by the standard library."""
    fj = orjson if orjson is not _UNLOADED else fast()
    if plain and fj is not None:
        try:
            return fj.dumps(value).decode("utf-8")
        except fj.JSONEncodeError:
            pass
    return stdlib_dumps(value)
