"""Event simulation of one synchronous job (vectorized), to cross-check the analytic model.

Failures arrive as a Poisson process (a superposition of the GPUs' own failures), also during
checkpoints and restarts; the job computes τ, writes a checkpoint for δ and repeats; a failure
discards the work since the last completed checkpoint and costs a stall R (the sum of the
recovery parts), started afresh if another failure strikes during it. Vectorized over runs and
events: a matrix of exponential gaps and closed-form progress inside each gap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import InputError, shown
from analysis.goodput._util import SECONDS_PER_HOUR, arr as _arr
from analysis.goodput.model import (effective_training_time, from_scenario_values, job_mtbf_s,
                                    optimal_checkpoint_interval_s)
from analysis.memo import memoized

CORE_FACTORS = ("checkpoint_save", "lost_work", "detection", "node_swap", "reinitialization", "checkpoint_restore", "warm_up")


@dataclass(frozen=True)
class SimulationResult:
    """Per-run outcomes of :func:`simulate_effective_time` (arrays of length ``n_runs``)."""

    effective_time: np.ndarray      # productive compute / horizon
    interruptions: np.ndarray       # failures within the horizon
    restart_fraction: np.ndarray    # share of the horizon spent restarting
    checkpoint_fraction: np.ndarray  # share spent writing checkpoints
    lost_fraction: np.ndarray       # share of the horizon whose work was lost to failures
    horizon_h: float
    checkpoint_interval_s: float
    job_mtbf_s: float
    seed: int | None

    @property
    def mean(self) -> float:
        return float(self.effective_time.mean())

    @property
    def stderr(self) -> float:
        n = self.effective_time.size
        return float(self.effective_time.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")

    def to_dict(self) -> dict:
        return {"mean": self.mean, "stderr": self.stderr, "ci_low": self.mean - 1.96 * self.stderr,
                "ci_high": self.mean + 1.96 * self.stderr, "runs": int(self.effective_time.size),
                "interruptions_mean": float(self.interruptions.mean()), "restart_fraction": float(self.restart_fraction.mean()),
                "checkpoint_fraction": float(self.checkpoint_fraction.mean()), "lost_fraction": float(self.lost_fraction.mean()),
                "horizon_h": self.horizon_h, "checkpoint_interval_s": self.checkpoint_interval_s,
                "job_mtbf_s": self.job_mtbf_s, "seed": self.seed}

    def summary(self) -> str:
        d = self.to_dict()
        return (f"Event simulation, {d['runs']} runs of {d['horizon_h']:.0f} h (job MTBF {d['job_mtbf_s'] / 60:.3g} min, "
                f"checkpoint every {d['checkpoint_interval_s'] / 60:.3g} min):\n"
                f"  effective training time {d['mean']:.2%} +/- {1.96 * d['stderr']:.2%} (95%); "
                f"{d['interruptions_mean']:.1f} interruptions per run\n"
                f"  time shares: checkpoint {d['checkpoint_fraction']:.2%}, restart {d['restart_fraction']:.2%}, "
                f"lost work {d['lost_fraction']:.2%}")


def simulate_effective_time(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, checkpoint_interval_s=None,
                            horizon_h: float = 24 * 28, n_runs: int = 200, seed: int | None = 0,
                            max_cells: int = 20_000_000) -> SimulationResult:
    """Event simulation of one synchronous job of ``gpus`` GPUs over ``horizon_h`` hours.

    Failures arrive as a Poisson process of rate N λ (a superposition of the GPUs' own failures),
    at any time, including during checkpoints and restarts. The job computes τ, writes a
    checkpoint for δ, and repeats; a failure discards work since the last completed checkpoint
    and costs a restart of R, started afresh if another failure strikes during it. The job's
    start needs no restart, and work in progress at the horizon counts.

    Vectorized: a matrix of exponential inter-failure gaps (runs × failures) and closed-form
    progress inside each gap (completed segments = ⌊(gap − R)/(τ + δ)⌋); no loop over events or
    runs (runs are processed in chunks of at most ``max_cells`` matrix cells). Seeded
    (``numpy.random.default_rng(seed)``), so a seed reproduces the result exactly.
    ``checkpoint_interval_s=None`` uses the Lambert-W optimum of Daly's complete model.
    """
    n = float(_arr("gpus", gpus, 0.0, inclusive=False))
    lam = float(_arr("rate_per_gpu_hour", rate_per_gpu_hour, 0.0, inclusive=False))
    d = float(_arr("checkpoint_write_s", checkpoint_write_s, 0.0, inclusive=False))
    r = float(_arr("restart_s", restart_s, 0.0))
    h = float(_arr("horizon_h", horizon_h, 0.0, inclusive=False)) * SECONDS_PER_HOUR
    if not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
        raise InputError(f"n_runs: {shown(n_runs)} is not allowed; expected an integer >= 1")
    m = float(job_mtbf_s(n, lam))
    tau = float(optimal_checkpoint_interval_s(n, lam, d, "daly")) if checkpoint_interval_s is None else \
        float(_arr("checkpoint_interval_s", checkpoint_interval_s, 0.0, inclusive=False))
    rng = np.random.default_rng(seed)
    expected = h / m
    width = int(np.ceil(expected + 8 * np.sqrt(expected) + 16))
    chunk = max(1, min(n_runs, max_cells // width))
    parts = []
    for start in range(0, n_runs, chunk):        # memory chunks, not one iteration per run
        parts.append(_simulate_chunk(rng, min(chunk, n_runs - start), width, m, tau, d, r, h))
    res = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return SimulationResult(res["work"] / h, res["failures"], res["restart"] / h, res["checkpoint"] / h,
                            1 - (res["work"] + res["restart"] + res["checkpoint"]) / h, h / SECONDS_PER_HOUR, tau, m, seed)


def _simulate_chunk(rng, runs, width, m, tau, d, r, h) -> dict:
    times = np.cumsum(rng.exponential(m, size=(runs, width)), axis=1)
    while np.any(times[:, -1] < h):              # rare: extend the rows that have not reached the horizon
        more = times[:, -1:] + np.cumsum(rng.exponential(m, size=(runs, width)), axis=1)
        times = np.concatenate([times, more], axis=1)
    failures = (times < h).sum(axis=1)
    ends = np.minimum(times, h)
    starts = np.concatenate([np.zeros((runs, 1)), ends[:, :-1]], axis=1)
    gap = ends - starts                           # zero after the horizon
    final = (times >= h) & (starts < h)           # the gap cut by the horizon (job not interrupted)
    restart = np.full_like(gap, r)
    restart[:, 0] = 0.0                           # the first start needs no restart
    restart_time = np.minimum(gap, restart)
    avail = np.maximum(gap - restart, 0.0)
    segments = np.floor(avail / (tau + d))
    rest = avail - segments * (tau + d)
    work = segments * tau + np.where(final, np.minimum(rest, tau), 0.0)
    ckpt = segments * d + np.where(final, np.maximum(rest - tau, 0.0), 0.0)
    return {"work": work.sum(axis=1), "checkpoint": ckpt.sum(axis=1), "restart": restart_time.sum(axis=1),
            "failures": failures}


def analytic_vs_simulated(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, horizon_h: float = 24 * 28,
                          n_runs: int = 200, seed: int = 0) -> pd.DataFrame:
    """For each job size: the complete (Daly) and first-order (Young) analytic effective training
    time and the simulated one (mean and 95% CI), all at the complete model's optimal interval.
    One simulation per job size (a loop over configurations, each vectorized over runs and events)."""
    sizes = np.atleast_1d(_arr("gpus", gpus, 0.0, inclusive=False))
    rows = []
    for i, size in enumerate(sizes):
        tau = float(optimal_checkpoint_interval_s(size, rate_per_gpu_hour, checkpoint_write_s, "daly"))
        sim = simulate_effective_time(size, rate_per_gpu_hour, checkpoint_write_s, restart_s, tau, horizon_h, n_runs,
                                      None if seed is None else seed + i).to_dict()
        m = float(job_mtbf_s(size, rate_per_gpu_hour))
        rows.append({"gpus": size, "job_mtbf_min": m / 60, "mtbf_over_restart": m / float(restart_s) if restart_s else np.inf,
                     "checkpoint_interval_min": tau / 60,
                     "analytic_daly": effective_training_time(size, rate_per_gpu_hour, checkpoint_write_s, restart_s, tau),
                     "analytic_young": effective_training_time(size, rate_per_gpu_hour, checkpoint_write_s, restart_s, tau,
                                                               model="young"),
                     "simulated": sim["mean"], "simulated_ci_low": sim["ci_low"], "simulated_ci_high": sim["ci_high"]})
    df = pd.DataFrame(rows)
    df["young_minus_simulated_pts"] = 100 * (df["analytic_young"] - df["simulated"])
    df["daly_minus_simulated_pts"] = 100 * (df["analytic_daly"] - df["simulated"])
    return df



@memoized(maxsize=4, batch=True)   # the same goodput section in several scenarios' reports
def analytic_vs_simulated_values(values: dict, gpus, horizon_h: float = 24 * 28, n_runs: int = 200, seed: int | None = 0,
                                 **kwargs) -> pd.DataFrame:
    """The full analytic model (:func:`from_scenario_values`, job = ``gpus``) against the event
    simulation with the same job MTBF, checkpoint write, interval and total stall, per job size.

    The simulation reproduces the failure / checkpoint / recovery core; planned maintenance and the
    other badput factors are the same multipliers on both sides (``other_factors``)."""
    sizes = np.atleast_1d(_arr("gpus", gpus, 0.0, inclusive=False))
    rows = []
    for i, size in enumerate(sizes):            # one simulation per job size, each vectorized over runs and events
        r = from_scenario_values(values, float(size), job_from_cluster=False, **kwargs)
        core = float(np.prod([r.factors[k] for k in CORE_FACTORS]))
        other = float(r.effective_training_time) / core if core > 0 else 0.0
        sim = _simulate_mtbf(float(r.job_mtbf_h) * SECONDS_PER_HOUR, float(r.checkpoint_write_s), float(r.restart_s),
                             float(r.checkpoint_interval_s), horizon_h, n_runs, None if seed is None else seed + i).to_dict()
        rows.append({"gpus": size, "job_mtbf_min": 60 * float(r.job_mtbf_h), "stall_min": float(r.restart_s) / 60,
                     "mtbf_over_restart": float(r.job_mtbf_h) * 3600 / float(r.restart_s) if float(r.restart_s) else np.inf,
                     "checkpoint_interval_min": float(r.checkpoint_interval_s) / 60, "other_factors": other,
                     "analytic": float(r.effective_training_time), "simulated": sim["mean"] * other,
                     "simulated_ci_low": sim["ci_low"] * other, "simulated_ci_high": sim["ci_high"] * other})
    df = pd.DataFrame(rows)
    df["analytic_minus_simulated_pts"] = 100 * (df["analytic"] - df["simulated"])
    return df


def _simulate_mtbf(m, d, r, tau, horizon_h, n_runs, seed, max_cells: int = 20_000_000) -> SimulationResult:
    """:func:`simulate_effective_time` given the job MTBF ``m`` (s) directly."""
    h = float(horizon_h) * SECONDS_PER_HOUR
    rng = np.random.default_rng(seed)
    expected = h / m
    width = int(np.ceil(expected + 8 * np.sqrt(expected) + 16))
    chunk = max(1, min(n_runs, max_cells // width))
    parts = [_simulate_chunk(rng, min(chunk, n_runs - s), width, m, tau, d, r, h) for s in range(0, n_runs, chunk)]
    res = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return SimulationResult(res["work"] / h, res["failures"], res["restart"] / h, res["checkpoint"] / h,
                            1 - (res["work"] + res["restart"] + res["checkpoint"]) / h, h / SECONDS_PER_HOUR, tau, m, seed)
