"""Views of the goodput model (tables and figures for notebooks/21_goodput.ipynb).

Numbers go through :mod:`analysis.report.format`, names through :mod:`analysis.report.labels`.
The scenario's job figures come from :func:`analysis.results.scenario_results` (the utilization
chain's job, capped by ``job.max_job_gpus``), never from a separate whole-cluster evaluation.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import plots
from analysis import goodput as g
from analysis.plots import log_axis
from analysis.report import format as fmt
from analysis.report.labels import label, register

FONT = 10
PALETTE = "colorblind"

_FACTOR_LABELS = g.FACTOR_LABELS
register({**_FACTOR_LABELS, **{f"goodput: {k}": v for k, v in _FACTOR_LABELS.items()},
          **{f"goodput: {k.replace('_', ' ')}": v for k, v in _FACTOR_LABELS.items()},
          "unplanned_per_day": "Unplanned interruptions per day", "mttf_h": "Job mean time to failure (h)",
          "ettr": "Effective training time", "stall_min": "Stall per failure (min)",
          "node_failures_per_1000_node_days": "Node failures per 1,000 node-days"})


# --------------------------------------------------------------------------- the scenario's job
# the analytic-vs-simulated table (goodput.analytic_vs_simulated_values)
SIMULATION_FORMATS = {
    "gpus": "integer", "job_mtbf_min": "number", "stall_min": "number", "mtbf_over_restart": "number",
    "checkpoint_interval_min": "number", "other_factors": "pct", "analytic": "pct", "simulated": "pct",
    "simulated_ci_low": "pct", "simulated_ci_high": "pct",
    "analytic_minus_simulated_pts": lambda v: fmt.points(fmt.finite(v) / 100, 2) if fmt.finite(v) is not None else fmt.MISSING,
}
register({
    "job_mtbf_min": "Job MTBF (min)", "stall_min": "Stall per failure (min)",
    "mtbf_over_restart": "MTBF over stall", "checkpoint_interval_min": "Checkpoint interval (min)",
    "other_factors": "Other goodput factors", "analytic": "Effective training time, analytic",
    "simulated": "Effective training time, simulated", "simulated_ci_low": "Simulated, 95% CI low",
    "simulated_ci_high": "Simulated, 95% CI high", "analytic_minus_simulated_pts": "Analytic minus simulated",
    "system": "System", "gpus_per_node": "GPUs per node", "rate_multiplier": "Failure-rate multiplier",
    "low": "Low", "high": "High",
})

def scenario_job(scenario: str, quick: bool = False) -> dict:
    """The scenario's job as the utilization chain and ``evaluate`` see it (one definition everywhere)."""
    from analysis.results import scenario_results

    res = scenario_results(scenario, quick)
    point = res.details["utilization"]
    gp = point.goodput
    section = res.sections["goodput"]
    return {"result": gp, "effective_training_time": section["effective_training_time"],
            "effective_training_time_p05": section["effective_training_time_p05"],
            "effective_training_time_p95": section["effective_training_time_p95"],
            "interruptions_per_day": section["interruptions_per_day"],
            "checkpoint_interval_min": section["checkpoint_interval_min"],
            "scheduling_goodput": section["scheduling_goodput"], "job_gpus": float(np.max(gp.job_gpus)),
            "jobs": float(np.asarray(point.job_gpus).size), "largest_job_gpus": point.largest_job_gpus}


def scenario_facts(sc) -> dict:
    """The facts the utilization chain gives the goodput model for the scenario's job: its GPU mix (failure rates per
    GPU type and system, as shares of the cluster's pools) and the model it trains (checkpoint size). The whole
    cluster as one job and the curve against job size take the same, so they differ from the scenario's job only in
    size. A GPU type without a failure-rate row falls back to the HGX H100 reference, as in the chain."""
    from analysis import goodput as model
    from analysis import utilization

    pools = sc.cluster.pools
    mix = utilization.job_gpu_mix([p.gpu.id for p in pools], np.array([p.gpus for p in pools]), islands=False)
    return {"gpu_mix": mix, "model_parameters": model.model_parameters(sc.value("job.model"))}


def _scalar(v) -> float:
    return float(np.mean(np.asarray(v, float)))


def simulation_settings(quick: bool = False) -> tuple[int, float, int]:
    """Event-simulation size for the report.

    Returns
    -------
    (n_runs, horizon_h, n_sizes)
        ``(30, one week, 6)`` when ``quick``, otherwise ``(200, four weeks, 11)``.
    """
    return (30, 24 * 7, 6) if quick else (200, 24 * 28, 11)


def sensitivity_draws(quick: bool = False) -> int:
    """Monte Carlo draws of the rank-correlation section: 200 when ``quick``, otherwise 2,000."""
    return 200 if quick else 2000


def largest_job_index(result: g.GoodputResult) -> int:
    """Position of the largest job in ``result.job_gpus`` (islands: one job per pool; 0 for one job)."""
    return int(np.argmax(np.atleast_1d(result.job_gpus)))


def largest_job_value(result: g.GoodputResult, value) -> float:
    """``value`` (a scalar or one entry per job of ``result``) for the largest job, as a float."""
    return float(np.atleast_1d(np.asarray(value, float))[largest_job_index(result)])


def largest_job_factors(result: g.GoodputResult) -> dict[str, float]:
    """The runtime factors ``{name: share kept}`` of the largest job (the waterfall's bars)."""
    return {k: largest_job_value(result, v) for k, v in result.runtime_factors().items()}


def largest_job_result(result: g.GoodputResult, values: dict) -> g.GoodputResult:
    """``result`` when it is one job, otherwise the goodput model evaluated at the largest job's GPUs."""
    if np.ndim(result.effective_training_time) == 0:
        return result
    return g.from_scenario_values(values, largest_job_value(result, result.gpus))


def answer_first(sc, job: dict, whole: g.GoodputResult):
    """The answer-first paragraph: the scenario's job effective training time (5-95% range), its
    interruptions, stall and checkpoint interval, and the whole cluster run as one job for contrast.

    Parameters
    ----------
    sc : Scenario
        The scenario (its label and cluster GPUs).
    job : dict
        :func:`scenario_job` (``job["result"]`` is the job's :class:`~analysis.goodput.GoodputResult`).
    whole : GoodputResult
        The whole cluster as one job.
    """
    from analysis.notebook import Markdown

    gp = job["result"]
    many = job["jobs"] > 1

    def pick(v):
        return largest_job_value(gp, v)
    band = (job["effective_training_time"], job["effective_training_time_p05"], job["effective_training_time_p95"])
    outside = " " + fmt.central_outside_note(["the effective training time"]) if fmt.outside_band(*band) else ""
    return Markdown(
        f"**{fmt.escape_md(sc.label)}: the scenario's synchronous job{'s keep' if many else ' keeps'} "
        f"{fmt.pct(job['effective_training_time'])} of {'their' if many else 'its'} wall-clock time for training"
        f"{', weighted by their useful FLOPs' if many else ''}** (5-95% over the sourced ranges: {fmt.pct(job['effective_training_time_p05'])} "
        f"to {fmt.pct(job['effective_training_time_p95'])}).{outside} This is the job definition the utilization chain and the "
        f"executive summary use: {int(job['jobs'])} job(s), the largest on {fmt.number(job['job_gpus'])} GPUs (one job per "
        f"pool for an islands split, otherwise jobs no larger than the scenario's largest job size). "
        f"{'The largest' if many else 'It'} is interrupted {fmt.number(pick(gp.interruptions_per_day))} times a day without plan and "
        f"{fmt.number(pick(gp.planned_interruptions_per_day))} times with plan (mean time to interruption "
        f"{fmt.number(pick(gp.mean_time_to_interruption_h) * 60)} min), with a stall of {fmt.number(pick(gp.restart_s) / 60)} min "
        f"per failure and a {gp.checkpoint_mode} checkpoint every {fmt.number(pick(gp.checkpoint_interval_s) / 60)} min "
        f"({gp.interval_source}).\n\n"
        + _whole_cluster_sentence(sc, job, whole))


def _whole_cluster_sentence(sc, job: dict, whole: g.GoodputResult) -> str:
    """The whole cluster as one job, for contrast; when the scenario's job already is that job (no size cap), says so."""
    if abs(float(np.max(whole.job_gpus)) - float(job["job_gpus"])) <= 0.01 * float(job["job_gpus"]) and job["jobs"] == 1:
        less = (f" ({fmt.number(sc.cluster.gpus)} GPUs less spares, nodes in repair and fragmentation)"
                if float(job["job_gpus"]) < float(sc.cluster.gpus) - 0.5 else "")
        return (f"The job already spans the whole cluster{less}: it fails every {fmt.number(float(whole.job_mtbf_h) * 60)} "
                f"min. The curve against job size below shows what capping the job size would keep.")
    return (f"Run as a single job on all {fmt.number(sc.cluster.gpus)} GPUs the cluster would keep only "
            f"{fmt.pct(float(whole.effective_training_time))}: a job that size fails every "
            f"{fmt.number(float(whole.job_mtbf_h) * 60)} min. The curve against job size below shows why operators cap "
            f"job size.")


def job_record(job: dict, whole: g.GoodputResult) -> dict:
    """The headline figures the notebook records (``nbk.record``): the scenario's job, its largest
    job's interruptions, checkpoint interval and stall (minutes), and the whole cluster as one job."""
    gp = job["result"]
    return {"effective_training_time": job["effective_training_time"],
            "effective_training_time_p05": job["effective_training_time_p05"],
            "effective_training_time_p95": job["effective_training_time_p95"], "job_gpus": job["job_gpus"],
            "interruptions_per_day": job["interruptions_per_day"], "checkpoint_interval_min": job["checkpoint_interval_min"],
            "largest_job_interruptions_per_day": largest_job_value(gp, gp.interruptions_per_day),
            "largest_job_checkpoint_interval_min": largest_job_value(gp, gp.checkpoint_interval_s) / 60,
            "stall_min": largest_job_value(gp, gp.restart_s) / 60, "scheduling_goodput": job["scheduling_goodput"],
            "whole_cluster_effective_training_time": float(whole.effective_training_time)}


def waterfall_title(sc, job: dict) -> str:
    """Title of the waterfall: ``"<label>: effective training time of the [largest] <N>-GPU job"``."""
    gp = job["result"]
    return (f"{sc.label}: effective training time of {'the largest' if job['jobs'] > 1 else 'the'} "
            f"{fmt.number(largest_job_value(gp, gp.job_gpus))}-GPU job")


def mature_fleet_ettr(case_id: str = "meta-100k-ettr", months_in_service: float = 24) -> float:
    """Effective training time of a published validation case with its fleet ``months_in_service`` old."""
    case = g.load_references().loc[case_id].copy()
    case["months_in_service"] = months_in_service
    return float(g.validation.case_result(case).effective_training_time)


def validation_paragraph(validation: pd.DataFrame, mature: float | None = None):
    """The paragraph under the validation table: how many figures fall in range, Llama 3 and Meta's
    O(100k) job, the latter on a mature fleet (``mature``; :func:`mature_fleet_ettr` when None), and
    the effective-training-time gap of the 1,024-GPU MTTF case.

    Parameters
    ----------
    validation : DataFrame
        :func:`analysis.goodput.validation_table` (rows ``llama3-ettr``, ``meta-100k-ettr``, ``rsc1-1k-mttf``).
    """
    from analysis.notebook import Markdown

    mature = mature_fleet_ettr() if mature is None else mature
    meta = validation.loc["meta-100k-ettr"]
    llama = validation.loc["llama3-ettr"]
    return Markdown(
        f"Every case uses the same parameters (data/parameters/goodput.yaml); only the facts of each case change: GPUs, "
        f"GPU type, fleet age and model. {int(validation['within'].sum())} of {len(validation)} figures fall in their "
        f"accepted range. Llama 3 405B at 16,384 H100 comes out at {fmt.pct(llama['model'])} (published: more than 90%). "
        f"Meta's fully synchronous O(100k)-GPU job (Salpekar et al. 2026, arXiv 2602.00277, abstract) comes out at "
        f"{fmt.pct(meta['model'])} against the published 44%, with a ~10 min stall as published. That match rests on the "
        f"least grounded assumption of the model, an early-life failure elevation for a fleet two months in service: "
        f"the same job on a mature fleet would keep {fmt.pct(mature)}. The 7.9 h MTTF Meta measured for 1,024-GPU jobs "
        f"counts every failure cause of a research cluster; the model's hardware-driven MTTF is longer, which changes "
        f"effective training time by {fmt.points(abs(validation.loc['rsc1-1k-mttf', 'ettr_gap_pts']) / 100)}.")


def simulation_title(sc, n_runs: int, horizon_h: float) -> str:
    """Title of the job-size chart: ``"Effective training time vs job size (<label>; <n> simulated runs of <d> days)"``."""
    return (f"Effective training time vs job size ({sc.label}; "
            f"{n_runs} simulated runs of {fmt.number(horizon_h / 24)} days)")


def simulation_paragraph(simulated: pd.DataFrame):
    """The paragraph under the job-size chart, with the largest analytic-minus-simulated gap of
    ``simulated`` (:func:`analysis.goodput.analytic_vs_simulated_values`, column in points)."""
    from analysis.notebook import Markdown

    return Markdown(
        f"The event simulation draws Poisson failures over the horizon (also during checkpoints and recovery), runs "
        f"compute/checkpoint cycles between them and stalls after each; it agrees with the analytic model within "
        f"{fmt.points(simulated['analytic_minus_simulated_pts'].abs().max() / 100, 2)} at every size from 1,000 to 500,000 GPUs. "
        f"Published points carry their accepted range as error bars; black crosses are the model at each published "
        f"case's own facts (GPU type, fleet age), which can differ from this scenario's curve.")


def checkpoint_modes_table(values: dict, size: float, modes=("sync", "async")) -> pd.DataFrame:
    """One column per checkpoint mode for a ``size``-GPU job: effective training time, blocking write,
    interval, checkpoint size and the checkpoint-save and lost-work factors (formatted text)."""
    rows = {}
    for mode in modes:
        r = g.from_scenario_values(values, size, checkpoint_mode=mode)
        rows[mode] = {"effective training time": fmt.pct(float(r.effective_training_time)),
                      "blocking write (s)": fmt.number(float(r.checkpoint_write_s)),
                      "interval (min)": fmt.number(float(r.checkpoint_interval_s) / 60),
                      "checkpoint size (TB)": fmt.number(float(r.checkpoint_bytes) / 1e12),
                      "checkpoint save factor": fmt.pct(float(r.factors["checkpoint_save"]), 2),
                      "lost work factor": fmt.pct(float(r.factors["lost_work"]), 2)}
    return pd.DataFrame(rows)


def fleet_age_table(values: dict, size: float, months=(1, 3, 6, 12, 24)) -> pd.DataFrame:
    """Effective training time of a ``size``-GPU job for each fleet age in ``months`` (one row, one
    ``"<m> months"`` column per age)."""
    return pd.DataFrame({f"{m} months": [fmt.pct(float(g.from_scenario_values(dict(values, months_in_service=m), size)
                                                        .effective_training_time))] for m in months},
                        index=[f"{fmt.number(size)}-GPU cluster share, H100 rates"])


def goodput_rank_correlation(sc, values: dict, size: float, draws: int) -> pd.Series:
    """Spearman rank correlation of each varying goodput parameter with a ``size``-GPU job's effective
    training time, over ``draws`` seeded draws of the goodput parameters only (other sections fixed).

    Returns
    -------
    Series
        ``{parameter key (without "goodput."): correlation}``, sorted by absolute value, largest first.
    """
    sample = sc.sample(draws, seed=0, vary={f"goodput.{k}" for k in values})
    spread = g.from_scenario_values(sample, size)
    keys = [k for k in values if np.ndim(sample[f"goodput.{k}"]) and np.ptp(np.asarray(sample[f"goodput.{k}"], float)) > 0]
    return pd.DataFrame({k: sample[f"goodput.{k}"] for k in keys}).corrwith(
        pd.Series(np.asarray(spread.effective_training_time)), method="spearman").sort_values(key=abs, ascending=False)


def _parameter_label(key: str) -> str:
    return label("goodput." + key)


def rank_correlation_sentence(rank_corr: pd.Series):
    """The sentence naming the three parameters of ``rank_corr`` (:func:`goodput_rank_correlation`)
    that move effective training time most, with their signed Spearman correlations."""
    from analysis.notebook import Markdown

    (k0, k1, k2), (c0, c1, c2) = rank_corr.index[:3], rank_corr.iloc[:3]
    return Markdown(
        f"Drawing the goodput parameters only (other sections fixed), the parameters that move this job's effective "
        f"training time most are {_parameter_label(k0).lower()} (Spearman {c0:+.2f}), {_parameter_label(k1).lower()} "
        f"({c1:+.2f}) and {_parameter_label(k2).lower()} ({c2:+.2f}).")


def rank_correlation_table(rank_corr: pd.Series, rows: int = 10) -> fmt.Table:
    """The ``rows`` strongest rank correlations under their parameter labels, signed to two decimals."""
    return fmt.table(rank_corr.head(rows).rename(_parameter_label).map(lambda x: f"{x:+.2f}")
                     .rename("Spearman rank correlation").to_frame(), labels=False, label_index=False)


def factor_table(result: g.GoodputResult) -> pd.DataFrame:
    """One row per factor: label, share kept, points lost, Google badput bucket."""
    rows = []
    for k, v in result.factors.items():
        x = _scalar(v)
        rows.append({"factor": label(k), "kept": fmt.pct(x, 2), "lost (points of the remainder)": fmt.points(-(1 - x), 2),
                     "Google badput bucket": bucket_label(g.BUCKETS.get(k, "OTHER"))})
    return pd.DataFrame(rows).set_index("factor")


def bucket_label(bucket: str) -> str:
    """A Google ml-goodput-measurement badput bucket in words: ``UNPRODUCTIVE_CHECKPOINT_SAVE_TIME``
    -> ``Unproductive checkpoint save time``; ``TPU_INITIALIZATION`` keeps its acronym."""
    words = str(bucket).replace("_", " ").lower()
    words = words.replace("tpu", "TPU")
    return words[:1].upper() + words[1:]


def stall_table(result: g.GoodputResult) -> pd.DataFrame:
    """Recovery parts of one unplanned interruption (minutes) and their share of the stall."""
    parts = {k: _scalar(v) for k, v in result.stall_s.items()}
    total = sum(parts.values())
    return pd.DataFrame({"minutes": [fmt.number(s / 60) for s in parts.values()],
                         "share of the stall": [fmt.pct(s / total if total else 0.0) for s in parts.values()]},
                        index=[label(k) for k in parts]).rename_axis("recovery part")


def validation_frame(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The validation table (:func:`analysis.goodput.validation_table`) formatted for readers."""
    table = g.validation_table() if table is None else table

    def show(kind, x):
        return fmt.pct(x) if kind == "ettr" else fmt.number(x)
    out = pd.DataFrame({
        "figure": [label(k) for k in table["kind"]], "GPUs": [fmt.number(x) for x in table["gpus"]], "GPU": table["gpu"],
        "published": [("> " if r == ">" else "") + show(k, p) for k, p, r in zip(table["kind"], table["published"], table["relation"])],
        "accepted range": [f"{show(k, lo)} to {show(k, hi)}" if t != "ettr 5 points" else "5 points of effective training time"
                           for k, lo, hi, t in zip(table["kind"], table["low"], table["high"], table["tolerance"])],
        "model": [show(k, m) for k, m in zip(table["kind"], table["model"])],
        "within": [fmt.yes_no(w) for w in table["within"]], "source": table["source"]}, index=table.index)
    return out.rename_axis("case")


# --------------------------------------------------------------------------- figures
def waterfall(factors: dict, title: str, start: str = "wall-clock time", end: str = "effective training time",
              ax=None) -> plt.Figure:
    """Multiplicative waterfall of named factors (10 pt text), labelled from the label registry."""
    names = list(factors)
    values = np.array([_scalar(factors[n]) for n in names])
    levels = np.cumprod(values)
    before = np.concatenate([[1.0], levels[:-1]])
    pal = sns.color_palette(PALETTE)
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 0.42 * len(names) + 2))
    else:
        fig = ax.figure
    y = np.arange(len(names) + 2)
    ax.barh(y[0], 100, color="0.55")
    ax.barh(y[1:-1], 100 * levels, color=pal[0])
    ax.barh(y[1:-1], 100 * (before - levels), left=100 * levels, color=pal[3], alpha=0.8)
    ax.barh(y[-1], 100 * levels[-1], color="0.25")
    for yi, b, v in zip(y[1:-1], before, values):
        ax.text(100 * b + 0.5, yi, f"×{v:.3f}", va="center", fontsize=FONT)
    ax.text(100 * levels[-1] + 0.5, y[-1], fmt.pct(levels[-1]), va="center", fontsize=FONT, fontweight="bold")
    ax.set_yticks(y, [start, *[label(n) for n in names], end], fontsize=FONT)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("% of wall-clock time kept", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    plots.lay_out(fig)
    return fig


def reference_points(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Published effective-training-time points with error bars (the accepted range), the model at each
    case's facts, and the other published points from data/reliability.csv (not used to set parameters)."""
    table = g.validation_table() if table is None else table
    ettr = table[table["kind"] == "ettr"]
    rows = [{"label": f"{r['system']} ({fmt.number(r['gpus'])} GPUs)", "gpus": r["gpus"], "published": r["published"],
             "low": r["low"], "high": r["high"], "model_at_case": r["model"], "used": True} for _, r in ettr.iterrows()]
    rel = g.load_reliability()
    other = rel[rel["ettr"].notna() & ~rel["id"].isin(["llama3-405b-unexpected", "meta-100k-synchronous"])]
    for _, r in other.iterrows():
        lo = r["ettr"] if r["ettr_relation"] == ">" else r["ettr"]
        hi = 1.0 if r["ettr_relation"] == ">" else r["ettr"]
        rows.append({"label": f"{r['system']} ({fmt.number(r['gpus'])} GPUs; {r['use']})", "gpus": r["gpus"],
                     "published": r["ettr"], "low": lo, "high": hi, "model_at_case": np.nan, "used": False})
    return pd.DataFrame(rows)


def ettr_vs_job_size(curve: pd.DataFrame, simulated: pd.DataFrame, points: pd.DataFrame, marks: dict | None = None,
                     title: str = "") -> plt.Figure:
    """Effective training time against GPUs in one synchronous job: the analytic curve, the event
    simulation (mean, 95% CI), published points with their ranges as error bars and the model at
    each published case's own facts; ``marks`` ``{label: gpus}`` draws reference lines."""
    pal = sns.color_palette(PALETTE)
    fig, ax = plt.subplots(figsize=(10, 6))
    ax.plot(curve["gpus"], 100 * curve["effective_training_time"], color=pal[0], lw=2, label="analytic model (this scenario)")
    err = np.vstack([simulated["simulated"] - simulated["simulated_ci_low"], simulated["simulated_ci_high"] - simulated["simulated"]])
    ax.errorbar(simulated["gpus"], 100 * simulated["simulated"], yerr=100 * err, fmt="o", color=pal[2], capsize=3,
                label="event simulation (mean, 95% CI)")
    used = points[points["used"]]
    ax.errorbar(used["gpus"], 100 * used["published"],
                yerr=100 * np.vstack([used["published"] - used["low"], used["high"] - used["published"]]),
                fmt="s", color=pal[1], capsize=5, ms=8, label="published (validation; bar = accepted range)")
    ax.scatter(used["gpus"], 100 * used["model_at_case"], marker="x", s=80, color="k", zorder=4,
               label="model at each published case's facts")
    other = points[~points["used"]]
    if len(other):
        ax.errorbar(other["gpus"], 100 * other["published"],
                    yerr=100 * np.vstack([other["published"] - other["low"], other["high"] - other["published"]]),
                    fmt="D", mfc="none", color=pal[4], capsize=3, label="other published (not used)")
    for i, (name, gpus) in enumerate((marks or {}).items()):
        ax.axvline(gpus, color="0.4", lw=1, ls="--")
        # neighbouring marks (the job and the whole cluster) label on opposite sides of their lines
        ax.text(gpus, 3, f" {name} ", fontsize=FONT, rotation=90, va="bottom", ha="right" if i % 2 == 0 else "left")
    log_axis(ax, "x")
    ax.set_ylim(0, 102)
    ax.set_xlabel("GPUs in one synchronous job", fontsize=FONT)
    ax.set_ylabel("effective training time (% of wall-clock)", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT, loc="lower left", framealpha=0.9)
    ax.set_title(title, fontsize=FONT + 1)
    plots.lay_out(fig)
    return fig


def stall_vs_job_size(curve_sizes, values: dict, title: str = "") -> plt.Figure:
    """Stacked recovery parts (minutes per unplanned interruption) against job size."""
    sizes = np.asarray(curve_sizes, float)
    r = g.from_scenario_values(values, sizes, job_from_cluster=False)
    pal = sns.color_palette(PALETTE, len(r.stall_s))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.stackplot(sizes, *[np.asarray(v) / 60 for v in r.stall_s.values()], labels=[label(k) for k in r.stall_s],
                 colors=pal, alpha=0.85)
    ax.plot(sizes, 60 * np.asarray(r.job_mtbf_h), color="k", lw=1.5, ls="--", label="job mean time between failures")
    log_axis(ax, "x")
    log_axis(ax, "y")
    ax.set_ylim(0.5, None)
    ax.set_xlabel("GPUs in one synchronous job", fontsize=FONT)
    ax.set_ylabel("minutes", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT, loc="upper right")
    ax.set_title(title, fontsize=FONT + 1)
    plots.lay_out(fig)
    return fig


def interruptions_vs_job_size(values: dict, sizes, gpus=("H100", "A100", "GB200"), title: str = "") -> plt.Figure:
    """Unplanned interruptions per day against job size, one model line per GPU type / system (at the
    scenario's fleet age), with the published counts (Poisson 95% interval) and MTTF figures."""
    from scipy.stats import chi2

    sizes = np.asarray(sizes, float)
    pal = sns.color_palette(PALETTE)
    fig, ax = plt.subplots(figsize=(10, 6))
    for color, gpu in zip(pal, gpus):
        r = g.from_scenario_values(values, sizes, job_from_cluster=False, gpu_mix=gpu)
        system = g.load_failure_rates().loc[gpu, "system"]
        ax.plot(sizes, np.asarray(r.interruptions_per_day), color=color, lw=2, label=f"model: {gpu} ({system})")
    rel = g.load_reliability()
    counted = rel[(rel["use"] == "rate") & rel["duration_days"].notna()]
    for _, r in counted.iterrows():
        n, days = float(r["interruptions"]), float(r["duration_days"])
        lo, hi = chi2.ppf(0.025, 2 * n) / 2 / days, chi2.ppf(0.975, 2 * n + 2) / 2 / days
        ax.errorbar([r["gpus"]], [n / days], yerr=[[n / days - lo], [hi - n / days]], fmt="s", ms=8, color="k", capsize=4,
                    label=f"{r['system']}, counted ({r['gpu']})")
    mttf = rel[(rel["use"] == "mttf") & rel["mttf_h"].notna()]
    for marker, (_, r) in zip("o^vD<>", mttf.iterrows()):
        ax.scatter([r["gpus"]], [24 / r["mttf_h"]], marker=marker, s=60, facecolor="none", edgecolor="k", zorder=4,
                   label=f"{r['system']}, MTTF {fmt.number(r['mttf_h'])} h ({r['gpu'] if isinstance(r['gpu'], str) else 'n/a'})")
    log_axis(ax, "x")
    log_axis(ax, "y")
    ax.set_xlabel("GPUs in one synchronous job", fontsize=FONT)
    ax.set_ylabel("unplanned interruptions per day", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT, loc="upper left", framealpha=0.9)
    ax.set_title(title, fontsize=FONT + 1)
    plots.lay_out(fig)
    return fig
