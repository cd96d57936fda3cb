"""Screenshots of the auditor's workflow (README): a verified bundle, a bundle that failed
verification (the prompt, then opened untrusted), and the export dialog (progress, then done).

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/shoot_bundle.py DB RUN_ID OUT_DIR

(``make screenshot`` writes the README's into resources/.)

DB is a traces.db with evidence (the demo database); RUN_ID a run of it with evidence.
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paintwatch import wait  # noqa: E402


def main() -> int:
    db, run_id, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtCore import QSettings

    from drivers import open_source
    from drivers.bundle import ZipBundleTarget, write_keypair
    from drivers.report import render_report
    from inspector.services.export import ExportOptions, RunSelection, export_bundle
    from ui.qt.app import bundle_tools, create_window, make_application

    tmp = Path(tempfile.mkdtemp())
    key = write_keypair(tmp / "auditor-demo.key")
    source = open_source(db)
    ids = [run_id] + [s.run_id for s in source.list_runs(__import__("inspector.model", fromlist=["RunFilter"]).RunFilter(), limit=3)
                      if s.run_id != run_id][:2]
    bundle = tmp / "q4-audit.zip"
    export_bundle(source, RunSelection(tuple(ids)), ZipBundleTarget(bundle), key,
                  ExportOptions(reason="Q4 SOC2 sample", exported_by="alice@example.com", exported_at="2026-12-01T09:00:00Z",
                                producer_version=bundle_tools().producer_version),
                  render_report=render_report)
    source.close()
    # A tampered copy: one step's cost changed, written back as the writer lays a bundle out.
    with zipfile.ZipFile(bundle) as z:
        files = {i.filename: z.read(i.filename) for i in z.infolist()}
    files["runs/0001/steps.jsonl"] = files["runs/0001/steps.jsonl"].replace(b'"cost_cents":', b'"cost_cents":1', 1)
    tampered = tmp / "q4-audit-tampered.zip"
    from tests.bundles import write_like_the_writer

    write_like_the_writer(tampered, files)

    app = make_application()
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    w = create_window(settings=settings)
    w.trust.add(key.public, "alice (audit team)")
    w.resize(1280, 780)
    w.show()

    def settled():
        s = w.session
        return s.source is not None and s.idle and not w.runs_model.loading

    w.open_location(str(bundle))
    wait(app, settled)
    w.select_run(run_id)
    wait(app, lambda: w.session.idle)
    w.evidence_dock.show()
    w.evidence_dock.raise_()
    w._show_run_evidence(w.current_run())
    wait(app, lambda: w.session.idle and (w._evidence_panel is None or not w._evidence_panel.pending))
    w.grab().save(str(out / "screenshot-bundle.png"))

    w.open_location(str(tampered))
    wait(app, lambda: w.untrusted_prompt is not None and w.untrusted_prompt.isVisible())
    app.primaryScreen().grabWindow(0).save(str(out / "screenshot-bundle-prompt.png"))
    w.untrusted_prompt.findChild(type(w.untrusted_prompt.buttons()[0]), "openUntrusted").click()
    wait(app, lambda: settled() and "UNTRUSTED" in w.windowTitle())
    w.select_run(run_id)
    wait(app, lambda: w.session.idle)
    w.grab().save(str(out / "screenshot-bundle-untrusted.png"))

    w.open_location(db)
    wait(app, lambda: settled() and w.session.location == db)
    w.filters.search.setText(run_id)
    w.filters.search.editingFinished.emit()
    wait(app, lambda: settled() and w.runs_model.rowCount() >= 1)
    w.runs_view.selectRow(0)
    wait(app, lambda: w.session.idle)
    w.export_bundle()
    d = w.export_dialog
    d.key_edit.setText(str(tmp / "auditor-demo.key"))
    d.out_edit.setText(str(tmp / "export.zip"))
    d.reason.setText("Incident INC-4412 review")
    wait(app, lambda: True)
    d.grab().save(str(out / "screenshot-export-dialog.png"))
    d.start()
    wait(app, lambda: not d.busy, timeout=300)
    d.grab().save(str(out / "screenshot-export.png"))
    w.shutdown()
    print(out)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    sys.exit(main())
