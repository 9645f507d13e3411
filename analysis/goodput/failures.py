"""Failures: interruption rates per GPU type and system, early-life elevation, job-size scaling.

* **Per-GPU rate of the reference fleet** (8-GPU HGX H100): Llama 3 405B, 419 unexpected
  interruptions on 16,384 H100 in 54 days (arXiv 2407.21783 Sec. 3.3.4, Table 5), fitted as a
  Poisson GLM with a ``log(GPU-hours)`` offset (:func:`estimate_interruption_rate`).
* **GPU type and system**: ``data/failure_rates.csv`` gives each GPU type's rate relative to the
  reference and its system (``hgx8`` servers or ``nvl72`` racks, whose rate is further scaled by
  the scenario's ``nvl72_rate_multiplier``). A100 HGX is Kokolis et al.'s RSC-1 node-failure
  rate (arXiv 2410.21680: 6.5 failures per 1,000 node-days; RSC-2 2.34).
* **Early life (burn-in)**: a newly installed fleet fails more often; the elevation decays over
  months, ``m(t) = 1 + A exp(-t / T)`` with ``t`` months in service. The reference rate was
  measured at ``rate_reference_months_in_service``, so a fleet of age ``t`` has
  ``λ(t) = λ_ref m(t) / m(t_ref)``.
* **Job-size scaling** as Kokolis et al. (2024) formulate it: a synchronous job stops at any of
  its nodes' failures, so ``MTTF = (N_nodes r_f)^-1`` with ``r_f`` failures per node per unit
  time, i.e. linear in the job's nodes (equivalently ``N_gpus λ`` with ``λ = r_f / gpus_per_node``).
* **Correlated failures** (optional): whole failure domains (an NVL72 rack, a leaf switch, a
  power domain) fail as one event at ``domain_failures_per_1000_domain_days``; each event is one
  more job interruption, in addition to the independent node failures.
* **Planned interruptions** (maintenance, upgrades) per job-day, independent of job size
  (Llama 3: 47 in 54 days).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import Column, validate_table
from analysis.errors import InputError, shown
from analysis.goodput._util import SECONDS_PER_HOUR, arr as _arr, out as _out
from analysis.params import Spec
from analysis.paths import DATA_DIR

SYSTEMS = ("hgx8", "nvl72")
REFERENCE_GPU = "H100"

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
        raise InputError(f"alpha: {shown(alpha)} is out of range; expected a number in (0, 1)")
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



# --------------------------------------------------------------------------- GPU type and system
FAILURE_RATE_COLUMNS = (
    Column("gpu"), Column("system"), Column("gpus_per_node", Spec("GPUs", min=1, max=72, integer=True)),
    Column("domain_gpus", Spec("GPUs", min=1, max=576, integer=True)),
    Column("rate_multiplier", Spec("x reference", min=0, min_inclusive=False, max=20)),
    Column("low", Spec("x reference", min=0, min_inclusive=False, max=20)),
    Column("high", Spec("x reference", min=0, min_inclusive=False, max=20)),
    Column("source"), Column("source_date"),
)


@lru_cache(maxsize=4)
def _failure_rates(path: str) -> pd.DataFrame:
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file}: file not found")
    df = validate_table(pd.read_csv(file, dtype={"gpu": str, "source_date": str}), FAILURE_RATE_COLUMNS, file, key="gpu")
    bad = sorted(set(df["system"]) - set(SYSTEMS))
    if bad:
        raise InputError(f"{file}: system {shown(bad[0])} is not allowed; use one of {', '.join(SYSTEMS)}")
    return df.set_index("gpu", drop=False)


def load_failure_rates(path=None) -> pd.DataFrame:
    """Per GPU type: system (hgx8 | nvl72), GPUs per node, GPUs per failure domain, and the
    interruption rate relative to the reference (8-GPU HGX H100, Llama 3) with its range and source
    (``data/failure_rates.csv``)."""
    return _failure_rates(str(path or DATA_DIR / "failure_rates.csv")).copy()


@lru_cache(maxsize=4)
def _profiles(path: str) -> dict:
    """Per GPU id the four figures :func:`gpu_profile` reads (a plain dict: the chain asks for them
    dozens of times per evaluation, and a DataFrame lookup costs more than the arithmetic)."""
    table = _failure_rates(path)
    return {g: {"rate_multiplier": float(r["rate_multiplier"]), "system": str(r["system"]),
                "gpus_per_node": float(r["gpus_per_node"]), "domain_gpus": float(r["domain_gpus"])}
            for g, r in table.iterrows()}


def failure_rate_gpus() -> tuple[str, ...]:
    """GPU ids with a row in ``data/failure_rates.csv``."""
    return tuple(_profiles(str(DATA_DIR / "failure_rates.csv")))


def gpu_profile(gpu_mix=None, nvl72_rate_multiplier=1.0) -> dict:
    """Rate multiplier, GPUs per node and GPUs per failure domain of a job's GPU mix.

    ``gpu_mix`` is ``None`` (the reference, HGX H100), a GPU id, or ``{gpu id: GPUs or share}``;
    shares are normalised. Multipliers are GPU-weighted means (independent failures add up);
    NVL72 types are further scaled by ``nvl72_rate_multiplier`` (broadcasts over draws).
    """
    table = _profiles(str(DATA_DIR / "failure_rates.csv"))
    if gpu_mix is None:
        gpu_mix = {REFERENCE_GPU: 1.0}
    elif isinstance(gpu_mix, str):
        gpu_mix = {gpu_mix: 1.0}
    unknown = [g for g in gpu_mix if g not in table]
    if unknown:
        raise InputError(f"gpu: {shown(unknown[0])} is not known; use one of {', '.join(table)}")
    weights = {g: np.asarray(w, float) for g, w in gpu_mix.items()}
    total = sum(weights.values())
    if np.any(np.asarray(total) <= 0):
        raise InputError("gpu_mix: the shares sum to zero; give at least one GPU type with a positive share")
    nvl = _arr("nvl72_rate_multiplier", nvl72_rate_multiplier, 0.0, inclusive=False)
    mult = sum(w / total * table[g]["rate_multiplier"] * (nvl if table[g]["system"] == "nvl72" else 1.0)
               for g, w in weights.items())
    per_node = sum(w / total * table[g]["gpus_per_node"] for g, w in weights.items())
    domain = sum(w / total * table[g]["domain_gpus"] for g, w in weights.items())
    systems = sorted({table[g]["system"] for g in weights})
    return {"rate_multiplier": _out(mult), "gpus_per_node": _out(per_node), "domain_gpus": _out(domain),
            "systems": systems}


# --------------------------------------------------------------------------- early life
def early_life_multiplier(months_in_service, early_life_multiplier=2.0, early_life_decay_months=3.0):
    """``m(t) = 1 + A exp(-t / T)``: the rate of a fleet ``t`` months after installation relative to
    the same fleet once mature (bathtub curve, early-life branch; A and T are assumptions)."""
    t = _arr("months_in_service", months_in_service, 0.0)
    a = _arr("early_life_multiplier", early_life_multiplier, 0.0)
    tau = _arr("early_life_decay_months", early_life_decay_months, 0.0, inclusive=False)
    return _out(1 + a * np.exp(-t / tau))


def fleet_rate_per_gpu_hour(reference_rate_per_gpu_hour, months_in_service=12.0, reference_months_in_service=6.0,
                            early_life_multiplier_=2.0, early_life_decay_months=3.0, rate_multiplier=1.0):
    """Per-GPU unplanned interruption rate of a fleet: ``λ_ref × type/system multiplier × m(t) / m(t_ref)``."""
    ref = _arr("interruption_rate_per_gpu_hour", reference_rate_per_gpu_hour, 0.0, inclusive=False)
    m = np.asarray(early_life_multiplier(months_in_service, early_life_multiplier_, early_life_decay_months))
    m_ref = np.asarray(early_life_multiplier(reference_months_in_service, early_life_multiplier_, early_life_decay_months))
    return _out(ref * _arr("rate_multiplier", rate_multiplier, 0.0, inclusive=False) * m / m_ref)


def job_interruptions_per_hour_total(gpus, rate_per_gpu_hour, domain_gpus=72.0, domain_failures_per_1000_domain_days=0.0):
    """Unplanned interruptions per hour of one synchronous job: independent failures ``N λ``
    (Kokolis et al. 2024: ``N_nodes r_f``) plus correlated domain failures
    ``(N / domain_gpus) × r_d``."""
    n = _arr("gpus", gpus, 0.0)
    independent = n * _arr("rate_per_gpu_hour", rate_per_gpu_hour, 0.0)
    domains = n / _arr("domain_gpus", domain_gpus, 0.0, inclusive=False)
    correlated = domains * _arr("domain_failures_per_1000_domain_days", domain_failures_per_1000_domain_days, 0.0) / 1000 / 24
    return _out(independent + correlated)


def node_failure_rate_per_1000_node_days(rate_per_gpu_hour, gpus_per_node=8):
    """Kokolis et al.'s ``r_f`` in failures per 1,000 node-days from a per-GPU rate (per hour)."""
    return _out(_arr("rate_per_gpu_hour", rate_per_gpu_hour) * _arr("gpus_per_node", gpus_per_node, 0.0, inclusive=False)
                * 24 * 1000)


def per_gpu_rate_from_node_rate(failures_per_1000_node_days, gpus_per_node=8):
    """Inverse of :func:`node_failure_rate_per_1000_node_days` (per GPU-hour)."""
    return _out(_arr("failures_per_1000_node_days", failures_per_1000_node_days) / 1000 / 24
                / _arr("gpus_per_node", gpus_per_node, 0.0, inclusive=False))
