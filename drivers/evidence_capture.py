"""Evidence capture writers: upstream's ``LOGS/L6_drivers/capture_driver.py`` (spec §3.7) on
SQLAlchemy Core, for Postgres and SQLite connections alike.

Every writer takes the caller's connection and never commits: the caller owns the transaction.
What upstream does is kept: the row ids (``ee-{run}``, ``ae-{run}-{step}``, ``pe-{run}-{step}``,
``pd-{run}-{type}-{8hex}``, ``ie-{run}``, ``ecf-{run}-{type}-{8hex}``), first write wins for H, G
and J, the activity upsert that fills the response fields later and never erases them, "no context
→ no evidence" as a hard error, an SQL error in H/B/G/D logged, recorded as a ``database_error``
capture failure and answered with None, and the id returned even when ``ON CONFLICT DO NOTHING``
kept an earlier row.

Two differences, on purpose (spec §11.15):

* Each insert runs in a SAVEPOINT (``conn.begin_nested()``). Upstream records a capture failure in
  the transaction Postgres has just aborted, so its failure rows barely exist and its caller's
  transaction is dead; here the failed insert is rolled back to the savepoint, the failure row is
  really written (itself in a savepoint) and the caller's transaction stays usable.
* :func:`capture_integrity_evidence` gathers the facts on the caller's connection. Upstream opens a
  new connection and so cannot see evidence its caller wrote earlier in the same, uncommitted
  transaction.

Kept although it is a bug: the failure id ``ecf-{run_id}-{evidence_type}-{8hex}`` is 66–70
characters for uuid run ids, over the column's ``varchar(64)``, so on Postgres such a failure is not
recorded (the error is swallowed, as upstream swallows it). SQLite does not enforce the length.

On SQLite the driver (pysqlite) opens its transaction only at the first DML statement, and a
SAVEPOINT outside a transaction would commit on release; the writers therefore open the transaction
first when none is open yet.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from drivers.evidence_reader import gather_facts
from drivers.evidence_schema import (
    activity_evidence,
    environment_evidence,
    evidence_capture_failures,
    integrity_evidence,
    policy_decisions,
    provider_evidence,
)
from inspector.capture import (
    CaptureFailureReason,
    EvidenceContextError,
    ExecutionContext,
    hash_prompt,
    require_context,
    resolution_for,
)
from inspector.integrity import FailureResolution, compute_integrity_v2

__all__ = [
    "CaptureStamps",
    "EvidenceContextError",
    "capture_activity_evidence",
    "capture_environment_evidence",
    "capture_integrity_evidence",
    "capture_logger_name",
    "capture_policy_decision_evidence",
    "capture_provider_evidence",
    "hash_prompt",
    "record_capture_failure",
]

logger = logging.getLogger(__name__)
#: The logger's name: a caller can filter the warnings about failed captures it expects.
capture_logger_name = logger.name

#: Upstream truncates the stored error message to this many characters.
_ERROR_MESSAGE_LIMIT = 500


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _uuid_token() -> str:
    return uuid4().hex[:8]


@dataclass(frozen=True, slots=True)
class CaptureStamps:
    """Where the writers get the time and the 8-hex id suffixes: the wall clock and uuid4 (as
    upstream) unless a generator needs reproducible rows."""

    now: Callable[[], datetime] = field(default=_utc_now)
    token: Callable[[], str] = field(default=_uuid_token)


_SYSTEM = CaptureStamps()


#: Upstream's conflict handling per table: the unique key whose row is kept, or None for none.
_KEEP_FIRST: dict[str, list[str] | None] = {
    environment_evidence.name: ["run_id"],
    provider_evidence.name: ["run_id", "step_index"],
    integrity_evidence.name: ["run_id"],
    evidence_capture_failures.name: [],  # ON CONFLICT DO NOTHING, whichever key conflicts
    policy_decisions.name: None,  # a plain INSERT
}
_TABLES = {t.name: t for t in (environment_evidence, activity_evidence, provider_evidence, policy_decisions,
                               integrity_evidence, evidence_capture_failures)}
#: The columns the activity upsert merges: a later write fills them, a None never erases them.
_MERGED = ("response_fingerprint", "response_token_length", "completion_type")


@functools.cache
def _statement(dialect: str, table_name: str) -> Any:
    """The dialect's INSERT for a table with upstream's ``ON CONFLICT`` clause, built once (the
    values are bound at execution)."""
    table = _TABLES[table_name]
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"evidence capture supports Postgres and SQLite, not {dialect}")
    if table is activity_evidence:
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "step_index"],
            set_={col: sa.func.coalesce(stmt.excluded[col], table.c[col]) for col in _MERGED})
    keep = _KEEP_FIRST[table_name]
    if keep is None:
        return stmt
    return stmt.on_conflict_do_nothing(index_elements=keep or None)


def _insert_in_savepoint(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
    stmt = _statement(conn.dialect.name, table.name)
    # pysqlite begins only before DML; a SAVEPOINT it has not wrapped in BEGIN would be the
    # outermost one, and releasing it would commit the caller's work.
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")
    with conn.begin_nested():
        conn.execute(stmt, values)


def record_capture_failure(
    conn: sa.Connection,
    run_id: str,
    evidence_type: str,
    failure_reason: str,
    error_message: str | None = None,
    resolution: str | FailureResolution | None = None,
    *,
    stamps: CaptureStamps = _SYSTEM,
) -> None:
    """Record that capturing ``evidence_type`` for ``run_id`` failed (best effort: any error is
    logged at debug level and swallowed, as upstream does).

    The resolution defaults by reason (``pre_attach`` and ``context_invalid`` permanent, everything
    else transient); ``ON CONFLICT DO NOTHING`` keeps the first failure per (run, type, reason).
    The id is upstream's, unshortened: over 64 characters for uuid run ids, which Postgres refuses
    (spec §11.15), so such a failure is not recorded there.
    """
    try:
        if resolution is None:
            resolution = resolution_for(failure_reason)
        values = {
            "id": f"ecf-{run_id}-{evidence_type}-{stamps.token()}",
            "run_id": run_id,
            "evidence_type": evidence_type,
            "failure_reason": failure_reason,
            "error_message": error_message[:_ERROR_MESSAGE_LIMIT] if error_message else None,
            "resolution": getattr(resolution, "value", resolution),
            "created_at": stamps.now(),
        }
        _insert_in_savepoint(conn, evidence_capture_failures, values)
    except Exception as e:  # noqa: BLE001 - upstream: "Silent fail - this is best-effort tracking"
        logger.debug("Failed to record capture failure: %s", e)


def _capture(conn: sa.Connection, table: sa.Table, values: dict[str, Any], stamps: CaptureStamps,
             **log: Any) -> str | None:
    """Insert one evidence row; on an SQL error log it, record a ``database_error`` failure whose
    evidence type is the table's name, and answer None."""
    run_id, evidence_id = values["run_id"], values["id"]
    try:
        _insert_in_savepoint(conn, table, values)
    except SQLAlchemyError as e:
        logger.warning("%s capture failed for run %s: %s", table.name, run_id, e,
                       extra={"run_id": run_id, "error": str(e), **log})
        record_capture_failure(conn, run_id, table.name, CaptureFailureReason.DATABASE_ERROR, str(e), stamps=stamps)
        return None
    logger.debug("%s captured: %s", table.name, evidence_id, extra={"run_id": run_id, **log})
    return evidence_id


# -- H: environment (once per run, at creation) ---------------------------------------------------


def capture_environment_evidence(
    conn: sa.Connection,
    ctx: ExecutionContext | None,
    *,
    sdk_mode: str,
    execution_environment: str | None = None,
    sdk_version: str | None = None,
    telemetry_delivery_status: str | None = None,
    capture_confidence_score: float | None = None,
    telemetry_enabled: bool = True,
    debug_mode: bool = False,
    dry_run: bool = False,
    stamps: CaptureStamps = _SYSTEM,
) -> str | None:
    """Class H, ``ee-{run_id}``; the first row of a run wins. Returns the id (also when an
    earlier row was kept), or None after an SQL error (recorded as a capture failure)."""
    ctx = require_context(ctx, "environment_evidence")
    evidence_id = f"ee-{ctx.run_id}"
    values = {
        "id": evidence_id,
        "run_id": ctx.run_id,
        "sdk_mode": sdk_mode,
        "sdk_version": sdk_version,
        "environment": execution_environment,
        "telemetry_enabled": telemetry_enabled,
        "telemetry_delivery_status": telemetry_delivery_status,
        "capture_confidence_score": capture_confidence_score,
        "debug_mode": debug_mode,
        "dry_run": dry_run,
        "is_synthetic": ctx.is_synthetic,
        "synthetic_scenario_id": ctx.synthetic_scenario_id,
        "created_at": stamps.now(),
    }
    return _capture(conn, environment_evidence, values, stamps)


# -- B: activity (per LLM / tool call; response fields merged in later) ---------------------------


def capture_activity_evidence(
    conn: sa.Connection,
    ctx: ExecutionContext | None,
    *,
    skill_id: str,
    model_name: str,
    prompt_fingerprint: str,
    prompt_token_length: int,
    response_fingerprint: str | None = None,
    response_token_length: int | None = None,
    prompt_template_id: str | None = None,
    prompt_template_version: str | None = None,
    completion_type: str | None = None,
    sensitivity_class: str | None = None,
    redaction_status: str | None = None,
    stamps: CaptureStamps = _SYSTEM,
) -> str | None:
    """Class B, ``ae-{run_id}-{step_index}``: written before the call with the prompt, and again
    after it with the response. A second write for the same step only fills ``response_*`` and
    ``completion_type`` (``COALESCE``: a None never erases a stored value); every other column keeps
    the first write."""
    ctx = require_context(ctx, "activity_evidence")
    evidence_id = f"ae-{ctx.run_id}-{ctx.step_index}"
    values = {
        "id": evidence_id,
        "run_id": ctx.run_id,
        "step_index": ctx.step_index,
        "skill_id": skill_id,
        "model_name": model_name,
        "prompt_fingerprint": prompt_fingerprint,
        "prompt_token_length": prompt_token_length,
        "prompt_template_id": prompt_template_id,
        "prompt_template_version": prompt_template_version,
        "response_fingerprint": response_fingerprint,
        "response_token_length": response_token_length,
        "completion_type": completion_type,
        "sensitivity_class": sensitivity_class,
        "redaction_status": redaction_status,
        "evidence_source": ctx.source.value,
        "is_synthetic": ctx.is_synthetic,
        "synthetic_scenario_id": ctx.synthetic_scenario_id,
        "created_at": stamps.now(),
    }
    return _capture(conn, activity_evidence, values, stamps, step_index=ctx.step_index)


# -- G: provider (after each provider response) ---------------------------------------------------


def capture_provider_evidence(
    conn: sa.Connection,
    ctx: ExecutionContext | None,
    *,
    provider_name: str,
    model_name: str,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    total_tokens: int | None = None,
    provider_latency_ms: int | None = None,
    provider_request_id: str | None = None,
    model_version: str | None = None,
    api_version: str | None = None,
    provider_http_status: int | None = None,
    provider_error_code: str | None = None,
    provider_retry_count: int = 0,
    cache_read_tokens: int = 0,
    cache_creation_tokens: int = 0,
    stamps: CaptureStamps = _SYSTEM,
) -> str | None:
    """Class G, ``pe-{run_id}-{step_index}``; the first row for a step wins. ``total_tokens`` is
    upstream's ``total_tokens or (input + output)`` (so a given 0 is replaced by the sum);
    requested_at, responded_at and created_at are the same instant."""
    ctx = require_context(ctx, "provider_evidence")
    evidence_id = f"pe-{ctx.run_id}-{ctx.step_index}"
    now = stamps.now()
    values = {
        "id": evidence_id,
        "run_id": ctx.run_id,
        "step_index": ctx.step_index,
        "provider_name": provider_name,
        "provider_request_id": provider_request_id,
        "model_name": model_name,
        "model_version": model_version,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_creation_tokens": cache_creation_tokens,
        "total_tokens": total_tokens or ((input_tokens or 0) + (output_tokens or 0)),
        "api_version": api_version,
        "provider_latency_ms": provider_latency_ms,
        "provider_http_status": provider_http_status,
        "provider_error_code": provider_error_code,
        "provider_retry_count": provider_retry_count,
        "requested_at": now,
        "responded_at": now,
        "is_synthetic": ctx.is_synthetic,
        "synthetic_scenario_id": ctx.synthetic_scenario_id,
        "created_at": now,
    }
    return _capture(conn, provider_evidence, values, stamps, step_index=ctx.step_index)


# -- D: policy decisions (every evaluation, one row each) -----------------------------------------


def capture_policy_decision_evidence(
    conn: sa.Connection,
    ctx: ExecutionContext | None,
    *,
    policy_type: str,
    decision: str,
    policies_evaluated: list[str] | None = None,
    policy_results: str | None = None,
    decision_reason: str | None = None,
    decision_confidence: float | None = None,
    thresholds_used: dict[str, Any] | None = None,
    policy_rule_id: str | None = None,
    policy_version: int | None = None,
    customer_guardrail_result: dict[str, Any] | None = None,
    provider_moderation_result: dict[str, Any] | None = None,
    decision_reason_codes: list[str] | None = None,
    stamps: CaptureStamps = _SYSTEM,
) -> str | None:
    """Class D, ``pd-{run_id}-{policy_type}-{8hex}``: a plain INSERT, one row per evaluation.

    Upstream's names disagree here and are kept: the context guard says ``policy_decision``, a
    recorded failure says ``policy_decisions`` (the table, which the integrity scan matches)."""
    ctx = require_context(ctx, "policy_decision")
    evidence_id = f"pd-{ctx.run_id}-{policy_type}-{stamps.token()}"
    now = stamps.now()
    values = {
        "id": evidence_id,
        "run_id": ctx.run_id,
        "policy_type": policy_type,
        "policy_rule_id": policy_rule_id,
        "policy_version": policy_version,
        "decision": decision,
        "decision_reason": decision_reason,
        "decision_confidence": decision_confidence,
        "policies_evaluated": policies_evaluated,
        "policy_results": policy_results,
        "thresholds_used": thresholds_used,
        "customer_guardrail_result": customer_guardrail_result,
        "provider_moderation_result": provider_moderation_result,
        "decision_reason_codes": decision_reason_codes,
        "evaluated_at": now,
        "is_synthetic": ctx.is_synthetic,
        "synthetic_scenario_id": ctx.synthetic_scenario_id,
        "created_at": now,
    }
    return _capture(conn, policy_decisions, values, stamps, policy_type=policy_type)


# -- J: integrity (once, when the run is terminal) -----------------------------------------------


def capture_integrity_evidence(
    conn: sa.Connection,
    run_id: str,
    *,
    is_synthetic: bool = False,
    synthetic_scenario_id: str | None = None,
    stamps: CaptureStamps = _SYSTEM,
) -> str | None:
    """Class J, ``ie-{run_id}``: upstream's ``compute_integrity_v2`` over the run's evidence as this
    connection sees it now, stored once (the first row wins). No context is needed, by design.

    Stored: the expected/observed/missing arrays, ``missing_reasons`` (whose ``_capture_failures``
    becomes *all* the failures, superseded ones included, when there are any), score, legacy status
    (VALID/DEGRADED/FAILED) and ``verification_method = 'evidence_table_scan'``. Grade, state and
    explanation are not stored. An SQL error is logged and answered with None (upstream records no
    capture failure for J)."""
    evidence_id = f"ie-{run_id}"
    payload = compute_integrity_v2(gather_facts(conn, [run_id])[run_id])
    reasons = dict(payload["missing_reasons"])
    if payload["capture_failures"]:
        reasons["_capture_failures"] = payload["capture_failures"]
    now = stamps.now()
    values = {
        "id": evidence_id,
        "run_id": run_id,
        "expected_artifacts": payload["expected_artifacts"],
        "observed_artifacts": payload["observed_artifacts"],
        "missing_artifacts": payload["missing_artifacts"],
        "missing_reasons": reasons,
        "integrity_score": payload["integrity_score"],
        "integrity_status": payload["integrity_status"],
        "verification_method": "evidence_table_scan",
        "verification_timestamp": now,
        "is_synthetic": is_synthetic,
        "synthetic_scenario_id": synthetic_scenario_id,
        "created_at": now,
    }
    try:
        _insert_in_savepoint(conn, integrity_evidence, values)
    except SQLAlchemyError as e:
        logger.warning("integrity_evidence capture failed for run %s: %s", run_id, e,
                       extra={"run_id": run_id, "error": str(e)})
        return None
    logger.debug("integrity_evidence captured: %s (%s, %.4f)", evidence_id, payload["integrity_status"],
                 payload["integrity_score"], extra={"run_id": run_id})
    return evidence_id
