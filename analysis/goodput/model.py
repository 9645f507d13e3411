"""The analytic goodput model of one synchronous job: named factors whose product is the goodput.

Effective training time (Meta's ETTR: productive time / wall-clock time) is the product of the
runtime factors; scheduling goodput (idle spares, repair, fragmentation) multiplies it into the
share of a cluster's GPU-hours that train.

Daly's complete model (FGCS 22(3), 2006) for Poisson failures that also strike during
checkpoints and restarts gives the expected wall time per compute segment τ (checkpoint δ,
restart R, job MTBF M) as ``M e^{R/M} (e^{(τ+δ)/M} − 1)``. It factors exactly into

* ``checkpoint_save`` = τ / (τ + δ),
* ``lost_work`` = x / (e^x − 1) with x = (τ + δ) / M (work since the last checkpoint),
* one factor ``e^{−R_i/M}`` per recovery part R = Σ R_i (detection, node swap,
  re-initialization, checkpoint restore, warm-up; :mod:`analysis.goodput.recovery`),

and ``model="young"`` is the first-order form (1 − x/2, 1 − R_i/M). Planned stops cost a
synchronous save plus re-initialization, restore and warm-up each; other badput
(:mod:`analysis.goodput.badput`) multiplies in.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import InputError, shown
from analysis.goodput import badput, checkpoint, failures, recovery
from analysis.goodput._util import SECONDS_PER_DAY, SECONDS_PER_HOUR, arr as _arr, fraction as _fraction, out as _out
from analysis.goodput.checkpoint import young_daly_interval_s
from analysis.goodput.failures import (implied_rate_per_gpu_hour, interruptions_table,  # noqa: F401 (re-exported)
                                       job_interruptions_per_hour, job_mtbf_s)
from analysis.params import Spec
from analysis.serialize import plain as _plain

MODELS = ("daly", "young")

# Scenario section `goodput` (defaults with sources and ranges in data/parameters/goodput.yaml).
PARAMETERS: dict[str, Spec] = {
    # failures
    "interruption_rate_per_gpu_hour": Spec("interruptions per GPU-hour", "unexpected job interruptions per GPU-hour of "
                                           "the reference fleet (8-GPU HGX H100, Llama 3) at its age",
                                           min=0, min_inclusive=False, max=1e-2),
    "rate_reference_months_in_service": Spec("months", "age of the reference fleet when its rate was measured", min=0, max=60),
    "months_in_service": Spec("months", "age of the scenario's fleet (early-life elevation decays with it)", min=0, max=120),
    "early_life_multiplier": Spec("x", "extra failure rate of a newly installed fleet, A in 1 + A exp(-t/T)", min=0, max=10),
    "early_life_decay_months": Spec("months", "decay time T of the early-life elevation", min=0.1, max=36),
    "nvl72_rate_multiplier": Spec("x", "per-GPU interruption rate of NVL72 racks relative to the same GPU in 8-GPU "
                                  "servers", min=0.2, max=10),
    "domain_failures_per_1000_domain_days": Spec("per 1,000 domain-days", "correlated failures of a whole domain "
                                                 "(rack, leaf switch, power) per 1,000 domains per day", min=0, max=100),
    "planned_interruptions_per_day": Spec("per day", "planned job stops (maintenance, upgrades); each costs a synchronous "
                                          "save, re-initialization, restore and warm-up", min=0, max=100),
    # recovery
    "heartbeat_detection_s": Spec("s", "time to detect a fail-stop fault (heartbeats, health checks)", min=0, max=3600),
    "hang_fraction": Spec("fraction", "share of interruptions that are hangs, detected only by a collective timeout",
                          min=0, max=1),
    "hang_timeout_s": Spec("s", "collective (NCCL) timeout that detects a hang", min=0, max=7200),
    "hot_spare_swap_s": Spec("s", "diagnosis and swap to a hot spare node", min=0, max=7200),
    "repair_wait_s": Spec("s", "wait for a replacement node when no hot spare is free", min=0, max=7 * 86400),
    "node_repair_h": Spec("h", "time a failed node spends out for repair (how long it holds a spare)", min=0, max=24 * 60),
    "shared_spare_fraction": Spec("fraction", "healthy GPUs outside the cluster's own spares that can replace a failed "
                                  "node at once (other capacity of the same site), as a share of the job", min=0, max=0.5),
    "restart_s": Spec("s", "job re-initialization at 16,384 GPUs: container start, rendezvous, NCCL communicators",
                      min=0, max=86400),
    "reinit_growth_exponent": Spec("-", "re-initialization grows as (GPUs / 16,384) to this power", min=0, max=1.5),
    "storage_read_gb_s": Spec("GB/s", "storage read bandwidth available to a checkpoint restore", min=1, max=1e5),
    "warmup_s": Spec("s", "slower first steps after a restart (caches, compilation, data-loader refill)", min=0, max=7200),
    # checkpointing
    "checkpoint_mode": Spec("-", "synchronous checkpoints to storage, or asynchronous two-phase in-memory snapshots",
                            choices=checkpoint.CHECKPOINT_MODES),
    "checkpoint_bytes_per_param": Spec("B/parameter", "checkpoint bytes per model parameter (weights + optimizer state)",
                                       min=2, max=20),
    "storage_write_gb_s": Spec("GB/s", "storage write bandwidth available to one checkpoint", min=1, max=1e5),
    "checkpoint_fixed_s": Spec("s", "fixed blocking cost of a checkpoint (barrier, metadata, serialization)", min=0, max=600),
    "snapshot_gb_s_per_gpu": Spec("GB/s", "device-to-host copy bandwidth per GPU (asynchronous snapshot)", min=1, max=500),
    "checkpoint_interval_factor": Spec("x optimum", "checkpoint interval as a multiple of the Young/Daly optimum",
                                       min=0.05, max=100),
    # other badput
    "rollbacks_per_million_gpu_hours": Spec("per 10^6 GPU-hours", "rollbacks after loss spikes or silent data corruption",
                                            min=0, max=100),
    "rollback_lost_h": Spec("h", "training lost per rollback", min=0, max=240),
    "data_loading_stall_fraction": Spec("fraction", "share of time the input pipeline blocks training", min=0, max=0.5),
    "manual_interventions_per_day": Spec("per day", "stops that need people to fix", min=0, max=10),
    "manual_intervention_h": Spec("h", "wall time of one manual intervention", min=0, max=72),
    "queueing_fraction": Spec("fraction", "share of wall time the job waits for its allocation", min=0, max=0.5),
    # scheduling
    "spare_fraction": Spec("fraction", "share of the cluster's GPUs held as spares outside the job", min=0, max=0.5),
    "repair_fraction": Spec("fraction", "share of the cluster's GPUs in nodes out for repair", min=0, max=0.5),
    "fragmentation_fraction": Spec("fraction", "healthy GPUs idle because the job layout does not divide them",
                                   min=0, max=0.5),
}

SCHEDULING_FACTORS = ("spares", "repair", "fragmentation")
RUNTIME_FACTORS = ("checkpoint_save", "lost_work", *recovery.STALL_PARTS, "planned_maintenance", *badput.BADPUT_FACTORS)
FACTOR_NAMES = SCHEDULING_FACTORS + RUNTIME_FACTORS


def optimal_checkpoint_interval_s(gpus, rate_per_gpu_hour, checkpoint_write_s, model: str = "daly"):
    """The optimum interval for ``model``: Young's √(2δM) for ``"young"``, the exact Lambert-W
    optimum of Daly's complete cost for ``"daly"``."""
    if model not in MODELS:
        raise InputError(f"model: {shown(model)} is not allowed; use one of {', '.join(MODELS)}")
    m = np.asarray(job_mtbf_s(gpus, _arr("rate_per_gpu_hour", rate_per_gpu_hour, 0.0, inclusive=False)))
    return young_daly_interval_s(checkpoint_write_s, m, "young" if model == "young" else "exact")


# --------------------------------------------------------------------------- low-level factors (one restart time)
def runtime_factors(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, checkpoint_interval_s=None,
                    planned_interruptions_per_day=0.0, model: str = "daly") -> dict:
    """``{checkpoint, lost_work, restart, planned_maintenance}`` factors in [0, 1] (see the module doc).

    ``checkpoint_interval_s=None`` uses the optimum for ``model``. Factors (τ interval, δ write,
    R restart, M = 1/(Nλ), x = (τ+δ)/M, p planned stops per day):

    * checkpoint = τ/(τ+δ) (blocking writes)
    * lost_work = x/(e^x − 1) [daly] or 1 − x/2 [young]: work since the last checkpoint, lost
      at each failure (on average half a segment to first order)
    * restart = e^{−R/M} [daly] or 1 − R/M [young]
    * planned_maintenance = 1 − p (δ + R) / 1 day (one save plus one restart per planned stop,
      Llama 3 Sec. 3.3.4 counts 47 planned stops in 54 days)
    """
    if model not in MODELS:
        raise InputError(f"model: {shown(model)} is not allowed; use one of {', '.join(MODELS)}")
    n = _arr("gpus", gpus, 0.0, inclusive=False)
    lam = _arr("rate_per_gpu_hour", rate_per_gpu_hour, 0.0, inclusive=False)
    d = _arr("checkpoint_write_s", checkpoint_write_s, 0.0, inclusive=False)
    r = _arr("restart_s", restart_s, 0.0)
    p = _arr("planned_interruptions_per_day", planned_interruptions_per_day, 0.0)
    m = np.asarray(job_mtbf_s(n, lam), dtype=float)
    if checkpoint_interval_s is None:
        tau = np.asarray(optimal_checkpoint_interval_s(n, lam, d, model), dtype=float)
    else:
        tau = _arr("checkpoint_interval_s", checkpoint_interval_s, 0.0, inclusive=False)
    x = (tau + d) / m
    if model == "daly":
        lost = np.where(x < 1e-8, 1 - x / 2, x / np.expm1(np.minimum(x, 700)))
        restart = np.exp(-r / m)
    else:
        lost = np.clip(1 - x / 2, 0, 1)
        restart = np.clip(1 - r / m, 0, 1)
    shape = np.broadcast_shapes(n.shape, lam.shape, d.shape, r.shape, p.shape, tau.shape)
    out = {"checkpoint": tau / (tau + d), "lost_work": lost, "restart": restart,
           "planned_maintenance": np.clip(1 - p * (d + r) / SECONDS_PER_DAY, 0, 1)}
    return {k: _out(np.broadcast_to(v, shape)) for k, v in out.items()}


def effective_training_time(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, checkpoint_interval_s=None,
                            planned_interruptions_per_day=0.0, model: str = "daly"):
    """Effective training time ratio (productive time / wall-clock) of one synchronous job.

    The product of :func:`runtime_factors` (checkpoint × lost work × restart × planned
    maintenance). ``model="daly"`` is Daly 2006's complete model for Poisson failures (valid at
    any scale under its assumptions: exponential inter-failure times, a fixed restart time that a
    failure can interrupt); ``model="young"`` the first-order approximation. Scheduling losses
    are not included (see :func:`scheduling_goodput`).
    """
    f = runtime_factors(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, checkpoint_interval_s,
                        planned_interruptions_per_day, model)
    return _out(np.prod([np.asarray(v, dtype=float) for v in f.values()], axis=0))


def planned_maintenance_fraction(planned_interruptions_per_day, checkpoint_write_s, restart_s):
    """Share of wall time lost to planned stops: p (δ + R) / 1 day (no work is lost: the job saves first)."""
    p = _arr("planned_interruptions_per_day", planned_interruptions_per_day, 0.0)
    return _out(np.clip(p * (_arr("checkpoint_write_s", checkpoint_write_s, 0.0) + _arr("restart_s", restart_s, 0.0))
                        / SECONDS_PER_DAY, 0, 1))


def interval_tradeoff(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, intervals_s) -> pd.DataFrame:
    """Effective training time (both models, no planned stops) over a grid of checkpoint intervals,
    with the optima of :func:`young_daly_interval_s` flagged (for the trade-off curve)."""
    tau = np.atleast_1d(_arr("intervals_s", intervals_s, 0.0, inclusive=False))
    m = float(job_mtbf_s(gpus, rate_per_gpu_hour))
    f = runtime_factors(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, tau, 0.0, "daly")
    return pd.DataFrame({"checkpoint_interval_s": tau, "checkpoint_interval_min": tau / 60,
                         "effective_training_time": effective_training_time(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, tau),
                         "effective_training_time_young": effective_training_time(gpus, rate_per_gpu_hour, checkpoint_write_s,
                                                                                  restart_s, tau, model="young"),
                         "checkpoint_overhead": 1 - np.asarray(f["checkpoint"]), "lost_work": 1 - np.asarray(f["lost_work"]),
                         "job_mtbf_min": m / 60})




# --------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class GoodputResult:
    """Goodput of one job (arrays when the inputs are arrays).

    ``factors`` are named multiplicative factors in [0, 1] in waterfall order (scheduling first);
    their product is ``total`` = the share of the cluster's GPU-hours spent on useful training.
    ``effective_training_time`` (Meta's ETTR) is the product of the runtime factors
    (:meth:`runtime_factors`); ``scheduling_goodput`` the product of the rest.
    """

    gpus: object
    job_gpus: object
    rate_per_gpu_hour: object
    interruptions_per_day: object            # unplanned, of the job
    job_mtbf_h: object
    checkpoint_interval_s: object
    checkpoint_write_s: object               # blocking time of one checkpoint
    restart_s: object                        # total stall per unplanned interruption
    model: str
    factors: dict = field(default_factory=dict)
    stall_s: dict = field(default_factory=dict)
    planned_interruptions_per_day: object = 0.0
    checkpoint_mode: str = "sync"
    checkpoint_bytes: object = float("nan")
    checkpoint_persist_s: object = 0.0
    p_hot_spare: object = float("nan")
    interval_source: str = "optimum"

    def runtime_factors(self) -> dict:
        """The factors whose product is the effective training time (everything but scheduling)."""
        return {k: v for k, v in self.factors.items() if k not in SCHEDULING_FACTORS}

    def scheduling_factors(self) -> dict:
        return {k: v for k, v in self.factors.items() if k in SCHEDULING_FACTORS}

    @property
    def effective_training_time(self):
        return _out(np.prod([np.asarray(v, dtype=float) for v in self.runtime_factors().values()], axis=0))

    @property
    def scheduling_goodput(self):
        f = self.scheduling_factors()
        return _out(np.prod([np.asarray(v, dtype=float) for v in f.values()], axis=0)) if f else 1.0

    @property
    def total(self):
        return _out(np.prod([np.asarray(v, dtype=float) for v in self.factors.values()], axis=0))

    @property
    def mean_time_to_interruption_h(self):
        """Mean time between interruptions of the job, planned ones included (h)."""
        per_day = np.asarray(self.interruptions_per_day, float) + np.asarray(self.planned_interruptions_per_day, float)
        with np.errstate(divide="ignore"):
            return _out(24.0 / per_day)

    def to_dict(self) -> dict:
        return _plain({"gpus": self.gpus, "job_gpus": self.job_gpus, "rate_per_gpu_hour": self.rate_per_gpu_hour,
                       "interruptions_per_day": self.interruptions_per_day,
                       "planned_interruptions_per_day": self.planned_interruptions_per_day,
                       "job_mtbf_h": self.job_mtbf_h, "mean_time_to_interruption_h": self.mean_time_to_interruption_h,
                       "checkpoint_interval_s": self.checkpoint_interval_s,
                       "checkpoint_interval_min": np.asarray(self.checkpoint_interval_s, dtype=float) / 60,
                       "checkpoint_interval_source": self.interval_source, "checkpoint_mode": self.checkpoint_mode,
                       "checkpoint_write_s": self.checkpoint_write_s, "checkpoint_bytes": self.checkpoint_bytes,
                       "checkpoint_persist_s": self.checkpoint_persist_s, "restart_s": self.restart_s,
                       "stall_s": self.stall_s, "p_hot_spare": self.p_hot_spare, "model": self.model,
                       "effective_training_time": self.effective_training_time,
                       "scheduling_goodput": self.scheduling_goodput, "total": self.total, "factors": self.factors,
                       "badput_buckets": {k: badput.BUCKETS.get(k, "OTHER") for k in self.factors}})

    def summary(self) -> str:
        d = self.to_dict()
        if isinstance(d["total"], list):
            return f"GoodputResult over {len(d['total'])} cases ({self.model} model); use to_dict() for the arrays"
        lines = [f"Goodput ({self.model} model) of one synchronous job on {d['job_gpus']:,.0f} GPUs "
                 f"(cluster {d['gpus']:,.0f} GPUs):",
                 f"  effective training time {d['effective_training_time']:.1%}; scheduling goodput "
                 f"{d['scheduling_goodput']:.1%}; total {d['total']:.1%}",
                 f"  {d['interruptions_per_day']:.3g} unplanned + {d['planned_interruptions_per_day']:.3g} planned "
                 f"interruptions/day; mean time to interruption {d['mean_time_to_interruption_h']:.3g} h",
                 f"  {self.checkpoint_mode} checkpoint every {d['checkpoint_interval_min']:.3g} min "
                 f"({self.interval_source}; {d['checkpoint_write_s']:.3g} s blocking); stall per interruption "
                 f"{d['restart_s'] / 60:.3g} min",
                 "  factors: " + ", ".join(f"{k} {v:.4f}" for k, v in d["factors"].items())]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        d = self.to_dict()
        if isinstance(d["total"], list):
            return f"<p>GoodputResult over {len(d['total'])} cases</p>"
        rows = "".join(f"<tr><td>{k.replace('_', ' ')}</td><td>{v:.2%}</td></tr>" for k, v in d["factors"].items())
        return (f"<p>Effective training time <b>{d['effective_training_time']:.1%}</b> on {d['job_gpus']:,.0f} GPUs "
                f"({d['interruptions_per_day']:.3g} unplanned interruptions per day)</p>"
                f"<table><tr><th>factor</th><th>value</th></tr>{rows}</table>")


# --------------------------------------------------------------------------- the full model from scenario values
def _strip(values: dict) -> dict:
    values = {k.removeprefix("goodput."): v for k, v in values.items() if "." not in k or k.startswith("goodput.")}
    missing = [k for k in PARAMETERS if k not in values]
    if missing:
        raise InputError(f"goodput.{missing[0]}: missing; the goodput section takes {', '.join(PARAMETERS)}")
    return {k: values[k] for k in PARAMETERS}


def _mode(value) -> str:
    mode = value if isinstance(value, str) else str(np.asarray(value).reshape(-1)[0])
    if mode not in checkpoint.CHECKPOINT_MODES:
        raise InputError(f"goodput.checkpoint_mode: {shown(mode)} is not allowed; use one of "
                         f"{', '.join(checkpoint.CHECKPOINT_MODES)}")
    return mode


def from_scenario_values(values: dict, gpus, model: str = "daly", job_from_cluster: bool = True, gpu_mix=None,
                         model_parameters=None, checkpoint_interval_s=None, restart_s=None, checkpoint_mode=None,
                         spare_gpus=None) -> GoodputResult:
    """Goodput of one synchronous job from the ``goodput`` section values (scalars or arrays of draws).

    ``gpus`` is the cluster (or pool) offered to the job; with ``job_from_cluster=True`` the job
    runs on ``gpus × scheduling goodput`` GPUs (spares, repair and fragmentation idle), with
    ``False`` the job is ``gpus``. Optional keywords: ``gpu_mix`` (a GPU id or ``{id: GPUs}``, rates
    per type and system from ``data/failure_rates.csv``; default HGX H100), ``model_parameters``
    (checkpoint size; default Llama 3 405B from data/models.yaml), ``checkpoint_interval_s`` (user
    interval instead of ``checkpoint_interval_factor`` × optimum), ``restart_s`` (total stall per
    unplanned interruption, s; the parts are scaled to it), ``checkpoint_mode`` (overrides the
    section's), ``spare_gpus`` (hot spares the job can draw on; default spares of the cluster plus
    ``shared_spare_fraction`` of the job). Monte Carlo draws broadcast, keys may carry the
    ``goodput.`` prefix (other sections are ignored).
    """
    if model not in MODELS:
        raise InputError(f"model: {shown(model)} is not allowed; use one of {', '.join(MODELS)}")
    v = _strip(values)
    mode = _mode(checkpoint_mode if checkpoint_mode is not None else v["checkpoint_mode"])
    n = _arr("gpus", gpus, 0.0, inclusive=False)
    sched = {"spares": 1 - _fraction("spare_fraction", v["spare_fraction"]),
             "repair": 1 - _fraction("repair_fraction", v["repair_fraction"]),
             "fragmentation": 1 - _fraction("fragmentation_fraction", v["fragmentation_fraction"])}
    job = n * sched["spares"] * sched["repair"] * sched["fragmentation"] if job_from_cluster else n
    # failures
    profile = failures.gpu_profile(gpu_mix, v["nvl72_rate_multiplier"])
    lam = np.asarray(failures.fleet_rate_per_gpu_hour(v["interruption_rate_per_gpu_hour"], v["months_in_service"],
                                                      v["rate_reference_months_in_service"], v["early_life_multiplier"],
                                                      v["early_life_decay_months"], profile["rate_multiplier"]), float)
    per_hour = np.asarray(failures.job_interruptions_per_hour_total(job, lam, profile["domain_gpus"],
                                                                   v["domain_failures_per_1000_domain_days"]), float)
    m = SECONDS_PER_HOUR / per_hour
    # checkpoint cost
    params = checkpoint.model_parameters() if model_parameters is None else model_parameters
    size = np.asarray(checkpoint.checkpoint_bytes(params, v["checkpoint_bytes_per_param"]), float)
    delta, persist = (np.asarray(x, float) for x in checkpoint.checkpoint_write_s(
        size, job, mode, v["storage_write_gb_s"], v["checkpoint_fixed_s"], v["snapshot_gb_s_per_gpu"]))
    delta_sync = np.asarray(checkpoint.checkpoint_write_s(size, job, "sync", v["storage_write_gb_s"],
                                                          v["checkpoint_fixed_s"])[0], float)
    # recovery
    if spare_gpus is None:
        cluster = n if job_from_cluster else job
        spare_gpus = cluster * _arr("spare_fraction", v["spare_fraction"]) + job * _arr(
            "shared_spare_fraction", v["shared_spare_fraction"])
    parts = recovery.stall_components(job, per_hour, size, spare_gpus, profile["gpus_per_node"], mode,
                                      v["heartbeat_detection_s"], v["hang_fraction"], v["hang_timeout_s"],
                                      v["hot_spare_swap_s"], v["repair_wait_s"], v["node_repair_h"], v["restart_s"],
                                      v["reinit_growth_exponent"], v["storage_read_gb_s"], v["snapshot_gb_s_per_gpu"],
                                      v["warmup_s"])
    p_spare = parts.pop("p_hot_spare")
    parts = {k: np.asarray(x, float) for k, x in parts.items()}
    total_stall = sum(parts.values())
    if restart_s is not None:                    # user's total stall: keep the parts' proportions
        target = _arr("restart_s", restart_s, 0.0)
        scale = np.where(total_stall > 0, target / np.where(total_stall > 0, total_stall, 1.0), 0.0)
        parts = {k: x * scale for k, x in parts.items()}
        total_stall = target + 0 * total_stall
    # interval
    if checkpoint_interval_s is None:
        tau = np.asarray(young_daly_interval_s(delta, m, "young" if model == "young" else "exact"), float) \
            * _arr("checkpoint_interval_factor", v["checkpoint_interval_factor"], 0.0, inclusive=False)
        tau = np.maximum(tau, persist)           # async: the background write must end before the next snapshot
        source = "optimum" if np.all(np.asarray(v["checkpoint_interval_factor"]) == 1) else "multiple of the optimum"
    else:
        tau = _arr("checkpoint_interval_s", checkpoint_interval_s, 0.0, inclusive=False) + 0 * m
        source = "user input"
    # factors
    x = (tau + delta) / m
    if model == "daly":
        lost = np.where(x < 1e-8, 1 - x / 2, x / np.expm1(np.minimum(x, 700)))
        stall_factors = {k: np.exp(-r / m) for k, r in parts.items()}
    else:
        lost = np.clip(1 - x / 2, 0, 1)
        stall_factors = {k: np.clip(1 - r / m, 0, 1) for k, r in parts.items()}
    planned_stall = sum(parts[k] for k in recovery.PLANNED_PARTS) + delta_sync
    p = _arr("planned_interruptions_per_day", v["planned_interruptions_per_day"])
    runtime = {"checkpoint_save": tau / (tau + delta), "lost_work": lost, **stall_factors,
               "planned_maintenance": np.clip(1 - p * planned_stall / SECONDS_PER_DAY, 0, 1),
               **badput.badput_factors(job, v["rollbacks_per_million_gpu_hours"], v["rollback_lost_h"],
                                       v["data_loading_stall_fraction"], v["manual_interventions_per_day"],
                                       v["manual_intervention_h"], v["queueing_fraction"])}
    factors = {**sched, **runtime}
    shape = np.broadcast_shapes(*(np.shape(f) for f in factors.values()), np.shape(job), np.shape(tau))

    def b(a):
        return _out(np.broadcast_to(np.asarray(a, dtype=float), shape))
    return GoodputResult(b(n), b(job), b(lam), b(per_hour * 24), b(1 / per_hour), b(tau), b(delta), b(total_stall), model,
                         {k: b(factors[k]) for k in FACTOR_NAMES}, {k: b(x) for k, x in parts.items()}, b(p), mode, b(size),
                         b(persist), b(p_spare), source)


def effective_training_time_curve(values: dict, gpus, **kwargs) -> pd.DataFrame:
    """Effective training time of one job against job size (``gpus`` = GPUs in the job)."""
    sizes = np.atleast_1d(_arr("gpus", gpus, 0.0, inclusive=False))
    r = from_scenario_values(values, sizes, job_from_cluster=False, **kwargs)
    return pd.DataFrame({"gpus": sizes, "effective_training_time": np.asarray(r.effective_training_time),
                         "interruptions_per_day": np.asarray(r.interruptions_per_day),
                         "job_mtbf_min": 60 * np.asarray(r.job_mtbf_h), "stall_min": np.asarray(r.restart_s) / 60,
                         "checkpoint_interval_min": np.asarray(r.checkpoint_interval_s) / 60})
