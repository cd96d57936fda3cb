"""The full-text index of a SQLite trace file's step payloads (``inspector.services.search``'s
``PayloadIndex``), in the user's cache folder, never beside the source.

One SQLite FTS5 table (Python's sqlite3 has FTS5; the ``trigram`` tokenizer since SQLite 3.34)
with a row per step: ``run_id``, ``step_index`` and the searched fields. The trigram tokenizer
answers ``LIKE '%text%'`` (ASCII case-insensitive, as the in-run search's prefilter) from the
index for any text of three characters or more; ``detail=none`` keeps the index at about twice
the payload text (``detail=full`` is about six times; positions are not needed, since every
candidate is checked again in Python).

The file is named after the source's path (a hash) and remembers the source's size and
modification time (with its ``-wal`` file's): when they change, the index is stale and the
service asks for a rebuild. A build writes a temporary file next to the index and renames it
when complete: a cancelled or failed build leaves the old index, or nothing.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from drivers.sqlite_reader import check_sqlite_file, read_only_uri
from inspector.errors import QueryCancelled, SourceError
from inspector.services.search import SEARCH_FIELDS, IndexStatus, field_text

__all__ = ["INDEX_SIZE_FACTOR", "SQLitePayloadIndex", "default_cache_dir"]

_APP = "aos-trace-inspector"
#: Index bytes per byte of payload text (measured on the benchmark database: ~2.0, rounded up).
INDEX_SIZE_FACTOR = 2.2
_PAGE = 5000
_FORMAT = "1"


def default_cache_dir() -> Path:
    """Where indexes live: ``$XDG_CACHE_HOME/aos-trace-inspector/search`` (``~/.cache/…``) on Linux,
    the platform's cache folder elsewhere."""
    import platformdirs

    return platformdirs.user_cache_path(_APP) / "search"


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


class SQLitePayloadIndex:
    """The index of one SQLite trace file. Every method opens its own connections (safe on any
    worker); the source is opened read-only."""

    def __init__(self, source_path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.source = Path(source_path).expanduser().resolve()
        self.dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        digest = hashlib.sha256(str(self.source).encode("utf-8", "surrogateescape")).hexdigest()[:24]
        self.path = self.dir / f"{digest}.fts5.db"

    # -- the source's identity -----------------------------------------------------------------------

    def signature(self) -> str:
        """The source's size and modification time (and its WAL's): what a change alters."""
        parts = []
        for p in (self.source, Path(f"{self.source}-wal")):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise SourceError(f"cannot be read: {exc.strerror or exc}", location=str(p)) from None
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        return "/".join(parts)

    def _source(self) -> sqlite3.Connection:
        try:
            uri, _note = read_only_uri(self.source, check_sqlite_file(self.source))  # nothing made beside it
            conn = sqlite3.connect(uri, uri=True, timeout=5.0)
        except sqlite3.Error as exc:
            raise SourceError(f"cannot be opened: {exc}", location=str(self.source)) from None
        conn.text_factory = _decode  # text that is not UTF-8 is indexed with replacement characters
        return conn

    def _columns(self, conn: sqlite3.Connection) -> list[str]:
        have = {r[1] for r in conn.execute("PRAGMA table_info(trace_steps)")}
        if not {"run_id", "step_index"} <= have:
            raise SourceError("has no trace_steps table with run_id and step_index", location=str(self.source))
        return [f for f in SEARCH_FIELDS if f in have]

    # -- PayloadIndex --------------------------------------------------------------------------------

    def status(self) -> IndexStatus:
        if not self.path.exists():
            return IndexStatus("none", str(self.path))
        size = self.path.stat().st_size
        try:
            conn = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
            try:
                meta = dict(conn.execute("SELECT key, value FROM meta"))
            finally:
                conn.close()
        except sqlite3.Error:
            return IndexStatus("stale", str(self.path), size)  # damaged or foreign: built again
        current = meta.get("format") == _FORMAT and meta.get("source") == str(self.source) \
            and meta.get("signature") == self.signature()
        return IndexStatus("ready" if current else "stale", str(self.path), size, int(meta.get("steps") or 0),
                           meta.get("built_at"))

    def estimate(self) -> int:
        """The payload text's bytes times :data:`INDEX_SIZE_FACTOR`: one pass over the step table."""
        conn = self._source()
        try:
            cols = self._columns(conn)
            total = " + ".join(f"IFNULL(LENGTH(CAST({c} AS BLOB)), 0)" for c in cols) or "0"
            row = conn.execute(f"SELECT COUNT(*), TOTAL({total}) FROM trace_steps").fetchone()
        except sqlite3.Error as exc:
            raise SourceError(f"could not be read while estimating the index: {exc}", location=str(self.source)) from None
        finally:
            conn.close()
        steps, text = int(row[0]), float(row[1] or 0)
        return int(text * INDEX_SIZE_FACTOR) + steps * 24 + 64 * 1024

    def build(self, progress: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> IndexStatus:
        self.dir.mkdir(parents=True, exist_ok=True)
        signature = self.signature()
        tmp = self.path.with_name(f"{self.path.name}.building-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        src = self._source()
        out = sqlite3.connect(tmp)
        done = False
        try:
            cols = self._columns(src)
            out.execute("PRAGMA journal_mode = OFF")
            out.execute("PRAGMA synchronous = OFF")
            out.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            out.execute(f"CREATE VIRTUAL TABLE steps USING fts5(run_id UNINDEXED, step_index UNINDEXED, "
                        f"{', '.join(SEARCH_FIELDS)}, tokenize = 'trigram', detail = 'none')")
            total = int(src.execute("SELECT COUNT(*) FROM trace_steps").fetchone()[0])
            if progress:
                progress(0, total)
            select = ", ".join(["rowid", "run_id", "step_index", *cols])
            insert = f"INSERT INTO steps (run_id, step_index, {', '.join(cols) or 'params'}) VALUES " \
                     f"({', '.join('?' * (2 + max(1, len(cols))))})"
            after, count = None, 0
            while True:
                if cancelled is not None and cancelled():
                    raise QueryCancelled("building the search index was cancelled")
                where = "" if after is None else " WHERE rowid > ?"
                rows = src.execute(f"SELECT {select} FROM trace_steps{where} ORDER BY rowid LIMIT {_PAGE}",
                                   () if after is None else (after,)).fetchall()
                if not rows:
                    break
                out.executemany(insert, ([field_text(r[1]) or "", _step_index(r[2]),
                                          *([field_text(v) for v in r[3:]] or [None])] for r in rows))
                after = rows[-1][0]
                count += len(rows)
                if progress:
                    progress(count, max(total, count))
            built_at = datetime.now(UTC).isoformat(timespec="seconds")
            out.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("format", _FORMAT), ("source", str(self.source)), ("signature", signature),
                ("steps", str(count)), ("built_at", built_at)])
            out.commit()
            done = True
        except sqlite3.Error as exc:
            raise SourceError(f"could not be indexed: {exc}", location=str(self.source)) from None
        finally:
            src.close()
            out.close()
            if not done:
                tmp.unlink(missing_ok=True)
        os.replace(tmp, self.path)
        return self.status()

    def delete(self) -> bool:
        existed = self.path.exists()
        self.path.unlink(missing_ok=True)
        return existed

    def candidates(self, patterns: Sequence[str], limit: int | None = None
                   ) -> Iterator[tuple[str, int, dict[str, Any]]]:
        conn = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
        conn.text_factory = _decode
        try:
            # One LIKE per column and pattern, each answered from the trigram index in rowid order
            # (a cursor each), merged lazily: the first hits come at once, however many follow.
            # (An OR of the LIKEs in one WHERE makes FTS5 read every row; a UNION sorts them all.)
            select = f"SELECT rowid, run_id, step_index, {', '.join(SEARCH_FIELDS)} FROM steps"
            streams = []
            for c in SEARCH_FIELDS:
                for p in patterns or [None]:
                    where = f" WHERE {c} LIKE ?" if p is not None else ""
                    streams.append(conn.execute(f"{select}{where} ORDER BY rowid", () if p is None else (p,)))
                if not patterns:
                    break
            last = None
            n = 0
            for r in heapq.merge(*streams, key=lambda row: row[0]):
                if r[0] == last:
                    continue
                last = r[0]
                yield r[1], _step_index(r[2]), dict(zip(SEARCH_FIELDS, r[3:], strict=True))
                n += 1
                if limit is not None and n >= limit:
                    return
        except sqlite3.Error as exc:
            raise SourceError(f"the search index cannot be read: {exc}", location=str(self.path)) from None
        finally:
            conn.close()


def _step_index(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return -1
