"""Headline figures of one scenario: ``python -m analysis evaluate SCENARIO [--json]``.

Everything comes from the model modules at the scenario's central values, plus the Monte Carlo
distribution of utilization (``--draws``, ``--seed``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis import uncertainty, utilization
from analysis.catalog import observed_utilization
from analysis.scenario import Scenario, load_scenario


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass
class EvaluateResult:
    scenario: str
    title: str
    scenario_hash: str
    sections: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _plain({"scenario": self.scenario, "title": self.title, "scenario_hash": self.scenario_hash, **self.sections})

    def summary(self) -> str:
        d = self.to_dict()
        u = d["utilization"]
        lines = [f"{self.scenario}: {self.title}",
                 f"  utilization {u['value']:.1%} of {u['denominator']} peak (p05 {u['p05']:.1%}, p50 {u['p50']:.1%}, "
                 f"p95 {u['p95']:.1%}; {u['draws']:,} draws); observed ~{u['observed']:.0%} sits at the "
                 f"{u['share_at_or_below_observed']:.0%} quantile",
                 "  factors: " + ", ".join(f"{k} {v:.3f}" for k, v in u["factors"].items())]
        g = d.get("goodput")
        if g:
            lines.append(f"  goodput: effective training time {g['effective_training_time']:.1%}, "
                         f"{g['interruptions_per_day']:.3g} interruptions/day, checkpoint every {g['checkpoint_interval_min']:.3g} min")
        for key in ("power", "tco_usd_per_gpu_hour", "usd_per_useful_exaflop", "economics", "inference"):
            if key in d:
                lines.append(f"  {key}: {d[key]}")
        return "\n".join(lines)


def utilization_section(sc: Scenario, draws: int, seed: int) -> tuple[dict, dict, utilization.UtilizationResult]:
    result = utilization.point(sc)
    mc = uncertainty.utilization_draws(sc, draws=draws, seed=seed)
    observed = observed_utilization()["value"]
    section = {"value": result.value, **mc.quantiles(), "denominator": result.denominator,
               f"value_{result.other_denominator.replace(' ', '_')}": result.value_other_denominator,
               "split": result.split, "factors": result.factors, "draws": draws, "seed": seed,
               "observed": observed, "share_at_or_below_observed": mc.share_at_or_below(observed),
               "largest_job_gpus": result.largest_job_gpus}
    gp = result.goodput
    interval = np.asarray(gp.checkpoint_interval_s, float)
    good = {"effective_training_time": float(np.mean(gp.effective_training_time)),
            "interruptions_per_day": float(np.sum(gp.interruptions_per_day)),
            "checkpoint_interval_min": float(np.mean(interval)) / 60,
            "scheduling_goodput": float(np.mean(gp.scheduling_goodput))}
    return section, good, result


def evaluate(name_or_file, draws: int = 10_000, seed: int = 0) -> EvaluateResult:
    """All headline figures of a scenario (utilization, goodput, power, cost, inference, economics)."""
    sc = load_scenario(name_or_file)
    util, good, point = utilization_section(sc, draws, seed)
    sections = {"utilization": util, "goodput": good}
    sections.update(_economics_sections(sc, point, draws, seed))
    return EvaluateResult(sc.name, sc.title, sc.hash, sections)


def _economics_sections(sc: Scenario, point: utilization.UtilizationResult, draws: int, seed: int) -> dict:
    """Power, TCO, cost per useful exaFLOP, inference and lease-versus-rebuild figures."""
    from analysis import cost, economics, inference, power

    pw = power.cluster_power(sc.cluster, sc.values("power"))
    tco = cost.cluster_tco(sc.cluster, sc.values("power"), sc.values("cost"))
    u = point.value_bf16_dense
    fleet = inference.fleet_capacity(sc.cluster, sc.values("inference"))
    out = {
        "power": {"it_mw": pw.it_mw, "facility_mw": pw.facility_mw, "epoch_method_mw": pw.epoch_method_mw,
                  "facility_nameplate_mw": pw.facility_nameplate_mw,
                  "site_power_mw": sc.cluster.site_power_mw.value if sc.cluster.site_power_mw else None,
                  "stall_swing_mw": pw.stall_swing_mw},
        "tco_usd_per_gpu_hour": {k: float(v) for k, v in tco.tco_by_gpu().items()},
        "usd_per_useful_exaflop": float(tco.usd_per_useful_exaflop(u)),
        "energy_mwh_per_useful_exaflop": float(pw.energy_mwh_per_useful_exaflop(u)),
        "inference": {"tokens_per_s": fleet.tokens_per_s, "tokens_per_day": fleet.tokens_per_day,
                      "usd_per_million_tokens": fleet.usd_per_million_output_tokens,
                      "lease_usd_per_gpu_hour": fleet.lease_usd_per_gpu_hour},
    }
    point_options = economics.from_scenario(sc, utilization_by_option=economics.modelled_utilization(sc)).to_dict()
    mc_draws = max(2, min(draws, 5_000))
    mc = economics.from_scenario(sc, n_draws=mc_draws, seed=seed,
                                 utilization_by_option=economics.modelled_utilization(sc, n_draws=mc_draws, seed=seed)).to_dict()
    out["economics"] = {key: point_options[key] for key in ("npv_usd", "irr", "break_even_lease_usd_per_gpu_hour",
                                                            "break_even_vs_islands_usd_per_gpu_hour", "useful_exaflops",
                                                            "usd_per_useful_exaflop", "lease_usd_per_gpu_hour", "best_option",
                                                            "horizon_months")}
    out["economics"].update({"monte_carlo_draws": mc_draws, "p_lease_beats_keep": mc["p_lease_beats_keep"],
                             "p_lease_beats_islands": mc["p_lease_beats_islands"], "npv_usd_quantiles": mc["npv_usd_quantiles"]})
    return out
