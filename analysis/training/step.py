"""Vectorized step-time, MFU and memory model of one homogeneous GPU pool.

:func:`step_model` takes every input as a scalar or numpy array (all broadcast together) and
returns a dict of arrays: step time, MFU, HFU, memory per GPU, feasibility and the named
multiplicative factors from peak to MFU. One call evaluates one run or a million
configurations (the best-configuration search) or Monte Carlo draws of the efficiency
parameters (:class:`Efficiency` fields may be arrays too).

Time of one step on the critical path (per GPU), built up in this order so that each stage
adds time and each factor is the ratio of consecutive totals (each in (0, 1], product = MFU):

1. model FLOPs at the dense peak (non-causal count)     -> ``T_model``  (MFU = T_model / T)
2. + recompute FLOPs (Korthikanti et al. 2022 Sec. 5)   -> factor ``recompute``
3. GEMMs at an efficiency per architecture x precision and GEMM shape: ``t = F / (e_max * peak)
   + kappa * bytes(M K + K N + M N) / HBM_bw`` (a roofline sum); FP8 runs the transformer
   linear layers at the FP8 peak, the logit layer, router and attention core in BF16; MoE
   expert GEMMs are slowed by the load imbalance of routing; fused attention executes only the
   causal half of the s^2 core the non-causal model-FLOP count includes (that gain is inside this
   factor, so every factor stays a loss)                 -> factor ``gemm_efficiency``
4. + memory-bound ops (norms, residual/dropout, activation functions, softmax if not fused,
   MoE permutation, FP8 cast/quantize kernels by recipe, cross-entropy) -> ``memory_bound_ops``
5. + host launch overhead where kernels are shorter than their launches (removed by CUDA graphs)
   and exposed CPU-offload transfers
                                                        -> ``host_overhead``
6. + exposed TP/SP collectives (Korthikanti 2022 Sec. 4.2.2), CP K/V exchange, MoE all-to-all
   (inside the NVLink domain when the expert group fits there, else over the scale-out network)
                                                        -> ``exposed_tp``, ``exposed_cp``, ``exposed_ep``
7. slowest pipeline stage vs the mean (uneven first/last stages, embedding/logits, dense layers)
                                                        -> ``pipeline_imbalance``
8. + exposed pipeline point-to-point                    -> ``pipeline_p2p``
9. pipeline bubble by schedule (1F1B ``(p-1)/m``, interleaved ``(p-1)/(v m)``, zero-bubble
    ZB-H1 ``(p-1)/(3 m)``, DualPipe ``(p/2-1)(F&B+B-3W)``)   -> ``pipeline_bubble``
10. + exposed DP reduce-scatter / all-gather, + optimizer step -> ``exposed_dp``, ``optimizer``
11. software-stack throughput multiplier (calibrated per stack where it differs) -> ``software_stack``
12. x synchronisation cost of N GPUs (``1 + sigma sqrt(2 ln N)``) -> ``stragglers``

MFU and HFU divide by the dense peak of the run's precision (BF16/FP16 dense, or FP8 dense
for ``fp8`` runs). ``mfu`` counts model FLOPs non-causally (Narayanan 2021, as NeMo,
dgxc-benchmarking and Megatron-LM publish); ``mfu_causal`` and ``tflops_per_gpu_causal`` count
the attention core causally.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from analysis.training.flops import (attention_dims, core_keys, expert_params, ffn_matrices, forward_flops_per_token,
                                     recompute_code)

FACTOR_NAMES = ("recompute", "gemm_efficiency", "memory_bound_ops", "host_overhead", "exposed_tp",
                "exposed_cp", "exposed_ep", "pipeline_imbalance", "pipeline_p2p", "pipeline_bubble", "exposed_dp",
                "optimizer", "software_stack", "stragglers")
GAIN_FACTORS = ()                             # none: every factor is a loss in (0, 1] (the chain's contract)

SCHEDULES = ("1f1b", "interleaved", "zero-bubble", "dualpipe")
SCHEDULE_CODE = {name: i for i, name in enumerate(SCHEDULES)}
FP8_RECIPES = ("delayed", "current", "mxfp8", "blockwise")
FP8_RECIPE_CODE = {name: i for i, name in enumerate(FP8_RECIPES)}

# Bytes of HBM traffic per token per layer in the forward pass of the memory-bound element-wise
# ops, in units of the hidden size h (replicated across TP ranks unless sequence parallel) and of
# the FFN width F (split across TP ranks). Derived from the activation inventory of Korthikanti
# et al. 2022 Sec. 4.1 (2 layer norms: read+write 2 B each; 2 fused bias-dropout-residual adds:
# read 2+2, write 2, mask 1) = 22 h; activation function read+write: GeLU 2F+2F, gated 4F+2F.
# Backward moves about 1.5x the forward traffic (it reads the saved input and the incoming
# gradient and writes one gradient). Assumption, range +-30%.
ELEMENTWISE_BYTES_REPLICATED_PER_H = 22.0
BACKWARD_TRAFFIC_RATIO = 1.5
ACTIVATION_BYTES_PER_F = {False: 4.0, True: 6.0}
# Without fused kernels (bias+GeLU, bias+dropout+add, layer norm) every op is a separate pass:
# about 1.6x the traffic (assumption, range 1.3-2.0; Narayanan 2021 Sec. 4.2 fuses them).
UNFUSED_TRAFFIC_RATIO = 1.6
# MoE token permutation / un-permutation: read + write 2 B per element of each routed copy.
PERMUTE_BYTES_PER_H = 8.0
# FP8 quantization traffic per element of a GEMM input (forward input, backward output gradient):
# delayed scaling = fused cast + transpose (read 2 B, write 1 + 1 B; TE on Hopper needs the
# transposed copy for wgrad/dgrad); current scaling adds an amax pass (read 2 B); MXFP8 and
# DeepSeek's blockwise recipe write row- and column-wise 1 B copies + 1/32 B scales (no transposes
# on Blackwell). Assumption (Transformer Engine recipes; DeepSeek-V3 Sec. 3.3), range +-50%.
FP8_CAST_BYTES = np.array([4.0, 6.0, 4.0625, 4.0625])
# Unfused (materialized) attention: bytes per s x s score element in the forward pass with Megatron's
# fused scale-mask-softmax (read 2 + write 2) and dropout (read 2 + write 2 + mask 1) = 9; the
# attention-over-V read is GEMM operand traffic. Korthikanti 2022 Sec. 4.1 stores 5 bytes per score
# element. Backward: same 1.5x rule. Assumption.
SOFTMAX_BYTES_PER_SCORE = 9.0
# Adam step traffic per parameter held by the GPU's optimizer shard: read fp32 master, m, v,
# grad (16 B), write master, m, v (12 B), write the bf16 copy (2 B). Mixed-precision Adam as in
# Megatron-LM's distributed optimizer (docs: 18 bytes of state per parameter).
OPTIMIZER_BYTES_PER_PARAM = 30.0
# Bytes of state per parameter held by each GPU (Megatron-LM distributed optimizer docs;
# Rajbhandari et al. 2020 ZeRO Sec. 3): bf16 weights 2, fp32 gradients 4, fp32 master + Adam m, v 12.
# FP8 runs without FP8 parameters keep an FP8 copy of each weight for the step (+1 B, TE weight
# cache); with FP8 parameters (TE fp8_model_init) the weight is stored in FP8 only (1 B).
WEIGHT_BYTES, GRAD_BYTES, OPTIMIZER_STATE_BYTES = 2.0, 4.0, 12.0
FP8_WEIGHT_COPY_BYTES, FP8_PARAM_BYTES = 1.0, 1.0
# DP traffic per parameter: reduce-scatter of fp32 gradients (4 B) + all-gather of bf16 weights
# (2 B; 1 B with FP8 parameters) with a sharded optimizer (Megatron-LM docs); without one, the
# 16-bit gradients are all-reduced (2 x 2 B; Megatron-LM 2021 local DDP).
DP_GRAD_BYTES_SHARDED, DP_BYTES_ALLREDUCE = 4.0, 4.0
# Activation bytes stored per token per layer (Korthikanti 2022 Table 2, generalised to GQA, MLA and
# gated FFNs): replicated part 10 h (layer-norm inputs 4, their outputs = projection inputs 4,
# dropout masks 2) and split part 2 (q + k + v) + 2 o + (4 or 6) F.
ACT_REPLICATED_PER_H = 10.0
ACT_LAYERNORM_OUTPUT_PER_H = 4.0               # dropped by the 'layernorm' recompute module
ACT_SCORE_BYTES = 5.0


@dataclass(frozen=True)
class Efficiency:
    """Efficiency parameters of the step model. Fields may be floats or numpy arrays.

    Read from data/calibration.yaml by :func:`analysis.training.efficiency.load_calibration`
    (``Calibration.for_gpu`` resolves the per-architecture GEMM efficiencies); the fitted ones
    come from :func:`analysis.training.fit.fit`.
    """

    gemm_efficiency_max: float = 0.85          # fraction of the BF16 dense peak a large BF16 GEMM reaches
    gemm_shape_kappa: float = 1.0              # weight of operand traffic in GEMM time
    memory_bandwidth_efficiency: float = 0.7   # achieved / nominal HBM bandwidth of memory-bound ops
    straggler_sigma: float = 0.0               # relative per-GPU jitter behind the sqrt(2 ln N) term
    flash_attention_efficiency: float = 0.45   # fused attention: executed (causal) FLOPs / (time x BF16 peak)
    fp8_gemm_ratio: float = 0.75               # FP8 GEMM efficiency (vs FP8 peak) / BF16 GEMM efficiency (vs BF16 peak)
    nvlink_efficiency: float = 0.75            # achieved / unidirectional NVLink bandwidth (bus bw)
    scale_out_efficiency: float = 0.8          # achieved / nominal scale-out bandwidth per GPU
    collective_latency_s: float = 1e-5         # fixed cost per collective call
    tp_overlap: float = 0.6                    # share of TP comm hidden when overlap_tp_comm is on
    cp_overlap: float = 0.0                    # share of CP comm hidden behind attention
    ep_overlap: float = 0.0                    # share of EP all-to-all hidden (always)
    ep_overlap_scheduled: float = 0.9          # share of EP all-to-all hidden when overlap_ep_comm is on
    moe_load_imbalance: float = 1.1            # busiest expert GPU / mean expert work (routing imbalance)
    host_overhead_s_per_layer: float = 3e-4    # host launch time per layer forward (x3 fwd+bwd) without CUDA graphs
    offload_overlap: float = 0.8               # share of CPU-offload transfers hidden behind computation
    hbm_usable_fraction: float = 1.0           # usable / nominal HBM (nominal "80 GB" is 80 GiB)
    clock_fraction: float = 1.0                # sustained / spec tensor clock multiplier (1: inside gemm_efficiency_max)
    stack_efficiency: float = 1.0              # software-stack throughput multiplier (the run's stack)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def replace(self, **changes) -> "Efficiency":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Efficiency(**values)


def _f(x):
    return np.asarray(x, dtype=float)


def gemm_time_s(flops, m, n, k, peak_flops, bytes_per_element, hbm_bytes_per_s, efficiency_max, kappa):
    """Time of a GEMM of ``flops`` (= 2 m n k x count): ``F / (e_max peak) + kappa * B (mk + kn + mn)
    * count / bw`` where count = F / (2 m n k). A roofline sum: compute at the achievable peak plus
    the operand/result traffic, so efficiency = ``e_max / (1 + kappa * e_max * peak * B (1/m + 1/n
    + 1/k) / (2 bw))`` saturates in every GEMM dimension and falls for skinny shapes."""
    # traffic = B (mk + kn + mn) * F / (2 m n k) = B F (1/n + 1/m + 1/k) / 2  (dimensions are >= 1)
    per_flop = 1.0 / (_f(efficiency_max) * _f(peak_flops))
    traffic_per_flop = _f(kappa) * _f(bytes_per_element) / (2 * _f(hbm_bytes_per_s))
    return _f(flops) * (per_flop + traffic_per_flop * (1.0 / _f(m) + 1.0 / _f(n) + 1.0 / _f(k)))


def gemm_efficiency(m, n, k, peak_flops, bytes_per_element, hbm_bytes_per_s, efficiency_max, kappa):
    """Fraction of ``peak_flops`` a single GEMM of shape (m, n, k) reaches (see :func:`gemm_time_s`)."""
    flops = 2 * _f(m) * _f(n) * _f(k)
    return flops / (gemm_time_s(flops, m, n, k, peak_flops, bytes_per_element, hbm_bytes_per_s,
                                efficiency_max, kappa) * _f(peak_flops))


def ring_time_s(payload_bytes, ranks, bandwidth_bytes_per_s, latency_s=0.0, allreduce=False):
    """Ring all-gather / reduce-scatter (``(n-1)/n x payload``) or all-reduce (twice that) time
    at the per-GPU bandwidth (Patarasuk & Yuan 2009; NCCL bus-bandwidth convention)."""
    ranks = _f(ranks)
    share = np.where(ranks > 1, (ranks - 1) / np.maximum(ranks, 1.0), 0.0) * np.where(allreduce, 2.0, 1.0)
    return np.where(ranks > 1, share * _f(payload_bytes) / _f(bandwidth_bytes_per_s) + _f(latency_s), 0.0)


def pipeline_bubble_fraction(pp, micro_batches, interleave=1, schedule=0):
    """Idle time of the pipeline schedule relative to the ideal, in micro-batch times per
    micro-batch. 1F1B / interleaved: ``(p-1)/(v m)`` (Narayanan et al. 2021 Sec. 2.2.1-2.2.2);
    zero-bubble ZB-H1: ``(p-1)(F+B-2W)/m = (p-1)/(3m)`` with F = W = 1/3, B = 2/3 of a micro-batch
    (Qi et al. 2023, arXiv 2401.10241, Table 1; DeepSeek-V3 Table 2 'ZB1P'); DualPipe:
    ``(p/2-1)(F&B + B - 3W)/m = (p/2-1) 2/3 / m`` with F&B = F + B (DeepSeek-V3 arXiv 2412.19437
    Table 2). The efficiency factor is ``1 / (1 + bubble)``."""
    p, m, v = _f(pp), _f(micro_batches), _f(interleave)
    code = np.asarray(schedule)
    if code.ndim == 0:                            # one schedule for every configuration: no select
        units = (p - 1) / 3.0 if code == 2 else np.maximum(p / 2 - 1, 0.0) * (2.0 / 3.0) if code == 3 else (p - 1) / v
    else:
        units = np.select([code == 2, code == 3], [(p - 1) / 3.0, np.maximum(p / 2 - 1, 0.0) * (2.0 / 3.0)], (p - 1) / v)
    return units / m


def step_model(*, layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1, gated_ffn=False,
               shared_experts=0, dense_layers=0, dense_ffn_hidden=0, q_lora_rank=0, kv_lora_rank=0, qk_head_dim=0,
               qk_rope_head_dim=0, v_head_dim=0, sliding_window=0, sliding_window_layers=0,
               tp=1, pp=1, dp=1, cp=1, ep=1, etp=0, micro_batch=1, global_batch, interleave=1, sequence_parallel=True,
               recompute=0, recompute_fraction=1.0, zero=1, schedule=0, first_stage_layers=0, last_stage_layers=0,
               overlap_grad_reduce=True, overlap_param_gather=False, overlap_tp_comm=False, overlap_ep_comm=False,
               flash_attention=True, cuda_graphs=False, fused_kernels=True, grad_reduce_bf16=False, fp8_recipe=0,
               fp8_params=False,
               embedding_slots=0, tied_embeddings=False, cpu_offload_fraction=0.0, host_link_gb_s_per_gpu=64.0,
               peak_tflops, bf16_peak_tflops=None, fp8=False, hbm_tb_s, hbm_gb, nvlink_gb_s_per_gpu,
               nvlink_domain_gpus, scale_out_gb_s_per_gpu, efficiency: Efficiency = Efficiency()) -> dict:
    """Evaluate the step model; every argument may be a numpy array (broadcast together).

    Architecture keys follow the ``mfu`` run schema (DESIGN.md, :mod:`analysis.training.run`).
    ``recompute`` is 0 none / 1 selective / 2 full (``recompute_fraction`` of the layers, Megatron
    ``--recompute-method block``) / 3 modules (layernorm, MoE/MLP activation, MLA up-projection).
    ``etp`` = expert tensor parallel size (0 = ``tp``); experts fold over TP x CP x DP as
    EP x ETP x expert-DP (Megatron-Core MoE parallel folding). ``peak_tflops`` is the dense peak of
    the run's precision (MFU divides by it); ``bf16_peak_tflops`` the BF16 dense peak (attention,
    router and logits run in BF16 in FP8 runs). ``zero`` is the sharding stage over DP x CP (0
    replicated, 1 optimizer state = Megatron distributed optimizer, 2 + gradients, 3 + weights =
    FSDP). ``first_stage_layers`` / ``last_stage_layers`` (0 = from ``embedding_slots``: Llama 3
    Sec. 3.3.2 removes one layer from each) are Megatron-Core ``decoder_first/last_pipeline_num_layers``.
    ``schedule``: 0 1F1B (interleaved when ``interleave`` > 1), 2 zero-bubble, 3 DualPipe.
    ``fp8_recipe``: 0 delayed, 1 current, 2 MXFP8, 3 blockwise. ``cpu_offload_fraction`` is the
    share of activations kept in host memory (over ``host_link_gb_s_per_gpu``, one way); its exposed
    transfer time is in the ``host_overhead`` factor. Returns a dict of arrays.
    """
    e = efficiency
    L, h, a, V, s = _f(layers), _f(hidden), _f(heads), _f(vocab), _f(seq_len)
    F, E, k = _f(ffn_hidden), _f(experts), _f(top_k)
    t, p, d, c, x = _f(tp), _f(pp), _f(dp), _f(cp), _f(ep)
    et = np.where(_f(etp) > 0, _f(etp), t)
    b, B, v = _f(micro_batch), _f(global_batch), _f(interleave)
    rc = recompute_code(recompute)
    full = (rc == 2)
    frac = np.where(full, _f(recompute_fraction), 0.0)
    sel_core = (rc == 1) | full
    modules = rc == 3
    sched = np.asarray(schedule)
    sp = np.asarray(sequence_parallel, dtype=bool)
    flash = np.asarray(flash_attention, dtype=bool)
    gated = np.asarray(gated_ffn, dtype=bool)
    is_fp8 = np.asarray(fp8, dtype=bool)
    peak = _f(peak_tflops) * 1e12
    peak_bf16 = peak if bf16_peak_tflops is None else _f(bf16_peak_tflops) * 1e12
    clock = _f(e.clock_fraction)
    hbm_bw = _f(hbm_tb_s) * 1e12
    mem_bw = hbm_bw * _f(e.memory_bandwidth_efficiency)
    domain = _f(nvlink_domain_gpus)
    nvlink_bw = _f(nvlink_gb_s_per_gpu) * 1e9 / 2 * _f(e.nvlink_efficiency)   # listed figure is bidirectional
    net_bw = _f(scale_out_gb_s_per_gpu) * 1e9 * _f(e.scale_out_efficiency)
    lat = _f(e.collective_latency_s)
    moe = E > 1
    mla_kw = dict(q_lora_rank=q_lora_rank, kv_lora_rank=kv_lora_rank, qk_head_dim=qk_head_dim,
                  qk_rope_head_dim=qk_rope_head_dim, v_head_dim=v_head_dim)

    gpus = t * p * d * c
    m = B / (d * b)                               # micro-batches per pipeline per step
    n = b * s / c                                 # tokens per GPU per micro-batch
    n_dense = np.where(moe, np.minimum(_f(dense_layers), L), L)
    n_moe = L - n_dense
    F_dense = np.where(_f(dense_ffn_hidden) > 0, _f(dense_ffn_hidden), F)
    S = _f(shared_experts)

    # ---------------------------------------------------------------- FLOPs (per token)
    extra = dict(shared_experts=shared_experts, dense_layers=dense_layers, dense_ffn_hidden=dense_ffn_hidden,
                 sliding_window=sliding_window, sliding_window_layers=sliding_window_layers, **mla_kw)
    g_tok, core_nc_tok, logit_tok = forward_flops_per_token(L, h, a, kv_heads, F, V, s, E, k, gated, **extra)
    core_c_tok = forward_flops_per_token(L, h, a, kv_heads, F, V, s, E, k, gated, causal=True, **extra)[1]
    attn_p, q_w, k_w, v_w, o_w, up_p, latent_w = attention_dims(h, a, kv_heads, **mla_kw)
    mf_token = 3.0 * (g_tok + core_nc_tok + logit_tok)
    mf_token_causal = 3.0 * (g_tok + core_c_tok + logit_tok)
    rec_tok = np.where(full, frac * (g_tok + core_nc_tok), np.where(rc == 1, core_nc_tok, np.where(modules, 2 * up_p * L, 0.0)))
    hf_token = mf_token + rec_tok
    # executed FLOPs: fused attention skips the masked half of the square (causal count)
    core_exec_tok = np.where(flash, core_c_tok, core_nc_tok)
    core_passes = 3.0 + np.where(full, frac, np.where(sel_core, 1.0, 0.0))
    exec_token = 3.0 * (g_tok + logit_tok) + core_passes * core_exec_tok + np.where(full, frac * g_tok, np.where(modules, 2 * up_p * L, 0.0))
    tokens_step = B * s
    t_model = mf_token * tokens_step / (gpus * peak)
    t_hardware = hf_token * tokens_step / (gpus * peak)
    t_exec = exec_token * tokens_step / (gpus * peak)

    # ---------------------------------------------------------------- GEMMs of one layer, one micro-batch
    e_bf16 = _f(e.gemm_efficiency_max)
    lin_eff = np.where(is_fp8, e_bf16 * _f(e.fp8_gemm_ratio), e_bf16)
    lin_peak = peak * clock                       # linear layers run at the run's precision
    lin_bytes = np.where(is_fp8, 1.0, 2.0)
    bf_peak = peak_bf16 * clock
    kappa = _f(e.gemm_shape_kappa)
    passes = 3.0 + frac                           # forward + backward (2x) + recompute forward

    def lin(flops, mm, nn, kk):
        return gemm_time_s(flops, mm, nn, kk, lin_peak, lin_bytes, hbm_bw, lin_eff, kappa)

    any_moe, any_fp8, any_modules = bool(np.any(moe)), bool(np.any(is_fp8)), bool(np.any(modules))
    all_flash = bool(np.all(flash))
    attn_in = attn_p - o_w * h                    # Q, K, V (or MLA) projection weights
    t_attn_gemm = passes * (lin(2 * n * attn_in / t, n, attn_in / (h * t), h) + lin(2 * n * o_w * h / t, n, h, o_w / t))
    if any_modules:
        t_attn_gemm = t_attn_gemm + np.where(modules, lin(2 * n * up_p / t, n, np.maximum(up_p / (h * t), 1.0), h), 0.0)
    up_mats = ffn_matrices(gated) - 1
    t_dense_ffn = passes * (lin(2 * n * h * up_mats * F_dense / t, n, up_mats * F_dense / t, h)
                            + lin(2 * n * F_dense * h / t, n, h, F_dense / t))
    if any_moe:
      tok_expert = np.maximum(x * et * n * k / (t * E), 1.0)      # GEMM rows per local expert (folding)
      t_routed = passes * _f(e.moe_load_imbalance) * (lin(2 * n * k * h * up_mats * F / t, tok_expert, up_mats * F / et, h)
                                                     + lin(2 * n * k * F * h / t, tok_expert, h, F / et))
      t_shared = passes * (lin(2 * n * h * up_mats * S * F / t, n, np.maximum(up_mats * S * F / t, 1.0), h)
                         + lin(2 * n * S * F * h / t, n, h, np.maximum(S * F / t, 1.0)))
      t_router = passes * gemm_time_s(2 * n * h * E / t, n / t, E, h, bf_peak, 2.0, hbm_bw, e_bf16, kappa)
      t_moe_ffn = t_routed + np.where(S > 0, t_shared, 0.0) + t_router
    else:
      t_moe_ffn = 0.0

    # attention core (BF16): fused at a fixed fraction of the BF16 peak on the causal FLOPs, or
    # unfused batched GEMMs on the full square plus the softmax traffic
    core_fwd = n * core_exec_tok / (L * t)        # forward core FLOPs per GPU per micro-batch (mean layer)
    t_core_flash = core_passes * core_fwd / (_f(e.flash_attention_efficiency) * bf_peak)
    d_head = h / a
    if all_flash:
        t_core, t_core_mem = t_core_flash, 0.0
    else:
        qk = gemm_time_s(core_fwd / 2, s / c, s, d_head, bf_peak, 2.0, hbm_bw, e_bf16, kappa)
        pv = gemm_time_s(core_fwd / 2, s / c, d_head, s, bf_peak, 2.0, hbm_bw, e_bf16, kappa)
        softmax_bytes = SOFTMAX_BYTES_PER_SCORE * (b * a / t) * (s / c) * s
        t_core = np.where(flash, t_core_flash, core_passes * (qk + pv))
        t_core_mem = np.where(flash, 0.0, (1 + BACKWARD_TRAFFIC_RATIO + sel_core) * softmax_bytes / mem_bw)

    # memory-bound element-wise ops (forward + 1.5x backward traffic; + forward again with recompute)
    rep_div = np.where(sp, t, 1.0)
    traffic = (1 + BACKWARD_TRAFFIC_RATIO + frac + modules * 0.5) * np.where(np.asarray(fused_kernels, dtype=bool), 1.0, UNFUSED_TRAFFIC_RATIO) / mem_bw
    act_f = np.where(gated, ACTIVATION_BYTES_PER_F[True], ACTIVATION_BYTES_PER_F[False])
    ew_attn = n * ELEMENTWISE_BYTES_REPLICATED_PER_H / 2 * h / rep_div
    ew_dense = n * (ELEMENTWISE_BYTES_REPLICATED_PER_H / 2 * h / rep_div + act_f * F_dense / t)
    # FP8 casts of the linear-layer inputs (forward) and output gradients (backward)
    cast_b = np.where(is_fp8, FP8_CAST_BYTES[np.asarray(fp8_recipe, dtype=int)], 0.0) / mem_bw if any_fp8 else 0.0
    t_attn_mem = ew_attn * traffic + t_core_mem + cast_b * 2 * n * (h + o_w) / t
    t_dense_mem = ew_dense * traffic + cast_b * 2 * n * (h + F_dense) / t
    if any_moe:
        ew_moe = n * (ELEMENTWISE_BYTES_REPLICATED_PER_H / 2 * h / rep_div + act_f * (k + S) * F / t
                      + PERMUTE_BYTES_PER_H * k * et * h / t)
        t_moe_mem = ew_moe * traffic + cast_b * 2 * n * (k * et * h + (k + S) * F + S * h) / t

    # logits layer (BF16 GEMM) + cross-entropy (last stage), no recompute
    t_logits_gemm = 3 * gemm_time_s(2 * n * h * V / t, n, V / t, h, bf_peak, 2.0, hbm_bw, e_bf16, kappa)
    t_logits_mem = 4.0 * n * V / t * 4 / mem_bw           # fp32 logits: write, read (fwd); read, write (bwd)

    # host launch overhead: a layer's kernels cannot run faster than the host launches them
    host = np.where(np.asarray(cuda_graphs, dtype=bool), 0.0, _f(e.host_overhead_s_per_layer) * passes)

    # ---------------------------------------------------------------- communication per layer per micro-batch
    tp_link = np.where(t <= domain, nvlink_bw, net_bw)
    act_bytes = 2.0 * n * h                       # one bf16 activation tensor of the micro-batch
    calls = 2 * (2 + frac)                        # per block: AG + RS forward, same backward, + recompute
    # AG/RS of the full activation each move (t-1)/t of it; an all-reduce moves twice that, and
    # without SP there are half as many calls: same volume (Korthikanti 2022 Sec. 4.2.2)
    tp_block = np.where(t > 1, calls * (ring_time_s(act_bytes, t, tp_link) + lat), 0.0)
    tp_hidden = np.where(np.asarray(overlap_tp_comm, dtype=bool), _f(e.tp_overlap), 0.0)
    t_tp_attn, t_tp_dense = tp_block, tp_block
    if any_moe:
        etp_block = np.where(et > 1, calls * (ring_time_s(act_bytes, et, tp_link) + lat), 0.0)
        t_tp_moe = np.where(S > 0, tp_block, 0.0) + etp_block

    cp_link = np.where(t * c <= domain, nvlink_bw, net_bw)
    kv_bytes = 2.0 * b * s * (k_w + v_w) / t      # K and V of the whole sequence, bf16
    t_cp = np.where(c > 1, (3 + frac) * (ring_time_s(kv_bytes, c, cp_link) + lat), 0.0)  # fwd, bwd (K,V + grads), recompute
    t_cp_exposed = t_cp * (1 - _f(e.cp_overlap))

    if any_moe:
      group = x * et                                # GPUs of one expert-parallel group
      inside = np.minimum(domain / np.maximum(group, 1.0), 1.0)
      a2a_bytes = np.where(is_fp8, 1.5, 2.0) * n * k * h / t        # dispatch in FP8 (+ scales) in FP8 runs, combine BF16
      leave = np.where(x > 1, (x - 1) / np.maximum(x, 1.0), 0.0) * a2a_bytes
      a2a_time = np.maximum(leave * inside / nvlink_bw, leave * (1 - inside) / net_bw)
      a2a_calls = 2 * (2 + frac)                    # dispatch + combine; fwd, bwd, recompute
      t_ep = np.where(moe & (x > 1), a2a_calls * (a2a_time + lat), 0.0)
      ep_hidden = np.where(np.asarray(overlap_ep_comm, dtype=bool), _f(e.ep_overlap_scheduled), _f(e.ep_overlap))
      t_ep_exposed = t_ep * (1 - ep_hidden)
    else:
      t_ep, t_ep_exposed = 0.0, 0.0

    # ---------------------------------------------------------------- activations stored per layer (bytes)
    # FP8 runs save the FP8 copies of the linear layers' inputs for the backward (1 B instead of 2 B:
    # layer-norm outputs, attention output, activation-function output; Transformer Engine,
    # DeepSeek-V3 Sec. 3.3.3)
    lin_in = np.where(is_fp8, 0.5, 1.0)
    ln_out = np.where(modules, 0.0, ACT_LAYERNORM_OUTPUT_PER_H * lin_in) * h
    rep = (ACT_REPLICATED_PER_H * h - ACT_LAYERNORM_OUTPUT_PER_H * h + ln_out) / rep_div
    qkv_store = np.where(modules & (_f(kv_lora_rank) > 0), 2 * latent_w, 2 * (q_w + k_w + v_w))
    scores = np.where(flash | sel_core, 0.0, ACT_SCORE_BYTES * a * s)
    attn_act = (qkv_store + 2 * o_w * lin_in + scores) / t
    # moe_act / mlp activation recompute drops the activation output (2 B per F, 1 B in FP8)
    act_keep = np.where(modules, act_f - 2.0, act_f - 2.0 + 2.0 * lin_in)
    dense_act = act_keep * F_dense / t
    per_tok_dense = rep + attn_act + dense_act
    layer_input = 2 * h / rep_div
    act_dense = n * ((1 - frac) * per_tok_dense + frac * layer_input)
    if any_moe:
        moe_act = (act_keep * (k + S) * F + 2 * 2 * k * et * h) / t
        per_tok_moe = np.where(moe, rep + attn_act + moe_act, per_tok_dense)
        act_moe = n * ((1 - frac) * per_tok_moe + frac * layer_input)
        work = np.where(full, n * np.maximum(per_tok_dense, per_tok_moe), 0.0)     # one layer rebuilt in backward
    else:
        act_moe = act_dense
        work = np.where(full, n * per_tok_dense, 0.0) if np.any(full) else 0.0
    # CPU offload (Megatron-Core --cpu-offloading): a share of each layer's activations goes to host
    # memory in the forward and comes back in the backward over the host link, mostly overlapped
    offload = _f(cpu_offload_fraction)
    if np.any(offload > 0):
        host_link = _f(host_link_gb_s_per_gpu) * 1e9
        t_off_dense = 2 * offload * act_dense / host_link * (1 - _f(e.offload_overlap))
        t_off_moe = 2 * offload * act_moe / host_link * (1 - _f(e.offload_overlap)) if any_moe else t_off_dense
    else:
        t_off_dense = t_off_moe = 0.0

    # ---------------------------------------------------------------- per-layer times
    stack = _f(e.stack_efficiency)
    c_dense = (t_attn_gemm + t_core + t_dense_ffn) / stack
    mem_dense = t_attn_mem + t_dense_mem
    host_dense = np.maximum(host - c_dense - mem_dense, 0.0) + t_off_dense
    tp_dense_x = (t_tp_attn + t_tp_dense) * (1 - tp_hidden)
    lay_dense = c_dense + mem_dense + host_dense + tp_dense_x + t_cp_exposed
    if any_moe:
        c_moe = (t_attn_gemm + t_core + t_moe_ffn) / stack
        mem_moe = t_attn_mem + t_moe_mem
        host_moe = np.maximum(host - c_moe - mem_moe, 0.0) + t_off_moe
        tp_moe_x = (t_tp_attn + t_tp_moe) * (1 - tp_hidden)
        lay_moe = np.where(moe, c_moe + mem_moe + host_moe + tp_moe_x + t_cp_exposed + t_ep_exposed, lay_dense)
    else:
        c_moe, mem_moe, host_moe, tp_moe_x, lay_moe, t_tp_moe = c_dense, mem_dense, host_dense, tp_dense_x, lay_dense, 0.0
    t_logits = (t_logits_gemm / stack + t_logits_mem)

    # ---------------------------------------------------------------- pipeline stages
    r = _f(embedding_slots)
    slots = (L + 2 * r) / p
    explicit = (_f(first_stage_layers) > 0) | (_f(last_stage_layers) > 0)
    lf = np.where(explicit, _f(first_stage_layers), slots - r)
    ll = np.where(explicit, _f(last_stage_layers), slots - r)
    lm = np.where(p > 2, (L - lf - ll) / np.maximum(p - 2, 1.0), 0.0)
    single = p == 1
    lf = np.where(single, L, lf)
    # dense layers lead: the first stage takes min(dense, lf) of them, the rest spill to the middle
    dense_first = np.minimum(n_dense, lf)
    if any_moe:
        first = dense_first * lay_dense + (lf - dense_first) * lay_moe
        spill = n_dense - dense_first
        mid = np.where(spill > 0, np.minimum(spill, lm) * lay_dense + (lm - np.minimum(spill, lm)) * lay_moe, lm * lay_moe)
    else:
        first, mid = lf * lay_dense, lm * lay_dense
    last = ll * lay_moe + t_logits
    t_mb_crit = np.where(single, first + t_logits, np.maximum(np.where(p > 2, mid, 0.0), np.maximum(first, last)))
    p2p_link = np.where(t * c * p <= domain, nvlink_bw, net_bw)
    p2p_bytes = act_bytes / np.where(sp | (t > 1), t, 1.0)   # scatter/gather (Narayanan 2021 Sec. 4.1)
    t_p2p = np.where(single, 0.0, 2 * v * (p2p_bytes / p2p_link + lat))
    bubble = pipeline_bubble_fraction(p, m, v, sched)
    t_pipeline = m * (1 + bubble) * (t_mb_crit + t_p2p)

    # ---------------------------------------------------------------- parameters per GPU, DP and optimizer
    router_p = np.where(moe, h * E, 0.0)
    dense_ffn_p = expert_params(h, F_dense, gated)
    ffn_p = expert_params(h, F, gated)
    attn_layer = (attn_p + router_p) / t
    dense_layer_p = attn_p / t + dense_ffn_p / t
    moe_dense_p = np.where(moe, attn_layer + S * ffn_p / t, dense_layer_p)   # attention, router, shared experts: by TP
    expert_layer = np.where(moe, ffn_p * E / x / et, 0.0)
    embed = V * h / t
    out_layer = np.where(np.asarray(tied_embeddings, dtype=bool), 0.0, V * h / t)
    dual = sched == 3                              # DualPipe holds two stages' parameters (Table 2: 2x)
    stage_dense_first = dense_first * dense_layer_p + (lf - dense_first) * moe_dense_p + embed + np.where(single, out_layer, 0.0)
    stage_dense_mid = lm * moe_dense_p
    stage_dense_last = ll * moe_dense_p + out_layer
    dense_gpu = np.where(single, stage_dense_first,
                         np.maximum(np.maximum(stage_dense_first, stage_dense_last), np.where(p > 2, stage_dense_mid, 0.0)))
    if any_moe:
        moe_layers_stage = np.where(single, n_moe, np.maximum(np.maximum(lf - dense_first, ll), np.where(p > 2, lm, 0.0)))
        expert_gpu = moe_layers_stage * expert_layer
    else:
        expert_gpu = 0.0
    if np.any(dual):
        copies = np.where(dual, 2.0, 1.0)
        dense_gpu, expert_gpu = dense_gpu * copies, expert_gpu * copies
    zero_stage = np.asarray(zero)
    shard_dense = d * c
    shard_expert = np.maximum(t * d * c / (x * et), 1.0)     # expert data-parallel size

    grad_b = np.where(zero_stage >= 1, np.where(np.asarray(grad_reduce_bf16, dtype=bool), 2.0, DP_GRAD_BYTES_SHARDED),
                      DP_BYTES_ALLREDUCE)
    gather_b = np.where(zero_stage >= 1, np.where(np.asarray(fp8_params, dtype=bool) & is_fp8, 1.0, 2.0), 0.0)
    dp_link = np.where(t * c * d <= domain, nvlink_bw, net_bw)
    # ring time = payload x share / bandwidth + latency: one bandwidth term per group serves both collectives
    ring_per_byte = ring_time_s(dense_gpu, shard_dense, dp_link) + (ring_time_s(expert_gpu, shard_expert, dp_link) if any_moe else 0.0)
    dp_lat = np.where(shard_dense > 1, lat, 0.0) + (np.where(shard_expert > 1, lat, 0.0) if any_moe else 0.0)
    t_rs = grad_b * ring_per_byte + dp_lat
    t_ag = np.where(gather_b > 0, gather_b * ring_per_byte + dp_lat, 0.0)
    fsdp = zero_stage >= 3                         # weights re-gathered for every micro-batch forward and backward
    if np.any(fsdp):
        t_ag = np.where(fsdp, 2 * m * t_ag, t_ag)
    # gradients of a stage are final only in the last micro-batch's backward: with overlap on,
    # the reduction hides behind the pipeline cool-down ((p-1)/v micro-batch slots) + that backward;
    # the parameter all-gather behind the first forward and the warm-up
    drain = t_mb_crit * (1 + (p - 1) / v)
    rs_window = np.where(fsdp, (2.0 / 3.0) * m * t_mb_crit, (2.0 / 3.0) * drain)
    ag_window = np.where(fsdp, m * t_mb_crit, (1.0 / 3.0) * drain)
    ogr, opg = np.asarray(overlap_grad_reduce, dtype=bool), np.asarray(overlap_param_gather, dtype=bool) | fsdp
    t_rs_x = (np.maximum(t_rs - rs_window, 0.0) if ogr else t_rs) if ogr.ndim == 0 else np.where(ogr, np.maximum(t_rs - rs_window, 0.0), t_rs)
    t_ag_x = (np.maximum(t_ag - ag_window, 0.0) if opg else t_ag) if opg.ndim == 0 else np.where(opg, np.maximum(t_ag - ag_window, 0.0), t_ag)
    t_dp = t_rs + t_ag
    t_dp_exposed = t_rs_x + t_ag_x
    optimizer_params = np.where(zero_stage >= 1, dense_gpu / shard_dense + expert_gpu / shard_expert, dense_gpu + expert_gpu)
    t_optimizer = OPTIMIZER_BYTES_PER_PARAM * optimizer_params / mem_bw

    t_before_straggle = t_pipeline + t_dp_exposed + t_optimizer
    straggle = 1 + _f(e.straggler_sigma) * np.sqrt(2 * np.log(np.maximum(gpus, 1.0)))
    step_time = t_before_straggle * straggle

    # ---------------------------------------------------------------- factor chain (ratios of growing totals)
    mb_p = m / p
    if any_moe:
        sum_c = n_dense * c_dense + n_moe * c_moe
        sum_mem = n_dense * mem_dense + n_moe * mem_moe
        sum_host = n_dense * host_dense + n_moe * host_moe
        sum_tp = n_dense * tp_dense_x + n_moe * tp_moe_x
    else:
        sum_c, sum_mem, sum_host, sum_tp = L * c_dense, L * mem_dense, L * host_dense, L * tp_dense_x
    t_c0 = mb_p * (stack * sum_c + t_logits_gemm)
    t_c = mb_p * (sum_c + t_logits_gemm / stack)
    t_d = t_c0 + mb_p * (sum_mem + t_logits_mem)
    t_d2 = t_d + mb_p * sum_host
    t_e1 = t_d2 + mb_p * sum_tp
    t_e2 = t_e1 + mb_p * L * t_cp_exposed
    t_e3 = t_e2 + mb_p * n_moe * t_ep_exposed
    t_e3s = t_e3 + (t_c - t_c0)                   # the stack multiplier's share of the mean stage time
    t_f = m * t_mb_crit
    t_g = m * (t_mb_crit + t_p2p)
    t_h = t_pipeline
    t_i = t_h + t_dp_exposed
    t_j = t_i + t_optimizer
    stack_factor = t_e3 / t_e3s
    factors = {
        "recompute": t_model / t_hardware,
        "gemm_efficiency": t_hardware / t_c0,        # includes the causal half fused attention skips
        "memory_bound_ops": t_c0 / t_d,
        "host_overhead": t_d / t_d2,
        "exposed_tp": t_d2 / t_e1,
        "exposed_cp": t_e1 / t_e2,
        "exposed_ep": t_e2 / t_e3,
        "pipeline_imbalance": t_e3s / t_f,
        "pipeline_p2p": t_f / t_g,
        "pipeline_bubble": t_g / t_h,
        "exposed_dp": t_h / t_i,
        "optimizer": t_i / t_j,
        "software_stack": stack_factor,
        "stragglers": 1 / straggle,
    }

    # ---------------------------------------------------------------- memory per GPU (bytes)
    fp8p = np.asarray(fp8_params, dtype=bool) & is_fp8
    w_bytes = np.where(fp8p, FP8_PARAM_BYTES, WEIGHT_BYTES + np.where(is_fp8, FP8_WEIGHT_COPY_BYTES, 0.0))
    params_gpu = dense_gpu + expert_gpu
    sharded_params = dense_gpu / shard_dense + expert_gpu / shard_expert
    def state_of(z):
        if z <= 0:
            return (w_bytes + GRAD_BYTES + OPTIMIZER_STATE_BYTES) * params_gpu
        if z == 1:
            return (w_bytes + GRAD_BYTES) * params_gpu + OPTIMIZER_STATE_BYTES * sharded_params
        if z == 2:
            return w_bytes * params_gpu + (GRAD_BYTES + OPTIMIZER_STATE_BYTES) * sharded_params
        return ((w_bytes + GRAD_BYTES + OPTIMIZER_STATE_BYTES) * sharded_params
                + 2 * w_bytes * np.maximum(dense_layer_p, moe_dense_p + expert_layer))     # FSDP: 2 gathered layers

    if zero_stage.ndim == 0:
        state = state_of(int(zero_stage))
    else:
        state = np.select([zero_stage <= 0, zero_stage == 1, zero_stage == 2], [state_of(0), state_of(1), state_of(2)], state_of(3))
    in_flight = np.where(single, 1.0, np.minimum(m, p))
    ifac = np.where(v > 1, 1 + (p - 1) / (p * v), np.where(dual, (p + 1) / p, 1.0))
    stage_first = (dense_first * act_dense + (lf - dense_first) * act_moe) if any_moe else lf * act_dense
    keep = 1 - offload if np.any(offload > 0) else 1.0
    act_first = stage_first * in_flight * ifac * keep + work
    # non-interleaved 1F1B: stage i holds p - i micro-batches, so a full second stage behind a short
    # first one can bind; interleaved: the first-stage formula of Korthikanti 2022 Sec. 4.2.3
    second = (p > 2) & (v == 1)
    act_second = np.where(second, lm * act_moe * np.minimum(m, p - 1) * ifac * keep + work, 0.0) if np.any(second) else 0.0
    logits_bytes = n * V / t * 4.0 * 2                    # fp32 logits and their gradient
    act_last = np.where(single, 0.0, ll * act_moe * (np.where(dual, 2.0, 1.0) if np.any(dual) else 1.0) * keep + work) + logits_bytes
    activation_bytes = np.where(single, act_first + logits_bytes, np.maximum(np.maximum(act_first, act_last), act_second))
    memory_bytes = state + activation_bytes
    capacity = _f(hbm_gb) * 1e9 * _f(e.hbm_usable_fraction)

    mfu = t_model / step_time
    tflops = mfu * peak / 1e12
    return {
        "step_time_s": step_time,
        "tokens_per_s": tokens_step / step_time,
        "tokens_per_s_per_gpu": tokens_step / (step_time * gpus),
        "mfu": mfu,
        "mfu_causal": mf_token_causal * tokens_step / (gpus * peak) / step_time,
        "hfu": t_hardware / step_time,
        "tflops_per_gpu": tflops,
        "tflops_per_gpu_causal": tflops * mf_token_causal / mf_token,
        "memory_gb_per_gpu": memory_bytes / 1e9,
        "weights_optimizer_gb_per_gpu": state / 1e9,
        "activations_gb_per_gpu": activation_bytes / 1e9,
        "hbm_capacity_gb": capacity / 1e9 + 0 * memory_bytes,
        "fits_in_memory": memory_bytes <= capacity,
        "micro_batches": m,
        "bubble_fraction": bubble,
        "model_flops_per_token": mf_token,
        "model_flops_per_token_causal": mf_token_causal,
        "hardware_flops_per_token": hf_token,
        "tp_comm_s_per_step": mb_p * (n_dense * (t_tp_attn + t_tp_dense) + n_moe * (t_tp_attn + t_tp_moe)),
        "ep_comm_s_per_step": mb_p * n_moe * t_ep,
        "dp_comm_s_per_step": t_dp,
        "factors": factors,
    }
