"""The one number formatter of every report: human units, never a raw float or a code name.

Every table and chart label a stakeholder reads goes through these functions, so ``$13.3B``,
``9.0%`` and ``2.4T tokens/day`` look the same in every report. Missing values read ``n/a``
(never ``NaN``), booleans ``yes``/``no`` (never ``True``/``False``).
"""
from __future__ import annotations

import math

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
MISSING = "n/a"


def _finite(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def number(value, digits: int = 3) -> str:
    """A plain number with ``digits`` significant digits and thousands separators (``1,380``, ``0.787``)."""
    x = _finite(value)
    if x is None:
        return MISSING
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:,.{decimals}f}"


def scaled(value, unit: str = "", digits: int = 3) -> str:
    """A number with a k / M / B / T suffix (``2.4T tokens/day``, ``518k GPUs``)."""
    x = _finite(value)
    if x is None:
        return MISSING
    for factor, suffix in _SUFFIXES:
        if abs(x) >= factor:
            text = f"{number(x / factor, digits)}{suffix}"
            break
    else:
        text = number(x, digits)
    return f"{text} {unit}".strip()


def usd(value, digits: int = 3) -> str:
    """Money: ``$13.3B``, ``-$6.05B``, ``$1.81``, ``$450k``."""
    x = _finite(value)
    if x is None:
        return MISSING
    sign = "-" if x < 0 else ""
    return f"{sign}${scaled(abs(x), digits=digits)}"


def pct(value, decimals: int = 1) -> str:
    """A fraction as a percentage: ``0.09`` -> ``9.0%``."""
    x = _finite(value)
    if x is None:
        return MISSING
    return f"{100 * x:.{decimals}f}%"


def points(value, decimals: int = 1) -> str:
    """A difference of fractions in percentage points: ``0.021`` -> ``+2.1 pts``."""
    x = _finite(value)
    if x is None:
        return MISSING
    return f"{100 * x:+.{decimals}f} pts"


def factor(value, decimals: int = 2) -> str:
    """A multiplicative factor: ``0.49`` -> ``x0.49``."""
    x = _finite(value)
    if x is None:
        return MISSING
    return f"\u00d7{x:.{decimals}f}"


def yes_no(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return "yes" if bool(value) else "no"


def band(value, low, high, fmt=pct) -> str:
    """A central value with its 5-95% range: ``9.0% (4.1-13.2%)``."""
    if _finite(low) is None or _finite(high) is None:
        return fmt(value)
    return f"{fmt(value)} ({fmt(low)} to {fmt(high)})"
