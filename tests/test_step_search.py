"""The best-configuration search (analysis.training.search) gives exactly what the slow way gives:
the full grid enumerated with numpy.meshgrid and every valid layout evaluated by the step model
(the implementation before the structural-grid cache and the memory pruning of issue 13)."""
from __future__ import annotations

import numpy as np
import pytest

from analysis import catalog
from analysis.training import search
from analysis.training.efficiency import load_calibration
from analysis.training.flops import RECOMPUTE_MODES
from analysis.training.layout import valid_layouts
from analysis.training.run import normalize_model
from analysis.training.step import step_model


def slow_candidate_grid(model, gpus, global_batch, max_tp, micro_batches=search.MICRO_BATCHES,
                        recompute_modes=search.SEARCH_RECOMPUTE):
    """The reference enumeration: the whole product of the axes, then every rule."""
    L, heads, seq, experts = model["layers"], model["heads"], model["seq_len"], model["experts"]
    tps = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= max_tp and heads % t == 0 and gpus % t == 0]
    cps = [c for c in search.CONTEXT_PARALLEL if seq % c == 0 and gpus % c == 0]
    pps = search._divisors(gpus, L)
    vs = list(range(1, search.MAX_INTERLEAVE + 1))
    eps = search._divisors(experts) if experts > 1 else [1]
    codes = [RECOMPUTE_MODES.index(r) for r in recompute_modes]
    grids = np.meshgrid(np.array(tps), np.array(cps), np.array(pps), np.array(vs), np.array(micro_batches),
                        np.array(codes), np.array([0, 1]), np.array(eps), indexing="ij")
    tp, cp, pp, v, mb, rc, slots, ep = (g.ravel() for g in grids)
    dp = np.maximum(gpus // (tp * cp * pp), 1)
    pre = (tp * cp * pp * dp == gpus) & ((v == 1) | (pp > 1)) & ((slots == 0) | (pp > 1))
    tp, cp, pp, v, mb, rc, slots, ep, dp = (x[pre] for x in (tp, cp, pp, v, mb, rc, slots, ep, dp))
    ok = valid_layouts(layers=L, heads=heads, seq_len=seq, experts=experts, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, etp=tp,
                       micro_batch=mb, global_batch=global_batch, interleave=v, embedding_slots=slots * (pp > 1), gpus=gpus)
    return {"tp": tp[ok], "cp": cp[ok], "pp": pp[ok], "dp": dp[ok], "interleave": v[ok], "micro_batch": mb[ok],
            "recompute": rc[ok], "embedding_slots": slots[ok], "ep": ep[ok]}


def slow_search(model, gpu_id, gpus, global_batch, precision="bf16", top=5, micro_batches=search.MICRO_BATCHES,
                recompute_modes=search.SEARCH_RECOMPUTE, **limits):
    """Every valid layout through the step model; the fastest that fit (stable order)."""
    spec, hardware, lim = search._hardware(gpu_id, precision, limits.get("max_tp"), limits.get("hbm_gb"),
                                           limits.get("scale_out_gb_s_per_gpu"))
    grid = slow_candidate_grid(model, gpus, global_batch, lim["max_tp"], micro_batches, recompute_modes)
    stack, software = search._software(None, spec, precision)
    out = step_model(**search._model_arrays(model), **grid, global_batch=global_batch, sequence_parallel=grid["tp"] > 1,
                     zero=1, **software, **hardware, efficiency=load_calibration().for_gpu(spec.id, stack))
    fits = np.asarray(out["fits_in_memory"])
    order = np.argsort(np.where(fits, out["step_time_s"], np.inf), kind="stable")[:min(top, int(fits.sum()))]
    return grid, out, fits, order


MOE = normalize_model(catalog.model("frontier-moe-3t"))
DENSE = normalize_model(catalog.model("llama3-405b"))
CASES = [
    (DENSE, "H100", 8192, 2048, {}),
    (DENSE, "GB200", 8192, 96, {"precision": "fp8"}),
    (DENSE, "H100", 64, 64, {"hbm_gb": 10.0}),                            # nothing fits: every layout evaluated
    (DENSE, "H200", 2048, 512, {"micro_batches": (4, 1, 2), "recompute_modes": ("full", "none")}),
    (MOE, "H100", 8192, 8, {}),
    (MOE, "GB200", 8192, 512, {}),
    (MOE, "GB200", 8192, 65536, {"max_tp": 8, "hbm_gb": 80.0, "scale_out_gb_s_per_gpu": 50.0}),
]


@pytest.mark.parametrize("model, gpu, gpus, batch, kwargs", CASES)
def test_search_is_the_slow_search(model, gpu, gpus, batch, kwargs):
    res = search.best_configuration(model, gpu, gpus, batch, top=5, **kwargs)
    limits = {k: kwargs[k] for k in ("max_tp", "hbm_gb", "scale_out_gb_s_per_gpu") if k in kwargs}
    grid, out, fits, order = slow_search(model, gpu, gpus, batch, precision=kwargs.get("precision", "bf16"),
                                         micro_batches=kwargs.get("micro_batches", search.MICRO_BATCHES),
                                         recompute_modes=kwargs.get("recompute_modes", search.SEARCH_RECOMPUTE), **limits)
    assert res.evaluated == grid["tp"].size and res.feasible == int(fits.sum())
    assert res.smallest_memory_gb == pytest.approx(float(np.min(out["memory_gb_per_gpu"])), rel=1e-12)
    if not fits.any():
        assert res.best is None and res.table.empty
        return
    for key in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "embedding_slots"):
        assert list(res.table[key]) == list(grid[key][order]), key
    assert list(res.table["recompute"]) == [RECOMPUTE_MODES[c] for c in grid["recompute"][order]]
    for key in ("step_time_s", "tokens_per_s", "mfu", "hfu", "memory_gb_per_gpu"):
        np.testing.assert_allclose(res.table[key], np.asarray(out[key])[order], rtol=1e-12, atol=0, err_msg=key)
    i = order[0]
    assert res.best.mfu == pytest.approx(float(out["mfu"][i]), rel=1e-12)
    assert res.best.config["parallelism"]["tp"] == grid["tp"][i] and res.best.config["parallelism"]["pp"] == grid["pp"][i]


@pytest.mark.parametrize("model", [DENSE, MOE])
@pytest.mark.parametrize("gpus, batch, max_tp", [(8192, 8, 8), (8192, 2048, 72), (16384, 65536, 8), (96, 96, 4),
                                                 (6144, 1, 8), (1, 8, 8)])
def test_candidate_grid_is_the_full_product_filtered(model, gpus, batch, max_tp):
    fast = search.candidate_grid(model, gpus, batch, max_tp)
    slow = slow_candidate_grid(model, gpus, batch, max_tp)
    assert fast.keys() == slow.keys()
    for key in slow:                                   # same rows in the same order (ties keep their rank)
        assert fast[key].dtype == slow[key].dtype and np.array_equal(fast[key], slow[key]), key


def test_cached_grid_is_not_changed_by_callers():
    first = search.candidate_grid(DENSE, 8192, 2048, 8)
    first["tp"][:] = 0                                   # callers get their own arrays
    again = search.candidate_grid(DENSE, 8192, 2048, 8)
    assert (again["tp"] > 0).all()
    cached = search._structural_grid(126, 128, 8192, 1, 8192, 8, search.MICRO_BATCHES, (0, 1, 2))
    with pytest.raises(ValueError):
        cached["tp"][0] = 0                              # the cache is read-only
