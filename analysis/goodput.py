"""Goodput of a synchronous training job: failures, checkpoints, restarts, scheduling losses.

The chain, all vectorized (scalars or numpy arrays broadcast alike):

1. **Per-GPU interruption rate** λ (per GPU-hour) from a published record, with a Poisson
   confidence interval: :func:`estimate_interruption_rate` fits a Poisson GLM with a
   ``log(GPU-hours)`` offset (statsmodels). Default record: Llama 3 405B, 419 unexpected
   interruptions on 16,384 H100 in 54 days (arXiv 2407.21783, Sec. 3.3.4, Table 5).
2. **Job interruption rate** grows linearly with the GPUs in one synchronous job, because
   "a single GPU failure may require a restart of the entire job" (Llama 3 Sec. 3.3.4) and a
   superposition of independent Poisson processes is Poisson with the summed rate:
   Λ = N λ, job MTBF M = 1 / Λ (:func:`job_interruptions_per_hour`).
3. **Checkpoint interval**: Young (1974) τ = √(2 δ M); Daly (2006) higher-order
   τ = √(2 δ M) [1 + ⅓ √(δ / 2M) + ⅑ (δ / 2M)] − δ for δ < 2M, else M; and the exact
   optimum of Daly's complete cost function through the Lambert W function
   (:func:`young_daly_interval_s`).
4. **Effective training time** (Meta's ETTR: productive time / wall-clock time) from
   checkpoint write time δ, restart time R (detection + restart + reload) and lost work
   (:func:`effective_training_time`). Two analytic forms:

   * ``model="daly"`` (default): Daly 2006's complete cost function for Poisson failures that
     may also strike during checkpoints and restarts. The expected wall time per segment of
     τ + δ is ``M e^{R/M} (e^{(τ+δ)/M} − 1)``, so the efficiency is
     ``τ / (M e^{R/M} (e^{(τ+δ)/M} − 1))``. It factors exactly into
     ``τ/(τ+δ)`` (checkpoint) × ``x/(e^x − 1)`` with ``x = (τ+δ)/M`` (lost work) × ``e^{−R/M}``
     (restart).
   * ``model="young"``: the first-order expansion (Young 1974; waste ≈ δ/τ + τ/(2M) + R/M,
     shared/reference Sec. 2.4), written as a product ``τ/(τ+δ) × (1 − (τ+δ)/(2M)) × (1 − R/M)``
     (clipped at 0) so it can be drawn as a waterfall. It holds while δ ≪ τ ≪ M and R ≪ M,
     and breaks down when the interruption interval approaches the restart time.

   Planned maintenance (Llama 3: 47 planned interruptions in 54 days) costs one checkpoint
   write plus one restart per planned stop and no lost work.
5. **Scheduling goodput** (Google Cloud blog 2024-04-10, "ML Productivity Goodput"): the share
   of a cluster's GPUs that actually run the job: ``(1 − spares)(1 − repair)(1 − fragmentation)``.
6. :func:`simulate_effective_time` is a vectorized event simulation (Poisson failures,
   periodic checkpoints, restarts that a failure can interrupt) that cross-checks the analytic
   forms, and :func:`what_must_be_true` inverts the model for a published figure.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.catalog import Column, validate_table
from analysis.errors import InputError
from analysis.params import Spec
from analysis.paths import DATA_DIR
from analysis.serialize import plain as _plain

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
MODELS = ("daly", "young")
INTERVAL_METHODS = ("young", "daly", "exact")

# Scenario section `goodput` (defaults with sources in data/parameters/goodput.yaml).
PARAMETERS: dict[str, Spec] = {
    "interruption_rate_per_gpu_hour": Spec("interruptions per GPU-hour", "unexpected job interruptions caused per GPU "
                                           "per hour (all causes)", min=0, min_inclusive=False, max=1e-2),
    "checkpoint_write_s": Spec("s", "blocking time to write one checkpoint", min=0, min_inclusive=False, max=7200),
    "restart_s": Spec("s", "stall per interruption: detection + restart + reload (lost work excluded)",
                      min=0, max=86400),
    "checkpoint_interval_factor": Spec("x optimum", "checkpoint interval as a multiple of the Young/Daly optimum",
                                       min=0.05, max=100),
    "planned_interruptions_per_day": Spec("per day", "planned job stops (maintenance, upgrades); each costs one "
                                          "checkpoint write plus one restart", min=0, max=100),
    "spare_fraction": Spec("fraction", "share of the cluster's GPUs held as spares outside the job", min=0, max=0.5),
    "repair_fraction": Spec("fraction", "share of the cluster's GPUs in nodes out for repair", min=0, max=0.5),
    "fragmentation_fraction": Spec("fraction", "healthy GPUs idle because the job layout does not divide them",
                                   min=0, max=0.5),
}

FACTOR_NAMES = ("spares", "repair", "fragmentation", "checkpoint", "lost_work", "restart", "planned_maintenance")


# --------------------------------------------------------------------------- helpers
def _arr(name: str, value, minimum: float | None = 0.0, inclusive: bool = True) -> np.ndarray:
    """``value`` as a float array, checked finite and >= (or >) ``minimum``; one-line InputError otherwise."""
    a = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name}: {value!r} is not finite; expected a finite number")
    if minimum is not None:
        bad = a < minimum if inclusive else a <= minimum
        if np.any(bad):
            shown = a[bad].flat[0] if a.ndim else float(a)
            op = ">=" if inclusive else ">"
            raise InputError(f"{name}: {shown:g} is out of range; expected a number {op} {minimum:g}")
    return a


def _fraction(name: str, value) -> np.ndarray:
    a = _arr(name, value, 0.0)
    if np.any(a >= 1):
        raise InputError(f"{name}: {np.max(a):g} is out of range; expected a fraction in [0, 1)")
    return a


def _out(a: np.ndarray):
    """0-d arrays back to Python floats; arrays unchanged."""
    a = np.asarray(a, dtype=float)
    return float(a) if a.ndim == 0 else a


# --------------------------------------------------------------------------- data: reliability records
RELIABILITY_COLUMNS = (
    Column("id"), Column("system"), Column("gpu", required=False),
    Column("gpus", Spec("GPUs", min=1, max=1e7)),
    Column("duration_days", Spec("days", min=0, min_inclusive=False, max=3650), required=False),
    Column("interruptions", Spec("count", min=0, integer=True), required=False),
    Column("interruption_kind", required=False),
    Column("mttf_h", Spec("h", min=0, min_inclusive=False), required=False),
    Column("ettr", Spec("fraction", min=0, max=1), required=False),
    Column("ettr_relation", required=False),
    Column("stall_min", Spec("min", min=0), required=False),
    Column("use"), Column("note", required=False),
    Column("source"), Column("source_date"), Column("status"),
)


def load_reliability(path=None) -> pd.DataFrame:
    """Published interruption / MTTF / effective-training-time datapoints (``data/reliability.csv``).

    Columns: ``gpus``, ``duration_days``, ``interruptions`` (of ``interruption_kind``), ``mttf_h``
    (job mean time to failure), ``ettr`` with ``ettr_relation`` ('>' = lower bound), ``stall_min``,
    ``use`` (rate | planned | ettr | mttf | context), ``source``, ``source_date`` and ``status``
    (primary | abstract | secondary).
    """
    from pathlib import Path
    file = Path(path or DATA_DIR / "reliability.csv")
    if not file.exists():
        raise InputError(f"{file}: file not found")
    df = validate_table(pd.read_csv(file, dtype={"id": str, "source_date": str}), RELIABILITY_COLUMNS, file)
    return df.set_index("id", drop=False)


# --------------------------------------------------------------------------- 1. interruption rate
def interruption_rate_per_gpu_hour(interruptions, gpus, hours):
    """Point estimate λ = interruptions / (GPUs × hours), per GPU-hour (vectorized).

    Llama 3 405B: 419 / (16,384 × 54 × 24 h) = 1.97e-5 per GPU-hour, i.e. a per-GPU MTBF of
    ~51,000 h (arXiv 2407.21783 Sec. 3.3.4; shared/reference Sec. 2.1 *derived*).
    """
    n = _arr("interruptions", interruptions, 0.0)
    exposure = _arr("gpus", gpus, 0.0, inclusive=False) * _arr("hours", hours, 0.0, inclusive=False)
    return _out(n / exposure)


@dataclass(frozen=True)
class InterruptionRateEstimate:
    """Per-GPU interruption rate from a Poisson GLM with a log(GPU-hours) offset."""

    rate: float                 # interruptions per GPU-hour
    ci_low: float               # Wald interval of the GLM, on the log scale
    ci_high: float
    exact_ci_low: float         # exact (Garwood, chi-square) Poisson interval, as a cross-check
    exact_ci_high: float
    interruptions: float
    gpu_hours: float
    alpha: float = 0.05
    records: int = 1

    @property
    def mtbf_per_gpu_h(self) -> float:
        return 1.0 / self.rate

    def to_dict(self) -> dict:
        return {"rate_per_gpu_hour": self.rate, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "exact_ci_low": self.exact_ci_low, "exact_ci_high": self.exact_ci_high,
                "mtbf_per_gpu_h": self.mtbf_per_gpu_h, "interruptions": self.interruptions,
                "gpu_hours": self.gpu_hours, "alpha": self.alpha, "records": self.records}

    def summary(self) -> str:
        level = f"{100 * (1 - self.alpha):g}%"
        return (f"Per-GPU interruption rate (Poisson GLM, log GPU-hours offset, {self.records} record(s)):\n"
                f"  {self.rate:.4g} per GPU-hour [{level} CI {self.ci_low:.4g} - {self.ci_high:.4g}; "
                f"exact {self.exact_ci_low:.4g} - {self.exact_ci_high:.4g}]\n"
                f"  = per-GPU MTBF {self.mtbf_per_gpu_h:,.0f} h from {self.interruptions:,.0f} interruptions "
                f"in {self.gpu_hours:,.4g} GPU-hours")


def estimate_interruption_rate(interruptions=419, gpus=16384, hours=54 * 24, alpha: float = 0.05) -> InterruptionRateEstimate:
    """Fit λ (per GPU-hour) by a Poisson GLM ``count ~ 1`` with ``offset = log(GPUs × hours)``.

    Several records (arrays) are pooled under one common per-GPU rate. The interval is the Wald
    interval of the intercept, exp(β ± z·se); the exact Garwood interval
    [χ²(α/2; 2n)/2, χ²(1−α/2; 2n+2)/2] / exposure is reported beside it. Defaults: Llama 3 405B,
    419 unexpected interruptions, 16,384 GPUs, 54 days (arXiv 2407.21783 Sec. 3.3.4, Table 5).
    """
    import statsmodels.api as sm
    from scipy.stats import chi2

    if not 0 < alpha < 1:
        raise InputError(f"alpha: {alpha!r} is out of range; expected a number in (0, 1)")
    counts = np.atleast_1d(_arr("interruptions", interruptions, 0.0))
    exposure = np.atleast_1d(_arr("gpus", gpus, 0.0, inclusive=False) * _arr("hours", hours, 0.0, inclusive=False))
    counts, exposure = np.broadcast_arrays(counts, exposure)
    total = float(counts.sum())
    if total <= 0:
        raise InputError(f"interruptions: {total:g} in total; need at least one interruption to estimate a rate")
    with warnings.catch_warnings():  # one record leaves no residual degrees of freedom (harmless scale warning)
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.GLM(counts, np.ones((counts.size, 1)), family=sm.families.Poisson(),
                     offset=np.log(exposure)).fit()
    lo, hi = np.exp(np.asarray(fit.conf_int(alpha=alpha))[0])
    gpu_hours = float(exposure.sum())
    exact_lo = chi2.ppf(alpha / 2, 2 * total) / 2 / gpu_hours
    exact_hi = chi2.ppf(1 - alpha / 2, 2 * total + 2) / 2 / gpu_hours
    return InterruptionRateEstimate(float(np.exp(fit.params[0])), float(lo), float(hi), float(exact_lo), float(exact_hi),
                                    total, gpu_hours, alpha, int(counts.size))


def estimate_from_reliability(table: pd.DataFrame | None = None, alpha: float = 0.05) -> InterruptionRateEstimate:
    """:func:`estimate_interruption_rate` on the ``use == 'rate'`` rows of ``data/reliability.csv``."""
    table = load_reliability() if table is None else table
    rows = table[table["use"] == "rate"]
    if rows.empty:
        raise InputError("data/reliability.csv: no row with use == 'rate'; cannot estimate the interruption rate")
    return estimate_interruption_rate(rows["interruptions"].to_numpy(float), rows["gpus"].to_numpy(float),
                                      rows["duration_days"].to_numpy(float) * 24, alpha)


# --------------------------------------------------------------------------- 2. job interruption rate
def job_interruptions_per_hour(gpus, rate_per_gpu_hour):
    """Λ = N λ: interruptions per hour of one synchronous job on ``gpus`` GPUs.

    Any one GPU failure stops the whole synchronous job (Llama 3 Sec. 3.3.4), and independent
    Poisson processes superpose to one with the summed rate; Google's goodput blog states the
    same consequence: "MTBF of the overall system reduces linearly" with scale.
    """
    return _out(_arr("gpus", gpus, 0.0) * _arr("rate_per_gpu_hour", rate_per_gpu_hour, 0.0))


def implied_rate_per_gpu_hour(job_mttf_h, gpus):
    """Per-GPU rate implied by a job MTTF at a job size, λ = 1 / (MTTF × N) (inverse of
    :func:`job_interruptions_per_hour`), e.g. for Kokolis et al.'s projected MTTFs."""
    return _out(1.0 / (_arr("job_mttf_h", job_mttf_h, 0.0, inclusive=False) * _arr("gpus", gpus, 0.0, inclusive=False)))


def job_mtbf_s(gpus, rate_per_gpu_hour):
    """Job mean time between interruptions M = 1 / (N λ), in seconds (inf for a zero rate)."""
    lam = np.asarray(job_interruptions_per_hour(gpus, rate_per_gpu_hour), dtype=float)
    with np.errstate(divide="ignore"):
        return _out(SECONDS_PER_HOUR / lam)


def interruptions_table(gpus, estimate: InterruptionRateEstimate) -> pd.DataFrame:
    """Interruptions per day and job MTBF vs job size, with the estimate's CI as a band."""
    n = np.atleast_1d(_arr("gpus", gpus, 0.0, inclusive=False))
    per_day = {k: np.asarray(job_interruptions_per_hour(n, getattr(estimate, k)), dtype=float) * 24
               for k in ("rate", "ci_low", "ci_high")}
    return pd.DataFrame({"gpus": n, "interruptions_per_day": per_day["rate"], "interruptions_per_day_low": per_day["ci_low"],
                         "interruptions_per_day_high": per_day["ci_high"], "job_mtbf_h": 24 / per_day["rate"],
                         "job_mtbf_min": 24 * 60 / per_day["rate"]})


# --------------------------------------------------------------------------- 3. checkpoint interval
def young_daly_interval_s(checkpoint_write_s, mtbf_s, method: str = "young"):
    """Optimal compute time between checkpoints τ (s), vectorized.

    * ``"young"``: τ = √(2 δ M), Young, "A first order approximation to the optimum checkpoint
      interval", CACM 17(9), 1974.
    * ``"daly"``: Daly, "A higher order estimate of the optimum checkpoint interval for restart
      dumps", FGCS 22(3), 2006, perturbation solution
      τ = √(2 δ M) [1 + ⅓ √(δ/2M) + ⅑ (δ/2M)] − δ for δ < 2M, else τ = M. It reproduces the
      paper's Fig. 3-5 captions (M = 24 h, 6 h, 15 min with δ = 5 min: τ = 117, 57, 9.1 min).
    * ``"exact"``: the minimizer of Daly's complete cost (e^{(τ+δ)/M} − 1)/τ, τ = M (1 + W₀(−e^{−1−δ/M}))
      with W₀ the principal Lambert W branch (Daly 2006 lists the Lambert function as its tool).
      The restart time does not move the optimum (it only scales the cost by e^{R/M}).
    """
    from scipy.special import lambertw

    if method not in INTERVAL_METHODS:
        raise InputError(f"method: {method!r} is not allowed; use one of {', '.join(INTERVAL_METHODS)}")
    d = _arr("checkpoint_write_s", checkpoint_write_s, 0.0, inclusive=False)
    m = _arr("mtbf_s", mtbf_s, 0.0, inclusive=False)
    d, m = np.broadcast_arrays(d, m)
    if method == "young":
        return _out(np.sqrt(2 * d * m))
    if method == "daly":
        xi = d / (2 * m)
        tau = np.sqrt(2 * d * m) * (1 + np.sqrt(xi) / 3 + xi / 9) - d
        return _out(np.where(d < 2 * m, tau, m))
    ratio = d / m
    w = np.real(lambertw(-np.exp(-1.0 - ratio), 0))
    # Near the branch point (δ/M < 1e-6) use the series W = -1 + p - p²/3 + 11p³/72 - 43p⁴/540,
    # p = √(2(1 - e^{-δ/M})), which is more accurate there.
    p = np.sqrt(-2 * np.expm1(-ratio))
    series = p - p ** 2 / 3 + 11 * p ** 3 / 72 - 43 * p ** 4 / 540
    return _out(m * np.where(ratio < 1e-6, series, 1 + w))


# --------------------------------------------------------------------------- 4. effective training time
@dataclass(frozen=True)
class GoodputResult:
    """Goodput of one job (arrays when the inputs are arrays).

    ``factors`` are named multiplicative factors in (0, 1] (0 when the job makes no progress);
    their product is ``total`` = the share of the cluster's GPU-hours spent on useful training.
    ``effective_training_time`` (Meta's ETTR) is the product of the runtime factors only
    (checkpoint, lost work, restart, planned maintenance); ``scheduling_goodput`` is the rest.
    """

    gpus: object
    job_gpus: object
    rate_per_gpu_hour: object
    interruptions_per_day: object
    job_mtbf_h: object
    checkpoint_interval_s: object
    checkpoint_write_s: object
    restart_s: object
    model: str
    factors: dict = field(default_factory=dict)

    @property
    def effective_training_time(self):
        return _out(np.prod([np.asarray(self.factors[k], dtype=float) for k in
                             ("checkpoint", "lost_work", "restart", "planned_maintenance")], axis=0))

    @property
    def scheduling_goodput(self):
        return _out(np.prod([np.asarray(self.factors[k], dtype=float) for k in ("spares", "repair", "fragmentation")], axis=0))

    @property
    def total(self):
        return _out(np.prod([np.asarray(v, dtype=float) for v in self.factors.values()], axis=0))

    def to_dict(self) -> dict:
        return _plain({"gpus": self.gpus, "job_gpus": self.job_gpus, "rate_per_gpu_hour": self.rate_per_gpu_hour,
                       "interruptions_per_day": self.interruptions_per_day, "job_mtbf_h": self.job_mtbf_h,
                       "checkpoint_interval_s": self.checkpoint_interval_s, "checkpoint_interval_min":
                       np.asarray(self.checkpoint_interval_s, dtype=float) / 60, "checkpoint_write_s": self.checkpoint_write_s,
                       "restart_s": self.restart_s, "model": self.model,
                       "effective_training_time": self.effective_training_time,
                       "scheduling_goodput": self.scheduling_goodput, "total": self.total, "factors": self.factors})

    def summary(self) -> str:
        d = self.to_dict()
        if isinstance(d["total"], list):
            return f"GoodputResult over {len(d['total'])} cases ({self.model} model); use to_dict() for the arrays"
        lines = [f"Goodput ({self.model} model) of one synchronous job on {d['job_gpus']:,.0f} GPUs "
                 f"(cluster {d['gpus']:,.0f} GPUs):",
                 f"  {d['interruptions_per_day']:.3g} interruptions/day (job MTBF {60 * d['job_mtbf_h']:.3g} min); "
                 f"checkpoint every {d['checkpoint_interval_min']:.3g} min ({d['checkpoint_write_s']:.3g} s write), "
                 f"restart {d['restart_s'] / 60:.3g} min",
                 f"  effective training time {d['effective_training_time']:.1%}; scheduling goodput "
                 f"{d['scheduling_goodput']:.1%}; total {d['total']:.1%}",
                 "  factors: " + ", ".join(f"{k} {v:.3f}" for k, v in d["factors"].items())]
        return "\n".join(lines)


def optimal_checkpoint_interval_s(gpus, rate_per_gpu_hour, checkpoint_write_s, model: str = "daly"):
    """The optimum interval for ``model``: Young's √(2δM) for ``"young"``, the exact Lambert-W
    optimum of Daly's complete cost for ``"daly"``."""
    if model not in MODELS:
        raise InputError(f"model: {model!r} is not allowed; use one of {', '.join(MODELS)}")
    m = np.asarray(job_mtbf_s(gpus, _arr("rate_per_gpu_hour", rate_per_gpu_hour, 0.0, inclusive=False)))
    return young_daly_interval_s(checkpoint_write_s, m, "young" if model == "young" else "exact")


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
        raise InputError(f"model: {model!r} is not allowed; use one of {', '.join(MODELS)}")
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


# --------------------------------------------------------------------------- 5. scheduling goodput
def scheduling_goodput(spare_fraction, repair_fraction, fragmentation_fraction):
    """Share of the cluster's GPUs running the job: (1 − spares)(1 − repair)(1 − fragmentation).

    Google's "scheduling goodput" (Cloud blog 2024-04-10) is the share of time all resources a
    job needs are available; here the same loss is expressed as idle GPUs of a cluster that runs
    one job: warm spares, nodes out for repair, and GPUs the parallel layout cannot use.
    """
    return _out((1 - _fraction("spare_fraction", spare_fraction)) * (1 - _fraction("repair_fraction", repair_fraction))
                * (1 - _fraction("fragmentation_fraction", fragmentation_fraction)))


def goodput_breakdown(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, checkpoint_interval_s=None,
                      planned_interruptions_per_day=0.0, spare_fraction=0.0, repair_fraction=0.0,
                      fragmentation_fraction=0.0, model: str = "daly", checkpoint_interval_factor=1.0,
                      job_from_cluster: bool = True) -> GoodputResult:
    """Everything about one job's goodput as a :class:`GoodputResult`.

    ``gpus`` is the cluster (or pool) offered to the job. With ``job_from_cluster=True`` the job
    runs on ``gpus × scheduling_goodput`` GPUs (spares, repair and fragmentation leave the rest
    idle) and its interruption rate is computed at that size; with ``False`` the job size is
    ``gpus``. ``checkpoint_interval_s=None`` uses ``checkpoint_interval_factor`` × the optimum.
    """
    n = _arr("gpus", gpus, 0.0, inclusive=False)
    sched = {"spares": 1 - _fraction("spare_fraction", spare_fraction),
             "repair": 1 - _fraction("repair_fraction", repair_fraction),
             "fragmentation": 1 - _fraction("fragmentation_fraction", fragmentation_fraction)}
    job = n * np.prod(list(np.broadcast_arrays(*sched.values())), axis=0) if job_from_cluster else n
    lam = _arr("rate_per_gpu_hour", rate_per_gpu_hour, 0.0, inclusive=False)
    if checkpoint_interval_s is None:
        factor = _arr("checkpoint_interval_factor", checkpoint_interval_factor, 0.0, inclusive=False)
        interval = np.asarray(optimal_checkpoint_interval_s(job, lam, checkpoint_write_s, model), dtype=float) * factor
    else:
        interval = _arr("checkpoint_interval_s", checkpoint_interval_s, 0.0, inclusive=False)
    runtime = runtime_factors(job, lam, checkpoint_write_s, restart_s, interval, planned_interruptions_per_day, model)
    factors = {**sched, **runtime}
    shape = np.broadcast_shapes(*(np.shape(v) for v in factors.values()), np.shape(job), np.shape(interval))
    factors = {k: _out(np.broadcast_to(np.asarray(factors[k], dtype=float), shape)) for k in FACTOR_NAMES}
    per_hour = np.asarray(job_interruptions_per_hour(job, lam), dtype=float)
    return GoodputResult(_out(np.broadcast_to(n, shape)), _out(np.broadcast_to(job, shape)), _out(np.broadcast_to(lam, shape)),
                         _out(np.broadcast_to(per_hour * 24, shape)), _out(np.broadcast_to(1 / per_hour, shape)),
                         _out(np.broadcast_to(interval, shape)), _out(np.broadcast_to(np.asarray(checkpoint_write_s, float), shape)),
                         _out(np.broadcast_to(np.asarray(restart_s, float), shape)), model, factors)


def goodput_factors(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, checkpoint_interval_s=None,
                    planned_interruptions_per_day=0.0, spare_fraction=0.0, repair_fraction=0.0,
                    fragmentation_fraction=0.0, model: str = "daly", checkpoint_interval_factor=1.0,
                    job_from_cluster: bool = True) -> dict:
    """Named multiplicative factors (in (0, 1]) whose product is the total goodput, in waterfall
    order: spares, repair, fragmentation, checkpoint, lost_work, restart, planned_maintenance.
    Arguments as in :func:`goodput_breakdown`."""
    return dict(goodput_breakdown(gpus, rate_per_gpu_hour, checkpoint_write_s, restart_s, checkpoint_interval_s,
                                  planned_interruptions_per_day, spare_fraction, repair_fraction, fragmentation_fraction,
                                  model, checkpoint_interval_factor, job_from_cluster).factors)


def from_scenario_values(values: dict, gpus, model: str = "daly", job_from_cluster: bool = True) -> GoodputResult:
    """:func:`goodput_breakdown` from ``Scenario.values("goodput")`` for a cluster of ``gpus`` GPUs
    running one synchronous job. Monte Carlo draws work too: arrays per key, or the whole
    ``Scenario.sample(n)`` dict (keys ``"goodput.<key>"``; other sections are ignored)."""
    values = {k.removeprefix("goodput."): v for k, v in values.items() if "." not in k or k.startswith("goodput.")}
    missing = set(PARAMETERS) - set(values)
    if missing:
        raise InputError(f"goodput.{sorted(missing)[0]}: missing; the goodput section takes {', '.join(sorted(PARAMETERS))}")
    v = {k: values[k] for k in PARAMETERS}
    return goodput_breakdown(gpus, v["interruption_rate_per_gpu_hour"], v["checkpoint_write_s"], v["restart_s"], None,
                             v["planned_interruptions_per_day"], v["spare_fraction"], v["repair_fraction"],
                             v["fragmentation_fraction"], model, v["checkpoint_interval_factor"], job_from_cluster)


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


# --------------------------------------------------------------------------- 6. event simulation
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
        raise InputError(f"n_runs: {n_runs!r} is not allowed; expected an integer >= 1")
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


# --------------------------------------------------------------------------- 7. checks against published figures
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


def published_comparison(values: dict, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Published effective-training-time datapoints (rows of data/reliability.csv with an ``ettr``,
    except ``use == 'context'`` rows such as FT-HSDP's partial restarts, which this model does not describe)
    beside the model's figure at the same job size, with the row's own stall per failure when it
    gives one and the scenario's ``goodput`` values otherwise (scheduling losses excluded)."""
    table = load_reliability() if table is None else table
    rows = table[table["ettr"].notna() & (table["use"] != "context")]
    out = []
    for _, row in rows.iterrows():
        restart = row["stall_min"] * 60 if pd.notna(row["stall_min"]) else values["restart_s"]
        tau = float(optimal_checkpoint_interval_s(row["gpus"], values["interruption_rate_per_gpu_hour"],
                                                  values["checkpoint_write_s"])) * values["checkpoint_interval_factor"]
        kw = dict(gpus=row["gpus"], rate_per_gpu_hour=values["interruption_rate_per_gpu_hour"],
                  checkpoint_write_s=values["checkpoint_write_s"], restart_s=restart, checkpoint_interval_s=tau,
                  planned_interruptions_per_day=values["planned_interruptions_per_day"])
        out.append({"id": row["id"], "system": row["system"], "gpus": row["gpus"],
                    "published": f"{row['ettr_relation'] if row['ettr_relation'] == '>' else ''}{row['ettr']:.0%}",
                    "published_ettr": row["ettr"], "relation": row["ettr_relation"], "restart_min": restart / 60,
                    "model_daly": effective_training_time(**kw), "model_young": effective_training_time(**kw, model="young"),
                    "source": row["source"], "status": row["status"]})
    return pd.DataFrame(out).set_index("id")


def published_interruptions(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Published job interruption frequencies as interruptions per day vs GPUs, for plotting:
    counted records (``use`` rate) as count / days, and MTTF figures (``use`` mttf) as 24 h / MTTF."""
    table = load_reliability() if table is None else table
    counted = table[(table["use"] == "rate") & table["duration_days"].notna()]
    mttf = table[(table["use"] == "mttf") & table["mttf_h"].notna()]
    rows = [{"gpus": r["gpus"], "interruptions_per_day": r["interruptions"] / r["duration_days"],
             "label": f"{r['system']} (counted)", "source": r["source"], "status": r["status"]} for _, r in counted.iterrows()]
    rows += [{"gpus": r["gpus"], "interruptions_per_day": 24 / r["mttf_h"], "label": f"{r['system']} (MTTF)",
              "source": r["source"], "status": r["status"]} for _, r in mttf.iterrows()]
    return pd.DataFrame(rows)


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
    """Throughput for ``python -m analysis bench``: analytic goodput draws per second (100,000
    draws a call) and simulated failure events per second (a 100,000-GPU job, 4 weeks, 50 runs)."""
    from analysis.bench import throughput

    rng = np.random.default_rng(0)
    draws = 100_000
    values = {"interruption_rate_per_gpu_hour": rng.uniform(1.7e-5, 2.2e-5, draws), "checkpoint_write_s": rng.uniform(3, 60, draws),
              "restart_s": rng.uniform(180, 1500, draws), "checkpoint_interval_factor": rng.uniform(1, 3, draws),
              "planned_interruptions_per_day": rng.uniform(0.3, 2, draws), "spare_fraction": rng.uniform(0, 0.11, draws),
              "repair_fraction": rng.uniform(0.005, 0.1, draws), "fragmentation_fraction": rng.uniform(0, 0.05, draws)}
    gpus, rate, runs, horizon_h = 100_000, 1.9733e-5, 50, 24 * 28
    events = float(job_interruptions_per_hour(gpus, rate)) * horizon_h * runs
    return {"goodput_analytic_draws_per_s": throughput(lambda: from_scenario_values(values, 230_000), seconds, draws),
            "goodput_simulated_events_per_s": throughput(
                lambda: simulate_effective_time(gpus, rate, 10, 600, None, horizon_h, runs, seed=0), seconds, events)}
