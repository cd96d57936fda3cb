"""Export bundles on real databases: round trips, reproducible bytes, tampering, hostile zips,
cancel, retries after a dropped Postgres connection, and the same request made twice."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from drivers import open_source
from drivers.bundle import Limits, ZipReader, open_bundle, read_private_key, verify_path, write_keypair
from inspector.bundle import CUSTODY, MANIFEST, SIGNATURE, SigningKey
from inspector.errors import CorruptSource, NotATraceSource, SourceError, SourceNotFound, UsageError
from inspector.serialize import logs_to_json, run_record_to_json, step_to_json
from inspector.services.export import ExportCancelled
from inspector.services.grading import grade_run
from inspector.source import HasLogs
from tests.bundles import AT, entries, export_to, resign, write_like_the_writer
from tests.ui.evidence_dbs import GRADES, STEPS, build_evidence_db


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def evidence_db(tmp_path_factory) -> Path:
    return build_evidence_db(tmp_path_factory.mktemp("ev") / "traces.db")


@pytest.fixture(scope="module")
def all_bundle(evidence_db, key, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("b") / "all.zip"
    source = open_source(evidence_db)
    try:
        export_to(source, path, key, report=True)
    finally:
        source.close()
    return path


def _same_runs(a, b, run_ids) -> None:
    for rid in run_ids:
        assert run_record_to_json(a.get_run(rid)) == run_record_to_json(b.get_run(rid))
        assert [step_to_json(s) for s in a.iter_steps(rid)] == [step_to_json(s) for s in b.iter_steps(rid)]
        assert a.list_steps(rid, after_index=0, limit=2) == b.list_steps(rid, after_index=0, limit=2)
        assert a.count_steps(rid) == b.count_steps(rid)
        ga, gb = grade_run(a.evidence(), rid), grade_run(b.evidence(), rid)
        assert ga.report() == gb.report()
        assert ga.evidence.rows == gb.evidence.rows


def test_round_trip_on_sqlite_gives_the_same_runs_steps_evidence_and_grades(all_bundle, evidence_db):
    src = open_source(evidence_db)
    b = open_source(all_bundle)
    try:
        assert b.info.kind == "export bundle" and b.trusted and b.verification.ok and b.info.notes == ()
        assert not isinstance(b, HasLogs)  # exported from SQLite: no logs, as its source had none
        assert sorted(s.run_id for s in b.list_runs(_flt())) == sorted(STEPS)
        _same_runs(src, b, STEPS)
        assert {rid: grade_run(b.evidence(), rid).result.grade.value for rid in STEPS} == GRADES
        step = next(iter(src.iter_steps("ev-pass")))
        assert step_to_json(b.get_step("ev-pass", step.row.step_index)) == step_to_json(step)
        assert b.totals().runs == len(STEPS)
    finally:
        src.close()
        b.close()


def _flt(**kw):
    from inspector.model import RunFilter

    return RunFilter(**kw)


def test_the_bundle_holds_what_the_manifest_says(all_bundle, key):
    files = entries(all_bundle)
    manifest = json.loads(files[MANIFEST])
    assert manifest["format"] == "aos-trace-inspector-bundle" and manifest["format_version"] == 1
    assert manifest["exported_at"] == "2026-11-30T12:00:00Z" and manifest["exported_by"] == "tester"
    assert manifest["signer"]["fingerprint"] == key.public.fingerprint
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {MANIFEST, SIGNATURE}
    for name, f in listed.items():
        assert f["sha256"] == hashlib.sha256(files[name]).hexdigest() and f["size"] == len(files[name])
    assert files["report.pdf"].startswith(b"%PDF")
    # The panels checked against each other travel with the run, and the rules that checked them.
    findings = json.loads(files["runs/0001/consistency.json"])
    assert set(findings) >= {"panel_id", "is_consistent", "violations"}
    assert [r["id"] for r in manifest["consistency_rules"]][:2] == ["INS-001", "INS-002"]
    assert all("consistency_violations" in r for r in manifest["runs"])
    c = manifest["completeness"]
    assert c["runs"] == {"asked": len(STEPS), "found": len(STEPS), "missing": 0, "missing_ids": []}
    assert c["steps"]["found"] == sum(STEPS.values()) == c["steps"]["asked"]
    assert manifest["redaction"] == {"applied": False, "rules": []}
    assert "-----BEGIN" not in files[MANIFEST].decode() and b"PRIVATE" not in b"".join(files.values())
    # Upstream's own bundle rides along, with its content hash as AOS computes it.
    from inspector.aos_bundles import check_content_hash, unwrap

    aos = json.loads(files["runs/0001/aos/evidence_bundle.json"])
    doc, kind = unwrap(aos)
    assert kind == "evidence" and check_content_hash(doc).state == "match"


def test_the_same_export_gives_the_same_bytes(evidence_db, key, tmp_path):
    src = open_source(evidence_db)
    try:
        export_to(src, tmp_path / "a.zip", key, ["ev-pass", "ev-warn"], report=True, kind="soc2", reason="q4")
        export_to(src, tmp_path / "b.zip", key, ["ev-pass", "ev-warn"], report=True, kind="soc2", reason="q4")
    finally:
        src.close()
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert "runs/0001/aos/soc2_bundle.json" in entries(tmp_path / "a.zip")


def test_export_time_defaults_to_the_newest_time_in_the_runs(evidence_db, key, tmp_path):
    src = open_source(evidence_db)
    try:
        res = export_to(src, tmp_path / "a.zip", key, ["ev-pass"], exported_at=None)
        newest = max(t for t in (src.get_run("ev-pass").completed_at, src.get_run("ev-pass").started_at,
                                 src.get_run("ev-pass").created_at) if t)
    finally:
        src.close()
    from inspector.model import parse_timestamp

    assert parse_timestamp(res.manifest["exported_at"]) == parse_timestamp(newest)
    assert res.manifest["exported_at_source"] == "newest time in the exported runs"


def test_runs_asked_for_but_absent_are_counted_missing(evidence_db, key, tmp_path):
    src = open_source(evidence_db)
    try:
        res = export_to(src, tmp_path / "a.zip", key, ["ev-pass", "nope"])
        with pytest.raises(UsageError, match="not found: nope"):
            export_to(src, tmp_path / "b.zip", key, ["nope"])
    finally:
        src.close()
    assert res.manifest["completeness"]["runs"] == {"asked": 2, "found": 1, "missing": 1, "missing_ids": ["nope"]}
    assert not (tmp_path / "b.zip").exists()


def test_redaction_applies_upstream_rules_and_the_card_and_ssn_patterns(tmp_path, key):
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    db = tmp_path / "traces.db"
    with SQLiteTraceWriter(db) as w:
        w.start_trace("r1", "c", "t", "a", [{"skill": "x", "api_key": "sk-1", "owner": "bob@example.com"}])
        w.record_steps([StepInput("r1", 0, "http", {"password": "hunter2", "note": "card 4111 1111 1111 1111x"},
                                  "success", "SUCCESS", None, {"ssn": "1", "text": "ssn 123-45-6789, 4111111111111111"},
                                  1.0, 2.0)])
        w.complete_trace("r1", "completed")
    src = open_source(db)
    try:
        res = export_to(src, tmp_path / "r.zip", key, ["r1"], redact=True)
    finally:
        src.close()
    assert res.manifest["redaction"]["applied"] and "card-number" in res.manifest["redaction"]["rules"]
    files = entries(tmp_path / "r.zip")
    blob = b"".join(files.values())
    for secret in (b"hunter2", b"sk-1", b"bob@example.com", b"123-45-6789", b"4111111111111111"):
        assert secret not in blob
    step = json.loads(files["runs/0001/steps.jsonl"].splitlines()[0])
    assert step["params"]["password"] == "<REDACTED>"
    assert step["outcome_data"]["text"] == "ssn <REDACTED_SSN>, <REDACTED_CARD>"


# -- tampering ---------------------------------------------------------------------------------


def _verify_codes(path: Path, trusted=()) -> list[tuple[str, str | None]]:
    v = verify_path(path, trusted)
    return sorted((p.code, p.entry) for p in v.problems)


@pytest.fixture(scope="module")
def small_bundle(evidence_db, key, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("small") / "s.zip"
    src = open_source(evidence_db)
    try:
        export_to(src, path, key, ["ev-pass", "ev-warn"], report=True)
    finally:
        src.close()
    return path


def test_one_byte_of_any_file_is_detected_and_named(small_bundle, tmp_path):
    files = entries(small_bundle)
    assert verify_path(write_like_the_writer(tmp_path / "same.zip", files)).ok  # the helper is faithful
    for name, data in files.items():
        changed = dict(files)
        pos = len(data) // 2
        changed[name] = data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1:]
        path = write_like_the_writer(tmp_path / "t.zip", changed)
        codes = _verify_codes(path)
        if name == SIGNATURE:
            assert codes == [("SIGNATURE_INVALID", SIGNATURE)]
        elif name == MANIFEST:
            assert ("SIGNATURE_INVALID", SIGNATURE) in codes or ("MANIFEST_MALFORMED", MANIFEST) in codes
        else:
            assert codes == [("FILE_CHANGED", name)], name
        with pytest.raises(CorruptSource, match="failed verification"):
            open_bundle(path)


def test_dropped_added_and_signature_changes_are_detected(small_bundle, tmp_path, key):
    files = entries(small_bundle)
    dropped = {n: d for n, d in files.items() if n != "runs/0002/evidence.json"}
    assert _verify_codes(write_like_the_writer(tmp_path / "d.zip", dropped)) == [("FILE_MISSING", "runs/0002/evidence.json")]
    added = dict(files, **{"runs/0001/extra.json": b"{}"})
    assert _verify_codes(write_like_the_writer(tmp_path / "a.zip", added)) == [("FILE_UNLISTED", "runs/0001/extra.json")]
    no_sig = {n: d for n, d in files.items() if n != SIGNATURE}
    assert _verify_codes(write_like_the_writer(tmp_path / "n.zip", no_sig)) == [("SIGNATURE_MISSING", SIGNATURE)]
    other = SigningKey.generate()
    swapped = dict(files, **{SIGNATURE: other.sign(files[MANIFEST])})
    assert _verify_codes(write_like_the_writer(tmp_path / "w.zip", swapped)) == [("SIGNATURE_INVALID", SIGNATURE)]
    # Re-signed with another key after a change: the signature is valid, the signer is not trusted.
    forged = dict(files, **{"runs/0001/run.json": files["runs/0001/run.json"].replace(b"ev-", b"ex-", 1)})
    forged = resign(forged, other)
    path = write_like_the_writer(tmp_path / "f.zip", forged)
    assert verify_path(path).ok
    assert _verify_codes(path, [key.public]) == [("SIGNER_UNTRUSTED", SIGNATURE)]
    with pytest.raises(CorruptSource, match="not one of the 1 trusted key"):
        open_bundle(path, trusted_keys=[key.public])


def test_a_broken_custody_chain_is_detected_even_when_re_signed(small_bundle, tmp_path, key):
    files = entries(small_bundle)
    lines = files[CUSTODY].splitlines(keepends=True)
    assert len(lines) >= 3
    broken = dict(files, **{CUSTODY: lines[0] + b"".join(lines[2:])})
    path = write_like_the_writer(tmp_path / "c.zip", resign(broken, key))
    assert _verify_codes(path, [key.public]) == [("CUSTODY_BROKEN", CUSTODY)]


def test_an_untrusted_bundle_opens_only_on_request_and_says_so(small_bundle, tmp_path):
    files = entries(small_bundle)
    data = files["runs/0001/steps.jsonl"]
    changed = dict(files, **{"runs/0001/steps.jsonl": data.replace(b'"skill_name":"llm_invoke"', b'"skill_name":"llm_INVOKE"', 1)})
    path = write_like_the_writer(tmp_path / "u.zip", changed)
    with pytest.raises(CorruptSource) as err:
        open_source(path)
    assert "runs/0001/steps.jsonl" in str(err.value) and "expected" in str(err.value)
    b = open_source(path, allow_untrusted=True)
    try:
        assert b.trusted is False and "UNTRUSTED" in b.info.kind and "UNTRUSTED" in b.info.notes[0]
        assert "runs/0001/steps.jsonl" in b.info.notes[1]
        assert next(iter(b.iter_steps("ev-pass"))).row.skill_name == "llm_INVOKE"
    finally:
        b.close()


# -- hostile zips ------------------------------------------------------------------------------


def _raw_zip(path: Path, items) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for info, data in items:
            z.writestr(info, data)
    return path


def _info(name: str, **attrs) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    for k, v in attrs.items():
        setattr(info, k, v)
    return info


@pytest.mark.parametrize(("name", "code"), [
    ("../evil.json", "UNSAFE_ENTRY"), ("/etc/evil", "UNSAFE_ENTRY"), ("a\\..\\b", "UNSAFE_ENTRY"),
    ("C:/x", "UNSAFE_ENTRY"),
])
def test_unsafe_names_are_refused_and_named(tmp_path, name, code):
    path = _raw_zip(tmp_path / "x.zip", [(_info(name), b"x")])
    with ZipReader(path) as z:
        assert [(p.code, p.entry) for p in z.problems] == [(code, name)]
        assert name not in z.entries
    assert (code, name) in _verify_codes(path)


def test_symlinks_duplicates_encryption_and_methods_are_refused(tmp_path):
    link = _info("link", create_system=3, external_attr=(stat.S_IFLNK | 0o777) << 16)
    path = _raw_zip(tmp_path / "x.zip", [(link, b"/etc/passwd"), (_info("dup"), b"1")])
    with zipfile.ZipFile(path, "a") as z:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z.writestr(_info("dup"), b"2")
    with ZipReader(path) as z:
        assert sorted((p.code, p.entry) for p in z.problems) == [("DUPLICATE_ENTRY", "dup"), ("SYMLINK_ENTRY", "link")]
        assert not z.entries
    enc = bytearray(_raw_zip(tmp_path / "e.zip", [(_info("a.json"), b"{}")]).read_bytes())
    # Set the "encrypted" flag in the central directory record.
    cd = enc.rfind(b"PK\x01\x02")
    enc[cd + 8] |= 0x01
    (tmp_path / "e.zip").write_bytes(bytes(enc))
    with ZipReader(tmp_path / "e.zip") as z:
        assert [(p.code, p.entry) for p in z.problems] == [("ENCRYPTED_ENTRY", "a.json")]
    bz = _raw_zip(tmp_path / "m.zip", [(_info("a.json", compress_type=zipfile.ZIP_BZIP2), b"{}" * 10)])
    with ZipReader(bz) as z:
        assert [p.code for p in z.problems] == ["UNSUPPORTED_ENTRY"]


def test_zip_bombs_and_oversized_entries_are_refused_before_reading(tmp_path):
    bomb = _raw_zip(tmp_path / "b.zip", [(_info("big.json", compress_type=zipfile.ZIP_DEFLATED), b"\0" * (20 << 20))])
    with ZipReader(bomb) as z:
        assert [(p.code, p.entry) for p in z.problems] == [("ZIP_BOMB", "big.json")]
        assert "expands" in z.problems[0].message
    with ZipReader(bomb, Limits(max_entry_bytes=1 << 20)) as z:
        assert [p.code for p in z.problems] == ["ENTRY_TOO_LARGE"]
    many = _raw_zip(tmp_path / "t.zip", [(_info(f"f{i}"), b"x" * 100) for i in range(5)])
    with ZipReader(many, Limits(max_total_bytes=300)) as z:
        assert [p.code for p in z.problems] == ["ZIP_BOMB"] and not z.entries
    # More entries than a bundle may have: refused from the end record, before zipfile parses
    # the whole directory (a million tiny entries cost ten times the file's size in memory).
    with pytest.raises(CorruptSource, match="lists 5 entries .* more than the 3"):
        ZipReader(many, Limits(max_entries=3))
    # A total that inflates like a bomb, though each entry stays under 1 MiB.
    small_bombs = _raw_zip(tmp_path / "s.zip", [(_info(f"f{i}", compress_type=zipfile.ZIP_DEFLATED), b"\0" * (1 << 20))
                                               for i in range(70)])
    with ZipReader(small_bombs) as z:
        assert [p.code for p in z.problems] == ["ZIP_BOMB"] and "in all" in z.problems[0].message


def test_paths_that_are_not_bundles_say_what_they_are(tmp_path):
    with pytest.raises(SourceNotFound, match="folder"):
        ZipReader(tmp_path)
    fifo = tmp_path / "fifo.zip"
    os.mkfifo(fifo)
    with pytest.raises(NotATraceSource, match="named pipe"):
        ZipReader(fifo)
    with pytest.raises(NotATraceSource, match="is a device, not a file"):
        ZipReader("/dev/null")
    (tmp_path / "n.zip").write_bytes(b"PK\x03\x04 but not really a zip")
    with pytest.raises(SourceError, match="zip"):
        open_source(tmp_path / "n.zip")
    with pytest.raises(SourceNotFound):
        verify_path(tmp_path / "absent.zip")


def test_a_truncated_bundle_is_refused(small_bundle, tmp_path):
    data = small_bundle.read_bytes()
    for cut in (len(data) - 10, len(data) // 2, 100):
        (tmp_path / "t.zip").write_bytes(data[:cut])
        with pytest.raises(SourceError):
            open_bundle(tmp_path / "t.zip")


def test_a_rezipped_bundle_is_flagged_though_its_contents_match(small_bundle, tmp_path):
    files = entries(small_bundle)
    path = tmp_path / "r.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files.items():
            z.writestr(n, d)
    v = verify_path(path)
    assert {p.code for p in v.problems} == {"ZIP_LAYOUT"} and v.signature_valid and v.digests_ok


# -- the job: cancel, retries, the same request twice ------------------------------------------


def test_cancel_leaves_nothing_behind(evidence_db, key, tmp_path):
    src = open_source(evidence_db)
    seen = []
    ticks = iter(range(10_000))
    try:
        with pytest.raises(ExportCancelled):
            export_to(src, tmp_path / "c.zip", key, flt=_flt(), clock=lambda: float(next(ticks)),
                      progress=seen.append, cancelled=lambda: len(seen) >= 3)
    finally:
        src.close()
    assert len(seen) >= 3 and list(tmp_path.iterdir()) == []


def test_an_existing_file_survives_a_cancelled_export(evidence_db, key, tmp_path):
    (tmp_path / "c.zip").write_bytes(b"keep me")
    src = open_source(evidence_db)
    try:
        with pytest.raises(ExportCancelled):
            export_to(src, tmp_path / "c.zip", key, flt=_flt(), cancelled=lambda: True)
    finally:
        src.close()
    assert (tmp_path / "c.zip").read_bytes() == b"keep me" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("store_kind", ["memory", "redis"])
def test_the_same_request_twice_returns_the_existing_bundle(evidence_db, key, tmp_path, store_kind, request):
    from inspector.idempotency import MemoryIdempotencyStore

    if store_kind == "redis":
        from drivers.redis_store import RedisIdempotencyStore

        store = RedisIdempotencyStore(request.getfixturevalue("redis_url"), prefix=f"export-test-{os.getpid()}")
    else:
        store = MemoryIdempotencyStore()
    src = open_source(evidence_db)
    try:
        first = export_to(src, tmp_path / "a.zip", key, ["ev-pass"], idempotency=store)
        before = (tmp_path / "a.zip").stat().st_mtime_ns
        again = export_to(src, tmp_path / "a.zip", key, ["ev-pass"], idempotency=store)
        assert not first.reused and again.reused and again.request_hash == first.request_hash
        assert (tmp_path / "a.zip").stat().st_mtime_ns == before
        # Another request (another reason) is not the same export.
        other = export_to(src, tmp_path / "a.zip", key, ["ev-pass"], idempotency=store, reason="other")
        assert not other.reused
        # The file gone or replaced: written again, not "reused".
        (tmp_path / "a.zip").unlink()
        assert not export_to(src, tmp_path / "a.zip", key, ["ev-pass"], idempotency=store).reused
    finally:
        src.close()
        store.delete(first.request_hash, "trace-inspector")
        store.close()


def test_keys_on_disk(tmp_path):
    key = write_keypair(tmp_path / "k")
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert read_private_key(tmp_path / "k").public == key.public
    from drivers.bundle import read_public_key

    assert read_public_key(tmp_path / "k.pub") == key.public
    with pytest.raises(UsageError, match="already exists"):
        write_keypair(tmp_path / "k")
    with pytest.raises(UsageError, match="public key"):
        read_private_key(tmp_path / "k.pub")
    with pytest.raises(UsageError, match="folder"):
        read_private_key(tmp_path)


# -- Postgres ----------------------------------------------------------------------------------


@pytest.fixture
def pg_logs_url(pg_url):
    import sqlalchemy as sa

    from tests.pgutil import sa_url
    from tests.ui.logs_dbs import fill_logs

    engine = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        fill_logs(conn)
    engine.dispose()
    return pg_url


def test_round_trip_on_postgres_with_its_logs(pg_logs_url, key, tmp_path):
    from tests.ui.logs_dbs import RUN, TRACE

    src = open_source(pg_logs_url)
    try:
        res = export_to(src, tmp_path / "pg.zip", key, [RUN])
        b = open_source(tmp_path / "pg.zip")
        try:
            assert res.manifest["source"]["location"] == src.info.location
            rec = b.get_run(RUN)
            assert run_record_to_json(rec) == run_record_to_json(src.get_run(RUN))
            assert [step_to_json(s) for s in b.iter_steps(TRACE)] == [step_to_json(s) for s in src.iter_steps(TRACE)]
            assert logs_to_json(b.logs().run_logs(RUN, TRACE)) == logs_to_json(src.logs().run_logs(RUN, TRACE))
            assert b.logs().audit_for_run(RUN) and res.manifest["completeness"]["audit_events"]["found"] == len(
                b.logs().audit_for_run(RUN))
            assert grade_run(b.evidence(), RUN).report() == grade_run(src.evidence(), RUN).report()
        finally:
            b.close()
    finally:
        src.close()


def test_a_dropped_connection_is_retried_and_the_export_resumes(pg_url, key, tmp_path):
    import sqlalchemy as sa

    from tests.pgutil import TraceBuilder, sa_url

    b = TraceBuilder(pg_url)
    try:
        b.trace("run-a", statuses=("succeeded",) * 9000)
        b.trace("run-b", statuses=("succeeded",) * 3)
    finally:
        b.close()
    admin = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    killed = []

    def progress(p):
        if "steps" in p.message and not killed:
            with admin.connect() as conn:
                killed.append(conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one())

    retries, sleeps = [], []
    ticks = iter(range(100_000))
    src = open_source(pg_url)
    try:
        res = export_to(src, tmp_path / "r.zip", key, ["run-a", "run-b"], progress=progress,
                        clock=lambda: float(next(ticks)), sleep=sleeps.append,
                        on_retry=lambda n, d, e: retries.append((n, d, e)))
    finally:
        src.close()
        admin.dispose()
    assert killed and killed[0] >= 1
    assert res.retries >= 1 and retries[0][0] == 1 and "run trace_run-a" in retries[0][2] and sleeps[0] == retries[0][1]
    v = verify_path(tmp_path / "r.zip")
    assert v.ok
    custody = [json.loads(line) for line in entries(tmp_path / "r.zip")[CUSTODY].splitlines()]
    assert [e["event_type"] for e in custody].count("job_retried") == res.retries
    bundle = open_source(tmp_path / "r.zip")
    try:
        assert bundle.count_steps("run-a") == 9000 and bundle.count_steps("run-b") == 3
    finally:
        bundle.close()


def test_aos_bundle_json_opens_read_only_with_its_hash_checked(tmp_path, all_bundle):
    files = entries(all_bundle)
    aos = files["runs/0001/aos/evidence_bundle.json"]
    (tmp_path / "aos.json").write_bytes(aos)
    src = open_source(tmp_path / "aos.json")
    doc = json.loads(aos)["data"]
    assert "content_hash matches" in src.info.notes[0]
    assert src.count_steps(doc["run_id"]) == doc["total_steps"]
    doc["steps"][0]["cost_cents"] = 99.0
    (tmp_path / "bare.json").write_text(json.dumps(doc))
    src = open_source(tmp_path / "bare.json")
    assert "DOES NOT MATCH" in src.info.notes[0]
    assert AT  # the export time these bundles were pinned to


# -- found in review: bytes around the entries, hostile self-signed bundles --------------------


def _patch(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new):]


def _central(data: bytes, name: bytes) -> int:
    """Offset of ``name``'s central directory record."""
    import struct

    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        nlen = struct.unpack("<H", data[pos + 28:pos + 30])[0]
        if data[pos + 46:pos + 46 + nlen] == name:
            return pos
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{name!r} is not in the directory")


def test_no_byte_around_the_entries_changes_unnoticed(small_bundle, tmp_path):
    import struct

    data = small_bundle.read_bytes()
    files = entries(small_bundle)
    cd = _central(data, b"report.pdf")
    local = struct.unpack("<L", data[cd + 42:cd + 46])[0]
    cases = {
        # The CRC changed in both headers: the data still matches its digest, the CRC does not.
        "CRC": _patch(_patch(data, cd + 16, b"\0\0\0\0"), local + 14, b"\0\0\0\0"),
        # Version made by, flags, attributes in the directory only.
        "versions": _patch(data, cd + 4, b"\x2d"),
        "flags": _patch(data, cd + 8, b"\x00\x08"),
        "external attributes": _patch(data, cd + 38, b"\x00\x00\xed\x41"),
        # A comment after the end record.
        "comment": data[:-2] + b"\x03\x00abc",
    }
    for what, changed in cases.items():
        path = tmp_path / f"{what}.zip"
        path.write_bytes(changed)
        v = verify_path(path)
        assert not v.ok and {p.code for p in v.problems} <= {"ZIP_LAYOUT"}, what
    folder = dict(files)
    with zipfile.ZipFile(tmp_path / "dir.zip", "w") as z:
        z.writestr(_info("evil/"), b"hidden bytes")
        for n, d in folder.items():
            z.writestr(_info(n, create_system=3, external_attr=(stat.S_IFREG | 0o644) << 16), d)
    assert ("UNEXPECTED_ENTRY", "evil/") in _verify_codes(tmp_path / "dir.zip")


def test_hostile_self_signed_bundles_are_refused_with_a_reason(small_bundle, tmp_path, key):
    import base64

    files = entries(small_bundle)
    other = SigningKey.generate()
    hostile = {
        "manifest shape": resign(files, other, lambda m: m.update(producer="x")),
        "completeness": resign(files, other, lambda m: m.update(
            completeness={"evidence_rows": {"a": {"found": "x"}}})),
    }
    oid = bytes([0x06, 0x03, 0x2A, 0x03, 0x04])
    alg = bytes([0x30, len(oid)]) + oid
    bits = bytes([0x03, 33, 0]) + b"\x01" * 32
    spki = bytes([0x30, len(alg) + len(bits)]) + alg + bits
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(spki).decode() + "\n-----END PUBLIC KEY-----\n"
    unknown = resign(files, other, lambda m: m["signer"].update(public_key=pem, fingerprint=None))
    for what, f in hostile.items():
        v = verify_path(write_like_the_writer(tmp_path / "h.zip", f))
        assert [p.code for p in v.problems] == ["MANIFEST_MALFORMED"], what
    v = verify_path(write_like_the_writer(tmp_path / "u.zip", unknown))
    assert "SIGNER_MALFORMED" in [p.code for p in v.problems]
    # A custody event with a lone surrogate: the chain is broken, not a traceback.
    lines = files[CUSTODY].splitlines(keepends=True)
    event = json.loads(lines[0])
    event["event_id"] = "\ud800"
    bad = dict(files, **{CUSTODY: json.dumps(event).encode() + b"\n" + b"".join(lines[1:])})
    v = verify_path(write_like_the_writer(tmp_path / "c.zip", resign(bad, other)))
    assert [p.code for p in v.problems] == ["CUSTODY_BROKEN"]
    # Documents of the wrong shape in a bundle that verifies (signed by its author's key).
    for name, change in (("runs/0001/run.json", lambda d: d.update(payload_extras=[1])),
                         ("runs/0001/evidence.json", lambda d: d["facts"].update(observed=5)),
                         ("runs/0001/evidence.json", lambda d: d.update(alignment=[{"cls": "activity_evidence",
                                                                                  "evidence_count": "x"}]))):
        doc = json.loads(files[name])
        change(doc)
        path = write_like_the_writer(tmp_path / "d.zip", resign(dict(files, **{name: json.dumps(doc).encode()}), other))
        assert verify_path(path).ok
        try:
            b = open_bundle(path)
        except CorruptSource as exc:
            assert name in str(exc)
            continue
        try:
            with pytest.raises(CorruptSource, match=name):
                b.evidence()
        finally:
            b.close()


def test_a_changed_bundle_or_a_changed_source_is_never_reused(evidence_db, key, tmp_path):
    from inspector.idempotency import MemoryIdempotencyStore

    store = MemoryIdempotencyStore()
    db = tmp_path / "traces.db"
    db.write_bytes(evidence_db.read_bytes())
    src = open_source(db)
    try:
        first = export_to(src, tmp_path / "a.zip", key, ["ev-pass"], idempotency=store)
        files = entries(tmp_path / "a.zip")
        files["runs/0001/run.json"] = files["runs/0001/run.json"].replace(b"ev-pass", b"ev-PASS")
        write_like_the_writer(tmp_path / "a.zip", files)
        again = export_to(src, tmp_path / "a.zip", key, ["ev-pass"], idempotency=store)
        assert not again.reused and verify_path(tmp_path / "a.zip").ok
    finally:
        src.close()
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    with SQLiteTraceWriter(db) as w:
        w.record_steps([StepInput("ev-pass", 99, "late", {}, "success", "SUCCESS", None, None, 1.0, 1.0)])
    src = open_source(db)
    try:
        later = export_to(src, tmp_path / "a.zip", key, ["ev-pass"], idempotency=store)
    finally:
        src.close()
    assert not later.reused and later.request_hash != first.request_hash
    assert later.manifest["completeness"]["steps"]["found"] == STEPS["ev-pass"] + 1


def test_the_same_run_named_twice_is_asked_for_once(evidence_db, key, tmp_path):
    src = open_source(evidence_db)
    try:
        res = export_to(src, tmp_path / "a.zip", key, ["ev-pass", "ev-pass", "nope"])
    finally:
        src.close()
    assert res.manifest["completeness"]["runs"] == {"asked": 2, "found": 1, "missing": 1, "missing_ids": ["nope"]}


def test_a_key_is_written_into_a_folder_that_does_not_exist_yet(tmp_path):
    key = write_keypair(tmp_path / "new" / "folder" / "k.pem")
    assert (tmp_path / "new" / "folder" / "k.pem.pub").exists()
    assert stat.S_IMODE((tmp_path / "new" / "folder").stat().st_mode) == 0o700
    assert read_private_key(tmp_path / "new" / "folder" / "k.pem").public == key.public


def test_redaction_reaches_every_file_of_the_bundle(tmp_path, key):
    """Evidence messages, the grade's reasons, upstream's bundle (run goal), the report: with
    redaction on, nothing sensitive reaches any file."""
    import sqlalchemy as sa

    from drivers.evidence_schema import create_evidence_tables, evidence_capture_failures
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    db = tmp_path / "traces.db"
    with SQLiteTraceWriter(db) as w:
        w.start_trace("r1", "c", "t", "a", [{"skill": "x"}])
        w.record_steps([StepInput("r1", 0, "http", {"q": "x"}, "success", "SUCCESS", None, None, 1.0, 2.0)])
        w.complete_trace("r1", "completed")
        w.execute_raw("UPDATE traces SET metadata = ? WHERE run_id = 'r1'",
                      (json.dumps({"goal": "refund card 4111111111111111 for carol@example.com"}),))
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        create_evidence_tables(conn)
        conn.execute(evidence_capture_failures.insert().values(
            id="ecf-1", run_id="r1", evidence_type="provider_evidence", failure_reason="database_error",
            error_message="insert failed for dave@example.com ssn 123-45-6789", resolution="transient"))
    engine.dispose()
    src = open_source(db)
    try:
        export_to(src, tmp_path / "r.zip", key, ["r1"], redact=True, report=True)
    finally:
        src.close()
    files = entries(tmp_path / "r.zip")
    pdf_text = _pdf_text(files["report.pdf"])
    assert "<REDACTED_EMAIL>" in pdf_text or "REDACTED" in pdf_text
    for name, data in {**files, "report.pdf (text)": pdf_text.encode()}.items():
        for secret in (b"4111111111111111", b"carol@example.com", b"dave@example.com", b"123-45-6789"):
            assert secret not in data, (name, secret)
    goal = json.loads(files["runs/0001/aos/evidence_bundle.json"])["data"]["run_goal"]
    assert goal == "refund card <REDACTED_CARD> for <REDACTED_EMAIL>"


def _pdf_text(pdf: bytes) -> str:
    """The text drawn in a PDF (reportlab writes its page streams ASCII85- and Flate-encoded)."""
    import base64
    import re
    import zlib

    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = stream.strip()
        try:
            if data.endswith(b"~>"):
                data = base64.a85decode(data[:-2].replace(b"\n", b""))
            out.append(zlib.decompress(data).decode("latin-1"))
        except (ValueError, zlib.error):
            out.append(stream.decode("latin-1"))
    return "\n".join(out)
