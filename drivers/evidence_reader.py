"""Reading the evidence of runs (spec §3.7) and gathering upstream's integrity facts (§4),
read-only, on Postgres and on SQLite (our superset: a local ``traces.db`` may carry the same
evidence tables, made from ``drivers.evidence_schema``).

Facts are gathered with grouped counts: one statement per table for a whole chunk of runs
(``WHERE run_id = ANY(:ids) GROUP BY run_id`` on Postgres, ``IN (...)`` on SQLite), never one query
per table per run. A table the database lacks counts 0, as upstream's gatherer treats an SQL
error; a database with none of the evidence tables has no evidence store at all (``has_store``
False), and the UI says so rather than grading every run FAIL.

"Trace" and "trace steps" are upstream's ``aos_traces``/``aos_trace_steps`` on Postgres (steps
joined through ``trace_id``: every trace of the run id counts) and ``traces``/``trace_steps`` on
SQLite (keyed by ``run_id``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from drivers.evidence_schema import EVIDENCE_TABLES
from drivers.pg_common import Canceller, iso, translate_errors
from inspector.evidence import EvidenceRow, IndexAlignment, RunEvidence, StoredVerdict
from inspector.integrity import (
    EXPECTED_TABLES,
    CaptureFailure,
    EvidenceClass,
    IntegrityFacts,
    IntegrityGrade,
    IntegrityResult,
    assemble,
    evaluate,
)
from inspector.model import Payload

__all__ = [
    "EvidenceReader",
    "PostgresEvidenceReader",
    "StoredVerdict",
    "TableScan",
    "gather_facts",
    "grade_clause",
    "grade_rank_clause",
    "present_tables",
    "scan_tables",
]

#: The four evidence tables the gatherer counts by ``run_id`` (traces and steps are counted too).
_EVIDENCE_COUNTED = (EvidenceClass.H_ENVIRONMENT, EvidenceClass.B_ACTIVITY, EvidenceClass.G_PROVIDER,
                     EvidenceClass.D_DECISION)
_ALL_EVIDENCE = (*_EVIDENCE_COUNTED, EvidenceClass.J_INTEGRITY)
_FAILURES = "evidence_capture_failures"
#: Columns holding JSON (stored as text on SQLite): decoded when rows are read.
_JSON_COLUMNS = frozenset({
    "provider_safety_flags", "policies_evaluated", "evaluation_order", "thresholds_used",
    "customer_guardrail_result", "provider_moderation_result", "decision_reason_codes",
    "provider_safety_signals", "active_feature_flags", "expected_artifacts", "expected_artifact_schema",
    "observed_artifacts", "missing_artifacts", "missing_reasons", "coverage_metrics",
})
#: Boolean columns of the evidence tables (SQLite returns them as 0/1).
_BOOL_COLUMNS = frozenset(c.name for t in EVIDENCE_TABLES for c in t.columns if isinstance(c.type, sa.Boolean))
_TIME_COLUMNS = frozenset({"created_at", "evaluated_at", "requested_at", "responded_at", "verification_timestamp"})
_ROW_ORDER = {
    EvidenceClass.B_ACTIVITY: ("step_index", "id"),
    EvidenceClass.G_PROVIDER: ("step_index", "id"),
    EvidenceClass.D_DECISION: ("evaluated_at", "id"),
    EvidenceClass.H_ENVIRONMENT: ("created_at", "id"),
    EvidenceClass.J_INTEGRITY: ("created_at", "id"),
}


@dataclass(frozen=True, slots=True)
class _Dialect:
    traces: str
    steps: str
    #: Postgres steps reach their run through ``trace_id``; SQLite steps carry ``run_id``.
    steps_by_trace: bool
    chunk: int


_PG = _Dialect("aos_traces", "aos_trace_steps", True, 5000)
#: SQLite caps host parameters (999 before 3.32): chunks stay well below it.
_SQLITE = _Dialect("traces", "trace_steps", False, 500)


def _dialect(conn_or_engine: sa.Connection | sa.Engine) -> _Dialect:
    return _PG if conn_or_engine.dialect.name == "postgresql" else _SQLITE


#: The columns upstream's gatherer queries in each table (§4). A table without them is one its SQL
#: fails on, which it counts as empty; so does this reader, saying why (``unusable``). Other columns
#: (ordering, our own ``resolution`` and ``id`` of a failure, the stored verdict's) are read when
#: present and read as NULL when not.
_NEEDED = {**{c.value: ("run_id",) for c in _ALL_EVIDENCE},
           _FAILURES: ("run_id", "evidence_type", "failure_reason", "error_message")}


@dataclass(frozen=True, slots=True)
class TableScan:
    """What the database holds of the tables the reader reads: the usable ones with their columns,
    and the ones that exist but cannot be read (no SELECT for this role, or not upstream's shape),
    each with why."""

    columns: Mapping[str, frozenset[str]]
    unusable: Mapping[str, str]


def scan_tables(conn: sa.Connection) -> TableScan:
    """The evidence, failure and trace tables this database has, which this session may read and
    which have the columns upstream queries."""
    d = _dialect(conn)
    names = [c.value for c in _ALL_EVIDENCE] + [_FAILURES, d.traces, d.steps]
    found: dict[str, frozenset[str]] = {}
    unusable: dict[str, str] = {}
    if d is _PG:
        rows = conn.execute(sa.text(
            "SELECT name, to_regclass(name) IS NOT NULL, CASE WHEN to_regclass(name) IS NULL THEN false "
            "ELSE has_table_privilege(to_regclass(name), 'SELECT') END, "
            "ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = to_regclass(name) "
            "AND a.attnum > 0 AND NOT a.attisdropped) "
            "FROM unnest(CAST(:names AS text[])) AS name"), {"names": names}).all()
        for name, exists, readable, cols in rows:
            if exists and not readable:
                unusable[name] = "the connecting role has no SELECT privilege on it"
            elif exists:
                found[name] = frozenset(cols)
    else:
        have = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        for name in names:
            if name in have:
                try:
                    found[name] = frozenset(r[1] for r in conn.exec_driver_sql(f'PRAGMA table_info("{name}")'))
                except sa.exc.DBAPIError as exc:  # a view over something gone
                    unusable[name] = str(getattr(exc, "orig", exc)).strip()
    for name, cols in list(found.items()):
        lacking = [c for c in _NEEDED.get(name, ()) if c not in cols]
        if lacking:
            del found[name]
            unusable[name] = f"it has no column {', '.join(lacking)} (not upstream's table)"
    return TableScan(found, unusable)


def present_tables(conn: sa.Connection) -> frozenset[str]:
    """The evidence, failure and trace tables this database has and this session can read."""
    return frozenset(scan_tables(conn).columns)


def _has(tables: Mapping[str, frozenset[str]] | frozenset[str], table: str, column: str) -> bool:
    """Whether ``table`` has ``column`` (a bare set of table names: upstream's full tables)."""
    if isinstance(tables, Mapping):
        return column in tables.get(table, ())
    return table in tables


def _or_null(tables: Mapping[str, frozenset[str]] | frozenset[str], table: str, column: str) -> str:
    return column if _has(tables, table, column) else "NULL"


def _ids_in(d: _Dialect, column: str) -> str:
    return f"{column} = ANY(:ids)" if d is _PG else f"{column} IN :ids"


def _stmt(d: _Dialect, sql: str) -> sa.TextClause:
    stmt = sa.text(sql)
    if d is _SQLITE and ":ids" in sql:
        stmt = stmt.bindparams(sa.bindparam("ids", expanding=True))
    return stmt


def _fetch(conn: sa.Connection, stmt: sa.TextClause, params: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """The column names and every row of ``stmt``. On SQLite a TEXT value that is not UTF-8 (a
    foreign writer, a damaged page) fails the whole statement; it is then run again reading such
    text with replacement characters, as the trace reader does, so one bad cell spoils one field,
    not the grades of every run in the chunk."""

    def run() -> tuple[list[str], list[Any]]:
        result = conn.execute(stmt, params)
        return list(result.keys()), result.all()

    try:
        return run()
    except sa.exc.OperationalError as exc:
        if conn.dialect.name != "sqlite" or "could not decode to utf-8" not in str(exc.orig).lower():
            raise
    dbapi = conn.connection.dbapi_connection
    previous = dbapi.text_factory
    dbapi.text_factory = lambda data: data.decode("utf-8", "replace")
    try:
        return run()
    finally:
        dbapi.text_factory = previous


def _count_statements(d: _Dialect, tables: Mapping[str, frozenset[str]] | frozenset[str]
                      ) -> list[tuple[EvidenceClass, str]]:
    out = [(cls, f"SELECT run_id, count(*) FROM {cls.value} WHERE {_ids_in(d, 'run_id')} GROUP BY run_id")
           for cls in _EVIDENCE_COUNTED if cls.value in tables]
    if d.traces in tables:
        out.append((EvidenceClass.TRACE,
                    f"SELECT run_id, count(*) FROM {d.traces} WHERE {_ids_in(d, 'run_id')} GROUP BY run_id"))
    if d.steps in tables:
        if d.steps_by_trace and d.traces in tables:
            out.append((EvidenceClass.TRACE_STEPS,
                        (f"SELECT t.run_id, count(*) FROM {d.steps} s JOIN {d.traces} t ON s.trace_id = t.trace_id "
                         f"WHERE {_ids_in(d, 't.run_id')} GROUP BY t.run_id")))
        elif not d.steps_by_trace:
            out.append((EvidenceClass.TRACE_STEPS,
                        f"SELECT run_id, count(*) FROM {d.steps} WHERE {_ids_in(d, 'run_id')} GROUP BY run_id"))
    return out


def _gather_chunk(conn: sa.Connection, d: _Dialect, tables: Mapping[str, frozenset[str]] | frozenset[str],
                  ids: list[str]) -> dict[str, IntegrityFacts]:
    counts: dict[str, dict[EvidenceClass, int]] = {rid: {} for rid in ids}
    for cls, sql in _count_statements(d, tables):
        for rid, n in conn.execute(_stmt(d, sql), {"ids": ids}):
            if rid in counts:
                counts[rid][cls] = int(n)
    failures: dict[str, list[CaptureFailure]] = {rid: [] for rid in ids}
    if _FAILURES in tables:
        order = ", ".join(["run_id"] + [c for c in ("created_at", "id") if _has(tables, _FAILURES, c)])
        sql = (f"SELECT run_id, evidence_type, failure_reason, error_message, "
               f"{_or_null(tables, _FAILURES, 'resolution')}, {_or_null(tables, _FAILURES, 'id')} FROM {_FAILURES} "
               f"WHERE {_ids_in(d, 'run_id')} ORDER BY {order}")
        for rid, etype, reason, message, resolution, fid in _fetch(conn, _stmt(d, sql), {"ids": ids})[1]:
            if rid in failures:
                failures[rid].append(CaptureFailure(etype, reason, message, stored_resolution=resolution, id=fid))
    return {rid: assemble(rid, {c: counts[rid].get(c, 0) for c in EXPECTED_TABLES}, failures[rid]) for rid in ids}


def gather_facts(conn: sa.Connection, run_ids: Sequence[str], *,
                 tables: Mapping[str, frozenset[str]] | frozenset[str] | None = None) -> dict[str, IntegrityFacts]:
    """Upstream's integrity facts for each run, on this connection (so evidence written earlier in
    the caller's own transaction is seen: upstream's separate connection misses it, §11.15).
    ``tables``: the usable tables with their columns (:func:`scan_tables`), or a set of names of
    tables with all of upstream's columns."""
    d = _dialect(conn)
    tables = scan_tables(conn).columns if tables is None else tables
    ids = list(dict.fromkeys(run_ids))
    out: dict[str, IntegrityFacts] = {}
    for i in range(0, len(ids), d.chunk):
        out.update(_gather_chunk(conn, d, tables, ids[i:i + d.chunk]))
    return out


def grade_clause(run_id: sa.ColumnElement[Any], dialect_name: str, tables: frozenset[str]) -> sa.ColumnElement[str]:
    """Upstream's grade of the run ``run_id`` names, as one SQL expression (for filtering a runs list
    whose rows are traces, so the trace itself is observed):

    FAIL when environment evidence or steps are missing; else WARN when any capture failure exists;
    else PASS when at least two of activity, provider and policy evidence exist (5–6 of 6); else WARN.
    This is :func:`inspector.integrity.evaluate` restated for a database that has the trace row (the
    permanent-failure and below-half branches cannot be reached then); tests hold the two together."""
    d = _PG if dialect_name == "postgresql" else _SQLITE

    def exists(table: str) -> sa.ColumnElement[bool]:
        if table not in tables:
            return sa.false()
        t = sa.table(table, sa.column("run_id"))
        return sa.exists().where(t.c.run_id == run_id)

    if d.steps not in tables:
        steps: sa.ColumnElement[bool] = sa.false()
    elif d.steps_by_trace:
        t2 = sa.table(d.traces, sa.column("run_id"), sa.column("trace_id")).alias("grade_t")
        s = sa.table(d.steps, sa.column("trace_id")).alias("grade_s")
        steps = sa.exists().where(s.c.trace_id == t2.c.trace_id, t2.c.run_id == run_id)
    else:
        steps = exists(d.steps)

    def one(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.case((cond, 1), else_=0)

    expected = one(exists(EvidenceClass.B_ACTIVITY.value)) + one(exists(EvidenceClass.G_PROVIDER.value)) + one(
        exists(EvidenceClass.D_DECISION.value))
    return sa.case(
        (sa.or_(sa.not_(exists(EvidenceClass.H_ENVIRONMENT.value)), sa.not_(steps)), IntegrityGrade.FAIL.value),
        (exists(_FAILURES), IntegrityGrade.WARN.value),
        (expected >= 2, IntegrityGrade.PASS.value),
        else_=IntegrityGrade.WARN.value,
    )


#: Sort rank of each grade: ascending lists the worst first.
_GRADE_RANK = {IntegrityGrade.FAIL.value: 0, IntegrityGrade.WARN.value: 1, IntegrityGrade.PASS.value: 2}


def grade_rank_clause(run_id: sa.ColumnElement[Any], dialect_name: str,
                      tables: frozenset[str]) -> sa.ColumnElement[int]:
    """The grade's sort rank (FAIL 0, WARN 1, PASS 2) as SQL; 0 for every run without a store."""
    if not any(c.value in tables for c in _EVIDENCE_COUNTED):
        return sa.literal(0)
    return sa.case(_GRADE_RANK, value=grade_clause(run_id, dialect_name, tables), else_=0)


def _plain(name: str, value: Any) -> Any:
    """A column value as the panel and JSON show it: timestamps as ISO text, JSON decoded."""
    if isinstance(value, datetime | date):
        return iso(value) if isinstance(value, datetime) else value.isoformat()
    if name in _TIME_COLUMNS and isinstance(value, str):
        # SQLite keeps timestamps as SQLAlchemy's text ("2026-10-02 00:00:00.000000"): show ISO
        try:
            return iso(datetime.fromisoformat(value))
        except ValueError:
            return value
    if name in _BOOL_COLUMNS and isinstance(value, int) and not isinstance(value, bool):
        return bool(value)  # SQLite keeps booleans as 0/1
    if name in _JSON_COLUMNS and isinstance(value, str):
        parsed = Payload.from_text(value)  # text that does not parse (too deep, too long) stays text
        return parsed.value if parsed.ok else value
    return value


def _stored_score(value: Any) -> float | None:
    """A stored ``integrity_score`` as a float; None when absent or not a number (SQLite keeps
    whatever a foreign writer put in a REAL column, text included)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _stored_artifacts(name: str, value: Any) -> tuple[str, ...] | None:
    """A stored artifact list (``text[]``; JSON text on SQLite) as a tuple of names: () when NULL,
    None when it is not a list of names (broken JSON, a number, an object): unreadable, not a
    list of its characters."""
    value = _plain(name, value)
    if value is None:
        return ()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


class EvidenceReader:
    """The evidence of a source's runs, read through the source's own connections.

    ``reading(doing)`` is the source's context manager that checks out a connection and translates
    database errors into the inspector's errors naming the source."""

    def __init__(self, engine: sa.Engine, location: str, reading: Callable[[str], AbstractContextManager[sa.Connection]],
                 *, row_limit: int = 2000) -> None:
        self.engine = engine
        self.location = location
        self._reading = reading
        self._d = _dialect(engine)
        self.row_limit = row_limit
        with self._reading("looking for the evidence tables") as conn:
            scan = scan_tables(conn)
        #: The usable tables and their columns.
        self.columns: Mapping[str, frozenset[str]] = scan.columns
        self.tables = frozenset(scan.columns)
        #: Tables that exist but cannot be read, with why: counted as empty, as upstream's gatherer
        #: counts a table its SQL fails on (§4).
        self.unusable: Mapping[str, str] = scan.unusable

    @property
    def has_store(self) -> bool:
        """Whether the database has any evidence table at all, readable or not (else: "no
        evidence store")."""
        return any(c.value in self.tables or c.value in self.unusable for c in _EVIDENCE_COUNTED)

    @property
    def classes(self) -> frozenset[EvidenceClass]:
        """The evidence classes whose table exists."""
        return frozenset(c for c in _ALL_EVIDENCE if c.value in self.tables)

    def facts_for_runs(self, run_ids: Sequence[str]) -> dict[str, IntegrityFacts]:
        """Upstream's facts for every run: grouped counts, a chunk of runs per statement."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, IntegrityFacts] = {}
        for i in range(0, len(ids), self._d.chunk):
            with self._reading("counting evidence") as conn:
                out.update(_gather_chunk(conn, self._d, self.columns, ids[i:i + self._d.chunk]))
        return out

    def facts(self, run_id: str) -> IntegrityFacts:
        return self.facts_for_runs([run_id])[run_id]

    def grade_runs(self, run_ids: Sequence[str], *, progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> dict[str, IntegrityResult]:
        """Grade many runs, a chunk of grouped counts at a time, reporting ``progress(done, total)``
        after each chunk and stopping early (with what is graded so far) when ``cancelled()``."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, IntegrityResult] = {}
        for i in range(0, len(ids), self._d.chunk):
            if cancelled is not None and cancelled():
                break
            for rid, facts in self.facts_for_runs(ids[i:i + self._d.chunk]).items():
                out[rid] = evaluate(facts)
            if progress is not None:
                progress(min(i + self._d.chunk, len(ids)), len(ids))
        return out

    def stored_verdicts(self, run_ids: Sequence[str]) -> dict[str, StoredVerdict]:
        """The ``integrity_evidence`` rows upstream stored, by run id (the first per run)."""
        if EvidenceClass.J_INTEGRITY.value not in self.tables or not run_ids:
            return {}
        d = self._d
        j = EvidenceClass.J_INTEGRITY.value
        picked = ", ".join(_or_null(self.columns, j, c) for c in (
            "integrity_status", "integrity_score", "observed_artifacts", "missing_artifacts", "missing_reasons",
            "verification_method", "verification_timestamp", "id"))
        order = ", ".join(["run_id"] + [f"{c}{' DESC' if c == 'created_at' else ''}" for c in ("created_at", "id")
                                        if _has(self.columns, j, c)])
        sql = f"SELECT run_id, {picked} FROM {j} WHERE {_ids_in(d, 'run_id')} ORDER BY {order}"
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, StoredVerdict] = {}
        for i in range(0, len(ids), d.chunk):
            with self._reading("reading stored integrity verdicts") as conn:
                rows = _fetch(conn, _stmt(d, sql), {"ids": ids[i:i + d.chunk]})[1]
            for r in rows:
                out.setdefault(r[0], StoredVerdict(
                    r[0], r[1], _stored_score(r[2]), _stored_artifacts("observed_artifacts", r[3]),
                    _stored_artifacts("missing_artifacts", r[4]),
                    _plain("missing_reasons", r[5]), r[6], _plain("verification_timestamp", r[7]), r[8]))
        return out

    def _rows(self, conn: sa.Connection, cls: EvidenceClass, run_id: str) -> tuple[tuple[EvidenceRow, ...], bool]:
        order = ", ".join(c for c in _ROW_ORDER[cls] if _has(self.columns, cls.value, c))
        sql = f"SELECT * FROM {cls.value} WHERE run_id = :rid {'ORDER BY ' + order if order else ''} LIMIT :lim"
        names, raws = _fetch(conn, sa.text(sql), {"rid": run_id, "lim": self.row_limit + 1})
        rows = []
        for raw in raws[: self.row_limit + 1]:
            fields = tuple((n, _plain(n, v)) for n, v in zip(names, raw, strict=True))
            values = dict(fields)
            step = values.get("step_index")
            rows.append(EvidenceRow(cls, values.get("id"), step if isinstance(step, int) else None, fields))
        return tuple(rows[: self.row_limit]), len(rows) > self.row_limit

    def _alignment(self, conn: sa.Connection, cls: EvidenceClass, run_id: str) -> IndexAlignment:
        d = self._d
        ev = conn.execute(sa.text(
            f"SELECT count(step_index), min(step_index), max(step_index) FROM {cls.value} WHERE run_id = :rid"),
            {"rid": run_id}).one()
        if d.steps not in self.tables or (d.steps_by_trace and d.traces not in self.tables):
            return IndexAlignment(cls, int(ev[0]), ev[1], ev[2], 0, None, None,
                                  (), int(ev[0]))
        if d.steps_by_trace:
            steps_of_run = (f"FROM {d.steps} s JOIN {d.traces} t ON s.trace_id = t.trace_id "
                            "WHERE t.run_id = :rid")
        else:
            steps_of_run = f"FROM {d.steps} s WHERE s.run_id = :rid"
        tr = conn.execute(sa.text(f"SELECT count(*), min(s.step_index), max(s.step_index) {steps_of_run}"),
                          {"rid": run_id}).one()
        unmatched_sql = (f"SELECT e.step_index FROM {cls.value} e WHERE e.run_id = :rid AND e.step_index IS NOT NULL "
                         f"AND NOT EXISTS (SELECT 1 {steps_of_run} AND s.step_index = e.step_index)")
        n_unmatched = conn.execute(sa.text(f"SELECT count(*) FROM ({unmatched_sql}) u"), {"rid": run_id}).scalar_one()
        first = conn.execute(sa.text(unmatched_sql + " ORDER BY e.step_index LIMIT 50"), {"rid": run_id}).scalars().all()
        return IndexAlignment(cls, int(ev[0]), ev[1], ev[2], int(tr[0]), tr[1], tr[2], tuple(first), int(n_unmatched))

    def run_evidence(self, run_id: str) -> RunEvidence:
        """Everything the Evidence panel shows for one run: rows per class (up to ``row_limit``),
        the facts, the stored verdict and how B and G step indexes line up with the trace's."""
        facts = self.facts(run_id)
        rows: dict[EvidenceClass, tuple[EvidenceRow, ...]] = {}
        truncated = set()
        alignment = []
        with self._reading("reading the run's evidence") as conn:
            for cls in _ALL_EVIDENCE:
                if cls.value not in self.tables:
                    continue
                rows[cls], cut = self._rows(conn, cls, run_id)
                if cut:
                    truncated.add(cls)
            for cls in (EvidenceClass.B_ACTIVITY, EvidenceClass.G_PROVIDER):
                if _has(self.columns, cls.value, "step_index") and facts.counts.get(cls, 0):
                    alignment.append(self._alignment(conn, cls, run_id))
        stored = self.stored_verdicts([run_id]).get(run_id)
        return RunEvidence(run_id, facts, rows, frozenset(truncated), stored, tuple(alignment), self.classes,
                           dict(self.unusable))


class PostgresEvidenceReader(EvidenceReader):
    """An :class:`EvidenceReader` over a Postgres engine, with upstream's error translation and
    statements cancellable through ``canceller``."""

    def __init__(self, engine: sa.Engine, location: str, *, canceller: Canceller | None = None,
                 row_limit: int = 2000) -> None:
        self.canceller = canceller or Canceller()
        super().__init__(engine, location, self._pg_reading, row_limit=row_limit)

    @contextlib.contextmanager
    def _pg_reading(self, doing: str) -> Iterator[sa.Connection]:
        with translate_errors(self.location, doing), self.engine.connect() as conn, self.canceller.track(conn):
            yield conn
