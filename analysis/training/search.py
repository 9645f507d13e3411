"""Best-configuration search: every feasible layout of a model on one GPU type, evaluated as arrays.

:func:`best_configuration` enumerates (tp, pp, dp, cp, ep, micro-batch, interleave,
recompute, embedding slots) as one numpy grid, keeps the valid ones (the same rules as the run
validation), evaluates them in one :func:`~analysis.training.step.step_model` call, drops those
that do not fit HBM, and returns the fastest with the top alternatives. :func:`benchmark`
measures how many configurations per second the vectorized model evaluates.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis import catalog
from analysis.errors import InputError, shown
from analysis.training import stacks as stack_profiles
from analysis.training.efficiency import load_calibration
from analysis.training.flops import RECOMPUTE_MODES
from analysis.training.layout import valid_layouts
from analysis.training.run import MODEL_ARRAY_KEYS, RUN_PRECISIONS, StepResult, normalize_model, result_from_arrays
from analysis.training.step import FP8_RECIPE_CODE, step_model

MICRO_BATCHES = (1, 2, 4, 8)
SEARCH_RECOMPUTE = ("none", "selective", "full")    # default modes searched ('modules' on request)
CONTEXT_PARALLEL = (1, 2, 4, 8, 16)
MAX_INTERLEAVE = 16
TABLE_COLUMNS = ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "recompute", "embedding_slots",
                 "step_time_s", "tokens_per_s", "mfu", "hfu", "memory_gb_per_gpu")


@dataclass(frozen=True)
class SearchResult:
    """Fastest feasible configuration (``best``, a StepResult; None if nothing fits) and the
    ``table`` of the top alternatives (fastest first)."""

    best: StepResult | None
    table: pd.DataFrame
    evaluated: int
    feasible: int
    smallest_memory_gb: float
    limits: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"best": self.best.to_dict() if self.best else None, "evaluated": self.evaluated, "feasible": self.feasible,
                "smallest_memory_gb": float(self.smallest_memory_gb), "limits": dict(self.limits),
                "table": self.table.to_dict(orient="records")}

    def summary(self) -> str:
        head = (f"Searched {self.evaluated:,} valid configurations, {self.feasible:,} fit in "
                f"{self.limits.get('hbm_gb', float('nan')):g} GB (max tp {self.limits.get('max_tp')}, scale-out "
                f"{self.limits.get('scale_out_gb_s_per_gpu', float('nan')):g} GB/s per GPU)")
        if self.best is None:
            return head + f"\n  none fits: the smallest needs {self.smallest_memory_gb:,.1f} GB per GPU"
        return head + "\n" + self.best.summary() + "\n  top alternatives:\n" + self.table.to_string(index=False)


def _divisors(n: int, limit: int | None = None) -> list[int]:
    """Divisors of ``n`` (up to ``limit``), by trial division to sqrt(n)."""
    small = [d for d in range(1, int(n ** 0.5) + 1) if n % d == 0]
    out = sorted(set(small + [n // d for d in small]))
    return [d for d in out if limit is None or d <= limit]


GRID_KEYS = ("tp", "cp", "pp", "dp", "interleave", "micro_batch", "recompute", "embedding_slots", "ep")


def candidate_grid(model: dict, gpus: int, global_batch: int, max_tp: int, micro_batches=MICRO_BATCHES,
                   recompute_modes=SEARCH_RECOMPUTE) -> dict[str, np.ndarray]:
    """All valid layouts as flat integer arrays (validity: :func:`analysis.training.layout.valid_layouts`,
    the rules the run parser applies). Experts use ``etp = tp`` (Megatron-Core's default).

    The rows are in the order of the full grid (tp, cp, pp, interleave, micro-batch, recompute,
    embedding slots, ep; each axis ascending as listed). The layouts that pass every rule not
    involving the global batch are enumerated once per (model shape, gpus, max tp, micro-batches,
    recompute modes) and cached (:func:`_structural_grid`); each call only applies the batch rules.
    """
    grid, ok, _ = _grid_and_mask(model, gpus, global_batch, max_tp, micro_batches, recompute_modes)
    return {key: grid[key][ok] for key in GRID_KEYS}


def _grid_and_mask(model: dict, gpus: int, global_batch: int, max_tp: int, micro_batches, recompute_modes) -> tuple:
    """The cached structural grid, the mask of its rows valid at ``global_batch`` and the cache key."""
    key = (int(model["layers"]), int(model["heads"]), int(model["seq_len"]), int(model["experts"]), int(gpus), int(max_tp),
           tuple(int(b) for b in micro_batches), tuple(RECOMPUTE_MODES.index(r) for r in recompute_modes))
    grid = _structural_grid(*key)
    return grid, _batch_rules(grid, int(global_batch)), key


def _batch_rules(grid: dict, global_batch: int) -> np.ndarray:
    """The layout rules that involve the global batch (:func:`analysis.training.layout.layout_checks`,
    schedule 1F1B/interleaved): whole micro-batches per pipeline, and with interleaving a multiple of pp."""
    per = grid["dp"] * grid["micro_batch"]
    ok = global_batch % per == 0
    return ok & ((grid["interleave"] == 1) | ((global_batch // per) % grid["pp"] == 0))


@lru_cache(maxsize=32)                  # a few MB per entry (a MoE model on 8,192 GPUs: ~64k rows)
def _structural_grid(layers: int, heads: int, seq: int, experts: int, gpus: int, max_tp: int, micro_batches: tuple,
                     codes: tuple) -> dict[str, np.ndarray]:
    """Every layout on ``gpus`` that passes the rules not involving the global batch, in grid order
    (read-only arrays, ``GRID_KEYS`` and ``layout``, an id per parallel layout without micro-batch
    and recompute mode; cached). Built from the (tp, cp, pp) triples that divide ``gpus`` outward,
    so the full product of the axes is never materialised."""
    L = layers
    tps = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= max_tp and heads % t == 0 and gpus % t == 0]
    cps = [c for c in CONTEXT_PARALLEL if seq % c == 0 and gpus % c == 0]
    pps = _divisors(gpus, L)
    eps = [e for e in _divisors(experts)] if experts > 1 else [1]
    # (tp, cp, pp) with a whole dp, in grid order
    tcp = [(t, c, p) for t in tps for c in cps for p in pps if gpus % (t * c * p) == 0]
    rows = []                                       # (tp, cp, pp, v, slots) with a valid pipeline split
    for t, c, p in tcp:
        for v in range(1, MAX_INTERLEAVE + 1):
            if v > 1 and p == 1:
                continue
            for slots in (0, 1):
                if (slots == 0 or p > 1) and (L + 2 * slots) % (p * v) == 0:
                    rows.append((t, c, p, v, slots))
    empty = {key: np.zeros(0, dtype=int) for key in GRID_KEYS + ("layout",)}
    if not rows:
        return empty
    base = np.array(rows, dtype=int)
    nm, nr, ne = len(micro_batches), len(codes), len(eps)
    # expand in grid order: (tp, cp, pp, v) rows x micro-batch x recompute x slots x ep; a base row
    # is a (tp, cp, pp, v, slots) combination, so the slots axis is interleaved by sorting below
    idx_base = np.repeat(np.arange(len(base)), nm * nr * ne)
    mb = np.tile(np.repeat(np.array(micro_batches, dtype=int), nr * ne), len(base))
    rc = np.tile(np.repeat(np.array(codes, dtype=int), ne), len(base) * nm)
    ep = np.tile(np.array(eps, dtype=int), len(base) * nm * nr)
    mb_pos = np.tile(np.repeat(np.arange(nm), nr * ne), len(base))
    rc_pos = np.tile(np.repeat(np.arange(nr), ne), len(base) * nm)
    ep_pos = np.tile(np.arange(ne), len(base) * nm * nr)
    b = base[idx_base]
    tp, cp, pp, v, slots = b[:, 0], b[:, 1], b[:, 2], b[:, 3], b[:, 4]
    # position in the full grid (tp, cp, pp, v, mb, rc, slots, ep): the order of the original enumeration
    key_tcpv = _rank(base[:, :4])[idx_base]
    layout = idx_base * ne + ep_pos                 # one id per (tp, cp, pp, v, slots, ep)
    order = np.lexsort((ep_pos, slots, rc_pos, mb_pos, key_tcpv))
    tp, cp, pp, v, slots, mb, rc, ep, layout = (x[order] for x in (tp, cp, pp, v, slots, mb, rc, ep, layout))
    dp = gpus // (tp * cp * pp)
    # the rules not involving the batch: a global batch of 2 pp dp micro_batch passes the others
    ok = valid_layouts(layers=L, heads=heads, seq_len=seq, experts=experts, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, etp=tp,
                       micro_batch=mb, global_batch=2 * pp * dp * mb, interleave=v, embedding_slots=slots * (pp > 1),
                       gpus=gpus)
    out = {"tp": tp[ok], "cp": cp[ok], "pp": pp[ok], "dp": dp[ok], "interleave": v[ok], "micro_batch": mb[ok],
           "recompute": rc[ok], "embedding_slots": slots[ok], "ep": ep[ok], "layout": layout[ok]}
    for value in out.values():
        value.setflags(write=False)
    return out


@lru_cache(maxsize=256)
def _state_bound(grid_key: tuple, model_items: tuple, software_items: tuple, hardware_items: tuple, efficiency) -> np.ndarray:
    """Per row of the structural grid: True where the weights, gradients and optimizer state alone
    (``weights_optimizer_gb_per_gpu`` of :func:`~analysis.training.step.step_model`, which does not
    depend on the micro-batch, recompute mode or global batch) exceed the usable HBM, so the layout
    cannot fit at any batch. A relative margin of 1e-9 keeps rounding from pruning a layout that fits."""
    grid = _structural_grid(*grid_key)
    if grid["tp"].size == 0:
        return np.zeros(0, dtype=bool)
    # one row per parallel layout (the state is the same at every micro-batch and recompute mode)
    _, first, inverse = np.unique(grid["layout"], return_index=True, return_inverse=True)
    rows = {key: grid[key][first] for key in GRID_KEYS}
    out = step_model(**dict(model_items), **rows, global_batch=2 * rows["pp"] * rows["dp"] * rows["micro_batch"],
                     sequence_parallel=rows["tp"] > 1, zero=1, **dict(software_items), **dict(hardware_items),
                     efficiency=efficiency)
    over = np.asarray(out["weights_optimizer_gb_per_gpu"]) > np.asarray(out["hbm_capacity_gb"]) * (1 + 1e-9)
    over = over[inverse.ravel()]
    over.setflags(write=False)
    return over


def _cannot_fit(grid_key: tuple, model: dict, software: dict, hardware: dict, efficiency) -> np.ndarray | None:
    """:func:`_state_bound` for these inputs, or None when they are not hashable (array efficiencies)."""
    try:
        return _state_bound(grid_key, tuple(sorted(_model_arrays(model).items())), tuple(sorted(software.items())),
                            tuple(sorted(hardware.items())), efficiency)
    except TypeError:
        return None


def _rank(rows: np.ndarray) -> np.ndarray:
    """Dense rank of each row of an integer matrix in lexicographic order."""
    _, inverse = np.unique(rows, axis=0, return_inverse=True)
    return inverse.ravel()


def _hardware(gpu_id: str, precision: str, max_tp, hbm_gb, scale_out_gb_s_per_gpu) -> tuple:
    spec = catalog.gpu(gpu_id)
    if precision not in RUN_PRECISIONS:
        raise InputError(f"precision: {shown(precision)} is not allowed; use one of {', '.join(RUN_PRECISIONS)}")
    if not np.isfinite(spec.peak_tflops(precision)):
        raise InputError(f"precision: {shown(precision)} has no dense peak for GPU {spec.id} in data/gpus.csv; use bf16 or fp16")
    limits = {"max_tp": int(max_tp if max_tp is not None else spec.nvlink_domain_gpus),
              "hbm_gb": float(hbm_gb if hbm_gb is not None else spec.hbm_gb),
              "scale_out_gb_s_per_gpu": float(scale_out_gb_s_per_gpu if scale_out_gb_s_per_gpu is not None else spec.scale_out_gb_s_per_gpu)}
    for key, value in limits.items():
        if not value > 0:
            raise InputError(f"{key}: {shown(value)} is not positive")
    hardware = dict(peak_tflops=spec.peak_tflops(precision), bf16_peak_tflops=spec.bf16_tflops_dense, fp8=precision == "fp8",
                    hbm_tb_s=spec.hbm_tb_s, hbm_gb=limits["hbm_gb"], nvlink_gb_s_per_gpu=spec.nvlink_gb_s_per_gpu,
                    # the NVLink domain seen by the job is the smaller of the GPU's and the imposed limit
                    nvlink_domain_gpus=min(spec.nvlink_domain_gpus, limits["max_tp"]),
                    scale_out_gb_s_per_gpu=limits["scale_out_gb_s_per_gpu"])
    return spec, hardware, limits


def _model_arrays(model: dict) -> dict:
    return {key: model.get(key, 0) for key in MODEL_ARRAY_KEYS}


def _software(stack: str | None, spec, precision: str) -> tuple[str, dict]:
    """The search's software settings: a stack profile's flags (default: the profile file's
    search_default) and the FP8 recipe of the architecture (MXFP8 on Blackwell, delayed on Hopper)."""
    stack = stack or stack_profiles.search_default()
    flags = stack_profiles.flags(stack)
    recipe = "mxfp8" if getattr(spec, "architecture", "") == "blackwell" else "delayed"
    return stack, {**flags, "fp8_recipe": FP8_RECIPE_CODE[recipe] if precision == "fp8" else 0}


def best_configuration(model: dict | str, gpu_id: str, gpus: int, global_batch: int, precision: str = "bf16",
                       max_tp: int | None = None, hbm_gb: float | None = None, scale_out_gb_s_per_gpu: float | None = None,
                       top: int = 5, calibration=None, micro_batches=MICRO_BATCHES,
                       recompute_modes=SEARCH_RECOMPUTE, stack: str | None = None) -> SearchResult:
    """Fastest feasible layout of ``model`` on ``gpus`` x ``gpu_id`` at ``global_batch`` sequences.

    ``max_tp``, ``hbm_gb`` and ``scale_out_gb_s_per_gpu`` override the GPU's NVLink domain, HBM
    and network (the heterogeneity module imposes the smallest common limits across GPU types).
    MoE models (``experts`` > 1) also search the expert-parallel degree ``ep``. Software
    settings are a stack profile (``stack``; default data/software_stacks.yaml
    ``search_default``, Megatron-Core 2025: fused attention, TP-communication and DP overlap)
    with the distributed optimizer and sequence parallelism with TP; the efficiency is that of
    the GPU's architecture x precision (data/calibration.yaml).
    """
    model = normalize_model(model)
    for name, value in (("gpus", gpus), ("global_batch", global_batch), ("top", top)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name}: {shown(value)} is not a positive integer")
    spec, hardware, limits = _hardware(gpu_id, precision, max_tp, hbm_gb, scale_out_gb_s_per_gpu)
    full, valid, grid_key = _grid_and_mask(model, int(gpus), int(global_batch), limits["max_tp"], micro_batches,
                                           recompute_modes)
    evaluated = int(valid.sum())
    if evaluated == 0:
        raise InputError(f"gpus: no valid layout of {gpus} GPUs for this model at global_batch {global_batch} "
                         f"(heads {model['heads']}, layers {model['layers']}, max tp {limits['max_tp']})")
    if calibration is None:
        calibration = load_calibration()
    stack, software = _software(stack, spec, precision)
    efficiency = calibration.for_gpu(spec.id, stack)

    def evaluate(rows):
        grid = {key: full[key][rows] for key in GRID_KEYS}
        out = step_model(**_model_arrays(model), **grid, global_batch=global_batch, sequence_parallel=grid["tp"] > 1,
                         zero=1, **software, **hardware, efficiency=efficiency)
        fits = np.asarray(out["fits_in_memory"])
        return grid, out, fits, int(fits.sum())

    # layouts whose weights and optimizer state alone exceed HBM cannot fit: leave them out of the
    # evaluation. The fastest, the table, the feasible count and (when something fits, as the
    # smallest memory is then below HBM) the smallest memory are the same as over every layout.
    over = _cannot_fit(grid_key, model, software, hardware, efficiency)
    candidates = valid & ~over if over is not None else valid
    feasible = 0
    if candidates.any():
        grid, out, fits, feasible = evaluate(candidates)
    if feasible == 0 and candidates.sum() < evaluated:
        grid, out, fits, feasible = evaluate(valid)
    smallest = float(np.min(out["memory_gb_per_gpu"]))
    if feasible == 0:
        return SearchResult(None, pd.DataFrame(columns=list(TABLE_COLUMNS)), evaluated, 0, smallest, limits)
    step = np.where(fits, out["step_time_s"], np.inf)
    order = np.argsort(step, kind="stable")[:min(top, feasible)]
    rows = {key: grid[key][order] for key in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "embedding_slots")}
    rows["recompute"] = np.array(RECOMPUTE_MODES)[grid["recompute"][order]]
    for key in ("step_time_s", "tokens_per_s", "mfu", "hfu", "memory_gb_per_gpu"):
        rows[key] = np.asarray(out[key])[order]
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    i = int(order[0])
    par = {key: int(grid[key][i]) for key in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "embedding_slots")}
    par.update(global_batch=int(global_batch), sequence_parallel=bool(par["tp"] > 1), zero=1, etp=par["tp"],
               recompute=RECOMPUTE_MODES[int(grid["recompute"][i])],
               pipeline_schedule="interleaved" if par["interleave"] > 1 else "1f1b")
    config = {"name": f"best {spec.id} x {gpus}", "gpu": spec.id, "gpus": int(gpus), "precision": precision,
              "network": {"scale_out_gb_s_per_gpu": limits["scale_out_gb_s_per_gpu"]}, "model": model, "parallelism": par,
              "software": {"stack": stack, **{k: bool(v) for k, v in software.items() if k != "fp8_recipe"}}, "limits": limits}
    best = result_from_arrays(out, None, i, name=config["name"], gpu=spec.id, gpus=int(gpus), precision=precision,
                              peak_tflops=hardware["peak_tflops"], model=model, config_dict=config, calibration=calibration.label)
    return SearchResult(best, table, evaluated, feasible, smallest, limits)


def benchmark(seconds: float = 2.0) -> dict[str, float]:
    """Configurations per second of the vectorized step model and of the whole search (one core).

    Evaluates the valid layouts of Llama 3 405B on 16,384 H100 (data/models.yaml) repeatedly
    for about ``seconds``; ``step_model_configurations_per_s`` counts configurations evaluated
    by :func:`~analysis.training.step.step_model`, ``search_configurations_per_s`` includes
    enumeration, filtering and ranking in :func:`best_configuration`; ``mfu_grid_searches_per_s``
    counts whole searches of one MFU grid of the utilization chain (frontier-moe-3t on 8,192 GB200,
    14 tokens-per-GPU points).
    """
    model = normalize_model(catalog.model("llama3-405b"))
    calibration = load_calibration()
    spec, hardware, limits = _hardware("H100", "bf16", None, None, None)
    stack, software = _software(None, spec, "bf16")
    grid = candidate_grid(model, 16384, 2048, limits["max_tp"])
    reps = max(1, 200_000 // grid["tp"].size)
    tiled = {key: np.tile(value, reps) for key, value in grid.items()}
    efficiency = calibration.for_gpu("H100", stack)
    kwargs = dict(**_model_arrays(model), **tiled, global_batch=2048, sequence_parallel=tiled["tp"] > 1, **software,
                  **hardware, efficiency=efficiency)
    count, start = 0, time.perf_counter()
    while True:
        step_model(**kwargs)
        count += tiled["tp"].size
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 2:
            break
    per_s = count / elapsed
    searches, start = 0, time.perf_counter()
    while True:
        result = best_configuration(model, "H100", 16384, 2048, calibration=calibration)
        searches += result.evaluated
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 2:
            break
    # the utilization chain's MFU grids: one search per tokens-per-GPU point (8 .. 65,536) of a MoE
    # model on 8,192 GPUs (analysis.utilization._compute_mfu_grid), caches warm after the first grid
    moe = normalize_model(catalog.model("frontier-moe-3t"))
    batches = [max(1, int(round(t * 8192 / moe["seq_len"]))) for t in 2.0 ** np.arange(3, 17)]

    def mfu_grid():
        for b in batches:
            best_configuration(moe, "GB200", 8192, b, top=1, calibration=calibration)

    mfu_grid()
    grids, start = 0, time.perf_counter()
    while grids < 2 or time.perf_counter() - start < seconds / 2:
        mfu_grid()
        grids += 1
    grid_s = (time.perf_counter() - start) / grids
    return {"step_model_configurations_per_s": per_s, "search_configurations_per_s": searches / elapsed,
            "search_grid_configurations": float(grid["tp"].size), "mfu_grid_searches_per_s": len(batches) / grid_s}


def layout_scaling(config, gpu_counts, calibration=None) -> pd.DataFrame:
    """A run's layout (tp, pp, cp, micro-batch, interleave, recompute) at other GPU counts and the
    same global batch: dp = gpus / (tp pp cp). Counts the layout cannot use (dp not whole, batch not
    divisible, interleave needing micro-batches % pp == 0) are left out. One vectorized call."""
    from analysis.training.run import RunConfig, resolve_recompute

    if not isinstance(config, RunConfig):
        raise InputError(f"config: expected a RunConfig (analysis.training.load_run), got {type(config).__name__}")
    par = config.parallelism
    per_replica = par["tp"] * par["pp"] * par["cp"]
    gpus = np.asarray(sorted(set(int(g) for g in gpu_counts)))
    dp = gpus // per_replica
    from analysis.training.run import layout_kwargs
    rules = layout_kwargs(config.model, par)
    rules["dp"] = np.maximum(dp, 1)
    ok = (dp >= 1) & (dp * per_replica == gpus) & valid_layouts(**rules)
    gpus, dp = gpus[ok], dp[ok]
    calibration = calibration or load_calibration()
    efficiency = calibration.for_gpu(config.gpu.id, config.stack)
    kwargs = resolve_recompute(config, efficiency).arrays()
    kwargs["dp"] = dp
    out = step_model(**kwargs, efficiency=efficiency)
    return pd.DataFrame({"gpus": gpus, "dp": dp, "micro_batches": np.broadcast_to(out["micro_batches"], gpus.shape),
                         "mfu": np.where(out["fits_in_memory"], out["mfu"], np.nan),
                         "step_time_s": np.where(out["fits_in_memory"], out["step_time_s"], np.nan),
                         "fits_in_memory": np.broadcast_to(out["fits_in_memory"], gpus.shape)})


def strong_scaling(model, gpu_id: str, gpu_counts, global_batch: int, precision: str = "bf16", calibration=None,
                   **limits) -> pd.DataFrame:
    """MFU of the best feasible configuration at each GPU count, same global batch (one search each)."""
    rows = []
    for gpus in gpu_counts:
        res = best_configuration(model, gpu_id, int(gpus), global_batch, precision=precision, calibration=calibration, top=1,
                                 **limits)
        par = res.best.config["parallelism"] if res.best else {}
        rows.append({"gpus": int(gpus), "mfu": res.best.mfu if res.best else np.nan,
                     "step_time_s": res.best.step_time_s if res.best else np.nan,
                     "layout": (f"tp{par['tp']} pp{par['pp']} dp{par['dp']} cp{par['cp']} ep{par['ep']} mb{par['micro_batch']} "
                                f"v{par['interleave']} {par['recompute']}") if res.best else "none fits",
                     "feasible": res.feasible})
    return pd.DataFrame(rows)
