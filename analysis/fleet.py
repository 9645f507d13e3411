"""The fleet: what a whole GPU fleet's peak FLOPs do, as a workload mix, and its peak-weighted MFU.

The reported ~11% is MFU over "recent weeks" for xAI's whole fleet (~500-550k GPUs; data/
utilization_references.csv), not one job on Colossus 1. This module models that fleet:

* **inventory** (``data/fleets/<id>.yaml``): GPUs per cluster and pool through time, every count
  sourced or an assumption with a range; Colossus 2's racks arrive month by month;
* **workload mix** (section ``fleet``) of the GPUs at the ``as_of`` month:

  - *burn-in and acceptance*: GPUs installed in the last ``burn_in_days`` run stress tests,
    not model FLOPs (MFU ``burn_in_mfu``, ~0);
  - *idle and queueing*: ``idle_fraction`` of the accepted GPUs (no job scheduled; beyond the
    training jobs' own spares and repair, which the job chain counts);
  - *inference and evaluation*: ``inference_fraction`` of the working GPUs at a decode-bound
    ``inference_mfu`` (sourced below the MLPerf ceiling);
  - *RL and post-training*: ``rl_fraction``; rollouts (``rl_generation_share`` of the time) at
    the inference MFU, the rest at the cluster's pre-training job MFU;
  - *pre-training*: the rest, in synchronous jobs of at most ``pretraining_job_gpus_max`` GPUs,
    each at the utilization of the training chain (:func:`analysis.utilization.chain`: step
    model per GPU type, heterogeneity, stragglers, goodput), the scenario's own split on its own
    cluster and a uniform split elsewhere.

Fleet MFU is the **peak-weighted** result: useful model FLOPs over the fleet's dense peak,
reported against the BF16 and the FP8 dense peak (if a fleet counts the FP8 peak, the same
FLOPs read half as much). Its factors multiply to it: burn-in x idle x MFU of the working GPUs.
Nothing is fitted to the reported 11%; it is an observation to explain.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.catalog import load_cluster, read_yaml
from analysis.errors import InputError, shown
from analysis.params import Param, Spec, parse_param
from analysis.paths import DATA_DIR

FLEET_DIR = DATA_DIR / "fleets"
FLEET_PREFIX = "fleet_gpus."        # Draws keys of the fleet inventory: "fleet_gpus.<cluster>.<pool>"
CLASSES = ("burn-in and acceptance", "idle and queueing", "inference and evaluation", "RL and post-training", "pre-training")


def fleet_ids() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in FLEET_DIR.glob("*.yaml")))


def _months() -> tuple[str, ...]:
    return tuple(f"{y}-{m:02d}" for y in range(2024, 2028) for m in range(1, 13))


PARAMETERS = {
    "fleet": Spec("-", "fleet inventory (data/fleets/<id>.yaml), or 'none'", choices=(*fleet_ids(), "none")),
    "as_of": Spec("-", "month the fleet is observed (YYYY-MM)", choices=_months()),
    "burn_in_days": Spec("days", "days a newly installed rack spends in burn-in and acceptance before production", min=0, max=180),
    "burn_in_mfu": Spec("fraction of BF16 dense peak", "model FLOPs of racks in burn-in (stress tests count none)", min=0, max=0.2),
    "idle_fraction": Spec("fraction of GPUs", "accepted GPUs with no job (queueing, reservations, draining)", min=0, max=0.6),
    "inference_fraction": Spec("fraction of GPUs", "working GPUs serving inference and evaluation", min=0, max=0.9),
    "inference_mfu": Spec("fraction of BF16 dense peak", "model FLOPs of production serving (decode-bound)", min=0, max=0.6),
    "rl_fraction": Spec("fraction of GPUs", "working GPUs on RL and post-training", min=0, max=0.9),
    "rl_generation_share": Spec("fraction of time", "share of RL GPU-time spent generating rollouts (decode-bound)", min=0, max=1),
    "pretraining_job_gpus_max": Spec("GPUs", "largest synchronous pre-training job in the fleet", min=1000, max=1e7),
}


def validate_section(values: dict, cluster) -> None:
    if values["inference_fraction"] + values["rl_fraction"] > 0.95:
        raise InputError(f"fleet.inference_fraction: {values['inference_fraction']} + fleet.rl_fraction {values['rl_fraction']} "
                         "exceeds 0.95; leave some GPUs for pre-training")
    if values["fleet"] != "none":
        inv = load_fleet(values["fleet"])
        if _day(values["as_of"]) < inv.first_day:
            raise InputError(f"fleet.as_of: {shown(values['as_of'])} is before the fleet's first record ({inv.first_month})")


# --------------------------------------------------------------------------- inventory
def _day(month: str) -> float:
    y, m = (int(x) for x in month.split("-"))
    return float(dt.date(y, m, 15).toordinal())


@dataclass(frozen=True)
class Anchor:
    month: str
    count: Param
    source: str


@dataclass(frozen=True)
class Inventory:
    """GPUs installed per (cluster, pool) through time."""

    id: str
    name: str
    description: str
    anchors: dict          # {(cluster, pool): tuple[Anchor, ...]} in time order

    @property
    def pools(self) -> tuple:
        return tuple(self.anchors)

    @property
    def first_day(self) -> float:
        return min(_day(a[0].month) for a in self.anchors.values())

    @property
    def first_month(self) -> str:
        return min(a[0].month for a in self.anchors.values())

    def count(self, key, day, which: str = "value"):
        """Installed GPUs of pool ``key`` on ``day`` (ordinal; array ok), by the anchors' central
        value (``which``: value, low or high), linear between anchors."""
        a = self.anchors[key]
        xs = np.array([_day(x.month) for x in a])
        ys = np.array([float(getattr(x.count, which) if getattr(x.count, which) is not None else x.count.value) for x in a])
        return np.interp(np.asarray(day, float), xs, ys, left=0.0)

    def at(self, month: str) -> pd.DataFrame:
        """Central, low and high installed GPUs of every pool at ``month``."""
        d = _day(month)
        rows = [{"cluster": c, "pool": p, "gpus": float(self.count((c, p), d)), "low": float(self.count((c, p), d, "low")),
                 "high": float(self.count((c, p), d, "high"))} for c, p in self.pools]
        return pd.DataFrame(rows)

    def timeline(self, start: str | None = None, end: str = "2026-12") -> pd.DataFrame:
        """Central GPUs per pool by month (rows: months; columns: "cluster pool")."""
        months = [m for m in _months() if (start or self.first_month) <= m <= end]
        return pd.DataFrame({f"{c} {p}": [float(self.count((c, p), _day(m))) for m in months] for c, p in self.pools},
                            index=pd.Index(months, name="month"))

    def sources(self) -> pd.DataFrame:
        rows = [{"cluster": c, "pool": p, "month": a.month, "gpus": a.count.value, "low": a.count.low, "high": a.count.high,
                 "source": a.source} for (c, p), anchors in self.anchors.items() for a in anchors]
        return pd.DataFrame(rows)


@lru_cache(maxsize=8)
def load_fleet(fleet_id: str) -> Inventory:
    """The fleet ``data/fleets/<fleet_id>.yaml``, validated (every count sourced; pools exist)."""
    path = FLEET_DIR / f"{fleet_id}.yaml"
    if not path.exists():
        raise InputError(f"fleet: unknown fleet {shown(fleet_id)}; known fleets are {', '.join(fleet_ids())}")
    doc = read_yaml(path)
    where = f"data/fleets/{fleet_id}.yaml"
    anchors = {}
    for cluster_id, pools in (doc.get("clusters") or {}).items():
        cluster = load_cluster(cluster_id)
        names = {p.name for p in cluster.pools}
        for pool, rows in pools.items():
            if pool not in names:
                raise InputError(f"{where} clusters.{cluster_id}.{pool}: no such pool; {cluster_id} has {', '.join(sorted(names))}")
            out = []
            for i, row in enumerate(rows):
                key = f"{where} clusters.{cluster_id}.{pool}[{i}]"
                if not str(row.get("source", "")).strip():
                    raise InputError(f"{key}: no source; every count needs a source or an 'assumption: ...' label")
                raw = row["count"] if isinstance(row["count"], dict) else {"value": row["count"]}
                count = parse_param(f"{key}.count", {"source": row["source"], **raw}, Spec("GPUs", min=0, max=1e7))
                if str(row["month"]) not in _months():
                    raise InputError(f"{key}.month: {shown(row['month'])} is not a month YYYY-MM between 2024 and 2027")
                out.append(Anchor(str(row["month"]), count, str(row["source"])))
            days = [_day(a.month) for a in out]
            if days != sorted(days):
                raise InputError(f"{where} clusters.{cluster_id}.{pool}: anchors are not in time order")
            anchors[(cluster_id, pool)] = tuple(out)
    return Inventory(str(doc.get("id", fleet_id)), str(doc.get("name", fleet_id)), str(doc.get("description", "")).strip(), anchors)


def _triangular_ppf(u, low, mode, high):
    u, low, mode, high = (np.asarray(x, float) for x in (u, low, mode, high))
    width = np.maximum(high - low, 1e-300)
    c = (mode - low) / width
    left = low + np.sqrt(u * width * (mode - low))
    right = high - np.sqrt((1 - u) * width * (high - mode))
    return np.where(high > low, np.where(u < c, left, right), mode)


def sample_inventory(values: dict, n: int, stream) -> dict:
    """``{"fleet_gpus.<cluster>.<pool>": n draws}`` of the GPUs installed at ``values["as_of"]``
    (each pool triangular within the range interpolated between its anchors), each pool from
    ``stream(path)``, the random generator of its own path (:func:`analysis.scenario.draw_stream`), so
    adding or removing a pool leaves the others' draws as they were. Used by
    :meth:`analysis.scenario.Scenario.sample` so the draws carry the fleet's counts too."""
    if values.get("fleet", "none") == "none":
        return {}
    inv, d = load_fleet(values["fleet"]), _day(values["as_of"])
    out = {}
    for c, p in inv.pools:
        v, lo, hi = (float(inv.count((c, p), d, w)) for w in ("value", "low", "high"))
        path = f"{FLEET_PREFIX}{c}.{p}"
        out[path] = _triangular_ppf(stream(path).random(n), min(lo, v), v, max(hi, v))
    return out


# --------------------------------------------------------------------------- the workload mix
@dataclass
class FleetResult:
    """Fleet MFU (peak-weighted) and where the fleet's peak went. Scalars for a point estimate,
    arrays for draws."""

    scenario: str
    fleet: str
    as_of: str
    value_bf16_dense: object
    value_fp8_dense: object
    factors: dict
    classes: pd.DataFrame = field(default_factory=pd.DataFrame)      # point: one row per (cluster, class)
    pretraining: pd.DataFrame = field(default_factory=pd.DataFrame)  # point: job utilization per cluster
    gpus: float = 0.0
    peak_eflops_bf16_dense: float = 0.0

    @property
    def value(self):
        return self.value_bf16_dense

    def flows(self) -> pd.DataFrame:
        """Where the peak goes, by workload class: share of the fleet's BF16 peak used (model
        FLOPs) and lost; the used shares sum to the fleet MFU."""
        t = self.classes.groupby("class", sort=False)[["peak_share", "useful_share"]].sum().reindex(list(CLASSES)).fillna(0.0)
        t["lost_share"] = t["peak_share"] - t["useful_share"]
        t["mfu"] = np.where(t["peak_share"] > 0, t["useful_share"] / t["peak_share"].where(t["peak_share"] > 0, 1), 0.0)
        return t

    def to_dict(self) -> dict:
        def plain(v):
            a = np.asarray(v, dtype=float)
            return float(a) if a.ndim == 0 else a.tolist()
        out = {"fleet": self.fleet, "as_of": self.as_of, "value": plain(self.value_bf16_dense), "denominator": "bf16 dense",
               "value_bf16_dense": plain(self.value_bf16_dense), "value_fp8_dense": plain(self.value_fp8_dense),
               "factors": {k: plain(v) for k, v in self.factors.items()}, "gpus": self.gpus,
               "peak_eflops_bf16_dense": self.peak_eflops_bf16_dense}
        if not self.classes.empty:
            f = self.flows()
            out["classes"] = {k: {"peak_share": float(r.peak_share), "useful_share": float(r.useful_share), "mfu": float(r.mfu)}
                              for k, r in f.iterrows()}
        if not self.pretraining.empty:
            out["pretraining"] = {r.cluster: {"utilization_bf16_dense": float(r.utilization_bf16_dense), "jobs": float(r.jobs),
                                              "job_gpus": float(r.job_gpus), "gpus": float(r.gpus)}
                                  for r in self.pretraining.itertuples()}
        return out

    def summary(self) -> str:
        lines = [f"Fleet {self.fleet} as of {self.as_of} ({self.scenario}): MFU {float(np.mean(self.value_bf16_dense)):.1%} of the "
                 f"BF16 dense peak ({float(np.mean(self.value_fp8_dense)):.1%} of FP8 dense), {self.gpus:,.0f} GPUs"]
        lines += [f"  x {float(np.mean(v)):.3f}  {k}" for k, v in self.factors.items()]
        if not self.classes.empty:
            for k, r in self.flows().iterrows():
                lines.append(f"  {k:<28} {r.peak_share:6.1%} of peak at MFU {r.mfu:5.1%} -> {r.useful_share:5.1%}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{k}</td><td>x {float(np.mean(v)):.3f}</td></tr>" for k, v in self.factors.items())
        return (f"<p><b>Fleet {self.fleet}</b> as of {self.as_of}: {float(np.mean(self.value_bf16_dense)):.1%} of BF16 dense peak "
                f"({float(np.mean(self.value_fp8_dense)):.1%} of FP8 dense)</p><table>{rows}</table>")


FACTOR_NAMES = ("burn-in and acceptance of new racks", "idle and queueing", "MFU of the working GPUs")


def _cluster_job(sc, cluster_id: str, job: dict, cap):
    """Job values for the pre-training jobs on ``cluster_id``: the scenario's split on its own
    cluster, a uniform split elsewhere; job size capped by the fleet's largest job."""
    split = job["split"] if cluster_id == sc.cluster.id else "uniform"
    return {**job, "split": split, "max_job_gpus": np.minimum(np.asarray(job["max_job_gpus"], float), cap)}


def evaluate_fleet(sc, fleet_values: dict, job: dict, hetero: dict, good: dict, inventory: dict | None = None) -> dict:
    """The vectorized fleet model. Section values may be scalars or arrays of draws;
    ``inventory`` gives ``{"fleet_gpus.<cluster>.<pool>": counts}`` at ``as_of`` (default: the
    central counts). Returns per (cluster, class) GPUs, peak (FLOP/s, BF16 and FP8) and useful
    FLOP/s, the fleet values against both peaks, the factors and the pre-training job results."""
    from analysis import utilization

    v = fleet_values
    inv = load_fleet(v["fleet"])
    day = _day(v["as_of"])
    burn_days = np.asarray(v["burn_in_days"], float)
    idle, inf_f, rl_f = (np.asarray(v[k], float) for k in ("idle_fraction", "inference_fraction", "rl_fraction"))
    scale = np.clip(1.0 - inf_f - rl_f, 0.0, 1.0)
    inf_mfu, gen, burn_mfu = (np.asarray(v[k], float) for k in ("inference_mfu", "rl_generation_share", "burn_in_mfu"))
    rows, pretraining = [], []
    for cluster_id in dict.fromkeys(c for c, _ in inv.pools):
        cluster = load_cluster(cluster_id)
        names = [p.name for p in cluster.pools]
        keys = [(cluster_id, n) for n in names]
        n_now = np.stack([np.asarray(inventory[f"{FLEET_PREFIX}{c}.{p}"], float) if inventory is not None
                          else np.asarray(inv.count((c, p), day)) if (c, p) in inv.anchors else np.asarray(0.0)
                          for c, p in keys], axis=-1) if keys else None
        # accepted = installed burn_in_days ago (central ramp, scaled to the drawn count)
        ratio = np.stack([np.where(inv.count(k, day) > 0, inv.count(k, day - burn_days) / max(float(inv.count(k, day)), 1e-9), 0.0)
                          if k in inv.anchors else np.zeros(np.shape(burn_days)) for k in keys], axis=-1)
        accepted = n_now * ratio
        burn = n_now - accepted
        idle_g = accepted * idle[..., None]
        work = accepted - idle_g
        inf_g, rl_g, pt_g = work * inf_f[..., None], work * rl_f[..., None], work * scale[..., None]
        bf16 = np.array([p.gpu.bf16_tflops_dense for p in cluster.pools], float) * 1e12
        fp8 = np.array([p.gpu.fp8_tflops_dense for p in cluster.pools], float) * 1e12
        cjob = _cluster_job(sc, cluster_id, job, np.asarray(v["pretraining_job_gpus_max"], float))
        out = utilization.chain(cluster, cjob, hetero, good, gpus=np.maximum(pt_g, 1.0))
        pt_mfu = out["value"] if cjob["precision"] == "bf16" else out["value_other"]      # of the BF16 dense peak
        pt_mfu = np.where(pt_g.sum(axis=-1) >= 1.0, pt_mfu, 0.0)
        rl_mfu = gen * inf_mfu + (1 - gen) * pt_mfu
        for name, gpus, mfu in (("burn-in and acceptance", burn, burn_mfu), ("idle and queueing", idle_g, 0.0 * idle),
                                ("inference and evaluation", inf_g, inf_mfu), ("RL and post-training", rl_g, rl_mfu),
                                ("pre-training", pt_g, pt_mfu)):
            peak = (gpus * bf16).sum(axis=-1)
            rows.append({"cluster": cluster_id, "class": name, "gpus": gpus.sum(axis=-1), "peak_bf16": peak,
                         "peak_fp8": (gpus * fp8).sum(axis=-1), "useful": peak * np.asarray(mfu, float)})
        jobs = np.asarray(out["jobs"], float)
        pretraining.append({"cluster": cluster_id, "gpus": pt_g.sum(axis=-1), "utilization_bf16_dense": pt_mfu,
                            "jobs": jobs.max(axis=-1) if jobs.ndim else jobs, "job_gpus": np.asarray(out["job_gpus"], float),
                            "factors": out["factors"], "split": cjob["split"]})
    total_bf16 = sum(r["peak_bf16"] for r in rows)
    total_fp8 = sum(r["peak_fp8"] for r in rows)
    useful = sum(r["useful"] for r in rows)
    value = useful / total_bf16
    working = [r for r in rows if r["class"] not in ("burn-in and acceptance", "idle and queueing")]
    work_peak = sum(r["peak_bf16"] for r in working)
    working_mfu = sum(r["useful"] for r in working) / np.maximum(work_peak, 1e-30)
    f_idle = 1.0 - idle
    f_burn = value / np.maximum(f_idle * working_mfu, 1e-30)
    factors = {FACTOR_NAMES[0]: f_burn, FACTOR_NAMES[1]: f_idle, FACTOR_NAMES[2]: working_mfu}
    return {"rows": rows, "value_bf16": value, "value_fp8": useful / total_fp8, "factors": factors,
            "pretraining": pretraining, "peak_bf16": total_bf16, "gpus": sum(r["gpus"] for r in rows)}


def _values(sc, draws=None):
    from analysis.scenario import section_draws
    if draws is None:
        return sc.values("fleet"), sc.values("job"), sc.values("heterogeneity"), sc.values("goodput"), None
    inventory = {k: v for k, v in draws.items() if k.startswith(FLEET_PREFIX)}
    return (section_draws(draws, "fleet"), section_draws(draws, "job"), section_draws(draws, "heterogeneity"),
            section_draws(draws, "goodput"), inventory)


def enabled(sc) -> bool:
    return "fleet" in sc.params and sc.value("fleet.fleet") != "none"


def point(sc, **overrides) -> FleetResult:
    """Fleet MFU at the scenario's central values (``overrides``: fleet-section values, e.g.
    ``inference_fraction=0.3``, or ``split=...`` for the scenario cluster's job split)."""
    if not enabled(sc):
        raise InputError(f"fleet.fleet: scenario {shown(sc.name)} models no fleet ('none'); set fleet.fleet to one of {', '.join(fleet_ids())}")
    fv, job, het, good, _ = _values(sc)
    split = overrides.pop("split", None)
    if split is not None:
        job = dict(job, split=split)
    fv = {**fv, **overrides}
    out = evaluate_fleet(sc, fv, job, het, good)
    total = float(out["peak_bf16"])
    classes = pd.DataFrame([{"cluster": r["cluster"], "class": r["class"], "gpus": float(r["gpus"]),
                             "peak_share": float(r["peak_bf16"]) / total, "useful_share": float(r["useful"]) / total,
                             "mfu_bf16_dense": float(r["useful"]) / float(r["peak_bf16"]) if float(r["peak_bf16"]) > 0 else 0.0}
                            for r in out["rows"]])
    pre = pd.DataFrame([{"cluster": p["cluster"], "split": p["split"], "gpus": float(p["gpus"]),
                         "jobs": float(np.max(p["jobs"])), "job_gpus": float(np.max(p["job_gpus"])),
                         "utilization_bf16_dense": float(p["utilization_bf16_dense"])} for p in out["pretraining"]])
    pre.attrs["factors"] = {p["cluster"]: {k: float(v) for k, v in p["factors"].items()} for p in out["pretraining"]}
    return FleetResult(sc.name, fv["fleet"], fv["as_of"], float(out["value_bf16"]), float(out["value_fp8"]),
                       {k: float(v) for k, v in out["factors"].items()}, classes, pre, float(out["gpus"]), total / 1e18)


def mix_grid_values(sc, inference_fractions, idle_fractions, **fixed) -> np.ndarray:
    """Fleet MFU (BF16 dense) at the central values over a grid of inference and idle shares, in one
    vectorized run of :func:`evaluate_fleet` (shape ``(idle, inference)``; ``fixed``: other
    fleet-section values). Equals :func:`point` at each pair."""
    fv, job, het, good, _ = _values(sc)
    idle, inference = np.meshgrid(np.asarray(idle_fractions, float), np.asarray(inference_fractions, float), indexing="ij")
    fv = {**fv, **fixed, "inference_fraction": inference.ravel(), "idle_fraction": idle.ravel()}
    return np.asarray(evaluate_fleet(sc, fv, job, het, good)["value_bf16"], float).reshape(idle.shape)


@dataclass
class FleetDraws:
    """Monte Carlo draws of the fleet MFU: ``inputs`` (what varies) and ``outputs`` (values,
    factors, class shares), row ``i`` = draw ``i`` of the scenario's one draw set."""

    scenario: str
    inputs: pd.DataFrame
    outputs: pd.DataFrame

    @property
    def value(self) -> np.ndarray:
        return self.outputs["fleet_mfu_bf16_dense"].to_numpy()

    def quantiles(self, column: str = "fleet_mfu_bf16_dense", qs=(0.05, 0.5, 0.95)) -> dict:
        x = self.outputs[column].to_numpy()
        return {f"p{int(round(q * 100)):02d}": float(np.quantile(x, q)) for q in qs}

    def summary(self) -> str:
        b, f = self.quantiles(), self.quantiles("fleet_mfu_fp8_dense")
        return (f"{self.scenario}: fleet MFU over {len(self.outputs):,} draws: BF16 dense p05 {b['p05']:.1%}, median "
                f"{b['p50']:.1%}, p95 {b['p95']:.1%}; FP8 dense median {f['p50']:.1%}")


def fleet_draws(sc, draws) -> FleetDraws:
    """The fleet model over the scenario's :class:`~analysis.scenario.Draws` (one vectorized run)."""
    fv, job, het, good, inventory = _values(sc, draws)
    out = evaluate_fleet(sc, fv, job, het, good, inventory)
    total = out["peak_bf16"]
    shares = {}
    for r in out["rows"]:
        shares[f"peak share: {r['class']}"] = shares.get(f"peak share: {r['class']}", 0) + r["peak_bf16"] / total
        shares[f"useful share: {r['class']}"] = shares.get(f"useful share: {r['class']}", 0) + r["useful"] / total
    outputs = pd.DataFrame({"fleet_mfu_bf16_dense": out["value_bf16"], "fleet_mfu_fp8_dense": out["value_fp8"],
                            **{f"factor: {k}": v for k, v in out["factors"].items()}, **shares,
                            **{f"pre-training utilization: {p['cluster']}": p["utilization_bf16_dense"] for p in out["pretraining"]}})
    from analysis.utilization import inactive_parameters

    inputs = draws.varied()
    unused = inactive_parameters({"batch_policy": draws["job.batch_policy"]})
    keep = [c for c in inputs.columns if (c.split(".")[0] in ("fleet", "job", "heterogeneity", "goodput")
                                          or c.startswith(FLEET_PREFIX)) and c not in unused]
    return FleetDraws(sc.name, inputs[keep], outputs)
