"""Read-only access to the AOS logs tables in Postgres (spec §2.7, §3, §12): the audit ledger,
policy activations, LLM run records, system records, log exports, replay mismatches, and the
replay window around a run.

Which tables and columns exist is found once, from the catalogue (``to_regclass`` and
``pg_attribute``, which answer whatever the role may read); a family whose table is absent, lacks a
column we cannot do without, or is not readable by the role answers empty, and ``missing_notes``
says so in words. Every transaction is read-only (``postgresql_readonly``), on top of
``make_engine``'s read-only sessions, and every statement is bounded: keyset paging, row caps,
time bounds in SQL. Upstream's reader bugs (§11.17–18) are not reproduced; see each method.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from drivers.pg_common import Canceller, iso, translate_errors
from drivers.pg_schema import (
    aos_trace_mismatches,
    aos_trace_steps,
    aos_traces,
    audit_ledger,
    llm_run_records,
    log_exports,
    policy_activation_audit,
    system_records,
)
from inspector.errors import UsageError
from inspector.ledger import (
    ANCHOR_LLM,
    ANCHOR_NONE,
    ANCHOR_TRACE,
    RUN_KEYS,
    merge_window,
    window_bounds,
)
from inspector.logs import (
    AUDIT_CAP,
    GOVERNANCE_ENTITY_TYPES,
    LOGS_CAPABILITIES,
    MAX_PAGE,
    POLICY_WINDOW_ENTITY_TYPES,
    AuditEvent,
    LedgerFilter,
    LedgerPage,
    LlmRunRecord,
    LogExport,
    Mismatch,
    PolicyActivation,
    ReplayWindow,
    RunLogs,
    SystemRecord,
    SystemRecordFilter,
)
from inspector.model import Payload, normalise_time_bound, parse_timestamp

__all__ = [
    "LEDGER_VALUE_FIELDS",
    "PostgresLogsReader",
    "Tracer",
]

#: Called with each statement's SQL (psycopg ``%(name)s`` style) and parameters before it runs.
Tracer = Callable[[str, Mapping[str, Any]], None]

#: Ledger columns :meth:`PostgresLogsReader.ledger_values` lists the values of.
LEDGER_VALUE_FIELDS = ("event_type", "entity_type", "actor_type", "actor_id", "tenant_id")

#: Rows per source the replay window and the run's logs read at most (a busy system can log a
#: lot in a minute); more are reported in the notes.
_WINDOW_CAP = 2000

_JSON_TYPES = ("json", "jsonb")


@dataclass(frozen=True, slots=True)
class _Family:
    """A table family: its Core table, the columns a read cannot do without, and what the user
    loses without it."""

    table: sa.Table
    required: tuple[str, ...]
    loss: str


_FAMILIES: dict[str, _Family] = {
    "audit": _Family(audit_ledger, ("id", "tenant_id", "event_type", "entity_type", "created_at"),
                     "the audit panel is empty"),
    "policy_activations": _Family(policy_activation_audit, ("policy_id", "loop_trace_id", "activated_at"),
                                  "no policy activations are shown"),
    "llm_runs": _Family(llm_run_records, ("id", "run_id", "tenant_id", "started_at", "created_at"),
                        "no LLM run records are shown, and replay windows are centred on the trace"),
    "system_records": _Family(system_records, ("id", "tenant_id", "created_at"), "no system records are shown"),
    "log_exports": _Family(log_exports, ("id", "tenant_id", "run_id", "created_at"), "no log exports are shown"),
    "mismatches": _Family(aos_trace_mismatches, ("id", "trace_id", "created_at"), "no replay mismatches are shown"),
    # Trace tables: not logs capabilities, but the replay window reads them.
    "traces": _Family(aos_traces, ("trace_id", "run_id", "tenant_id", "started_at"),
                      "a run without an LLM record has no replay window"),
    "steps": _Family(aos_trace_steps, ("trace_id", "step_index", "timestamp"), "replay windows hold no steps"),
}
assert set(LOGS_CAPABILITIES) <= set(_FAMILIES)

_DETECT_SQL = sa.text(
    """
    SELECT t.name, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
           has_table_privilege(c.oid, 'SELECT') AS readable
    FROM unnest(CAST(:names AS text[])) AS t(name)
    JOIN pg_class c ON c.oid = to_regclass(t.name)
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    """
)

# Plain ascending btree indexes on audit_ledger (no expression, no predicate), as column lists:
# what ledger_values and the all-tenants ledger page can skip-scan.
_INDEX_SQL = sa.text(
    """
    SELECT array(SELECT a.attname FROM unnest(CAST(i.indkey AS int2[])) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS cols
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam
    WHERE i.indrelid = to_regclass('audit_ledger') AND am.amname = 'btree'
      AND i.indexprs IS NULL AND i.indpred IS NULL
      AND NOT (0 = ANY (CAST(i.indkey AS int2[])))
      AND NOT EXISTS (SELECT 1 FROM unnest(CAST(i.indoption AS int2[])) o WHERE o <> 0)
    """
)


@dataclass(frozen=True, slots=True)
class _Shape:
    columns: Mapping[str, str]  # name -> SQL type
    not_null: frozenset[str]
    readable: bool


@dataclass(frozen=True, slots=True)
class _WindowStep:
    step_index: int
    skill_name: str | None
    outcome_category: str | None
    timestamp: str | None


@dataclass(frozen=True, slots=True)
class _TraceRef:
    trace_id: str
    correlation_id: str | None
    tenant_id: str | None
    started_at: datetime | None
    completed_at: datetime | None


# --- value conversion -------------------------------------------------------------------------


def _payload(value: Any) -> Payload:
    """A JSON column read as text (see ``PostgresLogsReader._select``)."""
    if value is None or isinstance(value, str | bytes):
        return Payload.from_text(value)
    return Payload.from_value(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _bound(text: str | None, *, end: bool = False) -> datetime | None:
    """A user's since/until as an aware datetime (raises UsageError with the accepted forms)."""
    if text is None or not str(text).strip():
        return None
    return datetime.fromisoformat(normalise_time_bound(str(text), end=end))


def _moment(value: Any) -> datetime | None:
    dt = parse_timestamp(value)
    return dt.astimezone(UTC) if dt is not None else None


def _clamp(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


def _unique(values: Sequence[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v is not None and str(v) != "":
            seen.setdefault(str(v), None)
    return list(seen)


class PostgresLogsReader:
    """An :class:`inspector.logs.LogsSource` over a Postgres database holding the AOS logs tables.

    ``engine`` is owned by the caller (who disposes of it); ``make_engine`` gives a suitable one.
    ``tracer`` sees every statement before it runs (tests and benchmarks use it). Construction
    reads the catalogue; after it the reader only remembers how ``ledger_values`` reads each field
    (a benign cache), so several threads may call it at once, each call checking a connection out
    of the engine's pool.
    """

    def __init__(self, engine: sa.Engine, location: str, *, tracer: Tracer | None = None,
                 canceller: Canceller | None = None) -> None:
        self.engine = engine
        self.location = location
        self._tracer = tracer
        #: Shared with the trace reader, so its ``cancel()`` stops a slow ledger scan too.
        self.canceller = canceller or Canceller()
        with self._reading("looking for the logs tables") as conn:
            rows = self._run(conn, _DETECT_SQL, {"names": [f.table.name for f in _FAMILIES.values()]})
            columns: dict[str, dict[str, str]] = {}
            not_null: dict[str, set[str]] = {}
            readable: dict[str, bool] = {}
            for name, col, sql_type, is_not_null, can_read in rows:
                columns.setdefault(name, {})[col] = sql_type
                if is_not_null:
                    not_null.setdefault(name, set()).add(col)
                readable[name] = bool(can_read)
            shapes = {name: _Shape(cols, frozenset(not_null.get(name, ())), readable[name])
                      for name, cols in columns.items()}
            indexes = [tuple(r[0]) for r in self._run(conn, _INDEX_SQL)] if "audit_ledger" in shapes else []
        self._shapes = shapes
        self._audit_indexes = tuple(indexes)
        present, notes = set(), []
        for key, family in _FAMILIES.items():
            name = family.table.name
            shape = shapes.get(name)
            if shape is None:
                notes.append(f"no {name} table: {family.loss}")
            elif not shape.readable:
                notes.append(f"{name} is not readable by this login (no SELECT right): {family.loss}")
            elif lacking := [c for c in family.required if c not in shape.columns]:
                notes.append(f"{name} lacks {', '.join(lacking)}: {family.loss}")
            else:
                present.add(key)
        self._present = frozenset(present)
        self._selects = {family: self._build_select(family) for family in present}
        self._value_methods: dict[str, str] = {}
        audit_cols = shapes["audit_ledger"].columns if "audit" in present else {}
        if "audit" in present and "correlation_id" not in audit_cols:
            notes.append("audit_ledger has no correlation_id column (a database before migration 109): "
                         "correlation ids are blank")
        #: The table families found, named as in ``inspector.logs.LOGS_CAPABILITIES``.
        self.logs_capabilities: frozenset[str] = frozenset(k for k in LOGS_CAPABILITIES if k in present)
        #: Sentences saying what is missing from this database and what the user loses by it.
        self.missing_notes: tuple[str, ...] = tuple(notes)

    # --- plumbing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self, doing: str, *, snapshot: bool = False) -> Iterator[sa.Connection]:
        """A read-only transaction (REPEATABLE READ with ``snapshot``: one consistent view over
        several statements), with database errors translated for the user."""
        options: dict[str, Any] = {"postgresql_readonly": True}
        if snapshot:
            options["isolation_level"] = "REPEATABLE READ"
        with translate_errors(self.location, doing), self.engine.connect() as conn, self.canceller.track(conn):
            conn = conn.execution_options(**options)
            with conn.begin():
                yield conn

    def _run(self, conn: sa.Connection, stmt: sa.Executable, params: Mapping[str, Any] | None = None) -> list:
        if self._tracer is not None:
            compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
            bound = dict(compiled.params)
            bound.update(params or {})
            self._tracer(str(compiled), bound)
        return conn.execute(stmt, params or {}).all()

    def _has(self, family: str) -> bool:
        return family in self._present

    def _cols(self, family: str) -> dict[str, str]:
        return dict(self._shapes[_FAMILIES[family].table.name].columns)

    def _select(self, family: str) -> sa.Select:
        return self._selects[family]

    def _build_select(self, family: str) -> sa.Select:
        """SELECT of every column the Core table declares; an absent column reads as NULL. JSON
        columns are read as their text: parsed once by ``Payload.from_text`` (instead of decoded
        by psycopg and dumped again for ``Payload.raw``), and a foreign text column that does not
        hold JSON is shown raw with the reason instead of failing the read."""
        table = _FAMILIES[family].table
        cols = self._cols(family)
        out = []
        for c in table.columns:
            if c.name not in cols:
                out.append(sa.null().label(c.name))
            elif isinstance(c.type, sa.JSON):
                out.append(sa.cast(c, sa.Text).label(c.name))
            else:
                out.append(c)
        return sa.select(*out)

    # --- converters ---------------------------------------------------------------------------

    @staticmethod
    def _audit_event(row: Mapping[str, Any]) -> AuditEvent:
        return AuditEvent(
            id=str(row["id"]), tenant_id=_str(row["tenant_id"]), event_type=_str(row["event_type"]),
            entity_type=_str(row["entity_type"]), entity_id=_str(row["entity_id"]),
            actor_type=_str(row["actor_type"]), actor_id=_str(row["actor_id"]),
            action_reason=_str(row["action_reason"]),
            before_state=_payload(row["before_state"]),
            after_state=_payload(row["after_state"]),
            created_at=iso(row["created_at"]), correlation_id=_str(row["correlation_id"]),
        )

    def _audit_rows(self, conn: sa.Connection, stmt: sa.Select) -> list[AuditEvent]:
        return [self._audit_event(r._mapping) for r in self._run(conn, stmt)]

    @staticmethod
    def _activation(m: Mapping[str, Any]) -> PolicyActivation:
        conf = m["confidence_at_activation"]
        return PolicyActivation(
            policy_id=str(m["policy_id"]), source_pattern_id=_str(m["source_pattern_id"]),
            source_recovery_id=_str(m["source_recovery_id"]),
            confidence_at_activation=float(conf) if isinstance(conf, int | float) else None,
            confidence_version=_str(m["confidence_version"]), approval_path=_str(m["approval_path"]),
            loop_trace_id=_str(m["loop_trace_id"]), activated_at=iso(m["activated_at"]),
            tenant_id=_str(m["tenant_id"]),
        )

    @staticmethod
    def _llm_record(m: Mapping[str, Any]) -> LlmRunRecord:
        return LlmRunRecord(
            id=str(m["id"]), tenant_id=_str(m["tenant_id"]), run_id=str(m["run_id"]), trace_id=_str(m["trace_id"]),
            provider=_str(m["provider"]), model=_str(m["model"]), prompt_hash=_str(m["prompt_hash"]),
            response_hash=_str(m["response_hash"]), input_tokens=m["input_tokens"], output_tokens=m["output_tokens"],
            cost_cents=m["cost_cents"], execution_status=_str(m["execution_status"]),
            started_at=iso(m["started_at"]), completed_at=iso(m["completed_at"]), source=_str(m["source"]),
            is_synthetic=bool(m["is_synthetic"]), synthetic_scenario_id=_str(m["synthetic_scenario_id"]),
            created_at=iso(m["created_at"]),
        )

    def _system_rows(self, conn: sa.Connection, stmt: sa.Select) -> list[SystemRecord]:
        out = []
        for r in self._run(conn, stmt):
            m = r._mapping
            out.append(SystemRecord(
                id=str(m["id"]), tenant_id=_str(m["tenant_id"]), component=_str(m["component"]),
                event_type=_str(m["event_type"]), severity=_str(m["severity"]), summary=_str(m["summary"]),
                details=_payload(m["details"]), caused_by=_str(m["caused_by"]),
                correlation_id=_str(m["correlation_id"]), created_at=iso(m["created_at"]),
            ))
        return out

    @staticmethod
    def _export(m: Mapping[str, Any]) -> LogExport:
        return LogExport(
            id=str(m["id"]), tenant_id=_str(m["tenant_id"]), scope=_str(m["scope"]), run_id=_str(m["run_id"]),
            requested_by=_str(m["requested_by"]), format=_str(m["format"]), origin=_str(m["origin"]),
            source_component=_str(m["source_component"]), correlation_id=_str(m["correlation_id"]),
            checksum=_str(m["checksum"]), status=_str(m["status"]), delivered_at=iso(m["delivered_at"]),
            created_at=iso(m["created_at"]),
        )

    def _mismatch_rows(self, conn: sa.Connection, stmt: sa.Select) -> list[Mismatch]:
        out = []
        for r in self._run(conn, stmt):
            m = r._mapping
            out.append(Mismatch(
                id=str(m["id"]), trace_id=str(m["trace_id"]), tenant_id=_str(m["tenant_id"]),
                reported_by=_str(m["reported_by"]), step_index=m["step_index"], reason=_str(m["reason"]),
                expected_hash=_str(m["expected_hash"]), actual_hash=_str(m["actual_hash"]),
                details=_payload(m["details"]), notification_sent=m["notification_sent"],
                issue_url=_str(m["issue_url"]), resolved=m["resolved"], resolved_at=iso(m["resolved_at"]),
                resolved_by=_str(m["resolved_by"]), created_at=iso(m["created_at"]),
            ))
        return out

    # --- audit ledger -------------------------------------------------------------------------

    def audit_for_run(self, run_id: str, tenant_id: str | None = None, *, limit: int = AUDIT_CAP) -> list[AuditEvent]:
        """Governance events (entity types ``GOVERNANCE_ENTITY_TYPES``) whose ``after_state`` or
        ``before_state`` names the run under ``run_id`` or ``source_run_id``, newest first.

        The match is done in SQL (``->>`` gives the JSON text of the value, which is Python's
        ``str()`` for the strings and integers run ids are). Upstream (§3.1) reads the newest 100
        governance events of the tenant and filters those in Python, so a run whose events are
        older than the 100 newest loses them; here every matching event is found, up to ``limit``.
        """
        with self._reading(f"reading the audit events of run {run_id}") as conn:
            return self._audit_for_run(conn, run_id, tenant_id, limit)

    def _audit_for_run(self, conn: sa.Connection, run_id: str, tenant_id: str | None, limit: int) -> list[AuditEvent]:
        """An event that names a run is written after the run started: when the run's traces
        are known, the scan starts an hour before the first of them (writers' clocks differ),
        which the ``(tenant_id, created_at)`` index bounds, instead of the tenant's whole ledger."""
        traces = self._traces(conn, run_id, None)
        starts = [t.started_at for t in traces if t.started_at is not None]
        since = min(starts) - timedelta(hours=1) if starts else None
        return self._audit_matching(conn, run_id, tenant_id, limit, since)

    def _audit_matching(self, conn: sa.Connection, run_id: str, tenant_id: str | None, limit: int,
                        since: datetime | None) -> list[AuditEvent]:
        if not self._has("audit"):
            return []
        t = audit_ledger
        cols = self._cols("audit")
        mentions = [
            t.c[state][key].astext == run_id
            for state in ("after_state", "before_state") if cols.get(state) in _JSON_TYPES
            for key in RUN_KEYS
        ]
        if not mentions:
            return []
        stmt = self._select("audit").where(t.c.entity_type.in_(GOVERNANCE_ENTITY_TYPES), sa.or_(*mentions))
        if tenant_id is not None:
            stmt = stmt.where(t.c.tenant_id == tenant_id)
        if since is not None:
            stmt = stmt.where(t.c.created_at >= since)
        stmt = stmt.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(_clamp(limit))
        return self._audit_rows(conn, stmt)

    def _ledger_conditions(self, flt: LedgerFilter) -> list[sa.ColumnElement[bool]]:
        t = audit_ledger
        where: list[sa.ColumnElement[bool]] = []
        if flt.event_type:
            where.append(t.c.event_type == flt.event_type)
        if flt.entity_type:
            where.append(t.c.entity_type == flt.entity_type)
        if flt.actor:
            where.append(sa.or_(t.c.actor_id == flt.actor, t.c.actor_type == flt.actor))
        if (since := _bound(flt.since)) is not None:
            where.append(t.c.created_at >= since)
        if (until := _bound(flt.until, end=True)) is not None:
            where.append(t.c.created_at <= until)
        return where

    @staticmethod
    def _after(cursor: tuple[str, str] | None) -> list[sa.ColumnElement[bool]]:
        """Keyset condition: rows after ``cursor`` in (created_at DESC, id DESC) order. Written so
        that ``created_at <= c`` is an index condition (the row comparison ``(created_at, id) <
        (c, i)`` would not be, as no index holds both)."""
        if cursor is None:
            return []
        try:
            at_text, last_id = cursor
            at = datetime.fromisoformat(at_text)
        except (TypeError, ValueError):
            raise UsageError(f"not a ledger cursor: {cursor!r}") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        t = audit_ledger
        return [t.c.created_at <= at, sa.or_(t.c.created_at < at, t.c.id < str(last_id))]

    def list_ledger(self, flt: LedgerFilter, cursor: tuple[str, str] | None = None, limit: int = 200) -> LedgerPage:
        """A page of the ledger, newest first, by keyset on ``(created_at DESC, id DESC)`` (never
        OFFSET: a deep page costs what the first does). Upstream's list (§11.18) counted ``total``
        with the tenant filter only; there is no total here, ``cursor`` is None on the last page.

        Without a tenant, each tenant's newest rows are read through ``(tenant_id, created_at)``
        (tenants found by a skip scan of that index) and merged, instead of sorting the table.
        """
        if not self._has("audit"):
            return LedgerPage((), None)
        size = _clamp(limit)
        t = audit_ledger
        where = self._ledger_conditions(flt) + self._after(cursor)
        order = (t.c.created_at.desc(), t.c.id.desc())
        with self._reading("reading the audit ledger") as conn:
            if flt.tenant_id is not None:
                stmt = self._select("audit").where(t.c.tenant_id == flt.tenant_id, *where)
                stmt = stmt.order_by(*order).limit(size + 1)
            elif ("tenant_id", "created_at") in {i[:2] for i in self._audit_indexes}:
                stmt = self._ledger_merged(where, size + 1)
            else:
                stmt = self._select("audit").where(*where).order_by(*order).limit(size + 1)
            events = self._audit_rows(conn, stmt)
        more = len(events) > size
        events = events[:size]
        next_cursor = (events[-1].created_at, events[-1].id) if more and events else None
        return LedgerPage(tuple(events), next_cursor)

    def _ledger_merged(self, where: list[sa.ColumnElement[bool]], n: int) -> sa.Select:
        t = audit_ledger
        tenants = _distinct_values(t.c.tenant_id, "tenants")
        inner = (
            self._select("audit").where(t.c.tenant_id == tenants.c.value, *where)
            .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(n).lateral("per_tenant")
        )
        return (
            sa.select(*inner.c).select_from(tenants).join(inner, sa.true())
            .where(tenants.c.value.is_not(None))
            .order_by(inner.c.created_at.desc(), inner.c.id.desc()).limit(n)
        )

    def ledger_values(self, field: str, *, method: str = "auto") -> list[str]:
        """The distinct non-null values of a ledger column (``LEDGER_VALUE_FIELDS``), sorted.

        ``skip``: a skip scan (recursive CTE, one index probe per distinct value) over an index
        holding the column after NOT NULL prefix columns, as ``event_type`` in ``(tenant_id,
        event_type)``: one probe per distinct (prefix, value). ``distinct``: plain DISTINCT, which
        reads every row (or index entry). ``auto`` (the default) estimates the probes from the
        planner's statistics and skip-scans when that reads far fewer entries than the table holds;
        without statistics, or without a usable index, it reads with DISTINCT. The choice is made
        on the first call for a field and kept.
        """
        if field not in LEDGER_VALUE_FIELDS:
            raise ValueError(f"not a ledger field: {field!r} (one of {', '.join(LEDGER_VALUE_FIELDS)})")
        if method not in ("auto", "skip", "distinct"):
            raise ValueError(f"not a method: {method!r} (auto, skip or distinct)")
        if not self._has("audit") or field not in self._cols("audit"):
            return []
        index = _skip_index(field, self._audit_indexes, self._shapes["audit_ledger"].not_null)
        with self._reading(f"listing the ledger's {field} values") as conn:
            if method == "auto" and index is not None:
                # The choice only changes the speed, never the answer: made once per reader.
                if field not in self._value_methods:
                    rows, distinct = _ledger_stats(self._run(conn, _STATS_SQL))
                    probes = _estimated_probes(index, field, rows, distinct)
                    fast = probes is not None and probes * _PROBE_COST <= rows
                    self._value_methods[field] = "skip" if fast else "distinct"
                method = self._value_methods[field]
            if method == "skip" and index is not None:
                stmt = _skip_scan_values(field, index)
            else:
                stmt = sa.select(audit_ledger.c[field]).where(audit_ledger.c[field].is_not(None)).distinct()
            values = [r[0] for r in self._run(conn, stmt)]
        return sorted({str(v) for v in values if v is not None})

    # --- policy activations -------------------------------------------------------------------

    def policy_activations(self, link_ids: Sequence[str]) -> list[PolicyActivation]:
        """Activations whose ``loop_trace_id`` is one of ``link_ids`` (the run's trace id, run id
        and correlation id, §12), newest activated first."""
        with self._reading("reading policy activations") as conn:
            return self._policy_activations(conn, link_ids)

    def _policy_activations(self, conn: sa.Connection, link_ids: Sequence[str]) -> list[PolicyActivation]:
        ids = _unique(link_ids)
        if not self._has("policy_activations") or not ids:
            return []
        t = policy_activation_audit
        stmt = (self._select("policy_activations").where(t.c.loop_trace_id.in_(ids))
                .order_by(t.c.activated_at.desc(), t.c.policy_id).limit(MAX_PAGE))
        return [self._activation(r._mapping) for r in self._run(conn, stmt)]

    def list_policy_activations(self, tenant_id: str | None = None, limit: int = 500) -> list[PolicyActivation]:
        """Activations, newest activated first; of one tenant when ``tenant_id`` is given."""
        if not self._has("policy_activations"):
            return []
        t = policy_activation_audit
        stmt = self._select("policy_activations")
        if tenant_id is not None:
            stmt = stmt.where(t.c.tenant_id == tenant_id)
        stmt = stmt.order_by(t.c.activated_at.desc(), t.c.policy_id).limit(_clamp(limit))
        with self._reading("reading policy activations") as conn:
            return [self._activation(r._mapping) for r in self._run(conn, stmt)]

    # --- LLM run records, system records, exports, mismatches ---------------------------------

    def llm_records(self, run_id: str) -> list[LlmRunRecord]:
        """Every LLM run record of the run, newest first. Upstream's ``get_llm_run`` assumes one
        per run (§11.18); a run may have several, and all are returned."""
        with self._reading(f"reading the LLM run records of run {run_id}") as conn:
            return self._llm_records(conn, run_id)

    def _llm_records(self, conn: sa.Connection, run_id: str) -> list[LlmRunRecord]:
        if not self._has("llm_runs"):
            return []
        t = llm_run_records
        stmt = (self._select("llm_runs").where(t.c.run_id == run_id)
                .order_by(t.c.created_at.desc(), t.c.started_at.desc(), t.c.id.desc()).limit(MAX_PAGE))
        return [self._llm_record(r._mapping) for r in self._run(conn, stmt)]

    def system_records(self, flt: SystemRecordFilter, limit: int = 500) -> list[SystemRecord]:
        """System records, newest first: with ``tenant_id`` that tenant's and the system-wide ones
        (``tenant_id IS NULL``, as upstream's tenant read, §3.3); ``system_only`` just the latter."""
        if not self._has("system_records"):
            return []
        t = system_records
        stmt = self._select("system_records")
        if flt.system_only:
            stmt = stmt.where(t.c.tenant_id.is_(None))
        elif flt.tenant_id is not None:
            stmt = stmt.where(sa.or_(t.c.tenant_id == flt.tenant_id, t.c.tenant_id.is_(None)))
        if flt.component:
            stmt = stmt.where(t.c.component == flt.component)
        if flt.severity:
            stmt = stmt.where(t.c.severity == flt.severity)
        if (since := _bound(flt.since)) is not None:
            stmt = stmt.where(t.c.created_at >= since)
        if (until := _bound(flt.until, end=True)) is not None:
            stmt = stmt.where(t.c.created_at <= until)
        stmt = stmt.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(_clamp(limit))
        with self._reading("reading system records") as conn:
            return self._system_rows(conn, stmt)

    def log_exports(self, *, run_id: str | None = None, tenant_id: str | None = None,
                    limit: int = 500) -> list[LogExport]:
        """Log exports, newest first, of a run and/or a tenant (all of them without either).
        ``status`` stays ``pending`` upstream: the table is immutable (§3.4, §11.17)."""
        with self._reading("reading log exports") as conn:
            return self._log_exports(conn, run_id, tenant_id, limit)

    def _log_exports(self, conn: sa.Connection, run_id: str | None, tenant_id: str | None,
                     limit: int) -> list[LogExport]:
        if not self._has("log_exports"):
            return []
        t = log_exports
        stmt = self._select("log_exports")
        if run_id is not None:
            stmt = stmt.where(t.c.run_id == run_id)
        if tenant_id is not None:
            stmt = stmt.where(t.c.tenant_id == tenant_id)
        stmt = stmt.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(_clamp(limit))
        return [self._export(r._mapping) for r in self._run(conn, stmt)]

    def mismatches(self, trace_id: str) -> list[Mismatch]:
        """Replay mismatches reported for a trace, newest first (§2.7)."""
        with self._reading(f"reading the replay mismatches of trace {trace_id}") as conn:
            return self._mismatches(conn, [trace_id])

    def _mismatches(self, conn: sa.Connection, trace_ids: Sequence[str]) -> list[Mismatch]:
        ids = _unique(trace_ids)
        if not self._has("mismatches") or not ids:
            return []
        t = aos_trace_mismatches
        stmt = (self._select("mismatches").where(t.c.trace_id.in_(ids))
                .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(MAX_PAGE))
        return self._mismatch_rows(conn, stmt)

    # --- the replay window and the whole run ---------------------------------------------------

    def _traces(self, conn: sa.Connection, run_id: str, trace_id: str | None) -> list[_TraceRef]:
        """The run's traces (run_id is not unique in aos_traces, §11.1), the one named by
        ``trace_id`` (or upstream's ``trace_{run_id}``) first, then newest first."""
        if not self._has("traces"):
            return []
        t = aos_traces
        named = trace_id or f"trace_{run_id}"
        cols = self._cols("traces")

        def col(name: str) -> sa.ColumnElement:
            return t.c[name] if name in cols else sa.null().label(name)

        stmt = (
            sa.select(t.c.trace_id, col("correlation_id"), t.c.tenant_id, t.c.started_at, col("completed_at"))
            .where(sa.or_(t.c.trace_id == named, t.c.run_id == run_id))
            .order_by((t.c.trace_id == named).desc(), t.c.started_at.desc(), t.c.trace_id)
            .limit(100)
        )
        return [_TraceRef(str(r[0]), _str(r[1]), _str(r[2]), _moment(r[3]), _moment(r[4]))
                for r in self._run(conn, stmt)]

    def replay_window(self, run_id: str, trace_id: str | None = None, seconds: float = 30.0) -> ReplayWindow:
        """The time-ordered window around the run (§3.5): centred on its newest LLM run record's
        ``completed_at`` or ``started_at``; for a run without one, on its trace's (``anchor_from``
        says which, and a note explains). Steps of ``trace_id`` (else the record's trace id, else
        ``trace_{run_id}``), system records of the run's tenant or of none, and the tenant's
        POLICY_RULE/LIMIT ledger events, each read with the time bounds in SQL."""
        with self._reading(f"building the replay window of run {run_id}", snapshot=True) as conn:
            llm = self._llm_records(conn, run_id)
            traces = [] if llm else self._traces(conn, run_id, trace_id)
            return self._window(conn, run_id, trace_id, seconds, llm, traces)

    def _window(self, conn: sa.Connection, run_id: str, trace_id: str | None, seconds: float,
                llm: list[LlmRunRecord], traces: list[_TraceRef]) -> ReplayWindow:
        notes: list[str] = []
        anchor: datetime | None = None
        tenant: str | None = None
        steps_of = trace_id
        newest = llm[0] if llm else None
        if newest is not None:
            anchor = _moment(newest.completed_at) or _moment(newest.started_at)
            tenant, steps_of = newest.tenant_id, trace_id or newest.trace_id
            if len(llm) > 1:
                notes.append(f"run {run_id} has {len(llm)} LLM run records: the window is centred on the newest")
        if anchor is not None:
            anchor_from = ANCHOR_LLM
        else:
            if not traces and newest is not None:
                traces = self._traces(conn, run_id, trace_id)
            trace = traces[0] if traces else None
            anchor = trace and (trace.completed_at or trace.started_at)
            if anchor is None:
                why = "its LLM run record has no time" if newest is not None else "no LLM run record"
                return ReplayWindow(None, ANCHOR_NONE, None, None, (),
                                    (f"run {run_id} has {why} and no trace: there is no replay window",))
            anchor_from = ANCHOR_TRACE
            tenant = tenant or trace.tenant_id
            steps_of = steps_of or trace.trace_id
            which = "completion" if trace.completed_at else "start"
            notes.append(f"run {run_id} has no LLM run record: the window is centred on the {which} of "
                         f"trace {trace.trace_id}")
        steps_of = steps_of or f"trace_{run_id}"
        start, end = window_bounds(anchor, seconds)
        steps = self._window_steps(conn, steps_of, start, end, notes)
        systems = self._window_system(conn, tenant, start, end, notes)
        policy = self._window_policy(conn, tenant, start, end, notes)
        entries = merge_window(anchor, steps, systems, policy, seconds)
        return ReplayWindow(iso(anchor), anchor_from, iso(start), iso(end), entries, tuple(notes))

    @staticmethod
    def _capped(rows: list, what: str, notes: list[str]) -> list:
        if len(rows) > _WINDOW_CAP:
            notes.append(f"more than {_WINDOW_CAP:,} {what} in the window: only the first {_WINDOW_CAP:,} are shown")
            return rows[:_WINDOW_CAP]
        return rows

    def _window_steps(self, conn: sa.Connection, trace_id: str, start: datetime, end: datetime,
                      notes: list[str]) -> list[_WindowStep]:
        if not self._has("steps"):
            return []
        t = aos_trace_steps
        stmt = (
            sa.select(t.c.step_index, t.c.skill_name, t.c.outcome_category, t.c.timestamp)
            .where(t.c.trace_id == trace_id, t.c.timestamp.between(start, end))
            .order_by(t.c.timestamp, t.c.step_index).limit(_WINDOW_CAP + 1)
        )
        rows = [_WindowStep(r[0], _str(r[1]), _str(r[2]), iso(r[3])) for r in self._run(conn, stmt)]
        return self._capped(rows, "steps", notes)

    def _window_system(self, conn: sa.Connection, tenant: str | None, start: datetime, end: datetime,
                       notes: list[str]) -> list[SystemRecord]:
        if not self._has("system_records"):
            return []
        t = system_records
        who = t.c.tenant_id.is_(None) if tenant is None else sa.or_(t.c.tenant_id == tenant, t.c.tenant_id.is_(None))
        stmt = (self._select("system_records").where(who, t.c.created_at.between(start, end))
                .order_by(t.c.created_at, t.c.id).limit(_WINDOW_CAP + 1))
        return self._capped(self._system_rows(conn, stmt), "system records", notes)

    def _window_policy(self, conn: sa.Connection, tenant: str | None, start: datetime, end: datetime,
                       notes: list[str]) -> list[AuditEvent]:
        if not self._has("audit") or tenant is None:
            return []
        t = audit_ledger
        stmt = (
            self._select("audit")
            .where(t.c.tenant_id == tenant, t.c.entity_type.in_(POLICY_WINDOW_ENTITY_TYPES),
                   t.c.created_at.between(start, end))
            .order_by(t.c.created_at, t.c.id).limit(_WINDOW_CAP + 1)
        )
        return self._capped(self._audit_rows(conn, stmt), "policy events", notes)

    def run_logs(self, run_id: str, trace_id: str | None = None, *, seconds: float = 30.0) -> RunLogs:
        """Everything the logs tables hold about one run, read in one snapshot: its LLM run
        records, the system records of its tenant (and system-wide ones) from ``seconds`` before
        it started to ``seconds`` after it ended, its exports, its replay window, the mismatches of
        its trace ids, the governance events naming it, and the policy activations linked to its
        trace ids, run id or correlation ids."""
        with self._reading(f"reading the logs of run {run_id}", snapshot=True) as conn:
            llm = self._llm_records(conn, run_id)
            traces = self._traces(conn, run_id, trace_id)
            window = self._window(conn, run_id, trace_id, seconds, llm, traces)
            tenant = llm[0].tenant_id if llm else traces[0].tenant_id if traces else None
            notes = list(self.missing_notes)
            systems = self._run_system_records(conn, tenant, llm, traces, seconds, notes)
            exports = self._log_exports(conn, run_id, None, MAX_PAGE)
            trace_ids = _unique([trace_id, *(r.trace_id for r in llm), *(t.trace_id for t in traces),
                                 f"trace_{run_id}"])
            mismatches = self._mismatches(conn, trace_ids)
            audit = self._audit_for_run(conn, run_id, tenant, AUDIT_CAP)
            links = _unique([*trace_ids, run_id, *(t.correlation_id for t in traces)])
            activations = self._policy_activations(conn, links)
        main_trace = trace_id or (llm[0].trace_id if llm else None) or (traces[0].trace_id if traces else None)
        return RunLogs(
            run_id=run_id, trace_id=main_trace, llm_records=tuple(llm), system_records=tuple(systems),
            exports=tuple(exports), replay_window=window, mismatches=tuple(mismatches), audit=tuple(audit),
            policy_activations=tuple(activations), notes=tuple(notes),
        )

    def _run_system_records(self, conn: sa.Connection, tenant: str | None, llm: list[LlmRunRecord],
                            traces: list[_TraceRef], seconds: float, notes: list[str]) -> list[SystemRecord]:
        if not self._has("system_records"):
            return []
        starts = [_moment(r.started_at) for r in llm] + [t.started_at for t in traces]
        ends = [_moment(r.completed_at) or _moment(r.started_at) for r in llm] + \
               [t.completed_at or t.started_at for t in traces]
        starts, ends = [s for s in starts if s], [e for e in ends if e]
        if not starts or not ends:
            return []
        margin = timedelta(seconds=abs(seconds))
        lo, hi = min(starts) - margin, max(ends) + margin
        t = system_records
        who = t.c.tenant_id.is_(None) if tenant is None else sa.or_(t.c.tenant_id == tenant, t.c.tenant_id.is_(None))
        stmt = (self._select("system_records").where(who, t.c.created_at.between(lo, hi))
                .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(_WINDOW_CAP + 1))
        rows = self._system_rows(conn, stmt)
        if len(rows) > _WINDOW_CAP:
            notes.append(f"more than {_WINDOW_CAP:,} system records around the run: only the newest "
                         f"{_WINDOW_CAP:,} are shown")
        return rows[:_WINDOW_CAP]


# --- skip scans ---------------------------------------------------------------------------------


def _distinct_values(col: sa.Column, name: str) -> sa.CTE:
    """A recursive CTE of the distinct values of ``col`` in index order, one index probe each
    (the "loose index scan", https://wiki.postgresql.org/wiki/Loose_indexscan), ending in a NULL
    row. Only fast when an index leads with ``col``."""
    first = sa.select(col).where(col.is_not(None)).order_by(col).limit(1).scalar_subquery()
    cte = sa.select(first.label("value")).cte(name, recursive=True)
    probe = col.table.alias(f"{name}_probe")
    pcol = probe.c[col.name]
    following = sa.select(pcol).where(pcol > cte.c.value).order_by(pcol).limit(1).scalar_subquery()
    return cte.union_all(sa.select(following.label("value")).where(cte.c.value.is_not(None)))


#: A skip-scan probe (one index descent from a recursive CTE) costs about what reading this many
#: index entries in a row does (measured: ~14 µs against ~0.2 µs, benchmarks/bench_ledger.py).
_PROBE_COST = 64

_STATS_SQL = sa.text(
    """
    SELECT c.reltuples, s.attname, s.n_distinct
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND NOT s.inherited
    WHERE c.oid = to_regclass('audit_ledger')
    """
)


def _ledger_stats(rows: Sequence[Sequence[Any]]) -> tuple[float, dict[str, float]]:
    """Row estimate and distinct-value estimates per column (``n_distinct`` < 0 is a fraction of
    the rows) from the planner's statistics; empty when the table was never analysed."""
    total = float(rows[0][0]) if rows and rows[0][0] is not None else -1.0
    distinct = {}
    for _, name, nd in rows:
        if name is not None and nd is not None:
            distinct[name] = float(nd) if nd >= 0 else -float(nd) * max(total, 0.0)
    return total, distinct


def _estimated_probes(index: tuple[str, ...], field: str, rows: float, distinct: Mapping[str, float]) -> float | None:
    """Index probes a skip scan of ``field`` over ``index`` makes: distinct prefixes plus distinct
    (prefix, value) pairs, at most the rows. None without statistics."""
    cols = index[: index.index(field) + 1]
    if rows <= 0 or any(c not in distinct for c in cols):
        return None
    pairs = prefixes = 1.0
    for c in cols:
        pairs *= max(distinct[c], 1.0)
        if c != field:
            prefixes *= max(distinct[c], 1.0)
    return min(pairs, rows) + min(prefixes, rows)


def _skip_index(field: str, indexes: Sequence[tuple[str, ...]], not_null: frozenset[str]) -> tuple[str, ...] | None:
    """The index to skip-scan ``field`` with: it holds ``field`` after the fewest prefix columns,
    all NOT NULL (a NULL prefix would stop the row comparison). None if there is none."""
    usable = [i for i in indexes if field in i and all(c in not_null for c in i[: i.index(field)])]
    return min(usable, key=lambda i: i.index(field)) if usable else None


def _skip_scan_values(field: str, index: tuple[str, ...]) -> sa.Executable:
    """The skip scan listing the distinct values of ``audit_ledger.<field>`` through ``index``.

    Over the distinct prefixes ``(p1, …, pk)`` of the index first (row comparison ``(p1, …, pk) >
    (…)`` is an index condition), then within each prefix over ``field`` (``field > v`` stops at
    the prefix's NULLs, which sort last, so a prefix whose values are all NULL costs one probe).
    """
    k = index.index(field)
    if k == 0:
        values = _distinct_values(audit_ledger.c[field], "ledger_values")
        return sa.select(values.c.value).where(values.c.value.is_not(None))
    def q(name: str) -> str:  # names come from the catalogue: quote them as identifiers
        return '"' + name.replace('"', '""') + '"'

    prefix = [q(c) for c in index[:k]]
    f = q(field)
    p_list = ", ".join(prefix)
    v_list = ", ".join("v." + c for c in prefix)
    same = " AND ".join(f"a.{c} = v.{c}" for c in prefix)
    return sa.text(
        f"""
        WITH RECURSIVE prefixes({p_list}) AS (
            (SELECT {p_list} FROM audit_ledger ORDER BY {p_list} LIMIT 1)
            UNION ALL
            SELECT n.* FROM prefixes v CROSS JOIN LATERAL (
                SELECT {p_list} FROM audit_ledger
                WHERE ({p_list}) > ({v_list})
                ORDER BY {p_list} LIMIT 1) n
        ),
        vals({p_list}, value) AS (
            SELECT {v_list},
                   (SELECT a.{f} FROM audit_ledger a WHERE {same} AND a.{f} IS NOT NULL ORDER BY a.{f} LIMIT 1)
            FROM prefixes v
            UNION ALL
            SELECT {v_list},
                   (SELECT a.{f} FROM audit_ledger a WHERE {same} AND a.{f} > v.value ORDER BY a.{f} LIMIT 1)
            FROM vals v WHERE v.value IS NOT NULL
        )
        SELECT DISTINCT value FROM vals WHERE value IS NOT NULL
        """
    )
