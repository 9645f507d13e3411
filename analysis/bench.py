"""``python -m analysis bench``: throughput of the model code (speed targets live here, not in tests).

Each model module may expose ``benchmark(seconds) -> {name: per-second figure}``; this
collects them in a fixed order. Figures are per second on one process (numpy may use its
own threads).
"""
from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

MODULES = ("training", "uncertainty", "goodput", "inference", "economics", "sweep", "explorer")


def throughput(fn, seconds: float = 1.0, units_per_call: float = 1.0) -> float:
    """Calls of ``fn`` per second x ``units_per_call`` (at least 3 calls, about ``seconds`` long)."""
    fn()  # warm caches (grids, imports)
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls * units_per_call / (time.perf_counter() - start)


def batch_seconds(out: str | Path | None = None) -> float | None:
    """Wall-clock seconds of the last complete report batch in ``out`` (default ``reports/``), from
    its manifest (``python -m analysis reports`` prints and records it); ``None`` before any."""
    from analysis.paths import REPORT_DIR

    try:
        manifest = json.loads((Path(out or REPORT_DIR) / "manifest.json").read_text())
        value = manifest.get("last_batch_seconds")
        return float(value) if value is not None else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def run(seconds: float = 1.5) -> dict[str, float]:
    figures = {}
    for name in MODULES:
        module = importlib.import_module(f"analysis.{name}")
        if hasattr(module, "benchmark"):
            figures.update(module.benchmark(seconds))
    last = batch_seconds()
    if last is not None:   # a duration, not a rate: the report batch's target is <= 60 s on 2 cores
        figures["reports_last_batch_seconds"] = last
    return figures
