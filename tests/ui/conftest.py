"""Fixtures for the CLI and Qt tests: small real SQLite trace databases and windows that never
leak a worker thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.dbs import build_small_db


@pytest.fixture(scope="session")
def small_db_master(tmp_path_factory) -> Path:
    return build_small_db(tmp_path_factory.mktemp("dbs") / "traces.db")


@pytest.fixture
def small_db(small_db_master, tmp_path) -> Path:
    """A private copy per test, so a test that writes cannot affect another."""
    target = tmp_path / "traces.db"
    target.write_bytes(small_db_master.read_bytes())
    return target


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """Build main windows; each is shut down (workers joined) at the end of the test."""
    from ui.qt.app import create_window

    made = []

    def make(**kwargs):
        w = create_window(settings=settings, **kwargs)
        qtbot.addWidget(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.shutdown()


@pytest.fixture
def redis_settings(settings, qtbot):
    """The Redis setting on the test's own QSettings file, reaching Redis through the real
    drivers, with a synchronous worker."""
    from ui.qt.app import redis_connector
    from ui.qt.session.redis import RedisSettings

    rs = RedisSettings(settings, redis_connector(), sync=True)
    yield rs
    rs.shutdown()


@pytest.fixture
def make_session(qtbot):
    """Source sessions on the real drivers (synchronous unless asked): ``make_session(source)``
    shows a source the test opened and still owns; every session is shut down (workers joined)
    at the end of the test."""
    from ui.qt.app import new_session

    made = []

    def make(source=None, *, sync: bool = True, owned: bool = False, **adopt):
        session = new_session("test", sync=sync)
        if source is not None:
            session.adopt(source, owned=owned, **adopt)
        made.append(session)
        return session

    yield make
    for session in made:
        session.shutdown()
