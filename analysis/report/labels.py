"""The one label registry: a human name (and unit) for every parameter path, factor and figure.

Tables and charts look names up here instead of printing code names (``economics.s1_gpus_covered``,
``step: exposed_ep``). Modules register their own labels with :func:`register` next to the code
that defines the names; :func:`label` falls back to the parameter spec's description, then to a
de-snake-cased name with its unit spelled out (``npv_usd`` -> ``NPV ($)``), so nothing reaches a
reader as a raw identifier.
"""
from __future__ import annotations

import re

_LABELS: dict[str, str] = {}


def register(labels: dict[str, str]) -> None:
    """Add ``{code name: human label}`` entries (later registrations win)."""
    _LABELS.update(labels)


def registered() -> dict[str, str]:
    return dict(_LABELS)


def _spec_description(name: str) -> str | None:
    section, _, key = name.partition(".")
    if not key or " " in name:
        return None
    try:
        from analysis.scenario import section_specs
        spec = section_specs().get(section, {}).get(key)
    except Exception:  # the registry must never break a report
        return None
    if spec is None:
        return None
    text = (getattr(spec, "label", None) or getattr(spec, "description", None) or spec.doc or "").strip()
    if not text:
        return None
    text = re.split(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)(?<!\bvs)\. ", text.split("; ")[0])[0].rstrip(".")
    text = text[:1].upper() + text[1:]
    if spec.unit and spec.unit not in ("-", ""):
        text = re.sub(r"\s*\([^()]*\)$", "", text)   # one parenthesis is enough: keep the unit's
        return f"{text} ({spec.unit})"
    return text


# words that are acronyms or units when they appear in a snake_case name
_WORDS = {
    "npv": "NPV", "irr": "IRR", "tco": "TCO", "mfu": "MFU", "hfu": "HFU", "gpu": "GPU", "gpus": "GPUs", "cpu": "CPU",
    "hbm": "HBM", "pue": "PUE", "it": "IT", "bf16": "BF16", "fp8": "FP8", "fp16": "FP16", "fp4": "FP4", "ettr": "ETTR",
    "mw": "MW", "kw": "kW", "w": "W", "mwh": "MWh", "kwh": "kWh", "gb": "GB", "tb": "TB", "pb": "PB", "usd": "$",
    "tp": "TP", "pp": "PP", "dp": "DP", "cp": "CP", "ep": "EP", "nvlink": "NVLink", "kv": "KV", "tflops": "TFLOPS",
    "eflops": "EFLOPS", "pflops": "PFLOPS", "s1": "S-1", "c1": "Colossus 1", "c2": "Colossus 2", "mtbf": "MTBF",
    "moe": "MoE", "id": "ID", "p05": "5th percentile", "p50": "median", "p95": "95th percentile", "dc": "data center",
    "exaflop": "exaFLOP", "exaflops": "exaFLOPs", "ms": "ms", "s": "s", "min": "min", "llm": "LLM",
}
# unit suffixes of column names, longest first: (suffix, unit text)
_UNITS = (
    ("_usd_per_gpu_hour", "$/GPU-hour"), ("_usd_per_useful_exaflop", "$ per useful exaFLOP"),
    ("_usd_per_million_tokens", "$ per million tokens"), ("_mwh_per_useful_exaflop", "MWh per useful exaFLOP"),
    ("_tokens_per_day", "tokens/day"), ("_tokens_per_s", "tokens/s"), ("_w_per_gpu", "W per GPU"),
    ("_usd", "$"), ("_mw", "MW"), ("_kw", "kW"), ("_w", "W"), ("_mwh", "MWh"), ("_gb", "GB"), ("_tb_s", "TB/s"),
    ("_gb_s", "GB/s"), ("_pb", "PB"), ("_s", "s"), ("_min", "min"), ("_h", "h"), ("_months", "months"),
    ("_years", "years"), ("_pct", "%"),
)


def humanize(name: str) -> str:
    """``npv_lease_minus_keep_usd`` -> ``NPV lease minus keep ($)``; ``step: exposed_ep`` -> ``Exposed EP``."""
    text = str(name).split(": ", 1)[-1].strip()
    unit = ""
    for suffix, unit_text in _UNITS:
        if text.endswith(suffix) and len(text) > len(suffix):
            text, unit = text[: -len(suffix)], unit_text
            break
    words = [w for w in re.split(r"[_\s]+", text) if w]
    words = [_WORDS.get(w.lower(), w) for w in words]
    out = " ".join(words)
    out = out[:1].upper() + out[1:]
    return f"{out} ({unit})" if unit else out


def label(name: str) -> str:
    """Human label of a parameter path, factor or figure name."""
    name = str(name)
    if name in _LABELS:
        return _LABELS[name]
    described = _spec_description(name)
    if described:
        return described
    prefix, sep, rest = name.partition(": ")
    if sep and rest in _LABELS:
        return _LABELS[rest]
    if sep and prefix in _PREFIXES:
        return f"{_PREFIXES[prefix]}: {humanize(rest)}" if _PREFIXES[prefix] else humanize(rest)
    return humanize(name)


def labelled(names) -> list[str]:
    return [label(n) for n in names]


# factor-name prefixes (utilization.STEP_FACTOR_PREFIX and the families of utilization.FACTOR_GROUPS)
_PREFIXES = {"step": "", "scheduling": "Scheduling", "goodput": "Failures and checkpoints", "factor": ""}

# --------------------------------------------------------------------------- shared figures and factors
register({
    # utilization.FACTOR_GROUPS (loss families)
    "step model (one GPU type)": "Step model on one GPU type",
    "mixing GPU types": "Mixing GPU types",
    "stragglers": "Stragglers",
    "scheduling (spares, repair, fragmentation)": "Scheduling (spares, repair, fragmentation)",
    "failures and checkpoints": "Failures and checkpoints",
    # utilization factors
    "step model (best pool)": "Step model, best pool",
    "pool mix": "Pool mix (peak-weighted)",
    "memory and NVLink-domain limits": "Memory and NVLink-domain limits",
    "pacing by slowest GPU type": "Pacing by the slowest GPU type",
    "split granularity": "Split granularity",
    "aware planning": "Heterogeneity-aware planning",
    "straggler tail": "Straggler tail",
    # step-model factors ("step: <name>", analysis.training step model)
    "step: gemm_efficiency": "GEMM efficiency at this matrix size",
    "step: compute_efficiency": "GEMM efficiency at this matrix size",
    "step: memory_bound_ops": "Memory-bound kernels (norms, activations)",
    "step: exposed_tp": "Exposed tensor-parallel communication",
    "step: exposed_pp": "Exposed pipeline-parallel communication",
    "step: exposed_dp": "Exposed data-parallel communication",
    "step: exposed_cp": "Exposed context-parallel communication",
    "step: exposed_ep": "Exposed expert-parallel (all-to-all) communication",
    "step: pipeline_imbalance": "Pipeline stage imbalance",
    "step: pipeline_p2p": "Pipeline point-to-point transfers",
    "step: pipeline_bubble": "Pipeline bubble",
    "step: bubble": "Pipeline bubble",
    "step: recompute": "Activation recompute",
    "step: optimizer": "Optimizer step",
    "step: load_imbalance": "MoE load imbalance",
    # scheduling and goodput factors
    "scheduling: spares": "Scheduling: GPUs held as spares",
    "scheduling: repair": "Scheduling: GPUs in repair",
    "scheduling: fragmentation": "Scheduling: fragmentation",
    "goodput: checkpoint": "Failures: time writing checkpoints",
    "goodput: lost work": "Failures: work lost since the last checkpoint",
    "goodput: restart": "Failures: time restarting the job",
    "goodput: planned maintenance": "Planned maintenance",
    # goodput v2 (analysis.goodput: recovery parts and other badput, Google ml-goodput-measurement buckets)
    "goodput: checkpoint save": "Failures: time writing checkpoints",
    "goodput: detection": "Recovery: detecting the failure (hang timeout, heartbeats)",
    "goodput: node swap": "Recovery: swapping in a spare or waiting for repair",
    "goodput: reinitialization": "Recovery: restarting the job (containers, communicators)",
    "goodput: checkpoint restore": "Recovery: reading the checkpoint back",
    "goodput: warm up": "Recovery: warm-up to full speed",
    "goodput: rollbacks": "Rollbacks after loss spikes or silent data corruption",
    "goodput: data loading": "Data-loader stalls",
    "goodput: manual interventions": "Manual interventions",
    "goodput: queueing": "Scheduling and queueing",
    "step: other GPU types' own MFU": "Other GPU types' own step-model MFU",
    "step: host_overhead": "Host and launch overhead",
    "step: software_stack": "Software stack (kernels, fusion, overlap)",
    # flip thresholds (economics.flip_thresholds) on the modelled utilizations
    "utilization.keep": "Utilization of Colossus 1 if kept (of BF16 dense peak)",
    "utilization.islands": "Utilization of Colossus 1 trained in islands (of BF16 dense peak)",
    "utilization.colossus2": "Utilization of the rebuilt training on Colossus 2 (of BF16 dense peak)",
    # options (economics.OPTIONS)
    "keep": "Keep for training", "lease": "Lease and rebuild", "islands": "Keep, train in islands",
    # headline figures (EvaluateResult / records)
    "utilization": "Training utilization", "fleet_utilization": "Fleet utilization",
    "job_utilization": "Job utilization",
    "effective_training_time": "Effective training time",
    "npv_usd": "NPV", "irr": "IRR", "irr_annual": "IRR",
    "npv_lease_minus_keep_usd": "NPV of leasing minus keeping",
    "break_even_lease_usd_per_gpu_hour": "Break-even lease rate ($/GPU-hour)",
    "lease_usd_per_gpu_hour": "Lease rate ($/GPU-hour)",
    "p_lease_beats_keep": "Probability that leasing wins",
    "usd_per_useful_exaflop": "Cost per useful exaFLOP",
    "useful_exaflops": "Useful exaFLOPs",
    "facility_mw": "Facility power (MW)", "it_mw": "IT power (MW)",
    "tokens_per_day": "Tokens per day", "tokens_per_s": "Tokens per second",
    "usd_per_million_tokens": "Cost per million output tokens",
    "description": "Description", "option": "Option", "pool": "Pool", "gpus": "GPUs",
    "value": "Value", "p05": "5th percentile", "p95": "95th percentile", "unit": "Unit",
    "source": "Source", "source_date": "Source date", "date": "Date", "basis": "Basis", "confidence": "Confidence",
})

# --------------------------------------------------------------------------- table columns of the view modules
register({
    # cost (analysis.cost: ClusterCost.by_pool, compare_rates, capex_cross_check)
    "tco_usd_per_peak_pflop_hour": "TCO per peak PFLOP-hour ($)",
    "gpu_usd_per_gpu": "GPU ($ per GPU)", "system_usd_per_gpu": "Server and rack, non-GPU ($ per GPU)",
    "network_usd_per_gpu": "Scale-out network ($ per GPU)", "storage_usd_per_gpu": "Storage ($ per GPU)",
    "facility_usd_per_gpu": "Data-center construction ($ per GPU)", "capex_usd_per_gpu": "All-in capex ($ per GPU)",
    "capex_usd": "Capex ($)", "modelled_to_published": "Modelled / published", "rate_to_tco": "Rate / modelled TCO",
    "rate_usd_per_gpu_hour": "Rate ($/GPU-hour)", "modelled_tco_usd_per_gpu_hour": "Modelled TCO ($/GPU-hour)",
    "price_usd_low": "Price, low ($)", "price_usd_central": "Price, central ($)", "price_usd_high": "Price, high ($)",
    "price_source": "Price source", "observation": "Observation", "published": "Published", "modelled": "Modelled",
    "kind": "Kind", "low": "Low", "high": "High", "base": "Base",
    # inference API comparison (analysis.inference.api_comparison, load_api_prices)
    "input_usd_per_mtok": "$ per million input tokens", "output_usd_per_mtok": "$ per million output tokens",
    "from_date": "Since", "api_usd_per_million_output_tokens": "API price per million output tokens",
    "lease_usd_per_million_output_tokens": "Lease cost per million output tokens",
    "api_over_lease": "API price / lease cost", "model": "Model",
    # utilization pools (analysis.utilization: result.pools)
    "gpus_per_job": "GPUs per job", "tokens_per_gpu_per_step": "Tokens per GPU per step",
    "mfu_own_limits": "MFU, each pool's own limits", "mfu_common_limits": "MFU, limits common to all pools",
    # parameter descriptions that name other parameters
    "job.batch_policy": "Global batch rule: critical batch from the job's compute budget, or fixed",
    "job.global_batch_tokens": "Global batch per optimizer step when the rule is fixed (tokens)",
    "job.critical_batch_multiplier": "Global batch relative to DeepSeek's critical-batch rule",
    "fp4_tflops_dense": "NVFP4 dense peak", "fp8_tflops_dense": "FP8 dense peak", "bf16_tflops_dense": "BF16 dense peak",
})

_CODE_NAME = re.compile(r"(?<![\w./-])(?:[a-z][a-z0-9]*\.)?[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/-])(?!\.\w)"
                        r"|(?<![\w./-])[a-z][a-z0-9]*\.[a-z][a-z0-9_]*[a-z0-9](?![\w/-])(?!\.\w)")
_BARE_KEYS: dict[str, str] | None = None


def _known(name: str) -> str | None:
    """The label of ``name`` when it is a registered name, a parameter path or a parameter key."""
    global _BARE_KEYS
    if name in _LABELS:
        return _LABELS[name]
    if _BARE_KEYS is None:
        try:
            from analysis.scenario import section_specs
            specs = section_specs()
        except Exception:  # the registry must never break a report
            specs = {}
        _BARE_KEYS = {}
        for section, keys in specs.items():
            for key in keys:
                _BARE_KEYS.setdefault(key, f"{section}.{key}")
                _BARE_KEYS[f"{section}.{key}"] = f"{section}.{key}"
    path = _BARE_KEYS.get(name)
    if path is None:
        return None
    text = label(path)
    return text[:1].lower() + text[1:] if not text[:2].isupper() else text


def plain(text: str) -> str:
    """Prose from a data file or a spec with its code names (``goodput.nvl72_rate_multiplier``,
    ``spare_fraction``, ``fp4_tflops_dense``) replaced by their human labels; unknown words stay."""
    if not text or "_" not in text and "." not in text:
        return text
    return _CODE_NAME.sub(lambda m: _known(m.group(0)) or m.group(0), text)
