"""Power: bottom-up IT and facility power per pool, with Epoch AI's method as a cross-check.

The chain, per pool of one GPU type (every function broadcasts over numpy arrays):

* GPU draw between idle and TDP: ``P_gpu = TDP * (idle + (1 - idle) * load)``
  (:func:`gpu_power_w`). Epoch AI measured an H100 at its 700 W TDP already at 70% FLOP/s
  utilization, and NVIDIA's DGX SuperPOD H100 design guide (Table 4) plans average = peak for
  DGX H100 under AI load (both cited in epoch-research/training-cost-trends ``energy.py``).
* Host (CPUs, memory, NICs, NVSwitch trays, fans, PSU losses): the server's or rack's
  maximum minus its GPUs' TDP, from ``data/gpus.csv`` (DGX H100 10.2 kW for 8 x 700 W; GB200
  NVL72 ~120 kW for 72 x 1,200 W), times ``host_load_fraction`` (:func:`host_power_w_per_gpu`).
* Scale-out network (switches and optics outside the servers), per GPU at 400 Gb/s and
  scaled linearly with the pool's scale-out bandwidth (:func:`network_power_w_per_gpu`).
* Storage, per GPU.

Their sum is IT power (:func:`it_power_mw`); facility power is IT x PUE
(:func:`facility_power_mw`, PUE as defined by The Green Grid: facility / IT energy).
Epoch AI's estimate ``TDP x chips x 1.82 x PUE`` (:func:`epoch_method_mw`) is computed beside
it: 1.82 = (10.2 kW / 8) / 0.7 kW is the DGX H100 server-to-GPU power ratio
(epoch-research/training-cost-trends, ``energy.py``, ``chip_to_server_power``).

Units: W per GPU for components, MW for pools and clusters, EFLOP/s = 1e18 FLOP/s of **BF16
dense** peak unless stated, and a "useful exaFLOP" is 1e18 FLOP of model FLOPs (the MFU
numerator, PaLM 2022 appendix B), not hardware FLOPs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.catalog import Cluster, load_utilization_references  # noqa: F401  (re-exported for cost and notebooks)
from analysis.errors import InputError, shown
from analysis.memo import memoized
from analysis.params import Spec, require_keys
from analysis.params import check_range as _check
from analysis.scenario import section_draws  # noqa: F401  (notebooks call power.section_draws)

#: Epoch AI's chip-to-server power multiplier for NVIDIA GPUs: DGX H100 10.2 kW / 8 GPUs / 0.7 kW.
EPOCH_SERVER_OVERHEAD = 10.2 / 8 / 0.7
#: Scale-out bandwidth (GB/s per GPU) at which ``network_w_per_gpu`` is quoted: one 400 Gb/s port.
NETWORK_REFERENCE_GB_S = 50.0
SECONDS_PER_HOUR = 3600.0
EFLOP = 1e18

PARAMETERS: dict[str, Spec] = {
    "pue": Spec("facility/IT", "power usage effectiveness: facility power / IT power", min=1.0, max=3.0),
    "gpu_load_fraction": Spec("fraction", "average GPU draw during training on the idle->TDP scale (0 idle, 1 TDP)",
                              min=0.0, max=1.0),
    "gpu_idle_fraction": Spec("fraction of TDP", "GPU draw when idle (e.g. a stalled synchronous job)",
                              min=0.0, max=1.0),
    "host_load_fraction": Spec("fraction", "non-GPU server/rack draw as a fraction of its maximum "
                               "(system max power minus GPU TDP)", min=0.0, max=1.0),
    "network_w_per_gpu": Spec("W per GPU", "scale-out switches and optics per GPU at 400 Gb/s per GPU; "
                              "scaled linearly with the pool's scale-out bandwidth", min=0.0, max=2000.0),
    "storage_w_per_gpu": Spec("W per GPU", "storage servers and their network, per GPU", min=0.0, max=1000.0),
}


def validate_section(values: dict, cluster: Cluster) -> None:
    """Cross-checks beyond the per-key bounds: an idle GPU draws less than at TDP, and every
    pool's GPU has a system power (needed for host power)."""
    if values["gpu_idle_fraction"] >= 1:
        raise InputError(f"power.gpu_idle_fraction: {values['gpu_idle_fraction']:g} is not below 1; "
                         "expected idle draw as a fraction of TDP in [0, 1)")
    for pool in cluster.pools:
        if not np.isfinite(pool.gpu.system_power_kw):
            raise InputError(f"power: GPU {shown(pool.gpu.id)} of pool {shown(pool.name)} has no system_power_kw in data/gpus.csv; "
                             "the bottom-up power model needs the server/rack maximum power")


# --------------------------------------------------------------------------- input checks


# --------------------------------------------------------------------------- components
def gpu_power_w(tdp_w, load_fraction, idle_fraction):
    """Average GPU board power (W) at ``load_fraction`` on a linear idle->TDP scale.

    ``P = TDP * (idle + (1 - idle) * load)``: 0 is idle, 1 is TDP. A linear idle-to-peak line is
    the usual first-order power model (Barroso & Hoelzle, "The Case for Energy-Proportional
    Computing", IEEE Computer 2007); training near full MFU sits close
    to TDP (Epoch AI H100 measurement in epoch-research/training-cost-trends ``energy.py``).
    """
    tdp = _check("tdp_w", tdp_w, 0, None, low_open=True)
    load = _check("load_fraction", load_fraction, 0, 1)
    idle = _check("idle_fraction", idle_fraction, 0, 1)
    return tdp * (idle + (1.0 - idle) * load)


def host_max_w_per_gpu(system_power_kw, system_gpus, tdp_w):
    """Non-GPU maximum power per GPU (W): system (server/rack) maximum minus its GPUs' TDP.

    DGX H100: 10.2 kW / 8 - 700 W = 575 W; GB200 NVL72: 120 kW / 72 - 1,200 W = 467 W
    (data/gpus.csv, NVIDIA system figures as cited there).
    """
    system_kw = _check("system_power_kw", system_power_kw, 0, None, low_open=True)
    n = _check("system_gpus", system_gpus, 1, None)
    tdp = _check("tdp_w", tdp_w, 0, None, low_open=True)
    return np.maximum(system_kw * 1e3 / n - tdp, 0.0)


def host_power_w_per_gpu(system_power_kw, system_gpus, tdp_w, host_load_fraction):
    """Average non-GPU (host) draw per GPU (W) = :func:`host_max_w_per_gpu` x ``host_load_fraction``."""
    load = _check("host_load_fraction", host_load_fraction, 0, 1)
    return host_max_w_per_gpu(system_power_kw, system_gpus, tdp_w) * load


def network_power_w_per_gpu(network_w_per_gpu, scale_out_gb_s_per_gpu):
    """Scale-out fabric power per GPU (W): ``network_w_per_gpu`` (quoted at 400 Gb/s = 50 GB/s per GPU)
    scaled linearly with the pool's scale-out bandwidth (constant energy per bit, first order)."""
    w = _check("network_w_per_gpu", network_w_per_gpu, 0, None)
    bw = _check("scale_out_gb_s_per_gpu", scale_out_gb_s_per_gpu, 0, None)
    return w * bw / NETWORK_REFERENCE_GB_S


def it_power_mw(gpus, tdp_w, system_power_kw, system_gpus, scale_out_gb_s_per_gpu, load_fraction, idle_fraction,
                host_load_fraction, network_w_per_gpu, storage_w_per_gpu) -> dict[str, np.ndarray]:
    """IT power of one pool (MW) with its breakdown.

    Returns ``{"gpu_mw", "host_mw", "network_mw", "storage_mw", "it_mw"}`` (``it_mw`` is the sum).
    Nameplate (design) IT power is the same call with ``load_fraction=1`` and
    ``host_load_fraction=1``.
    """
    n = _check("gpus", gpus, 0, None)
    storage = _check("storage_w_per_gpu", storage_w_per_gpu, 0, None)
    parts = {
        "gpu_mw": n * gpu_power_w(tdp_w, load_fraction, idle_fraction) / 1e6,
        "host_mw": n * host_power_w_per_gpu(system_power_kw, system_gpus, tdp_w, host_load_fraction) / 1e6,
        "network_mw": n * network_power_w_per_gpu(network_w_per_gpu, scale_out_gb_s_per_gpu) / 1e6,
        "storage_mw": n * storage / 1e6,
    }
    parts["it_mw"] = parts["gpu_mw"] + parts["host_mw"] + parts["network_mw"] + parts["storage_mw"]
    return parts


def facility_power_mw(it_mw, pue):
    """Facility power (MW) = IT power x PUE (The Green Grid PUE definition: total facility / IT)."""
    return _check("it_mw", it_mw, 0, None) * _check("pue", pue, 1, None)


def epoch_method_mw(tdp_w, gpus, overhead=EPOCH_SERVER_OVERHEAD, *, pue, tdp_fraction=1.0):
    """Epoch AI's estimate (MW): ``TDP x chips x overhead x PUE`` (x ``tdp_fraction``).

    ``overhead`` = 1.82 for NVIDIA GPUs (DGX H100: 10.2 kW / 8 / 0.7 kW), from
    epoch-research/training-cost-trends ``energy.py`` (``chip_to_server_power``); Epoch
    multiplies by an average server draw of 0.75 of TDP (``server_TDP_fraction``) for
    *energy*, which ``tdp_fraction`` reproduces. With the default 1.0 it is a capacity figure.
    """
    tdp = _check("tdp_w", tdp_w, 0, None, low_open=True)
    n = _check("gpus", gpus, 0, None)
    k = _check("overhead", overhead, 1, None)
    f = _check("tdp_fraction", tdp_fraction, 0, 1)
    return tdp * n * k * f * _check("pue", pue, 1, None) / 1e6


def stall_power_swing_mw(gpus, tdp_w, load_fraction, idle_fraction, pue=1.0):
    """Drop in power (MW) when a synchronous job stalls: every GPU falls from its training draw
    to idle at once (all waiting on a checkpoint, a collective, or a restart).

    ``gpus x (P_gpu(load) - P_gpu(0))``; hosts are taken as unchanged (a lower bound), and
    ``pue=1`` gives the instantaneous IT swing (cooling follows slowly). Llama 3 (arXiv
    2407.21783, Sec. 3.3.4) reports such swings "on the order of tens of megawatts" across
    its data center.
    """
    n = _check("gpus", gpus, 0, None)
    swing_w = gpu_power_w(tdp_w, load_fraction, idle_fraction) - gpu_power_w(tdp_w, 0.0, idle_fraction)
    return n * swing_w * _check("pue", pue, 1, None) / 1e6


def energy_mwh_per_useful_exaflop(facility_mw, peak_eflops_per_s, utilization):
    """Facility energy (MWh) per useful exaFLOP (1e18 model FLOPs).

    Useful throughput = ``peak_eflops_per_s x utilization`` EFLOP/s, so one exaFLOP takes
    ``1 / (peak x u)`` s and costs ``facility_mw / (peak x u) / 3600`` MWh. ``utilization`` is the
    fraction of the same peak (e.g. BF16 dense) that becomes model FLOPs, over wall-clock time.
    """
    p = _check("facility_mw", facility_mw, 0, None)
    peak = _check("peak_eflops_per_s", peak_eflops_per_s, 0, None, low_open=True)
    u = _check("utilization", utilization, 0, 1, low_open=True)
    return p / (peak * u) / SECONDS_PER_HOUR


# --------------------------------------------------------------------------- cluster
COMPONENTS = ("gpu_mw", "host_mw", "network_mw", "storage_mw")


def _scalar(x) -> float:
    arr = np.asarray(x, dtype=float)
    return float(arr) if arr.ndim == 0 else float(arr.mean())


@dataclass(frozen=True)
class PowerResult:
    """Cluster power at one load. Totals are floats, or arrays when ``values`` held draws;
    ``by_pool`` then holds means over the draws."""

    cluster_id: str
    load_fraction: object
    pue: object
    by_pool: pd.DataFrame
    it_mw: object
    facility_mw: object
    it_nameplate_mw: object
    facility_nameplate_mw: object
    epoch_method_mw: object
    gpu_tdp_mw: float
    stall_swing_mw: object
    peak_eflops_bf16_dense: float
    site_power_mw: float | None = None
    site_power_source: str = ""
    components_mw: dict = field(default_factory=dict)

    @property
    def facility_to_site(self):
        """Modelled facility power / reported site power (NaN if the cluster reports none)."""
        return np.nan if self.site_power_mw is None else self.facility_mw / self.site_power_mw

    def energy_mwh_per_useful_exaflop(self, utilization):
        """Facility energy per useful exaFLOP at ``utilization`` of the BF16 dense peak."""
        return energy_mwh_per_useful_exaflop(self.facility_mw, self.peak_eflops_bf16_dense, utilization)

    def gap_table(self) -> pd.DataFrame:
        """From GPU TDP to the reported site power, one row per estimate (MW, facility level unless noted)."""
        rows = [
            ("GPU TDP only (IT)", self.gpu_tdp_mw),
            ("Epoch AI: TDP x 1.82 x PUE", self.epoch_method_mw),
            ("bottom-up nameplate x PUE", self.facility_nameplate_mw),
            ("bottom-up at training load x PUE", self.facility_mw),
        ]
        if self.site_power_mw is not None:
            rows.append(("reported site power", self.site_power_mw))
        table = pd.DataFrame([(name, _scalar(mw)) for name, mw in rows], columns=["estimate", "mw"])
        if self.site_power_mw is not None:
            table["vs_site"] = table["mw"] / self.site_power_mw - 1.0
        return table.set_index("estimate")

    def to_dict(self) -> dict:
        out = {"cluster": self.cluster_id, "load_fraction": _scalar(self.load_fraction), "pue": _scalar(self.pue),
               "it_mw": _scalar(self.it_mw), "facility_mw": _scalar(self.facility_mw),
               "it_nameplate_mw": _scalar(self.it_nameplate_mw), "facility_nameplate_mw": _scalar(self.facility_nameplate_mw),
               "epoch_method_mw": _scalar(self.epoch_method_mw), "gpu_tdp_mw": float(self.gpu_tdp_mw),
               "stall_swing_mw": _scalar(self.stall_swing_mw), "peak_eflops_bf16_dense": float(self.peak_eflops_bf16_dense),
               "site_power_mw": None if self.site_power_mw is None else float(self.site_power_mw),
               "facility_to_site": None if self.site_power_mw is None else _scalar(self.facility_to_site)}
        out.update({k: _scalar(v) for k, v in self.components_mw.items()})
        out["by_pool"] = {row["pool"]: {k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) else str(v))
                                        for k, v in row.items() if k != "pool"}
                          for row in self.by_pool.to_dict("records")}
        return out

    def summary(self) -> str:
        d = self.to_dict()
        lines = [f"Power of cluster {self.cluster_id} (GPU load {d['load_fraction']:.2f} on idle->TDP, PUE {d['pue']:.2f})",
                 f"  IT power at training load      {d['it_mw']:10,.1f} MW  (GPU {d['gpu_mw']:,.1f}, host {d['host_mw']:,.1f}, "
                 f"network {d['network_mw']:,.1f}, storage {d['storage_mw']:,.1f})",
                 f"  facility power at load         {d['facility_mw']:10,.1f} MW",
                 f"  facility power at nameplate    {d['facility_nameplate_mw']:10,.1f} MW",
                 f"  Epoch AI method (TDPx1.82xPUE) {d['epoch_method_mw']:10,.1f} MW",
                 f"  GPU TDP only                   {d['gpu_tdp_mw']:10,.1f} MW",
                 f"  stall swing (GPUs to idle, IT) {d['stall_swing_mw']:10,.1f} MW"]
        if self.site_power_mw is not None:
            lines.append(f"  reported site power            {self.site_power_mw:10,.1f} MW  "
                         f"(modelled facility / site = {d['facility_to_site']:.2f})")
        return "\n".join(lines)


def _values(values: dict) -> dict:
    return require_keys("power", values, PARAMETERS)


@memoized(maxsize=16)
def cluster_power(cluster: Cluster, values: dict, load_fraction=None) -> PowerResult:
    """Bottom-up power of every pool of ``cluster`` with the ``power`` section ``values``
    (``scenario.values("power")``; entries may be arrays of draws). ``load_fraction`` overrides
    ``values["gpu_load_fraction"]`` (a number or array, e.g. a sweep from idle to TDP)."""
    v = _values(values)
    load = v["gpu_load_fraction"] if load_fraction is None else load_fraction
    rows, totals = [], {k: 0.0 for k in (*COMPONENTS, "it_mw", "it_nameplate_mw", "epoch_mw", "swing_mw")}
    gpu_tdp_mw = peak = 0.0
    for pool in cluster.pools:
        g, n = pool.gpu, pool.gpus
        common = dict(gpus=n, tdp_w=g.tdp_w, system_power_kw=g.system_power_kw, system_gpus=g.system_gpus,
                      scale_out_gb_s_per_gpu=pool.scale_out_gb_s_per_gpu.value, idle_fraction=v["gpu_idle_fraction"],
                      network_w_per_gpu=v["network_w_per_gpu"], storage_w_per_gpu=v["storage_w_per_gpu"])
        at_load = it_power_mw(load_fraction=load, host_load_fraction=v["host_load_fraction"], **common)
        nameplate = it_power_mw(load_fraction=1.0, host_load_fraction=1.0, **common)["it_mw"]
        epoch = epoch_method_mw(g.tdp_w, n, pue=v["pue"])
        swing = stall_power_swing_mw(n, g.tdp_w, load, v["gpu_idle_fraction"])
        for k in COMPONENTS:
            totals[k] = totals[k] + at_load[k]
        totals["it_mw"] = totals["it_mw"] + at_load["it_mw"]
        totals["it_nameplate_mw"] = totals["it_nameplate_mw"] + nameplate
        totals["epoch_mw"] = totals["epoch_mw"] + epoch
        totals["swing_mw"] = totals["swing_mw"] + swing
        gpu_tdp_mw += n * g.tdp_w / 1e6
        peak += n * g.bf16_tflops_dense / 1e6
        row = {"pool": pool.name, "gpu": g.id, "gpus": n, **{k: _scalar(at_load[k]) for k in COMPONENTS},
               "it_mw": _scalar(at_load["it_mw"]),
               "facility_mw": _scalar(facility_power_mw(at_load["it_mw"], v["pue"])),
               "it_nameplate_mw": _scalar(nameplate),
               "facility_nameplate_mw": _scalar(facility_power_mw(nameplate, v["pue"])),
               "epoch_method_mw": _scalar(epoch), "gpu_tdp_mw": n * g.tdp_w / 1e6,
               "it_w_per_gpu": _scalar(at_load["it_mw"]) * 1e6 / n if n else np.nan,
               "it_nameplate_w_per_gpu": _scalar(nameplate) * 1e6 / n if n else np.nan,
               "stall_swing_mw": _scalar(swing), "peak_eflops_bf16_dense": n * g.bf16_tflops_dense / 1e6}
        row["epoch_to_bottom_up_nameplate"] = row["epoch_method_mw"] / row["facility_nameplate_mw"] if row["facility_nameplate_mw"] else np.nan
        rows.append(row)
    site = cluster.site_power_mw
    return PowerResult(
        cluster_id=cluster.id, load_fraction=load, pue=v["pue"], by_pool=pd.DataFrame(rows),
        it_mw=totals["it_mw"], facility_mw=facility_power_mw(totals["it_mw"], v["pue"]),
        it_nameplate_mw=totals["it_nameplate_mw"], facility_nameplate_mw=facility_power_mw(totals["it_nameplate_mw"], v["pue"]),
        epoch_method_mw=totals["epoch_mw"], gpu_tdp_mw=gpu_tdp_mw, stall_swing_mw=totals["swing_mw"],
        peak_eflops_bf16_dense=peak,
        site_power_mw=None if site is None else float(site.value), site_power_source="" if site is None else site.source,
        components_mw={k: totals[k] for k in COMPONENTS})


def power_vs_load(cluster: Cluster, values: dict, load_fractions) -> pd.DataFrame:
    """IT and facility power (MW) of ``cluster`` over a sweep of GPU load (idle -> TDP)."""
    loads = _check("load_fractions", load_fractions, 0, 1)
    r = cluster_power(cluster, values, load_fraction=loads)
    return pd.DataFrame({"load_fraction": loads, **{k: np.broadcast_to(r.components_mw[k], loads.shape) for k in COMPONENTS},
                        "it_mw": np.broadcast_to(r.it_mw, loads.shape),
                        "facility_mw": np.broadcast_to(r.facility_mw, loads.shape)})


# --------------------------------------------------------------------------- site power
def load_site_power(cluster_id: str | None = None) -> pd.DataFrame:
    """Reported power sources of each site (``data/site_power.csv``): grid, batteries, turbines,
    cooling, claims, each with source and date."""
    from analysis.catalog import Column, validate_table
    from analysis.paths import DATA_DIR
    path = DATA_DIR / "site_power.csv"
    columns = (Column("cluster"), Column("item"), Column("mw", Spec("MW", min=0)), Column("kind"),
               Column("source"), Column("date"), Column("confidence"))
    df = validate_table(pd.read_csv(path, dtype=str).assign(mw=lambda d: d["mw"].astype(float)), columns, path, key="item")
    return df if cluster_id is None else df[df["cluster"] == cluster_id].reset_index(drop=True)


def _md(text) -> str:
    """A string from a data file, escaped for Markdown (presentation helper)."""
    from analysis.report.format import escape_md
    return escape_md(text)


def explain_site_gap(result: PowerResult) -> str:
    """Markdown paragraph: why modelled facility power differs from the reported site power,
    built from the numbers of ``result`` and the sourced rows of ``data/site_power.csv``."""
    if result.site_power_mw is None:
        return f"Cluster {_md(result.cluster_id)} reports no site power; nothing to compare."
    d = result.to_dict()
    site = result.site_power_mw
    ratio = d["facility_to_site"]
    word = "above" if ratio > 1 else "below"
    load_cut = 1 - d["facility_mw"] / d["facility_nameplate_mw"]
    text = [f"Modelled facility draw at training load is **{d['facility_mw']:,.0f} MW**, {abs(ratio - 1):.0%} {word} the "
            f"reported **{site:,.0f} MW** site figure. Three things separate the estimates:",
            f"1. **Nameplate vs typical draw.** With every server and rack at its vendor maximum and GPUs at TDP, "
            f"the same cluster would need {d['facility_nameplate_mw']:,.0f} MW; average draw during training "
            f"(GPUs at {d['load_fraction']:.0%} of the idle-to-TDP range, hosts at part load) is {load_cut:.0%} lower. "
            f"Epoch AI's TDP x 1.82 x PUE gives {d['epoch_method_mw']:,.0f} MW. Its 1.82 is the DGX H100 server-to-GPU "
            f"ratio, so per pool it is "
            + ", ".join(f"{_md(r.pool)} {r.epoch_to_bottom_up_nameplate:.2f}x" for r in result.by_pool.itertuples())
            + " the bottom-up nameplate (above 1 where a rack carries less non-GPU power per GPU than a DGX H100 "
            "does, as NVL72 racks do; slightly below 1 for 8-GPU servers because it leaves out the scale-out "
            "network and storage).",
            f"2. **PUE.** All facility figures use PUE {d['pue']:.2f}; each 0.1 of PUE moves the at-load estimate by "
            f"{d['it_mw'] * 0.1:,.0f} MW.",
            ]
    rows = load_site_power(result.cluster_id)
    if len(rows):
        listed = "; ".join(f"{_md(r.item)} {r.mw:,.0f} MW ({_md(r.kind)}, {_md(r.date)})" for r in rows.itertuples())
        text.append(f"3. **What the site figure is.** It is a supply capacity, not a metered draw. Reported items: {listed}. "
                    "Grid capacity, batteries and on-site turbines overlap as backup, so the site total is neither "
                    "their sum nor a measure of average consumption.")
    text.append("")
    if ratio > 1:
        text.append("A draw above the reported figure needs on-site generation and batteries beyond it, or means the "
                    "true GPU load, PUE or GPU count is lower than modelled.")
    else:
        text.append("A draw below the site figure leaves headroom for the cooling peak on hot days and for growth.")
    text.append("")
    text.append("GPU counts per type are themselves uncertain (see the cluster file's ranges), which moves every "
                "estimate in proportion. No parameter was tuned to match the site figure.")
    return "\n".join(text)
