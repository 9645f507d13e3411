"""Views of the inference report (notebooks/32_inference.ipynb): formatted tables, figures and
Markdown. Numbers come from :mod:`analysis.inference` result objects and the scenario's
:func:`analysis.results.scenario_results`; nothing here computes a model figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import plots
from analysis.inference.roofline import ATTENTION_EFFICIENCY_FA3
from analysis.plots import log_axis
from analysis.report import format as fmt
from analysis.report.labels import label, register

FONT = 10
SCENARIO_NAMES = {"offline": "offline (no latency target)", "server": "server", "interactive": "interactive"}
BENCHMARK_NAMES = {"llama2-70b": "Llama 2 70B", "llama3.1-405b": "Llama 3.1 405B", "deepseek-r1": "DeepSeek-R1"}
LIMIT_NAMES = {"kv-capacity": "KV cache full", "max-batch": "scheduler batch limit",
               "token-budget": "token budget per iteration", "tpot": "TPOT target",
               "ttft": "TTFT target (prefill queue)", "does-not-fit": "does not fit", "target-not-met": "target not met"}
#: A logged run "near" its limits keeps its p99 TTFT or p99 TPOT at least this share of the scenario's limit.
HEADROOM_NEAR = 0.9
BOUND_NAMES = {"compute": "compute", "memory-bandwidth": "HBM bandwidth", "kv-capacity": "KV-cache capacity",
               "communication": "communication", "latency": "latency target", "prefill-pool": "prefill pool",
               "does-not-fit": "does not fit"}

register({
    "inference.total_params_b": "Served model: total parameters (B)", "inference.active_params_b": "Served model: active parameters per token (B)",
    "inference.attention": "KV-cache layout (GQA or MLA)", "inference.mla_kv_dim": "MLA latent width per layer",
    "inference.experts_per_token": "Routed experts per token", "inference.cache_hit_rate": "Prefix-cache hit rate",
    "inference.max_tpot_ms": "p99 time per output token target (ms)", "inference.max_ttft_ms": "p99 time to first token target (ms)",
    "inference.serving_mode": "Prefill/decode serving mode", "inference.spec_tokens": "Speculative draft tokens per step",
    "inference.spec_acceptance": "Draft-token acceptance rate", "inference.comm_overlap": "All-to-all hidden behind compute",
    "inference.scaleout_all_to_all_efficiency": "Scale-out all-to-all bandwidth share",
    "inference.prefill_router_replicas": "Prefill replicas behind one router", "inference.prefill_router": "Prefill router (pooled or round robin)",
    "inference.max_batch_per_gpu": "Scheduler limit, requests per GPU", "inference.compute_efficiency": "Compute efficiency (of dense peak)",
    "inference.bandwidth_efficiency": "HBM bandwidth efficiency", "inference.latency_tail_factor": "p99 / mean TPOT",
    "inference.fp4_weight_read_efficiency": "FP4 weight-read share of bandwidth", "inference.scheduler": "KV-cache scheduler",
    "inference.moe_efficiency": "MoE expert-layer efficiency", "inference.fp4_efficiency": "FP4 GEMM efficiency (relative)",
    "inference.attention_efficiency": "Attention-kernel efficiency",
    "inference.load_factor": "Load factor (demand / capacity)", "inference.lease_usd_per_gpu_hour": "Lease price ($/GPU-hour, fallback)",
    "inference.input_tokens": "Mean prompt tokens", "inference.output_tokens": "Mean generated tokens",
    "inference.layers": "Layers", "inference.hidden": "Hidden size", "inference.heads": "Query heads", "inference.kv_heads": "KV heads",
    "inference.kv_memory_fraction": "Share of free HBM for KV cache", "inference.reserved_gb_per_gpu": "HBM reserve per GPU (GB)",
    "inference.max_gpus_per_replica": "Largest replica (GPUs)",
    "inference.software_factor": "Serving-stack speed (vs MLPerf v4.1)",
})


def _target(fleet) -> str:
    if not np.isfinite(fleet.max_tpot_ms) and not np.isfinite(fleet.max_ttft_ms):
        return "no latency target (offline)"
    return f"p99 TTFT {fmt.number(fleet.max_ttft_ms)} ms, TPOT {fmt.number(fleet.max_tpot_ms)} ms"


def headline(sc, results, api_model: str = "Claude Opus 4.5"):
    """The answer first: fleet throughput at the interactive target and offline, the lease cost per
    million input and output tokens, and the API list prices, all from ``scenario_results``."""
    from analysis.inference import load_api_prices
    from analysis.notebook import Markdown

    d = results.sections["inference"]
    fleet, offline = results.details["fleet"], results.details["fleet_offline"]
    v = sc.values("inference")
    price = load_api_prices().loc[api_model]
    return Markdown(
        f"**{sc.cluster.name}** ({fmt.scaled(fleet.gpus)} GPUs) serving a {fmt.number(v['total_params_b'])}B-parameter mixture of "
        f"experts ({fmt.number(v['active_params_b'])}B active, {v['attention'].upper()} KV cache, {v['serving_mode']} prefill/decode, "
        f"prefix-cache hit rate {fmt.pct(v['cache_hit_rate'], 0)}) at the **interactive target** of a chat/coding product "
        f"({_target(fleet)}, MLPerf's Llama 2 70B interactive limits) delivers **{fmt.scaled(fleet.tokens_per_s, 'output tokens/s')}** "
        f"at full load (5-95%: {fmt.scaled(d['tokens_per_s_p05'])} to {fmt.scaled(d['tokens_per_s_p95'])}), "
        f"**{fmt.scaled(fleet.tokens_per_day, 'tokens per day')}** at a {fmt.pct(fleet.load_factor, 0)} load factor. Without a latency "
        f"target (offline) the same fleet serves {fmt.scaled(offline.tokens_per_s, 'tokens/s')}. At the lease price of "
        f"{fmt.usd(fleet.lease_usd_per_gpu_hour)} per GPU-hour ({_lease_source(fleet)}) a million output tokens cost **{fmt.usd(fleet.usd_per_million_output_tokens)}** "
        f"with their prompts (5-95%: {fmt.usd(d['usd_per_million_tokens_p05'])} to {fmt.usd(d['usd_per_million_tokens_p95'])}); split by "
        f"GPU-time, {fmt.usd(fleet.usd_per_million_input_tokens)} per million input and {fmt.usd(fleet.usd_per_million_output_tokens_decode)} "
        f"per million output tokens, against {api_model}'s list prices of {fmt.usd(price['input_usd_per_mtok'])} and "
        f"{fmt.usd(price['output_usd_per_mtok'])} ({price['from_date']}). The served model is an assumption; its ranges drive the spread.")


def _lease_source(fleet) -> str:
    source = getattr(fleet, "lease_source", "inference.lease_usd_per_gpu_hour")
    if source.startswith("inference.lease_usd_per_gpu_hour"):
        return "the inference section's lease price" + (", set by the scenario" if "scenario" in source else "")
    return source


def capacity_table(interactive, offline) -> pd.DataFrame:
    """Per pool, throughput at the interactive target and offline side by side (formatted)."""
    a, b = interactive.pools.set_index("pool"), offline.pools.set_index("pool")
    rows = []
    for pool in a.index:
        rows.append({"Pool": pool, "GPUs": fmt.scaled(a.loc[pool, "gpus"]),
                     "Interactive: GPUs per replica": fmt.integer(a.loc[pool, "gpus_per_replica"]),
                     "Interactive: tokens/s per GPU": fmt.number(a.loc[pool, "tokens_per_s_per_gpu"]),
                     "Interactive: what limits it": f"{BOUND_NAMES.get(a.loc[pool, 'bound'], a.loc[pool, 'bound'])}; "
                                                    f"{LIMIT_NAMES.get(a.loc[pool, 'limit'], a.loc[pool, 'limit'])}",
                     "Offline: GPUs per replica": fmt.integer(b.loc[pool, "gpus_per_replica"]),
                     "Offline: tokens/s per GPU": fmt.number(b.loc[pool, "tokens_per_s_per_gpu"]),
                     "Offline: what limits it": f"{BOUND_NAMES.get(b.loc[pool, 'bound'], b.loc[pool, 'bound'])}; "
                                                f"{LIMIT_NAMES.get(b.loc[pool, 'limit'], b.loc[pool, 'limit'])}"})
    rows.append({"Pool": "Whole fleet", "GPUs": fmt.scaled(interactive.gpus),
                 "Interactive: tokens/s per GPU": fmt.number(interactive.tokens_per_s / interactive.gpus),
                 "Offline: tokens/s per GPU": fmt.number(offline.tokens_per_s / offline.gpus)})
    return pd.DataFrame(rows).fillna("").set_index("Pool")


def price_view(table: pd.DataFrame) -> pd.DataFrame:
    """Lease cost per million input and output tokens beside API list prices (dates, sources)."""
    out = pd.DataFrame({"": table["label"], "$ per M input tokens": table["input_usd_per_mtok"].map(fmt.usd),
                        "$ per M output tokens": table["output_usd_per_mtok"].map(fmt.usd),
                        "Since": table["from_date"], "Source": table["source"]})
    return out.set_index("")


def price_figure(table: pd.DataFrame, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(table) + 2.2))
    y = np.arange(len(table))
    ax.barh(y - 0.2, table["input_usd_per_mtok"], height=0.4, label="per million input tokens", color="#4C72B0")
    ax.barh(y + 0.2, table["output_usd_per_mtok"], height=0.4, label="per million output tokens", color="#DD8452")
    for yi, (i, o) in enumerate(zip(table["input_usd_per_mtok"], table["output_usd_per_mtok"])):
        ax.text(i, yi - 0.2, " " + fmt.usd(i), va="center", fontsize=FONT)
        ax.text(o, yi + 0.2, " " + fmt.usd(o), va="center", fontsize=FONT)
    ax.set_yticks(y, table["label"], fontsize=FONT)
    ax.invert_yaxis()
    log_axis(ax, "x", tick_label=fmt.usd)
    top = float(max(table["input_usd_per_mtok"].max(), table["output_usd_per_mtok"].max()))
    ax.set_xlim(right=top * 3)
    ax.set_xlabel("US dollars per million tokens (log scale)", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.legend(fontsize=FONT, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    ax.tick_params(labelsize=FONT)
    plots.lay_out(fig)
    return fig


def validation_view(v: pd.DataFrame) -> pd.DataFrame:
    """Each MLPerf row: measured and model tokens/s per GPU, error in-sample, leave-one-out and leave-one-GPU-type-out."""
    out = pd.DataFrame({
        "Round": v["round"], "System": v["system"], "Benchmark": v["benchmark"].map(BENCHMARK_NAMES),
        "Scenario": v["scenario"].map(SCENARIO_NAMES),
        "MLPerf tokens/s per GPU": v["mlperf_tokens_s_per_gpu"].map(fmt.number),
        "Model tokens/s per GPU": v["model_tokens_s_per_gpu"].map(fmt.number),
        "Error": (v["error_pct"] / 100).map(fmt.signed_pct),
        "Leave-one-out": (v["loo_error_pct"] / 100).map(fmt.signed_pct),
        "Leave-GPU-type-out": (v["logo_error_pct"] / 100).map(fmt.signed_pct)})
    return fmt.table(out.reset_index(drop=True), labels=False, index=False)


def mlperf_sources_view(mlperf: pd.DataFrame):
    """The MLPerf Inference rows as published: round, system, benchmark and scenario by name, tokens/s of the
    system and per GPU, and where each figure comes from."""
    out = pd.DataFrame({"Round": mlperf["round"], "System": mlperf["system"],
                        "Benchmark": mlperf["benchmark"].map(lambda b: BENCHMARK_NAMES.get(b, b)),
                        "Scenario": mlperf["scenario"].map(lambda s: SCENARIO_NAMES.get(s, s)),
                        "Tokens/s (system)": mlperf["tokens_s"].map(fmt.number),
                        "Tokens/s per GPU": mlperf["tokens_s_per_gpu"].map(fmt.number), "Source": mlperf["source"]})
    return fmt.table(out.reset_index(drop=True), {"Source": "link"}, labels=False, index=False)


def api_prices_view(api: pd.DataFrame):
    """API list prices per million input and output tokens, with the date each took effect and its source."""
    out = pd.DataFrame({"$ per M input tokens": api["input_usd_per_mtok"].map(fmt.usd),
                        "$ per M output tokens": api["output_usd_per_mtok"].map(fmt.usd),
                        "Since": api["from_date"], "Confidence": api["confidence"].map(fmt.confidence_name),
                        "Source": api["source"]}, index=api.index.rename("Model"))
    return fmt.table(out, {"Source": "link"}, labels=False, label_index=False)


def _tied_note() -> str:
    from analysis.inference.calibration import TIED_ROUNDS
    return "".join(f"; {r} shares {t}'s, its own not identifiable beside the FP4 efficiency (all its rows are NVFP4 Blackwell)"
                   for r, t in TIED_ROUNDS.items())


def validation_summary(v: pd.DataFrame, fit: dict, ratio: dict):
    from analysis.notebook import Markdown

    share = lambda c, t: (v[c].abs() <= t).mean()
    return Markdown(
        f"Fitted once over all {len(v)} rows: compute efficiency **{fmt.number(fit['compute_efficiency'])}** of the dense peak, HBM "
        f"bandwidth **{fmt.number(fit['bandwidth_efficiency'])}** of nominal (NVFP4 GEMMs read their weights at "
        f"**{fmt.number(fit['fp4_weight_read_efficiency'])}** of that while memory-bound), "
        f"MoE expert-layer efficiency **{fmt.number(fit['moe_efficiency'])}**, FP4 GEMM efficiency **{fmt.number(fit['fp4_efficiency'])}** "
        f"(of the FP4 peak; 0.5 = FP8 speed, the physical floor), attention-kernel efficiency **{fmt.number(fit['attention_efficiency'])}** "
        f"(of the attention roofline of tensor cores and softmax exponentials; FlashAttention-3's best FP8 figure on H100 is "
        f"{fmt.number(ATTENTION_EFFICIENCY_FA3)} of it); serving-stack factor per MLPerf round "
        + ", ".join(f"{r} **{fmt.factor(f)}**" for r, f in (fit.get("software_factors") or {}).items())
        + f" (multiplies the compute efficiency, capped at the dense peak; v4.1 is the reference{_tied_note()}): GEMMs at "
        + ", ".join(f"**{fmt.pct(min(fit['compute_efficiency'] * f, 1.0), 0)}** of the dense peak in {r}"
                    for r, f in (fit.get("software_factors") or {}).items())
        + f". Median absolute error **{fmt.pct(v['error_pct'].abs().median() / 100, 0)}** in-sample, "
        f"**{fmt.pct(v['loo_error_pct'].abs().median() / 100, 0)}** leave-one-out and "
        f"**{fmt.pct(v['logo_error_pct'].abs().median() / 100, 0)}** leave-one-GPU-type-out; "
        f"{fmt.pct(share('loo_error_pct', 15), 0)} of the rows are within 15% leave-one-out (the target), "
        f"{fmt.pct(share('loo_error_pct', 25), 0)} within 25%.{_step_note(v, fit)} H200 over H100 on a 70B FP8 model on 8 GPUs, 1,024 in / 512 out, "
        f"offline: model **{fmt.factor(ratio['model_ratio'])}**, MLPerf {fmt.factor(ratio['mlperf_low'])} (v5.0) to "
        f"{fmt.factor(ratio['mlperf_high'])} (v4.1).")


def _step_note(v: pd.DataFrame, fit: dict) -> str:
    """The sentence on the loadgen step times in the fit (empty for a fit without them)."""
    if fit.get("step_weight") is None or "step_error_pct" not in v:
        return ""
    timed = v["step_error_pct"].dropna()
    return (f" Beside each row's throughput, the mean time per output token that {len(timed)} latency-bound runs logged at the "
            f"batch they ran enters the fit, weighted **{fmt.number(fit['step_weight'])}** (the inverse ratio of the two "
            f"residuals' spreads); the model misses it by a median **{fmt.pct(timed.abs().median() / 100, 0)}**, and a row left "
            "out leaves with its run's step time.")


def _ms(value) -> str:
    return f"{fmt.number(value)} ms"


def operating_points_view(points: pd.DataFrame):
    """Per latency-bound MLPerf run: requests in flight and mean TPOT as loadgen logged them (Little's law for the
    former) beside the model's, the model's TPOT at MLPerf's batch, the measured p99/mean TPOT beside the one used, and
    the run's p99 TTFT and p99 TPOT as shares of its scenario's limits."""
    out = pd.DataFrame({
        "Run": points.apply(_run_name, axis=1), "Scenario": points["scenario"].map(SCENARIO_NAMES),
        "Requests in flight per replica, MLPerf": points["mlperf_requests_in_flight"].map(fmt.number),
        "Model": points["model_batch"].map(fmt.number),
        "Mean TPOT, MLPerf": points["mlperf_mean_tpot_ms"].map(_ms),
        "Model TPOT": points["model_mean_tpot_ms"].map(_ms),
        "Model TPOT at MLPerf's batch": points["model_mean_tpot_at_mlperf_batch_ms"].map(_ms),
        "p99 / mean TPOT, MLPerf": points["mlperf_tpot_tail"].map(fmt.factor),
        "Used": points["model_tpot_tail"].map(fmt.factor),
        "p99 TTFT, TPOT over their limits, MLPerf": [f"{fmt.pct(a, 0)}, {fmt.pct(b, 0)}" for a, b in
                                                       zip(points["mlperf_ttft_p99_share"], points["mlperf_tpot_p99_share"])]})
    return fmt.table(out.reset_index(drop=True), labels=False, index=False)


#: How :func:`router_readings_view` names each reading of a system's TTFT queue.
ROUTER_READING_NAMES = {"round_robin": "fed in turn (used)", "poisson_per_replica": "a Poisson share each",
                        "pooled": "one pooled queue"}


def _seconds(ms) -> str:
    return f"{fmt.number(ms / 1e3)} s"


def router_readings_view(readings: pd.DataFrame, benchmark: str = "llama3.1-405b"):
    """Per multi-replica Llama 3.1 405B run: the p99 and mean time to first token loadgen logged beside the model's at
    the run's own load under each reading of how the harness spreads prompts over the replicas
    (:func:`analysis.inference.router_readings`)."""
    r = readings[readings["benchmark"] == benchmark]
    out = {"Run": r.apply(_run_name, axis=1), "Scenario": r["scenario"].map(SCENARIO_NAMES),
           "Replicas": r["replicas"].map(fmt.integer),
           "p99 TTFT, MLPerf": r["mlperf_p99_ttft_ms"].map(_seconds)}
    for key, name in ROUTER_READING_NAMES.items():
        out[f"Model, {name}"] = r[f"{key}_p99_ttft_ms"].map(_seconds)
    out["Mean TTFT, MLPerf"] = r["mlperf_mean_ttft_ms"].map(_seconds)
    for key, name in ROUTER_READING_NAMES.items():
        out[f"Mean, {name}"] = r[f"{key}_mean_ttft_ms"].map(_seconds)
    return fmt.table(pd.DataFrame(out).reset_index(drop=True), labels=False, index=False)


def router_readings_summary(errors: dict, readings: pd.DataFrame):
    """One paragraph: how far each reading's TTFT at the runs' own load sits from loadgen's (median over the Llama 3.1
    405B runs), and how far the short-prompt runs' logged TTFT sits above the model's. The hold it names is TensorRT-LLM's
    attention-DP balancing as NVIDIA's v5.1 DeepSeek-R1 configs set it (``adp_balancing_enable``,
    ``adp_balancing_timeout_iters`` 9: closed/NVIDIA/configs/B200-SXM-180GBx8/Server/deepseek-r1.py;
    ``PyExecutor._balance_adp_requests``), which the model does not include."""
    from analysis.notebook import Markdown

    phrases = {"round_robin": "with the replicas fed in turn",
               "poisson_per_replica": "with a Poisson share per replica", "pooled": "in one pooled queue"}
    parts = [f"**{fmt.pct(v['p99_pct'] / 100, 0)}** {phrases[k]} (mean {fmt.pct(v['mean_pct'] / 100, 0)})"
             for k, v in errors.items() if k in phrases]
    short = readings[readings["benchmark"] != "llama3.1-405b"]
    ratio = (short["mlperf_mean_ttft_ms"] / short["round_robin_mean_ttft_ms"]).median() if len(short) else float("nan")
    return Markdown(
        f"Over the {fmt.integer(errors['runs'])} Llama 3.1 405B runs served by more than one replica, the model's p99 time to "
        "first token at each run's own load (its requests in flight held, prompts arriving at the rate it served) misses "
        "loadgen's by a median of " + ", ".join(parts[:-1]) + " and " + parts[-1] + ". No reading fits every run: the logs bracket them, and the "
        "calibration keeps the first, the one the harness code describes (each query handed on arrival, by turn or by the fewest "
        "pending requests, which decoding requests dominate). The time to first token is not in the fit, so this checks "
        "the queue model on what it did not see. On the short-prompt runs (Llama 2 70B, DeepSeek-R1) the logged mean is "
        f"a median **{fmt.number(ratio, 2)} times** the model's, whose prefill there takes tens of milliseconds: time the "
        "model does not count, the harness's own and the serving scheduler's (a prompt joins at the next iteration, and "
        "on the DeepSeek-R1 runs it is held for up to nine iterations until every attention rank has one). The model "
        "therefore reads those runs' time-to-first-token limits as looser than they were; their throughput is bound "
        "elsewhere in the model.")


def _run_name(r: pd.Series) -> str:
    """An MLPerf row read as a name: round, system, benchmark (``v5.1 NVIDIA DGX B200, Llama 2 70B``)."""
    return f"{r['round']} {r['system'].split(' (')[0]}, {BENCHMARK_NAMES.get(r['benchmark'], r['benchmark'])}"


def operating_points_summary(points: pd.DataFrame, acc: dict, tails: dict):
    """One paragraph: how far the model's operating point sits from the loadgen logs (median), and the tails used."""
    from analysis.notebook import Markdown

    return Markdown(
        f"Over the {fmt.integer(acc['runs'])} server and interactive runs with a loadgen summary, the model's "
        f"batch is a median **{fmt.pct(acc['batch_pct'] / 100, 0)}** from the requests MLPerf kept in flight and its mean "
        f"time per output token **{fmt.pct(acc['tpot_pct'] / 100, 0)}** from MLPerf's; held at MLPerf's batch, its step "
        f"model is **{fmt.pct(acc['tpot_at_mlperf_batch_pct'] / 100, 0)}** from the measured TPOT. The p99/mean TPOT each "
        "run is evaluated with is its benchmark's median as measured: "
        + ", ".join(f"{BENCHMARK_NAMES.get(b, b)} **{fmt.factor(t)}**" for b, t in sorted(tails.items())) + "."
        + _headroom_sentence(points))


def _headroom_sentence(points: pd.DataFrame, near: float = HEADROOM_NEAR) -> str:
    """How many runs kept both p99 latencies below ``near`` of their limits: an MLPerf server result is the rate its
    submitter ran, which can sit below the limits, while the model's capacity serves up to the binding one."""
    if "mlperf_ttft_p99_share" not in points:
        return ""
    below = points[["mlperf_ttft_p99_share", "mlperf_tpot_p99_share"]].max(axis=1) < near
    return (f" {fmt.integer(below.sum())} of the {fmt.integer(len(points))} runs kept both their p99 time to first token "
            f"and their p99 time per output token below {fmt.pct(near, 0)} of the scenario's limits: an MLPerf result is "
            "the rate its submitter ran, which can sit below the limits, while the model serves up to the binding one "
            "(or to its KV cache or batch limit).")


def _value_pair(a, b, formatter) -> str:
    """Two runs' values side by side, or a dash where the pair has none (offline)."""
    return "–" if not np.isfinite(a) else f"{formatter(a)}, {formatter(b)}"


def _pair_gpus(pairs: pd.DataFrame) -> tuple[str, str] | None:
    """The two GPU types when every pair compares the same two, else None."""
    same = len(pairs) and pairs[["gpu_a", "gpu_b"]].nunique().max() == 1
    return (pairs["gpu_a"].iloc[0], pairs["gpu_b"].iloc[0]) if same else None


def gpu_pairs_view(pairs: pd.DataFrame):
    """Per pair of MLPerf rows that ran the same engine on two GPU types (:func:`analysis.inference.gpu_pairs`): the
    second GPU's tokens/s per GPU over the first's as MLPerf measured it, as the model gives it and as the dense peaks
    stand, and, for a latency-bound pair, the queries/s per replica each run was scheduled at and its p99 TTFT share."""
    both = _pair_gpus(pairs)
    runs = f"{both[0]}, {both[1]}" if both else "first, second GPU"
    out = pd.DataFrame({
        "Round, benchmark": [f"{r['round']} {BENCHMARK_NAMES.get(r['benchmark'], r['benchmark'])}" for _, r in pairs.iterrows()],
        "Scenario": pairs["scenario"].map(SCENARIO_NAMES),
        "GPUs per replica": pairs["gpus_per_replica"].map(fmt.integer),
        "Compared": [f"{r['gpu_b']} over {r['gpu_a']}" for _, r in pairs.iterrows()],
        "Tokens/s per GPU, MLPerf": pairs["mlperf_ratio"].map(fmt.factor),
        "Model": pairs["model_ratio"].map(fmt.factor),
        "Dense peaks": pairs["peak_ratio"].map(fmt.factor),
        f"Scheduled queries/s per replica ({runs})": [_value_pair(a, b, fmt.number) for a, b in zip(
            pairs["mlperf_target_qps_per_replica_a"], pairs["mlperf_target_qps_per_replica_b"])],
        f"p99 TTFT over its limit ({runs})": [_value_pair(a, b, lambda x: fmt.pct(x, 0)) for a, b in zip(
            pairs["mlperf_ttft_p99_share_a"], pairs["mlperf_ttft_p99_share_b"])]})
    return fmt.table(out.reset_index(drop=True), labels=False, index=False)


def gpu_pairs_summary(summary: dict, pairs: pd.DataFrame):
    """One paragraph: what the same-engine pairs say about the two GPU types, offline (a measured capacity) and under
    a latency target (a scheduled rate), from :func:`analysis.inference.gpu_pair_summary`."""
    from analysis.inference.peers import SAME_LOAD_TOLERANCE
    from analysis.notebook import Markdown

    if not summary["pairs"]:
        return Markdown("No MLPerf rows ran the same engine on two GPU types.")
    a, b = _pair_gpus(pairs) or ("the first GPU type", "the second")
    span = lambda lo, hi: fmt.factor(lo) if np.isclose(lo, hi) else f"{fmt.factor(lo)} to {fmt.factor(hi)}"
    return Markdown(
        f"NVIDIA ran {fmt.integer(summary['pairs'])} benchmark scenarios with the same replica layout on {a} and {b}, "
        f"whose dense peaks stand at **{span(*summary['peak_ratio'])}** {a}'s (`data/gpus.csv`). Offline, with every "
        f"query issued at once, the result is what each system could serve: over the {fmt.integer(summary['offline'])} "
        f"offline pairs MLPerf measured {b} at **{span(*summary['offline_mlperf_ratio'])}** {a} per GPU, the model "
        f"gives **{span(*summary['offline_model_ratio'])}**. Under a latency target the result is the rate the submitter "
        f"scheduled, provided the limits held: in **{fmt.integer(summary['same_scheduled_load'])} of the "
        f"{fmt.integer(summary['latency_bound'])}** latency-bound pairs both runs were scheduled within {fmt.pct(SAME_LOAD_TOLERANCE, 0)} of the same "
        f"queries per second per replica (the target rate in each run's loadgen summary), and in {fmt.integer(summary['lower_latencies_b'])} the {b} run kept both "
        f"its p99 latencies further below the limits than the {a} run. Those results measure the load chosen for both, "
        f"not what each could serve, so they neither confirm nor refute the model's {b}-over-{a} ratio there "
        f"({span(*summary['latency_bound_model_ratio'])}); the model serves each up to its binding "
        "limit.")


def measured_prompt_note(prompts: pd.DataFrame, stated_tokens: float):
    """The Llama 2 70B mean prompt as MLPerf's own KV occupancy measures it (:func:`analysis.inference.kv_implied_prompts`):
    each server run's figure, their median, and the prompt the serving files state beside it."""
    from analysis.notebook import Markdown

    runs = "; ".join(f"{r['round']} {r['system'].split(' (')[0]} **{fmt.integer(r['implied_prompt_tokens'])}**"
                     for _, r in prompts.iterrows())
    median = float(prompts["implied_prompt_tokens"].median())
    agrees = round(median) == round(stated_tokens)
    return Markdown(
        "The reference implementation states the mean output of the Llama 2 70B set but not its mean prompt, so the "
        "prompt is measured from the same logs. In a server run each request in flight holds its prompt and, on average, "
        "half its output in the KV cache; the cache's capacity (HBM less weights and workspace, at the submitted cache "
        "fraction) over the requests in flight, less half the mean output, is the prompt those requests held. It depends "
        "on no fitted efficiency, only on memory (weights, cache fraction, the workspace kept per GPU), and a run whose "
        "cache was not full gives an upper bound. Per server run: "
        f"{runs}. Their median, **{fmt.integer(median)} tokens**, is "
        + ("the mean prompt every Llama 2 70B serving file states, fixed before the fit."
           if agrees else f"not the {fmt.integer(stated_tokens)} tokens the serving files state: refit after updating them."))


def _entry(frame: pd.DataFrame | None, r):
    """The entry of ``frame`` (keyed by an ``id`` column) for validation row ``r``, or None."""
    if frame is None or "id" not in r or r["id"] not in set(frame["id"]):
        return None
    return frame.set_index("id").loc[r["id"]]


def _held_step_clause(r, points: pd.DataFrame | None, pairs: pd.DataFrame | None = None) -> str:
    """For a row whose run loadgen logged: the model's mean TPOT held at MLPerf's requests in flight against the logged
    one (where the step model, not the batch, misses), and, given the same-engine ``pairs``, the load its submitter
    scheduled beside the other GPU type's run."""
    if (p := _entry(points, r)) is None:
        return ""
    return (f"; held at the {fmt.number(p['mlperf_requests_in_flight'])} requests in flight per replica MLPerf logged, "
            f"its mean time per output token is {fmt.number(p['model_mean_tpot_at_mlperf_batch_ms'])} ms against "
            f"{fmt.number(p['mlperf_mean_tpot_ms'])} ms measured{_ttft_at_load_clause(p)}{_headroom_clause(p)}"
            f"{_scheduled_load_clause(r, pairs)}")


def _scheduled_load_clause(r, pairs: pd.DataFrame | None) -> str:
    """For a latency-bound row paired with the same engine on another GPU type (:func:`analysis.inference.gpu_pairs`):
    the queries/s per replica both runs were scheduled at, and the other run's p99 TTFT share."""
    if pairs is None or not len(pairs):
        return ""
    for side, other in (("b", "a"), ("a", "b")):
        match = pairs[(pairs[f"id_{side}"] == r["id"]) & np.isfinite(pairs[f"mlperf_target_qps_per_replica_{side}"])]
        if len(match):
            m = match.iloc[0]
            return (f"; its submitter scheduled {fmt.number(m[f'mlperf_target_qps_per_replica_{side}'])} queries/s per "
                    f"replica, against {fmt.number(m[f'mlperf_target_qps_per_replica_{other}'])} on the same replica of the "
                    f"{m[f'system_{other}'].split(' (')[0]} run, which kept its p99 time to first token at "
                    f"{fmt.pct(m[f'mlperf_ttft_p99_share_{other}'], 0)} of the limit")
    return ""


def _ttft_at_load_clause(p) -> str:
    """The model's p99 TTFT at a run's own load against the logged one, where the operating-point table has it (an
    aggregated run)."""
    if not np.isfinite(p.get("model_p99_ttft_at_mlperf_load_ms", np.nan)):
        return ""
    return (f" and its p99 time to first token {fmt.number(p['model_p99_ttft_at_mlperf_load_ms'] / 1e3)} s against "
            f"{fmt.number(p['mlperf_p99_ttft_ms'] / 1e3)} s")


def _headroom_clause(p) -> str:
    """How close a logged run came to its limits (p99 TTFT and p99 TPOT over the targets loadgen logged), where the
    operating-point table has them."""
    if "mlperf_ttft_p99_share" not in p:
        return ""
    return (f"; the run kept its p99 time to first token at {fmt.pct(p['mlperf_ttft_p99_share'], 0)} and its p99 time per "
            f"output token at {fmt.pct(p['mlperf_tpot_p99_share'], 0)} of the scenario's limits")


def _prefill_clause(r, shares: pd.DataFrame | None) -> str:
    """For a row: the model's prefill share of its GPU time and the mean prompt it rests on."""
    if (s := _entry(shares, r)) is None:
        return ""
    return (f"; prefill takes {fmt.pct(s['prefill_time_fraction'], 0)} of its GPU time, at a mean prompt of "
            f"{fmt.integer(s['input_tokens'])} tokens")


def misfits_view(v: pd.DataFrame, within_pct: float = 15.0, points: pd.DataFrame | None = None,
                 shares: pd.DataFrame | None = None, pairs: pd.DataFrame | None = None):
    """The MLPerf rows the model misses by more than ``within_pct`` leave-one-out, worst first, each with its error
    in-sample and leave-one-out, given :func:`~analysis.inference.calibration.prefill_shares` the prefill's share of
    its GPU time and its mean prompt, given the :func:`~analysis.inference.calibration.operating_points` its step
    time at MLPerf's batch against the logged one, and given the same-engine :func:`~analysis.inference.gpu_pairs` the
    load its submitter scheduled beside the other GPU type's run (a bullet per row; one sentence when every row is
    within)."""
    from analysis.notebook import Markdown

    miss = v["loo_error_pct"].abs()
    out = v.loc[miss[miss > within_pct].sort_values(ascending=False, kind="stable").index]
    if out.empty:
        return Markdown(f"Every row is within {fmt.pct(within_pct / 100, 0)} leave-one-out.")
    lines = [f"* {r['round']} {r['system']}, {BENCHMARK_NAMES.get(r['benchmark'], r['benchmark'])} "
             f"{SCENARIO_NAMES.get(r['scenario'], r['scenario'])}: **{fmt.signed_pct(r['loo_error_pct'] / 100)}** leave-one-out "
             f"({fmt.signed_pct(r['error_pct'] / 100)} in-sample){_prefill_clause(r, shares)}{_held_step_clause(r, points, pairs)}"
             for _, r in out.iterrows()]
    return Markdown(f"Rows outside {fmt.pct(within_pct / 100, 0)} leave-one-out ({fmt.integer(len(out))} of {fmt.integer(len(v))}):\n\n"
                    + "\n".join(lines))


def parity_figure(v: pd.DataFrame, column: str = "loo_error_pct", title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7.5, 6))
    measured = v["mlperf_tokens_s_per_gpu"].to_numpy(float)
    model = measured * (1 + v[column].to_numpy(float) / 100)
    markers = {"offline": "o", "server": "s", "interactive": "^"}
    colours = {"H100": "#4C72B0", "H200": "#55A868", "B200": "#C44E52", "GB200": "#8172B2"}
    for (gpu, scen), group in v.assign(model=model).groupby(["gpu", "scenario"]):
        ax.scatter(group["mlperf_tokens_s_per_gpu"], group["model"], marker=markers[scen], color=colours.get(gpu, "k"), s=50,
                   label=f"{gpu}, {scen}", zorder=3)
    line = np.geomspace(min(measured.min(), model.min()) * 0.7, max(measured.max(), model.max()) * 1.4, 50)
    ax.plot(line, line, color="k", lw=0.8)
    ax.fill_between(line, line * 0.85, line * 1.15, color="0.88", label="±15%", zorder=0)
    log_axis(ax, "x", tick_label=lambda v: f"{v:,.0f}")
    log_axis(ax, "y", tick_label=lambda v: f"{v:,.0f}")
    ax.set_xlabel("MLPerf Inference, generated tokens/s per GPU", fontsize=FONT)
    ax.set_ylabel("model, generated tokens/s per GPU", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT, loc="upper left", ncol=2)
    plots.lay_out(fig)
    return fig


def latency_figure(curve: pd.DataFrame, title: str) -> plt.Figure:
    """Throughput against latency per GPU type: tokens/s per GPU vs the per-user speed it allows."""
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for gpu, group in curve.groupby("gpu", sort=False):
        ax.plot(1e3 / group["max_tpot_ms"], group["tokens_per_s_per_gpu"], "-o", ms=3, label=gpu)
    ax.axvline(25, color="0.4", ls="--", lw=1)
    ax.text(25, ax.get_ylim()[1] * 0.9, " 40 ms TPOT (interactive)", fontsize=FONT)
    log_axis(ax, "x", tick_label=lambda v: f"{v:g}")
    ax.set_xlabel("tokens/s per user (1 / p99 TPOT target)", fontsize=FONT)
    ax.set_ylabel("output tokens/s per GPU", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT)
    plots.lay_out(fig)
    return fig


def scenario_view(table: pd.DataFrame) -> pd.DataFrame:
    out = table.assign(Scenario=table["scenario"].map(SCENARIO_NAMES))
    return out.pivot(index="gpu", columns="Scenario", values="tokens_per_s_per_gpu").map(fmt.number).rename_axis("GPU type")


def wide_ep_view(points: dict) -> pd.DataFrame:
    """The 1T / 100B-active MoE replica on H100: {name: ServeResult.to_dict()} as a formatted table."""
    rows = []
    for name, d in points.items():
        rows.append({"": name, "GPUs per decode replica": fmt.integer(d["gpus_per_replica"]),
                     "Output tokens/s per GPU": fmt.number(d["tokens_per_s_per_gpu"]),
                     "Batch": fmt.integer(d["batch"]), "Decode step (ms)": fmt.number(d["decode_step_ms"]),
                     "  of which communication (ms)": fmt.number(d["decode_step_split_ms"]["communication"]),
                     "p99 TPOT (ms)": fmt.number(d["tpot_p99_ms"]), "p99 TTFT (ms)": fmt.number(d["ttft_p99_ms"]),
                     "What limits it": f"{BOUND_NAMES.get(d['bound'], d['bound'])}; {LIMIT_NAMES.get(d['limit'], d['limit'])}"})
    return pd.DataFrame(rows).set_index("")


def sensitivity_figure(sens: pd.DataFrame, base: float, title: str) -> plt.Figure:
    shown = sens[sens["swing"] > 0].head(12).iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(shown) + 1.6))
    y = np.arange(len(shown))
    for yi, (lo, hi) in enumerate(zip(shown["at_low"], shown["at_high"])):
        ax.barh(yi, lo - base, left=base, color="#4C72B0")
        ax.barh(yi, hi - base, left=base, color="#DD8452")
    ax.axvline(base, color="k", lw=0.8)
    ax.set_yticks(y, [label(f"inference.{p}") for p in shown["parameter"]], fontsize=FONT)
    ax.set_xlabel("lease cost, $ per million output tokens (prompts included)", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT)
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color="#4C72B0"), plt.Rectangle((0, 0), 1, 1, color="#DD8452")],
              labels=["parameter at its low end", "parameter at its high end"], fontsize=FONT, loc="lower right")
    plots.lay_out(fig)
    return fig


def sweep_view(sweep: pd.DataFrame, caption: str | None = None):
    """Refits of the efficiencies at other assumed prompt lengths (formatted)."""
    out = pd.DataFrame({"Compute efficiency": sweep["compute_efficiency"].map(fmt.number),
                        "HBM bandwidth efficiency": sweep["bandwidth_efficiency"].map(fmt.number),
                        "FP4 efficiency": sweep["fp4_efficiency"].map(fmt.number),
                        "FP4 weight-read share": sweep["fp4_weight_read_efficiency"].map(fmt.number),
                        "MoE efficiency": sweep["moe_efficiency"].map(fmt.number),
                        "Attention efficiency": sweep["attention_efficiency"].map(fmt.number),
                        "Median |error|": (sweep["median_abs_error_pct"] / 100).map(lambda x: fmt.pct(x, 0)),
                        "Largest |error|": (sweep["max_abs_error_pct"] / 100).map(lambda x: fmt.pct(x, 0))})
    out.index = pd.Index([fmt.number(i) for i in sweep.index], name="Assumed mean prompt (tokens)")
    return fmt.table(out, labels=False, caption=caption)


def stated_prompt_tokens(benchmark: str) -> float:
    """The mean prompt every MLPerf serving file of ``benchmark`` states (data/serve/; one value per benchmark)."""
    from analysis.inference import calibration

    rows = calibration.load_mlperf()
    files = rows.loc[(rows["benchmark"] == benchmark) & (rows["serve_file"].astype(str).str.len() > 0), "serve_file"].unique()
    values = {float(calibration._serve(f).values["input_tokens"]) for f in files}
    if len(values) != 1:
        raise ValueError(f"{benchmark}: serving files assume {sorted(values) or 'no'} mean prompts; expected one")
    return values.pop()


def prompt_sweep_table(sweeps: dict, benchmark: str):
    """One benchmark's prompt-length sweep of the calibration, captioned with the prompt its serving files state."""
    return sweep_view(sweeps[benchmark], caption=f"{BENCHMARK_NAMES.get(benchmark, benchmark)}: refits at other mean "
                                                 f"prompts (the serving files state {fmt.number(stated_prompt_tokens(benchmark))} tokens)")


def scenario_title(text: str, sc) -> str:
    """A chart title naming the scenario: ``text (scenario label)``."""
    return f"{text} ({sc.label})"


def latency_targets_ms(quick: bool) -> list[float]:
    """The p99 TPOT targets of the throughput-against-latency curve (fewer for smoke runs)."""
    return [15, 25, 40, 60, 100, 200] if quick else [10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200, 300]


def lease_cost_sensitivity(sc, fleet):
    """Swing of the lease cost per million output tokens over each ranged inference parameter, at the
    lease price the fleet figures use (the scenario's allocated S-1 fee, unless an inference lease was set)."""
    from analysis import inference

    lease = None if fleet.lease_source.startswith("inference.") else fleet.lease_usd_per_gpu_hour
    return inference.fleet_sensitivity(sc.cluster, sc.params["inference"], lease_usd_per_gpu_hour=lease)


def recorded_figures(fleet, offline, shared: dict) -> dict:
    """The figures the inference report records for the other reports and the tests (``nbk.record``)."""
    from analysis.inference import FIT_PARAMETERS

    table, fit, wide = shared["validation"], shared["fit"], shared["wide_ep"]
    return {"fleet_tokens_per_s": fleet.tokens_per_s, "fleet_tokens_per_day": fleet.tokens_per_day,
            "fleet_tokens_per_s_offline": offline.tokens_per_s, "usd_per_million_tokens": fleet.usd_per_million_output_tokens,
            "usd_per_million_input_tokens": fleet.usd_per_million_input_tokens,
            "usd_per_million_output_tokens_decode": fleet.usd_per_million_output_tokens_decode,
            "max_tpot_ms": fleet.max_tpot_ms, "max_ttft_ms": fleet.max_ttft_ms,
            "mlperf_rows": len(table), "mlperf_max_abs_error_pct": float(table["error_pct"].abs().max()),
            "mlperf_median_abs_error_pct": float(table["error_pct"].abs().median()),
            "mlperf_median_abs_loo_error_pct": float(table["loo_error_pct"].abs().median()),
            "h200_over_h100": shared["h200_over_h100"]["model_ratio"],
            "wide_ep_h100_tokens_s_per_gpu": wide["calibrated, interactive target"]["tokens_per_s_per_gpu"],
            "wide_ep_h100_ceiling_tokens_s_per_gpu": wide["roofline ceiling, interactive target"]["tokens_per_s_per_gpu"],
            **{f"calibrated_{k}": fit[k] for k in FIT_PARAMETERS}}


# --------------------------------------------------------------------------- scenario-independent figures
WIDE_EP_VARIANTS = {
    "calibrated, interactive target": {},
    "roofline ceiling, interactive target": {"moe_efficiency": 1.0, "scaleout_all_to_all_efficiency": 1.0},
    "calibrated, aggregated prefill and decode": {"serving_mode": "aggregated", "prefill_gpus": None},
    "calibrated, offline": {"max_tpot_ms": float("inf"), "max_ttft_ms": float("inf")},
    "roofline ceiling, offline": {"max_tpot_ms": float("inf"), "max_ttft_ms": float("inf"), "moe_efficiency": 1.0,
                                  "scaleout_all_to_all_efficiency": 1.0},
}
#: Mean prompts the calibration is refitted at (quick, full), besides the one the serving files state: Llama 2 70B spans
#: the server runs' measured prompts and the 500 tokens assumed before they were measured.
SWEEP_PROMPTS = {"llama2-70b": ([300, 500], [300, 330, 430, 500, 660]),
                 "llama3.1-405b": ([4000, 16000], [4000, 6000, 12000, 16000])}


def sweep_prompts(benchmark: str, quick: bool) -> list[float]:
    """The prompts ``benchmark``'s calibration is refitted at: :data:`SWEEP_PROMPTS` and the stated one, ascending."""
    return sorted({*map(float, SWEEP_PROMPTS[benchmark][0 if quick else 1]), stated_prompt_tokens(benchmark)})


def _shared(quick: bool) -> dict:
    from analysis import inference
    # The full grid's fit and validation are stored by write_calibration (a test keeps them fresh): read, not refitted.
    fit = inference.calibrate(quick=True) if quick else inference.stored_fit()
    table = inference.validation(quick=True) if quick else inference.stored_validation()
    points = inference.operating_points()
    readings = inference.router_readings()
    pairs = inference.gpu_pairs(points=points)
    return {"fit": fit, "validation": table, "operating_points": points, "prefill_shares": inference.prefill_shares(),
            "gpu_pairs": pairs, "gpu_pair_summary": inference.gpu_pair_summary(pairs),
            "router_readings": readings, "router_reading_errors": inference.router_reading_errors(readings),
            "measured_tails": inference.measured_tails(),
            "h200_over_h100": inference.h200_over_h100(1024, 512, "offline"),
            "wide_ep": inference.serve_variants(inference.SERVE_DIR / "moe-1t-h100-wide-ep.yaml", WIDE_EP_VARIANTS),
            "measured_prompts": inference.kv_implied_prompts(points),
            "sweeps": {b: inference.calibration_sweep(sweep_prompts(b, quick), b) for b in SWEEP_PROMPTS}}


def shared_results(quick: bool = False) -> dict:
    """The report's scenario-independent figures (MLPerf calibration fit and validation, H200/H100
    ratio, the wide-EP H100 variants, the prompt-length sweeps), computed once per batch
    (:func:`analysis.results.memo`) instead of once per scenario."""
    from analysis.results import memo
    return memo("inference-shared", lambda: _shared(bool(quick)), bool(quick))
