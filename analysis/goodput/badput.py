"""Other badput and scheduling goodput, with the bucket names of Google's ml-goodput-measurement.

Google's library (AI-Hypercomputer/ml-goodput-measurement, ``BadputType``) splits lost time into
TPU_INITIALIZATION, TRAINING_PREP, PROGRAM_STARTUP, DATA_LOADING_SYNC, UNPRODUCTIVE_CHECKPOINT_SAVE_TIME,
UNPRODUCTIVE_CHECKPOINT_RESTORE_TIME, WASTED_PROGRESS_FROM_DISRUPTION,
INFRASTRUCTURE_RECOVERY_FROM_DISRUPTION, CUSTOM_BADPUT_EVENTS and OTHER. :data:`BUCKETS` maps every
factor of this model to one of them. The factors of this module:

* **rollbacks** (CUSTOM_BADPUT_EVENTS): loss spikes or silent data corruption found late force a
  rollback to an earlier checkpoint, losing ``rollback_lost_h`` of training each; the rate grows
  with GPUs (SDC is a per-device event): ``rollbacks_per_million_gpu_hours × N / 10^6`` per hour.
* **data loading** (DATA_LOADING_SYNC): share of step time the input pipeline blocks.
* **manual interventions** (OTHER): stops that need people (Llama 3: 3 in 54 days), each
  ``manual_intervention_h`` long.
* **queueing** (scheduling): share of wall time the job waits for its allocation.

Scheduling goodput (Google Cloud blog 2024-04-10) is the share of a cluster's GPUs that run the
job: ``(1 − spares)(1 − repair)(1 − fragmentation)``.
"""
from __future__ import annotations

import numpy as np

from analysis.goodput._util import arr as _arr, fraction as _fraction, out as _out

BUCKETS = {
    "spares": "scheduling", "repair": "scheduling", "fragmentation": "scheduling",
    "checkpoint_save": "UNPRODUCTIVE_CHECKPOINT_SAVE_TIME",
    "lost_work": "WASTED_PROGRESS_FROM_DISRUPTION",
    "detection": "INFRASTRUCTURE_RECOVERY_FROM_DISRUPTION",
    "node_swap": "INFRASTRUCTURE_RECOVERY_FROM_DISRUPTION",
    "reinitialization": "TPU_INITIALIZATION / TRAINING_PREP",
    "checkpoint_restore": "UNPRODUCTIVE_CHECKPOINT_RESTORE_TIME",
    "warm_up": "PROGRAM_STARTUP",
    "planned_maintenance": "CUSTOM_BADPUT_EVENTS",
    "rollbacks": "CUSTOM_BADPUT_EVENTS",
    "data_loading": "DATA_LOADING_SYNC",
    "manual_interventions": "OTHER",
    "queueing": "scheduling",
}
FACTOR_LABELS = {
    "spares": "Spare GPUs held outside the job", "repair": "GPUs in nodes out for repair",
    "fragmentation": "GPUs the layout cannot use", "checkpoint_save": "Checkpoint save (blocking)",
    "lost_work": "Work lost since the last checkpoint", "detection": "Failure detection (heartbeat / hang timeout)",
    "node_swap": "Diagnosis and node swap", "reinitialization": "Job re-initialization",
    "checkpoint_restore": "Checkpoint restore", "warm_up": "Warm-up after restart",
    "planned_maintenance": "Planned maintenance stops", "rollbacks": "Rollbacks (loss spikes, silent data corruption)",
    "data_loading": "Data-loader stalls", "manual_interventions": "Manual interventions", "queueing": "Queueing",
}
BADPUT_FACTORS = ("rollbacks", "data_loading", "manual_interventions", "queueing")


def scheduling_goodput(spare_fraction, repair_fraction, fragmentation_fraction):
    """Share of the cluster's GPUs running the job: (1 − spares)(1 − repair)(1 − fragmentation).

    Google's "scheduling goodput" (Cloud blog 2024-04-10) is the share of time all resources a
    job needs are available; here the same loss is expressed as idle GPUs of a cluster that runs
    one job: warm spares, nodes in repair, and GPUs the parallel layout cannot use.
    """
    return _out((1 - _fraction("spare_fraction", spare_fraction)) * (1 - _fraction("repair_fraction", repair_fraction))
                * (1 - _fraction("fragmentation_fraction", fragmentation_fraction)))


def badput_factors(gpus, rollbacks_per_million_gpu_hours=0.28, rollback_lost_h=1.0, data_loading_stall_fraction=0.005,
                   manual_interventions_per_day=0.056, manual_intervention_h=2.0, queueing_fraction=0.0) -> dict:
    """``{rollbacks, data_loading, manual_interventions, queueing}`` factors in [0, 1] (module doc)."""
    n = _arr("gpus", gpus, 0.0, inclusive=False)
    rollbacks_per_h = _arr("rollbacks_per_million_gpu_hours", rollbacks_per_million_gpu_hours) * n / 1e6
    out = {"rollbacks": np.clip(1 - rollbacks_per_h * _arr("rollback_lost_h", rollback_lost_h), 0, 1),
           "data_loading": 1 - _fraction("data_loading_stall_fraction", data_loading_stall_fraction),
           "manual_interventions": np.clip(1 - _arr("manual_interventions_per_day", manual_interventions_per_day)
                                           * _arr("manual_intervention_h", manual_intervention_h) / 24, 0, 1),
           "queueing": 1 - _fraction("queueing_fraction", queueing_fraction)}
    shape = np.broadcast_shapes(*(np.shape(v) for v in out.values()))
    return {k: _out(np.broadcast_to(v, shape)) for k, v in out.items()}
