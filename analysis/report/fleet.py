"""Views of the fleet and job utilization (tables and figures for notebooks/20_utilization.ipynb).

Models compute (:mod:`analysis.fleet`, :mod:`analysis.utilization`, :mod:`analysis.uncertainty`);
these functions only arrange and format their results. Every number a reader sees goes through
:mod:`analysis.report.format`, every name through :mod:`analysis.report.labels`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import fleet as fleet_model
from analysis import uncertainty, utilization
from analysis import plots
from analysis.plots import SMALL
from analysis.report import format as fmt
from analysis.report.labels import label as _registry_label
from analysis.report.labels import plain, register, registered

register({
    "burn-in and acceptance of new racks": "Burn-in and acceptance of new racks",
    "idle and queueing": "Idle and queueing",
    "MFU of the working GPUs": "MFU of the working GPUs (pre-training, RL, inference)",
    utilization.OTHER_TYPES_FACTOR: "Other GPU types' own MFU (their step model)",
    "straggler tail": "Straggler tail beyond the calibration runs' scale",
    "aware planning": "Aware planning on the cross-type share",
    "split granularity": "Split granularity (whole micro-batches)",
    "memory and NVLink-domain limits": "Memory and NVLink-domain limits (uniform layout)",
    "pacing by slowest GPU type": "Pacing by the slowest GPU type",
    "job utilization": "Job utilization",
    "fleet MFU": "Fleet MFU",
    **{f"pools.{p}": f"{p} GPUs in the cluster" for p in ("H100", "H200", "GB200", "GB300")},
    **{f"gpus.{p}": f"{p} GPUs in the cluster" for p in ("H100", "H200", "GB200", "GB300")},
    "fleet_gpus.colossus1.H100": "Fleet: Colossus 1 H100 GPUs", "fleet_gpus.colossus1.H200": "Fleet: Colossus 1 H200 GPUs",
    "fleet_gpus.colossus1.GB200": "Fleet: Colossus 1 GB200 GPUs", "fleet_gpus.colossus2.GB200": "Fleet: Colossus 2 GB200 GPUs",
    "fleet_gpus.colossus2.GB300": "Fleet: Colossus 2 GB300 GPUs",
})



def _spec_labels() -> dict:
    """Human labels of this topic's parameters (job, heterogeneity, fleet) from their specs."""
    from analysis.scenario import section_specs
    out = {}
    for section in ("job", "heterogeneity", "fleet"):
        for key, spec in section_specs().get(section, {}).items():
            text = spec.doc[:1].upper() + spec.doc[1:] if spec.doc else key.replace("_", " ")
            out[f"{section}.{key}"] = f"{text} ({spec.unit})" if spec.unit and spec.unit != "-" else text
    return out


# the spec's own words unless a label is registered already; parameter names inside them read as labels
register({k: plain(v) for k, v in _spec_labels().items() if k not in registered()})


def label(name: str) -> str:
    """The registry's label; a de-snake-cased name if the registry cannot describe it."""
    try:
        return _registry_label(name)
    except Exception:      # labels.py reads a Spec attribute that does not exist (reported); never break a report
        section, _, key = name.partition(".")
        text = (key or name).split(": ", 1)[-1].replace("_", " ")
        return f"{section}: {text}" if key else text[:1].upper() + text[1:]


def short(name: str, width: int = 46) -> str:
    """A label cut to ``width`` characters (for chart axes; tables keep the full label)."""
    text = label(name)
    text = text.split(" (")[0] if len(text) > width else text
    return text if len(text) <= width else text[: width - 1] + "\u2026"


CLASS_COLORS = {"burn-in and acceptance": "#dd8452", "idle and queueing": "#9b9b9b", "inference and evaluation": "#8172b3",
                "RL and post-training": "#55a868", "pre-training": "#4c72b0"}


def peak_name(denominator: str) -> str:
    """``bf16 dense`` -> ``BF16 dense`` (:func:`analysis.report.format.peak_basis`)."""
    return fmt.peak_basis(denominator)


def side_by_side(d: dict) -> pd.DataFrame:
    """Job and fleet utilization from one ``EvaluateResult.to_dict()``, each with its 5-95% band
    against both dense peaks (formatted)."""
    u, f = d["utilization"], d.get("fleet") or {}
    other = [k for k in u if k.startswith("value_") and not k.endswith(("_p05", "_p95"))][0]
    rows = [{"figure": f"Job: {cluster_label(u['job']['cluster'])}, {u['split']} split, {fmt.scaled(u['largest_job_gpus'], 'GPUs')}",
             f"of {peak_name(u['denominator'])} peak": fmt.band(u["value"], u["p05"], u["p95"]),
             f"of {peak_name(other[6:])} peak": fmt.band(u[other], u.get(f"{other}_p05"), u.get(f"{other}_p95"))}]
    if f.get("value_bf16_dense") is not None:
        # xAI's reported figure is a whole-fleet MFU: set against a job's draws only beside the fleet it belongs to.
        rows[0]["reported 11% at quantile"] = fmt.pct(u["share_at_or_below_observed"], 0)
        rows.append({"figure": f"Fleet: {_fleet_label(f['fleet'])} as of {f['as_of']}, {fmt.scaled(f['gpus'], 'GPUs')}, workload mix",
                     "of BF16 dense peak": fmt.band(f["value_bf16_dense"], f["p05"], f["p95"]),
                     "of FP8 dense peak": fmt.band(f["value_fp8_dense"], f["fp8_p05"], f["fp8_p95"]),
                     "reported 11% at quantile": f"{fmt.pct(f['share_at_or_below_observed'], 0)} (BF16), "
                                                 f"{fmt.pct(f['share_at_or_below_observed_fp8'], 0)} (FP8)"})
    return pd.DataFrame(rows).set_index("figure").fillna(fmt.MISSING)


def factor_table(factors: dict) -> pd.DataFrame:
    """Named factors (formatted), with the running product; the last row is the value."""
    running, rows = 1.0, []
    for k, v in factors.items():
        running *= float(v)
        rows.append({"factor": label(k), "factor value": fmt.factor(v, 3), "left of peak": fmt.pct(running)})
    return pd.DataFrame(rows).set_index("factor")


def counterfactual_table(counterfactuals: dict, denominator: str = "bf16 dense") -> pd.DataFrame:
    """The job under each split over the same draws (central value and 5-95% band)."""
    rows = [{"design": k, f"job utilization, % of {peak_name(denominator)} peak": fmt.band(v["value"], v["p05"], v["p95"]),
             "median": fmt.pct(v["p50"])} for k, v in counterfactuals.items()]
    return pd.DataFrame(rows).set_index("design")


def class_table(fr) -> pd.DataFrame:
    """Where the fleet's peak goes, by workload class (formatted)."""
    f = fr.flows()
    gpus = fr.classes.groupby("class", sort=False)["gpus"].sum()
    return pd.DataFrame({"GPUs": [fmt.scaled(gpus.get(k, 0.0)) for k in f.index],
                         "share of fleet peak": [fmt.pct(x) for x in f["peak_share"]],
                         "MFU of the class (BF16 dense)": [fmt.pct(x) for x in f["mfu"]],
                         "model FLOPs, % of fleet peak": [fmt.pct(x, 2) for x in f["useful_share"]]},
                        index=pd.Index(f.index, name="workload class"))


def _pretraining_losses(fr) -> dict:
    """Lost share of fleet peak inside pre-training, by loss family (split of each cluster's
    lost FLOPs in proportion to -log(factor), so the parts add up to the loss)."""
    f = fr.flows()
    pre = fr.classes[fr.classes["class"] == "pre-training"].set_index("cluster")
    out: dict[str, float] = {}
    for cluster, factors in fr.pretraining.attrs.get("factors", {}).items():
        share = float(pre.loc[cluster, "peak_share"])
        value = float(pre.loc[cluster, "mfu_bf16_dense"])
        groups = utilization.group_factors(_with_step(factors))
        logs = {k: -np.log(max(v, 1e-12)) for k, v in groups.items()}
        total = sum(logs.values())
        for k, lg in logs.items():
            out[k] = out.get(k, 0.0) + (share * (1 - value) * lg / total if total > 0 else 0.0)
    del f
    return out


def _with_step(factors: dict) -> dict:
    return {("step model (best pool)" if k == "step model (best pool)" else k): v for k, v in factors.items()}


def fleet_flow_chart(fr, title: str = "") -> plt.Figure:
    """Where the fleet's peak FLOPs go: one stacked bar of the fleet's BF16 dense peak by workload
    class (left), each class split into model FLOPs and losses (middle), and the pre-training
    losses by family (right). Shares of the fleet's peak, in %."""
    f = fr.flows()
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.4), gridspec_kw={"width_ratios": [0.9, 1.6, 1.5]})
    bottom = 0.0
    for k, r in f.iterrows():
        axes[0].bar(0, r.peak_share * 100, bottom=bottom * 100, width=0.6, color=CLASS_COLORS[k], edgecolor="white")
        if r.peak_share > 0.025:
            axes[0].text(0, (bottom + r.peak_share / 2) * 100, fmt.pct(r.peak_share, 0), ha="center", va="center",
                         fontsize=10, color="white")
        bottom += r.peak_share
    axes[0].set_xticks([0], ["fleet peak"])
    axes[0].set_xlim(-0.5, 0.5)
    axes[0].set_ylim(0, 100)
    axes[0].set_ylabel("% of the fleet's BF16 dense peak")
    axes[0].set_title("peak by workload class\n(colours as in the middle panel)", fontsize=11)
    names = list(f.index)
    y = np.arange(len(names))
    axes[1].barh(y, f["useful_share"] * 100, color=[CLASS_COLORS[k] for k in names], label="model FLOPs")
    axes[1].barh(y, f["lost_share"] * 100, left=f["useful_share"] * 100, color="#e5e5e5", edgecolor="#bbbbbb", label="lost")
    for i, (k, r) in enumerate(f.iterrows()):
        axes[1].text(r.peak_share * 100 + 0.5, i, f"MFU {fmt.pct(r.mfu)}", va="center", fontsize=10)
    axes[1].set_yticks(y, names)
    axes[1].invert_yaxis()
    axes[1].set_xlabel("% of the fleet's BF16 dense peak")
    axes[1].set_title("used (colour) and lost (grey), by class", fontsize=11)
    from matplotlib.patches import Patch
    axes[1].legend(handles=[Patch(color="#4c72b0", label="model FLOPs (class colour)"),
                            Patch(facecolor="#e5e5e5", edgecolor="#bbbbbb", label="lost")], fontsize=SMALL,
                   loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)   # under the panel: off the MFU labels
    axes[1].set_xlim(0, max(f["peak_share"]) * 100 * 1.6)
    losses = _pretraining_losses(fr)
    keys = list(losses)
    axes[2].barh(np.arange(len(keys)), [losses[k] * 100 for k in keys], color=CLASS_COLORS["pre-training"], alpha=0.7)
    axes[2].set_yticks(np.arange(len(keys)), keys)
    axes[2].invert_yaxis()
    axes[2].set_xlabel("% of the fleet's BF16 dense peak lost")
    axes[2].set_title("pre-training losses by family", fontsize=11)
    fig.suptitle(title or f"Where the fleet's peak goes: {fmt.pct(fr.value_bf16_dense)} becomes model FLOPs "
                 f"({fmt.pct(fr.value_fp8_dense)} of the FP8 dense peak)", fontsize=12)
    plots.lay_out(fig)
    return fig


def cluster_label(cluster_id: str) -> str:
    """A cluster as readers know it: its name without the parenthetical site ("xAI Colossus 1"), else its id."""
    from analysis.catalog import load_cluster
    from analysis.scenario import short_title

    try:
        return short_title(load_cluster(cluster_id).name, cluster_id)
    except Exception:  # noqa: BLE001 - a label never fails a report
        return cluster_id


def _fleet_label(fleet_id: str) -> str:
    try:
        return fleet_model.load_fleet(fleet_id).name or fleet_id
    except Exception:  # noqa: BLE001 - a label never fails a report
        return fleet_id


def pretraining_table(fleet_result) -> pd.DataFrame:
    """Pre-training jobs per cluster at the observed month (formatted; clusters by name)."""
    pre = fleet_result.pretraining
    return pd.DataFrame({"split": list(pre["split"]), "GPUs in pre-training": [fmt.scaled(x) for x in pre["gpus"]],
                         "jobs side by side": [f"{x:.0f}" for x in pre["jobs"]],
                         "GPUs per job": [fmt.scaled(x) for x in pre["job_gpus"]],
                         "job utilization (BF16 dense)": [fmt.pct(x) for x in pre["utilization_bf16_dense"]]},
                        index=pd.Index([cluster_label(c) for c in pre["cluster"]], name="cluster"))


def job_waterfall(result, title: str) -> plt.Figure:
    """The job's multiplicative waterfall from the dense peak to utilization (a
    :class:`~analysis.utilization.UtilizationResult`), every factor under its registered name."""
    return plots.waterfall({short(k, 56): v for k, v in result.factors.items()},
                           start_label=f"{peak_name(result.denominator)} peak", end_label="utilization", title=title)


def designs_chart(table: pd.DataFrame, reference: dict | None = None) -> plt.Figure:
    """Job utilization of each scenario (``results.utilization_comparison``) with its 5-95% bar and
    the published reference lines; scenarios by their short titles."""
    from analysis.scenario import short_title

    named = table.copy()
    named.index = [short_title(t, n) for n, t in zip(table.index, table["title"])]
    peaks = set(table["denominator"]) if "denominator" in table else set()
    peak = f"{peak_name(peaks.pop())} peak" if len(peaks) == 1 else "each job's dense peak"
    return plots.scenario_intervals(named, "utilization", "p05", "p95",
                                    xlabel=f"job utilization, % of {peak} (p05-p95 bars)",
                                    title="The job on each design", reference=reference)


def fleet_sources_table(fleet_id: str):
    """The fleet inventory's anchors (cluster by name, pool, month, GPUs with range, source)."""
    sources = fleet_model.load_fleet(fleet_id).sources()
    sources["cluster"] = [cluster_label(c) for c in sources["cluster"]]
    return fmt.table(sources, label_index=False)


def inventory_chart(fleet_id: str, as_of: str, end: str = "2026-10") -> plt.Figure:
    """GPUs installed per cluster and pool through time (central values), with the month observed."""
    inv = fleet_model.load_fleet(fleet_id)
    t = inv.timeline(end=end)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    x = np.arange(len(t))
    labels = [f"{cluster_label(c)} {p}" for c, p in inv.pools]
    ax.stackplot(x, *(t[c].to_numpy() / 1e3 for c in t.columns), labels=labels, alpha=0.85)
    if as_of in t.index:
        ax.axvline(list(t.index).index(as_of), color="k", ls="--", lw=1, label=f"observed ({as_of})")
    step = max(1, len(t) // 12)
    ax.set_xticks(x[::step], list(t.index)[::step], rotation=45, ha="right")
    ax.set_xlabel("month")
    ax.set_ylabel("GPUs installed (thousands)")
    ax.set_title(f"{inv.name}: GPUs installed by pool (central values)")
    ax.legend(fontsize=SMALL, loc="upper left")
    plots.lay_out(fig)
    return fig


def mix_grid(sc, observed: float, band: float, inference=(0.1, 0.2, 0.3, 0.4), idle=(0.03, 0.1, 0.17, 0.25),
             **fixed) -> pd.DataFrame:
    """Fleet MFU (BF16 dense) over a grid of inference and idle shares, the other inputs central
    (or ``fixed``). Returns the numbers; :func:`mix_grid_table` formats them."""
    t = pd.DataFrame(fleet_model.mix_grid_values(sc, inference, idle, **fixed), index=list(idle), columns=list(inference))
    t.index.name, t.columns.name = "idle fraction", "inference fraction"
    t.attrs.update(observed=observed, band=band)
    return t


def mix_grid_table(grid: pd.DataFrame) -> pd.DataFrame:
    """Formatted :func:`mix_grid`; cells within the observation's band are marked with a star."""
    obs, band = grid.attrs.get("observed", np.nan), grid.attrs.get("band", 0.0)
    out = grid.apply(lambda col: [fmt.pct(v) + (" *" if abs(v - obs) <= band else "") for v in col])
    out.index = [f"idle {fmt.pct(i, 0)}" for i in grid.index]
    out.columns = [f"inference {fmt.pct(c, 0)}" for c in grid.columns]
    return out


def observation_reach(fleet_draws, observed: float, band: float) -> dict:
    """How the fleet's Monte Carlo draws reach the observed fleet MFU: the share of draws within
    ``band`` of ``observed`` against the BF16 and against the FP8 dense peak, how many that is on
    the FP8 basis, and the FP8 MFU's 95th percentile (``fleet_draws``: the results' ``fleet_draws``)."""
    bf16 = np.asarray(fleet_draws.value, float)
    fp8 = fleet_draws.outputs["fleet_mfu_fp8_dense"].to_numpy()
    near_fp8 = np.abs(fp8 - observed) <= band
    return {"share_bf16": float(np.mean(np.abs(bf16 - observed) <= band)), "share_fp8": float(np.mean(near_fp8)),
            "draws_fp8": int(near_fp8.sum()), "fp8_p95": float(np.quantile(fp8, 0.95)), "fp8": fp8}


def what_must_be_true_table(inputs: pd.DataFrame, values, observed: float, band: float, top: int = 10) -> pd.DataFrame:
    """:func:`analysis.uncertainty.what_must_be_true`, labelled and formatted (largest shifts first)."""
    t = uncertainty.what_must_be_true(inputs, values, observed, band).head(top)

    def num(x):
        return fmt.number(x) if abs(x) < 1e4 else fmt.scaled(x)
    return pd.DataFrame({"median of all draws": [num(x) for x in t["median_all"]],
                         "median of draws near the observation": [num(x) if np.isfinite(x) else fmt.MISSING for x in t["median_kept"]],
                         "10-90% of those draws": [f"{num(a)} to {num(b)}" if np.isfinite(a) else fmt.MISSING
                                                   for a, b in zip(t["p10_kept"], t["p90_kept"])],
                         "shift (standard deviations)": [fmt.number(x, 2) if np.isfinite(x) else fmt.MISSING for x in t["shift_in_sd"]]},
                        index=pd.Index([label(k) for k in t.index], name="input"))


def sensitivity_table(comparison: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    """Sobol S1 / ST beside SRC / SRRC (:func:`analysis.uncertainty.sensitivity_comparison`), formatted."""
    t = comparison.head(top)
    return pd.DataFrame({"Sobol first order (S1)": [fmt.number(x, 2) for x in t["S1"]],
                         "Sobol total order (ST)": [fmt.number(x, 2) for x in t["ST"]],
                         "through interactions (ST - S1)": [fmt.number(x, 2) for x in t["interactions (ST - S1)"]],
                         "SRC": [fmt.number(x, 2) if np.isfinite(x) else fmt.MISSING for x in t["SRC"]],
                         "rank SRC": [fmt.number(x, 2) if np.isfinite(x) else fmt.MISSING for x in t["SRRC"]]},
                        index=pd.Index([label(k) for k in t.index], name="input"))


def sobol_chart(comparisons: dict, top: int = 10) -> plt.Figure:
    """Sobol S1 and ST of each output (one panel per output, stacked), largest total order first."""
    fig, axes = plt.subplots(len(comparisons), 1, figsize=(10, 4.2 * len(comparisons)), squeeze=False)
    for ax, (name, t) in zip(axes[:, 0], comparisons.items()):
        t = t.head(top)
        y = np.arange(len(t))
        ax.barh(y - 0.2, t["ST"].clip(lower=0), height=0.4, label="total order (ST)", color="#4c72b0")
        ax.barh(y + 0.2, t["S1"].clip(lower=0), height=0.4, label="first order (S1)", color="#dd8452")
        ax.set_yticks(y, [short(k) for k in t.index], fontsize=10)
        ax.invert_yaxis()
        ax.set_xlim(0, max(1e-3, float(t["ST"].clip(lower=0).max())) * 1.15)
        ax.set_xlabel("Sobol index (share of the output's variance)")
        ax.set_title(f"{label(name)}: which inputs drive it", fontsize=11)
        ax.legend(fontsize=SMALL, loc="lower right")
    plots.lay_out(fig)
    return fig


def sensitivity(res, sc, quick: bool, sobol_samples: int, seed: int = 0) -> dict:
    """Sobol indices beside the regression on the Monte Carlo draws: from the scenario's results
    (computed once per scenario at the reports' size) unless the notebook asks for another base
    sample size or seed. ``{"sobol": SobolResult, "comparisons": {output: table}, "samples": N}``."""
    from analysis import evaluate, results

    n = results.sobol_samples_for(True) if quick else int(sobol_samples)
    cached = res.details.get("sensitivity")
    if cached is not None and cached["sobol"].base_samples == n and int(seed) == results.SEED:
        return {**cached, "samples": n}
    out = evaluate.sensitivity_section(sc, n, seed, res.details["utilization_draws"], res.details.get("fleet_draws"))
    return {**out, "samples": n}


# --- the notebook's sentences, titles and small tables (notebooks/20_utilization.ipynb only calls these) ---

FP8_MIN_DRAWS = 5   # fewest FP8-basis draws near the observation for which "what must be true" is shown


def _markdown(text: str):
    from analysis.notebook import Markdown
    return Markdown(text)


def band_fraction(band_points: float) -> float:
    """The observation band in points of MFU as a fraction (1.5 -> 0.015)."""
    return band_points / 100


def answer_first(sc, result, u: dict, f: dict, observed: dict, has_fleet: bool):
    """The report's opening paragraph: the job's utilization with its band and its three largest
    losses, then the fleet's MFU against both dense peaks and where the reported figure falls.

    Parameters
    ----------
    sc : Scenario
    result : UtilizationResult
        The job's central result (its ``factors``).
    u, f : dict
        The ``utilization`` and ``fleet`` sections of ``EvaluateResult.to_dict()``.
    observed : dict
        :func:`analysis.catalog.observed_utilization`.
    has_fleet : bool
        Whether the scenario models a fleet.

    Returns
    -------
    Markdown
    """
    from analysis import catalog

    job = u["job"]
    top = sorted(result.factors.items(), key=lambda kv: kv[1])[:3]
    text = (f"**{sc.title}.** The scenario's training job ({fmt.number(job['largest_job_gpus'])} GPUs, {u['split']} split, "
            f"model {fmt.escape_md(catalog.model(job['model']).get('name', job['model']))}, global batch "
            f"{fmt.scaled(job['global_batch_tokens'], 'tokens')}) turns "
            f"**{fmt.band(u['value'], u['p05'], u['p95'])}** of the {peak_name(u['denominator'])} peak into model FLOPs (5-95% over "
            f"{fmt.number(u['draws'])} draws). The largest losses: " + '; '.join(f"{label(k)} {fmt.factor(v)}" for k, v in top) + '. ')
    if has_fleet:
        text += (f"\n\n**The whole fleet** ({fmt.scaled(f['gpus'], 'GPUs')} as of {f['as_of']}) reaches "
                 f"**{fmt.band(f['value_bf16_dense'], f['p05'], f['p95'])}** of its BF16 dense peak, or "
                 f"**{fmt.band(f['value_fp8_dense'], f['fp8_p05'], f['fp8_p95'])}** of its FP8 dense peak. "
                 f"The reported {fmt.pct(observed['value'], 0)} sits at the {fmt.pct(f['share_at_or_below_observed'], 0)} quantile "
                 f"of the fleet draws against the BF16 peak and at the {fmt.pct(f['share_at_or_below_observed_fp8'], 0)} quantile "
                 f"against the FP8 peak: read as BF16 MFU the report is ordinary for this fleet; read as FP8 MFU it is beyond "
                 f"what these ranges give.")
    else:
        text += "\n\nThis scenario models no fleet: only the job is shown."
    return _markdown(text)


def headline_metrics(d: dict, quantiles: dict, has_fleet: bool) -> dict:
    """The notebook's recorded figures (for :func:`analysis.notebook.record`): the job's utilization
    with its Monte Carlo quantiles (``quantiles``), and the fleet's MFU when there is a fleet."""
    u, f = d["utilization"], d.get("fleet") or {}
    metrics = {"utilization": u["value"], "utilization_p05": quantiles["p05"], "utilization_p50": quantiles["p50"],
               "utilization_p95": quantiles["p95"], "observed_quantile": u["share_at_or_below_observed"],
               "denominator": u["denominator"], "effective_training_time": d["goodput"]["effective_training_time"],
               "job_gpus": u["largest_job_gpus"]}
    if has_fleet:
        metrics.update({"fleet_mfu_bf16_dense": f["value_bf16_dense"], "fleet_mfu_fp8_dense": f["value_fp8_dense"],
                        "fleet_mfu_p05": f["p05"], "fleet_mfu_p95": f["p95"],
                        "fleet_observed_quantile": f["share_at_or_below_observed"]})
    return metrics


def _near(observed: float, band_points: float) -> str:
    return f"{fmt.pct(observed, 0)} ± {band_points:g} points"


def mix_grid_caption(observed: float, band_points: float):
    """The sentence above :func:`mix_grid_table` (``observed``: a fraction; ``band_points``: points of MFU)."""
    return _markdown("Fleet MFU (BF16 dense) over inference and idle shares, everything else central; a star marks the mixes "
                     f"within {_near(observed, band_points)}:")


def reach_caption(reach: dict, observed: float, band_points: float):
    """The share of fleet draws near the observation on the BF16 basis (:func:`observation_reach`),
    introducing the "what must be true" table."""
    return _markdown(f"Over the Monte Carlo draws, {fmt.pct(reach['share_bf16'])} land within {_near(observed, band_points)} "
                     "of the BF16 peak. Their inputs against all draws (largest shifts first):")


def fp8_reach_caption(reach: dict, observed: float, band_points: float):
    """The same on the FP8 dense basis: whether enough draws (:data:`FP8_MIN_DRAWS`) come near the
    observation for a "what must be true" table."""
    tail = (": the table below shows what those draws need." if reach["draws_fp8"] >= FP8_MIN_DRAWS else
            ": no combination of the sourced ranges reproduces the report on that basis.")
    return _markdown(f"Read against the **FP8** dense peak, {fmt.pct(reach['share_fp8'])} of the draws come within "
                     f"{band_points:g} points of {fmt.pct(observed, 0)} (the fleet's FP8 MFU reaches "
                     f"{fmt.pct(reach['fp8_p95'])} at its 95th percentile)" + tail)


def job_waterfall_title(sc, result) -> str:
    """Title of :func:`job_waterfall`: the scenario's short label and the job's split."""
    return f"{sc.label}: the job, from peak to model FLOPs ({result.split} split)"


def loss_family_table(factors: dict) -> pd.DataFrame:
    """The job's factors grouped by loss family (:func:`analysis.utilization.group_factors`), formatted."""
    fam = utilization.group_factors(factors)
    return pd.DataFrame({"factor": [fmt.factor(v, 3) for v in fam.values()]}, index=pd.Index(list(fam), name="loss family"))


def split_comparison(counterfactuals: dict, threshold: float = 1e-4):
    """How much of the mixing loss (uniform split against homogeneous) the aware split recovers, as a
    sentence; ``None`` when mixing GPU types costs the uniform split no more than ``threshold``."""
    uniform, aware = counterfactuals["uniform"]["value"], counterfactuals["aware"]["value"]
    homogeneous = counterfactuals["homogeneous (no mixing loss)"]["value"]
    gap = homogeneous - uniform
    if not gap > threshold:
        return None
    return _markdown(f"The aware split recovers **{fmt.pct((aware - uniform) / gap, 0)}** of "
                     f"what mixing GPU types costs the uniform split ({fmt.pct(uniform)} -> "
                     f"{fmt.pct(aware)}, against {fmt.pct(homogeneous)} "
                     "with no mixing loss), in line with Metis, Sailor and HexiScale recovering most of the pacing "
                     "loss at small scale. Islands gain far more, mostly from goodput: smaller synchronous jobs are "
                     "interrupted less often.")


def reference_lines(references: pd.DataFrame) -> dict:
    """Published utilization observations (:func:`analysis.catalog.load_utilization_references`) as
    ``{"label (date)": utilization}`` reference lines for :func:`designs_chart`."""
    return {f"{r.label} ({r.date})": r.utilization for r in references.itertuples()}


def comparison_metrics(table: pd.DataFrame) -> dict:
    """Each compared scenario's job utilization as ``{"utilization_<scenario>": value}``."""
    return {f"utilization_{name}": value for name, value in table["utilization"].items()}


def sensitivity_summary(sens: dict):
    """The sentence under the Sobol chart: model runs, base sample size and how to read ST, S1 and SRC
    (``sens``: :func:`sensitivity`)."""
    return _markdown(f"Sobol first-order (S1) and total-order (ST) indices from {fmt.number(sens['sobol'].evaluations)} model "
                     f"runs (SALib, N = {sens['samples']}; each input triangular within its sourced range, as in the Monte "
                     "Carlo), beside the standardized regression coefficients of the same output on the Monte Carlo draws. "
                     "ST well above S1 marks inputs that act through interactions; where the regression's R² is low, SRC "
                     "under-reads them.")


def sensitivity_tables(comparisons: dict) -> list:
    """For each output, a heading with its regression R² and rank R² followed by its
    :func:`sensitivity_table`: ``[heading, table, heading, table, ...]`` to ``display(*...)``."""
    out = []
    for name, comp in comparisons.items():
        out.append(_markdown(f"**{label(name)}** (SRC R² = {fmt.number(comp.attrs['r_squared'], 2)}, rank R² = "
                             f"{fmt.number(comp.attrs['r_squared_rank'], 2)}):"))
        out.append(sensitivity_table(comp))
    return out


def observation_caption(observed: dict) -> str:
    """Legend of the observation line: ``reported 11% (2026-04)``."""
    return f"reported {fmt.pct(observed['value'], 0)} ({observed['date']})"


def _distribution_chart(sc, values, observed: dict, band: float, n_draws: int, subject: str, xlabel: str) -> plt.Figure:
    return plots.distribution_with_observation(values, observed["value"], observation_caption(observed), xlabel=xlabel,
                                               band=band, title=f"{sc.label}: {subject} over {fmt.number(n_draws)} draws")


def job_distribution_chart(sc, draws, observed: dict, band: float, n_draws: int) -> plt.Figure:
    """The job's utilization over its Monte Carlo draws (``draws``: the results' ``utilization_draws``)
    against the reported figure and its band; ``n_draws`` is the count named in the title."""
    return _distribution_chart(sc, draws.value, observed, band, n_draws, "the job",
                               f"job utilization, % of {draws.denominator} peak")


def fleet_distribution_chart(sc, fleet_draws, observed: dict, band: float, n_draws: int) -> plt.Figure:
    """The fleet's MFU (BF16 dense) over its Monte Carlo draws against the reported figure and its band."""
    return _distribution_chart(sc, fleet_draws.value, observed, band, n_draws, "the fleet", "fleet MFU, % of BF16 dense peak")


def observation_basis(observed: dict):
    """What the reported figure is a share of, as the source states it."""
    return _markdown(f"Basis of the reported figure: {observed['basis']}.")


def pool_caption(result, u: dict):
    """The sentence above :func:`pools_table`: the largest job and its global batch."""
    return _markdown("Tokens per GPU per optimizer step and the step model's MFU per pool, with each pool's own limits and with "
                     f"the limits common to all pools. Largest job: {fmt.integer(result.largest_job_gpus)} GPUs; global batch "
                     f"{fmt.scaled(u['job']['global_batch_tokens'], 'tokens')}.")


def pools_table(result):
    """The job's operating point per pool (``result.pools``), formatted by :func:`analysis.report.format.table`."""
    return fmt.table(result.pools.set_index("pool"), label_index=False)
