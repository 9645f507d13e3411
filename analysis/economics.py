"""Lease versus rebuild: what Colossus 1 is worth kept for training, leased out, or split into islands.

Three options over a horizon of monthly cash flows (issue 5 item 4), all seen from xAI, the owner
of Colossus 1, starting when the Anthropic lease starts (May 2026, SpaceX S-1):

``keep``
    Colossus 1 keeps training at its modelled cluster utilization (useful training FLOPs as a
    share of the BF16 dense peak, goodput included). xAI pays power and operations.
``lease``
    Colossus 1 is leased (S-1 rate per GPU-hour, discounted during the ramp, either side may
    leave on 90 days' notice after the first 3 months) and the training it did is rebuilt on
    Colossus 2 at Colossus 2's utilization and cost per GPU-hour. If the lessee leaves, the
    cluster returns to ``keep`` for the rest of the horizon (expected values over a monthly
    termination hazard). Under the Cloud Services Agreement the lessor (xAI) runs the halls, so
    by default it also pays their power (``lease_power_paid_by``).
``islands``
    Colossus 1 is re-partitioned into homogeneous jobs, one per GPU type, at their higher
    utilization; the smaller jobs may be worth less per FLOP (``islands_value_fraction``).

Valuation of training (an assumption, stated so it can be argued with): a useful training
exaFLOP is worth what it costs to buy elsewhere, i.e. renting homogeneous GPUs at the market
rate and getting a well-run homogeneous job's utilization out of them::

    value_usd_per_useful_exaflop = rent_usd_per_gpu_hour / (peak_tflops * 1e-6 * utilization * 3600)

Because the lease option rebuilds the same useful training (``rebuild_fraction`` = 1), this
value cancels out of the lease-versus-keep difference; it matters for ``islands`` versus
``keep`` and whenever only part of the training is rebuilt. The notebook's sensitivity chart
shows how much.

Conventions: cash flows are monthly, month 0 is the start (capital and one-off costs), months
1..H are end-of-month flows, discounted at ``(1 + r_annual) ** (1 / 12) - 1`` per month with r_annual = ``cost.wacc`` (the
``numpy_financial.npv`` convention with a monthly rate). ``HOURS_PER_MONTH = 365.25 * 24 / 12
= 730.5``, the figure used to derive the S-1 rate per GPU-hour (reference Sec. 1f). Every
FLOP is counted against the **BF16 dense** peak. Every function takes scalars or numpy arrays
(a leading draws axis) and broadcasts, so one code path gives the point estimate and the Monte
Carlo draws. NPVs are risk-neutral expected values (termination enters as a probability).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import numpy_financial as npf
import pandas as pd

from analysis.catalog import Cluster, gpu, gpu_ids, load_cluster
from analysis.errors import InputError
from analysis.params import Spec
from analysis.serialize import plain as _plain

HOURS_PER_MONTH = 365.25 * 24 / 12          # 730.5 h, as in the derived S-1 rate (reference Sec. 1f)
SECONDS_PER_HOUR = 3600.0
LEASE_START = pd.Period("2026-05", freq="M")  # SpaceX S-1: lease fees start with the May-Jun 2026 ramp
OPTIONS = ("keep", "lease", "islands")
OPTION_LABELS = {"keep": "keep Colossus 1 for training", "lease": "lease Colossus 1, rebuild training on Colossus 2",
                 "islands": "re-partition Colossus 1 into homogeneous islands"}

# --------------------------------------------------------------------------- scenario section
PARAMETERS: dict[str, Spec] = {
    "horizon_months": Spec("months", "length of the cash-flow horizon (the S-1 term runs to May 2029)", min=1, max=120, integer=True),
    "lease_usd_per_month_s1": Spec("USD/month", "S-1 monthly fee of the Anthropic Cloud Services Agreement", min=0, min_inclusive=False),
    "s1_gpus_covered": Spec("GPUs", "GPUs the S-1 monthly fee covers (sets the implied rate per GPU-hour)", min=1),
    "lease_ramp_months": Spec("months", "months of discounted fees at the start of the lease", min=0, max=12),
    "lease_ramp_fee_fraction": Spec("fraction", "fee during the ramp as a share of the full fee", min=0, max=1),
    "lease_lock_in_months": Spec("months", "months before either side may give notice", min=0, max=36),
    "lease_notice_months": Spec("months", "notice period before a termination takes effect", min=0, max=36),
    "termination_probability_per_year": Spec("1/yr", "probability per year that the lessee gives notice (after the lock-in)", min=0, max=0.99),
    "lease_power_paid_by": Spec("", "who pays Colossus 1's electricity while it is leased", choices=("lessor", "lessee")),
    "c1_age_months_at_start": Spec("months", "GPU-weighted age of Colossus 1 at the start of the horizon (sets its book value)", min=0, max=240),
    "lease_transition_usd_per_gpu": Spec("USD/GPU", "one-off cost of handing Colossus 1 over and moving the training", min=0),
    "islands_transition_usd_per_gpu": Spec("USD/GPU", "one-off cost of re-partitioning Colossus 1 into islands", min=0),
    "islands_value_fraction": Spec("fraction", "value of an islands FLOP relative to a FLOP in one big job", min=0, max=1),
    "rebuild_fraction": Spec("fraction", "share of keep's useful training the lease option rebuilds on Colossus 2", min=0, max=1),
    "value_reference_gpu": Spec("", "GPU type whose rental market prices a useful training FLOP", choices=tuple(gpu_ids())),
    "market_rent_usd_per_gpu_hour": Spec("USD/GPU-h", "market rental of the reference GPU (1-year contract)", min=0, min_inclusive=False),
    "market_reference_utilization": Spec("fraction", "useful-FLOP utilization of a well-run homogeneous job on rented GPUs (BF16 dense peak)", min=0, max=1, min_inclusive=False),
    "c2_cost_basis": Spec("", "what a Colossus 2 GPU-hour costs the training: its TCO (analysis.cost) or its market rent (opportunity cost)", choices=("tco", "market")),
    "c2_market_usd_per_gpu_hour": Spec("USD/GPU-h", "market rent of a Blackwell GPU-hour (used when c2_cost_basis is market)", min=0),
}

CORE_INPUTS: dict[str, str] = {
    "horizon_months": "months (integer scalar)",
    "discount_rate_annual": "1/yr",
    "c1_gpus": "GPUs",
    "c1_peak_eflops_bf16_dense": "EFLOP/s (whole Colossus 1)",
    "utilization_keep": "fraction of BF16 dense peak",
    "utilization_islands": "fraction of BF16 dense peak",
    "utilization_colossus2": "fraction of BF16 dense peak",
    "c2_peak_tflops_bf16_dense_per_gpu": "TFLOP/s per GPU",
    "c2_usd_per_gpu_hour": "USD/GPU-h",
    "value_usd_per_useful_exaflop": "USD per 1e18 useful FLOP",
    "islands_value_fraction": "fraction",
    "rebuild_fraction": "fraction",
    "lease_usd_per_gpu_hour": "USD/GPU-h",
    "lease_ramp_months": "months",
    "lease_ramp_fee_fraction": "fraction",
    "termination_probability_per_year": "1/yr",
    "lease_lock_in_months": "months",
    "lease_notice_months": "months",
    "electricity_usd_per_mwh": "USD/MWh",
    "power_mw_keep": "MW facility",
    "power_mw_islands": "MW facility",
    "power_mw_lease": "MW facility paid by xAI while leased",
    "opex_usd_per_gpu_hour": "USD/GPU-h",
    "lease_transition_usd_per_gpu": "USD/GPU",
    "islands_transition_usd_per_gpu": "USD/GPU",
    "asset_value_start_usd": "USD",
    "asset_value_end_usd": "USD",
}
_FRACTIONS = ("utilization_keep", "utilization_islands", "utilization_colossus2", "islands_value_fraction",
              "rebuild_fraction", "lease_ramp_fee_fraction")
_POSITIVE = ("c1_gpus", "c1_peak_eflops_bf16_dense", "c2_peak_tflops_bf16_dense_per_gpu", "utilization_keep",
             "utilization_islands", "utilization_colossus2")


def validate_section(values: dict, cluster: Cluster) -> None:
    """Cross-checks of the ``economics`` section: the lock-in plus notice must fit in the horizon."""
    lock, notice, horizon = values["lease_lock_in_months"], values["lease_notice_months"], values["horizon_months"]
    if lock + notice >= horizon:
        raise InputError(f"economics.lease_lock_in_months + lease_notice_months: {lock:g} + {notice:g} is not below "
                         f"horizon_months {horizon:g}; the earliest exit must fall inside the horizon")


# --------------------------------------------------------------------------- finance primitives
def monthly_rate(annual_rate):
    """Monthly rate equivalent to an annual rate: ``(1 + r) ** (1 / 12) - 1``."""
    return np.power(1.0 + np.asarray(annual_rate, dtype=float), 1.0 / 12.0) - 1.0


def monthly_discount_factors(annual_rate, months: int) -> np.ndarray:
    """Discount factors for months 0..``months``: ``(1 + r_m) ** -t``; shape ``(..., months + 1)``.

    Month 0 is the start (factor 1); month t is the end of month t. A leading draws axis in
    ``annual_rate`` gives one row per draw.
    """
    t = np.arange(int(months) + 1)
    r_m = monthly_rate(annual_rate)[..., None]
    return np.power(1.0 + r_m, -t)


def npv_usd(cash_flows_usd_per_month, annual_rate) -> np.ndarray:
    """Net present value of monthly cash flows (last axis = months 0..H), vectorized over draws.

    Same convention as ``numpy_financial.npv(monthly_rate, values)``: ``values[0]`` is not
    discounted (Brealey-Myers-Allen, *Principles of Corporate Finance*, ch. 2, NPV = sum C_t / (1+r)^t).
    """
    flows = np.asarray(cash_flows_usd_per_month, dtype=float)
    return np.sum(flows * monthly_discount_factors(annual_rate, flows.shape[-1] - 1), axis=-1)


def irr_annual(cash_flows_usd_per_month) -> np.ndarray | float:
    """Internal rate of return, annualized ``(1 + irr_m) ** 12 - 1``, from monthly flows.

    Uses ``numpy_financial.irr`` (not vectorized: applied row by row along a leading axis, so
    use it for point estimates or a few draws). NaN when the flows never change sign.
    """
    flows = np.asarray(cash_flows_usd_per_month, dtype=float)

    def one(row):
        if not (np.any(row > 0) and np.any(row < 0)):
            return np.nan
        r_m = npf.irr(row)
        return np.nan if not np.isfinite(r_m) else (1.0 + r_m) ** 12 - 1.0

    if flows.ndim == 1:
        return float(one(flows))
    return np.apply_along_axis(one, -1, flows)


def net_book_value_fraction(age_months, life_years, salvage_fraction=0.0):
    """Straight-line book value as a share of capex at ``age_months``:
    ``1 - (1 - salvage) * min(age / life, 1)`` (the depreciation of :mod:`analysis.cost`)."""
    used = np.clip(np.asarray(age_months, dtype=float) / (12.0 * np.asarray(life_years, dtype=float)), 0.0, 1.0)
    return 1.0 - (1.0 - np.asarray(salvage_fraction, dtype=float)) * used


# --------------------------------------------------------------------------- derived prices
def implied_lease_usd_per_gpu_hour(lease_usd_per_month, gpus_covered):
    """Rate per GPU-hour implied by a monthly fee: ``fee / (GPUs * 730.5 h)`` (reference Sec. 1f:
    $1.25B / (325k * 730.5) = $5.27; $7.78 if only 220k GPUs are covered)."""
    return np.asarray(lease_usd_per_month, dtype=float) / (np.asarray(gpus_covered, dtype=float) * HOURS_PER_MONTH)


def value_usd_per_useful_exaflop(rent_usd_per_gpu_hour, peak_tflops_bf16_dense, utilization):
    """What one useful exaFLOP (1e18 FLOP) costs on rented homogeneous GPUs.

    ``rent / (peak_TFLOP/s * 1e-6 EFLOP/TFLOP * utilization * 3600 s)``. The utilization is
    against the BF16 dense peak and includes goodput (MFU x effective training time).
    """
    useful_exaflop_per_gpu_hour = np.asarray(peak_tflops_bf16_dense, dtype=float) * 1e-6 * np.asarray(utilization, dtype=float) * SECONDS_PER_HOUR
    return np.asarray(rent_usd_per_gpu_hour, dtype=float) / useful_exaflop_per_gpu_hour


def format_usd_billions(value_usd, digits: int = 1) -> str:
    """``-5.4e9`` -> ``'-$5.4B'`` (sign before the dollar sign), for prose in notebooks."""
    v = float(np.mean(value_usd))
    return f"{'-' if v < 0 else ''}${abs(v) / 1e9:,.{digits}f}B"


def lessee_usd_per_million_tokens(lease_usd_per_gpu_hour, tokens_per_s_per_gpu, load_fraction=1.0):
    """The lessee's cost of serving: ``rate / (tokens/s * 3600 * load) * 1e6`` USD per million tokens.

    ``tokens_per_s_per_gpu`` is the serving throughput per GPU (e.g. MLPerf Inference server
    scenario per GPU, reference Sec. 5a); ``load_fraction`` the share of paid hours spent serving.
    """
    tokens_per_hour = np.asarray(tokens_per_s_per_gpu, dtype=float) * SECONDS_PER_HOUR * np.asarray(load_fraction, dtype=float)
    if np.any(tokens_per_hour <= 0):
        raise InputError(f"tokens_per_s_per_gpu x load_fraction: {np.min(tokens_per_hour) / SECONDS_PER_HOUR:g} is not positive; expected > 0 tokens/s")
    return np.asarray(lease_usd_per_gpu_hour, dtype=float) / tokens_per_hour * 1e6


# --------------------------------------------------------------------------- lease contract
def lease_survival(months: int, termination_probability_per_year, lock_in_months, notice_months) -> np.ndarray:
    """Probability that the lease is still paying in month t (t = 0..months); shape ``(..., months + 1)``.

    Notice may be given at the end of any month from ``lock_in_months`` on with a monthly
    hazard ``h = 1 - (1 - p_year) ** (1/12)``; the lease then pays ``notice_months`` more.
    Month t is paid unless notice was given at the end of one of months lock_in..t-notice-1,
    so ``S(t) = (1 - h) ** max(0, t - notice - lock_in)`` (S-1: either side may terminate on 90
    days' notice after the first 3 months).
    """
    t = np.arange(int(months) + 1)
    p = np.asarray(termination_probability_per_year, dtype=float)[..., None]
    h = 1.0 - np.power(1.0 - p, 1.0 / 12.0)
    chances = np.clip(t - np.asarray(notice_months, dtype=float)[..., None] - np.asarray(lock_in_months, dtype=float)[..., None], 0.0, None)
    return np.power(1.0 - h, chances)


def ramp_fee_factors(months: int, ramp_months, ramp_fee_fraction) -> np.ndarray:
    """Fee in month t as a share of the full fee (t = 0..months; month 0 carries no fee).

    The first ``ramp_months`` months (fractional allowed) pay ``ramp_fee_fraction``.
    """
    t = np.arange(int(months) + 1)
    in_ramp = np.clip(np.asarray(ramp_months, dtype=float)[..., None] - (t - 1), 0.0, 1.0)
    factor = 1.0 - in_ramp * (1.0 - np.asarray(ramp_fee_fraction, dtype=float)[..., None])
    return np.where(t == 0, 0.0, factor)


# --------------------------------------------------------------------------- the options
def check_inputs(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Every :data:`CORE_INPUTS` key present, finite and in range; returns float arrays."""
    missing = [k for k in CORE_INPUTS if k not in inputs]
    if missing:
        raise InputError(f"inputs: missing {missing[0]!r}; compare_options needs {', '.join(CORE_INPUTS)}")
    horizon = inputs["horizon_months"]
    if np.ndim(horizon) != 0 or float(horizon) != int(horizon) or int(horizon) < 1:
        raise InputError(f"horizon_months: {horizon!r} is not allowed; expected one positive integer (months)")
    out = {}
    for key in CORE_INPUTS:
        value = np.asarray(inputs[key], dtype=float)
        if not np.all(np.isfinite(value)):
            raise InputError(f"{key}: {value[~np.isfinite(value)].flat[0]!r} is not finite; expected a number ({CORE_INPUTS[key]})")
        low = float(np.min(value))
        if low < 0:
            raise InputError(f"{key}: {low:g} is negative; expected >= 0 ({CORE_INPUTS[key]})")
        if key in _POSITIVE and low <= 0:
            raise InputError(f"{key}: {low:g} is not positive; expected > 0 ({CORE_INPUTS[key]})")
        if key in _FRACTIONS and float(np.max(value)) > 1:
            raise InputError(f"{key}: {float(np.max(value)):g} is above 1; expected a fraction in [0, 1]")
        out[key] = value
    if np.max(out["termination_probability_per_year"]) >= 1:
        raise InputError(f"termination_probability_per_year: {np.max(out['termination_probability_per_year']):g} is not below 1; expected [0, 1)")
    out["horizon_months"] = int(horizon)
    return out


def cash_flow_components(inputs: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Monthly cash flows (USD, months 0..H on the last axis) of each option, by component.

    Per month (t >= 1), with E = peak * utilization * seconds (useful exaFLOPs) and
    V = value per useful exaFLOP:

    * keep:    V E_keep - power(P_keep) - opex
    * islands: V f_islands E_islands - power(P_islands) - opex
    * lease, while paying (probability S_t): rate * GPUs * hours * ramp_t - power(P_lease) - opex
      + V b E_keep - c2_rate * b E_keep / (C2 useful exaFLOP per GPU-hour), b = rebuild fraction;
      after an exit (1 - S_t): the keep flows.

    Month 0 carries minus the asset value (the capital tied up, the same for every option)
    and the one-off transition costs; month H adds the residual asset value.
    """
    x = check_inputs(inputs)
    H = x["horizon_months"]
    t = np.arange(H + 1)
    running = (t >= 1).astype(float)                    # months that carry operating flows
    at_start, at_end = (t == 0).astype(float), (t == H).astype(float)

    def col(key):                                       # broadcast an input against the month axis
        return x[key][..., None]

    seconds = HOURS_PER_MONTH * SECONDS_PER_HOUR
    exaflops_keep = col("c1_peak_eflops_bf16_dense") * col("utilization_keep") * seconds * running
    exaflops_islands = col("c1_peak_eflops_bf16_dense") * col("utilization_islands") * seconds * running
    value = col("value_usd_per_useful_exaflop")
    opex = -col("opex_usd_per_gpu_hour") * col("c1_gpus") * HOURS_PER_MONTH * running

    def power(key):
        return -col(key) * HOURS_PER_MONTH * col("electricity_usd_per_mwh") * running

    capital = -col("asset_value_start_usd") * at_start + col("asset_value_end_usd") * at_end

    keep = {"training value": value * exaflops_keep, "power": power("power_mw_keep"), "operations": opex,
            "capital": capital}

    islands = {"training value": value * col("islands_value_fraction") * exaflops_islands,
               "power": power("power_mw_islands"), "operations": opex,
               "transition": -col("islands_transition_usd_per_gpu") * col("c1_gpus") * at_start, "capital": capital}

    survival = lease_survival(H, x["termination_probability_per_year"], x["lease_lock_in_months"], x["lease_notice_months"])
    ramp = ramp_fee_factors(H, x["lease_ramp_months"], x["lease_ramp_fee_fraction"])
    rebuilt = col("rebuild_fraction") * exaflops_keep
    c2_exaflop_per_gpu_hour = col("c2_peak_tflops_bf16_dense_per_gpu") * 1e-6 * col("utilization_colossus2") * SECONDS_PER_HOUR
    lease = {
        "lease revenue": survival * col("lease_usd_per_gpu_hour") * col("c1_gpus") * HOURS_PER_MONTH * ramp,
        "training value": survival * value * rebuilt + (1 - survival) * keep["training value"],
        "Colossus 2 training": -survival * col("c2_usd_per_gpu_hour") * rebuilt / c2_exaflop_per_gpu_hour,
        "power": survival * power("power_mw_lease") + (1 - survival) * keep["power"],
        "operations": opex,
        "transition": -col("lease_transition_usd_per_gpu") * col("c1_gpus") * at_start,
        "capital": capital,
    }
    extra = {"survival": survival, "ramp": ramp, "exaflops_keep": exaflops_keep, "exaflops_islands": exaflops_islands,
             "exaflops_lease": survival * rebuilt + (1 - survival) * exaflops_keep}
    return {"keep": keep, "lease": lease, "islands": islands, "_extra": extra}


def _net(components: dict[str, np.ndarray]) -> np.ndarray:
    return sum(components.values())


@dataclass
class OptionsResult:
    """NPV, IRR, useful training and cost per useful exaFLOP of each option (point or draws).

    Values are floats for a point estimate and arrays (one per draw) for Monte Carlo.
    ``irr`` is filled for point estimates only (numpy_financial.irr is not vectorized).
    """

    npv_usd: dict
    irr: dict
    useful_exaflops: dict
    usd_per_useful_exaflop: dict
    break_even_lease_usd_per_gpu_hour: Any
    break_even_vs_islands_usd_per_gpu_hour: Any
    break_even_utilization_keep: Any
    lease_usd_per_gpu_hour: Any
    horizon_months: int
    discount_rate_annual: Any
    inputs: dict = field(repr=False, default_factory=dict)
    cash_flows: pd.DataFrame | None = field(repr=False, default=None)
    drivers: pd.DataFrame | None = field(repr=False, default=None)
    scenario: str = ""

    @property
    def n_draws(self) -> int:
        return int(np.size(self.npv_usd["keep"])) if np.ndim(self.npv_usd["keep"]) else 0

    @property
    def npv_lease_minus_keep_usd(self):
        return self.npv_usd["lease"] - self.npv_usd["keep"]

    @property
    def p_lease_beats_keep(self) -> float:
        """Share of draws (or 0/1 for a point estimate) where NPV(lease) > NPV(keep)."""
        return float(np.mean(np.asarray(self.npv_usd["lease"]) > np.asarray(self.npv_usd["keep"])))

    @property
    def p_lease_beats_islands(self) -> float:
        return float(np.mean(np.asarray(self.npv_usd["lease"]) > np.asarray(self.npv_usd["islands"])))

    @property
    def best_option(self) -> str:
        means = {o: float(np.mean(v)) for o, v in self.npv_usd.items()}
        return max(means, key=means.get)

    def table(self) -> pd.DataFrame:
        """One row per option (means over draws for Monte Carlo)."""
        rows = []
        for o in OPTIONS:
            rows.append({"option": o, "description": OPTION_LABELS[o], "npv_usd": float(np.mean(self.npv_usd[o])),
                         "irr_annual": self.irr.get(o, np.nan) if self.irr else np.nan,
                         "useful_exaflops": float(np.mean(self.useful_exaflops[o])),
                         "usd_per_useful_exaflop": float(np.mean(self.usd_per_useful_exaflop[o]))})
        return pd.DataFrame(rows).set_index("option")

    def quantiles(self, q=(0.05, 0.5, 0.95)) -> pd.DataFrame:
        """NPV quantiles per option (draws) - one row per option."""
        return pd.DataFrame({o: np.quantile(np.asarray(self.npv_usd[o], dtype=float), q) for o in OPTIONS},
                            index=[f"p{int(round(100 * v)):02d}" for v in q]).T

    def npv_draws(self) -> pd.DataFrame:
        """Long table (option, npv_usd) of the draws, for distribution plots."""
        return pd.DataFrame({"option": np.repeat(OPTIONS, max(self.n_draws, 1)),
                             "npv_usd": np.concatenate([np.atleast_1d(self.npv_usd[o]) for o in OPTIONS])})

    def component_table(self) -> pd.DataFrame:
        """Present value (USD) of each cash-flow component (rows) per option (columns), point estimate."""
        if self.cash_flows is None:
            raise InputError("result: has no cash-flow table; it is built for point estimates (n_draws=None)")
        df = monthly_discount_factors(self.discount_rate_annual, self.horizon_months)
        pv = self.cash_flows.assign(pv_usd=self.cash_flows["usd"] * df[self.cash_flows["month"].to_numpy()])
        table = pv.pivot_table(index="component", columns="option", values="pv_usd", aggfunc="sum", fill_value=0.0)
        table = table[list(OPTIONS)]
        table.loc["NPV"] = table.sum()
        return table

    def break_even_draws(self) -> pd.DataFrame:
        """Long table (against, usd_per_gpu_hour) of the break-even lease rates over the draws."""
        n = max(self.n_draws, 1)
        return pd.DataFrame({"against": np.repeat(["keep", "islands"], n),
                             "usd_per_gpu_hour": np.concatenate([np.atleast_1d(self.break_even_lease_usd_per_gpu_hour),
                                                                 np.atleast_1d(self.break_even_vs_islands_usd_per_gpu_hour)])})

    def to_dict(self) -> dict:
        """JSON-safe: ``npv_usd``/``irr``/... ``{option: value}`` (means for Monte Carlo) and the
        break-even lease rate; Monte Carlo adds NPV quantiles and the probabilities."""
        mean = lambda v: _plain(np.mean(v))  # noqa: E731
        out = {
            "npv_usd": {o: mean(self.npv_usd[o]) for o in OPTIONS},
            "irr": {o: _plain(self.irr.get(o, np.nan)) for o in OPTIONS},
            "useful_exaflops": {o: mean(self.useful_exaflops[o]) for o in OPTIONS},
            "usd_per_useful_exaflop": {o: mean(self.usd_per_useful_exaflop[o]) for o in OPTIONS},
            "break_even_lease_usd_per_gpu_hour": mean(self.break_even_lease_usd_per_gpu_hour),
            "break_even_vs_islands_usd_per_gpu_hour": mean(self.break_even_vs_islands_usd_per_gpu_hour),
            "break_even_utilization_keep": _plain(np.median(self.break_even_utilization_keep)),
            "lease_usd_per_gpu_hour": mean(self.lease_usd_per_gpu_hour),
            "npv_lease_minus_keep_usd": mean(self.npv_lease_minus_keep_usd),
            "best_option": self.best_option,
            "horizon_months": self.horizon_months,
            "discount_rate_annual": mean(self.discount_rate_annual),
        }
        if self.n_draws:
            out["n_draws"] = self.n_draws
            out["p_lease_beats_keep"] = self.p_lease_beats_keep
            out["p_lease_beats_islands"] = self.p_lease_beats_islands
            out["npv_usd_quantiles"] = {o: {k: _plain(v) for k, v in row.items()} for o, row in self.quantiles().iterrows()}
        return out

    def summary(self) -> str:
        kind = f"Monte Carlo, {self.n_draws:,} draws (means)" if self.n_draws else "point estimate"
        lines = [f"Lease versus rebuild{' - ' + self.scenario if self.scenario else ''} ({kind}); "
                 f"{self.horizon_months} months at {float(np.mean(self.discount_rate_annual)):.1%}/yr",
                 f"{'option':<8} {'NPV ($B)':>10} {'IRR/yr':>8} {'useful EFLOP':>14} {'$/useful EFLOP':>15}"]
        for o, row in self.table().iterrows():
            irr = "" if not np.isfinite(row.irr_annual) else f"{row.irr_annual:.1%}"
            lines.append(f"{o:<8} {row.npv_usd / 1e9:>10.2f} {irr:>8} {row.useful_exaflops:>14.4g} {row.usd_per_useful_exaflop:>15.3f}")
        lines.append(f"break-even lease rate vs keep: ${float(np.mean(self.break_even_lease_usd_per_gpu_hour)):.2f}/GPU-h "
                     f"(vs islands ${float(np.mean(self.break_even_vs_islands_usd_per_gpu_hour)):.2f}); "
                     f"lease rate used ${float(np.mean(self.lease_usd_per_gpu_hour)):.2f}/GPU-h")
        lines.append(f"keep matches lease at a Colossus 1 utilization of {float(np.median(self.break_even_utilization_keep)):.2f} "
                     f"of BF16 dense peak (median; used {float(np.mean(self.inputs['utilization_keep'])):.2f})")
        if self.n_draws:
            lines.append(f"P(lease beats keep) = {self.p_lease_beats_keep:.1%}; P(lease beats islands) = {self.p_lease_beats_islands:.1%}")
        lines.append(f"best option by NPV: {self.best_option}")
        return "\n".join(lines)


def _cash_flow_frame(parts: dict, horizon: int) -> pd.DataFrame:
    periods = ["start"] + [str(LEASE_START + (m - 1)) for m in range(1, horizon + 1)]
    rows = []
    for option in OPTIONS:
        for component, flows in parts[option].items():
            flows = np.broadcast_to(flows, (horizon + 1,))
            rows.append(pd.DataFrame({"option": option, "component": component, "month": np.arange(horizon + 1),
                                      "period": periods, "usd": flows}))
    return pd.concat(rows, ignore_index=True)


def compare_options(inputs: Mapping[str, Any], with_irr: bool | None = None) -> OptionsResult:
    """NPV, IRR, useful exaFLOPs and levelized cost per useful exaFLOP of keep / lease / islands.

    ``inputs``: every key of :data:`CORE_INPUTS` as a scalar or an array of draws (all arrays
    the same length). ``with_irr`` defaults to True for point estimates only.

    * Break-even utilization of keep: the Colossus 1 utilization at which NPV(keep) = NPV(lease)
      (linear in it; above 1 means no achievable utilization makes keeping better; inf when
      leasing does not gain from a lower keep utilization).
    * Break-even lease rate (NPV is linear in the rate): ``r* = r - (NPV_lease - NPV_keep) / B``
      with ``B = dNPV_lease/dr = sum_t DF_t S_t ramp_t GPUs hours``.
    * Cost per useful exaFLOP is levelized: PV(costs of the training) / PV(useful exaFLOPs),
      where keep and islands carry Colossus 1's capital charge ``(A_0 - DF_H A_H) / sum DF_t``,
      power and operations, and lease carries the Colossus 2 cost while leased and keep's
      costs after an exit.
    """
    x = check_inputs(inputs)
    H, rate = x["horizon_months"], x["discount_rate_annual"]
    parts = cash_flow_components(x)
    extra = parts["_extra"]
    flows = {o: _net(parts[o]) for o in OPTIONS}
    npv = {o: npv_usd(flows[o], rate) for o in OPTIONS}

    df = monthly_discount_factors(rate, H)
    running = (np.arange(H + 1) >= 1)
    d_npv_d_rate = np.sum(df * extra["survival"] * extra["ramp"], axis=-1) * x["c1_gpus"] * HOURS_PER_MONTH
    break_even = x["lease_usd_per_gpu_hour"] - (npv["lease"] - npv["keep"]) / d_npv_d_rate
    break_even_islands = x["lease_usd_per_gpu_hour"] - (npv["lease"] - npv["islands"]) / d_npv_d_rate

    # NPV(lease) - NPV(keep) is linear in keep's utilization: solve from a second evaluation.
    shifted = {**x, "utilization_keep": np.minimum(x["utilization_keep"] + 0.05, 1.0)}
    shifted["utilization_keep"] = np.where(shifted["utilization_keep"] > x["utilization_keep"], shifted["utilization_keep"],
                                           x["utilization_keep"] - 0.05)
    moved = cash_flow_components(shifted)
    gap0 = npv["lease"] - npv["keep"]
    gap1 = npv_usd(_net(moved["lease"]), rate) - npv_usd(_net(moved["keep"]), rate)
    slope = (gap1 - gap0) / (shifted["utilization_keep"] - x["utilization_keep"])
    with np.errstate(divide="ignore", invalid="ignore"):
        break_even_u = np.where(slope < 0, x["utilization_keep"] - gap0 / slope, np.inf)

    capital_charge = (x["asset_value_start_usd"] - df[..., -1] * x["asset_value_end_usd"]) / np.sum(df * running, axis=-1)
    cap = capital_charge[..., None] * running
    keep_costs = cap - parts["keep"]["power"] - parts["keep"]["operations"]
    islands_costs = cap - parts["islands"]["power"] - parts["islands"]["operations"] - parts["islands"]["transition"]
    s = extra["survival"]
    lease_costs = -parts["lease"]["Colossus 2 training"] + (1 - s) * keep_costs
    pv = lambda a: np.sum(np.asarray(a) * df, axis=-1)  # noqa: E731
    exaflops = {"keep": extra["exaflops_keep"], "lease": extra["exaflops_lease"], "islands": extra["exaflops_islands"]}
    with np.errstate(divide="ignore", invalid="ignore"):
        per_exaflop = {"keep": pv(keep_costs) / pv(exaflops["keep"]), "islands": pv(islands_costs) / pv(exaflops["islands"]),
                       "lease": pv(lease_costs) / pv(exaflops["lease"])}
    shape = np.broadcast_shapes(*(np.shape(v) for k, v in x.items() if k != "horizon_months"))
    point = shape == ()
    if with_irr is None:
        with_irr = point
    irr = {o: irr_annual(np.broadcast_to(flows[o], (*shape, H + 1))) for o in OPTIONS} if with_irr else {}

    def squeeze(v):
        v = np.broadcast_to(v, shape)
        return float(v) if point else np.array(v)
    return OptionsResult(
        npv_usd={o: squeeze(v) for o, v in npv.items()},
        irr={o: squeeze(v) for o, v in irr.items()},
        useful_exaflops={o: squeeze(np.sum(np.broadcast_to(v, (*np.shape(v)[:-1], H + 1)), axis=-1)) for o, v in exaflops.items()},
        usd_per_useful_exaflop={o: squeeze(v) for o, v in per_exaflop.items()},
        break_even_lease_usd_per_gpu_hour=squeeze(break_even),
        break_even_vs_islands_usd_per_gpu_hour=squeeze(break_even_islands),
        break_even_utilization_keep=squeeze(break_even_u),
        lease_usd_per_gpu_hour=squeeze(x["lease_usd_per_gpu_hour"]),
        horizon_months=H, discount_rate_annual=squeeze(rate),
        inputs={k: (v if k == "horizon_months" else squeeze(v)) for k, v in x.items()},
        cash_flows=_cash_flow_frame({o: parts[o] for o in OPTIONS}, H) if point else None,
    )


def npv_vs_lease_rate(inputs: Mapping[str, Any], rates_usd_per_gpu_hour=None) -> pd.DataFrame:
    """NPV of each option over a grid of lease rates (point inputs): long table with
    ``lease_usd_per_gpu_hour``, ``option``, ``npv_usd`` and ``npv_busd`` (billions).
    Default grid: 31 rates from 0 to 1.5 x the inputs' lease rate."""
    if rates_usd_per_gpu_hour is None:
        rates_usd_per_gpu_hour = np.linspace(0.0, 1.5 * float(inputs["lease_usd_per_gpu_hour"]), 31)
    rates = np.asarray(rates_usd_per_gpu_hour, dtype=float)
    if rates.ndim != 1 or rates.size < 2:
        raise InputError(f"rates_usd_per_gpu_hour: {rates.shape} values; expected a 1-D grid of at least 2 rates")
    point = {k: v for k, v in inputs.items()}
    if any(np.ndim(v) for k, v in point.items() if k != "horizon_months"):
        raise InputError("inputs: hold arrays of draws; npv_vs_lease_rate needs point inputs (result.inputs of a point estimate)")
    result = compare_options({**point, "lease_usd_per_gpu_hour": rates}, with_irr=False)
    frame = pd.concat([pd.DataFrame({"lease_usd_per_gpu_hour": rates, "option": o, "npv_usd": result.npv_usd[o]}) for o in OPTIONS],
                      ignore_index=True)
    return frame.assign(npv_busd=frame["npv_usd"] / 1e9)


def break_even_lease_usd_per_gpu_hour(inputs: Mapping[str, Any], against: str = "keep"):
    """Lease rate per GPU-hour at which NPV(lease) equals NPV(``against``: keep | islands)."""
    if against not in ("keep", "islands"):
        raise InputError(f"against: {against!r} is not allowed; use keep or islands")
    result = compare_options(inputs, with_irr=False)
    return result.break_even_lease_usd_per_gpu_hour if against == "keep" else result.break_even_vs_islands_usd_per_gpu_hour


# --------------------------------------------------------------------------- from a scenario
SECTIONS_USED = ("economics", "power", "cost")


def derive_inputs(econ: Mapping[str, Any], power_values: Mapping[str, Any], cost_values: Mapping[str, Any], c1: Cluster,
                  c2: Cluster, utilization_by_option: Mapping[str, Any] | None = None,
                  power_mw_by_option: Mapping[str, Any] | None = None, **overrides) -> dict:
    """Core inputs of :func:`compare_options` from the ``economics``, ``power`` and ``cost``
    sections (scalars or arrays of draws) and the two clusters.

    * discount rate = ``cost.wacc`` (one cost of capital for TCO and NPV);
    * lease rate = S-1 monthly fee / (GPUs covered x 730.5 h), applied to Colossus 1's GPUs;
    * value per useful exaFLOP from the reference GPU's market rent (:func:`value_usd_per_useful_exaflop`);
    * power: Colossus 1 facility MW at the power section's load (:func:`analysis.power.cluster_power`)
      for every option, unless ``power_mw_by_option`` ``{keep, islands, lease}`` gives MW;
      electricity at ``cost.electricity_usd_per_mwh``; zero for xAI while leased if the lessee pays;
    * operations other than power = maintenance + staff of :func:`analysis.cost.cluster_tco`;
    * Colossus 1's asset value = its capex (``analysis.cost``) at straight-line book value
      (IT over ``cost.life_years`` net of salvage, facility over ``cost.facility_life_years``)
      at ``c1_age_months_at_start`` and at the end of the horizon;
    * a Colossus 2 GPU-hour costs its TCO per GPU-hour (``analysis.cost``: capital charge over
      ``cost.life_years``, the 5-year term of the SPV that leases the GPUs to xAI, Bloomberg
      2025-10-08, + power + operations), or the market rent when ``c2_cost_basis`` is ``market``;
    * utilizations ``{keep, islands, colossus2}`` from ``utilization_by_option`` (fractions of BF16
      dense peak; :func:`modelled_utilization` computes them with analysis.utilization);
    * ``overrides`` replace any core input.
    """
    from analysis import cost as cost_model
    from analysis import power as power_model

    e = {k: (v if isinstance(v, str) else np.asarray(v, dtype=float)) for k, v in econ.items()}
    missing = set(PARAMETERS) - set(e)
    if missing:
        raise InputError(f"economics.{sorted(missing)[0]}: missing; the economics section takes {', '.join(PARAMETERS)}")
    h = e["horizon_months"]
    if np.ndim(h) and np.ptp(h) > 0:
        raise InputError("economics.horizon_months: varies across draws; it sets the time axis and must be one integer")
    horizon = int(np.ravel(h)[0])

    util = dict(utilization_by_option or {})
    unknown = set(util) - {"keep", "islands", "colossus2"}
    if unknown:
        raise InputError(f"utilization_by_option: unknown option {sorted(unknown)[0]!r}; use keep, islands, colossus2")
    missing = {"keep", "islands", "colossus2"} - set(util)
    if missing:
        raise InputError(f"utilization_by_option: missing {sorted(missing)[0]!r}; give keep, islands and colossus2 "
                         "(economics.modelled_utilization computes them from the utilization chain)")

    tco1 = cost_model.cluster_tco(c1, power_values, cost_values)
    tco2 = cost_model.cluster_tco(c2, power_values, cost_values)
    power = dict(power_mw_by_option or {})
    unknown = set(power) - {"keep", "islands", "lease"}
    if unknown:
        raise InputError(f"power_mw_by_option: unknown option {sorted(unknown)[0]!r}; use keep, islands, lease")
    for option in ("keep", "islands", "lease"):
        power.setdefault(option, tco1.power.facility_mw)
    if e["lease_power_paid_by"] == "lessee":
        power["lease"] = 0.0 * np.asarray(power["lease"], dtype=float)

    c1_gpus = float(c1.gpus)
    by_hour = tco1.tco_by_component_usd_per_hour
    facility_capex = tco1.capex_by_component_usd["facility_usd"]
    it_capex = tco1.capex_usd - facility_capex

    def book_value(age_months):
        return (it_capex * net_book_value_fraction(age_months, cost_values["life_years"], cost_values["salvage_fraction"])
                + facility_capex * net_book_value_fraction(age_months, cost_values["facility_life_years"]))

    reference = gpu(e["value_reference_gpu"])
    inputs = {
        "horizon_months": horizon,
        "discount_rate_annual": cost_values["wacc"],
        "c1_gpus": c1_gpus,
        "c1_peak_eflops_bf16_dense": tco1.peak_eflops_bf16_dense,
        "utilization_keep": util["keep"], "utilization_islands": util["islands"], "utilization_colossus2": util["colossus2"],
        "c2_peak_tflops_bf16_dense_per_gpu": tco2.peak_eflops_bf16_dense / tco2.gpus * 1e6,
        "c2_usd_per_gpu_hour": e["c2_market_usd_per_gpu_hour"] if e["c2_cost_basis"] == "market" else tco2.tco_usd_per_gpu_hour,
        "value_usd_per_useful_exaflop": value_usd_per_useful_exaflop(
            e["market_rent_usd_per_gpu_hour"], reference.bf16_tflops_dense, e["market_reference_utilization"]),
        "islands_value_fraction": e["islands_value_fraction"],
        "rebuild_fraction": e["rebuild_fraction"],
        "lease_usd_per_gpu_hour": implied_lease_usd_per_gpu_hour(e["lease_usd_per_month_s1"], e["s1_gpus_covered"]),
        "lease_ramp_months": e["lease_ramp_months"], "lease_ramp_fee_fraction": e["lease_ramp_fee_fraction"],
        "termination_probability_per_year": e["termination_probability_per_year"],
        "lease_lock_in_months": e["lease_lock_in_months"], "lease_notice_months": e["lease_notice_months"],
        "electricity_usd_per_mwh": cost_values["electricity_usd_per_mwh"],
        "power_mw_keep": power["keep"], "power_mw_islands": power["islands"], "power_mw_lease": power["lease"],
        "opex_usd_per_gpu_hour": (by_hour["maintenance"] + by_hour["staff"]) / c1_gpus,
        "lease_transition_usd_per_gpu": e["lease_transition_usd_per_gpu"],
        "islands_transition_usd_per_gpu": e["islands_transition_usd_per_gpu"],
        "asset_value_start_usd": book_value(e["c1_age_months_at_start"]),
        "asset_value_end_usd": book_value(e["c1_age_months_at_start"] + horizon),
    }
    unknown = set(overrides) - set(CORE_INPUTS)
    if unknown:
        raise InputError(f"{sorted(unknown)[0]}: unknown input; overrides must be keys of CORE_INPUTS ({', '.join(CORE_INPUTS)})")
    inputs.update(overrides)
    return inputs


def _section_values(sc, draws: dict | None) -> dict[str, dict]:
    missing = [s for s in SECTIONS_USED if s not in sc.params]
    if missing:
        raise InputError(f"scenario {sc.name}: has no {missing[0]} section; economics needs {', '.join(SECTIONS_USED)} "
                         f"(analysis/{missing[0]}.py and data/parameters/{missing[0]}.yaml)")
    if draws is None:
        return {s: sc.values(s) for s in SECTIONS_USED}
    return {s: {k: draws[f"{s}.{k}"] for k in sc.params[s]} for s in SECTIONS_USED}


def _check_draw_arrays(named: Mapping[str, Any], n_draws: int) -> dict[str, np.ndarray]:
    """Arrays among ``named`` must have one value per draw; returns the ones that vary."""
    varying = {}
    for name, value in named.items():
        v = np.asarray(value, dtype=float)
        if v.ndim > 1 or (v.ndim == 1 and len(v) != n_draws):
            raise InputError(f"{name}: {v.shape} values; expected {n_draws} (one per draw) or a scalar")
        if v.ndim == 1 and np.ptp(v) > 0:
            varying[name] = v
    return varying


def from_scenario(sc, n_draws: int | None = None, seed: int = 0, utilization_by_option: Mapping[str, Any] | None = None,
                  power_mw_by_option: Mapping[str, Any] | None = None, colossus2: str = "colossus2", **overrides) -> OptionsResult:
    """Compare the options for scenario ``sc`` (its cluster is Colossus 1; ``colossus2`` names
    the cluster the training moves to): a point estimate (``n_draws=None``) or ``n_draws``
    Monte Carlo draws of every ranged ``economics``, ``power`` and ``cost`` parameter
    (``sc.sample``: triangular within the sourced range, reproducible by ``seed``).

    Arrays in ``utilization_by_option`` / ``power_mw_by_option`` / ``overrides`` must have
    ``n_draws`` entries; the ones that vary join ``result.drivers`` (the regressors of
    :func:`sensitivity`).
    """
    if n_draws is not None and (int(n_draws) != n_draws or n_draws < 2):
        raise InputError(f"n_draws: {n_draws!r} is not allowed; expected an integer >= 2 (or None for a point estimate)")
    draws = None if n_draws is None else sc.sample(int(n_draws), seed=seed)
    if utilization_by_option is None:
        utilization_by_option = modelled_utilization(sc, colossus2, n_draws, seed)
    values = _section_values(sc, draws)
    drivers = None
    if draws is not None:
        drivers = pd.DataFrame({path: v for path, v in draws.items() if path.split(".")[0] in SECTIONS_USED
                                and not isinstance(v, str) and np.ptp(v) > 0})
        extras = {**{f"utilization.{k}": v for k, v in (utilization_by_option or {}).items()},
                  **{f"power_mw.{k}": v for k, v in (power_mw_by_option or {}).items()}, **overrides}
        for name, v in _check_draw_arrays(extras, int(n_draws)).items():
            drivers[name] = v
    inputs = derive_inputs(values["economics"], values["power"], values["cost"], sc.cluster, load_cluster(colossus2),
                           utilization_by_option, power_mw_by_option, **overrides)
    result = compare_options(inputs)
    result.drivers = drivers
    result.scenario = sc.name
    return result


def one_at_a_time(sc, output: str = "npv_lease_minus_keep_usd", colossus2: str = "colossus2", **kwargs) -> pd.DataFrame:
    """Tornado table: ``output`` with each ranged parameter of the sections used set to its low
    and its high value, the others at their central values (one vectorized evaluation).

    Returns a frame indexed by parameter with ``low``, ``high`` (the output) and the attribute
    ``base`` (output at the central values) for :func:`analysis.plots.tornado`.
    """
    central = {s: sc.values(s) for s in SECTIONS_USED}
    ranged = [(s, k, p) for s in SECTIONS_USED for k, p in sc.params[s].items() if p.has_range]
    n = 2 * len(ranged) + 1
    values = {s: {k: (v if isinstance(v, str) else np.full(n, float(v))) for k, v in central[s].items()} for s in SECTIONS_USED}
    for i, (s, k, p) in enumerate(ranged):
        values[s][k][2 * i] = p.low
        values[s][k][2 * i + 1] = p.high
    kwargs.setdefault("utilization_by_option", modelled_utilization(sc, colossus2))
    inputs = derive_inputs(values["economics"], values["power"], values["cost"], sc.cluster, load_cluster(colossus2), **kwargs)
    result = compare_options(inputs, with_irr=False)
    y = _outputs(result, output)
    table = pd.DataFrame({"low": y[0:-1:2], "high": y[1:-1:2]}, index=[f"{s}.{k}" for s, k, _ in ranged])
    table.attrs["base"] = float(y[-1])
    table.attrs["output"] = output
    return table


# --------------------------------------------------------------------------- sensitivity
def _outputs(result: OptionsResult, output: str) -> np.ndarray:
    outputs = {"npv_lease_minus_keep_usd": result.npv_lease_minus_keep_usd,
               "break_even_lease_usd_per_gpu_hour": result.break_even_lease_usd_per_gpu_hour,
               **{f"npv_{o}_usd": result.npv_usd[o] for o in OPTIONS}}
    if output not in outputs:
        raise InputError(f"output: {output!r} is not allowed; use one of {', '.join(outputs)}")
    return np.asarray(outputs[output], dtype=float)


def sensitivity(result: OptionsResult, output: str = "npv_lease_minus_keep_usd"):
    """Standardized regression coefficients (SRC, with rank-based SRRC and both R^2) of
    ``output`` on the varying Monte Carlo drivers, by :func:`analysis.uncertainty.standardized_regression`
    (Saltelli et al. 2008, *Global Sensitivity Analysis: The Primer*, Sec. 1.2.5).

    ``output``: ``npv_lease_minus_keep_usd``, ``npv_<option>_usd``, ``break_even_lease_usd_per_gpu_hour``.
    """
    from analysis.uncertainty import standardized_regression

    if result.drivers is None or result.n_draws < 3:
        raise InputError("result: has no Monte Carlo draws; call from_scenario(sc, n_draws=...) first")
    y = _outputs(result, output)
    X = result.drivers.loc[:, result.drivers.std() > 0]
    if X.shape[1] == 0 or np.std(y) == 0:
        raise InputError(f"{output}: nothing varies across the draws; give parameters ranges (low/high)")
    return standardized_regression(X, y, output)


# --------------------------------------------------------------------------- modelled utilization per option
def modelled_utilization(sc, colossus2: str = "colossus2", n_draws: int | None = None, seed: int = 0) -> dict:
    """``{keep, islands, colossus2}`` cluster utilization (fraction of BF16 dense peak) from the
    utilization chain: Colossus 1 as the scenario runs it, Colossus 1 as homogeneous islands,
    and the ``colossus2`` scenario. Point values, or ``n_draws`` Monte Carlo draws each."""
    from analysis import uncertainty, utilization
    from analysis.scenario import load_scenario

    successor = load_scenario(colossus2)
    if n_draws is None:
        return {"keep": utilization.point(sc).value_bf16_dense,
                "islands": utilization.point(sc, split="islands").value_bf16_dense,
                "colossus2": utilization.point(successor).value_bf16_dense}

    def bf16(draws):
        column = "utilization" if draws.denominator == "bf16 dense" else "utilization_other_denominator"
        return draws.outputs[column].to_numpy()

    islands = uncertainty.utilization_draws(sc, n_draws, seed, split="islands")
    return {"keep": bf16(uncertainty.utilization_draws(sc, n_draws, seed)), "islands": bf16(islands),
            "colossus2": bf16(uncertainty.utilization_draws(successor, n_draws, seed + 1))}


def benchmark(seconds: float = 1.5) -> dict[str, float]:
    """Monte Carlo draws per second of the three options' monthly cash flows and NPVs (Colossus 1,
    20,000 draws a call; the utilization draws are computed once outside the timing)."""
    from analysis.bench import throughput
    from analysis.scenario import load_scenario

    sc, draws = load_scenario("colossus1"), 20_000
    utilization = modelled_utilization(sc, n_draws=draws, seed=0)
    return {"economics_option_draws_per_s": throughput(
        lambda: from_scenario(sc, n_draws=draws, seed=0, utilization_by_option=utilization), seconds, draws)}
