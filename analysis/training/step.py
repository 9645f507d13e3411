"""Vectorized step-time, MFU and memory model of one homogeneous GPU pool.

:func:`step_model` takes every input as a scalar or numpy array (all broadcast together) and
returns a dict of arrays: step time, MFU, HFU, memory per GPU, feasibility and the named
multiplicative factors from peak to MFU. One call evaluates one run or a million
configurations (the best-configuration search) or Monte Carlo draws of the efficiency
parameters (:class:`Efficiency` fields may be arrays too).

Time of one step on the critical path (per GPU), built up in this order so that each stage
adds time and each factor is the ratio of consecutive totals (all in (0, 1], product = MFU):

1. model FLOPs at the dense peak                        -> ``T_model``  (MFU = T_model / T)
2. + recompute FLOPs (Korthikanti et al. 2022 Sec. 5)   -> factor ``recompute``
3. GEMMs at a shape- and precision-dependent efficiency: ``t = F / (e_max * peak) + kappa *
   bytes(M K + K N + M N) / HBM_bw`` (a roofline sum: the second term is the operand and
   result traffic, so small or skinny GEMMs lose efficiency); fused attention at a fixed
   fraction of the BF16 peak                            -> factor ``gemm_efficiency``
4. + memory-bound ops (norms, residual/dropout, activation functions, softmax if not fused,
   cross-entropy) at HBM bandwidth                       -> factor ``memory_bound_ops``
5. + exposed TP/SP collectives over NVLink (Korthikanti 2022 Sec. 4.2.2: 4 all-gather/
   reduce-scatter per layer forward, 4 backward), CP K/V all-gather, EP all-to-all
                                                        -> ``exposed_tp``, ``exposed_cp``, ``exposed_ep``
6. slowest pipeline stage vs the mean (embedding/logits)-> ``pipeline_imbalance``
7. + exposed pipeline point-to-point                    -> ``pipeline_p2p``
8. pipeline bubble ``(p - 1) / (v m)`` (Narayanan 2021 Sec. 2.2) -> ``pipeline_bubble``
9. + exposed DP reduce-scatter/all-gather over the scale-out network, + optimizer step
                                                        -> ``exposed_dp``, ``optimizer``
10. x synchronisation cost of N GPUs (expected maximum of per-GPU jitter, ``1 + sigma *
    sqrt(2 ln N)``)                                     -> ``stragglers``

MFU and HFU divide by the dense peak of the run's precision (BF16/FP16 dense, or FP8 dense
for ``fp8`` runs, where only the linear-layer GEMMs run in FP8 and attention stays BF16).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from analysis.training.flops import (attention_params_per_layer, expert_params, ffn_matrices,
                                     forward_flops_per_token, hardware_flops_per_token, kv_hidden,
                                     model_flops_per_token, recompute_code)

FACTOR_NAMES = ("recompute", "gemm_efficiency", "memory_bound_ops", "exposed_tp", "exposed_cp", "exposed_ep",
                "pipeline_imbalance", "pipeline_p2p", "pipeline_bubble", "exposed_dp", "optimizer", "stragglers")

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
WEIGHT_BYTES, GRAD_BYTES, OPTIMIZER_STATE_BYTES = 2.0, 4.0, 12.0
# DP traffic per parameter: reduce-scatter of fp32 gradients (4 B) + all-gather of bf16 weights
# (2 B) with a sharded optimizer (Megatron-LM docs); without one, the 16-bit gradients are all-reduced
# (2 x 2 B; Megatron-LM 2021 local DDP).
DP_BYTES_SHARDED, DP_BYTES_ALLREDUCE = 6.0, 4.0
# Activation bytes stored per token per layer (Korthikanti 2022 Table 2, generalised to GQA and
# gated FFNs): replicated part 10 h (layer-norm inputs, projection inputs, dropout masks) and
# split part 2(h + 2 h_kv) + 2 h + (4 or 6) F.
ACT_REPLICATED_PER_H = 10.0
ACT_SCORE_BYTES = 5.0


@dataclass(frozen=True)
class Efficiency:
    """Efficiency parameters of the step model. Fields may be floats or numpy arrays.

    The calibrated ones (fitted once over data/published_runs.csv by
    :func:`analysis.calibration.fit`) and the fixed assumptions are read from
    data/calibration.yaml by :func:`analysis.calibration.load_calibration`.
    """

    gemm_efficiency_max: float = 0.85          # fraction of dense peak a large GEMM reaches (calibrated)
    gemm_shape_kappa: float = 1.0              # weight of operand traffic in GEMM time (calibrated)
    memory_bandwidth_efficiency: float = 0.7   # achieved / nominal HBM bandwidth of memory-bound ops
    straggler_sigma: float = 0.0               # relative per-GPU jitter behind the sqrt(2 ln N) term
    flash_attention_efficiency: float = 0.45   # fused attention: model FLOPs / (time x BF16 peak)
    fp8_gemm_ratio: float = 0.75               # FP8 GEMM efficiency relative to BF16 (vs FP8 peak)
    nvlink_efficiency: float = 0.75            # achieved / unidirectional NVLink bandwidth (bus bw)
    scale_out_efficiency: float = 0.8          # achieved / nominal scale-out bandwidth per GPU
    collective_latency_s: float = 1e-5         # fixed cost per collective call
    tp_overlap: float = 0.6                    # share of TP comm hidden when overlap_tp_comm is on
    cp_overlap: float = 0.0                    # share of CP comm hidden behind attention
    ep_overlap: float = 0.0                    # share of EP all-to-all hidden
    hbm_usable_fraction: float = 1.0           # usable / nominal HBM (nominal "80 GB" is 80 GiB)
    clock_fraction: float = 1.0                # sustained / spec tensor clock of this GPU type (power cap)

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
    m, n, k = _f(m), _f(n), _f(k)
    count = _f(flops) / np.maximum(2 * m * n * k, 1e-30)
    traffic = _f(bytes_per_element) * (m * k + k * n + m * n) * count
    return _f(flops) / (_f(efficiency_max) * _f(peak_flops)) + _f(kappa) * traffic / _f(hbm_bytes_per_s)


def gemm_efficiency(m, n, k, peak_flops, bytes_per_element, hbm_bytes_per_s, efficiency_max, kappa):
    """Fraction of ``peak_flops`` a single GEMM of shape (m, n, k) reaches (see :func:`gemm_time_s`)."""
    flops = 2 * _f(m) * _f(n) * _f(k)
    return flops / (gemm_time_s(flops, m, n, k, peak_flops, bytes_per_element, hbm_bytes_per_s,
                                efficiency_max, kappa) * _f(peak_flops))


def ring_time_s(payload_bytes, ranks, bandwidth_bytes_per_s, latency_s=0.0, allreduce=False):
    """Ring all-gather / reduce-scatter (``(n-1)/n x payload``) or all-reduce (twice that) time
    at the per-GPU bandwidth (Patarasuk & Yuan 2009; NCCL bus-bandwidth convention)."""
    ranks = _f(ranks)
    share = np.where(ranks > 1, (ranks - 1) / ranks, 0.0) * np.where(allreduce, 2.0, 1.0)
    return np.where(ranks > 1, share * _f(payload_bytes) / _f(bandwidth_bytes_per_s) + _f(latency_s), 0.0)


def pipeline_bubble_fraction(pp, micro_batches, interleave=1):
    """Idle time of the (interleaved) 1F1B schedule relative to the ideal: ``(p-1)/(v m)``
    (Narayanan et al. 2021 Sec. 2.2.1-2.2.2). The efficiency factor is ``1 / (1 + bubble)``."""
    return (_f(pp) - 1) / (_f(interleave) * _f(micro_batches))


def step_model(*, layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1, gated_ffn=False,
               tp=1, pp=1, dp=1, cp=1, ep=1, micro_batch=1, global_batch, interleave=1, sequence_parallel=True,
               recompute=0, zero=1, overlap_grad_reduce=True, overlap_tp_comm=False, flash_attention=True,
               embedding_slots=0, tied_embeddings=False,
               peak_tflops, bf16_peak_tflops=None, fp8=False, hbm_tb_s, hbm_gb, nvlink_gb_s_per_gpu,
               nvlink_domain_gpus, scale_out_gb_s_per_gpu, efficiency: Efficiency = Efficiency()) -> dict:
    """Evaluate the step model; every argument may be a numpy array (broadcast together).

    Architecture keys follow the ``mfu`` run schema (DESIGN.md). ``recompute`` is 0 none /
    1 selective / 2 full (or the names). ``peak_tflops`` is the dense peak of the run's
    precision (MFU divides by it); ``bf16_peak_tflops`` is the BF16 dense peak (attention runs
    in BF16 even in FP8 runs; defaults to ``peak_tflops``). ``zero`` is the optimizer sharding
    stage over DP x CP (0 replicated, 1 optimizer state = Megatron distributed optimizer,
    2 + gradients). ``embedding_slots`` is how many layer slots the first and last pipeline
    stage each give to the embedding / output layer (Llama 3 Sec. 3.3.2 removes one layer from
    each). Returns a dict of arrays (see the module docstring for the factor chain).
    """
    e = efficiency
    L, h, a, V, s = _f(layers), _f(hidden), _f(heads), _f(vocab), _f(seq_len)
    F, E, k = _f(ffn_hidden), _f(experts), _f(top_k)
    t, p, d, c, x = _f(tp), _f(pp), _f(dp), _f(cp), _f(ep)
    b, B, v = _f(micro_batch), _f(global_batch), _f(interleave)
    rc = recompute_code(recompute)
    full, sel_or_full = (rc == 2), (rc >= 1)
    sp = np.asarray(sequence_parallel, dtype=bool)
    flash = np.asarray(flash_attention, dtype=bool)
    gated = np.asarray(gated_ffn, dtype=bool)
    is_fp8 = np.asarray(fp8, dtype=bool)
    r = _f(embedding_slots)
    peak = _f(peak_tflops) * 1e12
    peak_bf16 = peak if bf16_peak_tflops is None else _f(bf16_peak_tflops) * 1e12
    clock = _f(e.clock_fraction)                  # sustained tensor throughput / spec (compute kernels only)
    hbm_bw = _f(hbm_tb_s) * 1e12
    mem_bw = hbm_bw * _f(e.memory_bandwidth_efficiency)
    domain = _f(nvlink_domain_gpus)
    nvlink_bw = _f(nvlink_gb_s_per_gpu) * 1e9 / 2 * _f(e.nvlink_efficiency)   # listed figure is bidirectional
    net_bw = _f(scale_out_gb_s_per_gpu) * 1e9 * _f(e.scale_out_efficiency)
    lat = _f(e.collective_latency_s)

    gpus = t * p * d * c
    m = B / (d * b)                               # micro-batches per pipeline per step
    n = b * s / c                                 # tokens per GPU per micro-batch
    hkv = kv_hidden(h, a, kv_heads)
    moe = E > 1

    # ---------------------------------------------------------------- FLOPs
    mf_token = model_flops_per_token(L, h, a, kv_heads, F, V, s, E, k, gated)
    hf_token = hardware_flops_per_token(L, h, a, kv_heads, F, V, s, E, k, gated, rc)
    tokens_step = B * s
    t_model = mf_token * tokens_step / (gpus * peak)
    t_hardware = hf_token * tokens_step / (gpus * peak)

    # ---------------------------------------------------------------- GEMMs of one layer, one micro-batch
    gemm_peak = peak * clock * np.where(is_fp8, _f(e.fp8_gemm_ratio), 1.0)
    gemm_bytes = np.where(is_fp8, 1.0, 2.0)
    e_max, kappa = _f(e.gemm_efficiency_max), _f(e.gemm_shape_kappa)
    passes = 3.0 + full                           # forward + backward (2x) + recompute forward

    def gemm(flops, mm, nn, kk):
        return gemm_time_s(flops, mm, nn, kk, gemm_peak, gemm_bytes, hbm_bw, e_max, kappa)

    n_qkv = (h + 2 * hkv) / t
    t_qkv = gemm(2 * n * h * n_qkv, n, n_qkv, h)
    t_out = gemm(2 * n * h * h / t, n, h, h / t)
    tokens_per_expert = np.maximum(x * n * k / E, 1.0)
    up_width = (ffn_matrices(gated) - 1) * F / t
    t_up = gemm(2 * n * k * h * up_width, tokens_per_expert, up_width, h)
    t_down = gemm(2 * n * k * F / t * h, tokens_per_expert, h, F / t)
    t_router = np.where(moe, gemm(2 * n * h * E, n, E, h), 0.0)
    t_layer_gemm = passes * (t_qkv + t_out + t_up + t_down + t_router)

    # attention core: fused (FlashAttention) at a fixed fraction of the BF16 peak, or unfused
    # batched GEMMs (QK^T: s/c x s x d_head; PV: s/c x d_head x s) plus the softmax traffic
    core_fwd = 4 * b * (s / c) * s * h / t        # forward FLOPs per GPU per micro-batch
    core_passes = 3.0 + sel_or_full
    d_head = h / a
    heads_local = b * a / t
    t_core_flash = core_passes * core_fwd / (_f(e.flash_attention_efficiency) * clock * peak_bf16)
    qk = gemm_time_s(core_fwd / 2, s / c, s, d_head, clock * peak_bf16, 2.0, hbm_bw, e_max, kappa)
    pv = gemm_time_s(core_fwd / 2, s / c, d_head, s, clock * peak_bf16, 2.0, hbm_bw, e_max, kappa)
    softmax_bytes = SOFTMAX_BYTES_PER_SCORE * heads_local * (s / c) * s
    t_core_unfused_gemm = core_passes * (qk + pv)
    t_core_unfused_mem = (1 + BACKWARD_TRAFFIC_RATIO + sel_or_full) * softmax_bytes / mem_bw
    t_layer_core = np.where(flash, t_core_flash, t_core_unfused_gemm)
    t_layer_core_mem = np.where(flash, 0.0, t_core_unfused_mem)

    # memory-bound element-wise ops (forward + 1.5x backward traffic; +1x forward with full recompute)
    rep_div = np.where(sp, t, 1.0)
    elementwise_fwd = n * (ELEMENTWISE_BYTES_REPLICATED_PER_H * h / rep_div
                           + np.where(gated, ACTIVATION_BYTES_PER_F[True], ACTIVATION_BYTES_PER_F[False]) * k * F / t)
    t_layer_mem = (1 + BACKWARD_TRAFFIC_RATIO + full) * elementwise_fwd / mem_bw + t_layer_core_mem

    # logits layer + cross-entropy (last stage), no recompute
    t_logits_gemm = 3 * gemm(2 * n * h * V / t, n, V / t, h)
    t_logits_mem = 4.0 * n * V / t * 4 / mem_bw           # fp32 logits: write, read (fwd); read, write (bwd)

    # ---------------------------------------------------------------- communication per layer per micro-batch
    tp_link = np.where(t <= domain, nvlink_bw, net_bw)
    act_bytes = 2.0 * n * h                       # one bf16 activation tensor of the micro-batch
    tp_calls = 4 * (2 + full)                     # 2 AG + 2 RS (or 2 AR) forward, same backward, + recompute
    # AG/RS of the full activation each move (t-1)/t of it; an all-reduce moves twice that, and
    # without SP there are half as many calls: same volume (Korthikanti 2022 Sec. 4.2.2)
    t_tp = np.where(t > 1, tp_calls * (ring_time_s(act_bytes, t, tp_link) + lat), 0.0)
    t_tp_exposed = t_tp * (1 - np.where(np.asarray(overlap_tp_comm, dtype=bool), _f(e.tp_overlap), 0.0))

    cp_link = np.where(t * c <= domain, nvlink_bw, net_bw)
    kv_bytes = 2.0 * 2 * b * s * hkv / t          # K and V of the whole sequence, bf16
    t_cp = np.where(c > 1, (2 + full + 1) * (ring_time_s(kv_bytes, c, cp_link) + lat), 0.0)  # AG fwd, AG+RS bwd, AG recompute
    t_cp_exposed = t_cp * (1 - _f(e.cp_overlap))

    ep_link = np.where(t * x <= domain, nvlink_bw, net_bw)
    a2a_bytes = 2.0 * n * k * h / t               # routed token copies leaving a GPU, bf16
    a2a_calls = 2 * (3 + full)                    # dispatch + combine; fwd, bwd (2x), recompute
    t_ep = np.where(moe & (x > 1), a2a_calls * (np.where(x > 1, (x - 1) / x, 0.0) * a2a_bytes / ep_link + lat), 0.0)
    t_ep_exposed = t_ep * (1 - _f(e.ep_overlap))

    # ---------------------------------------------------------------- pipeline stages
    t_layer_compute = t_layer_gemm + t_layer_core
    t_layer_total = t_layer_compute + t_layer_mem + t_tp_exposed + t_cp_exposed + t_ep_exposed
    t_logits = t_logits_gemm + t_logits_mem
    slots = (L + 2 * r) / p                       # layer slots per stage
    single = p == 1
    mid = slots * t_layer_total
    first = (slots - r) * t_layer_total
    last = (slots - r) * t_layer_total + t_logits
    t_mb_crit = np.where(single, L * t_layer_total + t_logits,
                         np.maximum(np.where(p > 2, mid, 0.0), np.maximum(first, last)))
    t_mb_mean = (L * t_layer_total + t_logits) / p
    p2p_link = np.where(t * c * p <= domain, nvlink_bw, net_bw)
    p2p_bytes = act_bytes / np.where(sp | (t > 1), t, 1.0)   # scatter/gather (Narayanan 2021 Sec. 4.1)
    t_p2p = np.where(single, 0.0, 2 * v * (p2p_bytes / p2p_link + lat))
    bubble = pipeline_bubble_fraction(p, m, v)
    t_pipeline = (m + (p - 1) / v) * (t_mb_crit + t_p2p)

    # ---------------------------------------------------------------- parameters per GPU, DP and optimizer
    attn_p = attention_params_per_layer(h, a, kv_heads)
    router_p = np.where(moe, h * E, 0.0)
    ffn_p = expert_params(h, F, gated)
    dense_layer = (attn_p + router_p + np.where(moe, 0.0, ffn_p)) / t
    expert_layer = np.where(moe, ffn_p * E / x / t, 0.0)
    embed = V * h / t
    out_layer = np.where(np.asarray(tied_embeddings, dtype=bool), 0.0, V * h / t)
    layers_first = np.where(single, L, slots - r)
    dense_first = layers_first * dense_layer + embed + np.where(single, out_layer, 0.0)
    dense_mid = slots * dense_layer
    dense_last = (slots - r) * dense_layer + out_layer
    dense_gpu = np.where(single, dense_first, np.maximum(np.maximum(dense_first, dense_last), np.where(p > 2, dense_mid, 0.0)))
    expert_gpu = np.where(single, L, slots) * expert_layer
    zero_stage = np.asarray(zero)
    shard_dense = d * c
    shard_expert = np.maximum(d * c / x, 1.0)

    dp_bytes_per_param = np.where(zero_stage >= 1, DP_BYTES_SHARDED, DP_BYTES_ALLREDUCE)
    dp_link = np.where(t * c * d <= domain, nvlink_bw, net_bw)
    t_dp = (ring_time_s(dp_bytes_per_param * dense_gpu, shard_dense, dp_link)
            + ring_time_s(dp_bytes_per_param * expert_gpu, shard_expert, dp_link))
    # gradients of a stage are final only in the last micro-batch's backward: with overlap on,
    # the reduction hides behind the pipeline cool-down ((p-1)/v micro-batch slots) + that backward
    window = (2.0 / 3.0) * t_mb_crit * (1 + (p - 1) / v)
    t_dp_exposed = np.where(np.asarray(overlap_grad_reduce, dtype=bool), np.maximum(t_dp - window, 0.0), t_dp)
    optimizer_params = np.where(zero_stage >= 1, dense_gpu / shard_dense + expert_gpu / shard_expert, dense_gpu + expert_gpu)
    t_optimizer = OPTIMIZER_BYTES_PER_PARAM * optimizer_params / mem_bw

    t_before_straggle = t_pipeline + t_dp_exposed + t_optimizer
    straggle = 1 + _f(e.straggler_sigma) * np.sqrt(2 * np.log(np.maximum(gpus, 1.0)))
    step_time = t_before_straggle * straggle

    # ---------------------------------------------------------------- factor chain (ratios of growing totals)
    t_c = m * (L * t_layer_compute + t_logits_gemm) / p
    t_d = t_c + m * (L * t_layer_mem + t_logits_mem) / p
    t_e1 = t_d + m * L * t_tp_exposed / p
    t_e2 = t_e1 + m * L * t_cp_exposed / p
    t_e3 = t_e2 + m * L * t_ep_exposed / p
    t_f = m * t_mb_crit
    t_g = m * (t_mb_crit + t_p2p)
    t_h = t_pipeline
    t_i = t_h + t_dp_exposed
    t_j = t_i + t_optimizer
    factors = {
        "recompute": t_model / t_hardware,
        "gemm_efficiency": t_hardware / t_c,
        "memory_bound_ops": t_c / t_d,
        "exposed_tp": t_d / t_e1,
        "exposed_cp": t_e1 / t_e2,
        "exposed_ep": t_e2 / t_e3,
        "pipeline_imbalance": t_e3 / t_f,
        "pipeline_p2p": t_f / t_g,
        "pipeline_bubble": t_g / t_h,
        "exposed_dp": t_h / t_i,
        "optimizer": t_i / t_j,
        "stragglers": 1 / straggle,
    }

    # ---------------------------------------------------------------- memory per GPU (bytes)
    state_dense = np.select([zero_stage <= 0, zero_stage == 1],
                            [(WEIGHT_BYTES + GRAD_BYTES + OPTIMIZER_STATE_BYTES) * dense_gpu,
                             (WEIGHT_BYTES + GRAD_BYTES) * dense_gpu + OPTIMIZER_STATE_BYTES * dense_gpu / shard_dense],
                            WEIGHT_BYTES * dense_gpu + (GRAD_BYTES + OPTIMIZER_STATE_BYTES) * dense_gpu / shard_dense)
    state_expert = np.select([zero_stage <= 0, zero_stage == 1],
                             [(WEIGHT_BYTES + GRAD_BYTES + OPTIMIZER_STATE_BYTES) * expert_gpu,
                              (WEIGHT_BYTES + GRAD_BYTES) * expert_gpu + OPTIMIZER_STATE_BYTES * expert_gpu / shard_expert],
                             WEIGHT_BYTES * expert_gpu + (GRAD_BYTES + OPTIMIZER_STATE_BYTES) * expert_gpu / shard_expert)
    act_split = 2 * (h + 2 * hkv) + 2 * h + np.where(gated, 6.0, 4.0) * k * F
    scores = np.where(flash | sel_or_full, 0.0, ACT_SCORE_BYTES * a * s)   # per token, before /t
    act_layer_full = n * (ACT_REPLICATED_PER_H * h / rep_div + (act_split + scores) / t)
    act_layer = np.where(full, n * 2 * h / rep_div, act_layer_full)
    in_flight = np.where(single, 1.0, np.minimum(m, p) * np.where(v > 1, 1 + (p - 1) / (p * v), 1.0))
    act_first = layers_first * in_flight * act_layer + np.where(full, act_layer_full, 0.0)
    logits_bytes = n * V / t * 4.0 * 2                    # fp32 logits and their gradient
    act_last = np.where(single, 0.0, (slots - r) * act_layer + np.where(full, act_layer_full, 0.0)) + logits_bytes
    activation_bytes = np.where(single, act_first + logits_bytes, np.maximum(act_first, act_last))
    memory_bytes = state_dense + state_expert + activation_bytes
    capacity = _f(hbm_gb) * 1e9 * _f(e.hbm_usable_fraction)

    mfu = t_model / step_time
    return {
        "step_time_s": step_time,
        "tokens_per_s": tokens_step / step_time,
        "mfu": mfu,
        "hfu": t_hardware / step_time,
        "tflops_per_gpu": mfu * peak / 1e12,
        "memory_gb_per_gpu": memory_bytes / 1e9,
        "weights_optimizer_gb_per_gpu": (state_dense + state_expert) / 1e9,
        "activations_gb_per_gpu": activation_bytes / 1e9,
        "hbm_capacity_gb": capacity / 1e9 + 0 * memory_bytes,
        "fits_in_memory": memory_bytes <= capacity,
        "micro_batches": m,
        "bubble_fraction": bubble,
        "model_flops_per_token": mf_token,
        "hardware_flops_per_token": hf_token,
        "tp_comm_s_per_step": m * L * t_tp / p,
        "dp_comm_s_per_step": t_dp,
        "factors": factors,
    }
