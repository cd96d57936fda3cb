"""The inspector's error tree: one-line messages that name the source."""

from __future__ import annotations

import pytest

from inspector import errors
from inspector.errors import (
    CorruptSource,
    InspectorError,
    NotATraceSource,
    RunNotFound,
    SourceError,
    SourceLocked,
    SourceNotFound,
    SourceUnavailable,
    UsageError,
)


def test_message_names_the_location():
    exc = SourceLocked("is locked by another process", location="/data/traces.db")
    assert str(exc) == "/data/traces.db: is locked by another process"
    assert exc.location == "/data/traces.db"
    assert exc.detail == "is locked by another process"


def test_message_without_location():
    exc = UsageError("not a date: 'x'")
    assert str(exc) == "not a date: 'x'" and exc.location is None


@pytest.mark.parametrize("cls", [SourceNotFound, NotATraceSource, CorruptSource, SourceLocked, SourceUnavailable])
def test_the_environments_faults_are_source_errors(cls):
    assert issubclass(cls, SourceError) and issubclass(cls, InspectorError)


@pytest.mark.parametrize("cls", [RunNotFound, UsageError])
def test_other_errors_are_not_source_errors(cls):
    assert issubclass(cls, InspectorError) and not issubclass(cls, SourceError)


def test_all_lists_every_error_class():
    classes = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}
    assert set(errors.__all__) == classes | {"one_line"}


def test_every_message_is_one_printable_line():
    exc = errors.CorruptSource("malformed schema:\nCREATE TABLE x (\r\n  a\tb\x00)" + "y" * 1000,
                               location="/tmp/a\udcff\n.db")
    text = str(exc)
    assert "\n" not in text and "\r" not in text and "\t" not in text and "\x00" not in text
    assert text.startswith("/tmp/a\\udcff\\n.db: malformed schema:\\nCREATE TABLE x (\\r\\n  a\\tb\\x00)")
    assert len(exc.detail) == 400 and exc.detail.endswith("…")
    text.encode("utf-8")
    assert errors.one_line("plain text, café 日本") == "plain text, café 日本"
