"""Test set-up shared by every test: Qt offscreen before anything imports Qt, private runtime
and data folders, and the small real databases the tests read."""

from __future__ import annotations

import os
import sys
import tempfile

# Before any Qt import: without a display Qt would abort the whole run (ENVIRONMENT.md).
# The offscreen screen is the 1280×800 the app is made to fit (Qt's own default is 800×800).
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = "offscreen:configfile=" + os.path.join(os.path.dirname(__file__),
                                                                          "offscreen-1280x800.json")
if not os.environ.get("XDG_RUNTIME_DIR"):
    _runtime = tempfile.mkdtemp(prefix="xdg-runtime-")
    os.chmod(_runtime, 0o700)
    os.environ["XDG_RUNTIME_DIR"] = _runtime
# Keep user data (demo DB, logs) of the tests out of the real home folder.
_home = tempfile.mkdtemp(prefix="inspector-home-")
os.environ["XDG_DATA_HOME"] = os.path.join(_home, "data")
os.environ["XDG_STATE_HOME"] = os.path.join(_home, "state")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_home, "config")
os.environ["XDG_CACHE_HOME"] = os.path.join(_home, "cache")

import pytest  # noqa: E402

from pathlib import Path  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.is_dir():  # CI lays shared/ beside the clone
    SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures" / "aos"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    assert FIXTURES.is_dir(), f"upstream fixtures not found at {FIXTURES}"
    return FIXTURES


# --- Qt: one application, garbage collected on its GUI thread as the app's is ------------------


@pytest.fixture(scope="session")
def qapp(qapp_args, pytestconfig):
    """pytest-qt's application, made the way the app makes it (``ui.qt.app.make_application``):
    cycles are collected on the GUI thread only, never on a worker (a Qt object destroyed there
    crashed the suite about one run in seven)."""
    from ui.qt.app import make_application

    app = make_application(list(qapp_args), theme=False)
    app.setApplicationName(pytestconfig.getini("qt_qapp_name"))
    return app


@pytest.fixture(autouse=True)
def _collect_between_tests():
    """Automatic collection is off once the application exists: collect after each test, as the
    app's timer would, so tests that run no event loop do not pile up garbage."""
    yield
    if "PySide6.QtWidgets" not in sys.modules:
        return  # no Qt yet: the interpreter still collects by itself
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        from ui.qt.app import collector

        collector(app).check()


# --- real Postgres and Redis (see tests/pgutil.py) --------------------------------------------


@pytest.fixture(scope="session")
def pg_server():
    from tests.pgutil import PG_ENV, PgServer, require_service

    server = PgServer(require_service(PG_ENV))
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh database with the whole AOS schema (final migration level, triggers installed):
    its libpq URL (``postgresql://…``), as a user would type it."""
    from tests.pgutil import with_database

    name = pg_server.create(template=pg_server.template())
    yield with_database(pg_server.url, name)
    pg_server.drop(name)


@pytest.fixture
def pg_empty_url(pg_server) -> str:
    """A fresh, empty database (no AOS tables)."""
    from tests.pgutil import with_database

    name = pg_server.create()
    yield with_database(pg_server.url, name)
    pg_server.drop(name)


@pytest.fixture
def redis_url() -> str:
    from tests.pgutil import REDIS_ENV, require_service

    return require_service(REDIS_ENV)
