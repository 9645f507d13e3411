"""Plain Python values for JSON: the one converter behind every ``to_dict()`` and ``--json``.

The output of :func:`plain` always passes ``json.dumps(..., allow_nan=False)`` (strict JSON,
RFC 8259): NaN and +/-Infinity become ``None`` (JSON ``null``), numpy/pandas scalars become
Python numbers, and objects JSON does not know become text.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from pathlib import PurePath

import numpy as np


def _non_finite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def plain(value, nulls: dict | None = None, _path: str = ""):
    """Dicts, lists, numpy arrays and scalars as JSON-safe Python values; NaN/inf become None.

    ``nulls``, when given, collects ``{"a.b[2]": "NaN"}`` for every non-finite number replaced
    by ``None`` (the reason a JSON consumer sees ``null``)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v, nulls, f"{_path}.{k}" if _path else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [plain(v, nulls, f"{_path}[{i}]") for i, v in enumerate(items)]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), nulls, _path)
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, (bytes, np.generic)):
            return str(value)
        return plain(value, nulls, _path)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if nulls is not None:
            nulls[_path or "value"] = _non_finite(value)
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value), nulls, _path)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return plain(to_dict(), nulls, _path)
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    try:  # numbers JSON does not know (Decimal, Fraction): as floats
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    return plain(number, nulls, _path)
