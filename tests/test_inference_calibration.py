"""The writer of the inference calibration: stored values are a fresh fit, the writer round-trips and touches only its entries."""
import shutil
import subprocess
import sys

import numpy as np
import pytest

from analysis import inference as inf
from analysis.catalog import read_yaml
from analysis.inference import calibration
from analysis.paths import PROJ_ROOT


@pytest.fixture(scope="module")
def result():
    return calibration.calibration_result(quick=True)


def test_stored_values_are_a_fresh_full_grid_fit():
    """data/parameters/inference.yaml and data/inference_calibration.yaml hold calibrate() of the full grid (4 significant
    digits as written): refit, compare. A model or data change without `python -m analysis inference --calibrate --write` fails here."""
    fit = inf.calibrate()
    stored = inf.default_values()
    for key in calibration.CALIBRATED:
        assert stored[key] == pytest.approx(fit[key], abs=1e-4), key
    assert calibration.SOFTWARE_FACTORS == pytest.approx(fit["software_factors"], abs=1e-4)
    assert calibration.stored_software_factors()[calibration.FLEET_ROUND] == pytest.approx(stored["software_factor"], abs=1e-4)
    doc = read_yaml(calibration.PROVENANCE_PATH)
    assert doc["grid"] == "full" and doc["rows"] == fit["rows"]
    # the per-row errors the report shows are those of this fit (read, not refitted, by the report)
    fresh, kept = inf.validation(), inf.stored_validation()
    assert list(kept.columns) == list(fresh.columns) and list(kept["id"]) == list(fresh["id"])
    numeric = fresh.select_dtypes("number").columns
    assert np.allclose(kept[numeric].to_numpy(float), fresh[numeric].to_numpy(float), rtol=1e-9, atol=1e-9, equal_nan=True)
    kept_fit = inf.stored_fit()
    for key in (*calibration.FIT_PARAMETERS, "software_factor"):
        assert kept_fit[key] == pytest.approx(fit[key], abs=1e-4), key
    assert kept_fit["software_factors"] == pytest.approx(fit["software_factors"], abs=1e-4)
    for key in calibration.CALIBRATED:
        p = inf._defaults()[key]
        assert p.source.startswith("calibrated: analysis.inference.calibration.write_calibration()"), key
        assert p.low <= p.value <= p.high and doc["parameters"][key]["loo_low"] >= p.low and doc["parameters"][key]["loo_high"] <= p.high


def test_shipped_parameter_file_round_trips_byte_for_byte():
    text = calibration.PARAMETERS_PATH.read_text(encoding="utf-8")
    assert calibration.dump_parameters(read_yaml(calibration.PARAMETERS_PATH), calibration._header(text)) == text


def test_writer_round_trips_and_keeps_other_entries(tmp_path, result):
    path = tmp_path / "inference.yaml"
    shutil.copy(calibration.PARAMETERS_PATH, path)
    before = read_yaml(path)
    written, provenance = calibration.write_calibration(result, path, date="2026-01-02")
    assert written == path and provenance == tmp_path / "inference_calibration.yaml"
    after = read_yaml(path)
    assert list(after) == list(before)                                   # order kept, nothing added or dropped
    assert {k: v for k, v in after.items() if k not in calibration.CALIBRATED} == \
        {k: v for k, v in before.items() if k not in calibration.CALIBRATED}
    assert path.read_text().startswith("# Sourced defaults of the scenario section `inference`")
    # the p99/mean TPOT the writer stores is measured (MLPerf's loadgen logs), not fitted, and the same on every write
    assert after["latency_tail_factor"]["source"].startswith("measured") and after["latency_tail_factor"] == before["latency_tail_factor"]
    for key in calibration.CALIBRATED:
        entry = after[key]
        assert entry["value"] == pytest.approx(result[key], abs=1e-4)
        assert entry["low"] <= result["loo"][key].min() + 1e-9 and entry["high"] >= result["loo"][key].max() - 1e-9
        assert "2026-01-02, quick grid" in entry["source"] and "29 MLPerf" in entry["source"]
    assert calibration.stored_software_factors(provenance) == pytest.approx(result["software_factors"], abs=1e-4)
    # writing the same result again changes nothing (a fixed point), and the real files are untouched
    first = path.read_text()
    calibration.write_calibration(result, path, date="2026-01-02")
    assert path.read_text() == first
    assert calibration.SOFTWARE_FACTORS == calibration.stored_software_factors()


def test_ranges_cover_the_leave_one_out_refits(result):
    """low/high: the spread of the leave-one-out refits, widened to half a grid step either side of the fitted value."""
    loo = result["loo"]
    assert len(loo) == result["rows"] and set(calibration.CALIBRATED) <= set(loo.columns)
    ranges = calibration._ranges(result, loo, calibration.QUICK_GRID)
    for key, (low, high) in ranges.items():
        assert low < high and low <= loo[key].min() + 1e-9 and high >= loo[key].max() - 1e-9, key
    assert ranges["fp4_efficiency"][0] >= 0.5 and ranges["software_factor"][0] >= 1.0      # the grids' physical bounds


def test_cli_calibrate():
    run = lambda *a: subprocess.run([sys.executable, "-m", "analysis", "inference", *a], cwd=PROJ_ROOT, capture_output=True, text=True)
    out = run("--calibrate", "--quick")
    assert out.returncode == 0 and "leave-one-out" in out.stdout and "not written" in out.stdout, out.stderr
    assert "against MLPerf's loadgen logs (17 latency-bound runs" in out.stdout and "llama2-70b 1.10" in out.stdout
    bad = run("--write")
    assert bad.returncode == 2 and "only with --calibrate" in bad.stderr


def test_serving_file_scenarios_apply_the_submitted_config_of_that_scenario():
    """`scenarios.<scenario>` (NVIDIA's per-scenario configs) applies only under that scenario; bad entries get one line."""
    from analysis.errors import InputError
    from analysis.inference.serve import parse_serve

    doc = read_yaml(inf.SERVE_DIR / "llama3.1-405b-b200.yaml")
    plain, offline, server = parse_serve(doc), parse_serve(doc, scenario="offline"), parse_serve(doc, scenario="server")
    assert plain.values == offline.values                        # a file without latency targets is evaluated offline
    named = parse_serve({**doc, "slo": "interactive"})           # a named slo preset selects that scenario's entry
    assert named.values["max_batch"] == 256 and named.values["max_tpot_ms"] == 80
    assert parse_serve({**doc, "slo": {"tpot_s": 0.1}}).values["max_batch"] == float("inf")   # explicit targets: no entry
    assert offline.values["tensor_parallel"] == 2 and offline.values["max_batch"] == 128       # TP2 x PP2, gpu_batch_size 128
    assert server.values["tensor_parallel"] == 4 and server.values["max_batch"] == 256
    assert offline.gpus_per_replica == server.gpus_per_replica == 4
    # the calibration evaluates each row under its scenario's config
    assert calibration._serve("data/serve/llama3.1-405b-b200.yaml", "offline").values["max_batch"] == 128
    for bad, match in [({"offline": {"gpu": "H100"}}, "scenarios.offline.gpu: unknown key"),
                       ({"prefill": {"max_batch": 1}}, "scenarios.prefill: unknown key"),
                       ({"server": 3}, "scenarios.server: 3 is not a mapping"),
                       ({"server": {"max_batch": -1}}, "max_batch")]:
        with pytest.raises(InputError, match=match):
            parse_serve({**doc, "scenarios": bad}, scenario="server")
    with pytest.raises(InputError, match="scenario: 'busy' is not allowed"):
        parse_serve(doc, scenario="busy")


def test_v51_shares_v50s_software_factor():
    """Every v5.1 row is NVFP4 Blackwell: its own stack factor is not identifiable beside fp4_efficiency, so it shares v5.0's."""
    assert calibration.TIED_ROUNDS == {"v5.1": "v5.0"}
    assert calibration.SOFTWARE_FACTORS["v5.1"] == calibration.SOFTWARE_FACTORS["v5.0"] >= 1.0


def test_accuracy_counts_rows_within_the_target():
    v = calibration.validation(quick=True)
    a = calibration.accuracy(v)
    assert a == calibration.accuracy(v.set_index("id"))
    assert a["rows_within_loo"] + len(a["outside_loo"]) == a["rows"] == len(v)
    assert all(abs(e) > 15 - 0.05 for e in a["outside_loo"].values())
    assert a["median_abs_loo_error_pct"] == pytest.approx(v["loo_error_pct"].abs().median())


def test_step_weight_is_the_inverse_ratio_of_the_median_residuals_by_hand():
    """Two rows of one round on a 3-point compute grid (no other axis): the throughput-only fit is the point with the least
    summed squared log error; the weight is (median |throughput error| / median |step error| of the timed rows)^2 there."""
    grid = {k: np.array([0.5, 0.53, 0.5618]) if k == "compute_efficiency" else np.array([1.0]) for k in calibration.FIT_PARAMETERS}
    _, steps = calibration._shifts(grid)
    n = 3 + steps - 1
    shape = (n,) + (1,) * (len(calibration.FIT_PARAMETERS) - 1)
    err = np.stack([np.full(shape, 0.3), np.full(shape, 0.3)])
    err[0, 1], err[1, 1] = 0.02, -0.04           # point 1 is the fit: errors 0.02 and -0.04, median |.| 0.03
    step = np.stack([np.full(shape, 0.06), np.full(shape, 9.0)])
    timed = np.array([True, False])              # the second row has no loadgen log: its step error never counts
    rounds = np.array([calibration.REFERENCE_ROUND] * 2)
    assert calibration.step_weight(err, step, timed, rounds, grid) == pytest.approx((0.03 / 0.06) ** 2)
    assert calibration.step_weight(err, step, np.array([False, False]), rounds, grid) == 0.0


def test_step_time_enters_the_objective_of_timed_runs_only():
    """The stored full-grid weight is the one the quick grid uses; offline rows carry no step error (every latency-bound
    run, the disaggregated one too, does), and each timed run's objective is its throughput error squared plus the
    weight times its step error squared."""
    ev = calibration._calibration(True)
    assert ev.step_weight == pytest.approx(calibration.stored_step_weight()) and 0 < ev.step_weight < 1
    table = calibration.load_mlperf().loc[list(ev.ids)]
    offline = (table["scenario"] == "offline").to_numpy()
    assert not ev.timed[offline].any() and ev.timed.sum() == 17 and ev.timed[~offline].all()
    assert np.all(ev.step_err[~ev.timed] == 0)
    assert np.allclose(ev.sq, ev.err ** 2 + ev.step_weight * ev.step_err ** 2)


def test_a_disaggregated_run_counts_its_requests_in_flight_over_its_decode_replicas():
    """NVIDIA's GB200 NVL72 Llama 3.1 405B interactive run (disaggregated: 2 generation servers of 8 GPUs, 14 context
    servers of 4) keeps 15.18 queries/s x (44.4601 s - 1.365099 s) / 2 = 327.1 requests in each generation server from
    first token to last (loadgen summary, Little's law); its step time enters the fit beside the aggregated runs'."""
    points = calibration.operating_points().set_index("id")
    row = points.loc["v5.1-gb200x72-llama31-interactive"]
    assert row["mlperf_requests_in_flight"] == pytest.approx(15.18 * (44.4601 - 1.365099) / 2, rel=1e-9)
    assert row["model_batch_held"] == pytest.approx(row["mlperf_requests_in_flight"], rel=1e-9)
    assert row["mlperf_mean_tpot_ms"] == pytest.approx(66.169)
    assert len(points) == 17


def test_prefill_shares_read_which_rows_rest_on_their_prompt():
    """The rows outside 15% are prefill-bound (at least 60% of their GPU time: their error moves with the assumed 9,400-token
    prompt); DeepSeek-R1's 4,043-token answers leave its rows almost all decode; every share is a fraction."""
    shares = calibration.prefill_shares().set_index("id")
    assert len(shares) == 29 and shares["prefill_time_fraction"].between(0, 1).all()          # the rows with a serving file
    for rid in ("v5.0-h200-llama31-offline", "v5.1-dgx-b200-llama31-offline", "v5.1-gb200x72-llama31-interactive"):
        assert shares.loc[rid, "prefill_time_fraction"] >= 0.6 and shares.loc[rid, "input_tokens"] == 9400
    assert (shares.loc[shares.index.str.contains("dsr1"), "prefill_time_fraction"] < 0.1).all()
