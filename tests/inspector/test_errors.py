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
    assert set(errors.__all__) == classes
