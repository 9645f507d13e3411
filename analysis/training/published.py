"""The published runs the step model is calibrated on: loaders and the published figures.

* ``data/published_runs.csv`` (v1 set: Megatron-LM 2021, MegaScale 2024, MT-NLG 2022, Llama 3
  2024; A100 and H100, BF16): full configuration, the published figure (MFU, per-GPU TFLOP/s
  counted with Narayanan 2021 eq. 3, or seconds per iteration) and the source; ``include`` says
  whether the row is in the fit.
* ``data/modern_runs.yaml`` (Hopper and Blackwell, BF16 and FP8, dense and MoE: NVIDIA NeMo /
  dgxc-benchmarking / Megatron-LM tables and the DeepSeek-V3 report): the facts of
  shared/reference/modern_runs.yaml with a ``source_id`` (one table = one source) and the
  software-stack profile per run.

:func:`calibration_runs` joins both into one table, every row parsed by the run parser
(:func:`analysis.training.run.parse_run`) and with ``recompute: auto`` resolved, with the
published throughput as **tokens/s per GPU** (which does not depend on a FLOP-counting
convention) and, where one is published or derivable, the MFU.

Published MFU conventions of the v1 rows (all against the BF16 dense peak, model FLOPs as
Narayanan 2021): ``mfu`` rows are as published; ``tflops_per_gpu_eq3`` rows (Megatron-LM 2021)
count the full-recompute forward pass, so MFU = TFLOP/s x [72 (1 + s/6h + V/12lh)] / [96 (1 +
s/6h + V/16lh)] / peak; ``iteration_s`` rows give MFU = model FLOPs per step / (GPUs x peak x s).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import catalog
from analysis.errors import InputError, shown
from analysis.paths import DATA_DIR
from analysis.training.flops import (model_flops_per_token, narayanan_hardware_flops_per_step,
                                     narayanan_model_flops_per_step)
from analysis.training.run import MLA_KEYS, RunConfig, parse_run, resolve_recompute

RUNS_PATH = DATA_DIR / "published_runs.csv"
MODERN_PATH = DATA_DIR / "modern_runs.yaml"

RUN_COLUMNS = ("id", "group", "include", "gpu", "gpus", "precision", "scale_out_gb_s_per_gpu", "layers", "hidden", "heads",
               "kv_heads", "ffn_hidden", "vocab", "seq_len", "experts", "top_k", "gated_ffn", "tp", "pp", "dp", "cp", "ep",
               "micro_batch", "global_batch", "interleave", "sequence_parallel", "recompute", "zero", "embedding_slots",
               "flash_attention", "overlap_grad_reduce", "overlap_tp_comm", "published_kind", "published_value",
               "published_mfu_note", "source", "source_date", "assumptions", "software_stack")
PUBLISHED_KINDS = ("mfu", "tflops_per_gpu_eq3", "iteration_s")
BOOL_COLUMNS = ("include", "gated_ffn", "sequence_parallel", "flash_attention", "overlap_grad_reduce", "overlap_tp_comm")
MODERN_KEYS = ("id", "src", "gpu", "gpus", "precision", "model", "parallelism", "published", "notes", "source_id",
               "software_stack", "fp8")
MODERN_FIGURES = ("tokens_per_s_per_gpu", "step_time_s", "tflops_per_gpu", "mfu", "gpu_hours_per_trillion_tokens")


# --------------------------------------------------------------------------- v1: published_runs.csv
def _as_bool(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return str(value).strip().lower() in ("true", "1", "yes")


def load_published_runs(path: Path | str | None = None) -> pd.DataFrame:
    """The validated table of published runs (one row per run, ``id`` unique)."""
    path = Path(path or RUNS_PATH)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    df = pd.read_csv(path)
    missing = [c for c in RUN_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{path.name}: missing column {shown(missing[0])}")
    for column in BOOL_COLUMNS:
        df[column] = df[column].map(_as_bool)
    for i, row in df.iterrows():
        if row["published_kind"] not in PUBLISHED_KINDS:
            raise InputError(f"{path.name} row {i + 2} published_kind: {shown(row['published_kind'])} is not one of {', '.join(PUBLISHED_KINDS)}")
        if not str(row["source"]).strip() or str(row["source"]) == "nan":
            raise InputError(f"{path.name} row {i + 2} source: empty; every run needs its source")
    if df["id"].duplicated().any():
        raise InputError(f"{path.name}: duplicate id {shown(df['id'][df['id'].duplicated()].iloc[0])}")
    return df.set_index("id", drop=False)


def run_config(row: pd.Series) -> RunConfig:
    """The validated :class:`RunConfig` of one published-run row (its stack's flags overridden by the row's)."""
    ints = lambda keys: {k: int(row[k]) for k in keys}  # noqa: E731
    doc = {"name": row["id"], "gpu": row["gpu"], "gpus": int(row["gpus"]), "precision": row["precision"],
           "network": {"scale_out_gb_s_per_gpu": float(row["scale_out_gb_s_per_gpu"])},
           "model": ints(("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len", "experts", "top_k"))
           | {"gated_ffn": bool(row["gated_ffn"])},
           "parallelism": ints(("tp", "pp", "dp", "cp", "ep", "micro_batch", "global_batch", "interleave", "zero", "embedding_slots"))
           | {"sequence_parallel": bool(row["sequence_parallel"]), "recompute": row["recompute"]},
           "software": {"stack": row["software_stack"]} | {k: bool(row[k]) for k in ("flash_attention", "overlap_grad_reduce", "overlap_tp_comm")},
           "source": row["source"]}
    try:
        return parse_run(doc)
    except InputError as exc:
        raise InputError(f"published_runs.csv {row['id']}: {exc}") from None


def published_mfu(row: pd.Series) -> float:
    """The run's MFU against the dense peak of its precision (BF16, or FP8 for an FP8 run), as published or derived
    (module docstring)."""
    peak = catalog.gpu(row["gpu"]).peak_tflops(row["precision"]) * 1e12
    value = float(row["published_value"])
    if row["published_kind"] == "mfu":
        return value
    args = (row["global_batch"], row["seq_len"], row["layers"], row["hidden"], row["vocab"])
    model_flops = float(narayanan_model_flops_per_step(*args))
    if row["published_kind"] == "tflops_per_gpu_eq3":
        return value * 1e12 * model_flops / float(narayanan_hardware_flops_per_step(*args)) / peak
    return model_flops / (row["gpus"] * peak * value)       # iteration_s


# --------------------------------------------------------------------------- v2: modern_runs.yaml
@lru_cache(maxsize=2)
def _modern_doc(path: str) -> dict:
    doc = catalog.read_yaml(Path(path))
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        raise InputError(f"{Path(path).name} runs: expected a list of runs")
    sources = doc.get("sources") or {}
    seen = set()
    for i, entry in enumerate(runs):
        where = f"{Path(path).name} runs[{i}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected a mapping")
        unknown = [k for k in entry if k not in MODERN_KEYS]
        if unknown:
            raise InputError(f"{where}.{unknown[0]}: unknown key; allowed keys are {', '.join(MODERN_KEYS)}")
        for key in ("id", "src", "source_id", "published", "software_stack"):
            if not entry.get(key):
                raise InputError(f"{where}.{key}: missing; every modern run needs id, src, source_id, software_stack and published figures")
        if entry["source_id"] not in sources:
            raise InputError(f"{where}.source_id: {shown(entry['source_id'])} is not listed under sources; known: {', '.join(sources)}")
        if entry["id"] in seen:
            raise InputError(f"{where}.id: duplicate id {shown(entry['id'])}")
        seen.add(entry["id"])
        if not any(k in entry["published"] for k in ("tokens_per_s_per_gpu", "step_time_s", "tflops_per_gpu")):
            raise InputError(f"{where}.published: expected tokens_per_s_per_gpu, step_time_s or tflops_per_gpu")
    return doc


def load_modern_runs(path: Path | str | None = None) -> list[dict]:
    """The entries of data/modern_runs.yaml (validated; copies)."""
    return [dict(e) for e in _modern_doc(str(path or MODERN_PATH))["runs"]]


def modern_sources(path: Path | str | None = None) -> dict:
    return dict(_modern_doc(str(path or MODERN_PATH)).get("sources") or {})


def modern_run_config(entry: dict) -> RunConfig:
    """The :class:`RunConfig` of one modern-run entry (the run parser applied to its facts)."""
    doc = {"name": entry["id"], "gpu": entry["gpu"], "gpus": entry["gpus"], "precision": entry["precision"],
           "model": entry["model"], "parallelism": entry["parallelism"], "software": {"stack": entry["software_stack"]},
           "source": entry["src"]}
    if entry.get("fp8"):
        doc["fp8"] = {k: v for k, v in entry["fp8"].items() if k in ("recipe", "fp8_params")}
    try:
        return parse_run(doc)
    except InputError as exc:
        raise InputError(f"modern_runs.yaml {entry['id']}: {exc}") from None


def _model_flops(config: RunConfig) -> float:
    m = config.model
    extra = {k: m.get(k, 0) for k in ("shared_experts", "dense_layers", "dense_ffn_hidden", "sliding_window",
                                      "sliding_window_layers") + MLA_KEYS}
    return float(model_flops_per_token(m["layers"], m["hidden"], m["heads"], m["kv_heads"], m["ffn_hidden"], m["vocab"],
                                       m["seq_len"], m["experts"], m["top_k"], m["gated_ffn"], **extra))


def published_tokens_per_s_per_gpu(entry: dict, config: RunConfig) -> tuple[float, str]:
    """Published throughput of a modern run in tokens/s per GPU and how it was read."""
    pub = entry["published"]
    if pub.get("tokens_per_s_per_gpu"):
        return float(pub["tokens_per_s_per_gpu"]), "tokens/s per GPU as published"
    par = config.parallelism
    if pub.get("step_time_s"):
        value = par["global_batch"] * config.model["seq_len"] / (float(pub["step_time_s"]) * config.gpus)
        return value, "global batch x sequence length / (step time x GPUs)"
    value = float(pub["tflops_per_gpu"]) * 1e12 / _model_flops(config)
    return value, "TFLOP/s per GPU / model FLOPs per token (non-causal count, as the source)"


# --------------------------------------------------------------------------- both sets, one table
def calibration_runs(runs: pd.DataFrame | None = None, modern: list[dict] | None = None) -> pd.DataFrame:
    """One row per published run of both files: configuration (``config``, recompute resolved),
    ``set`` (v1 / modern), ``source`` (the table: the unit of leave-one-source-out), GPU,
    precision, stack, ``in_fit`` and the published tokens/s per GPU (and MFU where known)."""
    runs = load_published_runs() if runs is None else runs
    modern = load_modern_runs() if modern is None else modern
    rows = []
    for run_id, row in runs.iterrows():
        config = resolve_recompute(run_config(row))
        mfu = published_mfu(row)
        tokens = mfu * config.peak_tflops * 1e12 / _model_flops(config)
        rows.append({"run": run_id, "set": "v1", "source": row["group"], "gpu": row["gpu"], "precision": row["precision"],
                     "stack": row["software_stack"], "in_fit": bool(row["include"]), "gpus": int(row["gpus"]),
                     "published_tokens_per_s_per_gpu": tokens, "published_mfu": mfu,
                     "published_read_as": str(row["published_mfu_note"]), "config": config})
    for entry in modern:
        config = resolve_recompute(modern_run_config(entry))
        tokens, how = published_tokens_per_s_per_gpu(entry, config)
        mfu = tokens * _model_flops(config) / (config.peak_tflops * 1e12)
        rows.append({"run": entry["id"], "set": "modern", "source": entry["source_id"], "gpu": entry["gpu"],
                     "precision": entry["precision"], "stack": entry["software_stack"], "in_fit": True,
                     "gpus": int(entry["gpus"]), "published_tokens_per_s_per_gpu": tokens, "published_mfu": mfu,
                     "published_read_as": how, "config": config})
    return pd.DataFrame(rows).set_index("run")
