"""Hostile stored values (tests/jsonvalues.py strategies) fed straight to the record parsers and
the JSON writers: nothing raises, and what is written is one JSON document that UTF-8 can carry
(a lone surrogate escaped, a BLOB as text, NaN as ``NaN``)."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.fastjson import stdlib_dumps, stored_text
from inspector.model import Payload, RunRecord, RunSummary, to_float, to_int
from inspector.records import sdk_trace_from_dict, trace_record_from_dict
from inspector.serialize import run_record_to_json, run_summary_to_json, step_json_text, step_to_json
from tests.jsonvalues import hostile_json_values, stored_values

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def written(text: str):
    """The document a command would print: UTF-8 encodable, one JSON value."""
    text.encode("utf-8")  # strict: a lone surrogate would fail here, as on a real stdout
    return json.loads(text)


@SETTINGS
@given(stored_values)
def test_a_stored_value_is_read_as_a_payload_and_written_as_json(raw):
    p = Payload.from_text(raw)
    assert (p.raw is None) == (raw is None)
    assert p.error is None or "\n" not in p.error
    written(stdlib_dumps(p.to_json()))
    written(stdlib_dumps({"raw": raw}))  # a BLOB or a number written as a stored value too


@SETTINGS
@given(hostile_json_values)
def test_a_payload_of_any_value_is_written_as_json(value):
    p = Payload.from_value(value)
    written(stdlib_dumps(p.to_json()))


_TRACE_FIELDS = ("run_id", "correlation_id", "tenant_id", "agent_id", "status", "started_at", "completed_at",
                 "metadata", "plan", "seed", "frozen_timestamp", "root_hash", "schema_version")
_STEP_FIELDS = ("step_index", "skill_name", "params", "status", "outcome_category", "outcome_code", "outcome_data",
                "cost_cents", "duration_ms", "retry_count", "timestamp", "idempotency_key", "input_hash")


@st.composite
def trace_docs(draw):
    doc = {"run_id": "r", "correlation_id": "c", "tenant_id": "t", "agent_id": "a", "plan": [], "status": "completed",
           "started_at": "2026-01-01T00:00:00+00:00", "steps": []}
    for k in draw(st.lists(st.sampled_from(_TRACE_FIELDS), max_size=6)):
        doc[k] = draw(hostile_json_values)
    for _ in range(draw(st.integers(0, 3))):
        step = {"step_index": 0, "skill_name": "s", "status": "success"}
        for k in draw(st.lists(st.sampled_from(_STEP_FIELDS), max_size=6)):
            step[k] = draw(hostile_json_values)
        doc["steps"].append(step)
    return doc


@SETTINGS
@given(trace_docs())
def test_a_trace_file_of_hostile_values_is_read_and_written_as_json(doc):
    record, steps = trace_record_from_dict(doc, "trace.json")
    written(stdlib_dumps(run_record_to_json(record)))
    for step in steps:
        assert isinstance(step.row.step_index, int)
        assert step.row.retry_count is None or isinstance(step.row.retry_count, int)
        written(step_json_text(step))
        written(stdlib_dumps(step_to_json(step)))


@SETTINGS
@given(trace_docs())
def test_an_sdk_trace_of_hostile_values_is_read_and_written_as_json(doc):
    doc = {**doc, "version": "1.1", "timestamp": doc.get("started_at"), "finalized": True}
    doc.pop("run_id")
    for s in doc["steps"]:
        s.setdefault("skill_id", s.pop("skill_name", None))
    try:
        record, steps = sdk_trace_from_dict(doc, "trace.json", "fallback")
    except Exception as exc:  # noqa: BLE001 - only the inspector's own refusal is allowed
        from inspector.errors import InspectorError

        assert isinstance(exc, InspectorError), exc
        return
    written(stdlib_dumps(run_record_to_json(record)))
    for step in steps:
        written(step_json_text(step))


@SETTINGS
@given(st.lists(stored_values, min_size=14, max_size=14))
def test_a_run_row_of_hostile_values_is_written_as_json(values):
    fields = ("run_id", "correlation_id", "tenant_id", "agent_id", "status", "started_at", "completed_at",
              "total_steps", "success_count", "failure_count", "total_cost_cents", "total_duration_ms",
              "replay_of", "trace_id")
    summary = RunSummary(**dict(zip(fields, values, strict=True)))
    written(stdlib_dumps(run_summary_to_json(summary)))
    record = RunRecord(summary=summary, plan=Payload.from_text(values[0]), metadata=Payload.from_text(values[1]),
                       seed=values[2], frozen_timestamp=None, root_hash=None)
    written(stdlib_dumps(run_record_to_json(record)))


@SETTINGS
@given(stored_values)
def test_numbers_of_stored_values_never_raise(value):
    f = to_float(value)
    assert isinstance(f, float)
    n = to_int(value)
    assert isinstance(n, int)
    if not math.isfinite(f):
        assert n == 0


@SETTINGS
@given(hostile_json_values, st.booleans())
def test_the_writer_without_recursion_writes_what_json_dumps_writes(value, ensure_ascii):
    from inspector.fastjson import _dumps_iterative

    assert _dumps_iterative(value, ensure_ascii) == json.dumps(value, ensure_ascii=ensure_ascii)


def test_a_value_nested_deeper_than_the_encoder_recurses_is_written():
    deep: list = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    inner.append({"s": "\ud800", "b": b"\xff"})
    text = stdlib_dumps({"run": {"missing_reasons": deep}}, indent=1)
    assert text == '{"run": {"missing_reasons": ' + "[" * 5001 + '{"s": "\\ud800", "b": "\\ufffd"}' + "]" * 5001 + "}}"


def test_known_hostile_values():
    assert to_int(float("inf")) == to_int(float("nan")) == to_int("-1e999") == 0
    assert to_int("12.7") == 12 and to_int(b"x") == 0 and to_int(10**400) == 0  # beyond a float: not a number
    assert stored_text(b"\xff{") == "\ufffd{"
    assert json.loads(stdlib_dumps({"blob": b"\xffa", "s": "\ud800"})) == {"blob": "\ufffda", "s": "\ud800"}
    assert stdlib_dumps({"s": "\ud800"}).isascii()
    assert written(stdlib_dumps([float("nan")], indent=1)) != [0]


@SETTINGS
@given(stored_values)
def test_stored_numbers_never_raise(value):
    from inspector.model import stored_float, stored_int

    f, n = stored_float(value), stored_int(value)
    assert f is None or isinstance(f, float)
    assert n is None or (isinstance(n, int) and not isinstance(n, bool))
    assert stored_int(float("inf")) is None and stored_int("1" * 5000) is None and stored_int("12.5") == 12
