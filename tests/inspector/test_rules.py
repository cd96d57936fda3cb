"""The consistency rule language: a table of cases, errors with their columns, and hypothesis
feeding it text and values (nothing crashes it, hangs it or runs code)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.rules import (
    MAX_DEPTH,
    MissingSignal,
    RuleError,
    RuleSyntaxError,
    compile_rule,
    evaluate,
    names_in,
    parse,
)

SIGNALS = {"n": 3, "zero": 0, "f": 0.1, "t": True, "no": False, "s": "STRESSED", "none": None,
           "runs": {"by_status": {"running": 3, "failed": 1}}, "runs.by_status.running": 7,
           "costs": [1.5, 2.5], "items": ["a", "b", "c"], "big": 10 ** 40}


@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("-n + 1", -2), ("7 % 4", 3), ("1 / 4", 0.25),
    ("n > 2 and n < 4", True), ("n > 3 or s == 'STRESSED'", True), ("not t", False),
    ("zero > 0 implies s == 'X'", True), ("n > 0 implies s == 'X'", False),
    ("a implies b implies c".replace("a", "t").replace("b", "no").replace("c", "t"), True),  # right-assoc
    ("t == true", True), ("t == True", True), ("n == true", False), ("1 == True", False),
    ("zero == false", False), ("null == None", True),
    ("s == \"STRESSED\"", True), ("s != 'NONE'", True), ("'a\\'b' == \"a'b\"", True),
    ("f + 0.2 == 0.3", False), ("f + 0.2 == 0.3 within 1e-9", True), ("100.004 != 100 within 0.01", False),
    ("runs.by_status.failed == 1", True),
    ("runs.by_status.running == 7", True),  # a signal named with the dots wins over the path
    ("sum(costs) == 4", True), ("len(items) == 3", True), ("len(s) == 8", True), ("abs(-n) == 3", True),
    ("max(costs) == 2.5", True), ("min(1, 2, n) == 1", True), ("round(f * 10) == 1", True),
    ("sum(runs.by_status) == 4", True), ("items.1 == 'b'", True),
    ("'a' < 'b'", True), ("t > 0", True),  # booleans count as numbers when ordered (upstream's > 0)
    ("big * big > 0", True),
])
def test_cases(text, expected):
    assert evaluate(parse(text), SIGNALS) == expected
    assert compile_rule(parse(text))(SIGNALS) == expected


@pytest.mark.parametrize(("text", "column", "words"), [
    ("a == == b", 6, "expected a value"), ("(a", 3, "expected ')'"), ("a b", 3, "unexpected 'b'"),
    ("a $ b", 3, "unexpected character '$'"), ("1 < 2 < 3", 7, "do not chain"),
    ("a > 1 within 2", 7, "'within' follows == or != only"), ("foo(1)", 1, "unknown function 'foo'"),
    ("a.", 3, "expected a name after '.'"), ("'abc", 1, "unexpected character"), ("", 1, "empty"),
    ("'\\q'", 2, "unknown escape"), ("and", 1, "unexpected 'and'"),
])
def test_syntax_errors_point_at_the_column(text, column, words):
    with pytest.raises(RuleSyntaxError) as err:
        parse(text)
    assert err.value.column == column and words in err.value.message
    assert err.value.pointer(text).splitlines()[1].index("^") == column - 1


def test_nesting_and_length_are_bounded():
    with pytest.raises(RuleSyntaxError, match="nested more than"):
        parse("(" * (MAX_DEPTH + 2) + "1" + ")" * (MAX_DEPTH + 2))
    with pytest.raises(RuleSyntaxError, match="nested more than"):
        parse("not " * (MAX_DEPTH + 2) + "t")
    with pytest.raises(RuleSyntaxError, match="longer than"):
        parse("1 + " * 5000 + "1")
    with pytest.raises(RuleSyntaxError, match="number too large"):
        parse("1" * 2000)


@pytest.mark.parametrize(("text", "words"), [
    ("1 / zero", "division by zero"), ("s + 1", "needs numbers, got text"), ("len(n)", "len needs"),
    ("items > 1", "needs numbers, got list"), ("big * big * big * big * big * big * big * big * big * big * big * big"
                                              " * big * big * big * big * big * big * big * big * big * big * big * "
                                              "big * big * big * big * big * big * big * big * big * big * big", "too large"),
    ("abs(1, 2)", "abs takes 1 argument"), ("round(f, 99)", "round takes"),
])
def test_evaluation_errors_are_rule_errors(text, words):
    with pytest.raises(RuleError, match=words):
        evaluate(parse(text), SIGNALS)


def test_absent_and_null_signals_make_a_rule_not_applicable():
    for text in ("missing > 0", "none == 1", "runs.by_status.absent == 1"):
        with pytest.raises(MissingSignal):
            evaluate(parse(text), SIGNALS)
    assert evaluate(parse("signal_a == signal_b"), {"x": 1, "y": 1}, aliases={"signal_a": "x", "signal_b": "y"})
    assert names_in(parse("a + b.c > a and len(d)")) == ["a", "b.c", "d"]


def test_nan_and_infinity_compare_as_floats_do():
    vals = {"nan": math.nan, "inf": math.inf}
    assert evaluate(parse("nan == nan"), vals) is False
    assert evaluate(parse("inf > 10"), vals) is True
    assert evaluate(parse("inf == inf within 1"), vals) is False  # inf - inf is nan


_ATOMS = st.sampled_from(["n", "f", "t", "s", "none", "runs.by_status.running", "costs", "items", "big", "1", "0",
                          "2.5", "'x'", "true", "null", "1e308", "abs(n)", "len(items)", "sum(costs)"])
_OPS = st.sampled_from([" + ", " - ", " * ", " / ", " % ", " == ", " != ", " < ", " >= ", " and ", " or ",
                        " implies ", " within ", " == 1 within "])


@st.composite
def _exprs(draw):
    parts = [draw(_ATOMS)]
    for _ in range(draw(st.integers(0, 8))):
        parts.append(draw(_OPS))
        if draw(st.booleans()):
            parts.append("not " if draw(st.booleans()) else "-")
        parts.append(draw(_ATOMS))
    text = "".join(parts)
    if draw(st.booleans()):
        text = f"({text})"
    return text


_settings = settings(max_examples=1500, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(text=st.text(max_size=200))
def test_any_text_parses_or_says_where_it_does_not(text):
    try:
        tree = parse(text)
    except RuleSyntaxError as exc:
        assert 0 <= exc.column <= len(text) + 1
        return
    _evaluate_safely(tree)


@_settings
@given(text=_exprs(), values=st.dictionaries(st.sampled_from(["n", "f", "t", "s", "costs"]),
                                             st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                                       st.text(max_size=5), st.lists(st.integers(), max_size=3)),
                                             max_size=5))
def test_well_formed_rules_evaluate_or_say_why(text, values):
    try:
        tree = parse(text)
    except RuleSyntaxError:
        return
    _evaluate_safely(tree, {**SIGNALS, **values})


def _outcome(fn):
    try:
        value = fn()
    except MissingSignal as exc:
        return ("missing", exc.name)
    except RuleError as exc:
        return ("error", exc.message)
    return ("value", "nan" if isinstance(value, float) and math.isnan(value) else value)


def _evaluate_safely(tree, signals=SIGNALS) -> None:
    """The tree walker and the compiled closures give the same answer, or the same error."""
    walked = _outcome(lambda: evaluate(tree, signals))
    compiled = _outcome(lambda: compile_rule(tree)(signals))
    assert walked == compiled


def test_no_code_runs():
    for text in ("__import__('os').system('true')", "().__class__", "eval('1')", "open('x')", "x.__class__"):
        try:
            tree = parse(text)
        except RuleSyntaxError:
            continue
        with pytest.raises(MissingSignal):
            evaluate(tree, {})


def test_the_compiled_equality_of_two_signals_agrees_on_numpy_values():
    import numpy as np

    for op, want in (("==", True), ("!=", False)):
        tree = parse(f"signal_a {op} signal_b")
        signals = {"a": np.float64(1.0), "b": np.float64(1.0)}
        run = compile_rule(tree, aliases={"signal_a": "a", "signal_b": "b"})
        assert run(signals) is want
        assert bool(evaluate(tree, signals, aliases={"signal_a": "a", "signal_b": "b"})) is want


def test_the_compiled_tolerance_agrees_on_numpy_values():
    import numpy as np

    tree = parse("signal_a == signal_b within 0.5")
    signals = {"a": np.float64(1.0), "b": np.float64(1.2)}
    aliases = {"signal_a": "a", "signal_b": "b"}
    assert compile_rule(tree, aliases=aliases)(signals) is True
    assert bool(evaluate(tree, signals, aliases=aliases)) is True
