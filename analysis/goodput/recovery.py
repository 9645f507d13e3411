"""Recovery from one interruption, decomposed; each part a sourced parameter with a stated growth.

Stall of an unplanned interruption (seconds), the parts in the order they happen:

* **detection**: fail-stop faults are seen by heartbeats / health checks within
  ``heartbeat_detection_s``; hangs only when a collective times out (``hang_timeout_s``; the
  PyTorch NCCL process-group default is 10 min). Mean ``(1 - h) heartbeat + h timeout`` with ``h``
  the share of hangs. Independent of job size.
* **node swap** (diagnosis and replacement): with a hot spare, ``hot_spare_swap_s``; without,
  ``repair_wait_s``. A spare is free unless all ``S`` spare nodes are out for repair; with node
  failures arriving at ``Λ`` per hour and ``node_repair_h`` hours per repair the number out is
  Poisson with mean ``a = Λ × node_repair_h`` (an M/G/∞ queue), so
  ``P(spare) = P(Poisson(a) ≤ S − 1)``. More spares shorten the mean swap.
* **re-initialization** (container start, rendezvous, NCCL communicators): ``restart_s`` at the
  reference job of 16,384 GPUs, growing as ``(N / 16,384)^g`` with ``g = reinit_growth_exponent``.
* **checkpoint restore**: checkpoint bytes / storage read bandwidth (synchronous checkpoints) or
  from host memory of the surviving replicas (asynchronous in-memory checkpoints).
* **warm-up**: slower first steps after a restart (compilation caches, data-loader refill).

A planned stop (maintenance) saves a checkpoint first and skips detection and the swap:
re-initialization + restore + warm-up. The work lost since the last checkpoint is not a stall;
it is a factor of the analytic model (Daly 2006).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import poisson

from analysis.goodput._util import REFERENCE_JOB_GPUS, arr as _arr, fraction as _fraction, out as _out

STALL_PARTS = ("detection", "node_swap", "reinitialization", "checkpoint_restore", "warm_up")
PLANNED_PARTS = ("reinitialization", "checkpoint_restore", "warm_up")


def detection_s(heartbeat_detection_s=30.0, hang_fraction=0.1, hang_timeout_s=600.0):
    """Mean detection latency ``(1 - h) heartbeat + h timeout`` (s)."""
    h = _fraction("hang_fraction", hang_fraction, upper_inclusive=True)
    return _out((1 - h) * _arr("heartbeat_detection_s", heartbeat_detection_s) + h * _arr("hang_timeout_s", hang_timeout_s))


def hot_spare_probability(spare_nodes, node_failures_per_hour, node_repair_h=24.0):
    """``P(Poisson(Λ × repair_h) ≤ S − 1)``: a hot spare is free when a node fails (0 without spares)."""
    s = np.floor(_arr("spare_nodes", spare_nodes, 0.0))
    a = _arr("node_failures_per_hour", node_failures_per_hour, 0.0) * _arr("node_repair_h", node_repair_h, 0.0)
    return _out(np.where(s >= 1, poisson.cdf(s - 1, np.maximum(a, 1e-300)), 0.0))


def node_swap_s(p_spare, hot_spare_swap_s=120.0, repair_wait_s=3600.0):
    """Mean diagnosis + replacement time: ``p hot_spare + (1 - p) repair_wait`` (s)."""
    p = _fraction("p_spare", p_spare, upper_inclusive=True)
    return _out(p * _arr("hot_spare_swap_s", hot_spare_swap_s) + (1 - p) * _arr("repair_wait_s", repair_wait_s))


def reinitialization_s(gpus, restart_s=120.0, reinit_growth_exponent=0.5):
    """``restart_s × (N / 16,384)^g``: job re-launch and communicator set-up (s)."""
    n = _arr("gpus", gpus, 0.0, inclusive=False)
    return _out(_arr("restart_s", restart_s) * (n / REFERENCE_JOB_GPUS) ** _arr("reinit_growth_exponent", reinit_growth_exponent))


def restore_s(size_bytes, gpus, mode="sync", storage_read_gb_s=2000.0, snapshot_gb_s_per_gpu=25.0):
    """Checkpoint load time (s): ``bytes / storage read`` (sync) or ``bytes / (N × host copy)`` (async in-memory)."""
    size = _arr("checkpoint_bytes", size_bytes, 0.0, inclusive=False)
    if mode == "async":
        n = _arr("gpus", gpus, 0.0, inclusive=False)
        return _out(size / (n * _arr("snapshot_gb_s_per_gpu", snapshot_gb_s_per_gpu, 0.0, inclusive=False) * 1e9))
    return _out(size / (_arr("storage_read_gb_s", storage_read_gb_s, 0.0, inclusive=False) * 1e9) + 0 * np.asarray(gpus, float))


def stall_components(gpus, job_interruptions_per_hour, size_bytes, spare_gpus, gpus_per_node=8.0, mode="sync",
                     heartbeat_detection_s=30.0, hang_fraction=0.1, hang_timeout_s=600.0, hot_spare_swap_s=120.0,
                     repair_wait_s=3600.0, node_repair_h=24.0, restart_s=120.0, reinit_growth_exponent=0.5,
                     storage_read_gb_s=2000.0, snapshot_gb_s_per_gpu=25.0, warmup_s=60.0) -> dict:
    """``{detection, node_swap, reinitialization, checkpoint_restore, warm_up, p_hot_spare}`` (seconds, probability)."""
    spare_nodes = _arr("spare_gpus", spare_gpus) / _arr("gpus_per_node", gpus_per_node, 0.0, inclusive=False)
    p = hot_spare_probability(spare_nodes, job_interruptions_per_hour, node_repair_h)
    return {"detection": detection_s(heartbeat_detection_s, hang_fraction, hang_timeout_s),
            "node_swap": node_swap_s(p, hot_spare_swap_s, repair_wait_s),
            "reinitialization": reinitialization_s(gpus, restart_s, reinit_growth_exponent),
            "checkpoint_restore": restore_s(size_bytes, gpus, mode, storage_read_gb_s, snapshot_gb_s_per_gpu),
            "warm_up": _out(_arr("warmup_s", warmup_s) + 0 * np.asarray(gpus, float)),
            "p_hot_spare": p}
