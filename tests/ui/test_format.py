"""The duration format's units are chosen by the value as it is shown, rounded (a duration just
under an hour read "59 min 60 s")."""

from __future__ import annotations

import pytest

from ui.format import fmt_duration


@pytest.mark.parametrize("ms, shown", [
    (0, "0 ms"), (0.5, "0.50 ms"), (0.996, "1 ms"), (999.4, "999 ms"), (999.6, "1.00 s"),
    (59_994, "59.99 s"), (59_996, "1 min 00 s"), (61_000, "1 min 01 s"), (3_599_400, "59 min 59 s"),
    (3_599_600, "1 h 00 min"), (3_600_000, "1 h 00 min"), (5_430_000, "1 h 30 min"), (86_399_000, "24 h 00 min"),
])
def test_durations_at_the_edges_of_their_units(ms, shown):
    assert fmt_duration(ms) == shown
