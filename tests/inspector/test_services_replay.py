"""The replay-check and idempotency use cases (inspector.services) on a source held in memory, with
the in-memory cache and store: the same functions ``trace-inspector replay-check`` and the windows
call, without a database (the CLI and window tests run them on SQLite, Postgres and Redis)."""

from __future__ import annotations

import pytest

from inspector.errors import UsageError
from inspector.hashing import hash_request
from inspector.idempotency import IdempotencyResult, MemoryIdempotencyStore
from inspector.model import Payload, RunRecord, RunSummary, SourceInfo, Step, StepRow
from inspector.replay import CheckOutcome, MemoryReplayCache
from inspector.services.idempotency import load_run_keys, read_key_states
from inspector.services.replay_check import check_replay, load_replay
from inspector.source import MemorySource


def run(run_id: str, steps: list[tuple[str, str | None, object]], *, replay_of: str | None = None,
        tenant: str = "acme") -> tuple[RunRecord, list[Step]]:
    summary = RunSummary(run_id, "c", tenant, "a", "completed", "2026-10-01T00:00:00+00:00", None, replay_of=replay_of)
    record = RunRecord(summary, Payload.from_value([]), Payload.from_value({"replay_of": replay_of} if replay_of else {}))
    rows = [Step(StepRow(i, run_id, i, f"skill_{i}", "success", None, None, 1.0, 1.0, 0, None),
                 Payload.from_value({"i": i}), Payload.from_value(out), idempotency_key=key, replay_behavior=behavior)
            for i, (behavior, key, out) in enumerate(steps)]
    return record, rows


@pytest.fixture
def source() -> MemorySource:
    original = run("orig", [("execute", "k0", {"v": 0}), ("execute", None, {"v": 1}), ("execute", "k2", {"v": 2})])
    replay = run("rep", [("skip", "k0", {"v": 0}), ("check", None, {"v": 1}), ("check", "kx", {"v": 99})],
                 replay_of="orig")
    plain = run("plain", [("execute", None, {"v": 0})])
    runs = [original, replay, plain]
    return MemorySource(SourceInfo("memory", "memory", "memory"), [r for r, _ in runs],
                        {r.summary.run_id: s for r, s in runs})


def test_the_replay_is_checked_against_the_original_it_names(source):
    loaded = load_replay(source, "rep")
    assert loaded.original.summary.run_id == "orig" and loaded.tenant_id == "acme"
    checked = check_replay(loaded, MemoryReplayCache())
    assert [s.outcome for s in checked.result.steps] == [CheckOutcome.SKIPPED, CheckOutcome.CHECKED,
                                                        CheckOutcome.MISMATCH]
    assert checked.seeded and checked.in_memory and checked.fallback_reason is None
    assert not checked.result.ok and checked.result.upstream_stop == 2
    with pytest.raises(UsageError, match="is not a replay"):
        load_replay(source, "plain")
    named = load_replay(source, "plain", original_ref="orig")
    assert named.original.summary.run_id == "orig"


def test_each_keyed_step_gets_upstreams_verdict_without_writing(source):
    keys = load_run_keys(source, "orig")
    assert keys.total_steps == 3 and keys.unkeyed == 1 and [k.idempotency_key for k in keys.keyed] == ["k0", "k2"]
    store = MemoryIdempotencyStore()
    store.check("k0", hash_request({"i": 0}), "acme", "trace-1")  # this request: duplicate
    store.check("k2", hash_request({"other": True}), "acme")  # another request: conflict
    before = store.states([("k0", "acme"), ("k2", "acme"), ("absent", "acme")])
    seen = []
    states = read_key_states(keys, store, location="memory", progress=lambda d, t: seen.append((d, t)), chunk=1,
                             clock=lambda: 1767225600.0)
    assert [r.verdict for r in states.rows] == [IdempotencyResult.DUPLICATE, IdempotencyResult.CONFLICT]
    assert seen == [(1, 2), (2, 2)] and states.read_at == 1767225600.0 and not states.stopped
    assert store.states([("k0", "acme"), ("k2", "acme"), ("absent", "acme")]) == before  # nothing written
    stopped = read_key_states(keys, store, chunk=1, cancelled=lambda: True)
    assert stopped.stopped and stopped.rows == ()
