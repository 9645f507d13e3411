"""Inference capacity: serving throughput per GPU type, fleet tokens per day, $ per million tokens.

One **replica** is ``gpus_per_replica`` GPUs of one type holding one copy of the model (tensor
parallel inside the NVLink domain, pipeline stages across domains). Requests are served with
continuous (in-flight) batching: every decode step produces one token for each of the ``batch``
requests in flight, and each new request's prompt is prefilled between decode steps.

Per-kernel roofline, summed over the kernels of a step (the LLM-Viewer method: Yuan et al. 2024,
"LLM Inference Unveiled: Survey and Roofline Model Insights", arXiv 2402.16363, Sec. 3):

* **weights (GEMMs)** of one decode step: ``max(weight bytes read / HBM bandwidth,
  batch x 2 x active params / peak)``. A mixture-of-experts model reads the weights its batch
  touches: ``1 - (1 - active/total)^batch`` of them (uniform routing; equal to 1 for a dense model).
* **attention** of one decode step: ``max(batch x KV bytes per token x mean context / HBM bandwidth,
  batch x 4 x layers x hidden x mean context / peak)``. KV bytes per token are
  ``2 x layers x kv_heads x head_dim x bytes`` (K and V; grouped-query attention, Ainslie et al.
  2023, arXiv 2305.13245).
* **communication**: a tensor-parallel all-reduce of the activations twice per layer inside the
  NVLink domain (Megatron-LM, Shoeybi et al. 2019, Sec. 3) and one activation per token per
  pipeline boundary across domains.
* **prefill** of one request is compute-bound: ``input x 2 x active params + 2 x layers x hidden x
  input^2`` FLOPs (causal attention) at the dense peak of the serving precision.

The batch is the smaller of (i) what the KV cache holds: ``kv_memory_fraction x (HBM - reserved
- weights)`` per GPU over ``KV bytes per token x (input + output)`` per request (each request
reserves its full sequence, TensorRT-LLM's default GUARANTEED_NO_EVICT scheduler), (ii) a
scheduler limit ``max_batch`` and (iii) the largest batch whose mean time per output token
(decode step plus interleaved prefill) meets ``max_tpot_ms``.

Output tokens per second of a replica = ``batch x output / (output x step time + batch x prefill
time)``; MLPerf Inference's Llama 2 70B metric counts generated tokens the same way (samples/s x
tokens per sample). All peaks are **dense** (no 2:4 sparsity) at the serving precision (FP8 dense
on Hopper, FP4 dense on Blackwell when ``precision: fp4``). ``compute_efficiency`` is the
fraction of that dense peak reached, fitted once across the MLPerf systems
(:func:`calibrate`); ``bandwidth_efficiency`` is the fraction of nominal HBM bandwidth reached.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import Cluster, Column, GpuSpec, gpu as gpu_spec, read_yaml, validate_table
from analysis.errors import InputError
from analysis.params import Spec, parse_param
from analysis.paths import DATA_DIR, PARAMETER_DIR, PROJ_ROOT

# Bytes per stored value of a weight or KV-cache element (NVFP4 = 4 bits; scale factors ignored).
PRECISION_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp4": 0.5}
WEIGHT_PRECISIONS = ("bf16", "fp8", "fp4")
KV_PRECISIONS = ("bf16", "fp8")
BOUNDS = ("memory-bandwidth", "kv-capacity", "compute", "latency", "does-not-fit")
ACTIVATION_BYTES = 2.0      # BF16 activations exchanged between tensor-parallel ranks
SECONDS_PER_DAY = 86400.0
REPLICA_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)

PARAMETERS: dict[str, Spec] = {
    "total_params_b": Spec("billion parameters", "served model: all parameters (all experts)", min=0, min_inclusive=False),
    "active_params_b": Spec("billion parameters", "served model: parameters used per token", min=0, min_inclusive=False),
    "layers": Spec("layers", "served model: transformer layers", min=1, integer=True),
    "hidden": Spec("-", "served model: hidden size (= heads x head_dim)", min=1),
    "heads": Spec("heads", "served model: query heads", min=1),
    "kv_heads": Spec("heads", "served model: key/value heads (grouped-query attention)", min=1),
    "weight_precision": Spec("-", "weights and GEMMs (fp4 falls back to fp8 on GPUs without FP4)", choices=WEIGHT_PRECISIONS),
    "kv_precision": Spec("-", "KV-cache elements", choices=KV_PRECISIONS),
    "input_tokens": Spec("tokens", "mean prompt length per request", min=1),
    "output_tokens": Spec("tokens", "mean generated tokens per request", min=1),
    "max_batch": Spec("requests", "scheduler limit on requests in flight per replica", min=1),
    "max_tpot_ms": Spec("ms", "target mean time per output token per request (latency)", min=0, min_inclusive=False),
    "max_gpus_per_replica": Spec("GPUs", "largest replica considered when sizing replicas by memory", min=1, integer=True),
    "kv_memory_fraction": Spec("-", "share of HBM left after weights and reserve that holds KV cache", min=0, min_inclusive=False, max=1),
    "reserved_gb_per_gpu": Spec("GB", "HBM kept for activations, workspace and runtime", min=0),
    "compute_efficiency": Spec("-", "fraction of the dense peak at the serving precision reached (calibrated)", min=0, min_inclusive=False, max=1),
    "bandwidth_efficiency": Spec("-", "fraction of nominal HBM bandwidth reached", min=0, min_inclusive=False, max=1),
    "load_factor": Spec("-", "mean demand as a share of serving capacity", min=0, min_inclusive=False, max=1),
    "lease_usd_per_gpu_hour": Spec("USD/GPU-h", "price the lessee pays per GPU-hour", min=0, min_inclusive=False),
}


def validate_section(values: dict, cluster) -> None:
    """Cross-checks of the ``inference`` section (one line per failure)."""
    if values["active_params_b"] > values["total_params_b"]:
        raise InputError(f"inference.active_params_b: {values['active_params_b']:g} exceeds total_params_b "
                         f"{values['total_params_b']:g}; active parameters are a subset of all parameters")
    if values["kv_heads"] > values["heads"]:
        raise InputError(f"inference.kv_heads: {values['kv_heads']:g} exceeds heads {values['heads']:g}; "
                         "key/value heads are at most the query heads")


# --------------------------------------------------------------------------- core model
def kv_bytes_per_token(layers, hidden, heads, kv_heads, kv_bytes_per_value):
    """KV-cache bytes one token occupies: ``2 (K and V) x layers x kv_heads x head_dim x bytes``
    with ``head_dim = hidden / heads`` (GQA, Ainslie et al. 2023, arXiv 2305.13245, Sec. 2)."""
    return 2.0 * np.asarray(layers, float) * kv_heads * (np.asarray(hidden, float) / heads) * kv_bytes_per_value


def touched_weight_fraction(params, active_params, batch):
    """Share of the weights a decode step of ``batch`` tokens reads: ``1 - (1 - active/total)^batch``.

    Treats each parameter as used by a token with probability ``active/total`` independently
    (uniform expert routing); 1 for a dense model at any batch >= 1."""
    share = np.clip(np.asarray(active_params, float) / params, 0.0, 1.0)
    return 1.0 - (1.0 - share) ** np.maximum(batch, 0.0)


@dataclass
class Throughput:
    """Arrays (broadcast shape of the inputs) from :func:`replica_throughput`."""

    tokens_per_s_per_gpu: np.ndarray      # generated (output) tokens per second per GPU
    tokens_per_s_per_replica: np.ndarray
    batch: np.ndarray                     # requests in flight per replica
    batch_kv_limit: np.ndarray            # what the KV cache alone would allow
    batch_latency_limit: np.ndarray       # what max_tpot_ms alone would allow
    bound: np.ndarray                     # one of BOUNDS
    decode_bound: np.ndarray              # "memory-bandwidth" or "compute" for the decode step
    decode_step_s: np.ndarray             # one decode step (all requests advance one token)
    prefill_s_per_request: np.ndarray
    prefill_time_fraction: np.ndarray     # share of replica time spent on prefill
    tpot_ms: np.ndarray                   # mean time per output token of one request (decode + interleaved prefill)
    weights_gb_per_gpu: np.ndarray
    kv_capacity_gb_per_replica: np.ndarray
    kv_gb_per_request: np.ndarray
    step_weights_s: np.ndarray
    step_attention_s: np.ndarray
    step_comm_s: np.ndarray
    decode_compute_s: np.ndarray          # decode step if only compute counted (roofline ceiling)
    decode_memory_s: np.ndarray           # decode step if only HBM traffic counted (roofline ceiling)


def replica_throughput(*, params, active_params, layers, hidden, heads, kv_heads, input_tokens, output_tokens,
                       hbm_gb, hbm_tb_s, peak_tflops, gpus_per_replica, weight_bytes_per_param=1.0,
                       kv_bytes_per_value=1.0, compute_efficiency=0.6, bandwidth_efficiency=0.85,
                       kv_memory_fraction=0.9, reserved_gb_per_gpu=5.0, max_batch=np.inf, max_tpot_ms=np.inf,
                       nvlink_gb_s_per_gpu=900.0, nvlink_domain_gpus=8, scale_out_gb_s_per_gpu=50.0) -> Throughput:
    """Serving throughput of one homogeneous replica (all arguments broadcast as numpy arrays).

    Units: ``params``/``active_params`` in parameters (not billions), ``hbm_gb`` in GB per GPU,
    ``hbm_tb_s`` in TB/s per GPU, ``peak_tflops`` the **dense** peak per GPU at the serving
    precision, link bandwidths in GB/s per GPU (NVLink figure is bidirectional; half is used per
    direction). See the module docstring for the equations and their sources.
    """
    g = np.asarray(gpus_per_replica, float)
    inp, out = np.asarray(input_tokens, float), np.asarray(output_tokens, float)
    bw = g * np.asarray(hbm_tb_s, float) * 1e12 * bandwidth_efficiency            # B/s per replica
    flops = g * np.asarray(peak_tflops, float) * 1e12 * compute_efficiency        # FLOP/s per replica
    weight_bytes = np.asarray(params, float) * weight_bytes_per_param
    weights_gb_per_gpu = weight_bytes / g / 1e9
    free_gb = np.maximum(np.asarray(hbm_gb, float) - reserved_gb_per_gpu - weights_gb_per_gpu, 0.0)
    kv_capacity = kv_memory_fraction * free_gb * g * 1e9                          # bytes per replica
    kv_token = kv_bytes_per_token(layers, hidden, heads, kv_heads, kv_bytes_per_value)
    kv_request = kv_token * (inp + out)
    batch_kv = np.floor(kv_capacity / kv_request)

    # Tensor parallel inside the NVLink domain, pipeline stages across domains.
    tp = np.minimum(g, nvlink_domain_gpus)
    pp = g / tp
    comm_per_token_s = (2.0 * layers * 2.0 * (tp - 1) / tp * hidden * ACTIVATION_BYTES / (np.asarray(nvlink_gb_s_per_gpu, float) / 2 * 1e9)
                        + (pp - 1) / pp * hidden * ACTIVATION_BYTES / (np.asarray(scale_out_gb_s_per_gpu, float) * 1e9))
    ctx = inp + out / 2.0                                                           # mean context during decode
    attn_per_request_s = np.maximum(kv_token * ctx / bw, 4.0 * layers * hidden * ctx / flops)
    gemm_per_request_s = 2.0 * np.asarray(active_params, float) / flops
    prefill_s = (inp * 2.0 * np.asarray(active_params, float) + 2.0 * layers * hidden * inp ** 2) / flops + inp * comm_per_token_s

    def step_parts(b):
        weights = np.maximum(weight_bytes * touched_weight_fraction(params, active_params, b) / bw, b * gemm_per_request_s)
        return weights, b * attn_per_request_s, b * comm_per_token_s

    # Latency: mean time per output token of one request is f(b) = step(b) + b * prefill / output,
    # increasing in b. For a dense model, step = max(W/bw, b*gemm) + b*(attn + comm): solve f(b) = T.
    tpot_s = np.asarray(max_tpot_ms, float) / 1e3
    slope = attn_per_request_s + comm_per_token_s + prefill_s / out
    weights_floor = np.broadcast_to(weight_bytes / bw, np.broadcast(weight_bytes, bw).shape)
    knee = weights_floor / gemm_per_request_s                                        # batch where GEMMs turn compute-bound
    with np.errstate(invalid="ignore", divide="ignore"):
        below_knee = np.maximum((tpot_s - weights_floor) / slope, 0.0)
        above_knee = tpot_s / (gemm_per_request_s + slope)
        batch_latency = np.floor(np.where(tpot_s <= weights_floor + slope * knee, below_knee, above_knee))
    # (For a mixture of experts fewer weights are read at small batch; the dense bound is conservative.)

    batch = np.minimum(np.minimum(batch_kv, max_batch), batch_latency)
    batch = np.maximum(batch, 0.0)
    weights_s, attn_s, comm_s = step_parts(batch)
    step_s = weights_s + attn_s + comm_s
    cycle_s = out * step_s + batch * prefill_s
    with np.errstate(invalid="ignore", divide="ignore"):
        replica_tps = np.where(batch >= 1, batch * out / cycle_s, 0.0)
        prefill_fraction = np.where(batch >= 1, batch * prefill_s / cycle_s, np.nan)
        tpot_ms = np.where(batch >= 1, cycle_s / out * 1e3, np.nan)

    attn_flops_s = 4.0 * layers * hidden * ctx / flops
    decode_compute_s = batch * (gemm_per_request_s + attn_flops_s)
    decode_memory_s = weight_bytes * touched_weight_fraction(params, active_params, batch) / bw + batch * kv_token * ctx / bw
    decode_bound = np.where(decode_compute_s >= decode_memory_s, "compute", "memory-bandwidth")
    compute_time = batch * prefill_s + out * decode_compute_s
    memory_time = out * decode_memory_s
    limit = np.where(batch_latency < np.minimum(batch_kv, max_batch), "latency",
                     np.where(batch_kv < max_batch, "kv-capacity", "memory-bandwidth"))
    bound = np.where(batch < 1, "does-not-fit", np.where(compute_time >= memory_time, "compute", limit))
    return Throughput(
        tokens_per_s_per_gpu=replica_tps / g, tokens_per_s_per_replica=replica_tps, batch=batch, batch_kv_limit=batch_kv,
        batch_latency_limit=batch_latency, bound=bound, decode_bound=decode_bound, decode_step_s=step_s,
        prefill_s_per_request=prefill_s, prefill_time_fraction=prefill_fraction, tpot_ms=tpot_ms,
        weights_gb_per_gpu=weights_gb_per_gpu, kv_capacity_gb_per_replica=kv_capacity / 1e9,
        kv_gb_per_request=kv_request / 1e9, step_weights_s=weights_s, step_attention_s=attn_s, step_comm_s=comm_s,
        decode_compute_s=decode_compute_s, decode_memory_s=decode_memory_s)


def usd_per_million_tokens(price_usd_per_gpu_hour, tokens_per_s_per_gpu):
    """Cost of one million tokens at ``price_usd_per_gpu_hour``: ``price / (tokens/s x 3600) x 1e6``."""
    with np.errstate(divide="ignore"):
        return np.asarray(price_usd_per_gpu_hour, float) / (np.asarray(tokens_per_s_per_gpu, float) * 3600.0) * 1e6


def api_usd_per_million_output_tokens(input_usd_per_mtok, output_usd_per_mtok, input_tokens, output_tokens):
    """An API bill per million generated tokens including their prompts:
    ``output price + input price x input/output`` (list prices, no batch or cache discounts)."""
    return np.asarray(output_usd_per_mtok, float) + np.asarray(input_usd_per_mtok, float) * np.asarray(input_tokens, float) / output_tokens


def serving_precision(spec: GpuSpec, requested: str) -> str:
    """``requested`` if the GPU has a dense peak for it, else FP8 (FP4 on Hopper falls back)."""
    if requested == "fp4" and not np.isfinite(spec.fp4_tflops_dense):
        return "fp8"
    return requested


def _gpu_kwargs(spec: GpuSpec, precision: str, scale_out_gb_s_per_gpu: float | None = None) -> dict:
    return {"hbm_gb": spec.hbm_gb, "hbm_tb_s": spec.hbm_tb_s, "peak_tflops": spec.peak_tflops(precision),
            "nvlink_gb_s_per_gpu": spec.nvlink_gb_s_per_gpu, "nvlink_domain_gpus": spec.nvlink_domain_gpus,
            "scale_out_gb_s_per_gpu": scale_out_gb_s_per_gpu or spec.scale_out_gb_s_per_gpu}


def _model_kwargs(values: dict) -> dict:
    """Model and serving keyword arguments for :func:`replica_throughput` from an ``inference`` section."""
    return {"params": np.asarray(values["total_params_b"], float) * 1e9,
            "active_params": np.asarray(values["active_params_b"], float) * 1e9,
            "layers": values["layers"], "hidden": values["hidden"], "heads": values["heads"], "kv_heads": values["kv_heads"],
            "input_tokens": values["input_tokens"], "output_tokens": values["output_tokens"],
            "kv_bytes_per_value": PRECISION_BYTES[values["kv_precision"]],
            "compute_efficiency": values["compute_efficiency"], "bandwidth_efficiency": values["bandwidth_efficiency"],
            "kv_memory_fraction": values["kv_memory_fraction"], "reserved_gb_per_gpu": values["reserved_gb_per_gpu"],
            "max_batch": values["max_batch"], "max_tpot_ms": values["max_tpot_ms"]}


def best_replica(spec: GpuSpec, values: dict, scale_out_gb_s_per_gpu: float | None = None) -> tuple[Throughput, np.ndarray, str]:
    """Size replicas by memory: try 1, 2, 4, ... up to ``max_gpus_per_replica`` GPUs and keep the
    size with the most tokens/s per GPU (sizes whose weights do not fit give zero). Returns the
    throughput at the chosen size, the size (array) and the serving precision."""
    precision = serving_precision(spec, values["weight_precision"])
    largest = np.asarray(values["max_gpus_per_replica"], float)
    sizes = np.array([s for s in REPLICA_SIZES if s <= largest.max()], float)
    kwargs = _model_kwargs(values)
    kwargs = {k: (np.asarray(v)[..., None] if not isinstance(v, str) else v) for k, v in kwargs.items()}
    grid = replica_throughput(**kwargs, gpus_per_replica=sizes, weight_bytes_per_param=PRECISION_BYTES[precision],
                              **_gpu_kwargs(spec, precision, scale_out_gb_s_per_gpu))
    allowed = sizes <= largest[..., None]                    # per draw, when the largest size varies
    best = np.argmax(np.where(allowed, grid.tokens_per_s_per_gpu, -1.0), axis=-1)
    pick = lambda a: np.take_along_axis(np.broadcast_to(a, grid.tokens_per_s_per_gpu.shape), best[..., None], axis=-1)[..., 0]
    chosen = Throughput(**{f: pick(getattr(grid, f)) for f in Throughput.__dataclass_fields__})
    return chosen, sizes[best], precision


# --------------------------------------------------------------------------- fleet
@dataclass
class FleetResult:
    """Serving capacity of a cluster, one homogeneous replica type per pool."""

    cluster: str
    pools: pd.DataFrame                      # one row per pool
    tokens_per_s: float                      # generated tokens/s at full load, whole fleet
    tokens_per_day: float                    # served per day at the load factor
    gpus: float
    lease_usd_per_gpu_hour: float
    load_factor: float
    usd_per_million_output_tokens: float     # lease cost / served output tokens (prefill of their prompts included)
    input_tokens: float
    output_tokens: float
    model: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"cluster": self.cluster, "gpus": float(self.gpus), "tokens_per_s": float(self.tokens_per_s),
                "tokens_per_day": float(self.tokens_per_day), "load_factor": float(self.load_factor),
                "lease_usd_per_gpu_hour": float(self.lease_usd_per_gpu_hour),
                "usd_per_million_output_tokens": float(self.usd_per_million_output_tokens),
                "input_tokens": float(self.input_tokens), "output_tokens": float(self.output_tokens),
                "model": {k: (v if isinstance(v, str) else float(v)) for k, v in self.model.items()},
                "pools": [{k: (v if isinstance(v, str) else float(v)) for k, v in row.items()} for row in self.pools.to_dict("records")]}

    def summary(self) -> str:
        lines = [f"Inference capacity of {self.cluster}: {self.gpus:,.0f} GPUs, model {self.model.get('total_params_b', float('nan')):,.0f}B "
                 f"total / {self.model.get('active_params_b', float('nan')):,.0f}B active, requests of {self.input_tokens:,.0f} in + "
                 f"{self.output_tokens:,.0f} out tokens",
                 f"{'pool':8s} {'gpu':6s} {'prec':5s} {'GPUs/rep':>8s} {'replicas':>9s} {'batch':>6s} {'tok/s/GPU':>10s} "
                 f"{'tok/s':>12s} {'$/M out':>8s}  bound"]
        for r in self.pools.itertuples():
            lines.append(f"{r.pool:8s} {r.gpu:6s} {r.precision:5s} {r.gpus_per_replica:8.0f} {r.replicas:9,.0f} {r.batch:6.0f} "
                         f"{r.tokens_per_s_per_gpu:10,.0f} {r.tokens_per_s:12,.0f} {r.usd_per_million_output_tokens:8.2f}  {r.bound}")
        lines.append(f"fleet: {self.tokens_per_s:,.0f} output tokens/s at full load; {self.tokens_per_day:,.3g} per day at load "
                     f"factor {self.load_factor:.2f}; ${self.usd_per_million_output_tokens:.2f} per million output tokens at "
                     f"${self.lease_usd_per_gpu_hour:.2f}/GPU-h")
        return "\n".join(lines)


def fleet_capacity(cluster: Cluster, values: dict) -> FleetResult:
    """Per pool: replicas sized by memory (:func:`best_replica`), replicas = floor(GPUs / size),
    tokens/s = replicas x replica tokens/s. Pools serve independently, so no pool waits for another.
    Cost: ``lease x all GPUs / (fleet tokens/s x load factor)`` (idle GPUs are paid for too)."""
    rows = []
    for pool in cluster.pools:
        thr, size, precision = best_replica(pool.gpu, values, pool.scale_out_gb_s_per_gpu.value)
        size = float(size)
        replicas = math.floor(pool.gpus / size) if thr.tokens_per_s_per_gpu > 0 else 0
        tps = replicas * float(thr.tokens_per_s_per_replica)
        rows.append({"pool": pool.name, "gpu": pool.gpu.id, "gpus": pool.gpus, "precision": precision,
                     "gpus_per_replica": size, "replicas": float(replicas), "batch": float(thr.batch),
                     "tokens_per_s_per_gpu": float(thr.tokens_per_s_per_gpu), "tokens_per_s": tps,
                     "tokens_per_day": tps * SECONDS_PER_DAY * values["load_factor"],
                     "tpot_ms": float(thr.tpot_ms), "prefill_time_fraction": float(thr.prefill_time_fraction),
                     "weights_gb_per_gpu": float(thr.weights_gb_per_gpu), "bound": str(thr.bound),
                     "usd_per_million_output_tokens": float(usd_per_million_tokens(values["lease_usd_per_gpu_hour"],
                                                                                   thr.tokens_per_s_per_gpu * values["load_factor"]))})
    pools = pd.DataFrame(rows)
    total_tps = float(pools["tokens_per_s"].sum())
    gpus = float(pools["gpus"].sum())
    cost = float(usd_per_million_tokens(values["lease_usd_per_gpu_hour"] * gpus, total_tps * values["load_factor"]))
    model = {k: values[k] for k in ("total_params_b", "active_params_b", "layers", "hidden", "heads", "kv_heads",
                                    "weight_precision", "kv_precision", "max_tpot_ms")}
    return FleetResult(cluster.id, pools, total_tps, total_tps * SECONDS_PER_DAY * values["load_factor"], gpus,
                       float(values["lease_usd_per_gpu_hour"]), float(values["load_factor"]), cost,
                       float(values["input_tokens"]), float(values["output_tokens"]), model)


def gpu_table(values: dict, gpu_ids) -> pd.DataFrame:
    """Per GPU type: replica sized by memory, batch, tokens/s per GPU, bound, latency, $ per M output tokens."""
    rows = []
    for gid in gpu_ids:
        spec = gpu_spec(gid)
        t, size, precision = best_replica(spec, values)
        rows.append({"gpu": gid, "precision": precision, "peak_tflops_dense": spec.peak_tflops(precision), "hbm_gb": spec.hbm_gb,
                     "hbm_tb_s": spec.hbm_tb_s, "gpus_per_replica": float(size), "batch": float(t.batch),
                     "batch_kv_limit": float(t.batch_kv_limit), "tokens_per_s_per_gpu": float(t.tokens_per_s_per_gpu),
                     "tpot_ms": float(t.tpot_ms), "prefill_time_fraction": float(t.prefill_time_fraction),
                     "bound": str(t.bound), "decode_bound": str(t.decode_bound),
                     "usd_per_million_output_tokens": float(usd_per_million_tokens(values["lease_usd_per_gpu_hour"],
                                                                                   t.tokens_per_s_per_gpu * values["load_factor"]))})
    return pd.DataFrame(rows)


def batch_vs_context(values: dict, gpu_ids, context_tokens) -> pd.DataFrame:
    """Largest batch the KV cache holds, per GPU type at its memory-sized replica, as the request
    length (input + output, output share as in ``values``) grows; with the resulting tokens/s per GPU."""
    context = np.asarray(context_tokens, float)
    share_out = values["output_tokens"] / (values["input_tokens"] + values["output_tokens"])
    frames = []
    for gid in gpu_ids:
        spec = gpu_spec(gid)
        _, size, precision = best_replica(spec, values)
        kwargs = _model_kwargs(values)
        kwargs.update(input_tokens=context * (1 - share_out), output_tokens=context * share_out)
        t = replica_throughput(**kwargs, gpus_per_replica=float(size), weight_bytes_per_param=PRECISION_BYTES[precision],
                               **_gpu_kwargs(spec, precision))
        frames.append(pd.DataFrame({"gpu": f"{gid} x{size:.0f}", "context_tokens": context, "batch_kv_limit": t.batch_kv_limit,
                                    "batch": t.batch, "tokens_per_s_per_gpu": t.tokens_per_s_per_gpu}))
    return pd.concat(frames, ignore_index=True)


def decode_roofline(values: dict, gpu_ids, batches) -> pd.DataFrame:
    """Decode tokens/s per GPU against batch size (roofline style): achieved, the HBM-bandwidth
    ceiling and the compute ceiling, per GPU type at its memory-sized replica. Batches beyond
    the KV-cache limit are clipped to it (the curve flattens where KV capacity binds)."""
    batch = np.asarray(batches, float)
    frames = []
    for gid in gpu_ids:
        spec = gpu_spec(gid)
        _, size, precision = best_replica(spec, values)
        kwargs = _model_kwargs(values)
        kwargs.update(max_batch=batch, max_tpot_ms=np.inf)
        t = replica_throughput(**kwargs, gpus_per_replica=float(size), weight_bytes_per_param=PRECISION_BYTES[precision],
                               **_gpu_kwargs(spec, precision))
        with np.errstate(divide="ignore", invalid="ignore"):
            frames.append(pd.DataFrame({
                "gpu": f"{gid} x{size:.0f}", "requested_batch": batch, "batch": t.batch,
                "decode_tokens_s_per_gpu": t.batch / t.decode_step_s / size,
                "memory_ceiling_tokens_s_per_gpu": t.batch / t.decode_memory_s / size,
                "compute_ceiling_tokens_s_per_gpu": t.batch / t.decode_compute_s / size,
                "batch_kv_limit": t.batch_kv_limit}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- serving files (CLI)
SERVE_KEYS = {"name", "gpu", "gpus_per_replica", "precision", "kv_precision", "max_batch", "model", "workload",
              "efficiency", "memory", "latency", "source", "notes"}
SERVE_MODEL_KEYS = {"params", "active_params", "layers", "hidden", "heads", "kv_heads", "source"}
SERVE_SPECS = {
    "gpus_per_replica": Spec("GPUs", min=1, max=4096, integer=True),
    "max_batch": Spec("requests", min=1),
    "model.params": Spec("parameters", min=1e6),
    "model.active_params": Spec("parameters", min=1e6),
    "model.layers": Spec("layers", min=1, integer=True),
    "model.hidden": Spec("-", min=1, integer=True),
    "model.heads": Spec("heads", min=1, integer=True),
    "model.kv_heads": Spec("heads", min=1, integer=True),
    "workload.input_tokens": Spec("tokens", min=1),
    "workload.output_tokens": Spec("tokens", min=1),
    "efficiency.compute": Spec("-", min=0, min_inclusive=False, max=1),
    "efficiency.bandwidth": Spec("-", min=0, min_inclusive=False, max=1),
    "memory.kv_fraction": Spec("-", min=0, min_inclusive=False, max=1),
    "memory.reserved_gb_per_gpu": Spec("GB", min=0),
    "latency.max_tpot_ms": Spec("ms", min=0, min_inclusive=False),
}
SUB_KEYS = {"workload": {"input_tokens", "output_tokens", "source"}, "efficiency": {"compute", "bandwidth", "source"},
            "memory": {"kv_fraction", "reserved_gb_per_gpu", "source"}, "latency": {"max_tpot_ms", "source"}}


def _number(path: str, raw):
    """Numbers, or text that reads as one (YAML reads ``70e9`` as text)."""
    if isinstance(raw, str):
        try:
            return float(raw.replace("_", ""))
        except ValueError:
            pass
    return SERVE_SPECS[path].check(path, raw)


def _mapping(doc: dict, key: str, allowed: set[str], required: bool) -> dict:
    raw = doc.get(key)
    if raw is None:
        if required:
            raise InputError(f"{key}: missing; expected a mapping with keys {', '.join(sorted(allowed - {'source'}))}")
        return {}
    if not isinstance(raw, dict):
        raise InputError(f"{key}: {raw!r} is not a mapping; expected keys {', '.join(sorted(allowed - {'source'}))}")
    unknown = set(raw) - allowed
    if unknown:
        raise InputError(f"{key}.{sorted(unknown)[0]}: unknown key; {key} takes {', '.join(sorted(allowed))}")
    return raw


@dataclass
class ServeSpec:
    name: str
    gpu: GpuSpec
    gpus_per_replica: int
    precision: str
    kv_precision: str
    model: dict
    values: dict            # an ``inference``-section-like dict (billions, efficiencies, limits)


def parse_serve(doc: dict, defaults: dict | None = None) -> ServeSpec:
    """Validate a serving YAML mapping (schema in :func:`run_from_file`)."""
    if defaults is None:
        defaults = default_values()
    unknown = set(doc) - SERVE_KEYS
    if unknown:
        raise InputError(f"{sorted(unknown)[0]}: unknown key; a serving file takes {', '.join(sorted(SERVE_KEYS))}")
    if "gpu" not in doc:
        raise InputError("gpu: missing; name a GPU id from data/gpus.csv")
    spec = gpu_spec(str(doc["gpu"]))
    if "gpus_per_replica" not in doc:
        raise InputError("gpus_per_replica: missing; expected an integer >= 1")
    size = int(SERVE_SPECS["gpus_per_replica"].check("gpus_per_replica", doc["gpus_per_replica"]))
    precision = doc.get("precision", "fp8")
    if precision not in WEIGHT_PRECISIONS:
        raise InputError(f"precision: {precision!r} is not allowed; use one of {', '.join(WEIGHT_PRECISIONS)}")
    if not np.isfinite(spec.peak_tflops(precision)):
        raise InputError(f"precision: {spec.id} has no dense {precision} peak in data/gpus.csv; use "
                         + ", ".join(p for p in WEIGHT_PRECISIONS if np.isfinite(spec.peak_tflops(p))))
    kv_precision = doc.get("kv_precision", "bf16" if precision == "bf16" else "fp8")
    if kv_precision not in KV_PRECISIONS:
        raise InputError(f"kv_precision: {kv_precision!r} is not allowed; use one of {', '.join(KV_PRECISIONS)}")
    model_raw = _mapping(doc, "model", SERVE_MODEL_KEYS, required=True)
    model = {}
    for key in ("params", "layers", "hidden", "heads", "kv_heads"):
        if key not in model_raw:
            raise InputError(f"model.{key}: missing; model takes params, active_params (optional), layers, hidden, heads, kv_heads")
        model[key] = _number(f"model.{key}", model_raw[key])
    model["active_params"] = _number("model.active_params", model_raw.get("active_params", model["params"]))
    for key in ("params", "active_params"):
        SERVE_SPECS[f"model.{key}"].check(f"model.{key}", model[key])
    if model["active_params"] > model["params"]:
        raise InputError(f"model.active_params: {model['active_params']:g} exceeds model.params {model['params']:g}; "
                         "active parameters are a subset of all parameters")
    if model["kv_heads"] > model["heads"] or model["heads"] % model["kv_heads"]:
        raise InputError(f"model.kv_heads: {model['kv_heads']:g} must divide model.heads {model['heads']:g}")
    if model["hidden"] % model["heads"]:
        raise InputError(f"model.hidden: {model['hidden']:g} is not a multiple of model.heads {model['heads']:g}")
    workload = _mapping(doc, "workload", SUB_KEYS["workload"], required=True)
    for key in ("input_tokens", "output_tokens"):
        if key not in workload:
            raise InputError(f"workload.{key}: missing; workload takes input_tokens and output_tokens (mean per request)")
    eff = _mapping(doc, "efficiency", SUB_KEYS["efficiency"], required=False)
    mem = _mapping(doc, "memory", SUB_KEYS["memory"], required=False)
    lat = _mapping(doc, "latency", SUB_KEYS["latency"], required=False)
    check = lambda path, raw: SERVE_SPECS[path].check(path, raw)
    values = {
        "total_params_b": model["params"] / 1e9, "active_params_b": model["active_params"] / 1e9,
        "layers": model["layers"], "hidden": model["hidden"], "heads": model["heads"], "kv_heads": model["kv_heads"],
        "weight_precision": precision, "kv_precision": kv_precision,
        "input_tokens": check("workload.input_tokens", workload["input_tokens"]),
        "output_tokens": check("workload.output_tokens", workload["output_tokens"]),
        "max_batch": check("max_batch", doc["max_batch"]) if "max_batch" in doc else np.inf,
        "max_tpot_ms": check("latency.max_tpot_ms", lat["max_tpot_ms"]) if "max_tpot_ms" in lat else np.inf,
        "compute_efficiency": check("efficiency.compute", eff.get("compute", defaults["compute_efficiency"])),
        "bandwidth_efficiency": check("efficiency.bandwidth", eff.get("bandwidth", defaults["bandwidth_efficiency"])),
        "kv_memory_fraction": check("memory.kv_fraction", mem.get("kv_fraction", defaults["kv_memory_fraction"])),
        "reserved_gb_per_gpu": check("memory.reserved_gb_per_gpu", mem.get("reserved_gb_per_gpu", defaults["reserved_gb_per_gpu"])),
    }
    weights_gb_per_gpu = model["params"] * PRECISION_BYTES[precision] / size / 1e9
    if weights_gb_per_gpu + values["reserved_gb_per_gpu"] >= spec.hbm_gb:
        need = math.ceil(model["params"] * PRECISION_BYTES[precision] / 1e9 / (spec.hbm_gb - values["reserved_gb_per_gpu"]) + 1e-9)
        raise InputError(f"gpus_per_replica: {size} x {spec.id} ({spec.hbm_gb:g} GB) cannot hold {weights_gb_per_gpu * size:,.0f} GB "
                         f"of {precision} weights plus {values['reserved_gb_per_gpu']:g} GB reserve per GPU; use at least {need}")
    return ServeSpec(str(doc.get("name", f"{spec.id}-serve")), spec, size, precision, kv_precision, model, values)


def evaluate_serve(serve: ServeSpec, **overrides) -> Throughput:
    """:func:`replica_throughput` for a parsed serving file (``overrides`` replace keyword arguments)."""
    kwargs = _model_kwargs(serve.values)
    kwargs.update(gpus_per_replica=serve.gpus_per_replica, weight_bytes_per_param=PRECISION_BYTES[serve.precision],
                  **_gpu_kwargs(serve.gpu, serve.precision))
    kwargs.update(overrides)
    return replica_throughput(**kwargs)


@dataclass
class ServeResult:
    """Result of ``python -m analysis inference SERVE.yaml``."""

    name: str
    gpu: str
    gpus_per_replica: int
    precision: str
    kv_precision: str
    input_tokens: float
    output_tokens: float
    throughput: Throughput
    compute_efficiency: float
    bandwidth_efficiency: float

    def to_dict(self) -> dict:
        t = self.throughput
        scalar = lambda a: float(np.asarray(a))
        return {"name": self.name, "gpu": self.gpu, "gpus_per_replica": self.gpus_per_replica, "precision": self.precision,
                "kv_precision": self.kv_precision, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "tokens_per_s_per_gpu": scalar(t.tokens_per_s_per_gpu), "tokens_per_s_per_replica": scalar(t.tokens_per_s_per_replica),
                "batch": scalar(t.batch), "bound": str(t.bound), "decode_bound": str(t.decode_bound),
                "batch_kv_limit": scalar(t.batch_kv_limit),
                "batch_latency_limit": scalar(t.batch_latency_limit) if np.isfinite(t.batch_latency_limit) else None,
                "decode_step_ms": scalar(t.decode_step_s) * 1e3, "prefill_ms_per_request": scalar(t.prefill_s_per_request) * 1e3,
                "prefill_time_fraction": scalar(t.prefill_time_fraction), "tpot_ms": scalar(t.tpot_ms),
                "weights_gb_per_gpu": scalar(t.weights_gb_per_gpu), "kv_capacity_gb_per_replica": scalar(t.kv_capacity_gb_per_replica),
                "kv_gb_per_request": scalar(t.kv_gb_per_request),
                "decode_step_split_ms": {"weights": scalar(t.step_weights_s) * 1e3, "attention": scalar(t.step_attention_s) * 1e3,
                                         "communication": scalar(t.step_comm_s) * 1e3},
                "compute_efficiency": self.compute_efficiency, "bandwidth_efficiency": self.bandwidth_efficiency}

    def summary(self) -> str:
        d = self.to_dict()
        return "\n".join([
            f"{self.name}: {self.gpus_per_replica} x {self.gpu} per replica, {self.precision} weights, {self.kv_precision} KV cache; "
            f"requests {self.input_tokens:,.0f} in + {self.output_tokens:,.0f} out tokens",
            f"  tokens/s per GPU  {d['tokens_per_s_per_gpu']:12,.0f}   (per replica {d['tokens_per_s_per_replica']:,.0f}; generated tokens)",
            f"  batch             {d['batch']:12,.0f}   (KV cache allows {d['batch_kv_limit']:,.0f}; bound: {d['bound']}; decode {d['decode_bound']})",
            f"  decode step       {d['decode_step_ms']:12.1f} ms (weights {d['decode_step_split_ms']['weights']:.1f}, attention "
            f"{d['decode_step_split_ms']['attention']:.1f}, communication {d['decode_step_split_ms']['communication']:.1f})",
            f"  prefill           {d['prefill_ms_per_request']:12.1f} ms per request ({d['prefill_time_fraction']:.0%} of replica time)",
            f"  time/output token {d['tpot_ms']:12.1f} ms per request",
            f"  memory per GPU    {d['weights_gb_per_gpu']:12.1f} GB weights; KV cache {d['kv_capacity_gb_per_replica']:,.0f} GB per replica, "
            f"{d['kv_gb_per_request'] * 1e3:,.0f} MB per request",
            f"  efficiencies      compute {self.compute_efficiency:.3f} of dense {self.precision} peak, bandwidth {self.bandwidth_efficiency:.2f} of HBM",
        ])


def run_from_file(path: str | Path) -> ServeResult:
    """Evaluate one serving file::

        name: llama2-70b-h100            # free text
        gpu: H100                        # id from data/gpus.csv
        gpus_per_replica: 2
        precision: fp8                   # bf16 | fp8 | fp4 (weights and GEMMs)
        kv_precision: fp8                # optional (default fp8, bf16 for bf16 weights)
        max_batch: 896                   # optional scheduler limit
        model: {params: 70e9, active_params: 70e9, layers: 80, hidden: 8192, heads: 64, kv_heads: 8}
        workload: {input_tokens: 500, output_tokens: 294.45}   # means per request
        latency: {max_tpot_ms: 40}       # optional
        efficiency: {compute: 0.6, bandwidth: 0.85}            # optional; defaults from data/parameters/inference.yaml
        memory: {kv_fraction: 0.9, reserved_gb_per_gpu: 5}     # optional
    """
    file = Path(path)
    if not file.exists():
        raise InputError(f"serve file: {str(path)!r} not found")
    serve = parse_serve(read_yaml(file))
    return ServeResult(serve.name, serve.gpu.id, serve.gpus_per_replica, serve.precision, serve.kv_precision,
                       float(serve.values["input_tokens"]), float(serve.values["output_tokens"]), evaluate_serve(serve),
                       float(serve.values["compute_efficiency"]), float(serve.values["bandwidth_efficiency"]))


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
        raise InputError(f"data/parameters/inference.yaml: missing default for {sorted(missing)[0]!r}")
    return {k: parse_param(f"data/parameters/inference.yaml inference.{k}", doc[k], spec, require_source=spec.choices is None)
            for k, spec in PARAMETERS.items()}


# --------------------------------------------------------------------------- data: MLPerf, API prices
MLPERF_COLUMNS = (
    Column("id"), Column("round"), Column("date"), Column("system"), Column("gpu"),
    Column("gpus", Spec("GPUs", min=1, integer=True)), Column("precision"), Column("model"),
    Column("offline_tokens_s", Spec("tokens/s", min=0, min_inclusive=False)),
    Column("server_tokens_s", Spec("tokens/s", min=0, min_inclusive=False), required=False),
    Column("interactive_tokens_s", Spec("tokens/s", min=0, min_inclusive=False), required=False),
    Column("serve_file", required=False), Column("source"), Column("note", required=False),
)
API_COLUMNS = (
    Column("model"), Column("input_usd_per_mtok", Spec("USD per million tokens", min=0, min_inclusive=False)),
    Column("output_usd_per_mtok", Spec("USD per million tokens", min=0, min_inclusive=False)),
    Column("from_date"), Column("source"), Column("confidence"), Column("note", required=False),
)


@lru_cache(maxsize=4)
def _read_table(path: str, columns: tuple, key: str) -> pd.DataFrame:
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file.name}: file not found")
    text = {c.name: str for c in columns if c.spec is None}
    return validate_table(pd.read_csv(file, dtype=text), columns, file, key=key)


def load_mlperf(path: Path | str | None = None) -> pd.DataFrame:
    """MLPerf Inference results (``data/mlperf_inference.csv``) with per-GPU offline tokens/s."""
    df = _read_table(str(path or DATA_DIR / "mlperf_inference.csv"), MLPERF_COLUMNS, "id").copy()
    df["offline_tokens_s_per_gpu"] = df["offline_tokens_s"] / df["gpus"]
    df["server_tokens_s_per_gpu"] = df["server_tokens_s"] / df["gpus"]
    return df.set_index("id", drop=False)


def load_api_prices(path: Path | str | None = None) -> pd.DataFrame:
    """Anthropic API list prices (``data/api_prices.csv``), USD per million input/output tokens."""
    return _read_table(str(path or DATA_DIR / "api_prices.csv"), API_COLUMNS, "model").copy().set_index("model", drop=False)


def api_comparison(input_tokens: float, output_tokens: float, usd_per_million_output_tokens_lease, models=None) -> pd.DataFrame:
    """API list bill per million output tokens (with their prompts) next to the lease cost."""
    prices = load_api_prices()
    if models is not None:
        prices = prices.loc[list(models)]
    out = prices[["model", "input_usd_per_mtok", "output_usd_per_mtok", "from_date"]].copy()
    out["api_usd_per_million_output_tokens"] = api_usd_per_million_output_tokens(out["input_usd_per_mtok"], out["output_usd_per_mtok"],
                                                                                 input_tokens, output_tokens)
    out["lease_usd_per_million_output_tokens"] = float(usd_per_million_output_tokens_lease)
    out["api_over_lease"] = out["api_usd_per_million_output_tokens"] / out["lease_usd_per_million_output_tokens"]
    return out.reset_index(drop=True)


def cost_comparison(fleet: FleetResult, models=None) -> pd.DataFrame:
    """$ per million output tokens (prompts included): each pool and the whole fleet at the lease
    price and load factor, next to the API list bill for the same requests."""
    rows = [{"label": f"lease: {r.pool} pool", "kind": "lease (model)", "usd_per_million_output_tokens": r.usd_per_million_output_tokens}
            for r in fleet.pools.itertuples()]
    rows.append({"label": "lease: whole fleet", "kind": "lease (model)", "usd_per_million_output_tokens": fleet.usd_per_million_output_tokens})
    api = api_comparison(fleet.input_tokens, fleet.output_tokens, fleet.usd_per_million_output_tokens, models)
    rows += [{"label": f"API list: {r.model}", "kind": "API list price", "usd_per_million_output_tokens": r.api_usd_per_million_output_tokens}
             for r in api.itertuples()]
    return pd.DataFrame(rows)


def fleet_sensitivity(cluster: Cluster, params: dict, metric: str = "usd_per_million_output_tokens") -> pd.DataFrame:
    """One-at-a-time sensitivity of a :class:`FleetResult` figure: each ranged parameter of the
    ``inference`` section (``{key: Param}``, e.g. ``scenario.params["inference"]``) set to its low
    and its high end while the others stay central. Rows sorted by swing, largest first."""
    central = {k: p.value for k, p in params.items()}
    base = getattr(fleet_capacity(cluster, central), metric)
    rows = []
    for key, p in params.items():
        if isinstance(p.value, str) or not p.has_range:
            continue
        ends = []
        for end in (p.low, p.high):
            values = dict(central, **{key: end})
            if values["active_params_b"] > values["total_params_b"] or values["kv_heads"] > values["heads"]:
                values["active_params_b"] = min(values["active_params_b"], values["total_params_b"])
                values["kv_heads"] = min(values["kv_heads"], values["heads"])
            ends.append(getattr(fleet_capacity(cluster, values), metric))
        rows.append({"parameter": key, "low_value": p.low, "high_value": p.high, "at_low": ends[0], "at_high": ends[1],
                     "base": base, "swing": abs(ends[1] - ends[0])})
    return pd.DataFrame(rows).sort_values("swing", ascending=False).reset_index(drop=True)


# --------------------------------------------------------------------------- calibration against MLPerf
def _mlperf_serves(table: pd.DataFrame) -> list[tuple[str, ServeSpec]]:
    base = default_values()
    rows = table[table["serve_file"].fillna("").astype(str).str.len() > 0]
    return [(r.id, parse_serve(read_yaml(PROJ_ROOT / r.serve_file), base)) for r in rows.itertuples()]


def mlperf_predictions(compute_efficiency=None, bandwidth_efficiency=None, table: pd.DataFrame | None = None,
                       **overrides) -> pd.DataFrame:
    """Model vs MLPerf offline tokens/s per GPU for every result with a serving file.

    Compared metric: **Offline scenario, generated tokens/s of the whole system / GPUs**. The
    efficiencies default to the calibrated values in data/parameters/inference.yaml; ``overrides``
    replace :func:`replica_throughput` arguments (e.g. ``input_tokens`` for a sensitivity)."""
    table = load_mlperf() if table is None else table
    base = default_values()
    ce = base["compute_efficiency"] if compute_efficiency is None else compute_efficiency
    be = base["bandwidth_efficiency"] if bandwidth_efficiency is None else bandwidth_efficiency
    rows = []
    for rid, serve in _mlperf_serves(table):
        t = evaluate_serve(serve, compute_efficiency=ce, bandwidth_efficiency=be, **overrides)
        measured = float(table.loc[rid, "offline_tokens_s_per_gpu"])
        model = float(t.tokens_per_s_per_gpu)
        rows.append({"id": rid, "system": table.loc[rid, "system"], "gpu": serve.gpu.id, "round": table.loc[rid, "round"],
                     "precision": serve.precision, "gpus_per_replica": serve.gpus_per_replica,
                     "mlperf_offline_tokens_s_per_gpu": measured, "model_tokens_s_per_gpu": model,
                     "error_pct": (model / measured - 1) * 100, "batch": float(t.batch), "bound": str(t.bound),
                     "decode_bound": str(t.decode_bound), "prefill_time_fraction": float(t.prefill_time_fraction)})
    return pd.DataFrame(rows)


def calibrate(bandwidth_efficiency=None, grid=None, **overrides) -> dict:
    """Fit one ``compute_efficiency`` across all MLPerf systems: the value minimising the sum of
    squared log errors of offline tokens/s per GPU (grid search, vectorized over the grid).
    ``overrides`` replace :func:`replica_throughput` arguments for every system (sensitivity)."""
    table = load_mlperf()
    be = default_values()["bandwidth_efficiency"] if bandwidth_efficiency is None else bandwidth_efficiency
    grid = np.linspace(0.2, 1.0, 801) if grid is None else np.asarray(grid, float)
    loss = np.zeros_like(grid)
    for rid, serve in _mlperf_serves(table):
        model = evaluate_serve(serve, compute_efficiency=grid, bandwidth_efficiency=be, **overrides).tokens_per_s_per_gpu
        loss += np.log(model / table.loc[rid, "offline_tokens_s_per_gpu"]) ** 2
    best = float(grid[np.argmin(loss)])
    errors = mlperf_predictions(best, be, table, **overrides)
    return {"compute_efficiency": best, "bandwidth_efficiency": float(be),
            "max_abs_error_pct": float(errors["error_pct"].abs().max()),
            "rms_log_error": float(np.sqrt(np.min(loss) / len(errors))), "systems": len(errors)}


def calibration_sweep(input_tokens, grid=None) -> pd.DataFrame:
    """:func:`calibrate` refitted at several assumed MLPerf mean prompt lengths (one row each)."""
    return pd.DataFrame([{"assumed_mean_prompt_tokens": float(i), **calibrate(grid=grid, input_tokens=i)}
                         for i in input_tokens]).set_index("assumed_mean_prompt_tokens")


def fleet_draws(cluster: Cluster, values: dict) -> dict:
    """Fleet tokens/s and cost per million output tokens for ``values`` that may hold arrays of
    Monte Carlo draws (``Scenario.sample``); the same arithmetic as :func:`fleet_capacity`,
    vectorized over the draws (pools and replica sizes are the only loops)."""
    total = 0.0
    for pool in cluster.pools:
        thr, size, _ = best_replica(pool.gpu, values, pool.scale_out_gb_s_per_gpu.value)
        per_gpu = np.asarray(thr.tokens_per_s_per_gpu, float)
        replicas = np.where(per_gpu > 0, np.floor(pool.gpus / np.asarray(size, float)), 0.0)
        total = total + replicas * np.asarray(thr.tokens_per_s_per_replica, float)
    lease, load = np.asarray(values["lease_usd_per_gpu_hour"], float), np.asarray(values["load_factor"], float)
    cost = usd_per_million_tokens(lease * cluster.gpus, total * load)
    return {"tokens_per_s": total, "usd_per_million_output_tokens": cost}


def benchmark(seconds: float = 1.5) -> dict[str, float]:
    """Monte Carlo draws per second of the fleet capacity and cost per token (Colossus 1, 20,000 draws a call)."""
    from analysis.bench import throughput
    from analysis.scenario import load_scenario, section_draws

    sc, draws = load_scenario("colossus1"), 20_000
    values = section_draws(sc.sample(draws, 0), "inference")
    return {"inference_fleet_draws_per_s": throughput(lambda: fleet_draws(sc.cluster, values), seconds, draws)}
