"""Calibration and validation on MLPerf Inference closed-division results, in the open.

Rows of ``data/mlperf_inference.csv`` (one per round, system, benchmark and scenario; NVIDIA
submissions, results tables of the MLCommons result repositories) are each described by a
serving file in ``data/serve/``. Prompt and output lengths are fixed in those files (output means
from the MLCommons reference implementations; prompt means are labelled assumptions), never fitted.
The scenario sets the latency targets (:data:`~analysis.inference.parameters.SLO_PRESETS`).

Three efficiency parameters are fitted **once over all rows** by a grid search minimising the sum of
squared log errors of tokens/s per GPU: ``compute_efficiency`` (fraction of the dense peak),
``bandwidth_efficiency`` (fraction of nominal HBM bandwidth) and ``latency_tail_factor`` (p99 over
mean latency; only the server and interactive rows depend on it). :func:`validation` reports the
error of each row in-sample, leave-one-out (refit without the row) and leave-one-GPU-type-out.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import Column, read_yaml
from analysis.inference.fleet import _read_table
from analysis.inference.parameters import default_values, slo_preset
from analysis.inference.serve import ServeSpec, evaluate_serve, parse_serve, replica_size
from analysis.params import Spec
from analysis.paths import DATA_DIR, PROJ_ROOT

FIT_PARAMETERS = ("compute_efficiency", "bandwidth_efficiency", "latency_tail_factor", "moe_efficiency", "fp4_efficiency")
# Grid bounds are physical: HBM bandwidth sustained by decode kernels is at most ~90% of nominal
# (memory-bound kernels on HBM3/HBM3e); the p99/mean TPOT factor is at least 1.
GRID = {"compute_efficiency": np.round(np.arange(0.40, 1.0001, 0.05), 4),
        "bandwidth_efficiency": np.round(np.arange(0.60, 0.9001, 0.05), 4),
        "latency_tail_factor": np.round(np.arange(1.0, 2.5001, 0.25), 4),
        "moe_efficiency": np.round(np.arange(0.05, 0.5001, 0.05), 4),
        "fp4_efficiency": np.round(np.arange(0.40, 1.0001, 0.05), 4)}
QUICK_GRID = {k: v[::2] for k, v in GRID.items()}
# Which fitted parameters a row depends on (the others are held at any value: broadcast axis of length 1).
def _relevant(row) -> set[str]:
    serve = _serve(row.serve_file)
    moe = serve.values["experts_per_token"] > 0 and serve.values["active_params_b"] < serve.values["total_params_b"]
    return ({"compute_efficiency", "bandwidth_efficiency"} | ({"latency_tail_factor"} if row.scenario != "offline" else set())
            | ({"moe_efficiency"} if moe else set()) | ({"fp4_efficiency"} if serve.precision == "fp4" else set()))


MLPERF_COLUMNS = (
    Column("id"), Column("round"), Column("date"), Column("system"), Column("gpu"),
    Column("gpus", Spec("GPUs", min=1, integer=True, max=100_000)), Column("precision"), Column("benchmark"), Column("scenario"),
    Column("tokens_s", Spec("tokens/s", min=0, min_inclusive=False, max=1e9)),
    Column("serve_file", required=False), Column("source"), Column("note", required=False),
)


def load_mlperf(path: Path | str | None = None) -> pd.DataFrame:
    """MLPerf Inference results (``data/mlperf_inference.csv``), one row per system, benchmark and
    scenario, with ``tokens_s_per_gpu`` (system tokens/s / GPUs). For the Llama 2 70B rows the v1
    wide columns ``offline_tokens_s_per_gpu`` / ``server_tokens_s_per_gpu`` are filled where the
    scenario matches (NaN elsewhere)."""
    df = _read_table(str(path or DATA_DIR / "mlperf_inference.csv"), MLPERF_COLUMNS, "id").copy()
    df["tokens_s_per_gpu"] = df["tokens_s"] / df["gpus"]
    for scenario in ("offline", "server", "interactive"):
        df[f"{scenario}_tokens_s_per_gpu"] = df["tokens_s_per_gpu"].where(df["scenario"] == scenario)
    df["serve_file"] = df["serve_file"].fillna("")
    return df.set_index("id", drop=False)


@lru_cache(maxsize=8)
def _serve(serve_file: str) -> ServeSpec:
    return parse_serve(read_yaml(PROJ_ROOT / serve_file), default_values())


def _rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["serve_file"].astype(str).str.len() > 0]


def predict_row(row, **overrides) -> np.ndarray:
    """Model tokens/s per GPU of one MLPerf row (its serving file at its scenario's latency targets).
    ``overrides`` (arrays broadcast) replace efficiencies or the workload."""
    serve = _serve(row.serve_file)
    slo = slo_preset(row.scenario, row.benchmark)
    return np.asarray(evaluate_serve(serve, **{**slo, **overrides}).tokens_per_s_per_gpu, float)


def _fitted() -> dict:
    base = default_values()
    return {k: base[k] for k in FIT_PARAMETERS}


def mlperf_predictions(compute_efficiency=None, bandwidth_efficiency=None, table: pd.DataFrame | None = None,
                       latency_tail_factor=None, **overrides) -> pd.DataFrame:
    """Model vs MLPerf tokens/s per GPU for every row with a serving file (efficiencies default to the
    calibrated values in data/parameters/inference.yaml; ``overrides`` replace workload figures)."""
    table = load_mlperf() if table is None else table
    fit = _fitted()
    given = {"compute_efficiency": compute_efficiency, "bandwidth_efficiency": bandwidth_efficiency,
             "latency_tail_factor": latency_tail_factor, "moe_efficiency": overrides.pop("moe_efficiency", None),
             "fp4_efficiency": overrides.pop("fp4_efficiency", None)}
    params = {k: fit[k] if v is None else v for k, v in given.items()}
    rows = []
    for r in _rows(table).itertuples():
        serve = _serve(r.serve_file)
        slo = slo_preset(r.scenario, r.benchmark)
        t = evaluate_serve(serve, **{**slo, **params, **overrides})
        model = float(t.tokens_per_s_per_gpu)
        rows.append({"id": r.id, "round": r.round, "system": r.system, "gpu": r.gpu, "benchmark": r.benchmark,
                     "scenario": r.scenario, "precision": serve.precision, "gpus_per_replica": replica_size(serve),
                     "mlperf_tokens_s_per_gpu": float(r.tokens_s_per_gpu), "model_tokens_s_per_gpu": model,
                     "error_pct": (model / float(r.tokens_s_per_gpu) - 1) * 100, "batch": float(t.batch),
                     "bound": str(t.bound), "limit": str(t.limit), "decode_bound": str(t.decode_bound),
                     "tpot_p99_ms": float(t.tpot_p99_ms), "ttft_p99_ms": float(t.ttft_p99_ms),
                     "prefill_time_fraction": float(t.prefill_time_fraction)})
    out = pd.DataFrame(rows)
    # v1 column name (offline rows): kept for callers of the Llama 2 70B offline comparison.
    out["mlperf_offline_tokens_s_per_gpu"] = out["mlperf_tokens_s_per_gpu"].where(out["scenario"] == "offline")
    return out


def _axes(grid: dict, keep: set[str]) -> dict:
    """Grid values as broadcastable arrays, one axis per fitted parameter (length 1 unless in ``keep``)."""
    n = len(FIT_PARAMETERS)
    out = {}
    for axis, key in enumerate(FIT_PARAMETERS):
        values = np.asarray(grid[key], float) if key in keep else np.asarray([grid[key][0]], float)
        shape = [1] * n
        shape[axis] = values.size
        out[key] = values.reshape(shape)
    return out


def _log_errors(table: pd.DataFrame, grid: dict, per_benchmark: dict | None = None) -> tuple[list[str], np.ndarray]:
    """Per row, log(model / MLPerf) over the parameter grid: array (rows, *grid axes).
    ``per_benchmark`` maps a benchmark to workload overrides (sensitivity of the fit)."""
    shape = tuple(len(grid[k]) for k in FIT_PARAMETERS)
    ids, errors = [], []
    for r in _rows(table).itertuples():
        over = (per_benchmark or {}).get(r.benchmark, {})
        model = predict_row(r, **_axes(grid, _relevant(r)), **over)
        with np.errstate(divide="ignore"):
            err = np.log(np.maximum(np.broadcast_to(model, shape), 1e-9) / r.tokens_s_per_gpu)
        ids.append(r.id)
        errors.append(err)
    return ids, np.stack(errors)


def _best(loss: np.ndarray, grid: dict) -> dict:
    index = np.unravel_index(np.argmin(loss), loss.shape)
    return {k: float(grid[k][i]) for k, i in zip(FIT_PARAMETERS, index)}


@lru_cache(maxsize=4)
def _calibration(quick: bool) -> tuple[tuple[str, ...], np.ndarray, dict]:
    grid = QUICK_GRID if quick else GRID
    ids, err = _log_errors(load_mlperf(), grid)
    return tuple(ids), err, grid


def _summary(ids, err, grid) -> dict:
    loss = np.sum(err ** 2, axis=0)
    index = np.unravel_index(np.argmin(loss), loss.shape)
    row_err = (np.exp(err[(slice(None),) + index]) - 1) * 100
    return {**_best(loss, grid), "max_abs_error_pct": float(np.max(np.abs(row_err))),
            "median_abs_error_pct": float(np.median(np.abs(row_err))),
            "rms_log_error": float(np.sqrt(loss[index] / len(ids))), "systems": len(ids), "rows": len(ids)}


def calibrate(quick: bool = False, grid=None, per_benchmark: dict | None = None, **_ignored) -> dict:
    """Fit :data:`FIT_PARAMETERS` once over all MLPerf rows (grid search of the summed squared log
    error of tokens/s per GPU). Returns the fitted values with the largest, median and RMS error.
    ``per_benchmark`` (``{benchmark: {"input_tokens": ...}}``) refits under another workload assumption."""
    if per_benchmark or isinstance(grid, dict):
        g = grid if isinstance(grid, dict) else (QUICK_GRID if quick else GRID)
        ids, err = _log_errors(load_mlperf(), g, per_benchmark)
        return _summary(ids, err, g)
    return _summary(*_calibration(quick))


def validation(quick: bool = False) -> pd.DataFrame:
    """Error per row: in-sample (one fit over all rows), leave-one-out (refit without the row) and
    leave-one-GPU-type-out (refit without every row of that GPU type), in percent of MLPerf."""
    ids, err, g = _calibration(quick)
    table = load_mlperf().loc[list(ids)]
    loss_all = np.sum(err ** 2, axis=0)
    pick = lambda loss: np.unravel_index(np.argmin(loss), loss.shape)
    pct = lambda e: float((np.exp(e) - 1) * 100)
    full = pick(loss_all)
    rows = []
    gpus = table["gpu"].to_numpy()
    for n, rid in enumerate(ids):
        loo = pick(loss_all - err[n] ** 2)
        out_gpu = pick(np.sum(err[gpus != gpus[n]] ** 2, axis=0))
        r = table.loc[rid]
        rows.append({"id": rid, "round": r["round"], "system": r["system"], "gpu": r["gpu"], "benchmark": r["benchmark"],
                     "scenario": r["scenario"], "mlperf_tokens_s_per_gpu": float(r["tokens_s_per_gpu"]),
                     "model_tokens_s_per_gpu": float(r["tokens_s_per_gpu"] * np.exp(err[n][full])),
                     "error_pct": pct(err[n][full]), "loo_error_pct": pct(err[n][loo]), "logo_error_pct": pct(err[n][out_gpu]),
                     **{f"loo_{k}": float(g[k][i]) for k, i in zip(FIT_PARAMETERS, loo)}})
    return pd.DataFrame(rows)


def calibration_sweep(input_tokens, benchmark: str = "llama2-70b", quick: bool = True, grid=None) -> pd.DataFrame:
    """:func:`calibrate` refitted at several assumed mean prompt lengths of ``benchmark`` (the other
    benchmarks keep theirs): how much the fitted efficiencies depend on that assumption."""
    g = grid if isinstance(grid, dict) else (QUICK_GRID if quick else GRID)
    rows = [{"assumed_mean_prompt_tokens": float(v), **calibrate(grid=g, per_benchmark={benchmark: {"input_tokens": float(v)}})}
            for v in input_tokens]
    return pd.DataFrame(rows).set_index("assumed_mean_prompt_tokens")


def h200_over_h100(input_tokens: float = 1024, output_tokens: float = 512, scenario: str = "offline") -> dict:
    """The issue's check: a 70B FP8 model on 8 GPUs, ``input_tokens`` in / ``output_tokens`` out, H200
    over H100 tokens/s (each at its best replica size dividing 8) under an MLPerf scenario's targets;
    with the MLPerf range of the same ratio (Llama 2 70B, v4.1 and v5.0 rounds, same scenario)."""
    from analysis.catalog import gpu
    from analysis.inference.fleet import best_replica

    values = {**default_values(), "total_params_b": 70.0, "active_params_b": 70.0, "layers": 80, "hidden": 8192, "heads": 64,
              "kv_heads": 8, "attention": "gqa", "experts_per_token": 0.0, "weight_precision": "fp8", "kv_precision": "fp8",
              "input_tokens": float(input_tokens), "output_tokens": float(output_tokens), "cache_hit_rate": 0.0,
              "serving_mode": "aggregated", "spec_tokens": 0.0, "max_batch": np.inf, "max_gpus_per_replica": 8.0,
              **slo_preset(scenario, "llama2-70b")}
    tps = {g: float(best_replica(gpu(g), values, sizes=[1, 2, 4, 8])[0].tokens_per_s_per_gpu) for g in ("H100", "H200")}
    table = load_mlperf()
    table = table[(table["benchmark"] == "llama2-70b") & (table["scenario"] == scenario)]
    ratios = []
    for rnd, group in table.groupby("round"):
        by_gpu = group.groupby("gpu")["tokens_s_per_gpu"].max()
        if {"H100", "H200"} <= set(by_gpu.index):
            ratios.append((rnd, float(by_gpu["H200"] / by_gpu["H100"])))
    return {"model_ratio": tps["H200"] / tps["H100"], "h100_tokens_s_per_gpu": tps["H100"], "h200_tokens_s_per_gpu": tps["H200"],
            "mlperf_ratios": dict(ratios), "mlperf_low": min((r for _, r in ratios), default=float("nan")),
            "mlperf_high": max((r for _, r in ratios), default=float("nan"))}
