"""Benchmarks of export bundles, each beside a baseline measured in the same run. Prints figures;
asserts nothing.

    python benchmarks/bench_bundle.py --db DEMO.db [--run RUN_ID] [--gb 1.0] [--repeats 3]

DB: a traces.db with a large run (the demo's has 100,000 steps; default: its largest run).

1. Export the large run to a bundle (redaction off, then on; report included) vs reading its rows
   and writing and hashing the same steps as raw JSON Lines; target ≤ 2×.
2. Verify a bundle of about --gb GB vs SHA-256 of the same file's bytes (both from the page
   cache); target ≥ 80 % of that throughput.
3. Open a bundle of the large run to a painted runs list vs opening the same run from SQLite,
   both in the window (offscreen); target ≤ 2×.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def median(xs):
    return statistics.median(xs)


def biggest_run(db: Path) -> str:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT run_id FROM trace_steps GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    finally:
        con.close()


def baseline_export(db: Path, run_id: str, out: Path) -> float:
    """Read the run's rows and write + hash them as raw JSON Lines (the floor of any export)."""
    from drivers import open_source
    from inspector.serialize import step_to_json

    t0 = time.perf_counter()
    src = open_source(db)
    sha = hashlib.sha256()
    with open(out, "wb") as fh:
        buf = []
        for step in src.iter_steps(run_id):
            buf.append(json.dumps(step_to_json(step)).encode() + b"\n")
            if len(buf) >= 256:
                data = b"".join(buf)
                sha.update(data)
                fh.write(data)
                buf.clear()
        data = b"".join(buf)
        sha.update(data)
        fh.write(data)
    src.close()
    return time.perf_counter() - t0


def our_export(db: Path, run_id: str, out: Path, key, *, redact: bool) -> float:
    from drivers import open_source
    from drivers.bundle import ZipBundleTarget
    from drivers.report import render_report
    from inspector.services.export import ExportOptions, RunSelection, export_bundle

    t0 = time.perf_counter()
    src = open_source(db)
    export_bundle(src, RunSelection((run_id,)), ZipBundleTarget(out), key,
                  ExportOptions(redact=redact, exported_at="2026-12-01T00:00:00Z"), render_report=render_report)
    src.close()
    return time.perf_counter() - t0


def big_bundle(path: Path, gb: float, key) -> int:
    """A bundle of about ``gb`` GB (one run's steps.jsonl of repeated step lines), signed."""
    from drivers.bundle import ZipBundleTarget
    from inspector.bundle import FORMAT_NAME, FORMAT_VERSION, canonical_bytes

    sink = ZipBundleTarget(path).open()
    line = (b'{"step_index":%d,"skill_name":"skill.llm_invoke","status":"success","params":{"prompt":"'
            + b"x" * 600 + b'"},"cost_cents":0.02}\n')
    target = int(gb * 1e9)
    w = sink.begin("runs/0001/steps.jsonl")
    sha = hashlib.sha256()
    size = 0
    i = 0
    while size < target:
        chunk = b"".join(line % (i + k) for k in range(4096))
        i += 4096
        w.write(chunk)
        sha.update(chunk)
        size += len(chunk)
    sink.commit(w)
    files = [{"name": "runs/0001/steps.jsonl", "size": size, "sha256": sha.hexdigest()}]
    manifest = canonical_bytes({"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "files": files,
                                "signer": {"public_key": key.public.b64, "fingerprint": key.public.fingerprint}}) + b"\n"
    for name, data in (("manifest.json", manifest), ("manifest.sig", key.sign(manifest))):
        w = sink.begin(name)
        w.write(data)
        sink.commit(w)
    sink.finish()
    return size


def raw_sha(path: Path) -> float:
    t0 = time.perf_counter()
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 << 20):
            sha.update(chunk)
    return time.perf_counter() - t0


def open_to_paint(app, settings, location: str) -> float:
    from paintwatch import PaintWatch

    from ui.qt.app import create_window

    def wait_until(cond, timeout=120.0):
        end = time.perf_counter() + timeout
        while not cond():
            app.processEvents()
            if time.perf_counter() > end:
                raise TimeoutError(location)
            time.sleep(0.0005)

    t0 = time.perf_counter()
    w = create_window(settings)
    w.resize(1280, 780)
    watch = PaintWatch(w.runs_view.viewport())
    w.open_location(location)
    w.show()
    wait_until(lambda: w.runs_model.rowCount() > 0 and w.runs_model.run_at(0, request=False) is not None)
    marker = len(watch.times)
    wait_until(lambda: len(watch.times) > marker)
    took = watch.times[-1] - t0
    w.shutdown()
    w.deleteLater()
    app.processEvents()
    return took


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True, type=Path)
    p.add_argument("--run")
    p.add_argument("--gb", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip", default="", help="comma-separated parts to skip: export,verify,open")
    args = p.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    from drivers.bundle import verify_path
    from inspector.bundle import SigningKey

    key = SigningKey.generate()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    run_id = args.run or biggest_run(args.db)
    n_steps = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True).execute(
        "SELECT COUNT(*) FROM trace_steps WHERE run_id = ?", (run_id,)).fetchone()[0]
    print(f"run {run_id}: {n_steps:,} steps; {args.repeats} repeats, medians")

    if "export" not in skip:
        base, plain, redacted = [], [], []
        for i in range(args.repeats):
            base.append(baseline_export(args.db, run_id, tmp / "raw.jsonl"))
            plain.append(our_export(args.db, run_id, tmp / f"plain{i}.zip", key, redact=False))
            redacted.append(our_export(args.db, run_id, tmp / f"red{i}.zip", key, redact=True))
        same = len({(tmp / f"plain{i}.zip").read_bytes() for i in range(args.repeats)}) == 1
        size = (tmp / "plain0.zip").stat().st_size / 1e6
        print(f"1. export: baseline (read rows + write and hash raw JSON Lines) {median(base):.2f} s; "
              f"bundle {median(plain):.2f} s = {median(plain) / median(base):.2f}×, with redaction "
              f"{median(redacted):.2f} s = {median(redacted) / median(base):.2f}× (target ≤ 2×); "
              f"{size:.0f} MB; byte-identical across repeats: {same}")
        bundle_of_run = tmp / "plain0.zip"
    else:
        bundle_of_run = tmp / "plain0.zip"
        our_export(args.db, run_id, bundle_of_run, key, redact=False)

    if "verify" not in skip:
        big = tmp / "big.zip"
        size = big_bundle(big, args.gb, key)
        raw_sha(big)  # warm the page cache
        raws, ours = [], []
        for _ in range(args.repeats):
            raws.append(raw_sha(big))
            t0 = time.perf_counter()
            v = verify_path(big)
            ours.append(time.perf_counter() - t0)
            assert v.ok, v.summary()
        total = big.stat().st_size
        print(f"2. verify {total / 1e9:.2f} GB: raw SHA-256 of the file {total / median(raws) / 1e9:.2f} GB/s, "
              f"verify {total / median(ours) / 1e9:.2f} GB/s = {median(raws) / median(ours) * 100:.0f} % "
              f"(target ≥ 80 %)")
        big.unlink()

    if "open" not in skip:
        from PySide6.QtCore import QSettings

        from ui.qt.app import make_application

        app = make_application()
        settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
        sqlite_times, bundle_times = [], []
        open_to_paint(app, settings, str(args.db))  # warm up: imports, fonts
        for _ in range(args.repeats):
            sqlite_times.append(open_to_paint(app, settings, str(args.db)))
            bundle_times.append(open_to_paint(app, settings, str(bundle_of_run)))
        print(f"3. open to painted runs list: SQLite {median(sqlite_times) * 1000:.0f} ms, bundle of the "
              f"{n_steps:,}-step run {median(bundle_times) * 1000:.0f} ms = "
              f"{median(bundle_times) / median(sqlite_times):.2f}× (target ≤ 2×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
