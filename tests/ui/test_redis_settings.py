"""The Redis setting (ui.qt.session.redis, ui.qt.windows.redis_settings): the URL is saved without its password (kept for the
session only), and "Test connection" PINGs the real Redis on a worker."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from inspector.errors import UsageError
from inspector.locations import split_redis_password
from ui.qt.app import redis_connector
from ui.qt.session.redis import PREFIX_KEY, URL_KEY, RedisSettings
from ui.qt.windows.redis_settings import RedisSettingsDialog

pytestmark = pytest.mark.gui
WAIT = 15000
SECRET = "s3cr3t-Pa55"


def test_the_password_is_never_saved(settings, tmp_path):
    rs = RedisSettings(settings, redis_connector(), sync=True)
    changes = []
    rs.changed.connect(lambda: changes.append(rs.location()))
    rs.set_url(f"redis://:{SECRET}@127.0.0.1:6379/0")
    assert rs.url() == f"redis://:{SECRET}@127.0.0.1:6379/0"  # this session
    assert settings.value(URL_KEY) == "redis://127.0.0.1:6379/0"
    assert SECRET not in (tmp_path / "settings.ini").read_text()
    assert rs.location() == "redis://127.0.0.1:6379/0" and changes == ["redis://127.0.0.1:6379/0"]
    # the same URL again, without a password: the session's is kept
    rs.set_url("redis://127.0.0.1:6379/0")
    assert rs.url() == f"redis://:{SECRET}@127.0.0.1:6379/0" and len(changes) == 1
    # a new session (same settings file) has the URL and not the password
    later = RedisSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), redis_connector(), sync=True)
    assert later.url() == "redis://127.0.0.1:6379/0" and not later.has_session_password
    # a password given apart from the URL is kept the same way
    rs.set_url("redis://cache.example:6379/1", "p@ss word")
    assert split_redis_password(rs.url()) == ("redis://cache.example:6379/1", "p@ss word")
    assert "p@ss" not in (tmp_path / "settings.ini").read_text() and "%40" not in (tmp_path / "settings.ini").read_text()
    # another URL drops the old password; blank means memory
    rs.set_url("redis://other:6379/0")
    assert rs.url() == "redis://other:6379/0"
    rs.set_url("")
    assert rs.url() is None and rs.location() == "memory" and settings.value(URL_KEY) is None
    rs.shutdown()


def test_a_password_found_in_the_settings_file_is_taken_out(settings, tmp_path):
    settings.setValue(URL_KEY, f"redis://:{SECRET}@127.0.0.1:6379/0")
    settings.sync()
    rs = RedisSettings(settings, redis_connector(), sync=True)
    assert rs.url() == f"redis://:{SECRET}@127.0.0.1:6379/0"
    assert SECRET not in (tmp_path / "settings.ini").read_text()
    rs.shutdown()


def test_bad_urls_are_refused_and_nothing_changes(settings):
    rs = RedisSettings(settings, redis_connector(), sync=True)
    rs.set_url("redis://127.0.0.1:6379/0")
    for bad in ("postgresql://db/x", "127.0.0.1:6379", "redis://:pw@127.0.0.1:notaport/0", "redis:///0"):
        with pytest.raises(UsageError) as info:
            rs.set_url(bad)
        assert "pw" not in str(info.value)
    assert rs.url() == "redis://127.0.0.1:6379/0"
    rs.set_prefix("myidem")
    assert rs.prefix() == "myidem" and settings.value(PREFIX_KEY) == "myidem"
    rs.set_prefix(" ")
    assert rs.prefix() == "idem" and settings.value(PREFIX_KEY) is None
    rs.shutdown()


@pytest.fixture
def async_redis_settings(settings, qtbot):
    rs = RedisSettings(settings, redis_connector())
    yield rs
    rs.shutdown()


@pytest.fixture
def dialog(qtbot, async_redis_settings):
    d = RedisSettingsDialog(async_redis_settings)
    qtbot.addWidget(d)
    return d


def test_a_password_typed_in_the_url_moves_to_the_password_field(dialog, async_redis_settings, tmp_path):
    dialog.url_edit.setText(f"redis://:{SECRET}@127.0.0.1:6379/0")
    dialog.url_edit.editingFinished.emit()
    assert dialog.url_edit.text() == "redis://127.0.0.1:6379/0" and dialog.password_edit.text() == SECRET
    dialog.prefix_edit.setText("idem2")
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert async_redis_settings.url() == f"redis://:{SECRET}@127.0.0.1:6379/0"
    assert async_redis_settings.prefix() == "idem2"
    assert SECRET not in (tmp_path / "settings.ini").read_text()


def test_test_connection_on_the_real_redis(qtbot, dialog, redis_url):
    dialog.url_edit.setText(redis_url)
    with qtbot.waitSignal(dialog.tested, timeout=WAIT) as blocker:
        dialog.test_button.click()
        assert not dialog.test_button.isEnabled()  # running on the Redis worker
    ok, text = blocker.args
    assert ok and text.startswith(f"Connected: {redis_url} answered PING in ")
    assert dialog.result_label.isVisibleTo(dialog) and dialog.test_button.isEnabled()


def test_test_connection_names_an_unreachable_url(qtbot, dialog):
    dialog.url_edit.setText("redis://:hidden@127.0.0.1:1/0")
    dialog.url_edit.editingFinished.emit()
    with qtbot.waitSignal(dialog.tested, timeout=WAIT) as blocker:
        dialog.test_button.click()
    ok, text = blocker.args
    assert not ok and "redis://:***@127.0.0.1:1/0" in text and "cannot reach Redis" in text
    assert "hidden" not in text and dialog.result_label.property("severity") == "payload-warning"


def test_a_bad_url_is_marked_and_not_saved(dialog, async_redis_settings):
    dialog.url_edit.setText("http://127.0.0.1:6379")
    dialog.test_button.click()
    assert dialog.url_edit.property("invalid") and "not a Redis URL" in dialog.result_label.text()
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted and async_redis_settings.url() is None
