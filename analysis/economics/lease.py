"""The lease contract: the S-1 fee, its allocation to Colossus 1, the ramp, and market rents.

The SpaceX S-1 Cloud Services Agreement charges $1.25B a month through May 2029 for ~325,000
GPUs across Colossus I **and** II (amended S-1, 2026-06-01; reference Sec. 1f). Colossus 1's
share of the fee is a modelling choice (``economics.lease_allocation``), both shown:

``per_gpu``
    every covered GPU carries the same rate: ``fee / (GPUs covered x 730.5 h)`` = $5.27;
``rental_value``
    the fee is split in proportion to the market rent of each GPU type (``data/market_rents.csv``):
    a GB200 rents at about twice an H100, so Colossus 1 (150k H100, 50k H200, 30k GB200) carries
    less than its share of GPUs (about $4.4-4.5 per GPU-hour at the central rents).

The GPUs the contract covers beyond Colossus 1 are Colossus 2 GPUs (``leased_rebuild_gpu``,
GB200 per Anthropic's use of Colossus 2 GB200 capacity from June 2026): they are leased out, so
they are never counted as capacity for rebuilding the training (:func:`rebuild_capacity_gpus`).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import Column, validate_table
from analysis.economics.finance import HOURS_PER_MONTH, SECONDS_PER_HOUR
from analysis.errors import InputError, shown
from analysis.params import Spec
from analysis.paths import DATA_DIR

ALLOCATIONS = ("rental_value", "per_gpu")
ALLOCATION_LABELS = {"rental_value": "by rental value per GPU type", "per_gpu": "per GPU"}

_RENT_COLUMNS = (
    Column("gpu"),
    Column("rent_usd_per_gpu_hour_low", Spec("USD/GPU-h", min=0, min_inclusive=False, max=100)),
    Column("rent_usd_per_gpu_hour_central", Spec("USD/GPU-h", min=0, min_inclusive=False, max=100)),
    Column("rent_usd_per_gpu_hour_high", Spec("USD/GPU-h", min=0, min_inclusive=False, max=100)),
    Column("kind"), Column("source"), Column("date"),
)


@lru_cache(maxsize=2)
def _market_rents(path: str) -> pd.DataFrame:
    df = validate_table(pd.read_csv(path, dtype={"gpu": str, "date": str}), _RENT_COLUMNS, Path(path), key="gpu")
    for row in df.itertuples():
        if not row.rent_usd_per_gpu_hour_low <= row.rent_usd_per_gpu_hour_central <= row.rent_usd_per_gpu_hour_high:
            raise InputError(f"data/market_rents.csv (gpu={shown(row.gpu)}): rent low/central/high are not ordered; need low <= central <= high")
    return df.set_index("gpu", drop=False)


def load_market_rents(path=None) -> pd.DataFrame:
    """Market rent per GPU type, low / central / high USD per GPU-hour with source (``data/market_rents.csv``)."""
    return _market_rents(str(path or DATA_DIR / "market_rents.csv")).copy()


def market_rent_usd_per_gpu_hour(gpu_id: str, position=0.5):
    """Market rent of ``gpu_id`` at ``position`` in its sourced range (0 low, 0.5 central, 1 high;
    piecewise linear, as :func:`analysis.cost.price_at_position`). Broadcasts over ``position``."""
    rents = load_market_rents()
    if gpu_id not in rents.index:
        raise InputError(f"gpu: {shown(gpu_id)} has no row in data/market_rents.csv; rents exist for {', '.join(rents.index)}")
    r = rents.loc[gpu_id]
    pos = np.clip(np.asarray(position, dtype=float), 0.0, 1.0)
    lo, mid, hi = r.rent_usd_per_gpu_hour_low, r.rent_usd_per_gpu_hour_central, r.rent_usd_per_gpu_hour_high
    return np.where(pos <= 0.5, lo + (mid - lo) * pos / 0.5, mid + (hi - mid) * (pos - 0.5) / 0.5)


def implied_lease_usd_per_gpu_hour(lease_usd_per_month, gpus_covered):
    """Rate per GPU-hour implied by a monthly fee: ``fee / (GPUs x 730.5 h)`` (reference Sec. 1f:
    $1.25B / (325k x 730.5) = $5.27; $7.78 if only 220k GPUs are covered)."""
    return np.asarray(lease_usd_per_month, dtype=float) / (np.asarray(gpus_covered, dtype=float) * HOURS_PER_MONTH)


def covered_gpus(c1_gpus_by_type: dict, gpus_covered, leased_rebuild_gpu: str) -> dict:
    """GPUs the contract covers by (site, type): Colossus 1's pools plus the rest of ``gpus_covered``
    as ``leased_rebuild_gpu`` on the successor cluster (none when the contract covers no more than
    Colossus 1). Returns ``{"c1": {gpu: n}, "c2": {gpu: n}}``; values broadcast over draws."""
    c1_total = float(sum(c1_gpus_by_type.values()))
    extra = np.maximum(np.asarray(gpus_covered, dtype=float) - c1_total, 0.0)
    return {"c1": dict(c1_gpus_by_type), "c2": {leased_rebuild_gpu: extra}}


def allocation_share(covered: dict, rents_by_gpu: dict, allocation: str):
    """Colossus 1's share of the fee: by GPU count (``per_gpu``) or by market rental value
    ``sum_c1 N_g r_g / sum_all N_g r_g`` (``rental_value``). Broadcasts over draws."""
    if allocation not in ALLOCATIONS:
        raise InputError(f"economics.lease_allocation: {shown(allocation)} is not allowed; use one of {', '.join(ALLOCATIONS)}")
    weight = (lambda g: 1.0) if allocation == "per_gpu" else (lambda g: np.asarray(rents_by_gpu[g], dtype=float))
    c1 = sum(np.asarray(n, dtype=float) * weight(g) for g, n in covered["c1"].items())
    c2 = sum(np.asarray(n, dtype=float) * weight(g) for g, n in covered["c2"].items())
    return c1 / (c1 + c2)


def c1_lease_usd_per_gpu_hour(lease_usd_per_month, covered: dict, rents_by_gpu: dict, allocation: str):
    """Colossus 1's lease rate per GPU-hour under ``allocation``: ``fee x share / (C1 GPUs x 730.5 h)``."""
    c1_gpus = float(sum(covered["c1"].values()))
    share = allocation_share(covered, rents_by_gpu, allocation)
    return np.asarray(lease_usd_per_month, dtype=float) * share / (c1_gpus * HOURS_PER_MONTH)


def rebuild_capacity_gpus(successor_gpus, leased_out_gpus):
    """Successor GPUs free to rebuild the training: its GPUs minus those leased out (never negative)."""
    return np.maximum(np.asarray(successor_gpus, dtype=float) - np.asarray(leased_out_gpus, dtype=float), 0.0)


def ramp_fee_factors(months: int, ramp_months, ramp_fee_fraction) -> np.ndarray:
    """Fee in month t as a share of the full fee (t = 0..months; month 0 carries no fee).
    The first ``ramp_months`` months (fractional allowed) pay ``ramp_fee_fraction``."""
    t = np.arange(int(months) + 1)
    in_ramp = np.clip(np.asarray(ramp_months, dtype=float)[..., None] - (t - 1), 0.0, 1.0)
    factor = 1.0 - in_ramp * (1.0 - np.asarray(ramp_fee_fraction, dtype=float)[..., None])
    return np.where(t == 0, 0.0, factor)


def lease_survival(months: int, termination_probability_per_year, lock_in_months, notice_months) -> np.ndarray:
    """Probability that a lease with a constant exit hazard still pays in month t (the v1 model,
    kept as a comparison for the exit option of :mod:`analysis.economics.exit`):
    ``S(t) = (1 - h) ** max(0, t - notice - lock_in)``, ``h = 1 - (1 - p_year) ** (1/12)``."""
    t = np.arange(int(months) + 1)
    p = np.asarray(termination_probability_per_year, dtype=float)[..., None]
    h = 1.0 - np.power(1.0 - p, 1.0 / 12.0)
    chances = np.clip(t - np.asarray(notice_months, dtype=float)[..., None] - np.asarray(lock_in_months, dtype=float)[..., None], 0.0, None)
    return np.power(1.0 - h, chances)


def lessee_usd_per_million_tokens(lease_usd_per_gpu_hour, tokens_per_s_per_gpu, load_fraction=1.0):
    """The lessee's cost of serving: ``rate / (tokens/s x 3600 x load) x 1e6`` USD per million tokens."""
    tokens_per_hour = np.asarray(tokens_per_s_per_gpu, dtype=float) * SECONDS_PER_HOUR * np.asarray(load_fraction, dtype=float)
    if np.any(tokens_per_hour <= 0):
        raise InputError(f"tokens_per_s_per_gpu x load_fraction: {np.min(tokens_per_hour) / SECONDS_PER_HOUR:g} is not positive; expected > 0 tokens/s")
    return np.asarray(lease_usd_per_gpu_hour, dtype=float) / tokens_per_hour * 1e6
