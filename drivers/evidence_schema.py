"""The AOS evidence tables (spec §3.7, migrations 082/084/085) and the ``runs`` table they
reference (§3.6), as SQLAlchemy Core tables.

One definition for both dialects: on Postgres the types are upstream's (``jsonb``, ``text[]``,
``timestamptz``, ``now()``); on SQLite (our superset: a local ``traces.db`` may carry evidence) the
same tables are made with JSON text for ``jsonb`` and arrays, ISO text for timestamps and
``CURRENT_TIMESTAMP`` for ``now()``. ``create_evidence_tables`` adds them to a database that
already has the trace schema (tables that exist are kept).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

#: Their own metadata: nothing that builds or drops the trace schema sees them until wired in.
metadata = MetaData()

__all__ = [
    "EVIDENCE_TABLES",
    "activity_evidence",
    "create_evidence_tables",
    "environment_evidence",
    "evidence_capture_failures",
    "integrity_evidence",
    "metadata",
    "policy_decisions",
    "provider_evidence",
    "runs",
]

#: ``timestamptz`` on Postgres, ISO text on SQLite.
_TSTZ = DateTime(timezone=True)
#: ``jsonb`` on Postgres (a Python None stays SQL NULL), JSON text on SQLite.
_JSONB_ = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
#: ``text[]`` on Postgres, a JSON array on SQLite (a Python None stays SQL NULL, as on Postgres).
_TEXT_ARRAY = JSON(none_as_null=True).with_variant(ARRAY(Text), "postgresql")
_FALSE = false()
_TRUE = true()
#: ``now()`` on Postgres, ``CURRENT_TIMESTAMP`` on SQLite.
_NOW = func.now()


def _common() -> list[Column]:
    """Columns every evidence table has (§3.7)."""
    return [
        Column("is_synthetic", Boolean, nullable=False, server_default=_FALSE),
        Column("synthetic_scenario_id", Text),
        Column("created_at", _TSTZ, server_default=_NOW),
    ]


def _run_fk() -> Column:
    return Column("run_id", Text, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)


#: §3.6: only the columns the inspector and the bundle code read.
runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64)),
    Column("agent_id", String(64)),
    Column("goal", Text),
    Column("status", String(32)),
    Column("policy_snapshot_id", String(64)),
    Column("plan_json", Text),
    Column("parent_run_id", String(64)),
    Column("correlation_id", String(64)),
    Column("started_at", _TSTZ),
    Column("completed_at", _TSTZ),
    Column("termination_reason", String(32)),
    Column("created_at", _TSTZ, server_default=_NOW),
    CheckConstraint(
        "termination_reason IS NULL OR termination_reason IN ('completed', 'policy_block', 'budget_exceeded', "
        "'rate_limited', 'user_abort', 'system_failure', 'timeout')",
        name="ck_runs_termination_reason",
    ),
)

activity_evidence = Table(  # class B
    "activity_evidence",
    metadata,
    Column("id", Text, primary_key=True),
    _run_fk(),
    Column("step_index", Integer),
    Column("skill_id", Text),
    Column("model_name", Text),
    Column("prompt_fingerprint", String(64)),
    Column("prompt_token_length", Integer),
    Column("prompt_template_id", Text),
    Column("prompt_template_version", String(20)),
    Column("response_fingerprint", String(64)),
    Column("response_token_length", Integer),
    Column("completion_type", String(20)),
    Column("sensitivity_class", String(20)),
    Column("redaction_status", String(20)),
    Column("provider_safety_flags", _JSONB_),
    Column("evidence_source", String(20), nullable=False, server_default=text("'execution'")),
    *_common(),
    UniqueConstraint("run_id", "step_index", name="uq_activity_evidence_run_step"),
    Index("idx_activity_evidence_run_id", "run_id"),
    Index("idx_activity_evidence_prompt_fingerprint", "prompt_fingerprint"),
    Index("idx_activity_evidence_skill_id", "skill_id"),
)

policy_decisions = Table(  # class D
    "policy_decisions",
    metadata,
    Column("id", Text, primary_key=True),
    _run_fk(),
    Column("policy_type", String(50)),
    Column("policy_rule_id", Text),
    Column("policy_version", Integer),
    Column("decision", String(20)),
    Column("decision_reason", Text),
    Column("decision_confidence", Double),
    Column("policies_evaluated", _TEXT_ARRAY),
    Column("policy_results", String(20)),
    Column("evaluation_order", _TEXT_ARRAY),
    Column("thresholds_used", _JSONB_),
    Column("customer_guardrail_result", _JSONB_),
    Column("provider_moderation_result", _JSONB_),
    Column("decision_reason_codes", _TEXT_ARRAY),
    Column("approval_request_id", Text),
    Column("required_approval_level", Integer),
    Column("current_approval_level", Integer),
    Column("evaluated_by", String(50)),
    Column("evaluated_at", _TSTZ, nullable=False),
    *_common(),
    Index("idx_policy_decisions_run_id", "run_id"),
    Index("idx_policy_decisions_type", "policy_type"),
    Index("idx_policy_decisions_decision", "decision"),
)

provider_evidence = Table(  # class G
    "provider_evidence",
    metadata,
    Column("id", Text, primary_key=True),
    _run_fk(),
    Column("step_index", Integer),
    Column("provider_name", String(50)),
    Column("provider_request_id", Text),
    Column("model_name", Text),
    Column("model_version", String(50)),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cache_read_tokens", Integer, server_default=text("0")),
    Column("cache_creation_tokens", Integer, server_default=text("0")),
    Column("total_tokens", Integer),
    Column("api_version", String(20)),
    Column("endpoint", String(255)),
    Column("provider_latency_ms", Integer),
    Column("provider_http_status", Integer),
    Column("provider_error_code", String(50)),
    Column("provider_retry_count", Integer, server_default=text("0")),
    Column("provider_safety_signals", _JSONB_),
    Column("requested_at", _TSTZ, nullable=False),
    Column("responded_at", _TSTZ),
    *_common(),
    UniqueConstraint("run_id", "step_index", name="uq_provider_evidence_run_step"),
    Index("idx_provider_evidence_run_id", "run_id"),
    Index("idx_provider_evidence_provider_model", "provider_name", "model_name"),
    Index("idx_provider_evidence_request_id", "provider_request_id"),
)

environment_evidence = Table(  # class H
    "environment_evidence",
    metadata,
    Column("id", Text, primary_key=True),
    _run_fk(),
    Column("sdk_mode", String(20), nullable=False),
    Column("sdk_version", String(20)),
    Column("environment", String(20)),
    Column("telemetry_enabled", Boolean, server_default=_TRUE),
    Column("telemetry_delivery_status", String(20)),
    Column("trace_sampling_rate", Double, server_default=text("1.0")),
    Column("metrics_enabled", Boolean, server_default=_TRUE),
    Column("client_ip", String(45)),
    Column("client_user_agent", Text),
    Column("client_origin", String(255)),
    Column("active_feature_flags", _TEXT_ARRAY),
    Column("debug_mode", Boolean, server_default=_FALSE),
    Column("dry_run", Boolean, server_default=_FALSE),
    Column("capture_confidence_score", Double),
    Column("firewall_proxy_detected", Boolean),
    *_common(),
    UniqueConstraint("run_id", name="uq_environment_evidence_run"),
    Index("idx_environment_evidence_run_id", "run_id"),
    Index("idx_environment_evidence_sdk_mode", "sdk_mode"),
    Index("idx_environment_evidence_environment", "environment"),
)

integrity_evidence = Table(  # class J
    "integrity_evidence",
    metadata,
    Column("id", Text, primary_key=True),
    _run_fk(),
    Column("expected_artifacts", _TEXT_ARRAY, nullable=False),
    Column("expected_artifact_schema", _JSONB_),
    Column("observed_artifacts", _TEXT_ARRAY, nullable=False),
    Column("missing_artifacts", _TEXT_ARRAY),
    Column("missing_reasons", _JSONB_),
    Column("integrity_score", Double, nullable=False),
    Column("integrity_status", String(20)),
    Column("verification_method", String(30)),
    Column("verification_timestamp", _TSTZ),
    Column("divergence_details", Text),
    Column("recovery_action", Text),
    Column("coverage_metrics", _JSONB_),
    *_common(),
    UniqueConstraint("run_id", name="uq_integrity_evidence_run"),
    Index("idx_integrity_evidence_run_id", "run_id"),
    Index("idx_integrity_evidence_status", "integrity_status"),
    Index("idx_integrity_evidence_score", "integrity_score"),
)

evidence_capture_failures = Table(  # 084/085; run_id has no foreign key
    "evidence_capture_failures",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("evidence_type", String(64)),
    Column("failure_reason", String(64)),
    Column("error_message", Text),
    Column("created_at", _TSTZ, server_default=_NOW),
    Column("resolution", String(32), nullable=False, server_default=text("'transient'")),
    CheckConstraint("resolution IN ('transient', 'permanent', 'superseded')", name="ck_ecf_resolution"),
    UniqueConstraint("run_id", "evidence_type", "failure_reason", name="uq_ecf_run_evidence_reason"),
    Index("idx_evidence_capture_failures_run_id", "run_id"),
)

EVIDENCE_TABLES = (runs, environment_evidence, activity_evidence, provider_evidence, policy_decisions,
                   integrity_evidence, evidence_capture_failures)


def create_evidence_tables(conn: Connection) -> None:
    """Add ``runs`` and the evidence tables to a database (tables that exist are kept)."""
    metadata.create_all(conn, tables=list(EVIDENCE_TABLES))
