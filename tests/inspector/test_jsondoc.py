"""inspector.jsondoc: RFC 6901 pointers (the RFC's own examples), JSON text within a bound, and
finding text in a document a step at a time."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.jsondoc import (
    JsonSearch,
    bounded_json,
    iter_json,
    json_pointer,
    pointer_token,
    resolve_pointer,
    scalar_text,
    split_pointer,
)

#: RFC 6901 §5.
RFC_DOC = {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, 'k"l': 6, " ": 7,
           "m~n": 8}
RFC_POINTERS = [
    ("", RFC_DOC), ("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1), ("/c%d", 2),
    ("/e^f", 3), ("/g|h", 4), ("/i\\j", 5), ('/k"l', 6), ("/ ", 7), ("/m~0n", 8),
]


@pytest.mark.parametrize(("pointer", "value"), RFC_POINTERS)
def test_the_rfc_examples_resolve(pointer, value):
    assert resolve_pointer(RFC_DOC, pointer) == value


def test_tokens_are_escaped_tilde_first():
    assert pointer_token("a/b") == "a~1b"
    assert pointer_token("m~n") == "m~0n"
    # "~1" as a key is not a slash: its tilde is escaped, so it reads back as "~1".
    assert pointer_token("~1") == "~01"
    assert split_pointer("/~01") == ("~1",)
    assert json_pointer(["a/b", 0, "~", ""]) == "/a~1b/0/~0/"
    assert json_pointer([]) == ""


@pytest.mark.parametrize("bad", ["foo", "/a~2", "/a~", "/~x/b"])
def test_malformed_pointers_are_refused(bad):
    with pytest.raises(ValueError):
        split_pointer(bad)


@pytest.mark.parametrize("missing", ["/nope", "/foo/2", "/foo/01", "/foo/-", "/foo/0/x"])
def test_pointers_to_nothing_raise_key_error(missing):
    with pytest.raises(KeyError):
        resolve_pointer(RFC_DOC, missing)


@given(st.lists(st.text(max_size=6) | st.integers(0, 99), max_size=6))
def test_pointer_round_trip(tokens):
    assert split_pointer(json_pointer(tokens)) == tuple(str(t) for t in tokens)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=200)
@given(json_values, st.sampled_from([None, 0, 2, 4]))
def test_iter_json_writes_what_json_dumps_writes(value, indent):
    assert "".join(iter_json(value, indent)) == json.dumps(value, ensure_ascii=False, indent=indent)


def test_iter_json_survives_depth_beyond_the_recursion_limit():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    text = "".join(iter_json(deep, None))
    assert text == "[" * 5000 + "[]" + "]" * 5000


def test_bounded_json_is_whole_under_the_limit_and_cut_over_it():
    value = {"a": [1, 2.5, None, True], "b": "日本語"}
    whole = json.dumps(value, ensure_ascii=False, indent=2)
    assert bounded_json(value, 10_000) == (whole, True)
    assert bounded_json(value, len(whole)) == (whole, True)
    assert bounded_json(value, 10) == (whole[:10], False)


def test_bounded_json_of_a_huge_string_does_not_encode_it_all():
    huge = "\x00" * 5_000_000  # six characters each once escaped
    text, complete = bounded_json({"blob": huge}, 100)
    assert not complete and len(text) == 100
    assert text.startswith('{\n  "blob": "\\u0000')


def test_scalar_text():
    assert [scalar_text(v) for v in ("x", None, True, False, 3, 2.5, math.inf)] == \
        ["x", "null", "true", "false", "3", "2.5", "Infinity"]


def run(search: JsonSearch, nodes: int = 3) -> JsonSearch:
    steps = 0
    while not search.step(nodes):
        steps += 1
        assert steps < 10_000
    return search


DOC = {"user": {"Name": "Ada", "tags": ["admin", "ops"]}, "count": 12, "note": None,
       "items": [{"name": "a/b"}, {"name": "other"}], "flag": True}


def test_search_finds_keys_and_values_in_document_order_case_insensitive():
    found = run(JsonSearch(DOC, "NAME"))
    assert [m.pointer for m in found.matches] == ["/user/Name", "/items/0/name", "/items/1/name"]
    assert [m.rows for m in found.matches] == [(0, 0), (3, 0, 0), (3, 1, 0)]
    assert found.stopped is None and found.visited == 14


def test_search_finds_scalars_as_written_and_array_items_by_value():
    assert [m.pointer for m in run(JsonSearch(DOC, "ops")).matches] == ["/user/tags/1"]
    assert [m.pointer for m in run(JsonSearch(DOC, "12")).matches] == ["/count"]
    assert [m.pointer for m in run(JsonSearch(DOC, "null")).matches] == ["/note"]
    assert [m.pointer for m in run(JsonSearch(DOC, "true")).matches] == ["/flag"]
    assert [m.pointer for m in run(JsonSearch(DOC, "a/b")).matches] == ["/items/0/name"]
    assert run(JsonSearch(DOC, "zzz")).matches == []


def test_search_results_do_not_depend_on_the_step_size():
    big = {"k": [{"v": i, "s": f"x{i}"} for i in range(500)]}
    one = run(JsonSearch(big, "x4"), nodes=1)
    many = run(JsonSearch(big, "x4"), nodes=100_000)
    assert one.matches == many.matches and len(one.matches) == 111


def test_search_stops_at_its_limits_and_says_which():
    doc = list(range(1000))
    capped = run(JsonSearch(doc, "1", max_matches=10))
    assert len(capped.matches) == 10 and capped.stopped == "matches"
    nodes = run(JsonSearch(doc, "999", max_nodes=500))
    assert nodes.matches == [] and nodes.stopped == "nodes" and nodes.visited == 500


def test_search_of_a_scalar_document_and_of_nothing():
    assert run(JsonSearch("Hello", "ell")).matches[0].rows == ()
    empty = JsonSearch(DOC, "")
    assert empty.done and empty.matches == []


def test_the_step_budget_bounds_the_work():
    doc = [[i] for i in range(10_000)]
    search = JsonSearch(doc, "5")
    search.step(100)
    assert search.visited <= 101 and not search.done


def test_copies_keep_lone_surrogates_and_blobs_as_text():
    """A stored value may hold a lone surrogate (a JSON "\\ud800" escape) or bytes: Copy as JSON
    writes them as the command line does, never dropping them silently."""
    from inspector.jsondoc import bounded_json, text_without_surrogates

    text, complete = bounded_json({"a\ud800": "x\udc00y", "b": b"sk\xffill"}, 1000)
    assert complete and json.loads(text) == {"a\ud800": "x\udc00y", "b": "sk\ufffdill"}
    assert "\\ud800" in text and "\ud800" not in text
    assert text_without_surrogates("a\ud800b") == ("a\\ud800b", 1)
    assert text_without_surrogates("plain") == ("plain", 0)
