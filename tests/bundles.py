"""Helpers for the bundle tests: export with fixed options, and rewrite a bundle's zip as the
bundle writer would (so that only the change made is what verification sees)."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path

from inspector.bundle import SigningKey, canonical_bytes

#: The export time the tests pin (reproducible bundles on any date).
AT = "2026-11-30T12:00:00+00:00"


def export_to(source, path: Path, key: SigningKey, run_ids=(), *, flt=None, **options):
    from drivers.bundle import ZipBundleTarget
    from drivers.report import render_report
    from inspector.services.export import ExportOptions, RunSelection, export_bundle

    options.setdefault("exported_at", AT)
    options.setdefault("exported_by", "tester")
    options.setdefault("redact", False)
    report = options.pop("report", False)
    kwargs = {k: options.pop(k) for k in ("idempotency", "progress", "cancelled", "on_retry", "clock", "sleep",
                                           "retry") if k in options}
    from inspector.model import RunFilter

    selection = RunSelection(tuple(run_ids)) if run_ids else RunSelection(flt=flt or RunFilter())
    return export_bundle(source, selection, ZipBundleTarget(path), key, ExportOptions(**options),
                         render_report=render_report if report else None, **kwargs)


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def write_like_the_writer(path: Path, files: Mapping[str, bytes]) -> Path:
    """A zip laid out exactly as the bundle writer lays one out, with these entries in this order."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            z.writestr(info, data)
    return path


def resign(files: dict[str, bytes], key: SigningKey, change=None) -> dict[str, bytes]:
    """The same bundle with its manifest rewritten (``change(manifest)``, digests recomputed for the
    files given) and signed by ``key``."""
    import hashlib
    import json

    manifest = json.loads(files["manifest.json"])
    listed = {f["name"] for f in manifest["files"]}
    manifest["files"] = [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                         for n, d in sorted(files.items()) if n in listed]
    manifest["signer"] = {"algorithm": "Ed25519", "public_key": key.public.b64, "fingerprint": key.public.fingerprint}
    if change:
        change(manifest)
    data = canonical_bytes(manifest) + b"\n"
    out = dict(files)
    out["manifest.json"] = data
    out["manifest.sig"] = key.sign(data)
    return out
