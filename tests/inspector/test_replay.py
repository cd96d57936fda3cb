"""Upstream's replay enforcement (§6.1) on the in-memory cache, and the offline replay check."""

from __future__ import annotations

import pytest

from inspector.hashing import hash_output
from inspector.replay import (
    CheckOutcome,
    MemoryReplayCache,
    ReplayMismatchError,
    enforce_step,
    enforce_trace,
    replay_check,
)


def run(outputs):
    calls = []

    def execute(step):
        calls.append(step["step_index"])
        return outputs[step["step_index"]]

    return execute, calls


def test_execute_stores_under_the_key_and_skip_reads_the_cache():
    cache = MemoryReplayCache()
    execute, calls = run({0: {"b": 2}})
    first = enforce_step({"step_index": 0, "idempotency_key": "k1"}, execute, "t1", cache)
    assert (first.executed, first.skipped, first.checked, first.from_cache) == (True, False, False, False)
    assert first.output_hash == hash_output({"b": 2}) == "c8fe83d1b9e9b561"
    assert cache.data == {"t1:k1": {"output_data": {"b": 2}, "output_hash": "c8fe83d1b9e9b561", "step_index": 0}}
    skipped = enforce_step({"step_index": 0, "idempotency_key": "k1", "replay_behavior": "skip"}, execute, "t1", cache)
    assert (skipped.executed, skipped.skipped, skipped.from_cache, skipped.output_data) == (False, True, True, {"b": 2})
    assert calls == [0]
    # another tenant does not see it
    other = enforce_step({"step_index": 0, "idempotency_key": "k1", "replay_behavior": "skip"}, execute, "t2", cache)
    assert other.executed and calls == [0, 0]


def test_skip_without_a_key_executes_and_execute_ignores_the_cache():
    cache = MemoryReplayCache()
    execute, calls = run({0: 1})
    assert enforce_step({"step_index": 0, "replay_behavior": "skip"}, execute, "t", cache).executed
    cache.set("t", "k", {"output_data": 5, "output_hash": "x", "step_index": 0})
    got = enforce_step({"step_index": 0, "idempotency_key": "k"}, execute, "t", cache)
    assert got.executed and got.output_data == 1 and calls == [0, 0]


def test_check_verifies_executed_output_but_not_a_cache_hit():
    cache = MemoryReplayCache()
    execute, _ = run({0: {"transformed": True}})
    ok = enforce_step({"step_index": 0, "replay_behavior": "check", "output_hash": "3bedc506aab8a6e7"}, execute, "t",
                      cache)
    assert ok.executed and ok.checked
    with pytest.raises(ReplayMismatchError) as info:
        enforce_step({"step_index": 0, "replay_behavior": "check", "output_hash": "0000", "idempotency_key": "k"},
                     execute, "t", cache)
    assert str(info.value) == "Replay output mismatch: step 0, expected 0000, got 3bedc506aab8a6e7"
    assert cache.get("t", "k") is not None  # stored before the check raised, as upstream does
    hit = enforce_step({"step_index": 0, "replay_behavior": "check", "output_hash": "0000", "idempotency_key": "k"},
                       execute, "t", cache)
    assert hit.checked and hit.from_cache and not hit.executed  # §11.23: not verified


def test_enforce_trace_stops_at_the_first_mismatch_and_attaches_cached_outputs():
    cache = MemoryReplayCache()
    cache.set("t", "k0", {"output_data": "cached", "output_hash": "h", "step_index": 0})
    execute, calls = run({0: "x", 1: "y", 2: "z"})
    steps = [{"step_index": 0, "idempotency_key": "k0", "replay_behavior": "skip"},
             {"step_index": 1, "replay_behavior": "check", "output_hash": "bad"},
             {"step_index": 2}]
    with pytest.raises(ReplayMismatchError):
        enforce_trace({"steps": steps}, execute, "t", cache)
    assert steps[0]["_cached_output"] == "cached" and calls == [1]


def test_replay_check_reports_every_step_and_where_upstream_stops():
    original = [{"step_index": i, "skill_name": "s", "outcome_data": {"v": i}, "idempotency_key": f"k{i}"}
                for i in range(4)]
    replay = [
        {"step_index": 0, "skill_name": "s", "outcome_data": {"v": 0}, "replay_behavior": "skip", "idempotency_key": "k0"},
        {"step_index": 1, "skill_name": "s", "outcome_data": {"v": 99}, "replay_behavior": "check"},
        {"step_index": 2, "skill_name": "s", "outcome_data": {"v": 2}, "replay_behavior": "check"},
        {"step_index": 3, "skill_name": "s", "outcome_data": {"v": 3}, "replay_behavior": "check", "idempotency_key": "k3"},
        {"step_index": 4, "skill_name": "s", "outcome_data": {"v": 4}},
    ]
    got = replay_check(replay, original, "t", MemoryReplayCache())
    assert [s.outcome for s in got.steps] == [CheckOutcome.SKIPPED, CheckOutcome.MISMATCH, CheckOutcome.CHECKED,
                                              CheckOutcome.CHECKED_UNVERIFIED, CheckOutcome.EXECUTED]
    assert got.upstream_stop == 1 and not got.ok
    mismatch = got.steps[1]
    assert (mismatch.expected_hash, mismatch.actual_hash) == (hash_output({"v": 1}), hash_output({"v": 99}))
    assert [s.after_stop for s in got.steps] == [False, False, True, True, True]
    assert "not verified" in got.steps[3].outcome.value and "without comparing it" in got.steps[3].note
    assert got.steps[4].expected_hash is None and "no original step" in got.steps[4].note
    assert got.counts()["mismatch"] == 1


def test_replay_check_of_an_identical_replay_is_ok():
    original = [{"step_index": i, "outcome_data": [i], "replay_behavior": "check"} for i in range(3)]
    got = replay_check(original, original, "t", MemoryReplayCache())
    assert got.ok and {s.outcome for s in got.steps} == {CheckOutcome.CHECKED}


def test_steps_after_upstreams_stop_leave_nothing_in_the_cache():
    # enforce_trace raises at the mismatch and never reaches later steps: the check shows how they
    # would go on, but must not write what upstream's enforcer never would (a shared Redis cache).
    original = [{"step_index": i, "skill_name": "s", "outcome_data": {"v": i}} for i in range(3)]
    replay = [
        {"step_index": 0, "skill_name": "s", "outcome_data": {"v": 9}, "replay_behavior": "check", "idempotency_key": "a"},
        {"step_index": 1, "skill_name": "s", "outcome_data": {"v": 1}, "idempotency_key": "b"},
        {"step_index": 2, "skill_name": "s", "outcome_data": {"v": 2}, "replay_behavior": "skip", "idempotency_key": "b"},
    ]
    cache = MemoryReplayCache()
    got = replay_check(replay, original, "t", cache, seed_cache=False)
    assert got.upstream_stop == 0
    assert set(cache.data) == {"t:a"}  # the mismatching step stored its output before raising, as upstream does
    # later steps still see each other's (hypothetical) outputs
    assert [s.outcome for s in got.steps] == [CheckOutcome.MISMATCH, CheckOutcome.EXECUTED, CheckOutcome.SKIPPED]
    assert [s.after_stop for s in got.steps] == [False, True, True]


def test_a_behavior_upstream_does_not_know_raises_as_upstreams_enum_does():
    # upstream: ReplayBehavior(step.get("replay_behavior", "execute")) is enforce_step's first line
    cache = MemoryReplayCache()
    execute, calls = run({0: 1})
    with pytest.raises(ValueError, match="'SKIP' is not a valid ReplayBehavior"):
        enforce_step({"step_index": 0, "replay_behavior": "SKIP", "idempotency_key": "k"}, execute, "t", cache)
    assert calls == [] and cache.data == {}
    # our sources cannot tell an absent behavior from a NULL one: both read as the default
    assert enforce_step({"step_index": 0, "replay_behavior": None}, execute, "t", cache).executed


def test_replay_check_stops_where_upstream_rejects_a_behavior():
    original = [{"step_index": i, "outcome_data": {"v": i}} for i in range(3)]
    replay = [{"step_index": 0, "outcome_data": {"v": 0}, "replay_behavior": "check"},
              {"step_index": 1, "outcome_data": {"v": 1}, "replay_behavior": "verify", "idempotency_key": "k1"},
              {"step_index": 2, "outcome_data": {"v": 2}, "replay_behavior": "check", "idempotency_key": "k2"}]
    cache = MemoryReplayCache()
    got = replay_check(replay, original, "t", cache)
    assert [s.outcome for s in got.steps] == [CheckOutcome.CHECKED, CheckOutcome.INVALID, CheckOutcome.CHECKED]
    assert got.upstream_stop == 1 and not got.ok
    assert got.steps[1].behavior == "verify" and "not a valid ReplayBehavior" in got.steps[1].note
    assert [s.after_stop for s in got.steps] == [False, False, True]
    assert cache.data == {}  # nothing after the stop is written


def test_a_replay_that_executes_every_step_passes_and_says_why_compare_disagrees():
    """Upstream's enforcer compares outputs on ``check`` steps only: a replay of ``execute`` steps
    whose every output differs passes the check, and the verdict says in one sentence why Compare
    (which compares every output) reports parity broken."""
    original = [{"step_index": i, "skill_name": "s", "outcome_data": {"v": i}} for i in range(3)]
    replay = [{"step_index": i, "skill_name": "s", "outcome_data": {"v": i + 10}, "replay_behavior": "execute"}
              for i in range(3)]
    got = replay_check(replay, original, "t", MemoryReplayCache())
    assert got.ok and got.not_compared == 3
    assert all(s.expected_hash != s.actual_hash for s in got.steps)
    headline = got.headline()
    assert headline.startswith("Replay check passed:") and "only on steps marked" in headline
    assert '(0 of 3 here)' in headline and "3 step outputs that differ" in headline
    assert "Compare reports parity broken" in headline
    same = replay_check(original, original, "t", MemoryReplayCache())
    assert same.not_compared == 0 and same.headline() == "Replay check passed: 3 steps, no output mismatch."


def test_a_failed_check_names_what_failed_and_where_upstream_stops():
    original = [{"step_index": i, "skill_name": "s", "outcome_data": {"v": i}} for i in range(3)]
    replay = [dict(s, replay_behavior="check") for s in original]
    replay[1] = dict(replay[1], outcome_data={"v": 99})
    got = replay_check(replay, original, "t", MemoryReplayCache())
    assert got.headline() == ("Replay check FAILED: 1 mismatch. Upstream's enforce_trace stops at position 1 "
                              "(step 1, s) with ReplayMismatchError; the 1 step(s) after it are shown as they "
                              "would go on.")
