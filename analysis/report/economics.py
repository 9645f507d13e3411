"""Views of lease versus rebuild and of the cost of ownership: tables and figures for notebooks 31
and 33 and for the board brief. Numbers go through :mod:`analysis.report.format`, names through
:mod:`analysis.report.labels`; nothing here computes a model figure.

Reusable pieces:

* :func:`npv_vs_lease_rate_figure` - incremental NPV of each option against keep over the leased
  cluster's lease rate, with the market-rent band of its GPUs and the S-1 rate under both fee
  allocations marked, and the break-even rate. Takes a point-estimate :class:`OptionsResult` of a
  scenario that defines a lease (``economics.from_scenario(sc)`` or
  ``scenario_results(...).details["options"]``); returns a matplotlib Figure.
* :func:`cash_flow_table` - monthly after-tax cash flows per option and component, plus each
  option's net flow and its increment over keep, as a long DataFrame for a ``cashflows.csv`` export.

What the two notebooks show comes from here, not from notebook code: the cost report's answer,
recorded figures, charts (titled with the scenario's label) and price tables (``cost_*``,
``*_by_pool_*``, ``gpu_price_table``...), and the lease report's answer, notes and charts
(``lease_answer``, ``no_lease_answer``, ``fee_allocation_note``, ``lessee_cost_sentence``...).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import plots
from analysis.plots import SMALL
from analysis.report import format as fmt
from analysis.report.labels import label as _registry_label, register
from analysis.scenario import scenario_label

PALETTE = "colorblind"

register({
    "economics.options": "Options compared",
    "economics.lease_usd_per_month_s1": "S-1 monthly fee (USD/month)",
    "economics.s1_gpus_covered": "GPUs covered by the S-1 fee",
    "economics.lease_allocation": "Allocation of the S-1 fee to the leased cluster",
    "economics.market_rent_position": "Market rents within their sourced range (0 low, 1 high)",
    "economics.rent_drift_per_year": "Market-rent trend (log change per year)",
    "economics.rent_volatility_per_year": "Market-rent volatility (per year)",
    "economics.exit_premium_threshold": "Lessee's exit threshold (premium growth over signing)",
    "economics.relet_fraction": "Share of market rent earned after an exit",
    "economics.rebuild_fraction": "Share of the training rebuilt on the successor",
    "economics.lease_transition_usd_per_gpu": "One-off lease transition cost (USD per GPU)",
    "economics.state_tax_rate": "State tax rate",
    "economics.federal_tax_rate": "Federal tax rate",
    "economics.lease_ramp_months": "Months of discounted ramp fees",
    "economics.lease_ramp_fee_fraction": "Ramp fee as a share of the full fee",
    "economics.islands_value_fraction": "Value of an islands FLOP relative to one big job",
    "economics.c2_cost_basis": "Price of the rebuild (TCO or market rent)",
    "utilization.keep": "Utilization of the kept cluster (BF16 dense)",
    "utilization.colossus2": "Utilization of the rebuilt job on the successor (BF16 dense)",
    "utilization.islands": "Utilization as islands (BF16 dense)",
    "exit.lease_end_month": "Month the lease stops paying",
    "exit.rent_index_at_horizon": "Market-rent index at the horizon",
    "cost.wacc": "Cost of capital (per year)",
    "cost.electricity_usd_per_mwh": "Electricity price (USD/MWh)",
    "rental_value": "by rental value per GPU type",
    "per_gpu": "per GPU",
    "tco": "successor's own TCO",
    "market": "market rent of the same Blackwell capacity",
})


def label(name: str) -> str:
    """The registry's label, falling back to the parameter spec's ``doc`` (then the de-snaked name)."""
    try:
        return _registry_label(name)
    except Exception:  # a registry fault must never break a report
        section, _, key = name.partition(".")
        try:
            from analysis.scenario import section_specs
            spec = section_specs()[section][key]
            text = spec.doc[:1].upper() + spec.doc[1:]
            return f"{text} ({spec.unit})" if spec.unit and spec.unit not in ("-", "") else text
        except Exception:
            text = name.split(".", 1)[-1].replace("_", " ")
            return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- tables
def options_table(result, draws=None) -> pd.DataFrame:
    """One row per compared option: after-tax NPV, increment over keep (with the 5-95% band of
    ``draws``, a Monte Carlo result, or of ``result`` itself when it holds draws), IRR of the
    increment where an investment exists, payback."""
    table = result.table()
    source = draws if draws is not None else (result if result.n_draws else None)
    q = source.quantiles() if source is not None else None
    rows = []
    for o, r in table.iterrows():
        inc = fmt.usd(r.incremental_npv_usd) if q is None else fmt.band(r.incremental_npv_usd, q.loc[o, "p05"], q.loc[o, "p95"], fmt.usd)
        rows.append({"option": result.label(o), "NPV after tax": fmt.usd(r.npv_usd),
                     f"NPV minus {result.base}": "base" if o == result.base else inc,
                     "IRR of the increment": fmt.pct(r.irr_annual),
                     "payback": "n/a" if o == result.base or not np.isfinite(r.payback_months)
                     else f"{r.payback_months:.0f} month{'' if r.payback_months == 1 else 's'}",
                     "useful training (exaFLOP)": fmt.scaled(r.useful_exaflops)})
    return pd.DataFrame(rows).set_index("option")


def allocation_table(econ: dict) -> pd.DataFrame:
    """The S-1 fee allocated two ways (``evaluate`` economics section): the leased cluster's share,
    its rate, the incremental NPV (5-95%) and the break-even contract rate (5-95%)."""
    rows = []
    for a, d in econ["break_even_by_allocation"].items():
        rows.append({"allocation": d["label"] + (" (scenario's choice)" if a == econ["allocation_used"] else ""),
                     "share of the fee": fmt.pct(d["c1_share_of_fee"]),
                     "rate per GPU-hour of the leased cluster": fmt.usd(d["lease_usd_per_c1_gpu_hour"]),
                     "NPV of leasing minus keeping": fmt.band(d["npv_lease_minus_keep_usd"], d["npv_lease_minus_keep_usd_p05"],
                                                              d["npv_lease_minus_keep_usd_p95"], fmt.usd),
                     "break-even S-1 rate per GPU-hour": fmt.band(d["break_even_contract_usd_per_gpu_hour"],
                                                                   d["break_even_contract_usd_per_gpu_hour_p05"],
                                                                   d["break_even_contract_usd_per_gpu_hour_p95"], fmt.usd)})
    return pd.DataFrame(rows).set_index("allocation")


def rebuild_pricing_table(econ: dict) -> pd.DataFrame:
    """The rebuild priced two ways: the successor's TCO and the market rent of the same capacity."""
    rows = [{"rebuild priced at": label(b) + (" (scenario's choice)" if b == econ["rebuild_pricing_used"] else ""),
             "NPV of leasing minus keeping": fmt.band(d["npv_lease_minus_keep_usd"], d["p05"], d["p95"], fmt.usd)}
            for b, d in econ["rebuild_pricing"].items()]
    return pd.DataFrame(rows).set_index("rebuild priced at")


def probability_table(econ: dict) -> pd.DataFrame:
    """P(leasing beats keeping) over the Monte Carlo draws for each allocation x rebuild price."""
    rows = []
    for key, p in (econ.get("p_lease_beats_keep_by_choice") or {}).items():
        a, b = key.split(" / ")
        rows.append({"fee allocation": label(a), "rebuild priced at": label(b), "P(leasing beats keeping)": fmt.pct(p)})
    rows.append({"fee allocation": "all four, equally weighted", "rebuild priced at": "",
                 "P(leasing beats keeping)": fmt.pct(econ.get("p_lease_beats_keep_pooled"))})
    return pd.DataFrame(rows).set_index("fee allocation")   # no 0..n row numbers in the report


def flip_table(econ: dict) -> pd.DataFrame:
    """What would change the decision: for each driver, its value now and the value at which
    leasing and keeping are worth the same (the others central)."""
    rows = []
    for path, d in econ["flip_thresholds"].items():
        money = "USD" in d["unit"]
        show = (lambda v: fmt.usd(v)) if money else (lambda v: fmt.number(v))
        if "fraction" in d["unit"] or path.startswith("utilization."):
            show = fmt.pct
        flips = d["flip_value"] is not None and np.isfinite(d["flip_value"])
        rows.append({"driver": label(path), "now": show(d["current"]),
                     "decision flips at": show(d["flip_value"]) if flips else "never, within its physical range",
                     "inside the sourced range": fmt.yes_no(d["within_sourced_range"]) if flips else "n/a"})
    return pd.DataFrame(rows).set_index("driver")


def exit_table(econ: dict) -> pd.DataFrame:
    """The lessee's exit option: when the lease stops paying, what leaving is worth to the lessee, what it costs xAI."""
    e = econ["exit_option"]
    rows = [("month the lease stops paying (median rent path; 5-95%)",
             f"{e['lease_end_month']:.0f} ({e['lease_end_month_p05']:.0f} to {e['lease_end_month_p95']:.0f}) of {econ['horizon_months']}"),
            ("share of draws in which the lessee leaves early", fmt.pct(e["p_exit_before_horizon"])),
            ("value of the exit option to the lessee", fmt.band(e["lessee_value_usd"], e["lessee_value_usd_p05"], e["lessee_value_usd_p95"], fmt.usd)),
            ("cost of the exit option to the lessor (xAI)", fmt.band(e["cost_to_lessor_usd"], e["cost_to_lessor_usd_p05"],
                                                                     e["cost_to_lessor_usd_p95"], fmt.usd))]
    return pd.DataFrame(rows, columns=["figure", "value"]).set_index("figure")


def cash_flow_table(result) -> pd.DataFrame:
    """Monthly after-tax cash flows (USD) per option and component of a point estimate, with each
    option's ``net after tax`` and ``increment over <base>`` rows: long table with columns
    ``option``, ``option_label``, ``component``, ``month``, ``period``, ``usd`` (for ``cashflows.csv``)."""
    flows = result.cash_flows
    if flows is None:
        raise ValueError("cash_flow_table needs a point estimate (from_scenario(sc) without n_draws)")
    flows = flows[flows["option"].isin(result.options)]
    net = flows.groupby(["option", "month", "period"], sort=False)["usd"].sum().reset_index().assign(component="net after tax")
    base = net[net["option"] == result.base].set_index("month")["usd"]
    inc = net[net["option"] != result.base].copy()
    inc["usd"] = inc["usd"].to_numpy() - base.reindex(inc["month"]).to_numpy()
    inc["component"] = f"increment over {result.base}"
    out = pd.concat([flows, net, inc], ignore_index=True)
    out["option_label"] = out["option"].map(result.label)
    return out[["option", "option_label", "component", "month", "period", "usd"]]


# --------------------------------------------------------------------------- figures
def npv_vs_lease_rate_figure(result, title: str | None = None, ax=None):
    """Incremental NPV of each option against keep (USD billions) over the leased cluster's rate per
    GPU-hour, with the market-rent band of its GPUs (shaded), the S-1 rate under both allocations
    (dashed) and the break-even rate (dotted). ``result``: a point-estimate ``OptionsResult`` of a
    scenario that defines a lease. Returns the Figure."""
    from analysis import economics

    curve = economics.npv_vs_lease_rate(result)
    low, mid, high = economics.market_rent_band(result)
    rates = result.decision["_context"]["rates"]
    fig, ax = (plt.subplots(figsize=(9, 6.2)) if ax is None else (ax.figure, ax))
    pal = sns.color_palette(PALETTE)
    short = {result.label("lease"): "lease (the lessee's exit moves with the rate)",
             result.label("lease") + " (exit fixed at the S-1 rate's)": "lease (exit fixed where the S-1 rate puts it)"}
    for i, (option, g) in enumerate(curve.groupby("option", sort=False)):
        name = short.get(option, option)
        ax.plot(g["lease_usd_per_gpu_hour"], g["npv_usd"] / 1e9, color=pal[i % len(pal)], lw=2.0 if i == 0 else 1.2,
                ls="-" if i != 1 else "--", label=_tex_safe(name))
    ax.axvspan(low, high, color="0.6", alpha=0.25, label=_tex_safe(f"market rent of its GPUs today ({fmt.usd(low)} to {fmt.usd(high)})"))
    for j, (a, r) in enumerate(rates.items()):
        ax.axvline(float(np.mean(r)), color="k", ls=(0, (5, 3)) if j == 0 else (0, (2, 2)), lw=1.1,
                   label=_tex_safe(f"S-1 fee allocated {label(a)}: {fmt.usd(float(np.mean(r)))}"))
    be = result.break_even_lease_usd_per_gpu_hour
    if be is not None and np.isfinite(be):
        ax.axvline(be, color=pal[3], ls=":", lw=1.5, label=_tex_safe(f"break-even rate: {fmt.usd(be)}"))
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("lease rate per GPU-hour of the leased cluster (USD)")
    ax.set_ylabel(f"NPV minus {result.base}, after tax (USD billions)")
    ax.set_title(title or f"What leasing is worth against keeping, by lease rate: {scenario_label(result.scenario)}", fontsize=11)
    ax.legend(fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    plots.lay_out(fig)
    return fig


def _tex_safe(text: str) -> str:
    """Escape ``$`` so matplotlib does not read ``$2.00 to $3.69`` as mathtext."""
    return text.replace("$", r"\$")


def incremental_npv_figure(result_mc, title: str | None = None):
    """Monte Carlo distribution of each option's NPV minus keep (USD billions)."""
    frame = result_mc.npv_draws(incremental=True)
    frame = frame.assign(option=frame["option"].map(lambda o: _tex_safe(result_mc.label(o))), npv_busd=frame["npv_usd"] / 1e9)
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.histplot(data=frame, x="npv_busd", hue="option", element="step", stat="density", common_norm=False, bins=50, ax=ax,
                 palette=PALETTE)
    ax.axvline(0, color="k", lw=1)
    ax.set_xlabel(f"NPV minus {result_mc.base}, after tax (USD billions)")
    ax.set_ylabel("density")
    ax.set_title(title or f"NPV of each option against keeping over {result_mc.n_draws:,} draws: {scenario_label(result_mc.scenario)}")
    plots.lay_out(fig)
    return fig


def tornado_figure(table: pd.DataFrame, top: int = 12, title: str | None = None):
    """Tornado of the incremental NPV (``economics.one_at_a_time``): the ``top`` widest parameters,
    each at its low and high (USD billions), labelled from the registry with the values tried."""
    wide = table.loc[(table["high"] - table["low"]).abs().sort_values().index[-top:]]
    base = table.attrs["base"] / 1e9
    names = [f"{label(i)[:55]} ({fmt.number(r.low_value)} to {fmt.number(r.high_value)})" for i, r in wide.iterrows()]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(wide) + 1.8))
    pal = sns.color_palette(PALETTE)
    y = np.arange(len(wide))
    ax.barh(y, wide["low"].to_numpy() / 1e9 - base, left=base, color=pal[0], label="parameter at its low")
    ax.barh(y, wide["high"].to_numpy() / 1e9 - base, left=base, color=pal[1], alpha=0.85, label="parameter at its high")
    ax.set_yticks(y, names, fontsize=SMALL)
    ax.axvline(base, color="k", lw=0.8)
    ax.set_xlabel("NPV of leasing minus keeping, after tax (USD billions)")
    ax.set_title(title or "One at a time: each parameter at its low and high", fontsize=11)
    ax.legend(loc="lower right", fontsize=SMALL)
    fig.subplots_adjust(left=0.5, right=0.97, top=0.9, bottom=max(0.08, 0.9 / (len(wide) + 2)))
    return fig


def monthly_cash_flow_figure(result, title: str | None = None):
    """Net after-tax cash flow per month of each option's increment over keep, and its cumulative sum (USD billions)."""
    table = cash_flow_table(result)
    inc = table[table["component"] == f"increment over {result.base}"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    pal = sns.color_palette(PALETTE)
    for i, (option, g) in enumerate(inc.groupby("option_label", sort=False)):
        axes[0].plot(g["month"], g["usd"] / 1e9, color=pal[i], lw=1.8, label=_tex_safe(option))
        axes[1].plot(g["month"], g["usd"].cumsum() / 1e9, color=pal[i], lw=1.8, label=_tex_safe(option))
    axes[0].set_ylabel("USD billions per month")
    axes[1].set_ylabel("USD billions, cumulative (undiscounted)")
    for ax, name in zip(axes, ("increment over keep, after tax", "cumulative increment over keep")):
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("month from the start of the lease")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=SMALL)
    fig.suptitle(title or f"Monthly cash flows against keeping: {scenario_label(result.scenario)}")
    plots.lay_out(fig)
    return fig


# --------------------------------------------------------------------------- cost report
# data/fabrics.csv ids as a reader names them
FABRIC_NAMES = {"infiniband": "NVIDIA Quantum InfiniBand", "spectrum-x": "NVIDIA Spectrum-X Ethernet",
                "roce": "RoCE Ethernet"}


def fabric_facility_table(cost_result) -> pd.DataFrame:
    """Fabric and facility per pool with their capex per GPU and sources."""
    t = cost_result.fabric_table()
    fabric = t["fabric"].map(lambda f: FABRIC_NAMES.get(str(f), str(f)))
    return pd.DataFrame({"pool": t["pool"], "fabric": fabric, "network capex per GPU": t["network_usd_per_gpu"].map(fmt.usd),
                         "facility": t["facility"], "facility capex per GPU": t["facility_usd_per_gpu"].map(fmt.usd),
                         "fabric source": t["fabric_source"], "facility source": t["facility_source"]}).set_index("pool")


def public_tco_table(cost_result):
    """Modelled owned TCO per GPU-hour against published estimates for the same GPU types."""
    from analysis import cost

    t = cost.compare_public_tco(cost_result)
    if t.empty:
        frame = pd.DataFrame({"Note": ["no published TCO estimate for this cluster's GPU types"]})
    else:
        frame = pd.DataFrame({"GPU": t["gpu"], "Published": t["tco_usd_per_gpu_hour"].map(fmt.usd),
                              "Modelled": t["modelled_tco_usd_per_gpu_hour"].map(fmt.usd),
                              "Modelled / published": t["modelled_to_published"].map(lambda v: fmt.number(v, 2)),
                              "Basis": t["basis"], "Source": t["source"], "Date": t["date"], "Confidence": t["confidence"].map(fmt.confidence_name)})
    return fmt.table(frame, "text", labels=False, index=False)      # rows are estimates: no row numbers


def capex_check_table(check: pd.DataFrame):
    """Published all-in capex figures against the model (``analysis.cost.capex_cross_check``):
    money in dollars ($12.0B), other units as plain numbers, the ratio as a factor."""
    money = [str(u).upper().startswith("USD") for u in check["unit"]]
    show = lambda values: [fmt.usd(v) if m else fmt.number(v) for v, m in zip(values, money)]
    frame = check.assign(published=show(check["published"]), modelled=show(check["modelled"]))
    return fmt.table(frame, {"published": "text", "modelled": "text", "modelled_to_published": "factor"})


# --------------------------------------------------------------------------- 31_cost: figures and tables
TCO_COMPONENTS = {"depreciation_usd_per_gpu_hour": "depreciation", "cost_of_capital_usd_per_gpu_hour": "cost of capital",
                  "electricity_usd_per_gpu_hour": "electricity", "maintenance_usd_per_gpu_hour": "maintenance",
                  "staff_usd_per_gpu_hour": "staff"}
CAPEX_COMPONENTS = {"gpu_usd_per_gpu": "GPU", "system_usd_per_gpu": "server / rack (non-GPU)",
                    "network_usd_per_gpu": "scale-out network", "storage_usd_per_gpu": "storage",
                    "facility_usd_per_gpu": "data-center construction"}
PRICE_COLUMNS = ["price_usd_low", "price_usd_central", "price_usd_high", "price_source"]


def bf16_utilization(utilization_result) -> float:
    """The modelled job utilization as a fraction of the BF16 dense peak, whichever denominator
    ``utilization_result`` (``scenario_results(...).details["utilization"]``) reports first."""
    if utilization_result.denominator == "bf16 dense":
        return utilization_result.value
    return utilization_result.value_other_denominator


def utilization_grid(quick: bool) -> np.ndarray:
    """Utilizations (fraction of peak) at which the cost curve is drawn: 5% to 50%, 12 points for
    smoke runs, 91 (every half point) otherwise."""
    return np.linspace(0.05, 0.5, 12 if quick else 91)


def cost_metrics(cost_result, comparison: dict) -> dict:
    """The cost report's headline figures for ``nbk.record``: yearly TCO, capex, TCO per GPU-hour
    (blend and ``tco_usd_per_gpu_hour_<gpu>`` per type) and the cost of a useful exaFLOP against the
    reference (``analysis.cost.compare_utilization``)."""
    d = cost_result.to_dict()
    return {"tco_usd_per_year": d["total_usd_per_year"], "capex_usd": d["capex_usd"],
            "capex_usd_per_gpu": d["capex_usd_per_gpu"], "tco_usd_per_gpu_hour": d["tco_usd_per_gpu_hour"],
            **{f"tco_usd_per_gpu_hour_{g}": v for g, v in cost_result.tco_by_gpu().items()},
            "utilization_bf16": comparison["utilization"], "usd_per_useful_exaflop": comparison["usd_per_useful_exaflop"],
            "usd_per_useful_exaflop_reference": comparison["usd_per_useful_exaflop_reference"],
            "reference_utilization": comparison["reference_utilization"], "cost_ratio_vs_reference": comparison["cost_ratio"],
            "excess_usd_per_year": comparison["excess_usd_per_year"]}


def cost_per_exaflop_figure(cost_result, utilization: float, references: pd.DataFrame, sc, grid):
    """Cost per useful exaFLOP over the utilizations ``grid``, the modelled utilization marked and
    the published observations (``power.load_utilization_references()``) as dashed lines; titled
    with the scenario's label."""
    return plots.utilization_curve(
        grid, {f"{sc.label}: TCO / useful FLOPs": cost_result.usd_per_useful_exaflop(grid)},
        ylabel="$ per useful exaFLOP", title=f"Cost per useful exaFLOP vs utilization, {sc.label}",
        marks={f"modelled utilization ({fmt.pct(utilization)})": (utilization, cost_result.usd_per_useful_exaflop(utilization))},
        references={f"{r.label} (observation)": r.utilization for r in references.itertuples()})


def tco_by_pool_figure(cost_result, sc):
    """TCO per GPU-hour of each pool as stacked components (depreciation, cost of capital,
    electricity, maintenance, staff), titled with the scenario's label."""
    return plots.stacked_bars(cost_result.by_pool, "pool", TCO_COMPONENTS, ylabel="$ per GPU-hour",
                              title=f"TCO per GPU-hour by pool, {sc.label}", fmt="{:,.2f}")


def tco_by_pool_table(cost_result):
    """TCO per GPU-hour of each pool by component, with its total and its cost per peak PFLOP-hour."""
    columns = ["gpu", "gpus", *TCO_COMPONENTS, "tco_usd_per_gpu_hour", "tco_usd_per_peak_pflop_hour"]
    return fmt.table(cost_result.by_pool.set_index("pool")[columns], label_index=False)


def capex_by_pool_figure(cost_result, sc):
    """All-in capex per GPU of each pool as stacked components (GPU, server, network, storage,
    facility), titled with the scenario's label."""
    return plots.stacked_bars(cost_result.by_pool, "pool", CAPEX_COMPONENTS, ylabel="capex per GPU ($)",
                              title=f"All-in capex per GPU, {sc.label}", fmt="{:,.0f}")


def capex_by_pool_table(cost_result):
    """Capex per GPU of each pool by component, with its all-in total per GPU and for the pool."""
    columns = ["gpus", *CAPEX_COMPONENTS, "capex_usd_per_gpu", "capex_usd"]
    pools = cost_result.by_pool
    in_gpu_price = sorted(set(pools.loc[pools["system_usd_per_gpu"] == 0, "gpu"].astype(str)))
    # data/prices.csv: a rack-scale system (NVL72) is priced as its rack over its GPUs, so no server cost is added
    caption = (f"{' and '.join(in_gpu_price)}: the GPU price is the rack price over its GPUs, Grace CPUs, NVSwitch trays and "
               f"chassis included (data/prices.csv), so the server and rack column reads $0." if in_gpu_price else None)
    return fmt.table(pools.set_index("pool")[columns], label_index=False, caption=caption)


def sensitivity_figure(sens: pd.DataFrame, utilization: float, sc):
    """Tornado of the cost per useful exaFLOP (``analysis.cost.sensitivity``), parameters named from
    the registry, titled with the utilization and the scenario's label."""
    return plots.tornado(sens["low"].rename(label), sens["high"].rename(label), float(sens["base"].iloc[0]),
                         "$ per useful exaFLOP",
                         title=f"One-at-a-time sensitivity at {fmt.pct(utilization)} utilization, {sc.label}")


def rate_comparison_figure(tco_by_gpu: pd.Series, rates: pd.DataFrame, sc):
    """Market rental rates against the modelled TCO per GPU-hour of each GPU type
    (``plots.rate_comparison``), titled with the scenario's label."""
    return plots.rate_comparison(tco_by_gpu, rates, title=f"Modelled TCO vs market rates, {sc.label}")


def pool_gpu_ids(sc) -> list[str]:
    """The GPU type of each of the scenario's pools, in pool order (a type repeats if two pools share it)."""
    return [p.gpu.id for p in sc.cluster.pools]


def gpu_price_table(sc):
    """Low, central and high GPU prices with their source (``data/gpus.csv``), one row per pool of the scenario."""
    from analysis.catalog import load_gpus

    return fmt.table(load_gpus().loc[pool_gpu_ids(sc), PRICE_COLUMNS], label_index=False)


def system_price_table(sc):
    """Non-GPU server and rack prices per GPU (``data/prices.csv``), one row per pool of the scenario."""
    from analysis import cost

    return fmt.table(cost.load_prices().loc[pool_gpu_ids(sc)], label_index=False)


# --------------------------------------------------------------------------- 31_cost: sentences
def cost_answer(cost_result, comparison: dict, cluster_name: str) -> "Markdown":
    """The cost report's answer (Markdown): yearly TCO, capex, TCO per GPU-hour by type, and the cost
    of a useful exaFLOP against the Llama 3 reference (``analysis.cost.compare_utilization``)."""
    from analysis.notebook import Markdown

    d = cost_result.to_dict()
    by_gpu = ", ".join(f"**{g} {fmt.usd(v)}**" for g, v in cost_result.tco_by_gpu().items() if g != "blend")
    return Markdown(f"Owning and running **{cluster_name}** costs about **{fmt.usd(d['total_usd_per_year'])} a year** "
                    f"(capex {fmt.usd(d['capex_usd'])}, {fmt.usd(d['capex_usd_per_gpu'])} per GPU all-in). TCO per GPU-hour: "
                    f"{by_gpu}. At the modelled utilization of **{fmt.pct(comparison['utilization'])}** of the BF16 dense peak "
                    f"a useful exaFLOP costs **{fmt.usd(comparison['usd_per_useful_exaflop'])}**, against "
                    f"{fmt.usd(comparison['usd_per_useful_exaflop_reference'])} at the Llama 3 reference "
                    f"({fmt.pct(comparison['reference_utilization'])}): {fmt.number(comparison['cost_ratio'], 2)} times as much. Compared "
                    f"with an operator at the reference, **{fmt.usd(comparison['excess_usd_per_year'])} a year** of the TCO buys "
                    "no useful FLOPs.")


def public_tco_summary(cost_result) -> tuple["Markdown", dict]:
    """One sentence per GPU type (Markdown): the modelled TCO per GPU-hour inside, below or above the published
    estimates (``data/tco_estimates.csv``), and ``{tco_public_low_<gpu>, tco_public_high_<gpu>}``."""
    from analysis import cost
    from analysis.notebook import Markdown

    estimates = cost.compare_public_tco(cost_result)
    if estimates.empty:
        return Markdown("No published TCO estimate exists in `data/tco_estimates.csv` for the GPU types of this cluster."), {}
    modelled = cost_result.tco_by_gpu()
    lines, metrics = [], {}
    for gpu, t in estimates.groupby("gpu"):
        low, high = float(t["tco_usd_per_gpu_hour"].min()), float(t["tco_usd_per_gpu_hour"].max())
        where = "inside" if low <= modelled[gpu] <= high else ("below" if modelled[gpu] < low else "above")
        published = fmt.usd(low) if low == high else f"{fmt.usd(low)} to {fmt.usd(high)}"
        lines.append(f"**{gpu}**: modelled {fmt.usd(modelled[gpu])} per GPU-hour, {where} the published {published}")
        metrics[f"tco_public_low_{gpu}"], metrics[f"tco_public_high_{gpu}"] = low, high
    return Markdown("; ".join(lines) + "."), metrics


def cost_band_sentence(figures: dict) -> "Markdown":
    """The blended TCO per GPU-hour and the cost per useful exaFLOP with their 5-95% bands over the
    scenario's draws (``EvaluateResult.to_dict()``: ``tco_blend_usd_per_gpu_hour``,
    ``usd_per_useful_exaflop`` and their ``_p05``/``_p95``)."""
    from analysis.notebook import Markdown

    tco = fmt.band(figures["tco_blend_usd_per_gpu_hour"], figures["tco_blend_usd_per_gpu_hour_p05"],
                   figures["tco_blend_usd_per_gpu_hour_p95"], fmt=fmt.usd)
    exaflop = fmt.band(figures["usd_per_useful_exaflop"], figures["usd_per_useful_exaflop_p05"],
                       figures["usd_per_useful_exaflop_p95"], fmt=fmt.usd)
    draws = figures.get("utilization", {}).get("draws")
    over = f" over the scenario's {fmt.integer(draws)} draws" if draws else ""
    return Markdown(f"Blended TCO per GPU-hour: **{tco}**; cost per useful exaFLOP: **{exaflop}** (central value, 5-95%{over}: "
                    "each draw's TCO at that draw's job utilization, so the range carries the uncertainty of both).")


# --------------------------------------------------------------------------- 33_lease_vs_rebuild: sentences and figures
def no_lease_answer(econ: dict, cluster_name: str) -> "Markdown":
    """The answer (Markdown) of a scenario that defines no lease: its options and the after-tax NPV
    of keeping the cluster over the horizon (``evaluate`` economics section)."""
    from analysis.notebook import Markdown

    options = ", ".join(label(o) for o in econ["options"])
    return Markdown(f"**This scenario defines no lease** (options: {options}): only keeping "
                    f"{cluster_name} for training is valued, at an after-tax NPV of {fmt.usd(econ['npv_usd']['keep'])} "
                    f"over {econ['horizon_months']} months.")


def lease_answer(econ: dict, result) -> "Markdown":
    """The answer (Markdown) of a scenario with a lease: the best option, what leasing is worth
    against keeping (5-95%) and how often it wins, the S-1 fee allocated two ways with its
    break-even rates, and the lessee's exit option (``evaluate`` economics section; ``result``
    the point-estimate ``OptionsResult`` that names the options)."""
    from analysis.notebook import Markdown

    alloc, ex = econ["break_even_by_allocation"], econ["exit_option"]
    lease = fmt.band(econ["npv_lease_minus_keep_usd"], econ["npv_lease_minus_keep_usd_p05"],
                     econ["npv_lease_minus_keep_usd_p95"], fmt.usd)
    return Markdown(
        f"**{fmt.first_upper(result.label(econ['best_option']))}** is the best option. Against the base "
        f"(**{result.label('keep')}**), leasing is worth **{lease}** "
        f"after tax over {econ['horizon_months']} months (5-95% over {fmt.number(econ['monte_carlo_draws'])} draws) and wins in "
        f"**{fmt.pct(econ['p_lease_beats_keep'])}** of draws; across both fee allocations and both prices of the rebuild it wins in "
        f"{fmt.pct(econ['p_lease_beats_keep_pooled'])}.\n\n"
        f"The S-1 fee covers {fmt.scaled(result.decision['contract_gpus'])} GPUs "
        f"at {fmt.usd(econ['contract_usd_per_gpu_hour'])} per GPU-hour; allocated **{alloc['rental_value']['label']}** this cluster's share is "
        f"**{fmt.usd(alloc['rental_value']['lease_usd_per_c1_gpu_hour'])}** per GPU-hour, **per GPU** {fmt.usd(alloc['per_gpu']['lease_usd_per_c1_gpu_hour'])}. "
        f"Leasing and keeping are worth the same at an S-1 rate of **{fmt.usd(alloc['rental_value']['break_even_contract_usd_per_gpu_hour'])}** "
        f"(rental-value allocation) or **{fmt.usd(alloc['per_gpu']['break_even_contract_usd_per_gpu_hour'])}** (per GPU) per GPU-hour, "
        f"{fmt.usd(econ['break_even_lease_usd_per_gpu_hour'])} per GPU-hour of this cluster.\n\n"
        f"The lessee's right to leave is worth **{fmt.usd(ex['lessee_value_usd'])}** to it on the median rent path "
        f"(5-95%: {fmt.usd(ex['lessee_value_usd_p05'])} to {fmt.usd(ex['lessee_value_usd_p95'])}) and costs xAI "
        f"{fmt.usd(ex['cost_to_lessor_usd'])}; the lessee leaves before the end in {fmt.pct(ex['p_exit_before_horizon'])} of draws. "
        f"Sunk book value left out of every option: {fmt.usd(econ['sunk_book_value_usd_excluded'])}.")


def lease_metrics(econ: dict) -> dict:
    """The lease report's headline figures for ``nbk.record`` (a scenario with a lease)."""
    alloc, ex = econ["break_even_by_allocation"], econ["exit_option"]
    return {"npv_lease_minus_keep_usd": econ["npv_lease_minus_keep_usd"],
            "npv_lease_minus_keep_usd_p05": econ["npv_lease_minus_keep_usd_p05"],
            "npv_lease_minus_keep_usd_p95": econ["npv_lease_minus_keep_usd_p95"],
            "break_even_lease_usd_per_gpu_hour": econ["break_even_lease_usd_per_gpu_hour"],
            "break_even_contract_rental_value_usd_per_gpu_hour": alloc["rental_value"]["break_even_contract_usd_per_gpu_hour"],
            "break_even_contract_per_gpu_usd_per_gpu_hour": alloc["per_gpu"]["break_even_contract_usd_per_gpu_hour"],
            "lease_usd_per_gpu_hour": econ["lease_usd_per_gpu_hour"], "p_lease_beats_keep": econ["p_lease_beats_keep"],
            "p_lease_beats_keep_pooled": econ["p_lease_beats_keep_pooled"],
            "exit_option_lessee_value_usd": ex["lessee_value_usd"], "has_lease": "yes"}


def fee_allocation_note(econ: dict) -> "Markdown":
    """How the S-1 fee is allocated two ways, and the successor's GPUs left for the rebuild against those it needs (Markdown)."""
    from analysis.notebook import Markdown

    return Markdown("**The S-1 fee, allocated two ways.** By rental value, each GPU type carries the fee in proportion to its "
                    "market rent (`data/market_rents.csv`); per GPU, every covered GPU the same. The successor's GPUs the "
                    "contract also covers are leased out and never counted as capacity for the rebuild "
                    f"({fmt.scaled(econ['rebuild_capacity_gpus'])} GPUs left, {fmt.scaled(econ['rebuild_gpus'])} needed).")


def lease_tornado_figure(table: pd.DataFrame, sc):
    """:func:`tornado_figure` of the incremental NPV (``economics.one_at_a_time``), titled with the scenario's label."""
    return tornado_figure(table, title=f"NPV of leasing minus keeping, one parameter at a time ({sc.label})")


def lessee_cost_sentence(econ: dict, fleet, api: pd.DataFrame) -> "Markdown":
    """What the lessee pays per million output tokens at the lease rate and the fleet's load factor,
    against the range of API list prices for the same requests (``inference.api_comparison``), in Markdown."""
    from analysis.notebook import Markdown

    prices = api["api_usd_per_million_output_tokens"]
    return Markdown(f"At {fmt.usd(econ['lease_usd_per_gpu_hour'])} per GPU-hour and a {fmt.pct(fleet.load_factor, 0)} load factor, "
                    f"the lessee pays **{fmt.usd(fleet.usd_per_million_output_tokens)} per million output tokens** (prompts included); "
                    f"the API list prices for the same requests range from {fmt.usd(prices.min())} "
                    f"to {fmt.usd(prices.max())}.")
