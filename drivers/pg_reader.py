"""Read-only access to the AOS Postgres trace store (``aos_traces`` / ``aos_trace_steps``, spec §2).

Every session is read-only (``default_transaction_read_only = on``) with a statement timeout; a
running read can be cancelled from another thread (:meth:`PostgresTraceReader.cancel`).

What differs from SQLite, and how it is handled (spec §2, §11):

* A run may have several traces (``run_id`` is not unique): the runs list has one row per trace,
  keyed by ``trace_id`` (``RunSummary.key``); :meth:`traces_of` lists a run's traces newest first.
  Methods that take a key accept a trace id or, like upstream's ``get_trace``, a run id (its
  newest trace).
* Steps link to traces by ``trace_id``; ``step_index`` is unique per trace (first write wins).
* Worker statuses ``succeeded``/``failed``/``skipped`` are normalised and kept raw: never turned
  into ``success`` as upstream's reader does (§11.4).
* Soft-archived traces (``archived_at`` set) are hidden unless the filter asks for them.
* ``root_hash = 'pending'`` is kept as stored; the UI shows it as "not computed".
* Older schemas (columns added by later migrations missing) open: absent columns read as NULL.

Paging: the runs list is read with keyset pagination on ``(sort column, trace_id)``. A page at an
arbitrary offset (the user dragged the scroll bar) starts from the nearest page boundary already
seen, so sequential scrolling never uses a large ``OFFSET``. Steps are read by keyset on
``step_index``, and streamed through a server-side cursor by :meth:`iter_steps`.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import queue
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from drivers._sql import (
    count_activity,
    failed_run,
    seek_select,
    sql_list,
    step_extent_of,
    step_extent_select,
    step_slice,
)
from drivers.evidence_reader import PostgresEvidenceReader, grade_clause, grade_rank_clause
from drivers.pg_common import (
    DEFAULT_STATEMENT_TIMEOUT_MS,
    Canceller,
    PgLocation,
    iso,
    make_engine,
    translate_errors,
)
from inspector.errors import NotATraceSource, RunNotFound, SourceError
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
)
from inspector.records import replay_of
from inspector.source import Capability, SourceTotals, StepSeek
from inspector.step_rows import StepExtent

if TYPE_CHECKING:  # numpy loads with it: only when runs are counted over time
    from inspector.activity import RunActivity

__all__ = ["PENDING_ROOT_HASH", "PostgresTraceReader"]

PENDING_ROOT_HASH = "pending"

_SUMMARY_COLUMNS = ("trace_id", "run_id", "correlation_id", "tenant_id", "agent_id", "status", "started_at",
                   "completed_at", "archived_at")
_RECORD_COLUMNS = _SUMMARY_COLUMNS + (
    "plan", "metadata", "seed", "frozen_timestamp", "root_hash", "plan_hash", "created_at", "schema_version",
    "plan_id", "stored_by", "checksum", "incident_id", "is_synthetic", "synthetic_scenario_id",
    "violation_step_index", "violation_timestamp", "violation_policy_id", "violation_reason", "replay_mode",
    "replay_attempt_id", "replay_artifact_version", "trace_completeness_status", "trace",
)
#: Record fields shown as extras (everything not in RunRecord's own fields).
_EXTRA_RECORD_COLUMNS = _RECORD_COLUMNS[_RECORD_COLUMNS.index("plan_id"):]
_STEP_ROW_COLUMNS = ("trace_id", "step_index", "skill_name", "status", "outcome_category", "outcome_code",
                    "cost_cents", "duration_ms", "retry_count", "timestamp")
_STEP_EXTRA_COLUMNS = ("params", "outcome_data", "idempotency_key", "replay_behavior", "input_hash",
                      "output_hash", "rng_state_before", "skill_id", "source", "level", "is_synthetic",
                      "synthetic_scenario_id", "archived_at")
_JSON_COLUMNS = {"plan", "metadata", "trace", "params", "outcome_data"}
_FULL_STEP_COLUMNS = _STEP_ROW_COLUMNS + _STEP_EXTRA_COLUMNS
#: Step extras shown as they are (besides the payloads and the hashes Step has fields for).
_STEP_PLAIN_EXTRAS = ("skill_id", "source", "level", "is_synthetic", "synthetic_scenario_id", "archived_at")
#: Counters kept for reuse (see ``PostgresTraceReader._agg_cache``); beyond this many, start over.
_AGG_CACHE_MAX = 50_000

_SORT_COLUMNS = {
    RunSort.STARTED_AT: "started_at",
    RunSort.RUN_ID: "run_id",
    RunSort.STATUS: "status",
    RunSort.TENANT: "tenant_id",
    RunSort.AGENT: "agent_id",
}


_NORM = f"lower(btrim(status, E'{STATUS_WHITESPACE.encode('unicode_escape').decode()}'))"
#: Step counters as SQL, by the RunSummary field they fill.
_AGG_EXPRS = {
    "total_steps": "count(*)",
    "success_count": f"count(*) FILTER (WHERE {_NORM} IN ({sql_list(raw_statuses(StepStatus.SUCCESS))}))",
    "failure_count": f"count(*) FILTER (WHERE {_NORM} IN ({sql_list(raw_statuses(StepStatus.FAILURE))}))",
    "total_cost_cents": "coalesce(sum(cost_cents), 0)",
    "total_duration_ms": "coalesce(sum(duration_ms), 0)",
}
_AGG_SELECT = ", ".join(f"{expr} AS {name}" for name, expr in _AGG_EXPRS.items())


#: Everything opening needs in one round trip. The column list is information_schema.columns
#: (only the columns the role has some right on) read from pg_catalog, for the tables the
#: search path finds (as every later statement does)
#: directly: the information_schema view alone took 7–16 ms of a ~30 ms open.
_INSPECT_SQL = """
SELECT current_setting('server_version'),
       to_regclass('aos_traces') IS NOT NULL, to_regclass('aos_trace_steps') IS NOT NULL, current_user,
       ARRAY(SELECT c.relname::text || '.' || a.attname::text
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             WHERE c.oid IN (to_regclass('aos_traces'), to_regclass('aos_trace_steps'))
               AND c.relkind IN ('r', 'v', 'f', 'p')
               AND a.attnum > 0 AND NOT a.attisdropped
               AND (pg_has_role(c.relowner, 'USAGE')
                    OR has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES')))
"""


class PostgresTraceReader:
    """A :class:`inspector.source.TraceSource` over the AOS Postgres schema, read-only."""

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
        connect_timeout_s: int = 5,
    ) -> None:
        self.pg = PgLocation(url, password)
        self.location = self.pg.display
        self.engine = make_engine(self.pg, statement_timeout_ms=statement_timeout_ms,
                                  connect_timeout_s=connect_timeout_s)
        self.canceller = Canceller()
        self._lock = threading.RLock()
        self._replay_map: dict[str, list[str]] | None = None
        self._sorted_keys: dict[tuple, list[str]] = {}
        self._anchors: dict[tuple, dict[int, tuple]] = {}
        self._run_of_trace: dict[str, str] = {}
        #: Step counters per trace key from the last :meth:`aggregate_runs` (until :meth:`refresh`):
        #: the side lists of a clicked run (its other traces, its replays) reuse what the runs list
        #: just counted instead of reading a 100k-step trace again before its first steps.
        self._agg_cache: dict[str, RunSummary] = {}
        self._logs = None
        self._evidence = None
        try:
            self._inspect_schema()
        except BaseException:
            self.engine.dispose()
            raise

    # -- plumbing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, doing: str) -> Iterator[sa.Connection]:
        """A pooled read-only connection whose running statement :meth:`cancel` can stop; errors
        inside come out as :class:`inspector.errors.SourceError` naming ``doing``."""
        with translate_errors(self.location, doing), self.engine.connect() as conn, self.canceller.track(conn):
            yield conn

    def _inspect_schema(self) -> None:
        with self._connect("opening the database") as conn:
            server, *present, columns = conn.execute(sa.text(_INSPECT_SQL)).one()
        cols: dict[str, set[str]] = {"aos_traces": set(), "aos_trace_steps": set()}
        for qualified in columns:
            tbl, col = qualified.split(".", 1)
            cols[tbl].add(col)
        unreadable = [t for (t, c), exists in zip(cols.items(), present[:2], strict=True) if exists and not c]
        if unreadable:
            # The column list holds only the columns the role may use (as information_schema).
            raise SourceError(
                f"user {present[2]} may not read {', '.join(unreadable)}: ask for SELECT rights on the AOS tables",
                location=self.location,
            )
        missing = [t for t, c in cols.items() if not c]
        if missing:
            raise NotATraceSource(
                f"is a Postgres database without the AOS trace tables (missing {', '.join(missing)})",
                location=self.location,
            )
        for tbl, need in (("aos_traces", ("trace_id", "run_id")), ("aos_trace_steps", ("trace_id", "step_index"))):
            lacking = [c for c in need if c not in cols[tbl]]
            if lacking:
                raise NotATraceSource(f"table {tbl} has no column {', '.join(lacking)}", location=self.location)
        self._trace_cols = cols["aos_traces"]
        self._step_cols = cols["aos_trace_steps"]
        self._plain_extras = tuple((c, _FULL_STEP_COLUMNS.index(c)) for c in _STEP_PLAIN_EXTRAS if c in self._step_cols)
        self._traces = sa.table("aos_traces", *[sa.column(c) for c in _RECORD_COLUMNS + ("id",)])
        self._steps = sa.table("aos_trace_steps", *[sa.column(c) for c in _FULL_STEP_COLUMNS])
        absent = [c for c in _RECORD_COLUMNS if c not in self._trace_cols] + [
            f"aos_trace_steps.{c}" for c in _FULL_STEP_COLUMNS if c not in self._step_cols
        ]
        self.server_version = server
        notes = []
        if absent:
            notes.append(f"older schema: columns {', '.join(absent)} are absent and shown empty")
        caps = {Capability.RUNS, Capability.STEPS, Capability.REFRESH, Capability.TRACES_PER_RUN}
        if "archived_at" in self._trace_cols:
            caps.add(Capability.ARCHIVE)
        self.info = SourceInfo(
            location=self.location,
            kind="postgres",
            display_name=self.pg.short,
            read_only=True,
            capabilities=frozenset(caps),
            notes=tuple(notes),
        )

    def _col(self, name: str, *, steps: bool = False):
        tbl, have = (self._steps, self._step_cols) if steps else (self._traces, self._trace_cols)
        if name not in have:
            return sa.literal(None).label(name)
        col = tbl.c[name]
        if name in _JSON_COLUMNS:
            # As text: parsed once by Payload, which keeps the raw text for the viewer.
            return sa.cast(col, sa.Text).label(name)
        return col.label(name)

    def _select(self, names: Sequence[str], *, steps: bool = False):
        src = self._steps if steps else self._traces
        return sa.select(*[self._col(n, steps=steps) for n in names]).select_from(src)

    def _replay_meta(self):
        if "metadata" not in self._trace_cols:
            return sa.literal(None).label("replay_of")
        return self._traces.c.metadata.op("->>")("replay_of").label("replay_of")

    def _apply_filter(self, stmt, flt: RunFilter):
        t = self._traces.c
        if flt.status is not None:
            stmt = stmt.where(t.status == flt.status)
        if flt.tenant_id is not None:
            stmt = stmt.where(t.tenant_id == flt.tenant_id)
        if flt.agent_id is not None:
            stmt = stmt.where(t.agent_id == flt.agent_id)
        if flt.since is not None:
            stmt = stmt.where(t.started_at >= sa.cast(flt.since, sa.DateTime(timezone=True)))
        if flt.until is not None:
            stmt = stmt.where(t.started_at <= sa.cast(flt.until, sa.DateTime(timezone=True)))
        if flt.run_id_prefix:
            escaped = flt.run_id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            # A prefix matches a run id or a trace id (worker traces are ``trace_`` + run id).
            stmt = stmt.where(sa.or_(t.run_id.like(escaped + "%", escape="\\"),
                                     t.trace_id.like(escaped + "%", escape="\\")))
        if flt.keys is not None:
            # A run's key here is its trace id; one array parameter however many (Postgres allows
            # 65,535 parameters a statement).
            stmt = stmt.where(t.trace_id == sa.any_(sa.bindparam(None, sorted(flt.keys), ARRAY(sa.Text))))
        if not flt.include_archived and "archived_at" in self._trace_cols:
            stmt = stmt.where(t.archived_at.is_(None))
        if flt.grade is not None:
            ev = self.evidence()
            if not ev.has_store:
                return stmt.where(sa.false())
            stmt = stmt.where(grade_clause(t.run_id, "postgresql", ev.tables) == flt.grade)
        return stmt

    def _summary(self, m: Any) -> RunSummary:
        original = m.get("replay_of") if "replay_of" in m else None
        if original is None and "metadata" in m and m["metadata"] is not None:
            original = replay_of(Payload.from_text(m["metadata"]))
        trace_id = m["trace_id"]
        run_id = m["run_id"] or ""
        self._run_of_trace[trace_id] = run_id
        return RunSummary(
            run_id=run_id,
            correlation_id=m["correlation_id"],
            tenant_id=m["tenant_id"],
            agent_id=m["agent_id"],
            status=m["status"],
            started_at=iso(m["started_at"]),
            completed_at=iso(m["completed_at"]),
            replay_of=str(original) if original is not None else None,
            trace_id=trace_id,
            archived=m["archived_at"] is not None,
        )

    # -- runs ----------------------------------------------------------------------------------

    def count_runs(self, flt: RunFilter) -> int:
        stmt = self._apply_filter(sa.select(sa.func.count()).select_from(self._traces), flt)
        with self._connect("counting runs") as conn:
            return int(conn.execute(stmt).scalar_one())

    def run_activity(self, flt: RunFilter, max_intervals: int = 120) -> RunActivity:
        """Runs and failed runs per interval of the filter's span (``RunActivitySource``)."""
        t = self._traces.c
        # ±infinity is a timestamptz too, and no time to plan intervals around: undated.
        epoch = sa.case((sa.func.isfinite(t.started_at), sa.cast(sa.extract("epoch", t.started_at), sa.Float))) \
            if "started_at" in self._trace_cols else sa.literal(None, sa.Float)
        status = t.status if "status" in self._trace_cols else sa.literal(None, sa.Text)
        runs = self._apply_filter(sa.select(epoch.label("t"), failed_run(status).label("f"))
                                  .select_from(self._traces), flt)
        with self._connect("counting runs over time") as conn:
            return count_activity(lambda stmt: conn.execute(stmt).all(), runs, max_intervals,
                                  lambda x: sa.cast(sa.func.floor(x), sa.BigInteger))

    def _sort_expr(self, sort: RunSort):
        if sort is RunSort.GRADE:
            return grade_rank_clause(self._traces.c.run_id, "postgresql", self.evidence().tables)
        name = _SORT_COLUMNS[sort]
        if name not in self._trace_cols:
            return sa.literal("")
        col = self._traces.c[name]
        # Keyset comparisons need a total order without NULLs; agent_id is nullable.
        return sa.func.coalesce(col, "") if name == "agent_id" else col

    def list_runs(self, flt, sort=RunSort.STARTED_AT, descending=True, offset=0, limit=100, *, with_aggregates=True):
        if sort.needs_aggregates:
            keys = self._keys_by_aggregate(flt, sort, descending)[offset : offset + limit]
            runs = self._runs_by_keys(keys)
            return self._with_aggregates(runs) if with_aggregates else runs
        expr = self._sort_expr(sort)
        tid = self._traces.c.trace_id
        anchors = self._anchors.setdefault((flt, sort, descending), {0: ()})
        starts = sorted(anchors)
        start = starts[bisect.bisect_right(starts, offset) - 1]
        anchor = anchors[start]
        stmt = self._select(_SUMMARY_COLUMNS).add_columns(self._replay_meta(), expr.label("_sort"))
        stmt = self._apply_filter(stmt, flt)
        if anchor:
            after = sa.tuple_(expr, tid) < sa.tuple_(*[sa.literal(v) for v in anchor]) if descending \
                else sa.tuple_(expr, tid) > sa.tuple_(*[sa.literal(v) for v in anchor])
            stmt = stmt.where(after)
        order = (expr.desc(), tid.desc()) if descending else (expr.asc(), tid.asc())
        stmt = stmt.order_by(*order).offset(offset - start).limit(limit)
        with self._connect("listing runs") as conn:
            rows = conn.execute(stmt).mappings().all()
        if rows and len(anchors) < 10_000:
            anchors[offset + len(rows)] = (rows[-1]["_sort"], rows[-1]["trace_id"])
        runs = [self._summary(r) for r in rows]
        return self._with_aggregates(runs) if with_aggregates else runs

    def _runs_by_keys(self, keys: Sequence[str]) -> list[RunSummary]:
        if not keys:
            return []
        stmt = self._select(_SUMMARY_COLUMNS).add_columns(self._replay_meta())
        stmt = stmt.where(self._traces.c.trace_id.in_(list(keys)))
        with self._connect("reading runs") as conn:
            by_key = {r["trace_id"]: self._summary(r) for r in conn.execute(stmt).mappings()}
        return [by_key[k] for k in keys if k in by_key]

    def _with_aggregates(self, runs: list[RunSummary], *, cached: bool = False) -> list[RunSummary]:
        """``runs`` with their step counters; ``cached`` takes counters already read since the last
        :meth:`refresh` where there are some, and counts only the others."""
        keys = [r.key for r in runs]
        aggs: dict[str, RunSummary] = {}
        if cached:
            with self._lock:
                aggs = {k: self._agg_cache[k] for k in keys if k in self._agg_cache}
        missing = [k for k in keys if k not in aggs]
        if missing:
            aggs.update(self.aggregate_runs(missing))
        return [r.with_counters(aggs[r.key]) if r.key in aggs else r for r in runs]

    def aggregate_runs(self, run_ids: Sequence[str]) -> dict[str, RunSummary]:
        """Step counters per trace key (the composite index serves each trace's steps)."""
        keys = list(dict.fromkeys(run_ids))
        out: dict[str, RunSummary] = {}
        if not keys:
            return out
        sql = sa.text(f"SELECT trace_id, {_AGG_SELECT} FROM aos_trace_steps WHERE trace_id = ANY(:keys) "
                      "GROUP BY trace_id")
        with self._connect("counting steps") as conn:
            for row in conn.execute(sql, {"keys": keys}):
                out[row[0]] = RunSummary.from_counters(row[0], row[1:])
        for key in keys:
            out.setdefault(key, RunSummary.from_counters(key, (0, 0, 0, 0.0, 0.0)))
        with self._lock:
            if len(self._agg_cache) + len(out) > _AGG_CACHE_MAX:
                self._agg_cache.clear()
            self._agg_cache.update(out)
        return out

    def _keys_by_aggregate(self, flt: RunFilter, sort: RunSort, descending: bool) -> list[str]:
        key = (flt, sort, descending)
        with self._lock:
            if key in self._sorted_keys:
                return self._sorted_keys[key]
        ids = self._apply_filter(sa.select(self._traces.c.trace_id).select_from(self._traces), flt)
        base = ids.subquery("t")
        direction = "DESC" if descending else "ASC"
        steps = sa.table("aos_trace_steps", sa.column("trace_id"))
        # Only the filtered traces' steps are counted (a tenant's, not the whole table's).
        agg = (
            sa.select(steps.c.trace_id, sa.literal_column(_AGG_EXPRS[sort.value]).label(sort.value))
            .where(steps.c.trace_id.in_(ids))
            .group_by(steps.c.trace_id)
            .subquery("a")
        )
        stmt = (
            sa.select(base.c.trace_id)
            .select_from(base.outerjoin(agg, agg.c.trace_id == base.c.trace_id))
            .order_by(sa.text(f"coalesce(a.{sort.value}, 0) {direction}, t.trace_id {direction}"))
        )
        with self._connect("sorting runs by their steps") as conn:
            keys = [r[0] for r in conn.execute(stmt)]
        with self._lock:
            self._sorted_keys[key] = keys
        return keys

    def orphan_runs(self) -> list[RunSummary]:
        # aos_trace_steps.trace_id has a foreign key with ON DELETE CASCADE: no orphans (§2.2).
        return []

    def _resolve(self, conn: sa.Connection, key: str) -> Any:
        """The trace row for a trace id, or for a run id its newest trace (upstream's get_trace)."""
        names = _RECORD_COLUMNS
        stmt = self._select(names).where(self._traces.c.trace_id == key)
        row = conn.execute(stmt).mappings().first()
        if row is None:
            order = self._traces.c.created_at.desc() if "created_at" in self._trace_cols else self._traces.c.trace_id
            stmt = self._select(names).where(self._traces.c.run_id == key).order_by(
                order, self._traces.c.trace_id.desc()).limit(1)
            row = conn.execute(stmt).mappings().first()
        return row

    def get_run(self, run_id: str, *, with_aggregates: bool = True) -> RunRecord:
        with self._connect(f"reading run {run_id}") as conn:
            m = self._resolve(conn, run_id)
        if m is None:
            raise RunNotFound(f"no trace or run {run_id!r}", location=self.location)
        summary = self._summary(m)
        if with_aggregates:
            summary = summary.with_counters(self.aggregate_runs([summary.key])[summary.key])
        extra = {c: _plain(m[c]) for c in _EXTRA_RECORD_COLUMNS if c in self._trace_cols and c != "trace"}
        if "archived_at" in self._trace_cols:
            extra["archived_at"] = iso(m["archived_at"])
        if "trace" in self._trace_cols:
            extra["trace"] = Payload.from_text(m["trace"])
        return RunRecord(
            summary=summary,
            plan=Payload.from_text(m["plan"]),
            metadata=Payload.from_text(m["metadata"]),
            seed=m["seed"],
            frozen_timestamp=m["frozen_timestamp"],
            root_hash=m["root_hash"],
            plan_hash=m["plan_hash"],
            created_at=iso(m["created_at"]),
            schema_version=m["schema_version"],
            extra=extra,
        )

    def traces_of(self, run_id: str) -> list[RunSummary]:
        """Every trace of a run, newest first (run ids are not unique in Postgres, §11.1).
        Archived traces are included and marked. Step counters already read since the last
        :meth:`refresh` (the runs list counts what it shows) are reused, not read again."""
        order = self._traces.c.created_at.desc() if "created_at" in self._trace_cols else self._traces.c.trace_id
        stmt = self._select(_SUMMARY_COLUMNS).add_columns(self._replay_meta())
        stmt = stmt.where(self._traces.c.run_id == run_id).order_by(order, self._traces.c.trace_id.desc())
        with self._connect(f"listing the traces of run {run_id}") as conn:
            runs = [self._summary(r) for r in conn.execute(stmt).mappings()]
        return self._with_aggregates(runs, cached=True)

    # -- steps ---------------------------------------------------------------------------------

    def _trace_key(self, key: str) -> tuple[str, str]:
        """(trace_id, run_id) for a key that is a trace id or a run id."""
        if key in self._run_of_trace:
            return key, self._run_of_trace[key]
        with self._connect(f"finding trace {key}") as conn:
            m = conn.execute(
                sa.text("SELECT trace_id, run_id FROM aos_traces WHERE trace_id = :k "
                        "UNION ALL (SELECT trace_id, run_id FROM aos_traces WHERE run_id = :k "
                        "ORDER BY created_at DESC, trace_id DESC LIMIT 1) LIMIT 1"),
                {"k": key},
            ).first()
        if m is None:
            raise RunNotFound(f"no trace or run {key!r}", location=self.location)
        self._run_of_trace[m[0]] = m[1]
        return m[0], m[1]

    # Step rows are read by position, in the order of _FULL_STEP_COLUMNS (_STEP_ROW_COLUMNS first):
    # a 100k-step stream spends its time in these two methods.

    @staticmethod
    def _step_row(r: Sequence[Any], run_id: str) -> StepRow:
        trace_id, step_index, skill_name, status, category, code, cost, duration, retries, timestamp = r[:10]
        return StepRow(
            row_id=None,
            run_id=run_id,
            step_index=step_index,
            skill_name=skill_name,
            status_raw=status,
            outcome_category=category,
            outcome_code=code,
            cost_cents=None if cost is None else float(cost),
            duration_ms=None if duration is None else float(duration),
            retry_count=retries,
            timestamp=iso(timestamp),
            trace_id=trace_id,
        )

    def _full_step(self, r: Sequence[Any], run_id: str) -> Step:
        extra = {name: r[i] for name, i in self._plain_extras}
        if extra.get("archived_at") is not None:  # the only timestamp among them
            extra["archived_at"] = iso(extra["archived_at"])
        return Step(
            row=self._step_row(r, run_id),
            params=_payload(r[10]),
            outcome_data=_payload(r[11]),
            idempotency_key=r[12],
            replay_behavior=r[13],
            input_hash=r[14],
            output_hash=r[15],
            rng_state_before=r[16],
            extra=extra,
        )

    def count_steps(self, run_id: str) -> int:
        trace_id, _ = self._trace_key(run_id)
        with self._connect(f"counting steps of {trace_id}") as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM aos_trace_steps WHERE trace_id = :t"),
                                    {"t": trace_id}).scalar_one())

    def list_steps(self, run_id: str, after_index: int | None = None, limit: int = 500) -> list[StepRow]:
        trace_id, rid = self._trace_key(run_id)
        stmt = self._select(_STEP_ROW_COLUMNS, steps=True).where(self._steps.c.trace_id == trace_id)
        if after_index is not None:
            stmt = stmt.where(self._steps.c.step_index > after_index)
        stmt = stmt.order_by(self._steps.c.step_index).limit(limit)
        with self._connect(f"reading steps of {trace_id}") as conn:
            return [self._step_row(r, rid) for r in conn.execute(stmt)]

    def step_columns(self, run_id: str, every: int = 1, *, after: Any = None,
                     limit: int | None = None) -> tuple[Sequence[Any], ...]:
        """The step timeline's columns in one statement (``StepColumnsSource``)."""
        trace_id, _rid = self._trace_key(run_id)
        names = ("step_index", "timestamp", "duration_ms", "status", "retry_count", "cost_cents")
        stmt = self._select(names, steps=True).where(self._steps.c.trace_id == trace_id).order_by(
            self._steps.c.step_index)
        stmt = step_slice(stmt, self._steps.c.step_index, every, after, limit)
        with self._connect(f"reading the step columns of {trace_id}") as conn:
            rows = conn.execute(stmt).all()
        cols = tuple(list(c) for c in zip(*rows, strict=True)) if rows else tuple([] for _ in names)
        if cols[2] and not isinstance(cols[2][0], float | type(None)):
            cols = (cols[0], cols[1], [None if v is None else float(v) for v in cols[2]], cols[3], cols[4],
                    [None if v is None else float(v) for v in cols[5]])
        return cols

    def step_extent(self, run_id: str) -> StepExtent:
        """``StepKeysSource``: the trace's count and smallest and largest step_index."""
        trace_id, _ = self._trace_key(run_id)
        c = self._steps.c
        with self._connect(f"counting the steps of {trace_id}") as conn:
            return step_extent_of(conn.execute(step_extent_select(self._steps, c.trace_id == trace_id,
                                                                  c.step_index)).one())

    def step_keys(self, run_id: str) -> Sequence[Any]:
        """``StepKeysSource``: the trace's step_index values in order (an index-only scan)."""
        trace_id, _ = self._trace_key(run_id)
        c = self._steps.c
        stmt = sa.select(c.step_index).where(c.trace_id == trace_id).order_by(c.step_index)
        compiled = stmt.compile(dialect=self.engine.dialect)
        with self._connect(f"listing the steps of {trace_id}") as conn:
            cur = conn.connection.driver_connection.execute(str(compiled), compiled.params)
            return [r[0] for r in cur.fetchall()]

    def seek_step(self, run_id: str, after: Any, what: StepSeek, *, backward: bool = False) -> Any:
        """``StepKeysSource``: the next (previous) failed or retried step's step_index."""
        trace_id, _ = self._trace_key(run_id)
        c = self._steps.c
        have = self._step_cols
        status = sa.cast(c.status, sa.Text) if "status" in have else sa.null()
        norm = sa.func.lower(sa.func.btrim(status, STATUS_WHITESPACE))
        retries = c.retry_count > 0 if "retry_count" in have else sa.false()
        stmt = seek_select(self._steps, c.trace_id == trace_id, c.step_index, norm, retries, after, what, backward)
        with self._connect(f"looking for the {'previous' if backward else 'next'} {what.value} in {trace_id}") as conn:
            row = conn.execute(stmt).first()
        return row[0] if row is not None else None

    def iter_steps(self, run_id: str, batch: int = 2000) -> Iterator[Step]:
        """Every step with payloads, streamed through a server-side cursor (one snapshot).

        The cursor is psycopg's own (the statement compiled by SQLAlchemy), read in batches by a
        helper thread one batch ahead: the server's jsonb → text conversion and the transfer
        overlap with turning the previous batch into steps instead of alternating with it, and
        no SQLAlchemy row is made per step."""
        trace_id, rid = self._trace_key(run_id)
        stmt = self._select(_FULL_STEP_COLUMNS, steps=True).where(
            self._steps.c.trace_id == trace_id).order_by(self._steps.c.step_index)
        compiled = stmt.compile(dialect=self.engine.dialect)
        full_step = self._full_step
        with self._connect(f"reading steps of {trace_id}") as conn:
            # The pool rolls the session back when the connection is returned: the cursor's
            # transaction ends there, also when the caller stops early.
            raw = conn.connection.driver_connection
            try:
                cur = raw.cursor(name="aos_trace_inspector_steps")
                try:
                    cur.execute(str(compiled), compiled.params)
                    for rows in _read_ahead(iter(lambda: cur.fetchmany(batch), [])):
                        for row in rows:
                            yield full_step(row, rid)
                finally:
                    if _close_cursor(raw, cur):
                        conn.invalidate()
            except BaseException:
                # SQLAlchemy did not see the error: tell the pool a lost connection is gone, or it
                # would try (and loudly fail) to roll it back when it comes back.
                if raw.closed or raw.broken:
                    conn.invalidate()
                raise

    def get_step(self, run_id: str, step_index: int) -> Step:
        trace_id, rid = self._trace_key(run_id)
        stmt = self._select(_FULL_STEP_COLUMNS, steps=True).where(
            self._steps.c.trace_id == trace_id, self._steps.c.step_index == step_index)
        with self._connect(f"reading step {step_index} of {trace_id}") as conn:
            m = conn.execute(stmt).first()
        if m is None:
            raise RunNotFound(f"trace {trace_id!r} has no step {step_index}", location=self.location)
        return self._full_step(m, rid)

    # -- replays, values, totals ---------------------------------------------------------------

    def _replays(self) -> dict[str, list[str]]:
        with self._lock:
            if self._replay_map is not None:
                return self._replay_map
        mapping: dict[str, list[str]] = {}
        if "metadata" in self._trace_cols:
            sql = sa.text("SELECT metadata->>'replay_of', trace_id FROM aos_traces WHERE metadata ? 'replay_of' "
                          "ORDER BY started_at, trace_id")
            with self._connect("looking for replays") as conn:
                for original, trace_id in conn.execute(sql):
                    if original:
                        mapping.setdefault(original, []).append(trace_id)
        with self._lock:
            self._replay_map = mapping
        return mapping

    def replays_of(self, run_id: str) -> list[RunSummary]:
        """Replays name their original by run id (``metadata.replay_of``); ``run_id`` may be a key.
        Counters are reused as in :meth:`traces_of`."""
        try:
            original = self._trace_key(run_id)[1]
        except RunNotFound:
            original = run_id
        keys = self._replays().get(original, [])
        return self._with_aggregates(self._runs_by_keys(keys), cached=True) if keys else []

    def distinct_values(self, field: str) -> list[str]:
        if field not in ("status", "tenant_id", "agent_id"):
            raise ValueError(f"not a filterable field: {field}")
        if field not in self._trace_cols:
            return []
        sql = sa.text(f"SELECT DISTINCT {field} FROM aos_traces WHERE {field} IS NOT NULL ORDER BY 1")
        with self._connect(f"listing {field} values") as conn:
            return [v for (v,) in conn.execute(sql)]

    def totals(self) -> SourceTotals:
        archived = " WHERE archived_at IS NULL" if "archived_at" in self._trace_cols else ""
        with self._connect("counting") as conn:
            runs = conn.execute(sa.text(f"SELECT count(*) FROM aos_traces{archived}")).scalar_one()
            steps = conn.execute(sa.text("SELECT count(*) FROM aos_trace_steps")).scalar_one()
        return SourceTotals(runs=int(runs), steps=int(steps), orphan_runs=0)

    def prepare(self) -> None:
        self._replays()

    def refresh(self) -> None:
        with self._lock:
            self._replay_map = None
            self._evidence = None
            self._sorted_keys.clear()
            self._anchors.clear()
            self._agg_cache.clear()

    def cancel(self) -> int:
        """Ask the server to stop every statement this reader is running (any thread may call)."""
        return self.canceller.cancel_all()

    def logs(self):
        """The logs-domain reader over the same connections (audit, LLM, system records, …),
        cancelled with this reader. Built (a catalogue read) outside the lock, so other workers'
        reads never wait on it."""
        with self._lock:
            if self._logs is not None:
                return self._logs
        from drivers.pg_logs import PostgresLogsReader

        logs = PostgresLogsReader(self.engine, self.location, canceller=self.canceller)
        with self._lock:
            if self._logs is None:
                self._logs = logs
            return self._logs

    def evidence(self) -> PostgresEvidenceReader:
        """The evidence reader over the same connections (cancelled with this reader); its
        ``has_store`` is False for a database without evidence tables."""
        with self._lock:
            if self._evidence is not None:
                return self._evidence
        ev = PostgresEvidenceReader(self.engine, self.location, canceller=self.canceller)
        with self._lock:
            if self._evidence is None:
                self._evidence = ev
            return self._evidence

    def run_ids(self, flt: RunFilter) -> list[str]:
        """The distinct run ids of the traces in the filter (what grading all runs grades)."""
        stmt = self._apply_filter(sa.select(self._traces.c.run_id).select_from(self._traces), flt).distinct()
        with self._connect("listing run ids") as conn:
            return list(conn.execute(stmt).scalars())

    def ping(self) -> None:
        """One round trip to the server (the reconnect probe): cheap whatever the tables hold."""
        with self._connect("reaching the server") as conn:
            conn.execute(sa.text("SELECT 1"))

    def iter_runs(self, flt: RunFilter, sort: RunSort = RunSort.STARTED_AT, descending: bool = True,
                  batch: int = 2000) -> Iterator[RunSummary]:
        """Every run in the filter, in order, from one sorted scan streamed through a server-side
        cursor (the CLI's full listing; paging it would sort the table once per page), with
        counters added a batch at a time."""
        if sort.needs_aggregates:
            keys = self._keys_by_aggregate(flt, sort, descending)
            for i in range(0, len(keys), batch):
                yield from self._with_aggregates(self._runs_by_keys(keys[i:i + batch]))
            return
        expr = self._sort_expr(sort)
        tid = self._traces.c.trace_id
        stmt = self._apply_filter(self._select(_SUMMARY_COLUMNS).add_columns(self._replay_meta()), flt)
        stmt = stmt.order_by(*((expr.desc(), tid.desc()) if descending else (expr.asc(), tid.asc())))
        with self._connect("listing runs") as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt).mappings()
            try:
                while rows := result.fetchmany(batch):
                    yield from self._with_aggregates([self._summary(r) for r in rows])
            finally:
                result.close()

    def close(self, wait_s: float = 5.0) -> None:
        """Close every connection. ``dispose()`` closes only the pooled ones; one still checked
        out (a read another thread is finishing, e.g. after a cancel) would be left to the garbage
        collector, so wait a little for it to come back first."""
        import time

        deadline = time.monotonic() + wait_s
        while self.engine.pool.checkedout() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.engine.dispose()


#: The C scanner ``json.loads`` itself uses, without the wrappers around it (two regex matches and
#: three calls per value): jsonb's text has no surrounding blanks, so a payload parses in one call.
_scan_json = json.JSONDecoder().scan_once


def _payload(raw: Any) -> Payload:
    """``Payload.from_text(raw)``, faster for the common case (a str that is one JSON value)."""
    if raw.__class__ is str:
        try:
            value, end = _scan_json(raw, 0)
        except (StopIteration, ValueError, RecursionError):
            pass
        else:
            if end == len(raw):
                return Payload(raw, value, None)
    return Payload.from_text(raw)  # None, errors, and anything unusual: the reference path


_END = object()


def _close_cursor(raw: Any, cur: Any) -> bool:
    """Close a server-side cursor, also on a connection the server dropped: closing sends CLOSE,
    which fails there and leaves the cursor open (a ResourceWarning later); closing the dead
    connection first lets the cursor close locally. True when the connection was lost (the caller
    invalidates it, so the pool does not try to reset it)."""
    try:
        cur.close()
    except psycopg.Error:
        if raw.broken or raw.closed:
            raw.close()
            cur.close()
            return True
        raise
    return False


def _read_ahead(batches: Iterator[Any]) -> Iterator[Any]:
    """The items of ``batches``, each next one already being read by a helper thread while the
    caller handles the current one (one batch ahead). Errors come out in the caller's thread;
    when the caller stops early the helper finishes the read it is in and ends before this
    generator does, so the connection is free again afterwards."""
    box: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for item in batches:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)

    helper = threading.Thread(target=pump, name="pg-read-ahead", daemon=True)
    helper.start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        helper.join()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    return value
