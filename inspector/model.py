"""Domain objects for runs and steps, as the inspector sees them whatever the source."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from inspector import fastjson

__all__ = [
    "FAILED_RUN_STATUSES",
    "MISSING",
    "STATUS_WHITESPACE",
    "normalise_status",
    "normalise_time_bound",
    "parse_timestamp",
    "Payload",
    "stored_float",
    "stored_int",
    "to_int",
    "raw_statuses",
    "RunFilter",
    "RunRecord",
    "RunSort",
    "RunSummary",
    "SourceInfo",
    "Step",
    "StepRow",
    "StepStatus",
    "to_float",
]

#: Run statuses that count as a failed run (spec §1.4, §2.4), compared lower-case.
FAILED_RUN_STATUSES = ("failed", "timeout", "error", "aborted")


class _Missing:
    """Marker for a payload that the source does not carry at all (not the same as JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class StepStatus(enum.Enum):
    """Normalised step status (spec §2.4); the raw stored value is always kept beside it."""

    SUCCESS = "success"
    FAILURE = "failure"
    SKIPPED = "skipped"
    RETRY = "retry"
    UNKNOWN = "unknown"


_STATUS_MAP = {
    "success": StepStatus.SUCCESS,
    "succeeded": StepStatus.SUCCESS,
    "ok": StepStatus.SUCCESS,
    "failure": StepStatus.FAILURE,
    "failed": StepStatus.FAILURE,
    "error": StepStatus.FAILURE,
    "skipped": StepStatus.SKIPPED,
    "retry": StepStatus.RETRY,
    "retrying": StepStatus.RETRY,
}


#: What status normalisation trims (SQL drivers use ``trim(status, STATUS_WHITESPACE)``).
STATUS_WHITESPACE = " \t\n\r\f\v"


def raw_statuses(status: StepStatus) -> tuple[str, ...]:
    """The stored values (lower-cased, trimmed) that normalise to ``status``: drivers use them to
    count in SQL exactly as :func:`normalise_status` counts in Python."""
    return tuple(sorted(k for k, v in _STATUS_MAP.items() if v is status))


def normalise_status(raw: Any) -> StepStatus:
    """Map a stored step status to the five normalised ones (spec §2.4).

    Upstream's SQLite reader raises on a value outside its enum and its Postgres reader turns every
    unknown value into ``success`` (§11.4); here nothing fails and nothing is silently upgraded.
    """
    if not isinstance(raw, str):
        return StepStatus.UNKNOWN
    # ASCII whitespace and ASCII lower-casing only, exactly what the SQL drivers can do.
    return _STATUS_MAP.get(_ascii_lower(raw.strip(STATUS_WHITESPACE)), StepStatus.UNKNOWN)


def _ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def to_float(value: Any) -> float:
    """A stored number as a float; 0.0 for what is not one (text, a BLOB, None, a huge int)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0


def stored_float(value: Any) -> float | None:
    """A stored number as a float, None for what is not one (NULL, a boolean, text that is not a
    number, a BLOB, an integer beyond a float's range). Infinities and NaN stay what they are."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def stored_int(value: Any) -> int | None:
    """A stored integer (a REAL or numeric text truncated), None for what is not one or is not
    finite (``int()`` of an infinity or NaN raises; SQLite reads 5,000 digits of text as one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = stored_float(value)
    return int(number) if number is not None and number - number == 0.0 else None


def to_int(value: Any) -> int:
    """A stored number as an int (truncated); 0 for what is not one or not finite (an infinity,
    NaN: ``int()`` of them raises)."""
    number = value if type(value) is float else to_float(value)
    return int(number) if number - number == 0.0 else 0


def parse_timestamp(text: Any) -> datetime | None:
    """Parse the timestamps AOS writes: Python ISO (``2026-11-29T05:53:15.003803+00:00``) and
    SQLite ``CURRENT_TIMESTAMP`` (``2026-11-29 05:53:15``, UTC without offset). None if unparseable."""
    if isinstance(text, datetime):
        dt = text
    elif isinstance(text, str) and text.strip():
        s = text.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def normalise_time_bound(text: str, *, end: bool = False) -> str:
    """A user's ``--since``/``--until`` as the UTC ISO text upstream stores, for string comparison
    against ``started_at`` (§1.5). Accepts a date (``2026-10-01``; as an upper bound, the whole day
    is included), a date and time with or without offset (naive means UTC), or ``Z``.
    Raises :class:`inspector.errors.UsageError` with the accepted forms."""
    from datetime import timedelta

    from inspector.errors import UsageError

    s = (text or "").strip()
    date_only = len(s) == 10 and s[4:5] == "-" and s[7:8] == "-"
    dt = parse_timestamp(s)
    if dt is None:
        raise UsageError(f"not a date or time: {text!r} (use e.g. 2026-10-01, 2026-10-01T12:00 or 2026-10-01T12:00:00+02:00)")
    try:
        dt = dt.astimezone(UTC)
        if end and date_only:
            dt = dt + timedelta(days=1) - timedelta(microseconds=1)
    except OverflowError:  # 9999-12-31 as "until forever", or 0001-01-01 east of UTC
        if not date_only:
            raise UsageError(f"out of range: {text!r}") from None
        dt = datetime.max.replace(tzinfo=UTC)
    return dt.isoformat()


@dataclass(frozen=True, slots=True)
class Payload:
    """A JSON column as stored: the raw text, the parsed value, and why it did not parse.

    ``value`` is ``MISSING`` when the source has no such payload (SQL NULL where upstream writes
    NULL for an empty dict, or a format that does not carry it) or when the text is not valid JSON;
    ``error`` then says which.
    """

    raw: str | None
    value: Any = MISSING
    error: str | None = None
    #: ``value`` was read by orjson, so orjson writes it back alike (:mod:`inspector.fastjson`).
    plain: bool = field(default=False, compare=False, repr=False)

    @classmethod
    def from_text(cls, raw: str | bytes | None) -> Payload:
        if type(raw) is not str:  # text is the usual case: one test for it (a million-step read)
            if raw is None:
                return cls(None)
            if isinstance(raw, bytes):
                try:
                    raw = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return cls(raw.decode("utf-8", "replace"), MISSING, f"not UTF-8 text: {exc.reason}")
            if not isinstance(raw, str):
                # SQLite is dynamically typed: a foreign writer may have stored a number here.
                return cls(str(raw), raw, None)
        try:
            value, plain = fastjson.loads(raw)
            return cls(raw, value, None, plain)
        except json.JSONDecodeError as exc:
            return cls(raw, MISSING, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        except ValueError as exc:
            # Integers beyond sys.get_int_max_str_digits() (4,300 digits) raise a bare ValueError.
            return cls(raw, MISSING, f"not readable as JSON: {exc}")
        except RecursionError:
            return cls(raw, MISSING, "not readable as JSON: nested too deeply")

    @classmethod
    def from_value(cls, value: Any) -> Payload:
        if value is None:
            return cls(None)
        return cls(json.dumps(value), value, None)

    @property
    def is_missing(self) -> bool:
        return self.raw is None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def size(self) -> int:
        """Size in bytes of the stored text (UTF-8)."""
        if self.raw is None:
            return 0
        return len(self.raw.encode("utf-8"))

    def to_json(self) -> Any:
        """What a JSON export shows: the parsed value, None for absent, the raw text if broken."""
        if self.raw is None:
            return None
        if self.error is not None:
            return self.raw
        return self.value


@dataclass(frozen=True, slots=True)
class StepRow:
    """One step without its payloads: what a step list shows, cheap to hold by the hundred thousand."""

    row_id: int | None
    run_id: str
    step_index: int
    skill_name: str | None
    status_raw: Any
    outcome_category: str | None
    outcome_code: str | None
    cost_cents: float | None
    duration_ms: float | None
    retry_count: int | None
    timestamp: str | None
    #: Postgres steps link to their trace by ``trace_id`` (§2.2); None in SQLite.
    trace_id: str | None = None

    @property
    def status(self) -> StepStatus:
        return normalise_status(self.status_raw)


@dataclass(frozen=True, slots=True)
class Step:
    """One step with everything the source holds for it, payloads included."""

    row: StepRow
    params: Payload
    outcome_data: Payload
    idempotency_key: str | None = None
    replay_behavior: str | None = None
    input_hash: str | None = None
    output_hash: str | None = None
    rng_state_before: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # Steps read like their row: step.step_index, step.skill_name, …
        return getattr(object.__getattribute__(self, "row"), name)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as the runs list shows it (spec §1.7 TraceSummary), with the inspector's own counters.

    ``status`` is the run's stored status, untouched. ``success_count`` and ``failure_count`` count
    normalised step statuses, so a worker's ``failed`` is a failure (upstream misses it, §11.4).
    ``orphan`` marks a run id that exists only as steps whose run row was deleted (§1.5).

    In Postgres a run may have several traces (§2.3, §11.1): ``trace_id`` names this one, and
    ``key`` (the trace id where there is one, else the run id) is what a source's step and run
    methods take. ``archived`` marks a soft-archived Postgres trace (§2.6).
    """

    run_id: str
    correlation_id: str | None
    tenant_id: str | None
    agent_id: str | None
    status: str | None
    started_at: str | None
    completed_at: str | None
    total_steps: int | None = None
    success_count: int | None = None
    failure_count: int | None = None
    total_cost_cents: float | None = None
    total_duration_ms: float | None = None
    replay_of: str | None = None
    orphan: bool = False
    trace_id: str | None = None
    archived: bool = False

    @classmethod
    def from_counters(cls, key: str, values: Sequence[Any]) -> RunSummary:
        """A summary carrying only step counters (``total, successes, failures, cost, duration``,
        as a reader's aggregate query returns them), to merge with ``with_counters``."""
        total, ok, failed, cost, duration = values
        return cls(key, None, None, None, None, None, None, total_steps=int(total or 0),
                   success_count=int(ok or 0), failure_count=int(failed or 0),
                   total_cost_cents=float(cost or 0.0), total_duration_ms=float(duration or 0.0))

    @property
    def key(self) -> str:
        """What identifies this row in its source: the trace id in Postgres, the run id in SQLite."""
        return self.trace_id or self.run_id

    @property
    def has_aggregates(self) -> bool:
        return self.total_steps is not None

    def with_counters(self, other: RunSummary) -> RunSummary:
        """This run with ``other``'s step counters (counters are read separately from run rows)."""
        return replace(
            self,
            total_steps=other.total_steps,
            success_count=other.success_count,
            failure_count=other.failure_count,
            total_cost_cents=other.total_cost_cents,
            total_duration_ms=other.total_duration_ms,
        )


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run with its plan and metadata (spec §1.7 TraceRecord, without the steps)."""

    summary: RunSummary
    plan: Payload
    metadata: Payload
    seed: Any = None
    frozen_timestamp: str | None = None
    root_hash: str | None = None
    plan_hash: str | None = None
    created_at: str | None = None
    schema_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "summary"), name)


class RunSort(enum.Enum):
    """Sort keys of the runs list. Values are the JSON field names."""

    STARTED_AT = "started_at"
    RUN_ID = "run_id"
    STATUS = "status"
    TENANT = "tenant_id"
    AGENT = "agent_id"
    TOTAL_STEPS = "total_steps"
    FAILURES = "failure_count"
    COST = "total_cost_cents"
    DURATION = "total_duration_ms"
    #: Upstream's integrity grade (spec §4), worst first ascending: FAIL, WARN, PASS.
    GRADE = "integrity_grade"

    @property
    def needs_aggregates(self) -> bool:
        return self in (RunSort.TOTAL_STEPS, RunSort.FAILURES, RunSort.COST, RunSort.DURATION)


@dataclass(frozen=True, slots=True)
class RunFilter:
    """What the runs list shows: every field optional; ``since``/``until`` are ISO strings compared
    against ``started_at`` as upstream does (§1.5), after normalising them to UTC ISO."""

    status: str | None = None
    tenant_id: str | None = None
    agent_id: str | None = None
    since: str | None = None
    until: str | None = None
    run_id_prefix: str | None = None
    include_orphans: bool = True
    #: Postgres: also list soft-archived traces (``archived_at`` set), hidden by default (§2.6).
    include_archived: bool = False
    #: Only runs of this integrity grade (``PASS``/``WARN``/``FAIL``, spec §4); a source without an
    #: evidence store has no graded runs, so none match.
    grade: str | None = None
    #: Only the runs of these keys (``RunSummary.key``: the run id; on Postgres the trace id), as
    #: the runs found with consistency findings; None: no such limit.
    keys: frozenset[str] | None = None

    @property
    def is_empty(self) -> bool:
        return not any((self.status, self.tenant_id, self.agent_id, self.since, self.until, self.run_id_prefix,
                        self.grade)) and self.keys is None


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a user needs to know about an open source: its name, its kind, what it can show."""

    location: str
    kind: str
    display_name: str
    read_only: bool = True
    capabilities: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
