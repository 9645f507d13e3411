"""Thin re-export of the v1 calibration API (kept so existing imports keep working).

The calibration now lives in :mod:`analysis.training`: :mod:`analysis.training.efficiency` reads
data/calibration.yaml, :mod:`analysis.training.fit` fits it over data/modern_runs.yaml and
data/published_runs.csv and is its only writer, :mod:`analysis.training.published` loads the
runs. Nothing in :mod:`analysis.training` imports this module (no import cycle).
"""
from analysis.training.efficiency import CALIBRATION_PATH, Calibration, load_calibration  # noqa: F401
from analysis.training.fit import (FITTED, FIXED, PRIORS, CalibrationResult, default_calibration, error_table, fit,  # noqa: F401
                                   leave_one_out, leave_one_source_out, predict, prediction_interval, scaling_fit_curve,
                                   scaling_regression, stored_fit, validated_fit, write_calibration)
from analysis.training.published import (RUNS_PATH, calibration_runs, load_modern_runs, load_published_runs,  # noqa: F401
                                         published_mfu, run_config)
