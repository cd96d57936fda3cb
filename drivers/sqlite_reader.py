"""Read-only access to an AOS SQLite trace database (upstream ``SQLiteTraceStore`` files).

Opened with a ``mode=ro`` URI: the inspector can never write to the file, and reads are short
statements, so a runtime writing the same file (WAL or rollback journal) is never locked out. A
WAL database without its ``-wal`` (no writer) is opened ``immutable=1`` instead, so that SQLite
makes no ``-wal``/``-shm`` beside it (:func:`read_only_uri`).

Upstream quirks handled here (spec §1, §11): statuses outside the enum (normalised, raw kept),
JSON columns that do not parse (kept raw with the reason), steps whose run row was deleted
(orphans, listed separately), columns missing from databases made before v1.1, and the runs list
built without upstream's whole-table ``GROUP BY`` (counters are computed per page).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from drivers._sql import (
    count_activity,
    failed_run,
    seek_select,
    sql_list,
    step_extent_of,
    step_extent_select,
    step_slice,
)
from drivers.paths import open_regular
from inspector.errors import (
    CorruptSource,
    InspectorError,
    NotATraceSource,
    RunNotFound,
    SourceError,
    SourceLocked,
    SourceNotFound,
)
from inspector.model import (
    STATUS_WHITESPACE,
    Payload,
    RunFilter,
    RunRecord,
    RunSort,
    RunSummary,
    SourceInfo,
    Step,
    StepRow,
    StepStatus,
    raw_statuses,
    stored_float,
    stored_int,
)
from inspector.records import replay_of
from inspector.source import Capability, SourceTotals, StepSeek
from inspector.step_rows import StepExtent

if TYPE_CHECKING:
    # SQLAlchemy (0.4 s of a command's start) loads at the first statement built with it: listing
    # runs (plain SQL on sqlite3) does not. numpy loads with RunActivity: only when runs are counted.
    import sqlalchemy as sa

    from drivers.evidence_reader import EvidenceReader
    from inspector.activity import RunActivity

__all__ = ["SQLITE_HEADER", "SQLiteTraceReader", "check_sqlite_file", "read_only_uri"]

SQLITE_HEADER = b"SQLite format 3\x00"

#: The tables whose presence makes an evidence store (``EvidenceReader.has_store``: the counted
#: classes H, B, G and D), named here so that knowing costs no import of the evidence modules.
_EVIDENCE_STORE_TABLES = frozenset({"environment_evidence", "activity_evidence", "provider_evidence",
                                    "policy_decisions"})
_TRACE_COLUMNS = (
    "run_id", "correlation_id", "tenant_id", "agent_id", "plan", "plan_hash", "started_at",
    "completed_at", "status", "metadata", "created_at", "seed", "frozen_timestamp", "root_hash",
)
_STEP_ROW_COLUMNS = (
    "id", "run_id", "step_index", "skill_name", "status", "outcome_category", "outcome_code",
    "cost_cents", "duration_ms", "retry_count", "timestamp",
)
_STEP_EXTRA_COLUMNS = ("params", "outcome_data", "idempotency_key", "replay_behavior", "input_hash",
                      "output_hash", "rng_state_before")
_SUMMARY_COLUMNS = ("run_id", "correlation_id", "tenant_id", "agent_id", "status", "started_at", "completed_at")

_SORT_COLUMNS = {
    RunSort.STARTED_AT: "started_at",
    RunSort.RUN_ID: "run_id",
    RunSort.STATUS: "status",
    RunSort.TENANT: "tenant_id",
    RunSort.AGENT: "agent_id",
}

#: SQLite caps host parameters (999 before 3.32): chunk IN lists well below it.
_IN_CHUNK = 500


def check_sqlite_file(path: Path) -> bytes:
    """Raise a SourceError naming what is wrong with ``path`` as a SQLite database, before SQLite
    itself gives a vaguer message; else its 100-byte header. A file shorter than its header says
    is left to SQLite, which checks it under its lock (see :func:`_truncation`)."""
    location = str(path)
    try:
        with open_regular(path) as fh:  # what the path is, decided once (drivers.paths)
            header = fh.read(100)
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise SourceNotFound(f"cannot be read: {exc.strerror or exc}", location=location) from None
    if not header.startswith(SQLITE_HEADER):
        raise NotATraceSource("is not a SQLite database (no SQLite header)", location=location)
    if len(header) < 100:
        raise CorruptSource(f"is truncated: {size} bytes, shorter than a SQLite header", location=location)
    return header


def read_only_uri(path: Path, header: bytes, *,
                  can_write: Callable[[Path], bool] = lambda folder: os.access(folder, os.W_OK)) -> tuple[str, str | None]:
    """How to open ``path`` so that nothing is written or created beside it, and a note saying
    how when it matters. A WAL-mode database (header byte 19, its read version, = 2) opened ``mode=ro`` creates
    its ``-wal`` and ``-shm`` beside it if they are not there (and cannot be read at all in a
    read-only folder); without a ``-wal`` there is no live writer and nothing to merge, so it is
    opened ``immutable=1``. With a ``-wal`` but no ``-shm`` in a folder we may not write to, the
    database can only be read as it stands without the ``-wal``'s changes: said in the note."""
    # The name's bytes, quoted: a name that is not UTF-8 (``os.fsdecode``'s surrogates) is not text.
    base = f"file:{quote(os.fsencode(path))}?mode=ro"
    if header[19] != 2:  # SQLite goes to WAL on the read version alone (btree.c lockBtree)
        return base, None
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if not wal.exists():
        return base + "&immutable=1", "WAL database without a -wal file (no live writer): read as it stands"
    if not shm.exists() and not can_write(path.parent):
        return base + "&immutable=1", ("WAL database in a read-only folder without its -shm: read without "
                                       "the changes still in its -wal")
    return base, None


class _Connection(sqlite3.Connection):
    """sqlite3's connection, remembering whether it was opened ``immutable=1``."""

    immutable = False


def _truncation(path: Path) -> str | None:
    """Why ``path`` looks truncated, or None. Only meaningful once SQLite has reported damage: read
    without a lock, a file that a writer is extending looks the same for a moment, since a commit
    (or a WAL checkpoint) writes page 1 with the new page count before the pages after it."""
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
        size = path.stat().st_size
    except OSError:
        return None
    if len(header) < 100:
        return None
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter = int.from_bytes(header[24:28], "big")
    page_count = int.from_bytes(header[28:32], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    # The in-header size is trusted only when "version-valid-for" matches the change counter
    # (the SQLite file format, §1.3.7); a shorter file then lost its tail.
    if page_count and valid_for == change_counter and size < page_count * page_size:
        return f"is truncated: the header says {page_count * page_size:,} bytes, the file has {size:,}"
    return None


#: Stored numbers as the step list shows them; None for what is not one (inspector.model).
_num, _int = stored_float, stored_int


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _text_or_bytes(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # Payload.from_text says "not UTF-8 text"; _text() shows it with replacements


# Only TEXT is a status, as in normalise_status: lower() and trim() would read a BLOB as text.
_NORM = f"CASE WHEN typeof(status) = 'text' THEN lower(trim(status, '{STATUS_WHITESPACE}')) END"
_AGG_SELECT = (
    "COUNT(*) AS total_steps, "
    f"SUM(CASE WHEN {_NORM} IN ({sql_list(raw_statuses(StepStatus.SUCCESS))}) THEN 1 ELSE 0 END) AS success_count, "
    f"SUM(CASE WHEN {_NORM} IN ({sql_list(raw_statuses(StepStatus.FAILURE))}) THEN 1 ELSE 0 END) AS failure_count, "
    "TOTAL(cost_cents) AS total_cost_cents, TOTAL(duration_ms) AS total_duration_ms"
)


class SQLiteTraceReader:
    """A :class:`inspector.source.TraceSource` over an AOS SQLite ``traces.db``, read-only."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path).expanduser().resolve()
        self.location = str(self.path)
        header = check_sqlite_file(self.path)
        _uri, self._open_note = read_only_uri(self.path, header)
        wal = Path(f"{self.path}-wal")

        def connect() -> sqlite3.Connection:
            # Decided for each connection: a writer may start after the source was opened.
            uri, _note = read_only_uri(self.path, header)
            conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, check_same_thread=False, factory=_Connection)
            conn.immutable = "immutable=1" in uri
            return conn

        self._connect = connect
        self._wal = wal
        self._engine: sa.Engine | None = None
        self._lock = threading.RLock()
        self._replay_map: dict[str, list[str]] | None = None
        self._orphans: list[RunSummary] | None = None
        self._sorted_keys: dict[tuple, list[str]] = {}
        self._evidence: EvidenceReader | None = None
        self._evidence_tables: bool | None = None
        self._inspect_schema()

    @property
    def engine(self) -> sa.Engine:
        """SQLAlchemy's engine over the file, made for the first statement built with SQLAlchemy.

        A small pool: the UI reads on two workers at once (what the user clicked, and background
        counting), and SQLite readers never block each other. Each read checks a connection
        out exclusively. (SingletonThreadPool is not an option: past its size it closes other
        threads' connections, even one in the middle of a query, which crashes the process.)"""
        with self._lock:
            if self._engine is None:
                import sqlalchemy as sa

                engine = sa.create_engine("sqlite+pysqlite://", creator=self._connect,
                                          poolclass=sa.pool.QueuePool, pool_size=3, max_overflow=5, pool_timeout=60)
                wal = self._wal

                @sa.event.listens_for(engine, "checkout")
                def _writer_started(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
                    # A connection opened immutable (no -wal: no writer) would not see what a writer
                    # that has started since commits, nor take the locks its checkpoints respect:
                    # make another. (A connection of _raw() without the engine is opened for one read.)
                    if getattr(dbapi_conn, "immutable", False) and wal.exists():
                        raise sa.exc.DisconnectionError("a writer started: open the database mode=ro")

                self._engine = engine
            return self._engine

    @contextmanager
    def _raw(self) -> Iterator[sqlite3.Connection]:
        """A sqlite3 connection for plain SQL: from the engine's pool once there is one, else one of
        its own, closed after."""
        if self._engine is not None:
            proxied = self._engine.raw_connection()
            try:
                yield proxied.driver_connection
            finally:
                proxied.close()
            return
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    @staticmethod
    def _raw_fetch(con: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """``_fetch`` for plain SQL on a sqlite3 connection (the same fallback for text that is not UTF-8)."""
        try:
            return con.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            if "could not decode to utf-8" not in str(exc).lower():
                raise
        previous = con.text_factory
        con.text_factory = _text_or_bytes
        try:
            return con.execute(sql, tuple(params)).fetchall()
        finally:
            con.text_factory = previous

    def _inspect_schema(self) -> None:
        with self._guard("opening"), self._raw() as con:
            names = [name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()]
            tables = {name: [r[1] for r in con.execute(f"PRAGMA table_info({name})").fetchall()] for name in names}
            # Views too: the evidence reader reads a view by a table's name as the table.
            relations = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        missing = [t for t in ("traces", "trace_steps") if t not in tables]
        if missing:
            found = ", ".join(sorted(t for t in tables if not t.startswith("sqlite_"))) or "no tables"
            raise NotATraceSource(
                f"is a SQLite database without the AOS trace tables (missing {', '.join(missing)}; found {found})",
                location=self.location,
            )
        self._trace_cols = set(tables["traces"])
        self._step_cols = set(tables["trace_steps"])
        self._evidence_tables = bool(_EVIDENCE_STORE_TABLES & relations)
        for tbl, need, have in (("traces", ("run_id",), self._trace_cols),
                                ("trace_steps", ("run_id", "step_index"), self._step_cols)):
            lacking = [c for c in need if c not in have]
            if lacking:
                raise NotATraceSource(f"table {tbl} has no column {', '.join(lacking)}", location=self.location)
        notes = [self._open_note] if self._open_note else []
        absent = [c for c in _TRACE_COLUMNS if c not in self._trace_cols] + [
            c for c in _STEP_ROW_COLUMNS + _STEP_EXTRA_COLUMNS if c not in self._step_cols
        ]
        if absent:
            notes.append(f"older schema: columns {', '.join(absent)} are absent and shown empty")
        self.info = SourceInfo(
            location=self.location,
            kind="sqlite",
            display_name=self.path.name,
            read_only=True,
            capabilities=frozenset({Capability.RUNS, Capability.STEPS, Capability.ORPHANS, Capability.REFRESH}),
            notes=tuple(notes),
        )

    # -- plumbing ------------------------------------------------------------------------------

    @cached_property
    def _traces(self) -> Any:
        import sqlalchemy as sa

        return sa.table("traces", *[sa.column(c) for c in _TRACE_COLUMNS])

    @cached_property
    def _steps(self) -> Any:
        import sqlalchemy as sa

        return sa.table("trace_steps", *[sa.column(c) for c in _STEP_ROW_COLUMNS + _STEP_EXTRA_COLUMNS])

    @contextmanager
    def _guard(self, doing: str):
        """Translate sqlite3 / SQLAlchemy errors into the inspector's error tree (STYLE §4)."""
        try:
            yield
        except InspectorError:
            raise
        except sqlite3.Error as exc:
            raise self._translate(exc, doing) from exc
        except UnicodeDecodeError as exc:
            # SQLite quotes the damaged schema in its error message, which Python then cannot
            # decode: the schema text itself is not UTF-8.
            raise CorruptSource(f"is damaged: its schema is not valid UTF-8 text (while {doing})",
                                location=self.location) from exc
        except Exception as exc:
            sa = sys.modules.get("sqlalchemy")  # its errors exist only once it is loaded
            if sa is not None and isinstance(exc, sa.exc.DBAPIError):
                raise self._translate(exc, doing) from exc
            raise

    def _translate(self, exc: Exception, doing: str) -> SourceError:
        orig = getattr(exc, "orig", exc)
        text = str(orig).strip() or type(orig).__name__
        low = text.lower()
        where = self.location
        if "locked" in low or "busy" in low:
            return SourceLocked(f"is locked by another process ({text}) while {doing}; try again", location=where)
        if getattr(orig, "sqlite_errorname", None) == "SQLITE_READONLY_ROLLBACK":
            # A writer stopped mid-transaction; only a read-write open can roll its journal back.
            return CorruptSource(
                f"has an unfinished transaction ({self.path.name}-journal was left by a writer that stopped); "
                "open it once read-write, e.g. by restarting the AOS runtime on it, to roll it back",
                location=where,
            )
        if "unable to open" in low:
            return SourceNotFound(f"cannot be opened ({text})", location=where)
        if "not a database" in low or "malformed" in low or "disk i/o" in low or "corrupt" in low:
            why = _truncation(self.path)
            if why:
                return CorruptSource(f"{why} (SQLite: {text}, while {doing})", location=where)
            return CorruptSource(f"is damaged: {text} (while {doing})", location=where)
        if "no such table" in low or "no such column" in low:
            return NotATraceSource(f"does not have the AOS trace schema: {text}", location=where)
        return SourceError(f"could not be read while {doing}: {text}", location=where)

    @staticmethod
    def _fetch(conn: sa.Connection, stmt: Any, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of ``stmt``. A TEXT value that is not UTF-8 (a foreign writer, a damaged page)
        makes sqlite3 fail the whole statement; it is then run again with such values as bytes, so
        one bad cell spoils one field (which says why), not every step of the run."""

        import sqlalchemy as sa

        def run() -> list[Any]:
            if isinstance(stmt, str):
                return list(conn.exec_driver_sql(stmt, tuple(params)))
            return list(conn.execute(stmt))

        try:
            return run()
        except sa.exc.OperationalError as exc:
            if "could not decode to utf-8" not in str(exc.orig).lower():
                raise
        dbapi = conn.connection.dbapi_connection
        previous = dbapi.text_factory
        dbapi.text_factory = _text_or_bytes
        try:
            return run()
        finally:
            dbapi.text_factory = previous

    def _col(self, tbl, name: str, have: set[str]):
        import sqlalchemy as sa

        return tbl.c[name] if name in have else sa.literal(None).label(name)

    def _trace_select(self, names: Sequence[str]):
        import sqlalchemy as sa

        return sa.select(*[self._col(self._traces, n, self._trace_cols).label(n) for n in names]).select_from(self._traces)

    @staticmethod
    def _conditions(flt: RunFilter) -> list[tuple[str, str, Any]]:
        """The filter's conditions on ``traces`` but the grade, as ``(column, operator, value)``:
        the one definition that SQLAlchemy's statements and the runs list's plain SQL both use."""
        out: list[tuple[str, str, Any]] = [
            (col, "=", value) for col, value in (("status", flt.status), ("tenant_id", flt.tenant_id),
                                                 ("agent_id", flt.agent_id)) if value is not None
        ]
        if flt.since is not None:
            out.append(("started_at", ">=", flt.since))
        if flt.until is not None:
            out.append(("started_at", "<=", flt.until))
        if flt.run_id_prefix:
            # GLOB is case-sensitive like run ids, and can use the primary key's index.
            escaped = "".join(f"[{ch}]" if ch in "*?[" else ch for ch in flt.run_id_prefix)
            out.append(("run_id", "GLOB", escaped + "*"))
        if flt.keys is not None:
            # One parameter however many ids (SQLite allows 32,766 parameters a statement).
            out.append(("run_id", "IN json_each", json.dumps(sorted(flt.keys))))
        return out

    def _apply_filter(self, stmt, flt: RunFilter):
        import sqlalchemy as sa

        t = self._traces.c
        for col, op, value in self._conditions(flt):
            if op == "IN json_each":
                ids = sa.func.json_each(sa.bindparam(None, value, sa.Text)).table_valued("value")
                stmt = stmt.where(t[col].in_(sa.select(ids.c.value)))
            else:
                stmt = stmt.where(t[col].op(op)(value))
        if flt.grade is not None:
            ev = self.evidence()
            if not ev.has_store:
                return stmt.where(sa.false())
            from drivers.evidence_reader import grade_clause

            stmt = stmt.where(grade_clause(t.run_id, "sqlite", ev.tables) == flt.grade)
        return stmt

    def _runs_sql(self, flt: RunFilter, sort: RunSort, descending: bool) -> tuple[str, list[Any]] | None:
        """The runs list's statement as plain SQL (what ``list_runs`` builds with SQLAlchemy, whose
        import is most of ``trace-inspector runs``' start), or None when it needs SQLAlchemy: a
        grade (the evidence tables' clauses)."""
        if flt.grade is not None or sort is RunSort.GRADE:
            return None
        have = self._trace_cols
        cols = [n if n in have else f"NULL AS {n}" for n in _SUMMARY_COLUMNS]
        cols.append("CASE WHEN metadata LIKE '%replay_of%' THEN metadata END" if "metadata" in have else "NULL")
        where, params = [], []
        for col, op, value in self._conditions(flt):
            where.append(f"{col} IN (SELECT value FROM json_each(?))" if op == "IN json_each" else f"{col} {op} ?")
            params.append(value)
        direction = "DESC" if descending else "ASC"
        key = _SORT_COLUMNS[sort]
        order = [f"{key if key in have else 'NULL'} {direction}"] + ([] if sort is RunSort.RUN_ID else
                                                                     [f"run_id {direction}"])
        sql = (f"SELECT {', '.join(cols)} FROM traces" + (f" WHERE {' AND '.join(where)}" if where else "")
               + f" ORDER BY {', '.join(order)} LIMIT ? OFFSET ?")
        return sql, params

    def _summary(self, m: Any, metadata: Any = None) -> RunSummary:
        """A run from a mapping of ``_SUMMARY_COLUMNS`` (a SQLAlchemy row's ``_mapping``, or a dict)."""
        meta_payload = Payload.from_text(metadata) if metadata is not None else Payload(None)
        return RunSummary(
            run_id=_text(m["run_id"]) or "",
            correlation_id=_text(m["correlation_id"]),
            tenant_id=_text(m["tenant_id"]),
            agent_id=_text(m["agent_id"]),
            status=_text(m["status"]),
            started_at=_text(m["started_at"]),
            completed_at=_text(m["completed_at"]),
            replay_of=replay_of(meta_payload),
        )

    def _replay_meta(self):
        import sqlalchemy as sa

        # Only metadata that can name an original is fetched for the runs list.
        if "metadata" not in self._trace_cols:
            return sa.literal(None).label("replay_meta")
        m = self._traces.c.metadata
        return sa.case((m.like("%replay_of%"), m), else_=None).label("replay_meta")

    @staticmethod
    def _step_row(r: Sequence[Any]) -> StepRow:
        """A row of ``_STEP_ROW_COLUMNS`` (a SQLAlchemy row or sqlite3's tuple), by position. The
        usual types are taken as they are before the converters run (a million-step read)."""
        row_id, run_id, index, skill, status, category, code, cost, duration, retry, ts = r[:11]
        index = index if type(index) is int else _int(index)
        return StepRow(
            row_id=row_id if type(row_id) is int else _int(row_id),
            run_id=run_id if type(run_id) is str else _text(run_id) or "",
            step_index=index if index is not None else -1,
            skill_name=skill if type(skill) is str else _text(skill),
            status_raw=status,
            outcome_category=category if type(category) is str else _text(category),
            outcome_code=code if code is None or type(code) is str else _text(code),
            cost_cents=cost if type(cost) is float else _num(cost),
            duration_ms=duration if type(duration) is float else _num(duration),
            retry_count=retry if type(retry) is int else _int(retry),
            timestamp=ts if type(ts) is str else _text(ts),
        )

    def _step_select(self, names: Sequence[str]):
        import sqlalchemy as sa

        return sa.select(*[self._col(self._steps, n, self._step_cols).label(n) for n in names]).select_from(self._steps)

    # -- TraceSource ---------------------------------------------------------------------------

    def count_runs(self, flt: RunFilter) -> int:
        import sqlalchemy as sa

        stmt = self._apply_filter(sa.select(sa.func.count()).select_from(self._traces), flt)
        with self._guard("counting runs"), self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def run_activity(self, flt: RunFilter, max_intervals: int = 120) -> RunActivity:
        """Runs and failed runs per interval of the filter's span (``RunActivitySource``)."""
        import sqlalchemy as sa

        started = self._col(self._traces, "started_at", self._trace_cols)
        status = self._col(self._traces, "status", self._trace_cols)
        # Text that starts like a date (julianday() would read '2461000.5', or a number, as a
        # Julian day), to the millisecond (julianday() keeps milliseconds as a day fraction: a run
        # at 00:00:10 came back as 00:00:09.99998 and counted in the interval before).
        dated = sa.and_(sa.func.typeof(started) == "text", sa.func.substr(started, 5, 1) == "-")
        ms = sa.cast((sa.func.julianday(started) - 2440587.5) * 86400000.0 + 0.5, sa.Integer)
        epoch = sa.case((dated, ms / 1000.0))
        # LIMIT -1 keeps SQLite from flattening the subquery, which would work the expression out
        # once for each use of it (min, max, count, the grouping): 0.9 s -> 0.35 s for 100k runs.
        runs = self._apply_filter(sa.select(epoch.label("t"), failed_run(status).label("f")).select_from(self._traces),
                                  flt).limit(-1)
        with self._guard("counting runs over time"), self.engine.connect() as conn:
            return count_activity(lambda stmt: self._fetch(conn, stmt), runs, max_intervals,
                                  lambda x: sa.cast(x, sa.Integer))

    def list_runs(self, flt, sort=RunSort.STARTED_AT, descending=True, offset=0, limit=100, *, with_aggregates=True):
        if sort.needs_aggregates:
            keys = self._keys_by_aggregate(flt, sort, descending)[offset : offset + limit]
            runs = self._runs_by_ids(keys)
            by_id = {r.run_id: r for r in runs}
            ordered = [by_id[k] for k in keys if k in by_id]
            return self._with_aggregates(ordered) if with_aggregates else ordered
        plain = self._runs_sql(flt, sort, descending)
        if plain is not None:
            sql, params = plain
            with self._guard("listing runs"), self._raw() as con:
                rows = self._raw_fetch(con, sql, [*params, limit, offset])
            runs = [self._summary(dict(zip(_SUMMARY_COLUMNS, r)), r[-1]) for r in rows]
            return self._with_aggregates(runs) if with_aggregates else runs
        # A grade (filter or order): the evidence tables' clauses are SQLAlchemy's.
        if sort is RunSort.GRADE:
            from drivers.evidence_reader import grade_rank_clause

            col = grade_rank_clause(self._traces.c.run_id, "sqlite", self.evidence().tables)
        else:
            col = self._col(self._traces, _SORT_COLUMNS[sort], self._trace_cols)
        order = [col.desc() if descending else col.asc()]
        if sort is not RunSort.RUN_ID:
            order.append(self._traces.c.run_id.desc() if descending else self._traces.c.run_id.asc())
        stmt = self._trace_select(_SUMMARY_COLUMNS).add_columns(self._replay_meta())
        stmt = self._apply_filter(stmt, flt).order_by(*order).limit(limit).offset(offset)
        with self._guard("listing runs"), self.engine.connect() as conn:
            runs = [self._summary(r._mapping, r._mapping["replay_meta"]) for r in self._fetch(conn, stmt)]
        return self._with_aggregates(runs) if with_aggregates else runs

    def _runs_by_ids(self, run_ids: Sequence[str]) -> list[RunSummary]:
        out: list[RunSummary] = []
        with self._guard("reading runs"), self.engine.connect() as conn:
            for i in range(0, len(run_ids), _IN_CHUNK):
                chunk = list(run_ids[i : i + _IN_CHUNK])
                stmt = self._trace_select(_SUMMARY_COLUMNS).add_columns(self._replay_meta())
                stmt = stmt.where(self._traces.c.run_id.in_(chunk))
                out.extend(self._summary(r._mapping, r._mapping["replay_meta"]) for r in self._fetch(conn, stmt))
        return out

    def _with_aggregates(self, runs: list[RunSummary]) -> list[RunSummary]:
        aggs = self.aggregate_runs([r.run_id for r in runs])
        return [_merge(r, aggs.get(r.run_id)) for r in runs]

    def aggregate_runs(self, run_ids: Sequence[str]) -> dict[str, RunSummary]:
        """Counters per run; a run without steps gets zeros. Returned summaries carry only the run
        id and counters: merge them into the list's rows with ``dataclasses.replace``."""
        out: dict[str, RunSummary] = {}
        ids = list(dict.fromkeys(run_ids))
        with self._guard("counting steps"), self._raw() as con:
            for i in range(0, len(ids), _IN_CHUNK):
                chunk = ids[i : i + _IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT run_id, {_AGG_SELECT} FROM trace_steps WHERE run_id IN ({marks}) GROUP BY run_id"
                for row in self._raw_fetch(con, sql, chunk):
                    out[row[0]] = RunSummary.from_counters(row[0], row[1:])
        for rid in ids:
            out.setdefault(rid, RunSummary.from_counters(rid, (0, 0, 0, 0.0, 0.0)))
        return out

    def _keys_by_aggregate(self, flt: RunFilter, sort: RunSort, descending: bool) -> list[str]:
        """Run ids in the order of a step counter: one pass over every step (slow on millions of
        steps, so the result is kept until :meth:`refresh`)."""
        import sqlalchemy as sa

        key = (flt, sort, descending)
        if key in self._sorted_keys:
            return self._sorted_keys[key]
        base = self._apply_filter(sa.select(self._traces.c.run_id).select_from(self._traces), flt)
        compiled = base.compile(self.engine)
        params = tuple(compiled.params[name] for name in (compiled.positiontup or ()))
        direction = "DESC" if descending else "ASC"
        sql = (
            f"SELECT t.run_id FROM ({compiled}) AS t "
            f"LEFT JOIN (SELECT run_id, {_AGG_SELECT} FROM trace_steps GROUP BY run_id) AS a ON a.run_id = t.run_id "
            f"ORDER BY COALESCE(a.{sort.value}, 0) {direction}, t.run_id {direction}"
        )
        with self._guard("sorting runs"), self.engine.connect() as conn:
            keys = [r[0] for r in conn.exec_driver_sql(sql, params)]
        self._sorted_keys[key] = keys
        return keys

    def orphan_runs(self) -> list[RunSummary]:
        if self._orphans is not None:
            return self._orphans
        # DISTINCT over the run_id index first, then one primary-key probe per run id: far cheaper
        # than a NOT EXISTS per step row.
        sql = (
            "SELECT d.run_id FROM (SELECT DISTINCT run_id FROM trace_steps) AS d "
            "WHERE NOT EXISTS (SELECT 1 FROM traces AS t WHERE t.run_id = d.run_id) ORDER BY d.run_id"
        )
        with self._guard("looking for orphan steps"), self._raw() as con:
            ids = [r[0] for r in self._raw_fetch(con, sql)]
        aggs = self.aggregate_runs(ids)
        orphans = []
        for rid in ids:
            base = RunSummary(str(rid), None, None, None, None, None, None, orphan=True)
            orphans.append(_merge(base, aggs.get(rid)))
        self._orphans = orphans
        return orphans

    def get_run(self, run_id: str, *, with_aggregates: bool = True) -> RunRecord:
        stmt = self._trace_select(_TRACE_COLUMNS).where(self._traces.c.run_id == run_id)
        with self._guard(f"reading run {run_id}"), self.engine.connect() as conn:
            row = next(iter(self._fetch(conn, stmt)), None)
            if row is None:
                n = conn.exec_driver_sql("SELECT COUNT(*) FROM trace_steps WHERE run_id = ?", (run_id,)).scalar_one()
        if row is None:
            if n:
                summary = _merge(RunSummary(run_id, None, None, None, None, None, None, orphan=True),
                                 self.aggregate_runs([run_id])[run_id])
                return RunRecord(summary, Payload(None), Payload(None))
            raise RunNotFound(f"no run {run_id!r}", location=self.location)
        m = row._mapping
        metadata = Payload.from_text(m["metadata"])
        summary = self._summary(m, m["metadata"])
        if with_aggregates:
            summary = _merge(summary, self.aggregate_runs([summary.run_id])[summary.run_id])
        return RunRecord(
            summary=summary,
            plan=Payload.from_text(m["plan"]),
            metadata=metadata,
            seed=m["seed"],
            frozen_timestamp=_text(m["frozen_timestamp"]),
            root_hash=_text(m["root_hash"]),
            plan_hash=_text(m["plan_hash"]),
            created_at=_text(m["created_at"]),
        )

    def count_steps(self, run_id: str) -> int:
        with self._guard(f"counting steps of {run_id}"), self.engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT COUNT(*) FROM trace_steps WHERE run_id = ?", (run_id,)).scalar_one())

    def list_steps(self, run_id: str, after_index: int | None = None, limit: int = 500) -> list[StepRow]:
        stmt = self._step_select(_STEP_ROW_COLUMNS).where(self._steps.c.run_id == run_id)
        if after_index is not None:
            stmt = stmt.where(self._steps.c.step_index > after_index)
        stmt = stmt.order_by(self._steps.c.step_index).limit(limit)
        with self._guard(f"reading steps of {run_id}"), self.engine.connect() as conn:
            return [self._step_row(r) for r in self._fetch(conn, stmt)]

    def step_columns(self, run_id: str, every: int = 1, *, after: Any = None,
                     limit: int | None = None) -> tuple[Sequence[Any], ...]:
        """The step timeline's columns in one statement (``StepColumnsSource``)."""
        names = ("step_index", "timestamp", "duration_ms", "status", "retry_count", "cost_cents")
        stmt = self._step_select(names).where(self._steps.c.run_id == run_id).order_by(self._steps.c.step_index)
        stmt = step_slice(stmt, self._steps.c.step_index, every, after, limit)
        with self._guard(f"reading the step columns of {run_id}"), self.engine.connect() as conn:
            rows = self._raw_rows(conn, stmt)
        return tuple(list(c) for c in zip(*rows, strict=True)) if rows else tuple([] for _ in names)

    def _raw_rows(self, conn: sa.Connection, stmt: Any, compiled: Any = None, **values: Any) -> list[Any]:
        """sqlite3's own tuples for ``stmt`` (a SQLAlchemy row per step costs three times the
        read), read the careful way when a value is not UTF-8. ``compiled``: ``stmt.compile(...)``
        when the caller keeps it (a statement run once per batch); ``values`` fill its named bind
        parameters."""
        compiled = compiled or stmt.compile(dialect=self.engine.dialect)
        params = [values[k] if k in values else compiled.params[k] for k in (compiled.positiontup or ())]
        try:
            return conn.connection.driver_connection.execute(str(compiled), params).fetchall()
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc).lower():
                raise
            return self._fetch(conn, stmt.params(**values) if values else stmt)

    def step_extent(self, run_id: str) -> StepExtent:
        """``StepKeysSource``: three index lookups (the count walks the index)."""
        c = self._steps.c
        stmt = step_extent_select(self._steps, c.run_id == run_id, c.step_index)
        with self._guard(f"counting the steps of {run_id}"), self.engine.connect() as conn:
            return step_extent_of(self._fetch(conn, stmt)[0])

    def step_keys(self, run_id: str) -> Sequence[Any]:
        """``StepKeysSource``: the run's step_index values in order, an index-only scan."""
        import sqlalchemy as sa

        c = self._steps.c
        stmt = sa.select(c.step_index).where(c.run_id == run_id).order_by(c.step_index)
        with self._guard(f"listing the steps of {run_id}"), self.engine.connect() as conn:
            return [r[0] for r in self._raw_rows(conn, stmt)]

    def seek_step(self, run_id: str, after: Any, what: StepSeek, *, backward: bool = False) -> Any:
        """``StepKeysSource``: the next (previous) failed or retried step's step_index."""
        import sqlalchemy as sa

        c = self._steps.c
        have = self._step_cols
        status = c.status if "status" in have else sa.null()
        norm = sa.case((sa.func.typeof(status) == "text", sa.func.lower(sa.func.trim(status, STATUS_WHITESPACE))))
        retry = c.retry_count if "retry_count" in have else sa.null()
        retries = sa.and_(sa.func.typeof(retry).in_(("integer", "real")), retry > 0)
        stmt = seek_select(self._steps, c.run_id == run_id, c.step_index, norm, retries, after, what, backward)
        with self._guard(f"looking for the {'previous' if backward else 'next'} {what.value} in {run_id}"), \
                self.engine.connect() as conn:
            rows = self._fetch(conn, stmt)
        return rows[0][0] if rows else None

    def _full_step(self, r: Sequence[Any]) -> Step:
        """A row of ``_STEP_ROW_COLUMNS + _STEP_EXTRA_COLUMNS``, by position."""
        return Step(
            row=self._step_row(r),
            params=Payload.from_text(r[11]),
            outcome_data=Payload.from_text(r[12]),
            idempotency_key=_text(r[13]),
            replay_behavior=_text(r[14]),
            input_hash=_text(r[15]),
            output_hash=_text(r[16]),
            rng_state_before=_text(r[17]),
        )

    def iter_steps(self, run_id: str, batch: int = 1000) -> Iterator[Step]:
        """Streams in keyset batches, so a million-step run never sits in memory at once and the
        read lock is released between batches. A step is built when it is asked for (a batch of
        built steps would not fit in the CPU's cache), and the statement is compiled once."""
        import sqlalchemy as sa

        index = self._steps.c.step_index
        base = self._step_select(_STEP_ROW_COLUMNS + _STEP_EXTRA_COLUMNS).where(self._steps.c.run_id == run_id)
        first = base.order_by(index).limit(batch)
        more = base.where(index > sa.bindparam("after")).order_by(index).limit(batch)
        compiled = more.compile(dialect=self.engine.dialect)
        after: int | None = None
        while True:
            with self._guard(f"reading steps of {run_id}"), self.engine.connect() as conn:
                raw = (self._raw_rows(conn, first) if after is None
                       else self._raw_rows(conn, more, compiled, after=after))
            step = None
            for r in raw:
                step = self._full_step(r)
                yield step
            if len(raw) < batch:
                return
            after = step.row.step_index

    def scan_step_text(self, run_id: str, fields: Sequence[str], patterns: Sequence[str], *,
                       after: int | None = None, limit: int = 20_000
                       ) -> tuple[list[tuple[int, str, dict[str, Any]]], int | None, int]:
        """A page of the run's steps matched in SQL (``inspector.services.search.ScansStepText``):
        the page's last step_index is found on the (run_id, step_index) index, then only the rows
        where a field is ``LIKE`` a pattern are read. A value that is not UTF-8 comes as bytes."""
        cols = [f for f in fields if f in self._step_cols]
        after_sql, args = (" AND step_index > ?", [run_id, after]) if after is not None else ("", [run_id])
        with self._guard(f"searching the steps of {run_id}"), self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            bound = raw.execute(f"SELECT step_index FROM trace_steps WHERE run_id = ?{after_sql} "
                                "ORDER BY step_index LIMIT 1 OFFSET ?", (*args, limit - 1)).fetchone()
            if bound is None:
                scanned = int(raw.execute(f"SELECT COUNT(*) FROM trace_steps WHERE run_id = ?{after_sql}",
                                          args).fetchone()[0])
                last = raw.execute(f"SELECT MAX(step_index) FROM trace_steps WHERE run_id = ?{after_sql}",
                                   args).fetchone()[0]
                upper, upper_args = "", []
            else:
                scanned, last = limit, bound[0]
                upper, upper_args = " AND step_index <= ?", [last]
            # LIKE never matches a BLOB (SQLite stops at its first invalid byte or NUL): such values
            # always go to the caller, which matches their text with replacement characters.
            match = " OR ".join([f"{c} LIKE ?" for c in cols for _ in patterns]
                                + [f"typeof({c}) = 'blob'" for c in cols])
            sql = (f"SELECT step_index, run_id, {', '.join(cols) or 'NULL'} FROM trace_steps "
                   f"WHERE run_id = ?{after_sql}{upper}" + (f" AND ({match})" if match and patterns else "")
                   + " ORDER BY step_index")
            params = [*args, *upper_args] + ([p for _c in cols for p in patterns] if match and patterns else [])
            try:
                rows = raw.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "decode" not in str(exc).lower():
                    raise
                rows = self._fetch(conn, sql, params)  # a value that is not UTF-8: as bytes
        out = [(_int(r[0]) if _int(r[0]) is not None else -1, _text(r[1]) or "", dict(zip(cols, r[2:], strict=False)))
               for r in rows]
        return out, _int(last), scanned

    def payload_index(self, cache_dir: str | None = None):
        """The full-text index of this file's step payloads, in the user's cache folder
        (``inspector.services.search.IndexedSource``)."""
        from drivers.search_index import SQLitePayloadIndex

        return SQLitePayloadIndex(self.path, cache_dir)

    def get_step(self, run_id: str, step_index: int) -> Step:
        stmt = self._step_select(_STEP_ROW_COLUMNS + _STEP_EXTRA_COLUMNS).where(
            self._steps.c.run_id == run_id, self._steps.c.step_index == step_index
        )
        with self._guard(f"reading step {step_index} of {run_id}"), self.engine.connect() as conn:
            row = next(iter(self._fetch(conn, stmt)), None)
        if row is None:
            raise RunNotFound(f"run {run_id!r} has no step {step_index}", location=self.location)
        return self._full_step(row)

    def _replays(self) -> dict[str, list[str]]:
        if self._replay_map is None:
            mapping: dict[str, list[str]] = {}
            if "metadata" in self._trace_cols:
                sql = ("SELECT run_id, metadata FROM traces WHERE metadata LIKE '%replay_of%' "
                       "ORDER BY started_at, run_id")
                with self._guard("looking for replays"), self.engine.connect() as conn:
                    for rid, meta in self._fetch(conn, sql):
                        original = replay_of(Payload.from_text(meta))
                        if original:
                            mapping.setdefault(original, []).append(rid)
            self._replay_map = mapping
        return self._replay_map

    def replays_of(self, run_id: str) -> list[RunSummary]:
        ids = self._replays().get(run_id, [])
        if not ids:
            return []
        runs = {r.run_id: r for r in self._with_aggregates(self._runs_by_ids(ids))}
        return [runs[i] for i in ids if i in runs]

    def distinct_values(self, field: str) -> list[str]:
        import sqlalchemy as sa

        if field not in ("status", "tenant_id", "agent_id"):
            raise ValueError(f"not a filterable field: {field}")
        if field not in self._trace_cols:
            return []
        col = self._traces.c[field]
        stmt = sa.select(col).select_from(self._traces).where(col.is_not(None)).distinct().order_by(col)
        with self._guard(f"listing {field} values"), self.engine.connect() as conn:
            return [_text(v) for (v,) in self._fetch(conn, stmt)]

    @contextmanager
    def _reading(self, doing: str):
        with self._guard(doing), self.engine.connect() as conn:
            yield conn

    def has_evidence_tables(self) -> bool:
        """Whether the file has any of the evidence tables (``KnowsEvidenceTables``): known from
        opening, read again in plain SQL after a refresh."""
        with self._lock:
            if self._evidence_tables is None:
                with self._guard("looking for the evidence tables"), self._raw() as con:
                    rows = con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").fetchall()
                self._evidence_tables = bool(_EVIDENCE_STORE_TABLES & {name for (name,) in rows})
            return self._evidence_tables

    def evidence(self) -> EvidenceReader:
        """The evidence reader over the same file (a local DB may carry the evidence tables); its
        ``has_store`` is False for a plain upstream ``traces.db``."""
        with self._lock:
            if self._evidence is None:
                # Loaded here: its table definitions cost 0.1 s of a command's start.
                from drivers.evidence_reader import EvidenceReader

                self._evidence = EvidenceReader(self.engine, self.location, self._reading)
            return self._evidence

    def run_ids(self, flt: RunFilter) -> list[str]:
        """The run ids in the filter (what grading all runs grades); orphan run ids are not runs.
        Named as the runs list names them: SQLite lets ``traces.run_id`` be NULL (read as "") or a
        BLOB (read as text with replacements), and the grades are looked up by those names."""
        import sqlalchemy as sa

        stmt = self._apply_filter(sa.select(self._traces.c.run_id).select_from(self._traces), flt)
        with self._guard("listing run ids"), self.engine.connect() as conn:
            return list(dict.fromkeys(_text(r[0]) or "" for r in self._fetch(conn, stmt)))

    def totals(self) -> SourceTotals:
        with self._guard("counting"), self.engine.connect() as conn:
            runs = conn.exec_driver_sql("SELECT COUNT(*) FROM traces").scalar_one()
            steps = conn.exec_driver_sql("SELECT COUNT(*) FROM trace_steps").scalar_one()
        return SourceTotals(runs=int(runs), steps=int(steps), orphan_runs=len(self.orphan_runs()))

    def prepare(self) -> None:
        self._replays()

    def refresh(self) -> None:
        with self._lock:
            self._replay_map = None
            self._evidence = None
            self._evidence_tables = None
            self._orphans = None
            self._sorted_keys.clear()

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()


def _merge(base: RunSummary, agg: RunSummary | None) -> RunSummary:
    if agg is None:
        agg = RunSummary.from_counters(base.run_id, (0, 0, 0, 0.0, 0.0))
    return base.with_counters(agg)

