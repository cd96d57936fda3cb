"""Comparing JSON values strictly, for tests of the fast JSON path against the standard library;
and hypothesis strategies for hostile stored values (what a foreign writer may leave in a column
or a trace file): text with lone surrogates, NULs and control characters, BLOBs, huge and
non-finite numbers, deeply nested JSON."""

from __future__ import annotations

import json
import math

from hypothesis import strategies as st

__all__ = ["deep_json_text", "hostile_json_values", "hostile_text", "same", "stored_values"]

#: Every code point, lone surrogates (U+D800–U+DFFF) and NUL included.
_ANY_CHAR = st.characters(blacklist_categories=())
#: Text as a column or a JSON string may hold it.
hostile_text = st.one_of(
    st.text(_ANY_CHAR, max_size=12),
    st.sampled_from(["\ud800", "a\x00b", "\r\n\x1b[31m", "\u202e", "\udfff\ud800", "", " " * 3]),
)
#: Numbers as they may be stored: beyond 64 bits and a float's range, NaN, infinities, -0.0.
_hostile_numbers = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 2**63 - 1, -(2**63), 10**4000]),
)


def deep_json_text(depth: int, obj: bool = False) -> str:
    """JSON text nested ``depth`` levels deep (beyond what a recursive parser or writer survives)."""
    return ('{"a":' * depth + "1" + "}" * depth) if obj else ("[" * depth + "]" * depth)


#: Parsed JSON values with hostile leaves (strings with surrogates and NULs, huge and non-finite
#: numbers), nested a few levels: what a trace file's values may be once read.
hostile_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), _hostile_numbers, hostile_text),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(hostile_text, kids, max_size=3)),
    max_leaves=8,
)
#: A stored column value: SQL NULL, text (JSON or not, hostile), a BLOB (UTF-8 or not), a number.
stored_values = st.one_of(
    st.none(),
    hostile_text,
    st.binary(max_size=16),
    st.sampled_from([b"\xff\xfe", b'{"a": 1}', b"\xed\xa0\x80"]),
    _hostile_numbers,
    st.sampled_from(['{"s": "\\ud800"}', '"\\udc00"', '{"x": NaN}', "[Infinity, -Infinity]", "-1e999",
                     "9" * 400, "1" * 5000, '{"broken": tru', "", "null", '{"k": "a\\u0000b"}']),
    st.integers(1, 12_000).map(deep_json_text),
    st.integers(1, 6_000).map(lambda n: deep_json_text(n, obj=True)),
    hostile_json_values.map(json.dumps),
)


def same(a, b) -> bool:
    """Equal as JSON values, strictly: the same types (1 is not 1.0 nor True), NaN equal to NaN,
    -0.0 not 0.0, dict keys in the same order. Iterative: values may nest deeply."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if not ((math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))):
                return False
        elif isinstance(x, dict):
            if list(x) != list(y):
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True
