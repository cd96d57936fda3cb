"""The logs domain around the traces (spec §2.7, §3, §12): audit ledger events, policy activations,
LLM run records, system records, log exports, replay mismatches, and the replay window.

Domain objects only, plus the port a source implements to serve them (``LogsSource``). Pure:
no SQL, no Qt. Timestamps are ISO 8601 strings in UTC (``2026-11-29T05:53:15.003803+00:00``), as
the trace objects carry them. JSON columns are :class:`inspector.model.Payload`, so a malformed
value is shown raw instead of failing the panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from inspector.model import Payload

__all__ = [
    "AUDIT_CAP",
    "GOVERNANCE_ENTITY_TYPES",
    "LOGS_CAPABILITIES",
    "MAX_PAGE",
    "POLICY_WINDOW_ENTITY_TYPES",
    "ActorType",
    "AuditEvent",
    "LedgerFilter",
    "LedgerPage",
    "LlmRunRecord",
    "LogExport",
    "LogsSource",
    "Mismatch",
    "payload_value",
    "PolicyActivation",
    "ReplayWindow",
    "RunLogs",
    "SystemRecord",
    "SystemRecordFilter",
    "WindowEntry",
]

#: Actor types the ledger's CHECK constraint allows (§3.1).
ActorType = ("HUMAN", "SYSTEM", "AGENT")

#: Entity types upstream's "governance events for a run" read (§3.1), newest first.
GOVERNANCE_ENTITY_TYPES = ("POLICY_RULE", "LIMIT", "POLICY_PROPOSAL", "INCIDENT")

#: Entity types of ledger rows merged into the replay window as ``policy`` entries (§3.5).
POLICY_WINDOW_ENTITY_TYPES = ("POLICY_RULE", "LIMIT")

#: The most rows one call of a logs source returns, whatever ``limit`` asks (STYLE §5).
MAX_PAGE = 5000
#: Ledger events a run's audit list holds at most (upstream's read had 100, then filtered).
AUDIT_CAP = 1000

#: Capability names a logs source declares, one per table family it found.
LOGS_CAPABILITIES = ("audit", "policy_activations", "llm_runs", "system_records", "log_exports", "mismatches")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One ``audit_ledger`` row (§3.1). ``correlation_id`` is None where the column is absent."""

    id: str
    tenant_id: str
    event_type: str
    entity_type: str
    entity_id: str
    actor_type: str
    actor_id: str | None
    action_reason: str | None
    before_state: Payload
    after_state: Payload
    created_at: str | None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    """Filters of the tenant-wide ledger view; every field optional. ``since``/``until`` are ISO
    bounds on ``created_at`` (inclusive). ``actor`` matches ``actor_id`` or ``actor_type``."""

    tenant_id: str | None = None
    event_type: str | None = None
    entity_type: str | None = None
    actor: str | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerPage:
    """A page of the ledger, newest first; ``cursor`` continues after its last row (keyset:
    ``(created_at, id)``), None when there is no more."""

    events: tuple[AuditEvent, ...]
    cursor: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class PolicyActivation:
    """One ``policy_activation_audit`` row (§12), linked to runs through ``loop_trace_id``."""

    policy_id: str
    source_pattern_id: str | None
    source_recovery_id: str | None
    confidence_at_activation: float | None
    confidence_version: str | None
    approval_path: str | None
    loop_trace_id: str | None
    activated_at: str | None
    tenant_id: str | None


@dataclass(frozen=True, slots=True)
class LlmRunRecord:
    """One ``llm_run_records`` row (§3.2). Not unique per run: a run may have several."""

    id: str
    tenant_id: str
    run_id: str
    trace_id: str | None
    provider: str
    model: str
    prompt_hash: str | None
    response_hash: str | None
    input_tokens: int
    output_tokens: int
    cost_cents: int
    execution_status: str
    started_at: str | None
    completed_at: str | None
    source: str
    is_synthetic: bool
    synthetic_scenario_id: str | None
    created_at: str | None


@dataclass(frozen=True, slots=True)
class SystemRecord:
    """One ``system_records`` row (§3.3); ``tenant_id`` None means system-wide."""

    id: str
    tenant_id: str | None
    component: str
    event_type: str
    severity: str
    summary: str
    details: Payload
    caused_by: str | None
    correlation_id: str | None
    created_at: str | None


@dataclass(frozen=True, slots=True)
class SystemRecordFilter:
    """``tenant_id`` set: that tenant's rows and the system-wide ones (upstream's tenant read);
    ``system_only``: only rows without a tenant."""

    tenant_id: str | None = None
    system_only: bool = False
    component: str | None = None
    severity: str | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True, slots=True)
class LogExport:
    """One ``log_exports`` row (§3.4). Immutable upstream: ``status`` never leaves ``pending``."""

    id: str
    tenant_id: str
    scope: str
    run_id: str | None
    requested_by: str
    format: str
    origin: str
    source_component: str
    correlation_id: str | None
    checksum: str | None
    status: str
    delivered_at: str | None
    created_at: str | None


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One ``aos_trace_mismatches`` row (§2.7)."""

    id: str
    trace_id: str
    tenant_id: str
    reported_by: str | None
    step_index: int | None
    reason: str
    expected_hash: str | None
    actual_hash: str | None
    details: Payload
    notification_sent: bool | None
    issue_url: str | None
    resolved: bool | None
    resolved_at: str | None
    resolved_by: str | None
    created_at: str | None

    @property
    def state(self) -> str:
        """The API's status word: ``resolved`` or ``open``."""
        return "resolved" if self.resolved else "open"


@dataclass(frozen=True, slots=True)
class WindowEntry:
    """One line of the replay window (§3.5): ``source`` is ``llm`` (a step), ``system`` or
    ``policy``; ``ref`` names the row (step index, record id or ledger id)."""

    timestamp: str
    source: str
    action: str | None
    outcome: str | None
    ref: str


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    """The merged, time-ordered window around a run. ``anchor`` is the instant it is centred on;
    ``anchor_from`` says where that came from (the LLM record, or the trace when there is none)."""

    anchor: str | None
    anchor_from: str
    start: str | None
    end: str | None
    entries: tuple[WindowEntry, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunLogs:
    """Everything the logs domain holds about one run (the CLI ``logs`` document)."""

    run_id: str
    trace_id: str | None
    llm_records: tuple[LlmRunRecord, ...]
    system_records: tuple[SystemRecord, ...]
    exports: tuple[LogExport, ...]
    replay_window: ReplayWindow | None
    mismatches: tuple[Mismatch, ...]
    audit: tuple[AuditEvent, ...] = ()
    policy_activations: tuple[PolicyActivation, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class LogsSource(Protocol):
    """What a source that holds the logs tables can answer. ``logs_capabilities`` names the table
    families present (see ``LOGS_CAPABILITIES``); a method whose table is absent returns empty
    results. Every method may raise :class:`inspector.errors.SourceError`."""

    logs_capabilities: frozenset[str]
    #: What is missing, in words (a table or column absent or unreadable, and what the user loses).
    missing_notes: tuple[str, ...]

    def audit_for_run(self, run_id: str, tenant_id: str | None = None, *, limit: int = AUDIT_CAP) -> list[AuditEvent]:
        """The governance events whose before/after state names the run, newest first (at most
        ``limit``, itself at most :data:`MAX_PAGE`)."""
        ...

    def list_ledger(self, flt: LedgerFilter, cursor: tuple[str, str] | None = None, limit: int = 200) -> LedgerPage: ...

    def ledger_values(self, field: str) -> list[str]: ...

    def policy_activations(self, link_ids: Sequence[str]) -> list[PolicyActivation]: ...

    def list_policy_activations(self, tenant_id: str | None = None, limit: int = 500) -> list[PolicyActivation]: ...

    def llm_records(self, run_id: str) -> list[LlmRunRecord]: ...

    def system_records(self, flt: SystemRecordFilter, limit: int = 500) -> list[SystemRecord]: ...

    def log_exports(self, *, run_id: str | None = None, tenant_id: str | None = None) -> list[LogExport]: ...

    def mismatches(self, trace_id: str) -> list[Mismatch]: ...

    def replay_window(self, run_id: str, trace_id: str | None = None, seconds: float = 30.0) -> ReplayWindow: ...

    def run_logs(self, run_id: str, trace_id: str | None = None) -> RunLogs: ...


def payload_value(payload: Payload) -> Any:
    """The parsed value of a JSON column, or None when it is missing or malformed."""
    return payload.value if payload.ok and not payload.is_missing else None
