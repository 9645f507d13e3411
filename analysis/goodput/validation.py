"""Validation in the open: published goodput figures against the model with ONE set of parameters.

``data/goodput_references.csv`` holds each published figure with its case (GPUs, GPU type, fleet
age, model), the figure's kind (unplanned interruptions per day, job MTTF, effective training
time, stall per failure, node failure rate), the published value, the accepted range and how that
range was set (the source's own bound, a Poisson interval, or 5 points of effective training
time). :func:`validation_table` evaluates the model at each case from the scenario defaults and
says whether it lands in the range. Nothing is tuned per figure: the only per-case inputs are the
facts of the case.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import Column, validate_table
from analysis.errors import InputError, shown
from analysis.goodput import checkpoint, failures
from analysis.goodput.model import effective_training_time, from_scenario_values, optimal_checkpoint_interval_s
from analysis.params import Spec
from analysis.paths import DATA_DIR

KINDS = ("unplanned_per_day", "mttf_h", "ettr", "stall_min", "node_failures_per_1000_node_days")
REFERENCE_COLUMNS = (
    Column("id"), Column("system"), Column("kind"), Column("gpus", Spec("GPUs", min=1, max=1e7)), Column("gpu"),
    Column("months_in_service", Spec("months", min=0, max=120)), Column("model", required=False),
    Column("published", Spec("-", min=0)), Column("low", Spec("-", min=0)), Column("high", Spec("-", min=0)),
    Column("relation"), Column("tolerance"), Column("note", required=False),
    Column("source"), Column("source_date"), Column("status"),
)


def load_references(path=None) -> pd.DataFrame:
    """Published goodput figures with their case and accepted range (``data/goodput_references.csv``)."""
    file = Path(path or DATA_DIR / "goodput_references.csv")
    if not file.exists():
        raise InputError(f"{file}: file not found")
    df = validate_table(pd.read_csv(file, dtype={"id": str, "source_date": str, "model": str}), REFERENCE_COLUMNS, file)
    bad = sorted(set(df["kind"]) - set(KINDS))
    if bad:
        raise InputError(f"{file}: kind {shown(bad[0])} is not allowed; use one of {', '.join(KINDS)}")
    return df.set_index("id", drop=False)


def _defaults() -> dict:
    from analysis.scenario import defaults
    return {k: p.value for k, p in defaults()["goodput"].items()}


def case_result(row, values: dict | None = None):
    """The model's :class:`GoodputResult` for one reference case (job = the published GPUs)."""
    values = dict(_defaults() if values is None else values)
    values["months_in_service"] = float(row["months_in_service"])
    params = checkpoint.model_parameters(row["model"]) if isinstance(row["model"], str) and row["model"] else None
    return from_scenario_values(values, float(row["gpus"]), job_from_cluster=False, gpu_mix=row["gpu"],
                                model_parameters=params)


def model_figure(row, result) -> float:
    kind = row["kind"]
    if kind == "unplanned_per_day":
        return float(result.interruptions_per_day)
    if kind == "mttf_h":
        return float(result.job_mtbf_h)
    if kind == "ettr":
        return float(result.effective_training_time)
    if kind == "stall_min":
        return float(result.restart_s) / 60
    profile = failures.gpu_profile(row["gpu"])
    return float(failures.node_failure_rate_per_1000_node_days(result.rate_per_gpu_hour, profile["gpus_per_node"]))


def validation_table(values: dict | None = None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every reference figure beside the model's, with the accepted range and whether it holds.

    For a job MTTF the range is on the effective training time it implies (``tolerance`` =
    'ettr 5 points'): the model's ETTR at the published MTTF vs at its own MTTF, same recovery."""
    table = load_references() if table is None else table
    values = _defaults() if values is None else values
    rows = []
    for _, row in table.iterrows():
        result = case_result(row, values)
        model = model_figure(row, result)
        ok = bool(row["low"] <= model <= row["high"])
        ettr_gap = np.nan
        if row["tolerance"] == "ettr 5 points":
            # the same job with the published MTTF: per-GPU rate scaled to it
            scaled = dict(values, interruption_rate_per_gpu_hour=float(np.asarray(values["interruption_rate_per_gpu_hour"]))
                          * float(result.job_mtbf_h) / float(row["published"]))
            alt = case_result(row, scaled)
            ettr_gap = 100 * (float(result.effective_training_time) - float(alt.effective_training_time))
            ok = abs(ettr_gap) <= 5
        rows.append({"id": row["id"], "system": row["system"], "kind": row["kind"], "gpus": row["gpus"], "gpu": row["gpu"],
                     "published": row["published"], "relation": row["relation"], "low": row["low"], "high": row["high"],
                     "model": model, "ettr": float(result.effective_training_time), "ettr_gap_pts": ettr_gap,
                     "tolerance": row["tolerance"], "within": ok, "source": row["source"], "status": row["status"]})
    return pd.DataFrame(rows).set_index("id")


def published_interruptions(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Published job interruption frequencies as interruptions per day vs GPUs, for plotting:
    counted records (``use`` rate) as count / days, and MTTF figures (``use`` mttf) as 24 h / MTTF."""
    table = failures.load_reliability() if table is None else table
    counted = table[(table["use"] == "rate") & table["duration_days"].notna()]
    mttf = table[(table["use"] == "mttf") & table["mttf_h"].notna()]
    rows = [{"gpus": r["gpus"], "interruptions_per_day": r["interruptions"] / r["duration_days"],
             "label": f"{r['system']} (counted)", "source": r["source"], "status": r["status"]} for _, r in counted.iterrows()]
    rows += [{"gpus": r["gpus"], "interruptions_per_day": 24 / r["mttf_h"], "label": f"{r['system']} (MTTF)",
              "source": r["source"], "status": r["status"]} for _, r in mttf.iterrows()]
    return pd.DataFrame(rows)


def _bisect_log(f, target, lo, hi, iterations: int = 80):
    """x in [lo, hi] (log-spaced bisection, vectorized) with f(x) = target for f decreasing in x; NaN if out of bracket."""
    target = np.asarray(target, dtype=float)
    lo = np.full(target.shape, np.log(lo))
    hi = np.full(target.shape, np.log(hi))
    ok = (f(np.exp(lo)) >= target) & (f(np.exp(hi)) <= target)
    for _ in range(iterations):                  # fixed bisection steps, vectorized over targets
        mid = (lo + hi) / 2
        above = f(np.exp(mid)) > target
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return np.where(ok, np.exp((lo + hi) / 2), np.nan)


def what_must_be_true(target, gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, checkpoint_interval_factor=1.0,
                      planned_interruptions_per_day=0.0) -> pd.DataFrame:
    """Which single parameter change makes the complete model give ``target`` effective training time.

    For each of rate, restart time, checkpoint write time and the interval multiple of the optimum,
    holding the others at the given values, the value that reproduces the target (NaN if no value
    in a wide bracket does), and its ratio to the given value.
    """
    base = dict(rate_per_gpu_hour=float(rate_per_gpu_hour), restart_s=float(restart_s),
                checkpoint_write_s=float(checkpoint_write_s), checkpoint_interval_factor=float(checkpoint_interval_factor))

    def ett(**kw):
        v = {**base, **kw}
        tau = np.asarray(optimal_checkpoint_interval_s(gpus, v["rate_per_gpu_hour"], v["checkpoint_write_s"]),
                         dtype=float) * v["checkpoint_interval_factor"]
        return np.asarray(effective_training_time(gpus, v["rate_per_gpu_hour"], v["checkpoint_write_s"], v["restart_s"],
                                                  tau, planned_interruptions_per_day), dtype=float)

    brackets = {"rate_per_gpu_hour": (1e-9, 1e-2), "restart_s": (1e-3, 1e6), "checkpoint_write_s": (1e-3, 1e6),
                "checkpoint_interval_factor": (1.0, 1e3)}
    rows = []
    for key, (lo, hi) in brackets.items():
        value = float(_bisect_log(lambda x, key=key: ett(**{key: x}), target, lo, hi))
        rows.append({"parameter": key, "given": base[key], "needed": value, "ratio": value / base[key],
                     "effective_training_time_given": float(ett())})
    return pd.DataFrame(rows).set_index("parameter")


def divergence_summary(df: pd.DataFrame, threshold_pts: float = 2.0) -> dict:
    """Where the first-order (Young) analytic form leaves the simulation by more than
    ``threshold_pts`` percentage points, from an :func:`analytic_vs_simulated` table."""
    off = df[df["young_minus_simulated_pts"].abs() > threshold_pts]
    first = off.iloc[0] if len(off) else None
    return {"threshold_pts": threshold_pts,
            "young_breaks_at_gpus": float(first["gpus"]) if first is not None else float("nan"),
            "young_breaks_at_mtbf_over_restart": float(first["mtbf_over_restart"]) if first is not None else float("nan"),
            "young_breaks_at_job_mtbf_min": float(first["job_mtbf_min"]) if first is not None else float("nan"),
            "max_abs_daly_minus_simulated_pts": float(df["daly_minus_simulated_pts"].abs().max()),
            "max_abs_young_minus_simulated_pts": float(df["young_minus_simulated_pts"].abs().max())}



def benchmark(seconds: float = 1.5) -> dict[str, float]:
    """Throughput for ``python -m analysis bench``: analytic goodput draws per second (the full
    model, 100,000 draws a call) and simulated failure events per second (a 100,000-GPU job,
    4 weeks, 50 runs)."""
    from analysis.bench import throughput
    from analysis.goodput.simulate import simulate_effective_time
    from analysis.scenario import defaults

    rng = np.random.default_rng(0)
    draws = 100_000
    values = {}
    for k, p in defaults()["goodput"].items():
        values[k] = p.sample(draws, rng) if p.has_range else p.value
    gpus, rate, runs, horizon_h = 100_000, 1.9733e-5, 50, 24 * 28
    events = gpus * rate * horizon_h * runs
    return {"goodput_analytic_draws_per_s": throughput(lambda: from_scenario_values(values, 230_000), seconds, draws),
            "goodput_simulated_events_per_s": throughput(
                lambda: simulate_effective_time(gpus, rate, 10, 600, None, horizon_h, runs, seed=0), seconds, events)}
