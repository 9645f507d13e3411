"""Tests of the training step model (analysis.training): FLOP counts, formulas, invariants,
memory feasibility, validation and the ``mfu`` CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis import catalog
from analysis.errors import InputError
from analysis.training import (FACTOR_NAMES, GAIN_FACTORS, Efficiency, best_configuration, candidate_grid, gemm_efficiency,
                               hardware_flops_per_token, load_run, model_flops_per_token, parameters, parse_run,
                               pipeline_bubble_fraction, ring_time_s, run_from_file, step_model)
from analysis.training.run import normalize_model

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "data" / "runs"

GPT_1T = dict(layers=128, hidden=25600, heads=160, kv_heads=160, ffn_hidden=4 * 25600, vocab=51200, seq_len=2048)


def gpt_run(**parallel):
    """A small GPT-style run on A100 (valid by default)."""
    par = {"tp": 8, "pp": 2, "dp": 4, "cp": 1, "micro_batch": 1, "global_batch": 64, "interleave": 1,
           "sequence_parallel": True, "recompute": "selective"}
    par.update(parallel)
    gpus = par["tp"] * par["pp"] * par["dp"] * par["cp"]
    return {"name": "t", "gpu": "A100", "gpus": gpus, "precision": "bf16",
            "model": {"layers": 24, "hidden": 4096, "heads": 32, "seq_len": 2048, "vocab": 51200},
            "parallelism": par}


# --------------------------------------------------------------------------- FLOP counts
def test_model_flops_match_narayanan_closed_form_by_hand():
    # Narayanan et al. 2021 Sec. 5.1: 72 B s l h^2 (1 + s/(6h) + V/(12 l h)), written out for the
    # 1T model (B = 3072, s = 2048, l = 128, h = 25600, V = 51200)
    B, s, l, h, V = 3072, 2048, 128, 25600, 51200
    by_hand = 72 * B * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h))
    ours = model_flops_per_token(**GPT_1T) * B * s
    assert ours == pytest.approx(by_hand, rel=1e-12)
    # with full recompute: 96 B s l h^2 (1 + s/(6h) + V/(16 l h)) (Narayanan eq. 3)
    eq3 = 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h))
    assert hardware_flops_per_token(**GPT_1T, recompute="full") * B * s == pytest.approx(eq3, rel=1e-12)


def test_narayanan_1t_throughput_figure():
    # Table 1: 502.0 PFLOP/s aggregate on 3072 GPUs, eq. 3 counting. By hand, eq. 3 for one step:
    # 96 * 3072 * 2048 * 128 * 25600^2 * (1 + 2048/153600 + 51200/52428800) = 5.1391e19 FLOPs,
    # so one step took 5.1391e19 / 502.0e15 = 102.4 s
    flops = hardware_flops_per_token(**GPT_1T, recompute="full") * 3072 * 2048
    assert flops == pytest.approx(5.1391e19, rel=1e-4)
    assert flops / 502.0e15 == pytest.approx(102.4, abs=0.1)


def test_selective_recompute_adds_only_the_attention_core():
    none = hardware_flops_per_token(**GPT_1T, recompute="none")
    sel = hardware_flops_per_token(**GPT_1T, recompute="selective")
    assert sel - none == pytest.approx(4 * 2048 * 25600 * 128)  # 4 s h per token per layer (forward QK^T + AV)
    assert none == pytest.approx(model_flops_per_token(**GPT_1T))


def test_parameter_count_of_the_1t_model():
    # Narayanan Table 1 lists 1008.0B (12 l h^2 + tied embedding + position embeddings and biases)
    total, active = parameters(**{k: GPT_1T[k] for k in ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab")},
                               tied_embeddings=True)
    assert total == pytest.approx(1008.0e9, rel=2e-3)
    assert active == total


def test_moe_counts_active_parameters_and_gqa_shrinks_kv():
    grok = normalize_model(catalog.model("grok-1"))
    keys = ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "experts", "top_k", "gated_ffn")
    total, active = parameters(**{k: grok[k] for k in keys})
    assert total == pytest.approx(314e9, rel=0.02)          # xai-org/grok-1 README: 314B
    assert active < total / 3
    # a top-1 MoE has the FLOPs of its dense counterpart (+ the router)
    dense = model_flops_per_token(**GPT_1T)
    moe = model_flops_per_token(**GPT_1T, experts=8, top_k=1)
    assert moe - dense == pytest.approx(3 * 2 * 25600 * 8 * 128)
    gqa = model_flops_per_token(**{**GPT_1T, "kv_heads": 20})
    assert gqa < dense


# --------------------------------------------------------------------------- formulas
def test_pipeline_bubble_formula_and_monotonicity():
    assert pipeline_bubble_fraction(8, 32) == pytest.approx(7 / 32)
    assert pipeline_bubble_fraction(8, 32, 2) == pytest.approx(7 / 64)   # (p-1)/(v m)
    assert pipeline_bubble_fraction(1, 5) == 0
    m = np.arange(1, 200)
    assert np.all(np.diff(pipeline_bubble_fraction(16, m, 4)) < 0)


def test_ring_collective_times_by_hand():
    # 1 GB over 8 ranks at 100 GB/s: all-gather (7/8) x 10 ms, all-reduce twice that
    assert ring_time_s(1e9, 8, 100e9) == pytest.approx(8.75e-3)
    assert ring_time_s(1e9, 8, 100e9, allreduce=True) == pytest.approx(17.5e-3)
    assert ring_time_s(1e9, 1, 100e9) == 0


def test_tp_communication_time_matches_hand_formula():
    eff = Efficiency(nvlink_efficiency=1.0, collective_latency_s=0.0)
    config = parse_run(gpt_run(recompute="selective"))
    out = step_model(**config.arrays(), efficiency=eff)
    t, h, s, L, p, m = 8, 4096, 2048, 24, 2, 64 / 4
    bw = 600e9 / 2                                   # A100 NVLink 600 GB/s bidirectional
    per_layer = 8 * (t - 1) / t * (2 * s * h) / bw   # 4 AG/RS forward + 4 backward of b s h bf16
    assert float(out["tp_comm_s_per_step"]) == pytest.approx(m * L / p * per_layer, rel=1e-9)


def test_gemm_efficiency_depends_on_shape_and_saturates():
    args = dict(peak_flops=312e12, bytes_per_element=2, hbm_bytes_per_s=2.0e12, efficiency_max=0.8, kappa=1.0)
    sizes = np.array([128, 512, 2048, 8192, 32768])
    eff = gemm_efficiency(sizes, sizes, sizes, **args)
    assert np.all(np.diff(eff) > 0) and eff[-1] < 0.8 and eff[-1] > 0.79
    assert gemm_efficiency(2048, 2048, 128, **args) < gemm_efficiency(2048, 2048, 2048, **args)


# --------------------------------------------------------------------------- invariants over many configurations
@pytest.fixture(scope="module")
def grid_outputs():
    model = normalize_model(catalog.model("llama3-405b"))
    grid = candidate_grid(model, 4096, 1024, 8)
    spec = catalog.gpu("H100")
    kwargs = dict(layers=model["layers"], hidden=model["hidden"], heads=model["heads"], kv_heads=model["kv_heads"],
                  ffn_hidden=model["ffn_hidden"], vocab=model["vocab"], seq_len=model["seq_len"], gated_ffn=True,
                  **grid, global_batch=1024, sequence_parallel=grid["tp"] > 1, peak_tflops=spec.bf16_tflops_dense,
                  hbm_tb_s=spec.hbm_tb_s, hbm_gb=spec.hbm_gb, nvlink_gb_s_per_gpu=spec.nvlink_gb_s_per_gpu,
                  nvlink_domain_gpus=spec.nvlink_domain_gpus, scale_out_gb_s_per_gpu=spec.scale_out_gb_s_per_gpu,
                  efficiency=Efficiency(straggler_sigma=0.002))
    return kwargs, step_model(**kwargs)


def test_factors_in_unit_interval_and_product_equals_mfu(grid_outputs):
    _, out = grid_outputs
    product = np.ones_like(out["mfu"])
    for name in FACTOR_NAMES:
        f = out["factors"][name]
        assert name not in GAIN_FACTORS
        assert np.all((f > 0) & (f <= 1 + 1e-12)), name
        product = product * f
    np.testing.assert_allclose(product, out["mfu"], rtol=1e-10)
    assert np.all(out["hfu"] >= out["mfu"] - 1e-15)


def test_more_bandwidth_is_never_slower(grid_outputs):
    kwargs, out = grid_outputs
    faster = step_model(**{**kwargs, "scale_out_gb_s_per_gpu": 2 * kwargs["scale_out_gb_s_per_gpu"]})
    assert np.all(faster["step_time_s"] <= out["step_time_s"] * (1 + 1e-12))
    assert np.any(faster["step_time_s"] < out["step_time_s"])
    faster = step_model(**{**kwargs, "nvlink_gb_s_per_gpu": 2 * kwargs["nvlink_gb_s_per_gpu"], "hbm_tb_s": 2 * kwargs["hbm_tb_s"]})
    assert np.all(faster["step_time_s"] <= out["step_time_s"] * (1 + 1e-12))


def test_more_micro_batches_never_a_larger_bubble(grid_outputs):
    kwargs, out = grid_outputs
    bigger = step_model(**{**kwargs, "global_batch": 2 * kwargs["global_batch"]})
    assert np.all(bigger["bubble_fraction"] <= out["bubble_fraction"])
    assert np.all(bigger["factors"]["pipeline_bubble"] >= out["factors"]["pipeline_bubble"] - 1e-12)
    assert np.all(bigger["step_time_s"] <= 2 * out["step_time_s"] * (1 + 1e-12))


def test_recompute_trades_memory_for_time():
    base = gpt_run(recompute="none")
    results = {mode: step_model(**parse_run({**base, "parallelism": {**base["parallelism"], "recompute": mode}}).arrays())
               for mode in ("none", "selective", "full")}
    assert float(results["full"]["activations_gb_per_gpu"]) < float(results["none"]["activations_gb_per_gpu"])
    assert float(results["full"]["step_time_s"]) > float(results["selective"]["step_time_s"]) >= float(results["none"]["step_time_s"])
    assert float(results["full"]["hfu"]) > float(results["full"]["mfu"])


# --------------------------------------------------------------------------- memory feasibility
def test_infeasible_configuration_is_reported_not_evaluated():
    doc = {"gpu": "H100", "gpus": 8, "model": "llama3-405b", "parallelism": {"tp": 8, "pp": 1, "dp": 1, "global_batch": 8}}
    from analysis.training import evaluate_run
    result = evaluate_run(parse_run(doc))
    assert not result.fits_in_memory
    assert result.memory_gb_per_gpu > 80 * 10          # 405B params x 18 B / 8 GPUs
    assert np.isnan(result.mfu) and np.isnan(result.step_time_s) and result.factors == {}
    assert "INFEASIBLE" in result.summary()
    assert result.to_dict()["mfu"] is None
    json.dumps(result.to_dict())


def test_search_respects_limits_and_finds_the_fastest():
    model = catalog.model("llama3-405b")
    res = best_configuration(model, "H100", 2048, 512, max_tp=4, top=4)
    assert res.best is not None and res.feasible > 0
    assert (res.table["tp"] <= 4).all()
    assert res.best.step_time_s == pytest.approx(res.table["step_time_s"].min())
    assert res.table["step_time_s"].is_monotonic_increasing
    assert (res.table["memory_gb_per_gpu"] <= 80).all()
    small = best_configuration(model, "H100", 2048, 512, hbm_gb=20)
    assert small.best is None or small.best.memory_gb_per_gpu <= 20
    none_fit = best_configuration(model, "H100", 64, 64, hbm_gb=10)
    assert none_fit.best is None and none_fit.smallest_memory_gb > 10
    slower = best_configuration(model, "H100", 2048, 512, scale_out_gb_s_per_gpu=5)
    assert slower.best.step_time_s >= res.best.step_time_s * 0.999 or slower.best.config["parallelism"]["tp"] > 4


def test_search_includes_expert_parallelism_for_moe():
    res = best_configuration(catalog.model("grok-1"), "H100", 1024, 1024, top=10)
    assert res.best is not None
    assert res.table["ep"].max() > 1
    assert res.best.params_active < res.best.params_total


def test_fp8_divides_by_the_fp8_peak():
    doc = gpt_run(micro_batch=8)                     # enough work per GPU that no layer is launch-bound
    doc["gpu"], doc["precision"] = "H100", "fp8"
    from analysis.training import evaluate_run
    r8 = evaluate_run(parse_run(doc))
    r16 = evaluate_run(parse_run({**doc, "precision": "bf16"}))
    assert r8.peak == "fp8 dense" and r16.peak == "bf16 dense"
    assert r8.tflops_per_gpu == pytest.approx(r8.mfu * 1979)
    assert r8.step_time_s < r16.step_time_s          # FP8 GEMMs are faster ...
    assert r8.mfu < r16.mfu                          # ... but not 2x, so MFU against the FP8 peak is lower


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("change, fragment", [
    ({"gpu": "A200"}, "known GPUs are"),
    ({"gpus": 100}, "tp*pp*dp*cp"),
    ({"precision": "int4"}, "precision"),
    ({"parallelism": {"recompute": "some"}}, "recompute"),
    ({"parallelism": {"tp": 3, "dp": 1}, "gpus": 6}, "heads"),
    ({"model": {"layers": 25}, "parallelism": {"interleave": 2}}, "pp*interleave"),
    ({"model": {"layers": 24}, "parallelism": {"first_stage_layers": 5, "last_stage_layers": 6}}, "model.layers"),
    ({"parallelism": {"recompute": "selective:attention"}}, "unknown module"),
    ({"parallelism": {"pipeline_schedule": "gpipe"}}, "pipeline_schedule"),
    ({"parallelism": {"etp": 3}}, "etp"),
    ({"fp8": {"recipe": "int8"}}, "fp8.recipe"),
    ({"software": {"stack": "jax-2030"}}, "known stacks are"),
    ({"model": {"hidden": -4096}}, "model.hidden"),
    ({"parallelism": {"micro_batch": 3}}, "global_batch"),
    ({"parallelism": {"interleave": 2, "global_batch": 4}}, "interleave"),
    ({"parallelism": {"ep": 2}}, "ep"),
    ({"bogus": 1}, "unknown key"),
])
def test_bad_input_raises_one_line(change, fragment):
    doc = gpt_run()
    for key, value in change.items():
        doc[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(InputError) as err:
        parse_run(doc)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_example_run_files_load_and_evaluate():
    files = sorted(RUNS.glob("*.yaml"))
    assert {"megatron-1t-3072.yaml", "llama3-405b-16k.yaml"} <= {f.name for f in files}
    for path in files:
        config = load_run(path)
        assert config.gpus == np.prod([config.parallelism[k] for k in ("tp", "pp", "dp", "cp")])
    llama = run_from_file(RUNS / "llama3-405b-16k.yaml")
    assert llama.fits_in_memory and llama.peak == "bf16 dense"
    assert llama.mfu == pytest.approx(0.41, abs=0.03)           # Llama 3 Table 4: 41%
    meg = run_from_file(RUNS / "megatron-1t-3072.yaml")
    assert meg.hfu == pytest.approx(163 / 312, abs=0.04)        # Narayanan Table 1 (eq. 3 counts recompute)
    assert "calibrated" in meg.calibration


# --------------------------------------------------------------------------- CLI
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_mfu_json():
    proc = _cli("mfu", str(RUNS / "llama3-405b-16k.yaml"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("step_time_s", "tokens_per_s", "mfu", "hfu", "tflops_per_gpu", "memory_gb_per_gpu", "fits_in_memory", "factors"):
        assert key in out
    assert np.prod(list(out["factors"].values())) == pytest.approx(out["mfu"], rel=1e-9)


@pytest.mark.parametrize("text", [
    "gpu: A200\ngpus: 8\nmodel: {layers: 2, hidden: 64, heads: 4, seq_len: 128, vocab: 100}\nparallelism: {tp: 8, pp: 1, dp: 1, global_batch: 8}\n",
    "gpu: A100\ngpus: 16\nmodel: {layers: 2, hidden: 64, heads: 4, seq_len: 128, vocab: 100}\nparallelism: {tp: 8, pp: 1, dp: 1, global_batch: 8}\n",
    "gpu: A100\ngpus: 8\nmodel: {layers: 3, hidden: 64, heads: 4, seq_len: 128, vocab: 100}\nparallelism: {tp: 1, pp: 4, dp: 2, global_batch: 8}\n",
    "gpu: A100\ngpus: 8\nmodel: {layers: 2, hidden: 64, heads: 4, seq_len: 128, vocab: 100}\nparallelism: {tp: 8, pp: 1, dp: 1, global_batch: 8, recompute: most}\n",
    "gpu: A100\ngpus: [8\n",
])
def test_cli_bad_run_exits_2_with_one_line(tmp_path, text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    proc = _cli("mfu", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr
