"""``export``, ``verify`` and ``keygen`` on the command line, and the other commands on a bundle."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from tests.bundles import entries, write_like_the_writer
from tests.ui.evidence_dbs import GRADES, STEPS, build_evidence_db
from ui.cli import main


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return build_evidence_db(tmp_path_factory.mktemp("cli") / "traces.db")


@pytest.fixture
def keyfile(tmp_path) -> Path:
    code, text = cli("keygen", "-o", str(tmp_path / "signer.key"))
    assert code == 0 and "Fingerprint:" in text
    return tmp_path / "signer.key"


def test_keygen_writes_a_private_key_0600_and_its_public_key(tmp_path, keyfile, capsys):
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in (tmp_path / "signer.key.pub").read_bytes()
    code, _ = cli("keygen", "-o", str(keyfile))
    assert code == 2 and "already exists" in capsys.readouterr().err


def test_export_verify_and_read_a_bundle(db, tmp_path, keyfile, capsys):
    out = tmp_path / "b.zip"
    code, text = cli("export", str(db), "ev-pass", "ev-fail", "-o", str(out), "--key", str(keyfile),
                     "--reason", "Q4 audit", "--at", "2026-12-01T00:00:00Z", "--json")
    assert code == 0
    doc = json.loads(text)
    assert doc["bundle"] == str(out) and doc["completeness"]["runs"]["found"] == 2 and not doc["reused"]
    code, text = cli("verify", str(out), "--trust", f"{keyfile}.pub", "--json")
    v = json.loads(text)
    assert code == 0 and v["ok"] and v["signer_trusted"] is True and v["export_reason"] == "Q4 audit"
    assert v["exported_at"] == "2026-12-01T00:00:00Z" and v["custody_events"] >= 4
    code, text = cli("verify", str(out))
    assert code == 0 and text.startswith("Verified") and "Q4 audit" in text
    # runs, show, grade and logs read a bundle as they read a database.
    code, text = cli("runs", str(out), "--json")
    assert code == 0 and sorted(r["run_id"] for r in json.loads(text)["runs"]) == ["ev-fail", "ev-pass"]
    code, text = cli("show", str(out), "ev-pass", "--json")
    assert code == 0 and len(json.loads(text)["steps"]) == STEPS["ev-pass"]
    code, text = cli("grade", str(out), "--json")
    graded = {g["run_id"]: g["integrity_grade"] for g in json.loads(text)["runs"]}
    assert code == 1 and graded == {"ev-pass": GRADES["ev-pass"], "ev-fail": GRADES["ev-fail"]}
    # A bundle of a SQLite source has no logs, as its source had none: as for the database, exit 2.
    code, text = cli("logs", str(out), "ev-pass", "--json")
    assert code == 2 and "logs" in capsys.readouterr().err


def test_verify_fails_with_exit_1_and_names_what_failed(db, tmp_path, keyfile, capsys):
    out = tmp_path / "b.zip"
    assert cli("export", str(db), "ev-pass", "-o", str(out), "--key", str(keyfile))[0] == 0
    files = entries(out)
    files["runs/0001/run.json"] = files["runs/0001/run.json"].replace(b"ev-pass", b"ev-PASS")
    bad = write_like_the_writer(tmp_path / "bad.zip", files)
    code, text = cli("verify", str(bad))
    assert code == 1 and "FAILED FILE_CHANGED: runs/0001/run.json" in text and "expected" in text
    code, text = cli("verify", str(bad), "--json")
    assert code == 1 and json.loads(text)["problems"][0]["entry"] == "runs/0001/run.json"
    # Another signer than the one trusted.
    cli("keygen", "-o", str(tmp_path / "other.key"))
    code, text = cli("verify", str(out), "--trust", str(tmp_path / "other.key.pub"))
    assert code == 1 and "SIGNER_UNTRUSTED" in text
    # A failing bundle does not open as a source (exit 2, naming what failed) unless --untrusted.
    code, _ = cli("runs", str(bad))
    err = capsys.readouterr().err
    assert code == 2 and "failed verification" in err and "runs/0001/run.json" in err
    code, text = cli("runs", str(bad), "--untrusted", "--json")
    assert code == 0 and json.loads(text)["runs"][0]["run_id"] == "ev-PASS"
    assert "UNTRUSTED" in capsys.readouterr().err
    code, _ = cli("runs", str(out), "--trust", str(tmp_path / "other.key.pub"))
    assert code == 2 and "trusted" in capsys.readouterr().err


def test_verify_of_things_that_are_not_bundles_exits_2(tmp_path, db, capsys):
    assert cli("verify", str(tmp_path / "absent.zip"))[0] == 2
    assert cli("verify", str(db))[0] == 2
    assert "not a zip" in capsys.readouterr().err
    assert cli("verify", str(tmp_path))[0] == 2


def test_export_by_filter_and_the_default_key(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    out = tmp_path / "f.zip"
    code, text = cli("export", str(db), "--tenant", "tenant-a", "--kind", "soc2", "--no-redact", "-o", str(out))
    assert code == 0 and f"{len(STEPS)} runs" in text
    assert "created the signing key" in capsys.readouterr().err
    key = tmp_path / "config" / "aos-trace-inspector" / "signing-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    manifest = json.loads(entries(out)["manifest.json"])
    assert manifest["kind"] == "soc2" and manifest["redaction"]["applied"] is False
    assert manifest["selection"]["filter"]["tenant_id"] == "tenant-a"
    # The second export uses the same key, silently.
    assert cli("export", str(db), "ev-pass", "-o", str(tmp_path / "g.zip"))[0] == 0
    assert "created" not in capsys.readouterr().err


def test_export_errors_are_one_line(db, tmp_path, keyfile, capsys):
    assert cli("export", str(db), "nope", "-o", str(tmp_path / "x.zip"), "--key", str(keyfile))[0] == 2
    assert "not found: nope" in capsys.readouterr().err
    assert cli("export", str(db), "ev-pass", "-o", str(tmp_path), "--key", str(keyfile))[0] == 2
    assert "is a folder" in capsys.readouterr().err
    assert cli("export", str(db), "ev-pass", "-o", str(tmp_path / "x.zip"), "--key", f"{keyfile}.pub")[0] == 2
    assert "public key" in capsys.readouterr().err
    assert cli("export", str(db), "ev-pass", "-o", str(tmp_path / "x.zip"), "--at", "yesterday")[0] == 2
    assert "not a date" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()
