"""What each source can do beyond TraceSource, as the typed protocols of inspector.source answer it
(``isinstance``, never ``hasattr``), and as its ``SourceInfo.capabilities`` say it: a SQLite
``traces.db``, a trace JSON file, and the AOS Postgres database."""

from __future__ import annotations

import pytest

from drivers import open_source
from inspector.evidence import EvidenceReader
from inspector.logs import LogsSource
from inspector.source import (
    Cancellable,
    Capability,
    HasLogs,
    KnowsEvidenceTables,
    Pingable,
    StreamsRuns,
    TraceSource,
    TracesPerRun,
)

PROTOCOLS = (Cancellable, Pingable, TracesPerRun, HasLogs, StreamsRuns, KnowsEvidenceTables)


def can(source) -> set[str]:
    return {p.__name__ for p in PROTOCOLS if isinstance(source, p)}


def test_a_sqlite_file_reads_runs_and_evidence_and_nothing_more(tmp_path):
    from tests.ui.evidence_dbs import build_evidence_db

    source = open_source(build_evidence_db(tmp_path / "traces.db"))
    try:
        assert isinstance(source, TraceSource) and can(source) == {"KnowsEvidenceTables"}
        assert Capability.TRACES_PER_RUN not in source.info.capabilities
        assert Capability.ORPHANS in source.info.capabilities
        reader = source.evidence()
        assert isinstance(reader, EvidenceReader) and reader.has_store
    finally:
        source.close()


def test_a_trace_file_holds_one_run_and_no_evidence(fixtures_dir):
    source = open_source(fixtures_dir / "golden_trace.json")
    try:
        assert isinstance(source, TraceSource) and can(source) == set()
        assert source.evidence() is None
        assert source.info.capabilities == frozenset({Capability.RUNS, Capability.STEPS})
    finally:
        source.close()


def test_postgres_cancels_pings_streams_and_has_several_traces_per_run_and_logs(pg_url):
    source = open_source(pg_url)
    try:
        assert isinstance(source, TraceSource)
        assert can(source) == {"Cancellable", "Pingable", "TracesPerRun", "HasLogs", "StreamsRuns"}
        # What the source says of its data agrees with what it can do.
        assert Capability.TRACES_PER_RUN in source.info.capabilities
        assert isinstance(source.logs(), LogsSource)
        assert isinstance(source.evidence(), EvidenceReader)
        source.ping()
        assert source.cancel() == 0  # nothing running
    finally:
        source.close()


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_a_memory_source_answers_no_to_every_extra(protocol):
    from inspector.model import SourceInfo
    from inspector.source import MemorySource

    assert not isinstance(MemorySource(SourceInfo("mem", "memory", "mem"), [], {}), protocol)


@pytest.mark.parametrize("sql", [
    "", "CREATE TABLE activity_evidence (run_id TEXT)", "CREATE TABLE policy_decisions (id INTEGER)",
    "CREATE VIEW provider_evidence AS SELECT run_id FROM traces", "CREATE TABLE integrity_evidence (run_id TEXT)",
    "CREATE TABLE evidence_capture_failures (run_id TEXT, evidence_type TEXT, failure_reason TEXT, "
    "error_message TEXT)",
], ids=["plain", "activity", "unusable-policy", "view", "integrity-only", "failures-only"])
def test_a_sqlite_file_knows_whether_it_has_an_evidence_store_without_loading_its_reader(tmp_path, sql):
    """``has_evidence_tables`` (read when the file is opened) says what the evidence reader's
    ``has_store`` would, also after a writer adds a table and the source is refreshed."""
    import sqlite3

    from tests.ui.dbs import build_small_db

    path = build_small_db(tmp_path / "traces.db")
    if sql:
        with sqlite3.connect(path) as con:
            con.execute(sql)
    source = open_source(path)
    try:
        assert source.has_evidence_tables() == source.evidence().has_store
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE IF NOT EXISTS environment_evidence (run_id TEXT)")
        source.refresh()
        assert source.has_evidence_tables() is True and source.evidence().has_store
    finally:
        source.close()
