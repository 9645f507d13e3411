"""Goodput of a synchronous training job: failures, recovery, checkpoints, other badput, scheduling.

The package, all vectorized (scalars or numpy arrays of draws broadcast alike):

* :mod:`~analysis.goodput.failures`: interruption rates per GPU type and system (8-GPU HGX vs
  NVL72), early-life elevation, job-size scaling (Kokolis et al. 2024), correlated failures,
  the published reliability records and the Poisson-GLM rate estimate.
* :mod:`~analysis.goodput.recovery`: detection, node swap (hot spare or repair wait),
  re-initialization growing with job size, checkpoint restore, warm-up.
* :mod:`~analysis.goodput.checkpoint`: checkpoint size from the model, synchronous vs
  asynchronous write cost, Young (1974) / Daly (2006) interval.
* :mod:`~analysis.goodput.badput`: rollbacks, data loading, manual interventions, queueing (Google
  ml-goodput-measurement bucket names) and scheduling goodput.
* :mod:`~analysis.goodput.model`: the analytic model, :class:`GoodputResult` and
  :func:`from_scenario_values` (what the utilization chain calls).
* :mod:`~analysis.goodput.simulate`: the event simulation; :mod:`~analysis.goodput.validation`:
  published figures against the model; :mod:`~analysis.goodput.cli`: ``python -m analysis goodput``.
"""
from __future__ import annotations

import importlib

#: Where each public name lives. The package imports its modules on first use (PEP 562): the command line
#: (``python -m analysis ...`` registers the ``goodput`` subcommand from :mod:`~analysis.goodput.cli`) then starts
#: without ~2 s of scipy.stats; ``from analysis.goodput import X``, ``goodput.X`` and ``goodput.<module>`` work as before.
_EXPORTS = {
    "_util": ("SECONDS_PER_DAY", "SECONDS_PER_HOUR"),
    "badput": ("BUCKETS", "FACTOR_LABELS", "badput_factors", "scheduling_goodput"),
    "checkpoint": ("CHECKPOINT_MODES", "INTERVAL_METHODS", "checkpoint_bytes", "checkpoint_write_s", "model_parameters",
                   "young_daly_interval_s"),
    "failures": ("InterruptionRateEstimate", "early_life_multiplier", "estimate_from_reliability", "estimate_interruption_rate",
                 "failure_rate_gpus", "fleet_rate_per_gpu_hour", "gpu_profile", "interruption_rate_per_gpu_hour",
                 "load_failure_rates", "load_reliability", "node_failure_rate_per_1000_node_days", "per_gpu_rate_from_node_rate"),
    "model": ("FACTOR_NAMES", "MODELS", "PARAMETERS", "RUNTIME_FACTORS", "SCHEDULING_FACTORS", "GoodputResult",
              "effective_training_time", "effective_training_time_curve", "from_scenario_values", "implied_rate_per_gpu_hour",
              "interruptions_table", "interval_tradeoff", "job_interruptions_per_hour", "job_mtbf_s",
              "optimal_checkpoint_interval_s", "planned_maintenance_fraction", "runtime_factors"),
    "recovery": ("STALL_PARTS", "stall_components"),
    "simulate": ("SimulationResult", "analytic_vs_simulated", "analytic_vs_simulated_values", "simulate_effective_time"),
    "validation": ("benchmark", "divergence_summary", "load_references", "published_interruptions", "validation_table",
                   "what_must_be_true"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
SUBMODULES = ("_util", "badput", "checkpoint", "cli", "failures", "model", "recovery", "simulate", "validation")
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    elif name in SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_WHERE, *SUBMODULES})
