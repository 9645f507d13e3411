"""Power model: hand-computed cases, the Epoch AI cross-check, published site figures, invariants."""
import numpy as np
import pytest

from analysis import power
from analysis.catalog import gpu, load_cluster
from analysis.errors import InputError
from analysis.scenario import load_scenario


def test_gpu_power_is_linear_from_idle_to_tdp():
    assert power.gpu_power_w(700, 0.0, 0.1) == pytest.approx(70.0)
    assert power.gpu_power_w(700, 1.0, 0.1) == pytest.approx(700.0)
    assert power.gpu_power_w(700, 0.85, 0.1) == pytest.approx(700 * (0.1 + 0.9 * 0.85))  # 605.5 W
    loads = np.linspace(0, 1, 11)
    assert np.all(np.diff(power.gpu_power_w(1200, loads, 0.1)) > 0)


def test_host_power_is_system_max_minus_gpus():
    h100 = gpu("H100")
    assert power.host_max_w_per_gpu(h100.system_power_kw, h100.system_gpus, h100.tdp_w) == pytest.approx(10200 / 8 - 700)  # 575 W
    gb200 = gpu("GB200")
    assert power.host_max_w_per_gpu(gb200.system_power_kw, gb200.system_gpus, gb200.tdp_w) == pytest.approx(120000 / 72 - 1200)
    assert power.host_power_w_per_gpu(10.2, 8, 700, 0.5) == pytest.approx(287.5)


def test_it_power_hand_case_and_breakdown_sums():
    # one DGX H100 at full load: 8 x (700 GPU + 575 host + 80 network + 30 storage) W
    parts = power.it_power_mw(8, 700, 10.2, 8, 50, 1.0, 0.1, 1.0, 80, 30)
    assert parts["gpu_mw"] == pytest.approx(8 * 700 / 1e6)
    assert parts["host_mw"] == pytest.approx(8 * 575 / 1e6)
    assert parts["it_mw"] == pytest.approx(8 * 1385 / 1e6)
    assert parts["it_mw"] == pytest.approx(sum(parts[k] for k in power.COMPONENTS))
    # without network and storage the nameplate equals the DGX H100 maximum, 10.2 kW
    assert power.it_power_mw(8, 700, 10.2, 8, 50, 1.0, 0.1, 1.0, 0, 0)["it_mw"] == pytest.approx(10.2e-3)
    # network power scales with scale-out bandwidth (800 Gb/s = 100 GB/s doubles it)
    assert power.network_power_w_per_gpu(80, 100) == pytest.approx(160)


def test_facility_is_it_times_pue():
    assert power.facility_power_mw(100.0, 1.2) == pytest.approx(120.0)


def test_epoch_method_hand_case():
    # 100k H100: 700 W x 1.82 = 1,275 W per GPU = DGX H100 10.2 kW / 8
    assert power.EPOCH_SERVER_OVERHEAD == pytest.approx(1.8214, abs=1e-4)
    assert power.epoch_method_mw(700, 100_000, pue=1.0) == pytest.approx(127.5)
    assert power.epoch_method_mw(700, 100_000, pue=1.2) == pytest.approx(153.0)
    assert power.epoch_method_mw(700, 100_000, pue=1.0, tdp_fraction=0.75) == pytest.approx(127.5 * 0.75)


def test_epoch_cross_check_against_bottom_up():
    """For DGX-class H100 servers (network and storage aside) the bottom-up nameplate IS Epoch's
    method; for NVL72 racks Epoch's 1.82 overstates, because the rack's non-GPU share is smaller."""
    sc = load_scenario("colossus1")
    values = dict(sc.values("power"), network_w_per_gpu=0.0, storage_w_per_gpu=0.0)
    r = power.cluster_power(sc.cluster, values)
    pools = r.by_pool.set_index("pool")
    assert pools.loc["H100", "facility_nameplate_mw"] == pytest.approx(pools.loc["H100", "epoch_method_mw"])
    assert pools.loc["GB200", "epoch_method_mw"] > 1.15 * pools.loc["GB200", "facility_nameplate_mw"]
    # with default network and storage the two whole-cluster estimates agree within 10%
    full = power.cluster_power(sc.cluster, sc.values("power"))
    assert full.facility_nameplate_mw == pytest.approx(full.epoch_method_mw, rel=0.10)


def test_colossus1_facility_power_within_25_percent_of_reported_site():
    sc = load_scenario("colossus1")
    r = power.cluster_power(sc.cluster, sc.values("power"))
    assert sc.cluster.site_power_mw.value == 300
    assert 0.75 <= r.facility_mw / 300 <= 1.25, r.summary()
    # ordering that the gap explanation relies on: TDP-only < at load < nameplate
    assert r.gpu_tdp_mw < r.it_mw < r.facility_mw < r.facility_nameplate_mw
    text = power.explain_site_gap(r)
    assert "300 MW" in text and "PUE" in text and "\n" in text


def test_colossus2_is_gigawatt_scale():
    sc = load_scenario("colossus2")
    r = power.cluster_power(sc.cluster, sc.values("power"))
    assert 500 < r.facility_mw < 2000


def test_stall_swing_hand_case_and_llama3_order_of_magnitude():
    swing = power.stall_power_swing_mw(16384, 700, 0.85, 0.1)
    assert swing == pytest.approx(16384 * 700 * 0.9 * 0.85 / 1e6)  # 8.77 MW
    # Llama 3 (arXiv 2407.21783 Sec. 3.3.4): "on the order of tens of megawatts" across the data center;
    # GPUs alone of the 16k-GPU job give a lower bound of the same order
    sc = load_scenario("llama3-16k")
    r = power.cluster_power(sc.cluster, sc.values("power"))
    assert 3 < r.stall_swing_mw < 100
    assert power.stall_power_swing_mw(100, 700, 0.0, 0.1) == 0.0


def test_energy_per_useful_exaflop_hand_case_and_monotone():
    # 300 MW, 100 EFLOP/s peak, 50% -> 50 EFLOP/s useful -> 1 EF in 0.02 s -> 300 MW x 0.02 s = 6 MJ = 1/600 MWh
    assert power.energy_mwh_per_useful_exaflop(300, 100, 0.5) == pytest.approx(1 / 600)
    u = np.linspace(0.05, 0.5, 10)
    e = power.energy_mwh_per_useful_exaflop(300, 100, u)
    assert np.all(np.diff(e) < 0)
    assert e[0] / e[-1] == pytest.approx(10)


def test_power_rises_with_load():
    sc = load_scenario("colossus1")
    sweep = power.power_vs_load(sc.cluster, sc.values("power"), np.linspace(0, 1, 6))
    assert np.all(np.diff(sweep["facility_mw"]) > 0)
    assert np.allclose(sweep[list(power.COMPONENTS)].sum(axis=1), sweep["it_mw"])


def test_vectorized_over_monte_carlo_draws():
    sc = load_scenario("colossus1")
    draws = sc.sample(64, seed=1)
    values = {k.split(".", 1)[1]: v for k, v in draws.items() if k.startswith("power.")}
    r = power.cluster_power(sc.cluster, values)
    assert np.shape(r.facility_mw) == (64,)
    assert np.all(r.facility_mw > r.it_mw)
    d = r.to_dict()
    assert isinstance(d["facility_mw"], float) and isinstance(d["by_pool"]["H100"]["it_mw"], float)


@pytest.mark.parametrize("call, message", [
    (lambda: power.gpu_power_w(700, 1.5, 0.1), r"^load_fraction: 1\.5 is out of range; expected a number in \[0, 1\]"),
    (lambda: power.facility_power_mw(10, 0.9), r"^pue: 0\.9 is out of range"),
    (lambda: power.energy_mwh_per_useful_exaflop(10, 5, 0.0), r"^utilization: 0 is out of range; expected a number in \(0, 1\]"),
    (lambda: power.gpu_power_w(-1, 0.5, 0.1), r"^tdp_w: -1 is out of range"),
])
def test_bad_input_is_one_line(call, message):
    with pytest.raises(InputError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_validate_section_rejects_idle_at_tdp():
    sc = load_scenario("colossus1")
    with pytest.raises(InputError, match=r"power\.gpu_idle_fraction: 1 is not below 1"):
        power.validate_section(dict(sc.values("power"), gpu_idle_fraction=1.0), sc.cluster)


def test_site_power_table_is_sourced():
    rows = power.load_site_power("colossus1")
    assert len(rows) >= 3 and (rows["source"].str.len() > 0).all()
    assert 300 in set(rows["mw"])
    assert len(power.load_site_power("colossus2")) >= 2


def test_power_defaults_are_sourced_and_summary_reads():
    sc = load_scenario("colossus1")
    table = sc.table()
    rows = table[table["parameter"].str.startswith("power.")]
    assert set(rows["parameter"]) == {f"power.{k}" for k in power.PARAMETERS}
    assert (rows["source"].str.len() > 10).all()
    r = power.cluster_power(load_cluster("colossus1"), sc.values("power"))
    assert "facility power at load" in r.summary()
