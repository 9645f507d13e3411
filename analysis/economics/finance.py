"""Finance primitives: discounting, NPV, IRR, payback, capital recovery, taxes and depreciation.

Conventions (every function broadcasts over numpy arrays; a leading axis holds Monte Carlo draws,
the last axis months where a function says so):

* cash flows are monthly, month 0 is the start (capital and one-off costs), months 1..H are
  end-of-month flows, discounted at ``(1 + r_annual) ** (1 / 12) - 1`` per month (the
  ``numpy_financial.npv`` convention with a monthly rate; Brealey-Myers-Allen, *Principles of
  Corporate Finance*, ch. 2: NPV = sum C_t / (1 + r)^t);
* the capital recovery factor ``CRF(r, n) = r (1 + r)^n / ((1 + r)^n - 1)`` lives here and only
  here (:mod:`analysis.cost` levelizes capex with it);
* taxes: a combined federal + state rate on taxable income (state tax deductible federally,
  ``t = t_fed + t_state (1 - t_fed)``), with the depreciation tax shield ``t x D_t`` of an
  investment; the taxpayer is assumed to have other taxable income, so an incremental loss
  saves tax in the same month (a consolidated group, as xAI is inside SpaceX).
"""
from __future__ import annotations

import numpy as np
import numpy_financial as npf

from analysis.errors import InputError, shown
from analysis.params import check_range as _in_range

HOURS_PER_MONTH = 365.25 * 24 / 12          # 730.5 h, as in the derived S-1 rate (reference Sec. 1f)
SECONDS_PER_HOUR = 3600.0

# IRS Publication 946 (2024), Table A-1: MACRS 5-year property (computers and peripherals,
# asset class 00.12), half-year convention, 200% declining balance, per tax year.
MACRS_5_YEAR = (0.20, 0.32, 0.192, 0.1152, 0.1152, 0.0576)
TAX_DEPRECIATION_METHODS = ("macrs5", "straight_line", "bonus100")


# --------------------------------------------------------------------------- discounting
def monthly_rate(annual_rate):
    """Monthly rate equivalent to an annual rate: ``(1 + r) ** (1 / 12) - 1``."""
    return np.power(1.0 + np.asarray(annual_rate, dtype=float), 1.0 / 12.0) - 1.0


def monthly_discount_factors(annual_rate, months: int) -> np.ndarray:
    """Discount factors for months 0..``months``: ``(1 + r_m) ** -t``; shape ``(..., months + 1)``.

    Read-only: the options model asks for the same factors hundreds of times per scenario (every
    step of the break-even search), so the last few are kept, keyed by the rates' bytes."""
    rate = np.asarray(annual_rate, dtype=float)
    key = (rate.shape, rate.tobytes(), int(months))
    hit = _DISCOUNT_CACHE.get(key)
    if hit is None:
        t = np.arange(int(months) + 1)
        hit = np.power(1.0 + monthly_rate(rate)[..., None], -t)
        hit.flags.writeable = False
        if len(_DISCOUNT_CACHE) >= 8:
            _DISCOUNT_CACHE.pop(next(iter(_DISCOUNT_CACHE)))
        _DISCOUNT_CACHE[key] = hit
    return hit


_DISCOUNT_CACHE: dict[tuple, np.ndarray] = {}


def npv_usd(cash_flows_usd_per_month, annual_rate) -> np.ndarray:
    """Net present value of monthly cash flows (last axis = months 0..H), vectorized over draws.
    ``values[0]`` is not discounted (as ``numpy_financial.npv(monthly_rate, values)``)."""
    flows = np.asarray(cash_flows_usd_per_month, dtype=float)
    return np.sum(flows * monthly_discount_factors(annual_rate, flows.shape[-1] - 1), axis=-1)


def irr_annual(cash_flows_usd_per_month) -> np.ndarray | float:
    """Internal rate of return, annualized ``(1 + irr_m) ** 12 - 1``, from monthly flows.

    ``numpy_financial.irr`` row by row along a leading axis (point estimates or a few draws).
    NaN when the flows never change sign: without an investment there is no rate of return.
    """
    flows = np.asarray(cash_flows_usd_per_month, dtype=float)

    def one(row):
        if not (np.any(row > 0) and np.any(row < 0)):
            return np.nan
        r_m = npf.irr(row)
        return np.nan if not np.isfinite(r_m) else (1.0 + r_m) ** 12 - 1.0

    if flows.ndim == 1:
        return float(one(flows))
    return np.apply_along_axis(one, -1, flows)


def payback_months(cash_flows_usd_per_month, annual_rate=None) -> np.ndarray:
    """First month at which the cumulative (discounted, when ``annual_rate`` is given) cash flow
    turns non-negative and stays so; NaN if it never does within the horizon. Vectorized."""
    flows = np.asarray(cash_flows_usd_per_month, dtype=float)
    if annual_rate is not None:
        flows = flows * monthly_discount_factors(annual_rate, flows.shape[-1] - 1)
    cum = np.cumsum(flows, axis=-1)
    ok = cum >= 0
    # the last month from which every later cumulative value is >= 0
    stays = np.flip(np.logical_and.accumulate(np.flip(ok, axis=-1), axis=-1), axis=-1)
    first = np.argmax(stays, axis=-1).astype(float)
    return np.where(stays[..., -1], first, np.nan)


# --------------------------------------------------------------------------- capital recovery
def capital_recovery_factor(rate, years):
    """Capital recovery factor ``r(1+r)^n / ((1+r)^n - 1)``: the level annual payment per $ of
    capital over ``years`` at ``rate`` (annuity formula, = ``numpy_financial.pmt``); ``1/n`` at 0."""
    r = _in_range("rate", rate, 0, None)
    n = _in_range("years", years, 0, None, low_open=True)
    growth = np.power(1.0 + r, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, r * growth / (growth - 1.0), 1.0 / n)


def net_book_value_fraction(age_months, life_years, salvage_fraction=0.0):
    """Straight-line book value as a share of capex at ``age_months``:
    ``1 - (1 - salvage) * min(age / life, 1)`` (the depreciation of :mod:`analysis.cost`)."""
    used = np.clip(np.asarray(age_months, dtype=float) / (12.0 * np.asarray(life_years, dtype=float)), 0.0, 1.0)
    return 1.0 - (1.0 - np.asarray(salvage_fraction, dtype=float)) * used


# --------------------------------------------------------------------------- taxes
def combined_tax_rate(federal_rate, state_rate):
    """Combined marginal rate with state tax deductible federally: ``f + s (1 - f)``
    (21% federal, IRC Sec. 11(b), plus Tennessee's 6.5% excise tax gives 26.1%)."""
    f = _in_range("federal_tax_rate", federal_rate, 0, 1)
    s = _in_range("state_tax_rate", state_rate, 0, 1)
    return f + s * (1.0 - f)


def tax_depreciation_fractions(method: str, months: int, life_years=5.0) -> np.ndarray:
    """Share of an investment's cost deducted for tax in each month 0..``months`` (shape ``(months + 1,)``).

    * ``macrs5``: IRS Pub. 946 Table A-1, 5-year property, half-year convention; each tax year's
      share spread evenly over its 12 months, starting in month 1;
    * ``straight_line``: ``1 / (12 * life_years)`` a month from month 1;
    * ``bonus100``: 100% bonus depreciation (IRC Sec. 168(k)) deducted in month 1.
    """
    t = np.arange(int(months) + 1)
    out = np.zeros(int(months) + 1)
    if method == "macrs5":
        year = (t - 1) // 12
        inside = (t >= 1) & (year < len(MACRS_5_YEAR))
        out[inside] = np.asarray(MACRS_5_YEAR)[year[inside]] / 12.0
    elif method == "straight_line":
        life_m = 12.0 * float(life_years)
        out[(t >= 1) & (t <= life_m)] = 1.0 / life_m
    elif method == "bonus100":
        if months >= 1:
            out[1] = 1.0
    else:
        raise InputError(f"tax_depreciation: {shown(method)} is not allowed; use one of {', '.join(TAX_DEPRECIATION_METHODS)}")
    return out


def after_tax(operating_usd, tax_rate):
    """After-tax operating cash flow ``(1 - t) x operating`` (a loss saves tax, see module notes)."""
    return (1.0 - np.asarray(tax_rate, dtype=float)) * np.asarray(operating_usd, dtype=float)
