"""The board brief: ``reports/index.html`` as a one-page comparison and decision, then the reports.

``render_index(records, manifest)`` returns one self-contained HTML page (no script, nothing
loaded from the network, the chart embedded as a PNG):

1. the decision in one sentence, and a side-by-side table of every scenario (fleet and job
   utilization, effective training time, TCO per GPU-hour, cost per useful exaFLOP, facility MW,
   incremental NPV of each option, break-even lease rate, probability that leasing wins);
2. one decision chart: NPV of leasing minus keeping against the lease rate, with the market-rent
   band and the S-1 rate marked;
3. "what would change the decision" and three sentences on why utilization is low, generated
   from the results;
4. links to each scenario's reports; the build record (commit, times, manifest, ``.ipynb``) in
   the footer.

Figures come from :func:`analysis.results.scenario_results` (the same ``EvaluateResult`` every
notebook of the scenario reads) and are read defensively: a figure a result does not hold reads
``n/a``; a scenario whose results fail to compute is listed with the reason; the page renders.
"""
from __future__ import annotations

import base64
import dataclasses
import math
from pathlib import Path

import pandas as pd

from analysis.report import format as F
from analysis.report.labels import label
from analysis.scenario import short_title

esc = F.escape_html


def _lower(text: str) -> str:
    """Lower-case the first letter only (keeps GPU, NPV, S-1)."""
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) < 2 else text
START_HERE = "01_executive_summary"
PRIMARY = "colossus1"      # the scenario the decision sentence is about, when present


# --------------------------------------------------------------------------- reading figures
def get(d, *paths, default=None):
    """The first of the dotted ``paths`` present in nested dict ``d`` with a usable value."""
    for path in paths:
        node = d
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                node = None
                break
        if node is not None and not (isinstance(node, float) and not math.isfinite(node)):
            return node
    return default


_num = F.finite


def incremental_npv(d: dict, option: str):
    """NPV of ``option`` minus keep: the economics section's own figure when it has one."""
    value = get(d, f"economics.incremental_npv_usd.{option}", f"economics.npv_incremental_usd.{option}",
                f"economics.npv_{option}_minus_keep_usd")
    if value is not None:
        return _num(value)
    npv, keep = _num(get(d, f"economics.npv_usd.{option}")), _num(get(d, "economics.npv_usd.keep"))
    return None if npv is None or keep is None else npv - keep


def incremental_band(d: dict, option: str):
    """(value, p05, p95) of the NPV of ``option`` minus keep."""
    value = incremental_npv(d, option)
    low = get(d, f"economics.incremental_npv_usd_quantiles.{option}.p05")
    high = get(d, f"economics.incremental_npv_usd_quantiles.{option}.p95")
    if option == "lease" and (low is None or high is None):
        low, high = get(d, "economics.npv_lease_minus_keep_usd_p05"), get(d, "economics.npv_lease_minus_keep_usd_p95")
    return value, _num(low), _num(high)


def compared_options(d: dict) -> dict:
    """{option: label} of the options the results compare against keep (the base)."""
    base = get(d, "economics.base", default="keep")
    options = get(d, "economics.options") or list((get(d, "economics.npv_usd", default={}) or {}).keys())
    labels = get(d, "economics.option_labels", default={}) or {}
    return {o: (labels.get(o) if isinstance(labels.get(o), str) else label(o)) for o in options if o != base}


def _band(d, base):
    return _num(get(d, base)), _num(get(d, f"{base}_p05")), _num(get(d, f"{base}_p95"))


def fleet_utilization(d: dict):
    value = get(d, "fleet.value_bf16_dense", "fleet.utilization", "fleet.fleet_utilization", "fleet.value", "fleet.mfu",
                "fleet.fleet_mfu")
    low = get(d, "fleet.p05", "fleet.utilization_p05", "fleet.fleet_utilization_p05")
    high = get(d, "fleet.p95", "fleet.utilization_p95", "fleet.fleet_utilization_p95")
    return _num(value), _num(low), _num(high)


def _rate_band(band) -> str:
    """A rate with its 5-95% range in dollars: ``$1.58/GPU-h ($1.39 to $2.07)``."""
    value, low, high = band
    return F.usd_per_gpu_hour(value) + (f" ({F.usd(low)} to {F.usd(high)})" if low is not None and high is not None else "")


def _tco(d: dict):
    tco = get(d, "tco_usd_per_gpu_hour", default={})
    if not isinstance(tco, dict) or not tco:
        return F.MISSING, ""
    main = tco.get("blend") if "blend" in tco else (next(iter(tco.values())) if len(tco) == 1 else None)
    parts = [f"{k} {F.usd(v)}" for k, v in tco.items() if k != "blend"]
    if main is None:
        values = [v for v in (_num(v) for v in tco.values()) if v is not None]
        main = sum(values) / len(values) if values else None
    return F.usd_per_gpu_hour(main), ", ".join(parts) if len(parts) > 1 else ""


def scenario_rows(d: dict, options: dict | None = None) -> list[tuple[str, str, str]]:
    """``[(figure, value text, detail text)]`` of one scenario's results (``to_dict()``);
    ``options`` {option: label}: the incremental-NPV rows (default: the result's own)."""
    bands = banded_figures(d)
    u, fleet, ettr = bands["Job utilization"], bands["Fleet utilization"], bands["Effective training time"]
    denominator = F.peak_basis(get(d, "utilization.denominator", default=""))
    tco, tco_detail = _tco(d)
    tco_band = bands["TCO per GPU-hour"]
    if tco_band[0] is not None:      # the cluster's blend with its 5-95% band over the scenario's draws
        tco = _rate_band(tco_band)
    be = bands["Break-even lease rate"]
    s1 = _num(get(d, "economics.lease_usd_per_gpu_hour", "inference.lease_usd_per_gpu_hour"))
    site = _num(get(d, "power.site_power_mw"))
    p_lease = _num(get(d, "economics.p_lease_beats_keep"))
    best = get(d, "economics.best_option")
    rows = [
        ("Fleet utilization", F.band(*fleet), "all work on the fleet, % of peak" if fleet[0] is not None else ""),
        ("Job utilization", F.band(*u), f"one training job, % of {denominator} peak" if denominator else ""),
        ("Effective training time", F.band(*ettr), "after failures, checkpoints, restarts"),
        ("TCO per GPU-hour", tco, tco_detail),
        ("Cost per useful exaFLOP", F.band(*bands["Cost per useful exaFLOP"], fmt=F.usd), "at the job utilization"),
        ("Facility power", F.mw(get(d, "power.facility_mw")), f"site reports {F.mw(site)}" if site is not None else ""),
    ]
    for option, name in (options if options is not None else compared_options(d)).items():
        rows.append((f"Incremental NPV: {_lower(name)}", F.band(*incremental_band(d, option), fmt=F.usd), "vs keeping"))
    rows += [
        ("Break-even lease rate", _rate_band(be),
         f"S-1 implies {F.usd_per_gpu_hour(s1)}" if s1 is not None else ""),
        ("Probability that leasing wins", F.pct(p_lease, 0), "share of Monte Carlo draws"),
        ("Best option by NPV", label(best) if isinstance(best, str) else F.MISSING, ""),
    ]
    return rows


def banded_figures(d: dict) -> dict[str, tuple]:
    """The comparison table's figures that carry a 5-95% band: ``{figure: (central, p05, p95)}``."""
    job = (_num(get(d, "utilization.value")), _num(get(d, "utilization.p05")), _num(get(d, "utilization.p95")))
    return {"Fleet utilization": fleet_utilization(d), "Job utilization": job,
            "Effective training time": _band(d, "goodput.effective_training_time"),
            "TCO per GPU-hour": _band(d, "tco_blend_usd_per_gpu_hour"),
            "Cost per useful exaFLOP": _band(d, "usd_per_useful_exaflop"),
            "Break-even lease rate": _band(d, "economics.break_even_lease_usd_per_gpu_hour")}


# --------------------------------------------------------------------------- sentences
def decision_sentence(name: str, d: dict) -> str:
    """One sentence: the verdict of scenario ``name`` (HTML)."""
    gap, low, high = _band(d, "economics.npv_lease_minus_keep_usd")
    p = _num(get(d, "economics.p_lease_beats_keep"))
    be = _num(get(d, "economics.break_even_lease_usd_per_gpu_hour"))
    s1 = _num(get(d, "economics.lease_usd_per_gpu_hour"))
    months = get(d, "economics.horizon_months")
    if gap is None:
        return f"The results of <b>{esc(name)}</b> hold no lease-versus-keep figures."
    verb = "Leasing" if gap > 0 else "Keeping"
    over = f" over {F.integer(months)} months" if months is not None else ""
    text = (f"<b>{verb} wins.</b> In <b>{esc(d.get('title') or name)}</b>, leasing the cluster and rebuilding the training "
            f"elsewhere is worth <b>{F.usd(gap)}</b> more than keeping it{over} "
            f"(5-95%: {F.usd(low)} to {F.usd(high)})")
    if p is not None:
        text += f"; leasing wins in {F.pct(p, 0)} of draws"
    if be is not None and s1 is not None:
        text += (f". Keeping would match the lease only below {F.usd_per_gpu_hour(be)}, against the "
                 f"{F.usd_per_gpu_hour(s1)} the S-1 implies")
    return text + "."


def what_would_change(name: str, d: dict, result=None, others: dict | None = None) -> list[str]:
    """Plain-language conditions under which the verdict flips (HTML list items)."""
    items = []
    be, be_low, be_high = _band(d, "economics.break_even_lease_usd_per_gpu_hour")
    s1 = _num(get(d, "economics.lease_usd_per_gpu_hour"))
    gap = _num(get(d, "economics.npv_lease_minus_keep_usd"))
    if be is not None and s1 is not None:
        ratio = f", {F.number(s1 / be, 2)} times the break-even" if be > 0 else ""
        items.append(f"<b>A lower lease rate.</b> {'Keeping' if gap and gap > 0 else 'Leasing'} becomes the better option "
                     f"if the rate falls {'below' if gap and gap > 0 else 'above'} {F.usd_per_gpu_hour(be)} "
                     f"(5-95%: {F.usd(be_low)} to {F.usd(be_high)}); the S-1 rate is "
                     f"{F.usd_per_gpu_hour(s1)}{ratio}.")
    options = getattr(result, "details", {}).get("options") if result is not None else None
    be_u = _num(getattr(options, "break_even_utilization_keep", None)) if options is not None else None
    used_u = _num(getattr(options, "inputs", {}).get("utilization_keep")) if options is not None else None
    if be_u is not None:
        if be_u > 1:
            items.append("<b>Higher utilization if kept.</b> No achievable utilization of the kept cluster makes keeping "
                         f"better at this lease rate (it would take {F.pct(be_u, 0)} of peak; the model gives "
                         f"{F.pct(used_u)}).")
        else:
            items.append(f"<b>Higher utilization if kept.</b> Keeping matches leasing if the kept cluster trained at "
                         f"{F.pct(be_u)} of its BF16 dense peak; the model gives {F.pct(used_u)}.")
    flips = get(d, "economics.flip_thresholds", default={}) or {}
    if isinstance(flips, dict) and flips:
        parts = []
        for path, f in flips.items():
            flip, current = _num((f or {}).get("flip_value")), _num((f or {}).get("current"))
            unit = str((f or {}).get("unit") or "")
            if flip is None:
                parts.append(f"{esc(label(path))}: no value in its physical range flips it")
                continue
            within = (f or {}).get("within_sourced_range")
            parts.append(f"{esc(label(path))} at {esc(_with_unit(flip, unit))} (now {esc(_with_unit(current, unit))}"
                         + ("; inside its sourced range" if within else "") + ")")
        items.append("<b>Each driver alone.</b> The verdict flips at: " + "; ".join(parts) + ".")
    p = _num(get(d, "economics.p_lease_beats_keep"))
    if p is not None:
        items.append(f"<b>Uncertain inputs.</b> Across the sourced ranges of every parameter, leasing wins in "
                     f"{F.pct(p, 0)} of draws.")
    if others:
        signs = {n: _num(get(o, "economics.npv_lease_minus_keep_usd")) for n, o in others.items()}
        signs = {n: v for n, v in signs.items() if v is not None}
        if signs and gap is not None:
            flips = [n for n, v in signs.items() if (v > 0) != (gap > 0)]
            if flips:
                items.append(f"<b>Other designs.</b> The verdict flips in {', '.join(esc(_scenario_label(n, others[n])) for n in flips)}.")
            else:
                items.append(f"<b>Other designs.</b> The verdict is the same in all {len(signs)} scenarios compared.")
    return items or ["The results hold no break-even figures."]


def _with_unit(value, unit: str) -> str:
    """A flip threshold in its unit: fractions as percentages, money with $."""
    u = (unit or "").strip()
    if value is None:
        return F.MISSING
    if u.lower().startswith("fraction of ") and abs(value) <= 1.5:       # e.g. "fraction of BF16 dense peak"
        return f"{F.pct(value)} of {u[len('fraction of '):]}"
    if u.lower() in ("fraction", "-", "", "share") and abs(value) <= 1.5:
        return F.pct(value)
    if u.upper().startswith("USD"):
        rest = u[3:].strip()
        return f"{F.usd(value)}{rest if rest.startswith('/') else (' ' + rest if rest else '')}"
    return f"{F.number(value)} {u}".strip()


def why_utilization_is_low(name: str, d: dict) -> list[str]:
    """Three sentences from the results: the level, the largest losses, failures (HTML)."""
    from analysis import utilization

    sentences = []
    u, low, high = _num(get(d, "utilization.value")), _num(get(d, "utilization.p05")), _num(get(d, "utilization.p95"))
    observed = _num(get(d, "utilization.observed"))
    denominator = F.peak_basis(get(d, "utilization.denominator", default="dense"))
    fleet = fleet_utilization(d)[0]
    s = (f"In {esc(d.get('title') or name)}, the model puts training at {F.pct(u)} of the {esc(denominator)} peak "
         f"(5-95%: {F.pct(low)} to {F.pct(high)})")
    fleet_share = _num(get(d, "fleet.share_at_or_below_observed"))
    if fleet is not None:
        s += f" and the whole fleet, with all its workloads, at {F.pct(fleet)}"
    if observed is not None and fleet is not None and fleet_share is not None:
        s += (f"; the reported {F.pct(observed, 0)} sits at the {F.pct(fleet_share, 0)} quantile of the fleet draws, "
              f"without fitting the model to it.")
    elif observed is not None:
        # The reported figure is xAI's whole-fleet MFU: a scenario without that fleet has nothing to set it against
        # (one job's draws are not a fleet's).
        s += (f"; the reported {F.pct(observed, 0)} is an MFU over xAI's whole fleet, which this scenario does not "
              f"model, so it is not compared.")
    else:
        s += "."
    sentences.append(s)
    factors = get(d, "utilization.factors", default={})
    groups = get(d, "utilization.factor_groups", default=None)
    if not isinstance(groups, dict) or not groups:
        try:
            groups = utilization.group_factors(factors) if factors else {}
        except Exception:  # noqa: BLE001 - a factor another module added must not break the brief
            groups = {}
    groups = {k: v for k, v in groups.items() if _num(v) is not None}
    factors = {k: v for k, v in (factors or {}).items() if _num(v) is not None}
    if groups:
        ranked = sorted(groups.items(), key=lambda kv: kv[1])
        worst = ranked[0]
        s = f"The largest loss is {esc(_lower(label(worst[0])))}, which keeps {F.pct(worst[1], 0)} of what reaches it"
        if len(ranked) > 1:
            s += f", then {esc(_lower(label(ranked[1][0])))} ({F.pct(ranked[1][1], 0)})"
        if factors:
            single = min(factors.items(), key=lambda kv: kv[1])
            s += f"; the single largest factor is {esc(_lower(label(single[0])))} ({F.factor(single[1])})"
        s += "."
        sentences.append(s)
    interruptions = interruption_sentence(d)
    if interruptions:
        sentences.append(interruptions)
    return sentences[:3]


def interruption_sentence(d: dict) -> str:
    """How often the scenario's training job is interrupted and how much of its time it trains (text; '' without a
    goodput figure). An islands split runs one job per GPU type: their interruptions add up and their effective
    training time is weighted by each job's useful FLOPs, as in the utilization chain."""
    gpus, per_day, ettr = (_num(get(d, "utilization.largest_job_gpus")), _num(get(d, "goodput.interruptions_per_day")),
                           _num(get(d, "goodput.effective_training_time")))
    if ettr is None:
        return ""
    only = "only " if ettr < 0.7 else ""
    if get(d, "utilization.split") == "islands":
        s = "Each GPU type trains its own synchronous job" + (f" (the largest on {F.integer(gpus)} GPUs)" if gpus else "")
        s += f"; between them they are interrupted about {F.number(per_day, 2)} times a day" if per_day is not None else ""
        return s + f" and spend {only}{F.pct(ettr, 0)} of their time making progress (weighted by their useful FLOPs)."
    s = "One synchronous job" + (f" on {F.integer(gpus)} GPUs" if gpus is not None else "")
    s += f" is interrupted about {F.number(per_day, 2)} times a day, so it" if per_day is not None else ""
    return s + f" spends {only}{F.pct(ettr, 0)} of its time making progress."


# --------------------------------------------------------------------------- chart
def market_band(result):
    """(low, high) market rent per GPU-hour of the leased cluster's GPU mix today (the low and high
    rents of ``data/market_rents.csv``, :func:`analysis.economics.market_rent_band`), or ``None``
    when the result holds no lease."""
    from analysis import economics

    options = getattr(result, "details", {}).get("options")
    if options is None or not getattr(options, "has_lease", False):
        return None
    low, _central, high = economics.market_rent_band(options)
    return float(low), float(high)


def decision_curves(results: dict, points: int = 41):
    """{scenario: frame of lease rate and NPV of leasing minus keeping ($B)} from each result's
    point-estimate options (:func:`analysis.economics.npv_vs_lease_rate`: the lessee's exit moves
    with the rate), and the S-1 rate per GPU-hour when the scenarios share one. A scenario that
    defines no lease has no curve."""
    import numpy as np

    from analysis import economics

    curves, s1_rates = {}, []
    for name, result in results.items():
        options = getattr(result, "details", {}).get("options")
        if options is None or not getattr(options, "has_lease", False):
            continue
        s1 = float(np.mean(options.lease_usd_per_gpu_hour))
        frame = economics.npv_vs_lease_rate(options, np.linspace(0.0, 1.3 * s1, points))
        lease = frame[frame["option"] == options.label("lease")]
        curves[name] = pd.DataFrame({"lease_usd_per_gpu_hour": lease["lease_usd_per_gpu_hour"].to_numpy(),
                                     "npv_lease_minus_keep_busd": lease["npv_usd"].to_numpy() / 1e9})
        s1_rates.append(s1)
    return curves, (s1_rates[0] if s1_rates and max(s1_rates) - min(s1_rates) < 0.01 else None)


def curve_peak_clause(curves: dict, s1: float | None) -> str:
    """Why a decision curve bends down: the lease rates at which each scenario's NPV of leasing minus keeping peaks
    inside the chart, as a caption clause ("" when every curve rises to its right end). A dearer lease is left sooner:
    the lessee exits on notice once the lease's premium over market rents outgrows its premium at signing
    (:func:`analysis.economics.adapter.exit_month_at_rate`), so past the peak a higher rate earns less."""
    import numpy as np

    peaks = []
    for c in curves.values():
        npv = c["npv_lease_minus_keep_busd"].to_numpy(float)
        top = int(np.argmax(npv))
        if 0 < top < len(npv) - 1:
            peaks.append(float(c["lease_usd_per_gpu_hour"].iloc[top]))
    if not peaks:
        return ""
    where = (F.usd_per_gpu_hour(peaks[0]) if max(peaks) - min(peaks) < 0.01
             else f"{F.usd_per_gpu_hour(min(peaks))} to {F.usd_per_gpu_hour(max(peaks))}")
    beyond = "; the S-1 rate lies past the peak" if s1 is not None and s1 > max(peaks) else ""
    return (f"; leasing is worth most near {where}: a dearer lease is left sooner (the lessee gives notice once its "
            f"premium over market rents outgrows its premium at signing), so past that a higher rate earns less{beyond}")


_CHART_MEMO: dict = {}


def decision_chart_html(results: dict, scenario_args: dict) -> str:
    """The decision chart as an embedded PNG with alt text, drawn once per set of results (the
    runner rewrites the index after every report)."""
    key = tuple((n, id(r), getattr(r, "scenario_hash", None)) for n, r in results.items())
    if key not in _CHART_MEMO:
        _CHART_MEMO.clear()
        _CHART_MEMO[key] = _decision_chart_html(results, scenario_args)
    return _CHART_MEMO[key]


def _decision_chart_html(results: dict, scenario_args: dict) -> str:
    import matplotlib.pyplot as plt

    from analysis import plots

    curves, s1 = decision_curves(results)
    if not curves:
        return "<p>No scenario's results hold the lease-versus-keep inputs; no decision chart.</p>"
    first = next(iter(curves))
    band = market_band(results[first])
    plots.set_theme()
    named = {short_title(getattr(results[n], "title", ""), n): c for n, c in curves.items()}
    fig = plots.decision_chart(named, s1, band, market_label="market rent of the leased GPUs (low to high)",
                               title="Leasing minus keeping: NPV against the lease rate")
    png = plots.png_bytes(fig, dpi=110)
    plt.close(fig)
    crossings = []
    for name, c in curves.items():
        be = _num(get(getattr(results[name], "to_dict", dict)(), "economics.break_even_lease_usd_per_gpu_hour"))
        if be is not None:
            crossings.append(be)
    alt = (f"Line chart: NPV of leasing minus keeping (billions of dollars) against the lease rate for "
           f"{len(curves)} scenario{'s' if len(curves) != 1 else ''}")
    if crossings and max(crossings) - min(crossings) < 0.01:
        alt += f"; {'the lines cross' if len(crossings) > 1 else 'the line crosses'} zero (break-even) at {F.usd_per_gpu_hour(crossings[0])}"
    elif crossings:
        alt += (f"; the lines cross zero (break-even) between {F.usd_per_gpu_hour(min(crossings))} and "
                f"{F.usd_per_gpu_hour(max(crossings))}")
    if band:
        alt += f"; the market-rent band is {F.usd(band[0])} to {F.usd(band[1])} per GPU-hour"
    if s1:
        alt += f"; the S-1 rate is {F.usd_per_gpu_hour(s1)}"
    alt += curve_peak_clause(curves, s1)
    data = base64.b64encode(png).decode()
    return (f'<figure class="chart"><div class="chart-scroll"><img src="data:image/png;base64,{data}" alt="{esc(alt)}"></div>'
            f"<figcaption>{esc(alt)}.</figcaption></figure>")


# --------------------------------------------------------------------------- page
CSS = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1180px; margin: 0 auto;
       padding: 1em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6em; margin: 0.3em 0; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.verdict { font-size: 1.1em; background: #f1f6fd; border-left: 5px solid #1f5fa8; padding: 0.7em 1em; }
.table-scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
table.compare { width: 100%; } table.compare td { min-width: 8.5em; } table.compare th[scope=row] { min-width: 9em; }
.range { font-size: 0.85em; white-space: nowrap; }
.detail, .meta { color: #555; font-size: 0.85em; }
.ok { color: #1b7f3b; font-weight: bold; } .failed { color: #b00020; font-weight: bold; }
.boxes { display: flex; flex-wrap: wrap; gap: 1em; }
.box { flex: 1 1 22em; border: 1px solid #ccd; border-radius: 6px; padding: 0.4em 1em; background: #fafafa; }
.box h2 { border: 0; margin-top: 0.4em; font-size: 1.1em; }
figure.chart { margin: 1em 0; } figure.chart img { max-width: 100%; height: auto; }
.chart-scroll { overflow-x: auto; max-width: 100%; }
/* phone: the chart keeps its drawn size (labels stay 10 pt) and scrolls in its box; as specific as the rule above */
@media (max-width: 600px) { figure.chart .chart-scroll img { max-width: none; width: auto; } }
figcaption { color: #555; font-size: 0.85em; }
.scenarios { display: flex; flex-wrap: wrap; gap: 1em; } .scenario { flex: 1 1 20em; }
.scenario ul { padding-left: 1.2em; }
footer { margin-top: 2.5em; border-top: 1px solid #ccc; color: #444; font-size: 0.85em; }
code { word-break: break-all; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .table-scroll { overflow: visible; } table { font-size: 8.5pt; } .range { white-space: normal; }
  a { color: inherit; text-decoration: none; } h2 { break-after: avoid; } figure, table, .box { break-inside: avoid; }
}
"""


def _record(r) -> dict:
    if dataclasses.is_dataclass(r) and not isinstance(r, type):
        return dataclasses.asdict(r)
    return dict(r)


def _quick(manifest: dict, records: list[dict]) -> bool:
    """Whether the batch ran at test size: the manifest's ``quick`` (top level, ``batch`` or
    ``parameters``), else a record's ``parameters``; default False."""
    for holder in (manifest, manifest.get("batch"), manifest.get("parameters"), *(r.get("parameters") for r in records)):
        if isinstance(holder, dict) and "quick" in holder:
            return bool(holder["quick"])
    return _cached_size(manifest)


def _cached_size(manifest: dict) -> bool:
    """Without a ``quick`` flag: the size the runner's results cache holds (full when both)."""
    try:
        from analysis import results
        cache_path = getattr(results, "cache_path", None)
        if cache_path is None:
            return False
        for name, info in (manifest.get("scenarios") or {}).items():
            arg = (info or {}).get("argument") or name
            full, quick = cache_path(arg, False), cache_path(arg, True)
            if full is not None and full.exists():
                return False
            if quick is not None and quick.exists():
                return True
    except Exception:  # noqa: BLE001
        pass
    return False


def _load_results(manifest: dict, quick: bool) -> tuple[dict, dict]:
    from analysis.results import scenario_results

    results, errors = {}, {}
    for name, info in (manifest.get("scenarios") or {}).items():
        try:
            results[name] = scenario_results((info or {}).get("argument") or name, quick)
        except Exception as exc:  # noqa: BLE001 - the brief lists the reason, never crashes
            errors[name] = f"{type(exc).__name__}: {exc}"[:300]
    return results, errors


def _scenario_label(name: str, d: dict) -> str:
    """The scenario's short title from its results (as :attr:`Scenario.label`), else its name."""
    return short_title(d.get("title"), name)


def _scenario_detail(title: str) -> str:
    """The parenthetical detail of a scenario title ("one synchronous job, ..."), else the title."""
    head, paren, rest = str(title).partition(" (")
    return rest[:-1] if paren and rest.endswith(")") else str(title)


def outside_note(dicts: dict) -> str:
    """:func:`central_outside_note` for the comparison table: each figure whose central value lies outside its band,
    with the scenarios where it does."""
    where: dict[str, list[str]] = {}
    for name, d in dicts.items():
        for figure, band in banded_figures(d).items():
            if F.outside_band(*band):
                where.setdefault(figure, []).append(_scenario_label(name, d))
    return F.central_outside_note([f"{_lower(f)} ({', '.join(names)})" for f, names in where.items()])


def comparison_table(dicts: dict, errors: dict | None = None) -> str:
    names = list(dicts) + [n for n in (errors or {}) if n not in dicts]
    options: dict = {}
    for d in dicts.values():
        for o, name in compared_options(d).items():
            options.setdefault(o, name)
    rows = {n: scenario_rows(dicts[n], options) for n in dicts}
    figures = [f for f, _, _ in next(iter(rows.values()))] if rows else []
    # columns under the scenario's short title ("Colossus 1 as operated"), never its file id; the
    # parenthetical rest of the title is the row beneath
    def short(n):
        return _scenario_label(n, dicts.get(n) or {})

    head = "".join(f'<th scope="col">{esc(short(n))}</th>' for n in names)
    body = []
    for i, figure in enumerate(figures):
        cells = []
        for n in names:
            if n in rows:
                _, value, detail = rows[n][i]
                main, _, rng = value.partition(" (")
                rng = f'<br><span class="range">{esc("(" + rng)}</span>' if rng else ""
                cells.append(f"<td><b>{esc(main)}</b>{rng}" + (f'<br><span class="detail">{esc(detail)}</span>' if detail else "") + "</td>")
            else:
                cells.append(f"<td>{F.MISSING}</td>")
        body.append(f'<tr><th scope="row">{esc(figure)}</th>{"".join(cells)}</tr>')
    titles = "".join(f'<td class="detail">{esc(_scenario_detail((dicts.get(n) or {}).get("title", "")))}</td>' for n in names)
    failing = "".join(f"<li>{esc(n)}: results could not be computed ({esc(e)})</li>" for n, e in (errors or {}).items())
    return (f'<div class="table-scroll"><table class="compare"><thead><tr><th scope="col">Figure</th>{head}</tr></thead>'
            f'<tbody><tr><th scope="row">Design</th>{titles}</tr>{"".join(body)}</tbody></table></div>'
            + (f'<ul class="failed">{failing}</ul>' if failing else ""))


def _href(r: dict, key: str = "html") -> str | None:
    """A record's link relative to the index: the runner's ``href``/``ipynb_href`` when it gives
    one, else ``<scenario>/<file>``."""
    given = r.get("href" if key == "html" else "ipynb_href")
    if given:
        return str(given)
    if not r.get(key):
        return None
    return f"{r['scenario']}/{r[key]}" if r.get("scenario") else str(r[key])


def _report_links(name: str, records: list[dict], info: dict, exports=()) -> str:
    items = []
    ordered = sorted(records, key=lambda r: (Path(r.get("notebook", "")).stem != START_HERE, r.get("notebook", "")))
    for r in ordered:
        stem = Path(r.get("notebook", "")).stem
        title = r.get("title") or stem
        if r.get("status") == "ok" and _href(r):
            items.append(f'<li><a href="{esc(_href(r))}">{esc(title)}</a></li>')
        elif r.get("status") == "ok":
            items.append(f"<li>{esc(title)}</li>")
        else:
            items.append(f'<li>{esc(title)}: <span class="failed">FAILED</span> '
                         f'<span class="detail">{esc(r.get("error") or "")}</span></li>')
    for f in exports or ():
        items.append(f'<li><a href="{esc(name)}/{esc(f)}">{esc(f)}</a> <span class="detail">(data export)</span></li>')
    heading = esc(_scenario_label(name, info)) if name else "Across scenarios"
    return (f'<div class="scenario"><h3>{heading}</h3>'
            f'<p class="meta">{esc(_scenario_detail(info.get("title", "")) if name else info.get("title", ""))}</p>'
            f'<ul>{"".join(items)}</ul></div>')


def _footer(records: list[dict], manifest: dict) -> str:
    failed = sum(r.get("status") != "ok" for r in records)
    seconds = sum(float(r.get("seconds") or 0) for r in records)
    rows = []
    for r in records:
        name = r.get("scenario", "")
        link = _href(r, "ipynb")
        nb = f'<a href="{esc(link)}">{esc(Path(link).name)}</a>' if link else F.MISSING
        status = '<span class="ok">ok</span>' if r.get("status") == "ok" else '<span class="failed">FAILED</span>'
        rows.append(f"<tr><td>{esc(name)}</td><td>{esc(Path(r.get('notebook', '')).stem)}</td><td>{status}</td>"
                    f"<td>{F.number(r.get('seconds'), 2)} s</td><td>{nb}</td></tr>")
    packages = ", ".join(f"{esc(k)} {esc(v)}" for k, v in (manifest.get("packages") or {}).items())
    hashes = ", ".join(f"{esc(n)} <code>{esc((i or {}).get('hash', ''))}</code>" for n, i in (manifest.get("scenarios") or {}).items())
    return (f"<footer><h2>Build record</h2>"
            f"<p>{len(records) - failed} of {len(records)} reports ok"
            + (f', <span class="failed">{failed} FAILED</span>' if failed else "")
            + f"; notebook run time {F.number(seconds, 3)} s in total"
            + (f", batch wall time {F.number(manifest['last_batch_seconds'], 3)} s"
               if _num(manifest.get("last_batch_seconds")) is not None else "")
            + (f'; board brief as <a href="brief.pdf">PDF</a>' if manifest.get("brief_pdf") else "")
            + f". Started {esc(F.utc_time(manifest.get('started_utc')))}, "
            f"generated {esc(F.utc_time(manifest.get('generated_utc')))} from commit <code>{esc(manifest.get('commit') or F.MISSING)}</code>. "
            f'Machine-readable manifest: <a href="manifest.json">manifest.json</a>.</p>'
            f"<p>Scenario hashes: {hashes or F.MISSING}.</p><p>Packages: {packages or F.MISSING}.</p>"
            f'<div class="table-scroll"><table><thead><tr><th>scenario</th><th>notebook</th><th>status</th><th>run time</th>'
            f'<th>executed notebook</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div></footer>')


def render_index(records, manifest: dict, results: dict | None = None, quick: bool | None = None,
                 chart: bool = True) -> str:
    """The index page as a board brief (self-contained HTML).

    ``records``: the runner's per-report records (``ReportResult`` or their dicts: scenario,
    notebook, status, seconds, html, ipynb, error, metrics, title); ``manifest``: the runner's
    manifest (``scenarios`` {name: {argument, hash, title, cluster}}, commit, times, packages).
    ``results`` {scenario: EvaluateResult} skips the evaluation (default:
    :func:`analysis.results.scenario_results` per scenario at ``quick`` size, itself defaulting
    to ``manifest["quick"]`` or ``manifest["parameters"]["quick"]``).
    """
    records = [_record(r) for r in records]
    manifest = dict(manifest or {})
    scenarios = dict(manifest.get("scenarios") or {})
    for r in records:  # a scenario with reports but not in the manifest still gets its links
        if r.get("scenario"):
            scenarios.setdefault(r["scenario"], {})
    manifest["scenarios"] = scenarios
    if quick is None:
        quick = _quick(manifest, records)
    errors: dict = {}
    if results is None:
        results, errors = _load_results(manifest, quick)
    dicts = {}
    for name, result in results.items():
        try:
            dicts[name] = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        except Exception as exc:  # noqa: BLE001
            errors[name] = f"{type(exc).__name__}: {exc}"[:300]
    primary = PRIMARY if PRIMARY in dicts else next(iter(dicts), None)

    parts = []
    if primary is not None:
        d = dicts[primary]
        parts.append(f'<p class="verdict">{_safe(decision_sentence, primary, d)}</p>')
    parts.append("<h2>The scenarios side by side</h2>"
                 "<p class=\"detail\">Central values with 5-95% ranges over the Monte Carlo draws of every sourced "
                 "parameter range; n/a where a scenario's results do not hold the figure. "
                 + esc(outside_note(dicts)) + "</p>")
    parts.append(_safe(comparison_table, dicts, errors) if dicts or errors else "<p>No scenario results.</p>")
    if chart and results:
        args = {n: (i or {}).get("argument") or n for n, i in scenarios.items()}
        parts.append("<h2>The decision: NPV against the lease rate</h2>"
                     + _safe(decision_chart_html, {n: r for n, r in results.items() if n in dicts}, args))
    elif results:
        parts.append("<h2>The decision: NPV against the lease rate</h2>"
                     "<p class=\"detail\">The chart appears when every scenario's results are computed.</p>")
    if primary is not None:
        d = dicts[primary]
        change = _safe(what_would_change, primary, d, results.get(primary), {n: x for n, x in dicts.items() if n != primary})
        why = _safe(why_utilization_is_low, primary, d)
        change_html = "".join(f"<li>{c}</li>" for c in change) if isinstance(change, list) else change
        why_html = " ".join(why) if isinstance(why, list) else why
        parts.append(f'<div class="boxes"><section class="box"><h2>What would change the decision</h2><ul>{change_html}</ul>'
                     f'</section><section class="box"><h2>Why utilization is low</h2><p>{why_html}</p></section></div>')
    parts.append('<h2>Reports by scenario</h2><p class="detail">Each scenario\'s executive summary comes first.</p>'
                 '<div class="scenarios">'
                 + "".join(_report_links(n, [r for r in records if r.get("scenario") == n], i or {},
                                         (manifest.get("exports") or {}).get(n, ())) for n, i in scenarios.items())
                 + (_report_links("", [r for r in records if not r.get("scenario")], {})
                    if any(not r.get("scenario") for r in records) else "")
                 + "</div>")
    failed = sum(r.get("status") != "ok" for r in records)
    status = (f'<p class="failed">{failed} of {len(records)} reports FAILED; see the build record below.</p>' if failed else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cluster economics: board brief</title>
<style>{CSS}</style></head><body>
<header><h1>Cluster economics: board brief</h1>
<p class="meta">{len(scenarios)} scenario(s), generated {esc(F.utc_time(manifest.get('generated_utc')))}.</p>{status}</header>
<main>
{''.join(parts)}
</main>
{_footer(records, manifest)}
</body></html>
"""


def _safe(fn, *args):
    """Run a section builder; a failure becomes one line in the page, never an exception."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        return f'<p class="failed">This section could not be built ({esc(type(exc).__name__)}: {esc(str(exc)[:200])}).</p>'
