"""Calibration and validation on MLPerf Inference closed-division results, in the open.

Rows of ``data/mlperf_inference.csv`` (one per round, system, benchmark and scenario; NVIDIA
submissions, results tables of the MLCommons result repositories) are each described by a
serving file in ``data/serve/``. Prompt and output lengths are fixed in those files (output means
from the MLCommons reference implementations; prompt means are labelled assumptions), never fitted.
The scenario sets the latency targets (:data:`~analysis.inference.parameters.SLO_PRESETS`).

Six efficiency parameters are fitted **once over all rows** by a grid search minimising the sum of
squared log errors of tokens/s per GPU and, for the latency-bound runs whose loadgen summary MLPerf published,
of their **step time**: the mean TPOT at the requests in flight the run held (Little's law,
:mod:`analysis.inference.loadgen`), weighted by the inverse ratio of the two residuals' spreads
(:func:`step_weight`). The step time observes the decode step where throughput alone cannot separate it from the
batch (a bandwidth-bound row's speed is bandwidth times batch): it is what pins the HBM bandwidth share when the one
Hopper row bound by it is left out. The parameters: ``compute_efficiency`` (fraction of the dense peak, with
MLPerf v4.1's serving stack), ``bandwidth_efficiency`` (fraction of nominal HBM bandwidth),
``fp4_weight_read_efficiency`` (share of that bandwidth NVFP4 GEMMs reach while memory-bound; the Blackwell rows),
``moe_efficiency`` (expert layers; the DeepSeek-R1 rows), ``fp4_efficiency`` (NVFP4 GEMMs; the
Blackwell rows) and ``attention_efficiency`` (share of the attention roofline of tensor cores and softmax
exponentials; the long prompts of the Llama 3.1 405B rows carry it). With them, one **software factor per MLPerf round** (v4.1 is the reference, 1): the
round's TensorRT-LLM speed on the same kernels, shared by every row of the round, multiplying the
compute efficiency (see :data:`GRID` for how it costs no extra model evaluation). v5.1 shares v5.0's
factor (:data:`TIED_ROUNDS`: its rows are all NVFP4 Blackwell, so its own factor is not identifiable
beside ``fp4_efficiency``). The p99/mean TPOT a latency target allows is not fitted: each row is evaluated with its
benchmark's median measured by MLPerf's loadgen (:func:`analysis.inference.loadgen.benchmark_tails`), and
:func:`operating_points` checks the model's batch and TPOT against the loadgen logs of every latency-bound run.
Each row's serving file is evaluated under the submitted config of its
scenario (the file's ``scenarios`` entry: NVIDIA's replica size, tensor and pipeline parallelism, batch limit,
token budget per iteration and GEMM + all-reduce fusion differ by scenario; a disaggregated run keeps its pools as
deployed). :func:`validation` reports the error of each row in-sample, leave-one-out (refit without the
row) and leave-one-GPU-type-out, every refit reusing the one evaluated grid. :func:`write_calibration`
is the one writer of the fitted values (data/parameters/inference.yaml) and of the fit's provenance
(data/inference_calibration.yaml); ``python -m analysis inference --calibrate --write`` runs it.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.catalog import Column, read_yaml
from analysis.errors import InputError, shown
from analysis.inference.fleet import _read_table
from analysis.inference.loadgen import benchmark_tails, load_loadgen, overall_tail, requests_in_flight
from analysis.inference.parameters import PRECISION_BYTES, default_values, slo_preset
from analysis.inference.roofline import kv_bytes_per_token, pipeline_stages
from analysis.inference.serve import ServeSpec, evaluate_serve, is_mixture_of_experts, parse_serve, replica_size
from analysis.params import Spec
from analysis.paths import DATA_DIR, PARAMETER_DIR, PROJ_ROOT

FIT_PARAMETERS = ("compute_efficiency", "bandwidth_efficiency", "fp4_weight_read_efficiency", "moe_efficiency", "fp4_efficiency",
                  "attention_efficiency")
#: MLPerf rounds whose serving stack (TensorRT-LLM version) gets its own fitted ``software_factor``,
#: relative to the reference round's stack (factor 1). Every row of a round shares its factor.
REFERENCE_ROUND = "v4.1"
SOFTWARE_ROUNDS = ("v5.0", "v5.1")
#: Rounds that share another round's stack factor instead of their own (``{round: round it shares}``). Every v5.1 row
#: is an NVFP4 Blackwell row, so a v5.1 factor of its own cannot be told apart from ``fp4_efficiency`` (a fit with both
#: free put fp4_efficiency on its floor and v5.1 at 1.26); v5.0 has FP8 Hopper and NVFP4 Blackwell rows, so sharing
#: v5.0's factor identifies both (fp4_efficiency is then an interior optimum: a grid extended down to 0.3 returns the
#: same value). Untied, median |LOO| was 13.5% (17 of 29 rows within 15%); tied, see data/inference_calibration.yaml.
TIED_ROUNDS: dict[str, str] = {"v5.1": "v5.0"}
#: The round whose serving stack the fleet runs: the latest with FP8 rows (the lessee's Hopper fleet
#: serves FP8). v5.1 has only NVFP4 Blackwell rows and shares v5.0's factor (:data:`TIED_ROUNDS`).
FLEET_ROUND = "v5.0"
SOFTWARE_MAX = 1.34          # physical bound of the grid: a later stack at most ~1/3 faster on the same kernels
# Grid bounds are physical: HBM bandwidth sustained by decode kernels is at most ~90% of nominal
# (memory-bound kernels on HBM3/HBM3e); NVFP4 GEMMs read their weights at most at that bandwidth (share 1), and the
# grid reaches down to 0.1, well below the fit (an interior optimum: a floor at the fitted value held it there); NVFP4 GEMMs are at
# least as fast as FP8 ones on the same GPU (fp4_efficiency >= FP8 / FP4 dense peak = 0.5), else a
# submitter would serve FP8; attention kernels reach at most FlashAttention-3's best share of their roofline (~0.7-0.77,
# analysis.inference.roofline; the grid's top is 0.7), in steps of 0.1 (every MLPerf row depends on it, and the DeepSeek-R1
# server rows on all six parameters: a finer step multiplies the grid's cost). The compute
# efficiency grid is geometric (ratio 1.06) so that a software factor 1.06^k is a shift by k steps
# of it: every row is evaluated once on the extended compute axis and each round's factor is a
# profile over shifts (no extra model evaluations).
GRID = {"compute_efficiency": np.round(0.40 * 1.06 ** np.arange(16), 4),
        "bandwidth_efficiency": np.round(np.arange(0.60, 0.9001, 0.05), 4),
        "fp4_weight_read_efficiency": np.round(np.arange(0.10, 1.0001, 0.075), 4),
        "moe_efficiency": np.round(np.arange(0.05, 0.5001, 0.05), 4),
        "fp4_efficiency": np.round(np.arange(0.50, 1.0001, 0.05), 4),
        "attention_efficiency": np.round(np.arange(0.1, 0.7001, 0.1), 4)}
# Every other point, from the second where the full-grid fit lies on the odd points (the HBM and NVFP4 weight-read
# shares and the FP4 efficiency), so the notebooks' smoke runs, which use this grid, sit near the stored fit.
QUICK_FROM_SECOND = ("bandwidth_efficiency", "fp4_weight_read_efficiency", "fp4_efficiency")
QUICK_GRID = {k: (v[1::2] if k in QUICK_FROM_SECOND else v[::2]) for k, v in GRID.items()}
#: Where :func:`write_calibration` stores the fit: the calibrated entries of the ``inference`` defaults, and the
#: fit's provenance with the per-round software factors (the one stored copy of them).
PARAMETERS_PATH = PARAMETER_DIR / "inference.yaml"
PROVENANCE_PATH = DATA_DIR / "inference_calibration.yaml"
#: The per-row validation of the stored fit (:func:`validation` of the full grid), written beside the provenance so that a
#: report shows the stored fit's errors without refitting the full grid (:func:`stored_validation`).
VALIDATION_PATH = DATA_DIR / "inference_validation.csv"
#: The entries of data/parameters/inference.yaml that :func:`write_calibration` owns (the others are never touched).
CALIBRATED = (*FIT_PARAMETERS, "software_factor")


def stored_software_factors(path: Path | str | None = None) -> dict:
    """Per-round software factors of the stored full-grid fit (``software_factors`` of
    data/inference_calibration.yaml, written by :func:`write_calibration`)."""
    doc = read_yaml(Path(path or PROVENANCE_PATH))
    factors = doc.get("software_factors") if isinstance(doc, dict) else None
    if not isinstance(factors, dict) or REFERENCE_ROUND not in factors:
        raise InputError(f"{Path(path or PROVENANCE_PATH).name} software_factors: missing; rerun "
                         "python -m analysis inference --calibrate --write")
    return {str(k): float(v) for k, v in factors.items()}


#: The stored per-round software factors (``calibrate()["software_factors"]`` of the full grid; a test checks
#: it); ``mlperf_predictions`` uses them, the fleet uses :data:`FLEET_ROUND`'s (``software_factor``).
#: Read from data/inference_calibration.yaml; :func:`write_calibration` refreshes this dict in place.
SOFTWARE_FACTORS = stored_software_factors()


# Which fitted parameters a row depends on (the others are held at any value: broadcast axis of length 1).
def _relevant(row) -> set[str]:
    serve = _serve(row.serve_file, row.scenario)
    moe = is_mixture_of_experts(serve.values)
    fp4 = {"fp4_efficiency", "fp4_weight_read_efficiency"} if serve.precision == "fp4" else set()
    return {"compute_efficiency", "bandwidth_efficiency", "attention_efficiency"} | ({"moe_efficiency"} if moe else set()) | fp4


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


@lru_cache(maxsize=64)
def _serve(serve_file: str, scenario: str | None = None) -> ServeSpec:
    """The row's serving file under its scenario's submitted config (``scenarios`` entry of the file)."""
    return parse_serve(read_yaml(PROJ_ROOT / serve_file), default_values(), scenario)


def _rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["serve_file"].astype(str).str.len() > 0]


def router_replicas(serve: ServeSpec) -> dict:
    """The TTFT queue of an MLPerf row: its prefill servers (``prefill_queue_servers``) and how prompts reach them
    (``prefill_router``), read as **round robin**: each server receives every c-th prompt and queues its own
    (E_c/M/1, :func:`analysis.inference.roofline.round_robin_wait_share`).

    * Aggregated rows: one harness takes every query LoadGen issues to the system and hands it to one of the
      system's ``system_gpus / gpus_per_replica`` replicas (NVIDIA's LLM harness serves each data-parallel rank from
      its own server process and feeds all of them from one LoadGen: ykamiset/inference_results_v5.1, mirror of
      mlcommons/inference_results_v5.1, closed/NVIDIA/code/harness/harness_triton_llm/README.md). The v5.1 harness
      hands each query on arrival to the core with the fewest pending samples (``code/llmlib/server.py``
      ``issue_queries``, ``factory.py`` ``_create_scheduler``, ``config.py`` ``traffic_distribution_policy``), and that
      count includes the requests decoding: tens per replica in the 405B runs against a prefill queue of one or two,
      so the choice follows the decode counts, not the prefill queues, and spreads the queries evenly, as turns do.
      One queue over all replicas (M/M/c, ``pooled``) is the optimistic bound. The earlier rounds' harnesses are read
      the same way (their Llama 2 prompts are short and their TTFT queues barely bind).
    * Disaggregated rows: the prefill replicas (``prefill.replicas``) behind the file's router (``prefill.router``):
      TensorRT-LLM's disaggregated server routes context requests round robin unless its config names a router
      (NVIDIA/TensorRT-LLM ``tensorrt_llm/serve/router.py`` ``create_router``; the slurm example
      ``examples/disaggregated/slurm/gen_yaml.py`` names none).

    The time to first token each run logged, read at the run's own load (:func:`router_readings`), brackets the
    readings rather than singling one out: over the four multi-replica Llama 3.1 405B runs the p99 misses by a median
    32% fed in turn, 28% pooled and 61% with a Poisson share per replica (one M/M/1 queue each, dispatch blind to the
    prefill queues), which would put the v5.1 GB200 NVL72 server run, logged at 4.36 s, above its 6 s limit at the load
    it met it. A refit with the aggregated rows' replicas pooled instead (one queue each system) keeps one row fewer within 15%
    leave-one-out (the DGX B200 405B Server row reads +15.8%) at the same median errors; with the disaggregated run's
    context servers pooled too, that row reads +37% as run. An ``auto`` replica keeps the file's value."""
    if serve.gpus_per_replica is None:
        return {}
    if serve.values["serving_mode"] == "disaggregated":   # the prefill replicas are the TTFT queue's servers
        return {"prefill_queue_servers": float(serve.values["prefill_router_replicas"]),
                "prefill_router": serve.values["prefill_router"]}
    return {"prefill_queue_servers": max(float(serve.system_gpus) / float(serve.gpus_per_replica), 1.0),
            "prefill_router": "round_robin"}


@lru_cache(maxsize=1)
def measured_tails() -> dict[str, float]:
    """p99/mean TPOT per benchmark, the median of its latency-bound MLPerf runs (:func:`loadgen.benchmark_tails`)."""
    return benchmark_tails(load_loadgen(), load_mlperf()["benchmark"])


def _row_kwargs(row, serve: ServeSpec) -> dict:
    """Latency targets of the row's scenario, its router (:func:`router_replicas`) and its benchmark's measured
    p99/mean TPOT (:func:`measured_tails`; the offline rows have no target it could act on)."""
    tail = measured_tails().get(row.benchmark, float(default_values()["latency_tail_factor"]))
    return {**slo_preset(row.scenario, row.benchmark), **router_replicas(serve), "latency_tail_factor": tail}


def predict_row(row, **overrides) -> np.ndarray:
    """Model tokens/s per GPU of one MLPerf row (its serving file at its scenario's latency targets, its queries
    dispatched over the system's replicas). ``overrides`` (arrays broadcast) replace efficiencies or the workload."""
    serve = _serve(row.serve_file, row.scenario)
    return np.asarray(evaluate_serve(serve, **{**_row_kwargs(row, serve), **overrides}).tokens_per_s_per_gpu, float)


def _fitted() -> dict:
    base = default_values()
    return {k: base[k] for k in FIT_PARAMETERS}


def _at_stored_fit(row, serve: ServeSpec) -> dict:
    """Keyword arguments evaluating one MLPerf row at the stored fit: :func:`_row_kwargs`, the fitted efficiencies and
    the row's round's software factor."""
    return {**_row_kwargs(row, serve), **_fitted(), "software_factor": SOFTWARE_FACTORS.get(row.round, 1.0)}


def mlperf_predictions(compute_efficiency=None, bandwidth_efficiency=None, table: pd.DataFrame | None = None,
                       latency_tail_factor=None, software_factors: dict | None = None, **overrides) -> pd.DataFrame:
    """Model vs MLPerf tokens/s per GPU for every row with a serving file (efficiencies default to the
    calibrated values in data/parameters/inference.yaml, each row's serving stack to its round's
    :data:`SOFTWARE_FACTORS`; ``overrides`` replace workload figures)."""
    table = load_mlperf() if table is None else table
    fit = _fitted()
    stacks = {**SOFTWARE_FACTORS, **(software_factors or {})}
    given = {"compute_efficiency": compute_efficiency, "bandwidth_efficiency": bandwidth_efficiency,
             **{k: overrides.pop(k, None) for k in FIT_PARAMETERS if k not in ("compute_efficiency", "bandwidth_efficiency")}}
    params = {k: fit[k] if v is None else v for k, v in given.items()}
    if latency_tail_factor is not None:                   # else each row's benchmark's measured tail (_row_kwargs)
        params["latency_tail_factor"] = latency_tail_factor
    rows = []
    for r in _rows(table).itertuples():
        serve = _serve(r.serve_file, r.scenario)
        kwargs = {**_row_kwargs(r, serve), **params, "software_factor": stacks.get(r.round, 1.0), **overrides}
        t = evaluate_serve(serve, **kwargs)
        model = float(t.tokens_per_s_per_gpu)
        rows.append({"id": r.id, "round": r.round, "system": r.system, "gpu": r.gpu, "benchmark": r.benchmark,
                     "scenario": r.scenario, "precision": serve.precision, "gpus_per_replica": replica_size(serve, **kwargs),
                     "software_factor": float(stacks.get(r.round, 1.0)),
                     "mlperf_tokens_s_per_gpu": float(r.tokens_s_per_gpu), "model_tokens_s_per_gpu": model,
                     "error_pct": (model / float(r.tokens_s_per_gpu) - 1) * 100, "batch": float(t.batch),
                     "bound": str(t.bound), "limit": str(t.limit), "decode_bound": str(t.decode_bound),
                     "tpot_p99_ms": float(t.tpot_p99_ms), "ttft_p99_ms": float(t.ttft_p99_ms),
                     "prefill_time_fraction": float(t.prefill_time_fraction)})
    out = pd.DataFrame(rows)
    # v1 column name (offline rows): kept for callers of the Llama 2 70B offline comparison.
    out["mlperf_offline_tokens_s_per_gpu"] = out["mlperf_tokens_s_per_gpu"].where(out["scenario"] == "offline")
    return out


# --------------------------------------------------------------------------- the fit
def _shifts(grid: dict) -> tuple[float, int]:
    """Ratio of the geometric compute-efficiency grid and the number of software-factor steps it allows."""
    c = np.asarray(grid["compute_efficiency"], float)
    ratio = float(c[1] / c[0]) if c.size > 1 else 1.0
    steps = 1 + int(np.floor(np.log(SOFTWARE_MAX) / np.log(ratio) + 1e-9)) if ratio > 1 else 1
    return ratio, steps


def _axes(grid: dict, keep: set[str], steps: int = 1) -> dict:
    """Grid values as broadcastable arrays, one axis per fitted parameter (length 1 unless in ``keep``);
    the compute axis extended by ``steps - 1`` geometric steps (the software-factor shifts)."""
    n = len(FIT_PARAMETERS)
    out = {}
    ratio, _ = _shifts(grid)
    for axis, key in enumerate(FIT_PARAMETERS):
        values = np.asarray(grid[key], float)
        if key == "compute_efficiency":
            values = values[0] * ratio ** np.arange(values.size + steps - 1)
        values = values if key in keep else values[:1]
        shape = [1] * n
        shape[axis] = values.size
        out[key] = values.reshape(shape)
    return out


def _grid_key(grid: dict) -> tuple:
    return tuple((k, tuple(np.asarray(grid[k], float).round(6))) for k in FIT_PARAMETERS)


_MODEL_LOGS: dict = {}


def _model_log(row, grid: dict, over: dict) -> np.ndarray:
    """log(model tokens/s per GPU) of one row over the extended grid, the software factor at 1
    (the compute axis carries it). Rows with the same serving file, scenario and overrides share one
    evaluation (the v5.0 and v5.1 GB200 NVL72 rows), kept for the process."""
    key = (row.serve_file, row.scenario, row.benchmark, _grid_key(grid), tuple(sorted(over.items())))
    if key not in _MODEL_LOGS:
        _, steps = _shifts(grid)
        shape = tuple(len(grid[k]) + (steps - 1 if k == "compute_efficiency" else 0) for k in FIT_PARAMETERS)
        model = predict_row(row, **_axes(grid, _relevant(row), steps), software_factor=1.0, **over)
        with np.errstate(divide="ignore"):
            _MODEL_LOGS[key] = np.log(np.maximum(np.broadcast_to(model, shape), 1e-9))
    return _MODEL_LOGS[key]


def _log_errors(table: pd.DataFrame, grid: dict, per_benchmark: dict | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per row, log(model / MLPerf) over the extended grid: array (rows, compute + shifts, *other axes),
    with the row's round. ``per_benchmark`` maps a benchmark to workload overrides (sensitivity of the fit):
    only that benchmark's rows are re-evaluated."""
    ids, rounds, errors = [], [], []
    for r in _rows(table).itertuples():
        if r.round != REFERENCE_ROUND and r.round not in SOFTWARE_ROUNDS:
            raise InputError(f"data/mlperf_inference.csv round: {shown(r.round)} of {r.id} has no software factor; "
                             f"use {REFERENCE_ROUND} or one of {', '.join(SOFTWARE_ROUNDS)}")
        over = (per_benchmark or {}).get(r.benchmark, {})
        ids.append(r.id)
        rounds.append(TIED_ROUNDS.get(r.round, r.round))
        errors.append(_model_log(r, grid, over) - np.log(r.tokens_s_per_gpu))
    return ids, np.asarray(rounds), np.stack(errors)


# --------------------------------------------------------------------------- loadgen's step time, a second observable
def _timed_log(row, logs: pd.DataFrame):
    """The loadgen summary of a latency-bound row (its TPOT at the requests in flight it ran), else None: offline runs
    issue every query at once. A disaggregated run's requests sit in its decode replicas from their first token to
    their last, so Little's law over that span counts the decode batch there too."""
    if row.scenario == "offline" or row.id not in logs.index:
        return None
    return logs.loc[row.id]


def _decode_replicas(serve: ServeSpec, gpus: float) -> float:
    """Decode replicas a system's requests in flight spread over: its fixed decode pool when disaggregated, else all
    its replicas of ``gpus`` GPUs."""
    fixed = serve.values.get("decode_replicas") if serve.values["serving_mode"] == "disaggregated" else None
    return float(fixed) if fixed else float(serve.system_gpus) / gpus


def _held(serve: ServeSpec, log, kwargs: dict) -> tuple[ServeSpec, dict, float, float]:
    """MLPerf's operating point of one run: the serving file with its replica size fixed, keyword arguments that lift
    the latency targets and hold the batch at loadgen's requests in flight (Little's law, per pipeline stage), the
    requests in flight and the replica's GPUs."""
    gpus = replica_size(serve, **kwargs)
    fixed = serve if serve.gpus_per_replica is not None else replace(serve, gpus_per_replica=gpus)
    in_flight = float(requests_in_flight(log["samples_per_s"], log["mean_latency_s"], log["mean_ttft_ms"],
                                         _decode_replicas(serve, gpus)))
    held = {**kwargs, "max_tpot_ms": np.inf, "max_ttft_ms": np.inf, "max_batch": in_flight / _stages(serve, gpus)}
    return fixed, held, in_flight, gpus


_STEP_LOGS: dict = {}


def _step_model_log(row, log, grid: dict, over: dict) -> np.ndarray:
    """log(model mean TPOT in ms at MLPerf's batch) of one run over the extended grid (software factor 1, as
    :func:`_model_log`); a grid point whose KV cache cannot hold one request gets a TPOT of 1e9 ms."""
    key = (row.serve_file, row.scenario, row.benchmark, row.id, _grid_key(grid), tuple(sorted(over.items())))
    if key not in _STEP_LOGS:
        _, steps = _shifts(grid)
        shape = tuple(len(grid[k]) + (steps - 1 if k == "compute_efficiency" else 0) for k in FIT_PARAMETERS)
        serve = _serve(row.serve_file, row.scenario)
        sizing = _at_stored_fit(row, serve)
        fixed, held, _, _ = _held(serve, log, sizing)
        tpot = np.asarray(evaluate_serve(fixed, **{**held, **_axes(grid, _relevant(row), steps), "software_factor": 1.0,
                                                   **over}).tpot_ms, float)
        _STEP_LOGS[key] = np.log(np.where(np.isfinite(tpot) & (tpot > 0), np.broadcast_to(tpot, shape), 1e9))
    return _STEP_LOGS[key]


class _Evaluated(NamedTuple):
    """One evaluated grid: per row its log error of tokens/s (``err``) and, where loadgen logged the run, of mean TPOT
    at MLPerf's batch (``step_err``, zero where ``timed`` is False), the step errors' ``step_weight`` and the summed
    objective per row (``sq``: ``err^2 + step_weight x step_err^2``)."""
    ids: tuple
    rounds: np.ndarray
    err: np.ndarray
    grid: dict
    step_err: np.ndarray
    timed: np.ndarray
    step_weight: float
    sq: np.ndarray


def step_weight(err: np.ndarray, step_err: np.ndarray, timed: np.ndarray, rounds: np.ndarray, grid: dict) -> float:
    """Weight of a run's step-time residual beside its throughput residual: the inverse ratio of their spreads,
    ``(median |throughput log error| / median |TPOT log error|)^2``, both at the fit on throughput alone (feasible
    weighted least squares; the median, not the RMS, so that one outlying run does not set it). A run's TPOT at its
    measured batch observes the same decode step as its throughput, through Little's law's estimate of the batch, so
    it weighs less than the benchmark's figure."""
    n_compute, (_, steps) = len(grid["compute_efficiency"]), _shifts(grid)
    index, shifts, _ = _fit(_round_sums(err ** 2, rounds), n_compute, steps)
    thr, step = _at_fit(err, rounds, index, shifts), _at_fit(step_err, rounds, index, shifts)[timed]
    if step.size == 0 or np.median(np.abs(step)) == 0:
        return 0.0
    return float((np.median(np.abs(thr)) / np.median(np.abs(step))) ** 2)


def stored_step_weight(path: Path | str | None = None) -> float | None:
    """The step-time weight of the stored fit (``step_weight`` in data/inference_calibration.yaml), None if absent."""
    path = Path(path or PROVENANCE_PATH)
    value = read_yaml(path).get("step_weight") if path.exists() else None
    return None if value is None else float(value)


def _evaluate(table: pd.DataFrame, grid: dict, per_benchmark: dict | None = None) -> _Evaluated:
    """Every row's throughput error and, for the runs loadgen logged, step-time error over ``grid``. The full grid
    computes its :func:`step_weight`; any other grid (the quick one, a sensitivity grid) takes the stored full-grid
    weight, since a coarser grid's throughput-only fit measures the grid's resolution as much as the data's spread."""
    ids, rounds, err = _log_errors(table, grid, per_benchmark)
    logs = load_loadgen()
    rows = {r.id: r for r in _rows(table).itertuples()}
    step_err, timed = np.zeros_like(err), np.zeros(len(ids), bool)
    for n, rid in enumerate(ids):
        r = rows[rid]
        log = _timed_log(r, logs)
        if log is not None:
            over = (per_benchmark or {}).get(r.benchmark, {})
            step_err[n] = _step_model_log(r, log, grid, over) - np.log(float(log["mean_tpot_ms"]))
            timed[n] = True
    stored = None if _grid_key(grid) == _grid_key(GRID) else stored_step_weight()
    weight = step_weight(err, step_err, timed, rounds, grid) if stored is None else stored
    return _Evaluated(tuple(ids), rounds, err, grid, step_err, timed, weight, err ** 2 + weight * step_err ** 2)


def _free_rounds() -> tuple:
    """The rounds with a fitted factor of their own (the others share a round's, :data:`TIED_ROUNDS`)."""
    return tuple(r for r in SOFTWARE_ROUNDS if r not in TIED_ROUNDS)


def _fit(sums: dict, n_compute: int, steps: int) -> tuple[tuple, dict, float]:
    """Best grid point of the summed squared log errors: ``sums`` maps a round to its rows' summed squared
    errors over the extended grid. The reference round sits at shift 0; each other round takes the shift
    (software factor) that minimises its own sum at every point of the other parameters."""
    total = sums[REFERENCE_ROUND][:n_compute].copy()
    best_shift = {}
    for rnd in _free_rounds():
        shifted = np.stack([sums[rnd][k:k + n_compute] for k in range(steps)])
        best_shift[rnd] = np.argmin(shifted, axis=0)
        total += np.min(shifted, axis=0)
    index = np.unravel_index(np.argmin(total), total.shape)
    return index, {rnd: int(best_shift[rnd][index]) for rnd in _free_rounds()}, float(total[index])


def _round_sums(sq: np.ndarray, rounds: np.ndarray, keep: np.ndarray | None = None) -> dict:
    keep = np.ones(len(rounds), bool) if keep is None else keep
    zero = np.zeros(sq.shape[1:])
    return {rnd: (sq[keep & (rounds == rnd)].sum(axis=0) if np.any(keep & (rounds == rnd)) else zero)
            for rnd in (REFERENCE_ROUND, *_free_rounds())}


def _at(err_row: np.ndarray, index: tuple, shift: int) -> float:
    return float(err_row[(index[0] + shift,) + tuple(index[1:])])


def _at_fit(errors: np.ndarray, rounds: np.ndarray, index: tuple, shifts: dict) -> np.ndarray:
    """Every row's error at one fit (grid ``index``, each round at its software-factor shift)."""
    return np.array([_at(e, index, shifts.get(r, 0)) for e, r in zip(errors, rounds)])


def _params(grid: dict, index: tuple, shifts: dict) -> dict:
    ratio, _ = _shifts(grid)
    out = {k: float(grid[k][i]) for k, i in zip(FIT_PARAMETERS, index)}
    factors = {REFERENCE_ROUND: 1.0, **{rnd: round(float(ratio ** k), 4) for rnd, k in shifts.items()}}
    factors = {rnd: factors[TIED_ROUNDS.get(rnd, rnd)] for rnd in (REFERENCE_ROUND, *SOFTWARE_ROUNDS)}
    return {**out, "software_factors": factors, "software_factor": factors[FLEET_ROUND]}


@lru_cache(maxsize=4)
def _calibration(quick: bool) -> _Evaluated:
    return _evaluate(load_mlperf(), QUICK_GRID if quick else GRID)


def _summary(ev: _Evaluated) -> dict:
    n_compute, (_, steps) = len(ev.grid["compute_efficiency"]), _shifts(ev.grid)
    index, shifts, _ = _fit(_round_sums(ev.sq, ev.rounds), n_compute, steps)
    log_err, step = _at_fit(ev.err, ev.rounds, index, shifts), _at_fit(ev.step_err, ev.rounds, index, shifts)[ev.timed]
    row_err, step_pct = (np.exp(log_err) - 1) * 100, (np.exp(step) - 1) * 100
    return {**_params(ev.grid, index, shifts), "max_abs_error_pct": float(np.max(np.abs(row_err))),
            "median_abs_error_pct": float(np.median(np.abs(row_err))),
            "rms_log_error": float(np.sqrt(np.mean(log_err ** 2))), "systems": len(ev.ids), "rows": len(ev.ids),
            "step_weight": ev.step_weight, "timed_runs": int(ev.timed.sum()),
            "median_abs_step_error_pct": float(np.median(np.abs(step_pct))) if step.size else float("nan")}


def calibrate(quick: bool = False, grid=None, per_benchmark: dict | None = None, **_ignored) -> dict:
    """Fit :data:`FIT_PARAMETERS` and the per-round ``software_factors`` once over all MLPerf rows (grid
    search of the summed squared log error of tokens/s per GPU). Returns the fitted values with the
    largest, median and RMS error. ``per_benchmark`` (``{benchmark: {"input_tokens": ...}}``) refits under
    another workload assumption."""
    if per_benchmark or isinstance(grid, dict):
        g = grid if isinstance(grid, dict) else (QUICK_GRID if quick else GRID)
        return _summary(_evaluate(load_mlperf(), g, per_benchmark))
    return _summary(_calibration(quick))


@lru_cache(maxsize=4)
def _refits(quick: bool):
    """The full fit, each leave-one-out refit and each leave-one-GPU-type-out refit (grid indices and shifts)."""
    ev = _calibration(quick)
    ids, rounds, g, sq = ev.ids, ev.rounds, ev.grid, ev.sq        # a left-out run leaves with its step time
    gpus = load_mlperf().loc[list(ids), "gpu"].to_numpy()
    n_compute, (_, steps) = len(g["compute_efficiency"]), _shifts(g)
    sums = _round_sums(sq, rounds)
    full = _fit(sums, n_compute, steps)[:2]
    loo = [_fit({**sums, rounds[n]: sums[rounds[n]] - sq[n]}, n_compute, steps)[:2] for n in range(len(ids))]
    by_gpu = {gpu_type: _fit(_round_sums(sq, rounds, gpus != gpu_type), n_compute, steps)[:2] for gpu_type in np.unique(gpus)}
    return full, loo, by_gpu


def loo_refits(quick: bool = False) -> pd.DataFrame:
    """The fitted parameters of every leave-one-out refit (one row per left-out MLPerf row, index ``id``):
    :data:`FIT_PARAMETERS`, ``software_factor`` (:data:`FLEET_ROUND`'s) and ``software_factor_<round>`` for each round.
    Their spread is the range :func:`write_calibration` stores."""
    ev = _calibration(quick)
    ids, g = ev.ids, ev.grid
    rows = []
    for rid, (index, shifts) in zip(ids, _refits(quick)[1]):
        params = _params(g, index, shifts)
        factors = params.pop("software_factors")
        rows.append({"id": rid, **params, **{f"software_factor_{r}": f for r, f in factors.items()}})
    return pd.DataFrame(rows).set_index("id")


def validation(quick: bool = False) -> pd.DataFrame:
    """Error per row: in-sample (one fit over all rows), leave-one-out (refit without the row, and without its run's
    loadgen step time) and leave-one-GPU-type-out (refit without every row of that GPU type), in percent of MLPerf;
    ``step_error_pct`` is the in-sample error of the model's mean TPOT at MLPerf's batch against loadgen's (NaN for
    runs without one). All refits reuse the one evaluated grid (a refit only changes which rows are summed)."""
    ev = _calibration(quick)
    ids, rounds, err, g = ev.ids, ev.rounds, ev.err, ev.grid
    table = load_mlperf().loc[list(ids)]
    (full, full_shifts), loo_fits, by_gpu = _refits(quick)
    pct = lambda e: float((np.exp(e) - 1) * 100)
    gpus = table["gpu"].to_numpy()
    rows = []
    for n, rid in enumerate(ids):
        rnd = rounds[n]
        loo, loo_shifts = loo_fits[n]
        out_gpu, out_shifts = by_gpu[gpus[n]]
        r = table.loc[rid]
        loo_params = _params(g, loo, loo_shifts)
        rows.append({"id": rid, "round": r["round"], "system": r["system"], "gpu": r["gpu"], "benchmark": r["benchmark"],
                     "scenario": r["scenario"], "mlperf_tokens_s_per_gpu": float(r["tokens_s_per_gpu"]),
                     "model_tokens_s_per_gpu": float(r["tokens_s_per_gpu"] * np.exp(_at(err[n], full, full_shifts.get(rnd, 0)))),
                     "error_pct": pct(_at(err[n], full, full_shifts.get(rnd, 0))),
                     "loo_error_pct": pct(_at(err[n], loo, loo_shifts.get(rnd, 0))),
                     "logo_error_pct": pct(_at(err[n], out_gpu, out_shifts.get(rnd, 0))),
                     "step_error_pct": pct(_at(ev.step_err[n], full, full_shifts.get(rnd, 0))) if ev.timed[n] else np.nan,
                     **{f"loo_{k}": loo_params[k] for k in FIT_PARAMETERS},
                     "loo_software_factor": loo_params["software_factors"][rnd]})
    return pd.DataFrame(rows)


def accuracy(table: pd.DataFrame | None = None, quick: bool = False, within_pct: float = 15.0) -> dict:
    """Headline accuracy of a :func:`validation` table: median |error| in-sample, leave-one-out and
    leave-one-GPU-type-out (percent), rows within ``within_pct`` leave-one-out, and the ids outside it."""
    v = validation(quick) if table is None else table
    loo = v["loo_error_pct"].abs()
    ids = (v["id"] if "id" in v else pd.Series(v.index, index=v.index)).astype(str)
    return {"rows": int(len(v)), "median_abs_error_pct": float(v["error_pct"].abs().median()),
            "median_abs_loo_error_pct": float(loo.median()), "median_abs_logo_error_pct": float(v["logo_error_pct"].abs().median()),
            "within_pct": float(within_pct), "rows_within_loo": int((loo <= within_pct).sum()),
            "outside_loo": {str(i): round(float(e), 1) for i, e in zip(ids[loo > within_pct], v.loc[loo > within_pct, "loo_error_pct"])},
            **({"median_abs_step_error_pct": float(v["step_error_pct"].abs().median())} if "step_error_pct" in v else {})}


# --------------------------------------------------------------------------- the operating point, against loadgen
def _stages(serve: ServeSpec, gpus: float) -> float:
    """Pipeline stages of the row's replica of ``gpus`` GPUs, as the roofline lays it out (:func:`roofline.pipeline_stages`)."""
    return float(pipeline_stages(gpus, serve.values.get("tensor_parallel"), serve.gpu.nvlink_domain_gpus,
                                 is_mixture_of_experts(serve.values))[1])


def _logged_runs(table: pd.DataFrame | None = None):
    """Each latency-bound MLPerf row with a loadgen summary (default: data/mlperf_inference.csv): ``(row, its loadgen
    summary, its serving file under its scenario, keyword arguments at the stored fit)``."""
    table = load_mlperf() if table is None else table
    logs = load_loadgen()
    for r in _rows(table).itertuples():
        log = _timed_log(r, logs)
        if log is not None:
            serve = _serve(r.serve_file, r.scenario)
            yield r, log, serve, _at_stored_fit(r, serve)


def operating_points(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The model's operating point against what MLPerf's loadgen logged, for every latency-bound (server and interactive)
    row with a loadgen summary (data/mlperf_loadgen.csv; a disaggregated one per decode replica), at the stored fit.

    Per row (with its round and system): requests in flight per replica (MLPerf: Little's law, :func:`loadgen.requests_in_flight`; model: its batch),
    mean TPOT and TTFT (MLPerf's; the model's at its own operating point), the model's mean TPOT **at MLPerf's batch**
    (its step model checked where the system actually ran: targets lifted, the batch held at the measured requests in
    flight, unless the model's KV cache cannot hold them), and the p99/mean TPOT measured against the benchmark median the
    model uses, and the run's p99 TTFT and p99 TPOT as shares of the limits it ran under (loadgen's own targets: a run
    below both was not served at its limits, which the model's capacity reaches), and the model's mean and p99 TTFT **at the
    run's own load** (held at its requests in flight, prompts arriving at the rate it served: ``ttft_at_load``; NaN for a
    disaggregated run, whose prefill pool is sized to its target) beside loadgen's p99, and the query rate its submitter
    scheduled per replica (loadgen's ``target_qps`` over the replicas; decode replicas when disaggregated). Ratios are
    model over MLPerf."""
    rows = []
    for r, log, serve, kwargs in _logged_runs(table):
        fixed, held_kwargs, in_flight, gpus = _held(serve, log, kwargs)
        at_fit = evaluate_serve(fixed, **kwargs)
        held = evaluate_serve(fixed, **held_kwargs)
        loaded = _ttft_at_load(serve, fixed, held_kwargs)
        f = lambda x: float(np.asarray(x))
        v = serve.values
        kv_token = float(kv_bytes_per_token(v["layers"], v["hidden"], v["heads"], v["kv_heads"], PRECISION_BYTES[serve.kv_precision],
                                            v["mla_kv_dim"] if v["attention"] == "mla" else 0.0))
        replicas = _decode_replicas(serve, gpus)
        rows.append({"id": r.id, "round": r.round, "system": r.system, "gpu": r.gpu, "benchmark": r.benchmark,
                     "scenario": r.scenario, "gpus_per_replica": gpus, "replicas": replicas,
                     # the load the submitter scheduled (loadgen's target_qps), per replica
                     "mlperf_target_qps_per_replica": float(log["target_qps"]) / replicas,
                     # the KV cache MLPerf's requests in flight held each, at most (the model's capacity over them)
                     "mlperf_kv_tokens_per_request": f(at_fit.kv_capacity_gb_per_replica) * 1e9 / in_flight / kv_token,
                     "input_tokens": float(v["input_tokens"]), "output_tokens": float(v["output_tokens"]),
                     "mlperf_requests_in_flight": in_flight, "model_batch": f(at_fit.batch),
                     "model_batch_kv_limit": f(at_fit.batch_kv_limit),
                     "mlperf_mean_tpot_ms": float(log["mean_tpot_ms"]), "model_mean_tpot_ms": f(at_fit.tpot_ms),
                     "model_mean_tpot_at_mlperf_batch_ms": f(held.tpot_ms), "model_batch_held": f(held.batch),
                     "mlperf_mean_ttft_ms": float(log["mean_ttft_ms"]), "model_mean_ttft_ms": f(at_fit.ttft_ms),
                     # the TTFT queue checked where the system ran: the model's TTFT at the run's own load
                     "mlperf_p99_ttft_ms": float(log["p99_ttft_ms"]),
                     "model_mean_ttft_at_mlperf_load_ms": loaded[0], "model_p99_ttft_at_mlperf_load_ms": loaded[1],
                     "mlperf_tpot_tail": float(log["p99_tpot_ms"] / log["mean_tpot_ms"]),
                     # how close the run came to its scenario's limits (the model serves up to the binding one)
                     "mlperf_ttft_p99_share": float(log["p99_ttft_ms"] / log["ttft_target_ms"]),
                     "mlperf_tpot_p99_share": float(log["p99_tpot_ms"] / log["tpot_target_ms"]),
                     "model_tpot_tail": float(kwargs["latency_tail_factor"]), "model_limit": str(at_fit.limit)})
    out = pd.DataFrame(rows)
    if len(out):
        out["batch_ratio"] = out["model_batch"] / out["mlperf_requests_in_flight"]
        out["tpot_ratio"] = out["model_mean_tpot_ms"] / out["mlperf_mean_tpot_ms"]
        out["tpot_at_mlperf_batch_ratio"] = out["model_mean_tpot_at_mlperf_batch_ms"] / out["mlperf_mean_tpot_ms"]
        out["p99_ttft_at_mlperf_load_ratio"] = out["model_p99_ttft_at_mlperf_load_ms"] / out["mlperf_p99_ttft_ms"]
    return out


def _ttft_at_load(serve: ServeSpec, fixed: ServeSpec, held_kwargs: dict, **router) -> tuple[float, float]:
    """Mean and p99 TTFT in ms of an aggregated run held at MLPerf's requests in flight, its prefill queue at that
    batch's full load (``ttft_at_load``, :func:`analysis.inference.roofline.replica_throughput`); ``router`` replaces
    the row's prefill servers or router. NaN for a disaggregated run (its prefill pool is sized to the target, not held
    at a load)."""
    if serve.values["serving_mode"] == "disaggregated":
        return float("nan"), float("nan")
    t = evaluate_serve(fixed, **{**held_kwargs, **router, "ttft_at_load": True})
    return float(np.asarray(t.ttft_ms)), float(np.asarray(t.ttft_p99_ms))


#: The readings of an MLPerf system's TTFT queue :func:`router_readings` compares: the one the calibration uses
#: (:func:`router_replicas`: the harness feeds the replicas in turn) and the two it does not.
ROUTER_READINGS = {"round_robin": {"prefill_router": "round_robin"},
                   "poisson_per_replica": {"prefill_queue_servers": 1.0, "prefill_router": "pooled"},
                   "pooled": {"prefill_router": "pooled"}}


def router_readings(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The model's mean and p99 TTFT at each run's own load under each reading of how the harness spreads prompts over
    the system's replicas (:data:`ROUTER_READINGS`): fed in turn (E_c/M/1, the reading :func:`router_replicas`
    uses), a Poisson share per replica (one M/M/1 queue each: the dispatch ignores the prefill queues) and one
    pooled queue (M/M/c), beside loadgen's. Aggregated latency-bound runs of more than one replica, at the stored fit;
    the TTFT is not in the fit, so this checks the queue model on what it did not see."""
    rows = []
    for r, log, serve, kwargs in _logged_runs(table):
        if serve.values["serving_mode"] == "disaggregated" or kwargs.get("prefill_queue_servers", 1.0) <= 1.0:
            continue
        fixed, held_kwargs, _, _ = _held(serve, log, kwargs)
        row = {"id": r.id, "round": r.round, "system": r.system, "benchmark": r.benchmark, "scenario": r.scenario,
               "replicas": float(kwargs["prefill_queue_servers"]), "mlperf_mean_ttft_ms": float(log["mean_ttft_ms"]),
               "mlperf_p99_ttft_ms": float(log["p99_ttft_ms"])}
        for name, router in ROUTER_READINGS.items():
            row[f"{name}_mean_ttft_ms"], row[f"{name}_p99_ttft_ms"] = _ttft_at_load(serve, fixed, held_kwargs, **router)
        rows.append(row)
    return pd.DataFrame(rows)


def router_reading_errors(readings: pd.DataFrame | None = None, benchmark: str = "llama3.1-405b") -> dict:
    """Median |log ratio| (as a percentage, exp of the median minus 1) of each reading's mean and p99 TTFT against
    loadgen's over the ``benchmark``'s runs in :func:`router_readings` (the Llama 3.1 405B runs by default: the only
    ones whose long prompts make the TTFT queue bind)."""
    r = router_readings() if readings is None else readings
    r = r[r["benchmark"] == benchmark]
    med = lambda model, logged: float((np.exp(np.median(np.abs(np.log(r[model] / r[logged])))) - 1) * 100)
    return {"runs": int(len(r)), **{name: {"mean_pct": med(f"{name}_mean_ttft_ms", "mlperf_mean_ttft_ms"),
                                           "p99_pct": med(f"{name}_p99_ttft_ms", "mlperf_p99_ttft_ms")}
                                    for name in ROUTER_READINGS}}


def prefill_shares(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per MLPerf row at the stored fit: the share of its GPU time the model spends prefilling and the mean prompt its
    serving file states, so a row's sensitivity to that prompt reads beside its error (a prefill-bound row moves
    almost in proportion to its prompt)."""
    table = load_mlperf() if table is None else table
    rows = []
    for r in _rows(table).itertuples():
        serve = _serve(r.serve_file, r.scenario)
        t = evaluate_serve(serve, **_at_stored_fit(r, serve))
        rows.append({"id": r.id, "prefill_time_fraction": float(np.asarray(t.prefill_time_fraction)),
                     "input_tokens": float(serve.values["input_tokens"])})
    return pd.DataFrame(rows, columns=["id", "prefill_time_fraction", "input_tokens"])


def operating_point_accuracy(points: pd.DataFrame | None = None) -> dict:
    """Median |log ratio| of :func:`operating_points`, as a percentage (exp of the median minus 1): batch, TPOT at the
    model's operating point and TPOT at MLPerf's batch."""
    p = operating_points() if points is None else points
    med = lambda col: float((np.exp(np.median(np.abs(np.log(p[col].to_numpy(float))))) - 1) * 100)
    return {"runs": int(len(p)), "batch_pct": med("batch_ratio"), "tpot_pct": med("tpot_ratio"),
            "tpot_at_mlperf_batch_pct": med("tpot_at_mlperf_batch_ratio")}


def kv_implied_prompts(points: pd.DataFrame | None = None, benchmark: str = "llama2-70b") -> pd.DataFrame:
    """The mean prompt MLPerf's own KV occupancy implies, per server run of ``benchmark``: the KV cache each request in
    flight held (:func:`operating_points`, ``mlperf_kv_tokens_per_request``: the cache's capacity over loadgen's requests
    in flight, Little's law) less half the mean output (a request in flight under KV-as-generated scheduling holds its
    prompt and, on average, half its output).

    It measures the workload, not the model: the capacity comes from the weights, ``kv_fraction`` and the KV bytes per
    token, none of which depends on the prompt or on a fitted efficiency. A run that did not fill its cache gives an
    upper bound, so the suite uses the median over the server runs (the interactive runs hold a few requests each and
    say nothing about the prompt). Columns: id, round, system, implied_prompt_tokens."""
    p = operating_points() if points is None else points
    p = p[(p["benchmark"] == benchmark) & (p["scenario"] == "server")]
    return pd.DataFrame({"id": p["id"], "round": p["round"], "system": p["system"],
                         "implied_prompt_tokens": p["mlperf_kv_tokens_per_request"] - p["output_tokens"] / 2}).reset_index(drop=True)


# --------------------------------------------------------------------------- the writer
#: What each calibrated entry means (the physical reading stated in its ``source``).
MEANING = {
    "compute_efficiency": "fraction of the dense peak at the serving precision reached with MLPerf v4.1's TensorRT-LLM (the fleet "
                          "multiplies it by software_factor, capped at the peak)",
    "bandwidth_efficiency": "fraction of nominal HBM bandwidth sustained by decode (memory-bound kernels sustain at most ~90%: "
                            "the grid's cap)",
    "fp4_weight_read_efficiency": "share of the decode HBM bandwidth that NVFP4 GEMMs reach while memory-bound (FP8 and BF16 GEMMs "
                                  "read at the full share); it stands in for all that slows a small-batch NVFP4 decode step on "
                                  "Blackwell (block scales, dequantisation, launches without CUDA graphs: a fixed per-step time in its "
                                  "place fit 18-20 rows, not 25, at the 500-token prompt assumed before the Llama 2 70B prompt was measured); the Blackwell NVFP4 rows, "
                                  "whose loadgen logs put a decode step at a few hundred requests at several times the weight read "
                                  "at full share (analysis.inference.calibration.operating_points)",
    "moe_efficiency": "fraction of the roofline speed of expert layers' grouped GEMMs and dispatch/combine over NVLink (the DeepSeek-R1 rows, whose all-to-all stays inside NVLink; across nodes the all-to-all runs at scaleout_all_to_all_efficiency of the NICs)",
    "fp4_efficiency": "NVFP4 GEMM speed as a fraction of the FP4 dense peak (grid floor 0.5: NVFP4 at least as fast as FP8, "
                      "else a submitter would serve FP8); the Blackwell NVFP4 rows",
    "attention_efficiency": "fraction of the attention roofline (tensor-core FLOPs and softmax exponentials at the KV-cache "
                            "precision, analysis.inference.roofline) reached by serving attention kernels (FlashAttention-3's best "
                            "H100 figures are 0.68-0.77 of it: the grid's top); the long-prompt Llama 3.1 405B rows",
    "software_factor": "the fleet runs the serving stack of the latest MLPerf round with FP8 rows (FLEET_ROUND); multiplies "
                       "compute_efficiency, capped at the peak",
}
_HEADER = "# Sourced defaults of the scenario section `inference`"


def _grid_step(grid: dict, key: str, value: float) -> tuple[float, float]:
    """Half a grid step either side of ``value`` (within the grid's bounds): the resolution of a grid search."""
    if key in ("software_factor", "compute_efficiency"):
        ratio, steps = _shifts(grid)
        if key == "software_factor":
            return max(value / ratio ** 0.5, 1.0), min(value * ratio ** 0.5, ratio ** (steps - 1))
        values = np.asarray(grid[key], float)
        return max(value / ratio ** 0.5, float(values[0])), min(value * ratio ** 0.5, float(values[-1]))
    values = np.asarray(grid[key], float)
    half = float(np.diff(values).min()) / 2 if values.size > 1 else 0.0
    return max(value - half, float(values[0])), min(value + half, float(values[-1]))


def _ranges(result: dict, loo: pd.DataFrame, grid: dict) -> dict:
    """Per calibrated entry ``(low, high)``: the spread of the leave-one-out refits, widened to half a grid step
    either side of the fitted value (a grid search locates the optimum no closer than that)."""
    out = {}
    for key in CALIBRATED:
        value = float(result[key])
        step_low, step_high = _grid_step(grid, key, value)
        low, high = min(float(loo[key].min()), step_low, value), max(float(loo[key].max()), step_high, value)
        out[key] = (round(low, 4), round(high, 4))
    return out


def _tail_entry() -> dict:
    """The ``latency_tail_factor`` entry: measured, not fitted (the median p99/mean TPOT of MLPerf's loadgen logs)."""
    tail = overall_tail(load_loadgen())
    per = ", ".join(f"{b} {v:.2f}" for b, v in sorted(measured_tails().items()))
    return {"value": round(tail["value"], 3), "low": round(tail["low"], 3), "high": round(tail["high"], 3),
            "source": f"measured: median p99 over mean time per output token of the {tail['runs']} latency-bound (server and "
                      f"interactive) MLPerf Inference runs in data/mlperf_loadgen.csv (their loadgen summaries, mlperf_log_summary.txt); "
                      f"range: lowest and highest run (a run's p99 below its mean, from one outlier query, read as 1); per benchmark "
                      f"{per}, each MLPerf row evaluated with its benchmark's (analysis.inference.calibration.measured_tails); "
                      "written by analysis.inference.calibration.write_calibration(); TTFT tails come from the queue models"}


def _source(key: str, result: dict, loo: pd.DataFrame, acc: dict, grid_name: str, date: str) -> str:
    tied = "".join(f"; {r} shares {t}'s: all its rows are NVFP4 Blackwell, so its own is not identifiable beside fp4_efficiency"
                   for r, t in TIED_ROUNDS.items())
    rounds = ", ".join(f"{r}: {f:g}" for r, f in result["software_factors"].items())
    spread = (f"leave-one-out refits {loo[key].min():g}-{loo[key].max():g}" if key != "software_factor" else
              f"leave-one-out refits {loo[key].min():g}-{loo[key].max():g} ({FLEET_ROUND}); per round {rounds}")
    return (f"calibrated: analysis.inference.calibration.write_calibration() ({date}, {grid_name} grid) - "
            f"{', '.join(FIT_PARAMETERS)} and one software factor per MLPerf round ({', '.join(_free_rounds())}; "
            f"{REFERENCE_ROUND} = 1{tied}) fitted once by grid search minimising the squared log error of tokens/s per GPU over all "
            f"{result['rows']} MLPerf Inference closed-division rows of data/mlperf_inference.csv with a serving file in data/serve/ "
            f"(prompt and output lengths fixed there, not fitted) and, weighted {result.get('step_weight', 0):.2f}, of the mean TPOT "
            f"at the batch each of {result.get('timed_runs', 0)} latency-bound runs ran (loadgen logs, data/mlperf_loadgen.csv); "
            f"{MEANING[key]}; {spread}; range: those refits widened to "
            f"half a grid step either side of the fitted value; median |error| in-sample {acc['median_abs_error_pct']:.1f}%, leave-one-out "
            f"{acc['median_abs_loo_error_pct']:.1f}% ({acc['rows_within_loo']} of {acc['rows']} rows within "
            f"{acc['within_pct']:g}%), leave-one-GPU-type-out {acc['median_abs_logo_error_pct']:.1f}% "
            f"(data/inference_calibration.yaml)")


def _scalar(value, key: str = "") -> str:
    """One YAML scalar in the style of data/parameters/*.yaml (sources double-quoted, numbers as written)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    text = str(value)
    if key != "source" and re.fullmatch(r"[a-z][a-z0-9_]*", text) and text not in ("true", "false", "null", "yes", "no", "on", "off"):
        return text
    return json.dumps(text, ensure_ascii=False)


def dump_parameters(doc: dict, header: str = "") -> str:
    """The text of a parameter file: ``header`` (comment lines) and then every entry in order, a scalar on its
    line or a ``{value, low, high, source}`` mapping one key a line. Reading the text back gives ``doc``;
    data/parameters/inference.yaml round-trips byte for byte."""
    lines = [header.rstrip("\n")] if header else []
    for key, item in doc.items():
        if isinstance(item, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {_scalar(v, k)}" for k, v in item.items()]
        else:
            lines.append(f"{key}: {_scalar(item, key)}")
    return "\n".join(lines) + "\n"


def _header(text: str) -> str:
    """The leading comment lines of a YAML file."""
    out = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        out.append(line)
    return "\n".join(out)


def stored_validation(path: Path | str | None = None) -> pd.DataFrame:
    """The stored fit's :func:`validation` table (data/inference_validation.csv, written by :func:`write_calibration`;
    a test keeps it equal to a fresh full-grid :func:`validation`)."""
    path = Path(path or VALIDATION_PATH)
    if not path.exists():
        raise InputError(f"{path.name}: missing; rerun python -m analysis inference --calibrate --write")
    return pd.read_csv(path)


def stored_fit() -> dict:
    """The stored full-grid fit in :func:`calibrate`'s keys that reports read: :data:`FIT_PARAMETERS` (from
    data/parameters/inference.yaml), ``software_factors`` per round, the fleet's ``software_factor`` and the loadgen
    step times' ``step_weight`` (data/inference_calibration.yaml)."""
    return {**_fitted(), "software_factors": dict(SOFTWARE_FACTORS), "software_factor": float(default_values()["software_factor"]),
            "step_weight": stored_step_weight()}


def calibration_result(quick: bool = False) -> dict:
    """What :func:`write_calibration` stores: :func:`calibrate`'s fit, the leave-one-out refits (``loo``, a frame)
    and the accuracy of :func:`validation` (``accuracy``), on the full grid (``quick=False``) or the quick grid."""
    table = validation(quick)
    return {**calibrate(quick=quick), "loo": loo_refits(quick), "accuracy": accuracy(table), "validation": table,
            "grid": "quick" if quick else "full"}


def write_calibration(result: dict | None = None, path: Path | str | None = None,
                      provenance_path: Path | str | None = None, date: str | None = None) -> tuple[Path, Path]:
    """Store a calibration (:func:`calibration_result`; default: a fresh full-grid one): the only writer of the
    calibrated entries of data/parameters/inference.yaml (:data:`CALIBRATED`: value, low and high from the
    leave-one-out refits, and a source stating method, rows, date, refit range and accuracy) and of
    data/inference_calibration.yaml (the fit's provenance, the per-round ``software_factors`` that
    :data:`SOFTWARE_FACTORS` reads, the accuracy and the refit ranges), and data/inference_validation.csv (the
    per-row errors, :func:`stored_validation`). Every other entry of the parameter
    file, its order and its header comment are kept. Returns both paths. (Modelled on
    :func:`analysis.training.fit.write_calibration`.)"""
    result = calibration_result() if result is None else result
    path = Path(path or PARAMETERS_PATH)
    provenance_path = Path(provenance_path or (PROVENANCE_PATH if path == PARAMETERS_PATH else path.with_name("inference_calibration.yaml")))
    validation_path = VALIDATION_PATH if provenance_path == PROVENANCE_PATH else provenance_path.with_name(VALIDATION_PATH.name)
    date = date or _dt.date.today().isoformat()
    grid = QUICK_GRID if result.get("grid") == "quick" else GRID
    loo, acc = result["loo"], result["accuracy"]
    text = path.read_text(encoding="utf-8")
    doc = read_yaml(path)
    ranges = _ranges(result, loo, grid)
    for key in CALIBRATED:
        low, high = ranges[key]
        doc[key] = {"value": round(float(result[key]), 4), "low": low, "high": high,
                    "source": _source(key, result, loo, acc, result.get("grid", "full"), date)}
    doc["latency_tail_factor"] = _tail_entry()
    path.write_text(dump_parameters(doc, _header(text) or _HEADER), encoding="utf-8")
    provenance = {
        "description": "Fit of the inference efficiencies on MLPerf Inference closed-division results "
                       "(analysis.inference.calibration). Written by write_calibration(); do not edit by hand.",
        "reproduce": "python -m analysis inference --calibrate --write",
        "fitted_on": date, "grid": result.get("grid", "full"), "rows": int(result["rows"]),
        "table": "data/mlperf_inference.csv (rows with a serving file in data/serve/)",
        "method": "grid search over the efficiencies and one software factor per round (a shift of the geometric "
                  "compute-efficiency grid), minimising the summed squared log error of tokens/s per GPU plus, for each "
                  "latency-bound run with a loadgen summary (data/mlperf_loadgen.csv; a disaggregated run's over its decode "
                  "replicas), step_weight times the "
                  "squared log error of its mean TPOT at the requests in flight it ran (Little's law); step_weight = "
                  "(median |throughput log error| / median |TPOT log error|)^2 at the fit on throughput alone",
        "step_weight": round(float(result["step_weight"]), 4) if "step_weight" in result else None,
        "timed_runs": int(result.get("timed_runs", 0)),
        "reference_round": REFERENCE_ROUND, "fleet_round": FLEET_ROUND,
        "software_factors": {r: round(float(f), 4) for r, f in result["software_factors"].items()},
        "parameters": {k: {"value": round(float(result[k]), 4), "loo_low": round(float(loo[k].min()), 4),
                           "loo_high": round(float(loo[k].max()), 4)} for k in CALIBRATED},
        "software_factors_loo": {r: {"loo_low": round(float(loo[f"software_factor_{r}"].min()), 4),
                                     "loo_high": round(float(loo[f"software_factor_{r}"].max()), 4)}
                                 for r in result["software_factors"]},
        "accuracy": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in acc.items()},
    }
    import yaml
    provenance_path.write_text("# Written by analysis.inference.calibration.write_calibration(); do not edit by hand.\n"
                               + yaml.safe_dump(provenance, sort_keys=False, width=120, allow_unicode=True), encoding="utf-8")
    if "validation" in result:
        result["validation"].to_csv(validation_path, index=False)
    if path == PARAMETERS_PATH:
        from analysis.inference.parameters import _defaults
        _defaults.cache_clear()
        _serve.cache_clear()
    if provenance_path == PROVENANCE_PATH:
        SOFTWARE_FACTORS.clear()
        SOFTWARE_FACTORS.update(stored_software_factors())
    return path, provenance_path


def calibration_sweep(input_tokens, benchmark: str = "llama2-70b", quick: bool = True, grid=None) -> pd.DataFrame:
    """:func:`calibrate` refitted at several assumed mean prompt lengths of ``benchmark`` (the other
    benchmarks keep theirs, and their evaluated grids are reused): how much the fitted efficiencies
    depend on that assumption."""
    g = grid if isinstance(grid, dict) else (QUICK_GRID if quick else GRID)
    rows = []
    for v in input_tokens:
        fit = calibrate(grid=g, per_benchmark={benchmark: {"input_tokens": float(v)}})
        factors = fit.pop("software_factors")
        rows.append({"assumed_mean_prompt_tokens": float(v), **fit, **{f"software_factor_{r}": f for r, f in factors.items()}})
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


def calibration_report(quick: bool = False, write: bool = False) -> dict:
    """``python -m analysis inference --calibrate [--quick] [--write]``: a fresh fit, its accuracy and how it
    differs from the stored values; ``write`` stores it with :func:`write_calibration`. Strict-JSON-ready,
    with a text ``summary``."""
    result = calibration_result(quick)
    stored = {k: stored_fit()[k] for k in CALIBRATED}
    acc = result["accuracy"]
    fitted = {k: float(result[k]) for k in CALIBRATED}
    written = [str(p) for p in (*write_calibration(result), VALIDATION_PATH)] if write else []
    lines = [f"MLPerf inference calibration ({result['grid']} grid, {acc['rows']} rows): median |error| in-sample "
             f"{acc['median_abs_error_pct']:.1f}%, leave-one-out {acc['median_abs_loo_error_pct']:.1f}% "
             f"({acc['rows_within_loo']} of {acc['rows']} within {acc['within_pct']:g}%), leave-one-GPU-type-out "
             f"{acc['median_abs_logo_error_pct']:.1f}%"]
    width = max(len(k) for k in (*CALIBRATED, "software factors"))
    lines += [f"  {k:{width}s} {fitted[k]:8.4g}   (stored {stored[k]:.4g})" for k in CALIBRATED]
    lines.append(f"  {'software factors':{width}s} " + ", ".join(f"{r} {f:.4g}" for r, f in result["software_factors"].items())
                 + ("   (written)" if write else f"   (stored {', '.join(f'{r} {f:.4g}' for r, f in SOFTWARE_FACTORS.items())})"))
    lines += [f"  outside {acc['within_pct']:g}% leave-one-out: {rid} {err:+.1f}%" for rid, err in acc["outside_loo"].items()]
    lines.append(f"  step time in the fit: mean TPOT at MLPerf's batch of {result['timed_runs']} loadgen runs, weight "
                 f"{result['step_weight']:.2f} beside each row's throughput (a left-out row leaves with its run's)")
    point = operating_point_accuracy()
    lines.append(f"  against MLPerf's loadgen logs ({point['runs']} latency-bound runs, stored fit): batch {point['batch_pct']:.0f}%, "
                 f"mean TPOT {point['tpot_pct']:.0f}%, TPOT at MLPerf's batch {point['tpot_at_mlperf_batch_pct']:.0f}% (median |error|); "
                 "p99/mean TPOT measured: " + ", ".join(f"{b} {t:.2f}" for b, t in sorted(measured_tails().items())))
    lines.append(f"  written: {', '.join(written)}" if written else "  not written (add --write to store the fit)")
    return {"grid": result["grid"], "fitted": fitted, "software_factors": result["software_factors"], "stored": stored,
            "step_weight": float(result["step_weight"]), "timed_runs": int(result["timed_runs"]),
            "accuracy": acc, "operating_points": point, "measured_tails": measured_tails(), "written": written,
            "summary": "\n".join(lines)}
