"""The ``inference`` scenario section: what each parameter may be, its sourced defaults, and
MLPerf's named latency targets.

Defaults live in ``data/parameters/inference.yaml`` (every number sourced or labelled
``assumption``); :data:`PARAMETERS` declares unit, bounds (each with a physical upper bound) and
meaning. :data:`SLO_PRESETS` holds the MLPerf Inference latency limits per benchmark.
"""
from __future__ import annotations

import math
from functools import lru_cache

from analysis.catalog import read_yaml
from analysis.errors import InputError, shown
from analysis.params import Spec, parse_param
from analysis.paths import PARAMETER_DIR

# Bytes per stored value of a weight or KV-cache element. NVFP4 stores 4-bit values plus one FP8 (E4M3)
# scale per block of 16 values (and one FP32 scale per tensor, negligible): 0.5 + 1/16 = 0.5625 bytes
# (NVIDIA, "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference", technical blog, 2025-06).
PRECISION_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp4": 0.5625}
WEIGHT_PRECISIONS = ("bf16", "fp8", "fp4")
KV_PRECISIONS = ("bf16", "fp8")
ATTENTION_TYPES = ("gqa", "mla")
SERVING_MODES = ("aggregated", "disaggregated")
PREFILL_ROUTERS = ("pooled", "round_robin")   # one queue for all prefill servers, or each server in turn
SCHEDULERS = ("max_util", "no_evict")   # TensorRT-LLM batch_scheduler_policy (the names of NVIDIA's MLPerf harness)

#: MLPerf Inference latency limits (99th percentile TTFT and TPOT, seconds) per benchmark and
#: scenario, from mlcommons/inference ``loadgen/mlperf.conf`` (``<model>.Server.ttft_latency`` /
#: ``tpot_latency`` in ms; ``*.Server.target_latency_percentile = 99``). The interactive
#: category runs the Server scenario with the ``<model>-interactive`` limits. Offline has none.
SLO_PRESETS: dict[str, dict[str, tuple[float, float]]] = {
    "llama2-70b": {"offline": (math.inf, math.inf), "server": (2.0, 0.200), "interactive": (0.450, 0.040)},
    "llama3.1-405b": {"offline": (math.inf, math.inf), "server": (6.0, 0.175), "interactive": (4.5, 0.080)},
    "deepseek-r1": {"offline": (math.inf, math.inf), "server": (2.0, 0.080), "interactive": (1.5, 0.015)},
    "llama3.1-8b": {"offline": (math.inf, math.inf), "server": (2.0, 0.100), "interactive": (0.5, 0.030)},
    "mixtral-8x7b": {"offline": (math.inf, math.inf), "server": (2.0, 0.200)},
}
SLO_SOURCE = ("mlcommons/inference loadgen/mlperf.conf: <model>.Server.ttft_latency / tpot_latency (ms), "
              "99th percentile (*.Server.target_latency_percentile = 99); interactive = <model>-interactive limits")
SCENARIOS = ("offline", "server", "interactive")


def slo_preset(scenario: str, benchmark: str = "llama2-70b") -> dict:
    """``{"max_ttft_ms", "max_tpot_ms"}`` of an MLPerf scenario (inf for offline), see :data:`SLO_PRESETS`."""
    table = SLO_PRESETS.get(benchmark)
    if table is None:
        raise InputError(f"benchmark: {shown(benchmark)} has no MLPerf latency preset; use one of {', '.join(SLO_PRESETS)}")
    if scenario not in table:
        raise InputError(f"scenario: {shown(scenario)} is not an MLPerf scenario of {benchmark}; use one of {', '.join(table)}")
    ttft, tpot = table[scenario]
    return {"max_ttft_ms": ttft * 1e3, "max_tpot_ms": tpot * 1e3}


PARAMETERS: dict[str, Spec] = {
    "total_params_b": Spec("billion parameters", "served model: all parameters (all experts)", min=0, min_inclusive=False, max=100_000),
    "active_params_b": Spec("billion parameters", "served model: parameters used per token", min=0, min_inclusive=False, max=100_000),
    "layers": Spec("layers", "served model: transformer layers", min=1, integer=True, max=1000),
    "hidden": Spec("-", "served model: hidden size (= heads x head_dim)", min=1, max=200_000),
    "heads": Spec("heads", "served model: query heads", min=1, max=4096),
    "kv_heads": Spec("heads", "served model: key/value heads (grouped-query attention)", min=1, max=4096),
    "attention": Spec("-", "KV cache layout: gqa (K and V per KV head) or mla (one compressed latent per layer)", choices=ATTENTION_TYPES),
    "mla_kv_dim": Spec("values per token per layer", "MLA latent width cached per token and layer (DeepSeek-V3: 512 + 64 RoPE)", min=1, max=65_536),
    "experts_per_token": Spec("experts", "routed experts each token visits (sets the expert-parallel all-to-all volume)", min=0, max=256),
    "weight_precision": Spec("-", "weights and GEMMs (fp4 falls back to fp8 on GPUs without FP4)", choices=WEIGHT_PRECISIONS),
    "kv_precision": Spec("-", "KV-cache elements", choices=KV_PRECISIONS),
    "input_tokens": Spec("tokens", "mean prompt length per request", min=1, max=10_000_000),
    "output_tokens": Spec("tokens", "mean generated tokens per request", min=1, max=10_000_000),
    "cache_hit_rate": Spec("-", "share of prompt tokens whose KV comes from the prefix cache (not recomputed)", min=0, max=0.99),
    "max_batch_per_gpu": Spec("requests", "scheduler limit on requests in flight per GPU of a replica", min=1, max=100_000),
    "max_tpot_ms": Spec("ms", "target 99th-percentile time per output token (latency target)", min=0, min_inclusive=False, max=1_000_000),
    "max_ttft_ms": Spec("ms", "target 99th-percentile time to first token (latency target)", min=0, min_inclusive=False, max=10_000_000),
    "scheduler": Spec("-", "KV-cache admission: max_util allocates blocks as tokens are generated (a request holds its prompt and half its output on average; TensorRT-LLM MAX_UTILIZATION, vLLM), no_evict reserves the whole sequence", choices=SCHEDULERS),
    "serving_mode": Spec("-", "aggregated (chunked prefill interleaved with decode) or disaggregated prefill/decode pools", choices=SERVING_MODES),
    "spec_tokens": Spec("tokens", "draft tokens proposed per decode step (0: no speculative decoding)", min=0, max=16, integer=True),
    "spec_acceptance": Spec("-", "probability that each draft token is accepted", min=0, max=0.99),
    "comm_overlap": Spec("-", "share of communication hidden behind compute (two-micro-batch overlap)", min=0, max=1),
    "prefill_router_replicas": Spec("replicas", "prefill servers one router balances: the TTFT queue is M/M/c over them (1: each replica queues its own prompts, M/M/1)", min=1, integer=True, max=4096),
    "prefill_router": Spec("-", "how that router assigns prompts: pooled (one queue, the next free server takes the next prompt: M/M/c) or round_robin (each server in turn, its own queue: E_c/M/1)", choices=PREFILL_ROUTERS),
    "max_gpus_per_replica": Spec("GPUs", "largest replica considered (decode expert-parallel degree for MoE)", min=1, integer=True, max=4096),
    "kv_memory_fraction": Spec("-", "share of HBM left after weights and reserve that holds KV cache", min=0, min_inclusive=False, max=1),
    "reserved_gb_per_gpu": Spec("GB", "HBM kept for activations, workspace and runtime", min=0, max=1000),
    "compute_efficiency": Spec("-", "fraction of the dense peak at the serving precision reached (calibrated)", min=0, min_inclusive=False, max=1),
    "bandwidth_efficiency": Spec("-", "fraction of nominal HBM bandwidth reached (calibrated)", min=0, min_inclusive=False, max=1),
    "latency_tail_factor": Spec("-", "99th percentile over mean of the time per output token (measured: MLPerf loadgen logs of server and interactive runs)", min=1, max=10),
    "moe_efficiency": Spec("-", "fraction of the roofline speed reached by expert layers (grouped GEMMs, dispatch/combine over NVLink; calibrated)", min=0, min_inclusive=False, max=1),
    "scaleout_all_to_all_efficiency": Spec("-", "share of the scale-out NIC bandwidth an expert-parallel all-to-all reaches across nodes", min=0, min_inclusive=False, max=1),
    "attention_efficiency": Spec("-", "fraction of the attention roofline (tensor cores and softmax exponentials, at the KV-cache precision) reached by attention kernels (calibrated)", min=0, min_inclusive=False, max=1),
    "fp4_weight_read_efficiency": Spec("-", "share of the decode HBM bandwidth NVFP4 GEMMs reach while memory-bound (weight reads; calibrated on the Blackwell MLPerf rows)", min=0, min_inclusive=False, max=1),
    "fp4_efficiency": Spec("-", "NVFP4 GEMM speed as a fraction of the FP4 dense peak relative to FP8 (block scales, non-FP4 ops; calibrated)", min=0, min_inclusive=False, max=1),
    "software_factor": Spec("-", "speed of the serving stack's kernels and scheduler relative to MLPerf v4.1's TensorRT-LLM: multiplies the compute efficiency (capped at the peak; calibrated per MLPerf round, v5.1 sharing v5.0's; the fleet runs the latest round with FP8 rows)", min=1, max=2),
    "load_factor": Spec("-", "mean demand as a share of serving capacity", min=0, min_inclusive=False, max=1),
    "lease_usd_per_gpu_hour": Spec("USD/GPU-h", "price the lessee pays per GPU-hour", min=0, min_inclusive=False, max=1000),
}


def validate_section(values: dict, cluster=None) -> None:
    """Cross-checks of the ``inference`` section (one line per failure)."""
    if values["active_params_b"] > values["total_params_b"]:
        raise InputError(f"inference.active_params_b: {values['active_params_b']:g} exceeds total_params_b "
                         f"{values['total_params_b']:g}; active parameters are a subset of all parameters")
    if values["kv_heads"] > values["heads"]:
        raise InputError(f"inference.kv_heads: {values['kv_heads']:g} exceeds heads {values['heads']:g}; "
                         "key/value heads are at most the query heads")


def default_values() -> dict:
    """Central values of the sourced ``inference`` defaults (data/parameters/inference.yaml)."""
    return {k: p.value for k, p in _defaults().items()}


@lru_cache(maxsize=1)
def _defaults() -> dict:
    # Read this section's file directly (not via analysis.scenario.defaults, which needs every section's file).
    path = PARAMETER_DIR / "inference.yaml"
    doc = read_yaml(path)
    missing = set(PARAMETERS) - set(doc)
    if missing:
        raise InputError(f"data/parameters/inference.yaml: missing default for {shown(sorted(missing)[0])}")
    return {k: parse_param(f"data/parameters/inference.yaml inference.{k}", doc[k], spec, require_source=spec.choices is None)
            for k, spec in PARAMETERS.items()}
