"""Small shared helpers of the goodput package: checked float arrays and 0-d unwrapping."""
from __future__ import annotations

import numpy as np

from analysis.errors import InputError, shown

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
REFERENCE_JOB_GPUS = 16384.0        # Llama 3 405B job size: the size at which size-dependent parameters are given


def arr(name: str, value, minimum: float | None = 0.0, inclusive: bool = True) -> np.ndarray:
    """``value`` as a float array, checked finite and >= (or >) ``minimum``; one-line InputError otherwise."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name}: {shown(value)} is not a number; expected a finite number") from None
    # ndarray methods, not np.all/np.any: these checks run thousands of times per evaluation
    if not np.isfinite(a).all():
        raise InputError(f"{name}: {shown(value)} is not finite; expected a finite number")
    if minimum is not None:
        bad = a < minimum if inclusive else a <= minimum
        if bad.any():
            first_bad = a[bad].flat[0] if a.ndim else float(a)
            op = ">=" if inclusive else ">"
            raise InputError(f"{name}: {first_bad:g} is out of range; expected a number {op} {minimum:g}")
    return a


def fraction(name: str, value, upper_inclusive: bool = False) -> np.ndarray:
    a = arr(name, value, 0.0)
    if (a > 1).any() or (not upper_inclusive and (a >= 1).any()):
        raise InputError(f"{name}: {np.max(a):g} is out of range; expected a fraction in [0, 1{']' if upper_inclusive else ')'}")
    return a


def out(a):
    """0-d arrays back to Python floats; arrays unchanged."""
    a = np.asarray(a, dtype=float)
    return float(a) if a.ndim == 0 else a
