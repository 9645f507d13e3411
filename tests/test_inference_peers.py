"""The same engine on two GPU types (analysis.inference.peers): NVIDIA's v5.1 B200 and GB200 rows paired, the loads
their submitter scheduled (loadgen's target_qps) read from the summaries by hand, and the report's reading of them."""
import numpy as np
import pandas as pd
import pytest

from analysis.inference import calibration, gpu_pair_summary, gpu_pairs, load_loadgen


@pytest.fixture(scope="module")
def pairs():
    return gpu_pairs()


def test_every_latency_bound_run_logs_the_load_it_was_scheduled_at():
    """loadgen issues queries at target_qps; a valid run completes them at that rate (within 3%: the last queries of
    the run are still in flight when it stops, and the Poisson schedule's own count varies)."""
    logs = load_loadgen()
    timed = logs[logs["scenario"] != "offline"]
    assert timed["target_qps"].notna().all() and logs.loc[logs["scenario"] == "offline", "target_qps"].isna().all()
    assert np.all(np.abs(timed["samples_per_s"] / timed["target_qps"] - 1) < 0.03)
    # by hand, "Test Parameters Used": GB200 NVL72 v5.1 405B server 17.55 (completed 17.72), DGX B200 1.9 (1.90)
    assert logs.loc["v5.1-gb200x72-llama31-server", "target_qps"] == 17.55
    assert logs.loc["v5.1-dgx-b200-llama31-server", "target_qps"] == 1.9


def test_scheduled_load_per_replica_by_hand():
    points = calibration.operating_points().set_index("id")
    assert points.loc["v5.1-gb200x72-llama31-server", "mlperf_target_qps_per_replica"] == pytest.approx(17.55 / 18)
    assert points.loc["v5.1-dgx-b200-llama31-server", "mlperf_target_qps_per_replica"] == pytest.approx(1.9 / 2)
    # a disaggregated run's load is per decode replica (2 generation servers of TP8)
    assert points.loc["v5.1-gb200x72-llama31-interactive", "mlperf_target_qps_per_replica"] == pytest.approx(15.2 / 2)


def test_pairs_are_the_v51_b200_and_gb200_rows_of_one_replica_layout(pairs):
    assert len(pairs) == 7 and set(pairs["round"]) == {"v5.1"}
    assert (pairs["gpu_a"] == "B200").all() and (pairs["gpu_b"] == "GB200").all()
    # NVFP4 dense peaks: GB200 10,000 TFLOPS, B200 9,000 (data/gpus.csv)
    assert np.allclose(pairs["peak_ratio"], 10_000 / 9_000)
    mlperf = calibration.load_mlperf()
    row = pairs.set_index("id_b").loc["v5.1-gb200x72-dsr1-offline"]
    assert row["id_a"] == "v5.1-dgx-b200-dsr1-offline"
    assert row["mlperf_ratio"] == pytest.approx(mlperf.loc["v5.1-gb200x72-dsr1-offline", "tokens_s_per_gpu"]
                                                / mlperf.loc["v5.1-dgx-b200-dsr1-offline", "tokens_s_per_gpu"])
    # offline pairs have no scheduled load; the latency-bound ones were scheduled at the same load per replica
    offline = pairs[pairs["scenario"] == "offline"]
    assert len(offline) == 3 and offline["scheduled_load_ratio"].isna().all() and not offline["same_scheduled_load"].any()
    timed = pairs[pairs["scenario"] != "offline"].set_index("benchmark")
    assert timed["same_scheduled_load"].all()
    assert (timed.loc[["llama2-70b", "deepseek-r1"], "scheduled_load_ratio"] == 1.0).all()
    assert timed.loc["llama3.1-405b", "scheduled_load_ratio"] == pytest.approx((17.55 / 18) / (1.9 / 2))


def test_pair_summary_counts_and_spans(pairs):
    s = gpu_pair_summary(pairs)
    assert (s["pairs"], s["latency_bound"], s["same_scheduled_load"], s["offline"]) == (7, 4, 4, 3)
    offline = pairs[pairs["scenario"] == "offline"]
    assert s["offline_mlperf_ratio"] == (offline["mlperf_ratio"].min(), offline["mlperf_ratio"].max())
    # measured offline, the two GPU types serve within a few percent per GPU; the peaks stand 11% apart
    assert 0.9 < s["offline_mlperf_ratio"][0] <= s["offline_mlperf_ratio"][1] < 1.05
    assert s["peak_ratio"][0] == pytest.approx(1.1111, abs=1e-4)
    # in every latency-bound pair the GB200 run kept both p99 latencies further below the limits
    timed = pairs[pairs["scenario"] != "offline"]
    assert s["lower_latencies_b"] == 4
    assert s["latency_bound_model_ratio"] == (timed["model_ratio"].min(), timed["model_ratio"].max())


def test_pairs_of_a_hand_built_table():
    """Two GPU types at one replica layout pair up; a third row at another layout and a same-GPU row do not."""
    predictions = pd.DataFrame({
        "id": ["x", "y", "z", "w"], "round": ["v5.1"] * 4, "system": ["DGX B200 (8x)", "GB200 NVL72 (72x)", "DGX B200 (8x)", "DGX B200 two"],
        "gpu": ["B200", "GB200", "B200", "B200"], "benchmark": ["llama2-70b"] * 4, "scenario": ["server"] * 4,
        "gpus_per_replica": [1.0, 1.0, 2.0, 1.0], "precision": ["fp4"] * 4,
        "mlperf_tokens_s_per_gpu": [100.0, 110.0, 90.0, 95.0], "model_tokens_s_per_gpu": [100.0, 120.0, 80.0, 99.0]})
    points = pd.DataFrame({"id": ["x", "y", "w"], "mlperf_target_qps_per_replica": [10.0, 10.4, 9.0],
                           "mlperf_ttft_p99_share": [0.8, 0.6, 0.7], "mlperf_tpot_p99_share": [0.9, 0.7, 0.8]})
    p = gpu_pairs(predictions, points)
    assert sorted(zip(p["id_a"], p["id_b"])) == [("w", "y"), ("x", "y")]
    xy = p.set_index("id_a").loc["x"]
    assert xy["mlperf_ratio"] == pytest.approx(1.1) and xy["model_ratio"] == pytest.approx(1.2)
    assert xy["scheduled_load_ratio"] == pytest.approx(1.04) and xy["same_scheduled_load"]
    assert not p.set_index("id_a").loc["w", "same_scheduled_load"]          # 10.4 over 9.0: 16% apart


def test_pairs_view_and_summary_read_as_a_brief(pairs):
    from analysis.report import inference as view

    frame = view.gpu_pairs_view(pairs).to_frame()
    assert "Scheduled queries/s per replica (B200, GB200)" in frame.columns and len(frame) == 7
    row = frame[(frame["Round, benchmark"] == "v5.1 Llama 3.1 405B") & (frame["Scenario"] == "server")].iloc[0]
    assert row["Scheduled queries/s per replica (B200, GB200)"] == "0.950, 0.975" and row["Dense peaks"] == "×1.11"
    assert (frame.loc[frame["Scenario"].str.startswith("offline"), "Scheduled queries/s per replica (B200, GB200)"] == "–").all()
    text = view.gpu_pairs_summary(gpu_pair_summary(pairs), pairs).data
    assert "**4 of the 4** latency-bound pairs" in text and "over the 3 offline pairs" in text and "nan" not in text.lower()
    # the GB200 405B server row's misfit line names the load both runs were scheduled at
    v = calibration.stored_validation()
    line = [l for l in view.misfits_view(v, points=calibration.operating_points(), pairs=pairs).data.splitlines()
            if "GB200 NVL72 (72x GB200-186GB, TensorRT), Llama 3.1 405B server" in l][0]
    assert line.endswith("its submitter scheduled 0.975 queries/s per replica, against 0.950 on the same replica of the "
                         "NVIDIA DGX B200 run, which kept its p99 time to first token at 86% of the limit")


def test_no_pairs_reads_as_one_sentence_and_an_empty_table():
    """A table without two GPU types at one layout (here: the GB200 rows left out) pairs nothing; the summary and the
    report read that, and the misfit lines keep their text without the scheduled-load clause."""
    from analysis.report import inference as view

    predictions = calibration.mlperf_predictions()
    none = gpu_pairs(predictions[predictions["gpu"] != "GB200"])
    assert none.empty and "same_scheduled_load" in none.columns
    summary = gpu_pair_summary(none)
    assert (summary["pairs"], summary["latency_bound"], summary["same_scheduled_load"]) == (0, 0, 0)
    assert view.gpu_pairs_summary(summary, none).data == "No MLPerf rows ran the same engine on two GPU types."
    assert len(view.gpu_pairs_view(none).to_frame()) == 0
    text = view.misfits_view(calibration.stored_validation(), points=calibration.operating_points(), pairs=none).data
    assert "its submitter scheduled" not in text and "Rows outside 15% leave-one-out" in text
