"""Postgres URLs as libpq reads them, shown without passwords; psycopg errors in our words."""

from __future__ import annotations

import pytest

from drivers.pg_common import PgLocation, iso
from inspector.errors import NotATraceSource
from inspector.locations import split_pg_password


@pytest.mark.parametrize(
    ("url", "display", "password"),
    [
        ("postgresql://ana:s3cret@db.example:5433/aos", "postgresql://ana@db.example:5433/aos", "s3cret"),
        ("postgresql://ana@db/aos?password=s3cret&sslmode=require", "postgresql://ana@db/aos?sslmode=require", "s3cret"),
        ("postgresql://us%40er:p%40ss%2Fw@h/my%20db", "postgresql://us%40er@h/my%20db", "p@ss/w"),
        ("postgresql:///aos", "postgresql:///aos", None),
        ("postgres://ana:x@/", "postgresql://ana@/", "x"),
    ],
)
def test_display_never_carries_the_password(url, display, password):
    loc = PgLocation(url)
    assert loc.display == display
    assert loc.password == password
    assert "s3cret" not in loc.display and "p%40ss" not in loc.display


def test_libpq_defaults_are_left_to_libpq():
    loc = PgLocation("postgresql:///aos")
    url = loc.sa_url()
    assert url.host is None and url.port is None and url.database == "aos"
    assert loc.short == "aos on local socket"
    decoded = PgLocation("postgresql://us%40er:p%40ss%2Fw@h/my%20db").sa_url()
    assert (decoded.username, decoded.password, decoded.database) == ("us@er", "p@ss/w", "my db")


def test_a_typed_password_wins_and_a_malformed_url_is_named_without_its_password():
    assert PgLocation("postgresql://a:inline@h/db", password="typed").password == "typed"
    with pytest.raises(NotATraceSource) as err:
        PgLocation("postgresql://a:s3cret@h:notaport/db")
    assert "s3cret" not in str(err.value) and "not a valid Postgres URL" in str(err.value)
    shown, pw = split_pg_password("postgresql://a:s3cret@h:notaport/db")
    assert "s3cret" not in shown and pw is None


def test_iso_is_utc():
    from datetime import datetime, timedelta, timezone

    aware = datetime(2026, 11, 29, 7, 0, tzinfo=timezone(timedelta(hours=2)))
    assert iso(aware) == "2026-11-29T05:00:00+00:00"
    assert iso(datetime(2026, 11, 29, 5, 0)) == "2026-11-29T05:00:00+00:00"
    assert iso(None) is None


def test_a_connection_lost_mid_stream_is_unavailable_not_a_raw_error():
    """psycopg's own OperationalError, without a SQLSTATE, as a server-side cursor raises it when
    the server drops the connection between two batches (seen while an export streamed steps)."""
    import psycopg

    from drivers.pg_common import translate_errors
    from inspector.errors import SourceUnavailable

    with pytest.raises(SourceUnavailable, match="reading steps: the server is unreachable or closed"):
        with translate_errors("postgresql://h/db", "reading steps"):
            raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")
