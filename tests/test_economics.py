"""Lease versus rebuild (analysis.economics): finance primitives by hand, the options' cash flows,
break-even rates, monotonicity, and seeded Monte Carlo on the colossus1 scenario."""
from __future__ import annotations

import json

import numpy as np
import numpy_financial as npf
import pytest

from analysis import economics as ec
from analysis.errors import InputError
from analysis.scenario import load_scenario

H = ec.HOURS_PER_MONTH


def simple_inputs(**changes):
    """A 2-month case small enough to compute by hand: no discounting, no ramp, no exit risk,
    no capital, power, operations or transition costs."""
    x = dict(horizon_months=2, discount_rate_annual=0.0, c1_gpus=1000.0, c1_peak_eflops_bf16_dense=1.0,
             utilization_keep=0.1, utilization_islands=0.2, utilization_colossus2=0.4,
             c2_peak_tflops_bf16_dense_per_gpu=2500.0, c2_usd_per_gpu_hour=2.0, value_usd_per_useful_exaflop=1.0,
             islands_value_fraction=0.5, rebuild_fraction=1.0, lease_usd_per_gpu_hour=3.0, lease_ramp_months=0.0,
             lease_ramp_fee_fraction=0.5, termination_probability_per_year=0.0, lease_lock_in_months=0.0,
             lease_notice_months=0.0, electricity_usd_per_mwh=0.0, power_mw_keep=0.0, power_mw_islands=0.0,
             power_mw_lease=0.0, opex_usd_per_gpu_hour=0.0, lease_transition_usd_per_gpu=0.0,
             islands_transition_usd_per_gpu=0.0, asset_value_start_usd=0.0, asset_value_end_usd=0.0)
    x.update(changes)
    return x


@pytest.fixture(scope="module")
def sc():
    return load_scenario("colossus1")


# ----------------------------------------------------------------------------- finance primitives
def test_npv_by_hand_and_against_numpy_financial():
    annual = 1.1 ** 12 - 1                                     # 10% per month
    flows = [-100.0, 60.0, 60.0]
    assert ec.npv_usd(flows, annual) == pytest.approx(-100 + 60 / 1.1 + 60 / 1.21)   # 4.1322
    assert ec.npv_usd(flows, annual) == pytest.approx(npf.npv(0.1, flows))


def test_npv_is_vectorized_over_draws():
    flows = np.array([[-100.0, 60.0, 60.0], [-50.0, 10.0, 70.0]])
    rates = np.array([0.05, 0.2])
    got = ec.npv_usd(flows, rates)
    want = [npf.npv(float(ec.monthly_rate(r)), f) for f, r in zip(flows, rates)]
    assert got.shape == (2,) and got == pytest.approx(want)


def test_irr_by_hand():
    assert ec.irr_annual([-100.0, 110.0]) == pytest.approx(1.1 ** 12 - 1)      # 10% a month
    assert ec.irr_annual([-100.0, 0.0, 121.0]) == pytest.approx(1.1 ** 12 - 1)
    assert np.isnan(ec.irr_annual([100.0, 10.0]))                              # no sign change
    assert ec.irr_annual(np.array([[-100.0, 110.0], [-100.0, 105.0]])) == pytest.approx([1.1 ** 12 - 1, 1.05 ** 12 - 1])


def test_discount_factors_start_at_one_and_compound_monthly():
    df = ec.monthly_discount_factors(0.12, 12)
    assert df[0] == 1.0 and df[12] == pytest.approx(1 / 1.12)


def test_implied_s1_rate_and_market_value_of_a_flop():
    assert ec.implied_lease_usd_per_gpu_hour(1.25e9, 325_000) == pytest.approx(5.27, abs=0.005)   # reference Sec. 1f
    assert ec.implied_lease_usd_per_gpu_hour(1.25e9, 220_000) == pytest.approx(7.78, abs=0.005)
    # $2 per H100-hour at 40% of 989 TFLOP/s: 989e-6 * 0.4 * 3600 = 1.42416 useful exaFLOP per GPU-hour
    assert ec.value_usd_per_useful_exaflop(2.0, 989, 0.4) == pytest.approx(2.0 / 1.42416)
    assert ec.lessee_usd_per_million_tokens(5.27, 1000) == pytest.approx(5.27 / 3.6)
    with pytest.raises(InputError):
        ec.lessee_usd_per_million_tokens(5.27, 0)


def test_book_value_is_straight_line_with_salvage():
    assert ec.net_book_value_fraction(30, 5) == pytest.approx(0.5)
    assert ec.net_book_value_fraction(120, 5, 0.1) == pytest.approx(0.1)


def test_lease_survival_respects_lock_in_and_notice():
    s = ec.lease_survival(10, 0.5, 3, 3)
    h = 1 - 0.5 ** (1 / 12)
    assert np.all(s[:7] == 1.0)                                # months 1-6 are always paid
    assert s[7] == pytest.approx(1 - h) and s[10] == pytest.approx((1 - h) ** 4)
    assert np.all(np.diff(s) <= 0)
    assert np.all(ec.lease_survival(10, 0.0, 3, 3) == 1.0)


def test_ramp_factors():
    assert ec.ramp_fee_factors(4, 2, 0.5) == pytest.approx([0, 0.5, 0.5, 1, 1])
    assert ec.ramp_fee_factors(4, 1.5, 0.5) == pytest.approx([0, 0.5, 0.75, 1, 1])


# ----------------------------------------------------------------------------- options
def test_options_by_hand():
    r = ec.compare_options(simple_inputs())
    exaflops_per_month = 1.0 * 0.1 * H * 3600                 # peak EFLOP/s x utilization x seconds
    assert r.npv_usd["keep"] == pytest.approx(2 * exaflops_per_month)
    assert r.npv_usd["islands"] == pytest.approx(2 * 0.5 * 2 * exaflops_per_month)
    c2_gpu_hours = exaflops_per_month / (2500e-6 * 0.4 * 3600)
    lease_month = 3.0 * 1000 * H + exaflops_per_month - 2.0 * c2_gpu_hours
    assert r.npv_usd["lease"] == pytest.approx(2 * lease_month)
    assert r.useful_exaflops["keep"] == pytest.approx(2 * exaflops_per_month) == pytest.approx(r.useful_exaflops["lease"])
    # break-even: the lease pays for the Colossus 2 hours that replace the training
    assert r.break_even_lease_usd_per_gpu_hour == pytest.approx(2.0 * c2_gpu_hours / (1000 * H))
    # cost per useful exaFLOP of the lease option = Colossus 2 cost per useful exaFLOP
    assert r.usd_per_useful_exaflop["lease"] == pytest.approx(2.0 / (2500e-6 * 0.4 * 3600))
    assert set(r.cash_flows["option"]) == set(ec.OPTIONS)
    assert r.cash_flows.groupby("option")["usd"].sum()["keep"] == pytest.approx(r.npv_usd["keep"])


def test_capital_enters_every_option_and_sets_the_irr():
    r = ec.compare_options(simple_inputs(asset_value_start_usd=1e6, asset_value_end_usd=5e5, horizon_months=12,
                                         discount_rate_annual=0.1))
    flows = r.cash_flows.groupby(["option", "month"])["usd"].sum()["keep"].to_numpy()
    assert flows[0] == pytest.approx(-1e6)
    assert r.irr["keep"] == pytest.approx(ec.irr_annual(flows))
    assert r.npv_usd["keep"] == pytest.approx(ec.npv_usd(flows, 0.1))


def test_break_even_rate_equalizes_npv():
    x = simple_inputs(horizon_months=24, discount_rate_annual=0.1, termination_probability_per_year=0.3,
                      lease_lock_in_months=3, lease_notice_months=3, lease_ramp_months=2, power_mw_keep=10,
                      power_mw_lease=12, electricity_usd_per_mwh=60, lease_transition_usd_per_gpu=100)
    rate = ec.break_even_lease_usd_per_gpu_hour(x)
    at = ec.compare_options({**x, "lease_usd_per_gpu_hour": rate})
    assert rate > 0
    assert at.npv_usd["lease"] == pytest.approx(at.npv_usd["keep"], rel=1e-9, abs=1e-3)
    x["lease_usd_per_gpu_hour"] = 1.0           # Colossus 2 replaces a C1 GPU-hour for 2 x utilization $ here
    u = ec.compare_options(x).break_even_utilization_keep
    at_u = ec.compare_options({**x, "utilization_keep": u})
    assert 0 < u < 1 and at_u.npv_usd["lease"] == pytest.approx(at_u.npv_usd["keep"], abs=1e-3)


def test_higher_lease_rate_gives_higher_lease_npv_only():
    rates = np.linspace(1.0, 8.0, 8)
    x = simple_inputs(lease_usd_per_gpu_hour=rates, termination_probability_per_year=0.2, horizon_months=24)
    r = ec.compare_options(x)
    assert np.all(np.diff(r.npv_usd["lease"]) > 0)
    assert np.ptp(r.npv_usd["keep"]) == 0
    # and the break-even does not depend on the rate used
    assert np.ptp(r.break_even_lease_usd_per_gpu_hour) == pytest.approx(0, abs=1e-9)


def test_more_exit_risk_lowers_a_profitable_lease():
    x = simple_inputs(termination_probability_per_year=np.array([0.0, 0.2, 0.5]), horizon_months=24)
    npv = ec.compare_options(x).npv_usd["lease"]
    assert np.all(np.diff(npv) < 0)


def test_bad_inputs_raise_one_line():
    with pytest.raises(InputError, match="utilization_keep"):
        ec.compare_options(simple_inputs(utilization_keep=1.5))
    with pytest.raises(InputError, match="horizon_months"):
        ec.compare_options(simple_inputs(horizon_months=2.5))
    with pytest.raises(InputError, match="missing"):
        ec.compare_options({k: v for k, v in simple_inputs().items() if k != "c1_gpus"})
    with pytest.raises(InputError) as err:
        ec.compare_options(simple_inputs(lease_usd_per_gpu_hour=-1))
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- scenario
def test_colossus1_point_estimate(sc):
    r = ec.from_scenario(sc)
    d = r.to_dict()
    json.dumps(d)
    assert set(d["npv_usd"]) == set(ec.OPTIONS) == set(d["irr"])
    be = d["break_even_lease_usd_per_gpu_hour"]
    assert 0 < be < d["lease_usd_per_gpu_hour"]
    assert d["lease_usd_per_gpu_hour"] == pytest.approx(1.25e9 / (325_000 * H))
    assert r.useful_exaflops["islands"] > r.useful_exaflops["keep"]       # islands run at a higher utilization
    assert "break-even" in r.summary()


def test_monte_carlo_is_reproducible_by_seed(sc):
    a = ec.from_scenario(sc, n_draws=200, seed=3)
    b = ec.from_scenario(sc, n_draws=200, seed=3)
    c = ec.from_scenario(sc, n_draws=200, seed=4)
    assert np.array_equal(a.npv_usd["lease"], b.npv_usd["lease"])
    assert not np.array_equal(a.npv_usd["lease"], c.npv_usd["lease"])
    assert a.n_draws == 200 and 0 <= a.p_lease_beats_keep <= 1
    assert a.to_dict()["n_draws"] == 200


def test_sensitivity_finds_the_lease_rate(sc):
    r = ec.from_scenario(sc, n_draws=400, seed=0)
    s = ec.sensitivity(r)
    # the rebuild cost goes as 1/utilization of Colossus 2, so the rank fit is the better one
    assert 0 < s.r_squared <= 1.0 and 0.5 < s.r_squared_rank <= 1.0
    # more GPUs covered by the same fee = a lower rate per GPU-hour = a smaller lease advantage
    assert s.coefficients["economics.s1_gpus_covered"] < 0
    table = ec.one_at_a_time(sc)
    assert table.loc["economics.s1_gpus_covered", "low"] > table.attrs["base"] >= table.loc["economics.s1_gpus_covered", "high"]


def test_utilization_from_another_module_can_be_given(sc):
    others = {"islands": 0.2, "colossus2": 0.3}
    low = ec.from_scenario(sc, utilization_by_option={"keep": 0.05, **others})
    high = ec.from_scenario(sc, utilization_by_option={"keep": 0.3, **others})
    assert low.npv_lease_minus_keep_usd > high.npv_lease_minus_keep_usd
    with pytest.raises(InputError, match="unknown option"):
        ec.from_scenario(sc, utilization_by_option={"lease": 0.3})
