"""The AOS Postgres schema after all migrations (spec §2, §3, §12), as SQLAlchemy Core tables.

The readers build their statements on these tables; tests and the demo create a database from
them with :func:`create_schema`, which also installs upstream's immutability triggers (§2.5, §3),
so a test can prove the inspector never attempts an update. ``level`` makes an older database:
columns added by later migrations are dropped, as a database stopped at that migration lacks them.

Only ``server_default`` values exist in a real database (alembic ``default=`` is client-side), so
only those are declared here.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID

from drivers.evidence_schema import create_evidence_tables
from drivers.evidence_schema import metadata as evidence_metadata

__all__ = [
    "MIGRATION_LEVELS",
    "aos_trace_mismatches",
    "aos_trace_steps",
    "aos_traces",
    "aos_traces_archive",
    "audit_ledger",
    "create_schema",
    "drop_schema",
    "llm_run_records",
    "log_exports",
    "metadata",
    "policy_activation_audit",
    "system_records",
    "tenants",
]

metadata = MetaData()
_TSTZ = TIMESTAMP(timezone=True)
_UUID_DEFAULT = text("gen_random_uuid()")
_NOW = text("now()")
_FALSE = text("false")

#: Migrations that added trace columns, oldest first; ``create_schema(level=…)`` accepts these.
MIGRATION_LEVELS = ("012", "052", "078", "079", "080", "110", "132", "final")


def _since(migration: str) -> dict:
    return {"since": migration}


tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text),
    Column("created_at", _TSTZ, nullable=False, server_default=_NOW),
)

aos_traces = Table(
    "aos_traces",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True, server_default=_UUID_DEFAULT),
    Column("trace_id", String(64), nullable=False, unique=True, index=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("correlation_id", String(64), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("agent_id", String(64)),
    Column("plan_id", String(64)),
    Column("seed", BigInteger),
    Column("frozen_timestamp", String(64)),
    Column("root_hash", String(64), nullable=False),
    Column("plan_hash", String(64)),
    Column("schema_version", String(16), nullable=False),
    Column("plan", JSONB(none_as_null=True), nullable=False),
    Column("trace", JSONB(none_as_null=True), nullable=False),
    Column("metadata", JSONB(none_as_null=True)),
    Column("status", String(32), nullable=False),
    Column("started_at", _TSTZ, nullable=False, server_default=_NOW),
    Column("completed_at", _TSTZ),
    Column("created_at", _TSTZ, nullable=False, server_default=_NOW),
    Column("stored_by", String(64)),
    Column("checksum", String(64), info=_since("052")),
    Column("incident_id", String(100), info=_since("078")),
    Column("is_synthetic", Boolean, nullable=False, server_default=_FALSE, info=_since("078")),
    Column("synthetic_scenario_id", String(64), info=_since("078")),
    Column("archived_at", _TSTZ, info=_since("080")),
    Column("violation_step_index", Integer, info=_since("110")),
    Column("violation_timestamp", _TSTZ, info=_since("110")),
    Column("violation_policy_id", String(64), info=_since("110")),
    Column("violation_reason", String(512), info=_since("110")),
    Column("replay_mode", String(20), info=_since("132")),
    Column("replay_attempt_id", String(64), info=_since("132")),
    Column("replay_artifact_version", String(64), info=_since("132")),
    Column("trace_completeness_status", String(30), info=_since("132")),
    Index("idx_aos_traces_run_id", "run_id"),
    Index("idx_aos_traces_tenant", "tenant_id"),
    Index("idx_aos_traces_root_hash", "root_hash"),
    Index("idx_aos_traces_plan_hash", "plan_hash"),
    Index("idx_aos_traces_seed", "seed"),
    Index("idx_aos_traces_agent", "agent_id"),
    Index("idx_aos_traces_status", "status"),
    Index("idx_aos_traces_created_at", "created_at"),
)

aos_trace_steps = Table(
    "aos_trace_steps",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True, server_default=_UUID_DEFAULT),
    Column("trace_id", String(64), ForeignKey("aos_traces.trace_id", ondelete="CASCADE"), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("skill_id", String(128), nullable=False),
    Column("skill_name", String(128), nullable=False),
    Column("params", JSONB(none_as_null=True), nullable=False),
    Column("status", String(32), nullable=False),
    Column("outcome_category", String(64), nullable=False),
    Column("outcome_code", String(64)),
    Column("outcome_data", JSONB(none_as_null=True)),
    Column("cost_cents", Double, nullable=False),
    Column("duration_ms", Double, nullable=False),
    Column("retry_count", Integer, nullable=False),
    Column("input_hash", String(64)),
    Column("output_hash", String(64)),
    Column("rng_state_before", String(128)),
    Column("idempotency_key", String(128)),
    Column("replay_behavior", String(16), nullable=False),
    Column("timestamp", _TSTZ, nullable=False, server_default=_NOW),
    Column("source", String(50), nullable=False, server_default=text("'engine'"), info=_since("078")),
    Column("level", String(16), nullable=False, server_default=text("'INFO'"), info=_since("078")),
    Column("is_synthetic", Boolean, nullable=False, server_default=_FALSE, info=_since("079")),
    Column("synthetic_scenario_id", String, info=_since("079")),
    Column("archived_at", _TSTZ, info=_since("080")),
    Index("idx_aos_trace_steps_trace", "trace_id"),
    Index("idx_aos_trace_steps_idempotency", "idempotency_key"),
    Index("idx_aos_trace_steps_composite", "trace_id", "step_index", unique=True),
    Index("idx_aos_trace_steps_trace_timestamp", "trace_id", "timestamp"),
)

#: Cloned from aos_traces at 012 and never altered: the 20 original columns (§2.6, §11.11).
aos_traces_archive = Table(
    "aos_traces_archive",
    metadata,
    *[
        Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
               server_default=c.server_default.arg if c.server_default is not None else None)
        for c in aos_traces.columns
        if "since" not in c.info
    ],
    Index("idx_aos_traces_archive_root_hash", "root_hash"),
    Index("idx_aos_traces_archive_created_at", "created_at"),
    Index("ix_aos_traces_archive_trace_id", "trace_id", unique=True),
)

aos_trace_mismatches = Table(
    "aos_trace_mismatches",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True, server_default=_UUID_DEFAULT),
    Column("trace_id", Text, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("reported_by", Text),
    Column("step_index", Integer),
    Column("reason", Text, nullable=False),
    Column("expected_hash", Text),
    Column("actual_hash", Text),
    Column("details", JSONB(none_as_null=True), server_default=text("'{}'::jsonb")),
    Column("notification_sent", Boolean, server_default=_FALSE),
    Column("issue_url", Text),
    Column("resolved", Boolean, server_default=_FALSE),
    Column("resolved_at", _TSTZ),
    Column("resolved_by", Text),
    Column("created_at", _TSTZ, nullable=False, server_default=_NOW),
    Index("idx_mismatch_trace", "trace_id"),
    Index("idx_mismatch_tenant", "tenant_id"),
    Index("idx_mismatch_created", text("created_at DESC")),
)

audit_ledger = Table(
    "audit_ledger",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(64)),
    Column("action_reason", Text),
    Column("before_state", JSONB(none_as_null=True)),
    Column("after_state", JSONB(none_as_null=True)),
    Column("created_at", _TSTZ, nullable=False, server_default=_NOW),
    Column("correlation_id", String(64), info=_since("109")),
    CheckConstraint("actor_type IN ('HUMAN', 'SYSTEM', 'AGENT')", name="ck_audit_ledger_actor_type"),
    Index("idx_audit_ledger_tenant_created", "tenant_id", "created_at"),
    Index("idx_audit_ledger_tenant_event", "tenant_id", "event_type"),
    Index("idx_audit_ledger_entity", "entity_type", "entity_id"),
    Index("idx_audit_ledger_actor", "tenant_id", "actor_type", "actor_id"),
)

llm_run_records = Table(
    "llm_run_records",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(64), nullable=False, index=True),
    Column("trace_id", String(64)),
    Column("provider", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("prompt_hash", String(64)),
    Column("response_hash", String(64)),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_cents", Integer, nullable=False),
    Column("execution_status", String(32), nullable=False),
    Column("started_at", _TSTZ, nullable=False),
    Column("completed_at", _TSTZ),
    Column("source", String(32), nullable=False),
    Column("is_synthetic", Boolean, nullable=False),
    Column("synthetic_scenario_id", String(64)),
    Column("created_at", _TSTZ, nullable=False, server_default=_NOW),
    CheckConstraint("execution_status IN ('SUCCEEDED', 'FAILED', 'ABORTED', 'TIMEOUT')", name="ck_llm_run_records_status"),
    CheckConstraint("source IN ('API', 'SDK', 'SYSTEM', 'SYNTHETIC', 'WORKER')", name="ck_llm_run_records_source"),
    Index("idx_llm_run_records_tenant_created", "tenant_id", "created_at"),
    Index("idx_llm_run_records_provider_model", "provider", "model"),
    Index("idx_llm_run_records_tenant_status", "tenant_id", "execution_status"),
)

system_records = Table(
    "system_records",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64)),
    Column("component", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("details", JSONB(none_as_null=True)),
    Column("caused_by", String(32)),
    Column("correlation_id", String(64)),
    Column("created_at", _TSTZ, nullable=False, server_default=_NOW),
    CheckConstraint("component IN ('worker', 'api', 'scheduler', 'db', 'auth', 'migration')", name="ck_system_records_component"),
    CheckConstraint(
        "event_type IN ('STARTUP', 'SHUTDOWN', 'RESTART', 'DEPLOY', 'MIGRATION', 'AUTH_CHANGE', "
        "'CONFIG_CHANGE', 'ERROR', 'HEALTH_CHECK')",
        name="ck_system_records_event_type",
    ),
    CheckConstraint("severity IN ('INFO', 'WARN', 'CRITICAL')", name="ck_system_records_severity"),
    CheckConstraint("caused_by IS NULL OR caused_by IN ('SYSTEM', 'HUMAN', 'AUTOMATION')", name="ck_system_records_caused_by"),
    Index("idx_system_records_tenant_created", "tenant_id", "created_at"),
    Index("idx_system_records_component", "component", "created_at"),
)

log_exports = Table(
    "log_exports",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("scope", String(32), nullable=False),
    Column("run_id", String(64)),
    Column("requested_by", String(128), nullable=False),
    Column("format", String(16), nullable=False),
    Column("origin", String(32), nullable=False),
    Column("source_component", String(64), nullable=False, server_default=text("'LogExportService'")),
    Column("correlation_id", String(64)),
    Column("checksum", String(128)),
    Column("status", String(32), nullable=False, server_default=text("'pending'")),
    Column("delivered_at", _TSTZ),
    Column("created_at", _TSTZ, nullable=False, server_default=_NOW),
    CheckConstraint("scope IN ('llm_run', 'system', 'audit', 'compliance')", name="ck_log_exports_scope"),
    CheckConstraint("format IN ('json', 'csv', 'pdf', 'zip')", name="ck_log_exports_format"),
    CheckConstraint("origin IN ('SYSTEM', 'HUMAN', 'AGENT')", name="ck_log_exports_origin"),
    CheckConstraint("status IN ('pending', 'completed', 'failed')", name="ck_log_exports_status"),
    Index("idx_log_exports_tenant_created", "tenant_id", text("created_at DESC")),
)

#: §12. Upstream's migration is not in the studied tree; ``policy_id`` is unique (the writer's
#: ``ON CONFLICT (policy_id)`` target), the rest as the writer binds them.
policy_activation_audit = Table(
    "policy_activation_audit",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True, server_default=_UUID_DEFAULT),
    Column("policy_id", String(64), nullable=False, unique=True),
    Column("source_pattern_id", String(64)),
    Column("source_recovery_id", String(64)),
    Column("confidence_at_activation", Double),
    Column("confidence_version", String(32)),
    Column("approval_path", Text),
    Column("loop_trace_id", String(64), index=True),
    Column("activated_at", _TSTZ, nullable=False, server_default=_NOW),
    Column("tenant_id", String(64), index=True),
)

# --- triggers (§2.5, §3) ---------------------------------------------------------------------

_TRACE_PROTECTED = ["id", "trace_id", "run_id", "correlation_id", "tenant_id", "agent_id", "plan_id", "seed", "frozen_timestamp", "root_hash", "plan_hash", "schema_version", "plan", "trace", "started_at", "created_at", "stored_by", "checksum", "incident_id", "is_synthetic", "synthetic_scenario_id"]
_TRACE_COMPLETION = ("metadata", "status", "completed_at")


def _unchanged(columns) -> str:
    return " AND ".join(f"OLD.{c} IS NOT DISTINCT FROM NEW.{c}" for c in columns)


_STEP_COLUMNS = [c.name for c in aos_trace_steps.columns if c.name != "archived_at"]

_TRIGGERS_DDL = f"""
CREATE OR REPLACE FUNCTION reject_trace_update_lifecycle() RETURNS trigger AS $$
BEGIN
    IF OLD.archived_at IS NULL AND NEW.archived_at IS NOT NULL
       AND {_unchanged(_TRACE_PROTECTED + list(_TRACE_COMPLETION))} THEN
        RETURN NEW;
    END IF;
    IF OLD.archived_at IS NOT DISTINCT FROM NEW.archived_at AND {_unchanged(_TRACE_PROTECTED)} THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'S6_IMMUTABILITY_VIOLATION: aos_traces is immutable (only archival or completion is allowed; trace_id=%)', OLD.trace_id;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER prevent_trace_update BEFORE UPDATE ON aos_traces
    FOR EACH ROW EXECUTE FUNCTION reject_trace_update_lifecycle();

CREATE OR REPLACE FUNCTION reject_trace_delete() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM aos_traces_archive a WHERE a.trace_id = OLD.trace_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'S6_IMMUTABILITY_VIOLATION: aos_traces rows can only be deleted after archiving (trace_id=%)', OLD.trace_id;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER enforce_trace_delete_restriction BEFORE DELETE ON aos_traces
    FOR EACH ROW EXECUTE FUNCTION reject_trace_delete();

CREATE OR REPLACE FUNCTION reject_trace_step_update_lifecycle() RETURNS trigger AS $$
BEGIN
    IF OLD.archived_at IS NULL AND NEW.archived_at IS NOT NULL AND {_unchanged(_STEP_COLUMNS)} THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'S6_IMMUTABILITY_VIOLATION: aos_trace_steps is immutable (only archival is allowed; trace_id=%, step_index=%)', OLD.trace_id, OLD.step_index;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER prevent_trace_step_update BEFORE UPDATE ON aos_trace_steps
    FOR EACH ROW EXECUTE FUNCTION reject_trace_step_update_lifecycle();

CREATE OR REPLACE FUNCTION reject_trace_step_delete() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM aos_traces t WHERE t.trace_id = OLD.trace_id) THEN
        RAISE EXCEPTION 'S6_IMMUTABILITY_VIOLATION: aos_trace_steps rows cannot be deleted while their trace exists (trace_id=%)', OLD.trace_id;
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER enforce_trace_step_delete_restriction BEFORE DELETE ON aos_trace_steps
    FOR EACH ROW EXECUTE FUNCTION reject_trace_step_delete();

"""

_LOGS_TRIGGERS_DDL = """
CREATE OR REPLACE FUNCTION reject_immutable_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is immutable: % is not allowed', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_audit_ledger_immutable BEFORE UPDATE OR DELETE ON audit_ledger
    FOR EACH ROW EXECUTE FUNCTION reject_immutable_change();
CREATE TRIGGER trg_llm_run_records_immutable BEFORE UPDATE OR DELETE ON llm_run_records
    FOR EACH ROW EXECUTE FUNCTION reject_immutable_change();
CREATE TRIGGER trg_system_records_immutable BEFORE UPDATE OR DELETE ON system_records
    FOR EACH ROW EXECUTE FUNCTION reject_immutable_change();
CREATE TRIGGER log_exports_immutable BEFORE UPDATE OR DELETE ON log_exports
    FOR EACH ROW EXECUTE FUNCTION reject_immutable_change();
"""

_PARTIAL_INDEXES = """
CREATE INDEX ix_aos_traces_archived ON aos_traces (archived_at) WHERE archived_at IS NULL;
CREATE INDEX ix_aos_trace_steps_archived ON aos_trace_steps (archived_at) WHERE archived_at IS NULL;
CREATE INDEX idx_mismatch_unresolved ON aos_trace_mismatches (resolved, created_at DESC) WHERE resolved = FALSE;
CREATE INDEX idx_aos_traces_incident ON aos_traces (incident_id) WHERE incident_id IS NOT NULL;
"""

_LOGS_TABLES = (audit_ledger, llm_run_records, system_records, log_exports, aos_trace_mismatches, policy_activation_audit)


def create_schema(conn: Connection, *, level: str = "final", logs_tables: bool = True, triggers: bool = True,
                  evidence_tables: bool | None = None) -> None:
    """Create the AOS tables in an empty database, as a database migrated up to ``level`` has them.

    ``logs_tables=False`` leaves out everything but traces and steps (a trace-only database);
    ``evidence_tables`` (default: as ``logs_tables``) adds ``runs`` and the evidence tables (§3.7).
    """
    if level not in MIGRATION_LEVELS:
        raise ValueError(f"unknown migration level {level!r}; one of {', '.join(MIGRATION_LEVELS)}")
    tables = [tenants, aos_traces, aos_trace_steps, aos_traces_archive]
    if logs_tables:
        tables += list(_LOGS_TABLES)
    metadata.create_all(conn, tables=tables)
    if logs_tables if evidence_tables is None else evidence_tables:
        create_evidence_tables(conn)
    for stmt in _PARTIAL_INDEXES.strip().splitlines():
        if not logs_tables and "aos_trace_mismatches" in stmt:
            continue
        conn.exec_driver_sql(stmt)
    if triggers:
        # psycopg formats driver SQL even without parameters: RAISE's ``%`` must be doubled.
        conn.exec_driver_sql(_TRIGGERS_DDL.replace("%", "%%"))
        if logs_tables:
            conn.exec_driver_sql(_LOGS_TRIGGERS_DDL.replace("%", "%%"))
    if level != "final":
        for table in (aos_traces, aos_trace_steps, audit_ledger):
            if table is audit_ledger and not logs_tables:
                continue
            for col in table.columns:
                since = col.info.get("since")
                if since is not None and since > level:
                    conn.exec_driver_sql(f'ALTER TABLE {table.name} DROP COLUMN "{col.name}" CASCADE')


def drop_schema(conn: Connection) -> None:
    """Drop every table and function :func:`create_schema` makes (test databases only)."""
    evidence_metadata.drop_all(conn)
    metadata.drop_all(conn)
    for fn in ("reject_trace_update_lifecycle", "reject_trace_delete", "reject_trace_step_update_lifecycle",
               "reject_trace_step_delete", "reject_immutable_change"):
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {fn}() CASCADE")
