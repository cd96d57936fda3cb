"""How money and durations read, wherever they are shown: the window, the CLI, the export report.

Both choose their unit by the value as it will be rounded and shown (999.996 ms is "1.00 s", not
"1000.00 ms"; 99.996¢ is "$1.00", not "100.00¢"), and both read any number a foreign writer
stored: NaN, an infinity, a negative value or an integer beyond a float's range gives one short
text, never an exception or a line of hundreds of digits.
"""

from __future__ import annotations

__all__ = ["fmt_cost", "fmt_duration"]

#: Dollars from this many shown in scientific notation ("$1.00e+15"), not in thirty digits.
_DOLLARS_SCIENTIFIC = 1e15
#: Hours from this many likewise ("1.00e+06 h": over a century).
_HOURS_SCIENTIFIC = 1_000_000


def _read(value: float, unit: str, huge: str) -> float | str:
    """The value as a finite float, or the one short text it reads as: a text as stored (a
    foreign column's), NaN or an infinity as stored (``nan¢``), a finite number past a float's
    range (a huge integer, a Postgres NUMERIC such as 1E+400) as ``>huge``."""
    try:
        f = float(value)
    except OverflowError:
        return f">{huge}" if value > 0 else f"<-{huge}"
    except (TypeError, ValueError):
        text = str(value)
        return f"{text[:20]}{'…' if len(text) > 20 else ''}{unit}"
    if f - f != 0:  # NaN or an infinity: as stored, unless a finite Decimal overflowed to it
        finite = not isinstance(value, float) and getattr(value, "is_finite", lambda: False)()
        return (f">{huge}" if f > 0 else f"<-{huge}") if finite else f"{f}{unit}"
    return f


def fmt_cost(cents: float | None) -> str:
    """Money stored in cents: cents to two decimals under a dollar ("0.42¢", "12.50¢", "0.00¢";
    a nonzero amount that rounds to nothing "<0.01¢"), dollars and cents from one dollar
    ("$1.00", "$1,234.56"). Negative amounts get a minus sign; NaN and infinities read as stored
    ("nan¢", "-inf¢"); an integer too large for a float reads ">$1e+306"."""
    if cents is None:
        return ""
    c = _read(cents, "¢", "$1e+306")
    if isinstance(c, str):
        return c
    sign = "-" if c < 0 else ""
    a = abs(c)
    shown = f"{a:.2f}"
    if float(shown) < 100:
        if shown == "0.00":
            return (">-0.01¢" if sign else "<0.01¢") if a else "0.00¢"
        return f"{sign}{shown}¢"
    dollars = a / 100
    if dollars >= _DOLLARS_SCIENTIFIC:
        return f"{sign}${dollars:.2e}"
    return f"{sign}${dollars:,.2f}"


def fmt_duration(ms: float | None) -> str:
    """A duration stored in milliseconds: "0.50 ms", "999 ms", "1.00 s", "59.99 s", "1 min 00 s",
    "2 h 05 min". Negative durations get a minus sign; NaN and infinities read as stored
    ("nan ms"); an integer too large for a float reads ">1e+308 ms"."""
    if ms is None:
        return ""
    f = _read(ms, " ms", "1e+308 ms")  # an infinity or NaN: no hours and minutes of it
    if isinstance(f, str):
        return f
    if f == 0:
        return "0 ms"
    if f < 0:
        return "-" + fmt_duration(-f)
    # Each unit is chosen by the value as it will be rounded: 999.7 ms is "1.00 s", not
    # "1000 ms", and 3,599.9 s is "1 h 00 min", not "59 min 60 s".
    if f < 0.995:
        return f"{f:.2f} ms"
    if round(f) < 1000:
        return f"{f:.0f} ms"
    s = f / 1000
    if round(s, 2) < 60:
        return f"{s:.2f} s"
    total = round(s)
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    minutes = round(s / 60)
    if minutes // 60 >= _HOURS_SCIENTIFIC:
        return f"{s / 3600:.2e} h"
    return f"{minutes // 60} h {minutes % 60:02d} min"
