"""The comparison of :mod:`inspector.compare`, streamed: each run is read once in ``step_index``
order and digested as it goes; only what the alignment needs stays in memory.

A :class:`SideDigest` keeps, per step, the step index, interned skill / status / code / retry
values, the determinism and ``hash_output`` digests (8 bytes each: the 16 hex upstream keeps), an
8-byte digest of ``params`` as upstream's reason text compares it, and a 16-byte *fingerprint* of
everything the row comparison looks at (the compared fields and the stored ``params`` /
``outcome_data`` text). No ``StepDoc`` survives the step that made it: about 70 bytes a step.

:func:`compare_digests` then gives the same :class:`~inspector.compare.Comparison` as
``compare_runs`` over the same steps (verdict, alignment, rows, notes, hashes), without the steps:

* upstream's verdict and reason come from the digests alone (``compare_traces``'s reason compares
  skill, status, retries and the params JSON text, all kept);
* two aligned steps with the same fingerprint are equal (same stored text, hence the same parsed
  values and hashes), with the step-index difference absorbed when aligned by skill names: exactly
  what ``_pair`` says of them. Every other pair is *pending*: its two ``StepDoc``\\ s are fetched
  (a second streamed read keeping only those steps, or any ``fetch`` the caller gives) and
  compared by ``_pair`` itself. Only pending pairs' docs are kept (for ``with_rules`` and the
  detail view): the differing rows, which any report lists anyway.

The :class:`Comparison` made here holds compact columns; its ``rows``, ``left``, ``right``,
``left_hashes`` and ``right_hashes`` are read-only sequences that build each item when asked (a
step not kept reads as a :class:`StepDoc` whose ``params`` / ``outcome_data`` are ``MISSING``).

Pure: no database, no Qt.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspector.compare import (
    Absorbed,
    AlignedRow,
    Comparison,
    IgnoreRule,
    RowKind,
    SideHashes,
    StepDoc,
    _align_keys,
    _notes_from,
    _pair,
    _payload_value,
    step_doc,
)
from inspector.errors import CorruptSource
from inspector.fastjson import stdlib_dumps
from inspector.hashing import (
    EMPTY_SIGNATURE,
    ParityResult,
    _status_value,
    round_floats,
    status_text,
)
from inspector.ledger import StateChange
from inspector.model import MISSING, Step

__all__ = [
    "SideDigest",
    "StreamComparison",
    "collect_docs",
    "compare_digests",
    "compare_streams",
    "digest_side",
    "digest_steps",
    "fast_determinism_canonical",
    "plan_comparison",
]

_HEX = 8  # bytes of a 16-hex digest
_FP = 16
_NO_FP = bytes(_FP)  # a step without a fingerprint (NaN, odd types): always compared in full

# row kinds in the compact column
_K_EQUAL, _K_CHANGED, _K_LEFT, _K_RIGHT, _K_SHIFTED, _K_PENDING = range(6)
_KIND_OF = {_K_EQUAL: RowKind.EQUAL, _K_CHANGED: RowKind.CHANGED, _K_LEFT: RowKind.ONLY_LEFT,
            _K_RIGHT: RowKind.ONLY_RIGHT, _K_SHIFTED: RowKind.EQUAL}
_SHIFTED_RULE = "aligned by skill names: step indexes differ"

_SCALARS = (str, int, bool, type(None))
# json.dumps(x, sort_keys=True) builds this very encoder on each call; one made once writes the
# same text (upstream's conventions: default separators, ensure_ascii) without that cost.
_SORTED = json.JSONEncoder(sort_keys=True).encode
_SORTED_STR = json.JSONEncoder(sort_keys=True, default=str).encode  # replay hash_output
_STRICT = json.JSONEncoder(allow_nan=False).encode


def _has_float(value: Any) -> bool:
    """True when ``round_floats`` could change ``value`` (a float, or a type it would rebuild)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is int or t is bool or v is None:
            continue
        if t is dict:
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        else:
            return True  # a float, a tuple, a Mapping: take upstream's own path
    return False


def fast_determinism_canonical(step_index: Any, skill_name: Any, params: Any, status: Any, outcome_category: Any,
                               outcome_code: Any, retry_count: Any) -> tuple[str, str]:
    """``hashing.determinism_canonical`` of these fields (the same text, byte for byte), and the
    params JSON text upstream's reason compares. Params without floats are written once."""
    params_text = _SORTED(params)
    rounded_params = _SORTED(round_floats(params)) if _has_float(params) else params_text
    d = {"step_index": step_index, "skill_name": skill_name, "params": rounded_params,
         "status": _status_value(status), "outcome_category": outcome_category, "outcome_code": outcome_code,
         "retry_count": retry_count}
    for k in ("step_index", "skill_name", "status", "outcome_category", "outcome_code", "retry_count"):
        v = d[k]
        if not isinstance(v, _SCALARS):
            d[k] = round_floats(v)
    return _SORTED(d), params_text


def _payload_key(payload: Any) -> tuple[str, str]:
    """What a payload's value is made from, as text: (how, text). Equal keys give equal values."""
    value = getattr(payload, "value", payload)
    raw = getattr(payload, "raw", None)
    if value is MISSING:
        return ("absent", "") if raw is None else ("text", raw)
    if type(raw) is str:
        if "NaN" in raw:
            raise ValueError("NaN is never equal to itself")
        return "json", raw
    text = repr(value)  # a value given without its text: equal reprs of JSON-like values are equal values
    if "nan" in text:
        raise ValueError("NaN is never equal to itself")
    return "value", text


def _fingerprint(scalars: list[Any], params: Any, outcome_data: Any) -> bytes:
    """16 bytes over the compared fields and the payloads' stored text (length-prefixed, so no
    two different inputs run together); ``_NO_FP`` when that text cannot stand for the value."""
    try:
        h = hashlib.sha256(_STRICT(scalars).encode())
        for payload in (params, outcome_data):
            how, text = _payload_key(payload)
            data = text.encode("utf-8", "surrogatepass")
            h.update(f"\0{how}:{len(data)}:".encode())
            h.update(data)
    except (TypeError, ValueError, RecursionError):
        return _NO_FP
    return h.digest()[:_FP]


class _Interned:
    """Values as small ints (skill names, statuses, codes and retry counts repeat)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._ids: dict[tuple[type, Any], int] = {}

    def id(self, value: Any) -> int:
        try:
            key = (type(value), value)
            found = self._ids.get(key)
        except TypeError:  # unhashable: kept once per step
            self.values.append(value)
            return len(self.values) - 1
        if found is None:
            found = self._ids[key] = len(self.values)
            self.values.append(value)
        return found


@dataclass
class SideDigest:
    """One run, digested (see the module's docstring). Positions are in ``step_index`` order."""

    indexes: array = field(default_factory=lambda: array("q"))
    skills: array = field(default_factory=lambda: array("i"))
    statuses: array = field(default_factory=lambda: array("i"))
    codes: array = field(default_factory=lambda: array("i"))
    retries: array = field(default_factory=lambda: array("i"))
    det: bytearray = field(default_factory=bytearray)
    out: bytearray = field(default_factory=bytearray)
    params: bytearray = field(default_factory=bytearray)
    fp: bytearray = field(default_factory=bytearray)
    stored: dict[int, str] = field(default_factory=dict)
    values: list[Any] = field(default_factory=list)
    #: set when the source did not give steps in step_index order (they were sorted)
    resorted: bool = False

    def __len__(self) -> int:
        return len(self.indexes)

    def det_hex(self, pos: int) -> str:
        return self.det[pos * _HEX:(pos + 1) * _HEX].hex()

    def out_hex(self, pos: int) -> str:
        return self.out[pos * _HEX:(pos + 1) * _HEX].hex()

    def hashes(self, pos: int) -> SideHashes:
        return SideHashes(self.det_hex(pos), self.out_hex(pos), self.stored.get(pos))

    def skill(self, pos: int) -> Any:
        return self.values[self.skills[pos]]

    def status(self, pos: int) -> Any:
        return self.values[self.statuses[pos]]

    def light_doc(self, pos: int) -> StepDoc:
        """The step's kept fields; ``params`` and ``outcome_data`` read ``MISSING`` (not kept)."""
        v = self.values
        return StepDoc(self.indexes[pos], v[self.skills[pos]], v[self.statuses[pos]], None, v[self.codes[pos]],
                       v[self.retries[pos]], MISSING, MISSING, output_hash=self.stored.get(pos))

    def fp_at(self, pos: int) -> bytes:
        return bytes(self.fp[pos * _FP:(pos + 1) * _FP])


class _Digester:
    def __init__(self) -> None:
        self.d = SideDigest()
        self._values = _Interned()
        self.d.values = self._values.values
        self._last: int | None = None

    def add(self, step: Any, doc: StepDoc) -> None:
        self.add_fields(doc.step_index, doc.skill_name, doc.status, doc.outcome_category, doc.outcome_code,
                        doc.retry_count, doc.params, doc.outcome_data, doc.output_hash,
                        getattr(step, "params", doc.params), getattr(step, "outcome_data", doc.outcome_data))

    def add_step(self, step: Step) -> None:
        """``add(step, step_doc(step))`` without building the StepDoc (the same fields)."""
        row, p, o = step.row, step.params, step.outcome_data
        self.add_fields(row.step_index, row.skill_name, row.status_raw, row.outcome_category, row.outcome_code,
                        row.retry_count, _payload_value(p, {}), _payload_value(o, None), step.output_hash, p, o)

    def add_fields(self, step_index: Any, skill_name: Any, status: Any, outcome_category: Any, outcome_code: Any,
                   retry_count: Any, params: Any, outcome_data: Any, output_hash: Any, params_payload: Any,
                   outcome_payload: Any) -> None:
        d, iv = self.d, self._values.id
        if self._last is not None and not step_index > self._last:
            d.resorted = True
        self._last = step_index
        canonical, params_text = fast_determinism_canonical(
            step_index, skill_name, params, status, outcome_category, outcome_code, retry_count)
        d.indexes.append(step_index)
        d.skills.append(iv(skill_name))
        d.statuses.append(iv(status))
        d.codes.append(iv(outcome_code))
        d.retries.append(iv(retry_count))
        d.det += hashlib.sha256(canonical.encode()).digest()[:_HEX]
        out_text = "null" if outcome_data is None else _SORTED_STR(outcome_data)
        d.out += hashlib.sha256(out_text.encode()).digest()[:_HEX]
        d.params += hashlib.sha256(params_text.encode("utf-8", "surrogatepass")).digest()[:_HEX]
        d.fp += _fingerprint([skill_name, status, outcome_category, outcome_code, retry_count], params_payload,
                             outcome_payload)
        if output_hash is not None:
            d.stored[len(d.indexes) - 1] = output_hash


def digest_steps(steps: Iterable[Any], *, make_doc: Callable[[Any], StepDoc] = step_doc,
                 progress: Callable[[int], None] | None = None, every: int = 5000) -> SideDigest:
    """Digest a run's steps (source ``Step`` objects, in ``step_index`` order). ``progress(n)`` is
    called every ``every`` steps (it may raise to stop)."""
    dg = _Digester()
    n = 0
    fast = make_doc is step_doc
    for n, step in enumerate(steps, 1):
        if fast and type(step) is Step:
            dg.add_step(step)
        else:
            dg.add(step, make_doc(step))
        if progress is not None and n % every == 0:
            progress(n)
    if progress is not None:
        progress(n)
    if dg.d.resorted:
        raise CorruptSource("the source gave a run's steps out of step_index order (or repeated an index)")
    return dg.d


# -- the verdict --------------------------------------------------------------------------------


def _signature(d: SideDigest) -> str:
    if not len(d):
        return EMPTY_SIGNATURE
    h = hashlib.sha256()
    det = d.det
    n = len(d)
    # ":".join(hex) in chunks, so no million-string list is built
    chunk = 65536
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        text = ":".join(det[i * _HEX:(i + 1) * _HEX].hex() for i in range(start, stop))
        h.update(((":" if start else "") + text).encode())
    return h.hexdigest()[:32]


def _first_mismatch(a: bytes | bytearray, b: bytes | bytearray, width: int, n: int) -> int | None:
    """The first of the first ``n`` positions where two digest columns differ, or None."""
    ma, mb = memoryview(a)[:n * width], memoryview(b)[:n * width]
    if ma == mb:
        return None
    lo, hi = 0, n  # the answer is in [lo, hi): binary search on prefix equality
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ma[lo * width:mid * width] == mb[lo * width:mid * width]:
            lo = mid
        else:
            hi = mid
    return lo


def _parity(ld: SideDigest, rd: SideDigest, python: tuple[int, int]) -> ParityResult:
    osig, rsig = _signature(ld), _signature(rd)
    if osig == rsig:
        return ParityResult(True, osig, rsig)
    n = min(len(ld), len(rd))
    i = _first_mismatch(ld.det, rd.det, _HEX, n)
    if i is not None:
        reasons = []
        ls, rs = ld.skill(i), rd.skill(i)
        if ls != rs:
            reasons.append(f"skill: {ls} vs {rs}")
        lst, rst = ld.status(i), rd.status(i)
        if _status_value(lst) != _status_value(rst):
            reasons.append(f"status: {status_text(lst, python=python)} vs {status_text(rst, python=python)}")
        lr, rr = ld.values[ld.retries[i]], rd.values[rd.retries[i]]
        if lr != rr:
            reasons.append(f"retries: {lr} vs {rr}")
        if ld.params[i * _HEX:(i + 1) * _HEX] != rd.params[i * _HEX:(i + 1) * _HEX]:
            reasons.append("params differ")
        return ParityResult(False, osig, rsig, i, "; ".join(reasons) if reasons else "hash mismatch")
    if len(ld) != len(rd):
        return ParityResult(False, osig, rsig, n, f"step count: {len(ld)} vs {len(rd)}")
    return ParityResult(False, osig, rsig, None, "unknown divergence")


# -- the comparison -----------------------------------------------------------------------------


class _Rows(Sequence[AlignedRow]):
    def __init__(self, cmp: StreamComparison) -> None:
        self._c = cmp

    def __len__(self) -> int:
        return len(self._c._kinds)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self._c._row(i if i >= 0 else i + len(self))

    def __iter__(self) -> Iterator[AlignedRow]:
        row = self._c._row
        for i in range(len(self)):
            yield row(i)


class _Lazy(Sequence[Any]):
    """A sequence of a digest's steps made when asked for: ``make(pos)`` for each position."""

    def __init__(self, length: int, make: Callable[[int], Any]) -> None:
        self._n, self._make = length, make

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, pos):  # type: ignore[override]
        if isinstance(pos, slice):
            return [self[k] for k in range(*pos.indices(self._n))]
        pos = pos if pos >= 0 else pos + self._n
        if not 0 <= pos < self._n:
            raise IndexError(pos)
        return self._make(pos)


def _docs(digest: SideDigest, kept: Mapping[int, StepDoc]) -> _Lazy:
    """The steps of one side: those kept (compared in full), else light ones from the digest."""
    return _Lazy(len(digest), lambda pos: doc if (doc := kept.get(pos)) is not None else digest.light_doc(pos))


class StreamComparison(Comparison):
    """A :class:`Comparison` over two digests: compact columns (row kind, left and right position
    per row), the rows compared in full (``details``) and the steps they were compared from."""

    __slots__ = ("complete", "_details", "_kinds", "_kept_left", "_kept_right", "_ld", "_lpos", "_rd", "_rpos")

    def __init__(self, ld: SideDigest, rd: SideDigest, parity: ParityResult, kinds: bytearray, lpos: array,
                 rpos: array, details: dict[int, AlignedRow], kept_left: dict[int, StepDoc],
                 kept_right: dict[int, StepDoc], rules: Sequence[IgnoreRule], aligned_by: str, *,
                 complete: bool = True) -> None:
        own = {"complete": complete, "_ld": ld, "_rd": rd, "_kinds": kinds, "_lpos": lpos, "_rpos": rpos,
               "_details": details,
               "_kept_left": kept_left, "_kept_right": kept_right}
        for k, v in own.items():
            object.__setattr__(self, k, v)  # a frozen dataclass
        ours_equal = (kinds.count(_K_LEFT) == 0 and kinds.count(_K_RIGHT) == 0 and kinds.count(_K_CHANGED) == 0
                      and all(r.kind is RowKind.EQUAL for r in details.values()))
        notes = _notes_from(parity, ours_equal, _statuses(ld, rd), _stored_pairs(ld, rd))
        Comparison.__init__(self, _docs(ld, kept_left), _docs(rd, kept_right), parity, _Rows(self),
                            _Lazy(len(ld), ld.hashes), _Lazy(len(rd), rd.hashes), tuple(rules), aligned_by, notes)

    def _row(self, i: int) -> AlignedRow:
        k = self._kinds[i]
        if k == _K_PENDING:
            return self._details[i]
        lp, rp = self._lpos[i], self._rpos[i]
        lp_, rp_ = (None if lp < 0 else lp), (None if rp < 0 else rp)
        if k == _K_SHIFTED:
            a, b = self._ld.indexes[lp], self._rd.indexes[rp]
            return AlignedRow(RowKind.EQUAL, lp_, rp_, (),
                              (Absorbed(StateChange("/step_index", "changed", a, b), _SHIFTED_RULE),))
        return AlignedRow(_KIND_OF[k], lp_, rp_)

    def wanted(self, *, one_sided: int = 0) -> tuple[list[int], list[int]]:
        """The left and right positions (ascending) whose steps a plan still needs, and those of
        the first ``one_sided`` steps only in one run (kept for a detail view)."""
        rows = self._details.values() if not self.complete else ()
        left, right = {r.left for r in rows}, {r.right for r in rows}
        if one_sided:
            for code, pos, out in ((_K_LEFT, self._lpos, left), (_K_RIGHT, self._rpos, right)):
                at, n = self._kinds.find(bytes([code])), 0
                while at >= 0 and n < one_sided:
                    out.add(pos[at])
                    n += 1
                    at = self._kinds.find(bytes([code]), at + 1)
        return sorted(left), sorted(right)

    def completed(self, kept_left: Mapping[int, StepDoc], kept_right: Mapping[int, StepDoc]) -> StreamComparison:
        """The plan with its pending pairs compared field by field (``_pair``)."""
        kl, kr = dict(kept_left), dict(kept_right)
        details = {i: _pair(kl[r.left], kr[r.right], self._ld.hashes(r.left), self._rd.hashes(r.right), self.rules,
                            r.left, r.right) for i, r in self._details.items()}
        return StreamComparison(self._ld, self._rd, self.parity, self._kinds, self._lpos, self._rpos, details, kl, kr,
                                self.rules, self.aligned_by)

    @property
    def details(self) -> dict[int, AlignedRow]:
        """The rows compared field by field (every row that is not plainly equal), by row number."""
        return self._details

    @property
    def first_divergence(self) -> int | None:
        for i in sorted(self._details):
            if self._details[i].kind is not RowKind.EQUAL:
                first = i
                break
        else:
            first = None
        kinds = self._kinds
        for code in (_K_LEFT, _K_RIGHT):
            at = kinds.find(bytes([code]), 0, len(kinds) if first is None else first)
            if at >= 0:
                first = at if first is None else min(first, at)
        return first

    def counts(self) -> dict[str, int]:
        out = {k.value: 0 for k in RowKind}
        kinds = self._kinds
        out[RowKind.EQUAL.value] = kinds.count(_K_EQUAL) + kinds.count(_K_SHIFTED)
        out[RowKind.ONLY_LEFT.value] = kinds.count(_K_LEFT)
        out[RowKind.ONLY_RIGHT.value] = kinds.count(_K_RIGHT)
        for r in self._details.values():
            out[r.kind.value] += 1
        return out

    def difference_rows(self) -> list[int]:
        """Every row that is not equal, ascending."""
        out = [i for i, r in self._details.items() if r.kind is not RowKind.EQUAL]
        kinds = self._kinds
        for code in (_K_LEFT, _K_RIGHT):
            at = kinds.find(bytes([code]))
            while at >= 0:
                out.append(at)
                at = kinds.find(bytes([code]), at + 1)
        return sorted(out)

    @property
    def parity_broken(self) -> bool:
        if self.first_divergence is not None:
            return True
        if self.parity.is_parity:
            return False
        from inspector.compare import USER_RULE
        from inspector.ledger import split_pointer
        return not any(a.rule.startswith(USER_RULE) and split_pointer(a.change.pointer)[:1] != ("outcome_data",)
                       for r in self._details.values() for a in r.absorbed)

    def with_rules(self, rules: Sequence[IgnoreRule]) -> StreamComparison:
        if not self.complete:
            raise ValueError("a plan is compared under other rules once completed")
        details = {i: _pair(self._kept_left[r.left], self._kept_right[r.right], self._ld.hashes(r.left),
                            self._rd.hashes(r.right), rules, r.left, r.right)
                   for i, r in self._details.items()}
        return StreamComparison(self._ld, self._rd, self.parity, self._kinds, self._lpos, self._rpos, details,
                                self._kept_left, self._kept_right, rules, self.aligned_by)

    def json_chunks(self, extra: Mapping[str, Any] = {}) -> Iterator[str]:  # noqa: B006 (read only)
        """``json.dumps(dict(self.as_json(), **extra), ensure_ascii=False)``, in pieces: the rows
        are written one at a time instead of as one list in memory."""
        head = self.head_json()
        # stdlib_dumps: json.dumps's text, with a BLOB as its text and a lone surrogate escaped.
        yield stdlib_dumps(head)[:-1] + ', "rows": ['
        sep = ""
        for row in self.rows:
            yield sep + stdlib_dumps(self.row_json(row))
            sep = ", "
        tail = stdlib_dumps(dict(extra))
        yield "]" + (", " + tail[1:] if extra else "}")


def _statuses(ld: SideDigest, rd: SideDigest) -> list[Any]:
    out = []
    for d in (ld, rd):
        for sid in sorted(set(d.statuses)):
            out.append(d.values[sid])
    return out


def _stored_pairs(ld: SideDigest, rd: SideDigest) -> list[tuple[str, str, str]]:
    """(left stored, left hash_output, right stored) for zip positions where both sides stored one."""
    n = min(len(ld), len(rd))
    return [(s, ld.out_hex(p), rd.stored[p]) for p, s in sorted(ld.stored.items())
            if p < n and s and rd.stored.get(p)]


_Fetch = Callable[[Sequence[int], Sequence[int]], tuple[Mapping[int, StepDoc], Mapping[int, StepDoc]]]


def plan_comparison(ld: SideDigest, rd: SideDigest, *, rules: Sequence[IgnoreRule] = (),
                    python: tuple[int, int] = (3, 11)) -> StreamComparison:
    """What the digests decide on their own: upstream's verdict, the alignment, and every row but
    the *pending* ones (aligned pairs whose fingerprints differ), which read as ``changed`` without
    differences until :meth:`StreamComparison.completed` compares them (``complete`` is False)."""
    parity = _parity(ld, rd, python)
    li, ri = ld.indexes, rd.indexes
    if li == ri:
        segments, how = [("pair", 0, 0, len(ld))], "step_index"
    else:
        segments, how = _align_keys([ld.skill(i) for i in range(len(ld))], [rd.skill(i) for i in range(len(rd))])
    n_rows = sum(s[-1] for s in segments)
    kinds = bytearray(n_rows)
    lpos, rpos = array("i", bytes(4 * n_rows)), array("i", bytes(4 * n_rows))
    pending: dict[int, AlignedRow] = {}
    row = 0
    lfp, rfp, ldet, rdet, lout, rout = ld.fp, rd.fp, ld.det, rd.det, ld.out, rd.out
    for seg in segments:
        if seg[0] == "pair":
            _, l0, r0, n = seg
            lpos[row:row + n] = array("i", range(l0, l0 + n))
            rpos[row:row + n] = array("i", range(r0, r0 + n))
            k = 0
            while k < n:
                # a block of pairs whose columns are equal byte for byte is equal as a whole
                # (kinds start as _K_EQUAL); the first differing block is gone through pair by pair
                b = min(_BLOCK, n - k)
                i, j = l0 + k, r0 + k
                if (ldet[i * _HEX:(i + b) * _HEX] == rdet[j * _HEX:(j + b) * _HEX]
                        and lout[i * _HEX:(i + b) * _HEX] == rout[j * _HEX:(j + b) * _HEX]
                        and lfp[i * _FP:(i + b) * _FP] == rfp[j * _FP:(j + b) * _FP]
                        and not _has_no_fp(lfp, i, b)):
                    row += b
                    k += b
                    continue
                for _ in range(b):
                    row, k = _pair_row(row, l0 + k, r0 + k, ld, rd, kinds, pending), k + 1
        elif seg[0] == "left":
            _, l0, n = seg
            lpos[row:row + n] = array("i", range(l0, l0 + n))
            rpos[row:row + n] = array("i", [-1]) * n
            kinds[row:row + n] = bytes([_K_LEFT]) * n
            row += n
        else:
            _, r0, n = seg
            lpos[row:row + n] = array("i", [-1]) * n
            rpos[row:row + n] = array("i", range(r0, r0 + n))
            kinds[row:row + n] = bytes([_K_RIGHT]) * n
            row += n
    return StreamComparison(ld, rd, parity, kinds, lpos, rpos, pending, {}, {}, rules, how, complete=not pending)


_BLOCK = 4096


def _has_no_fp(fp: bytearray, start: int, n: int) -> bool:
    at = fp.find(_NO_FP, start * _FP, (start + n) * _FP)
    while at >= 0:
        if at % _FP == 0:
            return True
        at = fp.find(_NO_FP, at + 1, (start + n) * _FP)
    return False


def _pair_row(row: int, i: int, j: int, ld: SideDigest, rd: SideDigest, kinds: bytearray,
              pending: dict[int, AlignedRow]) -> int:
    """Classify one aligned pair: equal, equal but for the step index, or pending. The next row."""
    f = ld.fp[i * _FP:(i + 1) * _FP]
    if f != _NO_FP and f == rd.fp[j * _FP:(j + 1) * _FP] \
            and ld.out[i * _HEX:(i + 1) * _HEX] == rd.out[j * _HEX:(j + 1) * _HEX]:
        if ld.det[i * _HEX:(i + 1) * _HEX] == rd.det[j * _HEX:(j + 1) * _HEX]:
            kinds[row] = _K_EQUAL
        elif ld.indexes[i] != rd.indexes[j]:
            kinds[row] = _K_SHIFTED
        else:
            kinds[row] = _K_PENDING
            pending[row] = AlignedRow(RowKind.CHANGED, i, j)
    else:
        kinds[row] = _K_PENDING
        pending[row] = AlignedRow(RowKind.CHANGED, i, j)
    return row + 1


def compare_digests(ld: SideDigest, rd: SideDigest, fetch: _Fetch, *, rules: Sequence[IgnoreRule] = (),
                    python: tuple[int, int] = (3, 11)) -> StreamComparison:
    """Compare two digested runs. ``fetch(left_positions, right_positions)`` gives the ``StepDoc``
    at those positions of each run (both ascending): only the pending pairs' are asked for."""
    plan = plan_comparison(ld, rd, rules=rules, python=python)
    if plan.complete:
        return plan
    return plan.completed(*fetch(*plan.wanted()))


def collect_docs(steps: Iterable[Any], positions: Sequence[int], *,
                 make_doc: Callable[[Any], StepDoc] = step_doc) -> dict[int, StepDoc]:
    """The ``StepDoc`` at these positions (ascending) of a run's steps, read as a stream."""
    out: dict[int, StepDoc] = {}
    if not positions:
        return out
    wanted = iter(positions)
    nxt = next(wanted)
    for pos, step in enumerate(steps):
        if pos == nxt:
            out[pos] = make_doc(step)
            nxt = next(wanted, None)
            if nxt is None:
                break
    return out


def compare_streams(left: Callable[[], Iterable[Any]], right: Callable[[], Iterable[Any]], *,
                    rules: Sequence[IgnoreRule] = (), python: tuple[int, int] = (3, 11),
                    make_doc: Callable[[Any], StepDoc] = step_doc,
                    digests: tuple[SideDigest, SideDigest] | None = None) -> StreamComparison:
    """Compare two runs read as streams: ``left()`` and ``right()`` each start a fresh iteration of
    a run's steps in ``step_index`` order (called once to digest, unless ``digests`` are given,
    and once more only when some aligned pair differs)."""
    ld, rd = digests if digests is not None else (digest_steps(left(), make_doc=make_doc),
                                                  digest_steps(right(), make_doc=make_doc))

    def fetch(lp: Sequence[int], rp: Sequence[int]):
        return (collect_docs(left(), lp, make_doc=make_doc) if lp else {},
                collect_docs(right(), rp, make_doc=make_doc) if rp else {})

    return compare_digests(ld, rd, fetch, rules=rules, python=python)


def digest_side(source: Any, run_ref: str, *, progress: Callable[[int], None] | None = None,
                every: int = 5000) -> tuple[Any, SideDigest]:
    """A run's summary and digest from a source (``TraceSource``): a run id, or on Postgres a trace
    id (as :func:`inspector.compare.load_side` reads it), streamed once."""
    record = source.get_run(run_ref)
    return record.summary, digest_steps(source.iter_steps(record.summary.key), progress=progress, every=every)
