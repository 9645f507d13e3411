"""Step model v2 (issue 8): hand-computed FLOP counts (MLA, causal, sliding window, shared experts),
the layout rules (uneven stages, MoE folding), schedules, memory features, stacks, and that every
published run of both calibration files is accepted and fits in memory."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError
from analysis.training import evaluate_run, parse_run, pipeline_bubble_fraction, step_model
from analysis.training.flops import attention_dims, core_keys, model_flops_per_token, parameters
from analysis.training.layout import auto_pipeline_split
from analysis.training.published import calibration_runs, load_modern_runs, modern_run_config

DSV3 = dict(layers=61, hidden=7168, heads=128, kv_heads=128, ffn_hidden=2048, vocab=129280, experts=256, top_k=8,
            gated_ffn=True, shared_experts=1, dense_layers=3, dense_ffn_hidden=18432, q_lora_rank=1536, kv_lora_rank=512,
            qk_head_dim=128, qk_rope_head_dim=64, v_head_dim=128)


def test_mla_projection_weights_by_hand():
    # DeepSeek-V3 (arXiv 2412.19437 Sec. 2.1.1, 4.2): W_DQ 7168x1536, W_UQ 1536x(128 x 192),
    # W_DKV 7168x(512 + 64), W_UKV 512x(128 x (128 + 128)), W_O (128 x 128)x7168
    by_hand = 7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256 + 128 * 128 * 7168
    params, q, k, v, o, up, latent = attention_dims(7168, 128, 128, 1536, 512, 128, 64, 128)
    assert params == by_hand
    assert (q, k, v, o) == (128 * 192, 128 * 192, 128 * 128, 128 * 128)
    assert up == 512 * 128 * 256 + 1536 * 128 * 192 and latent == 1536 + 512 + 64


def test_deepseek_v3_parameter_counts_match_the_report():
    keys = {k: v for k, v in DSV3.items() if k != "seq_len"}
    total, active = parameters(**keys)
    # report Table 1 / Sec. 4.2: 671B total, 37B activated (without the 14B MTP module; embeddings included)
    assert total == pytest.approx(671e9, rel=0.01)
    assert active == pytest.approx(37.5e9, rel=0.03)


def test_causal_attention_counts_half_the_square_and_sliding_windows():
    assert core_keys(4) == 4 and core_keys(4, causal=True) == 2.5          # (s + 1) / 2
    assert core_keys(8, sliding_window=4, causal=True) == pytest.approx(4 - 4 * 3 / 16)
    assert core_keys(8, sliding_window=4) == 4
    gpt = dict(layers=2, hidden=64, heads=4, kv_heads=4, ffn_hidden=256, vocab=100, seq_len=8)
    full = model_flops_per_token(**gpt)
    causal = model_flops_per_token(**gpt, causal=True)
    # the non-causal core is 3 x 4 s h per layer; causal keeps (s + 1) / (2 s) of it
    assert full - causal == pytest.approx(3 * 2 * 4 * 8 * 64 * (1 - 9 / 16))
    windowed = model_flops_per_token(**gpt, sliding_window=4, sliding_window_layers=1)
    assert windowed == pytest.approx(full - 3 * 4 * 64 * (8 - 4))


def test_shared_experts_and_dense_layers_in_the_flop_count():
    base = dict(layers=4, hidden=64, heads=4, kv_heads=4, ffn_hidden=32, vocab=100, seq_len=16, experts=8, top_k=2)
    plain = model_flops_per_token(**base)
    shared = model_flops_per_token(**base, shared_experts=1)
    assert shared - plain == pytest.approx(4 * 3 * 2 * 2 * 64 * 32)          # one more FFN of 2 matrices per layer
    dense = model_flops_per_token(**base, dense_layers=1, dense_ffn_hidden=128)
    # one layer: the FFN 2 x 128 wide replaces 2 routed experts of 32 and the router (2 h E)
    assert dense - plain == pytest.approx(3 * (2 * 2 * 64 * 128 - 2 * 2 * 2 * 64 * 32 - 2 * 64 * 8))


def test_pipeline_schedules_bubbles():
    assert pipeline_bubble_fraction(8, 32, 1, 0) == pytest.approx(7 / 32)
    assert pipeline_bubble_fraction(8, 32, 4, 1) == pytest.approx(7 / 128)
    assert pipeline_bubble_fraction(8, 32, 1, 2) == pytest.approx(7 / 3 / 32)           # ZB-H1
    assert pipeline_bubble_fraction(16, 120, 1, 3) == pytest.approx(7 * 2 / 3 / 120)    # DualPipe (p/2 - 1)(2/3)


def test_auto_pipeline_splits():
    assert auto_pipeline_split(96, 8, 6) == (0, 0, 0)
    assert auto_pipeline_split(126, 8, 8) == (1, 0, 0)      # Llama 3.1 405B VP8: embedding and loss as layers
    assert auto_pipeline_split(61, 16, 1) == (0, 3, 2)      # DeepSeek-V3: 4 per middle stage, 3 first, 2 last
    assert auto_pipeline_split(25, 2, 2) is None


def _run(**par):
    layout = {"tp": 4, "pp": 1, "dp": 16, "cp": 1, "ep": 32, "etp": 1, "micro_batch": 1, "global_batch": 64}
    layout.update(par)
    gpus = layout["tp"] * layout["pp"] * layout["dp"] * layout["cp"]
    return {"gpu": "H100", "gpus": gpus, "precision": "bf16",
            "model": {"layers": 8, "hidden": 1024, "heads": 16, "kv_heads": 4, "seq_len": 1024, "vocab": 1000,
                      "ffn_hidden": 512, "experts": 128, "top_k": 8}, "parallelism": layout}


def test_moe_parallel_folding_rules():
    config = parse_run(_run())                      # EP 32 over TP 4 x DP 16 = 64 ranks (Qwen3-style)
    assert config.parallelism["etp"] == 1
    with pytest.raises(InputError, match="parallelism.etp"):
        parse_run(_run(etp=4))                      # 32 x 4 = 128 does not divide 64
    with pytest.raises(InputError, match="parallelism.ep"):
        parse_run(_run(ep=48))


def test_all_to_all_stays_in_the_nvlink_domain_when_it_fits():
    gb200 = evaluate_run(parse_run({**_run(), "gpu": "GB200"}))
    h100 = evaluate_run(parse_run(_run()))
    # EP 32 fits one NVL72 rack but spans 4 HGX H100 nodes (scale-out)
    assert gb200.factors["exposed_ep"] > h100.factors["exposed_ep"]
    kwargs = parse_run(_run()).arrays()
    inside = step_model(**{**kwargs, "nvlink_domain_gpus": 64})
    assert float(inside["ep_comm_s_per_step"]) < float(step_model(**kwargs)["ep_comm_s_per_step"])


def test_fp8_params_and_dualpipe_memory():
    doc = _run(tp=1, dp=64, ep=8, pp=1)
    doc["precision"] = "fp8"
    plain = parse_run(doc).arrays()
    with_params = step_model(**{**plain, "fp8_params": True})
    without = step_model(**plain)
    assert float(with_params["weights_optimizer_gb_per_gpu"]) < float(without["weights_optimizer_gb_per_gpu"])
    pp = parse_run(_run(tp=1, dp=32, pp=2, ep=8, global_batch=64)).arrays()
    dual = step_model(**{**pp, "schedule": 3})
    assert float(dual["weights_optimizer_gb_per_gpu"]) == pytest.approx(2 * float(step_model(**pp)["weights_optimizer_gb_per_gpu"]))


def test_recompute_auto_picks_the_cheapest_mode_that_fits():
    doc = {"gpu": "H100", "gpus": 128, "model": "llama3-405b",
           "parallelism": {"tp": 8, "pp": 16, "dp": 1, "global_batch": 64, "recompute": "unknown"}}
    result = evaluate_run(parse_run(doc))
    assert result.fits_in_memory
    par = result.config["parallelism"]
    # none and the recompute modules leave 405B x 16 B / 128 GPUs of state + 8 layers x 16 micro-batches of
    # activations above 80 GB: full recompute of a share of each stage's 8 layers (block method)
    assert par["recompute"] == "full" and 0 < par["recompute_fraction"] < 1
    assert par["recompute_fraction"] * 8 == pytest.approx(round(par["recompute_fraction"] * 8))
    tighter = evaluate_run(parse_run({**doc, "parallelism": {**doc["parallelism"], "recompute": "full"}}))
    assert tighter.step_time_s > result.step_time_s
    stated = evaluate_run(parse_run({**doc, "parallelism": {**doc["parallelism"], "recompute": "none"}}))
    assert not stated.fits_in_memory


def test_stack_features_are_worth_something_and_never_hurt():
    doc = {"gpu": "H100", "gpus": 64, "model": "gpt3-175b", "precision": "bf16",
           "parallelism": {"tp": 8, "pp": 8, "dp": 1, "global_batch": 64, "recompute": "none"},
           "software": {"stack": "megatron-core-2025"}}
    base = evaluate_run(parse_run(doc))
    no_overlap = evaluate_run(parse_run({**doc, "software": {"stack": "megatron-core-2025", "overlap_tp_comm": False}}))
    graphs = evaluate_run(parse_run({**doc, "software": {"stack": "megatron-core-2025", "cuda_graphs": True}}))
    assert no_overlap.step_time_s > base.step_time_s
    assert graphs.step_time_s <= base.step_time_s
    assert base.tflops_per_gpu_causal < base.tflops_per_gpu and base.mfu_causal < base.mfu


def test_every_published_run_of_both_files_is_accepted_and_fits():
    for entry in load_modern_runs():
        modern_run_config(entry)                    # the run parser accepts every layout as published
    table = calibration_runs()
    assert len(table) == len(load_modern_runs()) + 24
    for run_id, config in table["config"].items():
        result = evaluate_run(config)
        assert result.fits_in_memory, (run_id, result.memory_gb_per_gpu)
        assert np.isclose(np.prod(list(result.factors.values())), result.mfu, rtol=1e-9)


def test_cpu_offload_trades_hbm_for_host_link_time():
    doc = {"gpu": "GB200", "gpus": 64, "model": "llama3-405b",
           "parallelism": {"tp": 8, "pp": 8, "dp": 1, "global_batch": 64, "recompute": "none"}}
    base = evaluate_run(parse_run(doc))
    offload = evaluate_run(parse_run({**doc, "parallelism": {**doc["parallelism"], "cpu_offload_fraction": 0.5}}))
    assert offload.activations_gb_per_gpu < base.activations_gb_per_gpu
    assert offload.fits_in_memory and offload.step_time_s >= base.step_time_s
    hopper = parse_run({**doc, "gpu": "H200", "parallelism": {**doc["parallelism"], "cpu_offload_fraction": 0.5}}).arrays()
    assert hopper["host_link_gb_s_per_gpu"] == 64.0      # PCIe Gen5 on HGX, NVLink-C2C (450 GB/s) on GB200
    with pytest.raises(InputError, match="cpu_offload_fraction"):
        parse_run({**doc, "parallelism": {**doc["parallelism"], "cpu_offload_fraction": 1.5}})
