"""The same engine on two GPU types: what MLPerf's B200 and GB200 rows can and cannot say about the two GPUs.

NVIDIA submitted most v5.1 benchmarks on both a DGX B200 (1,000 W) and GB200 NVL72 systems (1,200 W) with the same
replica layout. The GB200's dense peaks are 11% above the B200's (NVIDIA datasheets, ``data/gpus.csv``), so the model
serves a GB200 replica faster. Whether MLPerf agrees depends on the scenario:

* **offline** results are what each system served with every query issued at once: a measured capacity;
* **server and interactive** results are the query rate the submitter scheduled (loadgen's ``target_qps``, in each
  run's ``mlperf_log_summary.txt``), provided it met the latency limits. A rate scheduled below what the system could
  serve leaves its p99 latencies below the limits, and the result measures the rate chosen, not the GPU.

:func:`gpu_pairs` lines the pairs up; :func:`gpu_pair_summary` condenses them for the report.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.catalog import gpu
from analysis.inference.calibration import mlperf_predictions, operating_points

#: What makes two MLPerf rows the same engine on two GPU types: one round, benchmark and scenario, and replicas of
#: the same number of GPUs (every row is NVIDIA's submission).
PAIR_KEYS = ("round", "benchmark", "scenario", "gpus_per_replica")
#: Per-run load and latency columns of :func:`analysis.inference.calibration.operating_points` carried per GPU.
LOAD_COLUMNS = ("mlperf_target_qps_per_replica", "mlperf_ttft_p99_share", "mlperf_tpot_p99_share")
#: Two runs scheduled within this share of each other's queries/s per replica count as the same load.
SAME_LOAD_TOLERANCE = 0.05
#: The columns of :func:`gpu_pairs` (also when no rows pair up).
PAIR_COLUMNS = (*PAIR_KEYS, "gpu_a", "gpu_b", "id_a", "id_b", "system_a", "system_b", "precision", "mlperf_ratio",
                "model_ratio", "peak_ratio", *(f"{c}_{side}" for c in LOAD_COLUMNS for side in "ab"),
                "scheduled_load_ratio", "same_scheduled_load")


def _peak_ratio(gpu_a: str, gpu_b: str, precision: str) -> float:
    """Dense peak of ``gpu_b`` over ``gpu_a`` at ``precision`` (``data/gpus.csv``)."""
    return float(gpu(gpu_b).peak_tflops(precision) / gpu(gpu_a).peak_tflops(precision))


def gpu_pairs(predictions: pd.DataFrame | None = None, points: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every pair of MLPerf rows that ran the same engine on two GPU types (:data:`PAIR_KEYS`), GPU ids in
    alphabetical order as ``a`` and ``b``: MLPerf's tokens/s per GPU of ``b`` over ``a`` beside the model's (the stored
    fit, :func:`~analysis.inference.calibration.mlperf_predictions`) and the dense-peak ratio at the rows' precision,
    and, for latency-bound runs loadgen logged (:func:`~analysis.inference.calibration.operating_points`), each run's
    scheduled queries/s per replica and p99 TTFT and TPOT as shares of their limits (NaN offline).
    ``same_scheduled_load`` marks the pairs scheduled within :data:`SAME_LOAD_TOLERANCE` of each other per replica."""
    predictions = mlperf_predictions() if predictions is None else predictions
    points = operating_points() if points is None else points
    rows = predictions.merge(points[["id", *LOAD_COLUMNS]], on="id", how="left")
    rows = rows[["id", "system", "gpu", "precision", "mlperf_tokens_s_per_gpu", "model_tokens_s_per_gpu", *PAIR_KEYS,
                 *LOAD_COLUMNS]]
    both = rows.merge(rows, on=list(PAIR_KEYS), suffixes=("_a", "_b"))
    pairs = both[both["gpu_a"] < both["gpu_b"]].rename(columns={"precision_a": "precision"})
    pairs = pairs.sort_values([*PAIR_KEYS, "id_a", "id_b"]).reset_index(drop=True)
    pairs["mlperf_ratio"] = pairs["mlperf_tokens_s_per_gpu_b"] / pairs["mlperf_tokens_s_per_gpu_a"]
    pairs["model_ratio"] = pairs["model_tokens_s_per_gpu_b"] / pairs["model_tokens_s_per_gpu_a"]
    pairs["peak_ratio"] = [_peak_ratio(a, b, p) for a, b, p in zip(pairs["gpu_a"], pairs["gpu_b"], pairs["precision"])]
    load = (pairs["mlperf_target_qps_per_replica_b"] / pairs["mlperf_target_qps_per_replica_a"]).astype(float)
    pairs["scheduled_load_ratio"] = load
    pairs["same_scheduled_load"] = (np.abs(load - 1.0) <= SAME_LOAD_TOLERANCE).astype(bool)
    return pairs[list(PAIR_COLUMNS)]


def gpu_pair_summary(pairs: pd.DataFrame) -> dict:
    """The pairs of :func:`gpu_pairs` in a few figures: the latency-bound pairs, how many were scheduled at the same
    load per replica, in how many the second GPU's run kept both p99 latencies further below the limits, and the
    model's ratio over them; over the offline pairs (a measured capacity), the range of MLPerf's and the model's
    ratios; and the dense-peak ratio."""
    timed = pairs[pairs["scenario"] != "offline"]
    offline = pairs[pairs["scenario"] == "offline"]
    span = lambda s: (float(s.min()), float(s.max())) if len(s) else (np.nan, np.nan)
    lower = ((timed["mlperf_ttft_p99_share_b"] < timed["mlperf_ttft_p99_share_a"])
             & (timed["mlperf_tpot_p99_share_b"] < timed["mlperf_tpot_p99_share_a"]))
    return {"pairs": int(len(pairs)), "latency_bound": int(len(timed)),
            "same_scheduled_load": int(timed["same_scheduled_load"].sum()),
            "lower_latencies_b": int(lower.sum()), "latency_bound_model_ratio": span(timed["model_ratio"]),
            "offline": int(len(offline)), "offline_mlperf_ratio": span(offline["mlperf_ratio"]),
            "offline_model_ratio": span(offline["model_ratio"]),
            "peak_ratio": span(pairs["peak_ratio"])}
