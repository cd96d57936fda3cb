"""A small, hand-checked logs domain in a real Postgres database (SQLAlchemy Core inserts into the
``drivers.pg_schema`` tables), for the logs panel tests and the panel screenshots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from drivers import pg_schema as s

__all__ = [
    "CORR",
    "MODIFIED_EVENT",
    "OTHER_RUN",
    "OTHER_TENANT",
    "RUN",
    "T0",
    "TENANT",
    "TRACE",
    "add_ledger_rows",
    "fill_logs",
]

RUN = "run-0001"
TRACE = "trace_run-0001"
CORR = "corr-0001"
TENANT = "t-acme"
OTHER_TENANT = "t-globex"
OTHER_RUN = "run-0002"
T0 = datetime(2026, 11, 20, 9, 30, 0, tzinfo=UTC)
MODIFIED_EVENT = "audit-modified"


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    # one statement per row: the rows leave out different columns (NULL or the server default)
    for row in rows:
        conn.execute(sa.insert(table).values(**row))


def fill_logs(conn: sa.Connection) -> None:
    """One run (``RUN``, trace ``TRACE``, tenant ``TENANT``) with something in every logs table,
    and rows of another run and tenant that the run's panels must not show.

    What the run's panels show: 4 audit events (one modified: 3 changes), 2 policy activations
    (one linked by trace id, one by correlation id), 1 LLM record, 2 system records (the
    tenant's and a system-wide one), 2 exports, 2 mismatches (1 open)."""
    _insert(conn, s.tenants, [{"id": TENANT, "name": "Acme"}, {"id": OTHER_TENANT, "name": "Globex"}])
    _insert(
        conn,
        s.aos_traces,
        [
            {
                "trace_id": TRACE,
                "run_id": RUN,
                "correlation_id": CORR,
                "tenant_id": TENANT,
                "agent_id": "agent-7",
                "root_hash": "pending",
                "schema_version": "1.1",
                "plan": [{"skill": "llm.invoke"}],
                "trace": {"steps": []},
                "status": "completed",
                "started_at": _at(0),
                "completed_at": _at(12),
            },
            {
                "trace_id": f"trace_{OTHER_RUN}",
                "run_id": OTHER_RUN,
                "correlation_id": "corr-0002",
                "tenant_id": OTHER_TENANT,
                "root_hash": "pending",
                "schema_version": "1.1",
                "plan": [],
                "trace": {"steps": []},
                "status": "completed",
                "started_at": _at(-3600),
            },
        ],
    )
    _insert(
        conn,
        s.aos_trace_steps,
        [
            {
                "trace_id": TRACE,
                "step_index": i,
                "skill_id": skill,
                "skill_name": skill,
                "params": {"i": i},
                "status": "succeeded",
                "outcome_category": "" if i == 2 else "SUCCESS",
                "cost_cents": 1.5,
                "duration_ms": 800.0,
                "retry_count": 0,
                "replay_behavior": "execute",
                "timestamp": _at(1 + 2 * i),
            }
            for i, skill in enumerate(("llm.invoke", "http.call", "json.transform", "llm.invoke"))
        ],
    )
    _insert(
        conn,
        s.llm_run_records,
        [
            {
                "id": "llm-1",
                "tenant_id": TENANT,
                "run_id": RUN,
                "trace_id": TRACE,
                "provider": "anthropic",
                "model": "claude-sonnet",
                "prompt_hash": "9f2c1a7be0d34c55",
                "response_hash": "77aa01c3e9b2f410",
                "input_tokens": 1843,
                "output_tokens": 512,
                "cost_cents": 37,
                "execution_status": "SUCCEEDED",
                "started_at": _at(0.5),
                "completed_at": _at(11),
                "source": "WORKER",
                "is_synthetic": False,
            },
            {
                "id": "llm-2a",
                "tenant_id": OTHER_TENANT,
                "run_id": OTHER_RUN,
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 10,
                "output_tokens": 5,
                "cost_cents": 1,
                "execution_status": "FAILED",
                "started_at": _at(-3600),
                "source": "API",
                "is_synthetic": False,
            },
            {
                "id": "llm-2b",
                "tenant_id": OTHER_TENANT,
                "run_id": OTHER_RUN,
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 12,
                "output_tokens": 7,
                "cost_cents": 1,
                "execution_status": "SUCCEEDED",
                "started_at": _at(-3590),
                "completed_at": _at(-3580),
                "source": "API",
                "is_synthetic": False,
            },
        ],
    )
    rule_before = {"run_id": RUN, "threshold": 10, "actions": ["warn"], "owner": {"team": "risk"}, "note": "temporary"}
    rule_after = {"run_id": RUN, "threshold": 20, "actions": ["warn", "block"], "owner": {"team": "risk"}}
    _insert(
        conn,
        s.audit_ledger,
        [
            {
                "id": MODIFIED_EVENT,
                "tenant_id": TENANT,
                "event_type": "PolicyRuleModified",
                "entity_type": "POLICY_RULE",
                "entity_id": "rule-42",
                "actor_type": "HUMAN",
                "actor_id": "alice@acme",
                "action_reason": "Tighten after incident",
                "before_state": rule_before,
                "after_state": rule_after,
                "created_at": _at(5),
                "correlation_id": CORR,
            },
            {
                "id": "audit-created",
                "tenant_id": TENANT,
                "event_type": "PolicyRuleCreated",
                "entity_type": "POLICY_RULE",
                "entity_id": "rule-43",
                "actor_type": "SYSTEM",
                "before_state": None,
                "after_state": {"run_id": RUN, "threshold": 5},
                "created_at": _at(3),
            },
            {
                "id": "audit-breach",
                "tenant_id": TENANT,
                "event_type": "LimitBreached",
                "entity_type": "LIMIT",
                "entity_id": "limit-cost-daily",
                "actor_type": "SYSTEM",
                "after_state": {"source_run_id": RUN, "value": 1200, "limit": 1000},
                "created_at": _at(9),
            },
            {
                "id": "audit-incident",
                "tenant_id": TENANT,
                "event_type": "IncidentAcknowledged",
                "entity_type": "INCIDENT",
                "entity_id": "inc-9",
                "actor_type": "HUMAN",
                "actor_id": "bob@acme",
                "action_reason": "Looking into it",
                "after_state": {"source_run_id": RUN, "acked": True},
                "created_at": _at(40),
            },
            # not about the run
            {
                "id": "audit-other",
                "tenant_id": TENANT,
                "event_type": "PolicyRuleRetired",
                "entity_type": "POLICY_RULE",
                "entity_id": "rule-1",
                "actor_type": "SYSTEM",
                "before_state": {"run_id": "run-9999"},
                "created_at": _at(6),
            },
            {
                "id": "audit-globex",
                "tenant_id": OTHER_TENANT,
                "event_type": "LimitCreated",
                "entity_type": "LIMIT",
                "entity_id": "limit-x",
                "actor_type": "SYSTEM",
                "after_state": {"run_id": OTHER_RUN},
                "created_at": _at(7),
            },
        ],
    )
    _insert(
        conn,
        s.policy_activation_audit,
        [
            {
                "policy_id": "pol-trace",
                "source_pattern_id": "pat-1",
                "confidence_at_activation": 0.91,
                "confidence_version": "cc-2.1",
                "approval_path": "auto",
                "loop_trace_id": TRACE,
                "activated_at": _at(8),
                "tenant_id": TENANT,
            },
            {
                "policy_id": "pol-corr",
                "source_recovery_id": "rec-3",
                "confidence_at_activation": 0.62,
                "confidence_version": "cc-2.1",
                "approval_path": "human_review",
                "loop_trace_id": CORR,
                "activated_at": _at(20),
                "tenant_id": TENANT,
            },
            {
                "policy_id": "pol-other",
                "confidence_at_activation": 0.5,
                "loop_trace_id": "corr-0002",
                "tenant_id": OTHER_TENANT,
            },
        ],
    )
    _insert(
        conn,
        s.system_records,
        [
            {
                "id": "sys-tenant",
                "tenant_id": TENANT,
                "component": "worker",
                "event_type": "RESTART",
                "severity": "WARN",
                "summary": "Worker restarted after OOM",
                "details": {"pid": 4242, "rss_mb": 2048},
                "caused_by": "SYSTEM",
                "created_at": _at(4),
            },
            {
                "id": "sys-global",
                "tenant_id": None,
                "component": "db",
                "event_type": "HEALTH_CHECK",
                "severity": "INFO",
                "summary": "Primary healthy",
                "created_at": _at(7),
            },
            {
                "id": "sys-globex",
                "tenant_id": OTHER_TENANT,
                "component": "api",
                "event_type": "ERROR",
                "severity": "CRITICAL",
                "summary": "Globex API failure",
                "created_at": _at(6),
            },
        ],
    )
    _insert(
        conn,
        s.log_exports,
        [
            {
                "id": "exp-1",
                "tenant_id": TENANT,
                "scope": "llm_run",
                "run_id": RUN,
                "requested_by": "alice@acme",
                "format": "json",
                "origin": "HUMAN",
                "created_at": _at(60),
            },
            {
                "id": "exp-2",
                "tenant_id": TENANT,
                "scope": "audit",
                "run_id": RUN,
                "requested_by": "compliance-bot",
                "format": "zip",
                "origin": "AGENT",
                "created_at": _at(90),
            },
            {
                "id": "exp-3",
                "tenant_id": TENANT,
                "scope": "system",
                "run_id": None,
                "requested_by": "alice@acme",
                "format": "csv",
                "origin": "HUMAN",
                "created_at": _at(120),
            },
        ],
    )
    _insert(
        conn,
        s.aos_trace_mismatches,
        [
            {
                "trace_id": TRACE,
                "tenant_id": TENANT,
                "reported_by": "replay-engine",
                "step_index": 1,
                "reason": "output_mismatch",
                "expected_hash": "a1b2c3d4e5f60718",
                "actual_hash": "ffee00112233aabb",
                "created_at": _at(300),
            },
            {
                "trace_id": TRACE,
                "tenant_id": TENANT,
                "reported_by": "replay-engine",
                "step_index": 3,
                "reason": "hash_mismatch",
                "expected_hash": "0011",
                "actual_hash": "0012",
                "resolved": True,
                "resolved_at": _at(400),
                "resolved_by": "carol",
                "created_at": _at(310),
            },
        ],
    )


def add_ledger_rows(
    conn: sa.Connection,
    n: int,
    *,
    tenant: str = TENANT,
    event_type: str = "LimitUpdated",
    start: datetime | None = None,
) -> list[str]:
    """``n`` more ledger events, one second apart (the last newest); returns their ids."""
    base = start or _at(-100_000)
    rows = [
        {
            "id": f"bulk-{uuid.uuid4().hex[:12]}-{i:06d}",
            "tenant_id": tenant,
            "event_type": event_type,
            "entity_type": "LIMIT",
            "entity_id": f"limit-{i % 17}",
            "actor_type": "SYSTEM",
            "actor_id": None,
            "action_reason": None,
            "before_state": {"value": i},
            "after_state": {"value": i + 1},
            "created_at": base + timedelta(seconds=i),
        }
        for i in range(n)
    ]
    conn.execute(sa.insert(s.audit_ledger), rows)
    return [r["id"] for r in rows]
