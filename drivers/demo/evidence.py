"""The demo's evidence (spec §3.7): a ``runs`` row for every demo run, and evidence written through
the capture writers the way upstream's runtime leaves it, so the demo holds runs of every integrity
grade (§4) — for the SQLite and the Postgres demo alike.

Each run is captured as it executed: environment evidence (H) at its start, a budget decision (D),
activity (B) and provider (G) evidence for every model-call attempt, and the integrity record (J)
when it ended. Evidence step indexes come from an :class:`~inspector.capture.ExecutionCursor`
advanced before every attempt, retries included, so they are 1-based and do not equal the trace's
step indexes (§11.6). Runs that make no model call have no B/G evidence and grade WARN (4/6):
upstream's integrity scan expects them although its taxonomy says pure transforms need none.

On top of that, a few runs per :class:`Scenario` are captured differently (a failed capture that a
retry superseded, one never resolved, no environment evidence, no evidence at all, an integrity
record captured before later evidence or a later failure, so that it disagrees with a grade
computed now). Everything is drawn from ``random.Random`` seeded by the demo's seed, apart from the
demo's own generator, so the traces are those of the demo without evidence.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from drivers.evidence_capture import (
    CaptureStamps,
    capture_activity_evidence,
    capture_environment_evidence,
    capture_integrity_evidence,
    capture_logger_name,
    capture_policy_decision_evidence,
    capture_provider_evidence,
    record_capture_failure,
)
from drivers.demo.recipe import DemoRun
from drivers.evidence_schema import runs as runs_table
from inspector.capture import (
    CaptureFailureReason,
    EvidenceSource,
    ExecutionContext,
    ExecutionCursor,
    hash_prompt,
)


__all__ = ["Scenario", "write_demo_evidence"]


class Scenario(enum.StrEnum):
    """How a run's evidence was captured. ``AS_EXECUTED`` is the ordinary capture (its grade
    follows from what the run did); the others are planted on a few runs each."""

    AS_EXECUTED = "as_executed"
    #: A completed run with model calls whose policy check left no decision row: 5/6, still PASS.
    NO_POLICY = "no_policy"
    #: Every class captured, but one capture failed first and a retry succeeded: WARN (superseded).
    SUPERSEDED_FAILURE = "superseded_failure"
    #: Provider evidence never captured (the provider timed out): WARN, its reason in missing_reasons.
    UNRESOLVED_FAILURE = "unresolved_failure"
    #: Environment evidence failed to capture and never did: FAIL, its reason in missing_reasons.
    ENVIRONMENT_FAILED = "environment_failed"
    #: Everything but environment evidence: FAIL.
    NO_ENVIRONMENT = "no_environment"
    #: A run row and its trace, no evidence at all: FAIL.
    NO_EVIDENCE = "no_evidence"
    #: Integrity record stored (VALID), then a reconciler recorded a capture failure: now WARN.
    STALE_AFTER_FAILURE = "stale_after_failure"
    #: Integrity record stored before provider and policy evidence were reconciled: stored
    #: DEGRADED, now PASS.
    STALE_AFTER_EVIDENCE = "stale_after_evidence"
    #: A run that ended without its integrity record being written.
    NO_INTEGRITY_RECORD = "no_integrity_record"


#: How many runs each planted scenario gets.
_PLANTED = {
    Scenario.SUPERSEDED_FAILURE: 6,
    Scenario.UNRESOLVED_FAILURE: 5,
    Scenario.ENVIRONMENT_FAILED: 4,
    Scenario.NO_ENVIRONMENT: 5,
    Scenario.NO_EVIDENCE: 12,
    Scenario.STALE_AFTER_FAILURE: 3,
    Scenario.STALE_AFTER_EVIDENCE: 3,
}

_RUN_STATUS = {"completed": "succeeded", "failed": "failed", "error": "failed", "timeout": "failed",
               "aborted": "halted", "suspended": "halted"}
_TERMINATION = {"completed": "completed", "failed": "system_failure", "error": "system_failure",
                "timeout": "timeout", "aborted": "budget_exceeded", "suspended": "user_abort"}
_HTTP_STATUS = {"ERR_HTTP_503": 503, "ERR_HTTP_502": 502, "ERR_RATE_LIMIT": 429, "ERR_HTTP_404": 404,
                "ERR_HTTP_400": 400, "ERR_AUTH_INVALID_KEY": 401}


def _is_llm(skill: str) -> bool:
    return "llm" in skill


def _ok(status: str) -> bool:
    return status in ("success", "succeeded")


def _provider(model: str) -> str:
    if model.startswith("claude"):
        return "anthropic"
    if model.startswith("gpt"):
        return "openai"
    return "stub"


class _QuietFor(logging.Filter):
    """Drops the capture writers' log records about the given runs."""

    def __init__(self, run_ids: set[str]) -> None:
        super().__init__()
        self.run_ids = run_ids

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "run_id", None) not in self.run_ids


class _At:
    """The capture clock: each write is stamped with the demo instant set just before it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _EvidenceWriter:
    def __init__(self, conn: sa.Connection, seed: int) -> None:
        self.conn = conn
        self.rng = random.Random(seed * 104_729 + 11)
        self.at = _At(datetime(2026, 10, 1, tzinfo=UTC))
        self.stamps = CaptureStamps(self.at, lambda: f"{self.rng.getrandbits(32):08x}")

    # -- the plan ------------------------------------------------------------------------------

    def plan(self, runs: list[DemoRun], notes: Mapping[str, Any]) -> dict[str, tuple[Scenario, int]]:
        """Each run's scenario, and which variant of it (planted runs take the variants in turn)."""
        r = self.rng
        special = set(notes["orphans"]) | {notes["empty"], notes["big"]} | {rid for rid, _ in notes["replays"]}
        plain = [run for run in runs if run.run_id not in special and run.status is not None]
        llm_done = [run for run in plain if run.status == "completed" and any(_is_llm(s.skill_name) for s in run.steps)]
        llm_done_ids = {run.run_id for run in llm_done}
        plan: dict[str, tuple[Scenario, int]] = {}
        for scenario, n in _PLANTED.items():
            pool = [run for run in (plain if scenario is Scenario.NO_EVIDENCE else llm_done) if run.run_id not in plan]
            for i, run in enumerate(r.sample(pool, n)):
                plan[run.run_id] = (scenario, i)
        for run in runs:
            if run.run_id in plan:
                continue
            if run.status is not None and r.random() < 0.08:
                plan[run.run_id] = (Scenario.NO_INTEGRITY_RECORD, 0)
            elif run.run_id in llm_done_ids and r.random() < 0.2:
                plan[run.run_id] = (Scenario.NO_POLICY, 0)
            else:
                plan[run.run_id] = (Scenario.AS_EXECUTED, 0)
        return plan

    # -- writing -------------------------------------------------------------------------------

    def run_row(self, run: DemoRun) -> dict[str, Any]:
        goal = " → ".join(str(p.get("description") or p.get("skill")) for p in run.plan) or None
        return {"id": run.run_id, "tenant_id": run.tenant_id, "agent_id": run.agent_id, "goal": goal,
                "status": _RUN_STATUS.get(run.status or "", "running"),
                "parent_run_id": (run.metadata or {}).get("replay_of"), "correlation_id": run.correlation_id,
                "started_at": run.started_at, "completed_at": run.completed_at,
                "termination_reason": _TERMINATION.get(run.status or ""), "created_at": run.started_at}

    def environment(self, ctx: ExecutionContext, run: DemoRun, **overrides: Any) -> str | None:
        meta = run.metadata or {}
        args: dict[str, Any] = {
            "sdk_mode": "async" if ctx.source is EvidenceSource.WORKER else "inline",
            "execution_environment": "sandbox" if run.tenant_id == "tenant-demo-001" else "prod",
            "sdk_version": "1.1.0",
            "telemetry_delivery_status": "sent",
            "capture_confidence_score": round(self.rng.uniform(0.9, 1.0), 3),
            "dry_run": bool(meta.get("dry_run", False)),
        }
        args.update(overrides)
        return capture_environment_evidence(self.conn, ctx, stamps=self.stamps, **args)

    def budget(self, ctx: ExecutionContext, run: DemoRun, decision: str = "GRANTED", reason: str | None = None) -> None:
        capture_policy_decision_evidence(
            self.conn, ctx, policy_type="budget", decision=decision,
            policies_evaluated=[f"limit-{run.tenant_id}-cost"], policy_results="pass" if decision == "GRANTED" else "fail",
            decision_reason=reason or "within the run budget", decision_confidence=1.0,
            thresholds_used={"metric": "cost_cents_per_run", "max": 50}, policy_rule_id=f"rule-{run.tenant_id}-budget",
            policy_version=1, decision_reason_codes=["BUDGET_OK" if decision == "GRANTED" else "BUDGET_EXCEEDED"],
            stamps=self.stamps)

    def write_run(self, run: DemoRun, scenario: Scenario, variant: int) -> None:
        S = Scenario
        if scenario is S.NO_EVIDENCE:
            return
        worker = run.big is not None or any(s.status in ("succeeded", "failed", "retrying") for s in run.steps)
        cursor = ExecutionCursor(ExecutionContext(run.run_id, 0, EvidenceSource.WORKER if worker else EvidenceSource.SDK))
        end = run.completed_at or run.started_at
        # Which capture a SUPERSEDED_FAILURE run sees fail first: environment, activity or provider.
        first_failure = ("environment_evidence", "activity_evidence", "provider_evidence")[variant % 3] \
            if scenario is S.SUPERSEDED_FAILURE else None

        # H: at run creation.
        self.at.now = run.started_at
        if scenario is S.ENVIRONMENT_FAILED:
            if variant % 2 == 0:
                # An SDK that did not report its mode: the NOT NULL violation is recorded as a
                # database_error failure, and nothing retries it.
                self.environment(cursor.context, run, sdk_mode=None)
            else:  # the context was not attached yet when the SDK tried (stored 'permanent')
                record_capture_failure(self.conn, run.run_id, "environment_evidence", CaptureFailureReason.PRE_ATTACH,
                                       "ExecutionContext not attached at run creation", stamps=self.stamps)
        elif scenario is not S.NO_ENVIRONMENT:
            if first_failure == "environment_evidence":
                self.environment(cursor.context, run, sdk_mode=None)  # fails: a database_error failure …
                self.at.now += timedelta(milliseconds=250)
                self.environment(cursor.context, run, sdk_mode="degraded")  # … superseded by the retry
            else:
                self.environment(cursor.context, run)

        # D: the budget check before the first step (reconciled after the end for a stale record).
        deferred = scenario is S.STALE_AFTER_EVIDENCE
        self.at.now = run.started_at + timedelta(milliseconds=1)
        if scenario is not S.NO_POLICY and not deferred:
            self.budget(cursor.context, run)

        # B and G: every attempt of a model call (replays are mocked: they call no model).
        late_provider: list[tuple[int, dict[str, Any]]] = []
        replay = "replay_of" in (run.metadata or {})
        for k, step in enumerate(() if run.big is not None else run.steps):
            if step.status == "skipped":
                continue
            ctx = cursor.advance()
            if step.outcome_code == "ERR_BUDGET_EXCEEDED":
                self.at.now = run.times[k]
                self.budget(ctx, run, "DENIED", "run budget of 25 cents exceeded")
            if replay or not _is_llm(step.skill_name):
                continue
            params = dict(step.params)
            out = dict(step.outcome_data or {})
            prompt = str(params.get("prompt", ""))
            model = str(params.get("model") or out.get("model") or "stub-model")
            activity = {"skill_id": step.skill_name, "model_name": model, "prompt_fingerprint": hash_prompt(prompt),
                        "prompt_token_length": max(1, len(prompt) // 4)}
            self.at.now = run.times[k] - timedelta(microseconds=int(step.duration_ms * 1000))
            if first_failure == "activity_evidence":
                record_capture_failure(self.conn, run.run_id, "activity_evidence",
                                       CaptureFailureReason.NETWORK_PARTITION,
                                       "collector unreachable; evidence re-sent after reconnect", stamps=self.stamps)
                first_failure = None
            capture_activity_evidence(
                self.conn, ctx, prompt_template_id=f"tpl-{run.agent_id or 'adhoc'}", prompt_template_version="v1",
                sensitivity_class="pii" if run.unicode else "internal", redaction_status="hashed",
                stamps=self.stamps, **activity)
            self.at.now = run.times[k]
            if step.status in ("running", "pending"):
                continue  # in flight: the prompt is captured, no response yet
            usage = out.get("usage") or {}
            code = step.outcome_code
            if _ok(step.status):
                capture_activity_evidence(
                    self.conn, ctx, response_fingerprint=hash_prompt(str(out.get("content", ""))),
                    response_token_length=usage.get("output_tokens"), completion_type="final", stamps=self.stamps,
                    **activity)
            if code == "ERR_TIMEOUT":
                continue  # no provider response to record
            provider = {
                "provider_name": _provider(model), "model_name": model,
                "input_tokens": usage.get("input_tokens"), "output_tokens": usage.get("output_tokens"),
                "provider_latency_ms": int(step.duration_ms),
                "provider_request_id": f"req_{self.rng.getrandbits(48):012x}",
                "provider_http_status": _HTTP_STATUS.get(code or "", 200 if _ok(step.status) else 500),
                "provider_error_code": None if _ok(step.status) or not code else code.lower(),
                "provider_retry_count": step.retry_count,
            }
            if scenario is S.UNRESOLVED_FAILURE:
                # One row per run and reason: the unique key drops the repeats (ON CONFLICT DO NOTHING).
                record_capture_failure(self.conn, run.run_id, "provider_evidence", CaptureFailureReason.PROVIDER_TIMEOUT,
                                       f"provider did not confirm request {provider['provider_request_id']}",
                                       stamps=self.stamps)
                continue
            if deferred:
                late_provider.append((ctx.step_index, provider))
                continue
            if first_failure == "provider_evidence":
                record_capture_failure(self.conn, run.run_id, "provider_evidence", CaptureFailureReason.CAPTURE_FAILED,
                                       "statement timeout writing provider evidence; retried", stamps=self.stamps)
                self.at.now += timedelta(milliseconds=500)
                first_failure = None
            capture_provider_evidence(self.conn, ctx, stamps=self.stamps, **provider)

        # J: when the run ended; some are never written, some go stale afterwards.
        if run.status is None or scenario is S.NO_INTEGRITY_RECORD:
            return
        self.at.now = end + timedelta(seconds=1)
        capture_integrity_evidence(self.conn, run.run_id, stamps=self.stamps)
        if scenario is S.STALE_AFTER_FAILURE:
            self.at.now = end + timedelta(minutes=42)
            record_capture_failure(self.conn, run.run_id, "policy_decisions", CaptureFailureReason.NETWORK_PARTITION,
                                   "reconciler: decision replicated twice after a partition", stamps=self.stamps)
        elif deferred:
            self.at.now = end + timedelta(minutes=15)
            self.budget(ExecutionContext(run.run_id, 0, EvidenceSource.RECONCILER), run)
            for step_index, provider in late_provider:
                capture_provider_evidence(self.conn, ExecutionContext(run.run_id, step_index, EvidenceSource.RECONCILER),
                                          stamps=self.stamps, **provider)


def write_demo_evidence(conn: sa.Connection, runs: Iterable[DemoRun], notes: Mapping[str, Any],
                        seed: int) -> dict[str, tuple[str, ...]]:
    """Write the ``runs`` rows and the evidence of the demo's runs on ``conn`` (tables must exist;
    the caller commits). Returns the run ids of each :class:`Scenario` (by value)."""
    runs = list(runs)
    w = _EvidenceWriter(conn, seed)
    plan = w.plan(runs, notes)
    conn.execute(runs_table.insert(), [w.run_row(run) for run in runs])
    # The failures planted on purpose are not news: keep their warnings out of the user's terminal.
    planted = _QuietFor({rid for rid, (s, _) in plan.items()
                         if s in (Scenario.ENVIRONMENT_FAILED, Scenario.SUPERSEDED_FAILURE)})
    capture_log = logging.getLogger(capture_logger_name)
    capture_log.addFilter(planted)
    try:
        for run in runs:
            w.write_run(run, *plan[run.run_id])
    finally:
        capture_log.removeFilter(planted)
    out: dict[str, list[str]] = {s.value: [] for s in Scenario}
    for run in runs:
        out[plan[run.run_id][0].value].append(run.run_id)
    return {k: tuple(v) for k, v in out.items()}
