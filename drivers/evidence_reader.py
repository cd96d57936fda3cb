"""Reading the evidence of runs for integrity grading (spec §3.7, §4), read-only, on Postgres.

The facts upstream's gatherer collects, collected with grouped counts: one statement per table
for any number of runs (``WHERE run_id = ANY(:ids) GROUP BY run_id``), never one query per table
per run. A table the database lacks counts 0, as upstream's gatherer treats an SQL error; a
database with none of the evidence tables has no evidence store at all (``has_store`` False), and
the UI says so rather than grading every run FAIL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from drivers.pg_common import Canceller, iso, translate_errors
from inspector.integrity import (
    EXPECTED_TABLES,
    GRADE_OF_STATUS,
    CaptureFailure,
    EvidenceClass,
    IntegrityFacts,
    IntegrityGrade,
    assemble,
)

__all__ = ["PostgresEvidenceReader", "StoredVerdict"]

#: The four evidence tables the gatherer counts by ``run_id`` (traces and steps are counted too).
_EVIDENCE_COUNTED = (EvidenceClass.H_ENVIRONMENT, EvidenceClass.B_ACTIVITY, EvidenceClass.G_PROVIDER,
                     EvidenceClass.D_DECISION)
_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    """The ``integrity_evidence`` row upstream stored for a run. Upstream keeps no grade: it is
    derived from the legacy ``integrity_status`` (VALID → PASS, DEGRADED → WARN, FAILED → FAIL)."""

    run_id: str
    integrity_status: str | None
    integrity_score: float | None
    observed_artifacts: tuple[str, ...]
    missing_artifacts: tuple[str, ...]
    missing_reasons: Any
    verification_method: str | None
    verification_timestamp: str | None
    id: str | None = None

    @property
    def grade(self) -> IntegrityGrade | None:
        return GRADE_OF_STATUS.get(self.integrity_status or "")


class PostgresEvidenceReader:
    def __init__(self, engine: sa.Engine, location: str, *, canceller: Canceller | None = None) -> None:
        self.engine = engine
        self.location = location
        self.canceller = canceller or Canceller()
        names = [c.value for c in EvidenceClass] + ["evidence_capture_failures"]
        with self._reading("looking for the evidence tables") as conn:
            rows = conn.execute(sa.text(
                "SELECT name, CASE WHEN to_regclass(name) IS NULL THEN false "
                "ELSE has_table_privilege(to_regclass(name), 'SELECT') END "
                "FROM unnest(CAST(:names AS text[])) AS name"), {"names": names}).all()
        self.tables = frozenset(name for name, ok in rows if ok)

    @contextlib.contextmanager
    def _reading(self, doing: str) -> Iterator[sa.Connection]:
        with translate_errors(self.location, doing), self.engine.connect() as conn, self.canceller.track(conn):
            yield conn

    @property
    def has_store(self) -> bool:
        """Whether the database has any evidence table at all (else: "no evidence store")."""
        return any(c.value in self.tables for c in _EVIDENCE_COUNTED)

    def _counts(self, conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[EvidenceClass, int]]:
        counts: dict[str, dict[EvidenceClass, int]] = {rid: {} for rid in run_ids}
        statements = [
            (cls, f"SELECT run_id, count(*) FROM {cls.value} WHERE run_id = ANY(:ids) GROUP BY run_id")
            for cls in _EVIDENCE_COUNTED if cls.value in self.tables
        ]
        if "aos_traces" in self.tables:
            statements.append((EvidenceClass.TRACE,
                               "SELECT run_id, count(*) FROM aos_traces WHERE run_id = ANY(:ids) GROUP BY run_id"))
        if "aos_traces" in self.tables and "aos_trace_steps" in self.tables:
            statements.append((EvidenceClass.TRACE_STEPS,
                               "SELECT t.run_id, count(*) FROM aos_trace_steps s JOIN aos_traces t "
                               "ON s.trace_id = t.trace_id WHERE t.run_id = ANY(:ids) GROUP BY t.run_id"))
        for cls, sql in statements:
            for rid, n in conn.execute(sa.text(sql), {"ids": list(run_ids)}):
                counts[rid][cls] = int(n)
        return counts

    def _failures(self, conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, list[CaptureFailure]]:
        out: dict[str, list[CaptureFailure]] = {rid: [] for rid in run_ids}
        if "evidence_capture_failures" not in self.tables:
            return out
        sql = ("SELECT run_id, evidence_type, failure_reason, error_message, resolution, id "
               "FROM evidence_capture_failures WHERE run_id = ANY(:ids) ORDER BY run_id, created_at, id")
        for rid, etype, reason, message, resolution, fid in conn.execute(sa.text(sql), {"ids": list(run_ids)}):
            out[rid].append(CaptureFailure(etype, reason, message, stored_resolution=resolution, id=fid))
        return out

    def facts_for_runs(self, run_ids: Sequence[str]) -> dict[str, IntegrityFacts]:
        """Upstream's facts for every run: grouped counts, a chunk of runs per statement."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, IntegrityFacts] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            with self._reading("counting evidence") as conn:
                counts = self._counts(conn, chunk)
                failures = self._failures(conn, chunk)
            for rid in chunk:
                out[rid] = assemble(rid, {c: counts[rid].get(c, 0) for c in EXPECTED_TABLES}, failures[rid])
        return out

    def facts(self, run_id: str) -> IntegrityFacts:
        return self.facts_for_runs([run_id])[run_id]

    def stored_verdicts(self, run_ids: Sequence[str]) -> dict[str, StoredVerdict]:
        """The ``integrity_evidence`` rows upstream stored, by run id (at most one per run)."""
        if "integrity_evidence" not in self.tables or not run_ids:
            return {}
        sql = ("SELECT run_id, integrity_status, integrity_score, observed_artifacts, missing_artifacts, "
               "missing_reasons, verification_method, verification_timestamp, id "
               "FROM integrity_evidence WHERE run_id = ANY(:ids)")
        with self._reading("reading stored integrity verdicts") as conn:
            rows = conn.execute(sa.text(sql), {"ids": list(dict.fromkeys(run_ids))}).all()
        return {
            r[0]: StoredVerdict(r[0], r[1], None if r[2] is None else float(r[2]), tuple(r[3] or ()), tuple(r[4] or ()),
                                r[5], r[6], iso(r[7]), r[8])
            for r in rows
        }
