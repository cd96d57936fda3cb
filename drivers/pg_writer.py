"""A writer for AOS Postgres trace databases with upstream ``PostgresTraceStore`` semantics (spec §2.3),
and insert helpers for the logs tables (§2.7, §3), on SQLAlchemy Core.

It serves the demo generator, the benchmarks and the tests. Semantics kept from upstream, on purpose:

* ``start_trace`` derives ``trace_id = "trace_" + run_id`` and ignores a second start (``ON CONFLICT
  DO NOTHING``); the row holds root_hash ``'pending'``, trace ``{"steps": []}``, schema ``"1.0"``;
* ``record_step`` refuses orphan steps and keeps the first write of a step index (first truth wins);
  ``level`` is derived from ``status`` (:func:`status_to_level`); this worker path stores data
  unredacted; ``outcome_data`` is NULL when empty;
* ``complete_trace`` and ``mark_trace_aborted`` update every trace of the run id (not unique, §11.1);
* ``store_trace`` (SDK / ``POST /traces``) redacts first and reads its defaults with ``dict.get``: a
  key present with None stays None, so NOT NULL failures raise as upstream's do (an unfinalized SDK
  trace has no root_hash, §11.5). Its statements commit one by one, as on upstream's pool
  connection: a failing step leaves the trace and the steps before it stored;
* a None that upstream serialises with ``json.dumps`` is stored as JSON ``null``, not SQL NULL.

Upstream's store is async (asyncpg); this one is synchronous on an :class:`~sqlalchemy.engine.Engine`
(psycopg 3) that the caller owns and disposes. ``clock`` gives the instants upstream takes from
``datetime.now(timezone.utc)`` on the client; those it leaves to the server (``created_at`` of
``store_trace`` and of the logs tables) stay the database's ``now()`` unless a helper is given one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine

from drivers.pg_schema import (
    aos_trace_mismatches,
    aos_trace_steps,
    aos_traces,
    llm_run_records,
    log_exports,
    system_records,
    tenants,
)
from inspector.redact import redact_trace_data

__all__ = [
    "ORPHAN_STEPS",
    "PgStepInput",
    "PostgresTraceStore",
    "insert_llm_run_record",
    "insert_log_export",
    "insert_mismatch",
    "insert_system_record",
    "insert_tenant",
    "status_to_level",
    "utc_now",
]

#: The words upstream's orphan-step ValueError carries.
ORPHAN_STEPS = "orphan steps forbidden"


def utc_now() -> datetime:
    return datetime.now(UTC)


def status_to_level(status: Any) -> str:
    """Upstream's ``_status_to_level`` (§2.2): case-insensitive; ``failure``/``error`` → ERROR,
    ``retry``/``retrying`` → WARN, anything else (``failed`` and ``succeeded`` included) → INFO."""
    text = status.lower() if isinstance(status, str) else str(status).lower()
    if text in ("failure", "error"):
        return "ERROR"
    if text in ("retry", "retrying"):
        return "WARN"
    return "INFO"


def _json(value: Any) -> Any:
    # ``json.dumps(None)`` is ``'null'``: upstream stores JSON null where it serialises a None.
    return sa.JSON.NULL if value is None else value


def _instant(text: str) -> datetime:
    # Upstream: datetime.fromisoformat; asyncpg reads a naive value in the process's local time,
    # which is UTC on AOS servers.
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _replay_columns(mode: Any, attempt_id: Any, artifact_version: Any, completeness: Any) -> dict[str, Any]:
    # Migration 132's columns; upstream accepts them, no caller sets them (§2.1).
    return {"replay_mode": mode, "replay_attempt_id": attempt_id, "replay_artifact_version": artifact_version,
            "trace_completeness_status": completeness}


@dataclass(frozen=True, slots=True)
class PgStepInput:
    """The arguments of one ``record_step`` call, for :meth:`PostgresTraceStore.record_steps`.
    ``skill_id`` None copies ``skill_name`` (as the worker does); ``timestamp`` None takes the clock."""

    trace_id: str
    step_index: int
    skill_name: str
    params: Any
    status: Any
    outcome_category: str
    outcome_code: str | None
    outcome_data: Any
    cost_cents: float
    duration_ms: float
    retry_count: int
    skill_id: str | None = None
    source: str = "engine"
    is_synthetic: bool = False
    synthetic_scenario_id: str | None = None
    timestamp: datetime | None = None
    idempotency_key: str | None = None
    replay_behavior: str = "execute"
    input_hash: str | None = None
    output_hash: str | None = None
    rng_state_before: str | None = None


_TRACE_INSERT = pg_insert(aos_traces).on_conflict_do_nothing(index_elements=["trace_id"])
# SQLAlchemy reports an INSERT's rowcount (rows written, not the ones DO NOTHING skipped) only when asked.
_STEP_INSERT = (
    pg_insert(aos_trace_steps)
    .on_conflict_do_nothing(index_elements=["trace_id", "step_index"])
    .execution_options(preserve_rowcount=True)
)


class PostgresTraceStore:
    """Writes ``aos_traces`` and ``aos_trace_steps`` exactly as upstream's ``PostgresTraceStore``.

    Each call is its own transaction; inside :meth:`bulk` all calls share one (not thread-safe)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self._clock = clock
        self._conn: Connection | None = None

    # -- connection handling -------------------------------------------------------------------

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _autocommit(self) -> Iterator[Connection]:
        """Every statement commits on its own, like upstream's asyncpg connection outside a
        transaction block (inside :meth:`bulk`: the shared transaction)."""
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @contextmanager
    def bulk(self) -> Iterator[PostgresTraceStore]:
        """Group many calls into one transaction (upstream commits each call: the rows written are
        the same, only faster, and a failure rolls back the whole group). For the generators."""
        with self.engine.begin() as conn:
            self._conn = conn
            try:
                yield self
            finally:
                self._conn = None

    # -- worker path ---------------------------------------------------------------------------

    def start_trace(
        self,
        run_id: str,
        correlation_id: str,
        tenant_id: str,
        agent_id: str | None,
        plan: Any,
        *,
        is_synthetic: bool = False,
        synthetic_scenario_id: str | None = None,
        incident_id: str | None = None,
        replay_mode: str | None = None,
        replay_attempt_id: str | None = None,
        replay_artifact_version: str | None = None,
        trace_completeness_status: str | None = None,
    ) -> str:
        """Insert the run's trace (ignored if ``trace_<run_id>`` exists); return its trace id."""
        now = self._clock()
        trace_id = f"trace_{run_id}"
        row = dict(
            trace_id=trace_id, run_id=run_id, correlation_id=correlation_id, tenant_id=tenant_id,
            agent_id=agent_id, root_hash="pending", plan=_json(plan), trace={"steps": []},
            schema_version="1.0", status="running", started_at=now, created_at=now,
            is_synthetic=is_synthetic, synthetic_scenario_id=synthetic_scenario_id, incident_id=incident_id,
            **_replay_columns(replay_mode, replay_attempt_id, replay_artifact_version, trace_completeness_status),
        )
        with self._begin() as conn:
            conn.execute(_TRACE_INSERT, row)
        return trace_id

    def record_step(
        self,
        trace_id: str,
        step_index: int,
        skill_name: str,
        params: Any,
        status: Any,
        outcome_category: str,
        outcome_code: str | None,
        outcome_data: Any,
        cost_cents: float,
        duration_ms: float,
        retry_count: int,
        *,
        run_id: str | None = None,
        skill_id: str | None = None,
        source: str = "engine",
        is_synthetic: bool = False,
        synthetic_scenario_id: str | None = None,
        timestamp: datetime | None = None,
        idempotency_key: str | None = None,
        replay_behavior: str = "execute",
        input_hash: str | None = None,
        output_hash: str | None = None,
        rng_state_before: str | None = None,
    ) -> bool:
        """Record one step; True if it was written, False if the index was taken (first wins).

        ``run_id`` is accepted and ignored, as upstream's signature requires and never uses it.
        Raises ValueError for an empty trace id, a synthetic step without scenario id, or a trace
        that does not exist (the message says "orphan steps forbidden")."""
        del run_id
        step = PgStepInput(
            trace_id, step_index, skill_name, params, status, outcome_category, outcome_code, outcome_data,
            cost_cents, duration_ms, retry_count, skill_id, source, is_synthetic, synthetic_scenario_id,
            timestamp, idempotency_key, replay_behavior, input_hash, output_hash, rng_state_before,
        )
        return self.record_steps([step]) == 1

    def record_steps(self, rows: Iterable[PgStepInput | Mapping[str, Any]]) -> int:
        """Many ``record_step`` calls in one transaction and one executemany, same semantics (all
        rows are checked before any is written). Returns how many rows were written."""
        steps = [r if isinstance(r, PgStepInput) else PgStepInput(**r) for r in rows]
        for s in steps:
            if not s.trace_id:
                raise ValueError("trace_id is required - identity must be passed, not derived")
            if s.is_synthetic and not s.synthetic_scenario_id:
                raise ValueError("synthetic_scenario_id required when is_synthetic=True")
        if not steps:
            return 0
        values = [self._step_values(s) for s in steps]
        wanted = sorted({s.trace_id for s in steps})
        with self._begin() as conn:
            ids = sa.bindparam("ids", wanted, type_=ARRAY(sa.Text))
            found = set(conn.scalars(sa.select(aos_traces.c.trace_id).where(aos_traces.c.trace_id == sa.any_(ids))))
            for s in steps:
                if s.trace_id not in found:
                    raise ValueError(f"Parent trace {s.trace_id} does not exist - {ORPHAN_STEPS}")
            result = conn.execute(_STEP_INSERT, values)
        return max(result.rowcount, 0)

    def _step_values(self, s: PgStepInput) -> dict[str, Any]:
        status = s.status.value if hasattr(s.status, "value") else s.status
        return {
            "trace_id": s.trace_id,
            "step_index": s.step_index,
            "skill_id": s.skill_name if s.skill_id is None else s.skill_id,
            "skill_name": s.skill_name,
            "params": _json(s.params),
            "status": status,
            "outcome_category": s.outcome_category,
            "outcome_code": s.outcome_code,
            "outcome_data": s.outcome_data if s.outcome_data else None,
            "cost_cents": s.cost_cents,
            "duration_ms": s.duration_ms,
            "retry_count": s.retry_count,
            "input_hash": s.input_hash,
            "output_hash": s.output_hash,
            "rng_state_before": s.rng_state_before,
            "idempotency_key": s.idempotency_key,
            "replay_behavior": s.replay_behavior,
            "timestamp": s.timestamp if s.timestamp is not None else self._clock(),
            "source": s.source,
            "level": status_to_level(status),
            "is_synthetic": s.is_synthetic,
            "synthetic_scenario_id": s.synthetic_scenario_id,
        }

    def complete_trace(self, run_id: str, status: str, metadata: Mapping[str, Any] | None = None) -> int:
        """Set status and ``completed_at`` of the run's traces; an empty or None ``metadata`` keeps
        the stored one (``COALESCE``). Returns the number of traces updated."""
        new_metadata = sa.bindparam("new_metadata", dict(metadata) if metadata else None,
                                    type_=aos_traces.c.metadata.type)
        stmt = (
            sa.update(aos_traces)
            .where(aos_traces.c.run_id == run_id)
            .values(status=status, completed_at=self._clock(),
                    metadata=sa.func.coalesce(new_metadata, aos_traces.c.metadata))
        )
        with self._begin() as conn:
            return conn.execute(stmt).rowcount

    def mark_trace_aborted(self, run_id: str, reason: Any) -> int:
        """Upstream's fail-closed ending: only ``running`` traces become ``aborted``, with
        ``completed_at`` and ``metadata.abort_reason`` set (NULL metadata counts as ``{}``).
        Returns the number of traces updated."""
        reason_json = sa.cast(sa.bindparam("abort_reason", json.dumps(reason), type_=sa.Text), JSONB)
        metadata = sa.func.jsonb_set(
            sa.func.coalesce(aos_traces.c.metadata, sa.literal_column("'{}'::jsonb", JSONB)),
            sa.literal_column("'{abort_reason}'::text[]"),
            reason_json,
        )
        stmt = (
            sa.update(aos_traces)
            .where(aos_traces.c.run_id == run_id, aos_traces.c.status == "running")
            .values(status="aborted", completed_at=self._clock(), metadata=metadata)
        )
        with self._begin() as conn:
            return conn.execute(stmt).rowcount

    # -- SDK / API path ------------------------------------------------------------------------

    def store_trace(
        self,
        trace: Mapping[str, Any],
        tenant_id: str,
        stored_by: str | None = None,
        redact_pii: bool = True,
        *,
        is_synthetic: bool = False,
        synthetic_scenario_id: str | None = None,
        incident_id: str | None = None,
        replay_mode: str | None = None,
        replay_attempt_id: str | None = None,
        replay_artifact_version: str | None = None,
        trace_completeness_status: str | None = None,
    ) -> str:
        """Store a posted trace (SDK v1.1 or TraceRecord-like dict) and its steps; return the trace id.

        Defaults as upstream: trace_id ``trace_`` + 16 hex, run_id = trace_id, correlation_id =
        run_id, seed 42, schema ``"1.1"``, status ``completed``, metadata ``{}``; per step skill_name
        ``unknown``, status ``success`` (SDK steps carry ``outcome``, not ``status``), category
        ``SUCCESS``, cost/duration 0, ``rng_state_before`` or ``rng_state``. The SDSR and replay
        keyword arguments are overridden by the trace's own keys."""
        get = trace.get
        trace_id = get("trace_id") or f"trace_{uuid.uuid4().hex[:16]}"
        run_id = get("run_id") or get("trace_id") or trace_id
        sdsr = {
            "is_synthetic": get("is_synthetic", is_synthetic),
            "synthetic_scenario_id": get("synthetic_scenario_id", synthetic_scenario_id),
            "incident_id": get("incident_id", incident_id),
            "replay_mode": get("replay_mode", replay_mode),
            "replay_attempt_id": get("replay_attempt_id", replay_attempt_id),
            "replay_artifact_version": get("replay_artifact_version", replay_artifact_version),
            "trace_completeness_status": get("trace_completeness_status", trace_completeness_status),
        }
        doc = redact_trace_data(dict(trace)) if redact_pii else dict(trace)
        get = doc.get
        row = dict(
            trace_id=trace_id, run_id=run_id, correlation_id=get("correlation_id", run_id), tenant_id=tenant_id,
            agent_id=get("agent_id"), plan_id=get("plan_id"), seed=get("seed", 42),
            frozen_timestamp=get("frozen_timestamp") or get("timestamp"), root_hash=get("root_hash"),
            plan_hash=get("plan_hash"), schema_version=get("schema_version", "1.1"),
            plan=_json(get("plan", [])), trace=doc, metadata=_json(get("metadata", {})),
            status=get("status", "completed"),
            started_at=_instant(doc["started_at"]) if get("started_at") else self._clock(),
            completed_at=_instant(doc["completed_at"]) if get("completed_at") else None,
            stored_by=stored_by, **sdsr,
        )
        with self._autocommit() as conn:
            conn.execute(_TRACE_INSERT, row)
            for step in get("steps", []):
                conn.execute(_STEP_INSERT, self._posted_step_values(trace_id, step))
        return trace_id

    def _posted_step_values(self, trace_id: str, step: Mapping[str, Any]) -> dict[str, Any]:
        get = step.get
        status = get("status", "success")
        return {
            "trace_id": trace_id,
            "step_index": get("step_index", 0),
            "skill_id": get("skill_id", get("skill_name", "unknown")),
            "skill_name": get("skill_name", "unknown"),
            "params": _json(get("params", {})),
            "status": status,
            "outcome_category": get("outcome_category", "SUCCESS"),
            "outcome_code": get("outcome_code"),
            "outcome_data": get("outcome_data") or None,
            "cost_cents": get("cost_cents", 0.0),
            "duration_ms": get("duration_ms", 0.0),
            "retry_count": get("retry_count", 0),
            "input_hash": get("input_hash"),
            "output_hash": get("output_hash"),
            "rng_state_before": get("rng_state_before") or get("rng_state"),
            "idempotency_key": get("idempotency_key"),
            "replay_behavior": get("replay_behavior", "execute"),
            "timestamp": _instant(step["timestamp"]) if get("timestamp") else self._clock(),
            "source": get("source", "engine"),
            "level": status_to_level(status),
        }

    # -- archival ------------------------------------------------------------------------------

    def archive_trace(self, trace_id: str, *, steps: bool = True) -> bool:
        """Soft-archive a trace (and its steps): ``archived_at`` goes from NULL to the clock's now,
        the one update the immutability triggers allow besides completion (§2.5). Returns False
        when the trace does not exist or is archived already (there is no un-archiving)."""
        now = self._clock()
        with self._begin() as conn:
            done = conn.execute(
                sa.update(aos_traces)
                .where(aos_traces.c.trace_id == trace_id, aos_traces.c.archived_at.is_(None))
                .values(archived_at=now)
            ).rowcount
            if steps:
                conn.execute(
                    sa.update(aos_trace_steps)
                    .where(aos_trace_steps.c.trace_id == trace_id, aos_trace_steps.c.archived_at.is_(None))
                    .values(archived_at=now)
                )
        return done > 0


# -- logs tables (§2.7, §3): one row each, on an Engine (own transaction) or a Connection (the caller's)


@contextmanager
def _connection(target: Engine | Connection) -> Iterator[Connection]:
    if isinstance(target, Engine):
        with target.begin() as conn:
            yield conn
    else:
        yield target


def _insert(target: Engine | Connection, table: sa.Table, defaulted: Iterable[str], **row: Any) -> None:
    # A None for a column with a server default leaves the default to the database, as upstream does.
    skip = set(defaulted)
    values = {k: v for k, v in row.items() if not (k in skip and v is None)}
    with _connection(target) as conn:
        conn.execute(sa.insert(table).values(values))


def insert_tenant(target: Engine | Connection, tenant_id: str, name: str | None = None, *,
                  created_at: datetime | None = None) -> str:
    """A ``tenants`` row (the ledger, LLM records and exports reference it); an existing id is kept."""
    values = {"id": tenant_id, "name": name}
    if created_at is not None:
        values["created_at"] = created_at
    with _connection(target) as conn:
        conn.execute(pg_insert(tenants).values(values).on_conflict_do_nothing(index_elements=["id"]))
    return tenant_id


def insert_llm_run_record(
    target: Engine | Connection,
    *,
    tenant_id: str,
    run_id: str,
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_cents: int,
    execution_status: str,
    started_at: datetime,
    completed_at: datetime | None = None,
    source: str = "WORKER",
    trace_id: str | None = None,
    prompt_hash: str | None = None,
    response_hash: str | None = None,
    is_synthetic: bool = False,
    synthetic_scenario_id: str | None = None,
    record_id: str | None = None,
    created_at: datetime | None = None,
) -> str:
    """An ``llm_run_records`` row (§3.2; the worker writes one per terminal state, id a uuid4)."""
    record_id = record_id or str(uuid.uuid4())
    _insert(target, llm_run_records, ("created_at",),
            id=record_id, tenant_id=tenant_id, run_id=run_id, trace_id=trace_id, provider=provider, model=model,
            prompt_hash=prompt_hash, response_hash=response_hash, input_tokens=input_tokens,
            output_tokens=output_tokens, cost_cents=cost_cents, execution_status=execution_status,
            started_at=started_at, completed_at=completed_at, source=source, is_synthetic=is_synthetic,
            synthetic_scenario_id=synthetic_scenario_id, created_at=created_at)
    return record_id


def insert_system_record(
    target: Engine | Connection,
    *,
    component: str,
    event_type: str,
    severity: str,
    summary: str,
    tenant_id: str | None = None,
    details: Any = None,
    caused_by: str | None = None,
    correlation_id: str | None = None,
    record_id: str | None = None,
    created_at: datetime | None = None,
) -> str:
    """A ``system_records`` row (§3.3); ``tenant_id`` None is a system-wide record."""
    record_id = record_id or str(uuid.uuid4())
    _insert(target, system_records, ("created_at",),
            id=record_id, tenant_id=tenant_id, component=component, event_type=event_type, severity=severity,
            summary=summary, details=details, caused_by=caused_by, correlation_id=correlation_id,
            created_at=created_at)
    return record_id


def insert_log_export(
    target: Engine | Connection,
    *,
    tenant_id: str,
    scope: str,
    requested_by: str,
    format: str,
    origin: str,
    run_id: str | None = None,
    source_component: str | None = None,
    correlation_id: str | None = None,
    checksum: str | None = None,
    status: str | None = None,
    delivered_at: datetime | None = None,
    export_id: str | None = None,
    created_at: datetime | None = None,
) -> str:
    """A ``log_exports`` row (§3.4). None for ``source_component``/``status`` leaves the database
    defaults (``LogExportService``, ``pending``); the row can never change afterwards."""
    export_id = export_id or str(uuid.uuid4())
    _insert(target, log_exports, ("source_component", "status", "created_at"),
            id=export_id, tenant_id=tenant_id, scope=scope, run_id=run_id, requested_by=requested_by,
            format=format, origin=origin, source_component=source_component, correlation_id=correlation_id,
            checksum=checksum, status=status, delivered_at=delivered_at, created_at=created_at)
    return export_id


def insert_mismatch(
    target: Engine | Connection,
    *,
    trace_id: str,
    tenant_id: str,
    reason: str,
    reported_by: str | None = None,
    step_index: int | None = None,
    expected_hash: str | None = None,
    actual_hash: str | None = None,
    details: Mapping[str, Any] | None = None,
    upstream_repr: bool = False,
    notification_sent: bool | None = None,
    issue_url: str | None = None,
    resolved: bool | None = None,
    resolved_at: datetime | None = None,
    resolved_by: str | None = None,
    mismatch_id: str | None = None,
    created_at: datetime | None = None,
) -> str:
    """An ``aos_trace_mismatches`` row (§2.7). ``details`` is written as JSON; ``upstream_repr=True``
    binds ``str(details)`` as upstream's driver does (§11.16), which Postgres rejects for any
    non-empty dict (``{'a': 1}`` is not JSON) and accepts for ``{}``. None leaves the ``'{}'`` default."""
    mismatch_id = mismatch_id or str(uuid.uuid4())
    stored: Any = details
    if upstream_repr and details is not None:
        stored = sa.cast(sa.bindparam("details_repr", str(details), type_=sa.Text), JSONB)
    _insert(target, aos_trace_mismatches, ("details", "notification_sent", "resolved", "created_at"),
            id=mismatch_id, trace_id=trace_id, tenant_id=tenant_id, reported_by=reported_by, step_index=step_index,
            reason=reason, expected_hash=expected_hash, actual_hash=actual_hash, details=stored,
            notification_sent=notification_sent, issue_url=issue_url, resolved=resolved, resolved_at=resolved_at,
            resolved_by=resolved_by, created_at=created_at)
    return mismatch_id
