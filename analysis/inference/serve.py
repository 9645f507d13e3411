"""The serving file (``python -m analysis inference SERVE.yaml``): schema, validation, evaluation.

Schema (every key optional unless marked)::

    name: llama2-70b-h100            # free text
    gpu: H100                        # required: an id from data/gpus.csv
    gpus_per_replica: 2              # required unless decode.gpus or ep is given; or "auto" (best size <= system_gpus)
    system_gpus: 8                   # GPUs of the whole system ("auto" replicas divide it); default gpus_per_replica
    precision: fp8                   # bf16 | fp8 | fp4 (weights and GEMMs)
    kv_precision: fp8                # default fp8 (bf16 for bf16 weights)
    max_batch: 896                   # scheduler limit per replica (per pipeline stage's micro-batch)
    max_num_tokens: 1536             # token budget of one iteration: decode tokens plus prefill chunks (TensorRT-LLM's runtime
                                     # max_num_tokens); default no limit
    tensor_parallel: 1               # dense: tensor-parallel GPUs (default min(replica, NVLink domain)); the rest are pipeline stages
                                     # (max_batch then limits each stage's micro-batch, as TensorRT-LLM's max_batch_size)
    gemm_allreduce: true             # dense: tensor-parallel all-reduces fused into the row-parallel GEMMs (TensorRT-LLM
                                     # gemm_allreduce_plugin); default false
    model:                           # required
      {params: 70e9, active_params: 70e9, layers: 80, hidden: 8192, heads: 64, kv_heads: 8,
       experts_per_token: 8}         # experts_per_token: routed experts per token (MoE all-to-all)
    mla: {kv_dim: 576}               # MLA-compressed KV cache (or ``mla: true`` for 576)
    ep: 64                           # expert-parallel degree of a decode replica (= its GPUs)
    prefill: {gpus: 32, replicas: 14, router: round_robin}  # disaggregated prefill pool: GPUs per prefill replica;
                                     # replicas one router balances (default 1, each its own queue); router: pooled (one
                                     # queue, M/M/c; the default) or round_robin (each replica in turn, E_c/M/1)
    decode: {gpus: 144}              # disaggregated decode pool: GPUs per decode replica; with replicas: 2 (and prefill.replicas)
                                     # the system's pools are fixed as deployed, not sized by the model
    workload: {input_tokens: 500, output_tokens: 294.45}    # required; means per request
                                     # (max_output_tokens: what a no_evict scheduler reserves per request;
                                     #  input_tokens_cv / max_input_tokens: spread and cap of prompt lengths)
    cache_hit_rate: 0.5              # share of prompt tokens served from the prefix cache
    speculative: {tokens: 1, acceptance: 0.85}               # draft tokens per step and acceptance rate
    slo: {ttft_s: 0.45, tpot_s: 0.04}                        # 99th-percentile targets; or offline | server | interactive
    benchmark: llama2-70b            # which MLPerf limits the named slo presets use
    latency: {max_tpot_ms: 40}       # (v1 form of slo.tpot_s)
    scheduler: max_util              # KV blocks as tokens are generated (TensorRT-LLM max_util, NVIDIA's MLPerf harness default;
                                     # vLLM); no_evict reserves each request's whole sequence at admission
    efficiency: {compute: 0.6, bandwidth: 0.85, tail: 1.1, overlap: 0.5, moe: 0.3, all_to_all: 0.9, fp4: 0.7, fp4_read: 0.4,
                 attention: 0.5, software: 1.0}   # defaults: data/parameters/inference.yaml (tail: p99 / mean TPOT;
                                     # all_to_all: share of the NICs' bandwidth an all-to-all across nodes reaches)
    memory: {kv_fraction: 0.9, reserved_gb_per_gpu: 5}
    scenarios:                       # per-MLPerf-scenario config of the same system (NVIDIA's configs differ by scenario)
      offline: {tensor_parallel: 2, max_batch: 128}   # keys: gpus_per_replica, tensor_parallel, max_batch, max_num_tokens, gemm_allreduce, memory
      interactive: {max_batch: 256}  # applied when the file is evaluated under that scenario (the MLPerf calibration,
                                     # or slo: <scenario> in the file; a file without targets is offline)

Every bad key or value raises one :class:`~analysis.errors.InputError` line; numbers written as
text (``'-80'``, ``16e6``, ``70_000``) are read and then checked like any number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.catalog import GpuSpec, gpu as gpu_spec, read_yaml
from analysis.errors import InputError, shown
from analysis.inference.fleet import best_replica, gemm_factor, gpu_kwargs, model_kwargs, weight_read_factor
from analysis.inference.parameters import (KV_PRECISIONS, PRECISION_BYTES, PREFILL_ROUTERS, SCENARIOS, SCHEDULERS, SLO_PRESETS,
                                           WEIGHT_PRECISIONS, default_values, slo_preset)
from analysis.inference.roofline import Throughput, fixed_pools, replica_throughput
from analysis.params import Spec
from analysis.paths import DATA_DIR
from analysis.serialize import plain

SERVE_DIR = DATA_DIR / "serve"     # the serving files shipped with the suite (MLPerf systems, MoE examples)

SERVE_KEYS = {"name", "gpu", "gpus_per_replica", "system_gpus", "precision", "kv_precision", "max_batch", "model", "mla", "ep",
              "prefill", "decode", "tensor_parallel", "gemm_allreduce", "max_num_tokens", "scheduler", "workload", "cache_hit_rate", "speculative", "slo", "benchmark", "latency", "efficiency",
              "memory", "scenarios", "source", "notes"}
SUB_KEYS = {
    "model": {"params", "active_params", "layers", "hidden", "heads", "kv_heads", "experts_per_token", "source"},
    "mla": {"kv_dim", "source"},
    "prefill": {"gpus", "replicas", "router", "source"},
    "decode": {"gpus", "replicas", "source"},
    "workload": {"input_tokens", "output_tokens", "max_output_tokens", "input_tokens_cv", "max_input_tokens", "source"},
    "speculative": {"tokens", "acceptance", "source"},
    "slo": {"ttft_s", "tpot_s", "source"},
    "latency": {"max_tpot_ms", "max_ttft_ms", "source"},
    "efficiency": {"compute", "bandwidth", "tail", "overlap", "moe", "all_to_all", "fp4", "fp4_read", "attention", "software", "source"},
    "memory": {"kv_fraction", "reserved_gb_per_gpu", "source"},
    "scenarios": {*SCENARIOS, "source"},
}
#: What a ``scenarios.<scenario>`` entry may set: the parts of a submitted config that differ between scenarios.
SCENARIO_KEYS = {"gpus_per_replica", "tensor_parallel", "max_batch", "max_num_tokens", "gemm_allreduce", "memory", "source"}
SERVE_SPECS = {
    "gpus_per_replica": Spec("GPUs", min=1, max=4096, integer=True),
    "system_gpus": Spec("GPUs", min=1, max=1_000_000, integer=True),
    "ep": Spec("GPUs", min=1, max=4096, integer=True),
    "tensor_parallel": Spec("GPUs", min=1, max=4096, integer=True),
    "max_batch": Spec("requests", min=1, max=1_000_000),
    "max_num_tokens": Spec("tokens", min=1, max=10_000_000, integer=True),
    "cache_hit_rate": Spec("-", min=0, max=0.99),
    "model.params": Spec("parameters", min=1e6, max=1e14),
    "model.active_params": Spec("parameters", min=1e6, max=1e14),
    "model.layers": Spec("layers", min=1, max=1000, integer=True),
    "model.hidden": Spec("-", min=1, max=200_000, integer=True),
    "model.heads": Spec("heads", min=1, max=4096, integer=True),
    "model.kv_heads": Spec("heads", min=1, max=4096, integer=True),
    "model.experts_per_token": Spec("experts", min=0, max=256, integer=True),
    "mla.kv_dim": Spec("values per token per layer", min=1, max=65_536, integer=True),
    "prefill.gpus": Spec("GPUs", min=1, max=4096, integer=True),
    "prefill.replicas": Spec("replicas", min=1, max=4096, integer=True),
    "decode.gpus": Spec("GPUs", min=1, max=4096, integer=True),
    "decode.replicas": Spec("replicas", min=1, max=4096, integer=True),
    "workload.input_tokens": Spec("tokens", min=1, max=10_000_000),
    "workload.output_tokens": Spec("tokens", min=1, max=10_000_000),
    "workload.max_output_tokens": Spec("tokens", min=1, max=10_000_000),
    "workload.input_tokens_cv": Spec("-", min=0, max=10),
    "workload.max_input_tokens": Spec("tokens", min=1, max=10_000_000),
    "speculative.tokens": Spec("tokens", min=0, max=16, integer=True),
    "speculative.acceptance": Spec("-", min=0, max=0.99),
    "slo.ttft_s": Spec("s", min=0, min_inclusive=False, max=10_000),
    "slo.tpot_s": Spec("s", min=0, min_inclusive=False, max=1_000),
    "latency.max_tpot_ms": Spec("ms", min=0, min_inclusive=False, max=1_000_000),
    "latency.max_ttft_ms": Spec("ms", min=0, min_inclusive=False, max=10_000_000),
    "efficiency.compute": Spec("-", min=0, min_inclusive=False, max=1),
    "efficiency.bandwidth": Spec("-", min=0, min_inclusive=False, max=1),
    "efficiency.tail": Spec("-", min=1, max=10),
    "efficiency.overlap": Spec("-", min=0, max=1),
    "efficiency.moe": Spec("-", min=0, min_inclusive=False, max=1),
    "efficiency.all_to_all": Spec("-", min=0, min_inclusive=False, max=1),
    "efficiency.fp4": Spec("-", min=0, min_inclusive=False, max=1),
    "efficiency.fp4_read": Spec("-", min=0, min_inclusive=False, max=1),
    "efficiency.attention": Spec("-", min=0, min_inclusive=False, max=1),
    "efficiency.software": Spec("-", min=1, max=2),
    "memory.kv_fraction": Spec("-", min=0, min_inclusive=False, max=1),
    "memory.reserved_gb_per_gpu": Spec("GB", min=0, max=1000),
}


def number(path: str, raw, where: str | None = None):
    """A number from YAML, checked against ``SERVE_SPECS[path]`` (errors name ``where``, default ``path``). Text that
    reads as a number (YAML reads ``16e6`` and quoted ``'-80'`` as text) is converted first and then checked like
    any number; booleans and other text are errors."""
    where = where or path
    if isinstance(raw, str):
        text = raw.strip().replace("_", "")
        try:
            raw = float(text)
        except ValueError:
            raise InputError(f"{where}: {shown(raw)} is not a number; expected {SERVE_SPECS[path].allowed()}") from None
        if raw.is_integer() and abs(raw) < 2 ** 53:
            raw = int(raw)
    return SERVE_SPECS[path].check(where, raw)


def _mapping(doc: dict, key: str, required: bool) -> dict:
    allowed = SUB_KEYS[key]
    raw = doc.get(key)
    if raw is None:
        if required:
            raise InputError(f"{key}: missing; expected a mapping with keys {', '.join(sorted(allowed - {'source'}))}")
        return {}
    if not isinstance(raw, dict):
        raise InputError(f"{key}: {shown(raw)} is not a mapping; expected keys {', '.join(sorted(allowed - {'source'}))}")
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise InputError(f"{key}.{unknown[0]}: unknown key; {key} takes {', '.join(sorted(allowed))}")
    return raw


def _flag(path: str, raw) -> bool:
    if not isinstance(raw, bool):
        raise InputError(f"{path}: {shown(raw)} is not allowed; use true or false")
    return raw


def _choice(path: str, raw, choices) -> str:
    if not isinstance(raw, str) or raw not in choices:
        raise InputError(f"{path}: {shown(raw)} is not allowed; use one of {', '.join(choices)}")
    return raw


@dataclass
class ServeSpec:
    name: str
    gpu: GpuSpec
    gpus_per_replica: int | None     # None: "auto" (best size dividing system_gpus)
    precision: str
    kv_precision: str
    model: dict
    values: dict                     # an ``inference``-section-like dict (billions, efficiencies, limits)
    system_gpus: int = 0
    prefill_gpus: int | None = None  # disaggregated prefill replica size
    benchmark: str = "llama2-70b"


def is_mixture_of_experts(values: dict) -> bool:
    """Whether an ``inference``-section-like dict describes a mixture of experts (routed experts, fewer active than
    total parameters): the test :func:`~analysis.inference.roofline.replica_throughput` applies."""
    return values.get("experts_per_token", 0) > 0 and values.get("active_params_b", 0) < values.get("total_params_b", 0)


def scenario_doc(doc: dict, scenario: str | None) -> dict:
    """``doc`` with its ``scenarios.<scenario>`` entry applied (``memory`` merged key by key) and the
    ``scenarios`` key removed; every entry is checked (keys, scenarios) whichever one is applied."""
    scenarios = _mapping(doc, "scenarios", required=False)
    for name, entry in scenarios.items():
        if name == "source":
            continue
        if not isinstance(entry, dict):
            raise InputError(f"scenarios.{name}: {shown(entry)} is not a mapping; expected keys {', '.join(sorted(SCENARIO_KEYS))}")
        unknown = sorted(str(k) for k in set(entry) - SCENARIO_KEYS)
        if unknown:
            raise InputError(f"scenarios.{name}.{unknown[0]}: unknown key; a scenario entry takes {', '.join(sorted(SCENARIO_KEYS))}")
        for key in ("gpus_per_replica", "tensor_parallel", "max_batch", "max_num_tokens"):   # checked here, applied or not
            if key in entry and entry[key] != "auto":
                number(key, entry[key], where=f"scenarios.{name}.{key}")
        if "gemm_allreduce" in entry:
            _flag(f"scenarios.{name}.gemm_allreduce", entry["gemm_allreduce"])
    out = {k: v for k, v in doc.items() if k != "scenarios"}
    entry = {k: v for k, v in (scenarios.get(scenario) or {}).items() if k != "source"} if scenario else {}
    if "memory" in entry:
        out["memory"] = {**(out.get("memory") or {}), **_mapping(entry, "memory", required=True)}
    out.update({k: v for k, v in entry.items() if k != "memory"})
    return out


def parse_serve(doc: dict, defaults: dict | None = None, scenario: str | None = None) -> ServeSpec:
    """Validate a serving YAML mapping (schema in the module docstring); ``scenario`` applies that MLPerf
    scenario's ``scenarios`` entry (the submitted config of that scenario)."""
    if defaults is None:
        defaults = default_values()
    if not isinstance(doc, dict):
        raise InputError(f"serve file: expected a mapping of keys, got {type(doc).__name__}")
    unknown = sorted(str(k) for k in set(doc) - SERVE_KEYS)
    if unknown:
        raise InputError(f"{unknown[0]}: unknown key; a serving file takes {', '.join(sorted(SERVE_KEYS))}")
    if scenario is not None and scenario not in SCENARIOS:
        raise InputError(f"scenario: {shown(scenario)} is not allowed; use one of {', '.join(SCENARIOS)}")
    if scenario is None:               # a named slo preset selects that scenario's config; no target at all is offline
        slo_name = doc.get("slo")
        scenario = slo_name if isinstance(slo_name, str) and slo_name in SCENARIOS else (
            "offline" if slo_name is None and doc.get("latency") is None else None)
    doc = scenario_doc(doc, scenario)
    if "gpu" not in doc:
        raise InputError("gpu: missing; name a GPU id from data/gpus.csv")
    spec = gpu_spec(str(doc["gpu"]))
    benchmark = _choice("benchmark", doc.get("benchmark", "llama2-70b"), tuple(SLO_PRESETS))
    prefill = _mapping(doc, "prefill", required=False)
    decode = _mapping(doc, "decode", required=False)
    if bool(prefill) != bool(decode):
        raise InputError(f"{'decode' if prefill else 'prefill'}: missing; disaggregated serving needs both prefill.gpus and decode.gpus")
    disaggregated = bool(prefill)
    prefill_gpus = int(number("prefill.gpus", prefill["gpus"])) if disaggregated and "gpus" in prefill else None
    if disaggregated and ("gpus" not in prefill or "gpus" not in decode):
        raise InputError(f"{'prefill' if 'gpus' not in prefill else 'decode'}.gpus: missing; give the GPUs per replica of each pool")
    size = None
    if disaggregated:
        size = int(number("decode.gpus", decode["gpus"]))
    if "ep" in doc:
        ep = int(number("ep", doc["ep"]))
        if size is not None and ep != size:
            raise InputError(f"ep: {ep} differs from decode.gpus {size}; a decode replica spans its expert-parallel group")
        size = ep
    raw_size = doc.get("gpus_per_replica")
    if raw_size is not None:
        if raw_size == "auto":
            given = None
        else:
            given = int(number("gpus_per_replica", raw_size))
            if size is not None and given != size:
                raise InputError(f"gpus_per_replica: {given} differs from the decode replica ({size} GPUs from ep/decode.gpus)")
        size = given if size is None else size
    elif size is None:
        raise InputError("gpus_per_replica: missing; expected an integer >= 1 or 'auto' (or give ep / decode.gpus)")
    system = int(number("system_gpus", doc["system_gpus"])) if "system_gpus" in doc else (size or spec.nvlink_domain_gpus)
    decode_replicas, prefill_pool = None, None
    if disaggregated and "replicas" in decode:
        decode_replicas = int(number("decode.replicas", decode["replicas"]))
        if "replicas" not in prefill:
            raise InputError("prefill.replicas: missing; fixed pools (decode.replicas) need the number of prefill replicas too")
        prefill_pool = prefill_gpus * int(number("prefill.replicas", prefill["replicas"]))
        pools = prefill_pool + size * decode_replicas
        if "system_gpus" in doc and pools != system:
            raise InputError(f"system_gpus: {system} differs from the fixed pools' {pools} GPUs "
                             "(prefill.gpus x prefill.replicas + decode.gpus x decode.replicas)")
        system = pools
    if size is not None and system % size:
        raise InputError(f"system_gpus: {system} is not a multiple of the {size}-GPU replica")
    if "tensor_parallel" in doc:
        tp = int(number("tensor_parallel", doc["tensor_parallel"]))
        if size is None or size % tp:
            raise InputError(f"tensor_parallel: {tp} must divide the replica's GPUs ({'auto' if size is None else size}); "
                             "give a fixed gpus_per_replica that is a multiple of it")
    gemm_allreduce = _flag("gemm_allreduce", doc.get("gemm_allreduce", False))
    precision = _choice("precision", doc.get("precision", "fp8"), WEIGHT_PRECISIONS)
    if not np.isfinite(spec.peak_tflops(precision)):
        raise InputError(f"precision: {spec.id} has no dense {precision} peak in data/gpus.csv; use "
                         + ", ".join(p for p in WEIGHT_PRECISIONS if np.isfinite(spec.peak_tflops(p))))
    kv_precision = _choice("kv_precision", doc.get("kv_precision", "bf16" if precision == "bf16" else "fp8"), KV_PRECISIONS)
    model_raw = _mapping(doc, "model", required=True)
    model = {}
    for key in ("params", "layers", "hidden", "heads", "kv_heads"):
        if key not in model_raw:
            raise InputError(f"model.{key}: missing; model takes params, active_params (optional), layers, hidden, heads, kv_heads")
        model[key] = number(f"model.{key}", model_raw[key])
    model["active_params"] = number("model.active_params", model_raw.get("active_params", model["params"]))
    model["experts_per_token"] = number("model.experts_per_token", model_raw.get("experts_per_token", 0))
    if model["active_params"] > model["params"]:
        raise InputError(f"model.active_params: {model['active_params']:g} exceeds model.params {model['params']:g}; "
                         "active parameters are a subset of all parameters")
    if model["kv_heads"] > model["heads"] or model["heads"] % model["kv_heads"]:
        raise InputError(f"model.kv_heads: {model['kv_heads']:g} must divide model.heads {model['heads']:g}")
    if model["hidden"] % model["heads"]:
        raise InputError(f"model.hidden: {model['hidden']:g} is not a multiple of model.heads {model['heads']:g}")
    mla_raw = doc.get("mla")
    if mla_raw is None or mla_raw is False:
        mla_dim = 0
    elif mla_raw is True:
        mla_dim = 576
    else:
        mla_dim = int(number("mla.kv_dim", _mapping(doc, "mla", required=True).get("kv_dim", 576)))
    workload = _mapping(doc, "workload", required=True)
    for key in ("input_tokens", "output_tokens"):
        if key not in workload:
            raise InputError(f"workload.{key}: missing; workload takes input_tokens and output_tokens (mean per request)")
    spec_raw = _mapping(doc, "speculative", required=False)
    eff = _mapping(doc, "efficiency", required=False)
    mem = _mapping(doc, "memory", required=False)
    lat = _mapping(doc, "latency", required=False)
    tpot_ms, ttft_ms = math.inf, math.inf
    slo = doc.get("slo")
    if isinstance(slo, str):
        preset = slo_preset(_choice("slo", slo, SCENARIOS), benchmark)
        tpot_ms, ttft_ms = preset["max_tpot_ms"], preset["max_ttft_ms"]
    elif slo is not None:
        slo_map = _mapping(doc, "slo", required=False)
        if "tpot_s" in slo_map:
            tpot_ms = number("slo.tpot_s", slo_map["tpot_s"]) * 1e3
        if "ttft_s" in slo_map:
            ttft_ms = number("slo.ttft_s", slo_map["ttft_s"]) * 1e3
    if "max_tpot_ms" in lat:
        tpot_ms = number("latency.max_tpot_ms", lat["max_tpot_ms"])
    if "max_ttft_ms" in lat:
        ttft_ms = number("latency.max_ttft_ms", lat["max_ttft_ms"])
    values = {
        "total_params_b": model["params"] / 1e9, "active_params_b": model["active_params"] / 1e9,
        "layers": model["layers"], "hidden": model["hidden"], "heads": model["heads"], "kv_heads": model["kv_heads"],
        "attention": "mla" if mla_dim else "gqa", "mla_kv_dim": float(mla_dim or 576),
        "experts_per_token": float(model["experts_per_token"]),
        "weight_precision": precision, "kv_precision": kv_precision,
        "input_tokens": number("workload.input_tokens", workload["input_tokens"]),
        "output_tokens": number("workload.output_tokens", workload["output_tokens"]),
        "max_output_tokens": (number("workload.max_output_tokens", workload["max_output_tokens"])
                              if "max_output_tokens" in workload else None),
        "input_tokens_cv": (number("workload.input_tokens_cv", workload["input_tokens_cv"])
                            if "input_tokens_cv" in workload else None),
        "max_input_tokens": (number("workload.max_input_tokens", workload["max_input_tokens"])
                             if "max_input_tokens" in workload else None),
        "cache_hit_rate": number("cache_hit_rate", doc["cache_hit_rate"]) if "cache_hit_rate" in doc else 0.0,
        "max_batch": number("max_batch", doc["max_batch"]) if "max_batch" in doc else np.inf,
        "max_num_tokens": number("max_num_tokens", doc["max_num_tokens"]) if "max_num_tokens" in doc else np.inf,
        "max_tpot_ms": tpot_ms, "max_ttft_ms": ttft_ms,
        "serving_mode": "disaggregated" if disaggregated else "aggregated",
        "spec_tokens": float(number("speculative.tokens", spec_raw.get("tokens", 0))),
        "spec_acceptance": float(number("speculative.acceptance", spec_raw.get("acceptance", 0.0))),
        "compute_efficiency": number("efficiency.compute", eff.get("compute", defaults["compute_efficiency"])),
        "bandwidth_efficiency": number("efficiency.bandwidth", eff.get("bandwidth", defaults["bandwidth_efficiency"])),
        "latency_tail_factor": number("efficiency.tail", eff.get("tail", defaults["latency_tail_factor"])),
        "comm_overlap": number("efficiency.overlap", eff.get("overlap", defaults["comm_overlap"])),
        "moe_efficiency": number("efficiency.moe", eff.get("moe", defaults["moe_efficiency"])),
        "scaleout_all_to_all_efficiency": number("efficiency.all_to_all", eff.get("all_to_all", defaults["scaleout_all_to_all_efficiency"])),
        "fp4_efficiency": number("efficiency.fp4", eff.get("fp4", defaults["fp4_efficiency"])),
        "fp4_weight_read_efficiency": number("efficiency.fp4_read", eff.get("fp4_read", defaults["fp4_weight_read_efficiency"])),
        "attention_efficiency": number("efficiency.attention", eff.get("attention", defaults["attention_efficiency"])),
        "software_factor": number("efficiency.software", eff.get("software", defaults["software_factor"])),
        "kv_memory_fraction": number("memory.kv_fraction", mem.get("kv_fraction", defaults["kv_memory_fraction"])),
        "reserved_gb_per_gpu": number("memory.reserved_gb_per_gpu", mem.get("reserved_gb_per_gpu", defaults["reserved_gb_per_gpu"])),
        "max_gpus_per_replica": float(system),
        # one router over the prefill replicas (the TTFT queue: pooled M/M/c or round robin E_c/M/1); without one each
        # replica queues its own prompts
        "prefill_router_replicas": float(number("prefill.replicas", prefill["replicas"])) if "replicas" in prefill else 1.0,
        "prefill_router": _choice("prefill.router", prefill.get("router", defaults["prefill_router"]), PREFILL_ROUTERS),
        "tensor_parallel": float(number("tensor_parallel", doc["tensor_parallel"])) if "tensor_parallel" in doc else None,
        "gemm_allreduce": gemm_allreduce,
        "scheduler": _choice("scheduler", doc.get("scheduler", defaults["scheduler"]), SCHEDULERS),
        "decode_replicas": decode_replicas, "prefill_pool_gpus": prefill_pool,
    }
    weight_gb = model["params"] * PRECISION_BYTES[precision] / 1e9
    for label, gpus in (("gpus_per_replica" if not disaggregated else "decode.gpus", size), ("prefill.gpus", prefill_gpus)):
        if gpus is not None and weight_gb / gpus + values["reserved_gb_per_gpu"] >= spec.hbm_gb:
            need = math.ceil(weight_gb / (spec.hbm_gb - values["reserved_gb_per_gpu"]) + 1e-9)
            raise InputError(f"{label}: {gpus} x {spec.id} ({spec.hbm_gb:g} GB) cannot hold {weight_gb:,.0f} GB of {precision} "
                             f"weights plus {values['reserved_gb_per_gpu']:g} GB reserve per GPU; use at least {need}")
    return ServeSpec(str(doc.get("name", f"{spec.id}-serve")), spec, size, precision, kv_precision, model, values, system,
                     prefill_gpus, benchmark)


def evaluate_serve(serve: ServeSpec, **overrides) -> Throughput:
    """:func:`replica_throughput` for a parsed serving file. ``overrides`` replace keyword arguments
    of :func:`replica_throughput` (arrays broadcast, e.g. a grid of efficiencies); an ``"auto"``
    replica is sized by :func:`best_replica` over the sizes dividing ``system_gpus``."""
    if serve.gpus_per_replica is None:
        sizes = [s for s in (1, 2, 4, 8, 16, 32, 64, 72, 128, 256) if s <= serve.system_gpus and serve.system_gpus % s == 0]
        names = {"compute_efficiency", "software_factor", "bandwidth_efficiency", "latency_tail_factor", "moe_efficiency", "scaleout_all_to_all_efficiency", "fp4_efficiency", "fp4_weight_read_efficiency", "attention_efficiency", "max_tpot_ms", "max_ttft_ms",
                 "input_tokens", "output_tokens", "cache_hit_rate", "comm_overlap", "input_tokens_cv", "max_input_tokens"}
        unknown = set(overrides) - names
        if unknown:
            raise InputError(f"{sorted(unknown)[0]}: cannot be overridden for an 'auto' replica; use one of {', '.join(sorted(names))}")
        return best_replica(serve.gpu, {**serve.values, **overrides}, sizes=sizes)[0]
    fp4 = overrides.pop("fp4_efficiency", serve.values["fp4_efficiency"])
    fp4_read = overrides.pop("fp4_weight_read_efficiency", serve.values["fp4_weight_read_efficiency"])
    kwargs = model_kwargs(serve.values)
    kwargs.update(gemm_peak_factor=gemm_factor({"fp4_efficiency": fp4}, serve.precision),
                  weight_read_efficiency=weight_read_factor({"fp4_weight_read_efficiency": fp4_read}, serve.precision), gpus_per_replica=serve.gpus_per_replica, weight_bytes_per_param=PRECISION_BYTES[serve.precision],
                  prefill_gpus_per_replica=serve.prefill_gpus, **gpu_kwargs(serve.gpu, serve.precision))
    kwargs.update(overrides)
    t = replica_throughput(**kwargs)
    if serve.values.get("decode_replicas") and kwargs.get("disaggregated", True):
        t = fixed_pools(t, serve.gpus_per_replica, serve.values["decode_replicas"], serve.values["prefill_pool_gpus"])
    return t


def replica_size(serve: ServeSpec, **overrides) -> float:
    """GPUs of the replica :func:`evaluate_serve` uses (the chosen size for ``"auto"``, under the same
    ``overrides``, e.g. a scenario's latency targets)."""
    if serve.gpus_per_replica is not None:
        return float(serve.gpus_per_replica)
    sizes = [s for s in (1, 2, 4, 8, 16, 32, 64, 72, 128, 256) if s <= serve.system_gpus and serve.system_gpus % s == 0]
    return float(best_replica(serve.gpu, {**serve.values, **overrides}, sizes=sizes)[1])


@dataclass
class ServeResult:
    """Result of ``python -m analysis inference SERVE.yaml``: the operating point and what bounds it."""

    name: str
    gpu: str
    gpus_per_replica: float
    precision: str
    kv_precision: str
    input_tokens: float
    output_tokens: float
    throughput: Throughput
    compute_efficiency: float
    bandwidth_efficiency: float
    values: dict | None = None
    prefill_gpus: float | None = None

    def to_dict(self) -> dict:
        """Strict-JSON-ready: no NaN or infinity (``None`` with the reason in ``null_reasons``)."""
        t, v = self.throughput, self.values or {}
        s = lambda a: float(np.asarray(a))
        reasons = {}
        target = lambda key: None if not np.isfinite(v.get(key, np.inf)) else float(v[key])
        if target("max_tpot_ms") is None:
            reasons["max_tpot_ms"] = "no TPOT target"
        if target("max_ttft_ms") is None:
            reasons["max_ttft_ms"] = "no TTFT target"
        latency_limit = s(t.batch_latency_limit)
        if not np.isfinite(latency_limit):
            reasons["batch_latency_limit"] = "no latency target" if "max_tpot_ms" in reasons and "max_ttft_ms" in reasons \
                else "the latency targets do not bind below the KV-cache and scheduler limits"
        if v.get("tensor_parallel") is None:
            reasons["tensor_parallel"] = "default: tensor parallel inside the NVLink domain"
        if not np.isfinite(v.get("max_num_tokens", np.inf)):
            reasons["max_num_tokens"] = "no token budget per iteration"
        if v.get("decode_replicas") is None:
            reasons["decode_replicas"] = "pools sized by the model" if v.get("serving_mode") == "disaggregated" else "aggregated serving"
        moe = is_mixture_of_experts(v)
        across_nodes = moe and self.gpus_per_replica > gpu_spec(self.gpu).nvlink_domain_gpus
        if not moe:
            reasons["moe_efficiency"] = "dense model: no expert layers"
        if not across_nodes:
            reasons["scaleout_all_to_all_efficiency"] = ("dense model: no all-to-all" if not moe
                                                         else "the all-to-all stays inside the NVLink domain")
        if s(t.batch) < 1:
            for key in ("tpot_ms", "ttft_ms", "prefill_time_fraction"):
                reasons[key] = "no request fits the KV cache" if str(t.limit) == "does-not-fit" else "the latency target cannot be met at batch 1"
        out = {"name": self.name, "gpu": self.gpu, "gpus_per_replica": self.gpus_per_replica, "precision": self.precision,
               "kv_precision": self.kv_precision, "serving_mode": v.get("serving_mode", "aggregated"),
               "prefill_gpus_per_replica": self.prefill_gpus, "attention": v.get("attention", "gqa"),
               "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
               "cache_hit_rate": v.get("cache_hit_rate", 0.0), "max_tpot_ms": target("max_tpot_ms"), "max_ttft_ms": target("max_ttft_ms"),
               "tokens_per_s_per_gpu": s(t.tokens_per_s_per_gpu), "tokens_per_s_per_replica": s(t.tokens_per_s_per_replica),
               "batch": s(t.batch), "bound": str(t.bound), "limit": str(t.limit), "decode_bound": str(t.decode_bound),
               "batch_kv_limit": s(t.batch_kv_limit), "batch_latency_limit": latency_limit,
               "decode_step_ms": s(t.decode_step_s) * 1e3, "tokens_per_step": s(t.tokens_per_step),
               "prefill_ms_per_request": s(t.prefill_s_per_request) * 1e3,
               "prefill_time_fraction": s(t.prefill_time_fraction), "tpot_ms": s(t.tpot_ms), "ttft_ms": s(t.ttft_ms),
               "tpot_p99_ms": s(t.tpot_p99_ms), "ttft_p99_ms": s(t.ttft_p99_ms),
               "weights_gb_per_gpu": s(t.weights_gb_per_gpu), "kv_capacity_gb_per_replica": s(t.kv_capacity_gb_per_replica),
               "kv_gb_per_request": s(t.kv_gb_per_request),
               "decode_step_split_ms": {"weights": s(t.step_weights_s) * 1e3, "attention": s(t.step_attention_s) * 1e3,
                                        "communication": s(t.step_comm_s) * 1e3},
               "compute_efficiency": self.compute_efficiency, "bandwidth_efficiency": self.bandwidth_efficiency,
               "latency_tail_factor": v.get("latency_tail_factor", 1.0), "software_factor": v.get("software_factor", 1.0),
               "attention_efficiency": v.get("attention_efficiency"),
               "moe_efficiency": v.get("moe_efficiency") if moe else None,
               "scaleout_all_to_all_efficiency": v.get("scaleout_all_to_all_efficiency") if across_nodes else None,
               "prefill_router_replicas": v.get("prefill_router_replicas", 1.0),
               "prefill_router": v.get("prefill_router", "pooled"),
               "tensor_parallel": v.get("tensor_parallel"), "gemm_allreduce": bool(v.get("gemm_allreduce", False)),
               "max_num_tokens": v.get("max_num_tokens") if np.isfinite(v.get("max_num_tokens", np.inf)) else None,
               "decode_replicas": v.get("decode_replicas"), "scheduler": v.get("scheduler", "max_util"),
               "weight_read_efficiency": (v.get("fp4_weight_read_efficiency", 1.0) if self.precision == "fp4" else 1.0)}
        out = plain(out)
        for key, value in list(out.items()):
            if value is None and key not in reasons and key != "prefill_gpus_per_replica":
                reasons[key] = "not defined at this operating point"
        out["null_reasons"] = reasons
        return out

    def _repr_html_(self) -> str:
        import html
        return f"<pre>{html.escape(self.summary())}</pre>"

    def summary(self) -> str:
        d = self.to_dict()
        ms = lambda x: "n/a" if x is None else f"{x:,.1f} ms"
        target = ("no latency target (offline)" if d["max_tpot_ms"] is None and d["max_ttft_ms"] is None else
                  f"p99 targets TTFT {ms(d['max_ttft_ms'])}, TPOT {ms(d['max_tpot_ms'])}")
        router = (self.values or {}).get("prefill_router_replicas", 1.0)
        mode = d["serving_mode"] + (f" ({d['prefill_gpus_per_replica']:.0f}-GPU prefill replicas"
                                    + (f", {router:.0f} behind one {'round-robin ' if d['prefill_router'] == 'round_robin' else ''}router"
                                       if router > 1 else "") + ")"
                                    if d["prefill_gpus_per_replica"] else "")
        tp = d["tensor_parallel"]
        layout = ", ".join(part for part in (
            f"tensor parallel {tp:.0f} x {self.gpus_per_replica / tp:.0f} pipeline stages" if tp and tp < self.gpus_per_replica else "",
            "all-reduce fused into the GEMMs" if d["gemm_allreduce"] else "",
            f"token budget {d['max_num_tokens']:,.0f} per iteration" if d["max_num_tokens"] else "",
            f"pools fixed ({d['decode_replicas']:.0f} decode replicas)" if d["decode_replicas"] else "") if part)
        mode += f", {layout}" if layout else ""
        limits = {"kv-capacity": "a full KV cache", "max-batch": "the scheduler's batch limit",
                  "token-budget": "the token budget per iteration (max_num_tokens)", "tpot": "the TPOT target",
                  "ttft": "the TTFT target", "does-not-fit": "memory (no request fits)",
                  "target-not-met": "the latency target (not met even at batch 1)"}
        frac = d["prefill_time_fraction"]
        return "\n".join([
            f"{self.name}: {self.gpus_per_replica:.0f} x {self.gpu} per replica, {self.precision} weights, {self.kv_precision} "
            f"{d['attention'].upper()} KV cache, {mode}; requests {self.input_tokens:,.0f} in + {self.output_tokens:,.0f} out tokens "
            f"(prefix-cache hit rate {d['cache_hit_rate']:.0%}); {target}",
            f"  tokens/s per GPU  {d['tokens_per_s_per_gpu']:12,.0f}   (per replica {d['tokens_per_s_per_replica']:,.0f}; generated tokens)",
            f"  batch             {d['batch']:12,.0f}   (KV cache allows {d['batch_kv_limit']:,.0f}); the batch is limited by "
            f"{limits.get(d['limit'], d['limit'])}",
            f"  bound             {d['bound']:>12s}   (decode step {d['decode_bound']})",
            f"  decode step       {ms(d['decode_step_ms']):>12s} (weights {d['decode_step_split_ms']['weights']:.1f}, attention "
            f"{d['decode_step_split_ms']['attention']:.1f}, communication {d['decode_step_split_ms']['communication']:.1f} ms); "
            f"{d['tokens_per_step']:.2f} tokens per request per step",
            f"  prefill           {ms(d['prefill_ms_per_request']):>12s} per request ("
            f"{'n/a' if frac is None else f'{frac:.0%}'} of GPU time)",
            f"  latency (mean)    TPOT {ms(d['tpot_ms'])}, TTFT {ms(d['ttft_ms'])}; p99 TPOT {ms(d['tpot_p99_ms'])}, TTFT {ms(d['ttft_p99_ms'])}",
            f"  memory per GPU    {d['weights_gb_per_gpu']:12.1f} GB weights; KV cache {d['kv_capacity_gb_per_replica']:,.0f} GB per replica, "
            f"{d['kv_gb_per_request'] * 1e3:,.0f} MB per request ("
            + ("prompt and half the output: blocks allocated as tokens are generated" if d["scheduler"] == "max_util"
               else "the whole sequence reserved at admission") + ")",
            f"  efficiencies      compute {self.compute_efficiency:.3f} x serving-stack factor {(self.values or {}).get('software_factor', 1.0):.2f} "
            f"of dense {self.precision} peak, bandwidth "
            f"{self.bandwidth_efficiency:.2f} of HBM, attention "
            + (f"{d['attention_efficiency']:.2f} of its roofline" if d.get("attention_efficiency") is not None else "n/a")
            + (f", NVFP4 weight reads {d['weight_read_efficiency']:.2f} of that bandwidth" if self.precision == "fp4" else "")
            + (f", expert layers {d['moe_efficiency']:.2f} of their roofline" if d["moe_efficiency"] is not None else "")
            + (f", all-to-all across nodes {d['scaleout_all_to_all_efficiency']:.2f} of the NICs"
               if d["scaleout_all_to_all_efficiency"] is not None else "")
            + f", p99/mean TPOT {d['latency_tail_factor']:.2f}",
        ])


def run_from_file(path: str | Path) -> ServeResult:
    """Evaluate one serving file (schema in the module docstring)."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"serve file: {shown(str(path))} not found")
    serve = parse_serve(read_yaml(file))
    t = evaluate_serve(serve)
    return ServeResult(serve.name, serve.gpu.id, replica_size(serve), serve.precision, serve.kv_precision,
                       float(serve.values["input_tokens"]), float(serve.values["output_tokens"]), t,
                       float(serve.values["compute_efficiency"]), float(serve.values["bandwidth_efficiency"]),
                       serve.values, serve.prefill_gpus)


def serve_variants(path: str | Path, variants: dict[str, dict]) -> dict[str, dict]:
    """One serving file evaluated under several variants ``{name: {section-style key: value}}``
    (e.g. ``{"roofline ceiling": {"moe_efficiency": 1.0}}``); returns ``{name: ServeResult.to_dict()}``.
    Keys replace the parsed file's values (``serving_mode``, ``max_ttft_ms``, ``comm_overlap``, ...);
    ``gpus_per_replica`` / ``prefill_gpus`` resize the replicas."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"serve file: {shown(str(path))} not found")
    base = parse_serve(read_yaml(file))
    out = {}
    for name, change in variants.items():
        change = dict(change)
        size = change.pop("gpus_per_replica", base.gpus_per_replica)
        prefill = change.pop("prefill_gpus", base.prefill_gpus)
        serve = ServeSpec(base.name, base.gpu, size, base.precision, base.kv_precision, base.model, {**base.values, **change},
                          base.system_gpus, prefill, base.benchmark)
        t = evaluate_serve(serve)
        out[name] = ServeResult(name, serve.gpu.id, replica_size(serve), serve.precision, serve.kv_precision,
                                float(serve.values["input_tokens"]), float(serve.values["output_tokens"]), t,
                                float(serve.values["compute_efficiency"]), float(serve.values["bandwidth_efficiency"]),
                                serve.values, serve.prefill_gpus).to_dict()
    return out
