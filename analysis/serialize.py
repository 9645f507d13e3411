"""Plain Python values for JSON: the one converter behind every ``to_dict()``."""
from __future__ import annotations

import math

import numpy as np


def plain(value):
    """Dicts, lists, numpy arrays and scalars as JSON-safe Python values; NaN/inf become None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
