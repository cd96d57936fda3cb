"""Upstream's PII redaction (spec §7), rule for rule, so stored and exported data match AOS.

Upstream applies :func:`redact_trace_data` on the ``store_trace`` / ``POST /traces`` path only; the
worker stores data unredacted. Its ``PII_PATTERNS`` / :func:`redact_json_string` (which also catch
card numbers and SSNs) exist but are never called upstream (§11.22); they are kept here, with the
card and SSN patterns on their own, for redaction on export.

Quirks kept on purpose: only the trace parts named in :func:`redact_trace_data` are scanned; data
nested deeper than :data:`MAX_DEPTH` comes back unredacted; a sensitive key hides its value
whatever its type; tuples and other non-list sequences are left as they are; a non-string dict key
raises ``AttributeError`` (upstream calls ``key.lower()``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

__all__ = [
    "CARD_PATTERN",
    "EXPORT_MAX_DEPTH",
    "EXPORT_RULES",
    "MAX_DEPTH",
    "PII_PATTERNS",
    "REDACTED",
    "REDACTED_DEEP",
    "SENSITIVE_KEYS",
    "SSN_PATTERN",
    "is_sensitive_key",
    "redact_dict",
    "redact_export",
    "redact_export_string",
    "redact_json_string",
    "redact_list",
    "redact_string_value",
    "redact_trace_data",
]

#: The value that replaces anything under a sensitive key.
REDACTED = "<REDACTED>"

#: Deepest level :func:`redact_dict` / :func:`redact_list` still redact; the top container is level 0
#: and each nested dict or list is one level more. A container at level 21 is returned as it is.
MAX_DEPTH = 20

#: Keys whose value is always replaced by ``"<REDACTED>"`` (compared with ``key.lower()``).
SENSITIVE_KEYS = frozenset({
    "password", "passwd", "pwd", "secret", "api_key", "apikey", "api-key", "token", "access_token",
    "refresh_token", "auth_token", "authorization", "bearer", "private_key", "privatekey", "ssh_key",
    "credentials", "cred", "ssn", "social_security", "credit_card", "creditcard", "card_number", "cvv",
    "cvc",
})

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_BEARER = re.compile(r"(?i)Bearer\s+[A-Za-z0-9\-_\.]+")
_AWS_KEY = re.compile(r"AKIA[0-9A-Z]{16}")
_GITHUB_TOKEN = re.compile(r"gh[poa]_[A-Za-z0-9]{36}")
_SLACK_TOKEN = re.compile(r"xox[baprs]-[A-Za-z0-9\-]+")

#: 13–19 digit runs (card numbers) and ``ddd-dd-dddd`` (US SSNs): in ``PII_PATTERNS`` only.
CARD_PATTERN = re.compile(r"\b\d{13,19}\b")
SSN_PATTERN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")


def _quoted_key(name: str) -> tuple[re.Pattern[str], str]:
    return re.compile(rf'(?i)("{re.escape(name)}"\s*:\s*)"[^"]*"'), r'\1"<REDACTED>"'


#: Upstream's regexes over serialized JSON, in upstream's order: ``(pattern, replacement)``.
PII_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    *(_quoted_key(k) for k in ("password", "secret", "api_key", "apikey", "token", "access_token",
                               "refresh_token", "bearer", "private_key", "authorization", "x-api-key")),
    (_BEARER, "Bearer <REDACTED>"),
    (CARD_PATTERN, "<REDACTED_CARD>"),
    (SSN_PATTERN, "<REDACTED_SSN>"),
    (_EMAIL, "<REDACTED_EMAIL>"),
    (_AWS_KEY, "<REDACTED_AWS_KEY>"),
    (re.compile(r"ghp_[A-Za-z0-9]{36}"), "<REDACTED_GITHUB_TOKEN>"),
    (re.compile(r"gho_[A-Za-z0-9]{36}"), "<REDACTED_GITHUB_TOKEN>"),
    (_SLACK_TOKEN, "<REDACTED_SLACK_TOKEN>"),
    (re.compile(r'(?i)("key"\s*:\s*)"[a-f0-9]{32,}"'), r'\1"<REDACTED_KEY>"'),
)


def is_sensitive_key(name: str) -> bool:
    return name.lower() in SENSITIVE_KEYS


def redact_string_value(value: str) -> str:
    """Mask emails, bearer tokens, AWS access keys, GitHub and Slack tokens, in that order (an email
    masked first means ``Bearer a@b.io`` becomes ``Bearer <REDACTED_EMAIL>``). Cards/SSNs stay."""
    result = _EMAIL.sub("<REDACTED_EMAIL>", value)
    if "bearer" in result.lower():
        result = _BEARER.sub("Bearer <REDACTED>", result)
    result = _AWS_KEY.sub("<REDACTED_AWS_KEY>", result)
    result = _GITHUB_TOKEN.sub("<REDACTED_GITHUB_TOKEN>", result)
    return _SLACK_TOKEN.sub("<REDACTED_SLACK_TOKEN>", result)


def _redact_value(value: Any, depth: int, max_depth: int) -> Any:
    if isinstance(value, dict):
        return redact_dict(value, depth, max_depth)
    if isinstance(value, list):
        return redact_list(value, depth, max_depth)
    if isinstance(value, str):
        return redact_string_value(value)
    return value


def redact_dict(data: dict[str, Any], depth: int = 0, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """A redacted copy of ``data``; beyond ``max_depth`` the very same object, unredacted."""
    if depth > max_depth:
        return data
    return {key: REDACTED if key.lower() in SENSITIVE_KEYS else _redact_value(value, depth + 1, max_depth)
            for key, value in data.items()}


def redact_list(data: list[Any], depth: int = 0, max_depth: int = MAX_DEPTH) -> list[Any]:
    """A redacted copy of ``data``; beyond ``max_depth`` the very same object, unredacted."""
    if depth > max_depth:
        return data
    return [_redact_value(item, depth + 1, max_depth) for item in data]


def redact_trace_data(trace: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``trace`` with upstream's parts redacted: the ``plan`` list; of each step dict,
    ``params``, ``outcome_data`` (when truthy), ``input_data`` and ``output_data`` when they are
    dicts; the top-level ``metadata`` dict. Everything else (step ``error``, ids…) is untouched."""
    redacted = copy.deepcopy(trace)
    if isinstance(redacted.get("plan"), list):
        redacted["plan"] = redact_list(redacted["plan"])
    if isinstance(redacted.get("steps"), list):
        for step in redacted["steps"]:
            if not isinstance(step, dict):
                continue
            for key in ("params", "outcome_data", "input_data", "output_data"):
                # A falsy dict redacts to an equal empty dict, so outcome_data's truthiness test
                # upstream changes nothing.
                if isinstance(step.get(key), dict):
                    step[key] = redact_dict(step[key])
    if isinstance(redacted.get("metadata"), dict):
        redacted["metadata"] = redact_dict(redacted["metadata"])
    return redacted


def redact_json_string(json_str: str) -> str:
    """Apply :data:`PII_PATTERNS` to serialized JSON (never called upstream; used for exports)."""
    for pattern, replacement in PII_PATTERNS:
        json_str = pattern.sub(replacement, json_str)
    return json_str


#: What ``redact_export`` applies, as the bundle manifest records it.
EXPORT_RULES = ("sensitive-keys", "email", "bearer", "aws-access-key", "github-token", "slack-token",
                "card-number", "us-ssn", "deep-values")
#: Containers nested deeper than this are replaced whole on export (never left unredacted).
EXPORT_MAX_DEPTH = 64
REDACTED_DEEP = "<REDACTED_DEEP>"
_THREE_DIGITS = re.compile(r"\d{3}")
_SCALARS = frozenset({int, float, bool, type(None)})


def redact_export_string(value: str) -> str:
    """Upstream's string rules plus the card-number and SSN patterns upstream defined but never
    applied (§11.22)."""
    # Each rule runs only when its pattern could match (same result, a fraction of the time on
    # a 100k-step export): an email needs "@", the tokens their prefixes, cards and SSNs 3 digits.
    result = _EMAIL.sub("<REDACTED_EMAIL>", value) if "@" in value else value
    if ("b" in result or "B" in result) and "bearer" in result.lower():
        result = _BEARER.sub("Bearer <REDACTED>", result)
    if "AKIA" in result:
        result = _AWS_KEY.sub("<REDACTED_AWS_KEY>", result)
    if "gh" in result:
        result = _GITHUB_TOKEN.sub("<REDACTED_GITHUB_TOKEN>", result)
    if "xox" in result:
        result = _SLACK_TOKEN.sub("<REDACTED_SLACK_TOKEN>", result)
    if _THREE_DIGITS.search(result):
        result = CARD_PATTERN.sub("<REDACTED_CARD>", result)
        result = SSN_PATTERN.sub("<REDACTED_SSN>", result)
    return result


def redact_export(value: Any, depth: int = 0, *, keep: frozenset[str] = frozenset()) -> Any:
    """A redacted copy of any JSON value, for exports: sensitive keys (any depth, keys compared
    lower-cased) hide their value, strings go through :func:`redact_export_string`, and unlike
    upstream nothing deep is let through: a container deeper than :data:`EXPORT_MAX_DEPTH` becomes
    ``"<REDACTED_DEEP>"``. Non-string keys are compared by their text. Values under a key in
    ``keep`` (identifiers a bundle links records by: run ids, trace ids, row ids) are kept as
    they are, at any depth."""
    kind = type(value)
    if kind is str:
        return redact_export_string(value)
    if kind in _SCALARS:  # the common leaves, answered without a call
        return value
    if isinstance(value, dict | list) and depth >= EXPORT_MAX_DEPTH:
        return REDACTED_DEEP
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            t = type(v)
            if (k.lower() if type(k) is str else str(k).lower()) in SENSITIVE_KEYS:
                out[k] = REDACTED
            elif t in _SCALARS or k in keep:
                out[k] = v
            elif t is str:
                out[k] = redact_export_string(v)
            else:
                out[k] = redact_export(v, depth + 1, keep=keep)
        return out
    if isinstance(value, list):
        return [v if type(v) in _SCALARS else redact_export_string(v) if type(v) is str
                else redact_export(v, depth + 1, keep=keep) for v in value]
    if isinstance(value, str):  # a str subclass
        return redact_export_string(value)
    return value
