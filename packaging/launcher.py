"""Entry point of the PyInstaller build: the ``trace-inspector`` command (``ui.cli:main``, as the
console script of ``pip install``), frozen.

With ``TRACE_INSPECTOR_CHECK_IMPORTS=1`` it instead imports every module of ours that the build
collected (trace-inspector-modules.txt, written by the spec) and exits 1 if one fails: modules the
app imports only when a panel first needs them (the activity chart and pyqtgraph) are checked
without opening the window (packaging/build.py)."""

import multiprocessing
import os
import sys


def check_imports() -> int:
    import importlib

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    listing = os.path.join(getattr(sys, "_MEIPASS", os.path.dirname(os.path.abspath(__file__))),
                           "trace-inspector-modules.txt")
    with open(listing, encoding="utf-8") as f:
        names = f.read().split()
    failed = 0
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, then counted
            print(f"{name}: {type(exc).__name__}: {exc}")
            failed += 1
    print(f"{len(names) - failed} of {len(names)} modules imported")
    return 1 if failed or not names else 0


if __name__ == "__main__":
    # diff hashes its two sides in worker processes started with "spawn": in a frozen app each
    # worker is this executable again, and freeze_support() turns it into the worker.
    multiprocessing.freeze_support()
    if os.environ.get("TRACE_INSPECTOR_CHECK_IMPORTS") == "1":
        sys.exit(check_imports())
    from ui.cli import main

    sys.exit(main())
