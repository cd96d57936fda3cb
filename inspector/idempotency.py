"""Upstream's idempotency store semantics (spec §6.2, ``idempotency_driver.py`` + ``idempotency.lua``)
as a pure in-memory store, the twin of the Redis store in ``drivers/redis_store.py``.

A check stores ``{hash, tenant_id, trace_id, created_at, status="pending"}`` under
``"{tenant_id}:{idempotency_key}"`` with a TTL and answers ``new``; afterwards the same key answers
``duplicate`` (same request hash) or ``conflict`` (another hash), with the stored hash and trace id.
Quirks kept on purpose (§11.23): ``status`` is never consulted, so ``mark_failed`` does not let the
same request through again (it only shortens the TTL to 300 s), and a check never refreshes the TTL.

This follows upstream's *Redis* store field for field (its own in-memory store drops
``created_at``, the TTL, ``response_hash`` and the 500-character error cut), so that this store
and the Redis one answer identically — the tests hold them to it. Time comes from an injectable
clock; an entry is gone once its TTL has run out. Pure: no I/O here.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from inspector.hashing import hash_request

__all__ = [
    "DEFAULT_TTL",
    "FAILED_TTL",
    "MAX_ERROR_CHARS",
    "CheckRequest",
    "IdempotencyResponse",
    "IdempotencyResult",
    "IdempotencyState",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "as_check_request",
    "effective_ttl",
    "response_hash",
    "upstream_verdict",
]

#: Upstream's default TTL of a check (24 h).
DEFAULT_TTL = 86400
#: ``mark_failed`` cuts the TTL to this (upstream: "allows faster retry" — it does not, §11.23).
FAILED_TTL = 300
#: ``mark_failed`` keeps this many characters of the error text.
MAX_ERROR_CHARS = 500


class IdempotencyResult(enum.StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class IdempotencyResponse:
    """Upstream's ``IdempotencyResponse``. For ``new`` the hash is the request's and the trace id
    is ``""`` (even when one was given); otherwise both are what the key holds."""

    result: IdempotencyResult
    stored_hash: str
    trace_id: str

    @property
    def stored_trace_id(self) -> str:
        """Upstream's name for :attr:`trace_id`."""
        return self.trace_id

    @property
    def is_new(self) -> bool:
        return self.result is IdempotencyResult.NEW

    @property
    def is_duplicate(self) -> bool:
        return self.result is IdempotencyResult.DUPLICATE

    @property
    def is_conflict(self) -> bool:
        return self.result is IdempotencyResult.CONFLICT

    def as_json(self) -> dict[str, str]:
        return {"result": self.result.value, "stored_hash": self.stored_hash, "trace_id": self.trace_id}


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """One check of a bulk ``check_many``: the arguments of ``check``."""

    idempotency_key: str
    request_hash: str
    tenant_id: str = "default"
    trace_id: str = ""
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyState:
    """What a key holds: its fields as stored (text) and its remaining TTL in whole seconds
    (rounded as Redis's ``TTL`` rounds; ``None`` when the key never expires — a key first written
    by ``mark_completed`` has no TTL, as upstream's bare ``HSET`` leaves it)."""

    idempotency_key: str
    tenant_id: str
    fields: Mapping[str, str]
    ttl: int | None

    @property
    def request_hash(self) -> str | None:
        return self.fields.get("hash")

    @property
    def status(self) -> str | None:
        return self.fields.get("status")

    @property
    def trace_id(self) -> str | None:
        return self.fields.get("trace_id")

    @property
    def created_at(self) -> int | None:
        """Seconds since the epoch (Redis ``TIME``), or ``None`` if absent or not a number."""
        value = self.fields.get("created_at")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    @property
    def response_hash(self) -> str | None:
        return self.fields.get("response_hash")

    @property
    def error(self) -> str | None:
        return self.fields.get("error")

    def as_json(self) -> dict[str, Any]:
        return {"idempotency_key": self.idempotency_key, "tenant_id": self.tenant_id, "fields": dict(self.fields),
                "ttl": self.ttl}


def response_hash(response: Any) -> str:
    """The ``response_hash`` ``mark_completed`` stores: ``hash_request`` of the response, or ``""``
    for any falsy response (upstream tests ``if response_data``, so ``{}`` and ``[]`` give ``""``)."""
    return hash_request(response) if response else ""


def effective_ttl(ttl: int | None, default_ttl: int) -> int:
    """Upstream's ``ttl or default_ttl``: 0 and ``None`` mean the default."""
    return int(ttl or default_ttl)


class IdempotencyStore(Protocol):
    """What both stores offer (the in-memory one here, the Redis one in ``drivers``)."""

    @property
    def kind(self) -> str: ...

    @property
    def fallback_reason(self) -> str | None: ...

    def check(self, idempotency_key: str, request_hash: str, tenant_id: str = "default", trace_id: str = "",
              ttl: int | None = None) -> IdempotencyResponse: ...

    def check_many(self, items: Iterable[CheckRequest | tuple]) -> list[IdempotencyResponse]: ...

    def mark_completed(self, idempotency_key: str, tenant_id: str = "default", *, trace_id: str,
                       response: Any = None) -> None: ...

    def mark_failed(self, idempotency_key: str, tenant_id: str = "default", error: str = "") -> None: ...

    def state(self, idempotency_key: str, tenant_id: str = "default") -> IdempotencyState | None: ...

    def states(self, keys: Iterable[tuple[str, str]]) -> list[IdempotencyState | None]: ...

    def delete(self, idempotency_key: str, tenant_id: str = "default") -> bool: ...

    def iter_keys(self, tenant_id: str | None = None) -> Iterator[tuple[str, str]]: ...

    def close(self) -> None: ...


def upstream_verdict(state: IdempotencyState | None, request_hash: str) -> IdempotencyResult:
    """The answer of upstream's Lua check for ``request_hash`` against what a key holds (§6.2),
    without asking it (the check writes the key when absent): no key → ``new``; the stored
    ``hash`` field (``""`` when the key has none) equal to ours → ``duplicate``; else ``conflict``."""
    if state is None:
        return IdempotencyResult.NEW
    stored = state.request_hash or ""
    return IdempotencyResult.DUPLICATE if stored == request_hash else IdempotencyResult.CONFLICT


def as_check_request(item: CheckRequest | tuple | Mapping[str, Any]) -> CheckRequest:
    """A ``check_many`` item: a :class:`CheckRequest`, a tuple of its fields in order, or a mapping."""
    if isinstance(item, CheckRequest):
        return item
    if isinstance(item, Mapping):
        return CheckRequest(**item)
    return CheckRequest(*item)


@dataclass(slots=True)
class _Entry:
    fields: dict[str, str]
    expires_at: float | None = None


@dataclass
class MemoryIdempotencyStore:
    """The store in memory, key ``"{tenant_id}:{idempotency_key}"``.

    ``fallback_reason`` says why this store stands in for Redis (it then shows in :attr:`kind`, so
    a front end can say so); ``None`` when memory was asked for.
    """

    default_ttl: int = DEFAULT_TTL
    clock: Callable[[], float] = time.time
    fallback_reason: str | None = None
    data: dict[str, _Entry] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        return f"memory (Redis unreachable: {self.fallback_reason})" if self.fallback_reason else "memory"

    @staticmethod
    def make_key(idempotency_key: str, tenant_id: str = "default") -> str:
        return f"{tenant_id}:{idempotency_key}"

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self.data.get(key)
        if entry is not None and entry.expires_at is not None and now >= entry.expires_at:
            del self.data[key]
            return None
        return entry

    def _expire(self, key: str, entry: _Entry, ttl: int, now: float) -> None:
        # Redis deletes a key at once when EXPIRE is given a time that is not in the future.
        if ttl <= 0:
            self.data.pop(key, None)
        else:
            entry.expires_at = now + ttl

    def check(self, idempotency_key: str, request_hash: str, tenant_id: str = "default", trace_id: str = "",
              ttl: int | None = None) -> IdempotencyResponse:
        key = self.make_key(idempotency_key, tenant_id)
        now = self.clock()
        entry = self._live(key, now)
        if entry is None:
            entry = _Entry({"hash": request_hash, "tenant_id": tenant_id, "trace_id": trace_id,
                            "created_at": str(int(now)), "status": "pending"})
            self.data[key] = entry
            self._expire(key, entry, effective_ttl(ttl, self.default_ttl), now)
            return IdempotencyResponse(IdempotencyResult.NEW, request_hash, "")
        # A key first written by mark_completed/mark_failed has no hash: it reads as "" (a conflict).
        stored_hash = entry.fields.get("hash", "")
        stored_trace = entry.fields.get("trace_id", "")
        result = IdempotencyResult.DUPLICATE if stored_hash == request_hash else IdempotencyResult.CONFLICT
        return IdempotencyResponse(result, stored_hash, stored_trace)

    def check_many(self, items: Iterable[CheckRequest | tuple]) -> list[IdempotencyResponse]:
        out = []
        for item in items:
            r = as_check_request(item)
            out.append(self.check(r.idempotency_key, r.request_hash, r.tenant_id, r.trace_id, r.ttl))
        return out

    def _hset(self, key: str, values: Mapping[str, str], now: float) -> _Entry:
        entry = self._live(key, now)
        if entry is None:
            # HSET on an absent key creates it without a TTL.
            entry = self.data[key] = _Entry({})
        entry.fields.update(values)
        return entry

    def mark_completed(self, idempotency_key: str, tenant_id: str = "default", *, trace_id: str,
                       response: Any = None) -> None:
        """``status=completed``, the trace id and the response hash; the TTL is left as it is."""
        self._hset(self.make_key(idempotency_key, tenant_id),
                   {"status": "completed", "trace_id": trace_id, "response_hash": response_hash(response)},
                   self.clock())

    def mark_failed(self, idempotency_key: str, tenant_id: str = "default", error: str = "") -> None:
        """``status=failed``, the error's first 500 characters, TTL 300 s."""
        key = self.make_key(idempotency_key, tenant_id)
        now = self.clock()
        entry = self._hset(key, {"status": "failed", "error": error[:MAX_ERROR_CHARS]}, now)
        self._expire(key, entry, FAILED_TTL, now)

    def state(self, idempotency_key: str, tenant_id: str = "default") -> IdempotencyState | None:
        now = self.clock()
        entry = self._live(self.make_key(idempotency_key, tenant_id), now)
        if entry is None:
            return None
        ttl = None
        if entry.expires_at is not None:
            # Redis's TTL: remaining milliseconds rounded to the nearest second.
            ttl = int((round((entry.expires_at - now) * 1000) + 500) // 1000)
        return IdempotencyState(idempotency_key, tenant_id, dict(entry.fields), ttl)

    def states(self, keys: Iterable[tuple[str, str]]) -> list[IdempotencyState | None]:
        return [self.state(k, t) for k, t in keys]

    def delete(self, idempotency_key: str, tenant_id: str = "default") -> bool:
        key = self.make_key(idempotency_key, tenant_id)
        return self._live(key, self.clock()) is not None and self.data.pop(key, None) is not None

    def iter_keys(self, tenant_id: str | None = None) -> Iterator[tuple[str, str]]:
        """``(idempotency_key, tenant_id)`` of every live key (or one tenant's); as in Redis, the
        first ``:`` separates the tenant from the key."""
        now = self.clock()
        for name in list(self.data):
            if self._live(name, now) is None:
                continue
            tenant, _, key = name.partition(":")
            if tenant_id is None or tenant == tenant_id:
                yield key, tenant

    def close(self) -> None:
        """Nothing to release (the same call as the Redis store's)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
