"""MLPerf's loadgen logs (data/mlperf_loadgen.csv): the same runs as data/mlperf_inference.csv, the measured TPOT tails the
calibration evaluates with, Little's law by hand, and the model's operating point against them."""
import statistics

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.inference import calibration, loadgen
from analysis.inference.parameters import default_values


@pytest.fixture(scope="module")
def logs():
    return loadgen.load_loadgen()


def test_every_mlperf_row_has_its_loadgen_summary_with_the_same_throughput(logs):
    mlperf = calibration.load_mlperf()
    mlperf = mlperf[mlperf["serve_file"] != ""]              # the rows the calibration evaluates (the v4.1 B200 preview has none)
    assert set(logs.index) == set(mlperf.index)
    # the summaries' completed tokens per second are the published results, row for row
    assert np.allclose(logs.loc[mlperf.index, "tokens_per_s"], mlperf["tokens_s"], rtol=1e-5)   # the results tables round
    assert (logs.loc[mlperf.index, "scenario"] == mlperf["scenario"]).all()
    timed = logs[logs["scenario"] != "offline"]
    assert timed[["mean_tpot_ms", "p99_tpot_ms", "mean_ttft_ms", "ttft_target_ms", "tpot_target_ms"]].notna().all().all()
    # every latency-bound run met its targets at the 99th percentile (a valid MLPerf result)
    assert (timed["p99_tpot_ms"] <= timed["tpot_target_ms"]).all() and (timed["p99_ttft_ms"] <= timed["ttft_target_ms"]).all()


def test_tail_and_requests_in_flight_by_hand(logs):
    """v5.1 GB200 x4 Llama 2 70B interactive: p99 TPOT 33.564 ms over the mean 30.583 ms; 109.31 queries/s x (8.3452 s
    - 57.9 ms) over 4 one-GPU replicas = 226.5 requests in flight per replica (Little's law)."""
    row = logs.loc["v5.1-gb200x4-llama2-interactive"]
    assert float(loadgen.tpot_tail(row["p99_tpot_ms"], row["mean_tpot_ms"])) == pytest.approx(33.564 / 30.583)
    assert float(loadgen.requests_in_flight(row["samples_per_s"], row["mean_latency_s"], row["mean_ttft_ms"], 4)) == \
        pytest.approx(109.31 * (8.3452 - 0.057914) / 4, rel=1e-4)


def test_benchmark_tails_are_medians_of_the_runs_at_least_one(logs):
    mlperf = calibration.load_mlperf()
    tails = loadgen.benchmark_tails(logs, mlperf["benchmark"])
    timed = logs[logs["scenario"] != "offline"]
    for bench, value in tails.items():
        runs = timed[mlperf.loc[timed.index, "benchmark"] == bench]
        assert value == pytest.approx(max(statistics.median(runs["p99_tpot_ms"] / runs["mean_tpot_ms"]), 1.0))
    # DeepSeek-R1: one run's p99 is below its mean (an outlier query); the median of the two is read as at least 1
    assert tails["deepseek-r1"] >= 1.0 and 1.05 < tails["llama2-70b"] < 1.15 and 1.15 < tails["llama3.1-405b"] < 1.35
    # the calibration evaluates each row with its benchmark's, and the fleet default is the median of all runs (written)
    assert calibration.measured_tails() == tails
    overall = loadgen.overall_tail(logs)
    assert default_values()["latency_tail_factor"] == pytest.approx(overall["value"], abs=5e-4)
    assert overall["low"] == 1.0 and overall["runs"] == len(timed)


def test_a_bad_loadgen_value_is_one_line_naming_the_field(tmp_path, logs):
    bad = logs.reset_index(drop=True).copy()
    bad.loc[0, "samples_per_s"] = -3
    path = tmp_path / "mlperf_loadgen.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        loadgen.load_loadgen(path)
    assert "samples_per_s" in str(err.value) and "-3" in str(err.value) and "\n" not in str(err.value)


def test_model_operating_point_against_loadgen():
    """The step model held at the batch MLPerf ran: its mean TPOT within a median 15% of the logged one (the old fitted
    tail of 3.0 put it at about half); every run's tail measured in [1, 2]."""
    points = calibration.operating_points()
    acc = calibration.operating_point_accuracy(points)
    assert acc["runs"] == len(points) >= 15
    assert acc["tpot_at_mlperf_batch_pct"] < 15 and acc["tpot_pct"] < 35 and acc["batch_pct"] < 35
    assert ((points["mlperf_tpot_tail"] > 0.9) & (points["mlperf_tpot_tail"] < 2.0)).all()
    # the Llama 2 70B interactive runs (TPOT-bound): the model's batch within 30% of the requests in flight
    interactive = points[(points["benchmark"] == "llama2-70b") & (points["scenario"] == "interactive")]
    assert len(interactive) == 3 and (interactive["batch_ratio"].sub(1).abs() < 0.3).all()
    assert isinstance(points, pd.DataFrame) and set(points["scenario"]) == {"server", "interactive"}
    # how close each run came to its limits, by hand from its loadgen summary: the GB200 NVL72 Llama 3.1 405B
    # interactive run, p99 TTFT 3,413.531 ms of 4,500 and p99 TPOT 72.155 ms of 80
    gb200 = points.set_index("id").loc["v5.1-gb200x72-llama31-interactive"]
    assert gb200["mlperf_ttft_p99_share"] == pytest.approx(3413.531 / 4500) and gb200["mlperf_tpot_p99_share"] == pytest.approx(72.155 / 80)


def test_operating_points_view_names_each_run_from_its_own_row():
    """The view reads round, system and benchmark from the operating-point table itself (no second read of the MLPerf
    table): the v5.1 DGX B200 Llama 2 server run is named as its row states."""
    from analysis.report import inference as view

    points = calibration.operating_points()
    frame = view.operating_points_view(points).to_frame()
    names = frame["Run"].tolist()
    row = points.index[points["id"] == "v5.1-dgx-b200-llama2-server"][0]
    assert names[row] == "v5.1 NVIDIA DGX B200, Llama 2 70B"
    # p99 TTFT 436.316 ms of 2,000 and p99 TPOT 132.366 ms of 200 in its loadgen summary
    log = loadgen.load_loadgen().loc["v5.1-dgx-b200-llama2-server"]
    expected = f"{100 * log['p99_ttft_ms'] / 2000:.0f}%, {100 * log['p99_tpot_ms'] / 200:.0f}%"
    assert frame["p99 TTFT, TPOT over their limits, MLPerf"].tolist()[row] == expected == "22%, 66%"
    assert len(names) == len(points)


def test_kv_implied_prompt_by_hand_and_the_serving_files_state_the_median(logs):
    """v5.0 8x H200 Llama 2 server, TP1: the cache holds 0.90 x (141 GB - 5 GB workspace - 70 GB FP8 weights) over
    2 x 80 layers x 8 KV heads x 128 x 1 byte per token; loadgen's 113.04 queries/s over (49.879 s - 0.398 s) on 8
    replicas keep 699.2 requests in flight; less half of 294.45 output tokens that is the prompt they held. The Llama 2
    70B serving files state the median over the six server runs."""
    prompts = calibration.kv_implied_prompts()
    assert len(prompts) == 6 and set(prompts["round"]) == {"v4.1", "v5.0", "v5.1"}
    tokens = 0.90 * (141 - 5 - 70) * 1e9 / (2 * 80 * 8 * 128)
    in_flight = 113.04 * (49.8792 - 0.397824) / 8
    h200 = prompts.loc[prompts["id"] == "v5.0-h200-llama2-server", "implied_prompt_tokens"].item()
    assert h200 == pytest.approx(tokens / in_flight - 294.45 / 2, rel=1e-3) and h200 == pytest.approx(371.3, abs=0.5)
    median = float(prompts["implied_prompt_tokens"].median())
    stated = {float(calibration._serve(f).values["input_tokens"])
              for f in calibration.load_mlperf().query("benchmark == 'llama2-70b'")["serve_file"].dropna().unique() if f}
    assert stated == {round(median)} == {376}


def test_ttft_at_each_runs_own_load_against_loadgen():
    """The TTFT queue checked where each run ran (not in the fit). v5.1 GB200 NVL72 Llama 3.1 405B server, 18 replicas at
    67 requests in flight: fed in turn, the model's p99 is within 15% of the logged 4.36 s (the run had headroom to its 6 s
    limit, as the model says); a Poisson share per replica puts it above 6 s, which the run met, and one pooled queue at
    under half. The median misses over the four multi-replica 405B runs are within a factor of two for every reading."""
    readings = calibration.router_readings().set_index("id")
    run = readings.loc["v5.1-gb200x72-llama31-server"]
    assert run["replicas"] == 18 and run["mlperf_p99_ttft_ms"] == pytest.approx(4358.799)
    assert abs(run["round_robin_p99_ttft_ms"] / run["mlperf_p99_ttft_ms"] - 1) < 0.15
    assert run["poisson_per_replica_p99_ttft_ms"] > 6000 > run["mlperf_p99_ttft_ms"]
    assert run["pooled_p99_ttft_ms"] < 0.5 * run["mlperf_p99_ttft_ms"]
    # fed in turn sits between the pooled queue and a Poisson share per replica on every run
    for _, r in readings.iterrows():
        assert r["pooled_p99_ttft_ms"] <= r["round_robin_p99_ttft_ms"] <= r["poisson_per_replica_p99_ttft_ms"]
    errors = calibration.router_reading_errors()
    assert errors["runs"] == 4 and all(v["p99_pct"] < 100 for k, v in errors.items() if k != "runs")
    # the operating-point table carries the reading used, and none for the disaggregated run (its pool is sized)
    points = calibration.operating_points().set_index("id")
    assert points.loc["v5.1-gb200x72-llama31-server", "model_p99_ttft_at_mlperf_load_ms"] == pytest.approx(run["round_robin_p99_ttft_ms"])
    assert np.isnan(points.loc["v5.1-gb200x72-llama31-interactive", "model_p99_ttft_at_mlperf_load_ms"])


def test_router_readings_view_reads_seconds_and_names_each_reading():
    from analysis.report import inference as view

    readings = calibration.router_readings()
    frame = view.router_readings_view(readings).to_frame()
    assert len(frame) == 4 and "Model, fed in turn (used)" in frame.columns
    gb200 = frame[frame["Run"] == "v5.1 NVIDIA GB200 NVL72, Llama 3.1 405B"]
    assert gb200["p99 TTFT, MLPerf"].tolist() == ["4.36 s"]
    text = view.router_readings_summary(calibration.router_reading_errors(readings), readings).data
    assert "4 Llama 3.1 405B runs" in text and "with the replicas fed in turn (mean" in text and "keeps the first" in text and "nan" not in text.lower()
