"""The fleet: replicas sized per pool, fleet tokens/s and per day, cost per million input and
output tokens at the lease price, against API list prices.

:func:`fleet` is the one vectorized function: ``values`` may hold scalars (a point estimate)
or arrays of Monte Carlo draws (``Scenario.sample``); pools and candidate replica sizes are the
only loops. :func:`fleet_capacity` (point, pools table) and :func:`fleet_draws` (a mapping of
arrays) are thin views of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import Cluster, Column, GpuSpec, gpu as gpu_spec, validate_table
from analysis.errors import InputError
from analysis.memo import memoized
from analysis.inference.parameters import PRECISION_BYTES, slo_preset
from analysis.inference.roofline import (ATTENTION_EFFICIENCY_FA3, Throughput, fma_exp_share, replica_throughput, softmax_exp_per_s,
                                         usd_per_million_tokens)
from analysis.params import Spec, one_at_a_time_columns, one_at_a_time_ends
from analysis.paths import DATA_DIR
from analysis.serialize import plain

SECONDS_PER_DAY = 86400.0
REPLICA_SIZES = (1, 2, 4, 8, 16, 32, 64, 72, 128, 256)
PREFILL_GPUS_MAX = 32        # disaggregated prefill replica: DeepSeek's prefill unit is EP32 (DeepSeek open-infra day 6, 2025-03)
# Keys of the inference section that older callers may omit, with the value that reproduces v1 behaviour (except the
# scheduler: v1 reserved every request's whole sequence, which no serving stack here does; omitted, it is max_util,
# the sourced default of data/parameters/inference.yaml).
OPTIONAL_DEFAULTS = {"attention": "gqa", "mla_kv_dim": 576.0, "experts_per_token": 0.0, "cache_hit_rate": 0.0,
                     "max_ttft_ms": np.inf, "serving_mode": "aggregated", "spec_tokens": 0.0, "spec_acceptance": 0.0,
                     "comm_overlap": 0.0, "latency_tail_factor": 1.0, "max_batch": np.inf, "moe_efficiency": 1.0, "fp4_efficiency": 1.0,
                     "attention_efficiency": ATTENTION_EFFICIENCY_FA3,
                     "software_factor": 1.0, "prefill_router_replicas": 1.0, "prefill_router": "pooled", "gemm_allreduce": False,
                     "max_num_tokens": np.inf, "scheduler": "max_util", "fp4_weight_read_efficiency": 1.0,
                     "scaleout_all_to_all_efficiency": 1.0}


def serving_precision(spec: GpuSpec, requested: str) -> str:
    """``requested`` if the GPU has a dense peak for it, else FP8 (FP4 on Hopper falls back)."""
    if requested == "fp4" and not np.isfinite(spec.fp4_tflops_dense):
        return "fp8"
    return requested


def gpu_kwargs(spec: GpuSpec, precision: str, scale_out_gb_s_per_gpu: float | None = None) -> dict:
    """Hardware keyword arguments of :func:`replica_throughput` for one GPU type."""
    attention = precision if precision != "fp4" else "fp8"     # attention kernels run FP8/BF16, not FP4
    return {"hbm_gb": spec.hbm_gb, "hbm_tb_s": spec.hbm_tb_s, "peak_tflops": spec.peak_tflops(precision),
            "attention_peak_tflops": spec.peak_tflops(attention), "exp_per_s": softmax_exp_per_s(spec.bf16_tflops_dense, spec.architecture, spec.id),
            "exp_emulated_share": fma_exp_share(spec.architecture, attention, spec.id),
            "nvlink_gb_s_per_gpu": spec.nvlink_gb_s_per_gpu, "nvlink_domain_gpus": spec.nvlink_domain_gpus,
            "scale_out_gb_s_per_gpu": scale_out_gb_s_per_gpu or spec.scale_out_gb_s_per_gpu}


def model_kwargs(values: dict) -> dict:
    """Model and serving keyword arguments of :func:`replica_throughput` from an ``inference`` section
    (keys added in v2 are optional, see :data:`OPTIONAL_DEFAULTS`)."""
    v = {**OPTIONAL_DEFAULTS, **values}
    mla = np.where(np.asarray(v["attention"]) == "mla", np.asarray(v["mla_kv_dim"], float), 0.0) \
        if isinstance(v["attention"], str) else np.asarray(v["mla_kv_dim"], float)
    return {"params": np.asarray(v["total_params_b"], float) * 1e9,
            "active_params": np.asarray(v["active_params_b"], float) * 1e9,
            "layers": v["layers"], "hidden": v["hidden"], "heads": v["heads"], "kv_heads": v["kv_heads"],
            "input_tokens": v["input_tokens"], "output_tokens": v["output_tokens"],
            "kv_bytes_per_value": PRECISION_BYTES[v["kv_precision"]], "mla_kv_dim": mla,
            "experts_per_token": v["experts_per_token"], "cache_hit_rate": v["cache_hit_rate"],
            "compute_efficiency": v["compute_efficiency"], "bandwidth_efficiency": v["bandwidth_efficiency"],
            "latency_tail_factor": v["latency_tail_factor"],
            "kv_memory_fraction": v["kv_memory_fraction"], "reserved_gb_per_gpu": v["reserved_gb_per_gpu"],
            "max_batch": v.get("max_batch", np.inf), "max_tpot_ms": v["max_tpot_ms"], "max_ttft_ms": v["max_ttft_ms"],
            "disaggregated": v["serving_mode"] == "disaggregated", "spec_tokens": v["spec_tokens"],
            "spec_acceptance": v["spec_acceptance"], "comm_overlap": v["comm_overlap"], "moe_efficiency": v["moe_efficiency"],
            "scaleout_all_to_all_efficiency": v["scaleout_all_to_all_efficiency"],
            "attention_efficiency": v["attention_efficiency"],
            "software_factor": v["software_factor"], "prefill_queue_servers": v["prefill_router_replicas"],
            "prefill_router": v["prefill_router"],
            "gemm_allreduce": v["gemm_allreduce"], "max_num_tokens": v["max_num_tokens"], "scheduler": v["scheduler"],
            **({"max_output_tokens": v["max_output_tokens"]} if v.get("max_output_tokens") is not None else {}),
            **({"tensor_parallel": v["tensor_parallel"]} if v.get("tensor_parallel") is not None else {}),
            **({"input_tokens_cv": v["input_tokens_cv"]} if v.get("input_tokens_cv") is not None else {}),
            **({"max_input_tokens": v["max_input_tokens"]} if v.get("max_input_tokens") is not None else {})}


def gemm_factor(values: dict, precision: str):
    """The calibrated FP4 GEMM efficiency when serving at FP4, else 1."""
    return np.asarray({**OPTIONAL_DEFAULTS, **values}["fp4_efficiency"], float) if precision == "fp4" else 1.0


def weight_read_factor(values: dict, precision: str):
    """The calibrated share of the decode bandwidth NVFP4 GEMMs reach while memory-bound when serving at FP4, else 1."""
    return np.asarray({**OPTIONAL_DEFAULTS, **values}["fp4_weight_read_efficiency"], float) if precision == "fp4" else 1.0


def with_slo(values: dict, scenario: str | None, benchmark: str = "llama2-70b") -> dict:
    """``values`` with the latency targets of an MLPerf scenario preset (``None``: unchanged)."""
    return values if scenario is None else {**values, **slo_preset(scenario, benchmark)}


def prefill_gpus_for(weight_bytes, spec: GpuSpec, reserved_gb, sizes):
    """Disaggregated prefill replica: up to :data:`PREFILL_GPUS_MAX` GPUs, at least enough to hold the weights."""
    need = np.asarray(weight_bytes, float) / 1e9 / np.maximum(spec.hbm_gb - np.asarray(reserved_gb, float), 1e-9) * 1.25
    fit = 2.0 ** np.ceil(np.log2(np.maximum(need, 1.0)))
    return np.minimum(np.maximum(fit, np.minimum(sizes, PREFILL_GPUS_MAX)), sizes)


@memoized(maxsize=32)   # the same pools are sized again for every price and sweep point
def best_replica(spec: GpuSpec, values: dict, scale_out_gb_s_per_gpu: float | None = None,
                 sizes=None) -> tuple[Throughput, np.ndarray, str]:
    """Size replicas: try 1, 2, 4, ... up to ``max_gpus_per_replica`` GPUs (and the NVLink domain) and
    keep the size with the most tokens/s per GPU under the latency targets (sizes whose weights do not
    fit give zero). Vectorized over draws (a trailing axis of sizes). Returns the throughput at the
    chosen size, the size (array) and the serving precision."""
    precision = serving_precision(spec, values["weight_precision"])
    largest = np.asarray(values["max_gpus_per_replica"], float)
    candidates = sizes if sizes is not None else [s for s in REPLICA_SIZES if s <= largest.max()]
    grid_sizes = np.array(sorted(set(candidates)), float)
    kwargs = model_kwargs(values)
    # Sizes whose weights cannot fit in any draw give zero anyway: not evaluated (the largest is kept).
    weight_gb = np.asarray(kwargs["params"], float) * PRECISION_BYTES[precision] / 1e9
    reserve = np.asarray(kwargs["reserved_gb_per_gpu"], float)
    fits = [bool(np.any(weight_gb / s + reserve < spec.hbm_gb)) for s in grid_sizes]
    if any(fits) and not all(fits):
        grid_sizes = grid_sizes[np.asarray(fits)]
    kwargs = {k: (np.asarray(v)[..., None] if not isinstance(v, str) else v) for k, v in kwargs.items() if v is not None}
    if "max_batch_per_gpu" in values:                        # per-GPU scheduler limit x replica GPUs
        kwargs["max_batch"] = np.minimum(kwargs["max_batch"], np.asarray(values["max_batch_per_gpu"], float)[..., None] * grid_sizes)
    weight_bytes = kwargs["params"] * PRECISION_BYTES[precision]
    prefill = prefill_gpus_for(weight_bytes, spec, kwargs["reserved_gb_per_gpu"], grid_sizes)
    factor = np.asarray(gemm_factor(values, precision), float)[..., None]
    read = np.asarray(weight_read_factor(values, precision), float)[..., None]
    grid = replica_throughput(**kwargs, gpus_per_replica=grid_sizes, prefill_gpus_per_replica=prefill, gemm_peak_factor=factor,
                              weight_read_efficiency=read,
                              weight_bytes_per_param=PRECISION_BYTES[precision],
                              **gpu_kwargs(spec, precision, scale_out_gb_s_per_gpu))
    allowed = grid_sizes <= largest[..., None]               # per draw, when the largest size varies
    score = np.where(allowed, grid.tokens_per_s_per_gpu, -1.0)
    best = np.argmax(score, axis=-1)
    shape = score.shape
    pick = lambda a: np.take_along_axis(np.broadcast_to(a, shape), best[..., None], axis=-1)[..., 0]
    chosen = Throughput(**{f: pick(getattr(grid, f)) for f in Throughput.__dataclass_fields__})
    return chosen, grid_sizes[best], precision


# --------------------------------------------------------------------------- fleet
@dataclass
class FleetResult:
    """Serving capacity of a cluster, one homogeneous replica type per pool. Figures are floats for a
    point estimate and arrays (the draw axis) for Monte Carlo draws; ``pools`` has one row per pool
    (point estimates only)."""

    cluster: str
    pools: pd.DataFrame
    tokens_per_s: float                      # generated tokens/s at full load, whole fleet
    tokens_per_day: float                    # served per day at the load factor
    gpus: float
    lease_usd_per_gpu_hour: float
    load_factor: float
    usd_per_million_output_tokens: float     # all lease cost / served output tokens (prefill of their prompts included)
    input_tokens: float
    output_tokens: float
    model: dict = field(default_factory=dict)
    input_tokens_per_s: float = 0.0          # prompt tokens/s processed at full load
    usd_per_million_input_tokens: float = float("nan")        # prefill share of the cost / prompt tokens
    usd_per_million_output_tokens_decode: float = float("nan")  # decode share of the cost / output tokens
    prefill_share: float = float("nan")      # share of the fleet's GPU-time spent on prefill
    max_tpot_ms: float = float("inf")
    max_ttft_ms: float = float("inf")
    lease_source: str = "inference.lease_usd_per_gpu_hour"   # where the lease price comes from (see lessee_lease)

    def to_dict(self) -> dict:
        pools = self.pools.to_dict("records") if isinstance(self.pools, pd.DataFrame) else []
        return plain({"cluster": self.cluster, "gpus": self.gpus, "tokens_per_s": self.tokens_per_s,
                      "tokens_per_day": self.tokens_per_day, "input_tokens_per_s": self.input_tokens_per_s,
                      "load_factor": self.load_factor, "lease_usd_per_gpu_hour": self.lease_usd_per_gpu_hour,
                      "usd_per_million_output_tokens": self.usd_per_million_output_tokens,
                      "usd_per_million_input_tokens": self.usd_per_million_input_tokens,
                      "usd_per_million_output_tokens_decode": self.usd_per_million_output_tokens_decode,
                      "prefill_share": self.prefill_share, "input_tokens": self.input_tokens,
                      "output_tokens": self.output_tokens, "max_tpot_ms": self.max_tpot_ms, "max_ttft_ms": self.max_ttft_ms,
                      "lease_source": self.lease_source, "model": self.model, "pools": pools})

    def summary(self) -> str:
        target = ("no latency target (offline)" if not np.isfinite(self.max_tpot_ms) and not np.isfinite(self.max_ttft_ms)
                  else f"p99 TTFT <= {self.max_ttft_ms:,.0f} ms, TPOT <= {self.max_tpot_ms:,.0f} ms")
        lines = [f"Inference capacity of {self.cluster}: {self.gpus:,.0f} GPUs, model {self.model.get('total_params_b', float('nan')):,.0f}B "
                 f"total / {self.model.get('active_params_b', float('nan')):,.0f}B active, requests of {self.input_tokens:,.0f} in + "
                 f"{self.output_tokens:,.0f} out tokens; {target}",
                 f"{'pool':8s} {'gpu':6s} {'prec':5s} {'GPUs/rep':>8s} {'replicas':>9s} {'batch':>6s} {'tok/s/GPU':>10s} "
                 f"{'tok/s':>12s} {'TPOT ms':>8s}  bound"]
        for r in self.pools.itertuples():
            lines.append(f"{r.pool:8s} {r.gpu:6s} {r.precision:5s} {r.gpus_per_replica:8.0f} {r.replicas:9,.0f} {r.batch:6.0f} "
                         f"{r.tokens_per_s_per_gpu:10,.0f} {r.tokens_per_s:12,.0f} {r.tpot_ms:8.1f}  {r.bound} ({r.limit})")
        lines.append(f"fleet: {self.tokens_per_s:,.0f} output tokens/s at full load; {self.tokens_per_day:,.3g} per day at load "
                     f"factor {self.load_factor:.2f}; ${self.usd_per_million_output_tokens:.2f} per million output tokens (prompts "
                     f"included) at ${self.lease_usd_per_gpu_hour:.2f}/GPU-h ({self.lease_source}); split by GPU-time: ${self.usd_per_million_input_tokens:.3f} "
                     f"per M input, ${self.usd_per_million_output_tokens_decode:.2f} per M output")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{self.summary()}</pre>"


#: what only prices the tokens: :func:`best_replica` never reads these
PRICE_KEYS = ("lease_usd_per_gpu_hour", "lease_source", "load_factor")


def fleet(cluster: Cluster, values: dict, slo: str | None = None, benchmark: str = "llama2-70b") -> FleetResult:
    """Fleet serving capacity for ``values`` (scalars or arrays of draws).

    Per pool: replicas sized by :func:`best_replica`; replicas = floor(GPUs / GPUs per replica);
    tokens/s = replicas x replica tokens/s. Pools serve independently (no pool waits for another).
    Cost: ``lease x all GPUs / (fleet tokens/s x load factor)`` (idle GPUs are paid for too), split
    between prompt and generated tokens by the share of GPU-time spent on prefill. ``slo`` replaces
    the latency targets by an MLPerf preset (``"offline"``, ``"server"``, ``"interactive"``).
    """
    values = with_slo(values, slo, benchmark)
    serving = {k: v for k, v in values.items() if k not in PRICE_KEYS}   # a new price reuses the sized replicas
    rows, total, prefill_gpu_time = [], 0.0, 0.0
    for pool in cluster.pools:
        thr, size, precision = best_replica(pool.gpu, serving, pool.scale_out_gb_s_per_gpu.value)
        per_unit = np.asarray(thr.gpus_per_unit, float)
        units = np.where(np.asarray(thr.tokens_per_s_per_gpu) > 0, np.floor(pool.gpus / np.maximum(per_unit, 1e-9)), 0.0)
        tps = units * np.asarray(thr.tokens_per_s_per_replica, float)
        total = total + tps
        prefill_gpu_time = prefill_gpu_time + units * per_unit * np.nan_to_num(np.asarray(thr.prefill_time_fraction, float))
        rows.append((pool, thr, size, precision, units, tps))
    gpus = float(sum(p.gpus for p in cluster.pools))
    lease, load = np.asarray(values["lease_usd_per_gpu_hour"], float), np.asarray(values["load_factor"], float)
    inp, out = np.asarray(values["input_tokens"], float), np.asarray(values["output_tokens"], float)
    cost = usd_per_million_tokens(lease * gpus, total * load)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = prefill_gpu_time / gpus
        cost_in = usd_per_million_tokens(lease * gpus * share, total * inp / out * load)
        cost_out = usd_per_million_tokens(lease * gpus * (1 - share), total * load)
    scalar = np.broadcast(total, lease, load, inp, out, cost).shape == () and all(np.ndim(r[1].tokens_per_s_per_gpu) == 0 for r in rows)
    pools = pd.DataFrame()
    if scalar:
        pools = pd.DataFrame([{
            "pool": p.name, "gpu": p.gpu.id, "gpus": float(p.gpus), "precision": prec, "gpus_per_replica": float(size),
            "replicas": float(units), "batch": float(t.batch), "tokens_per_s_per_gpu": float(t.tokens_per_s_per_gpu),
            "tokens_per_s": float(tps), "tokens_per_day": float(tps) * SECONDS_PER_DAY * float(load),
            "tpot_ms": float(t.tpot_ms), "ttft_ms": float(t.ttft_ms), "prefill_time_fraction": float(t.prefill_time_fraction),
            "weights_gb_per_gpu": float(t.weights_gb_per_gpu), "bound": str(t.bound), "limit": str(t.limit),
            "decode_bound": str(t.decode_bound),
            "usd_per_million_output_tokens": float(usd_per_million_tokens(lease, t.tokens_per_s_per_gpu * load))}
            for p, t, size, prec, units, tps in rows])
    fmt = (lambda a: float(a)) if scalar else (lambda a: np.asarray(a, float) if np.ndim(a) else float(a))
    keys = ("total_params_b", "active_params_b", "layers", "hidden", "heads", "kv_heads", "attention", "weight_precision",
            "kv_precision", "max_tpot_ms", "max_ttft_ms", "cache_hit_rate", "serving_mode", "experts_per_token")
    model = {k: values[k] for k in keys if k in values and (isinstance(values[k], str) or np.ndim(values[k]) == 0)}
    v = {**{"max_ttft_ms": np.inf}, **values}
    return FleetResult(cluster.id, pools, fmt(total), fmt(total * SECONDS_PER_DAY * load), gpus, fmt(lease), fmt(load),
                       fmt(cost), fmt(inp), fmt(out), model, fmt(total * inp / out), fmt(cost_in), fmt(cost_out), fmt(share),
                       float(np.mean(v["max_tpot_ms"])), float(np.mean(v["max_ttft_ms"])),
                       str(values.get("lease_source", "inference.lease_usd_per_gpu_hour")))


LEASE_OVERRIDE = "inference.lease_usd_per_gpu_hour"


def lessee_lease(scenario, economics_point: dict | None = None) -> tuple[float | None, str]:
    """The lease price per GPU-hour the lessee's cost per token is computed at, and where it comes from.

    When the scenario leases Colossus 1 (``economics_point`` = ``economics.from_scenario(...).to_dict()``
    with a ``lease`` option), the rate is Colossus 1's share of the S-1 fee per Colossus 1 GPU-hour
    under the scenario's ``economics.lease_allocation`` (:func:`analysis.economics.c1_lease_usd_per_gpu_hour`:
    $1.25B/month x its share / (Colossus 1 GPUs x 730.5 h); by rental value ~$4.48). A scenario that
    sets ``inference.lease_usd_per_gpu_hour`` itself keeps its value (an override); without a lease the
    parameter is the fallback. Returns ``(rate or None for the parameter, source label)``."""
    if LEASE_OVERRIDE in getattr(scenario, "overridden", frozenset()):
        return None, f"{LEASE_OVERRIDE} (set by the scenario)"
    e = economics_point or {}
    rate = e.get("lease_usd_per_gpu_hour")
    if "lease" in (e.get("options") or []) and rate is not None and np.isfinite(np.asarray(rate, float)).all() and np.ndim(rate) == 0:
        allocation = (e.get("decision") or {}).get("allocation_used", "")
        label = {"rental_value": "by rental value per GPU type", "per_gpu": "per GPU"}.get(allocation, allocation)
        name = scenario.cluster.name.split(" (")[0]
        return float(rate), f"S-1 fee allocated to {name}'s GPUs ({label})".replace(" ()", "")
    return None, LEASE_OVERRIDE


def with_lessee_lease(values: dict, scenario, economics_point: dict | None = None) -> dict:
    """``values`` (an ``inference`` section, scalars or draws) with the lease price of :func:`lessee_lease`
    and its ``lease_source``."""
    rate, source = lessee_lease(scenario, economics_point)
    return {**values, **({"lease_usd_per_gpu_hour": rate} if rate is not None else {}), "lease_source": source}


def fleet_capacity(cluster: Cluster, values: dict, slo: str | None = None) -> FleetResult:
    """Point estimate of :func:`fleet` (scalar ``values``), with the per-pool table."""
    return fleet(cluster, values, slo)


def fleet_draws(cluster: Cluster, values: dict, slo: str | None = None) -> dict:
    """:func:`fleet` over Monte Carlo draws (``values`` may hold arrays): a mapping of arrays
    ``tokens_per_s``, ``usd_per_million_output_tokens``, ``usd_per_million_input_tokens``, ``tokens_per_day``."""
    r = fleet(cluster, values, slo)
    return {"tokens_per_s": np.asarray(r.tokens_per_s, float), "tokens_per_day": np.asarray(r.tokens_per_day, float),
            "usd_per_million_output_tokens": np.asarray(r.usd_per_million_output_tokens, float),
            "usd_per_million_input_tokens": np.asarray(r.usd_per_million_input_tokens, float),
            "usd_per_million_output_tokens_decode": np.asarray(r.usd_per_million_output_tokens_decode, float)}


# --------------------------------------------------------------------------- per GPU type views
def gpu_table(values: dict, gpu_ids, slo: str | None = None) -> pd.DataFrame:
    """Per GPU type: replica size, batch, tokens/s per GPU, bound, latency, $ per M output tokens."""
    values = with_slo(values, slo)
    rows = []
    for gid in gpu_ids:
        spec = gpu_spec(gid)
        t, size, precision = best_replica(spec, values)
        rows.append({"gpu": gid, "precision": precision, "peak_tflops_dense": spec.peak_tflops(precision), "hbm_gb": spec.hbm_gb,
                     "hbm_tb_s": spec.hbm_tb_s, "gpus_per_replica": float(size), "batch": float(t.batch),
                     "batch_kv_limit": float(t.batch_kv_limit), "tokens_per_s_per_gpu": float(t.tokens_per_s_per_gpu),
                     "tpot_ms": float(t.tpot_ms), "ttft_ms": float(t.ttft_ms), "prefill_time_fraction": float(t.prefill_time_fraction),
                     "bound": str(t.bound), "limit": str(t.limit), "decode_bound": str(t.decode_bound),
                     "usd_per_million_output_tokens": float(usd_per_million_tokens(values["lease_usd_per_gpu_hour"],
                                                                                   t.tokens_per_s_per_gpu * values["load_factor"]))})
    return pd.DataFrame(rows)


@memoized(maxsize=4, batch=True)   # every scenario's inference report draws the same curve
def latency_curve(values: dict, gpu_ids, tpot_ms) -> pd.DataFrame:
    """Throughput against latency per GPU type: tokens/s per GPU at each TPOT target (TTFT target
    as in ``values``), the replica re-sized at each target. One row per GPU type and target."""
    targets = np.asarray(tpot_ms, float)
    frames = []
    for gid in gpu_ids:
        t, size, _ = best_replica(gpu_spec(gid), {**values, "max_tpot_ms": targets})
        frames.append(pd.DataFrame({"gpu": gid, "max_tpot_ms": targets, "tokens_per_s_per_gpu": t.tokens_per_s_per_gpu,
                                    "tokens_per_s_per_user": np.where(t.batch > 0, 1e3 / t.tpot_ms, np.nan),
                                    "gpus_per_replica": size, "batch": t.batch, "tpot_ms": t.tpot_ms, "limit": t.limit}))
    return pd.concat(frames, ignore_index=True)


def scenario_comparison(values: dict, gpu_ids, benchmark: str = "llama2-70b") -> pd.DataFrame:
    """Tokens/s per GPU per GPU type under the MLPerf offline, server and interactive presets."""
    rows = []
    for scenario in ("offline", "server", "interactive"):
        table = gpu_table(with_slo(values, scenario, benchmark), gpu_ids)
        table.insert(0, "scenario", scenario)
        rows.append(table)
    return pd.concat(rows, ignore_index=True)


def batch_vs_context(values: dict, gpu_ids, context_tokens) -> pd.DataFrame:
    """Largest batch the KV cache holds, per GPU type at its chosen replica, as the request length
    (input + output, output share as in ``values``) grows; with the resulting tokens/s per GPU."""
    context = np.asarray(context_tokens, float)
    share_out = values["output_tokens"] / (values["input_tokens"] + values["output_tokens"])
    frames = []
    for gid in gpu_ids:
        spec = gpu_spec(gid)
        _, size, precision = best_replica(spec, values)
        kwargs = model_kwargs(values)
        kwargs.update(input_tokens=context * (1 - share_out), output_tokens=context * share_out)
        t = replica_throughput(**kwargs, gpus_per_replica=float(size), weight_bytes_per_param=PRECISION_BYTES[precision],
                               gemm_peak_factor=gemm_factor(values, precision), **gpu_kwargs(spec, precision))
        frames.append(pd.DataFrame({"gpu": f"{gid} x{size:.0f}", "context_tokens": context, "batch_kv_limit": t.batch_kv_limit,
                                    "batch": t.batch, "tokens_per_s_per_gpu": t.tokens_per_s_per_gpu}))
    return pd.concat(frames, ignore_index=True)


def decode_roofline(values: dict, gpu_ids, batches) -> pd.DataFrame:
    """Decode tokens/s per GPU against batch size (roofline style): achieved, the HBM-bandwidth
    ceiling and the compute ceiling, per GPU type at its chosen replica. Batches beyond the
    KV-cache limit are clipped to it (the curve flattens where KV capacity binds)."""
    batch = np.asarray(batches, float)
    frames = []
    for gid in gpu_ids:
        spec = gpu_spec(gid)
        _, size, precision = best_replica(spec, values)
        kwargs = model_kwargs(values)
        kwargs.update(max_batch=batch, max_tpot_ms=np.inf, max_ttft_ms=np.inf)
        t = replica_throughput(**kwargs, gpus_per_replica=float(size), weight_bytes_per_param=PRECISION_BYTES[precision],
                               gemm_peak_factor=gemm_factor(values, precision), **gpu_kwargs(spec, precision))
        with np.errstate(divide="ignore", invalid="ignore"):
            frames.append(pd.DataFrame({
                "gpu": f"{gid} x{size:.0f}", "requested_batch": batch, "batch": t.batch,
                "decode_tokens_s_per_gpu": t.batch * t.tokens_per_step / t.decode_step_s / size,
                "memory_ceiling_tokens_s_per_gpu": t.batch * t.tokens_per_step / t.decode_memory_s / size,
                "compute_ceiling_tokens_s_per_gpu": t.batch * t.tokens_per_step / t.decode_compute_s / size,
                "batch_kv_limit": t.batch_kv_limit}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- API list prices and costs
API_COLUMNS = (
    Column("model"), Column("input_usd_per_mtok", Spec("USD per million tokens", min=0, min_inclusive=False, max=10_000)),
    Column("output_usd_per_mtok", Spec("USD per million tokens", min=0, min_inclusive=False, max=10_000)),
    Column("from_date"), Column("source"), Column("confidence"), Column("note", required=False),
)


@lru_cache(maxsize=4)
def _read_table(path: str, columns: tuple, key: str) -> pd.DataFrame:
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file.name}: file not found")
    text = {c.name: str for c in columns if c.spec is None}
    return validate_table(pd.read_csv(file, dtype=text), columns, file, key=key)


def load_api_prices(path: Path | str | None = None) -> pd.DataFrame:
    """Anthropic API list prices (``data/api_prices.csv``), USD per million input/output tokens."""
    return _read_table(str(path or DATA_DIR / "api_prices.csv"), API_COLUMNS, "model").copy().set_index("model", drop=False)


def api_usd_per_million_output_tokens(input_usd_per_mtok, output_usd_per_mtok, input_tokens, output_tokens):
    """An API bill per million generated tokens including their prompts:
    ``output price + input price x input/output`` (list prices, no batch or cache discounts)."""
    return np.asarray(output_usd_per_mtok, float) + np.asarray(input_usd_per_mtok, float) * np.asarray(input_tokens, float) / output_tokens


def api_comparison(input_tokens: float, output_tokens: float, usd_per_million_output_tokens_lease, models=None,
                   fleet_result: FleetResult | None = None) -> pd.DataFrame:
    """API list bill per million output tokens (with their prompts) next to the lease cost; with a
    ``fleet_result`` also the input and output list prices next to the lease cost split by GPU-time."""
    prices = load_api_prices()
    if models is not None:
        prices = prices.loc[list(models)]
    out = prices[["model", "input_usd_per_mtok", "output_usd_per_mtok", "from_date", "source"]].copy()
    out["api_usd_per_million_output_tokens"] = api_usd_per_million_output_tokens(out["input_usd_per_mtok"], out["output_usd_per_mtok"],
                                                                                 input_tokens, output_tokens)
    out["lease_usd_per_million_output_tokens"] = float(usd_per_million_output_tokens_lease)
    out["api_over_lease"] = out["api_usd_per_million_output_tokens"] / out["lease_usd_per_million_output_tokens"]
    if fleet_result is not None:
        out["lease_usd_per_million_input_tokens"] = float(fleet_result.usd_per_million_input_tokens)
        out["lease_usd_per_million_output_tokens_decode"] = float(fleet_result.usd_per_million_output_tokens_decode)
    return out.reset_index(drop=True)


def cost_comparison(fleet_result: FleetResult, models=None) -> pd.DataFrame:
    """$ per million output tokens (prompts included): each pool and the whole fleet at the lease
    price and load factor, next to the API list bill for the same requests."""
    rows = [{"label": f"lease: {r.pool} pool", "kind": "lease (model)", "usd_per_million_output_tokens": r.usd_per_million_output_tokens}
            for r in fleet_result.pools.itertuples()]
    rows.append({"label": "lease: whole fleet", "kind": "lease (model)", "usd_per_million_output_tokens": fleet_result.usd_per_million_output_tokens})
    api = api_comparison(fleet_result.input_tokens, fleet_result.output_tokens, fleet_result.usd_per_million_output_tokens, models)
    rows += [{"label": f"API list: {r.model}", "kind": "API list price", "usd_per_million_output_tokens": r.api_usd_per_million_output_tokens}
             for r in api.itertuples()]
    return pd.DataFrame(rows)


def price_table(fleet_result: FleetResult, models=None) -> pd.DataFrame:
    """Input and output separately: the lease cost per million prompt and per million generated tokens
    (lease cost split by prefill/decode GPU-time) next to each API's list prices."""
    rows = [{"label": "lease (model): whole fleet", "kind": "lease", "input_usd_per_mtok": fleet_result.usd_per_million_input_tokens,
             "output_usd_per_mtok": fleet_result.usd_per_million_output_tokens_decode, "from_date": "", "source": "this model"}]
    prices = load_api_prices()
    if models is not None:
        prices = prices.loc[list(models)]
    rows += [{"label": f"API list: {r.model}", "kind": "API list price", "input_usd_per_mtok": r.input_usd_per_mtok,
              "output_usd_per_mtok": r.output_usd_per_mtok, "from_date": r.from_date, "source": r.source} for r in prices.itertuples()]
    return pd.DataFrame(rows)


@memoized(maxsize=4, batch=True)
def fleet_sensitivity(cluster: Cluster, params: dict, metric: str = "usd_per_million_output_tokens",
                      lease_usd_per_gpu_hour: float | None = None) -> pd.DataFrame:
    """One-at-a-time sensitivity of a :class:`FleetResult` figure: each ranged parameter of the
    ``inference`` section (``{key: Param}``, e.g. ``scenario.params["inference"]``) set to its low
    and its high end while the others stay central (both ends in one vectorized call). Rows sorted
    by swing, largest first. ``lease_usd_per_gpu_hour`` fixes the lease price (the allocated S-1 fee
    of :func:`lessee_lease`); the parameter is then not swept."""
    central = {k: p.value for k, p in params.items()}
    fixed = lease_usd_per_gpu_hour is not None
    if fixed:
        central["lease_usd_per_gpu_hour"] = float(lease_usd_per_gpu_hour)
    cases = [(key, p) for key, p in params.items()
             if not (isinstance(p.value, str) or not p.has_range or (fixed and key == "lease_usd_per_gpu_hour"))]
    # Every case in one vectorized call (analysis.params.one_at_a_time_columns).
    values = {**central, **one_at_a_time_columns(central, [(key, p.low, p.high) for key, p in cases])}
    values["active_params_b"] = np.minimum(values["active_params_b"], values["total_params_b"])
    values["kv_heads"] = np.minimum(values["kv_heads"], values["heads"])
    base, at_low, at_high = one_at_a_time_ends(getattr(fleet(cluster, values), metric), len(cases))
    rows = [{"parameter": key, "low_value": p.low, "high_value": p.high, "at_low": float(at_low[i]),
             "at_high": float(at_high[i]), "base": base, "swing": abs(float(at_high[i] - at_low[i]))}
            for i, (key, p) in enumerate(cases)]
    return pd.DataFrame(rows).sort_values("swing", ascending=False).reset_index(drop=True)


def benchmark(seconds: float = 1.5) -> dict[str, float]:
    """Throughput of the inference model: Monte Carlo draws per second of the whole fleet (Colossus 1,
    2,000 draws a call) and single-replica configurations per second (a 4,096-point grid)."""
    from analysis.bench import throughput
    from analysis.scenario import load_scenario, section_draws

    sc, draws = load_scenario("colossus1"), 2_000
    values = section_draws(sc.sample(draws, 0), "inference")
    bws = np.linspace(1.0, 8.0, 4096)
    one = lambda: replica_throughput(params=70e9, active_params=70e9, layers=80, hidden=8192, heads=64, kv_heads=8,
                                     input_tokens=1024, output_tokens=512, hbm_gb=141, hbm_tb_s=bws, peak_tflops=1979,
                                     gpus_per_replica=2, max_tpot_ms=40, max_ttft_ms=450)
    from analysis import memo
    with memo.disabled():   # the same call again and again: time the replica search, not its memo
        return {"inference_fleet_draws_per_s": throughput(lambda: fleet_draws(sc.cluster, values), seconds, draws),
                "inference_replica_configurations_per_s": throughput(one, seconds, bws.size)}
