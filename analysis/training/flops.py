"""FLOP and parameter counts of a decoder-only transformer (dense or mixture-of-experts).

Every function takes scalars or numpy arrays and broadcasts.

Conventions (stated once, used everywhere):

* **Model FLOPs** follow Narayanan et al. 2021 (arXiv 2104.04473, Sec. 5.1, eq. 3 without the
  recompute pass): per layer and sequence, forward = GEMMs of the projections and FFN plus the
  attention core ``4 b s^2 h`` (QK^T and attention-over-V, the full s x s square, causal masking
  not discounted, as Narayanan, PaLM 2022 App. B, NeMo, dgxc-benchmarking and Megatron-LM's
  ``num_floating_point_operations`` count it), plus the logit layer ``2 b s h V``; backward =
  2 x forward. For GPT with a 4h FFN this is exactly ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))``.
  :func:`model_flops_per_token` with ``causal=True`` counts the attention core causally (each
  query attends ``(s + 1) / 2`` keys on average; within a sliding window ``w``:
  ``w - w (w - 1) / (2 s)``), which is what fused attention kernels execute.
* Grouped-query attention shrinks the K and V projections to ``h_kv = h * kv_heads / heads``;
  gated FFNs (SwiGLU/GeGLU) have three FFN matrices instead of two.
* Multi-head latent attention (DeepSeek-V2/V3, arXiv 2412.19437 Sec. 2.1.1) when
  ``kv_lora_rank > 0``: Q down/up projection (``q_lora_rank``, 0 = a direct projection), KV
  down-projection to ``kv_lora_rank + qk_rope_head_dim``, KV up-projection to
  ``heads x (qk_head_dim + v_head_dim)``, output ``heads x v_head_dim x h``; the attention core
  has ``qk_head_dim + qk_rope_head_dim`` per head in QK^T and ``v_head_dim`` in attention over V.
* Mixture of experts: each token passes ``top_k`` routed experts and ``shared_experts`` shared
  ones (each ``ffn_hidden`` wide), so model FLOPs count **active** parameters only (the usual MoE
  MFU convention), plus the router ``2 h E``. The first ``dense_layers`` layers are dense with a
  ``dense_ffn_hidden`` FFN (DeepSeek-V3: 3 dense layers of 18432, then 58 MoE layers).
* **Hardware FLOPs** add what recompute executes again (Korthikanti et al. 2022, arXiv
  2205.05198, Sec. 5): ``none`` adds nothing; ``selective`` re-runs the attention core forward;
  ``full`` re-runs every layer's forward (``96 B s l h^2 (1 + s/(6h) + V/(16 l h))`` for GPT,
  Narayanan 2021 eq. 3); ``modules`` (Megatron-Core ``--recompute-modules`` layernorm, moe_act,
  mla_up_proj) re-runs the MLA up-projections (the element-wise modules cost no GEMM FLOPs).
"""
from __future__ import annotations

import numpy as np

RECOMPUTE_MODES = ("none", "selective", "full", "modules")
RECOMPUTE_CODE = {name: i for i, name in enumerate(RECOMPUTE_MODES)}


def _f(x):
    return np.asarray(x, dtype=float)


def kv_hidden(hidden, heads, kv_heads):
    """Width of the K (or V) projection: ``h * kv_heads / heads`` (grouped-query attention)."""
    return _f(hidden) * _f(kv_heads) / _f(heads)


def ffn_matrices(gated_ffn):
    """2 FFN matrices (up, down) or 3 for a gated FFN (gate, up, down; Shazeer 2020)."""
    return np.where(np.asarray(gated_ffn, dtype=bool), 3.0, 2.0)


def attention_dims(hidden, heads, kv_heads, q_lora_rank=0, kv_lora_rank=0, qk_head_dim=0, qk_rope_head_dim=0,
                   v_head_dim=0):
    """Per-token widths of one attention layer: ``(params, q, k, v, o, up_params, latent)``.

    ``params`` = projection weights; ``q``/``k``/``v`` = widths of the query, key and value
    tensors the core reads; ``o`` = width of the core output; ``up_params`` = weights of the MLA
    up-projections (recomputed by ``mla_up_proj``; 0 without MLA); ``latent`` = width of what
    MLA stores instead of full K and V (``q_lora + kv_lora + rope``).
    """
    h, a = _f(hidden), _f(heads)
    mla = _f(kv_lora_rank) > 0
    hkv = kv_hidden(hidden, heads, kv_heads)
    dqk = _f(qk_head_dim) + _f(qk_rope_head_dim)
    q_mla, k_mla, v_mla = a * dqk, a * dqk, a * _f(v_head_dim)
    ql, kl, dr = _f(q_lora_rank), _f(kv_lora_rank), _f(qk_rope_head_dim)
    q_proj = np.where(ql > 0, h * ql + ql * q_mla, h * q_mla)
    kv_down = h * (kl + dr)
    kv_up = kl * a * (_f(qk_head_dim) + _f(v_head_dim))
    o_mla = v_mla * h
    params = np.where(mla, q_proj + kv_down + kv_up + o_mla, h * (h + 2 * hkv) + h * h)
    up = np.where(mla, kv_up + np.where(ql > 0, ql * q_mla, 0.0), 0.0)
    q = np.where(mla, q_mla, h)
    k = np.where(mla, k_mla, hkv)
    v = np.where(mla, v_mla, hkv)
    o = np.where(mla, v_mla, h)
    latent = np.where(mla, ql + kl + dr, 0.0)
    return params, q, k, v, o, up, latent


def attention_params_per_layer(hidden, heads, kv_heads, **mla):
    """Q, K, V and output projection weights of one layer (biases and norms ignored)."""
    return attention_dims(hidden, heads, kv_heads, **mla)[0]


def expert_params(hidden, ffn_hidden, gated_ffn):
    """Weights of one FFN (one expert): ``matrices * h * ffn_hidden``."""
    return ffn_matrices(gated_ffn) * _f(hidden) * _f(ffn_hidden)


def _layer_counts(layers, experts, dense_layers):
    """(dense layers, MoE layers): all layers are dense in a dense model."""
    L = _f(layers)
    moe = _f(experts) > 1
    dense = np.where(moe, np.minimum(_f(dense_layers), L), L)
    return dense, L - dense


def _dense_ffn(ffn_hidden, dense_ffn_hidden):
    return np.where(_f(dense_ffn_hidden) > 0, _f(dense_ffn_hidden), _f(ffn_hidden))


def parameters(layers, hidden, heads, kv_heads, ffn_hidden, vocab, experts=1, top_k=1, gated_ffn=False,
               tied_embeddings=False, shared_experts=0, dense_layers=0, dense_ffn_hidden=0, **mla):
    """Parameter counts: ``(total, active)`` (active = what one token passes through).

    Embedding ``V h`` plus an untied output layer ``V h`` (unless ``tied_embeddings``); norms and
    biases are ignored (< 0.1% at these sizes; Narayanan 2021 eq. 2 keeps them as 13/(12h)).
    """
    h, E = _f(hidden), _f(experts)
    attn = attention_params_per_layer(hidden, heads, kv_heads, **mla)
    ffn = expert_params(hidden, ffn_hidden, gated_ffn)
    dense_ffn = expert_params(hidden, _dense_ffn(ffn_hidden, dense_ffn_hidden), gated_ffn)
    n_dense, n_moe = _layer_counts(layers, experts, dense_layers)
    router = np.where(E > 1, h * E, 0.0)
    embed = _f(vocab) * h * np.where(np.asarray(tied_embeddings, dtype=bool), 1.0, 2.0)
    shared = _f(shared_experts) * ffn
    total = n_dense * (attn + dense_ffn) + n_moe * (attn + E * ffn + shared + router) + embed
    active = n_dense * (attn + dense_ffn) + n_moe * (attn + _f(top_k) * ffn + shared + router) + embed
    return total, active


def core_keys(seq_len, sliding_window=0, causal=False):
    """Keys each query attends on average: ``s`` (non-causal count), ``(s + 1) / 2`` causal;
    within a sliding window ``w``: ``min(w, s)`` non-causal, ``w - w (w - 1) / (2 s)`` causal."""
    s = _f(seq_len)
    w = np.where(_f(sliding_window) > 0, np.minimum(_f(sliding_window), s), s)
    return np.where(np.asarray(causal, dtype=bool), w - w * (w - 1) / (2 * s), w)


def forward_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1,
                            gated_ffn=False, *, shared_experts=0, dense_layers=0, dense_ffn_hidden=0, sliding_window=0,
                            sliding_window_layers=0, causal=False, **mla):
    """Forward model FLOPs per token, split ``(layer_gemm, attention_core, logits)``.

    Per layer: ``2 x`` projection weights (Q, K, V, output or the MLA projections) ``+ 2 k m h F``
    (k active FFNs of m matrices, plus shared experts) ``+ 2 h E`` (router) as GEMMs; the
    attention core ``2 keys (q + v)`` (``4 s h`` for standard attention counted non-causally,
    Narayanan 2021 Sec. 5.1). Logit layer ``2 h V`` once.
    """
    h = _f(hidden)
    E = _f(experts)
    attn, q, k, v, o, up, latent = attention_dims(hidden, heads, kv_heads, **mla)
    n_dense, n_moe = _layer_counts(layers, experts, dense_layers)
    router = np.where(E > 1, 2 * h * E, 0.0)
    ffn = expert_params(hidden, ffn_hidden, gated_ffn)
    dense_ffn = expert_params(hidden, _dense_ffn(ffn_hidden, dense_ffn_hidden), gated_ffn)
    moe_ffn = (_f(top_k) + _f(shared_experts)) * ffn
    gemm = n_dense * (2 * attn + 2 * dense_ffn) + n_moe * (2 * attn + 2 * moe_ffn + router)
    L = _f(layers)
    windowed = np.minimum(_f(sliding_window_layers), L) * (_f(sliding_window) > 0)
    per_key = 2 * (q + v)
    core = per_key * ((L - windowed) * core_keys(seq_len, 0, causal) + windowed * core_keys(seq_len, sliding_window, causal))
    logits = 2.0 * h * _f(vocab)
    return gemm, core, logits


def model_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1,
                          gated_ffn=False, **extra):
    """Training model FLOPs per token = 3 x forward (backward = 2 x forward; Narayanan 2021 Sec. 5.1).

    For GPT (4h FFN, no GQA, dense) this equals ``72 l h^2 (1 + s/(6h) + V/(12 l h))``.
    ``causal=True`` counts the attention core causally (see the module docstring).
    """
    gemm, core, logits = forward_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len,
                                                 experts, top_k, gated_ffn, **extra)
    return 3.0 * (gemm + core + logits)


def recompute_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1,
                              gated_ffn=False, recompute="none", recompute_fraction=1.0, **extra):
    """Forward FLOPs executed again by recompute per token (Korthikanti 2022 Sec. 5)."""
    code = recompute_code(recompute)
    gemm, core, _ = forward_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len,
                                            experts, top_k, gated_ffn, **extra)
    mla = {k: extra[k] for k in ("q_lora_rank", "kv_lora_rank", "qk_head_dim", "qk_rope_head_dim", "v_head_dim") if k in extra}
    up = attention_dims(hidden, heads, kv_heads, **mla)[5]
    return np.select([code == 2, code == 1, code == 3],
                     [_f(recompute_fraction) * (gemm + core), core, 2 * up * _f(layers)], 0.0)


def hardware_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1,
                             gated_ffn=False, recompute="none", **extra):
    """Training FLOPs executed per token including recompute (Korthikanti 2022 Sec. 5), with the
    model-FLOP (non-causal) attention count. ``recompute`` is a mode name or its code."""
    fraction = extra.pop("recompute_fraction", 1.0)
    base = model_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts, top_k, gated_ffn,
                                 **extra)
    return base + recompute_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts, top_k,
                                            gated_ffn, recompute, fraction, **extra)


def recompute_code(recompute):
    """Mode name(s) -> integer code array (0 none, 1 selective, 2 full, 3 modules); codes pass through."""
    if isinstance(recompute, str):
        return np.asarray(RECOMPUTE_CODE[recompute])
    arr = np.asarray(recompute)
    if arr.dtype.kind in "US":
        return np.vectorize(RECOMPUTE_CODE.__getitem__)(arr)
    return arr.astype(int)


def narayanan_model_flops_per_step(batch, seq_len, layers, hidden, vocab):
    """Narayanan 2021 Sec. 5.1 closed form without recompute: ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))``."""
    B, s, l, h, V = (_f(x) for x in (batch, seq_len, layers, hidden, vocab))
    return 72 * B * s * l * h**2 * (1 + s / (6 * h) + V / (12 * l * h))


def narayanan_hardware_flops_per_step(batch, seq_len, layers, hidden, vocab):
    """Narayanan 2021 eq. 3 (with the full-recompute forward pass): ``96 B s l h^2 (1 + s/(6h) + V/(16 l h))``."""
    B, s, l, h, V = (_f(x) for x in (batch, seq_len, layers, hidden, vocab))
    return 96 * B * s * l * h**2 * (1 + s / (6 * h) + V / (16 * l * h))
