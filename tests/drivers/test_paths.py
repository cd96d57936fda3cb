"""What a path is, decided before any reader sees it (drivers.paths): every odd path gets one line
naming it and saying what it is, at once; nothing blocks (a FIFO with no writer) and nothing is
read from a device."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from drivers import open_source
from drivers.paths import open_regular, regular_file
from inspector.errors import NotATraceSource, SourceError, SourceNotFound


def _open_within(location, seconds=10.0):
    """open_source(location) on a thread: the error it raises, or a failure if it hangs."""
    out: list[BaseException | object] = []

    def run():
        try:
            out.append(open_source(location))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"open_source({location!r}) still running after {seconds} s"
    return out[0]


def test_fifo_without_a_writer_is_refused_at_once(tmp_path):
    fifo = tmp_path / "traces.db"
    os.mkfifo(fifo)
    exc = _open_within(str(fifo))
    assert isinstance(exc, NotATraceSource) and "named pipe (FIFO)" in str(exc) and str(fifo) in str(exc)
    folder = _open_within(str(tmp_path))  # a folder whose traces.db is a FIFO
    assert isinstance(folder, NotATraceSource) and "named pipe" in str(folder)


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero", "/dev/urandom"])
def test_devices_are_devices(device):
    exc = _open_within(device)
    assert isinstance(exc, NotATraceSource) and str(exc) == f"{device}: is a device, not a file"


def test_sockets_folders_and_missing_parts(tmp_path):
    sock_path = tmp_path / "s.db"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        assert "is a socket" in str(_open_within(str(sock_path)))
    assert str(_open_within(str(tmp_path))).endswith("is a folder without a traces.db")
    with pytest.raises(SourceNotFound, match="is a folder, not a file"):
        regular_file(tmp_path)
    plain = tmp_path / "plain.db"
    plain.write_bytes(b"x")
    assert "a part of its path is a file" in str(_open_within(str(plain / "traces.db")))
    assert "no such file" in str(_open_within(str(tmp_path / "absent.db")))


def test_names_too_long_loops_and_nul(tmp_path):
    long = tmp_path / ("a" * 300 + ".db")
    exc = _open_within(str(long))
    assert isinstance(exc, SourceNotFound) and "the name is too long" in str(exc)
    loop = tmp_path / "loop.db"
    loop.symlink_to(loop)
    assert "symbolic links" in str(_open_within(str(loop)))
    assert "NUL character" in str(_open_within(str(tmp_path / "a\0b.db")))


@pytest.mark.parametrize("name", ["empty.db", "empty.json", "empty.zip", "traces"])
def test_an_empty_file_is_empty_whatever_its_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    exc = _open_within(str(path))
    assert isinstance(exc, NotATraceSource) and str(exc) == f"{path}: is empty (0 bytes)"


def test_messages_are_one_line_whatever_the_name(tmp_path):
    odd = tmp_path / "two\nlines\r\udcff.db"
    odd.write_bytes(b"not sqlite at all, not json either")  # Linux takes any bytes but / and NUL
    exc = _open_within(os.fsdecode(os.fsencode(str(odd))))
    assert isinstance(exc, SourceError)
    text = str(exc)
    assert "\n" not in text and "\r" not in text and "two\\nlines\\r\\udcff.db" in text
    text.encode("utf-8")  # printable on any UTF-8 terminal: no lone surrogate left


def test_open_regular_reads_a_regular_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    with open_regular(path) as fh:
        assert fh.read() == b"abc"
