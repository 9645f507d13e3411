"""Cost: capex per pool, depreciation and cost of capital, opex, TCO per GPU-hour and $ per
useful training exaFLOP.

Per GPU of a pool (every function broadcasts over numpy arrays):

* **Capex** (:func:`capex_usd`): GPU price (``data/gpus.csv``) + non-GPU server/rack
  (``data/prices.csv``) + scale-out network of the fabric the pool actually uses
  (``data/fabrics.csv``: InfiniBand, Spectrum-X or RoCE Ethernet, matched from the pool's
  ``network`` key; Colossus runs Spectrum-X) + storage (per GPU) + facility: ``$ per MW of
  critical IT load x nameplate IT MW x facility cost fraction`` (Cushman & Wakefield 2025 define
  their $11.7M/MW per MW of critical load, excluding IT equipment, land and soft costs; a
  converted plant reuses its shell and site, ``data/facilities.csv``).
* **Capital charge**: the level annual payment that repays capex net of the present value of
  salvage at the cost of capital, ``(C - S/(1+r)^n) x CRF(r, n)`` with the capital recovery
  factor ``CRF = r(1+r)^n / ((1+r)^n - 1)`` (:func:`capital_recovery_factor`; the standard
  annuity formula of engineering economics, equal to ``numpy_financial.pmt``). It is
  split into straight-line depreciation ``(C - S)/n``
  (:func:`straight_line_depreciation_usd_per_year`) and the cost of capital (the rest), so the
  parts add up to the charge. IT and facility have their own lives.
* **Opex**: electricity at facility power at training load (:mod:`analysis.power`),
  maintenance as a fraction of capex, site staff per MW of critical IT load.

TCO per GPU-hour divides the annual total by 8,766 h (365.25 days): it is per *installed*
GPU-hour, whatever the GPU does. Cost per useful exaFLOP (:func:`usd_per_useful_exaflop`)
divides the cluster's TCO per hour by the useful FLOPs per hour, ``peak x utilization``,
where ``utilization`` is the fraction of the **BF16 dense** peak that becomes model FLOPs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import power as power_model
from analysis.catalog import Cluster, Column, validate_table
from analysis.errors import InputError, shown
from analysis.io import file_stamp
from analysis.memo import memoized
from analysis.params import Spec, one_at_a_time_columns, one_at_a_time_ends, require_keys
from analysis.paths import DATA_DIR
from analysis.economics.finance import capital_recovery_factor  # noqa: F401  (its one home; re-exported here)
from analysis.power import NETWORK_REFERENCE_GB_S, SECONDS_PER_HOUR, _check, _scalar

HOURS_PER_YEAR = 365.25 * 24

PARAMETERS: dict[str, Spec] = {
    "life_years": Spec("years", "straight-line depreciation life of IT equipment (GPUs, servers, network, storage)",
                       min=1, max=15),
    "facility_life_years": Spec("years", "depreciation life of the data-center building, power and cooling plant",
                                min=1, max=50),
    "wacc": Spec("per year", "cost of capital (weighted average, nominal)", min=0.0, max=0.5),
    "salvage_fraction": Spec("fraction of capex", "resale value of IT equipment at end of life", min=0.0, max=1.0),
    "electricity_usd_per_mwh": Spec("USD/MWh", "all-in electricity price at the facility meter", min=0.0, max=1000.0),
    "storage_capex_usd_per_gpu": Spec("USD per GPU", "storage systems per GPU", min=0.0, max=100000.0),
    "facility_capex_usd_per_mw": Spec("USD per MW", "data-center construction per MW of critical IT load",
                                      min=0.0, max=1e8),
    "maintenance_fraction_of_capex_per_year": Spec("fraction per year", "repairs, spares and support as a share of capex",
                                                   min=0.0, max=1.0),
    "staff_usd_per_mw_year": Spec("USD per MW-year", "site staff per MW of critical IT load", min=0.0, max=1e7),
    "price_position": Spec("0 low .. 1 high", "position of prices inside their sourced ranges (0.5 = central)",
                           min=0.0, max=1.0),
}

PRICE_COLUMNS = (
    Column("gpu"),
    Column("non_gpu_system_usd_per_gpu_low", Spec("USD", min=0)),
    Column("non_gpu_system_usd_per_gpu_central", Spec("USD", min=0)),
    Column("non_gpu_system_usd_per_gpu_high", Spec("USD", min=0)),
    Column("source"), Column("source_date"),
)


@lru_cache(maxsize=4)
def _load_prices_cached(path: str) -> pd.DataFrame:
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file.name}: file not found")
    df = validate_table(pd.read_csv(file, dtype={"gpu": str, "source_date": str}), PRICE_COLUMNS, file, key="gpu")
    for i, row in enumerate(df.itertuples(), start=2):
        if not row.non_gpu_system_usd_per_gpu_low <= row.non_gpu_system_usd_per_gpu_central <= row.non_gpu_system_usd_per_gpu_high:
            raise InputError(f"data/prices.csv row {i} (gpu={shown(row.gpu)}): non_gpu_system_usd_per_gpu low/central/high are not "
                             "ordered; need low <= central <= high")
    return df.set_index("gpu", drop=False)


def load_prices(path=None) -> pd.DataFrame:
    """Non-GPU system capex per GPU by GPU type (``data/prices.csv``), indexed by GPU id."""
    return _load_prices_cached(str(path or DATA_DIR / "prices.csv")).copy()


def load_rental_rates() -> pd.DataFrame:
    """Market rental rates ($ per GPU-hour) with kind, source and date (``data/rental_rates.csv``)."""
    path = DATA_DIR / "rental_rates.csv"
    columns = (Column("gpu"), Column("rate_usd_per_gpu_hour", Spec("USD/GPU-h", min=0, min_inclusive=False)), Column("kind"),
               Column("source"), Column("date"), Column("confidence"))
    df = pd.read_csv(path, dtype={"date": str})
    df["row"] = range(len(df))
    return validate_table(df, columns, path, key="row").drop(columns="row")


def load_capex_observations() -> pd.DataFrame:
    """Published all-in capex figures for cross-checks (``data/capex_observations.csv``)."""
    path = DATA_DIR / "capex_observations.csv"
    columns = (Column("item"), Column("value", Spec("USD", min=0)), Column("unit"), Column("scope"), Column("source"),
               Column("date"), Column("confidence"))
    return validate_table(pd.read_csv(path, dtype={"date": str}), columns, path, key="item").set_index("item", drop=False)


_RANGE_SPEC = Spec("USD per GPU", min=0, max=100000)
FABRIC_COLUMNS = (Column("fabric"), Column("match"), Column("network_capex_usd_per_gpu_low", _RANGE_SPEC),
                  Column("network_capex_usd_per_gpu_central", _RANGE_SPEC), Column("network_capex_usd_per_gpu_high", _RANGE_SPEC),
                  Column("source"), Column("date"))
_FRACTION_SPEC = Spec("fraction of greenfield", min=0, max=1.5)
FACILITY_COLUMNS = (Column("cluster"), Column("kind"), Column("facility_cost_fraction_low", _FRACTION_SPEC),
                    Column("facility_cost_fraction_central", _FRACTION_SPEC), Column("facility_cost_fraction_high", _FRACTION_SPEC),
                    Column("source"), Column("date"))
DEFAULT_FABRIC = "infiniband"


@lru_cache(maxsize=2)
def _fabrics(path: str) -> pd.DataFrame:
    return validate_table(pd.read_csv(path, dtype={"date": str}), FABRIC_COLUMNS, Path(path), key="fabric").set_index("fabric", drop=False)


def load_fabrics() -> pd.DataFrame:
    """Scale-out network capex per GPU at 400 Gb/s by fabric, low/central/high with source (``data/fabrics.csv``)."""
    return _fabrics(str(DATA_DIR / "fabrics.csv")).copy()


def fabric_of(network: str) -> str:
    """The fabric a pool's ``network`` text names (``"Spectrum-X RoCE (SN5600)"`` -> ``spectrum-x``): the first
    row of ``data/fabrics.csv`` with a ``match`` keyword in it, checked in the order Spectrum-X, InfiniBand, RoCE;
    an empty text falls back to InfiniBand, the reference price."""
    text = (network or "").lower()
    if not text.strip():
        return DEFAULT_FABRIC
    fabrics = load_fabrics()
    for fabric in ("spectrum-x", "infiniband", *[f for f in fabrics.index if f not in ("spectrum-x", "infiniband")]):
        if fabric in fabrics.index and any(k.strip() and k.strip() in text for k in fabrics.loc[fabric, "match"].split("|")):
            return fabric
    raise InputError(f"network: {shown(network)} names no fabric of data/fabrics.csv; known fabrics are {', '.join(fabrics.index)}")


@lru_cache(maxsize=2)
def _facilities(path: str) -> pd.DataFrame:
    return validate_table(pd.read_csv(path, dtype={"date": str}), FACILITY_COLUMNS, Path(path), key="cluster").set_index("cluster", drop=False)


def load_facilities() -> pd.DataFrame:
    """Facility cost per MW relative to a greenfield build, by cluster (``data/facilities.csv``)."""
    return _facilities(str(DATA_DIR / "facilities.csv")).copy()


def facility_cost_fraction(cluster_id: str, position=0.5):
    """Facility capex as a share of the greenfield $/MW for ``cluster_id`` at ``position`` in its
    sourced range (1 for a cluster not listed: greenfield)."""
    table = load_facilities()
    if cluster_id not in table.index:
        return np.ones_like(np.asarray(position, dtype=float))
    row = table.loc[cluster_id]
    return price_at_position(row.facility_cost_fraction_low, row.facility_cost_fraction_central,
                             row.facility_cost_fraction_high, position)


def facility_kind(cluster_id: str) -> str:
    table = load_facilities()
    return str(table.loc[cluster_id, "kind"]) if cluster_id in table.index else "greenfield"


def network_capex_usd_per_gpu(network: str, scale_out_gb_s_per_gpu, position=0.5):
    """Scale-out network capex per GPU of the pool's fabric at ``position``, scaled with its bandwidth
    per GPU against 400 Gb/s (``NETWORK_REFERENCE_GB_S``)."""
    row = load_fabrics().loc[fabric_of(network)]
    base = price_at_position(row.network_capex_usd_per_gpu_low, row.network_capex_usd_per_gpu_central,
                             row.network_capex_usd_per_gpu_high, position)
    return base * np.asarray(scale_out_gb_s_per_gpu, dtype=float) / NETWORK_REFERENCE_GB_S


def validate_section(values: dict, cluster: Cluster) -> None:
    """Every GPU type of the cluster needs a non-GPU system price row."""
    prices = load_prices()
    for pool in cluster.pools:
        if pool.gpu.id not in prices.index:
            raise InputError(f"cost: GPU {shown(pool.gpu.id)} of pool {shown(pool.name)} has no row in data/prices.csv; "
                             f"priced GPUs are {', '.join(prices.index)}")
        fabric_of(pool.network)


# --------------------------------------------------------------------------- building blocks
def price_at_position(low, central, high, position):
    """Piecewise-linear point in a sourced range: 0 -> low, 0.5 -> central, 1 -> high."""
    pos = _check("price_position", position, 0, 1)
    lo, mid, hi = (np.asarray(x, dtype=float) for x in (low, central, high))
    return np.where(pos <= 0.5, lo + (mid - lo) * pos / 0.5, mid + (hi - mid) * (pos - 0.5) / 0.5)


def capex_usd(gpus, gpu_price_usd, non_gpu_system_usd_per_gpu, network_capex_usd_per_gpu, storage_capex_usd_per_gpu,
              it_nameplate_mw, facility_capex_usd_per_mw) -> dict[str, np.ndarray]:
    """Capex of one pool (USD) by component.

    Returns ``{"gpu_usd", "system_usd", "network_usd", "storage_usd", "facility_usd", "it_usd", "total_usd"}``;
    ``it_usd`` is everything but the facility. Facility = ``$ per MW of critical IT load x
    it_nameplate_mw`` (Cushman & Wakefield, Data Center Development Cost Guide 2025).
    """
    n = _check("gpus", gpus, 0, None)
    parts = {
        "gpu_usd": n * _check("gpu_price_usd", gpu_price_usd, 0, None),
        "system_usd": n * _check("non_gpu_system_usd_per_gpu", non_gpu_system_usd_per_gpu, 0, None),
        "network_usd": n * _check("network_capex_usd_per_gpu", network_capex_usd_per_gpu, 0, None),
        "storage_usd": n * _check("storage_capex_usd_per_gpu", storage_capex_usd_per_gpu, 0, None),
        "facility_usd": _check("it_nameplate_mw", it_nameplate_mw, 0, None)
        * _check("facility_capex_usd_per_mw", facility_capex_usd_per_mw, 0, None),
    }
    parts["it_usd"] = parts["gpu_usd"] + parts["system_usd"] + parts["network_usd"] + parts["storage_usd"]
    parts["total_usd"] = parts["it_usd"] + parts["facility_usd"]
    return parts


def straight_line_depreciation_usd_per_year(capex_usd, life_years, salvage_fraction=0.0):
    """Straight-line depreciation (USD/year) = ``capex x (1 - salvage_fraction) / life_years``."""
    c = _check("capex_usd", capex_usd, 0, None)
    n = _check("life_years", life_years, 0, None, low_open=True)
    s = _check("salvage_fraction", salvage_fraction, 0, 1)
    return c * (1.0 - s) / n


def annual_capital_charge_usd(capex_usd, rate, life_years, salvage_fraction=0.0):
    """Level annual capital charge (USD/year): ``(C - S/(1+r)^n) x CRF(r, n)`` with ``S = salvage x C``.
    Equals straight-line depreciation at ``rate = 0``; the excess is the cost of capital."""
    c = _check("capex_usd", capex_usd, 0, None)
    s = c * _check("salvage_fraction", salvage_fraction, 0, 1)
    r = _check("rate", rate, 0, None)
    n = _check("life_years", life_years, 0, None, low_open=True)
    return (c - s / np.power(1.0 + r, n)) * capital_recovery_factor(r, n)


def tco_usd_per_gpu_hour(it_capex_usd_per_gpu, facility_capex_usd_per_gpu, facility_kw_per_gpu, it_nameplate_kw_per_gpu,
                         life_years, facility_life_years, wacc, salvage_fraction, electricity_usd_per_mwh,
                         maintenance_fraction_of_capex_per_year, staff_usd_per_mw_year) -> dict[str, np.ndarray]:
    """TCO per installed GPU-hour (USD) by component.

    Returns ``{"depreciation", "cost_of_capital", "electricity", "maintenance", "staff", "total"}``,
    each in USD per GPU-hour (``total`` is their sum):

    * depreciation: straight-line, IT over ``life_years`` (net of salvage) + facility over
      ``facility_life_years``;
    * cost of capital: annual capital charge (:func:`annual_capital_charge_usd`) minus depreciation;
    * electricity: ``facility_kw_per_gpu`` (at training load) x 8,766 h x price;
    * maintenance: fraction of (IT + facility) capex per year;
    * staff: per MW of critical IT load (``it_nameplate_kw_per_gpu``).
    """
    it = _check("it_capex_usd_per_gpu", it_capex_usd_per_gpu, 0, None)
    fac = _check("facility_capex_usd_per_gpu", facility_capex_usd_per_gpu, 0, None)
    kw = _check("facility_kw_per_gpu", facility_kw_per_gpu, 0, None)
    kw_it = _check("it_nameplate_kw_per_gpu", it_nameplate_kw_per_gpu, 0, None)
    dep = (straight_line_depreciation_usd_per_year(it, life_years, salvage_fraction)
           + straight_line_depreciation_usd_per_year(fac, facility_life_years, 0.0))
    charge = (annual_capital_charge_usd(it, wacc, life_years, salvage_fraction)
              + annual_capital_charge_usd(fac, wacc, facility_life_years, 0.0))
    per_year = {
        "depreciation": dep,
        "cost_of_capital": charge - dep,
        "electricity": kw / 1e3 * HOURS_PER_YEAR * _check("electricity_usd_per_mwh", electricity_usd_per_mwh, 0, None),
        "maintenance": (it + fac) * _check("maintenance_fraction_of_capex_per_year", maintenance_fraction_of_capex_per_year, 0, 1),
        "staff": kw_it / 1e3 * _check("staff_usd_per_mw_year", staff_usd_per_mw_year, 0, None),
    }
    out = {k: v / HOURS_PER_YEAR for k, v in per_year.items()}
    out["total"] = sum(out.values())
    return out


def usd_per_useful_exaflop(tco_usd_per_hour, peak_eflops_per_s, utilization):
    """USD per useful exaFLOP (1e18 model FLOPs) = TCO per hour / (peak x utilization x 3600 s).

    ``peak_eflops_per_s`` and ``utilization`` must refer to the same peak (BF16 dense here);
    cost scales as 1/utilization, so 11% against 40% is a 40/11 = 3.6x cost ratio."""
    c = _check("tco_usd_per_hour", tco_usd_per_hour, 0, None)
    peak = _check("peak_eflops_per_s", peak_eflops_per_s, 0, None, low_open=True)
    u = _check("utilization", utilization, 0, 1, low_open=True)
    return c / (peak * u * SECONDS_PER_HOUR)


# --------------------------------------------------------------------------- cluster
TCO_COMPONENTS = ("depreciation", "cost_of_capital", "electricity", "maintenance", "staff")
CAPEX_COMPONENTS = ("gpu_usd", "system_usd", "network_usd", "storage_usd", "facility_usd")


@dataclass(frozen=True)
class CostResult:
    """Cluster TCO. Totals are floats, or arrays when the values held draws; ``by_pool`` then
    holds means over the draws."""

    cluster_id: str
    by_pool: pd.DataFrame
    capex_usd: object
    capex_by_component_usd: dict
    total_usd_per_year: object
    tco_usd_per_hour: object
    tco_usd_per_gpu_hour: object
    tco_by_component_usd_per_hour: dict
    peak_eflops_bf16_dense: float
    gpus: float
    power: power_model.PowerResult = field(repr=False, default=None)

    def usd_per_useful_exaflop(self, utilization):
        """Cluster-average USD per useful exaFLOP at ``utilization`` of the BF16 dense peak."""
        return usd_per_useful_exaflop(self.tco_usd_per_hour, self.peak_eflops_bf16_dense, utilization)

    def fabric_table(self) -> pd.DataFrame:
        """Fabric and facility per pool with their network and facility capex per GPU (and sources)."""
        fabrics = load_fabrics()
        t = self.by_pool[["pool", "gpu", "fabric", "network_usd_per_gpu", "facility_usd_per_gpu"]].copy()
        t["fabric_source"] = t["fabric"].map(fabrics["source"])
        t["facility"] = facility_kind(self.cluster_id)
        facilities = load_facilities()
        t["facility_source"] = facilities.loc[self.cluster_id, "source"] if self.cluster_id in facilities.index else \
            "greenfield: Cushman & Wakefield Data Center Development Cost Guide 2025"
        return t

    def tco_by_gpu(self) -> pd.Series:
        """TCO per GPU-hour by GPU type (USD), plus the GPU-weighted cluster ``blend``."""
        by_gpu = self.by_pool.groupby("gpu", sort=False).apply(
            lambda t: float((t["tco_usd_per_gpu_hour"] * t["gpus"]).sum() / t["gpus"].sum()), include_groups=False)
        return pd.concat([by_gpu, pd.Series({"blend": _scalar(self.tco_usd_per_gpu_hour)})]).rename("tco_usd_per_gpu_hour")

    def to_dict(self) -> dict:
        out = {"cluster": self.cluster_id, "gpus": float(self.gpus), "capex_usd": _scalar(self.capex_usd),
               "capex_usd_per_gpu": _scalar(self.capex_usd) / self.gpus,
               "total_usd_per_year": _scalar(self.total_usd_per_year), "tco_usd_per_hour": _scalar(self.tco_usd_per_hour),
               "tco_usd_per_gpu_hour": _scalar(self.tco_usd_per_gpu_hour),
               "peak_eflops_bf16_dense": float(self.peak_eflops_bf16_dense)}
        out.update({f"capex_{k}": _scalar(v) for k, v in self.capex_by_component_usd.items()})
        out.update({f"{k}_usd_per_hour": _scalar(v) for k, v in self.tco_by_component_usd_per_hour.items()})
        out["tco_usd_per_gpu_hour_by_gpu"] = {row["gpu"]: float(row["tco_usd_per_gpu_hour"]) for row in self.by_pool.to_dict("records")}
        return out

    def summary(self) -> str:
        d = self.to_dict()
        lines = [f"Cost of cluster {self.cluster_id} ({d['gpus']:,.0f} GPUs)",
                 f"  capex                        {d['capex_usd'] / 1e9:10,.2f} $B  ({d['capex_usd_per_gpu']:,.0f} $/GPU all-in)",
                 f"  TCO                          {d['total_usd_per_year'] / 1e9:10,.2f} $B/year",
                 f"  TCO per GPU-hour (blended)   {d['tco_usd_per_gpu_hour']:10,.2f} $"]
        for row in self.by_pool.itertuples():
            lines.append(f"    {row.pool:10s} ({row.gpu}) {row.tco_usd_per_gpu_hour:14,.2f} $/GPU-h, capex {row.capex_usd_per_gpu:,.0f} $/GPU")
        for ref in power_model.load_utilization_references().itertuples():
            lines.append(f"  $ per useful exaFLOP at {ref.utilization:.1%} ({ref.label}) {_scalar(self.usd_per_useful_exaflop(ref.utilization)):8,.3f}")
        return "\n".join(lines)


def _cost_values(values: dict) -> dict:
    return require_keys("cost", values, PARAMETERS)


@memoized(maxsize=16)   # every option, draw set and sweep point prices the same successor
def cluster_tco(cluster: Cluster, power_values: dict, cost_values: dict, load_fraction=None) -> CostResult:
    """Capex and TCO of every pool of ``cluster`` (``scenario.values("power")`` and
    ``scenario.values("cost")``; entries may be arrays of draws). Electricity is priced at the
    facility power of :func:`analysis.power.cluster_power` at the training load."""
    v = _cost_values(cost_values)
    validate_section(v, cluster)
    prices = load_prices()
    pw = power_model.cluster_power(cluster, power_values, load_fraction=load_fraction)
    pue = power_values["pue"]
    rows = []
    capex_tot = {k: 0.0 for k in (*CAPEX_COMPONENTS, "total_usd")}
    tco_tot = {k: 0.0 for k in (*TCO_COMPONENTS, "total")}
    for pool in cluster.pools:
        g, n = pool.gpu, pool.gpus
        pr = prices.loc[g.id]
        common = dict(gpus=n, tdp_w=g.tdp_w, system_power_kw=g.system_power_kw, system_gpus=g.system_gpus,
                      scale_out_gb_s_per_gpu=pool.scale_out_gb_s_per_gpu.value,
                      idle_fraction=power_values["gpu_idle_fraction"], network_w_per_gpu=power_values["network_w_per_gpu"],
                      storage_w_per_gpu=power_values["storage_w_per_gpu"])
        load = power_values["gpu_load_fraction"] if load_fraction is None else load_fraction
        it_at_load_mw = power_model.it_power_mw(load_fraction=load, host_load_fraction=power_values["host_load_fraction"], **common)["it_mw"]
        it_nameplate_mw = power_model.it_power_mw(load_fraction=1.0, host_load_fraction=1.0, **common)["it_mw"]
        gpu_price = price_at_position(g.price_usd_low, g.price_usd_central, g.price_usd_high, v["price_position"])
        system_price = price_at_position(pr.non_gpu_system_usd_per_gpu_low, pr.non_gpu_system_usd_per_gpu_central,
                                         pr.non_gpu_system_usd_per_gpu_high, v["price_position"])
        network = network_capex_usd_per_gpu(pool.network, pool.scale_out_gb_s_per_gpu.value, v["price_position"])
        facility_per_mw = v["facility_capex_usd_per_mw"] * facility_cost_fraction(cluster.id, v["price_position"])
        cap = capex_usd(n, gpu_price, system_price, network, v["storage_capex_usd_per_gpu"], it_nameplate_mw, facility_per_mw)
        per_gpu = max(n, 1e-12)
        tco = tco_usd_per_gpu_hour(
            it_capex_usd_per_gpu=cap["it_usd"] / per_gpu, facility_capex_usd_per_gpu=cap["facility_usd"] / per_gpu,
            facility_kw_per_gpu=power_model.facility_power_mw(it_at_load_mw, pue) * 1e3 / per_gpu,
            it_nameplate_kw_per_gpu=it_nameplate_mw * 1e3 / per_gpu, life_years=v["life_years"],
            facility_life_years=v["facility_life_years"], wacc=v["wacc"], salvage_fraction=v["salvage_fraction"],
            electricity_usd_per_mwh=v["electricity_usd_per_mwh"],
            maintenance_fraction_of_capex_per_year=v["maintenance_fraction_of_capex_per_year"],
            staff_usd_per_mw_year=v["staff_usd_per_mw_year"])
        for k in (*CAPEX_COMPONENTS, "total_usd"):
            capex_tot[k] = capex_tot[k] + cap[k]
        for k in (*TCO_COMPONENTS, "total"):
            tco_tot[k] = tco_tot[k] + tco[k] * n
        rows.append({"pool": pool.name, "gpu": g.id, "gpus": n, "fabric": fabric_of(pool.network),
                     **{f"{k[:-4]}_usd_per_gpu": _scalar(cap[k]) / per_gpu for k in CAPEX_COMPONENTS},
                     "capex_usd_per_gpu": _scalar(cap["total_usd"]) / per_gpu, "capex_usd": _scalar(cap["total_usd"]),
                     **{f"{k}_usd_per_gpu_hour": _scalar(tco[k]) for k in TCO_COMPONENTS},
                     "tco_usd_per_gpu_hour": _scalar(tco["total"]),
                     "tco_usd_per_gpu_year": _scalar(tco["total"]) * HOURS_PER_YEAR,
                     "peak_eflops_bf16_dense": n * g.bf16_tflops_dense / 1e6,
                     "tco_usd_per_peak_pflop_hour": _scalar(tco["total"]) / (g.bf16_tflops_dense / 1e3)})
    gpus = cluster.gpus
    return CostResult(
        cluster_id=cluster.id, by_pool=pd.DataFrame(rows), capex_usd=capex_tot["total_usd"],
        capex_by_component_usd={k: capex_tot[k] for k in CAPEX_COMPONENTS},
        total_usd_per_year=tco_tot["total"] * HOURS_PER_YEAR, tco_usd_per_hour=tco_tot["total"],
        tco_usd_per_gpu_hour=tco_tot["total"] / gpus,
        tco_by_component_usd_per_hour={k: tco_tot[k] for k in TCO_COMPONENTS},
        peak_eflops_bf16_dense=pw.peak_eflops_bf16_dense, gpus=gpus, power=pw)


def cost_vs_utilization(result: CostResult, utilizations) -> pd.DataFrame:
    """USD per useful exaFLOP over a utilization grid (fraction of the BF16 dense peak)."""
    u = _check("utilizations", utilizations, 0, 1, low_open=True)
    return pd.DataFrame({"utilization": u, "usd_per_useful_exaflop": result.usd_per_useful_exaflop(u)})


# --------------------------------------------------------------------------- comparisons for the report
def compare_utilization(result: CostResult, utilization, reference_utilization) -> dict:
    """Cost per useful exaFLOP at ``utilization`` against a ``reference_utilization`` (same peak).

    ``excess_usd_per_year`` is the part of the annual TCO that buys no useful FLOPs compared with
    an operator at the reference: ``TCO x (1 - u / u_ref)`` (zero when u >= u_ref)."""
    u = _check("utilization", utilization, 0, 1, low_open=True)
    ref = _check("reference_utilization", reference_utilization, 0, 1, low_open=True)
    at_u, at_ref = result.usd_per_useful_exaflop(u), result.usd_per_useful_exaflop(ref)
    excess = result.total_usd_per_year * np.maximum(0.0, 1.0 - u / ref)
    return {"utilization": _scalar(u), "reference_utilization": _scalar(ref), "usd_per_useful_exaflop": _scalar(at_u),
            "usd_per_useful_exaflop_reference": _scalar(at_ref), "cost_ratio": _scalar(at_u / at_ref),
            "excess_usd_per_year": _scalar(excess), "total_usd_per_year": _scalar(result.total_usd_per_year)}


def capex_cross_check(result: CostResult) -> pd.DataFrame:
    """Modelled capex against published all-in figures (``data/capex_observations.csv``) that
    apply to this cluster: per GPU of a type (``gpu:<id>``), the cluster itself
    (``cluster:<id>``), or per GW of facility capacity (nameplate facility power)."""
    obs = load_capex_observations()
    pools = result.by_pool
    rows = []
    for o in obs.itertuples():
        modelled = np.nan
        if o.scope.startswith("gpu:") and o.scope[4:] in set(pools["gpu"]):
            t = pools[pools["gpu"] == o.scope[4:]]
            modelled = float(t["capex_usd"].sum() / t["gpus"].sum())
        elif o.scope == f"cluster:{result.cluster_id}":
            modelled = _scalar(result.capex_usd)
        elif o.scope == "per GW" and result.power is not None:
            modelled = _scalar(result.capex_usd) / (_scalar(result.power.facility_nameplate_mw) / 1e3)
        if np.isfinite(modelled):
            rows.append({"observation": o.item, "unit": o.unit, "published": float(o.value), "modelled": modelled,
                         "modelled_to_published": modelled / float(o.value), "source": o.source, "date": o.date})
    return pd.DataFrame(rows)


def load_tco_estimates() -> pd.DataFrame:
    """Published estimates of an owned GPU's TCO per GPU-hour with basis and source (``data/tco_estimates.csv``)."""
    return _load_tco_estimates(file_stamp(DATA_DIR / "tco_estimates.csv")).copy()


@lru_cache(maxsize=4)
def _load_tco_estimates(stamp: tuple) -> pd.DataFrame:
    path = Path(stamp[0])
    columns = (Column("gpu"), Column("tco_usd_per_gpu_hour", Spec("USD/GPU-h", min=0, min_inclusive=False, max=100)),
               Column("basis"), Column("source"), Column("date"), Column("confidence"))
    df = pd.read_csv(path, dtype={"date": str})
    df["row"] = range(len(df))
    return validate_table(df, columns, path, key="row").drop(columns="row")


def compare_public_tco(result: CostResult, estimates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Modelled owned TCO per GPU-hour of each GPU type next to published estimates for the same type
    (``modelled_to_published`` > 1: the model is dearer), plus one ``range`` row per type with the
    published low and high."""
    estimates = load_tco_estimates() if estimates is None else estimates
    tco = result.tco_by_gpu()
    out = estimates[estimates["gpu"].isin(tco.index)].copy()
    out["modelled_tco_usd_per_gpu_hour"] = out["gpu"].map(tco)
    out["modelled_to_published"] = out["modelled_tco_usd_per_gpu_hour"] / out["tco_usd_per_gpu_hour"]
    return out.reset_index(drop=True)


def compare_rates(result: CostResult, rates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Market rental rates next to the modelled TCO of the same GPU type (``blend`` rows compare
    with the cluster's GPU-weighted TCO). ``rate_to_tco`` > 1 means the rate covers the TCO."""
    rates = load_rental_rates() if rates is None else rates
    tco = result.tco_by_gpu()
    out = rates[rates["gpu"].isin(tco.index)].copy()
    out["modelled_tco_usd_per_gpu_hour"] = out["gpu"].map(tco)
    out["rate_to_tco"] = out["rate_usd_per_gpu_hour"] / out["modelled_tco_usd_per_gpu_hour"]
    return out.reset_index(drop=True)


def sensitivity(scenario, utilization, sections: tuple[str, ...] = ("power", "cost")) -> pd.DataFrame:
    """One-at-a-time sensitivity of USD per useful exaFLOP at ``utilization``: each ranged
    parameter of ``sections`` set to its low and then its high, the others central.
    Returns a frame indexed by ``section.key`` with columns low, high, base.

    All cases are one vectorized :func:`cluster_tco` call (:func:`analysis.params.one_at_a_time_columns`).
    """
    central = {s: scenario.values(s) for s in ("power", "cost")}
    cases = [(section, key, param) for section in sections for key, param in scenario.params[section].items()
             if param.has_range]
    columns = one_at_a_time_columns({f"{s}.{k}": central[s][k] for s, k, _ in cases},
                                    [(f"{s}.{k}", p.low, p.high) for s, k, p in cases])
    values = {s: dict(v) for s, v in central.items()}
    for section, key, _ in cases:
        values[section][key] = columns[f"{section}.{key}"]
    base, at_low, at_high = one_at_a_time_ends(
        cluster_tco(scenario.cluster, values["power"], values["cost"]).usd_per_useful_exaflop(utilization), len(cases))
    rows = {f"{section}.{key}": {"low": float(at_low[i]), "high": float(at_high[i]), "base": base}
            for i, (section, key, _) in enumerate(cases)}
    return pd.DataFrame(rows, index=["low", "high", "base"]).T
