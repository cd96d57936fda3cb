"""Redaction on export: upstream's rules plus the card and SSN patterns it never applied (§7, §11.22)."""

from __future__ import annotations

from inspector.redact import EXPORT_MAX_DEPTH, REDACTED, REDACTED_DEEP, redact_export, redact_string_value


def test_upstream_rules_and_the_patterns_upstream_left_unused():
    value = {"Password": "hunter2", "note": "mail a@b.io, card 4111111111111111, ssn 123-45-6789",
             "nested": [{"api_key": 3}, "Bearer abc.def", "AKIAABCDEFGHIJKLMNOP"], "n": 5, "ok": None}
    out = redact_export(value)
    assert out["Password"] == REDACTED and out["nested"][0]["api_key"] == REDACTED
    assert out["note"] == "mail <REDACTED_EMAIL>, card <REDACTED_CARD>, ssn <REDACTED_SSN>"
    assert out["nested"][1:] == ["Bearer <REDACTED>", "<REDACTED_AWS_KEY>"]
    assert out["n"] == 5 and out["ok"] is None
    assert value["Password"] == "hunter2"  # a copy


def test_string_rules_agree_with_upstream_where_upstream_has_them():
    for s in ("x a@b.io y", "bearer  tok-1", "ghp_" + "a" * 36, "xoxb-123-abc", "plain text 12"):
        assert redact_export(s) == redact_string_value(s)


def test_nothing_deep_is_let_through():
    deep = inner = {}
    for _ in range(EXPORT_MAX_DEPTH + 5):
        inner["k"] = {}
        inner = inner["k"]
    inner["password"] = "x"
    out = redact_export(deep)
    for _ in range(EXPORT_MAX_DEPTH):
        out = out["k"]
    assert out == REDACTED_DEEP
