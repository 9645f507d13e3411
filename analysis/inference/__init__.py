"""Inference capacity: serving throughput per GPU type under latency targets, fleet tokens per
day, $ per million input and output tokens; validated on MLPerf Inference.

The package, one concern per module:

* :mod:`~analysis.inference.parameters` -- the ``inference`` scenario section (specs, sourced
  defaults) and MLPerf's named latency presets (offline, server, interactive);
* :mod:`~analysis.inference.roofline` -- one replica: prefill compute-bound, decode bound by HBM
  bandwidth, KV-cache capacity or communication, the batch set by TTFT/TPOT targets; dense tensor
  parallelism or wide expert parallelism, MLA, prefix caching, disaggregation, speculative decoding;
* :mod:`~analysis.inference.fleet` -- replicas sized per pool, the fleet (one vectorized function
  for a point estimate and Monte Carlo draws), costs against API list prices;
* :mod:`~analysis.inference.serve` -- the serving-file schema behind ``python -m analysis inference``;
* :mod:`~analysis.inference.loadgen` -- MLPerf's loadgen logs: measured TPOT tails, TTFT, requests in flight;
* :mod:`~analysis.inference.calibration` -- MLPerf rows, the fit of the efficiencies, leave-one-out, and the model's
  operating point against the loadgen logs;
* :mod:`~analysis.inference.peers` -- the same engine on two GPU types: what MLPerf's paired rows measure (offline
  capacity) and what they do not (the load a submitter scheduled).
"""
from analysis.inference.parameters import (ATTENTION_TYPES, KV_PRECISIONS, PARAMETERS, PRECISION_BYTES, SCENARIOS,
                                           SERVING_MODES, SLO_PRESETS, SLO_SOURCE, WEIGHT_PRECISIONS, _defaults,
                                           default_values, slo_preset, validate_section)
from analysis.inference.roofline import (BOUNDS, LIMITS, Throughput, kv_bytes_per_token, replica_throughput,
                                         tokens_per_step, touched_weight_fraction, usd_per_million_tokens)
from analysis.inference.fleet import (REPLICA_SIZES, SECONDS_PER_DAY, FleetResult, api_comparison,
                                      api_usd_per_million_output_tokens, batch_vs_context, benchmark, best_replica,
                                      cost_comparison, decode_roofline, fleet, fleet_capacity, fleet_draws,
                                      fleet_sensitivity, gpu_table, latency_curve, lessee_lease, load_api_prices, model_kwargs,
                                      price_table, scenario_comparison, serving_precision, with_lessee_lease, with_slo)
from analysis.inference.serve import SERVE_DIR, SERVE_KEYS, ServeResult, ServeSpec, evaluate_serve, parse_serve, run_from_file, serve_variants
from analysis.inference.loadgen import benchmark_tails, load_loadgen, requests_in_flight, tpot_tail
from analysis.inference.calibration import (FIT_PARAMETERS, calibrate, calibration_sweep, h200_over_h100, load_mlperf,
                                            kv_implied_prompts, measured_tails, mlperf_predictions, operating_point_accuracy,
                                            operating_points, prefill_shares, router_reading_errors, router_readings,
                                            stored_fit, stored_validation, validation)
from analysis.inference.peers import gpu_pair_summary, gpu_pairs

__all__ = [name for name in dir() if not name.startswith("__")]
