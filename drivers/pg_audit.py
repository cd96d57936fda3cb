"""The async audit-ledger writer (spec §3.1) and the policy activation audit (§12), on SQLAlchemy's
asyncio engine (``postgresql+psycopg://``), with upstream's semantics.

Conventions kept from upstream's async writer (``AuditLedgerServiceAsync``) and its sync sibling:

* ids are uuid4 strings and ``created_at`` is the client's clock (the model's default factory);
* *created* events fill ``after_state``, *updated/modified* both, *retired* ``before_state`` only,
  *breached* ``after_state`` (the breach), proposals and signals ``after_state``;
* default actor ``SYSTEM`` for limits, rules and escalations, ``HUMAN`` for proposals, incidents,
  acknowledgements and suppressions;
* an unused state column holds JSON ``null``, not SQL NULL: upstream's SQLModel row sets every field,
  and SQLAlchemy writes a None JSONB attribute as ``'null'``. ``json_null_states=False`` writes NULL;
* ``correlation_id`` exists in the table but not in upstream's model, so upstream always leaves it
  NULL; here it is an optional keyword.

Upstream has no emitter for limit overrides or emergency overrides: those methods follow the same
conventions (granted/activated → ``after_state``, revoked/deactivated → ``before_state``; limit
overrides are ``LIMIT`` rows by ``SYSTEM``, emergency overrides ``POLICY_RULE`` rows by ``HUMAN``
unless told otherwise), which is this project's choice.

A writer built on an :class:`~sqlalchemy.ext.asyncio.AsyncEngine` commits each event on its own; on
an ``AsyncSession`` or ``AsyncConnection`` the caller owns the transaction, as upstream's does.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from drivers.pg_schema import audit_ledger, policy_activation_audit
from drivers.pg_writer import utc_now
from inspector.logs import PolicyActivation

__all__ = ["AuditEntityType", "AuditEventType", "AuditLedgerWriter", "record_policy_activation"]

_State = Mapping[str, Any] | None


class AuditEventType(enum.StrEnum):
    """Upstream's canonical ledger events (no CHECK constraint holds the column to them)."""

    POLICY_RULE_CREATED = "PolicyRuleCreated"
    POLICY_RULE_MODIFIED = "PolicyRuleModified"
    POLICY_RULE_RETIRED = "PolicyRuleRetired"
    POLICY_PROPOSAL_APPROVED = "PolicyProposalApproved"
    POLICY_PROPOSAL_REJECTED = "PolicyProposalRejected"
    LIMIT_CREATED = "LimitCreated"
    LIMIT_UPDATED = "LimitUpdated"
    LIMIT_BREACHED = "LimitBreached"
    LIMIT_OVERRIDE_GRANTED = "LimitOverrideGranted"
    LIMIT_OVERRIDE_REVOKED = "LimitOverrideRevoked"
    INCIDENT_ACKNOWLEDGED = "IncidentAcknowledged"
    INCIDENT_RESOLVED = "IncidentResolved"
    INCIDENT_MANUALLY_CLOSED = "IncidentManuallyClosed"
    EMERGENCY_OVERRIDE_ACTIVATED = "EmergencyOverrideActivated"
    EMERGENCY_OVERRIDE_DEACTIVATED = "EmergencyOverrideDeactivated"
    SIGNAL_ACKNOWLEDGED = "SignalAcknowledged"
    SIGNAL_SUPPRESSED = "SignalSuppressed"
    SIGNAL_ESCALATED = "SignalEscalated"


class AuditEntityType(enum.StrEnum):
    POLICY_RULE = "POLICY_RULE"
    POLICY_PROPOSAL = "POLICY_PROPOSAL"
    LIMIT = "LIMIT"
    INCIDENT = "INCIDENT"
    SIGNAL = "SIGNAL"


_E, _T = AuditEventType, AuditEntityType


class AuditLedgerWriter:
    """Appends ``audit_ledger`` rows; every event method returns the id it wrote.

    Event methods take ``(tenant_id, entity_id, actor_id=None, actor_type=<default>, reason=None,
    <state>…)`` in upstream's order, plus a keyword-only ``correlation_id``."""

    def __init__(
        self,
        target: AsyncSession | AsyncConnection | AsyncEngine,
        *,
        clock: Callable[[], datetime] = utc_now,
        json_null_states: bool = True,
    ) -> None:
        self._target = target
        self._clock = clock
        self._absent = sa.JSON.NULL if json_null_states else None

    async def emit(
        self,
        tenant_id: str,
        event_type: str,
        entity_type: str,
        entity_id: str,
        actor_type: str,
        actor_id: str | None = None,
        reason: str | None = None,
        before_state: _State = None,
        after_state: _State = None,
        *,
        correlation_id: str | None = None,
    ) -> str:
        """Write one event (any strings: the sync writer upstream accepts any event type)."""
        event_id = str(uuid.uuid4())
        stmt = sa.insert(audit_ledger).values(
            id=event_id, tenant_id=tenant_id, event_type=str(event_type), entity_type=str(entity_type),
            entity_id=entity_id, actor_type=str(actor_type), actor_id=actor_id, action_reason=reason,
            before_state=self._absent if before_state is None else dict(before_state),
            after_state=self._absent if after_state is None else dict(after_state),
            created_at=self._clock(), correlation_id=correlation_id,
        )
        if isinstance(self._target, AsyncEngine):
            async with self._target.begin() as conn:
                await conn.execute(stmt)
        else:
            await self._target.execute(stmt)
        return event_id

    # -- policy rules and proposals --------------------------------------------------------------

    async def policy_rule_created(self, tenant_id: str, rule_id: str, actor_id: str | None = None,
                                  actor_type: str = "SYSTEM", reason: str | None = None, rule_state: _State = None,
                                  *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.POLICY_RULE_CREATED, _T.POLICY_RULE, rule_id, actor_type, actor_id,
                               reason, after_state=rule_state, correlation_id=correlation_id)

    async def policy_rule_modified(self, tenant_id: str, rule_id: str, actor_id: str | None = None,
                                   actor_type: str = "SYSTEM", reason: str | None = None, before_state: _State = None,
                                   after_state: _State = None, *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.POLICY_RULE_MODIFIED, _T.POLICY_RULE, rule_id, actor_type, actor_id,
                               reason, before_state, after_state, correlation_id=correlation_id)

    async def policy_rule_retired(self, tenant_id: str, rule_id: str, actor_id: str | None = None,
                                  actor_type: str = "SYSTEM", reason: str | None = None, rule_state: _State = None,
                                  *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.POLICY_RULE_RETIRED, _T.POLICY_RULE, rule_id, actor_type, actor_id,
                               reason, before_state=rule_state, correlation_id=correlation_id)

    async def policy_proposal_approved(self, tenant_id: str, proposal_id: str, actor_id: str | None = None,
                                       actor_type: str = "HUMAN", reason: str | None = None,
                                       proposal_state: _State = None, *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.POLICY_PROPOSAL_APPROVED, _T.POLICY_PROPOSAL, proposal_id, actor_type,
                               actor_id, reason, after_state=proposal_state, correlation_id=correlation_id)

    async def policy_proposal_rejected(self, tenant_id: str, proposal_id: str, actor_id: str | None = None,
                                       actor_type: str = "HUMAN", reason: str | None = None,
                                       proposal_state: _State = None, *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.POLICY_PROPOSAL_REJECTED, _T.POLICY_PROPOSAL, proposal_id, actor_type,
                               actor_id, reason, after_state=proposal_state, correlation_id=correlation_id)

    # -- limits ----------------------------------------------------------------------------------

    async def limit_created(self, tenant_id: str, limit_id: str, actor_id: str | None = None,
                            actor_type: str = "SYSTEM", reason: str | None = None, limit_state: _State = None,
                            *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.LIMIT_CREATED, _T.LIMIT, limit_id, actor_type, actor_id, reason,
                               after_state=limit_state, correlation_id=correlation_id)

    async def limit_updated(self, tenant_id: str, limit_id: str, actor_id: str | None = None,
                            actor_type: str = "SYSTEM", reason: str | None = None, before_state: _State = None,
                            after_state: _State = None, *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.LIMIT_UPDATED, _T.LIMIT, limit_id, actor_type, actor_id, reason,
                               before_state, after_state, correlation_id=correlation_id)

    async def limit_breached(self, tenant_id: str, limit_id: str, actor_id: str | None = None,
                             actor_type: str = "SYSTEM", reason: str | None = None, breach_details: _State = None,
                             *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.LIMIT_BREACHED, _T.LIMIT, limit_id, actor_type, actor_id, reason,
                               after_state=breach_details, correlation_id=correlation_id)

    async def limit_override_granted(self, tenant_id: str, limit_id: str, actor_id: str | None = None,
                                     actor_type: str = "SYSTEM", reason: str | None = None,
                                     override_state: _State = None, *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.LIMIT_OVERRIDE_GRANTED, _T.LIMIT, limit_id, actor_type, actor_id, reason,
                               after_state=override_state, correlation_id=correlation_id)

    async def limit_override_revoked(self, tenant_id: str, limit_id: str, actor_id: str | None = None,
                                     actor_type: str = "SYSTEM", reason: str | None = None,
                                     override_state: _State = None, *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.LIMIT_OVERRIDE_REVOKED, _T.LIMIT, limit_id, actor_type, actor_id, reason,
                               before_state=override_state, correlation_id=correlation_id)

    # -- incidents (upstream's sync writer: no states, but a resolution method) ------------------

    async def incident_acknowledged(self, tenant_id: str, incident_id: str, actor_id: str | None = None,
                                    actor_type: str = "HUMAN", reason: str | None = None,
                                    *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.INCIDENT_ACKNOWLEDGED, _T.INCIDENT, incident_id, actor_type, actor_id,
                               reason, correlation_id=correlation_id)

    async def incident_resolved(self, tenant_id: str, incident_id: str, actor_id: str | None = None,
                                actor_type: str = "HUMAN", reason: str | None = None,
                                resolution_method: str | None = None, *, correlation_id: str | None = None) -> str:
        after = {"resolution_method": resolution_method} if resolution_method else None
        return await self.emit(tenant_id, _E.INCIDENT_RESOLVED, _T.INCIDENT, incident_id, actor_type, actor_id,
                               reason, after_state=after, correlation_id=correlation_id)

    async def incident_manually_closed(self, tenant_id: str, incident_id: str, actor_id: str | None = None,
                                       actor_type: str = "HUMAN", reason: str | None = None,
                                       before_state: _State = None, after_state: _State = None,
                                       *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.INCIDENT_MANUALLY_CLOSED, _T.INCIDENT, incident_id, actor_type, actor_id,
                               reason, before_state, after_state, correlation_id=correlation_id)

    # -- emergency overrides (no upstream emitter: see the module docstring) ---------------------

    async def emergency_override_activated(self, tenant_id: str, override_id: str, actor_id: str | None = None,
                                           actor_type: str = "HUMAN", reason: str | None = None,
                                           override_state: _State = None, *, entity_type: str = _T.POLICY_RULE,
                                           correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.EMERGENCY_OVERRIDE_ACTIVATED, entity_type, override_id, actor_type,
                               actor_id, reason, after_state=override_state, correlation_id=correlation_id)

    async def emergency_override_deactivated(self, tenant_id: str, override_id: str, actor_id: str | None = None,
                                             actor_type: str = "HUMAN", reason: str | None = None,
                                             override_state: _State = None, *, entity_type: str = _T.POLICY_RULE,
                                             correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.EMERGENCY_OVERRIDE_DEACTIVATED, entity_type, override_id, actor_type,
                               actor_id, reason, before_state=override_state, correlation_id=correlation_id)

    # -- signal feedback -------------------------------------------------------------------------

    async def signal_acknowledged(self, tenant_id: str, signal_id: str, actor_id: str | None = None,
                                  actor_type: str = "HUMAN", reason: str | None = None, signal_state: _State = None,
                                  *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.SIGNAL_ACKNOWLEDGED, _T.SIGNAL, signal_id, actor_type, actor_id, reason,
                               after_state=signal_state, correlation_id=correlation_id)

    async def signal_suppressed(self, tenant_id: str, signal_id: str, actor_id: str | None = None,
                                actor_type: str = "HUMAN", reason: str | None = None,
                                suppressed_until: datetime | str | _State = None, *, signal_state: _State = None,
                                correlation_id: str | None = None) -> str:
        """``suppressed_until`` as a dict is the whole after_state (upstream's async signature); an
        instant (datetime or ISO text) is stored as ``after_state["suppressed_until"]``, merged into
        ``signal_state`` — the key upstream's signal-feedback reader looks up."""
        if isinstance(suppressed_until, Mapping):
            after = dict(suppressed_until)
        elif suppressed_until is None:
            after = dict(signal_state) if signal_state is not None else None
        else:
            until = suppressed_until.isoformat() if isinstance(suppressed_until, datetime) else suppressed_until
            after = {**(signal_state or {}), "suppressed_until": until}
        return await self.emit(tenant_id, _E.SIGNAL_SUPPRESSED, _T.SIGNAL, signal_id, actor_type, actor_id, reason,
                               after_state=after, correlation_id=correlation_id)

    async def signal_escalated(self, tenant_id: str, signal_id: str, actor_id: str | None = None,
                               actor_type: str = "SYSTEM", reason: str | None = None,
                               escalation_context: _State = None, *, correlation_id: str | None = None) -> str:
        return await self.emit(tenant_id, _E.SIGNAL_ESCALATED, _T.SIGNAL, signal_id, actor_type, actor_id, reason,
                               after_state=escalation_context, correlation_id=correlation_id)


async def record_policy_activation(
    session: AsyncSession | AsyncConnection,
    *,
    policy_id: str,
    source_pattern_id: str | None,
    source_recovery_id: str | None,
    confidence_at_activation: float | None,
    confidence_version: str | None,
    approval_path: str | None,
    loop_trace_id: str | None,
    tenant_id: str | None,
    clock: Callable[[], datetime] | None = None,
) -> PolicyActivation:
    """Upstream's ``record_policy_activation`` (§12): insert the policy's activation audit, or on an
    existing ``policy_id`` update only ``confidence_at_activation``, ``approval_path`` and
    ``activated_at`` (the other columns keep their first values). The caller owns the transaction;
    nothing is committed here. Returns the row as written by this call."""
    activated_at = (clock or utc_now)()
    row = {
        "policy_id": policy_id, "source_pattern_id": source_pattern_id, "source_recovery_id": source_recovery_id,
        "confidence_at_activation": confidence_at_activation, "confidence_version": confidence_version,
        "approval_path": approval_path, "loop_trace_id": loop_trace_id, "activated_at": activated_at,
        "tenant_id": tenant_id,
    }
    stmt = pg_insert(policy_activation_audit).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["policy_id"],
        set_={c: stmt.excluded[c] for c in ("confidence_at_activation", "approval_path", "activated_at")},
    )
    await session.execute(stmt)
    return PolicyActivation(**{**row, "activated_at": activated_at.isoformat()})
