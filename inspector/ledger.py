"""Pure rules over the logs domain: which ledger events mention a run, what an event changed, and
the replay window merged from steps, system records and policy events (spec §3.1, §3.5)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from inspector.jsondoc import json_pointer, split_pointer  # re-exported: the ledger's diffs use them
from inspector.logs import (
    POLICY_WINDOW_ENTITY_TYPES,
    AuditEvent,
    SystemRecord,
    WindowEntry,
    payload_value,
)
from inspector.model import MISSING, Payload, parse_timestamp

__all__ = [
    "ANCHOR_LLM",
    "ANCHOR_NONE",
    "ANCHOR_TRACE",
    "RUN_KEYS",
    "StateChange",
    "WindowStep",
    "json_pointer",
    "mentions_run",
    "merge_window",
    "split_pointer",
    "state_diff",
    "window_bounds",
]

#: Keys of ``before_state``/``after_state`` that tie a ledger event to a run (§3.1).
RUN_KEYS = ("run_id", "source_run_id")

#: ``ReplayWindow.anchor_from`` values: centred on the run's LLM record, on its trace (the run has
#: no LLM record), or nowhere (neither exists).
ANCHOR_LLM = "llm_run_record"
ANCHOR_TRACE = "trace"
ANCHOR_NONE = "none"

_SOURCE_RANK = {"llm": 0, "system": 1, "policy": 2}


# --- which events mention a run ---------------------------------------------------------------


def mentions_run(event: AuditEvent, run_id: str) -> bool:
    """Whether ``after_state`` or ``before_state`` has ``run_id`` or ``source_run_id`` equal to
    ``run_id`` once stringified, as upstream's governance read filters (§3.1). A null value never
    matches (upstream's ``str(None)`` would match a run called ``"None"``)."""
    for state in (event.after_state, event.before_state):
        value = payload_value(state) if isinstance(state, Payload) else state
        if not isinstance(value, dict):
            continue
        for key in RUN_KEYS:
            found = value.get(key)
            if found is not None and str(found) == run_id:
                return True
    return False


# --- what an event changed --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateChange:
    """One field that differs between ``before_state`` and ``after_state``.

    ``pointer`` is an RFC 6901 JSON pointer (``""`` is the whole document); ``op`` is ``added``,
    ``removed`` or ``changed``; ``before``/``after`` are the values, ``MISSING`` on the side where
    the field does not exist (a JSON ``null`` is ``None``)."""

    pointer: str
    op: str
    before: Any = MISSING
    after: Any = MISSING

    @property
    def path(self) -> tuple[str, ...]:
        """The pointer's reference tokens, unescaped."""
        return split_pointer(self.pointer)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _same_scalar(a: Any, b: Any) -> bool:
    """JSON equality of two non-containers: 1 and 1.0 are the same number, true is not 1, and a
    NaN (Python's json reads it) equals itself so that a document never differs from itself."""
    if _is_number(a) and _is_number(b):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b
    return type(a) is type(b) and a == b


def _container(v: Any) -> type | None:
    return dict if isinstance(v, dict) else list if isinstance(v, list) else None


def _diff(before: Any, after: Any, path: list[str | int], out: list[StateChange]) -> None:
    kind = _container(before)
    if kind is not None and kind is _container(after):
        if kind is dict:
            for key in before:
                path.append(key)
                if key in after:
                    _diff(before[key], after[key], path, out)
                else:
                    out.append(StateChange(json_pointer(path), "removed", before=before[key]))
                path.pop()
            for key in after:
                if key not in before:
                    out.append(StateChange(json_pointer([*path, key]), "added", after=after[key]))
        else:
            common = min(len(before), len(after))
            for i in range(common):
                path.append(i)
                _diff(before[i], after[i], path, out)
                path.pop()
            for i in range(common, len(before)):
                out.append(StateChange(json_pointer([*path, i]), "removed", before=before[i]))
            for i in range(common, len(after)):
                out.append(StateChange(json_pointer([*path, i]), "added", after=after[i]))
        return
    if kind is None and _container(after) is None and _same_scalar(before, after):
        return
    out.append(StateChange(json_pointer(path), "changed", before=before, after=after))


def _side(state: Payload | Any) -> Any:
    """A side of the diff: a Payload's parsed value, its raw text when it does not parse, and
    ``MISSING`` for SQL NULL (a *created* event has no ``before_state``, §3.1)."""
    if isinstance(state, Payload):
        if state.is_missing:
            return MISSING
        return state.value if state.ok else state.raw
    return state


def state_diff(before: Payload | Any, after: Payload | Any) -> list[StateChange]:
    """The field-level difference between two JSON documents (``Payload`` or parsed values).

    Objects are compared key by key and arrays index by index, recursively; a value that changes
    type (object to array, number to string) is one ``changed`` entry. An absent side (``MISSING``
    or a missing Payload, or a top-level JSON null) is an empty document of the other side's kind,
    so a *created* event lists each of its fields as ``added``. Order is stable: document order, ``before``'s keys first, then
    keys only ``after`` has; array tails removed before added.
    """
    b, a = _side(before), _side(after)
    # Upstream's writer stores an unused state as JSON null (SQLModel sets every field): a state
    # that is null at the top is "no state", like SQL NULL.
    b = MISSING if b is None else b
    a = MISSING if a is None else a
    if b is MISSING and a is MISSING:
        return []
    if b is MISSING:
        kind = _container(a)
        if kind is None:
            return [StateChange("", "added", after=a)]
        b = kind()
    if a is MISSING:
        kind = _container(b)
        if kind is None:
            return [StateChange("", "removed", before=b)]
        a = kind()
    out: list[StateChange] = []
    try:
        _diff(b, a, [], out)
    except RecursionError:  # nested deeper than Python recurses: one change for the whole document
        return [StateChange("", "changed", before=b, after=a)]
    return out


# --- the replay window ------------------------------------------------------------------------


class WindowStep(Protocol):
    """What the window needs of a step (``inspector.model.StepRow`` and ``Step`` both fit)."""

    step_index: int
    skill_name: str | None
    outcome_category: str | None
    timestamp: str | None


def _as_utc(moment: datetime | str) -> datetime:
    dt = parse_timestamp(moment)
    if dt is None:
        raise ValueError(f"not a timestamp: {moment!r}")
    return dt.astimezone(UTC)


def window_bounds(anchor: datetime | str, seconds: float = 30.0) -> tuple[datetime, datetime]:
    """``anchor ± seconds`` as UTC datetimes (naive input is UTC); the bounds are inclusive."""
    centre = _as_utc(anchor)
    delta = timedelta(seconds=abs(seconds))
    return centre - delta, centre + delta


def merge_window(
    anchor: datetime | str,
    steps: Iterable[WindowStep],
    system_records: Iterable[SystemRecord],
    policy_events: Iterable[AuditEvent],
    seconds: float = 30.0,
) -> tuple[WindowEntry, ...]:
    """The replay window around ``anchor`` (§3.5): steps as ``llm`` entries (action = skill name,
    outcome = outcome category, ``unknown`` when empty), system records as ``system`` entries
    (event type, severity), and ledger events of entity types ``POLICY_WINDOW_ENTITY_TYPES`` as
    ``policy`` entries (event type, entity type).

    Only rows whose timestamp lies within ``anchor ± seconds`` (inclusive) are kept; rows without a
    readable timestamp cannot be placed and are left out. Entries are ordered by time; equal times
    keep the order llm, system, policy, then the order given. Timestamps become UTC ISO text.
    """
    start, end = window_bounds(anchor, seconds)
    keyed: list[tuple[datetime, int, int, WindowEntry]] = []

    def add(moment: Any, source: str, action: str | None, outcome: str | None, ref: str) -> None:
        dt = parse_timestamp(moment)
        if dt is None:
            return
        dt = dt.astimezone(UTC)
        if start <= dt <= end:
            entry = WindowEntry(dt.isoformat(), source, action, outcome, ref)
            keyed.append((dt, _SOURCE_RANK[source], len(keyed), entry))

    for step in steps:
        outcome = step.outcome_category if step.outcome_category and step.outcome_category.strip() else "unknown"
        add(step.timestamp, "llm", step.skill_name, outcome, str(step.step_index))
    for rec in system_records:
        add(rec.created_at, "system", rec.event_type, rec.severity, rec.id)
    for event in policy_events:
        if event.entity_type in POLICY_WINDOW_ENTITY_TYPES:
            add(event.created_at, "policy", event.event_type, event.entity_type, event.id)
    keyed.sort(key=lambda k: k[:3])
    return tuple(k[3] for k in keyed)

