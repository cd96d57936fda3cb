"""SQL shared by the SQLite and Postgres readers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from inspector.model import FAILED_RUN_STATUSES, StepStatus, raw_statuses
from inspector.source import StepSeek
from inspector.step_rows import StepExtent

if TYPE_CHECKING:  # SQLAlchemy loads where a statement is built with it (sql_list needs none)
    from inspector.activity import RunActivity

__all__ = ["count_activity", "failed_run", "seek_select", "sql_list", "step_extent_select", "step_extent_of",
           "step_slice"]


def sql_list(values: Sequence[str]) -> str:
    """Constant strings as an SQL list (``'a', 'b'``), quotes doubled. For our own constants
    (status vocabularies) only, never for user input: that goes in bound parameters."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def failed_run(status: Any) -> Any:
    """1 for a run whose status counts as failed (``FAILED_RUN_STATUSES``, any case), else 0."""
    import sqlalchemy as sa

    return sa.case((sa.func.lower(status).in_(FAILED_RUN_STATUSES), 1), else_=0)


def count_activity(fetch: Callable[[Any], Sequence[Any]], runs: Any, max_intervals: int,
                   floor: Callable[[Any], Any]) -> RunActivity:
    """Runs per interval in two statements over ``runs``, a select of ``t`` (start, epoch seconds,
    NULL when unusable) and ``f`` (``failed_run``) already filtered: the span first, then the
    counts grouped by interval. ``floor`` turns a non-negative float into its integer floor in the
    dialect (SQLite's CAST truncates; Postgres' rounds)."""
    import sqlalchemy as sa

    from inspector.activity import RunActivity, plan_intervals  # numpy: only when counting

    sub = runs.subquery()
    lo, hi, total, dated = fetch(sa.select(sa.func.min(sub.c.t), sa.func.max(sub.c.t), sa.func.count(),
                                           sa.func.count(sub.c.t)))[0]
    if not dated or not (math.isfinite(lo) and math.isfinite(hi)):
        return RunActivity.empty(int(total or 0))
    start, width, count = plan_intervals(float(lo), float(hi), max_intervals)
    slot = floor((sub.c.t - start) / width).label("slot")
    rows = fetch(sa.select(slot, sa.func.count(), sa.func.sum(sub.c.f)).where(sub.c.t.is_not(None)).group_by(slot))
    return RunActivity.from_counts(start, width, count, rows, undated=int(total) - int(dated))


def step_slice(stmt: Any, step_index: Any, every: int = 1, after: Any = None, limit: int | None = None) -> Any:
    """A step read narrowed the way ``StepColumnsSource.step_columns`` asks: every ``every``-th
    step_index (an overview), those after ``after`` (keyset chunks), at most ``limit``."""
    if every > 1:
        stmt = stmt.where(step_index % int(every) == 0)
    if after is not None:
        stmt = stmt.where(step_index > after)
    if limit is not None:
        stmt = stmt.limit(int(limit))
    return stmt


def step_extent_select(steps: Any, run: Any, step_index: Any) -> Any:
    """The count, smallest and largest step_index of a run's steps (``StepKeysSource``), as three
    subqueries: SQLite seeks the index for a lone MIN or MAX but scans for both in one select."""
    import sqlalchemy as sa


    def one(expr: Any) -> Any:
        return sa.select(expr).select_from(steps).where(run).scalar_subquery()

    return sa.select(one(sa.func.count()), one(sa.func.min(step_index)), one(sa.func.max(step_index)))


def step_extent_of(row: Sequence[Any]) -> StepExtent:
    count, low, high = row
    return StepExtent(int(count or 0), low, high)


def seek_select(steps: Any, run: Any, step_index: Any, norm_status: Any, retries: Any, after: Any,
                what: StepSeek, backward: bool) -> Any:
    """The step_index of the next (previous) step after ``after`` that ``what`` matches.
    ``norm_status`` is the dialect's trimmed, lower-cased status (NULL when not text);
    ``retries`` a condition that the step's retry_count is a number above 0."""
    import sqlalchemy as sa

    if what is StepSeek.FAILURE:
        cond = norm_status.in_(raw_statuses(StepStatus.FAILURE))
    else:
        cond = sa.or_(norm_status.in_(raw_statuses(StepStatus.RETRY)), retries)
    stmt = sa.select(step_index).select_from(steps).where(run, cond)
    if after is not None:
        stmt = stmt.where(step_index < after if backward else step_index > after)
    return stmt.order_by(step_index.desc() if backward else step_index).limit(1)
