"""The inference report's view functions: what 32_inference shows comes from them, not from notebook code."""
import pandas as pd
import pytest

from analysis import inference
from analysis.report import inference as view


def test_sweep_captions_state_the_prompt_the_serving_files_state():
    assert view.stated_prompt_tokens("llama2-70b") == 376 and view.stated_prompt_tokens("llama3.1-405b") == 9400
    for benchmark in view.SWEEP_PROMPTS:      # the stated prompt is a point of both sweeps, the quick one inside the full
        quick, full = view.sweep_prompts(benchmark, True), view.sweep_prompts(benchmark, False)
        assert view.stated_prompt_tokens(benchmark) in quick and set(quick) <= set(full) and quick == sorted(quick)
    sweep = pd.DataFrame({"compute_efficiency": [0.6371, 0.805], "bandwidth_efficiency": [0.65, 0.9], "fp4_efficiency": [0.6, 0.5],
                          "fp4_weight_read_efficiency": [0.325, 0.25], "moe_efficiency": [0.1, 0.1], "attention_efficiency": [0.7, 0.3],
                          "median_abs_error_pct": [8.4, 7.6], "max_abs_error_pct": [37.2, 44.0]}, index=[300, 500])
    t = view.prompt_sweep_table({"llama2-70b": sweep}, "llama2-70b")
    assert t.caption == "Llama 2 70B: refits at other mean prompts (the serving files state 376 tokens)"
    assert t.to_frame().values.tolist() == [["0.637", "0.650", "0.600", "0.325", "0.100", "0.700", "8%", "37%"],
                                         ["0.805", "0.900", "0.500", "0.250", "0.100", "0.300", "8%", "44%"]]
    with pytest.raises(ValueError, match="no-such-benchmark"):
        view.stated_prompt_tokens("no-such-benchmark")


def test_measured_prompt_note_names_each_run_and_flags_a_stale_serving_file():
    prompts = pd.DataFrame({"round": ["v4.1", "v5.0", "v5.1"], "system": ["NVIDIA DGX H100 (TensorRT)", "NVIDIA 8x H200", "DGX B200"],
                            "implied_prompt_tokens": [381.4, 283.0, 430.6]})
    text = view.measured_prompt_note(prompts, 381).data
    assert "v4.1 NVIDIA DGX H100 **381**; v5.0 NVIDIA 8x H200 **283**; v5.1 DGX B200 **431**" in text
    assert "Their median, **381 tokens**, is the mean prompt every Llama 2 70B serving file states" in text
    assert "not the 500 tokens the serving files state" in view.measured_prompt_note(prompts, 500).data


def test_validation_summary_states_each_rounds_gemm_share_of_the_peak():
    v = pd.DataFrame({"error_pct": [5.0, -20.0], "loo_error_pct": [10.0, -30.0], "logo_error_pct": [12.0, -31.0]})
    fit = {"compute_efficiency": 0.8532, "bandwidth_efficiency": 0.65, "fp4_weight_read_efficiency": 0.325, "moe_efficiency": 0.1,
           "fp4_efficiency": 0.6, "attention_efficiency": 0.3, "software_factors": {"v4.1": 1.0, "v5.0": 1.191}}
    ratio = {"model_ratio": 1.275, "mlperf_low": 1.118, "mlperf_high": 1.276}
    text = view.validation_summary(v, fit, ratio).data
    # 0.8532 x 1.191 = 1.016: capped at the peak
    assert "GEMMs at **85%** of the dense peak in v4.1, **100%** of the dense peak in v5.0." in text
    assert "attention-kernel efficiency **0.300**" in text and "50% of the rows are within 15% leave-one-out" in text
    assert "NVFP4 GEMMs read their weights at **0.325** of that while memory-bound" in text


def test_misfits_list_the_rows_outside_the_target_worst_first():
    v = pd.DataFrame({"id": ["a", "b", "c"], "round": ["v5.0", "v5.1", "v4.1"], "system": ["8x H200", "GB200 NVL72", "DGX H100"],
                      "benchmark": ["llama3.1-405b", "llama3.1-405b", "llama2-70b"], "scenario": ["server", "offline", "server"],
                      "error_pct": [-13.3, 21.5, 9.9], "loo_error_pct": [-16.0, 33.3, 14.9]})
    text = view.misfits_view(v).data
    assert text.startswith("Rows outside 15% leave-one-out (2 of 3):")
    lines = text.splitlines()[2:]
    assert lines == ["* v5.1 GB200 NVL72, Llama 3.1 405B offline (no latency target): **+33%** leave-one-out (+22% in-sample)",
                     "* v5.0 8x H200, Llama 3.1 405B server: **-16%** leave-one-out (-13% in-sample)"]
    assert view.misfits_view(v, within_pct=40).data == "Every row is within 40% leave-one-out."
    # a logged run's step at MLPerf's batch joins its line; a row without a log (offline) keeps it as it was
    points = pd.DataFrame({"id": ["a"], "mlperf_requests_in_flight": [327.1], "model_mean_tpot_at_mlperf_batch_ms": [45.9],
                           "mlperf_mean_tpot_ms": [66.2]})
    lines = view.misfits_view(v, points=points).data.splitlines()[2:]
    assert lines[1] == ("* v5.0 8x H200, Llama 3.1 405B server: **-16%** leave-one-out (-13% in-sample); held at the 327 "
                        "requests in flight per replica MLPerf logged, its mean time per output token is 45.9 ms against "
                        "66.2 ms measured")
    assert lines[0].endswith("(+22% in-sample)")
    # the prefill's share of the row's GPU time and the prompt it rests on come before the step
    shares = pd.DataFrame({"id": ["a", "b"], "prefill_time_fraction": [0.81, 0.65], "input_tokens": [9400.0, 9400.0]})
    lines = view.misfits_view(v, points=points, shares=shares).data.splitlines()[2:]
    assert lines[0].endswith("(+22% in-sample); prefill takes 65% of its GPU time, at a mean prompt of 9,400 tokens")
    assert lines[1].startswith("* v5.0 8x H200, Llama 3.1 405B server: **-16%** leave-one-out (-13% in-sample); prefill "
                               "takes 81% of its GPU time, at a mean prompt of 9,400 tokens; held at the 327 requests")
    # how close the run came to its limits closes a logged run's line (loadgen's p99s over its targets)
    points = points.assign(mlperf_ttft_p99_share=[3413.5 / 4500], mlperf_tpot_p99_share=[72.2 / 80])
    lines = view.misfits_view(v, points=points).data.splitlines()[2:]
    assert lines[1].endswith("66.2 ms measured; the run kept its p99 time to first token at 76% and its p99 time per "
                             "output token at 90% of the scenario's limits")


def test_operating_points_summary_counts_the_runs_below_their_limits():
    points = pd.DataFrame({"mlperf_ttft_p99_share": [0.94, 0.55, 0.2, 0.76], "mlperf_tpot_p99_share": [0.58, 0.76, 0.95, 0.899]})
    acc = {"runs": 4, "batch_pct": 17.0, "tpot_pct": 16.0, "tpot_at_mlperf_batch_pct": 8.0}
    text = view.operating_points_summary(points, acc, {"llama2-70b": 1.1}).data
    # the second and the fourth keep both p99s below 90% of their limits; the first and third reach one
    assert " 2 of the 4 runs kept both their p99 time to first token and their p99 time per output token below 90%" in text
    # a table without the shares (an older operating-point table) reads without the sentence
    assert "of the scenario's limits" not in view.operating_points_summary(pd.DataFrame(index=range(4)), acc, {}).data


def test_validation_and_source_tables_read_as_a_brief():
    v = pd.DataFrame({"round": ["v5.0"], "system": ["8x H200"], "benchmark": ["llama3.1-405b"], "scenario": ["offline"],
                      "mlperf_tokens_s_per_gpu": [70.08], "model_tokens_s_per_gpu": [83.65], "error_pct": [19.35],
                      "loo_error_pct": [-0.41], "logo_error_pct": [18.6]})
    frame = view.validation_view(v).to_frame()
    assert frame.iloc[0].tolist() == ["v5.0", "8x H200", "Llama 3.1 405B", "offline (no latency target)", "70.1", "83.7",
                                      "+19%", "0%", "+19%"]
    sources = view.mlperf_sources_view(inference.load_mlperf()).to_frame()
    assert set(sources["Benchmark"]) == {"Llama 2 70B", "Llama 3.1 405B", "DeepSeek-R1"}
    assert len(sources) == len(inference.load_mlperf())


def test_titles_and_latency_targets():
    class Scenario:
        label = "Colossus 1 as operated"
    assert view.scenario_title("Lease cost", Scenario()) == "Lease cost (Colossus 1 as operated)"
    quick, full = view.latency_targets_ms(True), view.latency_targets_ms(False)
    assert quick == sorted(quick) and set(quick) <= set(full) and 40 in quick    # the interactive target is a point


def test_every_ranged_inference_parameter_has_a_short_label():
    """The sensitivity chart's tick labels: a registered short label for every parameter with a range (a parameter's long
    description, the fallback, does not fit beside the bars: matplotlib's layout then gives up with a warning)."""
    from analysis.inference.parameters import PARAMETERS, _defaults
    from analysis.report.labels import _LABELS

    ranged = [k for k, p in _defaults().items() if getattr(p, "low", None) is not None and PARAMETERS[k].choices is None]
    assert "attention_efficiency" in ranged and "fp4_weight_read_efficiency" in ranged
    for key in ranged:
        assert f"inference.{key}" in _LABELS and len(view.label(f"inference.{key}")) <= 45, key
