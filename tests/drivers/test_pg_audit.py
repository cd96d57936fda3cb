"""The async audit-ledger writer and the policy activation audit against a real Postgres (§3.1, §12).

No pytest-asyncio here: each test drives its coroutine with ``asyncio.run``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from drivers.pg_audit import (
    AuditEntityType,
    AuditEventType,
    AuditLedgerWriter,
    record_policy_activation,
)
from drivers.pg_schema import audit_ledger, policy_activation_audit
from drivers.pg_writer import insert_tenant
from inspector.logs import PolicyActivation
from tests.drivers.conftest import CLOCK_START, StepClock
from tests.pgutil import sa_url

TENANT = "tenant-a"


@pytest.fixture
def engine(pg_url):
    eng = sa.create_engine(sa_url(pg_url))
    insert_tenant(eng, TENANT)
    yield eng
    eng.dispose()


def run_async(pg_url: str, body):
    """Run ``await body(async_engine)`` on a fresh event loop, disposing the engine on it."""

    async def main():
        aengine = create_async_engine(sa_url(pg_url))
        try:
            return await body(aengine)
        finally:
            await aengine.dispose()

    return asyncio.run(main())


def ledger(engine) -> list[dict]:
    cols = [*audit_ledger.c, sa.func.jsonb_typeof(audit_ledger.c.before_state).label("before_type"),
            sa.func.jsonb_typeof(audit_ledger.c.after_state).label("after_type")]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(*cols).order_by(audit_ledger.c.created_at)).mappings()]


S = {"k": 1}
S2 = {"k": 2}

# method, state keyword arguments, event type, entity type, default actor, before_state, after_state
EVENTS = [
    ("policy_rule_created", {"rule_state": S}, "PolicyRuleCreated", "POLICY_RULE", "SYSTEM", None, S),
    ("policy_rule_modified", {"before_state": S, "after_state": S2}, "PolicyRuleModified", "POLICY_RULE", "SYSTEM",
     S, S2),
    ("policy_rule_retired", {"rule_state": S}, "PolicyRuleRetired", "POLICY_RULE", "SYSTEM", S, None),
    ("policy_proposal_approved", {"proposal_state": S}, "PolicyProposalApproved", "POLICY_PROPOSAL", "HUMAN",
     None, S),
    ("policy_proposal_rejected", {"proposal_state": S}, "PolicyProposalRejected", "POLICY_PROPOSAL", "HUMAN",
     None, S),
    ("limit_created", {"limit_state": S}, "LimitCreated", "LIMIT", "SYSTEM", None, S),
    ("limit_updated", {"before_state": S, "after_state": S2}, "LimitUpdated", "LIMIT", "SYSTEM", S, S2),
    ("limit_breached", {"breach_details": S}, "LimitBreached", "LIMIT", "SYSTEM", None, S),
    ("limit_override_granted", {"override_state": S}, "LimitOverrideGranted", "LIMIT", "SYSTEM", None, S),
    ("limit_override_revoked", {"override_state": S}, "LimitOverrideRevoked", "LIMIT", "SYSTEM", S, None),
    ("incident_acknowledged", {}, "IncidentAcknowledged", "INCIDENT", "HUMAN", None, None),
    ("incident_resolved", {"resolution_method": "auto_recovery"}, "IncidentResolved", "INCIDENT", "HUMAN", None,
     {"resolution_method": "auto_recovery"}),
    ("incident_manually_closed", {"before_state": S, "after_state": S2}, "IncidentManuallyClosed", "INCIDENT",
     "HUMAN", S, S2),
    ("emergency_override_activated", {"override_state": S}, "EmergencyOverrideActivated", "POLICY_RULE", "HUMAN",
     None, S),
    ("emergency_override_deactivated", {"override_state": S}, "EmergencyOverrideDeactivated", "POLICY_RULE",
     "HUMAN", S, None),
    ("signal_acknowledged", {"signal_state": S}, "SignalAcknowledged", "SIGNAL", "HUMAN", None, S),
    ("signal_suppressed", {"suppressed_until": {"suppressed_until": "2026-01-01T00:00:00+00:00"}},
     "SignalSuppressed", "SIGNAL", "HUMAN", None, {"suppressed_until": "2026-01-01T00:00:00+00:00"}),
    ("signal_escalated", {"escalation_context": S}, "SignalEscalated", "SIGNAL", "SYSTEM", None, S),
]


def test_every_event_type_has_a_method():
    assert [e[2] for e in EVENTS] == [e.value for e in AuditEventType]
    assert {e[3] for e in EVENTS} == {e.value for e in AuditEntityType}


def test_event_state_conventions(pg_url, engine):
    """Every method twice (one database for all: cloning one per case is the slow part): with the
    default actor, then with actor, reason and correlation id given."""

    async def body(aengine):
        writer = AuditLedgerWriter(aengine, clock=StepClock())
        ids = []
        for method, states, *_ in EVENTS:
            ids.append(await getattr(writer, method)(TENANT, f"{method}-1", **states))
            ids.append(await getattr(writer, method)(TENANT, f"{method}-2", "user-7", "AGENT", "because", **states,
                                                     correlation_id="corr-1"))
        return ids

    ids = run_async(pg_url, body)
    rows = ledger(engine)
    assert [r["id"] for r in rows] == ids
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert [r["created_at"] for r in rows] == [CLOCK_START + timedelta(seconds=i) for i in range(len(rows))]
    for (method, _states, event_type, entity_type, actor, before, after), a, b in zip(
            EVENTS, rows[::2], rows[1::2], strict=True):
        for row in (a, b):
            assert (row["event_type"], row["entity_type"], row["before_state"], row["after_state"]) == (
                event_type, entity_type, before, after), method
            # An unused state is JSON null, as upstream's SQLModel rows have it.
            assert (row["before_type"], row["after_type"]) == (
                "null" if before is None else "object", "null" if after is None else "object"), method
        assert (a["entity_id"], a["actor_type"], a["actor_id"], a["action_reason"], a["correlation_id"]) == (
            f"{method}-1", actor, None, None, None)
        assert (b["entity_id"], b["actor_type"], b["actor_id"], b["action_reason"], b["correlation_id"]) == (
            f"{method}-2", "AGENT", "user-7", "because", "corr-1")


def test_default_actors_without_arguments(pg_url, engine):
    async def body(aengine):
        w = AuditLedgerWriter(aengine)
        await w.limit_created(TENANT, "l")
        await w.policy_rule_retired(TENANT, "r")
        await w.signal_escalated(TENANT, "s")
        await w.policy_proposal_approved(TENANT, "p")
        await w.incident_acknowledged(TENANT, "i")
        await w.signal_suppressed(TENANT, "s")

    run_async(pg_url, body)
    rows = ledger(engine)
    assert [(r["event_type"], r["actor_type"]) for r in rows] == [
        ("LimitCreated", "SYSTEM"), ("PolicyRuleRetired", "SYSTEM"), ("SignalEscalated", "SYSTEM"),
        ("PolicyProposalApproved", "HUMAN"), ("IncidentAcknowledged", "HUMAN"), ("SignalSuppressed", "HUMAN")]
    assert all(r["before_type"] == r["after_type"] == "null" for r in rows)
    assert all(r["created_at"].tzinfo is not None for r in rows)


def test_signal_suppressed_instant_goes_under_suppressed_until(pg_url, engine):
    until = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)

    async def body(aengine):
        w = AuditLedgerWriter(aengine, clock=StepClock())
        await w.signal_suppressed(TENANT, "sig-1", "u", suppressed_until=until, signal_state={"run_id": "run-1"})
        await w.signal_suppressed(TENANT, "sig-1", "u", suppressed_until="2026-03-01T00:00:00+00:00")
        await w.signal_suppressed(TENANT, "sig-1", "u", signal_state={"run_id": "run-2"})

    run_async(pg_url, body)
    assert [r["after_state"] for r in ledger(engine)] == [
        {"run_id": "run-1", "suppressed_until": "2026-02-01T12:00:00+00:00"},
        {"suppressed_until": "2026-03-01T00:00:00+00:00"},
        {"run_id": "run-2"},
    ]


def test_incident_resolved_without_method_has_no_after_state(pg_url, engine):
    run_async(pg_url, lambda ae: AuditLedgerWriter(ae).incident_resolved(TENANT, "inc-1", "u"))
    [row] = ledger(engine)
    assert (row["after_state"], row["after_type"]) == (None, "null")


def test_sql_null_states_on_request(pg_url, engine):
    run_async(pg_url, lambda ae: AuditLedgerWriter(ae, json_null_states=False).limit_created(TENANT, "l", None,
                                                                                             "SYSTEM", None, S))
    [row] = ledger(engine)
    assert (row["before_type"], row["after_state"]) == (None, S)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_ledger WHERE before_state IS NULL")).scalar() == 1


def test_emit_accepts_any_strings_but_the_database_checks_actor_and_tenant(pg_url, engine):
    async def body(aengine):
        w = AuditLedgerWriter(aengine)
        await w.emit(TENANT, "SomethingNew", "DECISION", "d-1", "AGENT")
        with pytest.raises(sa.exc.IntegrityError, match="ck_audit_ledger_actor_type"):
            await w.emit(TENANT, "X", "LIMIT", "l", "ROBOT")
        with pytest.raises(sa.exc.IntegrityError, match="foreign key"):
            await w.emergency_override_activated("no-such-tenant", "o-1", entity_type="LIMIT")

    run_async(pg_url, body)
    assert [(r["event_type"], r["entity_type"]) for r in ledger(engine)] == [("SomethingNew", "DECISION")]


def test_session_writer_leaves_the_transaction_to_the_caller(pg_url, engine):
    async def body(aengine):
        async with AsyncSession(aengine) as session:
            w = AuditLedgerWriter(session)
            await w.limit_created(TENANT, "rolled-back")
            await session.rollback()
            await w.limit_created(TENANT, "kept")
            await w.limit_breached(TENANT, "kept", breach_details={"run_id": "run-1", "value": 12})
            await session.commit()
        async with aengine.connect() as conn:
            await AuditLedgerWriter(conn).limit_created(TENANT, "never-committed")
            # leaving the block without commit rolls back

    run_async(pg_url, body)
    assert [(r["entity_id"], r["event_type"]) for r in ledger(engine)] == [("kept", "LimitCreated"),
                                                                           ("kept", "LimitBreached")]


def test_ledger_rows_are_immutable(pg_url, engine):
    run_async(pg_url, lambda ae: AuditLedgerWriter(ae).limit_created(TENANT, "l"))
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="audit_ledger is immutable"):
        conn.execute(sa.update(audit_ledger).values(actor_id="x"))


# -- policy activation audit ----------------------------------------------------------------------


def activation_rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(policy_activation_audit)).mappings()]


def test_record_policy_activation_upserts(pg_url, engine):
    first = datetime(2026, 1, 1, tzinfo=UTC)
    second = datetime(2026, 1, 2, tzinfo=UTC)

    async def body(aengine):
        async with AsyncSession(aengine) as session:
            a = await record_policy_activation(
                session, policy_id="pol-1", source_pattern_id="pat-1", source_recovery_id="rec-1",
                confidence_at_activation=0.82, confidence_version="CONF_V1", approval_path="auto",
                loop_trace_id="loop-1", tenant_id=TENANT, clock=lambda: first)
            await session.commit()
            b = await record_policy_activation(
                session, policy_id="pol-1", source_pattern_id="pat-2", source_recovery_id="rec-2",
                confidence_at_activation=0.95, confidence_version="CONF_V2", approval_path="human_review",
                loop_trace_id="loop-2", tenant_id="tenant-b", clock=lambda: second)
            await session.commit()
            return a, b

    a, b = run_async(pg_url, body)
    assert a == PolicyActivation("pol-1", "pat-1", "rec-1", 0.82, "CONF_V1", "auto", "loop-1",
                                 "2026-01-01T00:00:00+00:00", TENANT)
    assert b.activated_at == "2026-01-02T00:00:00+00:00"
    [row] = activation_rows(engine)
    # Only confidence, approval path and activation time follow the new call.
    assert {k: row[k] for k in ("policy_id", "source_pattern_id", "source_recovery_id", "confidence_at_activation",
                                "confidence_version", "approval_path", "loop_trace_id", "activated_at",
                                "tenant_id")} == {
        "policy_id": "pol-1", "source_pattern_id": "pat-1", "source_recovery_id": "rec-1",
        "confidence_at_activation": 0.95, "confidence_version": "CONF_V1", "approval_path": "human_review",
        "loop_trace_id": "loop-1", "activated_at": second, "tenant_id": TENANT,
    }


def test_record_policy_activation_does_not_commit(pg_url, engine):
    async def body(aengine):
        async with aengine.connect() as conn:
            await record_policy_activation(
                conn, policy_id="pol-x", source_pattern_id=None, source_recovery_id=None,
                confidence_at_activation=0.5, confidence_version="v", approval_path="auto", loop_trace_id=None,
                tenant_id=TENANT)
            await conn.rollback()
        async with AsyncSession(aengine) as session:
            act = await record_policy_activation(
                session, policy_id="pol-y", source_pattern_id=None, source_recovery_id=None,
                confidence_at_activation=None, confidence_version=None, approval_path=None, loop_trace_id="l",
                tenant_id=None)
            await session.commit()
            return act

    act = run_async(pg_url, body)
    assert datetime.fromisoformat(act.activated_at).tzinfo is not None
    assert [r["policy_id"] for r in activation_rows(engine)] == ["pol-y"]
