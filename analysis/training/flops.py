"""FLOP and parameter counts of a decoder-only transformer (dense or mixture-of-experts).

Every function takes scalars or numpy arrays and broadcasts.

Conventions (stated once, used everywhere):

* **Model FLOPs** follow Narayanan et al. 2021 (arXiv 2104.04473, Sec. 5.1, eq. 3 without the
  recompute pass): per layer and sequence, forward = GEMMs of the projections and FFN plus the
  attention core ``4 b s^2 h`` (QK^T and attention-over-V, the full s x s square, causal masking
  not discounted, as Narayanan and PaLM 2022 App. B count it), plus the logit layer
  ``2 b s h V``; backward = 2 x forward. For GPT with a 4h FFN this is exactly
  ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))``.
* Grouped-query attention shrinks the K and V projections to ``h_kv = h * kv_heads / heads``;
  gated FFNs (SwiGLU/GeGLU) have three FFN matrices instead of two.
* Mixture of experts: each token passes ``top_k`` experts, so model FLOPs count **active**
  parameters only (the usual MoE MFU convention), plus the router ``2 h E``.
* **Hardware FLOPs** add what recompute executes again (Korthikanti et al. 2022, arXiv
  2205.05198, Sec. 5): ``none`` adds nothing; ``selective`` re-runs the attention core forward
  (QK^T, softmax, attention over V: ``4 b s^2 h`` per layer); ``full`` re-runs every layer's
  forward (so layers cost 4 x forward, the logit layer 3 x): ``96 B s l h^2 (1 + s/(6h) +
  V/(16 l h))`` for GPT (Narayanan 2021 eq. 3).
"""
from __future__ import annotations

import numpy as np

RECOMPUTE_MODES = ("none", "selective", "full")
RECOMPUTE_CODE = {name: i for i, name in enumerate(RECOMPUTE_MODES)}


def kv_hidden(hidden, heads, kv_heads):
    """Width of the K (or V) projection: ``h * kv_heads / heads`` (grouped-query attention)."""
    return np.asarray(hidden, dtype=float) * np.asarray(kv_heads, dtype=float) / np.asarray(heads, dtype=float)


def ffn_matrices(gated_ffn):
    """2 FFN matrices (up, down) or 3 for a gated FFN (gate, up, down; Shazeer 2020)."""
    return np.where(np.asarray(gated_ffn, dtype=bool), 3.0, 2.0)


def attention_params_per_layer(hidden, heads, kv_heads):
    """Q, K, V and output projection weights of one layer (biases and norms ignored)."""
    h = np.asarray(hidden, dtype=float)
    return h * (h + 2 * kv_hidden(hidden, heads, kv_heads)) + h * h


def expert_params(hidden, ffn_hidden, gated_ffn):
    """Weights of one FFN (one expert): ``matrices * h * ffn_hidden``."""
    return ffn_matrices(gated_ffn) * np.asarray(hidden, dtype=float) * np.asarray(ffn_hidden, dtype=float)


def parameters(layers, hidden, heads, kv_heads, ffn_hidden, vocab, experts=1, top_k=1, gated_ffn=False,
               tied_embeddings=False):
    """Parameter counts: ``(total, active)`` (active = what one token passes through).

    Embedding ``V h`` plus an untied output layer ``V h`` (unless ``tied_embeddings``); norms and
    biases are ignored (< 0.1% at these sizes; Narayanan 2021 eq. 2 keeps them as 13/(12h)).
    """
    layers = np.asarray(layers, dtype=float)
    attn = attention_params_per_layer(hidden, heads, kv_heads)
    ffn = expert_params(hidden, ffn_hidden, gated_ffn)
    router = np.where(np.asarray(experts) > 1, np.asarray(hidden, dtype=float) * np.asarray(experts, dtype=float), 0.0)
    embed = np.asarray(vocab, dtype=float) * np.asarray(hidden, dtype=float) * np.where(np.asarray(tied_embeddings, dtype=bool), 1.0, 2.0)
    total = layers * (attn + np.asarray(experts, dtype=float) * ffn + router) + embed
    active = layers * (attn + np.asarray(top_k, dtype=float) * ffn + router) + embed
    return total, active


def forward_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1,
                            gated_ffn=False):
    """Forward model FLOPs per token, split ``(layer_gemm, attention_core, logits)``.

    Per layer: ``2 h (h + 2 h_kv) + 2 h^2`` (QKV and output projections) ``+ 2 k m h F`` (k active
    FFNs of m matrices) ``+ 2 h E`` (router) as GEMMs, and ``4 s h`` for the attention core
    (Narayanan 2021 Sec. 5.1: ``4 b s^2 h`` per sequence). Logit layer ``2 h V`` once.
    """
    h = np.asarray(hidden, dtype=float)
    layers = np.asarray(layers, dtype=float)
    router = np.where(np.asarray(experts) > 1, 2 * h * np.asarray(experts, dtype=float), 0.0)
    gemm = 2 * attention_params_per_layer(hidden, heads, kv_heads) + 2 * np.asarray(top_k, dtype=float) * expert_params(hidden, ffn_hidden, gated_ffn) + router
    core = 4.0 * np.asarray(seq_len, dtype=float) * h
    logits = 2.0 * h * np.asarray(vocab, dtype=float)
    return layers * gemm, layers * core, logits


def model_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1,
                          gated_ffn=False):
    """Training model FLOPs per token = 3 x forward (backward = 2 x forward; Narayanan 2021 Sec. 5.1).

    For GPT (4h FFN, no GQA, dense) this equals ``72 l h^2 (1 + s/(6h) + V/(12 l h))``.
    """
    gemm, core, logits = forward_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len,
                                                 experts, top_k, gated_ffn)
    return 3.0 * (gemm + core + logits)


def hardware_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len, experts=1, top_k=1,
                             gated_ffn=False, recompute="none"):
    """Training FLOPs executed per token including recompute (Korthikanti 2022 Sec. 5).

    ``recompute`` is a mode name or its code (0 none, 1 selective, 2 full), scalar or array.
    """
    code = recompute_code(recompute)
    gemm, core, logits = forward_flops_per_token(layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq_len,
                                                 experts, top_k, gated_ffn)
    extra = np.where(code == 2, gemm + core, np.where(code == 1, core, 0.0))
    return 3.0 * (gemm + core + logits) + extra


def recompute_code(recompute):
    """Mode name(s) -> integer code array (0 none, 1 selective, 2 full); codes pass through."""
    if isinstance(recompute, str):
        return np.asarray(RECOMPUTE_CODE[recompute])
    arr = np.asarray(recompute)
    if arr.dtype.kind in "US":
        return np.vectorize(RECOMPUTE_CODE.__getitem__)(arr)
    return arr.astype(int)


def narayanan_model_flops_per_step(batch, seq_len, layers, hidden, vocab):
    """Narayanan 2021 Sec. 5.1 closed form without recompute: ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))``."""
    B, s, l, h, V = (np.asarray(x, dtype=float) for x in (batch, seq_len, layers, hidden, vocab))
    return 72 * B * s * l * h**2 * (1 + s / (6 * h) + V / (12 * l * h))


def narayanan_hardware_flops_per_step(batch, seq_len, layers, hidden, vocab):
    """Narayanan 2021 eq. 3 (with the full-recompute forward pass): ``96 B s l h^2 (1 + s/(6h) + V/(16 l h))``."""
    B, s, l, h, V = (np.asarray(x, dtype=float) for x in (batch, seq_len, layers, hidden, vocab))
    return 96 * B * s * l * h**2 * (1 + s / (6 * h) + V / (16 * l * h))
