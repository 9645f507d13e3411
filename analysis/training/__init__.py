"""Training step model of one homogeneous GPU pool (issues 3 and 8).

Public API: :func:`run_from_file`, :func:`load_run`, :func:`evaluate_run`, :class:`StepResult`,
the vectorized core :func:`step_model` (scalars or numpy arrays, broadcasting),
:func:`best_configuration` (:class:`SearchResult`) and :func:`benchmark`. FLOP counts are in
:mod:`analysis.training.flops`, the layout rules in :mod:`analysis.training.layout`, software
stacks in :mod:`analysis.training.stacks`; the calibrated parameters are read by
:mod:`analysis.training.efficiency` and fitted by :mod:`analysis.training.fit` (on the runs of
:mod:`analysis.training.published`).
"""
from analysis.training.efficiency import Calibration, load_calibration
from analysis.training.flops import (RECOMPUTE_MODES, hardware_flops_per_token, model_flops_per_token,
                                     narayanan_hardware_flops_per_step, narayanan_model_flops_per_step, parameters)
from analysis.training.run import (RunConfig, StepResult, evaluate_run, load_run, parse_run, resolve_recompute,
                                   result_from_arrays, run_from_file)
from analysis.training.search import (SearchResult, benchmark, best_configuration, candidate_grid, layout_scaling,
                                       strong_scaling)
from analysis.training.step import (FACTOR_NAMES, FP8_RECIPES, GAIN_FACTORS, SCHEDULES, Efficiency, gemm_efficiency,
                                    gemm_time_s, pipeline_bubble_fraction, ring_time_s, step_model)

__all__ = ["layout_scaling", "strong_scaling", "SearchResult", "benchmark", "best_configuration", "candidate_grid",
           "RECOMPUTE_MODES", "FACTOR_NAMES", "GAIN_FACTORS", "FP8_RECIPES", "SCHEDULES", "Efficiency", "Calibration",
           "load_calibration", "RunConfig", "StepResult", "evaluate_run", "load_run", "parse_run", "resolve_recompute",
           "result_from_arrays", "run_from_file", "step_model", "gemm_efficiency", "gemm_time_s",
           "pipeline_bubble_fraction", "ring_time_s", "hardware_flops_per_token", "model_flops_per_token",
           "narayanan_hardware_flops_per_step", "narayanan_model_flops_per_step", "parameters"]
