"""Search in the payloads of steps: inside one run (streamed in ``step_index`` order, with progress
and Cancel) and, through an optional full-text index, across a whole database. The CLI's
``search`` command and the window's Find in Run panel both call here.

What is searched: a step's ``params``, ``outcome_data`` (where upstream keeps an error's code and
message), ``outcome_code`` (``ERR_TIMEOUT``…), ``outcome_category`` and ``skill_name``, as stored.
The match is plain text, case-insensitive (ASCII letters in SQL; any letter in Python), and also
finds the text as a JSON writer escapes it inside a string (``"`` as ``\\"``, ``é`` as ``\\u00e9``),
so what the user sees in the detail view can be typed back. A field is one hit however often
the text occurs in it (``matches`` counts them); its excerpt is taken around the first.

A source that can push the match into its database (``ScansStepText``: SQLite) is asked for a
page of steps at a time with a ``LIKE`` prefilter (no row that does not match crosses into
Python); any other source is read with ``iter_steps`` and matched here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from inspector.errors import QueryCancelled, UsageError
from inspector.source import TraceSource

__all__ = [
    "EXCERPT_CONTEXT",
    "IndexStatus",
    "PayloadIndex",
    "SCAN_PAGE",
    "SEARCH_FIELDS",
    "ScansStepText",
    "SearchHit",
    "SearchQuery",
    "IndexedSource",
    "excerpt_of",
    "field_text",
    "search_index",
    "search_run",
]

#: The step columns searched, in the order a step's hits are listed.
SEARCH_FIELDS = ("params", "outcome_data", "outcome_code", "outcome_category", "skill_name")

#: Characters shown on each side of a match in an excerpt.
EXCERPT_CONTEXT = 40
#: Steps per page when a source scans in its database: a Cancel is noticed within one page.
SCAN_PAGE = 20_000
#: Steps between progress reports when a run is read step by step.
_PROGRESS_EVERY = 2000
#: Matches are counted in this many characters after the first (a field is one hit however long).
_COUNT_SPAN = 1_000_000
_MAX_QUERY = 1000

_SURROGATES = re.compile("[\ud800-\udfff]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One field of one step where the text occurs. ``key`` is what the source's step methods take
    (the trace id in Postgres, else the run id); ``excerpt[start:end]`` is the (first) match."""

    run_id: str
    key: str
    step_index: int
    field: str
    excerpt: str
    start: int
    end: int
    matches: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "key": self.key, "step_index": self.step_index, "field": self.field,
                "excerpt": self.excerpt, "match": [self.start, self.end], "matches": self.matches}


def field_text(value: Any) -> str | None:
    """A stored value as text to search: bytes (a BLOB, text that is not UTF-8) decoded with
    replacement characters, numbers as written; None for NULL."""
    if value is None or isinstance(value, str):
        return value  # a lone surrogate stays: matching copes, excerpts replace it
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_forms(text: str) -> set[str]:
    """The text, and how JSON writers store it inside a string (escaped quotes and backslashes,
    ``\\uXXXX`` for what is not ASCII), for the text as typed and in either case."""
    forms = {text}
    for t in {text, text.lower(), text.upper()}:
        forms.add(json.dumps(t)[1:-1])
        forms.add(json.dumps(t, ensure_ascii=False)[1:-1])
    return {f for f in forms if f}


class SearchQuery:
    """What the user typed, compiled: a case-insensitive matcher, and the ``LIKE`` patterns a SQL
    source prefilters rows with (every row the matcher accepts matches one of them; ``%`` and
    ``_`` in the text, and letters beyond ASCII, become ``_`` wildcards, so no ESCAPE clause
    is needed and SQLite's ASCII-only case folding loses nothing)."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise UsageError("nothing to search for: give some text")
        if len(text) > _MAX_QUERY:
            raise UsageError(f"the search text is too long ({len(text):,} characters; at most {_MAX_QUERY:,})")
        if _has_surrogate(text):
            raise UsageError("the search text is not valid Unicode (a lone surrogate)")
        self.text = text
        forms = sorted(_json_forms(text), key=lambda f: (-len(f), f))
        flags = re.IGNORECASE | (re.ASCII if all(f.isascii() for f in forms) else 0)
        self.regex = re.compile("|".join(re.escape(f) for f in forms), flags)
        # LIKE folds ASCII case itself: one pattern per form whatever its case.
        patterns = {"%" + "".join(c.lower() if c.isascii() and c not in "%_" else "_" for c in f) + "%"
                    for f in forms}
        self.like_patterns: tuple[str, ...] = tuple(sorted(patterns))
        #: ASCII text: matched by str.find on the text with ASCII letters lowered (same length, so
        #: the offsets hold), several times faster than the case-insensitive regex.
        self._ascii_forms = tuple(sorted({f.translate(_ASCII_LOWER) for f in forms}, key=lambda f: (-len(f), f))) \
            if flags & re.ASCII else None

    def __repr__(self) -> str:
        return f"SearchQuery({self.text!r})"

    def find(self, text: str | None) -> tuple[str, int, int, int] | None:
        """``(excerpt, start, end, matches)`` for the first match in ``text``, or None."""
        if not text:
            return None
        if self._ascii_forms is not None:
            low = text.lower() if text.isascii() else text.translate(_ASCII_LOWER)
            best = None
            for f in self._ascii_forms:
                at = low.find(f)
                if at >= 0 and (best is None or at < best[0]):
                    best = (at, at + len(f))
            if best is None:
                return None
            start, end = best
            count = sum(low.count(f, 0, end + _COUNT_SPAN) for f in self._ascii_forms)
        else:
            m = self.regex.search(text)
            if m is None:
                return None
            start, end = m.span()
            count = 1 + len(self.regex.findall(text, end, end + _COUNT_SPAN))
        excerpt, s, e = excerpt_of(text, start, end)
        return excerpt, s, e, max(count, 1)

    def hits(self, run_id: str, key: str, step_index: int, values: Mapping[str, Any]) -> list[SearchHit]:
        """The hits of one step, given its fields' stored values."""
        out = []
        for name in SEARCH_FIELDS:
            if name not in values:
                continue
            found = self.find(field_text(values[name]))
            if found is not None:
                out.append(SearchHit(run_id, key, step_index, name, *found))
        return out


def excerpt_of(text: str, start: int, end: int, context: int = EXCERPT_CONTEXT) -> tuple[str, int, int]:
    """``text`` around ``text[start:end]`` on one line: ``(excerpt, start, end)`` with the match's
    place in the excerpt; "…" where text was cut, control characters (newlines) as spaces."""
    match = text[start:end]
    if len(match) > 2 * context:
        match = match[: 2 * context] + "…"
    left = text[max(0, start - context):start]
    right = text[end:end + context]
    head = ("…" if start > context else "") + left
    tail = right + ("…" if end + context < len(text) else "")
    def clean(s: str) -> str:  # same length in, same length out
        s = _CONTROL.sub(" ", s)
        return _SURROGATES.sub("\ufffd", s) if _has_surrogate(s) else s

    return clean(head) + clean(match) + clean(tail), len(head), len(head) + len(match)


@runtime_checkable
class ScansStepText(Protocol):
    """A source that matches a run's step text in its own database, a page at a time (SQLite).

    ``scan_step_text(key, fields, patterns, after=, limit=)`` looks at the next ``limit`` steps of
    the run after step_index ``after`` (None: from the start) and returns ``(rows, last, scanned)``:
    the rows where a field is ``LIKE`` one of ``patterns`` (every row when ``patterns`` is empty), as
    ``(step_index, run_id, {field: stored value})`` in step_index order; the step_index of the last
    step looked at; and how many were looked at (fewer than ``limit``: the run's end)."""

    def scan_step_text(self, key: str, fields: Sequence[str], patterns: Sequence[str], *,
                       after: int | None = None, limit: int = SCAN_PAGE
                       ) -> tuple[list[tuple[int, str, dict[str, Any]]], int | None, int]: ...


def search_run(source: TraceSource, key: str, query: SearchQuery | str, *,
               progress: Callable[[int, int], None] | None = None,
               cancelled: Callable[[], bool] | None = None, page: int | None = None) -> Iterator[SearchHit]:
    """The hits of one run (``key``: the run id, or in Postgres the trace id) in step_index order,
    yielded as they are found. ``progress(steps scanned, total)`` after each page (and at the end);
    ``cancelled()`` is asked between pages (and every few thousand steps of a streamed read) and
    stops the search with :class:`QueryCancelled`. Reads only: safe on any worker."""
    q = query if isinstance(query, SearchQuery) else SearchQuery(query)
    page = page or SCAN_PAGE
    total = source.count_steps(key)
    report = progress or (lambda _d, _t: None)
    stop = cancelled or (lambda: False)

    def check() -> None:
        if stop():
            raise QueryCancelled("search cancelled")

    check()
    report(0, total)
    scanned = 0
    if isinstance(source, ScansStepText):
        after: int | None = None
        while True:
            rows, last, n = source.scan_step_text(key, SEARCH_FIELDS, q.like_patterns, after=after, limit=page)
            for step_index, run_id, values in rows:
                yield from q.hits(run_id, key, step_index, values)
            scanned += n
            report(min(scanned, total) if n == page else max(scanned, total), total)
            if n < page or last is None:
                return
            after = last
            check()
    for step in source.iter_steps(key):
        r = step.row
        values = {"params": step.params.raw, "outcome_data": step.outcome_data.raw, "outcome_code": r.outcome_code,
                  "outcome_category": r.outcome_category, "skill_name": r.skill_name}
        yield from q.hits(r.run_id, key, r.step_index, values)
        scanned += 1
        if scanned % _PROGRESS_EVERY == 0:
            report(min(scanned, total), total)
            check()
    report(max(scanned, total), total)


# -- across a database: the full-text index ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """The index of a source in the user's cache folder. ``state``: ``none`` (not built),
    ``ready``, or ``stale`` (built, but the source changed since: its size or time differ).
    ``size_bytes``: the index file's size; ``estimate_bytes``: what a build would take (set by
    :meth:`PayloadIndex.estimate`, None until asked)."""

    state: str
    path: str
    size_bytes: int = 0
    steps: int = 0
    built_at: str | None = None
    estimate_bytes: int | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "path": self.path, "size_bytes": self.size_bytes, "steps": self.steps,
                "built_at": self.built_at, "estimate_bytes": self.estimate_bytes}


@runtime_checkable
class PayloadIndex(Protocol):
    """A full-text index of every step's searched fields, kept outside the source (a cache file
    keyed by the source's identity, rebuilt when the source's size or time changes)."""

    def status(self) -> IndexStatus: ...

    def estimate(self) -> int:
        """Bytes a build would write (read from the source: call it on a worker)."""
        ...

    def build(self, progress: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> IndexStatus:
        """(Re)build it; a cancelled build raises :class:`QueryCancelled` and leaves nothing behind."""
        ...

    def delete(self) -> bool:
        """Remove it; False if there was none."""
        ...

    def candidates(self, patterns: Sequence[str], limit: int | None = None
                   ) -> Iterator[tuple[str, int, dict[str, Any]]]:
        """``(run_id, step_index, {field: text})`` of the indexed steps where a field is ``LIKE``
        one of ``patterns``, in the order they were indexed."""
        ...


@runtime_checkable
class IndexedSource(Protocol):
    """A source that can keep a full-text index of its payloads in a cache folder (SQLite)."""

    def payload_index(self, cache_dir: str | None = None) -> PayloadIndex: ...


def search_index(index: PayloadIndex, query: SearchQuery | str, *, limit: int | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Iterator[SearchHit]:
    """The hits of every run, through a built index (:class:`UsageError` if it is not ready):
    ``limit`` hits at most. Each candidate the index gives is checked again with the same matcher
    as :func:`search_run`, so both find the same fields."""
    q = query if isinstance(query, SearchQuery) else SearchQuery(query)
    status = index.status()
    if status.state == "none":
        raise UsageError("no search index: build it first", location=status.path)
    if status.state == "stale":
        raise UsageError("the search index is out of date (the source changed since): build it again",
                         location=status.path)
    n = 0
    for count, (run_id, step_index, values) in enumerate(index.candidates(q.like_patterns)):
        if cancelled is not None and count % 1000 == 0 and cancelled():
            raise QueryCancelled("search cancelled")
        for hit in q.hits(run_id, run_id, step_index, values):
            yield hit
            n += 1
            if limit is not None and n >= limit:
                return
