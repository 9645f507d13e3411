"""A training run (the ``mfu`` YAML schema of DESIGN.md): load, validate, evaluate.

Schema (DESIGN.md "A training run for mfu"; optional keys marked; every v1 file stays valid)::

    name: megatron-1t-3072
    gpu: A100                       # id in data/gpus.csv
    gpus: 3072                      # = tp * pp * dp * cp
    precision: bf16                 # bf16 | fp16 | fp8
    fp8: {recipe: delayed, fp8_params: false}      # optional: delayed | current | mxfp8 | blockwise
    network: {scale_out_gb_s_per_gpu: 25}          # optional (default: the GPU's row)
    model: {layers, hidden, heads, seq_len, vocab,  # or a model id from data/models.yaml
            ffn_hidden (4 h), kv_heads (= heads), experts, top_k,
            gated_ffn (true when ffn_hidden is given and != 4 h), tied_embeddings (false),
            shared_experts (0), dense_layers (0), dense_ffn_hidden (ffn_hidden),
            mla: {q_lora_rank, kv_lora_rank, qk_head_dim, qk_rope_head_dim, v_head_dim},
            sliding_window (0), sliding_window_layers (0)}
    parallelism: {tp, pp, dp, cp, micro_batch (null/auto: fastest that fits), global_batch, interleave, sequence_parallel,
                  recompute: none | selective | full | modules | auto (unknown = auto;
                             selective:<modules> as Megatron-Core --recompute-modules),
                  recompute_fraction (1: share of layers fully recomputed),
                  ep (1), etp (= tp), zero (1: distributed optimizer; 3 = FSDP),
                  embedding_slots (0), first_stage_layers / last_stage_layers (0 = even split),
                  pipeline_schedule: 1f1b | interleaved | zero-bubble | dualpipe,
                  cpu_offload_fraction (0: share of activations kept in host memory)}
    software: {stack: megatron-lm, flash_attention, overlap_grad_reduce, overlap_param_gather,
               overlap_tp_comm, overlap_ep_comm, cuda_graphs, fused_kernels}   # optional overrides
    source: "..."                   # optional free text (where the configuration comes from)

Layout rules live in :mod:`analysis.training.layout` (shared with the search). Every error is one
:class:`~analysis.errors.InputError` line naming the field, the value and what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from analysis import catalog
from analysis.catalog import GpuSpec
from analysis.errors import InputError, shown
from analysis.training import stacks as stack_profiles
from analysis.training.flops import RECOMPUTE_CODE, RECOMPUTE_MODES, parameters
from analysis.training.layout import auto_pipeline_split, first_violation
from analysis.training.step import FACTOR_NAMES, FP8_RECIPE_CODE, FP8_RECIPES, SCHEDULE_CODE, SCHEDULES, Efficiency, step_model

RUN_PRECISIONS = ("bf16", "fp16", "fp8")
TOP_KEYS = ("name", "gpu", "gpus", "precision", "fp8", "network", "model", "parallelism", "software", "source", "notes")
MLA_KEYS = ("q_lora_rank", "kv_lora_rank", "qk_head_dim", "qk_rope_head_dim", "v_head_dim")
MODEL_KEYS = ("layers", "hidden", "heads", "seq_len", "vocab", "ffn_hidden", "kv_heads", "experts", "top_k",
              "gated_ffn", "tied_embeddings", "shared_experts", "dense_layers", "dense_ffn_hidden", "mla",
              "sliding_window", "sliding_window_layers", "source", "name") + MLA_KEYS   # flat MLA keys: normalized form
PARALLEL_KEYS = ("tp", "pp", "dp", "cp", "ep", "etp", "micro_batch", "global_batch", "interleave", "sequence_parallel",
                 "recompute", "recompute_fraction", "zero", "embedding_slots", "first_stage_layers", "last_stage_layers",
                 "decoder_first_pipeline_num_layers", "decoder_last_pipeline_num_layers", "pipeline_schedule",
                 "cpu_offload_fraction")
SOFTWARE_KEYS = ("stack",) + stack_profiles.FLAGS
FP8_KEYS = ("recipe", "fp8_params", "note")
NETWORK_KEYS = ("scale_out_gb_s_per_gpu",)
RECOMPUTE_CHOICES = RECOMPUTE_MODES + ("auto", "unknown")
# Megatron-Core --recompute-modules that store less at a small recompute cost ('modules' mode);
# core_attn alone is Korthikanti's selective recompute
RECOMPUTE_MODULES = ("core_attn", "layernorm", "mla_up_proj", "moe_act", "mlp", "moe", "shared_experts")
MODEL_ARRAY_KEYS = ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len", "experts", "top_k",
                    "gated_ffn", "tied_embeddings", "shared_experts", "dense_layers", "dense_ffn_hidden",
                    "sliding_window", "sliding_window_layers") + MLA_KEYS


def _int(where: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or float(value) != int(value):
        raise InputError(f"{where}: {shown(value)} is not an integer; expected an integer >= {minimum}")
    if int(value) < minimum:
        raise InputError(f"{where}: {int(value)} is below {minimum}; expected an integer >= {minimum}")
    return int(value)


def _bool(where: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{where}: {shown(value)} is not true/false")
    return bool(value)


def _mapping(where: str, value, allowed: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected a mapping with keys {', '.join(allowed)}, got {shown(value)}")
    unknown = [key for key in value if key not in allowed]
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown key; allowed keys are {', '.join(allowed)}")
    return value


def normalize_model(raw, where: str = "model") -> dict:
    """A model mapping (or a model id from data/models.yaml) -> validated dict with every key."""
    if isinstance(raw, str):
        raw = catalog.model(raw)
    raw = _mapping(where, raw, MODEL_KEYS)
    for key in ("layers", "hidden", "heads", "seq_len", "vocab"):
        if key not in raw:
            raise InputError(f"{where}.{key}: missing; a model needs layers, hidden, heads, seq_len and vocab")
    out = {key: _int(f"{where}.{key}", raw[key]) for key in ("layers", "hidden", "heads", "seq_len", "vocab")}
    out["ffn_hidden"] = _int(f"{where}.ffn_hidden", raw.get("ffn_hidden", 4 * out["hidden"]))
    out["kv_heads"] = _int(f"{where}.kv_heads", raw.get("kv_heads", out["heads"]))
    out["experts"] = _int(f"{where}.experts", raw.get("experts", 1))
    out["top_k"] = _int(f"{where}.top_k", raw.get("top_k", 1))
    # SwiGLU/GeGLU models size their FFN at ~8/3 h per matrix instead of 4 h; a given ffn_hidden
    # other than 4 h is taken as gated unless stated (GPT-2/3 style models use 4 h, 2 matrices)
    out["gated_ffn"] = _bool(f"{where}.gated_ffn", raw.get("gated_ffn", "ffn_hidden" in raw and raw["ffn_hidden"] != 4 * raw["hidden"]))
    out["tied_embeddings"] = _bool(f"{where}.tied_embeddings", raw.get("tied_embeddings", False))
    for key in ("shared_experts", "dense_layers", "dense_ffn_hidden", "sliding_window", "sliding_window_layers"):
        out[key] = _int(f"{where}.{key}", raw.get(key) or 0, minimum=0)
    mla = _mapping(f"{where}.mla", raw.get("mla") or {}, MLA_KEYS)
    for key in MLA_KEYS:
        out[key] = _int(f"{where}.mla.{key}", mla.get(key, raw.get(key, 0)), minimum=0)
    if mla and not (out["kv_lora_rank"] and out["qk_head_dim"] and out["v_head_dim"]):
        raise InputError(f"{where}.mla: expected kv_lora_rank, qk_head_dim and v_head_dim > 0 (q_lora_rank and "
                         "qk_rope_head_dim may be 0); DeepSeek-V3: 1536, 512, 128, 64, 128")
    if out["hidden"] % out["heads"]:
        raise InputError(f"{where}.hidden: {out['hidden']} is not divisible by heads = {out['heads']}; expected hidden = heads x head size")
    if out["heads"] % out["kv_heads"]:
        raise InputError(f"{where}.kv_heads: {out['kv_heads']} does not divide heads = {out['heads']}; expected a divisor")
    if out["top_k"] > out["experts"]:
        raise InputError(f"{where}.top_k: {out['top_k']} exceeds experts = {out['experts']}; expected 1 <= top_k <= experts")
    if out["dense_layers"] > out["layers"]:
        raise InputError(f"{where}.dense_layers: {out['dense_layers']} exceeds layers = {out['layers']}; expected 0 <= dense_layers <= layers")
    if out["sliding_window_layers"] > out["layers"]:
        raise InputError(f"{where}.sliding_window_layers: {out['sliding_window_layers']} exceeds layers = {out['layers']}")
    return out


def _recompute(where: str, value) -> tuple[str, str]:
    """(mode, as stated): Megatron-Core 'selective:<modules>' lists map to selective or modules."""
    text = str(value)
    if text.startswith("selective:"):
        mods = [m.strip() for m in text.split(":", 1)[1].replace("+", ",").split(",") if m.strip()]
        bad = [m for m in mods if m not in RECOMPUTE_MODULES]
        if bad or not mods:
            raise InputError(f"{where}.recompute: {shown(value)} names unknown module {shown(bad[0] if bad else '')}; "
                             f"modules are {', '.join(RECOMPUTE_MODULES)}")
        return ("selective" if mods == ["core_attn"] else "modules"), text
    if text not in RECOMPUTE_CHOICES:
        raise InputError(f"{where}.recompute: {shown(value)} is not allowed; use one of {', '.join(RECOMPUTE_CHOICES)} "
                         "or selective:<modules>")
    return ("auto" if text == "unknown" else text), text


def normalize_parallelism(raw, model: dict, gpus: int, where: str = "parallelism") -> dict:
    raw = _mapping(where, raw, PARALLEL_KEYS)
    for key in ("tp", "pp", "dp", "global_batch"):
        if key not in raw:
            raise InputError(f"{where}.{key}: missing; parallelism needs tp, pp, dp and global_batch")
    out = {key: _int(f"{where}.{key}", raw.get(key, 1)) for key in ("tp", "pp", "dp", "cp", "ep", "interleave")}
    # micro_batch: null = not stated (Megatron-LM README, DeepSeek-V3 report): the fastest of 1, 2, 4, 8 that fits
    out["micro_batch"] = _int(f"{where}.micro_batch", 1 if raw.get("micro_batch") in (None, "auto") else raw["micro_batch"])
    out["micro_batch_auto"] = "micro_batch" in raw and raw["micro_batch"] in (None, "auto")
    out["etp"] = _int(f"{where}.etp", raw.get("etp", out["tp"]))
    out["global_batch"] = _int(f"{where}.global_batch", raw["global_batch"])
    out["sequence_parallel"] = _bool(f"{where}.sequence_parallel", raw.get("sequence_parallel", out["tp"] > 1))
    out["recompute"], out["recompute_stated"] = _recompute(where, raw.get("recompute", "none"))
    fraction = raw.get("recompute_fraction", 1.0)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise InputError(f"{where}.recompute_fraction: {shown(fraction)} is not allowed; expected a share of layers in (0, 1]")
    out["recompute_fraction"] = float(fraction)
    offload = raw.get("cpu_offload_fraction", 0.0)
    if isinstance(offload, bool) or not isinstance(offload, (int, float)) or not 0 <= offload < 1:
        raise InputError(f"{where}.cpu_offload_fraction: {shown(offload)} is not allowed; expected a share of activations in [0, 1)")
    out["cpu_offload_fraction"] = float(offload)
    out["zero"] = _int(f"{where}.zero", raw.get("zero", 1), minimum=0)
    if out["zero"] > 3:
        raise InputError(f"{where}.zero: {out['zero']} is not modelled; use 0 (replicated), 1 (sharded optimizer), "
                         "2 (+ sharded gradients) or 3 (+ sharded weights, FSDP)")
    schedule = str(raw.get("pipeline_schedule", "interleaved" if out["interleave"] > 1 else "1f1b")).lower()
    if schedule not in SCHEDULES:
        raise InputError(f"{where}.pipeline_schedule: {shown(raw.get('pipeline_schedule'))} is not allowed; use one of {', '.join(SCHEDULES)}")
    if schedule in ("1f1b", "interleaved"):
        schedule = "interleaved" if out["interleave"] > 1 else "1f1b"
    out["pipeline_schedule"] = schedule
    first = raw.get("first_stage_layers", raw.get("decoder_first_pipeline_num_layers"))
    last = raw.get("last_stage_layers", raw.get("decoder_last_pipeline_num_layers"))
    slots = raw.get("embedding_slots")
    out["embedding_slots"] = _int(f"{where}.embedding_slots", slots or 0, minimum=0)
    out["first_stage_layers"] = _int(f"{where}.first_stage_layers", first or 0, minimum=0)
    out["last_stage_layers"] = _int(f"{where}.last_stage_layers", last or 0, minimum=0)
    out["pipeline_split"] = "stated"
    if first is None and last is None and slots is None:
        split = auto_pipeline_split(model["layers"], out["pp"], out["interleave"])
        if split is not None:
            out["embedding_slots"], out["first_stage_layers"], out["last_stage_layers"] = split
            out["pipeline_split"] = ("even" if split == (0, 0, 0) else "embedding and loss as layers" if split[0]
                                     else "uneven first/last stages")
    elif (first is None) != (last is None):
        # one of the two stated: the other takes the middle stages' share
        pp, L = out["pp"], model["layers"]
        given = out["first_stage_layers"] or out["last_stage_layers"]
        if pp < 2 or (pp > 2 and (L - given) % (pp - 1)):
            raise InputError(f"{where}.first_stage_layers: {given} leaves {L - given} layers that do not split over the other "
                             f"{pp - 1} stages; state both first_stage_layers and last_stage_layers")
        other = (L - given) // (pp - 1) if pp > 2 else L - given
        out["first_stage_layers"], out["last_stage_layers"] = (given, other) if first is not None else (other, given)
    message = first_violation(**layout_kwargs(model, out), gpus=gpus)
    if message:
        raise InputError(message)
    return out


def layout_kwargs(model: dict, par: dict) -> dict:
    """Keyword arguments of :func:`analysis.training.layout.layout_checks` for one run."""
    return dict(layers=model["layers"], heads=model["heads"], seq_len=model["seq_len"], experts=model["experts"],
                tp=par["tp"], pp=par["pp"], dp=par["dp"], cp=par["cp"], ep=par["ep"], etp=par.get("etp", par["tp"]),
                micro_batch=par["micro_batch"], global_batch=par["global_batch"], interleave=par["interleave"],
                embedding_slots=par.get("embedding_slots", 0), first_stage_layers=par.get("first_stage_layers", 0),
                last_stage_layers=par.get("last_stage_layers", 0),
                schedule=SCHEDULE_CODE[par.get("pipeline_schedule", "1f1b")])


@dataclass(frozen=True)
class RunConfig:
    """A validated training run."""

    name: str
    gpu: GpuSpec
    gpus: int
    precision: str
    scale_out_gb_s_per_gpu: float
    model: dict
    parallelism: dict
    software: dict
    source: str = ""
    stack: str = stack_profiles.DEFAULT_STACK
    fp8: dict = field(default_factory=lambda: {"recipe": "delayed", "fp8_params": False})

    @property
    def peak_label(self) -> str:
        return "fp8 dense" if self.precision == "fp8" else "bf16 dense"

    @property
    def peak_tflops(self) -> float:
        return self.gpu.peak_tflops(self.precision)

    def to_dict(self) -> dict:
        return {"name": self.name, "gpu": self.gpu.id, "gpus": self.gpus, "precision": self.precision,
                "fp8": dict(self.fp8), "network": {"scale_out_gb_s_per_gpu": self.scale_out_gb_s_per_gpu},
                "model": dict(self.model), "parallelism": dict(self.parallelism),
                "software": {"stack": self.stack, **self.software}, "source": self.source}

    def with_parallelism(self, **changes) -> "RunConfig":
        return replace(self, parallelism={**self.parallelism, **changes})

    def with_software(self, **changes) -> "RunConfig":
        return replace(self, software={**self.software, **changes})

    def arrays(self, recompute: str | None = None) -> dict:
        """Keyword arguments of :func:`~analysis.training.step.step_model` for this run
        (``recompute='auto'`` is evaluated as 'none'; :func:`resolve_recompute` picks the mode)."""
        m, par, g = self.model, self.parallelism, self.gpu
        kwargs = {key: m[key] for key in MODEL_ARRAY_KEYS}
        kwargs.update({key: par[key] for key in ("tp", "pp", "dp", "cp", "ep", "etp", "micro_batch", "global_batch",
                                                 "interleave", "sequence_parallel", "zero", "embedding_slots",
                                                 "first_stage_layers", "last_stage_layers", "recompute_fraction")})
        kwargs["cpu_offload_fraction"] = par.get("cpu_offload_fraction", 0.0)
        host_link = getattr(g, "host_link_gb_s_per_gpu", float("nan"))
        kwargs["host_link_gb_s_per_gpu"] = host_link if np.isfinite(host_link) else 64.0
        mode = recompute or par["recompute"]
        kwargs["recompute"] = RECOMPUTE_CODE["none" if mode == "auto" else mode]
        kwargs["schedule"] = SCHEDULE_CODE[par["pipeline_schedule"]]
        kwargs.update(self.software)
        kwargs.update(peak_tflops=self.peak_tflops, bf16_peak_tflops=g.bf16_tflops_dense, fp8=self.precision == "fp8",
                      fp8_recipe=FP8_RECIPE_CODE[self.fp8["recipe"]], fp8_params=bool(self.fp8["fp8_params"]),
                      hbm_tb_s=g.hbm_tb_s, hbm_gb=g.hbm_gb, nvlink_gb_s_per_gpu=g.nvlink_gb_s_per_gpu,
                      nvlink_domain_gpus=g.nvlink_domain_gpus, scale_out_gb_s_per_gpu=self.scale_out_gb_s_per_gpu)
        return kwargs


def parse_run(doc: dict, where: str = "run") -> RunConfig:
    """Validate a run mapping (the ``mfu`` schema) into a :class:`RunConfig`."""
    doc = _mapping(where, doc, TOP_KEYS)
    for key in ("gpu", "gpus", "model", "parallelism"):
        if key not in doc:
            raise InputError(f"{key}: missing; a run needs gpu, gpus, model and parallelism")
    spec = catalog.gpu(str(doc["gpu"]))
    gpus = _int("gpus", doc["gpus"])
    precision = str(doc.get("precision", "bf16"))
    if precision not in RUN_PRECISIONS:
        raise InputError(f"precision: {shown(precision)} is not allowed; use one of {', '.join(RUN_PRECISIONS)}")
    if not np.isfinite(spec.peak_tflops(precision)):
        raise InputError(f"precision: {shown(precision)} has no dense peak for GPU {spec.id} in data/gpus.csv; use bf16 or fp16")
    network = _mapping("network", doc.get("network") or {}, NETWORK_KEYS)
    bandwidth = network.get("scale_out_gb_s_per_gpu", spec.scale_out_gb_s_per_gpu)
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or not bandwidth > 0:
        raise InputError(f"network.scale_out_gb_s_per_gpu: {shown(bandwidth)} is not a positive number of GB/s")
    model = normalize_model(doc["model"])
    parallelism = normalize_parallelism(doc["parallelism"], model, gpus)
    software_raw = _mapping("software", doc.get("software") or {}, SOFTWARE_KEYS)
    stack = str(software_raw.get("stack", stack_profiles.DEFAULT_STACK))
    overrides = {key: _bool(f"software.{key}", value) for key, value in software_raw.items() if key != "stack"}
    software = stack_profiles.flags(stack, overrides)
    fp8_raw = _mapping("fp8", doc.get("fp8") or {}, FP8_KEYS)
    recipe = str(fp8_raw.get("recipe", "mxfp8" if (spec.architecture == "blackwell") else "delayed"))
    if recipe not in FP8_RECIPES:
        raise InputError(f"fp8.recipe: {shown(recipe)} is not allowed; use one of {', '.join(FP8_RECIPES)}")
    fp8 = {"recipe": recipe, "fp8_params": _bool("fp8.fp8_params", fp8_raw.get("fp8_params", False))}
    return RunConfig(str(doc.get("name", "run")), spec, gpus, precision, float(bandwidth), model, parallelism, software,
                     str(doc.get("source", "")), stack, fp8)


def load_run(path) -> RunConfig:
    """Read and validate a run YAML file (schema: DESIGN.md "A training run for mfu")."""
    return parse_run(catalog.read_yaml(Path(path)))


@dataclass(frozen=True)
class StepResult:
    """The step model on one configuration. Performance fields are NaN when it does not fit HBM.

    ``factors`` are named multiplicative losses from the dense ``peak`` to MFU (each in (0, 1];
    their product equals ``mfu``). ``calibration`` says which efficiency parameters were used.
    """

    name: str
    gpu: str
    gpus: int
    precision: str
    peak: str
    peak_tflops: float
    step_time_s: float
    tokens_per_s: float
    mfu: float
    hfu: float
    tflops_per_gpu: float
    tokens_per_s_per_gpu: float
    mfu_causal: float
    tflops_per_gpu_causal: float
    memory_gb_per_gpu: float
    weights_optimizer_gb_per_gpu: float
    activations_gb_per_gpu: float
    hbm_capacity_gb: float
    fits_in_memory: bool
    micro_batches: float
    bubble_fraction: float
    params_total: float
    params_active: float
    factors: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    calibration: str = ""

    def to_dict(self) -> dict:
        def plain(value):
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, (int, np.integer)):
                return int(value)
            if isinstance(value, (float, np.floating)):
                return float(value) if np.isfinite(value) else None
            return value
        return {key: plain(getattr(self, key)) for key in self.__dataclass_fields__}

    def loss_factors(self) -> dict:
        """The factors that are not 1 (losses < 1, the causal-attention gain > 1), in chain order;
        their product is still ``mfu``."""
        return {name: value for name, value in self.factors.items() if abs(value - 1.0) > 1e-9}

    def summary(self) -> str:
        par = self.config.get("parallelism", {})
        lines = [f"{self.name}: {self.gpus:,} x {self.gpu}, {self.precision}, {self.params_total / 1e9:,.1f}B params "
                 f"({self.params_active / 1e9:,.1f}B active)",
                 f"  layout tp={par.get('tp')} pp={par.get('pp')} dp={par.get('dp')} cp={par.get('cp')} ep={par.get('ep')} "
                 f"micro_batch={par.get('micro_batch')} interleave={par.get('interleave')} recompute={par.get('recompute')} "
                 f"global_batch={par.get('global_batch')} ({self.micro_batches:g} micro-batches per pipeline)"
                 + (f" etp={par.get('etp')}" if par.get("ep", 1) > 1 else "")
                 + (f" schedule={par.get('pipeline_schedule')}" if par.get("pp", 1) > 1 else "")
                 + (f" [{par.get('recompute_stated')}]" if str(par.get("recompute_stated", "")).startswith("auto") else ""),
                 f"  memory {self.memory_gb_per_gpu:,.1f} GB per GPU (weights+grads+optimizer {self.weights_optimizer_gb_per_gpu:,.1f}, "
                 f"activations {self.activations_gb_per_gpu:,.1f}) of {self.hbm_capacity_gb:,.0f} GB HBM"]
        if not self.fits_in_memory:
            lines.append(f"  INFEASIBLE: needs {self.memory_gb_per_gpu:,.1f} GB per GPU > {self.hbm_capacity_gb:,.0f} GB HBM "
                         "(not evaluated; try more pp/tp, full recompute or a smaller micro-batch)")
            return "\n".join(lines)
        lines += [f"  step time {self.step_time_s:,.3f} s, {self.tokens_per_s:,.0f} tokens/s, {self.tflops_per_gpu:,.0f} TFLOPS per GPU",
                  f"  MFU {self.mfu:.1%}  HFU {self.hfu:.1%}  (of {self.peak} peak {self.peak_tflops:g} TFLOPS; "
                  f"attention counted non-causally; causal count: MFU {self.mfu_causal:.1%}, "
                  f"{self.tflops_per_gpu_causal:,.0f} TFLOPS per GPU)",
                  "  factors from peak to MFU:"]
        for name, value in self.factors.items():
            lines.append(f"    {name:20s} x{value:.3f}")
        if self.calibration:
            lines.append(f"  efficiency parameters: {self.calibration}")
        return "\n".join(lines)


def _pick(array, i):
    value = np.asarray(array)
    return value.reshape(-1)[i] if value.ndim else value.item()


def result_from_arrays(out: dict, config: RunConfig | None, index: int = 0, *, name: str = "", gpu: str = "",
                       gpus: int = 0, precision: str = "bf16", peak_tflops: float = float("nan"),
                       model: dict | None = None, config_dict: dict | None = None, calibration: str = "") -> StepResult:
    """One :class:`StepResult` from element ``index`` of :func:`step_model` output arrays."""
    if config is not None:
        name, gpu, gpus, precision, peak_tflops = config.name, config.gpu.id, config.gpus, config.precision, config.peak_tflops
        model, config_dict = config.model, config.to_dict()
    fits = bool(_pick(out["fits_in_memory"], index))
    nan = float("nan")

    def perf(key):
        return float(_pick(out[key], index)) if fits else nan

    total, active = parameters(**{k: model[k] for k in ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab",
                                                         "experts", "top_k", "gated_ffn", "tied_embeddings")},
                               **{k: model.get(k, 0) for k in ("shared_experts", "dense_layers", "dense_ffn_hidden") + MLA_KEYS})
    factors = {k: float(_pick(out["factors"][k], index)) for k in FACTOR_NAMES} if fits else {}
    return StepResult(
        name=name, gpu=gpu, gpus=int(gpus), precision=precision,
        peak="fp8 dense" if precision == "fp8" else "bf16 dense", peak_tflops=float(peak_tflops),
        step_time_s=perf("step_time_s"), tokens_per_s=perf("tokens_per_s"), mfu=perf("mfu"), hfu=perf("hfu"),
        tflops_per_gpu=perf("tflops_per_gpu"), tokens_per_s_per_gpu=perf("tokens_per_s_per_gpu"),
        mfu_causal=perf("mfu_causal"), tflops_per_gpu_causal=perf("tflops_per_gpu_causal"),
        memory_gb_per_gpu=float(_pick(out["memory_gb_per_gpu"], index)),
        weights_optimizer_gb_per_gpu=float(_pick(out["weights_optimizer_gb_per_gpu"], index)),
        activations_gb_per_gpu=float(_pick(out["activations_gb_per_gpu"], index)),
        hbm_capacity_gb=float(_pick(out["hbm_capacity_gb"], index)), fits_in_memory=fits,
        micro_batches=float(_pick(out["micro_batches"], index)), bubble_fraction=float(_pick(out["bubble_fraction"], index)),
        params_total=float(total), params_active=float(active), factors=factors, config=config_dict or {},
        calibration=calibration)


AUTO_MICRO_BATCHES = (1, 2, 4, 8)


def resolve_recompute(config: RunConfig, efficiency: Efficiency | None = None) -> RunConfig:
    """``recompute: auto`` / ``micro_batch: null`` -> the fastest choice that fits in HBM.

    One vectorized call over the candidates: recompute none, selective and modules (Megatron-Core
    recompute modules) and, if none of them fits, full recompute of the smallest share of each
    stage's layers that fits (Megatron-Core ``--recompute-method block --recompute-num-layers``:
    memory is linear in the share); micro-batches 1, 2, 4, 8 where the layout allows them. Runs
    with a stated mode and micro-batch are returned unchanged.
    """
    par = config.parallelism
    auto_rc, auto_mb = par["recompute"] == "auto", bool(par.get("micro_batch_auto", False))
    if not (auto_rc or auto_mb):
        return config
    efficiency = efficiency or Efficiency()
    mbs = [mb for mb in AUTO_MICRO_BATCHES if first_violation(**{**layout_kwargs(config.model, par), "micro_batch": mb}) is None]
    mbs = mbs if auto_mb else [par["micro_batch"]]
    modes = ("none", "selective", "modules") if auto_rc else (par["recompute"],)

    def evaluate(rows):
        kwargs = config.arrays()
        kwargs.update(micro_batch=np.array([r[0] for r in rows]), recompute=np.array([RECOMPUTE_CODE[r[1]] for r in rows]),
                      recompute_fraction=np.array([r[2] for r in rows], dtype=float))
        out = step_model(**kwargs, efficiency=efficiency)
        fits = np.asarray(out["fits_in_memory"])
        return (np.where(fits, np.asarray(out["step_time_s"]), np.inf), np.asarray(out["memory_gb_per_gpu"]),
                float(np.asarray(out["hbm_capacity_gb"]).reshape(-1)[0]))

    def chosen(row, note):
        mb, mode, fraction = row
        return config.with_parallelism(micro_batch=int(mb), recompute=mode, recompute_fraction=float(fraction),
                                       recompute_stated=note)

    rows = [(mb, mode, par["recompute_fraction"] if mode == "full" else 1.0) for mb in mbs for mode in modes]
    step, _, _ = evaluate(rows)
    if np.isfinite(step).any():
        best = rows[int(np.argmin(step))]
        return chosen(best, f"auto -> {best[1]}" + (f", micro_batch {best[0]}" if auto_mb else ""))
    if not auto_rc:
        return chosen(rows[0], par.get("recompute_stated", par["recompute"]))
    per_stage = max(1, -(-config.model["layers"] // config.parallelism["pp"]))
    bounds = [(mb, "full", f) for mb in mbs for f in (1.0, 0.0)]
    step, memory, capacity = evaluate(bounds)
    rows = []
    for i, mb in enumerate(mbs):
        full_mem, none_mem = memory[2 * i], memory[2 * i + 1]
        if full_mem > capacity:
            continue
        need = (none_mem - capacity) / max(none_mem - full_mem, 1e-12)
        rows.append((mb, "full", min(1.0, max(1, int(np.ceil(need * per_stage - 1e-9))) / per_stage)))
    if not rows:
        return chosen((mbs[0], "full", 1.0), "auto -> full (does not fit)")
    step, _, _ = evaluate(rows)
    best = rows[int(np.argmin(step))] if np.isfinite(step).any() else rows[0]
    return chosen(best, f"auto -> full ({best[2]:.0%} of layers)" + (f", micro_batch {best[0]}" if auto_mb else ""))


def evaluate_run(config: RunConfig, efficiency: Efficiency | None = None, calibration_label: str | None = None) -> StepResult:
    """The step model on one validated run (default: the calibrated efficiency parameters of its
    GPU architecture and software stack). ``recompute: auto`` is resolved first."""
    if efficiency is None:
        from analysis.training.efficiency import load_calibration
        cal = load_calibration()
        efficiency, calibration_label = cal.for_gpu(config.gpu.id, config.stack), cal.label
    config = resolve_recompute(config, efficiency)
    out = step_model(**config.arrays(), efficiency=efficiency)
    return result_from_arrays(out, config, calibration=calibration_label or "")


def run_from_file(path) -> StepResult:
    """Load, validate and evaluate a run YAML with the calibrated parameters (CLI ``mfu``)."""
    return evaluate_run(load_run(path))
