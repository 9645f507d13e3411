"""Views of the step model and its calibration (notebook 10_step_model): formatted tables and figures.

Views take model results (:class:`~analysis.training.fit.CalibrationResult`,
:class:`~analysis.training.run.StepResult`, run configurations) and return formatted frames or
matplotlib figures; the only model calls here are the step model on variants of one run for
the stack-feature table (what each feature is worth), which is the view's question.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import plots
from analysis.plots import SMALL, log_axis
from analysis.report import format as fmt
from analysis.report.labels import label, register

register({
    # factors of the step model (peak -> MFU)
    "recompute": "Recompute (extra forward passes)",
    "gemm_efficiency": "GEMM and attention kernel efficiency (causal attention)",
    "memory_bound_ops": "Memory-bound ops (norms, activations, FP8 casts, MoE permute)",
    "host_overhead": "Host overhead (kernel launches without CUDA graphs, CPU offload)",
    "exposed_tp": "Exposed tensor-parallel communication",
    "exposed_cp": "Exposed context-parallel communication",
    "exposed_ep": "Exposed expert-parallel all-to-all",
    "pipeline_imbalance": "Pipeline stage imbalance",
    "pipeline_p2p": "Pipeline point-to-point",
    "pipeline_bubble": "Pipeline bubble",
    "exposed_dp": "Exposed data-parallel reduce/gather",
    "optimizer": "Optimizer step",
    "software_stack": "Software-stack efficiency",
    "stragglers": "Stragglers",
    # calibrated parameters
    "gemm_efficiency:ampere:bf16": "GEMM efficiency, Ampere BF16 (of BF16 dense peak)",
    "gemm_efficiency:hopper:bf16": "GEMM efficiency, Hopper BF16 (of BF16 dense peak)",
    "gemm_efficiency:hopper:fp8": "GEMM efficiency, Hopper FP8 (of FP8 dense peak)",
    "gemm_efficiency:blackwell:bf16": "GEMM efficiency, Blackwell BF16 (of BF16 dense peak)",
    "gemm_efficiency:blackwell:fp8": "GEMM efficiency, Blackwell FP8 (of FP8 dense peak)",
    "stack_efficiency:deepspeed-2021": "DeepSpeed 2021 stack throughput (relative to Megatron-LM)",
    "stack_efficiency:megatron-lm": "Megatron-LM stack throughput (reference)",
    "moe_load_imbalance": "MoE load imbalance (busiest / mean expert GPU)",
    "tp_overlap": "Share of TP communication hidden by overlap",
    "flash_attention_efficiency": "Fused attention efficiency (of BF16 dense peak, causal FLOPs)",
    "gemm_shape_kappa": "GEMM operand-traffic weight",
    "memory_bandwidth_efficiency": "Achieved / nominal HBM bandwidth",
    "nvlink_efficiency": "Achieved / unidirectional NVLink bandwidth",
    "scale_out_efficiency": "Achieved / nominal scale-out bandwidth",
    "collective_latency_s": "Latency per collective (s)",
    "cp_overlap": "Share of CP communication hidden",
    "ep_overlap": "Share of MoE all-to-all hidden (unscheduled)",
    "ep_overlap_scheduled": "Share of MoE all-to-all hidden (scheduled overlap)",
    "host_overhead_s_per_layer": "Host launch time per layer forward (s)",
    "straggler_sigma": "Per-GPU jitter (straggler sigma)",
    "hbm_usable_fraction": "Usable / nominal HBM",
    "offload_overlap": "Share of CPU-offload transfers hidden",
})

SOURCE_LABELS = {
    "nemo-24.07-h100": "NeMo 24.07, H100 (FP8)",
    "dgxc-gpt3-175b-v25.02": "DGXC GPT-3 175B v25.02, H100",
    "dgxc-llama3.1-h100-v25.04": "DGXC Llama 3.1 v25.04, H100",
    "dgxc-nemotron4-v25.05": "DGXC Nemotron-4 v25.05, H100",
    "megatron-lm-readme-2024": "Megatron-LM README 2024, H100",
    "dgxc-deepseek-v3-v25.05": "DGXC DeepSeek-V3 v25.05, H100",
    "deepseek-v3-report": "DeepSeek-V3 report, H800 (FP8)",
    "nemo-25.02-b200": "NeMo 25.02, B200 (FP8)",
    "dgxc-llama3.1-gb200-v25.05": "DGXC Llama 3.1 v25.05, GB200",
}
PRECISION_LABELS = {"bf16": "BF16", "fp16": "FP16", "fp8": "FP8"}


def source_label(source: str) -> str:
    return SOURCE_LABELS.get(source, source)


# --------------------------------------------------------------------------- error tables
def error_summary_table(result) -> pd.DataFrame:
    """In-sample, leave-one-out and leave-one-source-out errors, formatted."""
    summary = result.error_summary()
    out = pd.DataFrame(index=summary.index)
    out.index.name = "Evaluation"
    out["Modern runs: mean abs tokens/s error"] = [f"{v:.1f}%" for v in summary["modern runs: mean abs tokens/s error (%)"]]
    out["v1 runs: mean abs MFU error"] = [f"{v:.2f} pts" for v in summary["v1 runs: mean abs MFU error (points)"]]
    out["v1 A100 runs: mean abs MFU error"] = [f"{v:.2f} pts" for v in summary["v1 A100 runs: mean abs MFU error (points)"]]
    return out


def other_peak_mfu(gpu_id: str, precision: str, mfu: float) -> str:
    """An MFU on the other dense peak, named: an FP8 run's against BF16, a BF16 run's against FP8 (``n/a`` on a GPU
    without FP8, such as A100). The same model FLOPs over another peak: MFU x this peak / the other."""
    from analysis import catalog

    gpu = catalog.gpu(gpu_id)
    other = "bf16" if precision == "fp8" else "fp8"
    peak, other_peak = gpu.peak_tflops(precision), gpu.peak_tflops(other)
    if not (np.isfinite(peak) and np.isfinite(other_peak) and other_peak > 0):
        return fmt.MISSING
    return f"{fmt.pct(mfu * peak / other_peak)} of {PRECISION_LABELS[other]}"


def run_error_table(result, modern_only: bool = False) -> pd.DataFrame:
    """Per run: published and predicted tokens/s per GPU, error in-sample and held out (LOSO, LOO)."""
    t = result.table
    if modern_only:
        t = t[t["set"] == "modern"]
    loso = result.loso["error_pct"] if result.loso is not None else pd.Series(dtype=float)
    loo = result.loo["error_pct"] if result.loo is not None else pd.Series(dtype=float)
    rows = []
    for run_id, row in t.iterrows():
        rows.append({
            "Run": run_id, "Source": source_label(row["source"]), "GPU": row["gpu"],
            "Precision": PRECISION_LABELS.get(row["precision"], row["precision"]), "GPUs": fmt.integer(row["gpus"]),
            "In fit": fmt.yes_no(row["in_fit"]),
            "Published tokens/s per GPU": fmt.number(row["published_tokens_per_s_per_gpu"]),
            "Predicted tokens/s per GPU": fmt.number(row["predicted_tokens_per_s_per_gpu"]),
            "Error (in-sample)": fmt.signed_pct(row["error_pct"] / 100, 1),
            "Error (leave-one-source-out)": fmt.signed_pct(loso[run_id] / 100, 1) if run_id in loso.index else fmt.MISSING,
            "Error (leave-one-out)": fmt.signed_pct(loo[run_id] / 100, 1) if run_id in loo.index else fmt.MISSING,
            "MFU of": f"{PRECISION_LABELS.get(row['precision'], row['precision'])} dense peak",
            "Published MFU": fmt.pct(row["published_mfu"]), "Predicted MFU": fmt.pct(row["predicted_mfu"]),
            "Predicted MFU, other dense peak": other_peak_mfu(row["gpu"], row["precision"], row["predicted_mfu"]),
            "Recompute": str(row["recompute"]).replace("micro_batch", "micro-batch").replace("_", " "),
            "Memory per GPU": f"{fmt.number(row['memory_gb_per_gpu'])} GB",
        })
    return pd.DataFrame(rows).set_index("Run")


def parameter_table(calibration) -> pd.DataFrame:
    """Every step-model parameter with value, range, status and source, human-labelled."""
    t = calibration.table()
    return pd.DataFrame({
        "Parameter": [label(k) for k in t.index],
        "Value": [fmt.number(v, 3) for v in t["value"]],
        "Range": [f"{fmt.number(lo, 3)} to {fmt.number(hi, 3)}" if lo is not None and np.isfinite(lo) else fmt.MISSING
                  for lo, hi in zip(t["low"], t["high"])],
        "Status": list(t["status"]),
        "Source": list(t["source"]),
    }).set_index("Parameter").pipe(fmt.table, {c: "text" for c in ("Value", "Range", "Status")} | {"Source": "link"},
                                  labels=False, label_index=False)


# --------------------------------------------------------------------------- figures
def parity_figure(result, title: str = "Step model vs published runs: tokens/s per GPU") -> plt.Figure:
    """Predicted vs published tokens/s per GPU (log-log), three panels coloured by GPU, by
    precision and by source; filled markers in-sample, hollow the leave-one-source-out prediction."""
    t = result.table[result.table["in_fit"]]
    loso = result.loso["predicted_tokens_per_s_per_gpu"] if result.loso is not None else None
    fig, axes = plt.subplots(1, 3, figsize=(16, 7.6))
    keys = (("gpu", "GPU", lambda v: v), ("precision", "Precision", lambda v: PRECISION_LABELS.get(v, v)),
            ("source", "Source", lambda v: "v1: " + v if v not in SOURCE_LABELS else source_label(v)))
    lo = 0.6 * t["published_tokens_per_s_per_gpu"].min()
    hi = 1.6 * t["published_tokens_per_s_per_gpu"].max()
    for ax, (column, name, text) in zip(axes, keys):
        groups = list(dict.fromkeys(t[column]))
        pal = sns.color_palette("tab20" if len(groups) > 10 else "tab10", len(groups))
        for color, group in zip(pal, groups):
            sub = t[t[column] == group]
            ax.scatter(sub["published_tokens_per_s_per_gpu"], sub["predicted_tokens_per_s_per_gpu"], color=color, s=30,
                       label=text(group), zorder=3)
            if loso is not None:
                ax.scatter(sub["published_tokens_per_s_per_gpu"], loso.reindex(sub.index), facecolors="none",
                           edgecolors=color, s=30, zorder=2)
        grid = np.array([lo, hi])
        ax.plot(grid, grid, color="k", lw=0.8)
        for f in (0.9, 1.1):
            ax.plot(grid, grid * f, color="0.5", lw=0.8, ls="--")
        log_axis(ax, "x")
        log_axis(ax, "y")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("published tokens/s per GPU (log scale)", fontsize=10)
        ax.set_ylabel("predicted tokens/s per GPU (log scale)", fontsize=10)
        ax.set_title(f"coloured by {name.lower()} (hollow: leave-one-source-out)", fontsize=10)
        if len(groups) > 6:   # many sources: the legend goes under the panel, not over its points
            ax.legend(fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        else:
            ax.legend(fontsize=SMALL, loc="upper left")
        ax.tick_params(labelsize=10)
    fig.suptitle(title + " (dashed: +-10%)", fontsize=12)
    plots.lay_out(fig)
    return fig


def waterfall_figure(result, title: str = "", ax: plt.Axes | None = None) -> plt.Figure:
    """Multiplicative waterfall from the dense peak to MFU of one :class:`StepResult`: each row is
    the level after one named factor (each a loss, shown orange)."""
    factors = {k: v for k, v in result.factors.items() if abs(v - 1) > 1e-4}
    names = list(factors)
    levels = np.cumprod([factors[n] for n in names])
    before = np.concatenate([[1.0], levels[:-1]])
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 0.38 * len(names) + 1.8))
    else:
        fig = ax.figure
    pal = sns.color_palette("deep")
    y = np.arange(len(names) + 2)
    ax.barh(y[0], 100, color="0.55")
    lower = np.minimum(levels, before) * 100
    ax.barh(y[1:-1], lower, color=pal[0])
    change = (levels - before) * 100
    ax.barh(y[1:-1], np.abs(change), left=lower, color=[pal[2] if c > 0 else pal[1] for c in change], alpha=0.85)
    ax.barh(y[-1], levels[-1] * 100, color="0.25")
    for yi, b, name in zip(y[1:-1], np.maximum(levels, before), names):
        ax.text(b * 100, yi, f" {fmt.factor(factors[name])}", va="center", fontsize=10)
    ax.text(levels[-1] * 100, y[-1], f" {fmt.pct(levels[-1])}", va="center", fontsize=10, fontweight="bold")
    peak = f"{result.peak.upper().replace('DENSE', 'dense')} peak ({fmt.number(result.peak_tflops)} TFLOPS)"
    ax.set_yticks(y, [peak, *[label(n) for n in names], "MFU"], fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("% of the dense peak at the run's precision", fontsize=10)
    ax.tick_params(labelsize=10)
    ax.set_title(title or f"{result.name}: from peak to MFU", fontsize=11)
    plots.lay_out(fig)
    return fig


# --------------------------------------------------------------------------- what each stack feature is worth
def stack_feature_table(config, calibration=None) -> pd.DataFrame:
    """The step model on ``config`` with one software feature changed at a time: TP-communication
    overlap off, DP overlap off, CUDA graphs on, FP8 -> BF16 (or BF16 -> FP8), fused kernels off.
    Tokens/s per GPU and the change against the run as published."""
    from dataclasses import replace

    from analysis.training.efficiency import load_calibration
    from analysis.training.run import evaluate_run

    calibration = calibration or load_calibration()
    base = evaluate_run(config, calibration.for_gpu(config.gpu.id, config.stack), calibration.label)
    other = "bf16" if config.precision == "fp8" else "fp8"
    variants = [
        ("As run (stack profile)", config),
        ("TP-communication overlap off", config.with_software(overlap_tp_comm=False)),
        ("DP reduce/gather overlap off", config.with_software(overlap_grad_reduce=False, overlap_param_gather=False)),
        ("CUDA graphs on", config.with_software(cuda_graphs=True)),
        ("Fused element-wise kernels off", config.with_software(fused_kernels=False)),
        (f"{PRECISION_LABELS[other]} instead of {PRECISION_LABELS[config.precision]}", replace(config, precision=other)),
    ]
    rows = []
    for name, variant in variants:
        res = base if variant is config else evaluate_run(variant, calibration.for_gpu(config.gpu.id, config.stack),
                                                          calibration.label)
        rows.append({"Variant": name, "Tokens/s per GPU": fmt.number(res.tokens_per_s_per_gpu),
                     "Step time": f"{fmt.number(res.step_time_s)} s",
                     "Change in throughput": fmt.signed_pct(res.tokens_per_s_per_gpu / base.tokens_per_s_per_gpu - 1, 1),
                     "MFU": f"{fmt.pct(res.mfu)} of {PRECISION_LABELS[variant.precision]} dense",
                     "Fits in HBM": fmt.yes_no(res.fits_in_memory)})
    return pd.DataFrame(rows).set_index("Variant")


def chain_mfu_table(rows: list[dict]) -> pd.DataFrame:
    """Best-layout MFU per GPU type and precision (rows of {gpu, precision, mfu, tokens_per_s_per_gpu, layout})."""
    return pd.DataFrame([{"GPU": r["gpu"], "Precision": PRECISION_LABELS[r["precision"]],
                          "Best-layout MFU": f"{fmt.pct(r['mfu'])} of {PRECISION_LABELS[r['precision']]} dense",
                          "Tokens/s per GPU": fmt.number(r["tokens_per_s_per_gpu"]), "Layout": r["layout"]}
                         for r in rows]).set_index(["GPU", "Precision"])


# --------------------------------------------------------------------------- sentences of 10_step_model
def calibration_answer(result) -> str:
    """The step-model report's answer (Markdown): how many shared parameters reproduce how many
    published runs, in sample and leaving each source table out (``result``: the validated fit,
    :func:`analysis.training.fit.validated_fit`)."""
    m = result.metrics()
    return (f"**One set of {len(result.calibration.fitted_values())} shared parameters (GEMM efficiency per GPU "
            "architecture x precision, fused-attention efficiency, TP-overlap share, MoE load imbalance, the "
            f"DeepSpeed-2021 stack) reproduces {m['modern_runs']} published Hopper/Blackwell runs (NeMo, "
            "dgxc-benchmarking, Megatron-LM, DeepSeek-V3; BF16 and FP8; dense and MoE) with a mean absolute error of "
            f"{fmt.pct(m['modern_mae_pct'] / 100)} on tokens/s per GPU, and {fmt.pct(m['loso_modern_mae_pct'] / 100)} when "
            f"each source table is left out of the fit and predicted** (worst run "
            f"{fmt.pct(m['loso_modern_max_abs_pct'] / 100, 0)}). The {m['v1_runs']} older runs (Megatron-LM 2021, "
            f"MegaScale, MT-NLG, Llama 3) stay at {fmt.number(m['v1_mae_points'])} MFU points in sample (A100 rows "
            f"{fmt.number(m['a100_mae_points'])}). Comparisons are on tokens/s per GPU, which do not depend on how "
            "a source counts FLOPs.")


def fp8_runs_sentence(predictions: dict, runs: pd.DataFrame) -> str:
    """Predicted against published tokens/s per GPU and the MFU (of the FP8 dense peak, and counting
    attention causally) of FP8 runs: ``predictions`` {GPU name: (run id, StepResult)}."""
    parts = []
    for gpu, (run_id, r) in predictions.items():
        published = runs.loc[run_id, "published_tokens_per_s_per_gpu"]
        parts.append(f"{gpu} FP8: predicted {fmt.number(r.tokens_per_s_per_gpu)} tokens/s per GPU against "
                     f"{fmt.number(published)} published; MFU {fmt.pct(r.mfu)} of the FP8 dense peak "
                     f"({fmt.pct(r.mfu_causal)} counting attention causally)")
    return "; ".join(parts) + "."


# --------------------------------------------------------------------------- what 10_step_model computes and shows
def calibration_result(runs: pd.DataFrame, quick: bool = False):
    """The validated fit of the step model on ``runs``, computed once per batch.

    Parameters
    ----------
    runs : DataFrame
        The published runs (:func:`analysis.training.published.calibration_runs`).
    quick : bool
        Skip the leave-one-out refits when the stored validation is stale (leave-one-source-out
        always runs).

    Returns
    -------
    CalibrationResult
        :func:`analysis.training.fit.validated_fit`, memoized (:func:`analysis.results.memo`).
    """
    from analysis import results
    from analysis.training import fit

    return results.memo("step-calibration-fit", lambda: fit.validated_fit(runs, with_loo=not quick), not quick)


def layout_text(parallelism: dict) -> str:
    """One layout in words, e.g. ``TP 8 PP 16 CP 1 VP 1, micro-batch 1, recompute none``.

    Parameters
    ----------
    parallelism : dict
        A run configuration's ``parallelism`` (tp, pp, cp, interleave, micro_batch, recompute).
    """
    p = parallelism
    return (f"TP {p['tp']} PP {p['pp']} CP {p['cp']} VP {p['interleave']}, micro-batch {p['micro_batch']}, "
            f"recompute {p['recompute']}")


CHAIN_GPUS = ("H100", "H200", "GB200", "GB300")
CHAIN_PRECISIONS = ("bf16", "fp8")


def best_layout_chain(model, calibration=None, gpus: int = 8192, global_batch: int = 2048,
                      gpu_types=CHAIN_GPUS, precisions=CHAIN_PRECISIONS) -> list[dict]:
    """The fastest layout per GPU type and precision, as the utilization chain searches it.

    Parameters
    ----------
    model : dict or str
        The model (:func:`analysis.catalog.model`).
    calibration : Calibration, optional
        Step-model parameters (default: the stored calibration).
    gpus, global_batch : int
        Job size and global batch in sequences (8,192 GPUs x 2,048 sequences: 16M tokens at 8K).
    gpu_types, precisions : sequence of str
        The GPU types and precisions searched, in the order of the rows.

    Returns
    -------
    list of dict
        One row per GPU type x precision: gpu, precision, mfu, tokens_per_s_per_gpu, layout
        (:func:`layout_text`), as :func:`chain_mfu_table` takes them.
    """
    from analysis import training

    rows = []
    for gpu in gpu_types:
        for precision in precisions:
            best = training.best_configuration(model, gpu, gpus, global_batch, precision=precision, top=1,
                                               calibration=calibration).best
            rows.append({"gpu": gpu, "precision": precision, "mfu": best.mfu,
                         "tokens_per_s_per_gpu": best.tokens_per_s_per_gpu,
                         "layout": layout_text(best.config["parallelism"])})
    return rows


def chain_mfu(rows: list[dict], gpu: str, precision: str) -> float:
    """The best-layout MFU of ``gpu`` at ``precision`` in the rows of :func:`best_layout_chain`.

    Raises
    ------
    KeyError
        When no row has that GPU type and precision.
    """
    for r in rows:
        if r["gpu"] == gpu and r["precision"] == precision:
            return r["mfu"]
    raise KeyError(f"no best layout for {gpu} {precision}")


def published_runs_table(runs: pd.DataFrame):
    """The published runs the step model is calibrated on: set, source (by name), GPU, precision,
    GPUs and how the published figure is read.

    Parameters
    ----------
    runs : DataFrame
        The published runs (:func:`analysis.training.published.calibration_runs`).

    Returns
    -------
    Table
        :func:`analysis.report.format.table` of the six columns, headers as shown.
    """
    t = runs[["set", "source", "gpu", "precision", "gpus", "published_read_as"]].assign(
        source=[source_label(s) for s in runs["source"]],
        precision=[PRECISION_LABELS.get(p, p) for p in runs["precision"]])
    t.index = t.index.rename("Run")
    return fmt.table(t.rename(columns={"set": "Set", "source": "Source", "gpu": "GPU", "precision": "Precision",
                                       "gpus": "GPUs", "published_read_as": "Published figure read as"}),
                     labels=False, label_index=False)


def sources_list(sources: dict):
    """The published sources as a Markdown list: ``- **name**: description`` per source.

    Parameters
    ----------
    sources : dict
        {source id: description} (:func:`analysis.training.published.modern_sources`).

    Returns
    -------
    Markdown
    """
    from analysis.notebook import Markdown

    return Markdown("\n".join(f"- **{source_label(k)}**: {v}" for k, v in sources.items()))
