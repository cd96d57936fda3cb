"""Panel consistency (spec §5): upstream's rule format, default rules CONS-001…004, the
duplicate-signal check CONS-DUP, and its violation and result shapes, evaluated two ways:

- :func:`upstream_check` is upstream's checker as it runs: its substring matcher ignores the
  operands of ``==``/``!=``, looks dotted signal names up literally, and treats any expression it
  does not recognise as true (§11.21);
- :func:`check` evaluates each condition as written, with the parser of ``inspector.rules``, and
  says beside a finding (``note``) where upstream's verdict differs.

For upstream's default rules both agree wherever upstream's matcher is not wrong. Values in
``expected``/``actual`` are worded as upstream words them (Python's ``str``: ``True``, ``None``).
Pure: no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspector.errors import UsageError
from inspector.rules import Expr, MissingSignal, RuleError, RuleSyntaxError, compile_rule, parse, resolve

__all__ = [
    "DEFAULT_RULES",
    "CheckResult",
    "ConsistencyRule",
    "PanelSlot",
    "Violation",
    "check",
    "json_document",
    "merge_signals",
    "rule_from_dict",
    "rules_from_text",
    "slots_from_panel_response",
    "upstream_check",
]


@dataclass(frozen=True, slots=True)
class ConsistencyRule:
    id: str
    name: str
    description: str
    signal_a: str
    signal_b: str
    condition: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "description": self.description, "signal_a": self.signal_a,
                "signal_b": self.signal_b, "condition": self.condition}


DEFAULT_RULES = (
    ConsistencyRule("CONS-001", "active_incidents_attention_consistency",
                    "If active_incidents > 0 then attention_required must be true",
                    "active_incidents", "attention_required", "signal_a > 0 implies signal_b == True"),
    ConsistencyRule("CONS-002", "at_risk_system_state_consistency",
                    "If at_risk_runs > 0 then system_state must be STRESSED",
                    "at_risk_runs", "system_state", "signal_a > 0 implies signal_b == 'STRESSED'"),
    ConsistencyRule("CONS-003", "running_count_consistency", "active_runs must match sum of running counts",
                    "active_runs", "runs.by_status.running", "signal_a == signal_b"),
    ConsistencyRule("CONS-004", "incident_severity_consistency",
                    "If active_incidents > 0 then highest_severity must not be NONE",
                    "active_incidents", "highest_severity", "signal_a > 0 implies signal_b != 'NONE'"),
)


def rule_from_dict(doc: Any) -> ConsistencyRule:
    """A rule from upstream's dict shape; ``ValueError`` naming what is missing. Missing keys take
    upstream's defaults (``id`` ``UNKNOWN``, empty name and description)."""
    if not isinstance(doc, Mapping):
        raise ValueError("a rule is an object with id, name, description, signal_a, signal_b, condition")
    for key in ("signal_a", "signal_b", "condition"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise ValueError(f"rule {doc.get('id', 'UNKNOWN')!r}: {key} is missing or not text")
    for key in ("id", "name", "description"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ValueError(f"rule {doc.get('id', 'UNKNOWN')!r}: {key} is not text")
    return ConsistencyRule(doc.get("id") or "UNKNOWN", doc.get("name") or "", doc.get("description") or "",
                           doc["signal_a"], doc["signal_b"], doc["condition"])


@dataclass(frozen=True, slots=True)
class PanelSlot:
    """What the checker uses of upstream's ``PanelSlotResult``: its id and output signals."""

    slot_id: str
    output_signals: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Violation:
    rule_id: str
    rule_name: str
    slots_involved: tuple[str, ...]
    expected: str
    actual: str
    severity: str = "ERROR"
    #: Ours: where upstream's checker would answer differently, and why.
    note: str | None = None
    #: Ours: the signals the rule compared (signal_a, signal_b), to point at what they count.
    signals: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule_id": self.rule_id, "rule_name": self.rule_name,
                               "slots_involved": list(self.slots_involved), "expected": self.expected,
                               "actual": self.actual, "severity": self.severity}
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Upstream's ``ConsistencyCheckResult``, plus ours: ``notes`` (rules not applied and why,
    and rules upstream would have flagged that hold as written)."""

    panel_id: str
    violations: tuple[Violation, ...]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_consistent(self) -> bool:
        return not self.violations

    def as_json(self) -> dict[str, Any]:
        return {"panel_id": self.panel_id, "is_consistent": self.is_consistent,
                "violations": [v.as_json() for v in self.violations], "warnings": list(self.warnings),
                "notes": list(self.notes)}


def slots_from_panel_response(doc: Any) -> tuple[str, list[PanelSlot]]:
    """``(panel_id, slots)`` of upstream's panel adapter response: slots in document order, each
    slot's ``output`` as its signals. ``ValueError`` saying what is missing."""
    if not isinstance(doc, Mapping):
        raise ValueError("a panel response is a JSON object")
    panel = doc.get("panel")
    panel_id = panel.get("panel_id") if isinstance(panel, Mapping) else None
    if not isinstance(panel_id, str):
        panel_id = str(doc.get("panel_id") or "UNKNOWN")
    slots = doc.get("slots")
    if isinstance(slots, Mapping):
        items = list(slots.items())
    elif isinstance(slots, list):
        items = [(s.get("slot_id"), s) for s in slots if isinstance(s, Mapping)]
    else:
        raise ValueError("the panel response has no slots")
    out = []
    for slot_id, slot in items:
        if not isinstance(slot, Mapping):
            raise ValueError(f"slot {slot_id!r} is not an object")
        output = slot.get("output", slot.get("output_signals"))
        out.append(PanelSlot(str(slot_id), output if isinstance(output, Mapping) else {}))
    return panel_id, out


def merge_signals(slots: Iterable[PanelSlot]) -> tuple[dict[str, Any], dict[str, str], list[Violation]]:
    """Upstream's merge: the first slot emitting a signal owns it; a later different value is a
    CONS-DUP violation. ``(signals, owner of each, violations)``."""
    signals: dict[str, Any] = {}
    owners: dict[str, str] = {}
    dups: list[Violation] = []
    for slot in slots:
        out = slot.output_signals
        if signals.keys().isdisjoint(out):  # the common case, at C speed: nothing emitted twice
            signals.update(out)
            owners.update(dict.fromkeys(out, slot.slot_id))
            continue
        for sig, val in out.items():
            if sig not in signals:
                signals[sig] = val
                owners[sig] = slot.slot_id
                continue
            try:
                differs = bool(signals[sig] != val)
            except (TypeError, ValueError, RecursionError):
                differs = True
            if differs:
                owner = owners[sig]
                dups.append(Violation("CONS-DUP", "duplicate_signal_mismatch", (owner, slot.slot_id),
                                      f"{sig}={_s(signals[sig])} (from {owner})", f"{sig}={_s(val)} (from {slot.slot_id})"))
    return signals, owners, dups


def _s(value: Any) -> str:
    """Python's ``str``, as upstream's f-strings render values (never raises)."""
    try:
        return str(value)
    except (RecursionError, ValueError):
        return "<unprintable>"


def _slots_of(rule: ConsistencyRule, owners: Mapping[str, str]) -> tuple[str, ...]:
    def owner(sig: str) -> str | None:
        return owners.get(sig) or owners.get(sig.split(".", 1)[0])

    out: list[str] = []
    for o in (owner(rule.signal_a), owner(rule.signal_b)):
        if o is not None and o not in out:
            out.append(o)
    return tuple(out)


def _violation(rule: ConsistencyRule, owners: Mapping[str, str], a: Any, b: Any, note: str | None = None) -> Violation:
    return Violation(rule.id or "UNKNOWN", rule.name, _slots_of(rule, owners), rule.description or rule.condition,
                     f"{rule.signal_a}={_s(a)}, {rule.signal_b}={_s(b)}", note=note,
                     signals=(rule.signal_a, rule.signal_b))


# -- upstream's matcher, as it runs ----------------------------------------------------------------


def _upstream_expr(expr: str, a: Any, b: Any) -> bool:
    expr = expr.strip()
    if "signal_a" in expr:
        if "> 0" in expr:
            return a > 0 if isinstance(a, int | float) else bool(a)
        if "== 0" in expr:
            return a == 0 if isinstance(a, int | float) else not a
    if "signal_b" in expr:
        if "== True" in expr or "== true" in expr:
            return b is True
        if "== False" in expr or "== false" in expr:
            return b is False
        if "== 'STRESSED'" in expr:
            return b == "STRESSED"
        if "!= 'NONE'" in expr:
            return b != "NONE"
    return True


def _upstream_holds(condition: str, a: Any, b: Any) -> bool:
    if "implies" in condition:
        left, _, right = condition.partition(" implies ")
        return (not _upstream_expr(left, a, b)) or _upstream_expr(right, a, b)
    if "==" in condition:
        return bool(a == b)
    if "!=" in condition:
        return bool(a != b)
    return True


def _upstream_verdict(rule: ConsistencyRule, signals: Mapping[str, Any]) -> tuple[str, Any, Any]:
    """``("skip" | "holds" | "violated" | "error", a, b)`` as upstream decides for one rule."""
    a, b = signals.get(rule.signal_a), signals.get(rule.signal_b)
    if a is None or b is None:
        return "skip", a, b
    try:
        return ("holds" if _upstream_holds(rule.condition, a, b) else "violated"), a, b
    except Exception:  # noqa: BLE001 - upstream logs any exception and ignores the rule
        return "error", a, b


@functools.lru_cache(maxsize=1024)
def _parsed(condition: str) -> Expr:
    """A condition's tree, parsed once (a check of 100,000 runs applies the same few rules)."""
    return parse(condition)


@functools.lru_cache(maxsize=1024)
def _compiled(condition: str, signal_a: str, signal_b: str):
    return compile_rule(_parsed(condition), aliases={"signal_a": signal_a, "signal_b": signal_b})


def _rules(rules: Sequence[ConsistencyRule] | None) -> Sequence[ConsistencyRule]:
    return rules if rules else DEFAULT_RULES  # custom rules replace the defaults; none: defaults


#: Rule tuples prepared already, by identity (a check of many runs passes the same tuple each time).
_PREPARED: dict[int, tuple[Sequence[ConsistencyRule], list]] = {}


def _prepare(rules: Sequence[ConsistencyRule] | None) -> list:
    """Each rule with its compiled condition, or the error that keeps it from applying."""
    seq = _rules(rules)
    if isinstance(seq, tuple):
        hit = _PREPARED.get(id(seq))
        if hit is not None and hit[0] is seq:
            return hit[1]
    prepared = []
    for rule in seq:
        try:
            prepared.append((rule, _compiled(rule.condition, rule.signal_a, rule.signal_b), None))
        except RuleError as exc:
            prepared.append((rule, None, exc))
    if isinstance(seq, tuple):  # immutable: safe to keep by identity
        if len(_PREPARED) > 32:
            _PREPARED.clear()
        _PREPARED[id(seq)] = (seq, prepared)
    return prepared


def upstream_check(panel_id: str, slots: Sequence[PanelSlot],
                   rules: Sequence[ConsistencyRule] | None = None) -> CheckResult:
    """Upstream's ``check`` exactly (its matcher's shortcuts included, §11.21)."""
    signals, owners, violations = merge_signals(slots)
    for rule in _rules(rules):
        verdict, a, b = _upstream_verdict(rule, signals)
        if verdict == "violated":
            violations.append(_violation(rule, owners, a, b))
    return CheckResult(panel_id, tuple(violations))


# -- ours: conditions evaluated as written --------------------------------------------------------


def check(panel_id: str, slots: Sequence[PanelSlot], rules: Sequence[ConsistencyRule] | None = None, *,
          compare_upstream: bool = True) -> CheckResult:
    """Each condition parsed and evaluated as written (dotted names resolve to a literal key
    first, then a path); where upstream's verdict differs, the finding says so, and a rule
    upstream would flag that holds as written is listed in ``notes`` (unless
    ``compare_upstream`` is off: rules written for the inspector, never run by upstream)."""
    signals, owners, violations = merge_signals(slots)
    notes: list[str] = []
    for rule, run, error in _prepare(rules):
        if run is None:
            notes.append(f"{rule.id}: condition not applied: {error.message} at column {error.column}")
            continue
        up = _upstream_verdict(rule, signals)[0] if compare_upstream else "same"
        try:
            holds = bool(run(signals))
        except MissingSignal as exc:
            if up == "violated":
                notes.append(f"{rule.id}: not applicable (signal {exc.name} absent or null); upstream flags it")
            continue
        except RuleError as exc:
            notes.append(f"{rule.id}: condition not evaluated: {exc}")
            continue
        if holds:
            if up == "violated":
                notes.append(f"{rule.id}: holds as written; upstream's matcher flags it ({_why(rule, signals)})")
            continue
        a, b = resolve(signals, rule.signal_a), resolve(signals, rule.signal_b)
        note = None
        if up not in ("violated", "same"):
            note = f"upstream would {'skip it' if up == 'skip' else 'pass it'}: {_why(rule, signals)}"
        violations.append(_violation(rule, owners, a, b, note))
    return CheckResult(panel_id, tuple(violations), notes=tuple(notes))


def _why(rule: ConsistencyRule, signals: Mapping[str, Any]) -> str:
    """Why upstream's matcher answers differently for a rule (§11.21)."""
    reasons = []
    for sig in (rule.signal_a, rule.signal_b):
        if "." in sig and sig not in signals:
            reasons.append(f"it looks {sig!r} up as a literal key, not as a path")
    cond = rule.condition
    if "implies" not in cond and ("==" in cond or "!=" in cond):
        reasons.append("it compares signal_a with signal_b whatever the operands of ==/!= are")
    if "implies" in cond:
        reasons.append("it recognises only a few fixed expressions and takes any other as true")
    return "; ".join(reasons) or "its substring matcher reads the condition differently"


# -- rule files ---------------------------------------------------------------------------------


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def json_document(text: str, *, location: str) -> Any:
    """A JSON document, or :class:`UsageError` naming the file, line and column of the error."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{location}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{location}: not readable as JSON: {type(exc).__name__}") from None


def rules_from_text(text: str, *, location: str, toml: bool = False) -> list[ConsistencyRule]:
    """Rules from a JSON file (a list of rules, or ``{"rules": [...]}``) or a TOML file
    (``[[rules]]`` tables). Every condition is parsed now: a file with an error is refused with
    :class:`UsageError` naming the file, line and column."""
    import json

    if toml:
        import tomllib

        try:
            doc: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{location}: not valid TOML: {exc}") from None
    else:
        doc = json_document(text, location=location)
    items = doc.get("rules") if isinstance(doc, Mapping) else doc
    if not isinstance(items, list):
        raise UsageError(f"{location}: expected a list of rules, or {{\"rules\": [...]}} ([[rules]] in TOML)")
    rules = []
    for i, item in enumerate(items):
        try:
            rule = rule_from_dict(item)
        except ValueError as exc:
            raise UsageError(f"{location}: rule {i + 1}: {exc}") from None
        try:
            parse(rule.condition)
        except RuleSyntaxError as exc:
            quoted = json.dumps(rule.condition)[1:-1] if not toml else rule.condition
            at = text.find(quoted)
            if at >= 0:
                line, col = _line_col(text, at + exc.column - 1)
                where = f"{location}:{line}:{col}"
            else:
                where = f"{location}: rule {rule.id}, condition column {exc.column}"
            raise UsageError(f"{where}: rule {rule.id}: {exc.message}\n  {exc.pointer(rule.condition)}") from None
        rules.append(rule)
    return rules
