"""Idempotency keys of a run (spec §6.2): for each step that has a key, what the idempotency store
holds under ``{prefix}:{tenant}:{key}`` and the verdict upstream's Lua check would give this
step's request. Read only: ``check`` is never called (it would write the key when absent); the
states are read with one pipelined ``states`` call per chunk.

"Our" request hash is ``hash_request(params)`` (upstream's idempotency convention: SHA-256,
64 hex, of canonical JSON).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from inspector.compare import step_doc
from inspector.hashing import hash_request
from inspector.idempotency import (
    IdempotencyResult,
    IdempotencyState,
    IdempotencyStore,
    upstream_verdict,
)
from inspector.source import TraceSource

__all__ = ["CHUNK", "IdempotencyRow", "KeyedStep", "KeyStates", "RunKeys", "load_run_keys", "read_key_states"]

#: Keys per pipelined ``states`` call (one round trip each).
CHUNK = 1000


@dataclass(frozen=True, slots=True)
class KeyedStep:
    """A step that has an idempotency key, with our hash of its request."""

    step_index: int
    skill_name: str | None
    idempotency_key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class RunKeys:
    """What the source says about one run: its keyed steps and how many steps it has in all."""

    run_id: str
    trace_id: str | None
    tenant_id: str
    location: str
    total_steps: int
    keyed: tuple[KeyedStep, ...]

    @property
    def unkeyed(self) -> int:
        return self.total_steps - len(self.keyed)


@dataclass(frozen=True, slots=True)
class IdempotencyRow:
    step: KeyedStep
    state: IdempotencyState | None
    verdict: IdempotencyResult
    #: The inspected run's trace id (a stored trace id equal to it was written for this run).
    run_trace_id: str | None


@dataclass(frozen=True, slots=True)
class KeyStates:
    """The keyed steps' states as read from one store, and when (TTLs are as of then)."""

    rows: tuple[IdempotencyRow, ...]
    #: The store as messages show it (never a password).
    location: str
    read_at: float
    #: Whether reading stopped before the last key (a cancel).
    stopped: bool = False


def load_run_keys(source: TraceSource, run_ref: str) -> RunKeys:
    """The run's steps that have an idempotency key, with our request hash of each (worker side)."""
    record = source.get_run(run_ref)
    summary = record.summary
    keyed = []
    total = 0
    for step in source.iter_steps(summary.key):
        total += 1
        doc = step_doc(step)
        if doc.idempotency_key:
            keyed.append(KeyedStep(doc.step_index, doc.skill_name, doc.idempotency_key, hash_request(doc.params)))
    return RunKeys(summary.run_id, summary.trace_id, summary.tenant_id or "default", source.info.location, total,
                   tuple(keyed))


def read_key_states(keys: RunKeys, store: IdempotencyStore, *, location: str = "",
                    progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None, chunk: int = CHUNK,
                    clock: Callable[[], float] = time.time) -> KeyStates:
    """Each keyed step's state in ``store``, ``chunk`` keys per pipelined ``states`` call,
    reporting ``progress(done, total)`` and stopping between chunks once ``cancelled()``."""
    states: list[IdempotencyState | None] = []
    wanted = [(k.idempotency_key, keys.tenant_id) for k in keys.keyed]
    stopped = False
    for start in range(0, len(wanted), chunk):
        if cancelled is not None and cancelled():
            stopped = True
            break
        states.extend(store.states(wanted[start:start + chunk]))
        if progress is not None:
            progress(len(states), len(wanted))
    rows = tuple(IdempotencyRow(k, s, upstream_verdict(s, k.request_hash), keys.trace_id)
                 for k, s in zip(keys.keyed, states, strict=False))
    return KeyStates(rows, location, clock(), stopped)
