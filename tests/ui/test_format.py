"""The duration format's units are chosen by the value as it is shown, rounded (a duration just
under an hour read "59 min 60 s")."""

from __future__ import annotations

import pytest

from ui.format import fmt_cost, fmt_duration


@pytest.mark.parametrize("ms, shown", [
    (0, "0 ms"), (0.5, "0.50 ms"), (0.996, "1 ms"), (999.4, "999 ms"), (999.6, "1.00 s"),
    (59_994, "59.99 s"), (59_996, "1 min 00 s"), (61_000, "1 min 01 s"), (3_599_400, "59 min 59 s"),
    (3_599_600, "1 h 00 min"), (3_600_000, "1 h 00 min"), (5_430_000, "1 h 30 min"), (86_399_000, "24 h 00 min"),
])
def test_durations_at_the_edges_of_their_units(ms, shown):
    assert fmt_duration(ms) == shown


@pytest.mark.parametrize("cents, shown", [
    (None, ""), (0, "0.00¢"), (-0.0, "0.00¢"), (0.004, "<0.01¢"), (1e-300, "<0.01¢"), (-0.004, ">-0.01¢"),
    (0.005, "0.01¢"), (0.42, "0.42¢"), (0.2929, "0.29¢"), (12.5, "12.50¢"), (37, "37.00¢"),
    # The unit is chosen by the value as rounded: 99.995 (stored as 99.99500000000000455) is "100.00¢",
    # so "$1.00"; 0.005 (stored as 0.005000000000000000104) is "0.01¢", and 0.0049 rounds to nothing.
    (0.0049, "<0.01¢"), (99.994, "99.99¢"), (99.995, "$1.00"), (100, "$1.00"), (123_456, "$1,234.56"), (-250, "-$2.50"),
    (-12.5, "-12.50¢"), (10**16, "$100,000,000,000,000.00"), (10**17, "$1.00e+15"), (1e300, "$1.00e+298"),
    (10**400, ">$1e+306"), (-(10**400), "<-$1e+306"),
    (float("nan"), "nan¢"), (float("inf"), "inf¢"), (float("-inf"), "-inf¢"),
])
def test_costs_in_cents_then_dollars_at_one_fixed_precision(cents, shown):
    assert fmt_cost(cents) == shown


@pytest.mark.parametrize("ms, shown", [
    (None, ""), (float("nan"), "nan ms"), (float("inf"), "inf ms"), (float("-inf"), "-inf ms"),
    (-5, "-5 ms"), (-61_000, "-1 min 01 s"), (1e300, "2.78e+293 h"), (10**400, ">1e+308 ms"),
    (-(10**400), "<-1e+308 ms"), (3_600_000 * 999_999, "999999 h 00 min"),
])
def test_durations_that_are_odd_stay_one_short_text(ms, shown):
    assert fmt_duration(ms) == shown


def test_numpy_values_format_as_floats():
    """The timeline's tooltips pass numpy scalars."""
    import numpy as np

    assert fmt_cost(np.float64(0.2929)) == "0.29¢" and fmt_duration(np.float64(1500.0)) == "1.50 s"
    assert fmt_cost(np.float64("nan")) == "nan¢"


@pytest.mark.parametrize(
    "value, cost, duration",
    [
        (__import__("decimal").Decimal("1E+400"), ">$1e+306", ">1e+308 ms"),  # a finite NUMERIC past float's range
        (__import__("decimal").Decimal("-1E+400"), "<-$1e+306", "<-1e+308 ms"),
        (-0.004, ">-0.01¢", "-0.00 ms"),
        ("12 dollars", "12 dollars¢", "12 dollars ms"),  # a foreign column's text: as stored, short
        ("x" * 50, "x" * 20 + "…¢", "x" * 20 + "… ms"),
    ],
)
def test_foreign_values_read_as_one_short_text(value, cost, duration):
    assert fmt_cost(value) == cost
    assert fmt_duration(value) == duration
