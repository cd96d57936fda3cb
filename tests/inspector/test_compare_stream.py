"""The streamed comparison says what the in-memory one says (verdict, rows, notes, hashes, JSON) on
hand-built runs, generated long runs with divergences and real SQLite runs, while holding only the
differing steps' documents."""

from __future__ import annotations

import json
import math
import random
import weakref
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.compare import IgnoreRule, StepDoc, compare_runs, step_doc
from inspector.compare_stream import (
    compare_streams,
    digest_steps,
    fast_determinism_canonical,
)
from inspector.hashing import determinism_canonical, hash_output, step_determinism_hash
from inspector.model import Payload, Step, StepRow
from tests.inspector.test_compare import docs, golden_docs, number_pairs


def as_step(d: StepDoc) -> Step:
    """A source's Step for a StepDoc (payloads as stored text, as the SQLite reader gives them)."""
    row = StepRow(0, "r", d.step_index, d.skill_name, d.status, d.outcome_category, d.outcome_code, d.cost_cents,
                  d.duration_ms, d.retry_count, d.timestamp)
    return Step(row, Payload.from_value(d.params), Payload.from_value(d.outcome_data), output_hash=d.output_hash)


def streamed(a, b, rules=(), *, steps=True, make_doc=step_doc):
    if steps:
        sa, sb = [as_step(d) for d in a], [as_step(d) for d in b]
        return compare_streams(lambda: iter(sa), lambda: iter(sb), rules=rules, make_doc=make_doc)
    return compare_streams(lambda: iter(a), lambda: iter(b), rules=rules, make_doc=lambda d: d)


def assert_same(a, b, rules=()):
    want = compare_runs(a, b, rules=rules)
    for steps in (True, False):
        got = streamed(a, b, rules, steps=steps)
        assert got.parity == want.parity
        assert got.aligned_by == want.aligned_by
        assert list(got.rows) == list(want.rows)
        assert got.notes == want.notes and got.counts() == want.counts()
        assert got.first_divergence == want.first_divergence and got.parity_broken == want.parity_broken
        assert list(got.left_hashes) == list(want.left_hashes) and list(got.right_hashes) == list(want.right_hashes)
        assert got.as_json() == want.as_json()
        extra = {"left": {"steps": len(a)}, "parity_broken": want.parity_broken}
        text = "".join(got.json_chunks(extra))
        whole = json.dumps(dict(want.as_json(), **extra), ensure_ascii=False)
        # The same text as one json.dumps, but that a part holding a lone surrogate (which UTF-8
        # cannot carry to stdout) is written with ASCII escapes: the same JSON value.
        if text != whole:
            assert any(0xD800 <= ord(c) <= 0xDFFF for c in whole)
            assert json.dumps(json.loads(text), ensure_ascii=False) == whole
        text.encode("utf-8")
        assert got.difference_rows() == [i for i, r in enumerate(want.rows) if r.kind.value != "equal"]
        # a differing row keeps both steps in full, for the detail view and other rules
        for r in got.details.values():
            assert got.left[r.left] == want.left[r.left] and got.right[r.right] == want.right[r.right]
    return want


def doc(i, skill="s", *, params=None, out=None, status="success", retry=0):
    return StepDoc(i, skill, status, "SUCCESS", None, retry, {"i": i} if params is None else params,
                   {"v": i} if out is None else out)


def test_the_golden_trace_and_its_variants():
    g = golden_docs()
    assert_same(g, g)
    r = list(g)
    r[1] = replace(r[1], params={"input": {"x": 3.1415926, "y": 2.71828182}},
                   outcome_data={"transformed": True, "sum": 5.859874471})
    c = assert_same(g, r)
    assert c.rows[1].equal_by == ("floats equal to 6 decimal places",)
    r[0] = replace(r[0], status="failure", retry_count=2)
    assert assert_same(g, r).parity.divergence_reason.startswith("status: TraceStatus.SUCCESS")
    assert_same(g, r[:1])
    assert_same([], g)
    assert_same([], [])


def long_run(n, seed):
    rng = random.Random(seed)
    return [doc(i, rng.choice("abcd"), params={"x": rng.random(), "k": [1, 2]}, out={"v": rng.randrange(9)})
            for i in range(n)]


def mutate(run, seed):
    """Inserted, removed and changed steps, retries, a float spelled differently, renumbered."""
    rng = random.Random(seed)
    out = list(run)
    renumber = rng.random() < 0.5
    for _ in range(rng.randrange(1, 5)):
        k = rng.randrange(len(out))
        what = rng.randrange(6)
        if what == 0:
            out.insert(k, doc(0, "new"))
            renumber = True  # a source gives each index once, in order
        elif what == 1:
            del out[k]
        elif what == 2:
            out[k] = replace(out[k], outcome_data={"v": -1})
        elif what == 3:
            out[k] = replace(out[k], retry_count=3, status="retry")
        elif what == 4:
            out[k] = replace(out[k], params=dict(out[k].params, x=out[k].params["x"] + 1e-9, k=[1.0, 2]))
        else:
            out[k] = replace(out[k], params=dict(out[k].params, ts=rng.random()))
    if renumber:
        out = [replace(d, step_index=i) for i, d in enumerate(out)]
    return out


def test_generated_long_runs_with_divergences():
    for seed in range(12):
        base = long_run(300, seed)
        other = mutate(base, seed)
        assert_same(base, other)
        assert_same(other, base, rules=[IgnoreRule("/params/ts"), IgnoreRule("/outcome_data/v")])


def test_rules_applied_afterwards_equal_comparing_again():
    base = long_run(200, 3)
    other = mutate(base, 5)
    rules = [IgnoreRule("/params/*"), IgnoreRule("/status")]
    again = compare_runs(base, other, rules=rules)
    reused = streamed(base, other).with_rules(rules)
    assert list(reused.rows) == list(again.rows) and reused.notes == again.notes
    assert reused.parity_broken == again.parity_broken


@settings(max_examples=60, deadline=None)
@given(docs, docs)
def test_any_two_small_runs(a, b):
    assert_same(a, b)
    assert_same(a, b, rules=[IgnoreRule("/outcome_data/r")])


pair_runs = st.lists(st.tuples(st.dictionaries(st.sampled_from(["x", "y"]), number_pairs, max_size=2),
                               st.lists(number_pairs, max_size=2)), max_size=4)


@settings(max_examples=60, deadline=None)
@given(pair_runs)
def test_numbers_json_spells_differently(steps):
    left = [doc(i, params={k: a for k, (a, _) in p.items()}, out=[a for a, _ in o]) for i, (p, o) in enumerate(steps)]
    right = [doc(i, params={k: b for k, (_, b) in p.items()}, out=[b for _, b in o]) for i, (p, o) in enumerate(steps)]
    assert_same(left, right)


def test_hostile_values_compare_as_in_memory():
    nan = float("nan")
    left = [doc(0, params={"n": nan}), doc(1, out={"s": "\ud800"}), doc(2, params={"big": 10**200}),
            doc(3, status=None, retry=None), doc(4, params={"inf": math.inf})]
    right = [doc(0, params={"n": nan}), doc(1, out={"s": "\ud800"}), doc(2, params={"big": 10**200}),
             doc(3, status=None, retry=None), doc(4, params={"inf": math.inf})]
    assert_same(left, right)
    assert_same(left, [replace(d, step_index=i) for i, d in enumerate(right[::-1])])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(json_values, st.one_of(st.none(), st.text(max_size=3), st.integers()), json_values,
       st.one_of(st.none(), st.integers(), st.floats()))
def test_the_fast_canonical_text_is_upstreams(params, skill, status, retry):
    fields = {"step_index": 3, "skill_name": skill, "params": params, "status": status,
              "outcome_category": "SUCCESS", "outcome_code": None, "retry_count": retry}
    text, params_text = fast_determinism_canonical(3, skill, params, status, "SUCCESS", None, retry)
    assert text == determinism_canonical(fields)
    assert params_text == json.dumps(params, sort_keys=True)
    d = digest_steps([StepDoc(3, skill, status, "SUCCESS", None, retry, params, params)], make_doc=lambda s: s)
    assert d.det_hex(0) == step_determinism_hash(fields) and d.out_hex(0) == hash_output(params)


def test_the_spec_vector_is_kept():
    d = digest_steps(golden_docs(), make_doc=lambda s: s)
    assert d.det_hex(1) == "59ecfd8faa2f42a6" and d.out_hex(1) == "230d0e63002ac53d"


class _Counted:
    """A StepDoc factory that knows how many of the documents it made are alive at once."""

    def __init__(self) -> None:
        self.alive = 0
        self.most = 0
        self.made = 0

    def _gone(self) -> None:
        self.alive -= 1

    def __call__(self, step) -> StepDoc:
        d = _TrackedDoc(*(getattr(step_doc(step), f) for f in StepDoc.__dataclass_fields__))
        self.made += 1
        self.alive += 1
        self.most = max(self.most, self.alive)
        weakref.finalize(d, self._gone)
        return d


class _TrackedDoc(StepDoc):  # not slotted: can be weakly referenced
    pass


def test_two_long_runs_never_hold_more_than_the_differing_steps():
    n = 20_000
    rng = random.Random(1)
    left = [doc(i, rng.choice("abc"), params={"x": i}, out={"v": i % 7}) for i in range(n)]
    right = list(left)
    right[100] = replace(right[100], outcome_data={"v": -1})
    del right[n // 2]
    right = [replace(d, step_index=i) for i, d in enumerate(right)]  # renumbered: aligned by skill names
    sa, sb = [as_step(d) for d in left], [as_step(d) for d in right]

    def gen(steps):
        yield from steps

    counter = _Counted()
    c = compare_streams(lambda: gen(sa), lambda: gen(sb), make_doc=counter)
    assert c.counts() == {"equal": n - 2, "changed": 1, "only-left": 1, "only-right": 0}
    assert counter.made >= 2 * n  # every step was read
    assert counter.most <= 4  # the two kept (the changed pair) and the one being digested per side
    assert len(c.details) == 1
    # the in-memory path holds every step
    assert c.as_json() == compare_runs([step_doc(s) for s in sa], [step_doc(s) for s in sb]).as_json()
