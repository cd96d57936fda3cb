"""The demo ``traces.db``: the recipe (:mod:`drivers.demo.recipe`) written only through
:class:`drivers.sqlite_writer.SQLiteTraceWriter`, so it is byte-for-byte what upstream's
``SQLiteTraceStore`` would hold (spec §1), with a scripted clock: for a given seed every column is
identical except SQLite's own ``created_at`` (``CURRENT_TIMESTAMP``).

What is in it (see :class:`DemoSummary`): a few hundred runs over five tenants and nine agents
(plus runs with no agent), plans shaped like upstream's golden planner files; every run status upstream
writes (plus one it never does), TraceStatus and worker step statuses plus unknown ones; retries,
re-recorded step indexes (``INSERT OR REPLACE``: last write wins), TRANSIENT/PERMANENT failures;
replays that name their original in ``metadata.replay_of`` (spec §1.5/§1.6); multilingual text,
emoji, RTL and combining marks (stored as ``\\uXXXX`` escapes); payloads nested 30+ deep and three
over 1 MB; one very long run; steps left orphaned by ``delete_trace``; a run with no steps; and one
``params`` value that is not JSON, planted with raw SQL as a foreign writer's damage.

Beside upstream's two tables (our superset, as a local ``traces.db`` may carry them): ``runs`` and
the evidence tables, written through the capture writers, with runs of every integrity grade
(:mod:`drivers.demo.evidence`). The recipe's version is stored as ``PRAGMA user_version``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drivers.demo.evidence import write_demo_evidence
from drivers.demo.recipe import DEMO_RECIPE_VERSION, INVALID_JSON_TEXT, DemoBuilder, DemoRun, ScriptedClock
from drivers.evidence_schema import create_evidence_tables
from drivers.sqlite_writer import SQLiteTraceWriter

__all__ = ["DemoSummary", "default_demo_path", "demo_recipe_version", "ensure_demo", "generate_demo"]

_DEMO_APP = "aos-trace-inspector"


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_demo` wrote; counts are read back from the database."""

    path: Path
    seed: int
    runs: int
    steps: int
    tenants: tuple[str, ...]
    agents: tuple[str | None, ...]
    run_statuses: dict[str, int] = field(hash=False)
    step_statuses: dict[str, int] = field(hash=False)
    replays: tuple[tuple[str, str], ...]
    """(replay run id, original run id); some originals have two replays."""
    replay_count: int
    orphan_run_ids: tuple[str, ...]
    """Runs removed with ``delete_trace``; their steps remain in ``trace_steps``."""
    orphan_steps: int
    empty_run_id: str
    """The one run with no steps (a ``POST /traces`` in SQLite mode: only ``start_trace``)."""
    big_run_id: str
    big_run_steps: int
    invalid_json_step: tuple[str, int, str]
    """(run id, step index, column) of the one payload that is not valid JSON."""
    large_payloads: tuple[tuple[str, int, str, int], ...]
    """(run id, step index, column, bytes) of the payloads over 1 MB."""
    deep_payloads: tuple[tuple[str, int, str, int], ...]
    """(run id, step index, column, depth) of the deeply nested payloads."""
    unicode_runs: int
    evidence_scenarios: dict[str, tuple[str, ...]] = field(hash=False)
    """Run ids by :class:`drivers.demo.evidence.Scenario` value: how each run's evidence was captured."""
    integrity_records: int
    """Runs with a stored integrity record (``integrity_evidence``)."""


# -- writing -------------------------------------------------------------------------------------


def _write(writer: SQLiteTraceWriter, clock: ScriptedClock, run: DemoRun, done: int, total: int,
           progress: Callable[[int, int], None] | None) -> int:
    clock.feed(run.started_at)
    writer.start_trace(run.run_id, run.correlation_id, run.tenant_id, run.agent_id, run.plan)
    if run.big is not None:
        for steps, times in run.big():
            clock.feed_many(times)
            writer.record_steps(steps)
            done += len(steps)
            if progress:
                progress(done, total)
    elif run.steps:
        clock.feed_many(run.times)
        writer.record_steps(run.steps)
        done += len(run.final_steps())
    if run.status is not None:
        clock.feed(run.completed_at)
        writer.complete_trace(run.run_id, run.status, run.metadata)
    if run.determinism:
        writer.update_trace_determinism(run.run_id, **run.determinism)
    if progress and run.big is None:
        progress(done, total)
    return done


def generate_demo(
    path: str | os.PathLike[str],
    seed: int = 7,
    *,
    big_run_steps: int = 100_000,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Write the demo database to ``path`` (which must not exist) and describe what it holds.

    ``progress(done, total)`` is called with step rows written so far, out of all the demo's.
    """
    if big_run_steps < 1:
        raise ValueError("big_run_steps must be at least 1 (the demo has exactly one empty run already)")
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; the demo is only written to a new file")
    runs, notes = DemoBuilder(seed, big_run_steps).build()
    total = sum(run.row_count for run in runs)
    clock = ScriptedClock()
    writer = SQLiteTraceWriter(path, clock=clock, synchronous="OFF")
    try:
        done = 0
        if progress:
            progress(0, total)
        with writer.bulk():
            for run in runs:
                done = _write(writer, clock, run, done, total, progress)
        # Our superset of upstream's file: the evidence tables, filled as the runs were captured
        # (the integrity records see the traces; runs deleted below then keep a stale one).
        with writer.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            create_evidence_tables(conn)
            notes["evidence"] = write_demo_evidence(conn, runs, notes, seed)
        with writer.bulk():
            for rid in notes["orphans"]:
                writer.delete_trace(rid)
            bad_run, bad_index, bad_col = notes["invalid"]
            # A foreign writer's damage: upstream would never store this (its json.dumps cannot).
            writer.execute_raw(f"UPDATE trace_steps SET {bad_col} = ? WHERE run_id = ? AND step_index = ?",
                               (INVALID_JSON_TEXT, bad_run, bad_index))
            writer.execute_raw(f"PRAGMA user_version = {DEMO_RECIPE_VERSION}")
        if clock.pending:
            raise RuntimeError(f"demo clock has {clock.pending} unused instants: a writer call was skipped")
        summary = _summarise(writer, path, seed, runs, notes)
    finally:
        writer.close()
    return summary


def _summarise(writer: SQLiteTraceWriter, path: Path, seed: int, runs: list[DemoRun], notes: dict) -> DemoSummary:
    with writer.engine.connect() as conn:
        q = conn.exec_driver_sql
        n_runs = q("SELECT COUNT(*) FROM traces").scalar_one()
        n_steps = q("SELECT COUNT(*) FROM trace_steps").scalar_one()
        run_st = dict(q("SELECT status, COUNT(*) FROM traces GROUP BY status ORDER BY status").all())
        step_st = dict(q("SELECT status, COUNT(*) FROM trace_steps GROUP BY status ORDER BY status").all())
        orphan_steps = q("SELECT COUNT(*) FROM trace_steps s WHERE NOT EXISTS "
                         "(SELECT 1 FROM traces t WHERE t.run_id = s.run_id)").scalar_one()
        big_steps = q("SELECT COUNT(*) FROM trace_steps WHERE run_id = ?", (notes["big"],)).scalar_one()
        integrity_records = q("SELECT COUNT(*) FROM integrity_evidence").scalar_one()
        large = []
        for rid, idx, col in notes["large"]:
            size = q(f"SELECT length(CAST({col} AS BLOB)) FROM trace_steps WHERE run_id = ? AND step_index = ?",
                     (rid, idx)).scalar_one()
            large.append((rid, idx, col, int(size)))
    deleted = set(notes["orphans"])
    kept = [run for run in runs if run.run_id not in deleted]
    agents = []
    for run in kept:
        if run.agent_id not in agents:
            agents.append(run.agent_id)
    return DemoSummary(
        path=path,
        seed=seed,
        runs=int(n_runs),
        steps=int(n_steps),
        tenants=tuple(sorted({run.tenant_id for run in kept})),
        agents=tuple(sorted(agents, key=lambda a: (a is None, a or ""))),
        run_statuses={str(k): int(v) for k, v in run_st.items()},
        step_statuses={str(k): int(v) for k, v in step_st.items()},
        replays=tuple(notes["replays"]),
        replay_count=len(notes["replays"]),
        orphan_run_ids=tuple(sorted(notes["orphans"])),
        orphan_steps=int(orphan_steps),
        empty_run_id=notes["empty"],
        big_run_id=notes["big"],
        big_run_steps=int(big_steps),
        invalid_json_step=tuple(notes["invalid"]),
        large_payloads=tuple(large),
        deep_payloads=tuple(notes["deep"]),
        unicode_runs=sum(1 for run in kept if run.unicode),
        evidence_scenarios=dict(notes["evidence"]),
        integrity_records=int(integrity_records),
    )


# -- the cached demo -----------------------------------------------------------------------------


def default_demo_path(seed: int = 7) -> Path:
    """Where the app keeps its demo database: the user data dir, one file per seed."""
    import platformdirs

    return platformdirs.user_data_path(_DEMO_APP) / f"demo-traces-seed{seed}.db"


def demo_recipe_version(path: str | os.PathLike[str]) -> int | None:
    """The recipe version a demo file was written with (0 for demos older than the marker), or
    None when the file cannot be read as SQLite."""
    import sqlite3

    try:
        con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(con.execute("PRAGMA user_version").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return None


def ensure_demo(
    path: str | os.PathLike[str] | None = None,
    seed: int = 7,
    *,
    big_run_steps: int = 100_000,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Return the demo database at ``path`` (default :func:`default_demo_path`), generating it
    only if missing or written by another recipe version (:data:`DEMO_RECIPE_VERSION`; ``progress``
    as for :func:`generate_demo`, not called when the file is kept). It is written to a temporary
    file in the same folder, synced, then renamed over the old one, so an interrupted generation
    never leaves a half-written demo under the final name."""
    target = Path(path) if path is not None else default_demo_path(seed)
    if target.exists() and demo_recipe_version(target) == DEMO_RECIPE_VERSION:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        generate_demo(tmp, seed, big_run_steps=big_run_steps, progress=progress)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target
