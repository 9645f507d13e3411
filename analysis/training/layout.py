"""The layout rules of a parallel training configuration, stated once.

Both the run validation (:func:`analysis.training.run.parse_run`, one run, one InputError line
naming the field) and the configuration search (:func:`analysis.training.search.candidate_grid`,
millions of layouts as arrays) use :func:`layout_checks`: each rule is a vectorized predicate
with the field it concerns and a message builder.

Rules (Megatron-Core conventions):

* ``gpus = tp x pp x dp x cp`` (attention / dense layers);
* ``heads`` divisible by ``tp``; ``seq_len`` divisible by ``cp``;
* pipeline split (:func:`pipeline_split`): ``pp x interleave`` stages of equal layer counts, or
  first/last stages with fewer layers (``first_stage_layers`` / ``last_stage_layers`` =
  Megatron-Core ``decoder_first/last_pipeline_num_layers``; ``embedding_slots`` = the embedding
  and loss counted as layers, ``account_for_embedding/loss_in_pipeline_split``); the middle
  stages' layer count must be a multiple of ``interleave``;
* ``interleave > 1`` needs ``pp > 1`` and micro-batches per pipeline divisible by ``pp``
  (Narayanan 2021 Sec. 2.2.2); DualPipe needs an even ``pp`` and an even number of micro-batches
  (DeepSeek-V3 Sec. 3.2.1);
* ``global_batch`` divisible by ``dp x micro_batch``;
* MoE parallel folding (Megatron-Core MoE docs): ``ep`` divides ``experts``; ``ep x etp``
  divides ``tp x cp x dp`` (expert-DP = the quotient); ``ep > 1`` or ``etp != tp`` needs experts.
"""
from __future__ import annotations

import numpy as np


def auto_pipeline_split(layers: int, pp: int, interleave: int) -> tuple[int, int, int] | None:
    """Megatron-Core-style split when none is stated: ``(embedding_slots, first, last)``.

    Even split if ``layers`` is a multiple of ``pp x interleave`` -> ``(0, 0, 0)``; else the
    embedding and loss counted as one layer each if that makes it even -> ``(1, 0, 0)``; else
    (non-interleaved only) ``ceil(layers / pp)`` on the middle stages and the remainder on the
    first and last (the last, which also holds the logits, gets the smaller half) -> ``(0, f, l)``;
    None if no split works.
    """
    if pp == 1 or layers % (pp * interleave) == 0:
        return 0, 0, 0
    if (layers + 2) % (pp * interleave) == 0 and (layers + 2) // pp > 1:
        return 1, 0, 0
    if interleave > 1:
        return None
    mid = -(-layers // pp)
    rest = layers - (pp - 2) * mid
    last = rest // 2
    first = rest - last
    if pp >= 2 and 1 <= last <= first <= mid:
        return 0, first, last
    return None


def pipeline_split(layers, pp, interleave, embedding_slots=0, first_stage_layers=0, last_stage_layers=0):
    """Layers on the first, middle and last stages and whether the split is valid (arrays)."""
    L, p, v = (np.asarray(x) for x in (layers, pp, interleave))
    r, f0, l0 = (np.asarray(x) for x in (embedding_slots, first_stage_layers, last_stage_layers))
    explicit = (f0 > 0) | (l0 > 0)
    slots = L + 2 * r * (p > 1)
    even_ok = (slots % (p * v) == 0) & ((r == 0) | ((p > 1) & (slots // np.maximum(p, 1) > r)))
    first = np.where(explicit, f0, np.where(p > 1, slots // np.maximum(p, 1) - r, L))
    last = np.where(explicit, l0, np.where(p > 1, slots // np.maximum(p, 1) - r, 0))
    middle_total = L - first - last
    mids = np.maximum(p - 2, 1)
    mid = np.where(p > 2, middle_total // mids, 0)
    explicit_ok = ((p >= 2) & (f0 >= 1) & (l0 >= 1) & (r == 0)
                   & np.where(p > 2, (middle_total > 0) & (middle_total % mids == 0) & (mid % v == 0), middle_total == 0))
    return first, mid, last, np.where(explicit, explicit_ok, even_ok)


def layout_checks(*, layers, heads, seq_len, experts, tp, pp, dp, cp, ep, etp, micro_batch, global_batch, interleave,
                  embedding_slots=0, first_stage_layers=0, last_stage_layers=0, schedule=0, gpus=None):
    """Every layout rule as ``(field, ok, message)``; ``ok`` is a boolean array, ``message()``
    builds the one-line explanation for a scalar layout (used by the run parser)."""
    tp, pp, dp, cp, ep, mb, v = (np.asarray(x) for x in (tp, pp, dp, cp, ep, micro_batch, interleave))
    et = np.where(np.asarray(etp) > 0, etp, tp)
    B = np.asarray(global_batch)
    micro = B // np.maximum(dp * mb, 1)
    checks = []
    if gpus is not None:
        checks.append(("gpus", tp * pp * dp * cp == gpus,
                       lambda: f"gpus: {gpus} != tp*pp*dp*cp = {tp}*{pp}*{dp}*{cp} = {tp * pp * dp * cp}; "
                               "the product of the parallel degrees must equal gpus"))
    checks.append(("model.heads", heads % tp == 0,
                   lambda: f"model.heads: {heads} is not divisible by tp = {tp}; expected heads to be a multiple of tp"))
    checks.append(("model.seq_len", seq_len % cp == 0,
                   lambda: f"model.seq_len: {seq_len} is not divisible by cp = {cp}; expected a multiple of cp"))
    checks.append(("parallelism.interleave", (v == 1) | (pp > 1),
                   lambda: f"parallelism.interleave: {v} needs pipeline parallelism; expected 1 when pp = 1"))
    _, _, _, split_ok = pipeline_split(layers, pp, v, embedding_slots, first_stage_layers, last_stage_layers)
    checks.append(("model.layers", split_ok,
                   lambda: f"model.layers: {layers} layers do not split over pp*interleave = {pp}*{v} = {pp * v} stages "
                           f"(embedding_slots {embedding_slots}, first_stage_layers {first_stage_layers}, last_stage_layers "
                           f"{last_stage_layers}); expected equal stages, or first/last stages with fewer layers and the "
                           "middle stages a multiple of interleave"))
    checks.append(("parallelism.global_batch", B % np.maximum(dp * mb, 1) == 0,
                   lambda: f"parallelism.global_batch: {global_batch} is not divisible by dp*micro_batch = {dp}*{mb}; "
                           "expected a whole number of micro-batches per pipeline"))
    checks.append(("parallelism.interleave", (v == 1) | (micro % np.maximum(pp, 1) == 0),
                   lambda: f"parallelism.interleave: {v} needs the micro-batches per pipeline ({micro}) to be a multiple of "
                           f"pp = {pp} (interleaved 1F1B, Narayanan 2021 Sec. 2.2.2); use interleave 1 or change "
                           "global_batch/micro_batch"))
    checks.append(("parallelism.pipeline_schedule", (np.asarray(schedule) != 3) | ((pp % 2 == 0) & (micro % 2 == 0)),
                   lambda: f"parallelism.pipeline_schedule: dualpipe needs an even pp ({pp}) and an even number of "
                           f"micro-batches per pipeline ({micro}) (DeepSeek-V3 Sec. 3.2.1)"))
    checks.append(("parallelism.ep", (ep == 1) | (experts > 1),
                   lambda: f"parallelism.ep: {ep} needs a mixture-of-experts model; expected 1 for a dense model"))
    checks.append(("parallelism.ep", experts % ep == 0,
                   lambda: f"parallelism.ep: {ep} does not divide experts = {experts}; expected a divisor"))
    checks.append(("parallelism.etp", (tp * cp * dp) % (ep * et) == 0,
                   lambda: f"parallelism.etp: ep*etp = {ep}*{et} does not divide tp*cp*dp = {tp}*{cp}*{dp} = {tp * cp * dp}; "
                           "experts fold over the attention ranks as ep x etp x expert-dp (Megatron-Core MoE parallel folding)"))
    return checks


def valid_layouts(**kwargs) -> np.ndarray:
    """Boolean mask of the layouts that satisfy every rule (the search's filter)."""
    ok = True
    for _, passed, _ in layout_checks(**kwargs):
        ok = ok & passed
    return np.asarray(ok)


def first_violation(**kwargs) -> str | None:
    """The message of the first rule a scalar layout breaks (None if it satisfies all)."""
    for _, passed, message in layout_checks(**kwargs):
        if not bool(np.all(passed)):
            return message()
    return None
