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


def _scalar(v) -> float:
    return float(np.mean(np.asarray(v, float)))


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
