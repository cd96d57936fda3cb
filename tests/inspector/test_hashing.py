"""Every hash convention against the spec's vectors (§1.7, §1.8, §6) and upstream's
``compare_traces`` semantics, with hypothesis properties of the comparison."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspector.hashing import (
    EMPTY_SIGNATURE,
    TraceStatus,
    canonical_json,
    compare_traces,
    determinism_canonical,
    determinism_signature,
    diff_traces_summary,
    hash_data,
    hash_output,
    hash_request,
    sdk_diff_traces,
    sdk_idempotency_key,
    sdk_root_hash,
    sdk_step_hash,
    status_text,
    step_determinism_hash,
)
from tests.conftest import FIXTURES

GOLDEN = json.loads((FIXTURES / "golden_trace.json").read_text())


def test_golden_step_hashes_signature_and_canonical_text():
    steps = GOLDEN["steps"]
    assert [step_determinism_hash(s) for s in steps] == ["c48cfb46260380b3", "59ecfd8faa2f42a6"]
    assert determinism_signature(["c48cfb46260380b3", "59ecfd8faa2f42a6"]) == "f376998a5ed844781b9d85694efee108"
    assert determinism_canonical(steps[1]) == (
        '{"outcome_category": "SUCCESS", "outcome_code": null, "params": "{\\"input\\": {\\"x\\": 3.141593, '
        '\\"y\\": 2.718282}}", "retry_count": 0, "skill_name": "json_transform", "status": "success", "step_index": 1}')
    assert determinism_signature([]) == EMPTY_SIGNATURE
    # a TraceStatus member hashes as its value
    enum_step = dict(steps[0], status=TraceStatus.SUCCESS)
    assert step_determinism_hash(enum_step) == "c48cfb46260380b3"


def test_fields_outside_the_determinism_hash_do_not_change_it():
    step = copy.deepcopy(GOLDEN["steps"][1])
    base = step_determinism_hash(step)
    step.update(outcome_data={"other": 1}, cost_cents=99.0, duration_ms=1e6, timestamp="1999-01-01")
    assert step_determinism_hash(step) == base
    step["params"]["input"]["x"] = 3.1415926  # rounds to the same 6 places
    assert step_determinism_hash(step) == base
    step["params"]["input"]["x"] = 3.14159
    assert step_determinism_hash(step) != base


@pytest.mark.parametrize(("data", "expected"), [
    (None, "74234e98afe7498f"),
    ({"transformed": True}, "3bedc506aab8a6e7"),
    ({"transformed": True, "sum": 5.85987447}, "230d0e63002ac53d"),
    ({"b": 2}, "c8fe83d1b9e9b561"),
])
def test_replay_hash_output_vectors(data, expected):
    assert hash_output(data) == expected


def test_idempotency_and_sdk_vectors():
    assert canonical_json({"b": 2, "a": 1}) == '{"a":1,"b":2}'
    assert hash_request({"b": 2, "a": 1}) == "43258cff783fe7036d8a43033f830adfc60ec037382473548ac742b888292777"
    assert hash_data({"a": 1}) == "015abd7f5cc57a2d" and hash_data({"b": 2}) == "0ab1a6d394cd3019"
    assert hash_output({"b": 2}) != hash_data({"b": 2})  # §11.9: the conventions disagree
    step = {"step_index": 0, "skill_id": "json_transform", "input_hash": "015abd7f5cc57a2d",
            "output_hash": "0ab1a6d394cd3019", "rng_state_before": "abc", "outcome": "success",
            "idempotency_key": None, "replay_behavior": "execute"}
    assert sdk_root_hash(42, "2025-12-22T00:00:00+00:00", "default", [step]) == (
        "a6058e3ba45f1193d0b4f15c8d0710860cab6ac4ce021a04aff4edf552dc7629")
    absent = {k: v for k, v in step.items() if k != "replay_behavior"}
    assert sdk_step_hash(absent) == sdk_step_hash(step)  # from_dict's default
    assert sdk_step_hash(dict(step, replay_behavior=None)) != sdk_step_hash(step)
    digest = hashlib.sha256(b"run-1:3:http_call:015abd7f5cc57a2d").hexdigest()[:32]
    assert sdk_idempotency_key("run-1", 3, "http_call", "015abd7f5cc57a2d", "t1") == f"t1:{digest}"
    assert sdk_idempotency_key("run-1", 3, "http_call", "015abd7f5cc57a2d") == digest


def test_compare_traces_with_upstreams_reasons():
    steps = GOLDEN["steps"]
    same = compare_traces(steps, copy.deepcopy(steps))
    assert same.is_parity and same.original_signature == "f376998a5ed844781b9d85694efee108"
    assert same.divergence_step is None and same.divergence_reason is None

    dropped = compare_traces(steps, steps[:1])
    assert (dropped.is_parity, dropped.divergence_step, dropped.divergence_reason) == (False, 1, "step count: 2 vs 1")

    failed = copy.deepcopy(steps)
    failed[0]["status"] = "failure"
    got = compare_traces(steps, failed)
    assert (got.divergence_step, got.divergence_reason) == (0, "status: TraceStatus.SUCCESS vs TraceStatus.FAILURE")
    assert compare_traces(steps, failed, python=(3, 10)).divergence_reason == "status: success vs failure"

    changed = copy.deepcopy(steps)
    changed[0]["params"] = {"input": {"a": 9}}
    changed[0]["skill_name"] = "http_call"
    changed[0]["retry_count"] = 2
    assert compare_traces(steps, changed).divergence_reason == "skill: json_transform vs http_call; retries: 0 vs 2; params differ"

    code = copy.deepcopy(steps)
    code[1]["outcome_code"] = "ERR"
    assert compare_traces(steps, code).divergence_reason == "hash mismatch"
    assert compare_traces(steps, code).as_json()["divergence_step"] == 1


def test_sdk_diff_traces_summary():
    t1 = {"seed": 42, "timestamp": "t", "steps": [{"skill_id": "a", "input_hash": "1", "output_hash": "2",
                                                 "rng_state_before": "r", "outcome": "success"}], "root_hash": "x"}
    assert sdk_diff_traces(t1, copy.deepcopy(t1)) == {"match": True, "differences": [],
                                                      "summary": "Traces are deterministically identical"}
    assert sdk_diff_traces(t1, dict(t1, tenant_id="default"))["match"]  # from_dict's default tenant
    t2 = copy.deepcopy(t1)
    t2["seed"] = 1
    t2["steps"][0].update(output_hash="3", rng_state_before="q", outcome="failure")
    t2["root_hash"] = "y"
    got = sdk_diff_traces(t1, t2)
    assert [d["field"] for d in got["differences"]] == ["seed", "step[0].output_hash", "step[0].rng_state",
                                                         "step[0].outcome", "root_hash"]
    assert got["summary"] == "Traces differ in 5 field(s): seed, step[0].output_hash, step[0].rng_state and 2 more"
    assert diff_traces_summary(["a", "b", "c"]) == "Traces differ in 3 field(s): a, b, c"


def test_status_text_renders_only_trace_statuses_as_enum_names():
    assert status_text("retry") == "TraceStatus.RETRY"
    assert status_text(TraceStatus.SKIPPED) == "TraceStatus.SKIPPED"
    assert status_text("succeeded") == "succeeded"  # a worker status is not a TraceStatus


json_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False,
                                                                                   allow_infinity=False) | st.text(max_size=5)
params = st.dictionaries(st.text(max_size=4), json_scalars, max_size=3)
steps_strategy = st.lists(
    st.fixed_dictionaries({
        "skill_name": st.sampled_from(["json_transform", "http_call", "llm_invoke"]),
        "params": params,
        "status": st.sampled_from(["success", "failure", "retry", "skipped"]),
        "outcome_category": st.sampled_from(["SUCCESS", "FAILURE"]),
        "outcome_code": st.none() | st.sampled_from(["ERR_HTTP_503", "OK"]),
        "retry_count": st.integers(0, 3),
        "outcome_data": params,
    }),
    max_size=8,
).map(lambda steps: [dict(s, step_index=i) for i, s in enumerate(steps)])


@given(steps_strategy)
def test_a_trace_compared_with_itself_is_parity(steps):
    assert compare_traces(steps, copy.deepcopy(steps)).is_parity


@given(steps_strategy, st.data())
def test_changing_a_hashed_field_of_step_k_diverges_at_or_before_k(steps, data):
    if not steps:
        return
    k = data.draw(st.integers(0, len(steps) - 1))
    field = data.draw(st.sampled_from(["skill_name", "status", "retry_count", "outcome_code", "params"]))
    changed = copy.deepcopy(steps)
    changed[k][field] = {"skill_name": "other_skill", "status": "weird", "retry_count": 99,
                         "outcome_code": "CHANGED", "params": {"changed": True}}[field]
    if step_determinism_hash(changed[k]) == step_determinism_hash(steps[k]):
        return  # the drawn value equalled the old one
    got = compare_traces(steps, changed)
    assert not got.is_parity and got.divergence_step is not None and got.divergence_step <= k


@given(steps_strategy, steps_strategy)
def test_the_verdict_is_symmetric(a, b):
    ab, ba = compare_traces(a, b), compare_traces(b, a)
    assert ab.is_parity == ba.is_parity
    assert ab.divergence_step == ba.divergence_step
    assert (ab.original_signature, ab.replay_signature) == (ba.replay_signature, ba.original_signature)
