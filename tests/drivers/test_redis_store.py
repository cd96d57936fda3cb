"""The Redis idempotency store and replay cache against a real Redis (the shared test server, with
a prefix or tenant of each test's own), and against throwaway servers of the tests' own for
SCRIPT FLUSH, restarts, passwords and dead servers — never the shared server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.redis_store import (
    CHECK_SCRIPT,
    MemoryFallbackReplayCache,
    RedisIdempotencyStore,
    RedisReplayCache,
    open_idempotency_store,
    open_replay_cache,
    translate_error,
)
from inspector.errors import (
    PasswordRequired,
    SourceError,
    SourceUnavailable,
    UsageError,
)
from inspector.hashing import hash_output, hash_request
from inspector.idempotency import (
    DEFAULT_TTL,
    FAILED_TTL,
    CheckRequest,
    IdempotencyResponse,
    IdempotencyResult,
    MemoryIdempotencyStore,
)
from inspector.replay import MemoryReplayCache, enforce_step, replay_check

NEW, DUP, CONFLICT = IdempotencyResult.NEW, IdempotencyResult.DUPLICATE, IdempotencyResult.CONFLICT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server of this test's own on a free loopback port (``.ci/services.sh``)."""

    def __init__(self, *extra: str) -> None:
        self.port = free_port()
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no", *self.extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def own_server():
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def raw(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def drop_keys(client: redis.Redis, pattern: str) -> None:
    keys = list(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def prefix(raw) -> str:
    name = f"ti-test-{uuid.uuid4().hex[:12]}"
    yield name
    drop_keys(raw, f"{name}:*")


@pytest.fixture
def store(redis_url, prefix):
    s = RedisIdempotencyStore(redis_url, prefix)
    yield s
    s.close()


@pytest.fixture
def tenant(raw) -> str:
    """A replay-cache tenant of this test's own (the replay layout has a fixed prefix)."""
    name = f"ti-test-{uuid.uuid4().hex[:12]}"
    yield name
    drop_keys(raw, f"aos:idempotency:{name}:*")


# --- the check, the marks, the state -------------------------------------------------------------


def test_new_duplicate_conflict_and_the_stored_hash(store, raw, prefix):
    before = int(time.time())
    assert store.check("k", "h1", "acme", "trace-1") == IdempotencyResponse(NEW, "h1", "")
    assert store.check("k", "h1", "acme", "trace-2") == IdempotencyResponse(DUP, "h1", "trace-1")
    assert store.check("k", "h2", "acme") == IdempotencyResponse(CONFLICT, "h1", "trace-1")
    assert store.check("k", "h2") == IdempotencyResponse(NEW, "h2", "")  # tenant "default"
    assert raw.exists(f"{prefix}:acme:k") and raw.exists(f"{prefix}:default:k")
    stored = {k.decode(): v.decode() for k, v in raw.hgetall(f"{prefix}:acme:k").items()}
    assert stored.pop("created_at").isdigit()
    assert stored == {"hash": "h1", "tenant_id": "acme", "trace_id": "trace-1", "status": "pending"}
    state = store.state("k", "acme")
    assert before - 1 <= state.created_at <= time.time() + 1  # Redis TIME, seconds
    assert DEFAULT_TTL - 2 <= state.ttl <= DEFAULT_TTL
    assert store.state("absent", "acme") is None


def test_ttl_is_set_once_and_never_refreshed(store, raw, prefix):
    store.check("k", "h1", ttl=100)
    raw.expire(f"{prefix}:default:k", 50)
    assert store.check("k", "h1", ttl=100).is_duplicate
    assert store.check("k", "h2", ttl=100).is_conflict
    assert store.state("k").ttl <= 50
    store.check("zero", "h", ttl=0)  # upstream's `ttl or default`
    assert store.state("zero").ttl >= DEFAULT_TTL - 2
    assert store.check("neg", "h", ttl=-1).is_new and store.state("neg") is None


def test_mark_completed_and_mark_failed(store):
    store.check("k", "h1", "acme", ttl=1000)
    store.mark_completed("k", "acme", trace_id="trace-9", response={"ok": True})
    state = store.state("k", "acme")
    assert (state.status, state.trace_id, state.response_hash) == ("completed", "trace-9",
                                                                    hash_request({"ok": True}))
    assert 998 <= state.ttl <= 1000
    assert store.check("k", "h1", "acme") == IdempotencyResponse(DUP, "h1", "trace-9")
    store.mark_completed("k", "acme", trace_id="trace-9", response={})
    assert store.state("k", "acme").response_hash == ""
    store.mark_failed("k", "acme", "é" * 600)
    state = store.state("k", "acme")
    assert state.status == "failed" and state.error == "é" * 500 and FAILED_TTL - 2 <= state.ttl <= FAILED_TTL
    # §11.23: a failed request is not let through again.
    assert store.check("k", "h1", "acme").is_duplicate
    store.mark_completed("ghost", trace_id="t")
    assert store.state("ghost").ttl is None
    assert store.check("ghost", "h") == IdempotencyResponse(CONFLICT, "", "t")


def test_the_script_is_upstreams_shape(store):
    assert "HGETALL" in CHECK_SCRIPT and "TIME" in CHECK_SCRIPT
    # Raw EVAL of the script, as upstream's driver calls it: KEYS[1], ARGV = hash, ttl, tenant, trace.
    key = store.make_key("raw", "acme")
    reply = store.client.eval(CHECK_SCRIPT, 1, key, "h", "60", "acme", "tr")
    assert reply == [b"new", b"h", b""]
    assert store.client.eval(CHECK_SCRIPT, 1, key, "h", "60", "acme", "tr") == [b"duplicate", b"h", b"tr"]
    assert store.state("raw", "acme").fields["trace_id"] == "tr"


def test_delete_and_iter_keys(store):
    for key, ten in (("k1", "acme"), ("k2", "beta"), ("k:3", "acme"), ("*", "a*b")):
        store.check(key, "h", ten)
    assert sorted(store.iter_keys()) == sorted([("k1", "acme"), ("k2", "beta"), ("k:3", "acme"), ("*", "a*b")])
    assert sorted(store.iter_keys("acme")) == [("k1", "acme"), ("k:3", "acme")]
    assert list(store.iter_keys("a*b")) == [("*", "a*b")]  # glob characters are escaped
    assert store.delete("k1", "acme") and not store.delete("k1", "acme")


# --- the memory twin and Redis answer alike ------------------------------------------------------

KEYS = st.sampled_from(["k1", "k2"])
TENANTS = st.sampled_from(["default", "acme"])
OPS = st.one_of(
    st.tuples(st.just("check"), KEYS, TENANTS, st.sampled_from(["h1", "h2"]), st.sampled_from(["", "t1", "t2"]),
              st.sampled_from([None, 0, 30, -1])),
    st.tuples(st.just("completed"), KEYS, TENANTS, st.sampled_from(["t3", "t4"]),
              st.sampled_from([None, {}, {"r": [1, 2]}])),
    st.tuples(st.just("failed"), KEYS, TENANTS, st.sampled_from(["", "boom", "x" * 501])),
    st.tuples(st.just("state"), KEYS, TENANTS),
    st.tuples(st.just("delete"), KEYS, TENANTS),
    st.tuples(st.just("many"), st.lists(st.tuples(KEYS, st.sampled_from(["h1", "h2"]), TENANTS), max_size=4)),
)


def same_state(a, b) -> bool:
    if a is None or b is None:
        return a is b
    fa, fb = dict(a.fields), dict(b.fields)
    ca, cb = fa.pop("created_at", None), fb.pop("created_at", None)
    if (ca is None) != (cb is None) or (ca is not None and abs(int(ca) - int(cb)) > 2):
        return False
    if (a.ttl is None) != (b.ttl is None) or (a.ttl is not None and abs(a.ttl - b.ttl) > 2):
        return False
    return fa == fb and (a.idempotency_key, a.tenant_id) == (b.idempotency_key, b.tenant_id)


def run_op(s, op):
    kind = op[0]
    if kind == "check":
        return s.check(op[1], op[3], op[2], op[4], op[5])
    if kind == "completed":
        return s.mark_completed(op[1], op[2], trace_id=op[3], response=op[4])
    if kind == "failed":
        return s.mark_failed(op[1], op[2], op[3])
    if kind == "state":
        return s.state(op[1], op[2])
    if kind == "delete":
        return s.delete(op[1], op[2])
    return s.check_many([CheckRequest(k, h, t) for k, h, t in op[1]])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, min_size=1, max_size=25))
def test_memory_and_redis_give_identical_results(redis_url, raw, ops):
    # Memory on the wall clock, so created_at compares with Redis's TIME.
    memory = MemoryIdempotencyStore(clock=time.time)
    prefix = f"ti-test-{uuid.uuid4().hex[:12]}"
    try:
        with RedisIdempotencyStore(redis_url, prefix, chunk_size=2) as red:
            for op in ops:
                got_m, got_r = run_op(memory, op), run_op(red, op)
                if op[0] == "state":
                    assert same_state(got_m, got_r), (op, got_m, got_r)
                else:
                    assert got_m == got_r, op
            for key in ("k1", "k2"):
                for ten in ("default", "acme"):
                    assert same_state(memory.state(key, ten), red.state(key, ten))
            assert sorted(memory.iter_keys()) == sorted(red.iter_keys())
    finally:
        drop_keys(raw, f"{prefix}:*")


def test_a_scripted_sequence_agrees(store):
    memory = MemoryIdempotencyStore(clock=time.time)
    script = [("check", "a", "t", "h1", "tr", None), ("check", "a", "t", "h1", "", None),
              ("completed", "a", "t", "tr2", {"x": 1}), ("check", "a", "t", "h2", "", None),
              ("failed", "a", "t", "boom"), ("check", "a", "t", "h1", "", None), ("state", "a", "t"),
              ("completed", "b", "t", "tr3", None), ("check", "b", "t", "h1", "", 5), ("state", "b", "t"),
              ("many", [("a", "h1", "t"), ("c", "h1", "t"), ("c", "h2", "t")]), ("delete", "a", "t"),
              ("check", "a", "t", "h2", "", 30), ("state", "a", "t")]
    for op in script:
        m, r = run_op(memory, op), run_op(store, op)
        assert same_state(m, r) if op[0] == "state" else m == r, op


# --- bulk -----------------------------------------------------------------------------------------


def test_check_many_pipelines_in_chunks_and_matches_one_by_one(redis_url, prefix):
    items = [CheckRequest(f"k{i % 1200}", f"h{i % 3 if i >= 1200 else 0}", "acme", f"t{i}") for i in range(2500)]
    with RedisIdempotencyStore(redis_url, prefix, chunk_size=1000) as red:
        got = red.check_many(items)
        expected = MemoryIdempotencyStore().check_many(items)
        assert got == expected
        assert {r.result for r in got} == {NEW, DUP, CONFLICT}
        states = red.states([(f"k{i}", "acme") for i in range(1300)])
        assert all(s is not None for s in states[:1200]) and states[1200:] == [None] * 100
        assert states[5].trace_id == "t5" and states[5].request_hash == "h0"
        assert red.check_many([]) == [] and red.states([]) == []


def test_a_bad_key_in_a_bulk_check_is_named(store, raw, prefix):
    raw.set(f"{prefix}:acme:bad", "a string, not a hash")
    with pytest.raises(SourceError) as err:
        store.check_many([("ok1", "h", "acme"), ("bad", "h", "acme"), ("ok2", "h", "acme")])
    assert "'bad'" in str(err.value) and "WRONGTYPE" in str(err.value) and "after 1 checks" in str(err.value)
    with pytest.raises(SourceError, match="checking idempotency key 'bad' of tenant 'acme'.*WRONGTYPE"):
        store.check("bad", "h", "acme")


# --- the script survives SCRIPT FLUSH and restarts (own server) ----------------------------------


def test_the_script_survives_script_flush_and_a_restart(own_server):
    with RedisIdempotencyStore(own_server.url, "idem") as s:
        assert s.check("k", "h1").is_new
        s.client.script_flush()
        assert not s.client.script_exists(s._script.sha)[0]
        assert s.check("k", "h1").is_duplicate  # NOSCRIPT → redis-py loads it again
        s.client.script_flush()
        assert [r.result for r in s.check_many([("k", "h1"), ("k", "h2"), ("n", "h")])] == [DUP, CONFLICT, NEW]
        own_server.restart()  # no persistence: keys and scripts are gone, the pooled connection is dead
        assert s.check("k", "h2").is_new
        assert s.check("k", "h2").is_duplicate
        own_server.restart()
        assert [r.result for r in s.check_many([("k", "h2"), ("k", "h2")])] == [NEW, DUP]
        own_server.restart()
        assert s.state("k") is None
        s.mark_failed("k", error="e")
        assert s.state("k").status == "failed"


def test_a_server_that_dies_mid_session_raises_instead_of_answering_new(own_server):
    with RedisIdempotencyStore(own_server.url, "idem", connect_timeout=0.5) as s:
        assert s.check("k", "h").is_new
        own_server.stop()
        with pytest.raises(SourceUnavailable, match="cannot reach Redis while checking idempotency key 'k'"):
            s.check("k", "h")
        with pytest.raises(SourceUnavailable, match="checking 2 idempotency keys"):
            s.check_many([("a", "h"), ("b", "h")])
        with pytest.raises(SourceUnavailable, match="marking idempotency key 'k' of tenant 'default' failed"):
            s.mark_failed("k", error="x")
        with pytest.raises(SourceUnavailable, match="reading idempotency key 'k'"):
            s.state("k")


# --- unreachable, refused, slow: clear errors and a visible fallback -----------------------------


def test_unreachable_redis_is_a_clear_error_without_the_password():
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    store = RedisIdempotencyStore(url, connect_timeout=0.5)
    with pytest.raises(SourceUnavailable) as err:
        store.check("k", "h")
    store.close()
    message = str(err.value)
    assert "s3cret" not in message
    assert message.startswith("redis://:***@127.0.0.1:") and "cannot reach Redis" in message
    assert "checking idempotency key 'k' of tenant 'default'" in message and "refused" in message.lower()
    with pytest.raises(SourceUnavailable):
        open_idempotency_store(url, fallback=False, connect_timeout=0.5)
    with pytest.raises(SourceUnavailable):
        open_replay_cache(url, fallback=False, connect_timeout=0.5)


def test_unreachable_redis_falls_back_to_memory_visibly(caplog):
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    store = open_idempotency_store(url, connect_timeout=0.5)
    assert isinstance(store, MemoryIdempotencyStore)
    assert store.kind.startswith("memory (Redis unreachable: redis://:***@127.0.0.1:")
    assert "cannot reach Redis while connecting" in store.fallback_reason and "s3cret" not in store.kind
    assert store.check("k", "h").is_new and store.check("k", "h").is_duplicate
    cache = open_replay_cache(url, connect_timeout=0.5)
    assert isinstance(cache, MemoryFallbackReplayCache) and isinstance(cache, MemoryReplayCache)
    assert cache.kind.startswith("memory (Redis unreachable: ") and "s3cret" not in cache.fallback_reason
    assert any("using memory instead" in r.getMessage() for r in caplog.records)
    assert "s3cret" not in caplog.text


def test_no_url_means_memory_and_a_reachable_one_means_redis(redis_url):
    with open_idempotency_store(None) as plain:  # both kinds close the same way
        assert plain.kind == "memory" and plain.fallback_reason is None
    with open_replay_cache("") as cache:
        assert cache.kind == "memory" and cache.fallback_reason is None
    with open_idempotency_store(redis_url) as red:
        assert isinstance(red, RedisIdempotencyStore) and red.kind == "redis" and red.fallback_reason is None
        # RESP2 (no HELLO 3, which a Redis before 6 refuses), short timeouts, no silent retries.
        kwargs = red.client.connection_pool.connection_kwargs
        assert kwargs["protocol"] == 2 and kwargs["socket_connect_timeout"] == 2.0
        assert kwargs["retry"].get_retries() == 0
    with open_replay_cache(redis_url) as cache:
        assert isinstance(cache, RedisReplayCache) and cache.kind == "redis"


def test_a_server_that_never_answers_times_out_quickly():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts connections in the kernel, never replies
    try:
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        start = time.monotonic()
        store = open_idempotency_store(url, connect_timeout=0.3, socket_timeout=0.3)
        assert time.monotonic() - start < 2
        assert "did not answer within 0.3 s while connecting" in store.fallback_reason
    finally:
        listener.close()


def test_a_password_is_asked_for_and_a_wrong_one_is_not_shown():
    server = RedisServer("--requirepass", "s3cret")
    try:
        with pytest.raises(PasswordRequired, match="refused the credentials"):
            open_idempotency_store(server.url)  # not unreachable: never a fallback
        wrong = f"redis://:wr0ng@127.0.0.1:{server.port}/0"
        with pytest.raises(PasswordRequired) as err:
            open_idempotency_store(wrong)
        assert "wr0ng" not in str(err.value) and ":***@" in str(err.value)
        with open_idempotency_store(f"redis://:s3cret@127.0.0.1:{server.port}/0") as s:
            assert s.check("k", "h").is_new
    finally:
        server.stop()


def test_a_malformed_url_is_a_usage_error_without_the_password():
    with pytest.raises(UsageError, match="not a valid Redis URL") as err:
        RedisIdempotencyStore("http://:s3cret@host/0")
    assert "s3cret" not in str(err.value)
    with pytest.raises(UsageError):
        open_replay_cache("redis://:s3cret@host:notaport/0")


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (redis.ConnectionError("Error 111 connecting to h:1. Connection refused."), SourceUnavailable,
         "cannot reach Redis while doing it"),
        (redis.TimeoutError("Timeout reading from socket"), SourceUnavailable, "did not answer within 5 s"),
        (redis.exceptions.BusyLoadingError("loading"), SourceUnavailable, "still loading"),
        (redis.AuthenticationError("invalid password s3cret"), PasswordRequired, "refused the credentials"),
        (redis.exceptions.NoPermissionError("no perm"), SourceError, "may not do this"),
        (redis.exceptions.ReadOnlyError("replica"), SourceError, "read-only replica"),
        (redis.exceptions.OutOfMemoryError("oom"), SourceError, "out of memory"),
        (redis.ResponseError("WRONGTYPE Operation against a key"), SourceError, "refused a command"),
        (redis.exceptions.DataError("bad"), SourceError, "Redis failed while doing it: DataError"),
    ],
)
def test_redis_errors_in_our_words(exc, kind, words):
    err = translate_error(exc, "doing it", "redis://:***@h:1/0", secrets=["s3cret"], timeout=5.0)
    assert type(err) is kind
    assert words in str(err) and str(err).startswith("redis://:***@h:1/0: ") and "s3cret" not in str(err)


# --- the replay cache, in upstream's layout --------------------------------------------------------


def test_the_replay_cache_reads_what_upstream_writes(redis_url, raw, tenant):
    value = {"output_data": {"transformed": True, "sum": 5.85987447}, "output_hash": "230d0e63002ac53d",
             "step_index": 3}
    # Exactly what upstream's RedisIdempotencyStore.set sends.
    raw.execute_command("SETEX", f"aos:idempotency:{tenant}:step-3", 86400, json.dumps(value))
    with RedisReplayCache(redis_url) as cache:
        assert cache.get(tenant, "step-3") == value
        assert cache.get(tenant, "absent") is None
        raw.set(f"aos:idempotency:{tenant}:empty", "")
        assert cache.get(tenant, "empty") is None  # upstream's `if data`
        raw.set(f"aos:idempotency:{tenant}:null", "null")
        assert cache.get(tenant, "null") is None  # json.loads gives None: upstream's `cached is not None` misses


def test_upstream_reads_what_the_replay_cache_writes(redis_url, raw, tenant):
    value = {"output_data": {"b": 2, "a": [1, "é"]}, "output_hash": hash_output({"b": 2, "a": [1, "é"]}),
             "step_index": 0}
    with RedisReplayCache(redis_url) as cache:
        cache.set(tenant, "k", value)
        assert cache.delete(tenant, "k") is True and cache.delete(tenant, "k") is False
        cache.set(tenant, "k", value)
    key = f"aos:idempotency:{tenant}:k"
    assert raw.get(key) == json.dumps(value).encode()  # byte for byte
    assert json.loads(raw.get(key)) == value
    assert 86398 <= raw.ttl(key) <= 86400


def test_the_replay_cache_names_what_is_not_a_cache_entry(redis_url, raw, tenant):
    raw.set(f"aos:idempotency:{tenant}:text", "not json")
    raw.set(f"aos:idempotency:{tenant}:list", "[1, 2]")
    raw.hset(f"aos:idempotency:{tenant}:hash", "a", "b")
    with RedisReplayCache(redis_url) as cache:
        with pytest.raises(SourceError, match="does not hold JSON text"):
            cache.get(tenant, "text")
        with pytest.raises(SourceError, match="holds JSON list, not an object"):
            cache.get(tenant, "list")
        with pytest.raises(SourceError, match="reading replay cache key .*WRONGTYPE"):
            cache.get(tenant, "hash")


def test_enforcement_and_replay_check_run_the_same_on_redis_and_memory(redis_url, tenant):
    original = [{"step_index": 0, "skill_name": "a", "idempotency_key": "k0", "outcome_data": {"v": 1}},
                {"step_index": 1, "skill_name": "b", "idempotency_key": "k1", "outcome_data": {"v": 2}}]
    replay = [{"step_index": 0, "skill_name": "a", "replay_behavior": "skip", "idempotency_key": "k0",
               "outcome_data": {"v": 9}},
              {"step_index": 1, "skill_name": "b", "replay_behavior": "check", "idempotency_key": "k1-new",
               "outcome_data": {"v": 3}},
              {"step_index": 1, "skill_name": "b", "replay_behavior": "check", "idempotency_key": "k1",
               "outcome_data": {"v": 3}}]
    with RedisReplayCache(redis_url) as cache:
        on_redis = replay_check(replay, original, tenant, cache, cache_kind=cache.kind)
        memory = replay_check(replay, original, tenant, MemoryReplayCache())
        assert [s.as_json() for s in on_redis.steps] == [s.as_json() for s in memory.steps]
        assert on_redis.cache_kind == "redis" and on_redis.upstream_stop == memory.upstream_stop == 1
        step = {"step_index": 7, "replay_behavior": "skip", "idempotency_key": "k7"}
        first = enforce_step(step, lambda s: {"out": 7}, tenant, cache)
        second = enforce_step(step, lambda s: {"out": "other"}, tenant, cache)
        assert first.executed and second.skipped and second.from_cache and second.output_data == {"out": 7}


def test_a_replay_check_on_redis_writes_nothing_after_upstreams_stop(redis_url, raw, tenant):
    original = [{"step_index": i, "skill_name": "s", "outcome_data": {"v": i}} for i in range(3)]
    replay = [{"step_index": 0, "skill_name": "s", "replay_behavior": "check", "idempotency_key": "k0",
               "outcome_data": {"v": 9}},
              {"step_index": 1, "skill_name": "s", "idempotency_key": "k1", "outcome_data": {"v": 1}},
              {"step_index": 2, "skill_name": "s", "replay_behavior": "check", "idempotency_key": "k2",
               "outcome_data": {"v": 2}}]
    with RedisReplayCache(redis_url) as cache:
        got = replay_check(replay, original, tenant, cache, seed_cache=False, cache_kind=cache.kind)
    assert got.upstream_stop == 0
    # upstream's enforcer stores the mismatching step's output, then raises: nothing after it
    assert {k.decode() for k in raw.scan_iter(match=f"aos:idempotency:{tenant}:*")} == {
        f"aos:idempotency:{tenant}:k0"}
