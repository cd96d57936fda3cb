"""Domain objects: status normalisation (spec §2.4), timestamps (§1.3), JSON payloads."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.errors import UsageError
from inspector.model import (
    MISSING,
    Payload,
    RunFilter,
    RunRecord,
    RunSort,
    RunSummary,
    Step,
    StepRow,
    StepStatus,
    normalise_status,
    normalise_time_bound,
    parse_timestamp,
    raw_statuses,
)

S, F, K, R, U = StepStatus.SUCCESS, StepStatus.FAILURE, StepStatus.SKIPPED, StepStatus.RETRY, StepStatus.UNKNOWN

# -- status normalisation (§2.4) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # upstream TraceStatus (§1.4)
        ("success", S), ("failure", F), ("skipped", K), ("retry", R),
        # worker plan StepStatus (§2.4)
        ("succeeded", S), ("failed", F), ("retrying", R),
        ("pending", U), ("running", U), ("unknown", U),
        # other spellings §2.4 names
        ("ok", S), ("error", F),
        # case and surrounding whitespace do not matter
        ("SUCCESS", S), ("Failed", F), ("  ok  ", S), ("\tError\n", F), ("\r\nSKIPPED\x0b", K), ("\x0cRetrying ", R),
        # anything else is unknown, never silently a success (§11.4)
        ("", U), ("   ", U), ("succes", U), ("success!", U), ("suc cess", U), ("fail", U), ("okay", U),
        ("completed", U), ("timeout", U), ("aborted", U), ("s\u00fccess", U),
        ("\u00a0ok\u00a0", U),  # a non-breaking space is not trimmed (SQL trims ASCII only)
        ("\u0130", U), ("OK\u212a", U),  # non-ASCII letters are not lower-cased to ASCII
        # non-strings
        (None, U), (1, U), (0, U), (True, U), (1.5, U), (b"success", U), (["success"], U), ({"status": "ok"}, U),
        (S, U),  # the enum itself is not a stored value
    ],
)
def test_normalise_status(raw, expected):
    assert normalise_status(raw) is expected


def test_raw_statuses_are_the_spellings_that_normalise_to_each_status():
    assert raw_statuses(S) == ("ok", "succeeded", "success")
    assert raw_statuses(F) == ("error", "failed", "failure")
    assert raw_statuses(K) == ("skipped",)
    assert raw_statuses(R) == ("retry", "retrying")
    assert raw_statuses(U) == ()
    for status in StepStatus:
        assert all(normalise_status(v) is status for v in raw_statuses(status))


@settings(max_examples=150, database=None)
@given(st.one_of(st.text(), st.binary(), st.integers(), st.floats(), st.none(), st.lists(st.text(), max_size=2)))
def test_normalise_status_never_raises(raw):
    result = normalise_status(raw)
    assert isinstance(result, StepStatus)
    if result is not U:
        assert isinstance(raw, str)
        assert raw.strip(" \t\n\r\f\v").lower() in raw_statuses(result)


@settings(max_examples=200, database=None)
@given(word=st.sampled_from(["success", "succeeded", "ok", "failure", "failed", "error", "skipped", "retry", "retrying"]),
       case=st.lists(st.booleans(), min_size=9, max_size=9),
       left=st.text(" \t\n\r\f\v", max_size=3), right=st.text(" \t\n\r\f\v", max_size=3))
def test_known_words_normalise_whatever_case_and_padding(word, case, left, right):
    cased = "".join(ch.upper() if up else ch for ch, up in zip(word, case)) + word[len(case):]
    assert normalise_status(left + cased + right) is normalise_status(word) is not U


# -- timestamps (§1.3) -----------------------------------------------------------------------------

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T05:53:15.003803+00:00", datetime(2026, 11, 29, 5, 53, 15, 3803, UTC)),
        ("2026-11-29T05:53:15+00:00", datetime(2026, 11, 29, 5, 53, 15, tzinfo=UTC)),
        # SQLite CURRENT_TIMESTAMP: UTC without an offset
        ("2026-11-29 05:53:15", datetime(2026, 11, 29, 5, 53, 15, tzinfo=UTC)),
        ("2026-11-29T05:53:15Z", datetime(2026, 11, 29, 5, 53, 15, tzinfo=UTC)),
        ("2026-11-29T05:53:15.5Z", datetime(2026, 11, 29, 5, 53, 15, 500000, UTC)),
        ("  2026-11-29T05:53:15+00:00\n", datetime(2026, 11, 29, 5, 53, 15, tzinfo=UTC)),
        ("2026-11-29", datetime(2026, 11, 29, tzinfo=UTC)),
        ("2025-12-22T02:00:00+02:00", datetime(2025, 12, 22, 0, 0, tzinfo=UTC)),  # same instant
        ("garbage", None),
        ("", None),
        ("   ", None),
        ("Z", None),
        ("2026-13-01T00:00:00", None),
        ("2026-11-29T25:00:00", None),
        ("yesterday", None),
        (None, None),
        (1764395595, None),
        (b"2026-11-29 05:53:15", None),
    ],
)
def test_parse_timestamp(text, expected):
    got = parse_timestamp(text)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None


def test_parse_timestamp_keeps_the_offset_it_was_given():
    got = parse_timestamp("2025-12-22T02:00:00+02:00")
    assert got.utcoffset() == timedelta(hours=2)


def test_parse_timestamp_accepts_datetimes():
    naive = datetime(2026, 1, 1, 12, 0)
    assert parse_timestamp(naive) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    aware = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_timestamp(aware) is aware


@settings(max_examples=150, database=None)
@given(st.one_of(st.text(), st.text(alphabet="0123456789-:T .+Z", max_size=40)))
def test_parse_timestamp_never_raises(text):
    got = parse_timestamp(text)
    assert got is None or got.tzinfo is not None


@settings(max_examples=200, database=None)
@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_parse_timestamp_reads_what_python_writes(dt):
    assert parse_timestamp(dt.isoformat()) == dt
    assert parse_timestamp(dt.strftime("%Y-%m-%d %H:%M:%S")) == dt.replace(microsecond=0)


# -- payloads --------------------------------------------------------------------------------------


def test_payload_from_valid_json_text():
    p = Payload.from_text('{"a": 1, "b": [true, null]}')
    assert (p.raw, p.value, p.error) == ('{"a": 1, "b": [true, null]}', {"a": 1, "b": [True, None]}, None)
    assert p.ok and not p.is_missing
    assert p.to_json() == {"a": 1, "b": [True, None]}


def test_payload_from_invalid_json_keeps_raw_text_and_says_why():
    p = Payload.from_text('{"a": 1,\n "b": }')
    assert p.raw == '{"a": 1,\n "b": }'
    assert p.value is MISSING
    assert not p.ok
    assert p.error.startswith("not valid JSON: Expecting value at line 2 column")
    assert p.to_json() == '{"a": 1,\n "b": }'  # exports show the broken text itself


def test_payload_from_null():
    p = Payload.from_text(None)
    assert (p.raw, p.value, p.error) == (None, MISSING, None)
    assert p.is_missing and p.ok and p.size == 0
    assert p.to_json() is None


def test_payload_json_null_is_not_missing():
    p = Payload.from_text("null")
    assert p.raw == "null" and p.value is None and not p.is_missing and p.ok


@pytest.mark.parametrize(
    ("raw", "text", "value"),
    [(b'{"a": 1}', '{"a": 1}', {"a": 1}), ('{"n": "caf\\u00e9"}'.encode(), '{"n": "caf\\u00e9"}', {"n": "café"}),
     ('["é"]'.encode(), '["é"]', ["é"])],
)
def test_payload_from_utf8_bytes(raw, text, value):
    p = Payload.from_text(raw)
    assert (p.raw, p.value, p.error) == (text, value, None)


def test_payload_from_bytes_that_are_not_utf8():
    p = Payload.from_text(b'{"a": "\xff"}')
    assert p.value is MISSING
    assert p.error.startswith("not UTF-8 text")
    assert p.raw == '{"a": "\ufffd"}'


@pytest.mark.parametrize(("raw", "text"), [(42, "42"), (1.5, "1.5"), (0, "0"), (-7, "-7")])
def test_payload_from_a_number_a_foreign_writer_stored(raw, text):
    p = Payload.from_text(raw)
    assert (p.raw, p.value, p.error) == (text, raw, None)


def test_payload_with_an_integer_too_long_for_python():
    raw = '{"n": ' + "1" * 5000 + "}"
    p = Payload.from_text(raw)
    assert p.raw == raw and p.value is MISSING
    assert "not readable as JSON" in p.error


def test_payload_nested_too_deeply():
    raw = "[" * 100_000 + "]" * 100_000
    p = Payload.from_text(raw)
    assert p.value is MISSING and "nested too deeply" in p.error


def test_payload_size_is_utf8_bytes():
    assert Payload.from_text('"é☕"').size == len('"é☕"'.encode()) == 7


def test_payload_from_value():
    assert Payload.from_value(None) == Payload(None)
    p = Payload.from_value({"b": 1, "a": "é"})
    assert p.raw == '{"b": 1, "a": "\\u00e9"}' and p.value == {"b": 1, "a": "é"} and p.ok


def test_missing_is_a_falsy_singleton():
    assert not MISSING
    assert repr(MISSING) == "MISSING"
    assert type(MISSING)() is MISSING


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, database=None)
@given(JSON)
def test_payload_round_trip(value):
    stored = Payload.from_value(value)
    read = Payload.from_text(stored.raw)
    if value is None:
        assert stored.is_missing and read.is_missing
        return
    assert read.raw == stored.raw == json.dumps(value)
    assert read.value == value and read.ok
    assert Payload.from_text(read.raw.encode("utf-8")) == read
    assert read.to_json() == value


@settings(max_examples=150, database=None)
@given(st.one_of(st.text(), st.binary(), st.text(alphabet='{}[]":,0123456789.eE-+ntrufalse\\', max_size=30)))
def test_payload_from_text_never_raises(raw):
    p = Payload.from_text(raw)
    assert isinstance(p.raw, str)
    if p.ok:
        assert p.value is not MISSING or p.raw is None
    else:
        assert p.value is MISSING and p.error
    assert p.size >= 0


def test_payload_nan_reads_as_float():
    p = Payload.from_text("NaN")  # Python's json accepts it, as upstream's reader does
    assert p.ok and math.isnan(p.value)


# -- rows and records ------------------------------------------------------------------------------


def _row(status="succeeded", index=3):
    return StepRow(7, "run-1", index, "json_transform", status, "SUCCESS", None, 0.5, 12.0, 0, "2025-12-22T00:00:00+00:00")


def test_step_row_status_is_normalised_and_raw_kept():
    row = _row(" Failed ")
    assert row.status is F and row.status_raw == " Failed "


def test_step_reads_like_its_row():
    step = Step(_row(), Payload.from_text('{"a": 1}'), Payload(None), replay_behavior="execute")
    assert (step.step_index, step.skill_name, step.status, step.cost_cents) == (3, "json_transform", S, 0.5)
    assert step.replay_behavior == "execute"
    with pytest.raises(AttributeError):
        step.no_such_field  # noqa: B018


def test_run_record_reads_like_its_summary():
    summary = RunSummary("r", "c", "t", None, "completed", "2025", None, total_steps=2)
    rec = RunRecord(summary, Payload.from_text("[]"), Payload.from_text("{}"), seed=42)
    assert (rec.run_id, rec.status, rec.total_steps, rec.seed) == ("r", "completed", 2, 42)
    assert summary.has_aggregates
    assert not RunSummary("r", None, None, None, None, None, None).has_aggregates
    with pytest.raises(AttributeError):
        rec.no_such_field  # noqa: B018


def test_run_sort_values_are_json_field_names_and_aggregate_flags():
    assert {s.value for s in RunSort} == {"started_at", "run_id", "status", "tenant_id", "agent_id", "total_steps",
                                          "failure_count", "total_cost_cents", "total_duration_ms", "integrity_grade"}
    assert {s for s in RunSort if s.needs_aggregates} == {RunSort.TOTAL_STEPS, RunSort.FAILURES, RunSort.COST,
                                                          RunSort.DURATION}
    for sort in RunSort:
        # the grade is not a summary field: it is the key ``grade --json`` gives it (upstream's name)
        assert hasattr(RunSummary("r", None, None, None, None, None, None), sort.value) != (sort is RunSort.GRADE)


@pytest.mark.parametrize(
    ("flt", "empty"),
    [(RunFilter(), True), (RunFilter(include_orphans=False), True), (RunFilter(status="failed"), False),
     (RunFilter(tenant_id="t"), False), (RunFilter(agent_id="a"), False), (RunFilter(since="2025"), False),
     (RunFilter(until="2025"), False), (RunFilter(run_id_prefix="run_"), False)],
)
def test_run_filter_is_empty(flt, empty):
    assert flt.is_empty is empty
    hash(flt)  # filters are cache keys


# -- user time bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2026-10-01", False, "2026-10-01T00:00:00+00:00"),
        ("2026-10-01", True, "2026-10-01T23:59:59.999999+00:00"),  # an upper date includes its day
        ("2026-10-01T12:00", True, "2026-10-01T12:00:00+00:00"),
        ("2026-10-01T12:00:00+02:00", False, "2026-10-01T10:00:00+00:00"),
        ("2026-10-01T12:00:00Z", False, "2026-10-01T12:00:00+00:00"),
        (" 2026-10-01 12:00:00 ", False, "2026-10-01T12:00:00+00:00"),
        ("9999-12-31", True, "9999-12-31T23:59:59.999999+00:00"),  # "until forever"
        ("9999-12-31", False, "9999-12-31T00:00:00+00:00"),
    ],
)
def test_normalise_time_bound(text, end, expected):
    assert normalise_time_bound(text, end=end) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "0001-01-01T00:00:00+01:00"])
def test_normalise_time_bound_rejects_with_usage_error(text):
    with pytest.raises(UsageError):
        normalise_time_bound(text)


@pytest.mark.parametrize(
    ("stored", "since", "until", "inside"),
    [
        ("2026-10-01T12:00:00+00:00", "2026-10-01T12:00", None, True),
        ("2026-10-01T11:59:59.999999+00:00", "2026-10-01T12:00", None, False),
        ("2026-10-01T12:00:00.000001+00:00", None, "2026-10-01T12:00", False),
        ("2026-10-01T23:59:59+00:00", None, "2026-10-01", True),
        ("2026-10-02T00:00:00+00:00", None, "2026-10-01", False),
        ("2026-10-01T10:30:00+00:00", "2026-10-01T12:00:00+02:00", None, True),
    ],
)
def test_time_bounds_compare_as_strings_like_instants(stored, since, until, inside):
    """Upstream compares started_at as text (§1.5): the bounds must order like the instants."""
    lo = normalise_time_bound(since) if since else None
    hi = normalise_time_bound(until, end=True) if until else None
    assert ((lo is None or stored >= lo) and (hi is None or stored <= hi)) is inside
