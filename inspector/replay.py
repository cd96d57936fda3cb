"""Upstream's replay enforcement (spec §6.1, ``LOGS/L6_drivers/replay_driver.py``) over a cache
port, and the offline replay check built on it.

``enforce_step`` and ``enforce_trace`` behave as upstream's do, quirks included: a ``check`` step
whose output is cached returns the cached output *without verifying it* (§11.23), a ``skip`` step
without an idempotency key executes anyway, and ``enforce_trace`` stops at the first mismatch.
``replay_check`` runs a recorded replay through them against its original's outputs, offline (the
"executor" returns what the replay recorded), and reports every step — including the steps after
upstream would have stopped, marked as such — with what made each outcome.

Caches: :class:`MemoryReplayCache` (upstream's in-memory store, key ``"{tenant}:{key}"``); the
Redis cache with upstream's layout lives in ``drivers/redis_store.py``. Pure: no I/O here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from inspector.hashing import hash_output

__all__ = [
    "CheckOutcome",
    "MemoryReplayCache",
    "OpenedReplayCache",
    "ReplayBehavior",
    "ReplayCache",
    "ReplayCheck",
    "ReplayMismatchError",
    "ReplayResult",
    "StepCheck",
    "enforce_step",
    "enforce_trace",
    "enforcer_steps",
    "replay_check",
]


class ReplayBehavior(enum.StrEnum):
    EXECUTE = "execute"
    SKIP = "skip"
    CHECK = "check"


class ReplayMismatchError(Exception):
    """Upstream's error for a ``check`` step whose output hash differs from the original's."""

    def __init__(self, step_index: int, expected_hash: str, actual_hash: str) -> None:
        self.step_index = step_index
        self.expected_hash = expected_hash
        self.actual_hash = actual_hash
        super().__init__(f"Replay output mismatch: step {step_index}, expected {expected_hash}, got {actual_hash}")


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Upstream's ``ReplayResult``."""

    executed: bool
    skipped: bool
    checked: bool
    output_data: Any
    output_hash: str | None
    from_cache: bool


class ReplayCache(Protocol):
    """Where enforcement keeps outputs by idempotency key: ``{output_data, output_hash, step_index}``."""

    def get(self, tenant_id: str, key: str) -> Mapping[str, Any] | None: ...

    def set(self, tenant_id: str, key: str, value: Mapping[str, Any]) -> None: ...


class OpenedReplayCache(ReplayCache, Protocol):
    """A cache a check was given to run on (memory, or the shared Redis): what it is, where, why it
    is memory when Redis was asked for, and how to let it go."""

    @property
    def kind(self) -> str:
        """What the check's result says it ran on (``memory``, ``redis``, or memory and why)."""
        ...

    #: Where, as messages show it (never a password): ``memory`` or the Redis URL.
    location: str

    @property
    def fallback_reason(self) -> str | None:
        """Why a Redis asked for could not be used (the check then ran in memory)."""
        ...

    def close(self) -> None: ...


class MemoryReplayCache:
    """Upstream's in-memory store: key ``"{tenant_id}:{key}"``, no expiry."""

    kind = "memory"
    location = "memory"
    fallback_reason: str | None = None

    def __init__(self) -> None:
        self.data: MutableMapping[str, Mapping[str, Any]] = {}

    def close(self) -> None:
        """Nothing to close (the same call as a Redis cache's)."""

    def get(self, tenant_id: str, key: str) -> Mapping[str, Any] | None:
        return self.data.get(f"{tenant_id}:{key}")

    def set(self, tenant_id: str, key: str, value: Mapping[str, Any]) -> None:
        self.data[f"{tenant_id}:{key}"] = dict(value)


def _behavior(step: Mapping[str, Any]) -> str:
    """Upstream's ``ReplayBehavior(step.get("replay_behavior", "execute"))``: a value it does not
    know raises its ValueError. ``None`` is the default (our sources cannot tell an absent
    behavior from a NULL one)."""
    value = step.get("replay_behavior")
    if value is None:
        return ReplayBehavior.EXECUTE.value
    return ReplayBehavior(value.value if isinstance(value, enum.Enum) else value).value


def enforce_step(step: Mapping[str, Any], execute: Callable[[Mapping[str, Any]], Any], tenant_id: str,
                 cache: ReplayCache) -> ReplayResult:
    """Upstream's ``enforce_step``: cache lookup by idempotency key, execute, store, check. A
    ``replay_behavior`` upstream does not know raises ValueError before anything else."""
    behavior = _behavior(step)
    key = step.get("idempotency_key")
    step_index = step.get("step_index", 0)
    original_hash = step.get("output_hash")
    if key:
        cached = cache.get(tenant_id, key)
        if cached is not None:
            if behavior == ReplayBehavior.SKIP:
                return ReplayResult(False, True, False, cached.get("output_data"), cached.get("output_hash"), True)
            if behavior == ReplayBehavior.CHECK:
                # upstream returns the cached output as "checked" without comparing anything (§11.23)
                return ReplayResult(False, False, True, cached.get("output_data"), cached.get("output_hash"), True)
    output = execute(step)
    output_hash = hash_output(output)
    if key:
        cache.set(tenant_id, key, {"output_data": output, "output_hash": output_hash, "step_index": step_index})
    if behavior == ReplayBehavior.CHECK and original_hash and output_hash != original_hash:
        raise ReplayMismatchError(step_index, original_hash, output_hash)
    return ReplayResult(True, False, behavior == ReplayBehavior.CHECK, output, output_hash, False)


def enforce_trace(trace: Mapping[str, Any], execute: Callable[[Mapping[str, Any]], Any], tenant_id: str,
                  cache: ReplayCache) -> list[ReplayResult]:
    """Upstream's ``enforce_trace``: steps in list order, stopping at the first exception (which
    propagates); a cached result is attached to its step dict as ``_cached_output``."""
    results = []
    for step in trace.get("steps", []):
        result = enforce_step(step, execute, tenant_id, cache)
        if result.from_cache and isinstance(step, MutableMapping):
            step["_cached_output"] = result.output_data
        results.append(result)
    return results


class CheckOutcome(enum.StrEnum):
    EXECUTED = "executed"
    SKIPPED = "skipped from cache"
    CHECKED = "checked"
    CHECKED_UNVERIFIED = "checked (cache hit, not verified)"
    MISMATCH = "mismatch"
    #: A ``replay_behavior`` upstream's enum rejects: its enforce_step raises ValueError.
    INVALID = "invalid behavior"


@dataclass(frozen=True, slots=True)
class StepCheck:
    position: int
    step_index: int
    skill_name: str | None
    behavior: str
    idempotency_key: str | None
    outcome: CheckOutcome
    expected_hash: str | None
    actual_hash: str | None
    from_cache: bool
    #: Upstream's ``enforce_trace`` would have stopped before this step (after an earlier mismatch).
    after_stop: bool = False
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "step_index": self.step_index, "skill_name": self.skill_name,
                "behavior": self.behavior, "idempotency_key": self.idempotency_key, "outcome": self.outcome.value,
                "expected_hash": self.expected_hash, "actual_hash": self.actual_hash, "from_cache": self.from_cache,
                "after_upstream_stop": self.after_stop, "note": self.note}


@dataclass(frozen=True, slots=True)
class ReplayCheck:
    steps: tuple[StepCheck, ...]
    #: Position of the step where upstream's ``enforce_trace`` raises, if any.
    upstream_stop: int | None = None
    cache_kind: str = "memory"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not any(s.outcome in (CheckOutcome.MISMATCH, CheckOutcome.INVALID) for s in self.steps)

    @property
    def not_compared(self) -> int:
        """Steps whose output differs from the original's that upstream's enforcer did not compare:
        it compares only ``check`` steps, and not those it answers from the cache. A replay can
        pass the check with every output different (Compare then says parity is broken)."""
        return sum(1 for s in self.steps if s.outcome is not CheckOutcome.MISMATCH and s.expected_hash
                   and s.actual_hash and s.expected_hash != s.actual_hash)

    def headline(self) -> str:
        """The verdict in one sentence, as the command and the window say it."""
        n = len(self.steps)
        if self.ok:
            differ = self.not_compared
            if not differ:
                return f"Replay check passed: {n:,} step{'s' if n != 1 else ''}, no output mismatch."
            checked = sum(1 for s in self.steps if s.behavior == ReplayBehavior.CHECK)
            return (f"Replay check passed: upstream's enforcer would not stop, but it compares outputs only on "
                    f"steps marked replay_behavior \"check\" ({checked:,} of {n:,} here); {differ:,} step "
                    f"output{'s' if differ != 1 else ''} that differ{'' if differ != 1 else 's'} from the "
                    f"original's {'were' if differ != 1 else 'was'} not compared, so Compare reports parity broken.")
        mismatches = sum(1 for s in self.steps if s.outcome is CheckOutcome.MISMATCH)
        invalid = sum(1 for s in self.steps if s.outcome is CheckOutcome.INVALID)
        failures = ([f"{mismatches:,} mismatch{'es' if mismatches != 1 else ''}"] if mismatches else []) + (
            [f"{invalid:,} replay_behavior upstream rejects"] if invalid else [])
        text = f"Replay check FAILED: {', '.join(failures)}."
        stop = self.steps[self.upstream_stop] if self.upstream_stop is not None else None
        if stop is not None:
            after = n - stop.position - 1
            error = "ValueError" if stop.outcome is CheckOutcome.INVALID else "ReplayMismatchError"
            text += (f" Upstream's enforce_trace stops at position {stop.position} (step {stop.step_index}"
                     + (f", {stop.skill_name}" if stop.skill_name else "") + f") with {error}"
                     + (f"; the {after:,} step(s) after it are shown as they would go on." if after else "."))
        return text

    def counts(self) -> dict[str, int]:
        out = {o.value: 0 for o in CheckOutcome}
        for s in self.steps:
            out[s.outcome.value] += 1
        return out


class _AfterStop:
    """The cache as steps after upstream's stop see it: reads go through to the real cache, writes
    stay here. Upstream's ``enforce_trace`` raised before reaching them, so it never wrote their
    outputs; a check showing how they would go on must not leave them in a shared Redis either."""

    def __init__(self, cache: ReplayCache) -> None:
        self.cache = cache
        self.written = MemoryReplayCache()

    def get(self, tenant_id: str, key: str) -> Mapping[str, Any] | None:
        value = self.written.get(tenant_id, key)
        return value if value is not None else self.cache.get(tenant_id, key)

    def set(self, tenant_id: str, key: str, value: Mapping[str, Any]) -> None:
        self.written.set(tenant_id, key, value)


def enforcer_steps(docs: Sequence[Any]) -> list[dict[str, Any]]:
    """A run's steps (``inspector.compare.StepDoc``) as the dicts upstream's enforcer reads."""
    return [{"step_index": d.step_index, "skill_name": d.skill_name, "replay_behavior": d.replay_behavior,
             "idempotency_key": d.idempotency_key, "outcome_data": d.outcome_data} for d in docs]


def replay_check(replay_steps: Sequence[Mapping[str, Any]], original_steps: Sequence[Mapping[str, Any]],
                 tenant_id: str, cache: ReplayCache, *, seed_cache: bool = True,
                 cache_kind: str = "memory") -> ReplayCheck:
    """Run a recorded replay through upstream's enforcer against its original, offline.

    Each replay step (a dict with ``step_index``, ``skill_name``, ``replay_behavior``,
    ``idempotency_key``, ``outcome_data``) "executes" by returning what the replay recorded; the
    expected hash of a ``check`` step is ``hash_output`` of the original step at the same
    ``step_index`` (a stored ``output_hash`` in another convention would never match, §11.9).
    With ``seed_cache`` the original's outputs are first cached under their idempotency keys, as
    running the original through AOS would have left them. Steps after the one where upstream's
    ``enforce_trace`` stops read the cache but write nothing to it (upstream never reaches them)."""
    original_by_index = {s.get("step_index"): s for s in original_steps}
    if seed_cache:
        for s in original_steps:
            key = s.get("idempotency_key")
            if key and cache.get(tenant_id, key) is None:
                out = s.get("outcome_data")
                cache.set(tenant_id, key, {"output_data": out, "output_hash": hash_output(out),
                                           "step_index": s.get("step_index", 0)})
    checks: list[StepCheck] = []
    stop: int | None = None
    notes: list[str] = []
    after_stop = _AfterStop(cache)
    for pos, step in enumerate(replay_steps):
        index = step.get("step_index", 0)
        original = original_by_index.get(index)
        expected = hash_output(original.get("outcome_data")) if original is not None else None
        probe = dict(step, output_hash=expected)
        note = ""
        if original is None:
            note = "no original step at this index: nothing to check against"
        try:
            behavior = _behavior(step)
        except ValueError as exc:
            if stop is None:
                stop = pos
            checks.append(StepCheck(pos, index, step.get("skill_name"), str(step.get("replay_behavior")),
                                    step.get("idempotency_key"), CheckOutcome.INVALID, expected, None, False,
                                    after_stop=stop != pos, note=f"upstream's enforce_step raises ValueError: {exc}"))
            continue
        try:
            result = enforce_step(probe, lambda s: s.get("outcome_data"), tenant_id,
                                  cache if stop is None else after_stop)
        except ReplayMismatchError as exc:
            if stop is None:
                stop = pos
            checks.append(StepCheck(pos, index, step.get("skill_name"), behavior, step.get("idempotency_key"),
                                    CheckOutcome.MISMATCH, exc.expected_hash, exc.actual_hash, False,
                                    after_stop=stop != pos, note=note))
            continue
        if result.skipped:
            outcome = CheckOutcome.SKIPPED
        elif result.checked and result.from_cache:
            outcome = CheckOutcome.CHECKED_UNVERIFIED
            note = note or "upstream returns a cached output for a check step without comparing it"
        elif result.checked:
            outcome = CheckOutcome.CHECKED
        else:
            outcome = CheckOutcome.EXECUTED
            if behavior == ReplayBehavior.SKIP and not step.get("idempotency_key"):
                note = note or "skip without an idempotency key: upstream executes it"
        checks.append(StepCheck(pos, index, step.get("skill_name"), behavior, step.get("idempotency_key"), outcome,
                                expected, result.output_hash, result.from_cache,
                                after_stop=stop is not None, note=note))
    if stop is not None:
        notes.append(f"upstream's enforce_trace stops at position {stop}; later steps are shown as they would go on")
    return ReplayCheck(tuple(checks), stop, cache_kind, tuple(notes))

