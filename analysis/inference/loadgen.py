"""What MLPerf's own logs measured beside throughput: latencies and, by Little's law, the requests in flight.

Every MLPerf Inference result ships the loadgen summary of its run (``mlperf_log_summary.txt``): completed
samples and tokens per second, mean and percentile time to first token (TTFT) and time per output token
(TPOT), and the mean latency of a query. ``data/mlperf_loadgen.csv`` holds them for the rows of
``data/mlperf_inference.csv`` (the same runs: its tokens/s equal that table's, a test keeps them so). They
check the model's *mechanism*, not only its throughput:

* **the TPOT tail** (p99 / mean TPOT, :func:`tpot_tail`) is what a TPOT target allows beyond the mean; its
  median per benchmark (:func:`benchmark_tails`) is the ``latency_tail_factor`` the calibration evaluates each
  row with, measured rather than fitted;
* **requests in flight** (:func:`requests_in_flight`): ``queries/s x (mean latency - mean TTFT)`` per replica
  (Little's law, Little 1961, *Operations Research* 9(3); the TTFT share is the time a query waits for and
  sits in its prefill, holding no decode slot) is the decode batch the system ran at;
* **mean TPOT at that batch** is the step time the roofline should give there
  (:func:`analysis.inference.calibration.operating_points`);
* **the scheduled load** (``target_qps``, under "Test Parameters Used") is the query rate the submitter asked
  loadgen to issue, the one knob of a server result: two runs of the same engine on different GPUs show how hard
  each was pushed (:func:`analysis.inference.peers.gpu_pairs`).

The interactive scenario is logged as ``Server`` with the tighter targets; offline runs issue every query at
once, so their latencies are not a service time and only their throughput is used.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import Column
from analysis.inference.fleet import _read_table
from analysis.params import Spec
from analysis.paths import DATA_DIR

LOADGEN_PATH = DATA_DIR / "mlperf_loadgen.csv"
_MS = Spec("ms", min=0, max=1e9)
LOADGEN_COLUMNS = (
    Column("id"), Column("scenario"),
    Column("samples_per_s", Spec("queries/s", min=0, min_inclusive=False, max=1e9)),
    Column("tokens_per_s", Spec("tokens/s", min=0, min_inclusive=False, max=1e10)),
    Column("mean_latency_s", Spec("s", min=0, min_inclusive=False, max=1e7)),
    Column("mean_ttft_ms", _MS, required=False), Column("p99_ttft_ms", _MS, required=False),
    Column("mean_tpot_ms", _MS, required=False), Column("p50_tpot_ms", _MS, required=False),
    Column("p90_tpot_ms", _MS, required=False), Column("p99_tpot_ms", _MS, required=False),
    Column("ttft_target_ms", _MS, required=False), Column("tpot_target_ms", _MS, required=False),
    Column("target_qps", Spec("queries/s", min=0, min_inclusive=False, max=1e9), required=False),
    Column("source"), Column("retrieved"), Column("note", required=False),
)
#: The tail is at least 1 by definition of a percentile over a mean of the same values; a benchmark median below
#: 1 (an outlier query inflating the mean) is read as 1.
MIN_TAIL = 1.0


def load_loadgen(path: Path | str | None = None) -> pd.DataFrame:
    """The loadgen summaries (``data/mlperf_loadgen.csv``), indexed by the MLPerf row id."""
    df = _read_table(str(path or LOADGEN_PATH), LOADGEN_COLUMNS, "id").copy()
    df["note"] = df["note"].fillna("")
    return df.set_index("id", drop=False)


def tpot_tail(p99_tpot_ms, mean_tpot_ms):
    """p99 over mean time per output token (loadgen's per-query TPOT), element-wise."""
    return np.asarray(p99_tpot_ms, float) / np.asarray(mean_tpot_ms, float)


def requests_in_flight(samples_per_s, mean_latency_s, mean_ttft_ms, replicas=1.0):
    """Decode requests in flight per replica by Little's law: ``queries/s x (mean latency - mean TTFT) / replicas``."""
    service_s = np.asarray(mean_latency_s, float) - np.asarray(mean_ttft_ms, float) / 1e3
    return np.asarray(samples_per_s, float) * service_s / np.asarray(replicas, float)


def _timed_tails(loadgen: pd.DataFrame) -> pd.Series:
    """p99/mean TPOT of every latency-bound run (server and interactive), indexed by row id."""
    timed = loadgen[loadgen["scenario"] != "offline"].dropna(subset=["mean_tpot_ms", "p99_tpot_ms"])
    return pd.Series(tpot_tail(timed["p99_tpot_ms"], timed["mean_tpot_ms"]), index=timed.index)


def benchmark_tails(loadgen: pd.DataFrame, benchmarks: pd.Series) -> dict[str, float]:
    """Median p99/mean TPOT of each benchmark's latency-bound runs, at least :data:`MIN_TAIL`. ``benchmarks`` maps a
    row id to its benchmark (``data/mlperf_inference.csv``)."""
    tails = _timed_tails(loadgen)
    return {str(b): max(float(v), MIN_TAIL) for b, v in tails.groupby(benchmarks.reindex(tails.index)).median().items()}


def overall_tail(loadgen: pd.DataFrame) -> dict[str, float]:
    """Median, lowest and highest p99/mean TPOT over every latency-bound run (the fleet's default and its range)."""
    tails = np.maximum(_timed_tails(loadgen).to_numpy(), MIN_TAIL)
    return {"value": float(np.median(tails)), "low": float(np.min(tails)), "high": float(np.max(tails)), "runs": int(tails.size)}
