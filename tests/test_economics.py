"""Lease versus rebuild (analysis.economics): finance primitives and after-tax cash flows by hand, the
S-1 fee allocation, the exit rule on a hand-made rent path, monotonicity, and the colossus1 scenario."""
from __future__ import annotations

import json

import numpy as np
import numpy_financial as npf
import pytest

from analysis import cost
from analysis import economics as ec
from analysis.errors import InputError
from analysis.scenario import load_scenario

H = ec.HOURS_PER_MONTH


def simple_inputs(**changes):
    """A 2-month case small enough to compute by hand: no discounting, no tax, no ramp, no exit,
    no power, operations or transition costs; the rebuild priced at market rent."""
    x = dict(horizon_months=2, discount_rate_annual=0.0, tax_rate=0.0, c1_gpus=1000.0, c1_peak_eflops_bf16_dense=1.0,
             utilization_keep=0.1, utilization_islands=0.2, utilization_rebuild=0.4, value_usd_per_useful_exaflop=1.0,
             keep_value_fraction=1.0, islands_value_fraction=0.5, electricity_usd_per_mwh=0.0, power_mw_keep=0.0,
             power_mw_islands=0.0, power_mw_lease=0.0, opex_usd_per_gpu_hour=0.0, lease_usd_per_gpu_hour=3.0,
             lease_ramp_months=0.0, lease_ramp_fee_fraction=0.5, lease_end_month=2.0, relet_fraction=1.0,
             c1_market_usd_per_gpu_hour=1.0, rebuild_fraction=1.0, c2_peak_tflops_bf16_dense_per_gpu=2500.0,
             c2_capacity_gpus=1e9, c2_capex_usd_per_gpu=0.0, c2_opex_usd_per_gpu_hour=0.0, c2_book_value_end_fraction=0.0,
             c2_market_usd_per_gpu_hour=2.0, c2_tax_life_years=5.0, lease_transition_usd_per_gpu=0.0,
             islands_transition_usd_per_gpu=0.0, c2_cost_basis="market", tax_depreciation="straight_line")
    x.update(changes)
    return x


EXAFLOPS = 1.0 * 0.1 * H * 3600                       # keep's useful exaFLOPs per month
C2_GPU_HOURS = EXAFLOPS / (2500e-6 * 0.4 * 3600)      # successor GPU-hours that rebuild them


@pytest.fixture(scope="module")
def sc():
    return load_scenario("colossus1")


@pytest.fixture(scope="module")
def util(sc):
    return ec.modelled_utilization(sc)


@pytest.fixture(scope="module")
def point(sc, util):
    return ec.from_scenario(sc, utilization_by_option=util)


# ----------------------------------------------------------------------------- finance
def test_npv_irr_and_discounting_by_hand():
    annual = 1.1 ** 12 - 1                                     # 10% a month
    flows = [-100.0, 60.0, 60.0]
    assert ec.npv_usd(flows, annual) == pytest.approx(-100 + 60 / 1.1 + 60 / 1.21)
    assert ec.npv_usd(flows, annual) == pytest.approx(npf.npv(0.1, flows))
    rows, rates = np.array([[-100.0, 60.0, 60.0], [-50.0, 10.0, 70.0]]), np.array([0.05, 0.2])
    assert ec.npv_usd(rows, rates) == pytest.approx([npf.npv(float(ec.monthly_rate(r)), f) for f, r in zip(rows, rates)])
    assert ec.irr_annual([-100.0, 110.0]) == pytest.approx(1.1 ** 12 - 1)
    assert np.isnan(ec.irr_annual([100.0, 10.0]))               # no investment: no rate of return
    df = ec.monthly_discount_factors(0.12, 12)
    assert df[0] == 1.0 and df[12] == pytest.approx(1 / 1.12)


def test_payback_is_the_month_the_cumulative_flow_stays_positive():
    assert ec.payback_months([-100.0, 30.0, 30.0, 50.0, 10.0]) == 3
    assert np.isnan(ec.payback_months([-100.0, 30.0, 30.0]))
    assert ec.payback_months(np.array([[-10.0, 20.0, 0.0], [-10.0, 5.0, 5.0]])) == pytest.approx([1, 2])


def test_capital_recovery_factor_lives_in_one_place():
    assert cost.capital_recovery_factor is ec.capital_recovery_factor
    assert ec.capital_recovery_factor(0.10, 5) == pytest.approx(0.1 * 1.1 ** 5 / (1.1 ** 5 - 1))


def test_taxes_and_depreciation_schedules():
    assert ec.combined_tax_rate(0.21, 0.065) == pytest.approx(0.21 + 0.065 * 0.79)        # 26.135%
    macrs = ec.tax_depreciation_fractions("macrs5", 80)
    assert macrs.sum() == pytest.approx(1.0) and macrs[0] == 0 and macrs[1] == pytest.approx(0.20 / 12)
    assert macrs[13] == pytest.approx(0.32 / 12)
    assert ec.tax_depreciation_fractions("straight_line", 36, 5).sum() == pytest.approx(36 / 60)
    assert ec.tax_depreciation_fractions("bonus100", 36)[1] == 1.0
    with pytest.raises(InputError, match="tax_depreciation"):
        ec.tax_depreciation_fractions("double", 12)


# ----------------------------------------------------------------------------- the S-1 allocation
def test_implied_s1_rate():
    assert ec.implied_lease_usd_per_gpu_hour(1.25e9, 325_000) == pytest.approx(5.27, abs=0.005)   # reference Sec. 1f
    assert ec.implied_lease_usd_per_gpu_hour(1.25e9, 220_000) == pytest.approx(7.78, abs=0.005)


def test_fee_allocation_by_rental_value_and_per_gpu_by_hand():
    c1 = {"H100": 150_000.0, "H200": 50_000.0, "GB200": 30_000.0}
    covered = ec.covered_gpus(c1, 325_000, "GB200")
    assert covered["c2"]["GB200"] == pytest.approx(95_000)
    rents = {"H100": 2.35, "H200": 3.29, "GB200": 4.54}
    c1_value = 150e3 * 2.35 + 50e3 * 3.29 + 30e3 * 4.54                 # 653,200 $/h
    share = c1_value / (c1_value + 95e3 * 4.54)
    assert ec.allocation_share(covered, rents, "rental_value") == pytest.approx(share)          # ~0.602
    assert ec.allocation_share(covered, rents, "per_gpu") == pytest.approx(230 / 325)
    rate = ec.c1_lease_usd_per_gpu_hour(1.25e9, covered, rents, "rental_value")
    assert rate == pytest.approx(1.25e9 * share / (230_000 * H))                                 # ~$4.48
    assert 4.3 < rate < 4.6
    assert ec.c1_lease_usd_per_gpu_hour(1.25e9, covered, rents, "per_gpu") == pytest.approx(1.25e9 / (325_000 * H))
    # a contract that covers only Colossus 1 gives it the whole fee under both allocations
    only = ec.covered_gpus(c1, 230_000, "GB200")
    assert ec.allocation_share(only, rents, "rental_value") == pytest.approx(1.0)
    with pytest.raises(InputError, match="lease_allocation"):
        ec.allocation_share(covered, rents, "by_power")


def test_leased_gpus_are_never_rebuild_capacity(sc, point):
    assert ec.rebuild_capacity_gpus(550_000, 95_000) == 455_000
    assert ec.rebuild_capacity_gpus(50_000, 95_000) == 0
    from analysis.catalog import load_cluster
    c2 = load_cluster("colossus2")
    left = ec.rebuild_cluster(c2, 95_000, "GB200")
    assert left.gpus == pytest.approx(c2.gpus - 95_000)
    assert dict((p.gpu.id, p.gpus) for p in left.pools)["GB200"] == pytest.approx(110_000 - 95_000)
    assert point.inputs["c2_capacity_gpus"] == pytest.approx(c2.gpus - (325_000 - sc.cluster.gpus))
    assert point.decision["leased_successor_gpus"] == pytest.approx(95_000)


# ----------------------------------------------------------------------------- the exit rule
def test_exit_rule_on_a_hand_made_rent_path():
    market = np.array([100.0, 100.0, 90.0, 78.0, 70.0, 60.0, 60.0, 60.0, 60.0, 60.0])   # months 0..9
    # signed at 1.5x market; leaves once the premium exceeds 1.5 x 1.25 = 1.875, i.e. market < 80
    assert ec.exit_end_month(150.0, market, lock_in_months=2, notice_months=3, threshold=0.25) == 3 + 3
    # the lock-in delays the notice: the first month allowed is 5
    assert ec.exit_end_month(150.0, market, lock_in_months=5, notice_months=3, threshold=0.25) == 5 + 3
    # notice beyond the horizon is capped; a higher threshold is never reached
    assert ec.exit_end_month(150.0, market, lock_in_months=2, notice_months=20, threshold=0.25) == 9
    assert ec.exit_end_month(150.0, market, lock_in_months=2, notice_months=3, threshold=1.0) == 9
    # an absolute comparison (signing ratio 1): any month with contract > 1.1 x market
    assert ec.exit_end_month(150.0, market, 0, 0, 0.1, signing_ratio=1.0) == 1
    np.testing.assert_array_equal(ec.paid_months(5, 3.0), [0, 1, 1, 1, 0, 0])
    # vectorized over draws
    paths = np.stack([market, market * 2])
    np.testing.assert_array_equal(ec.exit_end_month(np.array([150.0, 300.0]), paths, 2, 3, 0.25), [6, 6])


def test_market_index_median_path_and_shocks():
    assert ec.market_index(12, -0.2, 0.3)[-1] == pytest.approx(np.exp(-0.2))
    z = np.zeros((4, 12))
    assert np.allclose(ec.market_index(12, -0.2, 0.3, z), ec.market_index(12, -0.2, 0.3))
    z[:, 0] = 1.0
    assert ec.market_index(12, 0.0, 0.3, z)[0, 1] == pytest.approx(np.exp(0.3 * np.sqrt(1 / 12)))


def test_lessee_option_value_by_hand():
    fee = np.array([0.0, 10.0, 10.0, 10.0])
    market = np.array([8.0, 8.0, 6.0, 5.0])
    assert ec.lessee_option_value_usd(fee, market, 1.0, 0.0) == pytest.approx((10 - 6) + (10 - 5))
    assert ec.lessee_option_value_usd(fee, market, 3.0, 0.0) == 0.0


# ----------------------------------------------------------------------------- the options by hand
def test_options_by_hand_pre_tax():
    r = ec.compare_options(simple_inputs())
    keep = 2 * EXAFLOPS
    assert r.npv_usd["keep"] == pytest.approx(keep)
    assert r.npv_usd["islands"] == pytest.approx(2 * 0.5 * 2 * EXAFLOPS)
    lease_month = 3.0 * 1000 * H + EXAFLOPS - 2.0 * C2_GPU_HOURS
    assert r.npv_usd["lease"] == pytest.approx(2 * lease_month)
    assert r.incremental_npv_usd["lease"] == pytest.approx(2 * lease_month - keep)
    assert r.incremental_npv_usd["keep"] == 0.0
    # the lease pays for the successor hours that replace the training
    assert r.break_even_lease_usd_per_gpu_hour == pytest.approx(2.0 * C2_GPU_HOURS / (1000 * H))
    assert r.irr["lease"] is None                          # market-priced rebuild: no investment, no IRR
    assert r.usd_per_useful_exaflop["lease"] == pytest.approx(2.0 / (2500e-6 * 0.4 * 3600))


def test_after_tax_flows_with_an_investment_by_hand():
    """TCO basis: successor GPUs bought in month 0, straight-line tax depreciation, book value at the end."""
    tau, capex_per_gpu = 0.25, 100.0
    x = simple_inputs(tax_rate=tau, c2_cost_basis="tco", c2_capex_usd_per_gpu=capex_per_gpu, c2_opex_usd_per_gpu_hour=0.5,
                      c2_book_value_end_fraction=0.9, c2_tax_life_years=5.0, lease_transition_usd_per_gpu=10.0)
    r = ec.compare_options(x)
    gpus = C2_GPU_HOURS / H                                # successor GPUs running all month
    capex = capex_per_gpu * gpus
    operating = 3.0 * 1000 * H + EXAFLOPS - 0.5 * gpus * H  # lease revenue + training value - running cost
    keep = EXAFLOPS
    dep_month = capex / 60.0                               # straight line over 5 years
    flows = np.array([-capex - (1 - tau) * 10.0 * 1000,
                      (1 - tau) * (operating - keep) + tau * dep_month,
                      (1 - tau) * (operating - keep) + tau * dep_month + 0.9 * capex - tau * (0.9 * capex - (capex - 2 * dep_month))])
    assert r.incremental_npv_usd["lease"] == pytest.approx(flows.sum(), rel=1e-9)
    assert r.irr["lease"] == pytest.approx(ec.irr_annual(flows), rel=1e-6)
    table = r.component_table()
    assert table.loc["NPV", "lease"] - table.loc["NPV", "keep"] == pytest.approx(flows.sum(), rel=1e-9)
    assert table.loc["depreciation tax shield", "lease"] == pytest.approx(2 * tau * dep_month)


def test_tax_scales_operating_increments():
    untaxed = ec.compare_options(simple_inputs())
    taxed = ec.compare_options(simple_inputs(tax_rate=0.3))
    assert taxed.incremental_npv_usd["lease"] == pytest.approx(0.7 * untaxed.incremental_npv_usd["lease"])
    # the break-even rate does not depend on the tax rate when there is no investment
    assert taxed.break_even_lease_usd_per_gpu_hour == pytest.approx(untaxed.break_even_lease_usd_per_gpu_hour)


def test_higher_contract_rate_gives_higher_lease_npv_only():
    rates = np.linspace(1.0, 8.0, 8)
    r = ec.compare_options(simple_inputs(lease_usd_per_gpu_hour=rates, horizon_months=24, lease_end_month=np.full(8, 14.0),
                                         discount_rate_annual=0.1, tax_rate=0.26))
    assert np.all(np.diff(r.incremental_npv_usd["lease"]) > 0)
    assert np.ptp(r.npv_usd["keep"]) == 0
    assert np.ptp(r.break_even_lease_usd_per_gpu_hour) == pytest.approx(0, abs=1e-9)


def test_earlier_exit_gives_lower_lease_npv():
    ends = np.array([24.0, 18.0, 12.0, 6.0])
    r = ec.compare_options(simple_inputs(lease_end_month=ends, horizon_months=24, relet_fraction=0.8,
                                         c1_market_usd_per_gpu_hour=2.0, discount_rate_annual=0.1))
    assert np.all(np.diff(r.incremental_npv_usd["lease"]) < 0)


def test_break_even_rate_equalizes_npv_at_a_fixed_exit():
    x = simple_inputs(horizon_months=24, discount_rate_annual=0.1, tax_rate=0.26, lease_end_month=15.0, lease_ramp_months=2, relet_fraction=0.0,
                      power_mw_keep=10, power_mw_lease=12, electricity_usd_per_mwh=60, lease_transition_usd_per_gpu=100)
    rate = ec.break_even_lease_usd_per_gpu_hour(x)
    at = ec.compare_options({**x, "lease_usd_per_gpu_hour": rate})
    assert rate > 0 and at.npv_usd["lease"] == pytest.approx(at.npv_usd["keep"], abs=1e-3)


def test_rebuild_is_capped_by_free_capacity():
    full = ec.compare_options(simple_inputs())
    capped = ec.compare_options(simple_inputs(c2_capacity_gpus=0.5 * C2_GPU_HOURS / H))
    assert capped.useful_exaflops["lease"] == pytest.approx(0.5 * full.useful_exaflops["lease"])


def test_bad_inputs_raise_one_line():
    with pytest.raises(InputError, match="utilization_keep"):
        ec.compare_options(simple_inputs(utilization_keep=1.5))
    with pytest.raises(InputError, match="horizon_months"):
        ec.compare_options(simple_inputs(horizon_months=2.5))
    with pytest.raises(InputError, match="missing"):
        ec.compare_options({k: v for k, v in simple_inputs().items() if k != "c1_gpus"})
    with pytest.raises(InputError, match="c2_cost_basis"):
        ec.compare_options(simple_inputs(c2_cost_basis="cheap"))
    with pytest.raises(InputError) as err:
        ec.compare_options(simple_inputs(lease_usd_per_gpu_hour=-1))
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- scenarios
def test_colossus1_point_estimate(sc, point):
    d = point.to_dict()
    json.dumps(d)
    assert d["options"] == ["keep", "lease", "islands"] and d["base"] == "keep"
    assert set(d["npv_usd"]) == set(d["irr"]) == {"keep", "lease", "islands"}
    assert d["incremental_npv_usd"]["keep"] == 0
    allocations = d["decision"]["allocations"]
    assert 4.3 < allocations["rental_value"]["lease_usd_per_gpu_hour"] < 4.6          # issue 11: "nearer $4.4"
    assert allocations["per_gpu"]["lease_usd_per_gpu_hour"] == pytest.approx(1.25e9 / (325_000 * H))
    assert d["lease_usd_per_gpu_hour"] == pytest.approx(allocations["rental_value"]["lease_usd_per_gpu_hour"])
    be = d["break_even_lease_usd_per_gpu_hour"]
    assert 0 < be < d["lease_usd_per_gpu_hour"]
    # the break-even responds to the exit: at that rate (and the exit it implies) lease = keep
    from analysis.economics.adapter import derive_inputs
    assert {"tco", "market"} == set(d["decision"]["rebuild_pricing"])
    assert d["decision"]["sunk_book_value_usd_excluded"] > 1e9
    assert "Colossus 1" in point.label("keep") and "Colossus 2" in point.label("lease")
    assert "break-even" in point.summary()


def test_sunk_book_value_never_enters(sc, util):
    young = ec.from_scenario(sc, utilization_by_option=util, colossus2="colossus2")
    from analysis.params import Param
    import dataclasses
    params = {s: dict(v) for s, v in sc.params.items()}
    params["economics"]["c1_age_months_at_start"] = Param(2.0, None, None, "test")
    old = ec.from_scenario(dataclasses.replace(sc, params=params), utilization_by_option=util)
    assert old.incremental_npv_usd["lease"] == pytest.approx(young.incremental_npv_usd["lease"])
    assert old.decision["sunk_book_value_usd_excluded"] > young.decision["sunk_book_value_usd_excluded"]


def test_scenarios_without_a_lease_say_so():
    sc2 = load_scenario("colossus2")
    r = ec.from_scenario(sc2, utilization_by_option={"keep": 0.3, "islands": 0.3, "colossus2": 0.3})
    d = r.to_dict()
    assert d["options"] == ["keep"] and d["npv_lease_minus_keep_usd"] is None and d["break_even_lease_usd_per_gpu_hour"] is None
    assert "defines no lease" in r.summary()
    llama = ec.from_scenario(load_scenario("llama3-16k"), utilization_by_option={"keep": 0.37, "islands": 0.37, "colossus2": 0.3})
    assert all("Colossus 1" not in llama.label(o) for o in llama.options)


def test_islands_valued_once_wherever_it_appears(util):
    islands_sc = load_scenario("colossus1-islands")
    assert ec.declared_options(islands_sc.values("economics")) == ("keep", "lease")
    r = ec.from_scenario(islands_sc, utilization_by_option={"keep": util["islands"], "islands": util["islands"],
                                                            "colossus2": util["colossus2"]})
    base = ec.from_scenario(load_scenario("colossus1"), utilization_by_option=util)
    # keep in colossus1-islands is the islands option of colossus1: the same valuation
    assert r.npv_usd["keep"] == pytest.approx(base.npv_usd["islands"] + base.inputs["islands_transition_usd_per_gpu"]
                                              * base.inputs["c1_gpus"] * (1 - base.inputs["tax_rate"]), rel=1e-9)


def test_one_job_definition_for_keep_and_rebuild(sc):
    """The successor runs the scenario's job (its cap and batch), not its own scenario's 131k cap."""
    import dataclasses
    from analysis.params import Param
    params = {s: dict(v) for s, v in sc.params.items()}
    params["job"]["max_job_gpus"] = Param(16384.0, None, None, "test")
    capped = dataclasses.replace(sc, params=params)
    a, b = ec.modelled_utilization(sc), ec.modelled_utilization(capped)
    assert b["keep"] != pytest.approx(a["keep"])                  # the cap changes keep ...
    assert 0 < a["colossus2"] < 1 and 0 < b["colossus2"] < 1      # ... and the same chain prices the rebuild


def test_monte_carlo_is_reproducible_and_reports_choices(sc):
    util = ec.modelled_utilization(sc, n_draws=120, seed=3)
    a = ec.from_scenario(sc, n_draws=120, seed=3, utilization_by_option=util)
    b = ec.from_scenario(sc, n_draws=120, seed=3, utilization_by_option=util)
    assert np.array_equal(a.incremental_npv_usd["lease"], b.incremental_npv_usd["lease"])
    d = a.to_dict()
    assert d["n_draws"] == 120 and 0 <= d["p_lease_beats_keep"] <= 1
    choices = d["decision"]["p_lease_beats_keep_by_choice"]
    assert set(choices) == {"rental_value / tco", "rental_value / market", "per_gpu / tco", "per_gpu / market"}
    assert d["decision"]["p_lease_beats_keep_pooled"] == pytest.approx(np.mean(list(choices.values())))
    assert d["decision"]["exit"]["lessee_option_value_usd"]["mean"] >= 0
    q = d["incremental_npv_usd_quantiles"]["lease"]
    assert q["p05"] <= q["p50"] <= q["p95"]
    s = ec.sensitivity(a)
    assert 0 < s.r_squared <= 1


def test_tornado_and_flip_thresholds(sc, util):
    table = ec.one_at_a_time(sc, utilization_by_option=util)
    assert "economics.s1_gpus_covered" in table.index
    # fewer GPUs covered by the same fee = a larger share for Colossus 1 = a larger lease advantage
    assert table.loc["economics.s1_gpus_covered", "low"] > table.attrs["base"]
    flips = ec.flip_thresholds(sc, utilization_by_option=util, points=61)
    fee = flips.loc["economics.lease_usd_per_month_s1"]
    assert 0 < fee["flip_value"] < fee["current"]
    # the fee that flips it is the break-even rate's fee
    assert fee["flip_value"] / fee["current"] == pytest.approx(
        ec.from_scenario(sc, utilization_by_option=util).break_even_lease_usd_per_gpu_hour / table.attrs["rate"], rel=1e-3)
    keep_u = flips.loc["utilization.keep"]
    assert keep_u["current"] < keep_u["flip_value"] or np.isnan(keep_u["flip_value"])


@pytest.mark.parametrize("n_draws", [None, 40])
def test_lease_gap_function_equals_a_full_evaluation_at_every_rate_and_exit(sc, util, n_draws):
    """The break-even search's shortcut (one evaluation, then prefix sums) gives what a full
    evaluation of the options gives at each rate and each last paid month, exits included."""
    from analysis.economics.options import lease_gap_function, lease_minus_keep_npv_usd
    r = ec.from_scenario(sc, n_draws=n_draws, seed=3, utilization_by_option=util)
    inputs, context = r.decision["_inputs"], r.decision["_context"]
    gap = lease_gap_function(inputs)
    used = np.asarray(inputs["lease_usd_per_gpu_hour"], dtype=float)
    horizon = int(inputs["horizon_months"])
    for factor, end in [(0.0, 0), (0.3, 5.5), (1.0, horizon), (2.2, 17), (1.0, horizon + 5)]:
        rates = factor * used
        full = lease_minus_keep_npv_usd({**inputs, "lease_usd_per_gpu_hour": rates,
                                         "lease_end_month": np.broadcast_to(float(end), np.shape(used))})
        np.testing.assert_allclose(gap(rates, end), full, rtol=1e-9, atol=1.0)
    rates = np.linspace(0, 2 * float(np.mean(used)), 7)[:, None] if n_draws else np.linspace(0, 2 * float(used), 7)
    ends = ec.exit_month_at_rate(context, rates)
    moving = ec.lease_gap_at_rates(inputs, context, rates)
    direct = lease_minus_keep_npv_usd({**inputs, "lease_usd_per_gpu_hour": rates, "lease_end_month": ends})
    np.testing.assert_allclose(moving, direct, rtol=1e-9, atol=1.0)
    assert np.ptp(ends) > 0, "the exit moves with the rate in this case"
