"""Calibration of the training step model against published runs, in the open.

* ``data/published_runs.csv``: published large training runs with their full configuration,
  the published figure (MFU, or per-GPU TFLOP/s counted with Narayanan 2021 eq. 3, or seconds
  per iteration) and the source; ``include`` says whether the row is in the fit (the reasons
  for leaving a row out are in its ``source``/``assumptions``).
* :func:`fit` fits the few efficiency parameters in :data:`FITTED` **once over all included
  runs** (no per-run tuning) by least squares on the MFU error in percentage points, from a
  fixed start (deterministic, reproducible). Every other parameter is a fixed, labelled
  assumption (:data:`FIXED`). ``fit(write=True)`` stores the result in data/calibration.yaml.
* :func:`load_calibration` reads data/calibration.yaml (what the step model uses by default).
* :func:`error_table` is predicted vs published MFU per run; :func:`leave_one_out` refits
  without each run in turn and predicts it.

Published MFU conventions (all against the BF16 dense peak, model FLOPs as Narayanan 2021):
``mfu`` rows are as published; ``tflops_per_gpu_eq3`` rows (Megatron-LM 2021) count the
full-recompute forward pass, so MFU = TFLOP/s x [72 (1 + s/6h + V/12lh)] / [96 (1 + s/6h +
V/16lh)] / peak; ``iteration_s`` rows give MFU = model FLOPs per step / (GPUs x peak x seconds).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis import catalog
from analysis.errors import InputError, shown
from analysis.paths import DATA_DIR
from analysis.training.flops import narayanan_hardware_flops_per_step, narayanan_model_flops_per_step
from analysis.training.run import RunConfig, parse_run
from analysis.training.step import Efficiency, step_model

RUNS_PATH = DATA_DIR / "published_runs.csv"
CALIBRATION_PATH = DATA_DIR / "calibration.yaml"
REFERENCE_GPU = "A100"
REFERENCE_STACK = "megatron-lm"

# Fitted parameters: name -> (start, lower bound, upper bound, meaning). ``clock_fraction:<GPU>``
# is the sustained tensor throughput of that GPU type relative to the reference GPU (A100 = 1).
FITTED = {
    "gemm_efficiency_max": (0.85, 0.5, 1.0, "effective fraction of the dense peak a large GEMM reaches on the reference GPU "
                            "(A100); it also absorbs per-step overheads the model does not itemise (launch gaps, data loading)"),
    "clock_fraction:H100": (0.85, 0.5, 1.0, "sustained tensor throughput of H100 SXM (700 W) relative to A100 on the same "
                            "kernels (power-capped clocks); MosaicML llm-foundry reports lower MFU on H100 than A100 for the "
                            "same stack (shared/reference/training_efficiency.md Sec. 1)"),
    "stack_efficiency:deepspeed-2021": (0.85, 0.5, 1.0, "throughput of the 2021 DeepSpeed pipeline engine (MT-NLG, Smith et al. "
                                        "2022) relative to Megatron-LM on the same model and hardware; only MT-NLG's runs inform "
                                        "it (Megatron-LM 2021 Table 1 trains the same 530B model on the same Selene A100s about "
                                        "23% faster per GPU)"),
}

# Fixed assumptions with their range and source (not fitted).
FIXED = {
    "gemm_shape_kappa": (1.0, 0.0, 2.0, "assumption: GEMM operands and result cross HBM once (the memory term of a roofline sum); "
                         "not identifiable from the published runs (all GEMM dimensions >= 2048; a free fit drifts to 0 with "
                         "about 0.4 points lower MAE), so fixed at the physical value"),
    "memory_bandwidth_efficiency": (0.85, 0.7, 1.0, "assumption: streaming element-wise kernels reach 70-100% of nominal HBM "
                                    "bandwidth (a free fit goes to the bound 1.0, i.e. the byte counts are upper bounds)"),
    "flash_attention_efficiency": (0.45, 0.30, 0.60, "assumption: fused attention reaches 30-60% of the BF16 dense peak on model FLOPs "
                                   "fwd+bwd (FlashAttention-2, Dao 2023, reports 50-73% forward and lower backward on A100; its "
                                   "backward re-runs the forward)"),
    "fp8_gemm_ratio": (0.75, 0.6, 1.0, "assumption: FP8 GEMMs reach 60-100% of the BF16 GEMM efficiency against the FP8 peak (scaling, "
                       "casts, transposes); llm-foundry H100 FP8 rows show 14-30% MFU against the FP8 peak "
                       "(shared/reference/training_efficiency.md Sec. 1); no FP8 run is in the calibration"),
    "nvlink_efficiency": (0.75, 0.6, 0.9, "assumption: NCCL all-gather/reduce-scatter bus bandwidth ~75% of the unidirectional NVLink "
                          "bandwidth (half the listed bidirectional figure); cf. 479.7 GB/s all-reduce bus bandwidth on 8xH100 "
                          "(Voltage Park/Georgia Tech, shared/reference Sec. 4.5, secondary)"),
    "scale_out_efficiency": (0.8, 0.6, 0.95, "assumption: ring collectives reach ~80% of the per-GPU scale-out line rate; "
                             "330.9 GB/s of 400 GB/s per node across 4 nodes (69-83%, shared/reference Sec. 4.5, secondary)"),
    "collective_latency_s": (1e-5, 5e-6, 3e-5, "assumption: ~10 us fixed cost per NCCL call (launch + small-message latency)"),
    "tp_overlap": (0.6, 0.3, 0.9, "assumption: share of TP communication hidden when overlap_tp_comm is on (MegaScale Table 3: "
                   "TP overlap worth +2.2 MFU points)"),
    "cp_overlap": (0.0, 0.0, 0.5, "assumption: CP K/V all-gather exposed (Llama 3 all-gather CP, Sec. 3.3.2)"),
    "ep_overlap": (0.0, 0.0, 0.5, "assumption: MoE all-to-all exposed (stock Megatron-LM)"),
    "straggler_sigma": (0.0, 0.0, 0.01, "assumption: no explicit straggler term in the central case (per-GPU jitter sigma; the "
                        "step waits for the slowest of N: 1 + sigma sqrt(2 ln N))"),
    "hbm_usable_fraction": (1.0, 0.9, 1.05, "assumption: nominal '80 GB' is 80 GiB (85.9e9 B); allocator fragmentation and CUDA "
                            "context take 5-10%, so usable ~ nominal in 1e9-byte GB"),
}

# GPUs without a calibration run take the sustained-clock fraction of their die.
CLOCK_FRACTION_ALIASES = {
    "H800": ("H100", "assumption: same GH100 die, clocks and 700 W TDP as H100"),
    "H200": ("H100", "assumption: same GH100 compute and 700 W TDP as H100 (more HBM and bandwidth are modelled separately)"),
    "B200": ("H100", "assumption: no published calibration run on Blackwell; takes the H100 value (range H100 value to 1)"),
    "GB200": ("H100", "assumption: no published calibration run on Blackwell; takes the H100 value (range H100 value to 1)"),
    "GB300": ("H100", "assumption: no published calibration run on Blackwell; takes the H100 value (range H100 value to 1)"),
}

RUN_COLUMNS = ("id", "group", "include", "gpu", "gpus", "precision", "scale_out_gb_s_per_gpu", "layers", "hidden", "heads",
               "kv_heads", "ffn_hidden", "vocab", "seq_len", "experts", "top_k", "gated_ffn", "tp", "pp", "dp", "cp", "ep",
               "micro_batch", "global_batch", "interleave", "sequence_parallel", "recompute", "zero", "embedding_slots",
               "flash_attention", "overlap_grad_reduce", "overlap_tp_comm", "published_kind", "published_value",
               "published_mfu_note", "source", "source_date", "assumptions", "software_stack")
PUBLISHED_KINDS = ("mfu", "tflops_per_gpu_eq3", "iteration_s")
BOOL_COLUMNS = ("include", "gated_ffn", "sequence_parallel", "flash_attention", "overlap_grad_reduce", "overlap_tp_comm")


# --------------------------------------------------------------------------- published runs
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
        raise InputError(f"{path.name}: missing column {missing[0]!r}")
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
    """The validated :class:`RunConfig` of one published-run row."""
    ints = lambda keys: {k: int(row[k]) for k in keys}  # noqa: E731
    doc = {"name": row["id"], "gpu": row["gpu"], "gpus": int(row["gpus"]), "precision": row["precision"],
           "network": {"scale_out_gb_s_per_gpu": float(row["scale_out_gb_s_per_gpu"])},
           "model": ints(("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len", "experts", "top_k"))
           | {"gated_ffn": bool(row["gated_ffn"])},
           "parallelism": ints(("tp", "pp", "dp", "cp", "ep", "micro_batch", "global_batch", "interleave", "zero", "embedding_slots"))
           | {"sequence_parallel": bool(row["sequence_parallel"]), "recompute": row["recompute"]},
           "software": {k: bool(row[k]) for k in ("flash_attention", "overlap_grad_reduce", "overlap_tp_comm")},
           "source": row["source"]}
    try:
        return parse_run(doc)
    except InputError as exc:
        raise InputError(f"published_runs.csv {row['id']}: {exc}") from None


def published_mfu(row: pd.Series) -> float:
    """The run's MFU against the BF16 dense peak, as published or derived (module docstring)."""
    peak = catalog.gpu(row["gpu"]).peak_tflops(row["precision"]) * 1e12
    value = float(row["published_value"])
    if row["published_kind"] == "mfu":
        return value
    args = (row["global_batch"], row["seq_len"], row["layers"], row["hidden"], row["vocab"])
    model_flops = float(narayanan_model_flops_per_step(*args))
    if row["published_kind"] == "tflops_per_gpu_eq3":
        return value * 1e12 * model_flops / float(narayanan_hardware_flops_per_step(*args)) / peak
    return model_flops / (row["gpus"] * peak * value)       # iteration_s


# --------------------------------------------------------------------------- calibration object
@dataclass(frozen=True)
class Calibration:
    """Efficiency parameters for the step model, with provenance.

    ``values`` holds every :class:`~analysis.training.step.Efficiency` field except
    ``clock_fraction``, which is per GPU type (``clock_fraction_by_gpu``). ``status`` says
    ``calibrated`` or ``assumption`` per parameter; ``ranges`` and ``sources`` go with them.
    """

    values: dict
    clock_fraction_by_gpu: dict
    status: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    method: str = ""
    fitted_on: str = ""
    stack_efficiency_by_stack: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        fitted = ", ".join(f"{k}={v:.3g}" for k, v in self.fitted_values().items())
        return f"calibrated ({fitted}; data/calibration.yaml, fitted {self.fitted_on})" if self.fitted_on else f"uncalibrated defaults ({fitted})"

    def fitted_values(self) -> dict:
        out = {k: v for k, v in self.values.items() if self.status.get(k) == "calibrated"}
        out.update({f"clock_fraction:{g}": v for g, v in self.clock_fraction_by_gpu.items()
                    if self.status.get(f"clock_fraction:{g}") == "calibrated"})
        out.update({f"stack_efficiency:{k}": v for k, v in self.stack_efficiency_by_stack.items()
                    if self.status.get(f"stack_efficiency:{k}") == "calibrated"})
        return out

    def stack_efficiency(self, stack: str) -> float:
        """Throughput of a software stack relative to Megatron-LM (1 for the reference stack)."""
        if stack not in self.stack_efficiency_by_stack:
            known = ", ".join(sorted(self.stack_efficiency_by_stack))
            raise InputError(f"software_stack: unknown stack {shown(stack)}; known stacks are {known}")
        return float(self.stack_efficiency_by_stack[stack])

    def clock_fraction(self, gpu_id: str) -> float:
        if gpu_id in self.clock_fraction_by_gpu:
            return float(self.clock_fraction_by_gpu[gpu_id])
        alias = CLOCK_FRACTION_ALIASES.get(gpu_id, (REFERENCE_GPU, ""))[0]
        return float(self.clock_fraction_by_gpu.get(alias, 1.0))

    def for_gpu(self, gpu_id: str) -> Efficiency:
        """The :class:`Efficiency` to use on ``gpu_id`` (its sustained-clock fraction resolved)."""
        return Efficiency(**self.values, clock_fraction=self.clock_fraction(gpu_id))

    @property
    def efficiency(self) -> Efficiency:
        return self.for_gpu(REFERENCE_GPU)

    def table(self) -> pd.DataFrame:
        """Every parameter with value, range, status (calibrated / assumption) and source."""
        rows = []
        for key, value in (list(self.values.items()) + [(f"clock_fraction:{g}", v) for g, v in self.clock_fraction_by_gpu.items()]
                           + [(f"stack_efficiency:{k}", v) for k, v in self.stack_efficiency_by_stack.items()]):
            low, high = self.ranges.get(key, (None, None))
            rows.append({"parameter": key, "value": value, "low": low, "high": high, "status": self.status.get(key, "assumption"),
                         "source": self.sources.get(key, "")})
        return pd.DataFrame(rows).set_index("parameter")


def default_calibration() -> Calibration:
    """The starting point of the fit (FITTED starts and FIXED assumptions); not calibrated."""
    values = {f.name: f.default for f in fields(Efficiency) if f.name != "clock_fraction"}
    status, ranges, sources = {}, {}, {}
    for key, (value, low, high, source) in FIXED.items():
        values[key], status[key], ranges[key], sources[key] = value, "assumption", (low, high), source
    clocks, stacks = {REFERENCE_GPU: 1.0}, {REFERENCE_STACK: 1.0}
    status[f"clock_fraction:{REFERENCE_GPU}"] = "assumption"
    sources[f"clock_fraction:{REFERENCE_GPU}"] = "reference GPU: its sustained-clock loss is inside gemm_efficiency_max"
    status[f"stack_efficiency:{REFERENCE_STACK}"] = "assumption"
    sources[f"stack_efficiency:{REFERENCE_STACK}"] = ("reference software stack (Megatron-LM and stacks as fast: MegaScale's "
                                                      "Megatron-LM column, Meta's Llama 3 stack); the configuration search uses it")
    for key, (start, low, high, meaning) in FITTED.items():
        if key.startswith("clock_fraction:"):
            clocks[key.split(":", 1)[1]] = start
        elif key.startswith("stack_efficiency:"):
            stacks[key.split(":", 1)[1]] = start
        else:
            values[key] = start
        status[key], ranges[key], sources[key] = "start", (low, high), f"fit start: {meaning}"
    return Calibration(values, clocks, status, ranges, sources, stack_efficiency_by_stack=stacks)


def _with(cal: Calibration, params: dict) -> Calibration:
    values, clocks, stacks = dict(cal.values), dict(cal.clock_fraction_by_gpu), dict(cal.stack_efficiency_by_stack)
    for key, value in params.items():
        if key.startswith("clock_fraction:"):
            clocks[key.split(":", 1)[1]] = float(value)
        elif key.startswith("stack_efficiency:"):
            stacks[key.split(":", 1)[1]] = float(value)
        else:
            values[key] = float(value)
    return Calibration(values, clocks, dict(cal.status), dict(cal.ranges), dict(cal.sources), dict(cal.metrics),
                       cal.method, cal.fitted_on, stacks)


# --------------------------------------------------------------------------- vectorized prediction over runs
def _stack(configs: list[RunConfig]) -> dict:
    keys = configs[0].arrays().keys()
    columns = {k: [c.arrays()[k] for c in configs] for k in keys}
    return {k: np.asarray(v) for k, v in columns.items()}


def predict(runs: pd.DataFrame | None = None, calibration: Calibration | None = None) -> dict:
    """Step-model outputs (arrays, one element per run, in ``runs`` order)."""
    runs = load_published_runs() if runs is None else runs
    calibration = calibration or load_calibration()
    configs = [run_config(row) for _, row in runs.iterrows()]
    return _predict(_stack(configs), list(runs["gpu"]), calibration, list(runs["software_stack"]))


def _throughput_factors(calibration: Calibration, gpu_ids: list[str], stacks: list[str]) -> np.ndarray:
    """Per run: the GPU type's sustained-clock fraction x the software stack's efficiency."""
    return np.array([calibration.clock_fraction(g) * calibration.stack_efficiency(s) for g, s in zip(gpu_ids, stacks)])


def _predict(stacked: dict, gpu_ids: list[str], calibration: Calibration, stacks: list[str]) -> dict:
    efficiency = Efficiency(**calibration.values, clock_fraction=_throughput_factors(calibration, gpu_ids, stacks))
    return step_model(**stacked, efficiency=efficiency)


def error_table(calibration: Calibration | None = None, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Predicted vs published MFU per run (points = percentage points), with fit membership."""
    runs = load_published_runs() if runs is None else runs
    calibration = calibration or load_calibration()
    out = predict(runs, calibration)
    published = np.array([published_mfu(row) for _, row in runs.iterrows()])
    table = pd.DataFrame({
        "group": runs["group"].values, "gpu": runs["gpu"].values, "gpus": runs["gpus"].values,
        "in_fit": runs["include"].values, "published_mfu": published, "predicted_mfu": out["mfu"],
        "error_points": (out["mfu"] - published) * 100, "fits_in_memory": out["fits_in_memory"],
        "memory_gb_per_gpu": out["memory_gb_per_gpu"], "published_kind": runs["published_kind"].values,
    }, index=runs.index)
    table.index.name = "run"
    return table


# --------------------------------------------------------------------------- fit
@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`fit`: the calibration, the per-run table and the error summary."""

    calibration: Calibration
    table: pd.DataFrame
    mae_points: float
    max_abs_points: float
    runs: int
    loo: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        out = {"fitted": {k: float(v) for k, v in self.calibration.fitted_values().items()},
               "mae_points": float(self.mae_points), "max_abs_points": float(self.max_abs_points), "runs": int(self.runs)}
        if self.loo is not None:
            out["loo_mae_points"] = float(self.loo["loo_error_points"].abs().mean())
            out["loo_max_abs_points"] = float(self.loo["loo_error_points"].abs().max())
        return out

    def summary(self) -> str:
        lines = [f"Step-model calibration over {self.runs} published runs: MAE {self.mae_points:.2f} points, "
                 f"worst {self.max_abs_points:.2f} points (MFU, percentage points of BF16 dense peak)"]
        lines += [f"  {k:34s} {v:.4g}  (calibrated)" for k, v in self.calibration.fitted_values().items()]
        if self.loo is not None:
            d = self.to_dict()
            lines.append(f"  leave-one-out: MAE {d['loo_mae_points']:.2f} points, worst {d['loo_max_abs_points']:.2f} points")
        return "\n".join(lines)


def _fit_params(runs: pd.DataFrame, start: Calibration, names: tuple[str, ...]) -> dict:
    from scipy.optimize import least_squares

    included = runs[runs["include"]]
    stacked = _stack([run_config(row) for _, row in included.iterrows()])
    gpu_ids, stacks = list(included["gpu"]), list(included["software_stack"])
    published = np.array([published_mfu(row) for _, row in included.iterrows()])
    names = tuple(n for n in names if not n.startswith("clock_fraction:") or n.split(":", 1)[1] in set(gpu_ids))
    names = tuple(n for n in names if not n.startswith("stack_efficiency:") or n.split(":", 1)[1] in set(stacks))
    x0 = np.array([FITTED[n][0] for n in names])
    lower = np.array([FITTED[n][1] for n in names])
    upper = np.array([FITTED[n][2] for n in names])

    def residuals(x):
        cal = _with(start, dict(zip(names, x)))
        return (_predict(stacked, gpu_ids, cal, stacks)["mfu"] - published) * 100

    solution = least_squares(residuals, x0, bounds=(lower, upper), x_scale="jac", method="trf", xtol=1e-10, ftol=1e-10)
    return dict(zip(names, (float(v) for v in solution.x)))


def fit(runs: pd.DataFrame | None = None, write: bool = False, with_loo: bool = True,
        path: Path | str | None = None) -> CalibrationResult:
    """Fit :data:`FITTED` once over every included run (least squares on MFU points, fixed start).

    Deterministic: the same table gives the same parameters. ``write=True`` stores them (with
    the error summary, ranges from leave-one-out, and provenance) in data/calibration.yaml.
    """
    runs = load_published_runs() if runs is None else runs
    start = default_calibration()
    params = _fit_params(runs, start, tuple(FITTED))
    loo = leave_one_out(runs) if with_loo else None
    status, ranges, sources = dict(start.status), dict(start.ranges), dict(start.sources)
    n_runs = int(runs["include"].sum())
    for key, value in params.items():
        status[key] = "calibrated"
        if loo is not None:
            column = loo[f"fit:{key}"]
            ranges[key] = (float(column.min()), float(column.max()))
        sources[key] = (f"calibrated: analysis.calibration.fit() over {n_runs} runs of data/published_runs.csv (include = true), "
                        f"least squares on MFU error; range = min/max over leave-one-out refits. {FITTED[key][3]}")
    metrics = {}
    calibration = _with(Calibration(start.values, start.clock_fraction_by_gpu, status, ranges, sources, metrics,
                                    "scipy.optimize.least_squares (trf, bounds) on predicted - published MFU in points, "
                                    "fixed start values, all included runs at once",
                                    _dt.date.today().isoformat(), start.stack_efficiency_by_stack), params)
    table = error_table(calibration, runs)
    errors = table.loc[table["in_fit"], "error_points"]
    result = CalibrationResult(calibration, table, float(errors.abs().mean()), float(errors.abs().max()), n_runs, loo)
    metrics.update(result.to_dict())
    metrics.pop("fitted", None)
    if write:
        write_calibration(result, path)
    return result


def leave_one_out(runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Refit without each included run and predict it: one row per run, with the refit values."""
    runs = load_published_runs() if runs is None else runs
    start = default_calibration()
    rows = []
    for run_id in runs.index[runs["include"]]:
        held = runs.copy()
        held.loc[run_id, "include"] = False
        params = _fit_params(held, start, tuple(FITTED))
        cal = _with(start, params)
        row = runs.loc[[run_id]]
        predicted = float(predict(row, cal)["mfu"][0])
        published = published_mfu(runs.loc[run_id])
        rows.append({"run": run_id, "published_mfu": published, "loo_predicted_mfu": predicted,
                     "loo_error_points": (predicted - published) * 100, **{f"fit:{k}": v for k, v in params.items()}})
    return pd.DataFrame(rows).set_index("run")


# --------------------------------------------------------------------------- storage
def write_calibration(result: CalibrationResult, path: Path | str | None = None) -> Path:
    """Write data/calibration.yaml: every parameter with value, range, status and source."""
    cal = result.calibration
    path = Path(path or CALIBRATION_PATH)

    def entry(key, value):
        low, high = cal.ranges.get(key, (None, None))
        item = {"value": round(float(value), 6), "status": cal.status.get(key, "assumption")}
        if low is not None:
            item.update(low=round(float(low), 6), high=round(float(high), 6))
        item["source"] = cal.sources.get(key, "")
        return item

    doc = {
        "label": "calibrated",
        "description": "Efficiency parameters of the training step model (analysis.training). Parameters with status "
                       "'calibrated' were fitted once over all included runs of data/published_runs.csv by "
                       "analysis.calibration.fit(); the others are labelled assumptions with a range.",
        "fitted_on": cal.fitted_on,
        "method": cal.method,
        "reproduce": "from analysis.calibration import fit; fit(write=True)",
        "metrics": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.to_dict().items() if k != "fitted"},
        "parameters": {key: entry(key, value) for key, value in cal.values.items()},
        "clock_fraction_by_gpu": {gpu: entry(f"clock_fraction:{gpu}", value) for gpu, value in cal.clock_fraction_by_gpu.items()},
        "clock_fraction_aliases": {gpu: {"same_as": alias, "source": source} for gpu, (alias, source) in CLOCK_FRACTION_ALIASES.items()},
        "stack_efficiency_by_stack": {stack: entry(f"stack_efficiency:{stack}", value)
                                      for stack, value in cal.stack_efficiency_by_stack.items()},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True))
    _load_cached.cache_clear()
    return path


from functools import lru_cache  # noqa: E402


@lru_cache(maxsize=4)
def _load_cached(path: str) -> Calibration:
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file}: calibration file not found; run analysis.calibration.fit(write=True)")
    doc = catalog.read_yaml(file)
    params = doc.get("parameters") or {}
    known = {f.name for f in fields(Efficiency)} - {"clock_fraction"}
    unknown = set(params) - known
    if unknown:
        raise InputError(f"{file.name} parameters.{sorted(unknown)[0]}: unknown parameter; expected {', '.join(sorted(known))}")
    values = {f.name: f.default for f in fields(Efficiency) if f.name != "clock_fraction"}
    status, ranges, sources = {}, {}, {}

    def read(key, item):
        if not isinstance(item, dict) or "value" not in item or not str(item.get("source", "")).strip():
            raise InputError(f"{file.name} {key}: expected {{value, status, source}}")
        status[key] = item.get("status", "assumption")
        sources[key] = item["source"]
        if "low" in item:
            ranges[key] = (item["low"], item["high"])
        return float(item["value"])

    for key, item in params.items():
        values[key] = read(key, item)
    clocks = {gpu: read(f"clock_fraction:{gpu}", item) for gpu, item in (doc.get("clock_fraction_by_gpu") or {}).items()}
    stacks = {stack: read(f"stack_efficiency:{stack}", item)
              for stack, item in (doc.get("stack_efficiency_by_stack") or {REFERENCE_STACK: {"value": 1.0, "source": "reference"}}).items()}
    return Calibration(values, clocks, status, ranges, sources, dict(doc.get("metrics") or {}), str(doc.get("method", "")),
                       str(doc.get("fitted_on", "")), stacks)


def load_calibration(path: Path | str | None = None) -> Calibration:
    """The stored calibration (data/calibration.yaml) used by the step model by default."""
    return _load_cached(str(path or CALIBRATION_PATH))


# --------------------------------------------------------------------------- uncertainty and scaling views
def prediction_interval(runs: pd.DataFrame | None = None, calibration: Calibration | None = None, draws: int = 200,
                        seed: int = 0, quantiles=(0.05, 0.5, 0.95)) -> pd.DataFrame:
    """Predicted MFU per run when every ranged parameter of the calibration varies together
    (triangular(low, value, high), seeded): one vectorized call over runs x draws."""
    runs = load_published_runs() if runs is None else runs
    calibration = calibration or load_calibration()
    rng = np.random.default_rng(seed)

    def draw(key, value):
        low, high = calibration.ranges.get(key, (None, None))
        if low is None or not high > low:
            return value
        return rng.triangular(low, min(max(value, low), high), high, size=(1, draws))

    values = {key: draw(key, value) for key, value in sorted(calibration.values.items())}
    clock_draws = {gpu: draw(f"clock_fraction:{gpu}", value) for gpu, value in sorted(calibration.clock_fraction_by_gpu.items())}
    stack_draws = {k: draw(f"stack_efficiency:{k}", v) for k, v in sorted(calibration.stack_efficiency_by_stack.items())}
    clocks = np.vstack([np.broadcast_to(clock_draws.get(gpu, calibration.clock_fraction(gpu)) * stack_draws[stack], (1, draws))
                        for gpu, stack in zip(runs["gpu"], runs["software_stack"])])
    stacked = {key: value[:, None] for key, value in _stack([run_config(row) for _, row in runs.iterrows()]).items()}
    out = step_model(**stacked, efficiency=Efficiency(**values, clock_fraction=clocks))
    q = np.quantile(out["mfu"], quantiles, axis=1)
    table = pd.DataFrame({f"mfu_q{int(round(100 * p)):02d}": q[i] for i, p in enumerate(quantiles)}, index=runs.index)
    table["published_mfu"] = [published_mfu(row) for _, row in runs.iterrows()]
    return table


def scaling_regression(runs: pd.DataFrame | None = None, group: str = "MegaScale 2024, Megatron-LM (A100)"):
    """OLS of published MFU (points) on log2(GPUs), controlling for log2(global batch), with HC3
    robust standard errors (statsmodels). Returns ``(results, data)``."""
    import statsmodels.formula.api as smf

    runs = load_published_runs() if runs is None else runs
    rows = runs[runs["group"] == group]
    if len(rows) < 4:
        raise InputError(f"group: {shown(group)} has {len(rows)} runs; the regression needs at least 4")
    data = pd.DataFrame({"gpus": rows["gpus"].astype(float), "global_batch": rows["global_batch"].astype(float),
                         "mfu_points": [100 * published_mfu(row) for _, row in rows.iterrows()]}, index=rows.index)
    data["log2_gpus"] = np.log2(data["gpus"])
    data["log2_batch"] = np.log2(data["global_batch"])
    formula = "mfu_points ~ log2_gpus + log2_batch" if data["global_batch"].nunique() > 1 else "mfu_points ~ log2_gpus"
    return smf.ols(formula, data=data).fit(cov_type="HC3"), data


def scaling_fit_curve(results, gpus, global_batch: float, alpha: float = 0.05) -> pd.DataFrame:
    """Fitted line of :func:`scaling_regression` at ``gpus`` and one global batch, with its
    (1 - alpha) confidence band (HC3): columns gpus, mean, lower, upper (MFU points)."""
    gpus = np.asarray(gpus, dtype=float)
    new = pd.DataFrame({"log2_gpus": np.log2(gpus), "log2_batch": np.full(gpus.shape, np.log2(float(global_batch)))})
    frame = results.get_prediction(new).summary_frame(alpha=alpha)
    return pd.DataFrame({"gpus": gpus, "mean": frame["mean"].to_numpy(), "lower": frame["mean_ci_lower"].to_numpy(),
                         "upper": frame["mean_ci_upper"].to_numpy()})
