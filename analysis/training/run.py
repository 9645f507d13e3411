"""A training run (the ``mfu`` YAML schema of DESIGN.md): load, validate, evaluate.

Schema (DESIGN.md "A training run for mfu"; optional keys marked)::

    name: megatron-1t-3072
    gpu: A100                       # id in data/gpus.csv
    gpus: 3072                      # = tp * pp * dp * cp
    precision: bf16                 # bf16 | fp16 | fp8
    network: {scale_out_gb_s_per_gpu: 25}          # optional (default: the GPU's row)
    model: {layers, hidden, heads, seq_len, vocab,  # or a model id from data/models.yaml
            ffn_hidden (4 h), kv_heads (= heads), experts, top_k,
            gated_ffn (true when ffn_hidden is given and != 4 h), tied_embeddings (false)}
    parallelism: {tp, pp, dp, cp, micro_batch, global_batch, interleave, sequence_parallel,
                  recompute: full | selective | none, ep (1), zero (1: distributed optimizer),
                  embedding_slots (0)}
    software: {flash_attention: true, overlap_grad_reduce: true, overlap_tp_comm: false}  # optional
    source: "..."                   # optional free text (where the configuration comes from)

Every error is one :class:`~analysis.errors.InputError` line naming the field, the value and
what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis import catalog
from analysis.catalog import GpuSpec
from analysis.errors import InputError
from analysis.training.flops import RECOMPUTE_CODE, RECOMPUTE_MODES, parameters
from analysis.training.step import FACTOR_NAMES, Efficiency, step_model

RUN_PRECISIONS = ("bf16", "fp16", "fp8")
TOP_KEYS = ("name", "gpu", "gpus", "precision", "network", "model", "parallelism", "software", "source", "notes")
MODEL_KEYS = ("layers", "hidden", "heads", "seq_len", "vocab", "ffn_hidden", "kv_heads", "experts", "top_k",
              "gated_ffn", "tied_embeddings", "source", "name")
PARALLEL_KEYS = ("tp", "pp", "dp", "cp", "ep", "micro_batch", "global_batch", "interleave", "sequence_parallel",
                 "recompute", "zero", "embedding_slots")
SOFTWARE_KEYS = ("flash_attention", "overlap_grad_reduce", "overlap_tp_comm")
NETWORK_KEYS = ("scale_out_gb_s_per_gpu",)
SOFTWARE_DEFAULTS = {"flash_attention": True, "overlap_grad_reduce": True, "overlap_tp_comm": False}


def _int(where: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or float(value) != int(value):
        raise InputError(f"{where}: {value!r} is not an integer; expected an integer >= {minimum}")
    if int(value) < minimum:
        raise InputError(f"{where}: {int(value)} is below {minimum}; expected an integer >= {minimum}")
    return int(value)


def _bool(where: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{where}: {value!r} is not true/false")
    return bool(value)


def _mapping(where: str, value, allowed: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected a mapping with keys {', '.join(allowed)}, got {value!r}")
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
    if out["hidden"] % out["heads"]:
        raise InputError(f"{where}.hidden: {out['hidden']} is not divisible by heads = {out['heads']}; expected hidden = heads x head size")
    if out["heads"] % out["kv_heads"]:
        raise InputError(f"{where}.kv_heads: {out['kv_heads']} does not divide heads = {out['heads']}; expected a divisor")
    if out["top_k"] > out["experts"]:
        raise InputError(f"{where}.top_k: {out['top_k']} exceeds experts = {out['experts']}; expected 1 <= top_k <= experts")
    return out


def normalize_parallelism(raw, model: dict, gpus: int, where: str = "parallelism") -> dict:
    raw = _mapping(where, raw, PARALLEL_KEYS)
    for key in ("tp", "pp", "dp", "global_batch"):
        if key not in raw:
            raise InputError(f"{where}.{key}: missing; parallelism needs tp, pp, dp and global_batch")
    out = {key: _int(f"{where}.{key}", raw.get(key, 1)) for key in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave")}
    out["global_batch"] = _int(f"{where}.global_batch", raw["global_batch"])
    out["sequence_parallel"] = _bool(f"{where}.sequence_parallel", raw.get("sequence_parallel", out["tp"] > 1))
    recompute = raw.get("recompute", "none")
    if recompute not in RECOMPUTE_MODES:
        raise InputError(f"{where}.recompute: {recompute!r} is not allowed; use one of {', '.join(RECOMPUTE_MODES)}")
    out["recompute"] = recompute
    out["zero"] = _int(f"{where}.zero", raw.get("zero", 1), minimum=0)
    if out["zero"] > 2:
        raise InputError(f"{where}.zero: {out['zero']} is not modelled; use 0 (replicated), 1 (sharded optimizer) or 2 (+ sharded gradients)")
    out["embedding_slots"] = _int(f"{where}.embedding_slots", raw.get("embedding_slots", 0), minimum=0)
    tp, pp, dp, cp, ep, v = (out[key] for key in ("tp", "pp", "dp", "cp", "ep", "interleave"))
    if tp * pp * dp * cp != gpus:
        raise InputError(f"gpus: {gpus} != tp*pp*dp*cp = {tp}*{pp}*{dp}*{cp} = {tp * pp * dp * cp}; the product of the parallel degrees must equal gpus")
    slots = model["layers"] + 2 * out["embedding_slots"] if pp > 1 else model["layers"]
    if slots % (pp * v):
        extra = f" + 2 x embedding_slots = {slots}" if out["embedding_slots"] and pp > 1 else ""
        raise InputError(f"model.layers: {model['layers']}{extra} is not divisible by pp*interleave = {pp}*{v} = {pp * v}; "
                         "expected a multiple (Llama 3-style stages can give embedding_slots to the embedding/output layers)")
    if pp > 1 and slots // pp <= out["embedding_slots"]:
        raise InputError(f"{where}.embedding_slots: {out['embedding_slots']} leaves no transformer layer on the first stage; expected fewer than {slots // pp}")
    if v > 1 and pp == 1:
        raise InputError(f"{where}.interleave: {v} needs pipeline parallelism; expected 1 when pp = 1")
    if model["heads"] % tp:
        raise InputError(f"model.heads: {model['heads']} is not divisible by tp = {tp}; expected heads to be a multiple of tp")
    if model["seq_len"] % cp:
        raise InputError(f"model.seq_len: {model['seq_len']} is not divisible by cp = {cp}; expected a multiple of cp")
    if out["global_batch"] % (dp * out["micro_batch"]):
        raise InputError(f"{where}.global_batch: {out['global_batch']} is not divisible by dp*micro_batch = {dp}*{out['micro_batch']}; "
                         "expected a whole number of micro-batches per pipeline")
    micro_batches = out["global_batch"] // (dp * out["micro_batch"])
    if v > 1 and micro_batches % pp:
        raise InputError(f"{where}.interleave: {v} needs the micro-batches per pipeline ({micro_batches}) to be a multiple of pp = {pp} "
                         "(interleaved 1F1B, Narayanan 2021 Sec. 2.2.2); use interleave 1 or change global_batch/micro_batch")
    if ep > 1 and model["experts"] == 1:
        raise InputError(f"{where}.ep: {ep} needs a mixture-of-experts model; expected 1 for a dense model")
    if model["experts"] % ep:
        raise InputError(f"{where}.ep: {ep} does not divide experts = {model['experts']}; expected a divisor")
    if (dp * cp) % ep:
        raise InputError(f"{where}.ep: {ep} does not divide dp*cp = {dp * cp}; experts are split across ranks inside data parallelism")
    return out


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

    @property
    def peak_label(self) -> str:
        return "fp8 dense" if self.precision == "fp8" else "bf16 dense"

    @property
    def peak_tflops(self) -> float:
        return self.gpu.peak_tflops(self.precision)

    def to_dict(self) -> dict:
        return {"name": self.name, "gpu": self.gpu.id, "gpus": self.gpus, "precision": self.precision,
                "network": {"scale_out_gb_s_per_gpu": self.scale_out_gb_s_per_gpu}, "model": dict(self.model),
                "parallelism": dict(self.parallelism), "software": dict(self.software), "source": self.source}

    def arrays(self) -> dict:
        """Keyword arguments of :func:`~analysis.training.step.step_model` for this run."""
        m, par, g = self.model, self.parallelism, self.gpu
        kwargs = {key: m[key] for key in ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len",
                                          "experts", "top_k", "gated_ffn", "tied_embeddings")}
        kwargs.update({key: par[key] for key in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "global_batch", "interleave",
                                                 "sequence_parallel", "zero", "embedding_slots")})
        kwargs["recompute"] = RECOMPUTE_CODE[par["recompute"]]
        kwargs.update(self.software)
        kwargs.update(peak_tflops=self.peak_tflops, bf16_peak_tflops=g.bf16_tflops_dense, fp8=self.precision == "fp8",
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
        raise InputError(f"precision: {precision!r} is not allowed; use one of {', '.join(RUN_PRECISIONS)}")
    if not np.isfinite(spec.peak_tflops(precision)):
        raise InputError(f"precision: {precision!r} has no dense peak for GPU {spec.id} in data/gpus.csv; use bf16 or fp16")
    network = _mapping("network", doc.get("network") or {}, NETWORK_KEYS)
    bandwidth = network.get("scale_out_gb_s_per_gpu", spec.scale_out_gb_s_per_gpu)
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or not bandwidth > 0:
        raise InputError(f"network.scale_out_gb_s_per_gpu: {bandwidth!r} is not a positive number of GB/s")
    model = normalize_model(doc["model"])
    parallelism = normalize_parallelism(doc["parallelism"], model, gpus)
    software_raw = _mapping("software", doc.get("software") or {}, SOFTWARE_KEYS)
    software = {key: _bool(f"software.{key}", software_raw.get(key, default)) for key, default in SOFTWARE_DEFAULTS.items()}
    return RunConfig(str(doc.get("name", "run")), spec, gpus, precision, float(bandwidth), model, parallelism, software,
                     str(doc.get("source", "")))


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
        """The factors that lose something (value < 1), in chain order; their product is still ``mfu``."""
        return {name: value for name, value in self.factors.items() if value < 1.0}

    def summary(self) -> str:
        par = self.config.get("parallelism", {})
        lines = [f"{self.name}: {self.gpus:,} x {self.gpu}, {self.precision}, {self.params_total / 1e9:,.1f}B params "
                 f"({self.params_active / 1e9:,.1f}B active)",
                 f"  layout tp={par.get('tp')} pp={par.get('pp')} dp={par.get('dp')} cp={par.get('cp')} ep={par.get('ep')} "
                 f"micro_batch={par.get('micro_batch')} interleave={par.get('interleave')} recompute={par.get('recompute')} "
                 f"global_batch={par.get('global_batch')} ({self.micro_batches:g} micro-batches per pipeline)",
                 f"  memory {self.memory_gb_per_gpu:,.1f} GB per GPU (weights+grads+optimizer {self.weights_optimizer_gb_per_gpu:,.1f}, "
                 f"activations {self.activations_gb_per_gpu:,.1f}) of {self.hbm_capacity_gb:,.0f} GB HBM"]
        if not self.fits_in_memory:
            lines.append(f"  INFEASIBLE: needs {self.memory_gb_per_gpu:,.1f} GB per GPU > {self.hbm_capacity_gb:,.0f} GB HBM "
                         "(not evaluated; try more pp/tp, full recompute or a smaller micro-batch)")
            return "\n".join(lines)
        lines += [f"  step time {self.step_time_s:,.3f} s, {self.tokens_per_s:,.0f} tokens/s, {self.tflops_per_gpu:,.0f} TFLOPS per GPU",
                  f"  MFU {self.mfu:.1%}  HFU {self.hfu:.1%}  (of {self.peak} peak {self.peak_tflops:g} TFLOPS)",
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
                                                         "experts", "top_k", "gated_ffn", "tied_embeddings")})
    factors = {k: float(_pick(out["factors"][k], index)) for k in FACTOR_NAMES} if fits else {}
    return StepResult(
        name=name, gpu=gpu, gpus=int(gpus), precision=precision,
        peak="fp8 dense" if precision == "fp8" else "bf16 dense", peak_tflops=float(peak_tflops),
        step_time_s=perf("step_time_s"), tokens_per_s=perf("tokens_per_s"), mfu=perf("mfu"), hfu=perf("hfu"),
        tflops_per_gpu=perf("tflops_per_gpu"),
        memory_gb_per_gpu=float(_pick(out["memory_gb_per_gpu"], index)),
        weights_optimizer_gb_per_gpu=float(_pick(out["weights_optimizer_gb_per_gpu"], index)),
        activations_gb_per_gpu=float(_pick(out["activations_gb_per_gpu"], index)),
        hbm_capacity_gb=float(_pick(out["hbm_capacity_gb"], index)), fits_in_memory=fits,
        micro_batches=float(_pick(out["micro_batches"], index)), bubble_fraction=float(_pick(out["bubble_fraction"], index)),
        params_total=float(total), params_active=float(active), factors=factors, config=config_dict or {},
        calibration=calibration)


def evaluate_run(config: RunConfig, efficiency: Efficiency | None = None, calibration_label: str | None = None) -> StepResult:
    """The step model on one validated run (default: the calibrated efficiency parameters)."""
    if efficiency is None:
        from analysis.calibration import load_calibration
        cal = load_calibration()
        efficiency, calibration_label = cal.for_gpu(config.gpu.id), cal.label
    out = step_model(**config.arrays(), efficiency=efficiency)
    return result_from_arrays(out, config, calibration=calibration_label or "")


def run_from_file(path) -> StepResult:
    """Load, validate and evaluate a run YAML with the calibrated parameters (CLI ``mfu``)."""
    return evaluate_run(load_run(path))
