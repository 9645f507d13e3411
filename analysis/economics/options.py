"""The options, as incremental after-tax monthly cash flows against a stated base (``keep``).

Seen from xAI, the owner of Colossus 1, from the start of the lease (May 2026):

``keep`` (the base)
    Colossus 1 trains at its modelled utilization; xAI pays its power and operations.
``lease``
    Colossus 1 is leased at its share of the S-1 fee (:mod:`analysis.economics.lease`) and the
    training it did is rebuilt on the successor cluster's capacity that is not itself leased out.
    The lessee may leave (:mod:`analysis.economics.exit`); the freed GPUs then earn their market
    rent (``relet_fraction``), while the rebuilt training stays on the successor, whose capacity is
    committed (Colossus 2's 5-year GPU financing keeps running after an exit).
``islands``
    Colossus 1 re-partitioned into one job per GPU type at their higher utilization; a FLOP of a
    smaller job is worth ``islands_value_fraction`` of one in a job spanning the cluster.

Colossus 1's book value is sunk and the same in every option, so it is left out, and so is its
depreciation tax shield: NPVs are of the cash flows that differ. Every operating flow is taxed at
the combined rate (:func:`analysis.economics.finance.combined_tax_rate`; the imputed value of
training too, as the after-tax cost of buying the same compute); an investment (the successor
GPUs that rebuild the training when priced at their TCO) is paid in month 0, deducted for tax on
its schedule (depreciation tax shield), and valued at book at the horizon (gain or loss against
its tax basis taxed). IRR is reported only where such an investment exists.

The rebuild is priced two ways (``c2_cost_basis``): ``tco``, the successor's own capex and
running cost; ``market``, the market rent of the same Blackwell capacity (its opportunity cost:
what xAI could lease it for).

Value of training: a useful exaFLOP is worth what it costs on rented homogeneous GPUs at a
well-run job's utilization (:func:`value_usd_per_useful_exaflop`). When the whole training is
rebuilt it cancels out of lease versus keep; it matters for islands and any shortfall.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analysis.economics import finance
from analysis.economics.exit import paid_months
from analysis.economics.finance import HOURS_PER_MONTH, SECONDS_PER_HOUR
from analysis.economics.lease import ramp_fee_factors
from analysis.errors import InputError, shown
from analysis.serialize import plain as _plain

LEASE_START = pd.Period("2026-05", freq="M")  # SpaceX S-1: lease fees start with the May-Jun 2026 ramp
OPTIONS = ("keep", "lease", "islands")
BASE = "keep"
C2_COST_BASES = ("tco", "market")

CORE_INPUTS: dict[str, str] = {
    "horizon_months": "months (integer scalar)",
    "discount_rate_annual": "1/yr",
    "tax_rate": "fraction (combined federal + state)",
    "c1_gpus": "GPUs",
    "c1_peak_eflops_bf16_dense": "EFLOP/s (whole Colossus 1)",
    "utilization_keep": "fraction of BF16 dense peak",
    "utilization_islands": "fraction of BF16 dense peak",
    "utilization_rebuild": "fraction of BF16 dense peak (successor, same job definition)",
    "value_usd_per_useful_exaflop": "USD per 1e18 useful FLOP",
    "keep_value_fraction": "fraction (1, or islands_value_fraction when the scenario runs islands)",
    "islands_value_fraction": "fraction",
    "electricity_usd_per_mwh": "USD/MWh",
    "power_mw_keep": "MW facility",
    "power_mw_islands": "MW facility",
    "power_mw_lease": "MW facility paid by xAI while leased or re-let",
    "opex_usd_per_gpu_hour": "USD/GPU-h (Colossus 1 maintenance and staff)",
    "lease_usd_per_gpu_hour": "USD/GPU-h (Colossus 1's share of the fee)",
    "lease_ramp_months": "months",
    "lease_ramp_fee_fraction": "fraction",
    "lease_end_month": "month (last month paid; horizon = no exit)",
    "relet_fraction": "fraction of market rent earned after an exit",
    "c1_market_usd_per_gpu_hour": "USD/GPU-h (scalar or path over months 0..H)",
    "rebuild_fraction": "fraction",
    "c2_peak_tflops_bf16_dense_per_gpu": "TFLOP/s per GPU",
    "c2_capacity_gpus": "GPUs (successor GPUs not leased out)",
    "c2_capex_usd_per_gpu": "USD/GPU (all-in)",
    "c2_opex_usd_per_gpu_hour": "USD/GPU-h (power, maintenance, staff)",
    "c2_book_value_end_fraction": "fraction of capex at the horizon",
    "c2_market_usd_per_gpu_hour": "USD/GPU-h (scalar or path over months 0..H)",
    "c2_tax_life_years": "years (straight-line tax life)",
    "lease_transition_usd_per_gpu": "USD/GPU",
    "islands_transition_usd_per_gpu": "USD/GPU",
}
TEXT_INPUTS = {"c2_cost_basis": C2_COST_BASES, "tax_depreciation": finance.TAX_DEPRECIATION_METHODS}
PATH_INPUTS = ("c1_market_usd_per_gpu_hour", "c2_market_usd_per_gpu_hour")
_FRACTIONS = ("tax_rate", "utilization_keep", "utilization_islands", "utilization_rebuild", "keep_value_fraction",
              "islands_value_fraction", "rebuild_fraction", "lease_ramp_fee_fraction", "relet_fraction",
              "c2_book_value_end_fraction")
_POSITIVE = ("c1_gpus", "c1_peak_eflops_bf16_dense", "c2_peak_tflops_bf16_dense_per_gpu", "utilization_keep",
             "utilization_islands", "utilization_rebuild", "c2_tax_life_years")


def value_usd_per_useful_exaflop(rent_usd_per_gpu_hour, peak_tflops_bf16_dense, utilization):
    """What one useful exaFLOP (1e18 FLOP) costs on rented homogeneous GPUs:
    ``rent / (peak_TFLOP/s x 1e-6 x utilization x 3600 s)`` (utilization of the BF16 dense peak, goodput included)."""
    per_hour = np.asarray(peak_tflops_bf16_dense, dtype=float) * 1e-6 * np.asarray(utilization, dtype=float) * SECONDS_PER_HOUR
    return np.asarray(rent_usd_per_gpu_hour, dtype=float) / per_hour


def check_inputs(inputs: Mapping[str, Any]) -> dict:
    """Every :data:`CORE_INPUTS` and :data:`TEXT_INPUTS` key present, finite and in range; float arrays."""
    missing = [k for k in (*CORE_INPUTS, *TEXT_INPUTS) if k not in inputs]
    if missing:
        raise InputError(f"inputs: missing {shown(missing[0])}; compare_options needs {', '.join((*CORE_INPUTS, *TEXT_INPUTS))}")
    horizon = inputs["horizon_months"]
    if np.ndim(horizon) != 0 or float(horizon) != int(horizon) or int(horizon) < 1:
        raise InputError(f"horizon_months: {shown(horizon)} is not allowed; expected one positive integer (months)")
    out: dict = {}
    for key, allowed in TEXT_INPUTS.items():
        if inputs[key] not in allowed:
            raise InputError(f"{key}: {shown(inputs[key])} is not allowed; use one of {', '.join(allowed)}")
        out[key] = inputs[key]
    H = int(horizon)
    for key in CORE_INPUTS:
        if key == "horizon_months":
            continue
        value = np.asarray(inputs[key], dtype=float)
        if not np.all(np.isfinite(value)):
            raise InputError(f"{key}: {shown(value[~np.isfinite(value)].flat[0])} is not finite; expected a number ({CORE_INPUTS[key]})")
        low = float(np.min(value))
        if low < 0:
            raise InputError(f"{key}: {low:g} is negative; expected >= 0 ({CORE_INPUTS[key]})")
        if key in _POSITIVE and low <= 0:
            raise InputError(f"{key}: {low:g} is not positive; expected > 0 ({CORE_INPUTS[key]})")
        if key in _FRACTIONS and float(np.max(value)) > 1:
            raise InputError(f"{key}: {float(np.max(value)):g} is above 1; expected a fraction in [0, 1]")
        if key in PATH_INPUTS and value.ndim and value.shape[-1] not in (H + 1, 1):
            value = value[..., None]                       # one value per draw: constant over the months
        out[key] = value
    out["horizon_months"] = H
    return out


def _col(x: dict, key: str) -> np.ndarray:
    v = x[key]
    return v if key in PATH_INPUTS and v.ndim else v[..., None]


def cash_flow_components(inputs: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Pre-tax and capital cash flows (USD, months 0..H on the last axis) of each option, by component.

    Per month t >= 1 (E = useful exaFLOPs, V = value per useful exaFLOP, S_t = 1 while the lease pays):

    * keep:    V f_keep E_keep - power(P_keep) - opex
    * islands: V f_islands E_islands - power(P_islands) - opex; transition in month 0
    * lease:   S_t rate GPUs h ramp_t + (1 - S_t) relet market_t GPUs h + V E_rebuilt - power(P_lease) - opex
               - successor cost of the rebuilt training (TCO: running cost, capex in month 0 and book value
               at the horizon; market: market rent x GPU-hours); transition in month 0.

    The rebuilt training is ``rebuild_fraction x f_keep x E_keep`` on the successor at its utilization,
    capped by the successor GPUs not leased out. ``"_capital"`` holds the capex and residual
    flows of the lease option (untaxed), ``"_extra"`` the intermediate arrays.
    """
    x = check_inputs(inputs)
    H = x["horizon_months"]
    t = np.arange(H + 1)
    running = (t >= 1).astype(float)
    at_start, at_end = (t == 0).astype(float), (t == H).astype(float)
    col = lambda k: _col(x, k)  # noqa: E731

    hours = HOURS_PER_MONTH
    eflop_keep_per_hour = x["c1_peak_eflops_bf16_dense"] * x["utilization_keep"] * SECONDS_PER_HOUR
    exaflops_keep = (eflop_keep_per_hour * HOURS_PER_MONTH)[..., None] * running
    exaflops_islands = (x["c1_peak_eflops_bf16_dense"] * x["utilization_islands"] * SECONDS_PER_HOUR * hours)[..., None] * running
    value = col("value_usd_per_useful_exaflop")
    opex = -col("opex_usd_per_gpu_hour") * col("c1_gpus") * hours * running

    def power(key):
        return -col(key) * hours * col("electricity_usd_per_mwh") * running

    keep = {"training value": value * col("keep_value_fraction") * exaflops_keep,
            "cluster power": power("power_mw_keep"), "cluster operations": opex}
    islands = {"training value": value * col("islands_value_fraction") * exaflops_islands,
               "cluster power": power("power_mw_islands"), "cluster operations": opex,
               "transition": -col("islands_transition_usd_per_gpu") * col("c1_gpus") * at_start}

    # the rebuilt training on the successor's GPUs that are not leased out
    c2_eflop_per_gpu_hour = x["c2_peak_tflops_bf16_dense_per_gpu"] * 1e-6 * x["utilization_rebuild"] * SECONDS_PER_HOUR
    needed_gpus = x["rebuild_fraction"] * x["keep_value_fraction"] * eflop_keep_per_hour / c2_eflop_per_gpu_hour
    rebuild_gpus = np.minimum(needed_gpus, x["c2_capacity_gpus"])
    exaflops_rebuilt = (rebuild_gpus * c2_eflop_per_gpu_hour * hours)[..., None] * running
    paid = paid_months(H, x["lease_end_month"])
    ramp = ramp_fee_factors(H, x["lease_ramp_months"], x["lease_ramp_fee_fraction"])
    after_exit = (1.0 - paid) * running
    market = x["c2_cost_basis"] == "market"
    c2_running = (-col("c2_market_usd_per_gpu_hour") if market else -col("c2_opex_usd_per_gpu_hour")) * rebuild_gpus[..., None] * hours * running
    lease = {
        "lease revenue": paid * col("lease_usd_per_gpu_hour") * col("c1_gpus") * hours * ramp,
        "re-let revenue after an exit": after_exit * col("relet_fraction") * col("c1_market_usd_per_gpu_hour") * col("c1_gpus") * hours,
        "training value": value * exaflops_rebuilt,
        "cluster power": power("power_mw_lease"), "cluster operations": opex,
        "successor running cost" if not market else "successor GPUs at market rent": c2_running,
        "transition": -col("lease_transition_usd_per_gpu") * col("c1_gpus") * at_start,
    }
    capex = 0.0 if market else x["c2_capex_usd_per_gpu"] * rebuild_gpus
    capex = np.asarray(capex, dtype=float)
    residual = capex * x["c2_book_value_end_fraction"]
    capital = {"successor capex": -capex[..., None] * at_start, "successor book value at the horizon": residual[..., None] * at_end}
    extra = {"paid": paid, "ramp": ramp, "exaflops_keep": exaflops_keep, "exaflops_islands": exaflops_islands,
             "exaflops_lease": exaflops_rebuilt, "rebuild_gpus": rebuild_gpus, "needed_gpus": needed_gpus,
             "capex": capex, "residual": residual}
    return {"keep": keep, "lease": lease, "islands": islands, "_capital": capital, "_extra": extra, "_x": x}


def after_tax_flows(parts: dict) -> dict[str, dict[str, np.ndarray]]:
    """After-tax components of each option: pre-tax components, ``tax on operating flows``
    (``-t x`` their sum), and for the lease option its capital flows, the ``depreciation tax
    shield`` (``t x`` tax depreciation of the capex) and the ``tax on the residual`` (``-t x
    (book value - remaining tax basis)`` at the horizon)."""
    x = parts["_x"]
    H, tau = x["horizon_months"], x["tax_rate"][..., None]
    out = {}
    for option in OPTIONS:
        pre = dict(parts[option])
        operating = sum(pre.values())
        pre["tax on operating flows"] = -tau * operating
        out[option] = pre
    capex = parts["_extra"]["capex"]
    dep = finance.tax_depreciation_fractions(x["tax_depreciation"], H, 5.0) if x["tax_depreciation"] != "straight_line" else None
    if dep is None:
        life = np.atleast_1d(x["c2_tax_life_years"]).ravel()
        dep = finance.tax_depreciation_fractions("straight_line", H, float(life[0]))
    cum_dep = np.sum(dep)
    t = np.arange(H + 1)
    lease = out["lease"]
    lease.update(parts["_capital"])
    lease["depreciation tax shield"] = tau * capex[..., None] * dep
    basis_left = capex * (1.0 - cum_dep)
    lease["tax on the residual"] = -tau * ((parts["_extra"]["residual"] - basis_left)[..., None]) * (t == H)
    return out


def _net(components: dict) -> np.ndarray:
    return sum(components.values())


@dataclass
class OptionsResult:
    """After-tax NPVs (sunk book value excluded), incremental NPVs against ``keep``, IRR where an
    incremental investment exists, payback, break-even lease rate, useful training of each option.

    Values are floats for a point estimate and arrays (one per draw) for Monte Carlo. ``options``
    are the options the scenario compares (a lease only where it defines one). ``decision`` holds
    what :mod:`analysis.economics.adapter` adds (allocations, exit option, both rebuild prices,
    flip thresholds, probabilities across choices).
    """

    npv_usd: dict
    incremental_npv_usd: dict
    irr: dict
    payback_months: dict
    useful_exaflops: dict
    usd_per_useful_exaflop: dict
    break_even_lease_usd_per_gpu_hour: Any
    break_even_vs_islands_usd_per_gpu_hour: Any
    break_even_utilization_keep: Any
    lease_usd_per_gpu_hour: Any
    horizon_months: int
    discount_rate_annual: Any
    options: tuple = OPTIONS
    base: str = BASE
    inputs: dict = field(repr=False, default_factory=dict)
    cash_flows: pd.DataFrame | None = field(repr=False, default=None)
    drivers: pd.DataFrame | None = field(repr=False, default=None)
    decision: dict = field(repr=False, default_factory=dict)
    scenario: str = ""
    labels: dict = field(repr=False, default_factory=dict)

    # ------------------------------------------------------------------ derived
    @property
    def n_draws(self) -> int:
        return int(np.size(self.npv_usd["keep"])) if np.ndim(self.npv_usd["keep"]) else 0

    @property
    def has_lease(self) -> bool:
        return "lease" in self.options

    @property
    def npv_lease_minus_keep_usd(self):
        """Incremental after-tax NPV of leasing against keeping (the decision's headline)."""
        return self.incremental_npv_usd["lease"]

    @property
    def p_lease_beats_keep(self) -> float:
        return float(np.mean(np.asarray(self.incremental_npv_usd["lease"]) > 0))

    @property
    def p_lease_beats_islands(self) -> float:
        return float(np.mean(np.asarray(self.npv_usd["lease"]) > np.asarray(self.npv_usd["islands"])))

    @property
    def best_option(self) -> str:
        means = {o: float(np.mean(self.npv_usd[o])) for o in self.options}
        return max(means, key=means.get)

    def label(self, option: str) -> str:
        return self.labels.get(option, option)

    # ------------------------------------------------------------------ tables
    def table(self) -> pd.DataFrame:
        """One row per compared option (means over draws): after-tax NPV, incremental NPV against
        keep, IRR of the increment (where an investment exists), discounted payback, useful exaFLOPs."""
        rows = []
        for o in self.options:
            rows.append({"option": o, "description": self.label(o), "npv_usd": float(np.mean(self.npv_usd[o])),
                         "incremental_npv_usd": float(np.mean(self.incremental_npv_usd[o])),
                         "irr_annual": _mean_or_nan(self.irr.get(o)),
                         "payback_months": _mean_or_nan(self.payback_months.get(o)),
                         "useful_exaflops": float(np.mean(self.useful_exaflops[o])),
                         "usd_per_useful_exaflop": float(np.mean(self.usd_per_useful_exaflop[o]))})
        return pd.DataFrame(rows).set_index("option")

    def quantiles(self, q=(0.05, 0.5, 0.95), incremental: bool = True) -> pd.DataFrame:
        """Quantiles of the (incremental) NPV per compared option over the draws."""
        values = self.incremental_npv_usd if incremental else self.npv_usd
        return pd.DataFrame({o: np.quantile(np.atleast_1d(np.asarray(values[o], dtype=float)), q) for o in self.options},
                            index=[f"p{int(round(100 * v)):02d}" for v in q]).T

    def npv_draws(self, incremental: bool = True) -> pd.DataFrame:
        """Long table (option, npv_usd) of the draws, for distribution plots (the base left out when incremental)."""
        values = self.incremental_npv_usd if incremental else self.npv_usd
        options = [o for o in self.options if not (incremental and o == self.base)]
        return pd.DataFrame({"option": np.repeat(options, max(self.n_draws, 1)),
                             "npv_usd": np.concatenate([np.atleast_1d(values[o]) for o in options]) if options else []})

    def component_table(self) -> pd.DataFrame:
        """Present value (USD) of each after-tax component (rows) per option (columns) and the
        increment of each option over keep, point estimate."""
        if self.cash_flows is None:
            raise InputError("result: has no cash-flow table; it is built for point estimates (n_draws=None)")
        df = finance.monthly_discount_factors(self.discount_rate_annual, self.horizon_months)
        pv = self.cash_flows.assign(pv_usd=self.cash_flows["usd"] * df[self.cash_flows["month"].to_numpy()])
        table = pv.pivot_table(index="component", columns="option", values="pv_usd", aggfunc="sum", fill_value=0.0)
        table = table[[o for o in self.options if o in table.columns]]
        table.loc["NPV"] = table.sum()
        return table

    def break_even_draws(self) -> pd.DataFrame:
        n = max(self.n_draws, 1)
        return pd.DataFrame({"against": np.repeat(["keep", "islands"], n),
                             "usd_per_gpu_hour": np.concatenate([np.atleast_1d(self.break_even_lease_usd_per_gpu_hour),
                                                                 np.atleast_1d(self.break_even_vs_islands_usd_per_gpu_hour)])})

    def to_dict(self) -> dict:
        """JSON-safe figures: ``npv_usd`` / ``incremental_npv_usd`` / ``irr`` / ``payback_months``
        ``{option: value}`` (means for Monte Carlo) of the compared options, break-even lease rate
        (None without a lease), ``decision`` (allocations, exit option, flip thresholds ...);
        Monte Carlo adds 5/50/95% quantiles and the probabilities."""
        mean = lambda v: _plain(np.mean(v))  # noqa: E731
        lease = self.has_lease
        out = {
            "options": list(self.options), "base": self.base,
            "option_labels": {o: self.label(o) for o in self.options},
            "npv_usd": {o: mean(self.npv_usd[o]) for o in self.options},
            "incremental_npv_usd": {o: mean(self.incremental_npv_usd[o]) for o in self.options},
            "irr": {o: _plain(_mean_or_nan(self.irr.get(o))) for o in self.options},
            "payback_months": {o: _plain(_mean_or_nan(self.payback_months.get(o))) for o in self.options},
            "useful_exaflops": {o: mean(self.useful_exaflops[o]) for o in self.options},
            "usd_per_useful_exaflop": {o: mean(self.usd_per_useful_exaflop[o]) for o in self.options},
            "break_even_lease_usd_per_gpu_hour": _plain(_mean_or_nan(self.break_even_lease_usd_per_gpu_hour)) if lease else None,
            "break_even_vs_islands_usd_per_gpu_hour": (mean(self.break_even_vs_islands_usd_per_gpu_hour)
                                                       if lease and "islands" in self.options else None),
            "break_even_utilization_keep": _plain(np.median(self.break_even_utilization_keep)) if lease else None,
            "lease_usd_per_gpu_hour": mean(self.lease_usd_per_gpu_hour) if lease else None,
            "npv_lease_minus_keep_usd": mean(self.npv_lease_minus_keep_usd) if lease else None,
            "best_option": self.best_option,
            "horizon_months": self.horizon_months,
            "discount_rate_annual": mean(self.discount_rate_annual),
            "tax_rate": mean(self.inputs.get("tax_rate", np.nan)),
        }
        if self.n_draws:
            out["n_draws"] = self.n_draws
            out["p_lease_beats_keep"] = self.p_lease_beats_keep if lease else None
            out["p_lease_beats_islands"] = self.p_lease_beats_islands if lease and "islands" in self.options else None
            out["npv_usd_quantiles"] = {o: {k: _plain(v) for k, v in row.items()} for o, row in
                                        self.quantiles(incremental=False).iterrows()}
            out["incremental_npv_usd_quantiles"] = {o: {k: _plain(v) for k, v in row.items()} for o, row in
                                                    self.quantiles().iterrows()}
        out["decision"] = _plain({k: v for k, v in self.decision.items() if not k.startswith("_")})
        return out

    def summary(self) -> str:
        kind = f"Monte Carlo, {self.n_draws:,} draws (means)" if self.n_draws else "point estimate"
        lines = [f"Options{' - ' + self.scenario if self.scenario else ''} ({kind}); {self.horizon_months} months at "
                 f"{float(np.mean(self.discount_rate_annual)):.1%}/yr, after tax at {float(np.mean(self.inputs['tax_rate'])):.1%}; "
                 f"base: {self.label(self.base)} (sunk book value excluded)",
                 f"{'option':<8} {'NPV ($B)':>10} {'vs keep ($B)':>13} {'IRR/yr':>8} {'payback':>8}"]
        for o, row in self.table().iterrows():
            irr = "" if not np.isfinite(row.irr_annual) else f"{row.irr_annual:.1%}"
            pay = "" if not np.isfinite(row.payback_months) or o == self.base else f"{row.payback_months:.0f} mo"
            lines.append(f"{o:<8} {row.npv_usd / 1e9:>10.2f} {row.incremental_npv_usd / 1e9:>13.2f} {irr:>8} {pay:>8}")
        if self.has_lease:
            lines.append(f"break-even lease rate vs keep: ${_mean_or_nan(self.break_even_lease_usd_per_gpu_hour):.2f} per "
                         f"GPU-hour of the leased cluster; rate used ${float(np.mean(self.lease_usd_per_gpu_hour)):.2f}")
            if self.n_draws:
                lines.append(f"P(lease beats keep) = {self.p_lease_beats_keep:.1%}")
        else:
            lines.append("this scenario defines no lease: only keep is valued")
        lines.append(f"best option by NPV: {self.best_option}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape
        return f"<pre>{escape(self.summary())}</pre>"


def _mean_or_nan(v) -> float:
    if v is None:
        return float("nan")
    a = np.asarray(v, dtype=float)
    return float(np.nanmean(a)) if a.size and np.any(np.isfinite(a)) else float("nan")


def _cash_flow_frame(flows: dict, horizon: int, options) -> pd.DataFrame:
    """Long table ``option, component, month, period, usd`` (one row per month of each component),
    built from whole columns at once (a frame per component and a concat cost most of a sweep point)."""
    periods = ["start"] + [str(LEASE_START + (m - 1)) for m in range(1, horizon + 1)]
    n = horizon + 1
    keys = [(option, component) for option in options for component in flows[option]]
    values = [np.broadcast_to(np.asarray(flows[o][c], dtype=float), (n,)) for o, c in keys]
    return pd.DataFrame({"option": [o for o, _ in keys for _ in range(n)],
                         "component": [c for _, c in keys for _ in range(n)],
                         "month": np.tile(np.arange(n), len(keys)), "period": periods * len(keys),
                         "usd": np.concatenate(values) if values else np.array([], dtype=float)})


def lease_minus_keep_npv_usd(inputs: Mapping[str, Any]) -> np.ndarray:
    """After-tax NPV of leasing minus keeping only (``compare_options(...).incremental_npv_usd["lease"]``
    without the other options' figures, IRR, payback and the second evaluation behind the
    break-even utilization): what a search over the lease rate needs at each step."""
    parts = cash_flow_components(inputs)
    x = parts["_x"]
    flows = after_tax_flows(parts)
    return finance.npv_usd(_net(flows["lease"]) - _net(flows[BASE]), x["discount_rate_annual"])


def lease_gap_function(inputs: Mapping[str, Any]):
    """:func:`lease_minus_keep_npv_usd` at other lease rates and last paid months, from one evaluation.

    Returns ``gap(rates_usd_per_gpu_hour, end_months)`` (broadcast against the draws). Only two
    lease components depend on the rate ``r`` and the last paid month ``e``: the lease revenue
    ``r G h ramp_t`` in months ``1 <= t <= e`` and the re-let revenue ``rho m_t G h`` after ``e``
    (``G`` GPUs, ``h`` hours a month, ``m_t`` the market rent); both are operating flows, taxed at
    ``tau``. With the discount factors ``D_t`` and the prefix sums
    ``A(e) = sum_{1<=t<=e} D_t ramp_t G h`` and ``B(e) = sum_{1<=t<=e} D_t rho m_t G h``::

        gap(r, e) = gap(r0, e0) + (1 - tau) [r A(e) - r0 A(e0) - (B(e) - B(e0))]

    exactly (every flow is linear in them), so a search over the rate costs one evaluation of the
    options and one array lookup per step instead of a full evaluation per step."""
    x = check_inputs(inputs)
    H = x["horizon_months"]
    months = np.arange(H + 1)
    paying = (months >= 1).astype(float)
    discount = finance.monthly_discount_factors(x["discount_rate_annual"], H)
    gpu_hours = _col(x, "c1_gpus") * HOURS_PER_MONTH
    revenue_per_rate = np.cumsum(discount * ramp_fee_factors(H, x["lease_ramp_months"], x["lease_ramp_fee_fraction"])
                                 * gpu_hours * paying, axis=-1)
    relet = np.cumsum(discount * _col(x, "relet_fraction") * _col(x, "c1_market_usd_per_gpu_hour") * gpu_hours * paying, axis=-1)
    after_tax = 1.0 - x["tax_rate"]

    def prefix(sums: np.ndarray, end_months) -> np.ndarray:
        end = np.asarray(end_months, dtype=float)
        index = np.where(np.isnan(end), 0.0, np.floor(np.clip(end, 0, H))).astype(int)  # paid: 1 <= t <= e
        shape = np.broadcast_shapes(sums.shape[:-1], index.shape)
        return np.take_along_axis(np.broadcast_to(sums, shape + sums.shape[-1:]),
                                  np.broadcast_to(index, shape)[..., None], axis=-1)[..., 0]

    rate0, end0 = x["lease_usd_per_gpu_hour"], x["lease_end_month"]
    at_base = rate0 * prefix(revenue_per_rate, end0) - prefix(relet, end0)
    base = lease_minus_keep_npv_usd(inputs)

    def gap(rates_usd_per_gpu_hour, end_months) -> np.ndarray:
        rates = np.asarray(rates_usd_per_gpu_hour, dtype=float)
        moved = rates * prefix(revenue_per_rate, end_months) - prefix(relet, end_months)
        return base + after_tax * (moved - at_base)

    return gap


def compare_options(inputs: Mapping[str, Any], with_irr: bool | None = None, options=OPTIONS,
                    with_cash_flows: bool | None = None) -> OptionsResult:
    """After-tax NPVs, increments over keep, IRR, payback and break-even rates of keep / lease / islands.

    ``inputs``: every key of :data:`CORE_INPUTS` and :data:`TEXT_INPUTS` (scalars or arrays of draws,
    the market-rent paths also with a month axis). ``with_irr`` and ``with_cash_flows`` (the long
    monthly table) default to True for point estimates; searches that only need NPVs turn them off.

    * Break-even lease rate (the incremental NPV is linear in Colossus 1's rate at a given exit):
      ``r* = r - dNPV / B`` with ``B = (1 - t) sum_t DF_t S_t ramp_t GPUs h``.
    * Break-even keep utilization: where NPV(keep) = NPV(lease), from a second evaluation
      (linear in it until the successor's free capacity binds); above 1 = none achievable.
    * Payback: first month from which the cumulative discounted incremental flow stays >= 0.
    """
    parts = cash_flow_components(inputs)
    x = parts["_x"]
    H, rate = x["horizon_months"], x["discount_rate_annual"]
    flows = after_tax_flows(parts)
    net = {o: _net(flows[o]) for o in OPTIONS}
    npv = {o: finance.npv_usd(net[o], rate) for o in OPTIONS}
    incremental = {o: npv[o] - npv[BASE] for o in OPTIONS}
    delta = {o: net[o] - net[BASE] for o in OPTIONS}

    df = finance.monthly_discount_factors(rate, H)
    extra = parts["_extra"]
    slope = (1.0 - x["tax_rate"]) * np.sum(df * extra["paid"] * extra["ramp"], axis=-1) * x["c1_gpus"] * HOURS_PER_MONTH
    with np.errstate(divide="ignore", invalid="ignore"):
        break_even = x["lease_usd_per_gpu_hour"] - incremental["lease"] / slope
        break_even_islands = x["lease_usd_per_gpu_hour"] - (npv["lease"] - npv["islands"]) / slope

    step = np.where(x["utilization_keep"] + 0.01 <= 1.0, 0.01, -0.01)
    moved = {**{k: v for k, v in x.items()}, "utilization_keep": x["utilization_keep"] + step}
    moved_flows = after_tax_flows(cash_flow_components(moved))
    gap1 = finance.npv_usd(_net(moved_flows["lease"]) - _net(moved_flows["keep"]), rate)
    du = (gap1 - incremental["lease"]) / step
    with np.errstate(divide="ignore", invalid="ignore"):
        break_even_u = np.where(du < 0, x["utilization_keep"] - incremental["lease"] / du, np.inf)

    pv = lambda a: np.sum(np.asarray(a) * df, axis=-1)  # noqa: E731
    exaflops = {"keep": extra["exaflops_keep"], "lease": extra["exaflops_lease"], "islands": extra["exaflops_islands"]}
    cost_keep = -(parts["keep"]["cluster power"] + parts["keep"]["cluster operations"])
    cost_islands = -(parts["islands"]["cluster power"] + parts["islands"]["cluster operations"] + parts["islands"]["transition"])
    c2_key = [k for k in parts["lease"] if k.startswith("successor")][0]
    cost_lease = -(parts["lease"][c2_key] + parts["_capital"]["successor capex"] + parts["_capital"]["successor book value at the horizon"])
    with np.errstate(divide="ignore", invalid="ignore"):
        per_exaflop = {"keep": pv(cost_keep) / pv(exaflops["keep"]), "islands": pv(cost_islands) / pv(exaflops["islands"]),
                       "lease": pv(cost_lease) / pv(exaflops["lease"])}

    shape = np.broadcast_shapes(*(np.shape(v)[:-1] if k in PATH_INPUTS and np.ndim(v) else np.shape(v)
                                  for k, v in x.items() if k not in ("horizon_months", *TEXT_INPUTS)))
    point = shape == ()
    if with_irr is None:
        with_irr = point
    has_investment = bool(np.any(np.asarray(extra["capex"]) > 0))
    irr = {"keep": None, "islands": None, "lease": None}
    if with_irr and has_investment:
        irr["lease"] = finance.irr_annual(np.broadcast_to(delta["lease"], (*shape, H + 1)))
    payback = {"keep": None, **{o: finance.payback_months(np.broadcast_to(delta[o], (*shape, H + 1)), rate) for o in ("lease", "islands")}}

    def squeeze(v):
        if v is None:
            return None
        v = np.broadcast_to(v, shape)
        return float(v) if point else np.array(v)

    options = tuple(o for o in OPTIONS if o in options)
    if BASE not in options:
        raise InputError(f"options: {shown(options)} lacks the base {shown(BASE)}; every comparison is against keeping the cluster")
    return OptionsResult(
        npv_usd={o: squeeze(v) for o, v in npv.items()},
        incremental_npv_usd={o: squeeze(v) for o, v in incremental.items()},
        irr={o: squeeze(v) for o, v in irr.items()},
        payback_months={o: squeeze(v) for o, v in payback.items()},
        useful_exaflops={o: squeeze(np.sum(np.broadcast_to(v, (*np.shape(v)[:-1], H + 1)), axis=-1)) for o, v in exaflops.items()},
        usd_per_useful_exaflop={o: squeeze(v) for o, v in per_exaflop.items()},
        break_even_lease_usd_per_gpu_hour=squeeze(break_even),
        break_even_vs_islands_usd_per_gpu_hour=squeeze(break_even_islands),
        break_even_utilization_keep=squeeze(break_even_u),
        lease_usd_per_gpu_hour=squeeze(x["lease_usd_per_gpu_hour"]),
        horizon_months=H, discount_rate_annual=squeeze(rate), options=options,
        inputs={k: (v if k in ("horizon_months", *TEXT_INPUTS, *PATH_INPUTS) else squeeze(v)) for k, v in x.items()},
        cash_flows=_cash_flow_frame(flows, H, OPTIONS) if (point if with_cash_flows is None else with_cash_flows) else None,
    )


def npv_vs_lease_rate(inputs: Mapping[str, Any], rates_usd_per_gpu_hour=None) -> pd.DataFrame:
    """Incremental NPV of each option against keep over a grid of Colossus 1 lease rates (point
    inputs): long table ``lease_usd_per_gpu_hour``, ``option``, ``npv_usd``, ``npv_busd``.
    Default grid: 41 rates from 0 to 1.6 x the inputs' rate."""
    if rates_usd_per_gpu_hour is None:
        rates_usd_per_gpu_hour = np.linspace(0.0, 1.6 * float(np.mean(inputs["lease_usd_per_gpu_hour"])), 41)
    rates = np.asarray(rates_usd_per_gpu_hour, dtype=float)
    if rates.ndim != 1 or rates.size < 2:
        raise InputError(f"rates_usd_per_gpu_hour: {rates.shape} values; expected a 1-D grid of at least 2 rates")
    if any(np.ndim(v) for k, v in inputs.items() if k not in ("horizon_months", *TEXT_INPUTS, *PATH_INPUTS)):
        raise InputError("inputs: hold arrays of draws; npv_vs_lease_rate needs point inputs (result.inputs of a point estimate)")
    result = compare_options({**inputs, "lease_usd_per_gpu_hour": rates}, with_irr=False)
    frame = pd.concat([pd.DataFrame({"lease_usd_per_gpu_hour": rates, "option": o, "npv_usd": result.incremental_npv_usd[o]})
                       for o in OPTIONS], ignore_index=True)
    return frame.assign(npv_busd=frame["npv_usd"] / 1e9)


def break_even_lease_usd_per_gpu_hour(inputs: Mapping[str, Any], against: str = "keep"):
    """Colossus 1 lease rate per GPU-hour at which NPV(lease) equals NPV(``against``: keep | islands)."""
    if against not in ("keep", "islands"):
        raise InputError(f"against: {shown(against)} is not allowed; use keep or islands")
    result = compare_options(inputs, with_irr=False)
    return result.break_even_lease_usd_per_gpu_hour if against == "keep" else result.break_even_vs_islands_usd_per_gpu_hour
