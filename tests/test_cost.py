"""Cost model: hand-computed depreciation and annuities, TCO composition, monotonicity, data."""
import numpy as np
import numpy_financial as npf
import pytest

from analysis import catalog, cost
from analysis.errors import InputError
from analysis.scenario import load_scenario


def test_straight_line_depreciation_hand_case():
    assert cost.straight_line_depreciation_usd_per_year(100_000, 5, 0.1) == pytest.approx(18_000)
    assert cost.straight_line_depreciation_usd_per_year(60_000, 4) == pytest.approx(15_000)
    lives = np.array([4, 5, 6])
    assert np.all(np.diff(cost.straight_line_depreciation_usd_per_year(60_000, lives)) < 0)


def test_capital_recovery_factor_hand_cases():
    assert cost.capital_recovery_factor(0.10, 5) == pytest.approx(0.1 * 1.1**5 / (1.1**5 - 1))  # 0.263797
    assert cost.capital_recovery_factor(0.10, 5) == pytest.approx(0.2637975, abs=1e-7)
    assert cost.capital_recovery_factor(0.0, 5) == pytest.approx(0.2)
    assert np.allclose(cost.capital_recovery_factor(np.array([0.0, 0.1]), 4), [0.25, 0.1 * 1.1**4 / (1.1**4 - 1)])


def test_capital_charge_is_the_annuity_and_splits_into_depreciation_plus_interest():
    capex, r, n, s = 50_000.0, 0.10, 5, 0.05
    charge = cost.annual_capital_charge_usd(capex, r, n, s)
    assert charge == pytest.approx(npf.pmt(r, n, -capex, fv=s * capex))  # repays capex net of salvage PV
    assert cost.annual_capital_charge_usd(capex, 0.0, n, s) == pytest.approx(cost.straight_line_depreciation_usd_per_year(capex, n, s))
    assert charge > cost.straight_line_depreciation_usd_per_year(capex, n, s)


def test_capex_hand_case():
    parts = cost.capex_usd(8, 30_000, 6_700, 6_600, 1_000, 0.01108, 11.7e6)
    assert parts["it_usd"] == pytest.approx(8 * (30_000 + 6_700 + 6_600 + 1_000))
    assert parts["facility_usd"] == pytest.approx(0.01108 * 11.7e6)
    assert parts["total_usd"] == pytest.approx(parts["it_usd"] + parts["facility_usd"])


def test_tco_components_sum_and_electricity_hand_case():
    t = cost.tco_usd_per_gpu_hour(it_capex_usd_per_gpu=0.0, facility_capex_usd_per_gpu=0.0, facility_kw_per_gpu=1.0,
                                  it_nameplate_kw_per_gpu=0.0, life_years=5, facility_life_years=20, wacc=0.1,
                                  salvage_fraction=0.0, electricity_usd_per_mwh=62.0,
                                  maintenance_fraction_of_capex_per_year=0.03, staff_usd_per_mw_year=0.0)
    assert t["electricity"] == pytest.approx(0.062)  # 1 kW for one hour at $62/MWh
    assert t["total"] == pytest.approx(0.062)
    t = cost.tco_usd_per_gpu_hour(43_000, 16_000, 1.3, 1.4, 5, 20, 0.1, 0.05, 62, 0.03, 60_000)
    assert t["total"] == pytest.approx(sum(t[k] for k in cost.TCO_COMPONENTS))
    dep = (43_000 * 0.95 / 5 + 16_000 / 20) / cost.HOURS_PER_YEAR
    assert t["depreciation"] == pytest.approx(dep)


def test_usd_per_useful_exaflop_hand_case_and_monotone():
    # $360k per hour, 100 EFLOP/s peak, 50% -> 180,000 EF per hour -> $2 per EF
    assert cost.usd_per_useful_exaflop(360_000, 100, 0.5) == pytest.approx(2.0)
    u = np.linspace(0.05, 0.5, 20)
    c = cost.usd_per_useful_exaflop(360_000, 100, u)
    assert np.all(np.diff(c) < 0), "higher utilization must mean lower cost per useful FLOP"
    assert cost.usd_per_useful_exaflop(1, 1, 0.11) / cost.usd_per_useful_exaflop(1, 1, 0.40) == pytest.approx(0.40 / 0.11)


def test_price_position_spans_the_sourced_range():
    assert cost.price_at_position(25_000, 30_000, 40_000, 0.0) == pytest.approx(25_000)
    assert cost.price_at_position(25_000, 30_000, 40_000, 0.5) == pytest.approx(30_000)
    assert cost.price_at_position(25_000, 30_000, 40_000, 1.0) == pytest.approx(40_000)
    assert cost.price_at_position(25_000, 30_000, 40_000, 0.75) == pytest.approx(35_000)


@pytest.fixture(scope="module")
def colossus1():
    return load_scenario("colossus1")


def test_cluster_tco_totals_are_consistent(colossus1):
    r = cost.cluster_tco(colossus1.cluster, colossus1.values("power"), colossus1.values("cost"))
    pools = r.by_pool
    assert pools["capex_usd"].sum() == pytest.approx(r.capex_usd)
    assert (pools["tco_usd_per_gpu_hour"] * pools["gpus"]).sum() == pytest.approx(r.tco_usd_per_hour)
    assert r.total_usd_per_year == pytest.approx(r.tco_usd_per_hour * cost.HOURS_PER_YEAR)
    assert sum(r.capex_by_component_usd.values()) == pytest.approx(r.capex_usd)
    assert sum(r.tco_by_component_usd_per_hour.values()) == pytest.approx(r.tco_usd_per_hour)
    assert set(pools["gpu"]) == {"H100", "H200", "GB200"}
    d = r.to_dict()
    assert set(d["tco_usd_per_gpu_hour_by_gpu"]) == {"H100", "H200", "GB200"}
    assert "TCO per GPU-hour" in r.summary()


def test_h100_all_in_capex_near_published_estimate(colossus1):
    """E. Cheah (2024-08) puts all-in capex at $47-52k per H100 (servers + InfiniBand + facility).
    Ours adds a full C&W facility cost, so it may sit above, but not far."""
    r = cost.cluster_tco(colossus1.cluster, colossus1.values("power"), colossus1.values("cost"))
    h100 = r.by_pool.set_index("pool").loc["H100", "capex_usd_per_gpu"]
    published = cost.load_capex_observations().loc["All-in capex per H100 (servers + InfiniBand + facility)", "value"]
    assert 0.8 * published < h100 < 1.35 * published


def test_tco_moves_the_right_way_with_life_and_cost_of_capital(colossus1):
    p, c = colossus1.values("power"), colossus1.values("cost")
    base = cost.cluster_tco(colossus1.cluster, p, c).tco_usd_per_hour
    assert cost.cluster_tco(colossus1.cluster, p, dict(c, life_years=6)).tco_usd_per_hour < base
    assert cost.cluster_tco(colossus1.cluster, p, dict(c, wacc=0.15)).tco_usd_per_hour > base
    assert cost.cluster_tco(colossus1.cluster, p, dict(c, electricity_usd_per_mwh=89.4)).tco_usd_per_hour > base
    assert cost.cluster_tco(colossus1.cluster, p, dict(c, price_position=1.0)).tco_usd_per_hour > base


def test_cluster_cost_per_useful_flop_falls_with_utilization(colossus1):
    r = cost.cluster_tco(colossus1.cluster, colossus1.values("power"), colossus1.values("cost"))
    curve = cost.cost_vs_utilization(r, np.linspace(0.05, 0.5, 10))
    assert np.all(np.diff(curve["usd_per_useful_exaflop"]) < 0)


def test_vectorized_over_draws(colossus1):
    draws = colossus1.sample(32, seed=3)
    section = lambda s: {k.split(".", 1)[1]: v for k, v in draws.items() if k.startswith(s + ".")}
    r = cost.cluster_tco(colossus1.cluster, section("power"), section("cost"))
    assert np.shape(r.tco_usd_per_hour) == (32,)
    assert np.all(r.tco_usd_per_hour > 0)
    assert isinstance(r.to_dict()["tco_usd_per_gpu_hour"], float)


def test_every_gpu_has_a_system_price_and_rates_load():
    prices = cost.load_prices()
    assert set(catalog.gpu_ids()) <= set(prices.index)
    rates = cost.load_rental_rates()
    assert (rates["source"].str.len() > 0).all() and {"H100", "H200", "B200", "GB200"} <= set(rates["gpu"])


@pytest.mark.parametrize("call, message", [
    (lambda: cost.capital_recovery_factor(0.1, 0), r"^years: 0 is out of range; expected a number in \(0, inf\]"),
    (lambda: cost.usd_per_useful_exaflop(1, 1, 1.5), r"^utilization: 1\.5 is out of range"),
    (lambda: cost.straight_line_depreciation_usd_per_year(100, 5, 1.2), r"^salvage_fraction: 1\.2 is out of range"),
])
def test_bad_input_is_one_line(call, message):
    with pytest.raises(InputError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_cost_defaults_are_sourced(colossus1):
    table = colossus1.table()
    rows = table[table["parameter"].str.startswith("cost.")]
    assert set(rows["parameter"]) == {f"cost.{k}" for k in cost.PARAMETERS}
    assert (rows["source"].str.len() > 10).all()
    life = colossus1.param("cost.life_years")
    assert (life.low, life.high) == (4, 6)


def test_one_at_a_time_cases_in_one_vectorized_call():
    """Hand case: f = 2a + 3b at centre (1, 10), a in [0, 4], b in [5, 20]."""
    from analysis.params import one_at_a_time_columns, one_at_a_time_ends

    columns = one_at_a_time_columns({"a": 1.0, "b": 10.0}, [("a", 0.0, 4.0), ("b", 5.0, 20.0)])
    assert columns["a"].tolist() == [1, 0, 4, 1, 1] and columns["b"].tolist() == [10, 10, 10, 5, 20]
    base, low, high = one_at_a_time_ends(2 * columns["a"] + 3 * columns["b"], 2)
    assert base == 32 and low.tolist() == [30, 17] and high.tolist() == [38, 62]
