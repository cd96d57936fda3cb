"""The in-memory idempotency store against upstream's Redis semantics (spec §6.2, §11.23), on a
fake clock, with a hypothesis model of the same rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.hashing import hash_request
from inspector.idempotency import (
    DEFAULT_TTL,
    FAILED_TTL,
    CheckRequest,
    IdempotencyResponse,
    IdempotencyResult,
    MemoryIdempotencyStore,
    as_check_request,
    effective_ttl,
    response_hash,
)

T0 = 1_800_000_000.0
NEW, DUP, CONFLICT = IdempotencyResult.NEW, IdempotencyResult.DUPLICATE, IdempotencyResult.CONFLICT


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_store() -> tuple[MemoryIdempotencyStore, FakeClock]:
    clock = FakeClock()
    return MemoryIdempotencyStore(clock=clock), clock


def test_new_then_duplicate_then_conflict_with_what_the_key_holds():
    store, _ = make_store()
    first = store.check("k", "h1", "acme", "trace-1")
    # "new" carries the request's hash and an empty trace id, even though one was given.
    assert first == IdempotencyResponse(NEW, "h1", "")
    assert first.is_new and not first.is_duplicate and not first.is_conflict
    again = store.check("k", "h1", "acme", "trace-2")
    assert again == IdempotencyResponse(DUP, "h1", "trace-1") and again.is_duplicate
    assert again.stored_trace_id == "trace-1"
    other = store.check("k", "h2", "acme")
    assert other == IdempotencyResponse(CONFLICT, "h1", "trace-1") and other.is_conflict
    assert other.as_json() == {"result": "conflict", "stored_hash": "h1", "trace_id": "trace-1"}


def test_keys_are_per_tenant_and_the_default_tenant_is_default():
    store, _ = make_store()
    assert store.check("k", "h1").is_new
    assert store.check("k", "h2", "acme").is_new
    assert set(store.data) == {"default:k", "acme:k"}
    assert store.check("k", "h1", "default").is_duplicate


def test_a_check_stores_upstreams_fields_and_ttl():
    store, clock = make_store()
    store.check("k", "h1", "acme", "trace-1")
    state = store.state("k", "acme")
    assert state.fields == {"hash": "h1", "tenant_id": "acme", "trace_id": "trace-1", "created_at": str(int(T0)),
                            "status": "pending"}
    assert state.ttl == DEFAULT_TTL
    assert (state.request_hash, state.status, state.trace_id, state.created_at) == ("h1", "pending", "trace-1",
                                                                                     int(T0))
    assert state.response_hash is None and state.error is None
    clock.advance(100.4)
    assert store.state("k", "acme").ttl == DEFAULT_TTL - 100
    clock.advance(0.2)  # 86299.4 s left: Redis's TTL rounds to the nearest second
    assert store.state("k", "acme").ttl == DEFAULT_TTL - 101
    assert store.state("other", "acme") is None
    assert state.as_json()["fields"]["status"] == "pending"


def test_ttl_expiry_and_no_refresh_by_later_checks():
    store, clock = make_store()
    store.check("k", "h1", ttl=60)
    clock.advance(59)
    assert store.check("k", "h1").is_duplicate  # does not refresh the TTL
    assert store.state("k").ttl == 1
    clock.advance(1)
    assert store.state("k") is None
    again = store.check("k", "h2", trace_id="t2")
    assert again == IdempotencyResponse(NEW, "h2", "")
    assert store.state("k").fields["hash"] == "h2"


def test_ttl_zero_means_the_default_and_a_negative_ttl_deletes_at_once():
    assert effective_ttl(None, 50) == 50 and effective_ttl(0, 50) == 50 and effective_ttl(7, 50) == 7
    store, _ = make_store()
    store.check("zero", "h", ttl=0)
    assert store.state("zero").ttl == DEFAULT_TTL
    # Redis: EXPIRE with a negative time deletes the key; the check still answers "new".
    assert store.check("neg", "h", ttl=-1).is_new
    assert store.state("neg") is None
    assert store.check("neg", "h", ttl=-1).is_new


def test_mark_completed_sets_status_trace_and_response_hash_and_keeps_the_ttl():
    store, clock = make_store()
    store.check("k", "h1", "acme", "trace-1", ttl=1000)
    clock.advance(10)
    store.mark_completed("k", "acme", trace_id="trace-9", response={"ok": True})
    state = store.state("k", "acme")
    assert state.status == "completed" and state.trace_id == "trace-9"
    assert state.response_hash == hash_request({"ok": True})
    assert state.ttl == 990
    # The stored trace id now comes back on a duplicate.
    assert store.check("k", "h1", "acme") == IdempotencyResponse(DUP, "h1", "trace-9")


def test_response_hash_is_empty_for_any_falsy_response():
    assert response_hash(None) == "" and response_hash({}) == "" and response_hash([]) == ""
    assert response_hash({"b": 2, "a": 1}) == "43258cff783fe7036d8a43033f830adfc60ec037382473548ac742b888292777"


def test_mark_failed_cuts_the_error_and_the_ttl_but_does_not_allow_a_retry():
    store, clock = make_store()
    store.check("k", "h1")
    store.mark_failed("k", error="x" * 600 + "tail")
    state = store.state("k")
    assert state.status == "failed" and state.error == "x" * 500 and state.ttl == FAILED_TTL
    # §11.23: status is never consulted — the same request is a duplicate, not a retry.
    assert store.check("k", "h1").is_duplicate
    assert store.check("k", "h2").is_conflict
    clock.advance(FAILED_TTL)
    assert store.check("k", "h1").is_new


def test_marks_on_an_absent_key_create_it_as_a_bare_hset_would():
    store, clock = make_store()
    store.mark_completed("ghost", trace_id="t")
    state = store.state("ghost")
    assert state.fields == {"status": "completed", "trace_id": "t", "response_hash": ""}
    assert state.ttl is None  # no TTL: it never expires
    clock.advance(10 * DEFAULT_TTL)
    # No stored hash: any request conflicts with "".
    assert store.check("ghost", "h") == IdempotencyResponse(CONFLICT, "", "t")
    store.mark_failed("ghost2", error="boom")
    assert store.state("ghost2").fields == {"status": "failed", "error": "boom"}
    assert store.state("ghost2").ttl == FAILED_TTL


def test_kind_says_when_memory_stands_in_for_redis():
    assert MemoryIdempotencyStore().kind == "memory" and MemoryIdempotencyStore().fallback_reason is None
    fallback = MemoryIdempotencyStore(fallback_reason="redis://h:6379/0: connection refused")
    assert fallback.kind == "memory (Redis unreachable: redis://h:6379/0: connection refused)"


def test_check_many_answers_as_one_call_each_and_takes_tuples_and_mappings():
    items = [CheckRequest("a", "h1"), ("a", "h1"), {"idempotency_key": "a", "request_hash": "h2"},
             ("b", "h1", "acme", "t", 10), CheckRequest("b", "h1", "acme")]
    bulk, _ = make_store()
    one, _ = make_store()
    expected = [one.check(r.idempotency_key, r.request_hash, r.tenant_id, r.trace_id, r.ttl)
                for r in map(as_check_request, items)]
    assert bulk.check_many(items) == expected
    assert [r.result for r in expected] == [NEW, DUP, CONFLICT, NEW, DUP]
    assert bulk.states([("a", "default"), ("b", "acme"), ("c", "default")])[2] is None
    assert bulk.states([("b", "acme")])[0].ttl == 10


def test_delete_and_iter_keys():
    store, clock = make_store()
    store.check("k1", "h", "acme")
    store.check("k2", "h", "beta", ttl=5)
    store.check("k:3", "h", "acme")
    assert sorted(store.iter_keys()) == [("k1", "acme"), ("k2", "beta"), ("k:3", "acme")]
    assert sorted(store.iter_keys("acme")) == [("k1", "acme"), ("k:3", "acme")]
    clock.advance(5)
    assert sorted(store.iter_keys()) == [("k1", "acme"), ("k:3", "acme")]
    assert store.delete("k1", "acme") and not store.delete("k1", "acme")
    assert not store.delete("k2", "beta")  # expired already
    assert list(store.iter_keys()) == [("k:3", "acme")]


# --- a model of the rules, over random operation sequences --------------------------------------

KEYS = st.sampled_from(["k1", "k2"])
TENANTS = st.sampled_from(["default", "acme"])
HASHES = st.sampled_from(["h1", "h2"])
OPS = st.one_of(
    st.tuples(st.just("check"), KEYS, TENANTS, HASHES, st.sampled_from(["", "t1", "t2"]),
              st.sampled_from([None, 30, 600])),
    st.tuples(st.just("completed"), KEYS, TENANTS, st.sampled_from(["t3", "t4"]),
              st.sampled_from([None, {}, {"r": 1}])),
    st.tuples(st.just("failed"), KEYS, TENANTS, st.text(max_size=3)),
    st.tuples(st.just("advance"), st.sampled_from([1, 29, 30, 299, 300, 1000])),
    st.tuples(st.just("delete"), KEYS, TENANTS),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(OPS, max_size=40))
def test_the_store_follows_a_model_of_upstreams_rules(ops):
    store, clock = make_store()
    model: dict[tuple[str, str], dict] = {}  # (tenant, key) -> {"hash", "trace", "expires", ...}

    def live(k):
        rec = model.get(k)
        if rec is not None and rec["expires"] is not None and clock.now >= rec["expires"]:
            del model[k]
            return None
        return rec

    for op in ops:
        kind = op[0]
        if kind == "advance":
            clock.advance(op[1])
            continue
        key, tenant = op[1], op[2]
        rec = live((tenant, key))
        if kind == "check":
            _, _, _, h, trace, ttl = op
            got = store.check(key, h, tenant, trace, ttl)
            if rec is None:
                model[(tenant, key)] = {"hash": h, "trace": trace, "expires": clock.now + (ttl or DEFAULT_TTL)}
                assert got == IdempotencyResponse(NEW, h, "")
            else:
                stored = rec.get("hash", "")
                assert got == IdempotencyResponse(DUP if stored == h else CONFLICT, stored, rec.get("trace", ""))
        elif kind == "completed":
            store.mark_completed(key, tenant, trace_id=op[3], response=op[4])
            rec = rec if rec is not None else model.setdefault((tenant, key), {"expires": None})
            rec["trace"] = op[3]
        elif kind == "failed":
            store.mark_failed(key, tenant, op[3])
            rec = rec if rec is not None else model.setdefault((tenant, key), {})
            rec["expires"] = clock.now + FAILED_TTL
        elif kind == "delete":
            assert store.delete(key, tenant) == (rec is not None)
            model.pop((tenant, key), None)
    for (tenant, key), rec in list(model.items()):
        state = store.state(key, tenant)
        if live((tenant, key)) is None:
            assert state is None
        else:
            assert state.request_hash == rec.get("hash")
            assert state.ttl == (None if rec["expires"] is None else round(rec["expires"] - clock.now))
