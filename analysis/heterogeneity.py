"""One synchronous training job across pools of different GPU types.

Three ways to run a mixed cluster (pools ``i`` with ``gpus_i`` GPUs, each GPU of pool ``i``
processing ``rate_i`` tokens/s when the pool trains on its own):

* **uniform split** (stock Megatron-LM / DeepSpeed): every worker gets the same work, so a
  synchronous step waits for the slowest type and the layout must fit the smallest HBM and
  the smallest NVLink domain. Throughput = ``sum(gpus) * min(rate)`` (Whale, ATC'22; Sailor,
  arXiv 2504.17096: "assume homogeneous GPUs").
* **heterogeneity-aware split** (HetPipe ATC'20, Metis ATC'24, FlashFlex/HexiScale arXiv
  2409.01143, Sailor SOSP'25): work proportional to speed, so ideally
  ``sum(gpus_i * rate_i)``, less what integer granularity (whole micro-batches or layers)
  and imperfect planning leave. Published results reach within 0.3-11.6% of a homogeneous
  cluster of equal peak at <= a few hundred GPUs; nothing is published at >= 10k GPUs.
* **islands**: one job per pool. No pacing loss and nothing mixed, but no job is larger than
  its pool.

What the aware planner loses is booked on the **cross-type share** of the job only (work whose
step couples GPU types: asymmetric pipeline stages, cross-type collectives). Each type's own MFU
difference is its step model, not a planning loss. The planning efficiency is calibrated on
HexiScale's published gap to a homogeneous cluster of equal peak (arXiv 2409.01143v2: "as low as
0.3%, an average of 3.5%"; v1: within 0.30% without and 11.61% with RDMA on the homogeneous side)
on two-type testbeds of roughly equal FLOP shares (cross-type share ~0.5): see
:func:`planning_efficiency_from_gap`. Metis (ATC'24: 1.05-8.43x over heterogeneity-unaware
plans) and Sailor (SOSP'25) report speed-ups over baselines, not a gap to homogeneous, so they
bound the direction, not the level.

Plus the straggler tail *within* a GPU type (slow hosts, thermal variation): the job runs at
the pace of its slowest host (MegaScale NSDI'24 Sec. 6.3: ~0.5% of hosts substantially
slower; ByteDance OSDI'25: 10.4% of GPU-hours lost to stragglers; Llama 3 Sec. 3.3.4:
1-2% diurnal DVFS variation).

All functions are pure and broadcast: pool quantities sit on the **last** axis, so a
``(draws, pools)`` array evaluates many Monte Carlo draws at once.
"""
from __future__ import annotations

import numpy as np

from analysis.params import Spec

PARAMETERS = {
    "slow_host_fraction": Spec("fraction of hosts", "share of hosts that run measurably slower than their peers", min=0, max=0.2),
    "slow_host_slowdown": Spec("fraction", "extra step time of a slow host (0.1 = 10% slower)", min=0, max=1),
    "straggler_mitigation": Spec("fraction", "share of the straggler loss removed by detection and eviction", min=0, max=1),
    "aware_planning_efficiency": Spec("fraction", "heterogeneity-aware split: throughput of the cross-type share of the job vs "
                                      "each type's own, beyond integer granularity (planner error, cross-type collectives)",
                                      min=0, max=1, min_inclusive=False),
    "aware_work_units": Spec("units per replica", "integer work units (micro-batches) a heterogeneity-aware planner divides "
                             "among GPU types inside one replica", min=1, max=100_000, integer=True),
}


def uniform_split_throughput(gpus, rate_per_gpu):
    """Tokens/s of one job giving every GPU the same work: ``sum(gpus) * min(rate)``.

    Args:
        gpus: GPUs per pool, shape ``(..., pools)``.
        rate_per_gpu: tokens/s per GPU of each pool under the job's (common) layout, same shape.
    """
    gpus, rate = np.asarray(gpus, float), np.asarray(rate_per_gpu, float)
    return gpus.sum(axis=-1) * rate.min(axis=-1)


def pacing_factor(gpus, rate_per_gpu):
    """Share of the pools' own throughput a uniform split keeps: ``N * min(r) / sum(n_i r_i)``, in (0, 1]."""
    gpus, rate = np.asarray(gpus, float), np.asarray(rate_per_gpu, float)
    return uniform_split_throughput(gpus, rate) / (gpus * rate).sum(axis=-1)


def peak_share_factor(gpus, peak_tflops, slowest_index=None):
    """Share of cluster peak a uniform split can use when the slowest type sets the pace,
    counted in peak: ``N * peak_slowest / sum(n_i * peak_i)``. Equal to :func:`pacing_factor`
    when every type reaches the same MFU."""
    gpus, peak = np.asarray(gpus, float), np.asarray(peak_tflops, float)
    slowest = peak.min(axis=-1) if slowest_index is None else np.take(peak, slowest_index, axis=-1)
    return gpus.sum(axis=-1) * slowest / (gpus * peak).sum(axis=-1)


def proportional_split(units, rate_per_gpu):
    """Integer work units per GPU type that minimise the step time ``max(u_i / r_i)``.

    Every type keeps at least one unit; each further unit goes to the type that would finish
    it first (greedy on ``(u_i + 1) / r_i``, which is optimal for this min-max problem).
    ``units`` (scalar or array broadcasting against the leading axes) is the number of
    micro-batches one replica divides; pools are on the last axis of ``rate_per_gpu``.
    The loop runs over units (tens), never over draws.
    """
    rate = np.asarray(rate_per_gpu, float)
    units = np.broadcast_to(np.rint(np.asarray(units, float)), rate.shape[:-1])
    split = np.ones(rate.shape, dtype=int)
    for step in range(int(units.max(initial=0)) - rate.shape[-1]):
        active = units - rate.shape[-1] > step
        choice = np.argmin((split + 1) / rate, axis=-1)
        np.put_along_axis(split, choice[..., None], np.take_along_axis(split, choice[..., None], axis=-1) + active[..., None], axis=-1)
    return split


def granularity_efficiency(units, rate_per_gpu):
    """Throughput of an integer proportional split relative to the ideal continuous one, in (0, 1].

    With ``u_i`` units on type ``i`` the step takes ``max(u_i / r_i)``; the ideal takes
    ``units / sum(r_i)``. Finer work units (more micro-batches) approach 1.
    """
    rate = np.asarray(rate_per_gpu, float)
    split = proportional_split(units, rate)
    actual = (split / rate).max(axis=-1)
    ideal = split.sum(axis=-1) / rate.sum(axis=-1)
    return ideal / actual


def aware_split_throughput(gpus, rate_per_gpu, planning_efficiency, work_units, uniform_rate_per_gpu=None):
    """Tokens/s of a heterogeneity-aware planner: the better of its proportional split
    (``sum(n_i r_i) * granularity * planning``) and the uniform split it also considers
    (Metis and Sailor search over plans that include the homogeneous one), so it is never
    below :func:`uniform_split_throughput` at ``uniform_rate_per_gpu`` (default ``rate_per_gpu``)."""
    gpus, rate = np.asarray(gpus, float), np.asarray(rate_per_gpu, float)
    proportional = (gpus * rate).sum(axis=-1) * granularity_efficiency(work_units, rate) * np.asarray(planning_efficiency, float)
    uniform = uniform_split_throughput(gpus, rate if uniform_rate_per_gpu is None else uniform_rate_per_gpu)
    return np.maximum(proportional, uniform)


def cross_type_share(weight):
    """Share of a job's work that couples GPU types: ``1 - sum(w_i^2)`` for peak shares ``w_i``
    (pools on the last axis), the chance that two units of work drawn by peak sit on different
    types. 0 for one type; 0.5 for two types of equal peak; 0.59 for Colossus 1's 150k H100 /
    50k H200 / 30k GB200."""
    w = np.asarray(weight, float)
    w = w / np.maximum(w.sum(axis=-1, keepdims=True), 1e-300)
    return 1.0 - (w ** 2).sum(axis=-1)


def aware_planning_factor(planning_efficiency, cross_share):
    """Throughput a heterogeneity-aware planner keeps: ``1 - (1 - eta) * cross_share``; the loss
    applies only to the cross-type share of the job (1 for a homogeneous job)."""
    return 1.0 - (1.0 - np.asarray(planning_efficiency, float)) * np.asarray(cross_share, float)


def planning_efficiency_from_gap(gap, cross_share=0.5):
    """Planning efficiency ``eta`` that reproduces a published MFU gap to a homogeneous cluster
    of equal peak on a testbed whose cross-type share is ``cross_share``:
    ``eta = 1 - gap / cross_share`` (the inverse of :func:`aware_planning_factor`)."""
    return 1.0 - np.asarray(gap, float) / np.asarray(cross_share, float)


def straggler_factor_beyond(hosts, calibration_hosts, slow_host_fraction, slow_host_slowdown, mitigation=0.0):
    """Straggler pace of a job of ``hosts`` hosts relative to the calibration runs' own
    (``calibration_hosts``): ``min(1, f(hosts) / f(calibration_hosts))`` with ``f`` =
    :func:`straggler_factor`. The step model is calibrated on published MFUs that already include
    the stragglers of their scale (Llama 3 at 2,048 hosts), so only the extra exposure counts."""
    ratio = straggler_factor(hosts, slow_host_fraction, slow_host_slowdown, mitigation) / \
        straggler_factor(calibration_hosts, slow_host_fraction, slow_host_slowdown, mitigation)
    return np.minimum(1.0, ratio)


def straggler_factor(hosts, slow_host_fraction, slow_host_slowdown, mitigation=0.0):
    """Expected pace of a synchronous job of ``hosts`` hosts relative to all-healthy hosts.

    A step waits for the slowest host: if any of the ``hosts`` is slow (probability
    ``1 - (1 - p)^hosts``) the step takes ``1 + slowdown`` times as long. ``mitigation`` is
    the share of that loss removed by detecting and evicting slow hosts (MegaScale Sec. 6.3).

    Returns a factor in (0, 1]; equals 1 for ``p = 0`` or ``slowdown = 0``.
    """
    hosts, p = np.asarray(hosts, float), np.asarray(slow_host_fraction, float)
    slowdown, mitigation = np.asarray(slow_host_slowdown, float), np.asarray(mitigation, float)
    p_any_slow = 1.0 - np.power(1.0 - p, hosts)
    unmitigated = 1.0 / (1.0 + p_any_slow * slowdown)
    return 1.0 - (1.0 - unmitigated) * (1.0 - mitigation)
