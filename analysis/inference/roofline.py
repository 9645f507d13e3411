"""Serving throughput of one replica under latency targets: a per-kernel roofline.

One **replica** is ``gpus_per_replica`` GPUs of one type holding one copy of the model. A dense
model runs tensor parallel inside the NVLink domain (or over ``tensor_parallel`` GPUs) and pipeline stages
across domains (or for the rest); a
mixture of experts runs **wide expert parallelism** (Megatron-Core / DeepSeek-V3 style: experts
sharded over all GPUs of the replica, attention data parallel), its all-to-all over NVLink when
the replica fits one NVLink domain (8 GPUs on HGX, 72 on GB200 NVL72) and over the scale-out
network otherwise. Requests are served with continuous batching; every decode step produces
``tau`` tokens for each of the ``b`` requests in flight (``tau = 1`` without speculation; with pipeline
stages ``b`` is one micro-batch, see below).

Per-kernel roofline summed over a decode step (LLM-Viewer: Yuan et al. 2024, arXiv 2402.16363, Sec. 3):

* **weights (GEMMs)**: ``max(weight bytes read / (HBM bandwidth x weight_read_efficiency), tokens x 2 x active params
  / peak)``; a mixture of experts reads the experts its batch touches, ``1 - (1 - active/total)^tokens``.
  ``weight_read_efficiency`` is the share of the decode bandwidth that GEMMs reach while memory-bound (1 for FP8 and
  BF16; NVFP4 GEMMs on Blackwell reach less, a calibrated share: MLPerf's loadgen logs put a B200 decode step at a few
  hundred requests at several times its FP4 weight read at full share. The share stands in for all of it: block scales,
  dequantisation, launches without CUDA graphs; in proportion to the weights read it fits better than a fixed time per step).
* **attention**: ``max(b x KV bytes per token x context / HBM bandwidth, tokens x 4 x layers x d_attn x
  context / peak)``. GQA caches ``2 x layers x kv_heads x head_dim`` values per token (Ainslie et al.
  2023, arXiv 2305.13245) and ``d_attn = hidden``; MLA caches one latent of ``mla_kv_dim`` values per
  layer (DeepSeek-V2, arXiv 2405.04434, Sec. 2.1: 512 + 64 RoPE) and attends in the absorbed form,
  ``d_attn = heads x mla_kv_dim``.
* **communication**: dense: two tensor-parallel all-reduces per layer (Megatron-LM, Shoeybi et al.
  2019, Sec. 3); MoE: dispatch (FP8) and combine (BF16) of each token to ``experts_per_token`` experts
  per layer, at most 4 nodes per token across the scale-out network (node-limited routing, DeepSeek-V3,
  arXiv 2412.19437, Sec. 2.1.2); ``comm_overlap`` of it hidden behind compute (two micro-batches,
  ibid. Sec. 3.4); plus a fixed latency per collective. Inside the NVLink domain the all-to-all runs at the expert
  layers' calibrated share ``moe_efficiency`` (the MLPerf DeepSeek-R1 rows' all-to-all never leaves NVLink, so that
  is all they measure); across nodes the NICs bind, at ``scaleout_all_to_all_efficiency`` of their bandwidth (DeepEP's
  kernels reach 39-58 GB/s of a 400 Gb/s NIC's ~50, deepseek-ai/DeepEP README). The overlap has a price: each of the two micro-batches runs
  every layer, so a decode step streams the weights twice (each read touching the experts of half the batch),
  the cost that makes dual-batch overlap lose at small batches (vLLM's dual-batch overlap, ``vllm/v1/worker/gpu/
  ubatch_utils.py``, runs the model on two micro-batches whose all-to-all overlaps the other's compute and is used above a
  per-step token threshold; DeepSeek's decode runs it at large per-GPU batches, open-infra-index Day 6).
  ``comm_overlap = 0``: one micro-batch.
* **speculative decoding**: ``spec_tokens = k`` drafts verified per step, each accepted with
  probability ``a``: ``tau = (1 - a^(k+1)) / (1 - a)`` tokens per step (Leviathan et al. 2023, arXiv
  2211.17192, eq. 1) for ``k + 1`` tokens of compute per request.
* **prefill** is compute-bound: ``new x 2 x active + 2 x layers x hidden x E[input^2 - cached^2]`` FLOPs with
  ``new = input x (1 - cache_hit_rate)`` prompt tokens not found in the prefix cache. Causal attention is quadratic in
  each prompt's own length, so its mean cost is set by the **second moment** of the prompt lengths,
  ``E[n^2] = mean^2 x (1 + cv^2)`` (``input_tokens_cv``; at most ``mean x max_input_tokens``), not by the square of the
  mean: a long-context mix (Llama 3.1 405B: MLPerf prompts up to 20k tokens) pays about twice the attention of
  equal-mean prompts.
* **attention kernels** are a roofline of their own: per score (one query-key pair of one head) ``4 x head_dim`` FLOPs
  on the tensor cores (``Q K^T`` and ``P V``) and one softmax exponential on the special-function units (MUFU, 16 per
  clock per SM on Ampere, Hopper and Blackwell, while dense BF16 MMA does 2,048 / 4,096 / 8,192 FLOPs per clock per SM:
  Zadouri et al. 2026, FlashAttention-4, Sec. 2; Blackwell Ultra doubles the exponential rate, NVIDIA "Inside Blackwell
  Ultra", 2025-08). At head_dim 128 Hopper FP8 attention is balanced between the two and Blackwell FP8 attention is
  bound by the exponential, which Blackwell kernels relieve by computing a share of the exponentials as polynomials
  on the FMA units (FlashAttention-4's sm_100 forward: 25% at FP8, 12.5% at BF16, :data:`EXP_EMULATED_SHARE`): a B200
  runs FP8 attention ~1.8x an H100 (1.4x on the MUFU alone) where its FP8 GEMMs run 2.3x. The
  kernels reach a share ``attention_efficiency`` (calibrated) of that roofline, below GEMMs' share: FlashAttention-3's
  best H100 figures (Shah et al. 2024, arXiv 2407.08608: 740 TFLOP/s FP16, ~1.2 PFLOP/s FP8, at head_dim 256) are 0.77 and
  0.68 of it, serving kernels (paged KV, chunked context, causal masks) less. Attention FLOPs (prefill and MLA decode) run
  on the KV cache's precision. With NVFP4 weights only the GEMMs run at the FP4 peak (NVFP4 recipes quantize the linear
  layers; the KV cache is quantized separately, FP8 in the MLPerf submissions here), so the FP4 gain shrinks where
  attention is a large share of the work (long prompts, MLA decode).
* **pipeline stages** (``tensor_parallel`` below the replica size, e.g. NVIDIA's MLPerf v5.0 H100 Llama 2 70B config
  ``H100_SXM_80GB_PP2x4``: tensor_parallelism 1, pipeline_parallelism 2): ``tp = tensor_parallel``, ``pp = g / tp``;
  the all-reduces run over ``tp`` GPUs only (none at ``tp = 1``) and a stage boundary sends one activation per token
  (over NVLink inside the domain). TensorRT-LLM runs ``pp`` micro-batches in flight, each of up to ``max_batch``
  requests (``numMicroBatches`` = pipeline parallelism, ``maxNumSequences = maxBatchSize x pp``:
  NVIDIA/TensorRT-LLM cpp/tensorrt_llm/batch_manager/trtGptModel.h and trtGptModelInflightBatching.cpp), each stage
  working on its own. A stage reads its ``1/pp`` of the weights at ``tp`` GPUs' bandwidth, the time the whole replica
  takes at ``g`` GPUs' bandwidth; so with ``b`` the micro-batch, throughput is that of a ``g``-GPU replica at batch
  ``b``, while a token crosses every stage (TPOT and TTFT are ``pp`` stage times) and ``pp x b`` requests hold KV
  cache. Pipeline stages trade latency for all-reduce-free layers.
* **GEMM + all-reduce fusion** (``gemm_allreduce``; TensorRT-LLM's ``gemm_allreduce_plugin``, set in NVIDIA's MLPerf
  Llama 3.1 405B configs): the row-parallel GEMMs (attention output and MLP down projections, a share
  :data:`ROW_PARALLEL_SHARE` of a layer's GEMM work) reduce their output tiles in the NVSwitch as they are written
  (multimem load-reduce and multicast store, ``kernels/cutlass_kernels/allreduce_gemm/communication/
  sm90_allreduce_nvls_warpspecialized.hpp``): the data crosses each GPU's link once each way instead of a ring's
  ``2 (n - 1) / n`` times, while the GEMM runs (:func:`smooth_roof` of the two). Without it the all-reduces sit between
  the GEMMs on the critical path.
* **token budget** (``max_num_tokens``, TensorRT-LLM's runtime limit of tokens per iteration): each iteration runs every
  decode request and fills the rest with prefill chunks; requests finish at ``b tau / output`` per iteration and
  prompts are prefilled at ``(budget - b verify) / new`` per iteration, so the budget caps a micro-batch at
  ``budget / (verify + new tau / output)``, and a prompt takes ``new / (budget - b verify)`` iterations (each with the
  decode step) to its first token.
* **attention data parallelism under latency targets** (MoE replicas, aggregated): attention runs data parallel, one
  rank per GPU, experts expert parallel across all ranks, and every rank joins every layer's all-to-all, so all ranks
  advance in lock step (SGLang ``prepare_mlp_sync_batch``: ranks without work run idle batches; TensorRT-LLM
  ``AttentionDpConfig.enable_balance`` / ``batching_wait_iters`` exist to wait until every rank has a prompt). A prompt is
  prefilled by the one rank that holds its request: its rank-local share ``phi = 4 x layers x hidden^2 / active`` (the
  attention projections, Megatron-LM's ``4 h^2`` per layer; expert FFNs stay spread over all ranks) takes ``g`` times
  longer on 1 of ``g`` GPUs while the group waits, so a prefill occupies the replica ``phi x g + 1 - phi`` times its
  balanced time. Offline queues hold a prompt for every rank (balanced, factor 1); under Poisson arrivals
  (server, interactive) prompts reach the ranks one at a time. Disaggregated serving prefills elsewhere (factor 1).
  The stall lengthens the cycle (so it costs throughput and TPOT); the TTFT queue keeps the balanced service time
  (each rank prefills its own prompts, concurrently with the others): an upper bound on the stall at high load,
  where prompts on different ranks overlap, and a lower bound on one prompt's TTFT.

Scheduling. **Aggregated** (chunked prefill, Sarathi-Serve, Agrawal et al. 2024, arXiv 2403.02310):
each request's prompt is prefilled between decode steps, so over one request's life the replica spends
``cycle = output / tau x step(b) + b x prefill``; TPOT = ``cycle / output``. **Disaggregated**
(DistServe, Zhong et al. 2024, arXiv 2401.09670): prefill runs on its own GPUs, TPOT = ``step / tau``;
each request costs decode GPU-seconds plus prefill GPU-seconds, and its KV cache crosses to the decode replica,
over NVLink when both replicas fit in one NVLink domain (an NVL72 rack) and over the scale-out network otherwise. A prefill replica has its own parallel degree (its ``prefill_gpus_per_replica``
GPUs: tensor parallel inside the NVLink domain for a dense model, experts spread over all of them for a MoE,
so its all-reduces or all-to-alls are those of its own size, not the decode replica's); aggregated serving
prefills on the replica itself, whatever pool size is passed.

Latency targets are 99th percentiles. The batch is the largest ``b`` with ``b <= KV-cache capacity``
(``scheduler``: TensorRT-LLM's ``max_util``, the default of NVIDIA's MLPerf harness, and vLLM allocate KV blocks as
tokens are generated, so a request holds on average its prompt and half its output; ``no_evict``, TensorRT-LLM's
GUARANTEED_NO_EVICT, reserves the whole sequence at admission: the mean output, or ``max_output_tokens``), ``b <=
max_batch``, the token budget, ``tail x TPOT(b) <= max_tpot_ms`` (``latency_tail_factor`` = p99 / mean TPOT, measured by
MLPerf's loadgen: :mod:`analysis.inference.loadgen`) and a TTFT floor ``stages x (prefill + chunks x step) <= max_ttft_ms`` for
all but 1% of prompts; all grow with ``b``, so a vectorized
bisection finds it. TTFT also waits in a queue: requests arrive as a Poisson stream (MLPerf's Server
scenario) at prefill servers busy a share ``rho`` of the time, ``prefill_queue_servers`` of them behind one
router (:func:`prefill_queue`: ``prefill_router`` ``pooled``, one queue, M/M/c; ``round_robin``, each server in turn
with its own queue, E_c/M/1; 1, the default: each replica queues its own prompts, M/M/1; the MLPerf calibration reads a
system's replicas as fed in turn by its one harness). A batch held at its KV-cache or scheduler cap also
queues arrivals for a free slot (an M/M/c queue of ``stages x cap`` slots whose service time is a request's life);
the largest load whose p99 TTFT meets the target caps it (an aggregated replica then runs below full load, so KV-bound
serving under a TTFT target delivers less than offline; a disaggregated prefill pool is sized with that headroom). That
p99 is one of the whole TTFT, read over the prompt lengths (:func:`prompt_length_nodes`: a prompt's own floor, linear in
its length and quadratic in its attention) and both waits together (:func:`ttft_exceedance`), not the mean prompt's
floor plus each wait's own p99: a long-context mix (MLPerf's Llama 3.1 405B prompts, up to 20k tokens around a
9.4k mean) meets its TTFT target at a lower load than its mean prompt would. A router over many prefill replicas lets each run busier at the same p99 TTFT: at 14
replicas at 70% load a prompt waits at the 99th percentile 0.65 prefill times in one pooled queue, 7.7 fed in turn and
14.2 with a Poisson share of its own.
Offline has no target and no queue. All peaks are **dense** (no 2:4 sparsity) at the serving precision;
attention runs at the FP8 peak (times the attention-kernel share above) when the GEMMs run FP4.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import betainc, betaincinv, gammainc, gammaincinv, gammaln, pdtr

ACTIVATION_BYTES = 2.0       # BF16 activations (all-reduce, combine)
DISPATCH_BYTES = 1.0         # FP8 dispatch of tokens to experts (DeepSeek-V3, arXiv 2412.19437, Sec. 3.3)
NODE_LIMIT = 4               # at most 4 nodes per token across the scale-out network (ibid. Sec. 2.1.2)
COLLECTIVE_LATENCY_NVLINK_S = 10e-6    # assumption: small-message collective latency inside an NVLink domain
COLLECTIVE_LATENCY_SCALEOUT_S = 25e-6  # assumption: the same across RDMA scale-out (one more switch hop, NIC)
# Softmax exponentials per dense BF16 tensor FLOP, per architecture: 16 MUFU ops per clock per SM against 2,048 (Ampere),
# 4,096 (Hopper) and 8,192 (Blackwell) dense BF16 MMA FLOPs per clock per SM (Zadouri et al. 2026, FlashAttention-4,
# Sec. 2: "the exponential unit stayed at 16 ops/clock/SM" from Hopper to B200); per GPU the exponential rate is the
# dense BF16 peak times this share. Blackwell Ultra (GB300) doubles the SFU exponential throughput for attention
# (NVIDIA technical blog "Inside NVIDIA Blackwell Ultra", 2025-08-22: 2x attention-layer acceleration).
EXP_PER_BF16_FLOP = {"ampere": 16 / 2048, "hopper": 16 / 4096, "blackwell": 16 / 8192}
EXP_PER_BF16_FLOP_BY_GPU = {"GB300": 32 / 8192}
# Share of the softmax exponentials a Blackwell attention kernel computes on the FMA units (a cubic polynomial) beside
# the MUFU, per attention precision, at head_dim <= 128: FlashAttention-4's causal hd128 forward on sm_100 emulates
# the pairs with ``k % ex2_emu_freq >= freq - ex2_emu_res`` (res 4) of the inner fragments 1-2 of each 128-wide score
# row (4 fragments of 32): freq 8 for FP8 (the FP8 forward is exponential-bound, "+3.4% (4k)..+5.5% (16k) on B200"),
# 16 for BF16, so 25% and 12.5% of the exponentials (Dao-AILab/flash-attention flash_attn/cute/flash_fwd_sm100.py
# _FP8_TUNING_CONFIG / _TUNING_CONFIG, softmax.py apply_exp2_convert; Zadouri et al. 2026, Sec. 3). The MUFU then
# computes the rest, so the exponential rate is MUFU / (1 - share). None on sm_103 (GB300: "fast native exp2",
# emulation off) nor above head_dim 128 (off by default there, as for the MLA rows' absorbed 576-wide heads).
EXP_EMULATED_SHARE = {("blackwell", "fp8"): 0.25, ("blackwell", "bf16"): 0.125}
EXP_EMULATION_OFF_GPUS = ("GB300",)
EXP_EMULATION_MAX_HEAD_DIM = 128
# FlashAttention-3's best H100 figures as a share of the attention roofline (module docstring): the upper end of what
# attention kernels reach, and the default when no calibrated value is passed.
ATTENTION_EFFICIENCY_FA3 = 0.68
# Share of a dense layer's GEMM work in its row-parallel GEMMs (attention output and MLP down projections), the two
# whose outputs are all-reduced: (h^2 + h ffn) / (2 h^2 + 2 h kv + 3 h ffn) for hidden h, SwiGLU width ffn and GQA
# K/V width kv; 0.354 for Llama 3.1 405B (h 16384, ffn 53248, kv 1024) and 0.353 for Llama 2 70B (8192, 28672, 1024),
# Llama 3 herd (arXiv 2407.21783) Table 3 and Touvron et al. 2023 Table 1 / config.json.
ROW_PARALLEL_SHARE = 0.35
BISECTION_STEPS = 18        # bisection in log(batch) and in utilisation: < 0.1% of the batch or of rho
ROOFLINE_P = 2.0             # kernel time = (memory^p + compute^p)^(1/p): a smooth roofline (p -> inf is the sharp max)
BOUNDS = ("memory-bandwidth", "kv-capacity", "compute", "communication", "latency", "prefill-pool", "does-not-fit")
LIMITS = ("kv-capacity", "max-batch", "token-budget", "tpot", "ttft", "does-not-fit", "target-not-met")


def kv_bytes_per_token(layers, hidden, heads, kv_heads, kv_bytes_per_value, mla_kv_dim=0.0):
    """KV-cache bytes one token occupies.

    GQA (``mla_kv_dim == 0``): ``2 (K and V) x layers x kv_heads x head_dim x bytes`` with ``head_dim =
    hidden / heads`` (Ainslie et al. 2023, arXiv 2305.13245, Sec. 2). MLA: ``layers x mla_kv_dim x
    bytes`` (one compressed latent plus the decoupled RoPE key per layer; DeepSeek-V2, arXiv 2405.04434,
    Sec. 2.1.3: 576 values per layer for DeepSeek-V3)."""
    layers = np.asarray(layers, float)
    gqa = 2.0 * layers * kv_heads * (np.asarray(hidden, float) / heads) * kv_bytes_per_value
    mla = layers * np.asarray(mla_kv_dim, float) * kv_bytes_per_value
    return np.where(np.asarray(mla_kv_dim, float) > 0, mla, gqa)


def touched_weight_fraction(params, active_params, tokens):
    """Share of the weights a decode step of ``tokens`` tokens reads: ``1 - (1 - active/total)^tokens``.

    Treats each parameter as used by a token with probability ``active/total`` independently
    (uniform expert routing); 1 for a dense model at any batch >= 1."""
    share = np.clip(np.asarray(active_params, float) / params, 0.0, 1.0)
    return 1.0 - (1.0 - share) ** np.maximum(tokens, 0.0)


def _erlang_b_recursion(a, c):
    """Erlang B by its recursion ``B_k = a B_(k-1) / (k + a B_(k-1))``, ``B_0 = 1`` (cheap for a few servers)."""
    b = np.ones(np.broadcast(a, c).shape)
    for k in range(1, int(np.max(c)) + 1):
        b = np.where(k <= c, a * b / (k + a * b), b)
    return b


def _erlang_b_closed(a, c):
    """Erlang B in closed form: the Poisson(a) probability of ``c`` over that of at most ``c`` (no loop over servers)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, np.exp(c * np.log(np.maximum(a, 1e-300)) - a - gammaln(c + 1.0)) / pdtr(c, a), 0.0)


ERLANG_RECURSION_MAX = 16    # up to this many servers the recursion is the faster of the two equal forms


def _queue_load(rho, servers):
    """``(rho, c)`` as the queue formulas take them: utilisation kept below 1, a whole number of servers >= 1."""
    return np.clip(np.asarray(rho, float), 0.0, 0.999999), np.maximum(np.round(np.asarray(servers, float)), 1.0)


def erlang_c(rho, servers=1):
    """Probability that a request waits, for ``c = servers`` prefill servers behind one queue at utilisation ``rho``
    each, with Poisson arrivals and exponential service (M/M/c, Erlang C; Kleinrock 1975, Queueing Systems I,
    Sec. 3.5): ``C = B / (1 - rho (1 - B))`` with Erlang B of the offered load ``a = c rho``,
    ``B = (a^c / c!) / sum_k<=c a^k / k!``. One server: ``C = rho`` (M/M/1)."""
    rho, c = _queue_load(rho, servers)
    if np.all(c == 1.0):
        return np.broadcast_to(rho, np.broadcast(rho, c).shape).copy()
    erlang_b = _erlang_b_recursion if np.max(c) <= ERLANG_RECURSION_MAX else _erlang_b_closed
    b = erlang_b(c * rho, c)
    return b / (1.0 - rho * (1.0 - b))


def queue_wait_p99(rho, servers=1):
    """99th-percentile queueing delay before a prefill, in units of the prefill time ``S``, for ``servers`` prefill
    servers behind one router at utilisation ``rho`` with Poisson arrivals: ``P(W > t) = C exp(-c (1 - rho) t / S)``, so
    ``t_99 = S ln(100 C) / (c (1 - rho))`` with ``C`` = :func:`erlang_c` (M/M/c; one server: M/M/1, ``C = rho``,
    ``t_99 = S ln(100 rho) / (1 - rho)``; Kleinrock 1975, Queueing Systems I, Sec. 3.2 and 3.5). Zero when fewer than 1% wait."""
    rho, c = _queue_load(rho, servers)
    wait = erlang_c(rho, c)
    with np.errstate(divide="ignore"):
        return np.where(wait > 0.01, np.log(np.maximum(100.0 * wait, 1.0)) / (c * (1.0 - rho)), 0.0)


def queue_wait_mean(rho, servers=1):
    """Mean queueing delay before a prefill in units of the prefill time: ``C / (c (1 - rho))`` (M/M/c; one server:
    ``rho / (1 - rho)``)."""
    rho, c = _queue_load(rho, servers)
    return erlang_c(rho, c) / (c * (1.0 - rho))


ROUND_ROBIN_BISECTION_STEPS = 40    # the waiting probability to ~1e-12


def round_robin_wait_share(rho, servers=1):
    """Probability that a prompt waits when a router hands prompts to ``c = servers`` prefill servers in turn, each
    busy a share ``rho`` of the time: a server receives every c-th arrival of a Poisson stream (Erlang-c interarrival
    times) and serves exponentially, an E_c/M/1 queue. As in every GI/M/1 queue (Kleinrock 1975, Queueing Systems I,
    Sec. 6.4) a prompt waits with probability ``sigma`` and, if it waits, an exponential time of mean ``S / (1 -
    sigma)``, with ``sigma`` the root in (0, 1) of ``sigma = A*(mu (1 - sigma)) = (c rho / (c rho + 1 - sigma))^c``
    (the Laplace transform of the interarrival time; found by bisection, the right side exceeding ``sigma`` below the
    root). One server: ``sigma = rho`` (M/M/1); many: the D/M/1 root of ``sigma = exp(-(1 - sigma) / rho)``."""
    rho, c = _queue_load(rho, servers)
    shape = np.broadcast(rho, c).shape
    lo, hi = np.zeros(shape), np.ones(shape)
    for _ in range(ROUND_ROBIN_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        above = (c * rho / (c * rho + 1.0 - mid)) ** c > mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return lo


def prefill_queue(rho, servers=1, router="pooled"):
    """The prefill queue's wait as :func:`wait_exceedance` takes it: ``(share of prompts that wait, their mean wait in
    prefill times)``, for ``servers`` prefill servers busy a share ``rho`` of the time behind one router (Poisson
    arrivals, exponential prefill times). ``router`` ``"pooled"``: one queue, the next free server takes the next
    prompt (M/M/c: :func:`erlang_c`, mean ``1 / (c (1 - rho))``); ``"round_robin"``: each server in turn, its own queue
    (E_c/M/1: :func:`round_robin_wait_share`, mean ``1 / (1 - sigma)``). Both are M/M/1 at one server."""
    rho, c = _queue_load(rho, servers)
    turn = np.asarray(router) == "round_robin"
    pooled = erlang_c(rho, c)
    sigma = round_robin_wait_share(rho, c) if np.any(turn) else pooled
    share = np.where(turn, sigma, pooled)
    return share, np.where(turn, 1.0 / (1.0 - sigma), 1.0 / (c * (1.0 - rho)))


PROMPT_NODES = 8             # quadrature nodes over the prompt-length distribution for the TTFT tail
TTFT_QUANTILE = 0.99         # latency targets are 99th percentiles (MLPerf Inference rules, Server and Interactive)


def prompt_length_nodes(mean_tokens, cv, max_tokens=np.inf, nodes: int = PROMPT_NODES):
    """Prompt lengths as multiples of their mean, and their probabilities: a quadrature over the prompt-length
    distribution whose intervals narrow towards the long prompts (probability edges ``1 - (1 - j / nodes)^3``, so the
    1% tail a p99 TTFT target reads is resolved), each node at its interval's conditional mean, so the nodes keep the
    mean exactly.

    The distribution has the given mean and ``E[n^2] / mean^2 = min(1 + cv^2, max / mean)`` (the second moment the
    prefill's attention uses): a Beta distribution on ``[0, max_tokens]`` (the two-point limit, short prompts and
    prompts at the cap, at the largest second moment a cap allows), a Gamma distribution without a cap, and every
    node at the mean when ``cv = 0``. A Beta(a, b) variable's partial mean over ``[x0, x1]`` is its mean times
    ``I(x1; a+1, b) - I(x0; a+1, b)``; a Gamma(k)'s is ``k (P(k+1, x1) - P(k+1, x0))`` (regularized incomplete beta and
    gamma functions). Returns ``(ratio, weights)``, ``ratio`` of the inputs' broadcast shape plus one trailing axis of
    ``nodes``."""
    if not np.any(np.asarray(cv, float) > 0):
        return np.ones(np.shape(np.broadcast(mean_tokens, cv, max_tokens)) + (1,)), np.ones(1)
    edges = 1.0 - (1.0 - np.arange(nodes + 1) / nodes) ** 3
    weights = np.diff(edges)
    mean = np.expand_dims(np.asarray(mean_tokens, float), -1)
    cv = np.expand_dims(np.asarray(cv, float), -1)
    cap = np.expand_dims(np.maximum(np.asarray(max_tokens, float), np.asarray(mean_tokens, float)), -1)
    capped = np.isfinite(cap)
    second = np.minimum(1.0 + cv ** 2, cap / mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(capped, mean / cap, 0.5)
        nu = np.maximum(mu * (1.0 - mu) / np.maximum(mu ** 2 * (second - 1.0), 1e-12) - 1.0, 0.02)
        a, b = mu * nu, (1.0 - mu) * nu
        x = betaincinv(a, b, edges)                                        # quantiles on [0, 1] at the edges
        beta = np.clip(np.diff(betainc(a + 1.0, b, x), axis=-1) * mu / weights, x[..., :-1], x[..., 1:]) / mu
        k = 1.0 / np.maximum(cv ** 2, 1e-12)
        y = gammaincinv(k, edges)                                          # Gamma(k, 1) quantiles at the edges
        gamma = np.clip(np.diff(gammainc(k + 1.0, y), axis=-1) * k / weights, y[..., :-1], y[..., 1:]) / k
    # Each node stays inside its interval: where the quantiles round to the cap (a near two-point distribution) the
    # partial means lose their digits, and the interval's bounds hold the node.
    ratio = np.where(cv > 0, np.where(capped, beta, gamma), 1.0)
    return ratio, weights


def wait_exceedance(t_s, wait_share_1, mean_wait_1_s, wait_share_2=0.0, mean_wait_2_s=1.0):
    """``P(W1 + W2 > t)`` for two independent queue waits, each zero with probability ``1 - C`` and exponential with
    mean ``theta`` otherwise (an M/M/c wait: ``C`` = :func:`erlang_c`, ``theta = S / (c (1 - rho))``; Kleinrock 1975,
    Sec. 3.5); both waiting, the sum is hypoexponential. 1 for ``t < 0``."""
    t = np.maximum(np.asarray(t_s, float), 0.0)
    c1, c2 = np.asarray(wait_share_1, float), np.asarray(wait_share_2, float)
    th1 = np.maximum(np.asarray(mean_wait_1_s, float), 1e-12)
    th2 = np.maximum(np.asarray(mean_wait_2_s, float), 1e-12)
    e1, e2 = np.exp(-t / th1), np.exp(-t / th2)
    close = np.abs(th1 - th2) <= 1e-6 * np.maximum(th1, th2)
    with np.errstate(divide="ignore", invalid="ignore"):
        both = np.where(close, (1.0 + t / th1) * e1, (th1 * e1 - th2 * e2) / np.where(close, 1.0, th1 - th2))
    p = c1 * (1.0 - c2) * e1 + c2 * (1.0 - c1) * e2 + c1 * c2 * both
    return np.where(np.asarray(t_s, float) < 0, 1.0, p)


def ttft_exceedance(target_s, floor_s, weights, wait_share_1, mean_wait_1_s, wait_share_2=0.0, mean_wait_2_s=1.0):
    """Share of requests whose TTFT exceeds ``target_s``: over the prompt-length nodes (``floor_s`` with a trailing
    node axis, their ``weights`` from :func:`prompt_length_nodes`), the no-queue TTFT of each plus the queue waits
    (:func:`wait_exceedance`)."""
    x = lambda a: np.expand_dims(np.asarray(a, float), -1)
    p = wait_exceedance(x(target_s) - floor_s, x(wait_share_1), x(mean_wait_1_s), x(wait_share_2), x(mean_wait_2_s))
    return np.sum(p * weights, axis=-1)


def ttft_quantile(floor_s, weights, wait_share_1, mean_wait_1_s, wait_share_2=0.0, mean_wait_2_s=1.0,
                  quantile=TTFT_QUANTILE):
    """TTFT at ``quantile`` (default the 99th percentile) of :func:`ttft_exceedance`, by bisection between 0 and the
    longest floor plus three times each waiting queue's own 99th percentile (``theta ln 100``)."""
    waiting = lambda share, theta: np.where(np.asarray(share, float) > 0, np.asarray(theta, float), 0.0)
    hi = np.max(floor_s, axis=-1) + 3.0 * np.log(100.0) * (waiting(wait_share_1, mean_wait_1_s)
                                                           + waiting(wait_share_2, mean_wait_2_s))
    lo = np.zeros(np.shape(hi))
    for _ in range(BISECTION_STEPS + 6):
        mid = 0.5 * (lo + hi)
        over = ttft_exceedance(mid, floor_s, weights, wait_share_1, mean_wait_1_s, wait_share_2, mean_wait_2_s) > 1.0 - quantile
        lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
    return hi


def smooth_roof(a, b):
    """Time of a kernel bound by two resources taking ``a`` and ``b`` seconds alone: ``(a^p + b^p)^(1/p)`` with
    :data:`ROOFLINE_P` (a smooth roofline; p -> inf is the sharp max)."""
    return (a ** ROOFLINE_P + b ** ROOFLINE_P) ** (1.0 / ROOFLINE_P)


def softmax_exp_per_s(bf16_tflops_dense, architecture: str, gpu_id: str = ""):
    """Softmax exponentials per second of one GPU: its dense BF16 peak times :data:`EXP_PER_BF16_FLOP` of its
    architecture (:data:`EXP_PER_BF16_FLOP_BY_GPU` where a GPU differs); ``None`` for an architecture not listed
    (attention then has no exponential limit)."""
    share = EXP_PER_BF16_FLOP_BY_GPU.get(gpu_id, EXP_PER_BF16_FLOP.get(architecture))
    return None if share is None else np.asarray(bf16_tflops_dense, float) * 1e12 * share


def fma_exp_share(architecture: str, precision: str, gpu_id: str = "") -> float:
    """Share of the softmax exponentials an attention kernel of this GPU computes by polynomial on its FMA units at
    ``precision`` (:data:`EXP_EMULATED_SHARE`, FlashAttention-4's sm_100 tuning; 0 where it emulates none)."""
    return 0.0 if gpu_id in EXP_EMULATION_OFF_GPUS else EXP_EMULATED_SHARE.get((architecture, precision), 0.0)


def attention_rate(tensor_flops_s, exp_per_s, head_dim, emulated_share=0.0):
    """Attention FLOP/s of one GPU at full kernel efficiency: a roofline of tensor-core time (``4 x head_dim`` FLOPs per
    score, ``Q K^T`` and ``P V``, at ``tensor_flops_s``) and softmax time (one exponential per score at ``exp_per_s``
    on the MUFU, ``None``: no limit; a share ``emulated_share`` of them on the FMA units instead at head_dim <= 128,
    :data:`EXP_EMULATED_SHARE`, so ``exp_per_s / (1 - share)`` in all), combined like every other kernel
    (:func:`smooth_roof`). Zadouri et al. 2026 (FlashAttention-4), Sec. 2-3."""
    tensor = np.asarray(tensor_flops_s, float)
    if exp_per_s is None:
        return tensor
    head_dim = np.asarray(head_dim, float)
    share = np.where(head_dim <= EXP_EMULATION_MAX_HEAD_DIM, np.asarray(emulated_share, float), 0.0)
    per_score = 4.0 * head_dim
    return per_score / smooth_roof(per_score / tensor, (1.0 - share) / np.asarray(exp_per_s, float))


def pipeline_stages(gpus_per_replica, tensor_parallel=None, nvlink_domain_gpus=8, moe=False):
    """Tensor-parallel degree and pipeline stages of a replica: ``tp = min(g, NVLink domain)`` (or ``min(tensor_parallel,
    g)`` when given) and ``g / tp`` stages for a dense replica; a mixture of experts runs expert parallel over all its
    GPUs, one stage (module docstring, "pipeline stages"). Returns ``(tp, stages)`` as arrays."""
    g = np.asarray(gpus_per_replica, float)
    tp = np.minimum(g, np.asarray(nvlink_domain_gpus, float)) if tensor_parallel is None else np.minimum(np.asarray(tensor_parallel, float), g)
    return tp, np.where(np.asarray(moe, bool), 1.0, g / tp)


def tokens_per_step(spec_tokens, spec_acceptance):
    """Expected tokens per request and decode step with ``k`` draft tokens each accepted with
    probability ``a``: ``(1 - a^(k+1)) / (1 - a)`` (Leviathan et al. 2023, arXiv 2211.17192, eq. 1); 1 if k = 0."""
    k, a = np.asarray(spec_tokens, float), np.clip(np.asarray(spec_acceptance, float), 0.0, 0.999999)
    return np.where(k > 0, (1.0 - a ** (k + 1.0)) / (1.0 - a), 1.0)


@dataclass
class Throughput:
    """Arrays (broadcast shape of the inputs) from :func:`replica_throughput`."""

    tokens_per_s_per_gpu: np.ndarray      # generated (output) tokens per second per GPU (prefill GPUs included)
    tokens_per_s_per_replica: np.ndarray  # per decode replica (with its share of prefill GPUs when disaggregated)
    gpus_per_unit: np.ndarray             # GPUs one replica occupies (decode + its share of prefill GPUs)
    batch: np.ndarray                     # requests in flight per replica
    batch_kv_limit: np.ndarray            # what the KV cache alone would allow
    batch_latency_limit: np.ndarray       # what the latency targets alone would allow (inf: no target)
    bound: np.ndarray                     # one of BOUNDS: what limits the replica
    limit: np.ndarray                     # one of LIMITS: what stops the batch from growing
    decode_bound: np.ndarray              # "memory-bandwidth", "compute" or "communication" for the decode step
    decode_step_s: np.ndarray             # one decode step (all requests advance tau tokens)
    prefill_s_per_request: np.ndarray
    prefill_time_fraction: np.ndarray     # share of replica GPU-time spent on prefill
    tpot_ms: np.ndarray                   # mean time per output token of one request
    ttft_ms: np.ndarray                   # mean time to first token
    tpot_p99_ms: np.ndarray               # tail factor x mean
    ttft_p99_ms: np.ndarray
    weights_gb_per_gpu: np.ndarray
    kv_capacity_gb_per_replica: np.ndarray
    kv_gb_per_request: np.ndarray
    tokens_per_step: np.ndarray
    step_weights_s: np.ndarray
    step_attention_s: np.ndarray
    step_comm_s: np.ndarray
    decode_compute_s: np.ndarray          # decode step if only compute counted (roofline ceiling)
    decode_memory_s: np.ndarray           # decode step if only HBM traffic counted (roofline ceiling)


def replica_throughput(*, params, active_params, layers, hidden, heads, kv_heads, input_tokens, output_tokens,
                       hbm_gb, hbm_tb_s, peak_tflops, gpus_per_replica, weight_bytes_per_param=1.0,
                       kv_bytes_per_value=1.0, compute_efficiency=0.6, bandwidth_efficiency=0.85,
                       kv_memory_fraction=0.9, reserved_gb_per_gpu=5.0, max_batch=np.inf, max_tpot_ms=np.inf,
                       max_ttft_ms=np.inf, latency_tail_factor=1.0, nvlink_gb_s_per_gpu=900.0, nvlink_domain_gpus=8,
                       scale_out_gb_s_per_gpu=50.0, mla_kv_dim=0.0, experts_per_token=0.0, cache_hit_rate=0.0,
                       spec_tokens=0.0, spec_acceptance=0.0, disaggregated=False, prefill_gpus_per_replica=None,
                       comm_overlap=0.0, moe_efficiency=1.0, attention_peak_tflops=None, gemm_peak_factor=1.0,
                       max_output_tokens=None, software_factor=1.0, tensor_parallel=None, input_tokens_cv=0.0,
                       max_input_tokens=np.inf, prefill_queue_servers=1.0, prefill_router="pooled", exp_per_s=None,
                       exp_emulated_share=0.0,
                       attention_efficiency=ATTENTION_EFFICIENCY_FA3, gemm_allreduce=False, max_num_tokens=np.inf,
                       scheduler="max_util", weight_read_efficiency=1.0, scaleout_all_to_all_efficiency=1.0,
                       ttft_at_load=False) -> Throughput:
    """Serving throughput of one homogeneous replica (all arguments broadcast as numpy arrays).

    Units: ``params``/``active_params`` in parameters (not billions), ``hbm_gb`` in GB per GPU,
    ``hbm_tb_s`` in TB/s per GPU, ``peak_tflops`` the **dense** peak per GPU at the serving
    precision, link bandwidths in GB/s per GPU (the NVLink figure is bidirectional; half is used per
    direction), latency targets in ms (99th percentiles). ``attention_peak_tflops`` is the dense peak
    attention runs at (the KV-cache precision; default ``peak_tflops``); ``moe_efficiency`` is the
    fraction of the roofline speed that expert layers (grouped GEMMs, dispatch/combine) reach;
    ``gemm_peak_factor`` scales the GEMM peak alone (the calibrated FP4 efficiency relative to FP8);
    ``max_output_tokens``, when given, is what a ``scheduler`` ``"no_evict"`` reserves per request for its output
    (it cannot evict, so it reserves the output limit, not the mean); ``"max_util"`` (default) holds the prompt and half
    the mean output on average. ``weight_read_efficiency`` scales the bandwidth of weight reads alone (the calibrated
    NVFP4 share when serving FP4). ``scaleout_all_to_all_efficiency`` is the share of the scale-out NIC bandwidth an
    expert-parallel all-to-all reaches across nodes (DeepEP's measured share; the NVLink all-to-all runs at the
    ``moe_efficiency`` of the expert layers instead). ``software_factor``
    multiplies ``compute_efficiency`` (a newer serving stack's faster kernels and scheduling; the
    product is capped at 1, the dense peak). ``tensor_parallel`` (default ``min(gpus_per_replica, NVLink domain)``)
    is the tensor-parallel degree of a dense replica; the rest of its GPUs are pipeline stages (``max_batch`` then limits
    each of their micro-batches, as TensorRT-LLM's). ``gemm_allreduce`` fuses a dense replica's tensor-parallel
    all-reduces into its row-parallel GEMMs (TensorRT-LLM's ``gemm_allreduce_plugin``); ``max_num_tokens`` is the token
    budget of one iteration (TensorRT-LLM's runtime ``max_num_tokens``: decode tokens plus prefill chunks). ``input_tokens_cv``
    and ``max_input_tokens`` describe the spread and the cap of prompt lengths (the prefill's quadratic attention
    term uses their second moment; ``input_tokens`` stays the mean). ``ttft_at_load`` reads an aggregated replica's
    TTFT (mean and p99) with its prefill queue at the batch's full load under Poisson arrivals even without a TTFT
    target, and with no admission queue: the batch is then the mean number of requests in flight, not a cap (MLPerf's
    operating point, the requests a run held on average by Little's law, :func:`analysis.inference.calibration.operating_points`).
    See the module docstring for the equations and their sources.
    """
    f = lambda x: np.asarray(x, float)
    g = f(gpus_per_replica)
    disagg = np.asarray(disaggregated, bool)
    # Aggregated serving prefills on the replica itself: a prefill pool size only counts when disaggregated.
    gp = g if prefill_gpus_per_replica is None else np.where(disagg, f(prefill_gpus_per_replica), g)
    inp, out = f(input_tokens), f(output_tokens)
    params, active = f(params), f(active_params)
    layers, hidden = f(layers), f(hidden)
    hit = np.clip(f(cache_hit_rate), 0.0, 1.0)
    compute_efficiency = np.minimum(f(compute_efficiency) * f(software_factor), 1.0)
    base_peak = f(peak_tflops) * 1e12 * compute_efficiency
    peak = base_peak * f(gemm_peak_factor)
    bw = g * f(hbm_tb_s) * 1e12 * bandwidth_efficiency                    # B/s per replica
    flops, flops_prefill = g * peak, gp * peak                             # FLOP/s per replica
    d_attn = np.where(f(mla_kv_dim) > 0, f(heads) * f(mla_kv_dim), hidden)
    # Attention kernels: their own roofline (tensor cores and softmax exponentials) at their own efficiency, never
    # above the GEMMs'. Peak of the KV-cache precision.
    tensor_peak = (f(peak_tflops) if attention_peak_tflops is None else f(attention_peak_tflops)) * 1e12
    attn_peak = attention_rate(tensor_peak, exp_per_s, d_attn / f(heads), exp_emulated_share) * np.minimum(compute_efficiency, f(attention_efficiency))
    attn_flops = g * attn_peak
    moe_slow = 1.0 / np.where((f(experts_per_token) > 0) & (active < params), f(moe_efficiency), 1.0)
    weight_bytes = params * weight_bytes_per_param
    weights_gb_per_gpu = weight_bytes / g / 1e9
    free_gb = np.maximum(f(hbm_gb) - reserved_gb_per_gpu - weights_gb_per_gpu, 0.0)
    kv_capacity = kv_memory_fraction * free_gb * g * 1e9                  # bytes per replica
    kv_token = kv_bytes_per_token(layers, hidden, heads, kv_heads, kv_bytes_per_value, mla_kv_dim)

    # Communication per token (bandwidth part, replica-wide time) and fixed latency per step.
    moe = (f(experts_per_token) > 0) & (active < params)
    domain = f(nvlink_domain_gpus)
    nvl = f(nvlink_gb_s_per_gpu) / 2 * 1e9                                # B/s per direction
    so = f(scale_out_gb_s_per_gpu) * 1e9
    tp, stages = pipeline_stages(g, tensor_parallel, domain, moe)
    copies = f(experts_per_token) * layers * hidden * (DISPATCH_BYTES + ACTIVATION_BYTES)   # bytes a token sends per step
    node_limited = np.minimum(f(experts_per_token), NODE_LIMIT) / np.maximum(f(experts_per_token), 1.0)

    fused = np.asarray(gemm_allreduce, bool) & ~moe

    def comm_per_token(gpus, tp_degree):
        """Replica-wide communication time per token of a replica of ``gpus`` GPUs (``tp_degree`` of them tensor
        parallel when dense): the decode replica's, or a disaggregated prefill replica's with its own degree. Returns
        the dense all-reduces' share (overlapped with the row-parallel GEMMs when fused) and the rest."""
        pp = gpus / tp_degree
        pp_link = np.where(gpus <= domain, nvl, so)                       # stage-to-stage sends: NVLink inside the domain
        # Ring all-reduce moves 2 (n - 1) / n of the data each way; the fused kernel reduces in the NVSwitch (or reads
        # its one peer at n = 2): the data once (module docstring).
        traffic = np.where(fused, np.where(tp_degree > 1, 1.0, 0.0), 2.0 * (tp_degree - 1) / tp_degree)
        allreduce_token_s = np.where(moe, 0.0, 2.0 * layers / pp * traffic * hidden * ACTIVATION_BYTES / nvl)
        stage_token_s = np.where(pp > 1, hidden * ACTIVATION_BYTES / pp_link, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            inside = np.where(gpus > 1, (np.minimum(gpus, domain) - 1) / (gpus - 1), 0.0)  # share of a token's experts in its domain
        remote = (gpus - 1) / gpus
        # The NVLink all-to-all runs at the expert layers' calibrated share (moe_efficiency, fitted on the MLPerf
        # DeepSeek-R1 rows, whose all-to-all stays inside NVLink); across nodes the NICs bind, at the share of their
        # bandwidth DeepEP measures (scaleout_all_to_all_efficiency), which no MLPerf row exercises.
        ep_token_s = np.maximum(copies * remote * inside / nvl * moe_slow,
                                copies * remote * (1.0 - inside) * node_limited / (so * f(scaleout_all_to_all_efficiency))) / gpus
        # The overlap is DeepSeek-style two-micro-batch overlap of the expert-parallel all-to-all; a dense model's
        # tensor-parallel all-reduces sit between its GEMMs on the critical path unless fused (exposed_allreduce).
        return allreduce_token_s, np.where(moe, (1.0 - f(comm_overlap)) * ep_token_s, stage_token_s)

    allreduce_token_s, comm_token_s = comm_per_token(g, tp)
    pp = g / tp
    # Pipeline stages of a dense replica (an expert-parallel MoE replica has none): TensorRT-LLM runs ``pp``
    # micro-batches of up to ``max_batch`` requests each (numMicroBatches = pipeline parallelism, maxNumSequences =
    # maxBatchSize x pipeline parallelism: cpp/tensorrt_llm/batch_manager/trtGptModel.h and
    # trtGptModelInflightBatching.cpp), each stage on its own micro-batch. ``b`` below is one micro-batch: a token
    # crosses all stages, so TPOT and TTFT are ``stages`` stage times, and ``stages x b`` requests hold KV cache.
    # KV held per request: on-demand blocks (max_util) hold the prompt and, averaged over the request's life, half its
    # output; a no-evict scheduler reserves the whole sequence at admission.
    reserved = out if max_output_tokens is None else np.maximum(f(max_output_tokens), out)
    reserve = np.where(np.asarray(scheduler) == "no_evict", reserved, out / 2.0)
    kv_request = kv_token * (inp + reserve)
    batch_kv = np.floor(kv_capacity / (kv_request * stages))              # per micro-batch (all stages' requests)

    def exposed_allreduce(gemm_s, allreduce_s):
        """All-reduce time left on the critical path: all of it, or with the fused kernel what the row-parallel
        GEMMs (a share :data:`ROW_PARALLEL_SHARE` of the GEMM time) do not hide (:func:`smooth_roof`)."""
        row = ROW_PARALLEL_SHARE * gemm_s
        return np.where(fused, smooth_roof(row, allreduce_s) - row, allreduce_s)
    # A disaggregated prefill replica runs its own parallel layout over its ``gp`` GPUs (tensor parallel inside the
    # NVLink domain, or the given degree when it divides them; experts over all of them): DistServe (arXiv 2401.09670)
    # and DeepSeek (prefill EP32, decode EP144; open-infra-index Day 6) size the two phases' parallelism separately.
    tp_own, stages_own = pipeline_stages(gp, tensor_parallel, domain, moe)
    tp_prefill = np.where(disagg, tp_own, tp)
    allreduce_prefill, comm_prefill = comm_per_token(gp, tp_prefill)
    allreduce_prefill_token_s = np.where(disagg, allreduce_prefill, allreduce_token_s)
    comm_prefill_token_s = np.where(disagg, comm_prefill, comm_token_s)
    stages_prefill = np.where(disagg, stages_own, stages)
    alpha = np.where(g <= domain, COLLECTIVE_LATENCY_NVLINK_S, COLLECTIVE_LATENCY_SCALEOUT_S)
    collectives = np.where(moe, np.where(g > 1, 2.0 * layers, 0.0), np.where(tp > 1, 2.0 * layers / pp, 0.0))
    step_latency_s = collectives * alpha

    tau = tokens_per_step(spec_tokens, spec_acceptance)
    verify = 1.0 + f(spec_tokens)                                          # tokens of compute per request and step
    ctx = inp + out / 2.0                                                  # mean context during decode
    gemm_token_s = 2.0 * active / flops
    attn_mem_request_s = kv_token * ctx / bw
    attn_cmp_token_s = 4.0 * layers * d_attn * ctx / attn_flops
    cap_in = np.maximum(f(max_input_tokens), inp)
    second_moment = np.minimum(1.0 + f(input_tokens_cv) ** 2, cap_in / inp)  # E[n^2] / mean^2 (at most cap / mean)
    new_tokens = inp * (1.0 - hit)
    # Token budget of one iteration (TensorRT-LLM's max_num_tokens): every decode request adds its ``verify`` tokens and
    # chunked prefill fills the rest. In steady state requests finish (b tau / output per iteration) as fast as prompts
    # are prefilled ((budget - b verify) / new tokens), so the budget caps the micro-batch at
    # ``budget / (verify + new x tau / output)``; a disaggregated decode replica spends it on decode tokens alone.
    budget = f(max_num_tokens)
    budget_batch = np.floor(np.where(disagg, budget / verify, budget / (verify + new_tokens * tau / out)))
    cap = np.minimum(np.minimum(batch_kv, max_batch), budget_batch)
    prefill_gemm_s = new_tokens * 2.0 * active / flops_prefill
    prefill_linear_s = (prefill_gemm_s + exposed_allreduce(prefill_gemm_s, new_tokens * allreduce_prefill_token_s)
                        + new_tokens * comm_prefill_token_s)
    prefill_attention_s = 2.0 * layers * hidden * inp ** 2 * second_moment * (1.0 - hit ** 2) / (gp * attn_peak)
    prefill_s = prefill_linear_s + prefill_attention_s
    kv_link = np.where(gp + g <= domain, nvl, so)                         # prefill and decode replica in one domain
    kv_transfer_s = np.where(disagg, kv_token * inp / (gp * kv_link), 0.0)
    # The TTFT tail is read over the prompt lengths (a long prompt's prefill is long, and quadratically so in its
    # attention): ``ratio`` = prompt / mean at each quadrature node.
    ratio, node_weights = prompt_length_nodes(inp, input_tokens_cv, cap_in)
    node = lambda a: np.expand_dims(np.asarray(a, float), -1)
    prefill_nodes_s = node(prefill_linear_s) * ratio + node(prefill_attention_s / second_moment) * ratio ** 2
    # Attention data parallelism (MoE, aggregated, latency targets): a prompt's rank-local layers run on 1 of g GPUs
    # while the expert-parallel group waits (module docstring); offline queues balance the ranks. The stall lengthens
    # the replica's cycle (throughput, TPOT); the TTFT queue keeps the balanced service time (the g ranks prefill
    # their own prompts concurrently).
    targets = np.isfinite(f(max_tpot_ms)) | np.isfinite(f(max_ttft_ms))
    rank_local = np.clip(4.0 * layers * hidden ** 2 / active, 0.0, 1.0)
    unbalanced = moe & (g > 1) & ~disagg & targets
    prefill_wall_s = prefill_s * np.where(unbalanced, rank_local * g + 1.0 - rank_local, 1.0)

    micro = np.where(moe & (f(comm_overlap) > 0), 2.0, 1.0)                # two micro-batches: weights read twice per step

    def parts(b):
        tokens = b * verify
        weights_mem = micro * weight_bytes * touched_weight_fraction(params, active, tokens / micro) / (bw * f(weight_read_efficiency))
        weights = smooth_roof(weights_mem, tokens * gemm_token_s * moe_slow)
        attention = smooth_roof(b * attn_mem_request_s, tokens * attn_cmp_token_s)
        comm = exposed_allreduce(weights, tokens * allreduce_token_s) + tokens * comm_token_s + step_latency_s
        return weights, attention, comm, weights_mem

    tail = f(latency_tail_factor)
    servers = f(prefill_queue_servers)                                     # prefill servers behind one router
    router = np.asarray(prefill_router)                                    # pooled (M/M/c) or round robin (E_c/M/1)
    tpot_target, ttft_target = f(max_tpot_ms) / 1e3, f(max_ttft_ms) / 1e3

    def latencies(b):
        weights, attention, comm, _ = parts(b)
        step = weights + attention + comm
        cycle = out / tau * step + b * prefill_wall_s                      # one stage's time over a request's life
        tpot = stages * np.where(disagg, step / tau, cycle / out)
        # A prompt is prefilled in chunks of what the budget leaves beside the decode tokens, one per iteration, each
        # iteration also running the decode step.
        chunks = np.maximum(np.ceil(new_tokens / np.maximum(budget - b * verify, 1.0)), 1.0)
        base = np.where(disagg, stages_prefill * prefill_s + kv_transfer_s, stages * (prefill_s + chunks * step))  # TTFT, no queue
        return step, cycle, tpot, base

    def floor_nodes(b, step):
        """No-queue TTFT of a prompt at each quadrature node (:func:`prompt_length_nodes`), the decode step ``step``
        running beside each of its chunks."""
        free = node(np.maximum(budget - b * verify, 1.0))
        chunks = np.maximum(np.ceil(node(new_tokens) * ratio / free), 1.0)
        return np.where(node(disagg), node(stages_prefill) * prefill_nodes_s + node(kv_transfer_s) * ratio,
                        node(stages) * (prefill_nodes_s + chunks * node(step)))

    def floor_within(floor_s):
        """Whether at most 1% of prompts miss the TTFT target before any queue."""
        return np.sum((floor_s > node(ttft_target)) * node_weights, axis=-1) <= 1.0 - TTFT_QUANTILE

    def meets(b):
        step, _, tpot, _ = latencies(b)
        return (tail * tpot <= tpot_target) & floor_within(floor_nodes(b, step))

    def waits(rho_prefill, busy, slots, life_s):
        """Both queues' waits as :func:`wait_exceedance` takes them: (share waiting, mean wait if waiting) of the
        prefill queue at utilisation ``rho_prefill`` (:func:`prefill_queue`, its ``router``) and of the admission
        queue (M/M/c) with a share ``busy`` of its ``slots`` taken (service time a request's life)."""
        share, theta = prefill_queue(rho_prefill, servers, router)
        r2, c2 = _queue_load(busy, slots)
        return share, prefill_s * theta, erlang_c(r2, c2), life_s / (c2 * (1.0 - r2))

    def max_load(floor_s, rho_full, life_s, busy_full, slots, top=1.0):
        """Highest share ``x`` of full load, at most ``top``, whose p99 TTFT meets the target (``top`` without one): over
        the prompt lengths (``floor_s``, one per node), the no-queue TTFT plus the prefill queue's wait at utilisation
        ``x rho_full`` plus the wait for a free slot with a share ``x busy_full`` of the ``slots`` taken
        (:func:`ttft_exceedance`). A disaggregated prefill pool's utilisation is the same search with no slot queue
        (``rho_full = 1``, ``busy_full = 0``), up to 0.999."""
        shape = np.shape(floor_s)[:-1]
        if not np.any(np.isfinite(ttft_target)):
            return np.full(shape, top)
        lo, hi = np.zeros(shape), np.full(shape, top)
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            ok = ttft_exceedance(ttft_target, floor_s, node_weights,
                                 *waits(mid * rho_full, mid * busy_full, slots, life_s)) <= 1.0 - TTFT_QUANTILE
            lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
        return np.where(np.isfinite(ttft_target), np.where(floor_within(floor_s), lo, 0.0), top)

    # Largest b meeting the latency targets (all constraints grow with b): bisection in log b.
    hi_cap = np.maximum(np.where(np.isfinite(cap), cap, 1e9), 1.0)
    shape = np.broadcast(hi_cap, tpot_target, ttft_target, tail, prefill_s, gemm_token_s).shape
    lo, hi = np.ones(shape), np.broadcast_to(hi_cap, shape).astype(float)
    ok_lo, ok_hi = meets(lo), meets(hi)
    for _ in range(BISECTION_STEPS):
        mid = np.sqrt(lo * hi)
        ok = meets(mid)
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    latency_batch = np.where(ok_hi, np.inf, np.where(ok_lo, np.floor(lo + 1e-9), 0.0))
    no_target = ~np.isfinite(tpot_target) & ~np.isfinite(ttft_target)
    batch_latency = np.where(no_target, np.inf, np.where(ok_hi, np.inf, latency_batch))
    batch = np.maximum(np.minimum(cap, latency_batch), 0.0)
    batch = np.where(batch_kv >= 1, batch, 0.0)

    weights_s, attn_s, comm_s, weights_mem_s = parts(batch)
    step_s, cycle_s, tpot_s, base_s = latencies(batch)
    # A disaggregated prefill pool is sized to the TTFT target on its own (its prefill queue alone); aggregated
    # replicas take both queues together below.
    floor_s = floor_nodes(batch, step_s)
    rho_max = max_load(floor_s, 1.0, 1.0, 0.0, 1.0, top=0.999) if np.any(disagg) else np.zeros(np.shape(base_s))
    # Admission at a hard cap of requests in flight (the KV cache or the batch limit; the token budget defers prefill
    # chunks and turns no request away) under Poisson arrivals (server, interactive): the stages x cap slots are the
    # servers of an M/M/c queue whose service time is a request's life in the batch (TPOT x output), and a prompt that
    # finds them all taken waits for one before its prefill (Erlang C: with hundreds of slots the wait stays rare up to
    # ~1 - 2/sqrt(slots) of them busy, Halfin and Whitt 1981, Operations Research 29(3)). One arrival rate sets both
    # queues, so the aggregated replica runs at the highest share of full load whose p99 TTFT (base + both waits) meets
    # the target (max_load): KV-bound serving under a TTFT target runs below its offline throughput. A disaggregated
    # system sizes its prefill pool to the target instead (rho_max); offline has no arrivals.
    slot_cap = np.minimum(batch_kv, max_batch)
    queued = np.isfinite(slot_cap) & ~disagg & (batch >= 1)
    slots = stages * np.where(queued, slot_cap, 1.0)
    busy_full = np.where(queued, batch / np.where(queued, slot_cap, 1.0), 0.0)
    life_s = tpot_s * out
    with np.errstate(invalid="ignore", divide="ignore"):
        rho_full = np.where(disagg, 1.0, np.nan_to_num(batch * prefill_s / cycle_s))   # prefill share at full load
        load = np.where(disagg, 1.0, max_load(floor_s, rho_full, life_s, busy_full, slots))
        rho = np.where(disagg, rho_max, load * rho_full)
        ok = (batch >= 1) & (rho > 0)
        decode_gpu_s = g * out / tau * step_s / batch                      # decode GPU-seconds per request
        prefill_gpu_s = np.where(disagg, gp * prefill_s / np.maximum(rho, 1e-9), g * prefill_s)
        request_gpu_s = np.where(disagg, decode_gpu_s + prefill_gpu_s, g * cycle_s / batch / np.maximum(load, 1e-9))
        per_gpu = np.where(ok, out / request_gpu_s, 0.0)
        gpus_per_unit = np.where(disagg, g + np.where(ok, prefill_gpu_s * batch * tau / (out * step_s), 0.0), g)
        prefill_fraction = np.where(ok, np.where(disagg, prefill_gpu_s / request_gpu_s, rho), np.nan)
        # Offline: no arrival process, no queue. At a held load (ttft_at_load) the batch is a mean, not a cap: arrivals
        # queue for prefill, not for a slot.
        at_load = np.asarray(ttft_at_load, bool) & ~disagg
        rho_q = np.where(np.isfinite(ttft_target) | at_load, rho, 0.0)
        busy = np.where(np.isfinite(ttft_target) & ~disagg & ~at_load, load * busy_full, 0.0)
        admission_p99_s = life_s * queue_wait_p99(busy, slots)
        queue_waits = waits(rho_q, busy, slots, life_s)                   # (share waiting, mean if waiting) of each queue
        ttft_s = base_s + queue_waits[0] * queue_waits[1] + queue_waits[2] * queue_waits[3]   # mean waits
        ttft_p99_s = ttft_quantile(floor_s, node_weights, *queue_waits)
        tpot_ms = np.where(ok, tpot_s * 1e3, np.nan)
        ttft_ms = np.where(ok, ttft_s * 1e3, np.nan)
        ttft_p99_ms = np.where(ok, ttft_p99_s * 1e3, np.nan)

    tokens = batch * verify
    decode_compute_s = tokens * (gemm_token_s * moe_slow + attn_cmp_token_s)
    decode_memory_s = weights_mem_s + batch * attn_mem_request_s
    decode_comm_s = comm_s
    decode_bound = np.where((decode_comm_s >= decode_compute_s) & (decode_comm_s >= decode_memory_s), "communication",
                            np.where(decode_compute_s >= decode_memory_s, "compute", "memory-bandwidth"))
    # What stops the batch growing.
    binding_tpot = ~(tail * latencies(batch + 1.0)[2] <= tpot_target)
    limit = np.where(batch_kv < 1, "does-not-fit",
                     np.where(~ok, "target-not-met",
                              np.where((load < 1) & ~disagg & ((admission_p99_s <= 0) | (latency_batch < cap)), "ttft",
                                       np.where(latency_batch < cap, np.where(binding_tpot, "tpot", "ttft"),
                                                np.where(batch_kv <= np.minimum(max_batch, budget_batch), "kv-capacity",
                                                         np.where(max_batch <= budget_batch, "max-batch", "token-budget"))))))
    # What limits the replica: compute when compute time dominates its GPU-time, else the batch limit.
    compute_time = batch * np.where(disagg, 0.0, prefill_s) + out / tau * decode_compute_s
    memory_time = out / tau * decode_memory_s
    comm_time = out / tau * decode_comm_s
    by_limit = np.where(np.isin(limit, ("tpot", "ttft", "target-not-met")), "latency",
                        np.where(limit == "kv-capacity", "kv-capacity", "memory-bandwidth"))
    bound = np.where(limit == "does-not-fit", "does-not-fit",
                     np.where(~ok, "latency",
                              np.where((comm_time > compute_time) & (comm_time > memory_time), "communication",
                                       np.where(compute_time >= memory_time, "compute", by_limit))))
    return Throughput(
        tokens_per_s_per_gpu=per_gpu, tokens_per_s_per_replica=per_gpu * gpus_per_unit, gpus_per_unit=gpus_per_unit,
        batch=stages * batch, batch_kv_limit=stages * batch_kv, batch_latency_limit=stages * batch_latency, bound=bound, limit=limit,
        decode_bound=decode_bound, decode_step_s=step_s, prefill_s_per_request=prefill_s,
        prefill_time_fraction=prefill_fraction, tpot_ms=tpot_ms, ttft_ms=ttft_ms, tpot_p99_ms=tail * tpot_ms,
        ttft_p99_ms=ttft_p99_ms, weights_gb_per_gpu=weights_gb_per_gpu, kv_capacity_gb_per_replica=kv_capacity / 1e9,
        kv_gb_per_request=kv_request / 1e9, tokens_per_step=np.broadcast_to(tau, np.shape(per_gpu)) if np.ndim(tau) else tau,
        step_weights_s=weights_s, step_attention_s=attn_s, step_comm_s=comm_s,
        decode_compute_s=decode_compute_s, decode_memory_s=decode_memory_s)


def fixed_pools(t: Throughput, decode_gpus, decode_replicas, prefill_pool_gpus) -> Throughput:
    """A disaggregated system whose pools are fixed as deployed (``decode_replicas`` decode replicas of ``decode_gpus``
    GPUs, ``prefill_pool_gpus`` prefill GPUs) rather than sized by :func:`replica_throughput` (which gives each decode
    replica the prefill GPUs it needs at the TTFT target, ``gpus_per_unit - decode_gpus``). A smaller prefill pool
    holds the arrival rate to what it serves at that target, a larger one idles: the system delivers
    ``decode_replicas x tokens_per_s_per_replica x min(1, pool / need)`` over all its GPUs (bound ``prefill-pool``
    when the prefill pool limits it)."""
    g, d, pool = (np.asarray(x, float) for x in (decode_gpus, decode_replicas, prefill_pool_gpus))
    need = d * np.maximum(np.asarray(t.gpus_per_unit, float) - g, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(need > pool, pool / need, 1.0)
    per_replica = np.asarray(t.tokens_per_s_per_replica, float) * scale
    gpus = pool + d * g
    return replace(t, tokens_per_s_per_gpu=d * per_replica / gpus, tokens_per_s_per_replica=per_replica,
                   gpus_per_unit=np.broadcast_to(gpus / d, np.shape(per_replica)),
                   bound=np.where(scale < 1.0, "prefill-pool", t.bound))


def usd_per_million_tokens(price_usd_per_gpu_hour, tokens_per_s_per_gpu):
    """Cost of one million tokens at ``price_usd_per_gpu_hour``: ``price / (tokens/s x 3600) x 1e6``."""
    with np.errstate(divide="ignore"):
        return np.asarray(price_usd_per_gpu_hour, float) / (np.asarray(tokens_per_s_per_gpu, float) * 3600.0) * 1e6
