"""The pure part of upstream's evidence capture (``LOGS/L6_drivers/capture_driver.py``, spec §3.7):
the execution context every capture needs, its guards, failure reasons and their default resolution,
and the content fingerprint. The writers themselves are in ``drivers/evidence_capture.py``.

Upstream's rule is "no context → no evidence": capture without an :class:`ExecutionContext` is a
hard error (:class:`EvidenceContextError`), never a best-effort failure that gets logged.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace

from inspector.integrity import FailureResolution

__all__ = [
    "DEFAULT_RESOLUTION",
    "CaptureFailureReason",
    "EvidenceContextError",
    "EvidenceSource",
    "ExecutionContext",
    "ExecutionCursor",
    "hash_prompt",
    "require_context",
    "resolution_for",
]


class EvidenceContextError(Exception):
    """Evidence capture attempted without a usable execution context: a hard failure (the
    caller's bug), raised before anything is written."""

    def __init__(self, evidence_type: str, message: str | None = None) -> None:
        self.evidence_type = evidence_type
        self.message = message or f"Evidence capture ({evidence_type}) requires ExecutionContext"
        super().__init__(self.message)


class EvidenceSource(enum.StrEnum):
    """Who emitted the evidence; stored in ``activity_evidence.evidence_source``."""

    SDK = "sdk"
    WORKER = "worker"
    PROVIDER = "provider"
    RECONCILER = "reconciler"


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    """The read-only identity a capture writes under (upstream's ``ExecutionContext``, reduced to
    what the capture writers read).

    ``step_index`` is the *evidence* step index, from :class:`ExecutionCursor`: 1-based and counting
    retries, so it is not the trace's step index (spec §11.6)."""

    run_id: str
    step_index: int
    source: EvidenceSource
    is_synthetic: bool = False
    synthetic_scenario_id: str | None = None

    def assert_valid_for_evidence(self, evidence_type: str = "evidence") -> None:
        """Upstream's guard before every write (which raises ``RuntimeError``; ours raises
        :class:`EvidenceContextError`, so one exception type covers every refused capture)."""
        if not isinstance(self.run_id, str) or not self.run_id:
            raise EvidenceContextError(evidence_type, f"Evidence capture ({evidence_type}) attempted without run_id")
        if isinstance(self.step_index, bool) or not isinstance(self.step_index, int):
            raise EvidenceContextError(
                evidence_type, f"Evidence capture ({evidence_type}) for run {self.run_id}: step_index must be an "
                               f"int, got {type(self.step_index).__name__} {self.step_index!r}")
        if self.step_index < 0:
            raise EvidenceContextError(
                evidence_type, f"Evidence capture ({evidence_type}) for run {self.run_id}: step_index must not be "
                               f"negative, got {self.step_index}")
        if not isinstance(self.source, EvidenceSource):
            raise EvidenceContextError(
                evidence_type, f"Evidence capture ({evidence_type}) for run {self.run_id}: source must be an "
                               f"EvidenceSource, got {self.source!r}")
        if self.is_synthetic and not self.synthetic_scenario_id:
            raise EvidenceContextError(
                evidence_type, f"Evidence capture ({evidence_type}) for run {self.run_id}: synthetic execution "
                               "missing synthetic_scenario_id")


def require_context(ctx: ExecutionContext | None, evidence_type: str) -> ExecutionContext:
    """Upstream's hard guard: no context → no evidence; then the context's own validity check."""
    if ctx is None:
        raise EvidenceContextError(
            evidence_type,
            f"Evidence capture ({evidence_type}) blocked: ExecutionContext is None. "
            "No context → No evidence. This is a hard failure, not best-effort.",
        )
    ctx.assert_valid_for_evidence(evidence_type)
    return ctx


class ExecutionCursor:
    """Upstream's step authority: starts at 0 and is advanced before every attempt (retries
    included), so the first step's evidence has index 1 (spec §11.6)."""

    __slots__ = ("_context",)

    def __init__(self, context: ExecutionContext) -> None:
        self._context = context

    @property
    def context(self) -> ExecutionContext:
        return self._context

    def advance(self) -> ExecutionContext:
        self._context = replace(self._context, step_index=self._context.step_index + 1)
        return self._context


class CaptureFailureReason:
    """Upstream's failure reasons (``evidence_capture_failures.failure_reason``)."""

    CAPTURE_FAILED = "capture_failed"
    PROVIDER_TIMEOUT = "provider_timeout"
    PRE_ATTACH = "pre_attach"
    NETWORK_PARTITION = "network_partition"
    DATABASE_ERROR = "database_error"
    CONTEXT_INVALID = "context_invalid"


#: The resolution a failure is stored with when none is given; an unknown reason is transient.
DEFAULT_RESOLUTION: dict[str, FailureResolution] = {
    CaptureFailureReason.CAPTURE_FAILED: FailureResolution.TRANSIENT,
    CaptureFailureReason.PROVIDER_TIMEOUT: FailureResolution.TRANSIENT,
    CaptureFailureReason.PRE_ATTACH: FailureResolution.PERMANENT,
    CaptureFailureReason.NETWORK_PARTITION: FailureResolution.TRANSIENT,
    CaptureFailureReason.DATABASE_ERROR: FailureResolution.TRANSIENT,
    CaptureFailureReason.CONTEXT_INVALID: FailureResolution.PERMANENT,
}


def resolution_for(failure_reason: str) -> FailureResolution:
    return DEFAULT_RESOLUTION.get(failure_reason, FailureResolution.TRANSIENT)


def hash_prompt(prompt: str) -> str:
    """Upstream's content fingerprint: sha256 hex of the UTF-8 text (``prompt_fingerprint``,
    ``response_fingerprint``)."""
    return hashlib.sha256(prompt.encode()).hexdigest()
