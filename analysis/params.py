"""Uncertain parameters and their specifications.

A :class:`Param` is one number from ``data/``: a central ``value`` with an optional
``low``/``high`` range and the ``source`` it came from (a URL or paper + table and date, or
``assumption: ...``). A :class:`Spec` says what a parameter may be (unit, bounds, integer or
one of some choices). Model modules declare ``PARAMETERS: dict[str, Spec]`` for their
scenario section; :mod:`analysis.scenario` validates scenario files against them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.errors import InputError


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

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "inf" if self.max is None else f"{self.max:g}"
        kind = "an integer" if self.integer else "a number"
        bracket = "[" if self.min_inclusive else "("
        return f"{kind} in {bracket}{lo}, {hi}] ({self.unit})"

    def check(self, path: str, value: Any) -> Any:
        """Return ``value`` if it meets the spec, else raise a one-line :class:`InputError`."""
        if self.choices:
            if not isinstance(value, str) or value not in self.choices:
                raise InputError(f"{path}: {value!r} is not allowed; use {self.allowed()}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{path}: {value!r} is not a number; expected {self.allowed()}")
        if not np.isfinite(value):
            raise InputError(f"{path}: {value!r} is not finite; expected {self.allowed()}")
        if self.integer and float(value) != int(value):
            raise InputError(f"{path}: {value!r} is not an integer; expected {self.allowed()}")
        if self.min is not None:
            if value < self.min or (value == self.min and not self.min_inclusive):
                word = "below" if value < self.min else "equal to"
                raise InputError(f"{path}: {value:g} is {word} {self.min:g}; expected {self.allowed()}")
        if self.max is not None and value > self.max:
            raise InputError(f"{path}: {value:g} is above {self.max:g}; expected {self.allowed()}")
        return value


PARAM_KEYS = {"value", "low", "high", "source"}


def parse_param(path: str, raw: Any, spec: Spec, require_source: bool = False) -> Param:
    """Read a scalar or ``{value, low, high, source}`` mapping into a checked :class:`Param`."""
    if isinstance(raw, dict):
        unknown = set(raw) - PARAM_KEYS
        if unknown:
            raise InputError(f"{path}: unknown key {sorted(unknown)[0]!r}; allowed keys are value, low, high, source")
        if "value" not in raw:
            raise InputError(f"{path}: missing 'value'; a parameter is a number or {{value, low, high, source}}")
        value = spec.check(f"{path}.value", raw["value"])
        low, high = raw.get("low"), raw.get("high")
        if (low is None) != (high is None):
            raise InputError(f"{path}: give both 'low' and 'high' or neither")
        if low is not None:
            spec.check(f"{path}.low", low)
            spec.check(f"{path}.high", high)
            if not low <= value <= high:
                raise InputError(f"{path}: value {value:g} is outside its range [{low:g}, {high:g}]; need low <= value <= high")
        source = raw.get("source", "")
        if not isinstance(source, str):
            raise InputError(f"{path}.source: {source!r} is not text; give a URL, paper + table, or 'assumption: ...'")
        if require_source and not source.strip():
            raise InputError(f"{path}: no source; every number in data/ needs a source or an 'assumption: ...' label")
        return Param(value, low, high, source.strip())
    if require_source:
        raise InputError(f"{path}: {raw!r} has no source; write {{value: {raw!r}, source: '...'}}")
    return Param(spec.check(path, raw))


def require_keys(section: str, values: dict, specs: dict) -> dict:
    """``values`` if it has every parameter of ``specs``, else a one-line error naming the first missing one."""
    missing = [k for k in specs if k not in values]
    if missing:
        raise InputError(f"{section}.{missing[0]}: missing; the {section} section takes {', '.join(specs)}")
    return values
