"""inspector.ledger: run mentions (§3.1), state diffs by JSON pointer, the replay window (§3.5)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from inspector.ledger import (
    ANCHOR_LLM,
    StateChange,
    json_pointer,
    mentions_run,
    merge_window,
    split_pointer,
    state_diff,
    window_bounds,
)
from inspector.logs import AuditEvent, SystemRecord
from inspector.model import MISSING, Payload, StepRow, parse_timestamp

ANCHOR = datetime(2026, 11, 29, 5, 53, 15, 3803, tzinfo=UTC)


def event(after: Any = None, before: Any = None, *, id: str = "e1", entity_type: str = "POLICY_RULE",
          event_type: str = "PolicyRuleCreated", created_at: str | None = None, raw: bool = False) -> AuditEvent:
    wrap = Payload.from_text if raw else Payload.from_value
    return AuditEvent(
        id=id, tenant_id="t1", event_type=event_type, entity_type=entity_type, entity_id="ent-1",
        actor_type="SYSTEM", actor_id=None, action_reason=None, before_state=wrap(before),
        after_state=wrap(after), created_at=created_at,
    )


def system(id: str, at: str | None, *, event_type: str = "DEPLOY", severity: str = "INFO") -> SystemRecord:
    return SystemRecord(id=id, tenant_id=None, component="api", event_type=event_type, severity=severity,
                        summary="s", details=Payload.from_value({}), caused_by=None, correlation_id=None,
                        created_at=at)


def step(index: int, at: str | None, *, skill: str = "json_transform", outcome: str | None = "SUCCESS") -> StepRow:
    return StepRow(row_id=None, run_id="r1", step_index=index, skill_name=skill, status_raw="success",
                   outcome_category=outcome, outcome_code=None, cost_cents=0.0, duration_ms=1.0, retry_count=0,
                   timestamp=at)


def at(seconds: float) -> str:
    return (ANCHOR + timedelta(seconds=seconds)).isoformat()


# --- mentions_run ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "before", "expected"),
    [
        ({"run_id": "run-1"}, None, True),
        ({"source_run_id": "run-1"}, None, True),
        (None, {"run_id": "run-1"}, True),
        (None, {"source_run_id": "run-1"}, True),
        ({"run_id": "run-2"}, {"source_run_id": "run-1"}, True),
        ({"run_id": "run-2"}, {"run_id": "run-3"}, False),
        ({"nested": {"run_id": "run-1"}}, None, False),  # only top-level keys, as upstream
        ({"run_id": None}, None, False),
        ({"runid": "run-1"}, None, False),
        (["run_id", "run-1"], None, False),
        ("run-1", None, False),
        (None, None, False),
    ],
)
def test_mentions_run(after, before, expected):
    assert mentions_run(event(after, before), "run-1") is expected


def test_mentions_run_stringifies_like_upstream():
    assert mentions_run(event({"run_id": 42}), "42")
    assert mentions_run(event({"source_run_id": 7}), "7")
    assert not mentions_run(event({"run_id": 42}), "042")


def test_mentions_run_never_matches_null_as_text():
    assert not mentions_run(event({"run_id": None}), "None")


def test_mentions_run_with_malformed_state_is_false():
    broken = event("{not json", '{"run_id": "run-1"', raw=True)
    assert not broken.after_state.ok
    assert not mentions_run(broken, "run-1")
    half = event('{"run_id": "run-1"}', "{broken", raw=True)
    assert mentions_run(half, "run-1")


# --- json pointers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "pointer"),
    [
        ((), ""),
        (("a",), "/a"),
        (("a", 0, "b"), "/a/0/b"),
        (("a/b",), "/a~1b"),
        (("m~n",), "/m~0n"),
        (("~1",), "/~01"),
        (("",), "/"),
        (("", ""), "//"),
    ],
)
def test_json_pointer_escapes_per_rfc6901(tokens, pointer):
    assert json_pointer(tokens) == pointer
    assert split_pointer(pointer) == tuple(str(t) for t in tokens)


def test_split_pointer_rejects_text_without_leading_slash():
    with pytest.raises(ValueError):
        split_pointer("a/b")


# --- state_diff -----------------------------------------------------------------------------------


def test_state_diff_of_a_modification():
    before = {"name": "cap", "limit": 100, "tags": ["a", "b"], "scope": {"team": "x", "env": "prod"}}
    after = {"name": "cap", "limit": 250, "tags": ["a"], "scope": {"team": "y", "env": "prod"}, "note": None}
    assert state_diff(before, after) == [
        StateChange("/limit", "changed", 100, 250),
        StateChange("/tags/1", "removed", before="b"),
        StateChange("/scope/team", "changed", "x", "y"),
        StateChange("/note", "added", after=None),
    ]


def test_state_diff_of_created_and_retired_events():
    assert state_diff(Payload.from_value(None), Payload.from_value({"a": 1, "b": [2]})) == [
        StateChange("/a", "added", after=1),
        StateChange("/b", "added", after=[2]),
    ]
    assert state_diff({"a": 1}, MISSING) == [StateChange("/a", "removed", before=1)]
    assert state_diff(MISSING, MISSING) == []
    assert state_diff(MISSING, 5) == [StateChange("", "added", after=5)]
    assert state_diff("x", MISSING) == [StateChange("", "removed", before="x")]


def test_state_diff_keeps_json_types_apart():
    assert state_diff({"a": 1}, {"a": 1.0}) == []
    assert state_diff({"a": 1}, {"a": True}) == [StateChange("/a", "changed", 1, True)]
    assert state_diff({"a": 0}, {"a": False}) == [StateChange("/a", "changed", 0, False)]
    assert state_diff({"a": None}, {"a": {}}) == [StateChange("/a", "changed", None, {})]
    assert state_diff({"a": {}}, {"a": []}) == [StateChange("/a", "changed", {}, [])]
    assert state_diff({"a": "1"}, {"a": 1}) == [StateChange("/a", "changed", "1", 1)]
    assert state_diff([1], {"0": 1}) == [StateChange("", "changed", [1], {"0": 1})]


def test_state_diff_escapes_keys():
    assert state_diff({}, {"a/b": {"c~d": 1}}) == [StateChange("/a~1b", "added", after={"c~d": 1})]
    assert state_diff({"a/b": {"c~d": 1}}, {"a/b": {"c~d": 2}})[0].pointer == "/a~1b/c~0d"
    assert state_diff({"a/b": {"c~d": 1}}, {"a/b": {"c~d": 2}})[0].path == ("a/b", "c~d")


def test_state_diff_of_a_malformed_payload_compares_the_raw_text():
    broken = Payload.from_text("{'limit': 1}")  # upstream's str(dict) (§11.16)
    assert state_diff(broken, Payload.from_value({"limit": 1})) == [
        StateChange("", "changed", "{'limit': 1}", {"limit": 1})
    ]
    assert state_diff(broken, broken) == []


def test_state_diff_order_is_stable():
    before = {"z": 1, "a": 1, "m": 1}
    after = {"q": 2, "m": 2, "z": 2}
    assert [c.pointer for c in state_diff(before, after)] == ["/z", "/a", "/m", "/q"]


# Property tests ------------------------------------------------------------------------------------

_keys = st.text(alphabet=st.sampled_from("ab~/_0"), max_size=3)
_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True, width=32) | st.text(max_size=3)
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=20,
)


def _leaves(doc: Any, path: tuple = ()) -> dict[tuple, Any]:
    """Every leaf (scalar or empty container) by its path."""
    if isinstance(doc, dict) and doc:
        return {p: v for k, child in doc.items() for p, v in _leaves(child, (*path, k)).items()}
    if isinstance(doc, list) and doc:
        return {p: v for i, child in enumerate(doc) for p, v in _leaves(child, (*path, str(i))).items()}
    return {path: doc}


def _json_equal(a: Any, b: Any) -> bool:
    return state_diff(a, b) == []


def _apply(doc: Any, changes: list[StateChange]) -> Any:
    """Replay a diff on ``before``: set changed/added values, drop removed ones (array tails from
    the end, so indexes stay right)."""
    root = {"": copy.deepcopy(doc)}

    def parent_of(tokens: tuple[str, ...]) -> tuple[Any, Any]:
        node, key = root, ""
        for token in tokens:
            node = node[key] if not isinstance(node, list) else node[int(key)]
            key = token
        return node, key

    for change in sorted(changes, key=lambda c: (c.op != "removed", c.op == "removed" and -len(c.path))):
        if change.op == "removed":
            continue
        node, key = parent_of(change.path)
        if isinstance(node, list):
            index = int(key)
            if index == len(node):
                node.append(copy.deepcopy(change.after))
            else:
                node[index] = copy.deepcopy(change.after)
        else:
            node[key] = copy.deepcopy(change.after)
    removed = [c for c in changes if c.op == "removed"]
    for change in sorted(removed, key=lambda c: [int(t) if t.isdigit() else 0 for t in c.path], reverse=True):
        node, key = parent_of(change.path)
        if isinstance(node, list):
            del node[int(key)]
        else:
            del node[key]
    return root[""]


@settings(max_examples=200, database=None)
@given(_json)
def test_a_document_never_differs_from_itself(doc):
    assert state_diff(doc, doc) == []
    assert state_diff(doc, copy.deepcopy(doc)) == []


@settings(max_examples=200, database=None)
@given(_json, _json)
def test_diff_pointers_cover_every_differing_leaf(before, after):
    assume(before is not None and after is not None)  # a top-level null is "no state" (below)
    changes = state_diff(before, after)
    assert (changes == []) == _json_equal(before, after)
    pointers = [c.path for c in changes]
    assert len(set(pointers)) == len(pointers)
    b_leaves, a_leaves = _leaves(before), _leaves(after)
    for path in b_leaves.keys() | a_leaves.keys():
        same = path in b_leaves and path in a_leaves and _json_equal(b_leaves[path], a_leaves[path])
        if same:
            continue
        covered = any(path[: len(p)] == p for p in pointers)
        # An empty object/array that gained members is covered by the changes beneath it.
        grown = b_leaves.get(path, a_leaves.get(path)) in ([], {}) and any(p[: len(path)] == path for p in pointers)
        assert covered or grown, (path, pointers)
    for change in changes:
        assert change.op in ("added", "removed", "changed")
        assert (change.before is MISSING) == (change.op == "added")
        assert (change.after is MISSING) == (change.op == "removed")


@settings(max_examples=200, database=None)
@given(_json, _json)
def test_applying_a_diff_to_before_gives_after(before, after):
    assume(before is not None and after is not None)
    changes = state_diff(before, after)
    assert _json_equal(_apply(before, changes), after)


@settings(max_examples=150, database=None)
@given(_json, _json)
def test_diff_is_symmetric_in_its_pointers(before, after):
    forward = {(c.pointer, c.op) for c in state_diff(before, after)}
    flip = {"added": "removed", "removed": "added", "changed": "changed"}
    backward = {(c.pointer, flip[c.op]) for c in state_diff(after, before)}
    assert forward == backward


def test_a_top_level_json_null_state_is_no_state():
    # Upstream's writer stores unused states as JSON null; a created event lists its fields.
    assert state_diff(None, {"a": 1}) == [StateChange("/a", "added", after=1)]
    assert state_diff({"a": 1}, None) == [StateChange("/a", "removed", before=1)]
    assert state_diff(Payload.from_text("null"), Payload.from_text('{"a": 1}')) == [StateChange("/a", "added", after=1)]
    assert state_diff(None, None) == []


def test_state_diff_of_documents_nested_too_deeply_is_one_change():
    deep_a: Any = 1
    deep_b: Any = 2
    for _ in range(5000):
        deep_a, deep_b = [deep_a], [deep_b]
    assert state_diff(deep_a, deep_b) == [StateChange("", "changed", deep_a, deep_b)]


def test_nan_equals_itself_in_a_diff():
    assert state_diff({"a": math.nan}, {"a": math.nan}) == []


# --- merge_window ---------------------------------------------------------------------------------


def test_window_bounds_are_utc_and_accept_naive_or_text():
    start, end = window_bounds(ANCHOR.replace(tzinfo=None), 30)
    assert start == ANCHOR - timedelta(seconds=30) and end.tzinfo is not None
    start2, _ = window_bounds("2026-11-29T07:53:15.003803+02:00", 30)
    assert start2 == start
    with pytest.raises(ValueError):
        window_bounds("yesterday")


def test_merge_window_maps_each_source_per_spec():
    entries = merge_window(
        ANCHOR,
        [step(0, at(-5), skill="fetch", outcome="SUCCESS"), step(1, at(5), outcome="")],
        [system("sys-1", at(1), event_type="DEPLOY", severity="WARN")],
        [
            event(id="led-1", entity_type="LIMIT", event_type="LimitBreached", created_at=at(2)),
            event(id="led-2", entity_type="INCIDENT", event_type="IncidentResolved", created_at=at(3)),
        ],
    )
    assert [(e.source, e.action, e.outcome, e.ref) for e in entries] == [
        ("llm", "fetch", "SUCCESS", "0"),
        ("system", "DEPLOY", "WARN", "sys-1"),
        ("policy", "LimitBreached", "LIMIT", "led-1"),
        ("llm", "json_transform", "unknown", "1"),
    ]
    assert entries[0].timestamp == at(-5)


def test_merge_window_bounds_are_inclusive_and_ties_ordered_by_source():
    entries = merge_window(
        at(0),
        [step(0, at(-30)), step(1, at(30)), step(2, at(30.000001)), step(3, at(-30.000001)), step(4, at(0))],
        [system("s", at(0)), system("late", at(31))],
        [event(id="p", created_at=at(0))],
        seconds=30,
    )
    assert [(e.source, e.ref) for e in entries] == [
        ("llm", "0"), ("llm", "4"), ("system", "s"), ("policy", "p"), ("llm", "1"),
    ]


def test_merge_window_skips_rows_without_a_readable_time_and_normalises_offsets():
    entries = merge_window(
        ANCHOR,
        [step(0, None), step(1, "garbage"), step(2, (ANCHOR + timedelta(seconds=1)).astimezone(
            timezone(timedelta(hours=5))).isoformat())],
        [system("s", None)],
        [event(id="p", created_at="not a time")],
    )
    assert [(e.ref, e.timestamp) for e in entries] == [("2", at(1))]


def test_merge_window_keeps_given_order_within_equal_times():
    entries = merge_window(ANCHOR, [], [system("b", at(0)), system("a", at(0))], [])
    assert [e.ref for e in entries] == ["b", "a"]


def test_anchor_constants_are_distinct_words():
    assert ANCHOR_LLM == "llm_run_record"


@dataclass
class _Step:
    step_index: int
    skill_name: str | None
    outcome_category: str | None
    timestamp: str | None


_offsets = st.floats(min_value=-120, max_value=120, allow_nan=False).map(lambda s: round(s, 6))


@settings(max_examples=200, database=None)
@given(
    st.lists(_offsets, max_size=15),
    st.lists(_offsets, max_size=15),
    st.lists(st.tuples(_offsets, st.sampled_from(["POLICY_RULE", "LIMIT", "INCIDENT", "SIGNAL"])), max_size=15),
    st.floats(min_value=0, max_value=90, allow_nan=False),
)
def test_merge_window_is_sorted_bounded_and_complete(step_offsets, system_offsets, policy_rows, seconds):
    steps = [_Step(i, "s", "SUCCESS", at(o)) for i, o in enumerate(step_offsets)]
    systems = [system(f"s{i}", at(o)) for i, o in enumerate(system_offsets)]
    events = [event(id=f"p{i}", entity_type=t, created_at=at(o)) for i, (o, t) in enumerate(policy_rows)]
    entries = merge_window(ANCHOR, steps, systems, events, seconds=seconds)
    start, end = window_bounds(ANCHOR, seconds)
    times = [parse_timestamp(e.timestamp) for e in entries]
    assert all(start <= t <= end for t in times)
    rank = {"llm": 0, "system": 1, "policy": 2}
    keys = [(t, rank[e.source]) for t, e in zip(times, entries, strict=True)]
    assert keys == sorted(keys)

    def inside(offset_text: str) -> bool:
        return start <= parse_timestamp(offset_text) <= end

    expected = (
        sum(inside(s.timestamp) for s in steps)
        + sum(inside(r.created_at) for r in systems)
        + sum(inside(e.created_at) for e in events if e.entity_type in ("POLICY_RULE", "LIMIT"))
    )
    assert len(entries) == expected
