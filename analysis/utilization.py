"""Cluster utilization: the share of a whole cluster's peak that becomes useful model FLOPs.

The chain, for the scenario's synchronous training job(s) (section ``job``; :func:`job` computes
the job once: size cap, GPUs per pool, global batch, tokens per GPU, spares and checkpoints)::

    utilization = step model of each GPU type at its own limits (the best pool, factor by factor,
                    then "other GPU types' own MFU": H100 and GB200 reach a lower MFU than H200 on
                    their own; that is their step model, not a mixing loss)
                x memory / NVLink-domain limits   (uniform split: smallest HBM and domain)
                x pacing by the slowest GPU type  (uniform)
                  | split granularity x aware planning on the cross-type share (aware)
                  | nothing (islands: one job per GPU type, nothing is mixed)
                x straggler tail beyond the calibration scale (the step model is calibrated on
                  published MFUs that already include their own stragglers)
                x goodput (spares, repair, fragmentation, checkpoint, lost work, restart,
                           planned maintenance)

Every factor is in (0, 1] and their product is the utilization. The denominator is the dense
peak at the job's precision (BF16 unless ``job.precision`` is fp8); the other denominator is
reported beside it. Nothing here is fitted to the reported 11%: that figure is only compared.

The global batch of a job scales with its size (``job.batch_policy: critical``): the job's
compute budget ``C`` (its GPUs' BF16 peak x a planning MFU x its length) sets the batch through
DeepSeek's fitted rule ``B_opt = 0.292 C^0.3271`` tokens (DeepSeek LLM, arXiv 2401.02954,
Sec. 3.1), scaled by ``job.critical_batch_multiplier`` whose range spans Llama 3 405B's 16M
tokens and DeepSeek-V3's ~63M (McCandlish et al. 2018, arXiv 1812.06162: past the critical
batch more tokens per step buy few fewer steps). ``fixed`` keeps ``job.global_batch_tokens``.

Per-GPU MFU depends on how many tokens each GPU processes per step (global batch / GPUs). The
step model (:mod:`analysis.training`) is evaluated per pool on a grid of tokens per GPU (at a
reference job of ``REFERENCE_GPUS``) and interpolated log-log, so Monte Carlo draws of batch and
pool sizes cost no further searches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis import goodput, heterogeneity
from analysis.catalog import Cluster, load_models, model as load_model
from analysis.errors import InputError, shown
from analysis.memo import memoized
from analysis.params import Spec

SPLITS = ("uniform", "aware", "islands")
BATCH_POLICIES = ("critical", "fixed")
ISLANDS_BATCH = ("equal_tokens_per_gpu", "own_critical_batch")
PARAMETERS = {
    "model": Spec("-", "architecture trained (data/models.yaml)", choices=tuple(load_models())),
    "precision": Spec("-", "training precision; its dense peak divides MFU", choices=("bf16", "fp8")),
    "split": Spec("-", "how work is divided across GPU types", choices=SPLITS),
    "batch_policy": Spec("-", "global batch: 'critical' (from the job's compute budget) or 'fixed' (global_batch_tokens)",
                         choices=BATCH_POLICIES),
    "global_batch_tokens": Spec("tokens", "global batch per optimizer step when batch_policy is 'fixed'", min=1e5, max=2e9),
    "critical_batch_multiplier": Spec("-", "global batch relative to DeepSeek's B_opt(C) rule (batch_policy 'critical')",
                                      min=0.05, max=10),
    "training_days": Spec("days", "length of the pre-training run whose compute budget sets the critical batch", min=1, max=730),
    "islands_batch": Spec("-", "islands: each island's batch at the whole job's tokens per GPU, or its own critical batch",
                          choices=ISLANDS_BATCH),
    "step_mfu_multiplier": Spec("-", "step-model calibration error applied to every pool's MFU (Monte Carlo only)",
                                min=0.5, max=1.5),
    "max_job_gpus": Spec("GPUs", "largest synchronous job; a larger cluster runs several equal jobs side by side",
                         min=1, max=1e8),
}
REFERENCE_GPUS = 8192                               # job size at which per-GPU MFU is tabulated
TOKENS_PER_GPU_GRID = 2.0 ** np.arange(3, 17)       # 8 .. 65,536 tokens per GPU per step
STEP_FACTOR_PREFIX = "step: "
MODEL_INFO_KEYS = ("total_params_b", "active_params_b", "family", "ranges")   # data/models.yaml keys the step model ignores
OTHER_TYPES_FACTOR = f"{STEP_FACTOR_PREFIX}other GPU types' own MFU"
# DeepSeek LLM (arXiv 2401.02954) Sec. 3.1, fitted on their IsoFLOP sweeps: B_opt = 0.2920 C^0.3271 (tokens, C in FLOPs)
CRITICAL_BATCH_COEFFICIENT, CRITICAL_BATCH_EXPONENT = 0.2920, 0.3271
# the compute budget a job plans with: Llama 3 405B's published 41% BF16 MFU (arXiv 2407.21783 Table 4)
PLANNING_MFU = 0.41
# the straggler exposure already inside the calibrated step model: the largest calibration run
# (Llama 3 405B on 16,384 H100, 2,048 eight-GPU hosts; data/calibration.yaml)
CALIBRATION_HOSTS = 16384 / 8


def inactive_parameters(job_values: dict) -> set[str]:
    """``job.*`` paths the batch policy does not read (left out of sensitivity inputs)."""
    if job_values.get("batch_policy", "fixed") == "critical":
        return {"job.global_batch_tokens"}
    return {"job.critical_batch_multiplier", "job.training_days"}


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


@lru_cache(maxsize=1024)
def pool_step(model_id: str, gpu_id: str, tokens_per_gpu: float, precision: str, max_tp=None, hbm_gb=None,
              scale_out_gb_s_per_gpu=None):
    """Best step-model configuration for one pool at ``tokens_per_gpu`` per step (or None if nothing fits).

    Memoized: the inputs are a few scalars, and a scenario evaluation (or a sweep varying anything
    but the step model) asks for the same searches many times. Treat the result as read-only."""
    from analysis import training

    spec = {k: v for k, v in load_model(model_id).items() if k not in MODEL_INFO_KEYS}
    sequences = max(1, int(round(tokens_per_gpu * REFERENCE_GPUS / spec["seq_len"])))
    try:
        search = training.best_configuration(spec, gpu_id, REFERENCE_GPUS, sequences, precision=precision, max_tp=max_tp,
                                             hbm_gb=hbm_gb, scale_out_gb_s_per_gpu=scale_out_gb_s_per_gpu, top=1)
    except InputError:
        return None
    return search.best


@lru_cache(maxsize=64)
def _mfu_grid(model_id: str, gpu_id: str, precision: str, max_tp, hbm_gb, scale_out) -> np.ndarray:
    """Step-model MFU per tokens-per-GPU grid point (memoized per batch on disk by the report runner)."""
    from analysis.results import memo
    return memo("mfu-grid", lambda: _compute_mfu_grid(model_id, gpu_id, precision, max_tp, hbm_gb, scale_out),
                model_id, gpu_id, precision, max_tp, hbm_gb, scale_out, TOKENS_PER_GPU_GRID.tolist(), REFERENCE_GPUS)


def _compute_mfu_grid(model_id: str, gpu_id: str, precision: str, max_tp, hbm_gb, scale_out) -> np.ndarray:
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
    job: "Job | None" = None

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
                "largest_job_gpus": float(self.largest_job_gpus), **({"job": self.job.to_dict()} if self.job else {})}

    def summary(self) -> str:
        lines = [f"Utilization of {self.scenario} ({self.split} split): {float(np.mean(self.value)):.1%} of {self.denominator} peak "
                 f"({float(np.mean(self.value_other_denominator)):.1%} of {self.other_denominator} peak)"]
        lines += [f"  x {v:.3f}  {k}" for k, v in ((k, float(np.mean(v))) for k, v in self.factors.items())]
        if self.job is not None:
            lines.append("  " + self.job.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{k}</td><td>x {float(np.mean(v)):.3f}</td></tr>" for k, v in self.factors.items())
        return (f"<p><b>{self.scenario}</b>: {float(np.mean(self.value)):.1%} of {self.denominator} peak "
                f"({float(np.mean(self.value_other_denominator)):.1%} of {self.other_denominator})</p><table>{rows}</table>")


@dataclass
class Job:
    """The scenario's training job, computed once (:func:`job`): every report, the goodput model
    and ``evaluate`` use it. Arrays for draws; ``gpus_per_pool`` is one job's GPUs by pool (for
    islands, each pool's own job)."""

    scenario: str
    cluster: str
    split: str
    pool_names: tuple
    gpus_per_pool: object
    jobs: object
    job_gpus: object
    global_batch_tokens: object
    tokens_per_gpu: object
    batch_policy: str
    model: str
    spare_fraction: object
    repair_fraction: object
    fragmentation_fraction: object
    checkpoint_interval_s: object = None
    checkpoint_write_s: object = None
    effective_training_time: object = None

    @property
    def largest_job_gpus(self) -> float:
        return float(np.max(self.job_gpus))

    def to_dict(self) -> dict:
        def plain(v):
            a = np.asarray(v, dtype=float)
            return float(a) if a.ndim == 0 else a.tolist()
        gpp = np.asarray(self.gpus_per_pool, float)
        return {"cluster": self.cluster, "split": self.split, "model": self.model, "batch_policy": self.batch_policy,
                "gpus_per_pool": dict(zip(self.pool_names, gpp.reshape(-1, len(self.pool_names))[0].tolist())),
                "jobs": plain(np.max(self.jobs)), "job_gpus": plain(self.job_gpus), "largest_job_gpus": self.largest_job_gpus,
                "global_batch_tokens": plain(self.global_batch_tokens), "tokens_per_gpu": plain(self.tokens_per_gpu),
                "spare_fraction": plain(self.spare_fraction), "repair_fraction": plain(self.repair_fraction),
                "fragmentation_fraction": plain(self.fragmentation_fraction),
                "checkpoint_interval_s": None if self.checkpoint_interval_s is None else plain(np.mean(self.checkpoint_interval_s)),
                "effective_training_time": None if self.effective_training_time is None
                else plain(np.mean(self.effective_training_time))}

    def summary(self) -> str:
        batch = float(np.max(self.global_batch_tokens))
        return (f"job on {self.cluster}: {self.largest_job_gpus:,.0f} GPUs ({self.split}; {float(np.max(self.jobs)):,.0f} "
                f"side by side), global batch {batch / 1e6:,.1f}M tokens ({self.batch_policy}), model {self.model}")


def denominator(precision: str) -> str:
    """The peak that divides MFU and utilization: the dense peak at the job's precision."""
    return "fp8 dense" if precision == "fp8" else "bf16 dense"


def _peaks(cluster: Cluster, precision: str) -> tuple[np.ndarray, np.ndarray, str]:
    bf16 = np.array([p.gpu.bf16_tflops_dense for p in cluster.pools], float)
    fp8 = np.array([p.gpu.fp8_tflops_dense for p in cluster.pools], float)
    other = "bf16" if precision == "fp8" else "fp8"
    return (fp8, bf16, denominator(other)) if precision == "fp8" else (bf16, fp8, denominator(other))


def critical_batch_tokens(peak_flops, training_days, multiplier=1.0, planning_mfu=PLANNING_MFU):
    """Global batch (tokens) of a job from its compute budget: ``multiplier * 0.292 * C^0.3271``.

    ``C = peak_flops * planning_mfu * training_days * 86,400`` FLOPs is what the job can spend in
    its run (``peak_flops``: the job's summed BF16 dense peak, FLOP/s). The power law is DeepSeek
    LLM's fit of the optimal batch on compute (arXiv 2401.02954, Sec. 3.1); the critical batch
    of McCandlish et al. 2018 (arXiv 1812.06162) grows the same way as the loss falls. Published
    runs sit at 0.24x (Llama 3 405B: 16M tokens at C ~ 3.8e25, arXiv 2407.21783 Table 4) to
    ~2x (DeepSeek-V3: 15,360 x 4K = 63M tokens at C ~ 3.3e24, arXiv 2412.19437 Sec. 4.2) of the
    rule, hence ``job.critical_batch_multiplier``. Broadcasts.
    """
    c = np.asarray(peak_flops, float) * planning_mfu * np.asarray(training_days, float) * 86400.0
    b = np.asarray(multiplier, float) * CRITICAL_BATCH_COEFFICIENT * np.power(np.maximum(c, 1.0), CRITICAL_BATCH_EXPONENT)
    return np.clip(b, PARAMETERS["global_batch_tokens"].min, PARAMETERS["global_batch_tokens"].max)


def _aware_tokens_per_gpu(batch, gpus, peak, grid):
    """Per-GPU batch proportional to each pool's useful speed (fixed point of speed(batch)): the
    aware planner picks each GPU type's micro-batch (Metis, Sailor, HexiScale)."""
    share = gpus * peak / (gpus * peak).sum(axis=-1, keepdims=True)
    for _ in range(4):
        tokens = batch[..., None] * share / gpus
        speed = gpus * interpolate_mfu(grid, tokens) * peak
        share = np.where(speed.sum(axis=-1, keepdims=True) > 0, speed / np.maximum(speed.sum(axis=-1, keepdims=True), 1e-30), share)
    return batch[..., None] * share / gpus


def _bf16_peaks(cluster: Cluster) -> np.ndarray:
    return np.array([p.gpu.bf16_tflops_dense for p in cluster.pools], float) * 1e12


@memoized(maxsize=48)   # the rebuild iteration and a sweep's points repeat calls
def chain(cluster: Cluster, job: dict, hetero: dict, good: dict, gpus=None, grids=None) -> dict:
    """The vectorized chain. ``job``/``hetero``/``good`` are section values (scalars or arrays
    of draws); ``gpus`` overrides the pool counts (shape ``(..., pools)``); ``grids`` reuses
    precomputed ``(own, common)`` MFU grids. Returns the factor arrays in waterfall order (the
    step model aggregated as ``"step model (best pool)"``), their product ``value`` against the
    job precision's dense peak, ``value_other`` against the other peak, and the job: GPUs per
    pool in one job (``running``), equal jobs side by side (``jobs``), global batch per job
    (``global_batch_tokens``) and tokens per GPU per step."""
    job = {**_JOB_DEFAULTS, **job}
    precision, split = job["precision"], job["split"]
    peak, other_peak, _ = _peaks(cluster, precision)
    n = np.asarray([p.gpus for p in cluster.pools], float) if gpus is None else np.asarray(gpus, float)
    numeric = [v for v in (*job.values(), *hetero.values(), *good.values()) if not isinstance(v, str)]
    shape = np.broadcast_shapes(n.shape[:-1], *(np.shape(v) for v in numeric))
    n = np.broadcast_to(n, shape + n.shape[-1:])
    own, common = grids if grids is not None else (mfu_grid(cluster, job["model"], precision, False),
                                                    mfu_grid(cluster, job["model"], precision, True))
    running, jobs, tokens, batch = _job_layout(split, n, job, good, peak, _bf16_peaks(cluster), own, shape)
    mult = np.asarray(job["step_mfu_multiplier"], float)[..., None]
    mfu_own, mfu_common = interpolate_mfu(own, tokens) * mult, interpolate_mfu(common, tokens) * mult
    weight = running * peak / (running * peak).sum(axis=-1, keepdims=True)     # share of the running peak, by pool
    factors = _mixing_factors(split, mfu_own, mfu_common, weight, running, peak, hetero, shape)
    if split == "aware":
        # The planner also considers the uniform plan (same batch on every GPU, common layout) and
        # keeps whichever trains faster per draw: whole plans are compared, since moving tokens
        # towards the fast type also changes every pool's own MFU, not only the mixing factors.
        tokens_u = np.broadcast_to(batch[..., None] / running.sum(axis=-1, keepdims=True), running.shape)
        own_u, common_u = interpolate_mfu(own, tokens_u) * mult, interpolate_mfu(common, tokens_u) * mult
        uniform = _mixing_factors("uniform", own_u, common_u, weight, running, peak, hetero, shape)
        use_aware = np.prod(list(factors.values()), axis=0) >= np.prod(list(uniform.values()), axis=0)
        factors = {k: np.where(use_aware, factors.get(k, 1.0), uniform.get(k, 1.0)) for k in {**factors, **uniform}}
        tokens = np.where(use_aware[..., None], tokens, tokens_u)
        mfu_own, mfu_common = np.where(use_aware[..., None], mfu_own, own_u), np.where(use_aware[..., None], mfu_common, common_u)
    reliability, gp = _reliability_factors(split, n, jobs, running, weight * mfu_own, hetero, good,
                                           [p.gpu.id for p in cluster.pools], job["model"])
    factors.update(reliability)
    factors = {k: np.broadcast_to(np.asarray(v, float), shape) for k, v in factors.items()}
    value = np.prod(list(factors.values()), axis=0)
    other = value * (n * peak).sum(axis=-1) / (n * other_peak).sum(axis=-1)
    job_gpus = running if split == "islands" else running.sum(axis=-1)
    return {"factors": factors, "value": value, "value_other": other, "tokens_per_gpu": tokens, "mfu_own": mfu_own,
            "mfu_common": mfu_common, "job_gpus": job_gpus, "goodput": gp, "running": running, "jobs": jobs,
            "global_batch_tokens": batch}


# job keys a caller from before the batch rule may leave out (a fixed batch, as then)
_JOB_DEFAULTS = {"batch_policy": "fixed", "critical_batch_multiplier": 1.0, "training_days": 90.0,
                 "islands_batch": "equal_tokens_per_gpu", "max_job_gpus": 1e8, "step_mfu_multiplier": 1.0}


def _batch(job, gpus_per_job, bf16_peak, shape):
    """Global batch of a job of ``gpus_per_job`` GPUs per pool (pool axis last; summed here)."""
    if job["batch_policy"] == "fixed":
        return np.broadcast_to(np.asarray(job["global_batch_tokens"], float), shape)
    flops = (gpus_per_job * bf16_peak).sum(axis=-1)
    return np.broadcast_to(critical_batch_tokens(flops, job["training_days"], job["critical_batch_multiplier"]), shape)


def _job_layout(split, n, job, good, peak, bf16_peak, own_grid, shape):
    """GPUs running per pool in one job, the number of equal jobs side by side, tokens per GPU
    per step and each job's global batch. Spares, repair and fragmentation leave GPUs idle; a
    job larger than ``max_job_gpus`` is split into equal jobs, each with its own batch (the
    batch rule of its own size, or the fixed batch)."""
    sched = goodput.scheduling_goodput(good["spare_fraction"], good["repair_fraction"], good["fragmentation_fraction"])
    running_all = n * np.asarray(sched)[..., None]
    cap = np.asarray(job["max_job_gpus"], float)[..., None]
    whole_jobs = np.maximum(1.0, np.ceil(running_all.sum(axis=-1, keepdims=True) / cap - 1e-9))
    if split != "islands":
        running = running_all / whole_jobs
        batch = _batch(job, running, bf16_peak, shape)
        if split == "aware":      # per-GPU batch in proportion to each type's speed
            tokens = _aware_tokens_per_gpu(batch, running, peak, own_grid)
        else:                     # the same batch on every GPU
            tokens = np.broadcast_to(batch[..., None] / running.sum(axis=-1, keepdims=True), running.shape)
        return running, whole_jobs, tokens, batch
    # islands: each pool trains its own job(s)
    jobs = np.maximum(1.0, np.ceil(running_all / cap - 1e-9))
    running = running_all / jobs
    if job["islands_batch"] == "equal_tokens_per_gpu":
        # the tokens per GPU of the one (capped) job the cluster would otherwise run
        whole = running_all / whole_jobs
        per_gpu = _batch(job, whole, bf16_peak, shape) / whole.sum(axis=-1)
        tokens = np.broadcast_to(per_gpu[..., None], running.shape)
        batch = tokens * running
    else:
        if job["batch_policy"] == "fixed":
            batch = np.broadcast_to(np.asarray(job["global_batch_tokens"], float)[..., None], running.shape)
        else:
            batch = critical_batch_tokens(running * bf16_peak, np.asarray(job["training_days"], float)[..., None],
                                          np.asarray(job["critical_batch_multiplier"], float)[..., None])
        tokens = batch / running
    return running, jobs, tokens, batch


def _mixing_factors(split, mfu_own, mfu_common, weight, running, peak, hetero, shape) -> dict:
    """Step model of each GPU type at its own limits (the best pool, then the other types' own
    MFU relative to it: per-type step models, not a mixing loss), then what mixing GPU types in
    one job costs under the split. Islands mix nothing."""
    best = mfu_own.max(axis=-1)
    mix_own = (weight * mfu_own).sum(axis=-1)                      # peak-weighted MFU, each pool at its own limits
    factors = {"step model (best pool)": best, OTHER_TYPES_FACTOR: _safe_ratio(mix_own, best)}
    if split == "islands":
        return factors
    if split == "uniform":
        rate = mfu_common * peak                                  # useful TFLOP/s per GPU under the common layout
        return {**factors, "memory and NVLink-domain limits": _safe_ratio((weight * mfu_common).sum(axis=-1), mix_own),
                "pacing by slowest GPU type": np.nan_to_num(heterogeneity.pacing_factor(running, rate))}
    rate = mfu_own * peak                                         # aware: each type keeps its own layout and micro-batch
    units = np.broadcast_to(np.asarray(hetero["aware_work_units"], float), shape)
    cross = heterogeneity.cross_type_share(weight)
    aware = {"memory and NVLink-domain limits": np.ones(shape), "pacing by slowest GPU type": np.ones(shape),
             "split granularity": np.where(rate.min(axis=-1) > 0,
                                           heterogeneity.granularity_efficiency(units, np.maximum(rate, 1e-30)), 0.0),
             "aware planning": np.broadcast_to(heterogeneity.aware_planning_factor(hetero["aware_planning_efficiency"], cross), shape)}
    return {**factors, **aware}     # chain() compares this plan with the uniform one


def _reliability_factors(split, n, jobs, running, useful, hetero, good, gpu_ids=None, model_id=None):
    """Straggler tail, scheduling and goodput factors of the job(s), and the GoodputResult. Islands run one job per pool; their
    factors are weighted by each pool's share of the useful FLOPs (product of means ~ mean of
    products, to well under a point since the factors are close to one another). Failure rates
    follow the job's GPU types and systems (HGX vs NVL72), checkpoint size the trained model."""
    islands = split == "islands"
    h = _with_pool_axis(hetero) if islands else hetero
    job_gpus = running if islands else running.sum(axis=-1)
    # counted once: only the straggler exposure beyond the calibration runs' own (already in the step model)
    straggle = heterogeneity.straggler_factor_beyond(job_gpus / 8.0, CALIBRATION_HOSTS, h["slow_host_fraction"],
                                                     h["slow_host_slowdown"], h["straggler_mitigation"])
    extra = {"gpu_mix": job_gpu_mix(gpu_ids, running, islands)}
    if model_id is not None:
        extra["model_parameters"] = goodput.model_parameters(model_id)
    gp = goodput.from_scenario_values(_with_pool_axis(good) if islands else good, n / jobs if islands else (n / jobs).sum(axis=-1),
                                      **extra)
    runtime = {k: np.asarray(v, float) for k, v in gp.runtime_factors().items()}
    if islands:
        w = useful / np.maximum(useful.sum(axis=-1, keepdims=True), 1e-30)
        straggle = np.minimum((w * straggle).sum(axis=-1), 1.0)
        # a weighted mean of factors <= 1 is <= 1; clip the last-bit rounding of the sum
        runtime = {k: np.minimum((w * v).sum(axis=-1), 1.0) for k, v in runtime.items()}
    factors = {"straggler tail": straggle}
    for name, key in (("spares", "spare_fraction"), ("repair", "repair_fraction"), ("fragmentation", "fragmentation_fraction")):
        factors[f"scheduling: {name}"] = 1.0 - np.asarray(good[key], float)
    factors.update({f"goodput: {k.replace('_', ' ')}": v for k, v in runtime.items()})
    return factors, gp


def job_gpu_mix(gpu_ids, running, islands: bool):
    """``{gpu id: GPUs}`` of the job for the goodput model's per-type failure rates (islands:
    one job per pool, a one-hot share on the pool axis); ``None`` (the HGX H100 reference)
    where a GPU type has no failure-rate row."""
    if not gpu_ids or any(g not in goodput.failure_rate_gpus() for g in gpu_ids):
        return None
    ids = np.asarray(gpu_ids)
    running = np.asarray(running, float)
    if islands:
        return {g: np.broadcast_to((ids == g).astype(float), running.shape) for g in dict.fromkeys(gpu_ids)}
    return {g: running[..., ids == g].sum(axis=-1) for g in dict.fromkeys(gpu_ids)}


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


def _job_values(sc, split):
    job = sc.values("job")
    if split is not None:
        if split not in SPLITS:
            raise InputError(f"split: {shown(split)} is not allowed; use one of {', '.join(SPLITS)}")
        job = dict(job, split=split)
    return job


def _job_from_chain(sc, job: dict, good: dict, out: dict) -> Job:
    gp = out["goodput"]
    jobs = out["jobs"] if job["split"] == "islands" else np.asarray(out["jobs"])[..., 0]
    return Job(sc.name, sc.cluster.id, job["split"], tuple(p.name for p in sc.cluster.pools), out["running"], jobs,
               out["job_gpus"], out["global_batch_tokens"], out["tokens_per_gpu"], job["batch_policy"], job["model"],
               good["spare_fraction"], good["repair_fraction"], good["fragmentation_fraction"],
               getattr(gp, "checkpoint_interval_s", None), getattr(gp, "checkpoint_write_s", None),
               getattr(gp, "effective_training_time", None))


def job(sc, draws=None, split: str | None = None) -> Job:
    """The scenario's training job, computed once: size (``job.max_job_gpus`` cap, equal jobs
    side by side), GPUs per pool after spares, repair and fragmentation, global batch (the batch
    rule), tokens per GPU, and the goodput model's checkpoint interval. ``draws`` (a
    :class:`~analysis.scenario.Draws`) gives the job per draw."""
    if draws is None:
        return point(sc, split).job
    return chain_draws(sc, draws, split)["job"]


def chain_draws(sc, draws, split: str | None = None, grids=None) -> dict:
    """:func:`chain` on a scenario's :class:`~analysis.scenario.Draws` (parameters and pool counts
    of the same draws), with the :class:`Job` under ``"job"``."""
    from analysis.scenario import section_draws

    job_v = dict(section_draws(draws, "job"))
    if split is not None:
        job_v = {**job_v, "split": _job_values(sc, split)["split"]}
    good = section_draws(draws, "goodput")
    out = chain(sc.cluster, job_v, section_draws(draws, "heterogeneity"), good, gpus=draws.pool_counts, grids=grids)
    out["job"] = _job_from_chain(sc, {**_JOB_DEFAULTS, **job_v}, good, out)
    return out


def point(sc, split: str | None = None) -> UtilizationResult:
    """Utilization at the scenario's central values, with the step model's own factors expanded.
    ``split`` overrides the scenario's ``job.split`` (e.g. the islands counterfactual)."""
    job_v, het, good = _job_values(sc, split), sc.values("heterogeneity"), sc.values("goodput")
    out = chain(sc.cluster, job_v, het, good)
    factors = {k: float(v) for k, v in out["factors"].items()}
    step = _step_factors(sc, job_v, np.asarray(out["tokens_per_gpu"]), np.asarray(out["mfu_own"]))
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
    _, _, other_name = _peaks(sc.cluster, job_v["precision"])
    pools = pd.DataFrame({"pool": [p.name for p in sc.cluster.pools], "gpu": [p.gpu.id for p in sc.cluster.pools],
                          "gpus": [p.gpus for p in sc.cluster.pools],
                          "gpus_per_job": np.asarray(out["running"], float).reshape(-1),
                          "tokens_per_gpu_per_step": np.asarray(out["tokens_per_gpu"]).reshape(-1),
                          "mfu_own_limits": np.asarray(out["mfu_own"]).reshape(-1),
                          "mfu_common_limits": np.asarray(out["mfu_common"]).reshape(-1)})
    ratio = float(out["value_other"]) / float(out["value"]) if float(out["value"]) > 0 else 0.0
    job_gpus = np.asarray(out["job_gpus"], float)
    return UtilizationResult(sc.name if split is None else f"{sc.name} ({split} split)", job_v["split"],
                             denominator(job_v["precision"]), value, value * ratio, other_name, factors, pools,
                             out["goodput"], job_gpus, float(job_gpus.max()), _job_from_chain(sc, {**_JOB_DEFAULTS, **job_v}, good, out))


def option_utilization(sc, cluster_id: str | None = None, draws=None, split: str | None = None):
    """Utilization (fraction of the BF16 dense peak) of the scenario's job on ``cluster_id``: the
    one function the economics options use (keep = the scenario's cluster, islands = ``split``
    'islands', rebuild = 'colossus2').

    Another cluster takes the scenario of that name when one exists (its job size cap etc.),
    else the scenario's own parameters on that cluster. ``draws`` (the scenario's
    :class:`~analysis.scenario.Draws`) gives one value per draw: parameters the other scenario
    does not set come from these same draws (rows line up), the rest and its pool counts from
    that scenario's own sample of the same size and seed. Returns a float, or an array of
    ``draws.n``.
    """
    from analysis.scenario import Draws, load_scenario, scenario_names

    target = sc
    if cluster_id is not None and cluster_id != sc.cluster.id:
        target = load_scenario(cluster_id) if cluster_id in scenario_names() else _on_cluster(sc, cluster_id)
    if draws is None:
        return float(point(target, split).value_bf16_dense)
    if target is not sc:
        own = target.sample(draws.n, draws.seed)
        merged = {k: (own[k] if (k in target.overridden or k.startswith("pools.") or k not in draws) else draws[k]) for k in own}
        draws = Draws(merged, n=draws.n, seed=draws.seed, scenario=target.name, pool_names=own.pool_names)
    out = chain_draws(target, draws, split)
    return out["value"] if _job_values(target, split)["precision"] == "bf16" else out["value_other"]


def _on_cluster(sc, cluster_id: str):
    from dataclasses import replace

    from analysis.catalog import load_cluster
    return replace(sc, name=f"{sc.name} on {cluster_id}", cluster=load_cluster(cluster_id))


FACTOR_GROUPS = {
    "step model (each GPU type)": lambda k: k.startswith(STEP_FACTOR_PREFIX) or k == "step model (best pool)",
    "mixing GPU types": lambda k: k in ("memory and NVLink-domain limits", "pacing by slowest GPU type",
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
        raise InputError(f"factors: {shown(unassigned[0])} belongs to no loss family; add it to FACTOR_GROUPS")
    return grouped
