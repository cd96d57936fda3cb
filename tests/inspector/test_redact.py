"""Upstream's redaction rules (spec §7), case by case, quirks included."""

from __future__ import annotations

import copy
import json

import pytest

from inspector.redact import (
    CARD_PATTERN,
    MAX_DEPTH,
    PII_PATTERNS,
    SENSITIVE_KEYS,
    SSN_PATTERN,
    is_sensitive_key,
    redact_dict,
    redact_json_string,
    redact_list,
    redact_string_value,
    redact_trace_data,
)

GH_TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"  # 36 characters after the prefix
assert len(GH_TOKEN) == 40


# -- strings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail alice.smith+ops@example.co.uk now", "mail <REDACTED_EMAIL> now"),
        ("a@b.io and c@d.org", "<REDACTED_EMAIL> and <REDACTED_EMAIL>"),
        ("Authorization: Bearer abc.DEF-123_x", "Authorization: Bearer <REDACTED>"),
        # The replacement always spells "Bearer", whatever the case found.
        ("bearer   tok.en", "Bearer <REDACTED>"),
        ("BEARER xyz", "Bearer <REDACTED>"),
        # The email goes first, and "<" is not a token character: the bearer rule then finds nothing.
        ("Bearer a@b.io", "Bearer <REDACTED_EMAIL>"),
        ("key AKIAIOSFODNN7EXAMPLE end", "key <REDACTED_AWS_KEY> end"),
        ("AKIAiosfodnn7example", "AKIAiosfodnn7example"),  # lower case is not an AWS key id
        (f"token {GH_TOKEN}", "token <REDACTED_GITHUB_TOKEN>"),
        (GH_TOKEN.replace("ghp_", "gho_"), "<REDACTED_GITHUB_TOKEN>"),
        (GH_TOKEN.replace("ghp_", "gha_"), "<REDACTED_GITHUB_TOKEN>"),
        (GH_TOKEN.replace("ghp_", "ghs_"), GH_TOKEN.replace("ghp_", "ghs_")),  # ghs_ is not in the set
        ("ghp_short", "ghp_short"),
        ("slack xoxb-1234-abcd-EFGH ok", "slack <REDACTED_SLACK_TOKEN> ok"),
        ("xoxp-1 xoxa-2 xoxr-3 xoxs-4", " ".join(["<REDACTED_SLACK_TOKEN>"] * 4)),
        ("xoxz-nope", "xoxz-nope"),
        # Never applied by the trace path (§11.22): cards and SSNs pass through.
        ("card 4111111111111111 ssn 123-45-6789", "card 4111111111111111 ssn 123-45-6789"),
        ("plain text", "plain text"),
    ],
)
def test_redact_string_value(text, expected):
    assert redact_string_value(text) == expected


# -- dicts and lists ------------------------------------------------------------------------------


def test_sensitive_keys_are_the_upstream_set():
    assert len(SENSITIVE_KEYS) == 25
    assert {"password", "api-key", "cred", "cvc", "authorization", "ssn"} <= SENSITIVE_KEYS
    assert "x-api-key" not in SENSITIVE_KEYS and "key" not in SENSITIVE_KEYS


def test_sensitive_keys_match_case_insensitively_and_hide_any_value():
    data = {
        "Password": "hunter2",
        "API_KEY": 123,
        "Authorization": {"scheme": "Bearer", "value": "x"},
        "Token": ["a", "b"],
        "cvv": None,
        "user": "bob",
    }
    assert redact_dict(data) == {
        "Password": "<REDACTED>",
        "API_KEY": "<REDACTED>",
        "Authorization": "<REDACTED>",
        "Token": "<REDACTED>",
        "cvv": "<REDACTED>",
        "user": "bob",
    }
    assert is_sensitive_key("PassWD") and not is_sensitive_key("password_hint")


def test_redact_dict_recurses_and_keeps_other_types():
    data = {"a": {"b": [{"secret": "s"}, "x@y.com", 3, None, True, ("t@u.com",)]}, "n": 1.5}
    out = redact_dict(data)
    assert out == {"a": {"b": [{"secret": "<REDACTED>"}, "<REDACTED_EMAIL>", 3, None, True, ("t@u.com",)]},
                   "n": 1.5}
    assert data["a"]["b"][0] == {"secret": "s"}  # a copy: the input is untouched


def test_redact_list_top_level():
    assert redact_list(["Bearer abc", {"pwd": 1}, [["a@b.io"]]]) == [
        "Bearer <REDACTED>", {"pwd": "<REDACTED>"}, [["<REDACTED_EMAIL>"]]]


def nest(levels: int, leaf: dict) -> dict:
    """``levels`` dicts wrapped around ``leaf``: the leaf sits at depth ``levels``."""
    for _ in range(levels):
        leaf = {"n": leaf}
    return leaf


def leaf_of(data: dict) -> dict:
    while "n" in data:
        data = data["n"]
    return data


def test_depth_limit_leaves_deeper_data_unredacted():
    assert MAX_DEPTH == 20
    redacted_at_20 = redact_dict(nest(20, {"password": "p", "m": "a@b.io"}))
    assert leaf_of(redacted_at_20) == {"password": "<REDACTED>", "m": "<REDACTED_EMAIL>"}
    leaf = {"password": "p", "m": "a@b.io"}
    out = redact_dict(nest(21, leaf))
    assert leaf_of(out) is leaf  # the very object, unredacted


def test_depth_counts_lists_too():
    # plan list (0) → dict (1) → list (2) → dict (3): 18 more dicts put the leaf at depth 21.
    leaf = {"token": "t"}
    data = [{"l": [nest(18, leaf)]}]
    assert leaf_of(redact_list(data)[0]["l"][0]) is leaf
    assert leaf_of(redact_list([{"l": [nest(17, {"token": "t"})]}])[0]["l"][0]) == {"token": "<REDACTED>"}


def test_explicit_depth_and_max_depth():
    assert redact_dict({"password": "p"}, depth=21) == {"password": "p"}
    assert redact_dict({"a": {"password": "p"}}, max_depth=0) == {"a": {"password": "p"}}


def test_non_string_key_raises_like_upstream():
    with pytest.raises(AttributeError):
        redact_dict({1: "a"})


# -- whole traces ---------------------------------------------------------------------------------


def sample_trace() -> dict:
    return {
        "trace_id": "trace_contact@example.com",
        "note": "owner bob@example.com",
        "plan": [{"skill": "http_call", "params": {"headers": {"Authorization": "Bearer s3cr3t"},
                                                  "url": "https://x.io/?u=a@b.io"}}],
        "steps": [
            {
                "step_index": 0,
                "params": {"api_key": "k", "q": "mail me at carol@example.com"},
                "outcome_data": {"body": "AKIAIOSFODNN7EXAMPLE", "card": "4111111111111111"},
                "input_data": {"password": "p"},
                "output_data": {"ssn_text": "123-45-6789", "SSN": "123-45-6789"},
                "error": "failed for dave@example.com with Bearer tok",
                "outcome": "success",
            },
            {"step_index": 1, "params": "raw string a@b.io", "outcome_data": {}, "output_data": ["a@b.io"]},
            "not a step a@b.io",
        ],
        "metadata": {"user_email": "erin@example.com", "credentials": {"u": "x"}},
    }


def test_redact_trace_data_scans_only_upstream_parts():
    trace = sample_trace()
    before = copy.deepcopy(trace)
    out = redact_trace_data(trace)
    assert trace == before  # deep copy: the input is untouched

    assert out["trace_id"] == "trace_contact@example.com"
    assert out["note"] == "owner bob@example.com"
    assert out["plan"] == [{"skill": "http_call", "params": {"headers": {"Authorization": "<REDACTED>"},
                                                            "url": "https://x.io/?u=<REDACTED_EMAIL>"}}]
    s0 = out["steps"][0]
    assert s0["params"] == {"api_key": "<REDACTED>", "q": "mail me at <REDACTED_EMAIL>"}
    assert s0["outcome_data"] == {"body": "<REDACTED_AWS_KEY>", "card": "4111111111111111"}
    assert s0["input_data"] == {"password": "<REDACTED>"}
    assert s0["output_data"] == {"ssn_text": "123-45-6789", "SSN": "<REDACTED>"}
    assert s0["error"] == "failed for dave@example.com with Bearer tok"  # step error is never scanned
    s1 = out["steps"][1]
    assert s1["params"] == "raw string a@b.io"  # only dicts are redacted
    assert s1["outcome_data"] == {}
    assert s1["output_data"] == ["a@b.io"]
    assert out["steps"][2] == "not a step a@b.io"
    assert out["metadata"] == {"user_email": "<REDACTED_EMAIL>", "credentials": "<REDACTED>"}


def test_redact_trace_data_tolerates_missing_and_odd_parts():
    assert redact_trace_data({}) == {}
    odd = {"plan": {"not": "a list", "password": "p"}, "steps": "none", "metadata": ["a@b.io"]}
    assert redact_trace_data(odd) == odd


# -- the JSON-text patterns (never called upstream) ------------------------------------------------


def test_pii_patterns_are_upstreams_twenty():
    assert len(PII_PATTERNS) == 20
    assert (CARD_PATTERN, "<REDACTED_CARD>") in PII_PATTERNS and (SSN_PATTERN, "<REDACTED_SSN>") in PII_PATTERNS


def test_redact_json_string():
    doc = {
        "Password": "p", "x-api-key": "k", "token": "t", "key": "0123456789abcdef0123456789abcdef",
        "short_key": "abc", "card": "4111 1111 1111 1111", "pan": "4111111111111111", "ssn": "123-45-6789",
        "auth": "Bearer abc", "mail": "a@b.io", "aws": "AKIAIOSFODNN7EXAMPLE", "gh": GH_TOKEN,
        "gha": GH_TOKEN.replace("ghp_", "gha_"), "slack": "xoxb-1-2",
    }
    out = json.loads(redact_json_string(json.dumps(doc)))
    assert out == {
        "Password": "<REDACTED>", "x-api-key": "<REDACTED>", "token": "<REDACTED>", "key": "<REDACTED_KEY>",
        "short_key": "abc", "card": "4111 1111 1111 1111", "pan": "<REDACTED_CARD>", "ssn": "<REDACTED_SSN>",
        "auth": "Bearer <REDACTED>", "mail": "<REDACTED_EMAIL>", "aws": "<REDACTED_AWS_KEY>",
        "gh": "<REDACTED_GITHUB_TOKEN>",
        "gha": GH_TOKEN.replace("ghp_", "gha_"),  # this list has only ghp_/gho_
        "slack": "<REDACTED_SLACK_TOKEN>",
    }


def test_redact_json_string_key_patterns_need_quoted_string_values():
    # A number or object under a sensitive key is left alone by the text patterns.
    assert redact_json_string('{"password": 1234, "secret": {"a": 1}}') == '{"password": 1234, "secret": {"a": 1}}'
