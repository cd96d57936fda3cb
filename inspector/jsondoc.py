"""A parsed JSON document by path: RFC 6901 pointers, its text within a size bound (what a Copy
puts on the clipboard), and text found in its keys and values a bounded step at a time (the
JSON viewer's find bar).

Both walks keep their own stack: a document as deep as the parser allows never meets Python's
recursion limit, and neither holds more than the path it is on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JsonMatch",
    "JsonSearch",
    "MAX_MATCHES",
    "MAX_NODES",
    "bounded_json",
    "iter_json",
    "json_pointer",
    "pointer_token",
    "resolve_pointer",
    "scalar_text",
    "split_pointer",
    "text_without_surrogates",
]

#: Matches a search keeps: past them it stops and says so (a common letter matches every node).
MAX_MATCHES = 10_000
#: Nodes a search looks at, at most (a 100 MB payload holds millions).
MAX_NODES = 5_000_000

_encode = json.encoder.encode_basestring  # type: ignore[attr-defined]  # the C one, ensure_ascii=False
#: A lone surrogate (a JSON "\ud800" escape in a stored value) cannot be carried as text (a
#: clipboard drops it): it is written as its escape, as the command line's JSON writes it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def _quote(text: str) -> str:
    quoted = _encode(text)
    return _SURROGATE.sub(_escape_surrogate, quoted) if _SURROGATE.search(quoted) else quoted


def text_without_surrogates(text: str) -> tuple[str, int]:
    """``text`` with each lone surrogate written as its ``\\uXXXX`` escape, and how many there were."""
    return _SURROGATE.subn(_escape_surrogate, text)


def pointer_token(key: Any) -> str:
    """One reference token: ``~`` becomes ``~0``, then ``/`` becomes ``~1`` (RFC 6901 §3)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def json_pointer(tokens: Sequence[Any] | Iterator[Any]) -> str:
    """The RFC 6901 pointer for these keys/indexes (``""`` is the whole document)."""
    return "".join("/" + pointer_token(t) for t in tokens)


def split_pointer(pointer: str) -> tuple[str, ...]:
    """The unescaped reference tokens of an RFC 6901 pointer; ValueError if it is malformed
    (it does not start with ``/``, or a ``~`` is not followed by ``0`` or ``1``)."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    tokens = pointer[1:].split("/")
    for t in tokens:
        at = t.find("~")
        while at >= 0:
            if t[at + 1:at + 2] not in ("0", "1"):
                raise ValueError(f"not a JSON pointer: {pointer!r} ('~' must be followed by 0 or 1)")
            at = t.find("~", at + 2)
    # ~1 first: "~01" is the token "~1", not "/" (RFC 6901 §4).
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in tokens)


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """The value ``pointer`` names in ``doc``; KeyError if there is none (an array index must be
    ``0`` or a number without leading zeros, RFC 6901 §4)."""
    value = doc
    for token in split_pointer(pointer):
        if isinstance(value, dict):
            if token not in value:
                raise KeyError(pointer)
            value = value[token]
        elif isinstance(value, list):
            if not token.isdigit() or (token != "0" and token.startswith("0")) or int(token) >= len(value):
                raise KeyError(pointer)
            value = value[int(token)]
        else:
            raise KeyError(pointer)
    return value


def scalar_text(value: Any) -> str:
    """A value that is not a container as JSON writes it, except a string, which is itself."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return json.dumps(value)  # NaN, Infinity as Python's json writes them
    return str(value)


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    return scalar_text(key)


def _scalar_json(value: Any, max_string: int | None) -> str:
    if isinstance(value, str):
        return _quote(value if max_string is None or len(value) <= max_string else value[:max_string])
    if value is None or isinstance(value, (bool, int, float)):
        return scalar_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):  # a stored BLOB: its text, as the CLI writes it
        from inspector.fastjson import stored_text

        text = stored_text(value)
    else:
        text = str(value)  # not a JSON type (a caller's record): its text, as a string
    return _quote(text if max_string is None else text[:max_string])


def iter_json(value: Any, indent: int | None = 2, *, max_string: int | None = None) -> Iterator[str]:
    """``json.dumps(value, ensure_ascii=False, indent=indent)`` in pieces, in order (joined, the
    same text). Strings longer than ``max_string`` are cut there (the text is then not the
    value's): a consumer that stops early pays for what it took, not for the whole document."""
    item_sep = "," if indent is not None else ", "
    # The line breaks and indents by depth, made once each (a call per item costs more than the item).
    breaks: list[str] = []

    def brk(level: int) -> str:
        while len(breaks) <= level:
            breaks.append("" if indent is None else "\n" + " " * (indent * len(breaks)))
        return breaks[level]

    quote, scalar = _quote, _scalar_json
    # Each open container: its items, whether it is an object, its depth, whether an item was written.
    stack: list[list[Any]] = []

    def open_(v: Any, level: int) -> str:
        if type(v) is str:
            return quote(v) if max_string is None or len(v) <= max_string else quote(v[:max_string])
        if isinstance(v, dict):
            if not v:
                return "{}"
            stack.append([iter(v.items()), True, level, False])
            return "{"
        if isinstance(v, (list, tuple)):
            if not v:
                return "[]"
            stack.append([iter(v), False, level, False])
            return "["
        return scalar(v, max_string)

    yield open_(value, 0)
    while stack:
        top = stack[-1]
        items, is_dict, level, written = top
        top[3] = True
        inner = brk(level + 1)
        next_sep = item_sep + inner
        sep = next_sep if written else inner
        depth = len(stack)
        parts: list[str] = []
        size = 0
        # The container's items in one piece, until one opens a container of its own (or the
        # piece is long enough for a consumer to judge).
        for item in items:
            if is_dict:
                key, child = item
                k = key if type(key) is str else _key_text(key)
                if max_string is not None and len(k) > max_string:
                    k = k[:max_string]
                piece = sep + quote(k) + ": " + open_(child, level + 1)
            else:
                piece = sep + open_(item, level + 1)
            parts.append(piece)
            size += len(piece)
            sep = next_sep
            if len(stack) != depth or size >= 16_384:
                break
        else:
            stack.pop()  # (only containers with items are pushed: each closes on a line of its own)
            parts.append(brk(level) + ("}" if is_dict else "]"))
        yield "".join(parts)


def bounded_json(value: Any, limit: int, indent: int | None = 2) -> tuple[str, bool]:
    """``(text, complete)``: the value's JSON text (as :func:`iter_json` writes it), or its first
    ``limit`` characters and False when it is longer. The work is bounded by ``limit``, whatever
    the value's size."""
    parts: list[str] = []
    size = 0
    for part in iter_json(value, indent, max_string=limit + 1):
        parts.append(part)
        size += len(part)
        if size > limit:
            return "".join(parts)[:limit], False
    return "".join(parts), True


@dataclass(frozen=True, slots=True)
class JsonMatch:
    """A node whose key or value holds the text searched for. ``rows``: its place under each
    ancestor from the top value (a tree view's rows); ``keys``: the keys and indexes on the way."""

    rows: tuple[int, ...]
    keys: tuple[Any, ...]

    @property
    def pointer(self) -> str:
        return json_pointer(self.keys)


class JsonSearch:
    """Text searched for in a document's keys and scalar values, case-insensitive, in document
    order (depth first, as a tree view lists it), a bounded number of nodes per :meth:`step`, so a
    caller on the GUI thread can search a document of any size without freezing. The top value's
    own name is not searched; a node matches once however often the text occurs in it. The
    search stops at ``max_matches`` matches or ``max_nodes`` nodes (``stopped`` says which)."""

    def __init__(self, value: Any, text: str, *, max_matches: int = MAX_MATCHES, max_nodes: int = MAX_NODES) -> None:
        self.text = text
        self._needle = text.casefold()
        self.matches: list[JsonMatch] = []
        self.visited = 0
        self.max_matches = max_matches
        self.max_nodes = max_nodes
        #: None while running or when the document was searched to its end; else ``"matches"``
        #: or ``"nodes"``: the limit it stopped at.
        self.stopped: str | None = None
        # (the container's (row, key, value) items, its rows, its keys)
        self._stack: list[tuple[Iterator[tuple[int, Any, Any]], tuple[int, ...], tuple[Any, ...]]] = []
        self._done = not self._needle
        if not self._done:
            self.visited = 1
            if self._holds(value):
                self.matches.append(JsonMatch((), ()))
            self._push(value, (), ())

    @property
    def done(self) -> bool:
        return self._done

    def _holds(self, value: Any) -> bool:
        return not isinstance(value, (dict, list)) and self._needle in scalar_text(value).casefold()

    def _push(self, value: Any, rows: tuple[int, ...], keys: tuple[Any, ...]) -> None:
        if isinstance(value, dict) and value:
            self._stack.append((((i, k, v) for i, (k, v) in enumerate(value.items())), rows, keys))
        elif isinstance(value, list) and value:
            self._stack.append((((i, i, v) for i, v in enumerate(value)), rows, keys))

    def step(self, nodes: int = 5_000) -> bool:
        """Look at up to ``nodes`` more nodes; True once the search is over."""
        if self._done:
            return True
        needle, stack, matches = self._needle, self._stack, self.matches
        containers = (dict, list)
        room = min(nodes, self.max_nodes - self.visited)
        seen = 0
        while stack and seen < room:
            items, rows, keys = stack[-1]
            for row, key, child in items:
                seen += 1
                if type(child) is str:
                    hit = needle in child.casefold()
                elif isinstance(child, containers):
                    hit = False
                else:
                    hit = needle in scalar_text(child).casefold()
                if hit or (type(key) is str and needle in key.casefold()):
                    matches.append(JsonMatch(rows + (row,), keys + (key,)))
                    if len(matches) >= self.max_matches:
                        self.visited += seen
                        return self._stop("matches")
                if child and isinstance(child, containers):
                    self._push(child, rows + (row,), keys + (key,))
                    break  # depth first: the child's items next
                if seen >= room:
                    break
            else:
                stack.pop()
        self.visited += seen
        if not stack:
            self._done = True
        elif self.visited >= self.max_nodes:
            return self._stop("nodes")
        return self._done

    def _stop(self, why: str) -> bool:
        self.stopped = why
        self._stack.clear()
        self._done = True
        return True
