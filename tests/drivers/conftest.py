"""Fixtures for driver tests: real SQLite files in tmp_path, written with upstream semantics."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from drivers.sqlite_reader import SQLiteTraceReader
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

#: The first instant the fixed clock returns (spec §1.3's sample timestamp).
CLOCK_START = datetime(2026, 11, 29, 5, 53, 15, 3803, tzinfo=timezone.utc)


class StepClock:
    """A clock for ``SQLiteTraceWriter(clock=…)``: each call is one second after the previous one."""

    def __init__(self, start: datetime = CLOCK_START, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step
        self.calls = 0

    def __call__(self) -> datetime:
        value = self.now
        self.now += self.step
        self.calls += 1
        return value


class RunBuilder:
    """Writes whole runs through the writer's upstream API, the way the runtime would."""

    def __init__(self, writer: SQLiteTraceWriter) -> None:
        self.writer = writer

    def __call__(
        self,
        run_id: str,
        statuses: Sequence[str] = ("success",),
        *,
        tenant_id: str = "tenant-a",
        agent_id: str | None = "agent-1",
        run_status: str | None = "completed",
        costs: Sequence[float] | None = None,
        durations: Sequence[float] | None = None,
        metadata: dict | None = None,
        correlation_id: str | None = None,
    ) -> None:
        w = self.writer
        w.start_trace(run_id, correlation_id or f"corr-{run_id}", tenant_id, agent_id, [{"skill": "json_transform"}])
        w.record_steps(
            StepInput(
                run_id=run_id,
                step_index=i,
                skill_name=f"skill_{i}",
                params={"i": i},
                status=status,
                outcome_category="SUCCESS",
                outcome_code=None,
                outcome_data={"i": i},
                cost_cents=costs[i] if costs is not None else 1.0,
                duration_ms=durations[i] if durations is not None else 10.0,
                retry_count=0,
            )
            for i, status in enumerate(statuses)
        )
        if run_status is not None:
            w.complete_trace(run_id, run_status, metadata)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory) -> Path:
    """An empty trace DB made once by the writer; copying it saves the DDL's dozen fsyncs per test."""
    path = tmp_path_factory.mktemp("template") / "traces.db"
    SQLiteTraceWriter(path).close()
    return path


@pytest.fixture
def db_path(tmp_path: Path, schema_template: Path) -> Path:
    path = tmp_path / "traces.db"
    shutil.copyfile(schema_template, path)
    return path


@pytest.fixture
def writer(db_path: Path, clock: StepClock) -> Iterator[SQLiteTraceWriter]:
    # synchronous=OFF changes durability only, never what is written: tests stay fast on slow disks.
    w = SQLiteTraceWriter(db_path, clock=clock, synchronous="OFF")
    yield w
    w.close()


@pytest.fixture
def add_run(writer: SQLiteTraceWriter) -> RunBuilder:
    return RunBuilder(writer)


@pytest.fixture
def open_reader() -> Iterator:
    """Factory: ``open_reader(path)`` opens a reader that is closed after the test."""
    opened: list[SQLiteTraceReader] = []

    def _open(path: Path, **kwargs) -> SQLiteTraceReader:
        reader = SQLiteTraceReader(path, **kwargs)
        opened.append(reader)
        return reader

    yield _open
    for reader in opened:
        reader.close()


@pytest.fixture
def raw_db() -> Iterator:
    """Factory: ``raw_db(path)`` gives a plain sqlite3 connection (autocommit) closed after the test,
    for foreign or damaged data upstream would never write."""
    conns: list[sqlite3.Connection] = []

    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None)
        conns.append(conn)
        return conn

    yield _connect
    for conn in conns:
        conn.close()
