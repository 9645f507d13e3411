"""Checkpointing: size, write cost (synchronous or asynchronous), and the checkpoint interval.

* **Size**: weights plus optimizer state of the model, ``P × bytes_per_param``. Mixed-precision
  Adam keeps fp16/bf16 weights (2 B), fp32 master weights (4 B) and two fp32 moments (8 B):
  14 B per parameter saved (ZeRO, Rajbhandari et al. 2020, arXiv 1910.02054 Sec. 3.1, counts
  16 B with the 2 B of gradients, which a checkpoint does not keep). ``P`` comes from the
  scenario's model in ``data/models.yaml`` (:func:`model_parameters`).
* **Synchronous** write: training blocks while the whole state goes to storage,
  ``δ = fixed + bytes / storage bandwidth`` (Llama 3: Tectonic, 2 TB/s sustained, 7 TB/s peak,
  arXiv 2407.21783 Sec. 3.3.1).
* **Asynchronous, two-phase, in-memory** (Gemini 1 report Sec. 3: in-memory replicas;
  ByteCheckpoint, arXiv 2407.20143; Megatron-Core async save): training blocks only while each
  GPU copies its shard to host memory, ``δ = fixed + bytes / (N × device-to-host bandwidth)``;
  the copy to storage runs in the background and takes ``bytes / storage bandwidth``, so the next
  checkpoint cannot start before it ends (the interval is at least that long).
* **Interval**: Young (1974) ``τ = √(2 δ M)``, Daly (2006) higher order, or the exact optimum of
  Daly's complete cost (:func:`young_daly_interval_s`); or a user input.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from analysis.errors import InputError, shown
from analysis.goodput._util import arr as _arr, out as _out

INTERVAL_METHODS = ("young", "daly", "exact")
CHECKPOINT_MODES = ("sync", "async")
REFERENCE_MODEL = "llama3-405b"


@lru_cache(maxsize=32)
def model_parameters(model_id: str = REFERENCE_MODEL) -> float:
    """Total parameter count of a model in ``data/models.yaml`` (weights of every expert)."""
    from analysis.catalog import model as load_model
    from analysis.training.flops import parameters

    spec = load_model(model_id)
    total, _ = parameters(spec["layers"], spec["hidden"], spec["heads"], spec.get("kv_heads", spec["heads"]),
                          spec.get("ffn_hidden", 4 * spec["hidden"]), spec["vocab"], spec.get("experts", 1),
                          spec.get("top_k", 1), spec.get("gated_ffn", False))
    return float(total)


def checkpoint_bytes(parameters, bytes_per_param=14.0):
    """Bytes of one full checkpoint: ``P × bytes_per_param`` (weights + optimizer state)."""
    return _out(_arr("model_parameters", parameters, 0.0, inclusive=False)
                * _arr("checkpoint_bytes_per_param", bytes_per_param, 0.0, inclusive=False))


def checkpoint_write_s(size_bytes, gpus, mode="sync", storage_write_gb_s=1000.0, checkpoint_fixed_s=5.0,
                       snapshot_gb_s_per_gpu=25.0):
    """Blocking time of one checkpoint (s) and the background persist time (s), vectorized.

    ``sync``: ``fixed + bytes / storage``; nothing in the background. ``async``: ``fixed + bytes /
    (N × snapshot bandwidth per GPU)`` blocking, then ``bytes / storage`` in the background.
    """
    if mode not in CHECKPOINT_MODES:
        raise InputError(f"checkpoint_mode: {shown(mode)} is not allowed; use one of {', '.join(CHECKPOINT_MODES)}")
    size = _arr("checkpoint_bytes", size_bytes, 0.0, inclusive=False)
    n = _arr("gpus", gpus, 0.0, inclusive=False)
    storage = _arr("storage_write_gb_s", storage_write_gb_s, 0.0, inclusive=False) * 1e9
    fixed = _arr("checkpoint_fixed_s", checkpoint_fixed_s, 0.0)
    persist = size / storage
    if mode == "sync":
        return _out(fixed + persist + 0 * n), _out(np.zeros(np.broadcast_shapes(np.shape(persist), np.shape(n))))
    snap = _arr("snapshot_gb_s_per_gpu", snapshot_gb_s_per_gpu, 0.0, inclusive=False) * 1e9
    return _out(fixed + size / (n * snap)), _out(persist + 0 * n)


def young_daly_interval_s(checkpoint_write_s, mtbf_s, method: str = "young"):
    """Optimal compute time between checkpoints τ (s), vectorized.

    * ``"young"``: τ = √(2 δ M), Young, "A first order approximation to the optimum checkpoint
      interval", CACM 17(9), 1974.
    * ``"daly"``: Daly, "A higher order estimate of the optimum checkpoint interval for restart
      dumps", FGCS 22(3), 2006, perturbation solution
      τ = √(2 δ M) [1 + ⅓ √(δ/2M) + ⅑ (δ/2M)] − δ for δ < 2M, else τ = M. It reproduces the
      paper's Fig. 3-5 captions (M = 24 h, 6 h, 15 min with δ = 5 min: τ = 117, 57, 9.1 min).
    * ``"exact"``: the minimizer of Daly's complete cost (e^{(τ+δ)/M} − 1)/τ, τ = M (1 + W₀(−e^{−1−δ/M}))
      with W₀ the principal Lambert W branch (Daly 2006 lists the Lambert function as its tool).
      The restart time does not move the optimum (it only scales the cost by e^{R/M}).
    """
    from scipy.special import lambertw

    if method not in INTERVAL_METHODS:
        raise InputError(f"method: {shown(method)} is not allowed; use one of {', '.join(INTERVAL_METHODS)}")
    d = _arr("checkpoint_write_s", checkpoint_write_s, 0.0, inclusive=False)
    m = _arr("mtbf_s", mtbf_s, 0.0, inclusive=False)
    d, m = np.broadcast_arrays(d, m)
    if method == "young":
        return _out(np.sqrt(2 * d * m))
    if method == "daly":
        xi = d / (2 * m)
        tau = np.sqrt(2 * d * m) * (1 + np.sqrt(xi) / 3 + xi / 9) - d
        return _out(np.where(d < 2 * m, tau, m))
    ratio = d / m
    w = np.real(lambertw(-np.exp(-1.0 - ratio), 0))
    # Near the branch point (δ/M < 1e-6) use the series W = -1 + p - p²/3 + 11p³/72 - 43p⁴/540,
    # p = √(2(1 - e^{-δ/M})), which is more accurate there.
    p = np.sqrt(-2 * np.expm1(-ratio))
    series = p - p ** 2 / 3 + 11 * p ** 3 / 72 - 43 * p ** 4 / 540
    return _out(m * np.where(ratio < 1e-6, series, 1 + w))


