"""Uncertain parameters and their specifications.

A :class:`Param` is one number from ``data/``: a central ``value`` with an optional
``low``/``high`` range and the ``source`` it came from (a URL or paper + table and date, or
``assumption: ...``). A :class:`Spec` says what a parameter may be (unit, bounds, integer or
one of some choices). Model modules declare ``PARAMETERS: dict[str, Spec]`` for their
scenario section; :mod:`analysis.scenario` validates scenario files against them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.errors import InputError, shown

#: Ceiling (in magnitude) of a :class:`Spec` that declares no ``max``/``min``: a last resort so
#: that no number near the float limit (1e308) reaches a model. Every scenario parameter
#: declares its own physical ``max`` (tests/test_hardening.py checks).
DEFAULT_MAX = 1e15

_NUMBER = re.compile(r"\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")
_INTEGER = re.compile(r"\s*[-+]?[0-9]+\s*")


def as_number(value: Any) -> Any:
    """A decimal numeric string (``"16e6"``, ``" 1.5 "``) as the number it spells and numpy scalars
    as Python numbers; anything else unchanged (booleans stay booleans)."""
    if isinstance(value, str) and len(value) <= 100 and _NUMBER.fullmatch(value):
        return int(value) if _INTEGER.fullmatch(value) else float(value)
    if isinstance(value, (np.integer, np.floating)) and not isinstance(value, np.bool_):
        return value.item()
    return value


def _g(value) -> str:
    """``value`` in ``:g`` format, also for integers beyond the float range (``1e+400``)."""
    try:
        return f"{float(value):g}"
    except OverflowError:
        exponent = math.log10(abs(value))
        whole = math.floor(exponent)
        return f"{'-' if value < 0 else ''}{10 ** (exponent - whole):.6g}e+{whole}"


@dataclass(frozen=True)
class Param:
    """A sourced number with an optional plausible range [low, high]."""

    value: Any
    low: float | None = None
    high: float | None = None
    source: str = ""

    @property
    def has_range(self) -> bool:
        return self.low is not None and self.high is not None and self.high > self.low

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws: triangular(low, value, high) when ranged, else the constant value.

        The triangular law keeps the central value as the mode and never leaves the sourced
        range; it is the usual choice when only a range and a best guess are published.
        """
        if not self.has_range:
            return np.full(n, self.value, dtype=float)
        mode = min(max(float(self.value), self.low), self.high)
        return rng.triangular(self.low, mode, self.high, size=n)


@dataclass(frozen=True)
class Spec:
    """What a parameter may be. ``choices`` makes it a string parameter."""

    unit: str
    doc: str = ""
    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    integer: bool = False
    choices: tuple[str, ...] | None = None

    def __post_init__(self):
        for bound in (self.min, self.max):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"Spec({self.unit!r}): bounds must be finite numbers, got {bound!r}")

    @property
    def upper(self) -> float:
        """``max``, or :data:`DEFAULT_MAX` when the spec declares none."""
        return DEFAULT_MAX if self.max is None else self.max

    @property
    def lower(self) -> float:
        """``min``, or ``-DEFAULT_MAX`` when the spec declares none."""
        return -DEFAULT_MAX if self.min is None else self.min

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        lo, hi = f"{self.lower:g}", f"{self.upper:g}"
        kind = "an integer" if self.integer else "a number"
        bracket = "[" if self.min_inclusive else "("
        return f"{kind} in {bracket}{lo}, {hi}] ({self.unit})"

    def check(self, path: str, value: Any) -> Any:
        """Return ``value`` if it meets the spec, else raise a one-line :class:`InputError`."""
        if self.choices:
            if not isinstance(value, str) or value not in self.choices:
                raise InputError(f"{path}: {shown(value)} is not allowed; use {self.allowed()}")
            return value
        value = as_number(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{path}: {shown(value)} is not a number; expected {self.allowed()}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            number = math.inf if value > 0 else -math.inf
        if math.isnan(number) or (math.isinf(number) and isinstance(value, float)):
            raise InputError(f"{path}: {shown(value)} is not finite; expected {self.allowed()}")
        if number < self.lower or (number == self.lower and not self.min_inclusive):
            word = "below" if number < self.lower else "equal to"
            raise InputError(f"{path}: {_g(value)} is {word} {self.lower:g}; expected {self.allowed()}")
        if number > self.upper:
            raise InputError(f"{path}: {_g(value)} is above {self.upper:g}; expected {self.allowed()}")
        if self.integer and number != int(number):
            raise InputError(f"{path}: {shown(value)} is not an integer; expected {self.allowed()}")
        return value


PARAM_KEYS = {"value", "low", "high", "source"}


def parse_param(path: str, raw: Any, spec: Spec, require_source: bool = False) -> Param:
    """Read a scalar or ``{value, low, high, source}`` mapping into a checked :class:`Param`."""
    if isinstance(raw, dict):
        unknown = set(raw) - PARAM_KEYS
        if unknown:
            raise InputError(f"{path}: unknown key {shown(sorted(unknown, key=str)[0])}; allowed keys are value, low, high, source")
        if "value" not in raw:
            raise InputError(f"{path}: missing 'value'; a parameter is a number or {{value, low, high, source}}")
        value = spec.check(f"{path}.value", raw["value"])
        low, high = raw.get("low"), raw.get("high")
        if (low is None) != (high is None):
            raise InputError(f"{path}: give both 'low' and 'high' or neither")
        if low is not None:
            low = spec.check(f"{path}.low", low)
            high = spec.check(f"{path}.high", high)
            if not low <= value <= high:
                raise InputError(f"{path}: value {value:g} is outside its range [{low:g}, {high:g}]; need low <= value <= high")
        source = raw.get("source", "")
        if not isinstance(source, str):
            raise InputError(f"{path}.source: {shown(source)} is not text; give a URL, paper + table, or 'assumption: ...'")
        if require_source and not source.strip():
            raise InputError(f"{path}: no source; every number in data/ needs a source or an 'assumption: ...' label")
        return Param(value, low, high, source.strip())
    if require_source:
        raise InputError(f"{path}: {shown(raw)} has no source; write {{value: {shown(raw)}, source: '...'}}")
    return Param(spec.check(path, raw))


def require_keys(section: str, values: dict, specs: dict) -> dict:
    """``values`` if it has every parameter of ``specs``, else a one-line error naming the first missing one."""
    missing = [k for k in specs if k not in values]
    if missing:
        raise InputError(f"{section}.{missing[0]}: missing; the {section} section takes {', '.join(specs)}")
    return values


def check_range(name: str, value, low: float | None = None, high: float | None = None, low_open: bool = False):
    """``value`` as a float array; a one-line InputError if any element is not finite or lies outside
    [low, high] (``(low, high]`` with ``low_open``). The range check of the model modules' inputs."""
    arr = np.asarray(value, dtype=float)
    if not np.isfinite(arr).all():       # ndarray methods: cheaper than np.all/np.any on small arrays
        raise InputError(f"{name}: {shown(value)} is not finite; expected a number")
    bad = None
    if low is not None:
        below = arr <= low if low_open else arr < low
        if below.any():
            bad = arr[below].flat[0]
    if high is not None and bad is None and (arr > high).any():
        bad = arr[arr > high].flat[0]
    if bad is not None:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise InputError(f"{name}: {bad:g} is out of range; expected a number in {'(' if low_open else '['}{lo}, {hi}]")
    return arr


# --------------------------------------------------------------------------- one-at-a-time cases
def one_at_a_time_columns(central, ranged) -> dict[str, np.ndarray]:
    """Columns that evaluate every one-at-a-time case in a single vectorized model call.

    ``central``: ``{key: central value}``; ``ranged``: ``[(key, low, high), ...]``. Case 0 is the
    centre; case ``1 + 2i`` puts ``ranged[i]`` at its low end and case ``2 + 2i`` at its high end,
    every other key central. Returns ``{key: column}`` for the ranged keys only (the others stay
    scalars and broadcast). Read the result with :func:`one_at_a_time_ends`."""
    n = 1 + 2 * len(ranged)
    columns = {}
    for i, (key, low, high) in enumerate(ranged):
        column = np.full(n, float(central[key]))
        column[1 + 2 * i], column[2 + 2 * i] = low, high
        columns[key] = column
    return columns


def one_at_a_time_ends(figure, count: int) -> tuple[float, np.ndarray, np.ndarray]:
    """``(centre, at each low end, at each high end)`` of a figure evaluated on the columns of
    :func:`one_at_a_time_columns` for ``count`` ranged keys."""
    values = np.broadcast_to(np.asarray(figure, dtype=float), (1 + 2 * count,))
    return float(values[0]), values[1::2], values[2::2]
