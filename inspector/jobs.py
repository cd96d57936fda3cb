"""Upstream's job execution rules (spec §9, ``job_execution_driver.py``): retry delays, progress
with an ETA, and the job audit hash chain. Exports and other long work run as jobs with these
semantics; the chain of an export's audit events becomes the bundle's custody log.

Pure: time comes from the caller (an injected clock or explicit instants), randomness from an
injected ``random`` function, so every figure here can be checked against the spec.
"""

from __future__ import annotations

import enum
import hashlib
import random as _random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "FIB",
    "AuditChainError",
    "JobAuditEvent",
    "JobAuditEventType",
    "JobAuditLog",
    "JobProgress",
    "ProgressStage",
    "RetryConfig",
    "RetryStrategy",
    "audit_event_hash",
    "retry_delay",
    "should_retry",
    "verify_chain",
]


class RetryStrategy(enum.StrEnum):
    FIXED = "fixed"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"
    FIBONACCI = "fibonacci"


#: Upstream's Fibonacci table; attempts beyond it keep its last value.
FIB = (1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144)


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """Upstream's ``RetryConfig`` (its defaults: 3 retries, exponential, 60 s base, 3600 s cap,
    jitter 0.2, every error retryable). Delays are seconds; upstream's are whole seconds
    (``int``) because its base is; a fractional base keeps its fraction here."""

    max_retries: int = 3
    strategy: RetryStrategy = RetryStrategy.EXPONENTIAL
    base_delay: float = 60.0
    max_delay: float = 3600.0
    jitter_factor: float = 0.2
    #: Substrings of an error message that make it retryable; empty means every error is.
    retryable_errors: tuple[str, ...] = ()


def retry_delay(config: RetryConfig, attempt: int, *, random: Callable[[], float] = _random.random) -> float:
    """The delay before retry ``attempt`` (1-based): the strategy's delay, plus jitter (always
    additive: ``delay + delay × factor × random()``), clamped to ``max_delay``."""
    n = max(1, int(attempt))
    base = config.base_delay
    if config.strategy is RetryStrategy.FIXED:
        delay = base
    elif config.strategy is RetryStrategy.LINEAR:
        delay = base * n
    elif config.strategy is RetryStrategy.FIBONACCI:
        delay = base * FIB[min(n - 1, len(FIB) - 1)]
    else:
        delay = base * 2 ** (n - 1)
    if config.jitter_factor > 0:
        delay = delay + delay * config.jitter_factor * random()
        if float(base).is_integer():
            delay = int(delay)  # upstream truncates: int(delay + jitter)
    return min(delay, config.max_delay)


def should_retry(config: RetryConfig, attempt: int, error: str) -> bool:
    """Upstream's rule: no once ``attempt >= max_retries``; otherwise yes, unless
    ``retryable_errors`` is non-empty and none of its patterns occurs in the error."""
    if attempt >= config.max_retries:
        return False
    if config.retryable_errors:
        return any(p in error for p in config.retryable_errors)
    return True


# -- progress -------------------------------------------------------------------------------------


class ProgressStage(enum.StrEnum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    COMPLETING = "completing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class JobProgress:
    """A job's progress (upstream's ``to_dict`` keys). Immutable: each update returns a new one.
    Instants are seconds on the caller's clock; ``started_at``/``updated_at`` are those seconds."""

    job_id: str
    percentage: float = 0.0
    stage: ProgressStage = ProgressStage.QUEUED
    message: str = ""
    current_step: int = 0
    total_steps: int = 0
    started_at: float | None = None
    updated_at: float | None = None
    eta_seconds: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def start(self, now: float, total_steps: int = 0, message: str = "Starting") -> JobProgress:
        return replace(self, stage=ProgressStage.STARTING, percentage=0.0, current_step=0,
                       total_steps=total_steps, started_at=now, updated_at=now, message=message, eta_seconds=None)

    def update(self, now: float, *, percentage: float | None = None, current_step: int | None = None,
               total_steps: int | None = None, stage: ProgressStage | None = None,
               message: str | None = None) -> JobProgress:
        """Upstream's ``update``: an explicit percentage is clamped to [0, 100], but a current step
        with a positive total overrides it with ``current/total × 100`` (unclamped); a ``starting``
        job moves to ``running`` when no stage is given; ETA = ``int((100 − p) / (p / elapsed))``."""
        p = self.percentage
        if percentage is not None:
            p = min(100.0, max(0.0, float(percentage)))
        total = self.total_steps if total_steps is None else total_steps
        step = self.current_step if current_step is None else current_step
        if current_step is not None and total > 0:
            p = step / total * 100.0
        new_stage = stage or (ProgressStage.RUNNING if self.stage is ProgressStage.STARTING else self.stage)
        started = self.started_at if self.started_at is not None else now
        return replace(self, percentage=p, current_step=step, total_steps=total, stage=new_stage,
                       message=self.message if message is None else message, updated_at=now,
                       started_at=started, eta_seconds=_eta(p, now - started))

    def complete(self, now: float) -> JobProgress:
        return replace(self, percentage=100.0, stage=ProgressStage.COMPLETED, message="Completed",
                       updated_at=now, eta_seconds=0)

    def fail(self, now: float, message: str = "Failed") -> JobProgress:
        return replace(self, stage=ProgressStage.FAILED, message=message, updated_at=now, eta_seconds=None)

    def cancel(self, now: float) -> JobProgress:
        return replace(self, stage=ProgressStage.CANCELLED, message="Cancelled", updated_at=now, eta_seconds=None)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "percentage": self.percentage, "stage": self.stage.value,
                "message": self.message, "current_step": self.current_step, "total_steps": self.total_steps,
                "started_at": self.started_at, "updated_at": self.updated_at, "eta_seconds": self.eta_seconds,
                "metadata": dict(self.metadata)}


def _eta(p: float, elapsed: float) -> int | None:
    try:
        if p <= 0 or elapsed <= 0:
            return None
        return int((100 - p) / (p / elapsed))
    except (ZeroDivisionError, OverflowError, ValueError):
        return None


# -- audit chain ----------------------------------------------------------------------------------


class JobAuditEventType(enum.StrEnum):
    CREATED = "job_created"
    SCHEDULED = "job_scheduled"
    STARTED = "job_started"
    PROGRESS = "job_progress"
    COMPLETED = "job_completed"
    FAILED = "job_failed"
    RETRIED = "job_retried"
    CANCELLED = "job_cancelled"
    DEAD_LETTERED = "job_dead_lettered"


def audit_event_hash(event_id: str, event_type: str, job_id: str, tenant_id: str, timestamp: str,
                     previous_event_hash: str | None) -> str:
    """Upstream's integrity hash: SHA-256 of ``"{id}|{type}|{job}|{tenant}|{timestamp}|{prev or ''}"``,
    first 32 hex digits. It covers nothing else (§11.24): the bundle's signature covers the rest."""
    text = f"{event_id}|{event_type}|{job_id}|{tenant_id}|{timestamp}|{previous_event_hash or ''}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class JobAuditEvent:
    event_id: str
    event_type: str
    job_id: str
    tenant_id: str
    timestamp: str
    previous_event_hash: str | None
    integrity_hash: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "event_type": self.event_type, "job_id": self.job_id,
                "tenant_id": self.tenant_id, "timestamp": self.timestamp,
                "previous_event_hash": self.previous_event_hash, "integrity_hash": self.integrity_hash,
                "metadata": dict(self.metadata)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> JobAuditEvent:
        """An event read back; raises ``ValueError`` naming the field that is wrong."""
        if not isinstance(doc, Mapping):
            raise ValueError("an event is not a JSON object")
        values = {}
        for name in ("event_id", "event_type", "job_id", "tenant_id", "timestamp", "integrity_hash"):
            v = doc.get(name)
            if not isinstance(v, str):
                raise ValueError(f"{name} is missing or not a string")
            values[name] = v
        prev = doc.get("previous_event_hash")
        if prev is not None and not isinstance(prev, str):
            raise ValueError("previous_event_hash is not a string")
        meta = doc.get("metadata") or {}
        if not isinstance(meta, Mapping):
            raise ValueError("metadata is not an object")
        return cls(previous_event_hash=prev, metadata=dict(meta), **values)


class JobAuditLog:
    """An emitter of one job's audit events, chained as upstream chains them: each event's
    ``previous_event_hash`` is the last emitted event's hash. Event ids are
    ``job-audit-{prefix}-{counter}``: give a prefix derived from the request for reproducible ids."""

    def __init__(self, job_id: str, tenant_id: str, *, id_prefix: str) -> None:
        self.job_id = job_id
        self.tenant_id = tenant_id
        self._prefix = id_prefix
        self._counter = 0
        self.events: list[JobAuditEvent] = []

    def emit(self, event_type: JobAuditEventType | str, timestamp: str, **metadata: Any) -> JobAuditEvent:
        self._counter += 1
        event_id = f"job-audit-{self._prefix}-{self._counter}"
        prev = self.events[-1].integrity_hash if self.events else None
        etype = str(event_type)
        event = JobAuditEvent(event_id, etype, self.job_id, self.tenant_id, timestamp, prev,
                              audit_event_hash(event_id, etype, self.job_id, self.tenant_id, timestamp, prev),
                              dict(metadata))
        self.events.append(event)
        return event


class AuditChainError(ValueError):
    """A custody log whose chain is broken: ``index`` is the first event that does not fit."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def verify_chain(events: Sequence[JobAuditEvent] | Iterable[JobAuditEvent]) -> int:
    """Check every event's hash and link; returns the number of events. Raises
    :class:`AuditChainError` at the first event whose hash or link is wrong."""
    prev: str | None = None
    n = 0
    for n, e in enumerate(events, start=1):
        expected = audit_event_hash(e.event_id, e.event_type, e.job_id, e.tenant_id, e.timestamp,
                                    e.previous_event_hash)
        if e.integrity_hash != expected:
            raise AuditChainError(f"event {n} ({e.event_id}): integrity hash {e.integrity_hash} does not match "
                                  f"its fields (expected {expected})", n)
        if (e.previous_event_hash or None) != prev:
            raise AuditChainError(f"event {n} ({e.event_id}): previous_event_hash {e.previous_event_hash} does not "
                                  f"name the event before it ({prev})", n)
        prev = e.integrity_hash
    return n
