"""orjson where it gives what the standard library gives: the fast path against ``json`` on
generated values, hostile ones included (huge integers, NaN, infinities, lone surrogates, deep
nesting, text that is not JSON), and the step writer of ``show --json`` against ``json.dumps``."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector import fastjson
from inspector.model import Payload, Step, StepRow
from inspector.serialize import step_json_text, step_to_json
from tests.jsonvalues import same

pytestmark = pytest.mark.skipif(fastjson.fast() is None, reason="orjson is a dependency: the fast path is under test")


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc)


# Characters with lone surrogates (Hypothesis leaves category Cs out by default).
CHARS = st.characters(blacklist_categories=())
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-(2**64) - 2, max_value=2**64 + 2),
    st.floats(),  # NaN, infinities, -0.0, subnormals
    st.text(CHARS, max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(CHARS, max_size=6), kids, max_size=4)),
    max_leaves=25,
)
DUMP_STYLE = st.fixed_dictionaries({"ensure_ascii": st.booleans(), "indent": st.sampled_from([None, 0, 2]),
                                    "sort_keys": st.booleans()})


@settings(max_examples=400, database=None, deadline=None)
@given(VALUES, DUMP_STYLE)
def test_loads_gives_the_standard_librarys_value(value, style):
    text = json.dumps(value, **style)
    got, plain = fastjson.loads(text)
    assert same(got, json.loads(text))
    if plain:
        # orjson read it: it writes it back to the same value.
        assert same(json.loads(fastjson.dumps(got, True)), json.loads(fastjson.stdlib_dumps(got)))


NEAR_JSON = st.text(alphabet='{}[]":,0123456789.eE-+ ntrufalsNIiy\\ud8c0\t\n', max_size=40)


@settings(max_examples=400, database=None, deadline=None)
@given(st.one_of(NEAR_JSON, st.text(CHARS, max_size=30), st.from_regex(r"-?[0-9]{15,25}(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?",
                                                                        fullmatch=True)))
def test_loads_accepts_and_refuses_what_the_standard_library_does(text):
    mine, theirs = outcome(lambda t: fastjson.loads(t)[0], text), outcome(json.loads, text)
    assert mine[0] == theirs[0]
    if mine[0] == "ok":
        assert same(mine[1], theirs[1])


@pytest.mark.parametrize("text", [
    "18446744073709551616", "-9223372036854775809", "9223372036854775807", "18446744073709551615",
    "123456789012345678901234567890", '{"id": 99999999999999999999}', "[1e400]", "-1e400", "1e-400", "NaN",
    "[Infinity, -Infinity]", '"\\ud800"', '{"\\udc00": 1}', '"\\ud83d\\ude00"', "-0", "-0.0", "1E5",
    "0.1000000000000000055511151231257827", "2.2250738585072011e-308", "4.9e-324", '{"a": 1, "a": 2}',
    "\ufeff{}", '"\x01"', "1.", "01", "[1,]", "", " ", "[" * 5000 + "]" * 5000, "[" * 900 + "]" * 900,
    '"' + "9" * 5000 + '"', "9" * 5000,
])
def test_loads_on_known_differences(text):
    mine, theirs = outcome(lambda t: fastjson.loads(t)[0], text), outcome(json.loads, text)
    assert mine[0] == theirs[0] and (mine[0] == "error" or same(mine[1], theirs[1]))


@pytest.mark.parametrize(("value", "finite"), [
    (2**64, True), (-(2**63) - 1, True), ([float("nan")], False), ({"x": float("inf")}, False), ("\ud800", True),
    ({"\udc00": 1}, True), ([[[[1.5]]]] * 3, True), (json.loads("[" * 400 + "]" * 400), True),
])
def test_dumps_falls_back_where_orjson_refuses(value, finite):
    # NaN and infinities are the caller's to keep out (orjson writes them as null): with plain=False
    # they are written by json; what orjson refuses it refuses out loud, and json writes.
    for plain in (False, True) if finite else (False,):
        assert same(json.loads(fastjson.dumps(value, plain)), json.loads(fastjson.stdlib_dumps(value)))
    assert fastjson.dumps([float("nan")], True) == "[null]"  # why plain matters


# -- the step writer ---------------------------------------------------------------------------

PAYLOAD_TEXT = st.one_of(
    st.none(),
    VALUES.map(json.dumps),
    st.sampled_from(["NaN", "[1e400]", '{"n": 123456789012345678901}', '"\\ud800"', '{"broken": tru', "",
                     "[" * 3000 + "]" * 3000, '{"a": 1, "a": [2]}', "42"]),
    st.binary(max_size=12),  # a BLOB: UTF-8 or not
    st.integers(),  # SQLite is dynamically typed: a number in a TEXT column
)
ODD = st.one_of(st.none(), st.text(CHARS, max_size=8), st.integers(min_value=-(2**70), max_value=2**70),
                st.floats(), st.booleans(), st.binary(max_size=4), st.dictionaries(st.text(max_size=3), st.floats(),
                                                                                   max_size=2))


@st.composite
def steps(draw):
    row = StepRow(
        row_id=draw(st.none() | st.integers(0, 10**6)), run_id=draw(st.text(CHARS, max_size=6)),
        step_index=draw(st.integers(min_value=-(2**70), max_value=2**70)), skill_name=draw(ODD),
        status_raw=draw(st.one_of(ODD, st.sampled_from(["success", " Failed ", "retrying"]))),
        outcome_category=draw(ODD), outcome_code=draw(ODD),
        cost_cents=draw(st.none() | st.floats()), duration_ms=draw(st.none() | st.floats()),
        retry_count=draw(st.none() | st.integers(min_value=-(2**70), max_value=2**70)), timestamp=draw(ODD),
        trace_id=draw(st.none() | st.text(CHARS, max_size=6)),
    )
    return Step(row, Payload.from_text(draw(PAYLOAD_TEXT)), Payload.from_text(draw(PAYLOAD_TEXT)),
                idempotency_key=draw(ODD), replay_behavior=draw(ODD), input_hash=draw(ODD),
                output_hash=draw(ODD), rng_state_before=draw(ODD))


@settings(max_examples=400, database=None, deadline=None)
@given(steps())
def test_a_step_is_written_with_the_same_keys_and_values_as_json_dumps(step):
    try:
        expected = fastjson.stdlib_dumps(step_to_json(step))
    except (TypeError, ValueError, RecursionError):
        # json.dumps cannot write it (bytes in a field, a too-deep value): neither does the fast path.
        with pytest.raises((TypeError, ValueError, RecursionError)):
            step_json_text(step)
        return
    assert same(json.loads(step_json_text(step)), json.loads(expected))


def test_a_typical_step_goes_through_orjson():
    step = Step(StepRow(1, "r", 0, "s", "success", "SUCCESS", None, 0.5, 12.0, 0, "t"),
                Payload.from_text('{"q": "x", "n": [1, 2.5]}'), Payload.from_text('{"rows": []}'))
    assert step.params.plain and step.outcome_data.plain
    # Compact separators: orjson wrote it (json.dumps puts a space after ":").
    assert '"params":{"q":"x","n":[1,2.5]}' in step_json_text(step)
    nan = Step(step.row, Payload.from_text('{"x": NaN}'), Payload(None))
    assert not nan.params.plain and '"x": NaN' in step_json_text(nan)
