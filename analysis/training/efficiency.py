"""Calibrated efficiency parameters of the step model: read data/calibration.yaml.

This module only *reads* (the fit that writes the file is :mod:`analysis.training.fit`), so the
run evaluation, the search and the fit all import it without a cycle.

Parameters (each with value, status ``calibrated`` | ``assumption``, range and source):

* ``parameters``: one value shared by every run (the :class:`~analysis.training.step.Efficiency`
  fields other than the per-class ones below);
* ``gemm_efficiency``: the fraction of the dense peak a large GEMM reaches, per GPU
  architecture x precision (``hopper:bf16``, ``blackwell:fp8``, ...; the architecture of a GPU
  is its ``architecture`` column in data/gpus.csv) -- the only hardware-specific throughput
  parameters; FP8 values are against the FP8 dense peak;
* ``stack_efficiency_by_stack``: throughput multiplier of a software stack (1 for stacks the
  step model itemises; calibrated only where a stack is slower in ways it cannot see).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import catalog
from analysis.errors import InputError
from analysis.paths import DATA_DIR
from analysis.training import stacks as stack_profiles
from analysis.training.step import Efficiency

CALIBRATION_PATH = DATA_DIR / "calibration.yaml"
PER_CLASS = ("gemm_efficiency_max", "fp8_gemm_ratio", "clock_fraction", "stack_efficiency")
SHARED = tuple(f.name for f in fields(Efficiency) if f.name not in PER_CLASS)
DEFAULT_ARCHITECTURE = "hopper"


@lru_cache(maxsize=64)
def architecture(gpu_id: str) -> str:
    """The GPU's architecture (data/gpus.csv ``architecture``; Hopper when not stated)."""
    arch = getattr(catalog.gpu(gpu_id), "architecture", "") or ""
    return arch if isinstance(arch, str) and arch.strip() else DEFAULT_ARCHITECTURE


@lru_cache(maxsize=64)
def _profile_efficiency(stack: str) -> float:
    return float(stack_profiles.profile(stack)["efficiency"])


@dataclass(frozen=True)
class Calibration:
    """Efficiency parameters for the step model, with provenance (see the module docstring)."""

    values: dict
    gemm_by_class: dict
    stack_efficiency_by_stack: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    method: str = ""
    fitted_on: str = ""

    # ------------------------------------------------------------------ names
    def get(self, key: str) -> float:
        """A parameter by its file key (``tp_overlap``, ``gemm_efficiency:hopper:fp8``, ``stack_efficiency:deepspeed-2021``)."""
        if key.startswith("gemm_efficiency:"):
            return float(self.gemm_by_class[key.split(":", 1)[1]])
        if key.startswith("stack_efficiency:"):
            return self.stack_efficiency(key.split(":", 1)[1])
        return float(self.values[key])

    def with_values(self, params: dict) -> "Calibration":
        """A copy with some parameters replaced (file keys as in :meth:`get`)."""
        values, gemm, stacks = dict(self.values), dict(self.gemm_by_class), dict(self.stack_efficiency_by_stack)
        for key, value in params.items():
            if key.startswith("gemm_efficiency:"):
                gemm[key.split(":", 1)[1]] = float(value)
            elif key.startswith("stack_efficiency:"):
                stacks[key.split(":", 1)[1]] = float(value)
            else:
                values[key] = float(value)
        return Calibration(values, gemm, stacks, dict(self.status), dict(self.ranges), dict(self.sources),
                           dict(self.metrics), self.method, self.fitted_on)

    def keys(self) -> list[str]:
        return (list(self.values) + [f"gemm_efficiency:{k}" for k in self.gemm_by_class]
                + [f"stack_efficiency:{k}" for k in self.stack_efficiency_by_stack])

    def fitted_values(self) -> dict:
        return {k: self.get(k) for k in self.keys() if self.status.get(k) == "calibrated"}

    @property
    def label(self) -> str:
        fitted = ", ".join(f"{k}={v:.3g}" for k, v in self.fitted_values().items())
        return (f"calibrated ({fitted}; data/calibration.yaml, fitted {self.fitted_on})" if self.fitted_on
                else f"uncalibrated defaults ({fitted})")

    # ------------------------------------------------------------------ per GPU / stack
    def gemm_efficiency(self, arch: str, precision: str) -> float:
        key = f"{arch}:{'fp8' if precision == 'fp8' else 'bf16'}"
        if key in self.gemm_by_class:
            return float(self.gemm_by_class[key])
        bf16 = self.gemm_by_class.get(f"{arch}:bf16", self.gemm_by_class.get(f"{DEFAULT_ARCHITECTURE}:bf16", 0.7))
        if precision != "fp8":
            return float(bf16)
        ratio = self.gemm_by_class.get(f"{DEFAULT_ARCHITECTURE}:fp8", 0.5) / self.gemm_by_class.get(f"{DEFAULT_ARCHITECTURE}:bf16", 0.7)
        return float(bf16 * ratio)

    def stack_efficiency(self, stack: str) -> float:
        """Throughput of a software stack relative to one the model itemises (1 for those)."""
        if stack in self.stack_efficiency_by_stack:
            return float(self.stack_efficiency_by_stack[stack])
        return _profile_efficiency(stack)

    def clock_fraction(self, gpu_id: str) -> float:
        """Kept for callers of the v1 calibration: the sustained-clock loss is inside the GEMM efficiency (1)."""
        catalog.gpu(gpu_id)
        return 1.0

    def for_gpu(self, gpu_id: str, stack: str | None = None) -> Efficiency:
        """The :class:`Efficiency` on ``gpu_id`` (its architecture's GEMM efficiencies) with ``stack``."""
        arch = architecture(gpu_id)
        bf16 = self.gemm_efficiency(arch, "bf16")
        fp8 = self.gemm_efficiency(arch, "fp8")
        return Efficiency(**self.values, gemm_efficiency_max=bf16, fp8_gemm_ratio=fp8 / bf16,
                          stack_efficiency=self.stack_efficiency(stack) if stack else 1.0)

    def for_runs(self, gpu_ids, stacks, archs=None) -> Efficiency:
        """One :class:`Efficiency` with per-run arrays (vectorized prediction over many runs)."""
        archs = archs if archs is not None else [architecture(g) for g in gpu_ids]
        bf16 = np.array([self.gemm_efficiency(a, "bf16") for a in archs])
        fp8 = np.array([self.gemm_efficiency(a, "fp8") for a in archs])
        stack = np.array([self.stack_efficiency(s) for s in stacks])
        return Efficiency(**self.values, gemm_efficiency_max=bf16, fp8_gemm_ratio=fp8 / bf16, stack_efficiency=stack)

    @property
    def efficiency(self) -> Efficiency:
        return self.for_gpu("H100")

    def table(self) -> pd.DataFrame:
        """Every parameter with value, range, status (calibrated / assumption) and source."""
        rows = []
        for key in self.keys():
            low, high = self.ranges.get(key, (None, None))
            rows.append({"parameter": key, "value": self.get(key), "low": low, "high": high,
                         "status": self.status.get(key, "assumption"), "source": self.sources.get(key, "")})
        return pd.DataFrame(rows).set_index("parameter")


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Calibration:
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file}: calibration file not found; run analysis.training.fit.fit(write=True)")
    doc = catalog.read_yaml(file)
    params = doc.get("parameters") or {}
    unknown = set(params) - set(SHARED)
    if unknown:
        raise InputError(f"{file.name} parameters.{sorted(unknown)[0]}: unknown parameter; expected {', '.join(SHARED)}")
    values = {f.name: f.default for f in fields(Efficiency) if f.name in SHARED}
    status, ranges, sources = {}, {}, {}

    def read(key, item):
        if not isinstance(item, dict) or "value" not in item or not str(item.get("source", "")).strip():
            raise InputError(f"{file.name} {key}: expected {{value, status, source}}")
        status[key] = item.get("status", "assumption")
        sources[key] = item["source"]
        if "low" in item:
            ranges[key] = (item["low"], item["high"])
        return float(item["value"])

    for key, item in params.items():
        values[key] = read(key, item)
    gemm = {cls: read(f"gemm_efficiency:{cls}", item) for cls, item in (doc.get("gemm_efficiency") or {}).items()}
    stacks = {name: read(f"stack_efficiency:{name}", item) for name, item in (doc.get("stack_efficiency_by_stack") or {}).items()}
    return Calibration(values, gemm, stacks, status, ranges, sources, dict(doc.get("metrics") or {}),
                       str(doc.get("method", "")), str(doc.get("fitted_on", "")))


def load_calibration(path: Path | str | None = None) -> Calibration:
    """The stored calibration (data/calibration.yaml) used by the step model by default."""
    return _load_cached(str(path or CALIBRATION_PATH))


def clear_cache() -> None:
    _load_cached.cache_clear()
