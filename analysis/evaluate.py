"""Headline figures of one scenario: ``python -m analysis evaluate SCENARIO [--json]``.

Everything comes from the model modules at the scenario's central values, plus Monte Carlo
bands from the scenario's ONE draw set (``Scenario.sample(draws, seed)``: every model consumes the
same :class:`~analysis.scenario.Draws`). Utilization is reported twice, side by side: per job (the
scenario's training job, :func:`analysis.utilization.job`) and for the whole fleet
(:mod:`analysis.fleet`: the workload mix over every GPU the reported ~11% refers to).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import fleet as fleet_model
from analysis import uncertainty, utilization
from analysis.catalog import observed_utilization
from analysis.scenario import Draws, Scenario, load_scenario, section_draws
from analysis.serialize import plain as _plain


@dataclass
class EvaluateResult:
    scenario: str
    title: str
    scenario_hash: str
    sections: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict, repr=False)   # the result objects behind the figures

    def headlines(self) -> pd.DataFrame:
        """The few figures a stakeholder needs, each with its 5-95% range and the report behind it."""
        d = self.to_dict()
        u, g, e, inf = d["utilization"], d["goodput"], d["economics"], d["inference"]
        precision, basis = u["denominator"].split(" ", 1)       # "bf16 dense": the unit reads "% of BF16 dense peak"
        rows = [
            ("Training utilization of the job", u["value"] * 100, u["p05"] * 100, u["p95"] * 100,
             f"% of {precision.upper()} {basis} peak", "20_utilization"),
        ]
        f = d.get("fleet") or {}
        if f.get("value_bf16_dense") is not None:
            rows += [("Fleet MFU (whole fleet, workload mix)", f["value_bf16_dense"] * 100, f["p05"] * 100, f["p95"] * 100,
                      "% of BF16 dense peak", "20_utilization"),
                     ("Fleet MFU against the FP8 dense peak", f["value_fp8_dense"] * 100, f["fp8_p05"] * 100, f["fp8_p95"] * 100,
                      "% of FP8 dense peak", "20_utilization")]
        if d.get("tco_blend_usd_per_gpu_hour") is not None:
            rows += [("TCO per GPU-hour (whole cluster, GPU-weighted)", d["tco_blend_usd_per_gpu_hour"],
                      d["tco_blend_usd_per_gpu_hour_p05"], d["tco_blend_usd_per_gpu_hour_p95"], "$ per GPU-hour", "31_cost"),
                     ("Cost per useful exaFLOP (at the job's utilization)", d["usd_per_useful_exaflop"],
                      d["usd_per_useful_exaflop_p05"], d["usd_per_useful_exaflop_p95"], "$ per useful exaFLOP", "31_cost")]
        rows += [
            ("Effective training time of the job (failures, checkpoints, restarts)", g["effective_training_time"] * 100,
             g["effective_training_time_p05"] * 100, g["effective_training_time_p95"] * 100, "% of wall-clock time", "21_goodput"),
        ] + ([
            ("NPV of leasing minus keeping, after tax (sunk book value excluded)", e["npv_lease_minus_keep_usd"] / 1e9,
             e["npv_lease_minus_keep_usd_p05"] / 1e9, e["npv_lease_minus_keep_usd_p95"] / 1e9,
             f"$B over {e['horizon_months']} months", "33_lease_vs_rebuild"),
            ("Break-even lease rate (lease = keep)", e["break_even_lease_usd_per_gpu_hour"],
             e["break_even_lease_usd_per_gpu_hour_p05"], e["break_even_lease_usd_per_gpu_hour_p95"],
             f"$/GPU-hour of the leased cluster (its S-1 share: {e['lease_usd_per_gpu_hour']:.2f})", "33_lease_vs_rebuild"),
            ("Lessee's exit option (value to the lessee)", e["exit_option"]["lessee_value_usd"] / 1e9,
             e["exit_option"]["lessee_value_usd_p05"] / 1e9, e["exit_option"]["lessee_value_usd_p95"] / 1e9,
             "$B", "33_lease_vs_rebuild"),
        ] if e.get("npv_lease_minus_keep_usd") is not None else []) + [
            ("Lessee's cost per million output tokens at the lease rate", inf["usd_per_million_tokens"],
             inf["usd_per_million_tokens_p05"], inf["usd_per_million_tokens_p95"], "$ per million tokens", "32_inference"),
        ]
        return pd.DataFrame(rows, columns=["figure", "value", "p05", "p95", "unit", "report"]).set_index("figure")

    def to_dict(self) -> dict:
        return _plain({"scenario": self.scenario, "title": self.title, "scenario_hash": self.scenario_hash, **self.sections})

    def summary(self) -> str:
        d = self.to_dict()
        u, p = d["utilization"], d["power"]
        lines = [f"{self.scenario}: {self.title} (scenario hash {self.scenario_hash})", ""]
        for figure, row in self.headlines().iterrows():
            span = "" if not np.isfinite(row.p05) else f"  (5-95%: {row.p05:,.3g} to {row.p95:,.3g})"
            lines.append(f"  {figure:<66} {row.value:>10,.3g} {row.unit}{span}")
        lines += ["", f"  reported ~{u['observed']:.0%} sits at the {u['share_at_or_below_observed']:.0%} quantile of "
                      f"{u['draws']:,} job utilization draws; {u['split']} split; largest job {u['largest_job_gpus']:,.0f} GPUs",
                  "  utilization factors: " + ", ".join(f"{k} {v:.3f}" for k, v in u["factors"].items())]
        f = d.get("fleet") or {}
        if f.get("value_bf16_dense") is not None:
            lines += [f"  fleet ({f['fleet']}, {f['as_of']}): reported ~{u['observed']:.0%} sits at the "
                      f"{f['share_at_or_below_observed']:.0%} quantile of fleet MFU draws (BF16 dense), "
                      f"{f['share_at_or_below_observed_fp8']:.0%} against FP8 dense",
                      "  fleet factors: " + ", ".join(f"{k} {v:.3f}" for k, v in f["factors"].items())]
        c = d.get("counterfactuals") or {}
        if c:
            lines.append("  counterfactuals (job): " + ", ".join(f"{k} {v['value']:.1%}" for k, v in c.items()))
        lines += [
                  f"  power: IT {p['it_mw']:,.0f} MW, facility {p['facility_mw']:,.0f} MW (Epoch method {p['epoch_method_mw']:,.0f} MW; "
                  f"site {p['site_power_mw'] or float('nan'):,.0f} MW)",
                  "  TCO $/GPU-hour: " + ", ".join(f"{k} {v:.2f}" for k, v in d["tco_usd_per_gpu_hour"].items()),
                  f"  cost per useful exaFLOP: ${d['usd_per_useful_exaflop']:.2f}",
                  "  NPV after tax ($B): " + ", ".join(f"{k} {v / 1e9:,.2f}" for k, v in d["economics"]["npv_usd"].items())
                  + (f"; P(lease beats keep) {d['economics']['p_lease_beats_keep']:.0%}"
                     if d["economics"].get("p_lease_beats_keep") is not None else "; no lease defined"),
                  f"  inference: {d['inference']['tokens_per_s'] / 1e6:,.1f} M tokens/s"]
        return "\n".join(lines)


def _q(values, qs=(0.05, 0.95)) -> tuple[float, float]:
    return tuple(float(np.quantile(np.asarray(values, float), q)) for q in qs)


def utilization_section(sc: Scenario, draws, seed: int):
    """Utilization of the scenario's job (point + Monte Carlo over the scenario's draws) and its
    goodput. ``draws``: the scenario's :class:`~analysis.scenario.Draws` or how many to take."""
    d = draws if isinstance(draws, Draws) else sc.sample(int(draws), seed)
    result = utilization.point(sc)
    mc = uncertainty.utilization_draws(sc, d)
    observed = observed_utilization()["value"]
    section = {"value": result.value, **mc.quantiles(), "denominator": result.denominator,
               f"value_{result.other_denominator.replace(' ', '_')}": result.value_other_denominator,
               "split": result.split, "factors": result.factors,
               "factor_groups": utilization.group_factors(result.factors), "draws": d.n, "seed": d.seed,
               "observed": observed, "share_at_or_below_observed": mc.share_at_or_below(observed),
               "largest_job_gpus": result.largest_job_gpus, "job": result.job.to_dict()}
    other = mc.outputs["utilization_other_denominator"]
    key = f"value_{result.other_denominator.replace(' ', '_')}"
    section[f"{key}_p05"], section[f"{key}_p95"] = _q(other)
    gp = result.goodput
    interval = np.asarray(gp.checkpoint_interval_s, float)
    # The goodput factors of the chain multiply to the effective training time; an islands split weights each job's by
    # its useful FLOPs there (utilization._reliability_factors), as its draws below do, so point and band agree.
    runtime = [np.asarray(v, float) for k, v in result.factors.items() if k.startswith("goodput:")]
    good = {"effective_training_time": float(np.prod(runtime)) if runtime else float(np.mean(gp.effective_training_time)),
            "interruptions_per_day": float(np.sum(gp.interruptions_per_day)),
            "checkpoint_interval_min": float(np.mean(interval)) / 60,
            "scheduling_goodput": float(np.mean(gp.scheduling_goodput)),
            "job_gpus": result.largest_job_gpus}
    ettr = np.prod([mc.outputs[c] for c in mc.outputs if c.startswith("factor: goodput:")], axis=0)
    good["effective_training_time_p05"], good["effective_training_time_p95"] = _q(ettr)
    return section, good, result, mc


def fleet_section(sc: Scenario, draws: Draws):
    """Fleet MFU (point + bands over the same draws), against the BF16 and the FP8 dense peak,
    with the factor decomposition and where the peak goes. ``({}, None, None)`` without a fleet."""
    if not fleet_model.enabled(sc):
        return {"fleet": "none"}, None, None
    point = fleet_model.point(sc)
    mc = fleet_model.fleet_draws(sc, draws)
    observed = observed_utilization()["value"]
    out = point.to_dict()
    q, q8 = mc.quantiles(), mc.quantiles("fleet_mfu_fp8_dense")
    out.update({**q, "fp8_p05": q8["p05"], "fp8_p50": q8["p50"], "fp8_p95": q8["p95"], "observed": observed,
                "share_at_or_below_observed": float(np.mean(mc.value <= observed)),
                "share_at_or_below_observed_fp8": float(np.mean(mc.outputs["fleet_mfu_fp8_dense"] <= observed)),
                "draws": draws.n})
    return out, point, mc


COUNTERFACTUALS = {"as scenario": {}, "uniform": {"split": "uniform"}, "aware": {"split": "aware"},
                   "islands (equal tokens per GPU)": {"split": "islands", "islands_batch": "equal_tokens_per_gpu"},
                   "islands (own critical batch)": {"split": "islands", "islands_batch": "own_critical_batch"}}


def counterfactual_section(sc: Scenario, draws: Draws) -> dict:
    """The scenario's job under each split over the same draws (uniform, aware, islands at equal
    tokens per GPU and at their own batch) plus "no mixing loss": each GPU type at its own step
    model as if homogeneous (the uniform job without its memory/domain and pacing factors, the
    equal-peak homogeneous baseline of HexiScale's comparison). Values against the job's peak."""
    if len(sc.cluster.pools) < 2:
        return {}
    base = dict(section_draws(draws, "job"))
    out = {}
    for name, change in COUNTERFACTUALS.items():
        job = {**base, **change}
        r = utilization.chain(sc.cluster, job, section_draws(draws, "heterogeneity"), section_draws(draws, "goodput"),
                              gpus=draws.pool_counts)
        p = utilization.chain(sc.cluster, {**sc.values("job"), **change}, sc.values("heterogeneity"), sc.values("goodput"))
        low, high = _q(r["value"])
        out[name] = {"value": float(p["value"]), "p05": low, "p95": high, "p50": float(np.median(r["value"]))}
        if name == "uniform":
            strip = [k for k in ("memory and NVLink-domain limits", "pacing by slowest GPU type") if k in p["factors"]]
            pv = float(p["value"]) / float(np.prod([p["factors"][k] for k in strip]))
            rv = r["value"] / np.prod([r["factors"][k] for k in strip], axis=0)
            lo, hi = _q(rv)
            homogeneous = {"value": pv, "p05": lo, "p95": hi, "p50": float(np.median(rv))}
    out["homogeneous (no mixing loss)"] = homogeneous
    return out


def economics_sections(sc: Scenario, point: utilization.UtilizationResult, draws: int, seed: int,
                       flip_thresholds: bool = True) -> tuple[dict, dict]:
    """Power, TCO, cost per useful exaFLOP, inference and the options the scenario compares, plus
    the result objects they came from (for notebooks).

    ``economics``: after-tax NPV of each declared option and its increment over keep (5-95% bands),
    IRR where an incremental investment exists, payback; where the scenario defines a lease, the
    break-even lease rate under both fee allocations, both prices of the rebuild, the lessee's exit
    option and the flip thresholds (:func:`analysis.economics.flip_thresholds`; skipped with
    ``flip_thresholds=False``, as a sweep does: they are no headline figure and cost most of a point)."""
    from analysis import cost, economics, inference, power

    pw = power.cluster_power(sc.cluster, sc.values("power"))
    tco = cost.cluster_tco(sc.cluster, sc.values("power"), sc.values("cost"))
    u = point.value_bf16_dense
    mc_draws = max(2, min(draws, 5_000))
    util_point = economics.modelled_utilization(sc)
    util_mc = economics.modelled_utilization(sc, n_draws=mc_draws, seed=seed)
    options = economics.from_scenario(sc, utilization_by_option=util_point)
    options_mc = economics.from_scenario(sc, n_draws=mc_draws, seed=seed, utilization_by_option=util_mc)
    point_options, mc = options.to_dict(), options_mc.to_dict()
    # The lessee's cost per token at Colossus 1's allocated S-1 fee when the scenario leases it
    # (inference.lease_usd_per_gpu_hour: override when the scenario sets it, fallback otherwise).
    inf_values = inference.with_lessee_lease(sc.values("inference"), sc, point_options)
    fleet = inference.fleet_capacity(sc.cluster, inf_values)
    fleet_offline = inference.fleet_capacity(sc.cluster, inf_values, slo="offline")
    public = cost.compare_public_tco(tco)
    out = {
        "power": {"it_mw": pw.it_mw, "facility_mw": pw.facility_mw, "epoch_method_mw": pw.epoch_method_mw,
                  "facility_nameplate_mw": pw.facility_nameplate_mw,
                  "site_power_mw": sc.cluster.site_power_mw.value if sc.cluster.site_power_mw else None,
                  "stall_swing_mw": pw.stall_swing_mw},
        "tco_usd_per_gpu_hour": {k: float(v) for k, v in tco.tco_by_gpu().items()},
        "tco_public_estimates_usd_per_gpu_hour": {g: {"low": float(t["tco_usd_per_gpu_hour"].min()),
                                                      "high": float(t["tco_usd_per_gpu_hour"].max()), "estimates": int(len(t))}
                                                  for g, t in public.groupby("gpu")},
        "usd_per_useful_exaflop": float(tco.usd_per_useful_exaflop(u)),
        "energy_mwh_per_useful_exaflop": float(pw.energy_mwh_per_useful_exaflop(u)),
        "inference": {"tokens_per_s": fleet.tokens_per_s, "tokens_per_day": fleet.tokens_per_day,
                      "usd_per_million_tokens": fleet.usd_per_million_output_tokens,
                      "usd_per_million_input_tokens": fleet.usd_per_million_input_tokens,
                      "usd_per_million_output_tokens_decode": fleet.usd_per_million_output_tokens_decode,
                      "max_tpot_ms": fleet.max_tpot_ms, "max_ttft_ms": fleet.max_ttft_ms,
                      "tokens_per_s_offline": fleet_offline.tokens_per_s,
                      "usd_per_million_tokens_offline": fleet_offline.usd_per_million_output_tokens,
                      "lease_usd_per_gpu_hour": fleet.lease_usd_per_gpu_hour, "lease_source": fleet.lease_source},
        "economics": {key: point_options[key] for key in (
            "options", "option_labels", "base", "npv_usd", "incremental_npv_usd", "irr", "payback_months",
            "break_even_lease_usd_per_gpu_hour", "break_even_vs_islands_usd_per_gpu_hour", "useful_exaflops",
            "usd_per_useful_exaflop", "lease_usd_per_gpu_hour", "npv_lease_minus_keep_usd", "best_option", "horizon_months",
            "discount_rate_annual", "tax_rate")},
    }
    draws_inf = section_draws(sc.sample(mc_draws, seed), "inference")
    fleet_mc = inference.fleet_draws(sc.cluster, inference.with_lessee_lease(draws_inf, sc, point_options))
    out["inference"]["usd_per_million_tokens_p05"], out["inference"]["usd_per_million_tokens_p95"] = \
        _q(fleet_mc["usd_per_million_output_tokens"])
    out["inference"]["tokens_per_s_p05"], out["inference"]["tokens_per_s_p95"] = _q(fleet_mc["tokens_per_s"])
    econ = out["economics"]
    econ.update({"monte_carlo_draws": mc_draws, "p_lease_beats_keep": mc.get("p_lease_beats_keep"),
                 "p_lease_beats_islands": mc.get("p_lease_beats_islands"), "npv_usd_quantiles": mc["npv_usd_quantiles"],
                 "incremental_npv_usd_quantiles": mc["incremental_npv_usd_quantiles"],
                 "sunk_book_value_usd_excluded": point_options["decision"].get("sunk_book_value_usd_excluded"),
                 "utilization_keep": float(util_point["keep"]), "utilization_rebuild": float(util_point["colossus2"])})
    objects = {"power": pw, "cost": tco, "fleet": fleet, "fleet_offline": fleet_offline, "options": options, "options_mc": options_mc,
               "utilization_by_option": util_point, "utilization_by_option_draws": util_mc}
    if options.has_lease:
        gap_low, gap_high = _q(options_mc.npv_lease_minus_keep_usd)
        be = np.asarray(options_mc.break_even_lease_usd_per_gpu_hour, float)
        be_low, be_high = _q(be[np.isfinite(be)]) if np.any(np.isfinite(be)) else (float("nan"), float("nan"))
        dp, dm = point_options["decision"], mc["decision"]
        flips = economics.flip_thresholds(sc, utilization_by_option=util_point) if flip_thresholds else None
        econ.update({
            "npv_lease_minus_keep_usd_p05": gap_low, "npv_lease_minus_keep_usd_p95": gap_high,
            "break_even_lease_usd_per_gpu_hour_p05": be_low, "break_even_lease_usd_per_gpu_hour_p95": be_high,
            "break_even_by_allocation": {a: {"label": d["label"], "c1_share_of_fee": d["c1_share_of_fee"],
                                             "lease_usd_per_c1_gpu_hour": d["lease_usd_per_gpu_hour"],
                                             "break_even_usd_per_c1_gpu_hour": d["break_even_usd_per_c1_gpu_hour"]["mean"],
                                             "break_even_contract_usd_per_gpu_hour": d["break_even_contract_usd_per_gpu_hour"]["mean"],
                                             "break_even_contract_usd_per_gpu_hour_p05": dm["allocations"][a]["break_even_contract_usd_per_gpu_hour"]["p05"],
                                             "break_even_contract_usd_per_gpu_hour_p95": dm["allocations"][a]["break_even_contract_usd_per_gpu_hour"]["p95"],
                                             "npv_lease_minus_keep_usd": d["incremental_npv_usd"]["mean"],
                                             "npv_lease_minus_keep_usd_p05": dm["allocations"][a]["incremental_npv_usd"]["p05"],
                                             "npv_lease_minus_keep_usd_p95": dm["allocations"][a]["incremental_npv_usd"]["p95"]}
                                         for a, d in dp["allocations"].items()},
            "allocation_used": dp["allocation_used"],
            "contract_usd_per_gpu_hour": dp["contract_usd_per_gpu_hour"],
            "break_even_fixed_exit_usd_per_gpu_hour": dp["break_even_fixed_exit_usd_per_gpu_hour"]["mean"],
            "rebuild_pricing": {b: {"npv_lease_minus_keep_usd": dp["rebuild_pricing"][b]["mean"],
                                    "p05": dm["rebuild_pricing"][b]["p05"], "p95": dm["rebuild_pricing"][b]["p95"]}
                                for b in dp["rebuild_pricing"]},
            "rebuild_pricing_used": dp["rebuild_pricing_used"],
            "rebuild_gpus": dp["rebuild_gpus"], "rebuild_capacity_gpus": dp["rebuild_capacity_gpus"],
            "exit_option": {"lessee_value_usd": dp["exit"]["lessee_option_value_usd"]["mean"],
                            "lessee_value_usd_mc_mean": dm["exit"]["lessee_option_value_usd"]["mean"],
                            "lessee_value_usd_p05": dm["exit"]["lessee_option_value_usd"]["p05"],
                            "lessee_value_usd_p95": dm["exit"]["lessee_option_value_usd"]["p95"],
                            "cost_to_lessor_usd": dp["exit"]["cost_to_lessor_usd"]["mean"],
                            "cost_to_lessor_usd_p05": dm["exit"]["cost_to_lessor_usd"]["p05"],
                            "cost_to_lessor_usd_p95": dm["exit"]["cost_to_lessor_usd"]["p95"],
                            "lease_end_month": dp["exit"]["lease_end_month"]["mean"],
                            "lease_end_month_p05": dm["exit"]["lease_end_month"]["p05"],
                            "lease_end_month_p95": dm["exit"]["lease_end_month"]["p95"],
                            "p_exit_before_horizon": dm["exit"]["p_exit_before_horizon"]},
            "p_lease_beats_keep_by_choice": dm.get("p_lease_beats_keep_by_choice"),
            "p_lease_beats_keep_pooled": dm.get("p_lease_beats_keep_pooled"),
            "flip_thresholds": {} if flips is None else {
                k: {"current": float(r.current), "flip_value": float(r.flip_value), "unit": r.unit,
                    "within_sourced_range": bool(r.within_range)} for k, r in flips.iterrows()},
        })
        if flips is not None:
            objects["flip_thresholds"] = flips
    return out, objects


def cost_band_section(sc: Scenario, draws: Draws, point: utilization.UtilizationResult, mc, central=None) -> dict:
    """The cluster's TCO per GPU-hour (GPU-weighted blend) and its cost per useful exaFLOP, each with
    its 5-95% band over the scenario's one draw set: every draw's TCO (its power and cost values)
    at that draw's job utilization of the BF16 dense peak, so the band carries both uncertainties
    (:func:`analysis.cost.cluster_tco`, :meth:`analysis.cost.CostResult.usd_per_useful_exaflop`).
    ``central``: the TCO at the central values when already computed (the economics section's)."""
    from analysis import cost

    tco = cost.cluster_tco(sc.cluster, section_draws(draws, "power"), section_draws(draws, "cost"))
    if central is None:
        central = cost.cluster_tco(sc.cluster, sc.values("power"), sc.values("cost"))
    u = np.asarray(mc.value if point.denominator == "bf16 dense" else mc.outputs["utilization_other_denominator"], float)
    out = {"tco_blend_usd_per_gpu_hour": float(np.ravel(central.tco_usd_per_gpu_hour)[0])}
    out["tco_blend_usd_per_gpu_hour_p05"], out["tco_blend_usd_per_gpu_hour_p95"] = \
        _q(np.broadcast_to(tco.tco_usd_per_gpu_hour, u.shape))
    # a draw whose job does not fit (utilization 0) buys no useful FLOP: its cost per one is infinite
    fits = u > 0
    per_exaflop = np.full(u.shape, np.inf)
    per_exaflop[fits] = cost.usd_per_useful_exaflop(np.broadcast_to(tco.tco_usd_per_hour, u.shape)[fits],
                                                    tco.peak_eflops_bf16_dense, u[fits])
    out["usd_per_useful_exaflop_p05"], out["usd_per_useful_exaflop_p95"] = (
        _q(per_exaflop) if fits.all() else   # interpolating towards an infinite draw gives inf or NaN: take draws
        tuple(float(np.quantile(per_exaflop, q, method="higher")) for q in (0.05, 0.95)))
    return out


def sensitivity_section(sc: Scenario, base_samples: int, seed: int, mc, fleet_mc) -> dict:
    """Sobol indices (``base_samples`` N, SALib) of the job utilization and the fleet MFU, each
    beside the standardized regression on the scenario's Monte Carlo draws
    (:func:`analysis.uncertainty.sensitivity_comparison`): ``{"sobol": SobolResult,
    "comparisons": {output name: table}}``."""
    sob = uncertainty.sobol_indices(sc, base_samples=int(base_samples), seed=seed)
    comparisons = {"job utilization": uncertainty.sensitivity_comparison(sob, mc.inputs, mc.value, "job utilization")}
    if fleet_mc is not None:
        comparisons["fleet MFU"] = uncertainty.sensitivity_comparison(sob, fleet_mc.inputs, fleet_mc.value, "fleet MFU")
    return {"sobol": sob, "comparisons": comparisons}


def evaluate(name_or_file, draws: int = 10_000, seed: int = 0, sobol_samples: int | None = None,
             flip_thresholds: bool = True) -> EvaluateResult:
    """All headline figures of a scenario (job and fleet utilization, goodput, power, cost,
    inference, economics), every band from the scenario's one draw set. ``sobol_samples``: also
    the Sobol indices at that base sample size N (``details["sensitivity"]``; the reports' size
    is :data:`analysis.results.SOBOL_SAMPLES`), skipped when ``None``. ``flip_thresholds=False``
    skips the search for the values that would flip the decision (a sweep's points)."""
    sc = load_scenario(name_or_file)
    d = sc.sample(int(draws), seed)
    util, good, point, mc = utilization_section(sc, d, seed)
    fleet, fleet_point, fleet_mc = fleet_section(sc, d)
    counterfactuals = counterfactual_section(sc, d)
    money, objects = economics_sections(sc, point, draws, seed, flip_thresholds=flip_thresholds)
    money.update(cost_band_section(sc, d, point, mc, central=objects["cost"]))
    details = {"utilization": point, "utilization_draws": mc, "job": point.job, "draws": d,
               "fleet_utilization": fleet_point, "fleet_draws": fleet_mc, **objects}
    if sobol_samples:
        details["sensitivity"] = sensitivity_section(sc, sobol_samples, seed, mc, fleet_mc)
    return EvaluateResult(sc.name, sc.title, sc.hash,
                          {"utilization": util, "fleet": fleet, "counterfactuals": counterfactuals, "goodput": good, **money},
                          details)
