"""The replay comparison on hand-built runs: upstream's verdict kept, the alignment (by index, and
by skill names when steps were added or dropped), field diffs by pointer, and the rules that made
steps equal — plus hypothesis properties."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.compare import IgnoreRule, RowKind, StepDoc, compare_runs, step_doc
from inspector.hashing import hash_output
from inspector.model import Payload, Step, StepRow
from tests.conftest import FIXTURES

GOLDEN = json.loads((FIXTURES / "golden_trace.json").read_text())


def doc(i, skill="json_transform", *, params=None, out=None, status="success", **kw):
    return StepDoc(i, skill, status, "SUCCESS", None, 0, params if params is not None else {"i": i},
                   out if out is not None else {"v": i}, **kw)


def golden_docs():
    return [StepDoc(s["step_index"], s["skill_name"], s["status"], s["outcome_category"], s["outcome_code"],
                    s["retry_count"], s["params"], s["outcome_data"], cost_cents=s["cost_cents"],
                    duration_ms=s["duration_ms"], timestamp=s["timestamp"]) for s in GOLDEN["steps"]]


def kinds(c):
    return [r.kind.value for r in c.rows]


def test_a_run_compared_with_itself():
    c = compare_runs(golden_docs(), golden_docs())
    assert c.parity.is_parity and c.parity.original_signature == "f376998a5ed844781b9d85694efee108"
    assert kinds(c) == ["equal", "equal"] and c.first_divergence is None
    assert c.left_hashes[1].determinism == "59ecfd8faa2f42a6"
    assert c.left_hashes[1].output == hash_output({"transformed": True, "sum": 5.85987447}) == "230d0e63002ac53d"
    out = c.as_json()
    assert list(out)[:5] == ["is_parity", "original_signature", "replay_signature", "divergence_step",
                             "divergence_reason"]
    json.dumps(out)


def test_audit_fields_never_count_and_floats_round_to_six_places():
    right = golden_docs()
    right[0] = replace(right[0], cost_cents=9.0, duration_ms=99.0, timestamp="2030-01-01")
    right[1] = replace(right[1], params={"input": {"x": 3.1415926, "y": 2.71828182}},
                       outcome_data={"transformed": True, "sum": 5.859874471})
    c = compare_runs(golden_docs(), right)
    assert c.parity.is_parity  # upstream rounds params too
    assert kinds(c) == ["equal", "equal"]
    assert c.rows[0].absorbed == () and c.rows[1].equal_by == ("floats equal to 6 decimal places",)
    assert [a.change.pointer for a in c.rows[1].absorbed] == ["/params/input/x", "/outcome_data/sum"]


def test_a_changed_outcome_is_a_change_upstreams_signature_misses():
    right = golden_docs()
    right[1] = replace(right[1], outcome_data={"transformed": False, "sum": 5.85987447})
    c = compare_runs(golden_docs(), right)
    assert c.parity.is_parity and kinds(c) == ["equal", "changed"] and c.first_divergence == 1
    (change,) = c.rows[1].differences
    assert (change.pointer, change.op, change.before, change.after) == ("/outcome_data/transformed", "changed",
                                                                         True, False)
    assert c.left_hashes[1].output != c.right_hashes[1].output
    assert "does not cover outcome_data" in c.notes[0]


def test_user_rules_ignore_fields_and_say_so():
    left = [doc(0, out={"request_id": "a1", "items": [{"id": 1, "v": 1}]})]
    right = [doc(0, out={"request_id": "b2", "items": [{"id": 2, "v": 1}]})]
    assert kinds(compare_runs(left, right)) == ["changed"]
    rules = [IgnoreRule("/outcome_data/request_id"), IgnoreRule("/outcome_data/items/*/id")]
    c = compare_runs(left, right, rules=rules)
    assert kinds(c) == ["equal"]
    assert c.rows[0].equal_by == ("ignored by user rule /outcome_data/request_id",
                                  "ignored by user rule /outcome_data/items/*/id")
    assert "ignored by user rule: /outcome_data/items/*/id" in c.rules_in_force()
    with pytest.raises(ValueError):
        IgnoreRule("outcome_data")
    with pytest.raises(ValueError, match="whole step"):
        IgnoreRule("")  # the whole document: every pair would be equal


def test_status_change_keeps_upstreams_reason_and_our_field_diff():
    right = golden_docs()
    right[0] = replace(right[0], status="failure")
    c = compare_runs(golden_docs(), right)
    assert (c.parity.divergence_step, c.parity.divergence_reason) == (
        0, "status: TraceStatus.SUCCESS vs TraceStatus.FAILURE")
    assert [(d.pointer, d.before, d.after) for d in c.rows[0].differences] == [("/status", "success", "failure")]


def test_a_dropped_step_realigns_later_steps_by_skill_name():
    skills = ["plan", "fetch", "llm", "transform", "store", "notify"]
    left = [doc(i, s) for i, s in enumerate(skills)]
    kept = [s for s in skills if s != "llm"]
    right = [doc(i if i < 2 else i + 1, s) for i, s in enumerate(kept)]  # indexes keep a gap
    right = [replace(d, step_index=k) for k, d in enumerate(right)]  # replay renumbered its steps
    right = [replace(d, params=left[skills.index(d.skill_name)].params,
                     outcome_data=left[skills.index(d.skill_name)].outcome_data) for d in right]
    c = compare_runs(left, right)
    assert c.aligned_by.startswith("skill names")
    assert kinds(c) == ["equal", "equal", "only-left", "equal", "equal", "equal"]
    # later steps line up by skill; their indexes differ, which the row says (upstream's hash covers it)
    assert c.rows[3].equal_by == ("aligned by skill names: step indexes differ",)
    assert (c.rows[3].absorbed[0].change.before, c.rows[3].absorbed[0].change.after) == (3, 2)
    assert c.left_hashes[3].determinism != c.right_hashes[2].determinism
    assert [c.left[r.left].skill_name if r.left is not None else None for r in c.rows] == skills
    assert c.parity.divergence_step == 2 and "skill: llm vs transform" in c.parity.divergence_reason


def test_an_added_step_is_only_right_and_the_json_names_it():
    left = [doc(i, s) for i, s in enumerate(["a", "b", "c"])]
    right = [doc(0, "a"), doc(1, "b"), doc(2, "x"), doc(3, "c")]
    right[3] = replace(right[3], params=left[2].params, outcome_data=left[2].outcome_data)
    c = compare_runs(left, right)
    assert kinds(c) == ["equal", "equal", "only-right", "equal"]
    out = c.as_json()
    assert out["first_divergence_row"] == 2 and out["first_divergence"]["left"] is None
    assert out["first_divergence"]["right"]["skill_name"] == "x"
    assert out["counts"] == {"equal": 3, "changed": 0, "only-left": 0, "only-right": 1}


def test_an_int_and_a_float_of_the_same_value_are_a_change_as_in_every_upstream_hash():
    # json.dumps writes 1 and 1.0 differently: upstream's determinism hash (params) and hash_output
    # (outcome_data) both differ, so the row cannot be "equal" without a rule saying why.
    left = [doc(0, params={"n": 1}, out={"v": 2}), doc(1, params={"n": 1}, out={"v": 2})]
    right = [doc(0, params={"n": 1.0}, out={"v": 2}), doc(1, params={"n": 1}, out={"v": 2.0})]
    c = compare_runs(left, right)
    assert (c.parity.divergence_step, c.parity.divergence_reason) == (0, "params differ")
    assert kinds(c) == ["changed", "changed"] and c.first_divergence == 0
    assert [(d.pointer, d.before, d.after) for d in c.rows[0].differences] == [("/params/n", 1, 1.0)]
    assert [(d.pointer, d.before, d.after) for d in c.rows[1].differences] == [("/outcome_data/v", 2, 2.0)]
    # 6-place rounding is upstream's for floats; it never makes an int equal to a float
    near = compare_runs([doc(0, params={"n": 1})], [doc(0, params={"n": 1.0000001})])
    assert not near.parity.is_parity and kinds(near) == ["changed"] and near.rows[0].absorbed == ()
    # a rule can still ignore it, and says so
    ruled = compare_runs(left, right, rules=[IgnoreRule("/params/n"), IgnoreRule("/outcome_data/v")])
    assert kinds(ruled) == ["equal", "equal"] and ruled.rows[0].equal_by == ("ignored by user rule /params/n",)


def test_step_doc_from_a_source_step():
    row = StepRow(7, "r1", 3, "http_call", "succeeded", "execution", "ok", 1.0, 2.0, 0, "t")
    s = step_doc(Step(row, Payload.from_text(None), Payload.from_text("{bad"), idempotency_key="k",
                      replay_behavior="skip", output_hash="abc"))
    assert (s.step_index, s.status, s.params, s.outcome_data, s.output_hash) == (3, "succeeded", {}, "{bad", "abc")
    assert (s.idempotency_key, s.replay_behavior) == ("k", "skip")


scalars = st.none() | st.booleans() | st.integers(-100, 100) | st.text(max_size=3)
docs = st.lists(st.builds(
    lambda skill, p, o, status: (skill, p, o, status),
    st.sampled_from(["a", "b", "c"]), st.dictionaries(st.sampled_from(["x", "y"]), scalars, max_size=2),
    st.dictionaries(st.sampled_from(["r", "s"]), scalars, max_size=2), st.sampled_from(["success", "failure"]),
), max_size=6).map(lambda xs: [StepDoc(i, s, st_, "SUCCESS", None, 0, p, o) for i, (s, p, o, st_) in enumerate(xs)])


@settings(max_examples=60)
@given(docs)
def test_a_run_is_equal_to_itself(steps):
    c = compare_runs(steps, steps)
    assert c.parity.is_parity and all(r.kind is RowKind.EQUAL for r in c.rows)


@settings(max_examples=60)
@given(docs, docs)
def test_alignment_covers_each_step_once_in_order_and_the_verdict_is_symmetric(a, b):
    ab, ba = compare_runs(a, b), compare_runs(b, a)
    for c, n_left, n_right in ((ab, len(a), len(b)), (ba, len(b), len(a))):
        # every step exactly once, in order on both sides (difflib may pick a different but equally
        # long alignment in each direction, so rows themselves are not mirrored)
        assert [r.left for r in c.rows if r.left is not None] == list(range(n_left))
        assert [r.right for r in c.rows if r.right is not None] == list(range(n_right))
    assert ab.parity.is_parity == ba.parity.is_parity
    assert ab.parity.divergence_step == ba.parity.divergence_step
    assert (ab.first_divergence is None) == (ba.first_divergence is None)


# pairs of numbers JSON calls equal or nearly so, written differently by json.dumps or not
number_pairs = st.sampled_from([(1, 1), (1, 1.0), (1.0, 1.0), (0, -0.0), (0.0, -0.0), (2.5, 2.5000001),
                                (2.5, 2.5), (10**20, 1e20), (True, 1), (2, 3)])
pair_docs = st.lists(st.tuples(st.dictionaries(st.sampled_from(["x", "y"]), number_pairs, max_size=2),
                               st.lists(number_pairs, max_size=2)), max_size=4)


@settings(max_examples=100)
@given(pair_docs)
def test_an_equal_row_without_a_reason_has_equal_hashes(steps):
    # "the view always says which rules made two steps equal": an equal row with nothing absorbed
    # is one every upstream hash also calls equal.
    left = [doc(i, params={k: a for k, (a, _) in p.items()}, out=[a for a, _ in o]) for i, (p, o) in enumerate(steps)]
    right = [doc(i, params={k: b for k, (_, b) in p.items()}, out=[b for _, b in o]) for i, (p, o) in enumerate(steps)]
    c = compare_runs(left, right)
    for r in c.rows:
        if r.kind is RowKind.EQUAL and not r.absorbed:
            assert c.left_hashes[r.left].determinism == c.right_hashes[r.right].determinism
            assert c.left_hashes[r.left].output == c.right_hashes[r.right].output


@settings(max_examples=40)
@given(docs, docs, st.lists(st.sampled_from(["/outcome_data/r", "/params/*", "/status", "/outcome_data"]),
                            max_size=2))
def test_changing_only_the_rules_equals_comparing_again(a, b, pointers):
    rules = [IgnoreRule(p) for p in pointers]
    again = compare_runs(a, b, rules=rules)
    reused = compare_runs(a, b).with_rules(rules)
    assert reused.rows == again.rows and reused.notes == again.notes and reused.parity == again.parity
    assert reused.rules == again.rules
