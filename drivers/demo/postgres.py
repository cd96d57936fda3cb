"""The demo in Postgres: the SQLite demo's runs, written through upstream-semantics writers, plus
the logs domain around them (audit ledger, policy activations, LLM run records, system records,
log exports, replay mismatches) so every panel has something to show.

What differs from the SQLite demo, as upstream's Postgres store makes it differ (spec §2, §11):
trace ids are ``trace_{run_id}``; a re-recorded step index keeps its *first* write; runs the SQLite
demo deletes are soft-archived instead (the immutability triggers forbid deleting); the one
invalid-JSON cell is left out (``jsonb`` cannot hold it); two runs get a second, SDK-posted trace
(``store_trace``, with PII redaction); worker runs keep ``root_hash = 'pending'``.

The evidence is the SQLite demo's (:mod:`drivers.demo.evidence`: ``runs`` rows and runs of every
integrity grade), written on Postgres; since archived traces still count, the runs the SQLite demo
deletes keep an integrity record that agrees with their grade here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from drivers.demo.evidence import write_demo_evidence
from drivers.demo.recipe import DemoBuilder, DemoRun, ScriptedClock
from drivers.evidence_schema import create_evidence_tables
from drivers.pg_common import PgLocation, translate_errors
from drivers.pg_schema import create_schema
from drivers.pg_writer import (
    PgStepInput,
    PostgresTraceStore,
    insert_llm_run_record,
    insert_log_export,
    insert_mismatch,
    insert_system_record,
    insert_tenant,
)
from inspector.errors import UsageError

__all__ = [
    "demo_summary_text",
    "generate_pg_demo",
    "PgDemoSummary",
]


@dataclass(frozen=True)
class PgDemoSummary:
    location: str
    traces: int
    steps: int
    archived: int
    sdk_traces: tuple[str, ...]
    big_run_id: str
    audit_events: int
    policy_activations: int
    llm_records: int
    system_records: int
    log_exports: int
    mismatches: int
    evidence_scenarios: dict[str, tuple[str, ...]] = field(hash=False)
    """Run ids by :class:`drivers.demo.evidence.Scenario` value."""
    integrity_records: int


class _At:
    """A clock that returns what it was last set to (ledger rows get the demo's own times)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 10, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


_LLM_STATUS = {"completed": "SUCCEEDED", "failed": "FAILED", "error": "FAILED", "aborted": "ABORTED",
               "timeout": "TIMEOUT"}


def _engine_url(url: str, password: str | None) -> sa.URL:
    return PgLocation(url, password).sa_url()


def generate_pg_demo(
    url: str,
    seed: int = 7,
    *,
    big_run_steps: int = 100_000,
    password: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PgDemoSummary:
    """Fill the database at ``url`` with the demo. The database must have no AOS data: the
    schema is created when absent; a database that already holds traces is refused (upstream's
    triggers make its rows undeletable, so a second demo cannot replace the first)."""
    engine = sa.create_engine(_engine_url(url, password), poolclass=sa.pool.NullPool)
    location = PgLocation(url).display
    try:
        with translate_errors(location, "writing the demo"):
            with engine.begin() as conn:
                if conn.execute(sa.text("SELECT to_regclass('aos_traces') IS NOT NULL")).scalar():
                    if conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM aos_traces)")).scalar():
                        raise UsageError("already holds AOS traces; give an empty database for the demo",
                                         location=location)
                    create_evidence_tables(conn)  # a schema made without them gets them (kept if present)
                else:
                    create_schema(conn)
            return _fill(engine, url, password, location, seed, big_run_steps, progress)
    finally:
        engine.dispose()


def _fill(engine: sa.Engine, url: str, password: str | None, location: str, seed: int, big_run_steps: int,
          progress: Callable[[int, int], None] | None) -> PgDemoSummary:
    runs, notes = DemoBuilder(seed, big_run_steps).build()
    rng = random.Random(seed * 7919 + 1)
    total = sum(run.row_count for run in runs)
    clock = ScriptedClock()
    store = PostgresTraceStore(engine, clock=clock)
    done = 0
    if progress:
        progress(0, total)
    with store.bulk():
        for run in runs:
            done = _write_run(store, clock, run, done, total, progress)
    with engine.begin() as conn:
        evidence = write_demo_evidence(conn, runs, notes, seed)
    # Later writes (archiving, SDK posts) happen at the demo's own instants too.
    at = _At()
    later = PostgresTraceStore(engine, clock=at)
    archived = 0
    for run in runs:
        if run.run_id in set(notes["orphans"]):
            at.now = (run.completed_at or run.started_at) + timedelta(days=90)
            archived += bool(later.archive_trace(f"trace_{run.run_id}"))
    sdk = _sdk_traces(later, at, runs, rng)
    kept = [r for r in runs if r.run_id not in set(notes["orphans"])]
    counts = _logs(engine, url, password, kept, rng)
    with engine.connect() as conn:
        traces = conn.execute(sa.text("SELECT count(*) FROM aos_traces")).scalar_one()
        steps = conn.execute(sa.text("SELECT count(*) FROM aos_trace_steps")).scalar_one()
        integrity = conn.execute(sa.text("SELECT count(*) FROM integrity_evidence")).scalar_one()
    return PgDemoSummary(location=location, traces=int(traces), steps=int(steps), archived=archived,
                         sdk_traces=tuple(sdk), big_run_id=notes["big"], **counts, evidence_scenarios=evidence,
                         integrity_records=int(integrity))


def _write_run(store: PostgresTraceStore, clock: ScriptedClock, run: DemoRun, done: int, total: int,
               progress: Callable[[int, int], None] | None) -> int:
    clock.feed(run.started_at)
    trace_id = store.start_trace(run.run_id, run.correlation_id, run.tenant_id, run.agent_id, run.plan)

    def pg_steps(steps, times):
        return [PgStepInput(trace_id, s.step_index, s.skill_name, s.params, s.status, s.outcome_category,
                            s.outcome_code, s.outcome_data, s.cost_cents, s.duration_ms, s.retry_count,
                            timestamp=t) for s, t in zip(steps, times, strict=True)]

    if run.big is not None:
        for steps, times in run.big():
            store.record_steps(pg_steps(steps, times))
            done += len(steps)
            if progress:
                progress(done, total)
    elif run.steps:
        store.record_steps(pg_steps(run.steps, run.times))
        done += len(run.final_steps())
    if run.status is not None:
        clock.feed(run.completed_at)
        store.complete_trace(run.run_id, run.status, run.metadata)
    if progress and run.big is None:
        progress(done, total)
    return done


def _sdk_traces(store: PostgresTraceStore, at: _At, runs: list[DemoRun], rng: random.Random) -> list[str]:
    """Two runs get a second trace posted by the SDK (``store_trace``): several traces per run
    (§11.1), a real root hash, and PII that the store path redacts (§7)."""
    picked = [r for r in runs if r.status == "completed" and r.big is None and r.steps][5:7]
    out = []
    for n, run in enumerate(picked):
        posted_at = (run.completed_at or run.started_at) + timedelta(minutes=5 + n)
        steps = [{
            "step_index": i,
            "skill_id": s.skill_name,
            "params": {**dict(s.params), "contact": f"ops{i}@example.com",
                       "headers": {"Authorization": "Bearer sk-demo-" + "%08x" % rng.getrandbits(32)},
                       "api_key": "demo-key-" + "%08x" % rng.getrandbits(32)},
            "outcome": "success" if s.status in ("success", "succeeded") else "failure",
            "outcome_data": s.outcome_data,
            "duration_ms": s.duration_ms,
            "timestamp": (posted_at + timedelta(seconds=i)).isoformat(),
        } for i, s in enumerate(list(run.final_steps().values())[:4])]
        at.now = posted_at
        body = {"run_id": run.run_id, "correlation_id": run.correlation_id, "plan": run.plan, "steps": steps,
                "started_at": posted_at.isoformat(),
                "seed": 42, "timestamp": posted_at.replace(microsecond=0).isoformat(), "version": "1.1.0",
                "metadata": {"sdk": "aos_sdk 1.1.0", "note": "posted from a laptop replay"}}
        body["root_hash"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        body["trace_id"] = "trace_" + "%016x" % rng.getrandbits(64)
        store.store_trace(body, run.tenant_id, stored_by="user-demo")
        out.append(body["trace_id"])
    return out


def _logs(engine: sa.Engine, url: str, password: str | None, runs: list[DemoRun], rng: random.Random) -> dict[str, int]:
    tenants = sorted({r.tenant_id for r in runs})
    finished = [r for r in runs if r.status is not None]
    first = min(r.started_at for r in runs)
    last = max((r.completed_at or r.started_at) for r in runs)
    n_llm = n_sys = n_exp = n_mis = 0
    with engine.begin() as conn:
        for t in tenants:
            insert_tenant(conn, t, name=t.removeprefix("tenant-").replace("-", " ").title(),
                          created_at=first - timedelta(days=30))
        # LLM run records: one per finished run that called a model, two for a few (§11.18).
        for run in finished:
            llm = [s for s in run.final_steps().values() if "llm" in s.skill_name]
            if not llm or run.status not in _LLM_STATUS:
                continue
            tokens_in = sum(int(dict(s.params).get("max_tokens", 256)) // 3 for s in llm)
            tokens_out = sum(len(json.dumps(s.outcome_data or {})) // 4 for s in llm)
            provider, model = rng.choice((("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku"),
                                          ("openai", "gpt-4.1")))
            for extra in range(2 if rng.random() < 0.05 else 1):
                insert_llm_run_record(
                    conn, tenant_id=run.tenant_id, run_id=run.run_id, trace_id=f"trace_{run.run_id}",
                    provider=provider, model=model,
                    prompt_hash=hashlib.sha256(f"{run.run_id}:p{extra}".encode()).hexdigest(),
                    response_hash=hashlib.sha256(f"{run.run_id}:r{extra}".encode()).hexdigest(),
                    input_tokens=tokens_in, output_tokens=tokens_out,
                    # Integer cents (§3.2): what the run's LLM steps cost, rounded up.
                    cost_cents=math.ceil(sum(s.cost_cents for s in llm)), execution_status=_LLM_STATUS[run.status],
                    started_at=run.started_at, completed_at=run.completed_at, source="WORKER", is_synthetic=False,
                    created_at=run.completed_at or run.started_at,
                )
                n_llm += 1
        # System records: platform events for everyone, errors of a tenant next to its failures.
        t = first
        while t < last:
            event = rng.choice(("DEPLOY", "HEALTH_CHECK", "HEALTH_CHECK", "RESTART", "CONFIG_CHANGE"))
            insert_system_record(conn, component=rng.choice(("worker", "api", "scheduler")), event_type=event,
                                 severity="WARN" if event == "RESTART" else "INFO",
                                 summary={"DEPLOY": "Deployed worker 2.3.1", "HEALTH_CHECK": "All checks green",
                                          "RESTART": "Worker restarted after OOM",
                                          "CONFIG_CHANGE": "Rate limits reloaded"}[event],
                                 details={"host": f"worker-{rng.randrange(4)}"}, caused_by="AUTOMATION",
                                 created_at=t)
            n_sys += 1
            t += timedelta(hours=rng.uniform(4, 12))
        for run in finished:
            if run.status in ("failed", "error", "timeout"):
                insert_system_record(conn, tenant_id=run.tenant_id, component="worker", event_type="ERROR",
                                     severity="CRITICAL" if run.status == "error" else "WARN",
                                     summary=f"Run {run.run_id} ended {run.status}",
                                     details={"run_id": run.run_id, "status": run.status}, caused_by="SYSTEM",
                                     correlation_id=run.correlation_id,
                                     created_at=(run.completed_at or run.started_at) + timedelta(seconds=2))
                n_sys += 1
        # Log exports: requested for some runs and tenants; upstream never moves them off pending.
        for run in rng.sample(finished, 12):
            insert_log_export(conn, tenant_id=run.tenant_id, scope="llm_run", run_id=run.run_id,
                              requested_by="auditor@example.com", format=rng.choice(("json", "csv", "zip")),
                              origin="HUMAN", correlation_id=run.correlation_id,
                              created_at=(run.completed_at or run.started_at) + timedelta(hours=2))
            n_exp += 1
        for tnt in tenants:
            insert_log_export(conn, tenant_id=tnt, scope="audit", requested_by="compliance-bot", format="pdf",
                              origin="SYSTEM", created_at=last)
            n_exp += 1
        # Mismatches: replays that broke parity, some resolved.
        for run in runs:
            meta = run.metadata or {}
            if meta.get("replay_of") and run.status != "completed":
                resolved = rng.random() < 0.4
                when = (run.completed_at or run.started_at) + timedelta(minutes=1)
                insert_mismatch(conn, trace_id=f"trace_{run.run_id}", tenant_id=run.tenant_id,
                                reason=rng.choice(("output_mismatch", "hash_mismatch")), reported_by="replay-engine",
                                step_index=len(run.steps) - 1,
                                expected_hash="%016x" % rng.getrandbits(64), actual_hash="%016x" % rng.getrandbits(64),
                                details={"replay_of": meta["replay_of"]}, resolved=resolved,
                                resolved_at=when + timedelta(hours=3) if resolved else None,
                                resolved_by="oncall@example.com" if resolved else None, created_at=when)
                n_mis += 1
    audit, activations = asyncio.run(_ledger(url, password, runs, finished, tenants, first, last, rng))
    return {"audit_events": audit, "policy_activations": activations, "llm_records": n_llm,
            "system_records": n_sys, "log_exports": n_exp, "mismatches": n_mis}


async def _ledger(url: str, password: str | None, runs: list[DemoRun], finished: list[DemoRun], tenants: list[str],
                  first: datetime, last: datetime, rng: random.Random) -> tuple[int, int]:
    """Governance events through the async ledger writer, and policy activations."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from drivers.pg_audit import AuditLedgerWriter, record_policy_activation

    engine = create_async_engine(_engine_url(url, password), poolclass=sa.pool.NullPool)
    at = _At()
    n = 0
    try:
        async with AsyncSession(engine) as session, session.begin():
            w = AuditLedgerWriter(session, clock=at)
            # Rules and limits set up before the first run.
            for tnt in tenants:
                at.now = first - timedelta(days=7)
                await w.policy_rule_created(tnt, f"rule-{tnt}-pii", "admin@example.com", reason="PII guard",
                                            rule_state={"name": "Block PII in prompts", "mode": "enforce"})
                at.now += timedelta(minutes=5)
                await w.limit_created(tnt, f"limit-{tnt}-cost", "admin@example.com",
                                      limit_state={"metric": "cost_cents_per_run", "max": 500})
                n += 2
            # Events that name runs (what the run's Audit panel shows).
            for run in finished:
                end = run.completed_at or run.started_at
                if run.status in ("failed", "error", "timeout") and rng.random() < 0.6:
                    at.now = end - timedelta(seconds=rng.uniform(1, 20))
                    await w.limit_breached(run.tenant_id, f"limit-{run.tenant_id}-cost",
                                           breach_details={"run_id": run.run_id, "metric": "cost_cents_per_run",
                                                           "value": rng.randrange(501, 900), "max": 500})
                    n += 1
                    if rng.random() < 0.5:
                        at.now = end + timedelta(minutes=rng.uniform(10, 300))
                        await w.policy_proposal_approved(run.tenant_id, f"prop-{run.run_id[:12]}",
                                                         "reviewer@example.com", reason="Tighten after breach",
                                                         proposal_state={"source_run_id": run.run_id,
                                                                         "change": "max 500 → 400"})
                        at.now += timedelta(minutes=1)
                        await w.limit_updated(run.tenant_id, f"limit-{run.tenant_id}-cost", "reviewer@example.com",
                                              reason="Proposal approved",
                                              before_state={"metric": "cost_cents_per_run", "max": 500},
                                              after_state={"metric": "cost_cents_per_run", "max": 400,
                                                           "source_run_id": run.run_id})
                        n += 2
            # Background noise for the tenant-wide view.
            t = first
            while t < last:
                at.now = t
                tnt = rng.choice(tenants)
                kind = rng.random()
                if kind < 0.5:
                    await w.signal_acknowledged(tnt, f"sig-{rng.getrandbits(32):08x}", "oncall@example.com",
                                                signal_state={"severity": rng.choice(("low", "medium"))})
                elif kind < 0.8:
                    await w.policy_rule_modified(tnt, f"rule-{tnt}-pii", "admin@example.com", reason="Tuning",
                                                 before_state={"mode": "enforce", "threshold": 0.8},
                                                 after_state={"mode": "enforce", "threshold": round(rng.uniform(0.6, 0.9), 2)})
                else:
                    await w.signal_escalated(tnt, f"sig-{rng.getrandbits(32):08x}",
                                             escalation_context={"severity": "high", "paged": "oncall"})
                n += 1
                t += timedelta(hours=rng.uniform(1, 6))
            # Policy activations linked to runs through loop_trace_id (§12).
            activations = 0
            for i, run in enumerate(rng.sample(finished, 6)):
                at.now = (run.completed_at or run.started_at) + timedelta(hours=1)
                await record_policy_activation(
                    session, policy_id=f"pol-{run.tenant_id}-{i}", source_pattern_id=f"pat-{i:03d}",
                    source_recovery_id=f"rec-{i:03d}", confidence_at_activation=round(rng.uniform(0.7, 0.99), 3),
                    confidence_version="cc-1.4.0", approval_path=rng.choice(("auto", "human_review")),
                    loop_trace_id=f"trace_{run.run_id}" if i % 2 == 0 else run.correlation_id,
                    tenant_id=run.tenant_id, clock=at)
                activations += 1
    finally:
        await engine.dispose()
    return n, activations


def demo_summary_text(summary: PgDemoSummary) -> str:
    return (f"{summary.location}\n{summary.traces:,} traces ({summary.archived} archived, "
            f"{len(summary.sdk_traces)} SDK-posted), {summary.steps:,} steps; largest run {summary.big_run_id}\n"
            f"{summary.audit_events} audit events, {summary.policy_activations} policy activations, "
            f"{summary.llm_records} LLM run records, {summary.system_records} system records, "
            f"{summary.log_exports} log exports, {summary.mismatches} mismatches\n"
            f"evidence for {sum(len(v) for k, v in summary.evidence_scenarios.items() if k != 'no_evidence')} runs, "
            f"{summary.integrity_records} integrity records\n")
