"""The auditor's workflow in the window: the verification banner (trusted, not yet trusted,
failed and opened on request), the export dialog (progress, cancel with nothing left behind, the
same export twice), and the trusted-keys dialog."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from drivers import open_source
from drivers.bundle import write_keypair
from tests.bundles import entries, export_to, write_like_the_writer
from tests.ui.evidence_dbs import STEPS, build_evidence_db
from tests.ui.test_main_window import WAIT, idle, open_and_wait, select_run

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return build_evidence_db(tmp_path_factory.mktemp("ui") / "traces.db")


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return folder / "alice.key", write_keypair(folder / "alice.key")


@pytest.fixture(scope="module")
def bundle(db, signer, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "audit.zip"
    src = open_source(db)
    try:
        export_to(src, path, signer[1], ["ev-pass", "ev-warn"], reason="Q4 audit")
    finally:
        src.close()
    return path


@pytest.fixture
def tampered(bundle, tmp_path) -> Path:
    files = entries(bundle)
    files["runs/0001/steps.jsonl"] = files["runs/0001/steps.jsonl"].replace(b'"cost_cents":1.0', b'"cost_cents":9.0', 1)
    return write_like_the_writer(tmp_path / "tampered.zip", files)


def test_a_verified_bundle_by_a_trusted_key_opens_with_a_green_banner(qtbot, make_window, bundle, signer):
    w = make_window()
    w.trust.add(signer[1].public, "alice")
    open_and_wait(qtbot, w, bundle)
    banner = w.verification
    assert not banner.isHidden() and banner.trusted is True
    assert banner.property("severity") == "verified"
    head, details = banner.headline.text(), banner.details.text()
    assert "Verified bundle" in head and "custody log" in head
    assert "a trusted key: alice" in details and signer[1].public.short in details
    assert "Q4 audit" in details and "2 of 2 runs" in details and "tester" in details
    assert not banner.trust_button.isVisible()
    assert "verified bundle" in w.windowTitle() and "UNTRUSTED" not in w.windowTitle()
    # It browses like a database: runs, steps, the evidence grade.
    select_run(qtbot, w, "ev-pass")
    assert w.steps_model.rowCount() == STEPS["ev-pass"]
    w.close_source()
    qtbot.waitUntil(lambda: w.verification.isHidden(), timeout=WAIT)
    assert w.windowTitle() == "AOS Trace Inspector"


def test_a_signer_not_yet_trusted_can_be_trusted_from_the_banner(qtbot, make_window, bundle, signer):
    w = make_window()
    open_and_wait(qtbot, w, bundle)
    banner = w.verification
    assert banner.trusted is True and banner.property("severity") == "verified-unknown"
    assert "not one of your trusted keys" in banner.details.text() and "signer not trusted" in banner.headline.text()
    assert banner.trust_button.isVisibleTo(banner)
    banner.trust_button.click()
    assert w.trust.label_of(signer[1].public) is not None
    assert banner.property("severity") == "verified" and not banner.trust_button.isVisibleTo(banner)


def test_a_failed_bundle_opens_only_on_request_and_is_marked_untrusted(qtbot, make_window, tampered, db):
    w = make_window()
    open_and_wait(qtbot, w, db)
    w.open_location(str(tampered))
    qtbot.waitUntil(lambda: w.untrusted_prompt is not None and w.untrusted_prompt.isVisible(), timeout=WAIT)
    prompt = w.untrusted_prompt
    assert "runs/0001/steps.jsonl" in prompt.informativeText() and "expected" in prompt.informativeText()
    assert w.session.location == str(db)  # nothing replaced yet
    prompt.reject()
    assert w.session.location == str(db)
    w.open_location(str(tampered))
    qtbot.waitUntil(lambda: w.untrusted_prompt is not None and w.untrusted_prompt.isVisible(), timeout=WAIT)
    w.untrusted_prompt.findChild(type(w.untrusted_prompt.buttons()[0]), "openUntrusted").click()
    qtbot.waitUntil(lambda: w.session.location == str(tampered), timeout=WAIT)
    idle(qtbot, w)
    banner = w.verification
    assert not banner.isHidden() and banner.trusted is False and banner.property("severity") == "untrusted"
    assert "UNTRUSTED" in banner.headline.text() and "runs/0001/steps.jsonl" in banner.headline.text()
    assert w.windowTitle().startswith("[UNTRUSTED] tampered.zip")
    # Every panel says so: the run's detail, the evidence panel.
    select_run(qtbot, w, "ev-pass")
    qtbot.waitUntil(lambda: w.detail.title.text().startswith("[UNTRUSTED] Run ev-pass"), timeout=WAIT)
    qtbot.waitUntil(lambda: w.session.evidence is not None, timeout=WAIT)
    w.evidence_panel.show_run("ev-pass")
    qtbot.waitUntil(lambda: "ev-pass" in w.evidence_panel.summary.text(), timeout=WAIT)
    assert "[UNTRUSTED]" in w.evidence_panel.summary.text()


def _export_dialog(qtbot, w, run_id, out: Path, key: Path):
    select_run(qtbot, w, run_id)
    w.export_bundle()
    d = w.export_dialog
    assert d.this_run.isChecked() and run_id in d.this_run.text()
    d.key_edit.setText(str(key))
    d.out_edit.setText(str(out))
    return d


def test_export_dialog_writes_a_bundle_with_progress(qtbot, make_window, db, signer, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, db)
    out = tmp_path / "one.zip"
    d = _export_dialog(qtbot, w, "ev-pass", out, signer[0])
    d.reason.setText("sample for the auditors")
    values = []
    d.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(d.finished_export, timeout=WAIT) as sig:
        d.start()
    assert sig.args[0] is True and str(out) in sig.args[1]
    assert values and values[-1] == 1000 and d.open_button.isVisibleTo(d)
    manifest = json.loads(entries(out)["manifest.json"])
    assert manifest["export_reason"] == "sample for the auditors" and manifest["redaction"]["applied"]
    assert [r["run_id"] for r in manifest["runs"]] == ["ev-pass"] and "report.pdf" in entries(out)
    # The same export again is the bundle already written.
    with qtbot.waitSignal(d.finished_export, timeout=WAIT) as sig:
        d.start()
    assert sig.args[0] is True and "already written" in sig.args[1]
    # "Open Bundle" opens it, verified.
    d.open_button.click()
    qtbot.waitUntil(lambda: w.session.location == str(out), timeout=WAIT)
    qtbot.waitUntil(lambda: not w.verification.isHidden(), timeout=WAIT)


def test_cancel_leaves_no_file(qtbot, make_window, db, signer, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, db)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "all.zip"
    d = _export_dialog(qtbot, w, "ev-pass", out, signer[0])
    d.filtered.setChecked(True)
    d.cancel()  # set before the job starts: it stops at its first check
    d._cancel.set()
    original = d._cancel.clear
    d._cancel.clear = lambda: None  # keep the request across start()
    try:
        with qtbot.waitSignal(d.finished_export, timeout=WAIT) as sig:
            d.start()
    finally:
        d._cancel.clear = original
    assert sig.args == [False, "Cancelled: nothing was written."]
    assert "nothing was written" in d.message.text()
    assert sorted(p.name for p in folder.iterdir()) == []


def test_export_errors_show_in_the_dialog(qtbot, make_window, db, signer, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, db)
    d = _export_dialog(qtbot, w, "ev-pass", tmp_path / "x.zip", Path(f"{signer[0]}.pub"))
    with qtbot.waitSignal(d.finished_export, timeout=WAIT) as sig:
        d.start()
    assert sig.args[0] is False and "public key" in d.message.text()
    assert not (tmp_path / "x.zip").exists() and d.export_button.isEnabled()


def test_generate_key_writes_it_and_trusts_it(qtbot, make_window, db, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, db)
    w.export_bundle()
    d = w.export_dialog
    d.key_edit.setText(str(tmp_path / "new.key"))
    d.generate_key()
    qtbot.waitUntil(lambda: (tmp_path / "new.key.pub").exists() and d.generate_button.isEnabled(), timeout=WAIT)
    assert w.trust.key_path == str(tmp_path / "new.key")
    assert [e.label for e in w.trust.entries()] == ["my signing key"]
    assert "new.key.pub" in d.message.text()


def test_trusted_keys_dialog_adds_and_removes(qtbot, make_window, signer, tmp_path):
    w = make_window()
    dialog = w.trust_dialog
    with qtbot.waitSignal(dialog.added, timeout=WAIT) as sig:
        dialog.add_file(f"{signer[0]}.pub")
    assert sig.args[0] is True and [e.label for e in w.trust.entries()] == ["alice"]
    assert dialog.list.count() == 1 and signer[1].public.short in dialog.list.item(0).text()
    with qtbot.waitSignal(dialog.added, timeout=WAIT) as sig:
        dialog.add_file(str(signer[0]))  # a private key is refused
    assert sig.args[0] is False and "public key" in sig.args[1]
    dialog.list.setCurrentRow(0)
    dialog.remove_selected()
    assert w.trust.entries() == () and dialog.list.count() == 1  # the "(no trusted keys…)" line
    # The settings keep public keys only.
    w.trust.add(signer[1].public, "alice")
    raw = w.settings.value("bundles/trusted_keys")
    assert signer[1].public.b64 in raw and "PRIVATE" not in raw


def test_a_bundle_drops_onto_the_window_and_shows_in_recent(qtbot, make_window, bundle):
    w = make_window()
    open_and_wait(qtbot, w, bundle)
    assert str(bundle) in w.recent_files()
    with zipfile.ZipFile(bundle) as z:
        assert "manifest.json" in z.namelist()
