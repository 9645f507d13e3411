"""Cluster utilization: the share of a whole cluster's peak that becomes useful model FLOPs.

The chain, for the scenario's one synchronous training job (section ``job``)::

    utilization = step model (MFU of the best pool, factor by factor)
                x pool mix            (other pools' MFU relative to the best one)
                x memory / NVLink-domain limits   (uniform split: smallest HBM and domain)
                x pacing by the slowest GPU type  (uniform) | split granularity x planning (aware)
                x straggler tail within a type
                x goodput (spares, repair, fragmentation, checkpoint, lost work, restart,
                           planned maintenance)

Every factor is in (0, 1] and their product is the utilization. The denominator is the dense
peak at the job's precision (BF16 unless ``job.precision`` is fp8); the other denominator is
reported beside it. Nothing here is fitted to the reported 11%: that figure is only compared.

Per-GPU MFU depends on how many tokens each GPU processes per step (global batch / GPUs):
a 230k-GPU job at a 16M-token batch gives each GPU a sliver of a sequence, and the pipeline
bubble explodes. The step model (:mod:`analysis.training`) is evaluated per pool on a grid
of tokens per GPU (at a reference job of ``REFERENCE_GPUS``) and interpolated log-log, so
Monte Carlo draws of batch and pool sizes cost no further searches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis import goodput, heterogeneity
from analysis.catalog import Cluster, load_models, model as load_model
from analysis.errors import InputError
from analysis.params import Spec

SPLITS = ("uniform", "aware", "islands")
PARAMETERS = {
    "model": Spec("-", "architecture trained (data/models.yaml)", choices=tuple(load_models())),
    "precision": Spec("-", "training precision; its dense peak divides MFU", choices=("bf16", "fp8")),
    "split": Spec("-", "how work is divided across GPU types", choices=SPLITS),
    "global_batch_tokens": Spec("tokens", "global batch per optimizer step", min=1e5, max=2e9),
    "step_mfu_multiplier": Spec("-", "step-model calibration error applied to every pool's MFU (Monte Carlo only)",
                                min=0.5, max=1.5),
    "max_job_gpus": Spec("GPUs", "largest synchronous job; a larger cluster runs several equal jobs side by side",
                         min=1, max=1e8),
}
REFERENCE_GPUS = 8192                               # job size at which per-GPU MFU is tabulated
TOKENS_PER_GPU_GRID = 2.0 ** np.arange(3, 17)       # 8 .. 65,536 tokens per GPU per step
STEP_FACTOR_PREFIX = "step: "


def validate_section(values: dict, cluster: Cluster) -> None:
    if values["split"] != "uniform" and len(cluster.pools) == 1:
        return  # a single pool: every split is the same job
    if values["precision"] == "fp8":
        missing = [p.gpu.id for p in cluster.pools if not np.isfinite(p.gpu.fp8_tflops_dense)]
        if missing:
            raise InputError(f"job.precision: 'fp8' is not supported by {', '.join(missing)}; use bf16")


# --------------------------------------------------------------------------- step model per pool
def _limits(cluster: Cluster, common: bool, pool) -> dict:
    if not common:
        return {"max_tp": None, "hbm_gb": None, "scale_out_gb_s_per_gpu": float(pool.scale_out_gb_s_per_gpu.value)}
    return {"max_tp": min(p.gpu.nvlink_domain_gpus for p in cluster.pools),
            "hbm_gb": min(p.gpu.hbm_gb for p in cluster.pools),
            "scale_out_gb_s_per_gpu": min(float(p.scale_out_gb_s_per_gpu.value) for p in cluster.pools)}


def pool_step(model_id: str, gpu_id: str, tokens_per_gpu: float, precision: str, max_tp=None, hbm_gb=None,
              scale_out_gb_s_per_gpu=None):
    """Best step-model configuration for one pool at ``tokens_per_gpu`` per step (or None if nothing fits)."""
    from analysis import training

    spec = load_model(model_id)
    sequences = max(1, int(round(tokens_per_gpu * REFERENCE_GPUS / spec["seq_len"])))
    try:
        search = training.best_configuration(spec, gpu_id, REFERENCE_GPUS, sequences, precision=precision, max_tp=max_tp,
                                             hbm_gb=hbm_gb, scale_out_gb_s_per_gpu=scale_out_gb_s_per_gpu, top=1)
    except InputError:
        return None
    return search.best


@lru_cache(maxsize=64)
def _mfu_grid(model_id: str, gpu_id: str, precision: str, max_tp, hbm_gb, scale_out) -> np.ndarray:
    out = []
    for tokens in TOKENS_PER_GPU_GRID:
        best = pool_step(model_id, gpu_id, float(tokens), precision, max_tp, hbm_gb, scale_out)
        out.append(best.mfu if best is not None else np.nan)
    return np.array(out)


def mfu_grid(cluster: Cluster, model_id: str, precision: str, common: bool) -> np.ndarray:
    """MFU (vs the dense peak at ``precision``) per pool x tokens-per-GPU grid; NaN where nothing fits."""
    rows = []
    for pool in cluster.pools:
        lim = _limits(cluster, common, pool)
        rows.append(_mfu_grid(model_id, pool.gpu.id, precision, lim["max_tp"], lim["hbm_gb"], lim["scale_out_gb_s_per_gpu"]))
    return np.array(rows)


def interpolate_mfu(grid: np.ndarray, tokens_per_gpu) -> np.ndarray:
    """Log-log interpolation of per-pool MFU at ``tokens_per_gpu`` (shape ``(..., pools)``).

    Below the grid's first feasible point the MFU is 0 (the job does not fit); above its last
    point it is held constant.
    """
    x = np.log(np.asarray(tokens_per_gpu, float))
    out = np.empty(np.broadcast_shapes(x.shape, grid.shape[:1]))
    xs = np.log(TOKENS_PER_GPU_GRID)
    for i, row in enumerate(grid):
        ok = np.isfinite(row) & (row > 0)
        if not ok.any():
            out[..., i] = 0.0
            continue
        value = np.exp(np.interp(x[..., i] if x.ndim else x, xs[ok], np.log(row[ok])))
        out[..., i] = np.where((x[..., i] if x.ndim else x) < xs[ok][0] - 1e-9, 0.0, value)
    return out


# --------------------------------------------------------------------------- the chain
@dataclass
class UtilizationResult:
    """Utilization of a scenario's cluster (scalars for a point estimate, arrays for draws)."""

    scenario: str
    split: str
    denominator: str
    value: object
    value_other_denominator: object
    other_denominator: str
    factors: dict
    pools: pd.DataFrame = field(default_factory=pd.DataFrame)
    goodput: goodput.GoodputResult | None = None
    job_gpus: object = None
    largest_job_gpus: float = 0.0

    @property
    def value_bf16_dense(self):
        """Utilization against the dense BF16 peak, whatever the job's precision (cost and economics use it)."""
        return self.value if self.denominator == "bf16 dense" else self.value_other_denominator

    def to_dict(self) -> dict:
        def plain(v):
            a = np.asarray(v, dtype=float)
            return float(a) if a.ndim == 0 else a.tolist()
        return {"value": plain(self.value), "denominator": self.denominator,
                f"value_{self.other_denominator.replace(' ', '_')}": plain(self.value_other_denominator),
                "split": self.split, "factors": {k: plain(v) for k, v in self.factors.items()},
                "largest_job_gpus": float(self.largest_job_gpus)}

    def summary(self) -> str:
        lines = [f"Utilization of {self.scenario} ({self.split} split): {float(np.mean(self.value)):.1%} of {self.denominator} peak "
                 f"({float(np.mean(self.value_other_denominator)):.1%} of {self.other_denominator} peak)"]
        lines += [f"  x {v:.3f}  {k}" for k, v in ((k, float(np.mean(v))) for k, v in self.factors.items())]
        return "\n".join(lines)


def denominator(precision: str) -> str:
    """The peak that divides MFU and utilization: the dense peak at the job's precision."""
    return "fp8 dense" if precision == "fp8" else "bf16 dense"


def _peaks(cluster: Cluster, precision: str) -> tuple[np.ndarray, np.ndarray, str]:
    bf16 = np.array([p.gpu.bf16_tflops_dense for p in cluster.pools], float)
    fp8 = np.array([p.gpu.fp8_tflops_dense for p in cluster.pools], float)
    other = "bf16" if precision == "fp8" else "fp8"
    return (fp8, bf16, denominator(other)) if precision == "fp8" else (bf16, fp8, denominator(other))


def _aware_tokens_per_gpu(batch, gpus, peak, grid):
    """Per-GPU batch proportional to each pool's useful speed (fixed point of speed(batch))."""
    share = gpus * peak / (gpus * peak).sum(axis=-1, keepdims=True)
    for _ in range(4):
        tokens = batch[..., None] * share / gpus
        speed = gpus * interpolate_mfu(grid, tokens) * peak
        share = np.where(speed.sum(axis=-1, keepdims=True) > 0, speed / np.maximum(speed.sum(axis=-1, keepdims=True), 1e-30), share)
    return batch[..., None] * share / gpus


def chain(cluster: Cluster, job: dict, hetero: dict, good: dict, gpus=None, grids=None) -> dict:
    """The vectorized chain. ``job``/``hetero``/``good`` are section values (scalars or arrays
    of draws); ``gpus`` overrides the pool counts (shape ``(..., pools)``); ``grids`` reuses
    precomputed ``(own, common)`` MFU grids. Returns the factor arrays in waterfall order (the
    step model aggregated as ``"step model (best pool)"``), their product ``value`` against the
    job precision's dense peak, ``value_other`` against the other peak, and the operating point."""
    precision, split = job["precision"], job["split"]
    peak, other_peak, _ = _peaks(cluster, precision)
    n = np.asarray([p.gpus for p in cluster.pools], float) if gpus is None else np.asarray(gpus, float)
    shape = np.broadcast_shapes(n.shape[:-1], np.shape(job["global_batch_tokens"]), np.shape(job["step_mfu_multiplier"]),
                                np.shape(job["max_job_gpus"]), *(np.shape(v) for v in hetero.values()),
                                *(np.shape(v) for v in good.values() if not isinstance(v, str)))
    n = np.broadcast_to(n, shape + n.shape[-1:])
    own, common = grids if grids is not None else (mfu_grid(cluster, job["model"], precision, False),
                                                    mfu_grid(cluster, job["model"], precision, True))
    running, jobs, tokens = _job_layout(split, n, np.broadcast_to(np.asarray(job["global_batch_tokens"], float), shape),
                                        good, job["max_job_gpus"], peak, own)
    mult = np.asarray(job["step_mfu_multiplier"], float)[..., None]
    mfu_own, mfu_common = interpolate_mfu(own, tokens) * mult, interpolate_mfu(common, tokens) * mult
    weight = running * peak / (running * peak).sum(axis=-1, keepdims=True)     # share of the running peak, by pool
    factors = _mixing_factors(split, mfu_own, mfu_common, weight, running, peak, hetero, shape)
    reliability, gp = _reliability_factors(split, n, jobs, running, weight * mfu_own, hetero, good)
    factors.update(reliability)
    factors = {k: np.broadcast_to(np.asarray(v, float), shape) for k, v in factors.items()}
    value = np.prod(list(factors.values()), axis=0)
    other = value * (n * peak).sum(axis=-1) / (n * other_peak).sum(axis=-1)
    job_gpus = running if split == "islands" else running.sum(axis=-1)
    return {"factors": factors, "value": value, "value_other": other, "tokens_per_gpu": tokens, "mfu_own": mfu_own,
            "mfu_common": mfu_common, "job_gpus": job_gpus, "goodput": gp}


def _job_layout(split, n, batch, good, max_job_gpus, peak, own_grid):
    """GPUs running per pool in one job, the number of equal jobs side by side, and tokens per
    GPU per step. Spares, repair and fragmentation leave GPUs idle; a job larger than
    ``max_job_gpus`` is split into equal jobs, each training at the full global batch."""
    sched = goodput.scheduling_goodput(good["spare_fraction"], good["repair_fraction"], good["fragmentation_fraction"])
    running = n * np.asarray(sched)[..., None]
    per_job = running if split == "islands" else running.sum(axis=-1, keepdims=True)
    jobs = np.maximum(1.0, np.ceil(per_job / np.asarray(max_job_gpus, float)[..., None] - 1e-9))
    running = running / jobs
    if split == "islands":        # each pool trains its own job at the same global batch
        tokens = batch[..., None] / running
    elif split == "aware":        # per-GPU batch in proportion to each type's speed
        tokens = _aware_tokens_per_gpu(batch, running, peak, own_grid)
    else:                         # the same batch on every GPU
        tokens = np.broadcast_to(batch[..., None] / running.sum(axis=-1, keepdims=True), running.shape)
    return running, jobs, tokens


def _mixing_factors(split, mfu_own, mfu_common, weight, running, peak, hetero, shape) -> dict:
    """Step model of the best pool, then what mixing GPU types costs under the split."""
    best = mfu_own.max(axis=-1)
    mix_own = (weight * mfu_own).sum(axis=-1)                      # peak-weighted MFU, each pool at its own limits
    factors = {"step model (best pool)": best, "pool mix": _safe_ratio(mix_own, best)}
    if split == "islands":
        return factors
    rate = mfu_common * peak                                      # useful TFLOP/s per GPU under the common layout
    uniform = {"memory and NVLink-domain limits": _safe_ratio((weight * mfu_common).sum(axis=-1), mix_own),
               "pacing by slowest GPU type": np.nan_to_num(heterogeneity.pacing_factor(running, rate))}
    if split == "uniform":
        return {**factors, **uniform}
    rate = mfu_own * peak                                         # aware: each type keeps its own layout
    units = np.broadcast_to(np.asarray(hetero["aware_work_units"], float), shape)
    aware = {"memory and NVLink-domain limits": np.ones(shape), "pacing by slowest GPU type": np.ones(shape),
             "split granularity": np.where(rate.min(axis=-1) > 0,
                                           heterogeneity.granularity_efficiency(units, np.maximum(rate, 1e-30)), 0.0),
             "aware planning": np.broadcast_to(np.asarray(hetero["aware_planning_efficiency"], float), shape)}
    # the planner also considers the uniform plan and keeps whichever is faster (per draw)
    use_aware = np.prod(list(aware.values()), axis=0) >= np.prod(list(uniform.values()), axis=0)
    return {**factors, **{k: np.where(use_aware, v, uniform.get(k, 1.0)) for k, v in aware.items()}}


def _reliability_factors(split, n, jobs, running, useful, hetero, good):
    """Straggler tail, scheduling and goodput factors of the job(s), and the GoodputResult. Islands run one job per pool; their
    factors are weighted by each pool's share of the useful FLOPs (product of means ~ mean of
    products, to well under a point since the factors are close to one another)."""
    islands = split == "islands"
    h = _with_pool_axis(hetero) if islands else hetero
    job_gpus = running if islands else running.sum(axis=-1)
    straggle = heterogeneity.straggler_factor(job_gpus / 8.0, h["slow_host_fraction"], h["slow_host_slowdown"],
                                              h["straggler_mitigation"])
    gp = goodput.from_scenario_values(_with_pool_axis(good) if islands else good, n / jobs if islands else (n / jobs).sum(axis=-1))
    runtime = {k: np.asarray(v, float) for k, v in gp.runtime_factors().items()}
    if islands:
        w = useful / np.maximum(useful.sum(axis=-1, keepdims=True), 1e-30)
        straggle = (w * straggle).sum(axis=-1)
        runtime = {k: (w * v).sum(axis=-1) for k, v in runtime.items()}
    factors = {"straggler tail": straggle}
    for name, key in (("spares", "spare_fraction"), ("repair", "repair_fraction"), ("fragmentation", "fragmentation_fraction")):
        factors[f"scheduling: {name}"] = 1.0 - np.asarray(good[key], float)
    factors.update({f"goodput: {k.replace('_', ' ')}": v for k, v in runtime.items()})
    return factors, gp


def _with_pool_axis(values: dict) -> dict:
    """Give array draws a trailing pool axis so they broadcast against per-pool jobs."""
    return {k: v if isinstance(v, str) or np.ndim(v) == 0 else np.asarray(v, float)[..., None] for k, v in values.items()}


def _safe_ratio(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.where(b > 0, np.minimum(a / np.where(b > 0, b, 1.0), 1.0), 0.0)


def _step_factors(sc, job: dict, tokens_per_gpu: np.ndarray, mfu_own: np.ndarray) -> dict:
    """Named step-model factors of the best pool at its operating point (point estimate only)."""
    i = int(np.argmax(mfu_own))
    pool = sc.cluster.pools[i]
    # the nearest grid point (a power of two tokens per GPU: a batch real layouts divide evenly)
    tokens = float(2.0 ** np.round(np.log2(float(np.asarray(tokens_per_gpu).reshape(-1)[i]))))
    best = pool_step(job["model"], pool.gpu.id, tokens, job["precision"],
                     scale_out_gb_s_per_gpu=float(pool.scale_out_gb_s_per_gpu.value))
    if best is None:
        return {}
    return {f"{STEP_FACTOR_PREFIX}{k}": float(v) for k, v in best.factors.items()}


def point(sc, split: str | None = None) -> UtilizationResult:
    """Utilization at the scenario's central values, with the step model's own factors expanded.
    ``split`` overrides the scenario's ``job.split`` (e.g. the islands counterfactual)."""
    job, het, good = sc.values("job"), sc.values("heterogeneity"), sc.values("goodput")
    if split is not None:
        if split not in SPLITS:
            raise InputError(f"split: {split!r} is not allowed; use one of {', '.join(SPLITS)}")
        job = dict(job, split=split)
    out = chain(sc.cluster, job, het, good)
    factors = {k: float(v) for k, v in out["factors"].items()}
    step = _step_factors(sc, job, np.asarray(out["tokens_per_gpu"]), np.asarray(out["mfu_own"]))
    best = factors.pop("step model (best pool)")
    if step and best > 0:
        # The chain interpolates MFU on a grid of tokens per GPU; the expanded factors come from an
        # exact search at the operating point. GEMM efficiency (the largest loss) absorbs the
        # interpolation difference so the product stays the chain's value.
        key = f"{STEP_FACTOR_PREFIX}gemm_efficiency" if f"{STEP_FACTOR_PREFIX}gemm_efficiency" in step else next(iter(step))
        step[key] = step[key] * best / np.prod(list(step.values()))
    if step and best > 0 and 0 < step[key] <= 1:
        factors = {**{k: v for k, v in step.items() if v != 1.0}, **factors}
    else:
        factors = {"step model (best pool)": best, **factors}
    value = float(np.prod(list(factors.values())))
    _, _, other_name = _peaks(sc.cluster, job["precision"])
    pools = pd.DataFrame({"pool": [p.name for p in sc.cluster.pools], "gpu": [p.gpu.id for p in sc.cluster.pools],
                          "gpus": [p.gpus for p in sc.cluster.pools],
                          "tokens_per_gpu_per_step": np.asarray(out["tokens_per_gpu"]).reshape(-1),
                          "mfu_own_limits": np.asarray(out["mfu_own"]).reshape(-1),
                          "mfu_common_limits": np.asarray(out["mfu_common"]).reshape(-1)})
    ratio = float(out["value_other"]) / float(out["value"]) if float(out["value"]) > 0 else 0.0
    job_gpus = np.asarray(out["job_gpus"], float)
    return UtilizationResult(sc.name if split is None else f"{sc.name} ({split} split)", job["split"], denominator(job["precision"]), value,
                             value * ratio, other_name, factors, pools,
                             out["goodput"], job_gpus, float(job_gpus.max()))


FACTOR_GROUPS = {
    "step model (one GPU type)": lambda k: k.startswith(STEP_FACTOR_PREFIX) or k == "step model (best pool)",
    "mixing GPU types": lambda k: k in ("pool mix", "memory and NVLink-domain limits", "pacing by slowest GPU type",
                                        "split granularity", "aware planning"),
    "stragglers": lambda k: k == "straggler tail",
    "scheduling (spares, repair, fragmentation)": lambda k: k.startswith("scheduling:"),
    "failures and checkpoints": lambda k: k.startswith("goodput:"),
}


def group_factors(factors: dict) -> dict:
    """Collapse the named factors into the five loss families (products), for a one-glance waterfall."""
    grouped = {}
    for group, member in FACTOR_GROUPS.items():
        values = [v for k, v in factors.items() if member(k)]
        if values:
            grouped[group] = float(np.prod(values))
    unassigned = [k for k in factors if not any(member(k) for member in FACTOR_GROUPS.values())]
    if unassigned:
        raise InputError(f"factors: {unassigned[0]!r} belongs to no loss family; add it to FACTOR_GROUPS")
    return grouped
