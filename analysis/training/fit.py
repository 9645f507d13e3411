"""Calibration of the step model on both published-run sets, in the open; the one writer of
data/calibration.yaml.

* :func:`fit` fits the few shared parameters of :data:`FITTED` -- the large-GEMM efficiency per
  GPU architecture x precision, the DeepSpeed-2021 stack multiplier, the MoE load imbalance and
  the share of TP communication hidden by overlap -- **once over every in-fit run of both files**
  (no per-run parameter) by least squares on ``100 ln(predicted / published tokens/s per GPU)``
  (about the percentage error; independent of FLOP-counting conventions), from a fixed start
  (deterministic). Two weak priors (:data:`PRIORS`) tie what one table alone cannot separate:
  Blackwell's BF16 efficiency to Hopper's and the FP8/BF16 efficiency ratio across
  architectures. Every other parameter is a fixed, labelled assumption (:data:`FIXED`).
* :func:`leave_one_out` refits without each run and predicts it; :func:`leave_one_source_out`
  refits without each whole table (source) and predicts its runs -- the honest generalization
  figure.
* :func:`write_calibration` is the only function that writes data/calibration.yaml (with the
  fit's provenance and errors) and its sibling data/calibration_validation.csv: the fit's
  validation, one row per run and evaluation (in-sample, leave-one-out, leave-one-source-out:
  predicted tokens/s per GPU and MFU, errors, the refitted parameters), with its provenance
  (full-precision fitted values, input-file hashes, a hash of the fit settings, code hash, date)
  in the ``validation`` section of data/calibration.yaml.
* :func:`stored_fit` rebuilds the :class:`CalibrationResult` of :func:`fit` from that stored
  validation (milliseconds instead of the ~15 s of the leave-one-out refits) when it is fresh:
  the same fit settings, the same runs (ids, sources, published figures) and the same in-sample
  predictions from the step model at the stored parameters. :func:`validated_fit` returns it, or
  refits when it is stale.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis import catalog
from analysis.errors import InputError, shown
from analysis.training import efficiency as eff_mod
from analysis.training.efficiency import CALIBRATION_PATH, SHARED, Calibration, load_calibration
from analysis.training.published import (MODERN_PATH, RUNS_PATH, calibration_runs, load_published_runs, published_mfu,
                                         run_config)
from analysis.training.step import Efficiency, step_model

# Fitted parameters: key -> (start, lower bound, upper bound, meaning).
FITTED = {
    "gemm_efficiency:ampere:bf16": (0.72, 0.4, 1.0, "fraction of the BF16 dense peak a large BF16 GEMM reaches on Ampere (A100), "
                                    "end to end (it also absorbs per-step overheads the model does not itemise)"),
    "gemm_efficiency:hopper:bf16": (0.65, 0.4, 1.0, "fraction of the BF16 dense peak a large BF16 GEMM reaches on Hopper (H100, "
                                    "H800, H200: same GH100 die and 700 W power cap)"),
    "gemm_efficiency:hopper:fp8": (0.45, 0.2, 1.0, "fraction of the FP8 dense peak a large FP8 GEMM (per-tensor or blockwise "
                                   "scaling) reaches on Hopper"),
    "gemm_efficiency:blackwell:bf16": (0.65, 0.4, 1.0, "fraction of the BF16 dense peak a large BF16 GEMM reaches on Blackwell "
                                       "(B200, GB200, GB300)"),
    "gemm_efficiency:blackwell:fp8": (0.45, 0.2, 1.0, "fraction of the FP8 dense peak a large FP8 GEMM (MXFP8 or per-tensor) "
                                      "reaches on Blackwell"),
    "stack_efficiency:deepspeed-2021": (0.85, 0.5, 1.0, "throughput of the 2021 DeepSpeed pipeline engine (MT-NLG, Smith et al. "
                                        "2022) relative to Megatron-LM on the same model and hardware; only MT-NLG's runs inform it"),
    "moe_load_imbalance": (1.2, 1.0, 2.0, "busiest expert GPU's routed work / the mean (token routing imbalance, dropless); "
                           "informed by the MoE runs (Mixtral on B200, DeepSeek-V3 on H100 and H800)"),
    "flash_attention_efficiency": (0.4, 0.15, 0.8, "fraction of the BF16 dense peak fused attention reaches on the FLOPs it "
                                   "executes (causal: the masked half skipped), forward + backward (FlashAttention-2, Dao 2023: "
                                   "50-73% forward on A100; FlashAttention-3, Shah et al. 2024: up to 75% forward on H100)"),
    "tp_overlap": (0.6, 0.0, 0.95, "share of TP/SP communication hidden when the stack overlaps it with GEMMs (TE userbuffers); "
                   "MegaScale Table 3 credits TP overlap with +2.2 MFU points"),
}

# Weak priors (pseudo-observations): (numerator, denominator, target ratio, sigma in percent).
# A deviation of sigma percent costs as much as one run predicted 1% off, so the priors only
# decide what the runs leave open (e.g. a whole table held out).
PRIORS = (
    ("gemm_efficiency:blackwell:bf16", "gemm_efficiency:hopper:bf16", 1.0, 15.0,
     "assumption: Blackwell's large-GEMM BF16 efficiency is close to Hopper's (same tensor-core design lineage)"),
    (("gemm_efficiency:blackwell:fp8", "gemm_efficiency:blackwell:bf16"), ("gemm_efficiency:hopper:fp8", "gemm_efficiency:hopper:bf16"),
     1.0, 15.0, "assumption: the FP8/BF16 GEMM efficiency ratio is similar on Hopper and Blackwell"),
)

# Fixed assumptions with their range and source (not fitted).
FIXED = {
    "gemm_shape_kappa": (1.0, 0.0, 2.0, "assumption: GEMM operands and result cross HBM once (the memory term of a roofline sum); "
                         "not identifiable from the published runs (GEMM dimensions >= 2048), so fixed at the physical value"),
    "memory_bandwidth_efficiency": (0.85, 0.7, 1.0, "assumption: streaming element-wise kernels reach 70-100% of nominal HBM bandwidth"),
    "nvlink_efficiency": (0.75, 0.6, 0.9, "assumption: NCCL all-gather/reduce-scatter bus bandwidth ~75% of the unidirectional NVLink "
                          "bandwidth (half the listed bidirectional figure); cf. 479.7 GB/s all-reduce bus bandwidth on 8xH100 "
                          "(Voltage Park/Georgia Tech, shared/reference Sec. 4.5, secondary)"),
    "scale_out_efficiency": (0.8, 0.6, 0.95, "assumption: ring collectives reach ~80% of the per-GPU scale-out line rate; "
                             "330.9 GB/s of 400 GB/s per node across 4 nodes (69-83%, shared/reference Sec. 4.5, secondary)"),
    "collective_latency_s": (1e-5, 5e-6, 3e-5, "assumption: ~10 us fixed cost per NCCL call (launch + small-message latency)"),
    "cp_overlap": (0.0, 0.0, 0.5, "assumption: CP K/V exchange exposed (Llama 3 all-gather CP, Sec. 3.3.2)"),
    "ep_overlap": (0.0, 0.0, 0.5, "assumption: MoE all-to-all exposed unless the stack schedules it (stock Megatron-LM)"),
    "ep_overlap_scheduled": (0.9, 0.7, 1.0, "assumption: share of the all-to-all hidden when the stack overlaps it with computation "
                             "(DeepSeek-V3 Sec. 3.2.1: DualPipe hides 'near-zero all-to-all communication overhead')"),
    "host_overhead_s_per_layer": (3e-4, 1e-4, 6e-4, "assumption: ~30-40 kernel launches per transformer layer forward at ~8-10 us "
                                  "host time each in eager PyTorch (x3 with backward); exposed only where a layer's kernels are "
                                  "shorter; CUDA graphs remove it (Megatron-Core cuda-graph docs)"),
    "offload_overlap": (0.8, 0.5, 0.95, "assumption: Megatron-Core overlaps CPU-offload copies with the next layer's computation; "
                        "80% hidden (range 50-95%); no calibration run offloads"),
    "straggler_sigma": (0.0, 0.0, 0.01, "assumption: no explicit straggler term in the central case (per-GPU jitter sigma; the "
                        "step waits for the slowest of N: 1 + sigma sqrt(2 ln N))"),
    "hbm_usable_fraction": (1.0, 0.9, 1.05, "assumption: nominal '80 GB' is 80 GiB (85.9e9 B); allocator fragmentation and CUDA "
                            "context take 5-10%, so usable ~ nominal in 1e9-byte GB"),
}

REFERENCE_STACKS = {"megatron-lm": "reference software stack (Megatron-LM as in data/published_runs.csv; the step model "
                                   "itemises its mechanisms)"}


def default_calibration() -> Calibration:
    """The starting point of the fit (FITTED starts and FIXED assumptions); not calibrated."""
    values = {f.name: f.default for f in fields(Efficiency) if f.name in SHARED}
    status, ranges, sources = {}, {}, {}
    for key, (value, low, high, source) in FIXED.items():
        values[key], status[key], ranges[key], sources[key] = value, "assumption", (low, high), source
    gemm, stacks = {}, {}
    for name, source in REFERENCE_STACKS.items():
        stacks[name] = 1.0
        status[f"stack_efficiency:{name}"], sources[f"stack_efficiency:{name}"] = "assumption", source
    for key, (start, low, high, meaning) in FITTED.items():
        if key.startswith("gemm_efficiency:"):
            gemm[key.split(":", 1)[1]] = start
        elif key.startswith("stack_efficiency:"):
            stacks[key.split(":", 1)[1]] = start
        else:
            values[key] = start
        status[key], ranges[key], sources[key] = "start", (low, high), f"fit start: {meaning}"
    return Calibration(values, gemm, stacks, status, ranges, sources)


# --------------------------------------------------------------------------- vectorized prediction over runs
def _stack(configs) -> dict:
    arrays = [c.arrays() for c in configs]
    return {k: np.asarray([a[k] for a in arrays]) for k in arrays[0]}


class _Prepared:
    """Stacked step-model inputs of a run table (computed once; the fit calls it many times)."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.inputs = _stack(list(table["config"]))
        self.gpus = list(table["gpu"])
        self.stacks = list(table["stack"])
        self.archs = [eff_mod.architecture(g) for g in self.gpus]

    def predict(self, calibration: Calibration) -> dict:
        return step_model(**self.inputs, efficiency=calibration.for_runs(self.gpus, self.stacks, self.archs))


def predict(table: pd.DataFrame | None = None, calibration: Calibration | None = None) -> dict:
    """Step-model outputs (arrays, one element per run, in ``table`` order)."""
    table = calibration_runs() if table is None else table
    return _Prepared(table).predict(calibration or load_calibration())


def error_table(calibration: Calibration | None = None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Predicted vs published tokens/s per GPU (percent) and MFU (points) per run, both sets."""
    table = calibration_runs() if table is None else table
    calibration = calibration or load_calibration()
    out = predict(table, calibration)
    predicted = np.asarray(out["tokens_per_s_per_gpu"], dtype=float)
    published = table["published_tokens_per_s_per_gpu"].to_numpy(float)
    frame = pd.DataFrame({
        "set": table["set"], "source": table["source"], "gpu": table["gpu"], "precision": table["precision"],
        "stack": table["stack"], "gpus": table["gpus"], "in_fit": table["in_fit"],
        "published_tokens_per_s_per_gpu": published, "predicted_tokens_per_s_per_gpu": predicted,
        "error_pct": (predicted / published - 1) * 100,
        "published_mfu": table["published_mfu"].to_numpy(float), "predicted_mfu": np.asarray(out["mfu"], float),
        "predicted_mfu_causal": np.asarray(out["mfu_causal"], float),
        "fits_in_memory": np.asarray(out["fits_in_memory"], bool),
        "memory_gb_per_gpu": np.asarray(out["memory_gb_per_gpu"], float),
        "recompute": [c.parallelism["recompute_stated"] if str(c.parallelism.get("recompute_stated", "")).startswith("auto")
                      else c.parallelism["recompute"] for c in table["config"]],
    }, index=table.index)
    frame["error_points"] = (frame["predicted_mfu"] - frame["published_mfu"]) * 100
    return frame


# --------------------------------------------------------------------------- fit
def _residuals_factory(prepared: _Prepared, start: Calibration, names: tuple[str, ...], mask: np.ndarray):
    published = prepared.table["published_tokens_per_s_per_gpu"].to_numpy(float)[mask]

    def value(cal, key):
        if isinstance(key, tuple):
            return cal.get(key[0]) / cal.get(key[1])
        return cal.get(key)

    def residuals(x):
        cal = start.with_values(dict(zip(names, x)))
        predicted = np.asarray(prepared.predict(cal)["tokens_per_s_per_gpu"], float)[mask]
        r = 100 * np.log(predicted / published)
        priors = [100 * np.log(value(cal, num) / value(cal, den) / target) / sigma for num, den, target, sigma, _ in PRIORS]
        return np.concatenate([r, priors])

    return residuals


def _fit_params(prepared: _Prepared, mask: np.ndarray, start: Calibration | None = None) -> dict:
    from scipy.optimize import least_squares

    start = start or default_calibration()
    table = prepared.table[mask]
    names = []
    for key in FITTED:
        if key.startswith("stack_efficiency:") and key.split(":", 1)[1] not in set(table["stack"]):
            continue
        names.append(key)
    names = tuple(names)
    x0 = np.array([FITTED[n][0] for n in names])
    lower = np.array([FITTED[n][1] for n in names])
    upper = np.array([FITTED[n][2] for n in names])
    solution = least_squares(_residuals_factory(prepared, start, names, mask), x0, bounds=(lower, upper), x_scale="jac",
                             method="trf", xtol=1e-8, ftol=1e-8, diff_step=1e-4)
    return dict(zip(names, (float(v) for v in solution.x)))


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`fit`: the calibration, the per-run table and the held-out predictions."""

    calibration: Calibration
    table: pd.DataFrame
    loo: pd.DataFrame | None = None
    loso: pd.DataFrame | None = None

    @property
    def runs(self) -> int:
        return int(self.table["in_fit"].sum())

    def metrics(self) -> dict:
        """Error summary: tokens/s (percent) over the modern runs, MFU points over the v1 runs."""
        t = self.table[self.table["in_fit"]]
        modern, v1 = t[t["set"] == "modern"], t[t["set"] == "v1"]
        a100 = v1[v1["gpu"] == "A100"]
        out = {"runs": self.runs, "modern_runs": int(len(modern)), "v1_runs": int(len(v1)),
               "modern_mae_pct": float(modern["error_pct"].abs().mean()),
               "modern_max_abs_pct": float(modern["error_pct"].abs().max()),
               "v1_mae_points": float(v1["error_points"].abs().mean()),
               "v1_max_abs_points": float(v1["error_points"].abs().max()),
               "a100_mae_points": float(a100["error_points"].abs().mean())}
        for name, held in (("loo", self.loo), ("loso", self.loso)):
            if held is None:
                continue
            h = held.join(t[["set", "gpu"]], how="inner")
            hm, hv = h[h["set"] == "modern"], h[h["set"] == "v1"]
            out[f"{name}_modern_mae_pct"] = float(hm["error_pct"].abs().mean())
            out[f"{name}_modern_max_abs_pct"] = float(hm["error_pct"].abs().max())
            out[f"{name}_v1_mae_points"] = float(hv["error_points"].abs().mean())
            out[f"{name}_a100_mae_points"] = float(hv.loc[hv["gpu"] == "A100", "error_points"].abs().mean())
        return out

    def to_dict(self) -> dict:
        return {"fitted": {k: float(v) for k, v in self.calibration.fitted_values().items()}, **self.metrics()}

    def error_summary(self) -> pd.DataFrame:
        """The error table of the notebook: in-sample, leave-one-out and leave-one-source-out."""
        m = self.metrics()
        rows = []
        for label, key in (("in-sample", ""), ("leave-one-out", "loo_"), ("leave-one-source-out", "loso_")):
            if key and f"{key}modern_mae_pct" not in m:
                continue
            rows.append({"evaluation": label,
                         "modern runs: mean abs tokens/s error (%)": m[f"{key}modern_mae_pct"],
                         "v1 runs: mean abs MFU error (points)": m[f"{key}v1_mae_points"],
                         "v1 A100 runs: mean abs MFU error (points)": m[f"{key}a100_mae_points"]})
        return pd.DataFrame(rows).set_index("evaluation")

    def summary(self) -> str:
        m = self.metrics()
        lines = [f"Step-model calibration over {m['runs']} published runs ({m['modern_runs']} modern, {m['v1_runs']} v1): "
                 f"modern mean abs tokens/s error {m['modern_mae_pct']:.1f}% (worst {m['modern_max_abs_pct']:.1f}%), "
                 f"v1 mean abs MFU error {m['v1_mae_points']:.2f} points (A100 {m['a100_mae_points']:.2f})"]
        lines += [f"  {k:34s} {v:.4g}  (calibrated)" for k, v in self.calibration.fitted_values().items()]
        for name, label in (("loo", "leave-one-out"), ("loso", "leave-one-source-out")):
            if f"{name}_modern_mae_pct" in m:
                lines.append(f"  {label}: modern {m[f'{name}_modern_mae_pct']:.1f}% (worst {m[f'{name}_modern_max_abs_pct']:.1f}%), "
                             f"v1 {m[f'{name}_v1_mae_points']:.2f} points (A100 {m[f'{name}_a100_mae_points']:.2f})")
        return "\n".join(lines)


def _calibrated(start: Calibration, params: dict, n_runs: int, held: pd.DataFrame | None,
                fitted_on: str | None = None) -> Calibration:
    status, ranges, sources = dict(start.status), dict(start.ranges), dict(start.sources)
    for key, value in params.items():
        status[key] = "calibrated"
        column = f"fit:{key}"
        if held is not None and column in held:
            ranges[key] = (float(min(held[column].min(), value)), float(max(held[column].max(), value)))
        sources[key] = (f"calibrated: analysis.training.fit.fit() over {n_runs} runs of data/modern_runs.yaml and "
                        f"data/published_runs.csv (in fit), least squares on 100 ln(predicted/published tokens/s per GPU); "
                        f"range = min/max over leave-one-source-out refits. {FITTED[key][3]}")
    base = Calibration(start.values, start.gemm_by_class, start.stack_efficiency_by_stack, status, ranges, sources, {},
                       "scipy.optimize.least_squares (trf, bounds) on 100 ln(predicted/published tokens/s per GPU) over all "
                       "in-fit runs at once, fixed start values, weak priors of analysis.training.fit.PRIORS",
                       fitted_on or _dt.date.today().isoformat())
    return base.with_values(params)


def _held_out(prepared: _Prepared, groups: dict) -> pd.DataFrame:
    """Refit without each group of run ids and predict them: one row per held-out run."""
    table = prepared.table
    in_fit = table["in_fit"].to_numpy(bool)
    start = default_calibration()
    rows = []
    for name, ids in groups.items():
        mask = in_fit & ~table.index.isin(ids)
        params = _fit_params(prepared, mask, start)
        cal = start.with_values(params)
        out = prepared.predict(cal)
        for run_id in ids:
            i = table.index.get_loc(run_id)
            pred_tok = float(np.asarray(out["tokens_per_s_per_gpu"])[i])
            pred_mfu = float(np.asarray(out["mfu"])[i])
            rows.append({"run": run_id, "held_out": name, "predicted_tokens_per_s_per_gpu": pred_tok,
                         "error_pct": (pred_tok / table["published_tokens_per_s_per_gpu"].iloc[i] - 1) * 100,
                         "predicted_mfu": pred_mfu, "error_points": (pred_mfu - table["published_mfu"].iloc[i]) * 100,
                         **{f"fit:{k}": v for k, v in params.items()}})
    return pd.DataFrame(rows).set_index("run")


def leave_one_out(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Refit without each in-fit run and predict it."""
    table = calibration_runs() if table is None else table
    prepared = _Prepared(table)
    return _held_out(prepared, {run: [run] for run in table.index[table["in_fit"]]})


def leave_one_source_out(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Refit without each source (one published table) and predict all of its in-fit runs."""
    table = calibration_runs() if table is None else table
    prepared = _Prepared(table)
    fit_rows = table[table["in_fit"]]
    return _held_out(prepared, {src: list(fit_rows.index[fit_rows["source"] == src]) for src in fit_rows["source"].unique()})


def fit(table: pd.DataFrame | None = None, write: bool = False, with_loo: bool = True, with_loso: bool = True,
        path: Path | str | None = None) -> CalibrationResult:
    """Fit :data:`FITTED` once over every in-fit run of both sets (deterministic).

    ``write=True`` stores the result (error summary, leave-one-source-out ranges, provenance)
    in data/calibration.yaml through :func:`write_calibration`, and with both held-out
    evaluations also the validation table that :func:`stored_fit` reads back.
    """
    table = calibration_runs() if table is None else table
    prepared = _Prepared(table)
    start = default_calibration()
    params = _fit_params(prepared, table["in_fit"].to_numpy(bool), start)
    loo = leave_one_out(table) if with_loo else None
    loso = leave_one_source_out(table) if with_loso else None
    calibration = _calibrated(start, params, int(table["in_fit"].sum()), loso)
    result = CalibrationResult(calibration, error_table(calibration, table), loo, loso)
    if write:
        write_calibration(result, path)
    return result


# --------------------------------------------------------------------------- storage (the one writer)
def write_calibration(result: CalibrationResult, path: Path | str | None = None) -> Path:
    """Write data/calibration.yaml: every parameter with value, range, status and source, and the
    fit's provenance and errors. The only writer of that file."""
    cal = result.calibration
    path = Path(path or CALIBRATION_PATH)

    def entry(key):
        low, high = cal.ranges.get(key, (None, None))
        item = {"value": round(cal.get(key), 6), "status": cal.status.get(key, "assumption")}
        if low is not None:
            item.update(low=round(float(low), 6), high=round(float(high), 6))
        item["source"] = cal.sources.get(key, "")
        return item

    metrics = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.metrics().items()}
    doc = {
        "label": "calibrated",
        "description": "Efficiency parameters of the training step model (analysis.training). Parameters with status "
                       "'calibrated' were fitted once over all in-fit runs of data/modern_runs.yaml and "
                       "data/published_runs.csv by analysis.training.fit.fit(); the others are labelled assumptions with "
                       "a range. gemm_efficiency is per GPU architecture (data/gpus.csv) x precision.",
        "fitted_on": cal.fitted_on,
        "method": cal.method,
        "reproduce": "from analysis.training.fit import fit; fit(write=True)",
        "fitted_runs": {"modern": "data/modern_runs.yaml", "v1": "data/published_runs.csv (include = true)"},
        "priors": [{"ratio": f"{num}/{den}", "target": target, "sigma_pct": sigma, "source": source}
                   for num, den, target, sigma, source in PRIORS],
        "metrics": metrics,
        "parameters": {key: entry(key) for key in cal.values},
        "gemm_efficiency": {cls: entry(f"gemm_efficiency:{cls}") for cls in cal.gemm_by_class},
        "stack_efficiency_by_stack": {name: entry(f"stack_efficiency:{name}") for name in cal.stack_efficiency_by_stack},
    }
    if result.loo is not None and result.loso is not None:
        doc["validation"] = _write_validation(result, validation_path(path))
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True))
    eff_mod.clear_cache()
    _validation_doc.cache_clear()
    return path


# --------------------------------------------------------------------------- the stored validation
EVALUATIONS = {"in-sample": None, "leave-one-out": "loo", "leave-one-source-out": "loso"}
# pandas >= 3 parses floats with an exact round trip by default (and deprecates the option)
_EXACT_FLOATS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
IN_SAMPLE_COLUMNS = ("published_tokens_per_s_per_gpu", "predicted_tokens_per_s_per_gpu", "error_pct", "published_mfu",
                     "predicted_mfu", "error_points")


def validation_path(calibration_path: Path | str | None = None) -> Path:
    """The validation table beside a calibration file (data/calibration_validation.csv)."""
    path = Path(calibration_path or CALIBRATION_PATH)
    return path.with_name(f"{path.stem}_validation.csv")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fit_settings_hash() -> str:
    """Hash of what decides the fit besides the runs and the step model: :data:`FITTED`,
    :data:`PRIORS`, :data:`FIXED`, the reference stacks and the source of the fitting functions."""
    parts = [repr(FITTED), repr(PRIORS), repr(FIXED), repr(REFERENCE_STACKS)]
    parts += [_code_of(f) for f in (default_calibration, _residuals_factory, _fit_params, _calibrated, _held_out,
                                    leave_one_out, leave_one_source_out, fit)]
    return _sha256("\n".join(parts).encode())[:16]


def _code_of(function) -> str:
    """A function's syntax tree without docstrings, comments or layout (editing prose keeps the hash)."""
    import ast
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def _code_hash() -> str:
    """Hash of the step model's code (analysis/training/*.py), recorded as provenance."""
    digest = hashlib.sha256()
    for file in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _validation_frame(result: CalibrationResult) -> pd.DataFrame:
    """The in-sample, leave-one-out and leave-one-source-out rows of a fit, one table."""
    t = result.table
    frames = [t[list(IN_SAMPLE_COLUMNS)].assign(evaluation="in-sample", held_out="")]
    for label, attr in EVALUATIONS.items():
        if attr is not None:
            frames.append(getattr(result, attr).assign(evaluation=label))
    frame = pd.concat(frames, sort=False)
    frame.index.name = "run"
    frame["source"] = t["source"].reindex(frame.index).to_numpy()
    frame["in_fit"] = t["in_fit"].reindex(frame.index).to_numpy(bool)
    for column in ("published_tokens_per_s_per_gpu", "published_mfu"):
        frame[column] = t[column].reindex(frame.index).to_numpy(float)
    first = ["evaluation", "held_out", "source", "in_fit"] + list(IN_SAMPLE_COLUMNS)
    return frame[first + [c for c in frame.columns if c not in first]]


def _write_validation(result: CalibrationResult, path: Path) -> dict:
    """Write the validation table (exact float round trip) and return its provenance section."""
    frame = _validation_frame(result)
    frame.to_csv(path, float_format=None)
    return {
        "file": path.name,
        "description": "the fit's validation, one row per run and evaluation (in-sample, leave-one-out, "
                       "leave-one-source-out): predicted tokens/s per GPU and MFU, errors, refitted parameters. "
                       "analysis.training.fit.stored_fit() rebuilds the fit's result from it while it is fresh",
        "computed_on": result.calibration.fitted_on,
        "inputs_sha256": {Path(p).name: _sha256(Path(p).read_bytes())[:16] for p in (MODERN_PATH, RUNS_PATH)},
        "fit_settings_sha256": fit_settings_hash(),
        "code_sha256": _code_hash(),
        "file_sha256": _sha256(path.read_bytes())[:16],
        "fitted": {k: float(v) for k, v in result.calibration.fitted_values().items()},
        "columns": {label: ([] if attr is None else list(getattr(result, attr).columns)) for label, attr in EVALUATIONS.items()},
    }


@lru_cache(maxsize=8)
def _validation_doc(path: str) -> dict | None:
    file = Path(path)
    if not file.exists():
        return None
    doc = catalog.read_yaml(file)
    return doc.get("validation") if isinstance(doc, dict) else None


def stored_fit(table: pd.DataFrame | None = None, path: Path | str | None = None) -> CalibrationResult | None:
    """The :class:`CalibrationResult` of ``fit(table)`` (with leave-one-out and leave-one-source-out)
    rebuilt from the stored validation, or None when there is none or it is stale.

    Fresh means: the same fit settings (:func:`fit_settings_hash`), the same runs (ids, sources,
    in-fit flags and published figures) and the same in-sample predictions of the step model at
    the stored full-precision parameters (to 1e-12), so the stored held-out refits are those the
    fit would make. The parameters, per-run table and held-out frames are those of :func:`fit`
    (floats stored with an exact round trip); ``calibration.fitted_on`` is the stored date.
    """
    path = Path(path or CALIBRATION_PATH)
    meta = _validation_doc(str(path))
    file = validation_path(path)
    try:
        settings = fit_settings_hash()
    except (OSError, TypeError):                  # no source to hash (frozen install): cannot tell, refit
        return None
    if not meta or not file.exists() or meta.get("fit_settings_sha256") != settings:
        return None
    table = calibration_runs() if table is None else table
    stored = pd.read_csv(file, index_col="run", keep_default_na=False, na_values=[""],
                         dtype={"held_out": str, "source": str, "evaluation": str}, **_EXACT_FLOATS)
    stored["held_out"] = stored["held_out"].fillna("")
    inside = stored[stored["evaluation"] == "in-sample"]
    if list(inside.index) != list(table.index) or list(inside["source"]) != list(table["source"]) \
            or [bool(v) for v in inside["in_fit"]] != [bool(v) for v in table["in_fit"]]:
        return None
    for column in ("published_tokens_per_s_per_gpu", "published_mfu"):
        if not np.allclose(inside[column].to_numpy(float), table[column].to_numpy(float), rtol=1e-12, atol=0, equal_nan=True):
            return None
    params = {k: float(v) for k, v in (meta.get("fitted") or {}).items()}
    if set(params) != set(FITTED):
        return None
    held = {}
    for label, attr in EVALUATIONS.items():
        if attr is None:
            continue
        columns = list((meta.get("columns") or {}).get(label) or [])
        rows = stored[stored["evaluation"] == label]
        if not columns or rows.empty or any(c not in rows.columns for c in columns):
            return None
        frame = rows[columns].copy()
        frame.index.name = "run"
        held[attr] = frame
    start = default_calibration()
    calibration = _calibrated(start, params, int(table["in_fit"].sum()), held["loso"], str(meta.get("computed_on", "")))
    result = CalibrationResult(calibration, error_table(calibration, table), held["loo"], held["loso"])
    for column in ("predicted_tokens_per_s_per_gpu", "predicted_mfu"):
        if not np.allclose(result.table[column].to_numpy(float), inside[column].to_numpy(float), rtol=1e-12, atol=0):
            return None
    return result


def validated_fit(table: pd.DataFrame | None = None, with_loo: bool = True, path: Path | str | None = None) -> CalibrationResult:
    """:func:`stored_fit` when the stored validation is fresh (it always holds leave-one-out and
    leave-one-source-out), else :func:`fit` (``with_loo`` as there; writes nothing)."""
    table = calibration_runs() if table is None else table
    result = stored_fit(table, path)
    return result if result is not None else fit(table, with_loo=with_loo)


# --------------------------------------------------------------------------- uncertainty and scaling views
def prediction_interval(table: pd.DataFrame | None = None, calibration: Calibration | None = None, draws: int = 200,
                        seed: int = 0, quantiles=(0.05, 0.5, 0.95)) -> pd.DataFrame:
    """Predicted tokens/s per GPU and MFU per run when every ranged parameter varies together
    (triangular(low, value, high), seeded): one vectorized call over runs x draws."""
    table = calibration_runs() if table is None else table
    calibration = calibration or load_calibration()
    rng = np.random.default_rng(seed)

    def draw(key, value):
        low, high = calibration.ranges.get(key, (None, None))
        if low is None or not high > low:
            return value
        return rng.triangular(low, min(max(value, low), high), high, size=(1, draws))

    drawn = {key: draw(key, calibration.get(key)) for key in sorted(calibration.keys())}
    values = {k: v for k, v in drawn.items() if k in calibration.values}
    archs = [eff_mod.architecture(g) for g in table["gpu"]]

    bf16 = np.vstack([np.broadcast_to(drawn.get(f"gemm_efficiency:{a}:bf16", calibration.gemm_efficiency(a, "bf16")), (1, draws)) for a in archs])
    fp8 = np.vstack([np.broadcast_to(drawn.get(f"gemm_efficiency:{a}:fp8", calibration.gemm_efficiency(a, "fp8")), (1, draws)) for a in archs])
    stack = np.vstack([np.broadcast_to(drawn.get(f"stack_efficiency:{s}", calibration.stack_efficiency(s)), (1, draws)) for s in table["stack"]])
    inputs = {k: v[:, None] for k, v in _stack(list(table["config"])).items()}
    out = step_model(**inputs, efficiency=Efficiency(**values, gemm_efficiency_max=bf16, fp8_gemm_ratio=fp8 / bf16,
                                                     stack_efficiency=stack))
    q_tok = np.quantile(out["tokens_per_s_per_gpu"], quantiles, axis=1)
    q_mfu = np.quantile(out["mfu"], quantiles, axis=1)
    frame = pd.DataFrame({f"tokens_q{int(round(100 * p)):02d}": q_tok[i] for i, p in enumerate(quantiles)}, index=table.index)
    for i, p in enumerate(quantiles):
        frame[f"mfu_q{int(round(100 * p)):02d}"] = q_mfu[i]
    frame["published_tokens_per_s_per_gpu"] = table["published_tokens_per_s_per_gpu"]
    frame["published_mfu"] = table["published_mfu"]
    return frame


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


__all__ = ["FITTED", "FIXED", "PRIORS", "CalibrationResult", "default_calibration", "error_table", "fit", "fit_settings_hash",
           "leave_one_out", "leave_one_source_out", "predict", "prediction_interval", "run_config", "scaling_fit_curve",
           "scaling_regression", "stored_fit", "validated_fit", "validation_path", "write_calibration"]
