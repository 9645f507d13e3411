"""The fleet model: inventory through time, the workload mix, peak-weighted fleet MFU."""
import datetime as dt

import numpy as np
import pytest

from analysis import fleet, utilization
from analysis.errors import InputError
from analysis.scenario import load_scenario


def _fake_grid(model_id, gpu_id, precision, max_tp, hbm_gb, scale_out):
    x = utilization.TOKENS_PER_GPU_GRID
    base = {"H100": 0.40, "H200": 0.44, "GB200": 0.36, "GB300": 0.37}[gpu_id] * (0.9 if max_tp else 1.0)
    return base * x / (x + 1024)


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(utilization, "_mfu_grid", _fake_grid)


def test_inventory_sourced_and_interpolated():
    inv = fleet.load_fleet("xai")
    table = inv.sources()
    assert (table["source"].str.len() > 10).all()
    at = inv.at("2026-04")
    assert at["gpus"].sum() == pytest.approx(520_000)          # The Information: ~500-550k GPUs
    assert 500_000 <= at["gpus"].sum() <= 550_000
    # linear by day between anchors: H100 100k on 2024-09-15, 150k on 2025-02-15
    day = dt.date(2024, 12, 15).toordinal()
    span = dt.date(2025, 2, 15).toordinal() - dt.date(2024, 9, 15).toordinal()
    expected = 100_000 + 50_000 * (day - dt.date(2024, 9, 15).toordinal()) / span
    assert float(inv.count(("colossus1", "H100"), day)) == pytest.approx(expected)
    assert float(inv.count(("colossus2", "GB300"), dt.date(2025, 6, 1).toordinal())) == 0.0
    assert inv.timeline(end="2026-06").iloc[-1].sum() > inv.timeline(end="2025-06").iloc[-1].sum()


def test_unknown_fleet_and_bad_pool_rejected(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="unknown fleet 'mars'"):
        fleet.load_fleet("mars")
    (tmp_path / "bad.yaml").write_text("clusters:\n  colossus1:\n    B200:\n      - {month: '2025-01', count: 1, source: s}\n")
    monkeypatch.setattr(fleet, "FLEET_DIR", tmp_path)
    fleet.load_fleet.cache_clear()
    try:
        with pytest.raises(InputError, match=r"clusters\.colossus1\.B200: no such pool"):
            fleet.load_fleet("bad")
    finally:
        fleet.load_fleet.cache_clear()


def test_factors_multiply_and_flows_add_up(stand_in):
    r = fleet.point(load_scenario("colossus1"))
    assert np.prod(list(r.factors.values())) == pytest.approx(r.value_bf16_dense, rel=1e-9)
    assert all(0 < v <= 1 for v in r.factors.values())
    flows = r.flows()
    assert flows["peak_share"].sum() == pytest.approx(1.0)
    assert flows["useful_share"].sum() == pytest.approx(r.value_bf16_dense)
    assert flows.loc["idle and queueing", "useful_share"] == 0.0
    # FP8: the same useful FLOPs over the FP8 dense peak (about twice BF16: H100 1,979 vs 989 TFLOPS)
    assert r.value_fp8_dense == pytest.approx(r.value_bf16_dense / 2, rel=1e-3)


def test_burn_in_share_hand_computed(stand_in):
    r = fleet.point(load_scenario("colossus1"))
    # GB300: 0 on 2025-12-15 -> 180k on 2026-04-15 (121 days): the last 30 days installed 180k x 30 / 121
    burn = r.classes.query("cls == 'burn-in and acceptance'".replace("cls", "`class`"))
    gb300 = 180_000 * 30 / (dt.date(2026, 4, 15).toordinal() - dt.date(2025, 12, 15).toordinal())
    assert burn["gpus"].sum() == pytest.approx(gb300, rel=1e-6)
    peak_total = r.peak_eflops_bf16_dense * 1e18
    assert r.flows().loc["burn-in and acceptance", "peak_share"] == pytest.approx(gb300 * 2500e12 / peak_total, rel=1e-6)


def test_pretraining_only_fleet_is_the_training_chain(stand_in):
    sc = load_scenario("colossus2")
    r = fleet.point(sc, burn_in_days=0.0, idle_fraction=0.0, inference_fraction=0.0, rl_fraction=0.0)
    assert r.factors["burn-in and acceptance of new racks"] == pytest.approx(1.0)
    pre = r.pretraining.set_index("cluster")["utilization_bf16_dense"]
    peaks = r.classes.query("`class` == 'pre-training'").set_index("cluster")["peak_share"]
    assert r.value_bf16_dense == pytest.approx(float((pre * peaks).sum()), rel=1e-9)


def test_more_inference_at_low_mfu_lowers_the_fleet(stand_in):
    sc = load_scenario("colossus1")
    low, high = (fleet.point(sc, inference_fraction=f).value for f in (0.1, 0.4))
    assert high < low
    # the aware split on Colossus 1 raises the fleet too (the scenario's split applies to its own cluster)
    assert fleet.point(sc, split="aware").value >= fleet.point(sc).value


def test_draws_line_up_and_vary(stand_in):
    sc = load_scenario("colossus1")
    d = sc.sample(200, seed=3)
    mc = fleet.fleet_draws(sc, d)
    assert len(mc.outputs) == 200 and {"fleet.inference_fraction", "fleet_gpus.colossus2.GB300"} <= set(mc.inputs)
    assert np.all(mc.outputs["fleet_mfu_fp8_dense"] < mc.outputs["fleet_mfu_bf16_dense"])
    q = mc.quantiles()
    assert 0 < q["p05"] < q["p50"] < q["p95"] < 1
    again = fleet.fleet_draws(sc, sc.sample(200, seed=3))
    assert np.array_equal(again.value, mc.value)


def test_scenario_without_fleet():
    sc = load_scenario("llama3-16k")
    assert not fleet.enabled(sc)
    with pytest.raises(InputError, match="models no fleet"):
        fleet.point(sc)


def test_views_format_every_number(stand_in):
    import matplotlib
    matplotlib.use("Agg")
    from analysis.report import fleet as view
    sc = load_scenario("colossus1")
    r = fleet.point(sc)
    table = view.class_table(r)
    assert list(table.index) == list(fleet.CLASSES)
    assert all(isinstance(v, str) and "nan" not in v.lower() for v in table.to_numpy().ravel())
    grid = view.mix_grid(sc, 0.11, 0.015, inference=(0.1, 0.4), idle=(0.03, 0.25))
    assert grid.shape == (2, 2) and grid.loc[0.03, 0.1] > grid.loc[0.25, 0.4]     # more idle and more inference: lower
    # one vectorized run gives what the point model gives at each pair
    assert grid.loc[0.25, 0.1] == pytest.approx(fleet.point(sc, inference_fraction=0.1, idle_fraction=0.25).value, rel=1e-12)
    formatted = view.mix_grid_table(grid)
    assert all(v.endswith("%") or v.endswith("*") for v in formatted.to_numpy().ravel())
    fig = view.fleet_flow_chart(r)
    assert len(fig.axes) == 3 and all(ax.get_xlabel() or ax.get_ylabel() for ax in fig.axes)
    assert view.short("fleet.inference_mfu", 20).endswith("\u2026") or len(view.short("fleet.inference_mfu", 20)) <= 20
    # clusters by name, never by id: the pre-training table, the inventory legend
    assert view.cluster_label("colossus1") == "xAI Colossus 1" and view.cluster_label("no-such-cluster") == "no-such-cluster"
    pre = view.pretraining_table(r)
    assert "xAI Colossus 1" in pre.index and "colossus1" not in pre.index
    assert all(isinstance(v, str) and "nan" not in v.lower() for v in pre.to_numpy().ravel())
    inventory = view.inventory_chart(sc.values("fleet")["fleet"], "2026-06")
    legend = [t.get_text() for t in inventory.axes[0].get_legend().get_texts()]
    assert "xAI Colossus 1 H100" in legend and not any(t.startswith("colossus") for t in legend)
    import pandas as pd
    table = pd.DataFrame({"title": ["Colossus 1 as operated (one job)", "Llama 3 405B on 16,384 H100 (reference)"],
                          "utilization": [0.064, 0.394], "p05": [0.03, 0.35], "p95": [0.08, 0.40],
                          "denominator": ["bf16 dense", "bf16 dense"]}, index=["colossus1", "llama3-16k"])
    designs = view.designs_chart(table, {"reported (2026-04)": 0.11})
    ax = designs.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Colossus 1 as operated", "Llama 3 405B on 16,384 H100"]
    assert "BF16 dense peak" in ax.get_xlabel()


def test_each_fleet_pool_draws_from_its_own_stream():
    """Every pool of the inventory is drawn from the stream of its own path (seed and path, scenario.draw_stream), so
    its draws are the triangular quantiles of that stream whatever pools come before it (one stream shared in pool
    order would shift every later pool's draws when a pool is added)."""
    from analysis.scenario import draw_stream

    values = load_scenario("colossus1").values("fleet")
    draws = fleet.sample_inventory(values, 64, lambda path: draw_stream(11, path))
    inv, day = fleet.load_fleet(values["fleet"]), fleet._day(values["as_of"])
    assert len(draws) == len(inv.pools) >= 2
    for c, p in inv.pools:
        v, lo, hi = (float(inv.count((c, p), day, w)) for w in ("value", "low", "high"))
        path = f"{fleet.FLEET_PREFIX}{c}.{p}"
        expected = fleet._triangular_ppf(draw_stream(11, path).random(64), min(lo, v), v, max(hi, v))
        assert np.array_equal(draws[path], expected)
