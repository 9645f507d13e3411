"""Views of lease versus rebuild (analysis.report.economics): the cash-flow export adds up to the NPVs,
the figure the board brief reuses builds with labelled axes, tables format every number."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from analysis import economics as ec  # noqa: E402
from analysis.report import economics as views  # noqa: E402
from analysis.scenario import load_scenario  # noqa: E402


@pytest.fixture(scope="module")
def point():
    sc = load_scenario("colossus1")
    return ec.from_scenario(sc, utilization_by_option=ec.modelled_utilization(sc))


def test_cash_flow_table_adds_up_to_the_incremental_npv(point):
    table = views.cash_flow_table(point)
    assert {"option", "option_label", "component", "month", "period", "usd"} <= set(table.columns)
    df = ec.monthly_discount_factors(point.discount_rate_annual, point.horizon_months)
    for option in ("lease", "islands"):
        inc = table[(table["option"] == option) & (table["component"] == "increment over keep")].sort_values("month")
        assert len(inc) == point.horizon_months + 1
        assert float(np.sum(inc["usd"].to_numpy() * df)) == pytest.approx(point.incremental_npv_usd[option], rel=1e-9)
        net = table[(table["option"] == option) & (table["component"] == "net after tax")].sort_values("month")
        assert float(np.sum(net["usd"].to_numpy() * df)) == pytest.approx(point.npv_usd[option], rel=1e-9)


def test_npv_vs_lease_rate_figure(point):
    fig = views.npv_vs_lease_rate_figure(point)
    ax = fig.axes[0]
    assert "USD" in ax.get_xlabel() and "USD billions" in ax.get_ylabel() and ax.get_title()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("market rent" in t for t in texts) and sum("S-1 fee allocated" in t for t in texts) == 2
    curve = ec.npv_vs_lease_rate(point, np.array([0.0, point.break_even_lease_usd_per_gpu_hour, point.lease_usd_per_gpu_hour]))
    lease = curve[curve["option"] == point.label("lease")]["npv_usd"].to_numpy()
    assert lease[0] < 0 and lease[1] == pytest.approx(0.0, abs=2e7) and lease[2] == pytest.approx(point.npv_lease_minus_keep_usd)
    low, mid, high = ec.market_rent_band(point)
    assert low < mid < high


def test_tables_show_formatted_numbers(point):
    table = views.options_table(point)
    assert table.map(lambda v: isinstance(v, str)).all().all()
    assert not table.astype(str).apply(lambda c: c.str.contains("nan|None|True|False")).any().any()
