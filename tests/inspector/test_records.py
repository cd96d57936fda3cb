"""The two one-run JSON shapes: TraceRecord documents (§1.7, golden_trace.json) and SDK v1.1 traces (§1.8)."""

from __future__ import annotations

import copy

import pytest

from inspector.errors import NotATraceSource
from inspector.model import MISSING, Payload, StepStatus
from inspector.records import detect_shape, replay_of, sdk_trace_from_dict, trace_record_from_dict

LOC = "/data/traces/golden_trace.json"

# -- TraceRecord documents -------------------------------------------------------------------------


def test_golden_trace_is_a_trace_record(golden):
    assert detect_shape(golden) == "trace_record"


def test_golden_trace_run_fields(golden):
    record, _steps = trace_record_from_dict(golden, LOC)
    s = record.summary
    assert (s.run_id, s.correlation_id, s.tenant_id, s.agent_id) == (
        "frozen-trace-001", "corr-frozen-001", "tenant-test", "agent-determinism-test")
    assert (s.status, s.started_at, s.completed_at) == (
        "completed", "2025-12-22T00:00:00+00:00", "2025-12-22T00:00:02+00:00")
    assert s.replay_of is None and not s.orphan
    assert not s.has_aggregates  # counters are the source's job (MemorySource computes them)
    assert record.plan.value == [
        {"skill": "json_transform", "params": {"input": {"a": 1, "b": 2}}},
        {"skill": "json_transform", "params": {"input": {"x": 3.14159265, "y": 2.71828182}}},
    ]
    assert record.metadata.value == {"test": "determinism_invariant"}
    assert (record.seed, record.frozen_timestamp, record.root_hash) == (42, "2025-12-22T00:00:00+00:00", None)
    assert record.schema_version == "1.0.0"
    assert record.extra == {}  # no checksum key is stored (§10)


def test_golden_trace_steps(golden):
    _record, steps = trace_record_from_dict(golden, LOC)
    assert [s.step_index for s in steps] == [0, 1]
    first, second = steps
    assert (first.run_id, first.skill_name, first.status_raw, first.status) == (
        "frozen-trace-001", "json_transform", "success", StepStatus.SUCCESS)
    assert (first.outcome_category, first.outcome_code, first.cost_cents, first.duration_ms, first.retry_count) == (
        "SUCCESS", None, 0.01, 5.0, 0)
    assert first.timestamp == "2025-12-22T00:00:00+00:00"
    assert first.params.value == {"input": {"a": 1, "b": 2}}
    assert first.outcome_data.value == {"transformed": True}
    assert second.params.value == {"input": {"x": 3.14159265, "y": 2.71828182}}
    assert isinstance(second.params.value["input"]["x"], float)
    assert second.outcome_data.value == {"transformed": True, "sum": 5.85987447}
    assert (second.cost_cents, second.duration_ms, second.timestamp) == (0.02, 3.0, "2025-12-22T00:00:01+00:00")
    assert first.row.row_id is None
    assert (first.idempotency_key, first.replay_behavior, first.input_hash) == (None, None, None)


def test_trace_record_optional_fields_default(golden):
    doc = {k: golden[k] for k in ("run_id", "correlation_id", "tenant_id", "plan", "steps", "started_at", "status")}
    record, steps = trace_record_from_dict(doc, LOC)
    assert record.seed == 42  # TraceRecord's default (§1.7)
    assert record.metadata.value == {}
    assert (record.summary.agent_id, record.summary.completed_at, record.schema_version) == (None, None, None)
    assert len(steps) == 2


def test_trace_record_keeps_replay_fields_and_metadata_link(golden):
    doc = copy.deepcopy(golden)
    doc.update(metadata={"replay_of": "orig-run", "dry_run": True}, replay_mode="full", checksum="f3" * 16)
    record, _ = trace_record_from_dict(doc, LOC)
    assert record.summary.replay_of == "orig-run"
    assert record.extra == {"replay_mode": "full", "checksum": "f3" * 16}


def test_trace_record_step_without_index_uses_its_position(golden):
    doc = copy.deepcopy(golden)
    for step in doc["steps"]:
        del step["step_index"]
    doc["steps"][0]["status"] = "failed"
    _, steps = trace_record_from_dict(doc, LOC)
    assert [s.step_index for s in steps] == [0, 1]
    assert steps[0].status is StepStatus.FAILURE and steps[0].status_raw == "failed"


def test_trace_record_odd_values_do_not_raise(golden):
    doc = copy.deepcopy(golden)
    doc["steps"][0].update(cost_cents="cheap", duration_ms=True, retry_count="2", status=7, params=None)
    _, steps = trace_record_from_dict(doc, LOC)
    s = steps[0]
    assert (s.cost_cents, s.duration_ms, s.retry_count) == (None, None, 2)
    assert s.status is StepStatus.UNKNOWN and s.status_raw == 7
    assert s.params.is_missing


# -- SDK v1.1 traces -------------------------------------------------------------------------------


def test_vector_trace_is_an_sdk_trace_and_matches_the_spec_vector(vector_trace):
    # The builder reproduces spec §1.8's verified vector, so these documents are the SDK's own.
    step = vector_trace["steps"][0]
    assert (step["input_hash"], step["output_hash"]) == ("015abd7f5cc57a2d", "0ab1a6d394cd3019")
    assert vector_trace["root_hash"] == "a6058e3ba45f1193d0b4f15c8d0710860cab6ac4ce021a04aff4edf552dc7629"
    assert detect_shape(vector_trace) == "sdk_trace"


def test_sdk_trace_run_id_falls_back_to_the_file_name(vector_trace):
    record, steps = sdk_trace_from_dict(vector_trace, "/x/run-42.trace.json", "run-42")
    assert record.summary.run_id == "run-42"
    assert record.summary.correlation_id == "run-42"  # the POST API's default (§1.6)
    assert [s.run_id for s in steps] == ["run-42"]


@pytest.mark.parametrize(("extra", "expected"), [({"run_id": "r-1"}, "r-1"), ({"trace_id": "t-1"}, "t-1"),
                                                 ({"run_id": "r-1", "trace_id": "t-1"}, "r-1"),
                                                 ({"run_id": None, "trace_id": ""}, "fallback")])
def test_sdk_trace_run_id_from_the_document(vector_trace, extra, expected):
    record, _ = sdk_trace_from_dict({**vector_trace, **extra}, LOC, "fallback")
    assert record.summary.run_id == expected


def test_sdk_trace_run_fields(vector_trace):
    record, _ = sdk_trace_from_dict(vector_trace, LOC, "run-42")
    s = record.summary
    assert (s.tenant_id, s.agent_id, s.status, s.started_at, s.completed_at) == (
        "default", None, "completed", "2025-12-22T00:00:00+00:00", None)
    assert record.seed == 42
    assert record.frozen_timestamp == "2025-12-22T00:00:00+00:00"
    assert record.root_hash == "a6058e3ba45f1193d0b4f15c8d0710860cab6ac4ce021a04aff4edf552dc7629"
    assert record.schema_version == "1.1.0"
    assert record.plan.value == [{"skill": "json_transform"}]
    assert record.extra == {"finalized": True}


def test_unfinalized_sdk_trace_is_running(make_sdk_trace, make_sdk_step):
    doc = make_sdk_trace([make_sdk_step(0, "s", 1, 2)], finalized=False, tenant_id="acme")
    record, _ = sdk_trace_from_dict(doc, LOC, "r")
    assert (record.summary.status, record.root_hash, record.summary.tenant_id) == ("running", None, "acme")


def test_sdk_steps_keep_hashes_and_outcome_and_have_no_payloads(make_sdk_trace, make_sdk_step):
    doc = make_sdk_trace([
        make_sdk_step(0, "json_transform", {"a": 1}, {"b": 2}),
        make_sdk_step(1, "http_call", {"url": "x"}, None, outcome="failure", error_code="ERR_HTTP_503", duration_ms=250,
                      idempotency_key="default:" + "ab" * 16, replay_behavior="check"),
        make_sdk_step(2, "llm_invoke", {}, {}, outcome="skipped", replay_behavior="skip"),
    ])
    _, steps = sdk_trace_from_dict(doc, LOC, "r")
    assert [(s.step_index, s.skill_name, s.status_raw, s.status) for s in steps] == [
        (0, "json_transform", "success", StepStatus.SUCCESS),
        (1, "http_call", "failure", StepStatus.FAILURE),
        (2, "llm_invoke", "skipped", StepStatus.SKIPPED),
    ]
    failed = steps[1]
    assert (failed.outcome_code, failed.duration_ms, failed.cost_cents, failed.retry_count) == (
        "ERR_HTTP_503", 250.0, None, None)
    assert failed.input_hash == doc["steps"][1]["input_hash"] and len(failed.input_hash) == 16
    assert failed.output_hash == doc["steps"][1]["output_hash"]
    assert (failed.rng_state_before, failed.idempotency_key, failed.replay_behavior) == (
        "abc", "default:" + "ab" * 16, "check")
    assert failed.timestamp == "2025-12-22T00:00:01+00:00"
    for step in steps:
        assert step.params.value is MISSING and step.params.is_missing and step.params.ok
        assert step.outcome_data.value is MISSING and step.outcome_data.is_missing


def test_sdk_trace_with_a_status_and_replay_metadata(vector_trace):
    doc = {**vector_trace, "status": "failed", "metadata": {"replay_of": "orig"}, "correlation_id": "corr-9"}
    record, _ = sdk_trace_from_dict(doc, LOC, "r")
    assert (record.summary.status, record.summary.replay_of, record.summary.correlation_id) == (
        "failed", "orig", "corr-9")


# -- shapes and malformed documents ----------------------------------------------------------------


@pytest.mark.parametrize("doc", [None, [], "trace", 42, {}, {"run_id": "r"}, {"version": "1.1.0", "seed": 1}])
def test_detect_shape_rejects_other_documents(doc):
    assert detect_shape(doc) is None


def _golden_without(golden, key):
    doc = copy.deepcopy(golden)
    del doc[key]
    return doc


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: _golden_without(d, "plan"), "lacks plan"),
        (lambda d: _golden_without(d, "status"), "lacks status"),
        (lambda d: {k: v for k, v in d.items() if k not in ("run_id", "tenant_id")}, "lacks run_id, tenant_id"),
        (lambda d: {**d, "steps": {"0": {}}}, "'steps' is not a list"),
        (lambda d: {**d, "steps": [d["steps"][0], "step two"]}, "step #1 is not an object"),
        (lambda d: {**d, "steps": [None]}, "step #0 is not an object"),
    ],
)
def test_malformed_trace_records_raise_with_location(golden, mutate, words):
    with pytest.raises(NotATraceSource) as info:
        trace_record_from_dict(mutate(golden), LOC)
    assert words in str(info.value)
    assert info.value.location == LOC
    assert str(info.value).startswith(LOC + ": ")


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: {k: v for k, v in d.items() if k != "seed"}, "lacks seed"),
        (lambda d: {k: v for k, v in d.items() if k not in ("version", "timestamp")}, "lacks version, timestamp"),
        (lambda d: {**d, "steps": "none"}, "'steps' is not a list"),
        (lambda d: {**d, "steps": [d["steps"][0], 3]}, "step #1 is not an object"),
    ],
)
def test_malformed_sdk_traces_raise_with_location(vector_trace, mutate, words):
    with pytest.raises(NotATraceSource) as info:
        sdk_trace_from_dict(mutate(vector_trace), LOC, "r")
    assert words in str(info.value)
    assert info.value.location == LOC


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ('{"replay_of": "run_1", "dry_run": false, "verify_parity": true}', "run_1"),
        ('{"replay_of": ""}', None),
        ('{"replay_of": 12}', None),
        ('{"replay_of": null}', None),
        ('["replay_of", "run_1"]', None),
        ('{"note": "replay_of run_1"}', None),
        ('{"replay_of": "run_1"', None),  # broken JSON names nothing
        (None, None),
    ],
)
def test_replay_of(metadata, expected):
    assert replay_of(Payload.from_text(metadata)) == expected


def test_numbers_beyond_any_float_or_int_are_unreadable_not_errors():
    from inspector.records import _int, _num

    assert _num(10**400) is None and _int(float("-inf")) is None and _int(float("nan")) is None
    assert _num("1e999") == float("inf")  # text that reads as infinity stays what float() makes of it
    assert _int(-1e999) is None and _int(7) == 7 and _num(2.5) == 2.5
