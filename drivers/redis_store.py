"""Redis stores with upstream's layouts (spec §6): the idempotency store (``idem:{tenant}:{key}``
hashes checked by a Lua script) and the replay enforcer's cache (``aos:idempotency:{tenant}:{key}``
JSON text), so the inspector reads and writes what AOS itself does.

Unlike upstream, a Redis failure is never turned into ``new`` (§11.23): every error becomes an
:mod:`inspector.errors` exception naming the URL (never its password) and what was being done.
``open_idempotency_store`` / ``open_replay_cache`` fall back to memory when Redis cannot be
reached, *visibly*: the store's ``kind`` and ``fallback_reason`` say so. Connections use short
timeouts and no automatic retries, so a dead server costs one connect timeout, not a hang.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from inspector.errors import (
    InspectorError,
    PasswordRequired,
    SourceError,
    SourceUnavailable,
    UsageError,
)
from inspector.idempotency import (
    DEFAULT_TTL,
    FAILED_TTL,
    MAX_ERROR_CHARS,
    CheckRequest,
    IdempotencyResponse,
    IdempotencyResult,
    IdempotencyState,
    MemoryIdempotencyStore,
    as_check_request,
    effective_ttl,
    response_hash,
)
from inspector.locations import redis_display_url
from inspector.replay import MemoryReplayCache

__all__ = [
    "CHECK_SCRIPT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_SOCKET_TIMEOUT",
    "REPLAY_KEY_PREFIX",
    "REPLAY_TTL",
    "MemoryFallbackReplayCache",
    "RedisIdempotencyStore",
    "RedisReplayCache",
    "open_idempotency_store",
    "open_replay_cache",
    "translate_error",
]

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_SOCKET_TIMEOUT = 5.0
#: The replay enforcer's key prefix and TTL (``replay_driver.RedisIdempotencyStore``).
REPLAY_KEY_PREFIX = "aos:idempotency"
REPLAY_TTL = 86400

#: Upstream's check (``idempotency.lua``, spec §6.2), same keys, arguments, fields and replies.
#: KEYS[1] = key; ARGV = request_hash, ttl, tenant_id, trace_id. ``status`` is never read and an
#: existing key's TTL is left alone (§11.23).
CHECK_SCRIPT = """
local key = KEYS[1]
local request_hash = ARGV[1]
local fields = redis.call('HGETALL', key)
if #fields == 0 then
  redis.call('HSET', key, 'hash', request_hash, 'tenant_id', ARGV[3] or '', 'trace_id', ARGV[4] or '',
             'created_at', redis.call('TIME')[1], 'status', 'pending')
  redis.call('EXPIRE', key, tonumber(ARGV[2]) or 86400)
  return {'new', request_hash, ''}
end
local stored_hash, stored_trace_id = '', ''
for i = 1, #fields, 2 do
  if fields[i] == 'hash' then
    stored_hash = fields[i + 1]
  elseif fields[i] == 'trace_id' then
    stored_trace_id = fields[i + 1]
  end
end
if stored_hash == request_hash then
  return {'duplicate', stored_hash, stored_trace_id}
end
return {'conflict', stored_hash, stored_trace_id}
"""


def _secrets(url: str) -> list[str]:
    """Every spelling of the URL's password, to scrub from server and client messages."""
    found = []
    try:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        found.extend(v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "password" and v)
    except ValueError:
        # A malformed URL: scrub whatever sits between "//" and "@".
        rest = url.split("://", 1)[-1]
        if "@" in rest:
            found.append(rest.rsplit("@", 1)[0])
    found += [unquote(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def translate_error(exc: BaseException, what: str, location: str, *, secrets: Sequence[str] = (),
                    timeout: float | None = None) -> InspectorError:
    """A redis-py error in our words: what failed, while doing ``what``, at ``location``.

    Unreachable, refused or timed out → :class:`SourceUnavailable` (retrying may work); refused
    credentials → :class:`PasswordRequired`; anything the server refused → :class:`SourceError`.
    """
    detail = _scrub(str(exc).strip() or type(exc).__name__, secrets)
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.AuthenticationWrongNumberOfArgsError):
        return PasswordRequired(f"Redis refused the credentials while {what}: {detail}", location=location)
    if isinstance(exc, redis.TimeoutError):
        within = f" within {timeout:g} s" if timeout else ""
        return SourceUnavailable(f"Redis did not answer{within} while {what}: {detail}", location=location)
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return SourceUnavailable(f"Redis is still loading its data set while {what}: {detail}", location=location)
    if isinstance(exc, redis.ConnectionError):
        return SourceUnavailable(f"cannot reach Redis while {what}: {detail}", location=location)
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return SourceError(f"the Redis user may not do this ({what}): {detail}", location=location)
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return SourceError(f"Redis is a read-only replica, cannot write while {what}: {detail}", location=location)
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return SourceError(f"Redis is out of memory while {what}: {detail}", location=location)
    if isinstance(exc, redis.ResponseError):
        return SourceError(f"Redis refused a command while {what}: {detail}", location=location)
    return SourceError(f"Redis failed while {what}: {type(exc).__name__}: {detail}", location=location)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _RedisClient:
    """A redis-py client built from a URL, and its errors translated."""

    def __init__(self, url: str, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 socket_timeout: float = DEFAULT_SOCKET_TIMEOUT, client: redis.Redis | None = None) -> None:
        self.url = url
        self.location = redis_display_url(url)
        self.socket_timeout = socket_timeout
        self._secrets = _secrets(url)
        if client is None:
            try:
                # No automatic retries: a retried script call may already have run on the server
                # (a "new" would come back as "duplicate"), and a dead server should cost one
                # timeout. A pooled connection broken by a server restart is replaced at checkout.
                # RESP2, as upstream's redis-py 5 spoke: redis-py 8 opens with HELLO 3, which a
                # Redis before 6 refuses (a ?protocol=3 in the URL still wins).
                client = redis.Redis.from_url(url, socket_connect_timeout=connect_timeout,
                                              socket_timeout=socket_timeout, retry=Retry(NoBackoff(), 0),
                                              protocol=2)
            except ValueError as exc:
                raise UsageError(f"not a valid Redis URL ({_scrub(str(exc), self._secrets)}); expected "
                                 "redis://[:password@]host:port/db", location=self.location) from None
        self.client = client

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise translate_error(exc, what, self.location, secrets=self._secrets,
                                  timeout=self.socket_timeout) from exc

    def ping(self) -> None:
        """Connect and ``PING``; raises :class:`SourceUnavailable` if Redis cannot be reached."""
        with self._errors("connecting"):
            self.client.ping()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


def _state_of(idempotency_key: str, tenant_id: str, raw_fields: Mapping[Any, Any], raw_ttl: int
              ) -> IdempotencyState | None:
    if not raw_fields:
        return None
    fields = {_text(k): _text(v) for k, v in raw_fields.items()}
    # TTL: -1 = no expiry; -2 = gone between the two reads (not possible inside MULTI).
    return IdempotencyState(idempotency_key, tenant_id, fields, raw_ttl if raw_ttl >= 0 else None)


class RedisIdempotencyStore(_RedisClient):
    """Upstream's Redis idempotency store: key ``{prefix}:{tenant_id}:{idempotency_key}``, a hash
    written and compared by :data:`CHECK_SCRIPT`.

    The script is registered with redis-py (``register_script``), which runs it by SHA and loads
    it again when the server answers NOSCRIPT (after ``SCRIPT FLUSH`` or a restart), pipelines
    included. Bulk ``check_many`` / ``states`` pipeline ``chunk_size`` commands per round trip.
    """

    kind = "redis"
    fallback_reason = None

    def __init__(self, url: str, prefix: str = "idem", *, default_ttl: int = DEFAULT_TTL,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
                 chunk_size: int = 1000, client: redis.Redis | None = None) -> None:
        super().__init__(url, connect_timeout=connect_timeout, socket_timeout=socket_timeout, client=client)
        self.prefix = prefix
        self.default_ttl = default_ttl
        self.chunk_size = max(1, chunk_size)
        self._script = self.client.register_script(CHECK_SCRIPT)

    def make_key(self, idempotency_key: str, tenant_id: str = "default") -> str:
        return f"{self.prefix}:{tenant_id}:{idempotency_key}"

    def _script_args(self, r: CheckRequest) -> dict[str, list[str]]:
        return {"keys": [self.make_key(r.idempotency_key, r.tenant_id)],
                "args": [r.request_hash, str(effective_ttl(r.ttl, self.default_ttl)), r.tenant_id, r.trace_id]}

    @staticmethod
    def _response(reply: Sequence[Any]) -> IdempotencyResponse:
        return IdempotencyResponse(IdempotencyResult(_text(reply[0])), _text(reply[1]), _text(reply[2]))

    def check(self, idempotency_key: str, request_hash: str, tenant_id: str = "default", trace_id: str = "",
              ttl: int | None = None) -> IdempotencyResponse:
        """Upstream's atomic check-and-set. Raises (never answers ``new``) when Redis fails."""
        r = CheckRequest(idempotency_key, request_hash, tenant_id, trace_id, ttl)
        with self._errors(f"checking idempotency key {idempotency_key!r} of tenant {tenant_id!r}"):
            return self._response(self._script(**self._script_args(r)))

    def check_many(self, items: Iterable[CheckRequest | tuple | Mapping[str, Any]]) -> list[IdempotencyResponse]:
        """``check`` for each item, in order, pipelined: the same answers as one call each. If one
        fails, the error names it; the checks before it (in its round trip and earlier) took effect."""
        requests = [as_check_request(i) for i in items]
        out: list[IdempotencyResponse] = []
        for chunk in _chunks(requests, self.chunk_size):
            with self._errors(f"checking {len(chunk)} idempotency keys (pipelined)"):
                pipe = self.client.pipeline(transaction=False)
                for r in chunk:
                    self._script(**self._script_args(r), client=pipe)
                replies = pipe.execute(raise_on_error=False)
            for r, reply in zip(chunk, replies, strict=True):
                if isinstance(reply, Exception):
                    raise translate_error(reply, f"checking idempotency key {r.idempotency_key!r} of tenant "
                                          f"{r.tenant_id!r} (pipelined, after {len(out)} checks)", self.location,
                                          secrets=self._secrets, timeout=self.socket_timeout) from reply
                out.append(self._response(reply))
        return out

    def mark_completed(self, idempotency_key: str, tenant_id: str = "default", *, trace_id: str,
                       response: Any = None) -> None:
        """``HSET status=completed, trace_id, response_hash``; the TTL is left as it is (an absent
        key is created without one, as upstream's bare ``HSET`` does)."""
        key = self.make_key(idempotency_key, tenant_id)
        with self._errors(f"marking idempotency key {idempotency_key!r} of tenant {tenant_id!r} completed"):
            self.client.hset(key, mapping={"status": "completed", "trace_id": trace_id,
                                           "response_hash": response_hash(response)})

    def mark_failed(self, idempotency_key: str, tenant_id: str = "default", error: str = "") -> None:
        """``HSET status=failed, error`` (500 characters at most) and ``EXPIRE 300``, in one
        transaction (upstream sends them apart)."""
        key = self.make_key(idempotency_key, tenant_id)
        with self._errors(f"marking idempotency key {idempotency_key!r} of tenant {tenant_id!r} failed"):
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(key, mapping={"status": "failed", "error": error[:MAX_ERROR_CHARS]})
            pipe.expire(key, FAILED_TTL)
            pipe.execute()

    def state(self, idempotency_key: str, tenant_id: str = "default") -> IdempotencyState | None:
        """The key's fields and ``TTL`` read together; ``None`` if absent."""
        return self.states([(idempotency_key, tenant_id)])[0]

    def states(self, keys: Iterable[tuple[str, str]]) -> list[IdempotencyState | None]:
        """``state`` of each ``(idempotency_key, tenant_id)``, in order, pipelined."""
        wanted = [(k, t) for k, t in keys]
        out: list[IdempotencyState | None] = []
        for chunk in _chunks(wanted, self.chunk_size):
            what = (f"reading idempotency key {chunk[0][0]!r} of tenant {chunk[0][1]!r}" if len(chunk) == 1
                    else f"reading {len(chunk)} idempotency keys (pipelined)")
            with self._errors(what):
                pipe = self.client.pipeline(transaction=True)
                for k, t in chunk:
                    key = self.make_key(k, t)
                    pipe.hgetall(key)
                    pipe.ttl(key)
                replies = pipe.execute()
            for i, (k, t) in enumerate(chunk):
                out.append(_state_of(k, t, replies[2 * i], replies[2 * i + 1]))
        return out

    def delete(self, idempotency_key: str, tenant_id: str = "default") -> bool:
        with self._errors(f"deleting idempotency key {idempotency_key!r} of tenant {tenant_id!r}"):
            return bool(self.client.delete(self.make_key(idempotency_key, tenant_id)))

    def iter_keys(self, tenant_id: str | None = None, *, count: int = 1000) -> Iterator[tuple[str, str]]:
        """``(idempotency_key, tenant_id)`` of every key under the prefix (or one tenant's), by
        ``SCAN``; order is Redis's. A tenant id containing ``:`` cannot be told apart from the key
        (upstream's layout): the first ``:`` after the prefix is taken as the separator."""
        pattern = f"{_glob_escape(self.prefix)}:" + (f"{_glob_escape(tenant_id)}:*" if tenant_id is not None else "*")
        with self._errors(f"listing idempotency keys matching {pattern!r}"):
            for raw in self.client.scan_iter(match=pattern, count=count):
                rest = _text(raw)[len(self.prefix) + 1:]
                tenant, sep, key = rest.partition(":")
                if sep:
                    yield key, tenant


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisReplayCache(_RedisClient):
    """The replay enforcer's Redis cache, upstream's layout: key ``aos:idempotency:{tenant}:{key}``,
    value the JSON text (``json.dumps``, default separators) of ``{output_data, output_hash,
    step_index}``, written with ``SETEX`` 86400. Implements :class:`inspector.replay.ReplayCache`."""

    kind = "redis"
    fallback_reason = None

    def __init__(self, url: str, *, ttl: int = REPLAY_TTL, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 socket_timeout: float = DEFAULT_SOCKET_TIMEOUT, client: redis.Redis | None = None) -> None:
        super().__init__(url, connect_timeout=connect_timeout, socket_timeout=socket_timeout, client=client)
        self.ttl = ttl

    @staticmethod
    def make_key(tenant_id: str, key: str) -> str:
        return f"{REPLAY_KEY_PREFIX}:{tenant_id}:{key}"

    def get(self, tenant_id: str, key: str) -> Mapping[str, Any] | None:
        """The cached record, or ``None`` when absent (or empty, as upstream's ``if data`` reads it,
        or JSON ``null``, which upstream's ``cached is not None`` reads as a miss)."""
        name = self.make_key(tenant_id, key)
        with self._errors(f"reading replay cache key {name!r}"):
            data = self.client.get(name)
        if not data:
            return None
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise SourceError(f"replay cache key {name!r} does not hold JSON text: {exc}",
                              location=self.location) from None
        if value is None:
            return None  # JSON null: upstream's json.loads gives None, which its `cached is not None` skips
        if not isinstance(value, dict):
            raise SourceError(f"replay cache key {name!r} holds JSON {type(value).__name__}, not an object",
                              location=self.location)
        return value

    def set(self, tenant_id: str, key: str, value: Mapping[str, Any]) -> None:
        name = self.make_key(tenant_id, key)
        text = json.dumps(dict(value))
        with self._errors(f"writing replay cache key {name!r}"):
            # SETEX as upstream sends it (redis-py 8 deprecates its setex() wrapper, not the command).
            self.client.execute_command("SETEX", name, self.ttl, text)

    def delete(self, tenant_id: str, key: str) -> bool:
        name = self.make_key(tenant_id, key)
        with self._errors(f"deleting replay cache key {name!r}"):
            return bool(self.client.delete(name))


class MemoryFallbackReplayCache(MemoryReplayCache):
    """Upstream's in-memory replay cache that says what it is: ``kind`` is ``"memory"``, or
    ``"memory (Redis unreachable: …)"`` when it stands in for an unreachable Redis."""

    def __init__(self, fallback_reason: str | None = None) -> None:
        super().__init__()
        self.fallback_reason = fallback_reason

    @property
    def kind(self) -> str:
        return f"memory (Redis unreachable: {self.fallback_reason})" if self.fallback_reason else "memory"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open(make: Callable[[], _RedisClient], fallback: Callable[[str], Any], use_fallback: bool) -> Any:
    store = make()
    try:
        store.ping()
    except SourceUnavailable as exc:
        store.close()
        if not use_fallback:
            raise
        log.warning("Redis unreachable, using memory instead: %s", exc)
        return fallback(str(exc))
    return store


def open_idempotency_store(url: str | None, prefix: str = "idem", *, fallback: bool = True,
                           default_ttl: int = DEFAULT_TTL, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                           socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
                           clock: Callable[[], float] = time.time) -> RedisIdempotencyStore | MemoryIdempotencyStore:
    """The Redis store for ``url`` once it answers a ``PING``; without a URL, the memory store.

    When Redis cannot be reached (refused, timed out, unknown host) and ``fallback`` is on, the
    memory store comes back with ``fallback_reason`` set and ``kind`` saying
    ``"memory (Redis unreachable: <url>: <reason>)"``. A malformed URL (:class:`UsageError`) or
    refused credentials (:class:`PasswordRequired`) are the user's to fix and always raise. After
    opening, errors raise: a session never switches stores silently halfway.
    """
    if not url:
        return MemoryIdempotencyStore(default_ttl=default_ttl, clock=clock)
    return _open(
        lambda: RedisIdempotencyStore(url, prefix, default_ttl=default_ttl, connect_timeout=connect_timeout,
                                      socket_timeout=socket_timeout),
        lambda reason: MemoryIdempotencyStore(default_ttl=default_ttl, clock=clock, fallback_reason=reason),
        fallback)


def open_replay_cache(url: str | None, *, fallback: bool = True, ttl: int = REPLAY_TTL,
                      connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                      socket_timeout: float = DEFAULT_SOCKET_TIMEOUT) -> RedisReplayCache | MemoryFallbackReplayCache:
    """:class:`RedisReplayCache` for ``url``, with the same visible fallback to memory as
    :func:`open_idempotency_store`; pass its ``kind`` to ``replay_check(cache_kind=…)``."""
    if not url:
        return MemoryFallbackReplayCache()
    return _open(
        lambda: RedisReplayCache(url, ttl=ttl, connect_timeout=connect_timeout, socket_timeout=socket_timeout),
        MemoryFallbackReplayCache,
        fallback)
