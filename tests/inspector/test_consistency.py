"""Spec §5: upstream's panel consistency checker, its vector, its quirks, and ours beside it."""

from __future__ import annotations

import json

import pytest

from inspector.consistency import (
    DEFAULT_RULES,
    ConsistencyRule,
    PanelSlot,
    check,
    rule_from_dict,
    rules_from_text,
    slots_from_panel_response,
    upstream_check,
)
from inspector.errors import UsageError


@pytest.fixture
def panel(fixtures_dir):
    return json.loads((fixtures_dir / "panel_response_example.json").read_text())


def test_the_spec_vector_gives_one_cons_002_violation_both_ways(panel):
    panel_id, slots = slots_from_panel_response(panel)
    assert panel_id == "OVR-SUM-HL" and [s.slot_id for s in slots] == ["O1", "O2", "O3", "O4"]
    for result in (upstream_check(panel_id, slots), check(panel_id, slots)):
        doc = result.as_json()
        assert doc["is_consistent"] is False and doc["warnings"] == []
        assert doc["violations"] == [{
            "rule_id": "CONS-002", "rule_name": "at_risk_system_state_consistency", "slots_involved": ["O1"],
            "expected": "If at_risk_runs > 0 then system_state must be STRESSED",
            "actual": "at_risk_runs=2, system_state=ACTIVE", "severity": "ERROR"}]


def test_duplicate_signals_are_worded_as_upstream_words_them():
    slots = [PanelSlot("A", {"x": True, "y": None}), PanelSlot("B", {"x": 1, "y": None}), PanelSlot("C", {"x": False})]
    for result in (upstream_check("P", slots), check("P", slots)):
        (dup,) = result.violations
        assert (dup.rule_id, dup.rule_name, dup.slots_involved) == ("CONS-DUP", "duplicate_signal_mismatch", ("A", "C"))
        assert (dup.expected, dup.actual) == ("x=True (from A)", "x=False (from C)")  # 1 == True: no violation


def _rule(condition: str, a: str = "a", b: str = "b", rid: str = "R-1") -> ConsistencyRule:
    return ConsistencyRule(rid, "r", "", a, b, condition)


def test_upstream_ignores_the_operands_of_equality_and_we_do_not():
    slots = [PanelSlot("S", {"a": 3, "b": 5})]
    rules = [_rule("signal_a + 2 == signal_b")]
    assert upstream_check("P", slots, rules).violations[0].actual == "a=3, b=5"  # it compared a with b
    result = check("P", slots, rules)
    assert result.is_consistent
    assert "holds as written; upstream's matcher flags it" in result.notes[0]
    assert "whatever the operands" in result.notes[0]


def test_a_dotted_signal_is_a_path_for_us_and_a_missing_key_upstream():
    slots = [PanelSlot("O1", {"active_runs": 12}), PanelSlot("O5", {"runs": {"by_status": {"running": 9}}})]
    assert upstream_check("P", slots).is_consistent  # CONS-003 skipped: no literal key
    result = check("P", slots)
    (v,) = result.violations
    assert v.rule_id == "CONS-003" and v.slots_involved == ("O1", "O5")
    assert v.actual == "active_runs=12, runs.by_status.running=9"
    assert v.note.startswith("upstream would skip it") and "literal key" in v.note
    # A literal key of that name wins over the path, as upstream reads it.
    slots.append(PanelSlot("O6", {"runs.by_status.running": 12}))
    assert check("P", slots).is_consistent and upstream_check("P", slots).is_consistent


def test_booleans_are_compared_by_identity_as_upstream_does():
    slots = [PanelSlot("S", {"active_incidents": 2, "attention_required": 1, "at_risk_runs": 0,
                             "highest_severity": "NONE"})]
    up = {v.rule_id for v in upstream_check("P", slots).violations}
    ours = {v.rule_id for v in check("P", slots).violations}
    assert up == ours == {"CONS-001", "CONS-004"}


def test_custom_rules_replace_the_defaults_and_none_falls_back():
    slots = [PanelSlot("S", {"at_risk_runs": 2, "system_state": "ACTIVE", "a": 1, "b": 2})]
    assert [v.rule_id for v in check("P", slots, [_rule("signal_a == signal_b")]).violations] == ["R-1"]
    assert [v.rule_id for v in check("P", slots, []).violations] == ["CONS-002"]
    assert [r.id for r in DEFAULT_RULES] == ["CONS-001", "CONS-002", "CONS-003", "CONS-004"]


def test_unparseable_or_failing_conditions_are_noted_not_raised():
    slots = [PanelSlot("S", {"a": "x", "b": 0})]
    result = check("P", slots, [_rule("signal_a >", rid="BAD"), _rule("signal_a / signal_b > 1", rid="DIV")])
    assert result.is_consistent
    assert result.notes[0].startswith("BAD: condition not applied") and "column" in result.notes[0]
    assert result.notes[1].startswith("DIV: condition not evaluated")


def test_rule_files_are_read_with_line_and_column_on_errors():
    ok = json.dumps({"rules": [DEFAULT_RULES[0].as_dict()]})
    assert rules_from_text(ok, location="r.json") == [DEFAULT_RULES[0]]
    toml = '[[rules]]\nid = "T-1"\nsignal_a = "a"\nsignal_b = "b"\ncondition = "signal_a == signal_b"\n'
    assert rules_from_text(toml, location="r.toml", toml=True)[0].id == "T-1"
    bad = '[\n  {"id": "X", "signal_a": "a", "signal_b": "b",\n   "condition": "signal_a >> 1"}\n]'
    with pytest.raises(UsageError, match=r"r.json:3:28: rule X: expected a value"):
        rules_from_text(bad, location="r.json")
    with pytest.raises(UsageError, match=r"r.json:1:2: not valid JSON"):
        rules_from_text("[}", location="r.json")
    with pytest.raises(UsageError, match="r.toml: not valid TOML"):
        rules_from_text("[[rules]\n", location="r.toml", toml=True)
    with pytest.raises(UsageError, match="rule 1: rule 'UNKNOWN': condition is missing"):
        rules_from_text('[{"signal_a": "a", "signal_b": "b"}]', location="r.json")
    with pytest.raises(ValueError):
        rule_from_dict("x")
