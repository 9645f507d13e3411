"""Inference capacity: MLPerf calibration, hand-computed cases, invariants, fleet totals, CLI errors."""
import json

import numpy as np
import pytest

from analysis import inference as inf
from analysis.catalog import gpu, load_cluster
from analysis.errors import InputError
from analysis.paths import PROJ_ROOT
from tests.conftest import run_cli

MLPERF_TOLERANCE_PCT = 25.0     # done-when: per-GPU offline tokens/s within 25% of MLPerf per system
LLAMA2 = dict(params=70e9, active_params=70e9, layers=80, hidden=8192, heads=64, kv_heads=8)


@pytest.fixture(scope="module")
def predictions():
    return inf.mlperf_predictions().set_index("id")


def test_mlperf_offline_per_gpu_within_stated_error(predictions):
    """MLPerf Inference Llama 2 70B, Offline scenario, generated tokens/s per GPU (system / GPUs)."""
    assert {"H100", "H200", "B200"} <= set(predictions["gpu"])
    for rid, row in predictions.iterrows():
        assert abs(row["error_pct"]) < MLPERF_TOLERANCE_PCT, (rid, row["model_tokens_s_per_gpu"], row["mlperf_offline_tokens_s_per_gpu"])


def test_mlperf_per_gpu_figures_are_the_published_ones():
    table = inf.load_mlperf()
    assert table.loc["v4.1-dgx-h100", "offline_tokens_s_per_gpu"] == pytest.approx(24524.9 / 8)
    assert table.loc["v4.1-h200", "offline_tokens_s_per_gpu"] == pytest.approx(31302.7 / 8)
    assert table.loc["v5.1-dgx-b200", "offline_tokens_s_per_gpu"] == pytest.approx(101527 / 8)
    assert table.loc["v5.1-dgx-b200", "server_tokens_s"] == 99123


def test_calibrated_efficiency_in_yaml_is_the_fit():
    fit = inf.calibrate()
    assert inf.default_values()["compute_efficiency"] == pytest.approx(fit["compute_efficiency"], abs=0.002)
    assert inf._defaults()["compute_efficiency"].source.startswith("calibrated")
    assert fit["max_abs_error_pct"] < MLPERF_TOLERANCE_PCT and fit["systems"] >= 4


def test_kv_bytes_per_token_llama2_70b_by_hand():
    # 2 (K,V) x 80 layers x 8 KV heads x 128 head_dim x 1 byte (FP8) = 163,840 bytes
    assert inf.kv_bytes_per_token(80, 8192, 64, 8, 1.0) == 163840
    assert inf.kv_bytes_per_token(80, 8192, 64, 8, 2.0) == 2 * 163840


def test_small_dense_case_by_hand():
    """1 GPU, 100 GB HBM at 1 TB/s, 1,000 TFLOPS; 10B dense model at 1 byte; no reserve; KV 0.5 of free."""
    t = inf.replica_throughput(params=10e9, active_params=10e9, layers=10, hidden=1000, heads=10, kv_heads=10,
                               input_tokens=100, output_tokens=100, hbm_gb=100, hbm_tb_s=1.0, peak_tflops=1000,
                               gpus_per_replica=1, compute_efficiency=1.0, bandwidth_efficiency=1.0,
                               kv_memory_fraction=0.5, reserved_gb_per_gpu=0.0)
    kv_token = 2 * 10 * 10 * 100 * 1.0                     # 20,000 bytes
    batch = np.floor(0.5 * 90e9 / (kv_token * 200))        # 11,250 requests
    assert float(t.batch) == batch
    ctx = 150
    weights_s = max(10e9 / 1e12, batch * 2 * 10e9 / 1e15)
    attn_s = batch * max(kv_token * ctx / 1e12, 4 * 10 * 1000 * ctx / 1e15)
    prefill_s = (100 * 2 * 10e9 + 2 * 10 * 1000 * 100 ** 2) / 1e15
    expected = batch * 100 / (100 * (weights_s + attn_s) + batch * prefill_s)
    assert float(t.tokens_per_s_per_gpu) == pytest.approx(expected, rel=1e-12)
    assert float(t.step_comm_s) == 0.0


def test_vectorized_matches_scalar_calls():
    bws = np.array([2.0, 3.35, 4.8, 8.0])
    grid = inf.replica_throughput(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=141, hbm_tb_s=bws,
                                  peak_tflops=1979, gpus_per_replica=1)
    for i, bw in enumerate(bws):
        one = inf.replica_throughput(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=141, hbm_tb_s=bw,
                                     peak_tflops=1979, gpus_per_replica=1)
        assert float(one.tokens_per_s_per_gpu) == grid.tokens_per_s_per_gpu[i]
        assert str(one.bound) == grid.bound[i]


@pytest.mark.parametrize("model", [LLAMA2, dict(params=1e12, active_params=1e11, layers=96, hidden=12288, heads=96, kv_heads=8)])
@pytest.mark.parametrize("tpot_ms", [np.inf, 40.0])
def test_more_hbm_bandwidth_never_fewer_tokens(model, tpot_ms):
    bws = np.linspace(1.0, 12.0, 45)
    for g in (1, 2, 8, 16):
        t = inf.replica_throughput(**model, input_tokens=2000, output_tokens=400, hbm_gb=141, hbm_tb_s=bws, peak_tflops=1979,
                                   gpus_per_replica=g, max_batch=1024, max_tpot_ms=tpot_ms)
        assert np.all(np.diff(t.tokens_per_s_per_gpu) >= -1e-9), (g, t.tokens_per_s_per_gpu)


def test_longer_outputs_with_fixed_memory_give_smaller_max_batch():
    outputs = np.array([100, 200, 400, 800, 1600, 3200, 6400])
    t = inf.replica_throughput(**LLAMA2, input_tokens=1000, output_tokens=outputs, hbm_gb=141, hbm_tb_s=4.8,
                               peak_tflops=1979, gpus_per_replica=1)
    assert np.all(np.diff(t.batch_kv_limit) < 0)
    assert np.all(np.diff(t.batch) <= 0)


def test_more_compute_or_memory_never_hurts_and_dense_reads_all_weights():
    t = inf.replica_throughput(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=np.array([80, 141, 180]), hbm_tb_s=4.8,
                               peak_tflops=np.array([[989], [1979], [4500]]), gpus_per_replica=1)
    tps = t.tokens_per_s_per_gpu
    assert np.all(np.diff(tps, axis=0) >= -1e-9 * tps[1:]) and np.all(np.diff(tps, axis=1) >= -1e-9 * tps[:, 1:])
    assert inf.touched_weight_fraction(70e9, 70e9, 1) == 1.0
    moe = inf.touched_weight_fraction(1e12, 1e11, np.array([1, 8, 64, 1024]))
    assert moe[0] == pytest.approx(0.1) and np.all(np.diff(moe) > 0) and moe[-1] <= 1.0


def test_weights_that_do_not_fit_give_zero_throughput():
    t = inf.replica_throughput(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=80, hbm_tb_s=3.35, peak_tflops=1979,
                               gpus_per_replica=1, weight_bytes_per_param=2.0)
    assert float(t.tokens_per_s_per_gpu) == 0.0 and str(t.bound) == "does-not-fit"


def test_latency_target_caps_batch_and_is_met():
    loose = inf.replica_throughput(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=141, hbm_tb_s=4.8, peak_tflops=1979,
                                   gpus_per_replica=1)
    tight = inf.replica_throughput(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=141, hbm_tb_s=4.8, peak_tflops=1979,
                                   gpus_per_replica=1, max_tpot_ms=40)
    assert float(tight.batch) < float(loose.batch)
    assert float(tight.tpot_ms) <= 40.0 + 1e-9 and str(tight.bound) in ("latency", "compute")


def test_usd_per_million_tokens_by_hand():
    # $3.6 per GPU-hour at 1,000 tokens/s per GPU = 3.6M tokens per hour -> $1 per million
    assert inf.usd_per_million_tokens(3.6, 1000.0) == pytest.approx(1.0)
    assert inf.api_usd_per_million_output_tokens(5, 25, 3000, 400) == pytest.approx(25 + 5 * 7.5)


def test_api_prices_are_the_published_list_prices():
    prices = inf.load_api_prices()
    assert tuple(prices.loc["Claude Opus 4.5", ["input_usd_per_mtok", "output_usd_per_mtok"]]) == (5, 25)
    assert tuple(prices.loc["Claude Sonnet 4.5", ["input_usd_per_mtok", "output_usd_per_mtok"]]) == (3, 15)
    assert (prices["source"].str.len() > 10).all()


def test_lease_price_is_the_s1_derivation():
    p = inf._defaults()["lease_usd_per_gpu_hour"]
    assert p.value == pytest.approx(1.25e9 / (325_000 * 730.5), abs=0.01)
    assert p.low <= p.value <= p.high == pytest.approx(1.25e9 / (220_000 * 730.5), abs=0.01)


def test_fleet_totals_are_sums_of_pools():
    cluster = load_cluster("colossus1")
    values = inf.default_values()
    fleet = inf.fleet_capacity(cluster, values)
    pools = fleet.pools
    assert fleet.tokens_per_s == pytest.approx(pools["tokens_per_s"].sum())
    assert fleet.tokens_per_day == pytest.approx(fleet.tokens_per_s * 86400 * values["load_factor"])
    assert (pools["replicas"] * pools["gpus_per_replica"] <= pools["gpus"]).all()
    assert (pools["tokens_per_s"] > 0).all()
    expected_cost = values["lease_usd_per_gpu_hour"] * fleet.gpus / (fleet.tokens_per_s * values["load_factor"] * 3600) * 1e6
    assert fleet.usd_per_million_output_tokens == pytest.approx(expected_cost)
    d = fleet.to_dict()
    json.dumps(d)
    assert "fleet" in fleet.summary() and len(d["pools"]) == len(cluster.pools)


def test_replicas_sized_by_memory():
    values = inf.default_values()
    t, size, _ = inf.best_replica(gpu("H100"), values)
    need_gb = values["total_params_b"] * 1.0
    assert float(size) * (80 - values["reserved_gb_per_gpu"]) > need_gb      # the chosen replica holds the weights
    assert float(t.tokens_per_s_per_gpu) > 0


def test_fp4_falls_back_to_fp8_on_hopper():
    assert inf.serving_precision(gpu("H100"), "fp4") == "fp8"
    assert inf.serving_precision(gpu("GB200"), "fp4") == "fp4"


def test_run_from_file_example():
    result = inf.run_from_file(PROJ_ROOT / "data/serve/llama2-70b-h100.yaml")
    d = result.to_dict()
    json.dumps(d)
    assert {"tokens_per_s_per_gpu", "batch", "bound"} <= set(d)
    assert d["bound"] in inf.BOUNDS and d["batch"] <= 896
    assert "tokens/s per GPU" in result.summary()


@pytest.mark.parametrize("doc, message", [
    ({"gpu": "X100", "gpus_per_replica": 1}, r"^gpu: unknown GPU 'X100'; known GPUs are"),
    ({"gpu": "H100"}, r"^gpus_per_replica: missing"),
    ({"gpu": "H100", "gpus_per_replica": 1, "precision": "fp4"}, r"^precision: H100 has no dense fp4 peak"),
    ({"gpu": "H100", "gpus_per_replica": 1, "precision": "int3"}, r"^precision: 'int3' is not allowed"),
    ({"gpu": "H100", "gpus_per_replica": 1, "precision": "bf16"}, r"^gpus_per_replica: 1 x H100 \(80 GB\) cannot hold 140 GB"),
    ({"gpu": "H100", "gpus_per_replica": 2, "model": {"params": 70e9, "layers": 80, "hidden": 8192, "heads": 64, "kv_heads": 8},
      "workload": {"input_tokens": -5, "output_tokens": 300}}, r"^workload\.input_tokens: -5 is below 1"),
    ({"gpu": "H100", "gpus_per_replica": 2, "model": {"params": 70e9, "active_params": 80e9, "layers": 80, "hidden": 8192,
      "heads": 64, "kv_heads": 8}, "workload": {"input_tokens": 5, "output_tokens": 3}}, r"^model\.active_params: 8e\+10 exceeds"),
    ({"gpu": "H100", "gpus_per_replica": 2, "model": {"params": 70e9, "layers": 80, "hidden": 8192, "heads": 64, "kv_heads": 8},
      "workload": {"input_tokens": 5}}, r"^workload\.output_tokens: missing"),
    ({"gpu": "H100", "gpus_per_replica": 2, "speed": 3}, r"^speed: unknown key"),
])
def test_bad_serve_files_raise_one_line(doc, message):
    doc = {"model": {"params": 70e9, "layers": 80, "hidden": 8192, "heads": 64, "kv_heads": 8},
           "workload": {"input_tokens": 500, "output_tokens": 300}, **doc}
    with pytest.raises(InputError, match=message) as info:
        inf.parse_serve(doc)
    assert "\n" not in str(info.value)


def test_validate_section_cross_checks():
    values = dict(inf.default_values(), active_params_b=2000)
    with pytest.raises(InputError, match=r"^inference\.active_params_b: 2000 exceeds total_params_b"):
        inf.validate_section(values, None)


@pytest.mark.slow
def test_cli_json_and_errors(tmp_path):
    ok = run_cli("inference", "data/serve/llama2-70b-h200.yaml", "--json")
    assert ok.returncode == 0, ok.stderr
    d = json.loads(ok.stdout)
    assert d["gpu"] == "H200" and d["tokens_per_s_per_gpu"] > 0 and d["bound"] in inf.BOUNDS
    bad = tmp_path / "bad.yaml"
    bad.write_text("gpu: H100\ngpus_per_replica: 0\nmodel: {params: 7e9, layers: 32, hidden: 4096, heads: 32, kv_heads: 8}\n"
                   "workload: {input_tokens: 100, output_tokens: 100}\n")
    for args in (["inference", str(bad)], ["inference", str(tmp_path / "missing.yaml")]):
        r = run_cli(*args)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr


def test_fleet_draws_match_fleet_capacity_and_vectorize():
    from analysis.scenario import load_scenario

    sc = load_scenario("colossus1")
    central = sc.values("inference")
    point = inf.fleet_capacity(sc.cluster, central)
    same = inf.fleet_draws(sc.cluster, central)
    assert float(same["tokens_per_s"]) == pytest.approx(point.tokens_per_s)
    assert float(same["usd_per_million_output_tokens"]) == pytest.approx(point.usd_per_million_output_tokens)
    draws = {k.split(".", 1)[1]: v for k, v in sc.sample(300, 1).items() if k.startswith("inference.")}
    many = inf.fleet_draws(sc.cluster, draws)
    assert many["tokens_per_s"].shape == (300,) and np.all(many["tokens_per_s"] >= 0)
    assert np.quantile(many["usd_per_million_output_tokens"], 0.05) < point.usd_per_million_output_tokens
