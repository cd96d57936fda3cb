"""Composition root of the desktop app: it builds the application, the settings, the message bus,
the source session (with the drivers that open sources), the Redis setting (with the drivers that
reach Redis) and the main window, and passes them down (no singletons). The only Qt module that
imports ``drivers``: everything else is given what it needs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication

from ui.qt.messages import MessageBus
from ui.qt.session.collector import GuiThreadCollector
from ui.qt.session.redis import RedisConnector, RedisSettings
from ui.qt.session.session import SourceSession
from ui.qt.session.settings import Passwords
from ui.qt.session.trust import TrustStore
from ui.qt.windows.export import BundleTools

__all__ = [
    "APP_ID",
    "FREEZE_AFTER_MS",
    "bundle_tools",
    "collector",
    "compare_screenshot",
    "create_window",
    "make_application",
    "new_session",
    "redis_connector",
    "run_gui",
]


def _setup_logging() -> None:
    import platformdirs

    log_dir = platformdirs.user_log_path("aos-trace-inspector", ensure_exists=True)
    handler = RotatingFileHandler(log_dir / "inspector.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


#: The desktop entry's and the icon's name (resources/aos-trace-inspector.*).
APP_ID = "aos-trace-inspector"


def _app_icon() -> QIcon:
    """The app's icon, from the PNGs the package ships (read as bytes: a frozen or zipped package
    has no paths to give Qt)."""
    from importlib.resources import files

    icon = QIcon()
    for size in (48, 128, 256):
        pixmap = QPixmap()
        try:
            pixmap.loadFromData(files("resources").joinpath(f"{APP_ID}-{size}.png").read_bytes(), "PNG")
        except OSError as exc:  # a broken install: the window still opens, with Qt's default icon
            logging.getLogger(__name__).warning("app icon %s: %s", size, exc)
            continue
        icon.addPixmap(pixmap)
    return icon


def make_application(argv: list[str] | None = None, *, theme: bool = True) -> QApplication:
    """The QApplication (made once), with garbage collection moved to the GUI thread
    (``ui.qt.session.collector``: a cycle holding a Qt object must never die on a worker), in the
    colour scheme of the system or of ``TRACE_INSPECTOR_COLOR_SCHEME`` (``ui.qt.theme``)."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    collector(app)
    app.setWindowIcon(_app_icon())
    app.setDesktopFileName(APP_ID)  # Wayland's app id: the desktop entry's name, for its icon
    if theme:
        from ui.qt.theme import apply_theme

        apply_theme(app)
    return app


def collector(app: QApplication) -> GuiThreadCollector:
    """The application's GUI-thread garbage collector (made on first call)."""
    found = app.findChild(GuiThreadCollector)
    return found if found is not None else GuiThreadCollector(parent=app)


def new_session(name: str = "session", *, bus: MessageBus | None = None, passwords: Passwords | None = None,
                sync: bool = False, trust: TrustStore | None = None) -> SourceSession:
    """A source session that opens sources with the drivers (``drivers.open_source``); export
    bundles are verified against the keys ``trust`` holds when they are opened."""
    from drivers import open_source

    if trust is None:
        return SourceSession(open_source, bus=bus, passwords=passwords, sync=sync, name=name)
    keys = trust.keys

    def open_trusting(location: str, **kwargs):
        return open_source(location, trusted_keys=keys(), **kwargs)

    return SourceSession(open_trusting, bus=bus, passwords=passwords, sync=sync, name=name)


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def bundle_tools() -> BundleTools:
    """What the export dialog and the trusted-keys dialog need of the drivers."""
    from inspector.idempotency import MemoryIdempotencyStore
    from inspector.version import package_version

    memory = MemoryIdempotencyStore()  # one per window: the same export twice is recognised

    def idempotency(url: str | None):
        if not url:
            return memory
        from drivers.redis_store import open_idempotency_store

        return open_idempotency_store(url, "export")

    def lazy(name: str):
        def call(*args, **kwargs):
            import drivers.bundle

            return getattr(drivers.bundle, name)(*args, **kwargs)
        return call

    def render_report(data):
        from drivers.report import render_report as render

        return render(data)

    def default_key_path() -> str:
        from drivers.bundle import default_key_path as path

        return str(path())

    producer_version = package_version()
    return BundleTools(target=lazy("ZipBundleTarget"), render_report=render_report,
                       read_private_key=lazy("read_private_key"), write_keypair=lazy("write_keypair"),
                       read_public_key=lazy("read_public_key"), default_key_path=default_key_path,
                       idempotency=idempotency, verify=lazy("verify_path"), producer_version=producer_version,
                       exported_by=_login())


def _ping_redis(url: str) -> float:
    from drivers.redis_store import RedisIdempotencyStore

    started = time.perf_counter()
    store = RedisIdempotencyStore(url)
    try:
        store.ping()
    finally:
        store.close()
    return time.perf_counter() - started


def _replay_cache(url: str | None):
    from drivers.redis_store import open_replay_cache

    return open_replay_cache(url)


def _idempotency_store(url: str, prefix: str):
    from drivers.redis_store import open_idempotency_store

    return open_idempotency_store(url, prefix, fallback=False)


def redis_connector() -> RedisConnector:
    """How the windows reach Redis: the drivers' replay cache (with its visible fallback to
    memory), idempotency store (without one) and a timed ``PING``. redis-py is imported on first
    use (on the Redis worker), not when the window opens."""
    return RedisConnector(replay_cache=_replay_cache, idempotency_store=_idempotency_store, ping=_ping_redis)


def _demo_path() -> str:
    """Where the demo database is kept (Help → About; drivers.demo is imported then)."""
    from drivers.demo import default_demo_path

    return str(default_demo_path())


def _ensure_demo(**kwargs):
    """The demo database, generated on first use (imported then: the window opens without it)."""
    from drivers.demo import ensure_demo

    return ensure_demo(**kwargs)


def create_window(settings: QSettings | None = None, *, sync: bool = False, demo_provider=None):
    """A main window wired to the real drivers (tests pass their own settings; ``sync`` runs
    every read inline, for tests without an event loop)."""
    from ui.qt.main_window import MainWindow

    if settings is None:
        settings = QSettings("AOS", "Trace Inspector")
    if demo_provider is None:
        demo_provider = _ensure_demo
    bus = MessageBus()
    trust = TrustStore(settings)
    session = new_session("main", bus=bus, passwords=Passwords(), sync=sync, trust=trust)
    redis = RedisSettings(settings, redis_connector(), sync=sync)
    window = MainWindow(settings=settings, session=session, bus=bus, redis=redis, demo_provider=demo_provider,
                        sync=sync, trust=trust, tools=bundle_tools(), demo_path=_demo_path)
    bus.setParent(window)
    redis.setParent(window)
    trust.setParent(window)
    return window


#: When the objects made to start the app are put out of the collector's sight.
FREEZE_AFTER_MS = 3000


def run_gui(location: str | None = None, *, demo: bool = False) -> int:
    _setup_logging()
    app = make_application()
    app.setApplicationName("AOS Trace Inspector")
    app.setOrganizationName("AOS")
    settings = QSettings("AOS", "Trace Inspector")
    from ui.qt.theme import SCHEME_SETTING, apply_theme, scheme_choice

    apply_theme(app, scheme_choice(settings.value(SCHEME_SETTING)))
    window = create_window(settings)
    # Start reading before the first paint: the worker opens the source and reads the first page
    # while the window is laid out and painted, often in time for that first paint.
    if location:
        window.open_location(location)
    elif demo:
        window.open_demo()
    window.show()
    # Once started (imports done, the first page read), what exists lives as long as the app.
    QTimer.singleShot(FREEZE_AFTER_MS, collector(app).freeze_startup)
    screenshot = os.environ.get("TRACE_INSPECTOR_SCREENSHOT")
    if screenshot:  # used to take README screenshots under Xvfb
        from ui.qt.screenshot import schedule_screenshot

        schedule_screenshot(window, screenshot)
    return app.exec()


def compare_screenshot(argv: Sequence[str] | None = None) -> int:
    """Open the Compare window on a source and run(s); with ``--png`` save it once shown and quit.

        python -m ui.qt.app SOURCE REPLAY [ORIGINAL | SOURCE_B RUN_B] [--ignore P]… [--png OUT]
    """
    from ui.qt.windows.compare import open_compare

    parser = argparse.ArgumentParser(prog="python -m ui.qt.app", description=compare_screenshot.__doc__)
    parser.add_argument("operands", nargs="+", help="SOURCE REPLAY | SOURCE RUN_A RUN_B | SOURCE_A RUN_A SOURCE_B RUN_B")
    parser.add_argument("--ignore", action="append", default=[], metavar="POINTER")
    parser.add_argument("--png", help="save the window as this PNG and quit")
    parser.add_argument("--row", type=int, help="select this row (default: the first divergence)")
    parser.add_argument("--size", default="1280x860", help="window size, WxH")
    args = parser.parse_args(argv)
    ops = args.operands
    if len(ops) not in (2, 3, 4):
        parser.error("give SOURCE REPLAY, SOURCE RUN_A RUN_B or SOURCE_A RUN_A SOURCE_B RUN_B")
    app = make_application()
    if len(ops) == 2:
        left, right = (ops[0], ops[1]), None
    elif len(ops) == 3:
        left, right = (ops[0], ops[1]), (ops[0], ops[2])
    else:
        left, right = (ops[0], ops[1]), (ops[2], ops[3])
    window = open_compare(None, new_session, left, right, rules=args.ignore, show=False)
    w, h = (int(x) for x in args.size.lower().split("x"))
    window.resize(w, h)
    window.show()
    code = {"value": 0}

    def finish(ok: bool) -> None:
        if args.png:
            app.processEvents()
            window.grab().save(args.png)
            print(args.png)
        code["value"] = 0 if ok else 1
        if args.png:
            window.shutdown()
            app.quit()

    def shown(_cmp: object) -> None:
        if args.row is not None:
            window.select_row(args.row)
        QTimer.singleShot(300, lambda: finish(True))

    window.comparison_shown.connect(shown)
    window.failed.connect(lambda text: (print(text, file=sys.stderr), QTimer.singleShot(300, lambda: finish(False))))
    app.exec()
    window.shutdown()
    return code["value"]


if __name__ == "__main__":
    sys.exit(compare_screenshot())
