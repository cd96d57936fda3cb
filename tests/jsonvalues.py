"""Comparing JSON values strictly, for tests of the fast JSON path against the standard library."""

from __future__ import annotations

import math

__all__ = ["same"]


def same(a, b) -> bool:
    """Equal as JSON values, strictly: the same types (1 is not 1.0 nor True), NaN equal to NaN,
    -0.0 not 0.0, dict keys in the same order. Iterative: values may nest deeply."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if not ((math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))):
                return False
        elif isinstance(x, dict):
            if list(x) != list(y):
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True
