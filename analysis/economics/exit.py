"""The lessee's exit as an option: market-rent paths, the exit rule, and what the option is worth.

Market rents follow a lognormal path per Monte Carlo draw (one common market index for every GPU
type, multiplied by each type's current rent from ``data/market_rents.csv``)::

    log index_t = drift x t / 12 + volatility x W(t / 12),   index_0 = 1

``drift`` is the median log change per year. History (``data/rental_rates.csv``): an H100 rented
for $7-12 in the 2023 scarcity, $2.99 on demand in 2024-10, $1.70 on a 1-year contract in 2025-10
and $2.35 in 2026-03 (SemiAnalysis); a B200 from $3.20 (early 2025) to $2.65 reserved (2026-03).
That is about -0.55/yr over 2023-26 and -0.15 to -0.2/yr since late 2024, with swings of +/-30%
within months (the parameters' ranges in ``data/parameters/economics.yaml``).

The rule (S-1: either side may leave on 90 days' notice after the first 3 months): the lessee
gives notice at the end of the first month m >= lock-in in which the contract's cost exceeds the
market value of the same capacity by more than the premium it accepted at signing, times
``1 + threshold``; the fee is paid through month ``m + notice``. Expressing the threshold against
the signing premium keeps the exit a property of the market path (a lessee that signed a rate
above index rents for a contiguous 300 MW block does not leave the day after it signed), so the
lease NPV stays linear in the contract rate and the break-even rate is exact.

After an exit, the freed GPUs earn what the market pays for them (``relet_fraction`` of the
market rent, :mod:`analysis.economics.options`). The option's value to the lessee is the present
value of what it saves by leaving: ``sum_{t > end} DF_t (fee_t - market value_t)``.
"""
from __future__ import annotations

import numpy as np

from analysis.economics.finance import monthly_discount_factors


def market_index(months: int, drift_per_year, volatility_per_year, normals=None) -> np.ndarray:
    """Market-rent index for months 0..``months`` (index_0 = 1), shape ``(..., months + 1)``.

    ``normals``: standard normal shocks of shape ``(..., months)`` (one per month and draw); None
    gives the median path ``exp(drift t / 12)``.
    """
    t = np.arange(int(months) + 1)
    drift = np.asarray(drift_per_year, dtype=float)[..., None]
    vol = np.asarray(volatility_per_year, dtype=float)[..., None]
    log_index = drift * t / 12.0
    if normals is not None:
        z = np.asarray(normals, dtype=float)
        walk = np.concatenate([np.zeros(z.shape[:-1] + (1,)), np.cumsum(z, axis=-1)], axis=-1) * np.sqrt(1.0 / 12.0)
        log_index = log_index + vol * walk
    return np.exp(log_index)


def exit_end_month(contract_usd, market_usd_path, lock_in_months, notice_months, threshold, signing_ratio=None):
    """Last month the lease pays (float, ``months`` when the lessee never leaves), vectorized.

    ``contract_usd``: the contract's cost per period (a rate or a monthly fee, scalar or per draw);
    ``market_usd_path``: the market value of the same capacity in the same unit, months 0..H on the
    last axis. Notice is given at the end of the first month m >= ``lock_in_months`` with
    ``contract / market_m > signing_ratio x (1 + threshold)`` (``signing_ratio`` defaults to
    ``contract / market_0``: the premium accepted at signing); the fee is paid through
    ``min(m + notice, H)``.
    """
    market = np.asarray(market_usd_path, dtype=float)
    months = market.shape[-1] - 1
    t = np.arange(months + 1)
    ratio = np.asarray(contract_usd, dtype=float)[..., None] / market
    base = ratio[..., :1] if signing_ratio is None else np.asarray(signing_ratio, dtype=float)[..., None]
    trigger = (ratio > base * (1.0 + np.asarray(threshold, dtype=float)[..., None])) & (t >= np.asarray(lock_in_months, dtype=float)[..., None])
    trigger = trigger & (t >= 1)
    any_exit = trigger.any(axis=-1)
    first = np.argmax(trigger, axis=-1).astype(float)
    end = np.minimum(first + np.asarray(notice_months, dtype=float), months)
    return np.where(any_exit, end, float(months))


def paid_months(months: int, end_month) -> np.ndarray:
    """1.0 for months 1..``end_month`` (the months the lease pays), else 0; shape ``(..., months + 1)``."""
    t = np.arange(int(months) + 1)
    return ((t >= 1) & (t <= np.asarray(end_month, dtype=float)[..., None])).astype(float)


def lessee_option_value_usd(fee_usd_path, market_usd_path, end_month, annual_rate):
    """Present value to the lessee of leaving at ``end_month`` instead of paying to the horizon:
    ``sum_{t > end} DF_t (fee_t - market_t)`` (market = what the same capacity costs elsewhere)."""
    fee = np.asarray(fee_usd_path, dtype=float)
    market = np.asarray(market_usd_path, dtype=float)
    months = np.broadcast_shapes(fee.shape, market.shape)[-1] - 1
    t = np.arange(months + 1)
    after = (t > np.asarray(end_month, dtype=float)[..., None]) & (t >= 1)
    return np.sum(monthly_discount_factors(annual_rate, months) * after * (fee - market), axis=-1)
