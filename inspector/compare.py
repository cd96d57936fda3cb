"""Comparing a run with its replay, offline: upstream's verdict, an alignment of both step lists,
and field-level differences that say which rules made two steps "equal".

* **Verdict**: upstream's ``compare_traces`` (``inspector.hashing``) over both step lists in
  ``step_index`` order, untouched: signatures, ``divergence_step`` (a position in zip order) and the
  reason text.
* **Alignment**: by ``step_index`` when both runs have the same indexes; otherwise (a replay added
  or dropped steps) by a sequence alignment on skill names, so later steps still line up. Common
  prefixes and suffixes are matched first, which keeps 100k-step runs with a few inserted or dropped
  steps fast; only the differing middle goes through ``difflib``.
* **Rows**: ``equal``, ``changed``, ``only-left``, ``only-right``. A pair of steps is compared field
  by field (``skill_name``, ``status``, ``outcome_category``, ``outcome_code``, ``retry_count``,
  ``params`` and ``outcome_data`` by JSON pointer). Differences the rules absorb are kept and named:
  floats equal once rounded to 6 places (upstream's determinism rounding), and user rules that
  ignore fields (``/outcome_data/request_id``, ``/params/*/ts``). Cost, duration and timestamps are
  audit fields: never compared, as in every upstream hash.
* **Hashes** of each side under every convention that applies: the step determinism hash (16 hex),
  replay ``hash_output`` of the outcome (16 hex), and the SDK ``output_hash`` where one is stored.

Pure: no database, no Qt.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspector.hashing import (
    DETERMINISM_FIELDS,
    ParityResult,
    TraceStatus,
    compare_traces,
    hash_output,
    step_determinism_hash,
)
from inspector.ledger import StateChange, json_pointer, split_pointer, state_diff
from inspector.model import MISSING

__all__ = [
    "AUDIT_FIELDS",
    "COMPARED_FIELDS",
    "USER_RULE",
    "Absorbed",
    "AlignedRow",
    "Comparison",
    "IgnoreRule",
    "RowKind",
    "RunSide",
    "SideHashes",
    "StepDoc",
    "compare_runs",
    "load_side",
    "original_of",
    "step_doc",
]

#: Scalar fields compared between aligned steps (params and outcome_data are diffed by pointer).
COMPARED_FIELDS = ("skill_name", "status", "outcome_category", "outcome_code", "retry_count")
#: Audit fields: shown, never compared (no upstream hash covers them).
AUDIT_FIELDS = ("cost_cents", "duration_ms", "timestamp")
#: How an :class:`Absorbed` change ignored by a user's :class:`IgnoreRule` starts its ``rule``.
USER_RULE = "ignored by user rule"
#: Beyond this many steps in the differing middle, skill-name alignment falls back to position.
_MAX_ALIGN_MIDDLE = 20_000


class RowKind(enum.StrEnum):
    EQUAL = "equal"
    CHANGED = "changed"
    ONLY_LEFT = "only-left"
    ONLY_RIGHT = "only-right"


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """A user rule: differences at this JSON pointer (or below it) do not count. A ``*`` token
    matches any key or index: ``/outcome_data/items/*/id``. Pointers are into the step document
    ``{"skill_name", "status", …, "params", "outcome_data"}``."""

    pointer: str

    def __post_init__(self) -> None:
        if self.pointer == "":
            # RFC 6901's pointer to the whole document: every pair would be equal (and an unset
            # variable in `--ignore "$RULE"` would make a broken replay pass).
            raise ValueError("an empty pointer names the whole step: it would make every pair equal")
        split_pointer(self.pointer)  # raises ValueError for a malformed pointer

    def matches(self, pointer: str) -> bool:
        rule = split_pointer(self.pointer)
        path = split_pointer(pointer)
        if len(path) < len(rule):
            return False
        return all(r == "*" or r == p for r, p in zip(rule, path, strict=False))


@dataclass(frozen=True, slots=True)
class StepDoc:
    """One step as the comparison reads it (built from a source's ``Step`` by :func:`step_doc`)."""

    step_index: int
    skill_name: str | None
    status: Any
    outcome_category: str | None
    outcome_code: str | None
    retry_count: int | None
    params: Any
    outcome_data: Any
    output_hash: str | None = None
    cost_cents: float | None = None
    duration_ms: float | None = None
    timestamp: str | None = None
    idempotency_key: str | None = None
    replay_behavior: str | None = None

    def determinism_fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in DETERMINISM_FIELDS}

    def document(self) -> dict[str, Any]:
        """The compared part of the step, as one JSON document (what ignore rules point into)."""
        out = {k: getattr(self, k) for k in COMPARED_FIELDS}
        out["params"] = self.params
        out["outcome_data"] = self.outcome_data
        return out


def _payload_value(payload: Any, default: Any) -> Any:
    """A source payload as upstream would hash it: the parsed value; the stored text when it is not
    JSON; ``default`` when absent (SQLite stores an empty dict as NULL)."""
    value = getattr(payload, "value", payload)
    if value is MISSING:
        raw = getattr(payload, "raw", None)
        return default if raw is None else raw
    return value


def step_doc(step: Any) -> StepDoc:
    """A source's ``inspector.model.Step`` as a :class:`StepDoc` (raw status kept: a worker's
    ``succeeded`` is not upstream's ``success``, and the hash covers what was stored)."""
    row = step.row
    return StepDoc(
        step_index=row.step_index, skill_name=row.skill_name, status=row.status_raw,
        outcome_category=row.outcome_category, outcome_code=row.outcome_code, retry_count=row.retry_count,
        params=_payload_value(step.params, {}), outcome_data=_payload_value(step.outcome_data, None),
        output_hash=step.output_hash, cost_cents=row.cost_cents, duration_ms=row.duration_ms,
        timestamp=row.timestamp, idempotency_key=step.idempotency_key, replay_behavior=step.replay_behavior,
    )


@dataclass(frozen=True, slots=True)
class SideHashes:
    determinism: str
    output: str
    #: The SDK ``output_hash`` stored with the step (compact-JSON convention), if any.
    stored_output: str | None = None


@dataclass(frozen=True, slots=True)
class Absorbed:
    """A difference that did not count, and the rule that absorbed it."""

    change: StateChange
    rule: str


@dataclass(frozen=True, slots=True)
class AlignedRow:
    kind: RowKind
    left: int | None  # position in the left step list
    right: int | None
    differences: tuple[StateChange, ...] = ()
    absorbed: tuple[Absorbed, ...] = ()

    @property
    def equal_by(self) -> tuple[str, ...]:
        """The rules that made this pair equal (or hid some of its differences)."""
        return tuple(dict.fromkeys(a.rule for a in self.absorbed))


@dataclass(frozen=True, slots=True)
class Comparison:
    left: tuple[StepDoc, ...]
    right: tuple[StepDoc, ...]
    parity: ParityResult
    rows: tuple[AlignedRow, ...]
    left_hashes: tuple[SideHashes, ...]
    right_hashes: tuple[SideHashes, ...]
    rules: tuple[IgnoreRule, ...] = ()
    aligned_by: str = "step_index"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def first_divergence(self) -> int | None:
        """The first row that is not ``equal`` (our alignment), or None."""
        return next((i for i, r in enumerate(self.rows) if r.kind is not RowKind.EQUAL), None)

    def counts(self) -> dict[str, int]:
        out = {k.value: 0 for k in RowKind}
        for r in self.rows:
            out[r.kind.value] += 1
        return out

    @property
    def parity_broken(self) -> bool:
        """``diff``'s exit 1 and the Compare window's headline: an aligned row differs, or upstream's
        verdict fails and no user rule absorbed a difference in a field its signature hashes (a
        rule that did — a timestamp in params — leaves the aligned rows to decide, since upstream's
        signature cannot ignore fields; one that only ignored outputs explains nothing of it)."""
        if any(r.kind is not RowKind.EQUAL for r in self.rows):
            return True
        if self.parity.is_parity:
            return False
        return not any(a.rule.startswith(USER_RULE) and split_pointer(a.change.pointer)[:1] != ("outcome_data",)
                       for r in self.rows for a in r.absorbed)

    def with_rules(self, rules: Sequence[IgnoreRule]) -> Comparison:
        """The same comparison under other ignore rules: hashes, upstream's verdict and the
        alignment are kept (rules cannot change them); only the paired rows are compared again."""
        rows = []
        for r in self.rows:
            if r.left is None or r.right is None:
                rows.append(r)
            else:
                rows.append(_pair(self.left[r.left], self.right[r.right], self.left_hashes[r.left],
                                  self.right_hashes[r.right], rules, r.left, r.right))
        rows_t = tuple(rows)
        notes = _notes(self.parity, rows_t, self.left, self.right, self.left_hashes, self.right_hashes)
        return Comparison(self.left, self.right, self.parity, rows_t, self.left_hashes, self.right_hashes,
                          tuple(rules), self.aligned_by, notes)

    def rules_in_force(self) -> list[str]:
        """What "equal" means here, for the view and ``--json``."""
        out = [
            ("floats in params and outcomes are equal when they round to the same 6 decimal places "
             "(upstream's determinism rounding)"),
            "compared: " + ", ".join((*COMPARED_FIELDS, "params", "outcome_data")),
            "not compared (audit fields, in no upstream hash): " + ", ".join(AUDIT_FIELDS),
            "step determinism hash covers " + ", ".join(DETERMINISM_FIELDS) + " (floats rounded to 6 places)",
            "replay hash_output covers outcome_data (sorted keys, default separators)",
        ]
        out += [f"ignored by user rule: {r.pointer}" for r in self.rules]
        return out

    def row_json(self, row: AlignedRow) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": row.kind.value}
        for side, pos, docs, hashes in (("left", row.left, self.left, self.left_hashes),
                                        ("right", row.right, self.right, self.right_hashes)):
            if pos is None:
                out[side] = None
                continue
            h = hashes[pos]
            out[side] = {"position": pos, "step_index": docs[pos].step_index, "skill_name": docs[pos].skill_name,
                         "determinism_hash": h.determinism, "output_hash": h.output,
                         "stored_output_hash": h.stored_output}
        if row.kind is not RowKind.EQUAL or row.absorbed:
            out["differences"] = [_change_json(c) for c in row.differences]
            out["absorbed"] = [dict(_change_json(a.change), rule=a.rule) for a in row.absorbed]
        return out

    def head_json(self) -> dict[str, Any]:
        """:meth:`as_json` without its rows."""
        out = self.parity.as_json()
        first = self.first_divergence
        out.update({
            "aligned_by": self.aligned_by,
            "first_divergence_row": first,
            "first_divergence": self.row_json(self.rows[first]) if first is not None else None,
            "counts": self.counts(),
            "rules": self.rules_in_force(),
            "notes": list(self.notes),
        })
        return out

    def as_json(self) -> dict[str, Any]:
        """Upstream's ``ParityResult`` keys first (upstream's values), then ours."""
        out = self.head_json()
        out["rows"] = [self.row_json(r) for r in self.rows]
        return out


def _json_safe(v: Any) -> Any:
    return None if v is MISSING else v


def _change_json(c: StateChange) -> dict[str, Any]:
    out: dict[str, Any] = {"pointer": c.pointer, "op": c.op}
    if c.before is not MISSING:
        out["left"] = _json_safe(c.before)
    if c.after is not MISSING:
        out["right"] = _json_safe(c.after)
    return out


def _rounds_equal(a: Any, b: Any) -> bool:
    """Two floats upstream's determinism rounding makes equal. Only floats: rounding leaves an
    int an int, so 1 and 1.0000001 still hash differently (``1`` vs ``1.0``)."""
    if not (isinstance(a, float) and isinstance(b, float)):
        return False
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return round(a, 6) == round(b, 6)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _spelling_changes(a: Any, b: Any) -> list[StateChange]:
    """Numbers JSON calls equal that ``json.dumps`` writes differently (``1`` and ``1.0``,
    ``1e20`` and ``10**20``, ``-0.0`` and ``0.0``): ``state_diff`` reports none of them, every
    upstream hash sees them. Walks the parts of both documents that have the same shape."""
    try:
        if json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True):
            return []  # the same text: every number written alike (the common case, in C)
    except (TypeError, ValueError):
        pass
    out: list[StateChange] = []
    stack: list[tuple[Any, Any, tuple[str | int, ...]]] = [(a, b, ())]
    while stack:
        x, y, path = stack.pop()
        if isinstance(x, dict) and isinstance(y, dict):
            stack.extend((x[k], y[k], (*path, k)) for k in reversed(list(x)) if k in y)
        elif isinstance(x, list) and isinstance(y, list):
            stack.extend((x[i], y[i], (*path, i)) for i in reversed(range(min(len(x), len(y)))))
        elif (_is_number(x) and _is_number(y) and x == y
              and json.dumps(x) != json.dumps(y)):
            out.append(StateChange(json_pointer(path), "changed", x, y))
    return out


def _hashes(d: StepDoc) -> SideHashes:
    return SideHashes(step_determinism_hash(d.determinism_fields()), hash_output(d.outcome_data), d.output_hash)


def _pair(a: StepDoc, b: StepDoc, ha: SideHashes, hb: SideHashes, rules: Sequence[IgnoreRule],
          li: int, ri: int) -> AlignedRow:
    if (ha.determinism == hb.determinism and ha.output == hb.output and a.params == b.params
            and a.outcome_data == b.outcome_data and all(getattr(a, f) == getattr(b, f) for f in COMPARED_FIELDS)):
        # Python equality can call 1 and True equal; the hashes (JSON text) cannot: both agree here.
        return AlignedRow(RowKind.EQUAL, li, ri)
    counted, absorbed = [], []
    if a.step_index != b.step_index:
        # only when aligned by skill names; the step determinism hash covers the index, the row does not
        absorbed.append(Absorbed(StateChange("/step_index", "changed", a.step_index, b.step_index),
                                 "aligned by skill names: step indexes differ"))
    da, db = a.document(), b.document()
    for change in (*state_diff(da, db), *_spelling_changes(da, db)):
        rule = next((r for r in rules if r.matches(change.pointer)), None)
        if rule is not None:
            absorbed.append(Absorbed(change, f"{USER_RULE} {rule.pointer}"))
        elif change.op == "changed" and _rounds_equal(change.before, change.after):
            absorbed.append(Absorbed(change, "floats equal to 6 decimal places"))
        else:
            counted.append(change)
    kind = RowKind.CHANGED if counted else RowKind.EQUAL
    return AlignedRow(kind, li, ri, tuple(counted), tuple(absorbed))


def _align_keys(ls: Sequence[Any], rs: Sequence[Any]) -> tuple[list[tuple], str]:
    """Skill-name alignment as segments: ``("pair", i, j, n)`` (left i.. with right j..),
    ``("left", i, n)`` and ``("right", j, n)``, in row order; and how they were made."""
    n, m = len(ls), len(rs)
    pre = 0
    while pre < n and pre < m and ls[pre] == rs[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and suf < m - pre and ls[n - 1 - suf] == rs[m - 1 - suf]:
        suf += 1
    segs: list[tuple] = [("pair", 0, 0, pre)]
    lo_l, hi_l, lo_r, hi_r = pre, n - suf, pre, m - suf
    how = "skill names (a sequence alignment: the runs have different step indexes)"

    def replace(i1: int, i2: int, j1: int, j2: int) -> None:
        common = min(i2 - i1, j2 - j1)
        segs.extend((("pair", i1, j1, common), ("left", i1 + common, i2 - i1 - common),
                     ("right", j1 + common, j2 - j1 - common)))

    if (hi_l - lo_l) + (hi_r - lo_r) > _MAX_ALIGN_MIDDLE:
        # too large a middle for difflib in interactive time: line it up by position
        how = "position (the differing middle is too large to align by skill names)"
        replace(lo_l, hi_l, lo_r, hi_r)
    else:
        matcher = difflib.SequenceMatcher(None, ls[lo_l:hi_l], rs[lo_r:hi_r], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            i1, i2, j1, j2 = i1 + lo_l, i2 + lo_l, j1 + lo_r, j2 + lo_r
            if tag == "equal":
                segs.append(("pair", i1, j1, i2 - i1))
            elif tag == "replace":
                replace(i1, i2, j1, j2)
            elif tag == "delete":
                segs.append(("left", i1, i2 - i1))
            else:
                segs.append(("right", j1, j2 - j1))
    segs.append(("pair", n - suf, m - suf, suf))
    return [s for s in segs if s[-1] > 0], how


def _align(left: Sequence[StepDoc], right: Sequence[StepDoc]) -> tuple[list[tuple[int | None, int | None]], str]:
    """Pairs of positions (None on the side a step is missing from) and how they were made."""
    li = [d.step_index for d in left]
    ri = [d.step_index for d in right]
    if li == ri:
        return list(zip(range(len(left)), range(len(right)), strict=True)), "step_index"
    segs, how = _align_keys([d.skill_name for d in left], [d.skill_name for d in right])
    pairs: list[tuple[int | None, int | None]] = []
    for seg in segs:
        if seg[0] == "pair":
            pairs += [(seg[1] + k, seg[2] + k) for k in range(seg[3])]
        elif seg[0] == "left":
            pairs += [(seg[1] + k, None) for k in range(seg[2])]
        else:
            pairs += [(None, seg[1] + k) for k in range(seg[2])]
    return pairs, how


def _notes(parity: ParityResult, rows: Sequence[AlignedRow], lsteps: Sequence[StepDoc], rsteps: Sequence[StepDoc],
           lh: Sequence[SideHashes], rh: Sequence[SideHashes]) -> tuple[str, ...]:
    """What the view and ``--json`` say beside the verdict (some depend on the rules in force)."""
    stored = [(a.stored_output, a.output, b.stored_output) for a, b in zip(lh, rh, strict=False)
              if a.stored_output and b.stored_output]
    return _notes_from(parity, all(r.kind is RowKind.EQUAL for r in rows),
                       [d.status for d in (*lsteps, *rsteps)], stored)


def _notes_from(parity: ParityResult, ours_equal: bool, statuses: Iterable[Any],
                stored: Sequence[tuple[str, str, str]]) -> tuple[str, ...]:
    """The notes from what they depend on: whether every row is equal, the statuses seen, and
    (left stored, left hash_output, right stored) where both sides stored an output hash."""
    notes: list[str] = []
    if parity.is_parity and not ours_equal:
        notes.append("upstream's signature says parity: it does not cover outcome_data, which differs")
    if not parity.is_parity and ours_equal:
        notes.append("equal under the rules in force, but upstream's signature differs (its hashes cover "
                     "fields the rules ignore or round)")
    trace_statuses = {t.value for t in TraceStatus}
    foreign = sorted({str(s) for s in statuses
                      if s is not None and str(getattr(s, "value", s)) not in trace_statuses})
    if foreign:
        notes.append("statuses outside upstream's TraceStatus (" + ", ".join(foreign) + ") are compared as "
                     "stored; upstream's Postgres get_trace reads every unknown status as success, so its own "
                     "comparison would miss a step that failed")
    if any(a != out for a, out, _ in stored):
        notes.append("stored output hashes use the SDK's compact JSON convention; they never equal "
                     "replay hash_output values")
    return tuple(notes)


def compare_runs(left: Iterable[StepDoc], right: Iterable[StepDoc], *,
                 rules: Sequence[IgnoreRule] = (), python: tuple[int, int] = (3, 11)) -> Comparison:
    """Compare two runs' steps (each in ``step_index`` order)."""
    lsteps = tuple(sorted(left, key=lambda d: d.step_index))
    rsteps = tuple(sorted(right, key=lambda d: d.step_index))
    lh = tuple(_hashes(d) for d in lsteps)
    rh = tuple(_hashes(d) for d in rsteps)
    parity = compare_traces([d.determinism_fields() for d in lsteps], [d.determinism_fields() for d in rsteps],
                            python=python, original_hashes=[h.determinism for h in lh],
                            replay_hashes=[h.determinism for h in rh])
    pairs, how = _align(lsteps, rsteps)
    rows = []
    for i, j in pairs:
        if i is None:
            rows.append(AlignedRow(RowKind.ONLY_RIGHT, None, j))
        elif j is None:
            rows.append(AlignedRow(RowKind.ONLY_LEFT, i, None))
        else:
            rows.append(_pair(lsteps[i], rsteps[j], lh[i], rh[j], rules, i, j))
    notes = _notes(parity, tuple(rows), lsteps, rsteps, lh, rh)
    return Comparison(lsteps, rsteps, parity, tuple(rows), lh, rh, tuple(rules), how, notes)


@dataclass(frozen=True, slots=True)
class RunSide:
    """One side of a comparison: where the run came from, its summary and its steps."""

    location: str
    summary: Any  # inspector.model.RunSummary
    steps: tuple[StepDoc, ...]


def load_side(source: Any, run_ref: str) -> RunSide:
    """A run's steps from a source (``TraceSource``): a run id, or on Postgres a trace id (a run id
    picks its newest trace, as upstream's ``get_trace`` does). Streams the steps once."""
    record = source.get_run(run_ref)
    docs = tuple(step_doc(s) for s in source.iter_steps(record.summary.key))
    return RunSide(source.info.location, record.summary, docs)


def original_of(source: Any, summary: Any) -> str:
    """The run id a replay names in ``metadata.replay_of``; UsageError when it names none."""
    from inspector.errors import UsageError

    if not getattr(summary, "replay_of", None):
        raise UsageError(f"run {summary.run_id!r} is not a replay (its metadata has no replay_of); "
                         "name the original run too")
    return summary.replay_of
