"""Thousands of corrupted bundles fed to the reader and to verification: no traceback, no hang,
every changed bundle rejected or flagged, and nothing written outside the reader's own folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers import open_source
from drivers.bundle import open_bundle, verify_path
from inspector.bundle import SigningKey
from inspector.errors import InspectorError
from inspector.model import RunFilter
from inspector.source import HasLogs
from tests.bundles import export_to
from tests.ui.evidence_dbs import build_evidence_db

_BASE: dict[str, bytes] = {}


def _base(tmp: Path) -> bytes:
    if "zip" not in _BASE:
        db = build_evidence_db(tmp / "traces.db")
        src = open_source(db)
        try:
            export_to(src, tmp / "base.zip", SigningKey.generate(), ["ev-pass", "ev-warn"])
        finally:
            src.close()
        _BASE["zip"] = (tmp / "base.zip").read_bytes()
    return _BASE["zip"]


def _mutations(size: int):
    pos = st.integers(0, size - 1)
    return st.lists(st.one_of(
        st.tuples(st.just("flip"), pos, st.integers(0, 7)),
        st.tuples(st.just("truncate"), pos, st.just(0)),
        st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("delete"), pos, st.integers(1, 64)),
        st.tuples(st.just("overwrite"), pos, st.binary(min_size=1, max_size=16)),
    ), min_size=1, max_size=3)


def _apply(data: bytes, muts) -> bytes:
    b = bytearray(data)
    for kind, pos, arg in muts:
        pos = min(pos, max(0, len(b) - 1))
        if kind == "flip" and b:
            b[pos] ^= 1 << arg
        elif kind == "truncate":
            del b[pos:]
        elif kind == "insert":
            b[pos:pos] = arg
        elif kind == "delete":
            del b[pos:pos + arg]
        elif kind == "overwrite":
            b[pos:pos + len(arg)] = arg
    return bytes(b)


def _read_everything(source) -> None:
    for s in source.list_runs(RunFilter(), limit=100):
        source.get_run(s.key)
        for _ in source.iter_steps(s.key):
            pass
        ev = source.evidence()
        if ev is not None:
            ev.run_evidence(s.run_id)
        if isinstance(source, HasLogs):
            source.logs().run_logs(s.run_id, s.trace_id)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> bytes:
    return _base(tmp_path_factory.mktemp("fuzz"))


@settings(max_examples=2000, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_bundles_are_rejected_or_flagged(base, data, tmp_path_factory):
    muts = data.draw(_mutations(len(base)))
    mutated = _apply(base, muts)
    folder = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    path = folder / "b.zip"
    path.write_bytes(mutated)
    try:
        v = verify_path(path)
    except InspectorError:
        v = None  # refused outright (not a zip, damaged directory): also a rejection
    if mutated == base:
        assert v is not None and v.ok
        return
    assert v is None or not v.ok, muts
    try:
        source = open_bundle(path, allow_untrusted=True)
    except InspectorError:
        return
    try:
        assert source.trusted is False
        _read_everything(source)
    except InspectorError:
        pass
    finally:
        source.close()
    assert os.listdir(folder) == ["b.zip"]  # the reader wrote nothing beside the bundle
