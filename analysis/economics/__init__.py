"""Lease versus rebuild: what a cluster is worth kept for training, leased out, or split into islands.

A package of one concern per module (issue 11):

* :mod:`~analysis.economics.finance` - discounting, NPV, IRR, payback, the capital recovery factor
  (its one home), taxes and the depreciation tax shield;
* :mod:`~analysis.economics.lease` - the S-1 contract: the fee allocated to Colossus 1 by rental
  value per GPU type or per GPU, market rents, the ramp; leased-out GPUs never rebuild capacity;
* :mod:`~analysis.economics.exit` - the lessee's exit as an option on a market-rent path;
* :mod:`~analysis.economics.options` - the options as incremental after-tax cash flows against keep;
* :mod:`~analysis.economics.adapter` - the scenario section, inputs from a scenario, decision outputs
  (break-even under both allocations, flip thresholds, tornado, probabilities across choices).

The scenario loader reads ``PARAMETERS`` and ``validate_section`` from this package.
"""
from analysis.economics.adapter import (FLIP_DRIVERS, npv_vs_lease_rate, OPTION_SETS, PARAMETERS, SECTIONS_USED, declared_options,  # noqa: F401
                                        derive_inputs, flip_thresholds, from_scenario, leased_successor_gpus,
                                        modelled_utilization, one_at_a_time, option_labels, rebuild_cluster, sensitivity,
                                        break_even_rate, exit_month_at_rate, lease_gap_at_rates, market_rent_band,
                                        rebuild_utilization,
                                        benchmark, validate_section)
from analysis.economics.exit import (exit_end_month, lessee_option_value_usd, market_index, paid_months)  # noqa: F401
from analysis.economics.finance import (HOURS_PER_MONTH, SECONDS_PER_HOUR, after_tax, capital_recovery_factor,  # noqa: F401
                                        combined_tax_rate, irr_annual, monthly_discount_factors, monthly_rate,
                                        net_book_value_fraction, npv_usd, payback_months, tax_depreciation_fractions)
from analysis.economics.lease import (ALLOCATIONS, allocation_share, c1_lease_usd_per_gpu_hour, covered_gpus,  # noqa: F401
                                      implied_lease_usd_per_gpu_hour, lease_survival, lessee_usd_per_million_tokens,
                                      load_market_rents, market_rent_usd_per_gpu_hour, ramp_fee_factors,
                                      rebuild_capacity_gpus)
from analysis.economics.options import (BASE, C2_COST_BASES, CORE_INPUTS, LEASE_START, OPTIONS, TEXT_INPUTS,  # noqa: F401
                                        OptionsResult, after_tax_flows, break_even_lease_usd_per_gpu_hour,
                                        cash_flow_components, check_inputs, compare_options,
                                        value_usd_per_useful_exaflop)


def format_usd_billions(value_usd, digits: int = 1) -> str:
    """``-5.4e9`` -> ``'-$5.4B'`` (kept for old notebooks; reports use :func:`analysis.report.format.usd`)."""
    import numpy as np
    v = float(np.mean(value_usd))
    return f"{'-' if v < 0 else ''}${abs(v) / 1e9:,.{digits}f}B"
