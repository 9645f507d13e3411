"""The scenario adapter: the ``economics`` section, its inputs from the scenario, and the decision outputs.

:func:`from_scenario` turns a scenario (its ``economics``, ``power`` and ``cost`` sections, its
cluster and the successor cluster) into the core inputs of :func:`~analysis.economics.options.compare_options`,
for a point estimate or Monte Carlo draws, and adds the decision figures: the break-even lease
rate under both fee allocations, both prices of the rebuild, the lessee's exit option and the
probability that leasing wins across allocation and valuation choices. :func:`flip_thresholds`
gives, for each main driver, the value at which the decision flips; :func:`one_at_a_time` the
tornado of the incremental NPV.

One set of job assumptions (:func:`modelled_utilization`): the scenario's one job definition
(``job`` section: model, batch, split, ``max_job_gpus``; ``heterogeneity``, ``goodput``) is run
through :mod:`analysis.utilization` on both Colossus 1 (keep) and on the successor's GPUs that
are not leased out (rebuild); the same seed gives the same job draws on both.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analysis.catalog import Cluster, gpu, gpu_ids, load_cluster
from analysis.economics import exit as exit_model
from analysis.economics import finance, lease
from analysis.economics.finance import HOURS_PER_MONTH
from analysis.economics.options import (BASE, C2_COST_BASES, CORE_INPUTS, OPTIONS, TEXT_INPUTS, OptionsResult,
                                        cash_flow_components, compare_options, lease_gap_function,
                                        value_usd_per_useful_exaflop)
from analysis.errors import InputError, shown
from analysis.params import Param, Spec

OPTION_SETS = ("keep", "keep,lease", "keep,islands", "keep,lease,islands")
SECTIONS_USED = ("economics", "power", "cost")
RENT_SHOCK_SEED = 7

PARAMETERS: dict[str, Spec] = {
    "options": Spec("", "options the scenario compares against keeping the cluster (a lease only where the scenario defines one)",
                    choices=OPTION_SETS),
    "horizon_months": Spec("months", "length of the cash-flow horizon (the S-1 term runs to May 2029)", min=1, max=120, integer=True),
    "lease_usd_per_month_s1": Spec("USD/month", "S-1 monthly fee of the Anthropic Cloud Services Agreement", min=0,
                                   min_inclusive=False, max=1e11),
    "s1_gpus_covered": Spec("GPUs", "GPUs the S-1 monthly fee covers (Colossus 1 and the successor's leased GPUs)", min=1, max=1e7),
    "lease_allocation": Spec("", "how Colossus 1's share of the fee is set: by rental value per GPU type or per GPU",
                             choices=lease.ALLOCATIONS),
    "leased_rebuild_gpu": Spec("", "GPU type of the successor's GPUs the contract covers beyond Colossus 1", choices=tuple(gpu_ids())),
    "lease_ramp_months": Spec("months", "months of discounted fees at the start of the lease", min=0, max=12),
    "lease_ramp_fee_fraction": Spec("fraction", "fee during the ramp as a share of the full fee", min=0, max=1),
    "lease_lock_in_months": Spec("months", "months before either side may give notice", min=0, max=36),
    "lease_notice_months": Spec("months", "notice period before a termination takes effect", min=0, max=36),
    "lease_power_paid_by": Spec("", "who pays Colossus 1's electricity while it is leased", choices=("lessor", "lessee")),
    "market_rent_position": Spec("0 low .. 1 high", "position of today's market rents inside their sourced ranges "
                                 "(data/market_rents.csv), one draw for every GPU type", min=0, max=1),
    "rent_drift_per_year": Spec("1/yr (log)", "median change of market GPU rents per year (log; negative = decline)", min=-2, max=1),
    "rent_volatility_per_year": Spec("1/sqrt(yr)", "volatility of market GPU rents (log, annualized)", min=0, max=2),
    "exit_premium_threshold": Spec("fraction", "the lessee leaves when the contract's premium over market rent exceeds "
                                   "its premium at signing by this share", min=0, max=5),
    "relet_fraction": Spec("fraction", "share of the freed GPUs' market rent xAI earns after an exit", min=0, max=1),
    "c1_age_months_at_start": Spec("months", "GPU-weighted age of Colossus 1 at the start (sets its sunk book value, "
                                   "reported, never counted)", min=0, max=240),
    "lease_transition_usd_per_gpu": Spec("USD/GPU", "one-off cost of handing Colossus 1 over and moving the training",
                                         min=0, max=50000),
    "islands_transition_usd_per_gpu": Spec("USD/GPU", "one-off cost of re-partitioning Colossus 1 into islands", min=0, max=50000),
    "islands_value_fraction": Spec("fraction", "value of a FLOP in a single-type island job relative to one in a job spanning "
                                   "the cluster (applied wherever the islands operation appears)", min=0, max=1),
    "rebuild_fraction": Spec("fraction", "share of keep's useful training the lease option rebuilds on the successor", min=0, max=1),
    "value_reference_gpu": Spec("", "GPU type whose rental market prices a useful training FLOP", choices=tuple(gpu_ids())),
    "market_reference_utilization": Spec("fraction", "useful-FLOP utilization of a well-run homogeneous job on rented GPUs "
                                         "(BF16 dense peak)", min=0, max=1, min_inclusive=False),
    "c2_cost_basis": Spec("", "what a successor GPU-hour costs the rebuilt training: its TCO (capex + running cost) or its "
                          "market rent (opportunity cost)", choices=C2_COST_BASES),
    "federal_tax_rate": Spec("fraction", "US federal corporate income tax rate", min=0, max=0.6),
    "state_tax_rate": Spec("fraction", "state tax on net earnings (deductible federally)", min=0, max=0.3),
    "tax_depreciation": Spec("", "tax depreciation of the successor GPUs bought for the rebuild",
                             choices=finance.TAX_DEPRECIATION_METHODS),
}


def declared_options(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The options a scenario compares (``economics.options``), keep first."""
    return tuple(values["options"].split(","))


def validate_section(values: dict, cluster: Cluster) -> None:
    """Cross-checks: the earliest exit must fall inside the horizon; rents exist for the GPU types used."""
    lock, notice, horizon = values["lease_lock_in_months"], values["lease_notice_months"], values["horizon_months"]
    if lock + notice >= horizon:
        raise InputError(f"economics.lease_lock_in_months + lease_notice_months: {lock:g} + {notice:g} is not below "
                         f"horizon_months {horizon:g}; the earliest exit must fall inside the horizon")
    rents = lease.load_market_rents()
    for key in ("value_reference_gpu", "leased_rebuild_gpu"):
        if values[key] not in rents.index:
            raise InputError(f"economics.{key}: {shown(values[key])} has no market rent in data/market_rents.csv; "
                             f"rents exist for {', '.join(rents.index)}")
    missing = [p.gpu.id for p in cluster.pools if p.gpu.id not in rents.index]
    if missing:
        raise InputError(f"economics: GPU {shown(missing[0])} of cluster {cluster.id} has no market rent in data/market_rents.csv")


# --------------------------------------------------------------------------- labels from the data
def short_name(cluster: Cluster) -> str:
    """``"xAI Colossus 1 (Memphis, TN)"`` -> ``"xAI Colossus 1"``."""
    return cluster.name.split(" (")[0].strip() or cluster.id


def option_labels(c1: Cluster, c2: Cluster, keep_split: str = "uniform") -> dict[str, str]:
    """Human labels of the options, from the cluster data (never a hard-coded cluster name)."""
    a, b = short_name(c1), short_name(c2)
    how = {"uniform": "one job, uniform split", "aware": "one job, heterogeneity-aware split",
           "islands": "one job per GPU type"}.get(keep_split, keep_split)
    return {"keep": f"keep {a} training ({how})", "lease": f"lease {a}, rebuild its training on {b}",
            "islands": f"re-partition {a} into one job per GPU type"}


# --------------------------------------------------------------------------- successor capacity
def _gpus_by_type(cluster: Cluster) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in cluster.pools:
        out[p.gpu.id] = out.get(p.gpu.id, 0.0) + p.gpus
    return out


def leased_successor_gpus(econ: Mapping[str, Any], c1: Cluster):
    """Successor GPUs the contract covers: ``s1_gpus_covered - Colossus 1 GPUs`` (never negative)."""
    return np.maximum(np.asarray(econ["s1_gpus_covered"], dtype=float) - c1.gpus, 0.0)


def rebuild_cluster(c2: Cluster, leased_gpus: float, leased_gpu: str) -> Cluster:
    """The successor without the GPUs leased out (taken from its ``leased_gpu`` pools first): the
    capacity that may rebuild the training."""
    left, pools = float(leased_gpus), []
    for p in c2.pools:
        take = min(left, p.gpus) if p.gpu.id == leased_gpu else 0.0
        left -= take
        n = p.gpus - take
        if n <= 0:
            continue
        lo = None if p.count.low is None else max(1.0, p.count.low - take)
        hi = None if p.count.high is None else max(n, p.count.high - take)
        count = Param(n, min(lo, n) if lo is not None else None, hi, f"{p.count.source}; minus {take:,.0f} GPUs leased out")
        pools.append(dataclasses.replace(p, count=count))
    if not pools:
        raise InputError(f"economics.s1_gpus_covered: the contract leases out every GPU of {c2.id}; nothing is left to rebuild on")
    return dataclasses.replace(c2, pools=tuple(pools))


def rebuild_utilization(sc, successor: Cluster, target_eflops_per_s, n_draws: int | None = None, seed: int = 0,
                        iterations: int = 8):
    """Utilization (BF16 dense) of the scenario's job rebuilt on ``successor``: the same job section
    (model, batch, split, ``max_job_gpus``), heterogeneity and goodput, on as many successor GPUs (in
    its pool mix, at most all of them) as deliver ``target_eflops_per_s`` useful EFLOP/s. A fixed
    point of ``N = target / (peak per GPU x u(N))`` through :func:`analysis.utilization.chain`
    (utilization falls as the job grows). Point value, or one per draw (the scenario's draws of the
    job parameters, ``sc.sample(n_draws, seed)``)."""
    from analysis import utilization
    from analysis.scenario import section_draws

    if n_draws is None:
        job, het, good = sc.values("job"), sc.values("heterogeneity"), sc.values("goodput")
    else:
        draws = sc.sample(int(n_draws), seed)
        job, het, good = (section_draws(draws, s) for s in ("job", "heterogeneity", "goodput"))
    counts = np.array([p.gpus for p in successor.pools], float)
    peak = np.array([p.gpu.bf16_tflops_dense for p in successor.pools], float)
    share = counts / counts.sum()
    peak_per_gpu = float((share * peak).sum())
    bf16 = utilization.denominator(job["precision"]) == "bf16 dense"
    target = np.asarray(target_eflops_per_s, dtype=float)
    # start from an optimistic utilization (0.5) so the iteration climbs to the smallest job that
    # delivers the target (utilization falls as the job grows, so N rises monotonically)
    shape = np.shape(target) if n_draws is None else (int(n_draws),)
    n = np.clip(np.broadcast_to(target / (peak_per_gpu * 1e-6 * 0.5), shape), 8.0 * len(counts), counts.sum()).astype(float)
    u = None
    for _ in range(iterations):
        out = utilization.chain(successor, job, het, good, gpus=n[..., None] * share)
        u = np.asarray(out["value"] if bf16 else out["value_other"], dtype=float)
        needed = target / np.maximum(peak_per_gpu * 1e-6 * u, 1e-12)
        n = np.clip(needed, 8.0 * len(counts), counts.sum())
    return float(u) if np.ndim(u) == 0 else u


def modelled_utilization(sc, colossus2: str = "colossus2", n_draws: int | None = None, seed: int = 0) -> dict:
    """``{keep, islands, colossus2}`` utilization (fraction of the BF16 dense peak) from the
    utilization chain under ONE job definition, the scenario's: Colossus 1 as the scenario runs it,
    Colossus 1 as homogeneous islands, and the same job rebuilt on the successor's GPUs not leased
    out, at the size that replaces keep's useful training (:func:`rebuild_utilization`; ``rebuild``
    is an alias of ``colossus2``). Point values, or ``n_draws`` draws (same seed: the same job
    parameters in each draw on both clusters)."""
    from analysis import uncertainty, utilization

    econ = sc.values("economics")
    successor = rebuild_cluster(load_cluster(colossus2), float(leased_successor_gpus(econ, sc.cluster)), econ["leased_rebuild_gpu"])
    keep_split = sc.values("job")["split"]
    value = econ["islands_value_fraction"] if keep_split == "islands" else 1.0
    peak = sc.cluster.totals()["peak_eflops_bf16_dense"]
    if n_draws is None:
        out = {"keep": utilization.point(sc).value_bf16_dense,
               "islands": utilization.point(sc, split="islands").value_bf16_dense}
    else:
        def bf16(draws):
            column = "utilization" if draws.denominator == "bf16 dense" else "utilization_other_denominator"
            return draws.outputs[column].to_numpy()

        out = {"keep": bf16(uncertainty.utilization_draws(sc, n_draws, seed)),
               "islands": bf16(uncertainty.utilization_draws(sc, n_draws, seed, split="islands"))}
    target = econ["rebuild_fraction"] * value * peak * np.asarray(out["keep"], dtype=float)
    out["colossus2"] = rebuild_utilization(sc, successor, target, n_draws, seed)
    out["rebuild"] = out["colossus2"]
    return out


# --------------------------------------------------------------------------- inputs from the sections
def _rent_weighted(gpus_by_type: Mapping[str, Any], rents: Mapping[str, Any]):
    total = sum(np.asarray(n, dtype=float) for n in gpus_by_type.values())
    return sum(np.asarray(n, dtype=float) * np.asarray(rents[g], dtype=float) for g, n in gpus_by_type.items()) / total


def derive_inputs(values: Mapping[str, Mapping[str, Any]], c1: Cluster, c2: Cluster, utilization_by_option: Mapping[str, Any],
                  power_mw_by_option: Mapping[str, Any] | None = None, keep_split: str = "uniform", normals=None,
                  **overrides) -> tuple[dict, dict]:
    """Core inputs of :func:`compare_options` and the contract-level context, from the
    ``economics``, ``power`` and ``cost`` section values (scalars or arrays of draws).

    * discount rate = ``cost.wacc``; tax = federal + state (:func:`finance.combined_tax_rate`);
    * Colossus 1's rate = its share of the S-1 fee under ``lease_allocation`` (:mod:`lease`);
    * market rents per type at ``market_rent_position``, moved along the market index
      (:func:`exit.market_index`, ``normals`` = monthly shocks per draw, None = median path);
    * the exit month from the whole contract's fee against the market value of the capacity it
      covers (:func:`exit.exit_end_month`);
    * the successor's capacity = its GPUs minus those leased out; its capex, running cost and book
      value at the horizon from :func:`analysis.cost.cluster_tco`; its market rent = the rent of its
      remaining GPU mix;
    * Colossus 1's power (:mod:`analysis.power`) and operations (maintenance + staff of
      :mod:`analysis.cost`); zero power for xAI while leased if the lessee pays;
    * ``overrides`` replace any core input.
    """
    from analysis import cost as cost_model

    missing = [s for s in SECTIONS_USED if s not in values]
    if missing:
        raise InputError(f"values: no {missing[0]} section; economics needs {', '.join(SECTIONS_USED)}")
    e = {k: (v if isinstance(v, str) else np.asarray(v, dtype=float)) for k, v in values["economics"].items()}
    absent = set(PARAMETERS) - set(e)
    if absent:
        raise InputError(f"economics.{sorted(absent)[0]}: missing; the economics section takes {', '.join(PARAMETERS)}")
    h = e["horizon_months"]
    if np.ndim(h) and np.ptp(h) > 0:
        raise InputError("economics.horizon_months: varies across draws; it sets the time axis and must be one integer")
    H = int(np.ravel(h)[0])
    power_values, cost_values = values["power"], values["cost"]

    util = dict(utilization_by_option or {})
    if "rebuild" in util and "colossus2" not in util:
        util["colossus2"] = util["rebuild"]
    unknown = set(util) - {"keep", "islands", "colossus2", "rebuild"}
    if unknown:
        raise InputError(f"utilization_by_option: unknown option {shown(sorted(unknown)[0])}; use keep, islands, colossus2 (or rebuild)")
    absent = {"keep", "islands", "colossus2"} - set(util)
    if absent:
        raise InputError(f"utilization_by_option: missing {shown(sorted(absent)[0])}; give keep, islands and colossus2 "
                         "(economics.modelled_utilization computes them from the utilization chain)")

    # market rents today, by GPU type, and the market index over the horizon
    types = set(_gpus_by_type(c1)) | set(_gpus_by_type(c2)) | {e["leased_rebuild_gpu"], e["value_reference_gpu"]}
    rents = {g: lease.market_rent_usd_per_gpu_hour(g, e["market_rent_position"]) for g in types}
    index = exit_model.market_index(H, e["rent_drift_per_year"], e["rent_volatility_per_year"], normals)

    # the contract: covered GPUs, Colossus 1's share, the exit
    c1_types = _gpus_by_type(c1)
    leased_out = leased_successor_gpus(e, c1)
    covered = lease.covered_gpus(c1_types, e["s1_gpus_covered"], e["leased_rebuild_gpu"])
    shares = {a: lease.allocation_share(covered, rents, a) for a in lease.ALLOCATIONS}
    rates = {a: lease.c1_lease_usd_per_gpu_hour(e["lease_usd_per_month_s1"], covered, rents, a) for a in lease.ALLOCATIONS}
    covered_value_per_month = (sum(np.asarray(n, float) * rents[g] for g, n in covered["c1"].items())
                               + sum(np.asarray(n, float) * rents[g] for g, n in covered["c2"].items())) * HOURS_PER_MONTH
    market_value_path = np.asarray(covered_value_per_month)[..., None] * index
    fee = np.asarray(e["lease_usd_per_month_s1"], dtype=float)
    end_month = exit_model.exit_end_month(fee, market_value_path, e["lease_lock_in_months"], e["lease_notice_months"],
                                          e["exit_premium_threshold"])
    ramp = lease.ramp_fee_factors(H, e["lease_ramp_months"], e["lease_ramp_fee_fraction"])

    # the successor: capacity not leased out, its cost, its market rent
    tco1 = cost_model.cluster_tco(c1, power_values, cost_values)
    tco2 = cost_model.cluster_tco(c2, power_values, cost_values)
    c2_types = _gpus_by_type(c2)
    left = dict(c2_types)
    left[e["leased_rebuild_gpu"]] = np.maximum(np.asarray(left.get(e["leased_rebuild_gpu"], 0.0)) - leased_out, 0.0)
    capacity = lease.rebuild_capacity_gpus(c2.gpus, np.minimum(leased_out, c2_types.get(e["leased_rebuild_gpu"], 0.0)))
    c2_rent = _rent_weighted(left, rents) if float(np.min(capacity)) > 0 else _rent_weighted(c2_types, rents)
    by2 = tco2.tco_by_component_usd_per_hour
    fac2 = tco2.capex_by_component_usd["facility_usd"]
    it2 = tco2.capex_usd - fac2
    book_end = (it2 * finance.net_book_value_fraction(H, cost_values["life_years"], cost_values["salvage_fraction"])
                + fac2 * finance.net_book_value_fraction(H, cost_values["facility_life_years"])) / tco2.capex_usd

    # Colossus 1's power and operations
    power = dict(power_mw_by_option or {})
    unknown = set(power) - {"keep", "islands", "lease"}
    if unknown:
        raise InputError(f"power_mw_by_option: unknown option {shown(sorted(unknown)[0])}; use keep, islands, lease")
    for option in ("keep", "islands", "lease"):
        power.setdefault(option, tco1.power.facility_mw)
    if e["lease_power_paid_by"] == "lessee":
        power["lease"] = 0.0 * np.asarray(power["lease"], dtype=float)
    by1 = tco1.tco_by_component_usd_per_hour

    reference = gpu(e["value_reference_gpu"])
    islands_value = e["islands_value_fraction"]
    inputs = {
        "horizon_months": H,
        "discount_rate_annual": cost_values["wacc"],
        "tax_rate": finance.combined_tax_rate(e["federal_tax_rate"], e["state_tax_rate"]),
        "c1_gpus": float(c1.gpus),
        "c1_peak_eflops_bf16_dense": tco1.peak_eflops_bf16_dense,
        "utilization_keep": util["keep"], "utilization_islands": util["islands"], "utilization_rebuild": util["colossus2"],
        "value_usd_per_useful_exaflop": value_usd_per_useful_exaflop(rents[e["value_reference_gpu"]], reference.bf16_tflops_dense,
                                                                     e["market_reference_utilization"]),
        "keep_value_fraction": islands_value if keep_split == "islands" else 1.0 + 0.0 * islands_value,
        "islands_value_fraction": islands_value,
        "electricity_usd_per_mwh": cost_values["electricity_usd_per_mwh"],
        "power_mw_keep": power["keep"], "power_mw_islands": power["islands"], "power_mw_lease": power["lease"],
        "opex_usd_per_gpu_hour": (by1["maintenance"] + by1["staff"]) / float(c1.gpus),
        "lease_usd_per_gpu_hour": rates[e["lease_allocation"]],
        "lease_ramp_months": e["lease_ramp_months"], "lease_ramp_fee_fraction": e["lease_ramp_fee_fraction"],
        "lease_end_month": end_month,
        "relet_fraction": e["relet_fraction"],
        "c1_market_usd_per_gpu_hour": np.asarray(_rent_weighted(c1_types, rents))[..., None] * index,
        "rebuild_fraction": e["rebuild_fraction"],
        "c2_peak_tflops_bf16_dense_per_gpu": tco2.peak_eflops_bf16_dense / tco2.gpus * 1e6,
        "c2_capacity_gpus": capacity,
        "c2_capex_usd_per_gpu": tco2.capex_usd / tco2.gpus,
        "c2_opex_usd_per_gpu_hour": (by2["electricity"] + by2["maintenance"] + by2["staff"]) / tco2.gpus,
        "c2_book_value_end_fraction": book_end,
        "c2_market_usd_per_gpu_hour": np.asarray(c2_rent)[..., None] * index,
        "c2_tax_life_years": cost_values["life_years"],
        "lease_transition_usd_per_gpu": e["lease_transition_usd_per_gpu"],
        "islands_transition_usd_per_gpu": e["islands_transition_usd_per_gpu"],
        "c2_cost_basis": e["c2_cost_basis"],
        "tax_depreciation": e["tax_depreciation"],
    }
    unknown = set(overrides) - set(CORE_INPUTS) - set(TEXT_INPUTS)
    if unknown:
        raise InputError(f"{sorted(unknown)[0]}: unknown input; overrides must be keys of CORE_INPUTS ({', '.join(CORE_INPUTS)})")
    inputs.update(overrides)

    facility1 = tco1.capex_by_component_usd["facility_usd"]
    sunk = ((tco1.capex_usd - facility1) * finance.net_book_value_fraction(e["c1_age_months_at_start"], cost_values["life_years"],
                                                                          cost_values["salvage_fraction"])
            + facility1 * finance.net_book_value_fraction(e["c1_age_months_at_start"], cost_values["facility_life_years"]))
    signing_ratio = fee / market_value_path[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        c1_rate_market_path = np.where(fee[..., None] > 0, np.asarray(inputs["lease_usd_per_gpu_hour"], dtype=float)[..., None]
                                       * market_value_path / np.where(fee > 0, fee, 1.0)[..., None], 0.0)
    context = {"signing_ratio": signing_ratio, "c1_rate_market_path": c1_rate_market_path,
               "lock_in_months": e["lease_lock_in_months"], "notice_months": e["lease_notice_months"],
               "exit_premium_threshold": e["exit_premium_threshold"], "covered": covered, "shares": shares, "rates": rates, "fee_usd_per_month": fee, "ramp": ramp,
               "market_value_path": market_value_path, "end_month": inputs["lease_end_month"], "index": index,
               "leased_successor_gpus": leased_out, "contract_gpus": np.asarray(e["s1_gpus_covered"], float),
               "contract_usd_per_gpu_hour": lease.implied_lease_usd_per_gpu_hour(fee, e["s1_gpus_covered"]),
               "rents": rents, "allocation": e["lease_allocation"], "sunk_book_value_usd": sunk,
               "c2_capex_usd_per_gpu": inputs["c2_capex_usd_per_gpu"], "c1_cluster": c1, "c2_cluster": c2}
    return inputs, context


# --------------------------------------------------------------------------- from a scenario
def _section_values(sc, draws: dict | None) -> dict[str, dict]:
    missing = [s for s in SECTIONS_USED if s not in sc.params]
    if missing:
        raise InputError(f"scenario {sc.name}: has no {missing[0]} section; economics needs {', '.join(SECTIONS_USED)}")
    if draws is None:
        return {s: sc.values(s) for s in SECTIONS_USED}
    return {s: {k: draws[f"{s}.{k}"] for k in sc.params[s]} for s in SECTIONS_USED}


def _check_draw_arrays(named: Mapping[str, Any], n_draws: int) -> dict[str, np.ndarray]:
    varying = {}
    for name, value in named.items():
        if isinstance(value, str):
            continue
        v = np.asarray(value, dtype=float)
        if v.ndim > 1 or (v.ndim == 1 and len(v) != n_draws):
            raise InputError(f"{name}: {v.shape} values; expected {n_draws} (one per draw) or a scalar")
        if v.ndim == 1 and np.ptp(v) > 0:
            varying[name] = v
    return varying


def _mean(v) -> float:
    return float(np.mean(np.asarray(v, dtype=float)))


def _band(v) -> dict:
    """Mean and 5/50/95% of draws (NaN draws, e.g. no break-even below 3x the rate, left out and counted)."""
    a = np.atleast_1d(np.asarray(v, dtype=float))
    ok = a[np.isfinite(a)]
    if not ok.size:
        return {"mean": float("nan"), "p05": float("nan"), "p50": float("nan"), "p95": float("nan"), "share_undefined": 1.0}
    return {"mean": float(np.mean(ok)), "p05": float(np.quantile(ok, 0.05)), "p50": float(np.quantile(ok, 0.5)),
            "p95": float(np.quantile(ok, 0.95)), "share_undefined": float(1.0 - ok.size / a.size)}


def exit_month_at_rate(context: dict, c1_rate_usd_per_gpu_hour):
    """Last month paid if Colossus 1's rate were ``c1_rate_usd_per_gpu_hour`` (the whole fee scaled
    alike): the lessee compares it with the market-equivalent rate path and leaves when the premium
    exceeds the S-1 premium at signing times ``1 + threshold`` (:func:`exit.exit_end_month`)."""
    return exit_model.exit_end_month(c1_rate_usd_per_gpu_hour, context["c1_rate_market_path"], context["lock_in_months"],
                                     context["notice_months"], context["exit_premium_threshold"],
                                     signing_ratio=context["signing_ratio"])


def lease_gap_at_rates(inputs: dict, context: dict, c1_rates_usd_per_gpu_hour) -> np.ndarray:
    """Incremental NPV of leasing against keeping at other Colossus 1 rates, with the exit moving
    with the rate (a cheaper lease is left later). Rates broadcast against the draws."""
    rates = np.asarray(c1_rates_usd_per_gpu_hour, dtype=float)
    return np.asarray(lease_gap_function(inputs)(rates, exit_month_at_rate(context, rates)), dtype=float)


def break_even_rate(inputs: dict, context: dict, high_factor: float = 3.0, iterations: int = 14) -> np.ndarray:
    """Colossus 1 rate per GPU-hour at which leasing and keeping are worth the same, the exit
    responding to the rate: bisection per draw on [0, ``high_factor`` x the rate used], then one
    linear interpolation inside the last bracket (the gap is linear in the rate while the exit
    month stays put, so this is exact unless the exit month jumps inside a bracket of
    ``high_factor`` x rate / 2**``iterations``, $0.001 at the S-1 rate); NaN when leasing loses
    even at the top. Where the exit makes the gap change sign more than once the bisection's root
    is kept (the same as 20 plain bisection steps). At a fixed exit month the NPV is linear in the
    rate and ``OptionsResult`` also gives the closed form."""
    used = np.asarray(inputs["lease_usd_per_gpu_hour"], dtype=float)
    gap = lease_gap_function(inputs)   # one evaluation of the options; each step is then a lookup

    def gap_at(rates):
        return np.asarray(gap(rates, exit_month_at_rate(context, rates)), dtype=float)

    lo, hi = np.zeros_like(used), high_factor * used
    g_hi = gap_at(hi)
    g_lo = gap_at(lo)
    g_a, g_b = g_lo, g_hi
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        g = gap_at(mid)
        below = g < 0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        g_a, g_b = np.where(below, g, g_a), np.where(below, g_b, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(g_b > g_a, -g_a / (g_b - g_a), 0.5)
    out = lo + np.clip(step, 0.0, 1.0) * (hi - lo)
    out = np.where(g_lo >= 0, 0.0, out)
    return np.where(g_hi < 0, np.nan, out)


def _decision(result: OptionsResult, inputs: dict, context: dict) -> dict:
    """Allocations, both rebuild prices, the exit option and the probabilities across choices."""
    H = result.horizon_months
    x = result.inputs
    df = finance.monthly_discount_factors(inputs["discount_rate_annual"], H)
    paid = exit_model.paid_months(H, context["end_month"])
    slope = (1.0 - np.asarray(inputs["tax_rate"])) * np.sum(df * paid * context["ramp"], axis=-1) * inputs["c1_gpus"] * HOURS_PER_MONTH
    gap = np.asarray(result.incremental_npv_usd["lease"], dtype=float)
    used = np.asarray(inputs["lease_usd_per_gpu_hour"], dtype=float)
    fixed_exit_be = np.asarray(result.break_even_lease_usd_per_gpu_hour, dtype=float)
    be = break_even_rate(inputs, context)
    result.break_even_lease_usd_per_gpu_hour = float(be) if np.ndim(be) == 0 else be
    contract_rate = context["contract_usd_per_gpu_hour"]
    per_allocation = {}
    for a in lease.ALLOCATIONS:
        rate = np.asarray(context["rates"][a], dtype=float)
        factor = rate / contract_rate                 # Colossus 1's rate per contract rate under this allocation
        if a == context["allocation"]:
            be_a = be
        else:
            ctx = {**context, "c1_rate_market_path": context["c1_rate_market_path"] * (rate / used)[..., None]}
            be_a = break_even_rate({**inputs, "lease_usd_per_gpu_hour": rate}, ctx)
        per_allocation[a] = {"label": lease.ALLOCATION_LABELS[a], "c1_share_of_fee": _mean(context["shares"][a]),
                             "lease_usd_per_gpu_hour": _mean(rate),
                             "incremental_npv_usd": gap + slope * (rate - used),   # same fee, same exit: linear
                             "break_even_usd_per_c1_gpu_hour": be_a,
                             "break_even_contract_usd_per_gpu_hour": be_a / factor}
    other = "market" if inputs["c2_cost_basis"] == "tco" else "tco"
    alt = compare_options({**inputs, "c2_cost_basis": other}, with_irr=False, with_cash_flows=False)
    by_basis = {inputs["c2_cost_basis"]: result.incremental_npv_usd["lease"], other: alt.incremental_npv_usd["lease"]}
    no_exit = compare_options({**inputs, "lease_end_month": float(H)}, with_irr=False, with_cash_flows=False)
    lessee_value = exit_model.lessee_option_value_usd(context["fee_usd_per_month"][..., None] * context["ramp"],
                                                      context["market_value_path"], context["end_month"],
                                                      inputs["discount_rate_annual"])
    end = np.asarray(context["end_month"], dtype=float)
    decision = {
        "allocation_used": context["allocation"],
        "break_even_lease_usd_per_gpu_hour": _band(be),
        "break_even_fixed_exit_usd_per_gpu_hour": _band(fixed_exit_be),
        "signing_premium_over_market": _mean(context["signing_ratio"]) - 1.0,
        "contract_usd_per_gpu_hour": _mean(contract_rate),
        "contract_gpus": _mean(context["contract_gpus"]),
        "leased_successor_gpus": _mean(context["leased_successor_gpus"]),
        "sunk_book_value_usd_excluded": _mean(context["sunk_book_value_usd"]),
        "allocations": {a: {k: (_band(v) if k in ("incremental_npv_usd", "break_even_contract_usd_per_gpu_hour",
                                                       "break_even_usd_per_c1_gpu_hour") else v)
                            for k, v in d.items()} for a, d in per_allocation.items()},
        "rebuild_pricing": {b: _band(v) for b, v in by_basis.items()},
        "rebuild_pricing_used": inputs["c2_cost_basis"],
        "rebuild_gpus": _mean(cash_flow_components(inputs)["_extra"]["rebuild_gpus"]),
        "rebuild_capacity_gpus": _mean(inputs["c2_capacity_gpus"]),
        "exit": {"lease_end_month": _band(end), "p_exit_before_horizon": float(np.mean(end < H)),
                 "lessee_option_value_usd": _band(lessee_value),
                 "cost_to_lessor_usd": _band(np.asarray(no_exit.incremental_npv_usd["lease"]) - gap),
                 "incremental_npv_without_exit_usd": _band(no_exit.incremental_npv_usd["lease"])},
    }
    if result.n_draws:
        table = {}
        for a, d in per_allocation.items():
            for b in C2_COST_BASES:
                shift = d["incremental_npv_usd"] - gap
                table[f"{a} / {b}"] = float(np.mean(np.asarray(by_basis[b]) + shift > 0))
        decision["p_lease_beats_keep_by_choice"] = table
        decision["p_lease_beats_keep_pooled"] = float(np.mean(list(table.values())))
    decision["_inputs"] = inputs
    decision["_context"] = context
    decision["_per_allocation_arrays"] = per_allocation
    decision["_by_basis_arrays"] = by_basis
    decision["_lessee_value"] = lessee_value
    return decision


def from_scenario(sc, n_draws: int | None = None, seed: int = 0, utilization_by_option: Mapping[str, Any] | None = None,
                  power_mw_by_option: Mapping[str, Any] | None = None, colossus2: str = "colossus2", **overrides) -> OptionsResult:
    """Compare the options the scenario declares (``economics.options``) for scenario ``sc`` (its
    cluster is the one kept or leased; ``colossus2`` names the successor the training moves to): a
    point estimate (``n_draws=None``: central values, median rent path) or ``n_draws`` Monte Carlo
    draws of every ranged ``economics``, ``power`` and ``cost`` parameter and of the rent path
    (reproducible by ``seed``). The returned result carries ``decision`` (see :func:`_decision`).
    """
    if n_draws is not None and (int(n_draws) != n_draws or n_draws < 2):
        raise InputError(f"n_draws: {shown(n_draws)} is not allowed; expected an integer >= 2 (or None for a point estimate)")
    draws = None if n_draws is None else sc.sample(int(n_draws), seed=seed)
    if utilization_by_option is None:
        utilization_by_option = modelled_utilization(sc, colossus2, n_draws, seed)
    values = _section_values(sc, draws)
    H = int(sc.values("economics")["horizon_months"])
    normals = None if n_draws is None else np.random.default_rng([seed, RENT_SHOCK_SEED]).standard_normal((int(n_draws), H))
    keep_split = sc.values("job")["split"] if "job" in sc.params else "uniform"
    c2 = load_cluster(colossus2)
    inputs, context = derive_inputs(values, sc.cluster, c2, utilization_by_option, power_mw_by_option, keep_split, normals, **overrides)
    result = compare_options(inputs, options=declared_options(sc.values("economics")))
    result.scenario = sc.name
    result.labels = option_labels(sc.cluster, c2, keep_split)
    result.decision = _decision(result, inputs, context) if result.has_lease else {"sunk_book_value_usd_excluded": _mean(context["sunk_book_value_usd"])}
    if draws is not None:
        drivers = pd.DataFrame({path: v for path, v in draws.items() if path.split(".")[0] in SECTIONS_USED
                                and not isinstance(v, str) and np.ptp(v) > 0})
        extras = {**{f"utilization.{k}": v for k, v in (utilization_by_option or {}).items() if k != "rebuild"},
                  **{f"power_mw.{k}": v for k, v in (power_mw_by_option or {}).items()},
                  **{k: v for k, v in overrides.items() if not isinstance(v, str) and np.ndim(v) <= 1}}
        for name, v in _check_draw_arrays(extras, int(n_draws)).items():
            drivers[name] = v
        end = np.asarray(context["end_month"], dtype=float)
        if np.ndim(end) and np.ptp(end) > 0:
            drivers["exit.lease_end_month"] = end
        drivers["exit.rent_index_at_horizon"] = np.asarray(context["index"])[..., -1]
        result.drivers = drivers
    return result


def npv_vs_lease_rate(result: OptionsResult, rates_usd_per_gpu_hour=None) -> pd.DataFrame:
    """Incremental NPV against keep over a grid of the leased cluster's rates, for a point estimate
    of :func:`from_scenario`: the lease with the exit moving with the rate (``lease``), the lease at
    the exit the S-1 rate implies (``lease, exit fixed``) and the other options (flat). Long table
    ``lease_usd_per_gpu_hour``, ``option``, ``npv_usd``; default grid 0 to 1.6 x the S-1 per-GPU rate."""
    if result.n_draws or "_inputs" not in result.decision:
        raise InputError("result: needs a point estimate with a lease (from_scenario(sc) of a scenario that defines one)")
    inputs, context = result.decision["_inputs"], result.decision["_context"]
    if rates_usd_per_gpu_hour is None:
        top = 1.6 * max(float(np.max(context["rates"]["per_gpu"])), float(inputs["lease_usd_per_gpu_hour"]))
        rates_usd_per_gpu_hour = np.linspace(0.0, top, 81)
    rates = np.asarray(rates_usd_per_gpu_hour, dtype=float)
    moving = lease_gap_at_rates(inputs, context, rates)
    fixed = compare_options({**inputs, "lease_usd_per_gpu_hour": rates}, with_irr=False)
    frames = [pd.DataFrame({"lease_usd_per_gpu_hour": rates, "option": result.label("lease"), "npv_usd": moving}),
              pd.DataFrame({"lease_usd_per_gpu_hour": rates, "option": result.label("lease") + " (exit fixed at the S-1 rate's)",
                            "npv_usd": fixed.incremental_npv_usd["lease"]})]
    for o in result.options:
        if o not in ("lease",):
            frames.append(pd.DataFrame({"lease_usd_per_gpu_hour": rates, "option": result.label(o),
                                        "npv_usd": np.broadcast_to(fixed.incremental_npv_usd[o], rates.shape)}))
    return pd.concat(frames, ignore_index=True)


def market_rent_band(result: OptionsResult) -> tuple[float, float, float]:
    """(low, central, high) market rent of one GPU-hour of the leased cluster today: its GPU mix at
    the low, central and high rents of ``data/market_rents.csv``."""
    c1 = result.decision["_context"]["c1_cluster"]
    types = _gpus_by_type(c1)
    return tuple(float(_rent_weighted(types, {g: lease.market_rent_usd_per_gpu_hour(g, pos) for g in types}))
                 for pos in (0.0, 0.5, 1.0))


# --------------------------------------------------------------------------- tornado and flips
def _outputs(result: OptionsResult, output: str) -> np.ndarray:
    outputs = {"npv_lease_minus_keep_usd": result.incremental_npv_usd["lease"],
               "incremental_npv_islands_usd": result.incremental_npv_usd["islands"],
               "break_even_lease_usd_per_gpu_hour": result.break_even_lease_usd_per_gpu_hour,
               **{f"npv_{o}_usd": result.npv_usd[o] for o in OPTIONS}}
    if output not in outputs:
        raise InputError(f"output: {shown(output)} is not allowed; use one of {', '.join(outputs)}")
    return np.asarray(outputs[output], dtype=float)


def _evaluate_grid(sc, c2: Cluster, util: Mapping[str, Any], path: str, grid: np.ndarray, output: str, **kwargs) -> np.ndarray:
    values = {s: dict(sc.values(s)) for s in SECTIONS_USED}
    overrides = {}
    if path.startswith("utilization."):
        util = {**util, path.split(".", 1)[1]: grid}
    elif path.split(".")[0] in SECTIONS_USED:
        section, key = path.split(".", 1)
        values[section][key] = grid
    else:
        overrides[path] = grid
    keep_split = sc.values("job")["split"] if "job" in sc.params else "uniform"
    inputs, _ = derive_inputs(values, sc.cluster, c2, util, keep_split=keep_split, **{**kwargs, **overrides})
    return _outputs(compare_options(inputs, with_irr=False), output)


def one_at_a_time(sc, output: str = "npv_lease_minus_keep_usd", colossus2: str = "colossus2", **kwargs) -> pd.DataFrame:
    """Tornado table of ``output`` (default: the incremental NPV of leasing against keeping):
    each ranged parameter of the sections used at its low and its high value, the others central,
    plus the two utilizations at their Monte Carlo 5% / 95% (one vectorized evaluation): pass
    ``utilization_bands`` {option: (low, high)} or ``utilization_draws`` {option: draws} (the
    results' ``utilization_by_option_draws``), whose 5% and 95% quantiles are taken.
    Frame indexed by parameter with ``low``, ``high``, ``low_value``, ``high_value``; ``attrs["base"]``."""
    central = {s: sc.values(s) for s in SECTIONS_USED}
    ranged = [(s, k, p.low, p.high) for s in SECTIONS_USED for k, p in sc.params[s].items() if p.has_range]
    util = dict(kwargs.pop("utilization_by_option", None) or modelled_utilization(sc, colossus2))
    bands = kwargs.pop("utilization_bands", None) or {}
    draws = kwargs.pop("utilization_draws", None)
    if draws is not None and not bands:   # the utilizations' own 5% / 95% over the scenario's draws
        bands = {k: (float(np.quantile(draws[k], 0.05)), float(np.quantile(draws[k], 0.95)))
                 for k in ("keep", colossus2) if k in draws}
    n = 2 * len(ranged) + 2 * len(bands) + 1
    values = {s: {k: (v if isinstance(v, str) else np.full(n, float(v))) for k, v in central[s].items()} for s in SECTIONS_USED}
    u = {k: np.full(n, float(v)) for k, v in util.items() if k != "rebuild"}
    for i, (s, k, lo, hi) in enumerate(ranged):
        values[s][k][2 * i], values[s][k][2 * i + 1] = lo, hi
    names = [f"{s}.{k}" for s, k, _, _ in ranged]
    lows, highs = [lo for *_, lo, _ in ranged], [hi for *_, hi in ranged]
    for j, (key, (lo, hi)) in enumerate(bands.items()):
        i = len(ranged) + j
        u[key][2 * i], u[key][2 * i + 1] = lo, hi
        names.append(f"utilization.{key}")
        lows.append(lo)
        highs.append(hi)
    keep_split = sc.values("job")["split"] if "job" in sc.params else "uniform"
    inputs, _ = derive_inputs(values, sc.cluster, load_cluster(colossus2), u, keep_split=keep_split, **kwargs)
    y = _outputs(compare_options(inputs, with_irr=False), output)
    table = pd.DataFrame({"low": y[0:-1:2], "high": y[1:-1:2], "low_value": lows, "high_value": highs}, index=names)
    table.attrs["base"] = float(y[-1])
    table.attrs["output"] = output
    table.attrs["rate"] = float(np.ravel(inputs["lease_usd_per_gpu_hour"])[-1])
    return table


FLIP_DRIVERS = {
    # path: (search range, unit)
    "economics.lease_usd_per_month_s1": ((0.0, 3e9), "USD/month"),
    "utilization.keep": ((0.005, 1.0), "fraction of BF16 dense peak"),
    "utilization.colossus2": ((0.005, 1.0), "fraction of BF16 dense peak"),
    "economics.rent_drift_per_year": ((-2.0, 1.0), "1/yr (log)"),
    "economics.exit_premium_threshold": ((0.0, 5.0), "fraction"),
    "economics.relet_fraction": ((0.0, 1.0), "fraction"),
    "economics.market_rent_position": ((0.0, 1.0), "0 low .. 1 high"),
    "economics.rebuild_fraction": ((0.0, 1.0), "fraction"),
    "economics.lease_transition_usd_per_gpu": ((0.0, 50000.0), "USD/GPU"),
    "cost.wacc": ((0.0, 0.5), "1/yr"),
    "cost.electricity_usd_per_mwh": ((0.0, 1000.0), "USD/MWh"),
    "economics.s1_gpus_covered": ((1.0, 2e6), "GPUs"),
}


def flip_thresholds(sc, colossus2: str = "colossus2", utilization_by_option: Mapping[str, Any] | None = None,
                    output: str = "npv_lease_minus_keep_usd", points: int = 241) -> pd.DataFrame:
    """What would change the decision: for each main driver, the value at which the incremental NPV
    of leasing against keeping crosses zero (the others at their central values), found on a grid
    over the driver's physical range and refined linearly; NaN when it never crosses there.

    Columns: ``current``, ``flip_value``, ``low``/``high`` (the sourced range, if any), ``within_range``,
    ``unit``, ``npv_now_usd``. Utilizations are of the BF16 dense peak (``utilization.colossus2`` is
    the rebuild job on the successor)."""
    util = dict(utilization_by_option or modelled_utilization(sc, colossus2))
    c2 = load_cluster(colossus2)
    rows = {}
    base = float(_evaluate_grid(sc, c2, util, "utilization.keep", np.array([float(util["keep"])]), output)[0])
    for path, ((lo, hi), unit) in FLIP_DRIVERS.items():
        if path == "economics.lease_usd_per_month_s1" and output == "npv_lease_minus_keep_usd":
            # the fee that flips the decision is the break-even rate's fee (the exit moving with it)
            p = sc.param(path)
            keep_split = sc.values("job")["split"] if "job" in sc.params else "uniform"
            inputs, context = derive_inputs({s: sc.values(s) for s in SECTIONS_USED}, sc.cluster, c2, util, keep_split=keep_split)
            be = float(break_even_rate(inputs, context))
            flip = float(p.value) * be / float(inputs["lease_usd_per_gpu_hour"])
            rows[path] = {"current": float(p.value), "flip_value": flip, "low": p.low, "high": p.high,
                          "within_range": bool(p.low is not None and p.low <= flip <= p.high), "unit": unit, "npv_now_usd": base}
            continue
        if path.startswith("utilization."):
            current, p_lo, p_hi = float(util[path.split(".", 1)[1]]), None, None
        else:
            p = sc.param(path)
            current, p_lo, p_hi = float(p.value), p.low, p.high
        grid = np.unique(np.concatenate([np.linspace(lo, hi, points), [current]]))
        try:
            y = _evaluate_grid(sc, c2, util, path, grid, output)
        except InputError:
            continue
        sign = np.sign(y)
        cross = np.nonzero(sign[:-1] * sign[1:] < 0)[0]
        flip = np.nan
        if cross.size:
            i = cross[np.argmin(np.abs(grid[cross] - current))]
            flip = float(grid[i] - y[i] * (grid[i + 1] - grid[i]) / (y[i + 1] - y[i]))
        within = bool(np.isfinite(flip) and p_lo is not None and p_lo <= flip <= p_hi)
        rows[path] = {"current": current, "flip_value": flip, "low": p_lo, "high": p_hi, "within_range": within, "unit": unit,
                      "npv_now_usd": base}
    return pd.DataFrame(rows).T


def sensitivity(result: OptionsResult, output: str = "npv_lease_minus_keep_usd"):
    """Standardized regression coefficients (SRC, with rank-based SRRC and both R^2) of ``output``
    on the varying Monte Carlo drivers (:func:`analysis.uncertainty.standardized_regression`;
    Saltelli et al. 2008, *Global Sensitivity Analysis: The Primer*, Sec. 1.2.5)."""
    from analysis.uncertainty import standardized_regression

    if result.drivers is None or result.n_draws < 3:
        raise InputError("result: has no Monte Carlo draws; call from_scenario(sc, n_draws=...) first")
    y = _outputs(result, output)
    X = result.drivers.loc[:, result.drivers.std() > 0]
    if X.shape[1] == 0 or np.std(y) == 0:
        raise InputError(f"{output}: nothing varies across the draws; give parameters ranges (low/high)")
    return standardized_regression(X, y, output)


def benchmark(seconds: float = 1.5) -> dict[str, float]:
    """Monte Carlo draws per second of (1) the options' after-tax monthly cash flows and NPVs
    (:func:`compare_options`, 20,000 draws a call) and (2) the break-even rate with the exit moving
    with the rate (:func:`break_even_rate`, 2,000 draws a call); Colossus 1, inputs and utilization
    draws derived once outside the timing."""
    from analysis.bench import throughput
    from analysis.scenario import load_scenario

    sc = load_scenario("colossus1")
    c2 = load_cluster("colossus2")
    figures = {}
    for name, draws, fn in (("economics_option_draws_per_s", 20_000, lambda i, c: compare_options(i, with_irr=False)),
                            ("economics_break_even_draws_per_s", 2_000, lambda i, c: break_even_rate(i, c))):
        util = modelled_utilization(sc, n_draws=draws, seed=0)
        H = int(sc.values("economics")["horizon_months"])
        normals = np.random.default_rng([0, RENT_SHOCK_SEED]).standard_normal((draws, H))
        inputs, context = derive_inputs(_section_values(sc, sc.sample(draws, seed=0)), sc.cluster, c2, util, normals=normals,
                                        keep_split=sc.values("job")["split"])
        figures[name] = throughput(lambda: fn(inputs, context), seconds, draws)
    return figures
