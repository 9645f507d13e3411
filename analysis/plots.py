"""Seaborn/matplotlib figures used by the notebooks. Functions return the Figure."""
from __future__ import annotations

import matplotlib

if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline", "inline"):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.layout_engine import TightLayoutEngine
from matplotlib.ticker import LogLocator
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"
MIN_FONT_PT = 10          # no text in a chart is smaller (issue 13: labels of at least 10 pt)
SMALL = MIN_FONT_PT       # annotations, legends, tick labels
# "text.parse_math": False - no chart uses TeX math, and a label or title holding two dollar amounts
# (or a scenario title from a user's file) would otherwise be typeset as math between them.
# "axes.titley": 1.0 - titles sit at the top of their axes (plus axes.titlepad) instead of being moved
# above ticks drawn on top: no chart has those except `analytic_vs_simulated`, which asks for the
# automatic placement. The automatic one measures every y tick label again at each draw and layout
# (a quarter of a chart's cost) only to find an offset text no chart has.
THEME_RC = {"text.parse_math": False, "axes.titley": 1.0, "figure.dpi": 100, "savefig.dpi": 100, "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11,
            "xtick.labelsize": SMALL, "ytick.labelsize": SMALL, "legend.fontsize": SMALL,
            "legend.title_fontsize": SMALL, "figure.titlesize": 13}


def set_theme() -> None:
    """The one plot theme: seaborn whitegrid, colour-blind palette, every text at least 10 pt."""
    sns.set_theme(style="whitegrid", palette=PALETTE, rc=THEME_RC)


def warm_up() -> None:
    """Draw one throwaway figure with the features the reports use (log axes, legend,
    bar labels, tight layout, PNG and SVG), so the fonts and text-layout caches exist
    before the report runner forks its kernels (each fork would otherwise build them again)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    set_theme()
    fig = Figure(figsize=(6, 3))
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    bars = left.bar(["a", "b"], [1.0, 2.0], label="bars")
    left.bar_label(bars, labels=["1.0", "2.0"], fontsize=SMALL)
    left.set_title("warm-up: $1.2B to $3.4B")
    left.legend()
    right.plot([1, 10, 100], [1, 10, 100], label="line")
    log_axis(right, "x")
    log_axis(right, "y")
    right.set_xlabel("GPUs")
    fig.suptitle("warm-up")
    lay_out(fig)
    png_bytes(fig)                                  # the brief's chart
    from analysis.notebook import chart_svg
    chart_svg(fig)                                  # every report's charts


def _log_tick(value, _position=None) -> str:
    """A log axis' tick label in plain numbers: 0.01, 0.5, 20, 1k, 250k, 1M (no 10^3 notation)."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


class _DecadeLocator(LogLocator):
    """Ticks at every power of ten, and at 2 and 5 times them when the axis spans under two decades
    (so a short log axis still carries a few labels). No minor ticks are built: the theme draws none."""

    def tick_values(self, vmin, vmax):
        low, high = sorted((max(vmin, 1e-300), max(vmax, 1e-300)))
        self._subs = np.array([1.0, 2.0, 5.0]) if np.log10(high / low) < 2 else np.array([1.0])
        return super().tick_values(vmin, vmax)


def log_axis(ax, which: str = "x", tick_label=None) -> None:
    """Put ``ax``'s ``which`` axis ("x" or "y") on a log scale with plain tick labels (1k, 10k, 1M;
    ``tick_label(value) -> str`` for others, e.g. dollars)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(_DecadeLocator(base=10.0))
    axis.set_major_formatter(FuncFormatter(_log_tick if tick_label is None else lambda v, _: tick_label(v)))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def fit_titles(fig, margin_px: float = 4.0) -> bool:
    """Wrap every title that runs past the figure's edges onto more lines (a long scenario title in
    a chart title would otherwise be cut off at the figure's edge). Returns whether a title
    changed; :class:`ChartLayout` then lays the figure out again. The titles are measured by the
    canvas' renderer (during an SVG draw, :mod:`analysis.svg_backend`'s); nothing is wrapped on a
    canvas without one."""
    import textwrap

    get_renderer = getattr(fig.canvas, "get_renderer", None)
    if get_renderer is None:
        return False
    renderer = get_renderer()
    width = fig.bbox.width
    texts = [getattr(fig, "_suptitle", None)]
    texts += [t for ax in fig.axes for t in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None))]
    changed = False
    for t in texts:
        if t is None or not t.get_visible() or not t.get_text():
            continue
        box = t.get_window_extent(renderer)
        if box.x0 >= margin_px and box.x1 <= width - margin_px:
            continue
        # the room the title has: the whole figure when centred on it, else twice the distance from
        # its anchor to the nearer edge
        centre = 0.5 * (box.x0 + box.x1)
        room = max(width - 2 * margin_px, 1.0) if t is texts[0] else 2 * max(min(centre, width - centre) - margin_px, 1.0)
        lines = t.get_text().split("\n")
        longest = max(len(line) for line in lines)
        chars = max(16, int(longest * room / max(box.width, 1.0) * 0.95))
        if chars >= longest:
            continue
        t.set_text("\n".join(textwrap.fill(line, chars) for line in lines))
        changed = True
    return changed


class ChartLayout(TightLayoutEngine):
    """The reports' layout: matplotlib's tight layout, then every title that runs past the figure's
    edges wrapped (:func:`fit_titles`) and the figure laid out again. It runs when the figure is
    drawn, with the renderer that draws it: an SVG chart is measured by the SVG renderer that
    places its text (:mod:`analysis.svg_backend`), not first by a raster one.

    No ``rect``: matplotlib's default ``rect=(0, 0, 1, 1)`` makes ``get_tight_layout_figure``
    measure every Axes a second time only to return the same margins (its second pass takes the
    outer margins from the first and recomputes the gaps from the same, unmoved boxes); one pass
    gives the same layout at half the cost (tick creation and tick-label measurement)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._params["rect"] = None

    def execute(self, fig):
        super().execute(fig)
        if fit_titles(fig):
            super().execute(fig)


def lay_out(fig: plt.Figure) -> plt.Figure:
    """Give ``fig`` the reports' layout (:class:`ChartLayout`), applied when it is drawn."""
    fig.set_layout_engine(ChartLayout())
    return fig


def png_bytes(fig: plt.Figure, dpi: float | None = None) -> bytes:
    """``fig`` as a PNG, laid out once by its canvas' renderer: ``savefig`` would lay a figure
    with a layout engine out in an extra draw before the one it saves."""
    import io as _io

    engine = fig.get_layout_engine()
    if isinstance(engine, ChartLayout):
        engine.execute(fig)
    fig.set_layout_engine(None)
    buffer = _io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        if isinstance(engine, ChartLayout):
            fig.set_layout_engine(engine)
    return buffer.getvalue()


def _short(value) -> str:
    """A bar label: 3 significant digits with k/M/B suffixes (150k, 49.5), never 1.5e+05."""
    from analysis.report.format import scaled
    return scaled(value)


def wrap(text: str, width: int = 38) -> str:
    """Wrap a long label onto several lines (axis labels and titles that would collide)."""
    import textwrap
    return "\n".join(textwrap.wrap(str(text), width)) if len(str(text)) > width else str(text)


def pool_bars(summary: pd.DataFrame, columns: dict[str, str], title: str) -> plt.Figure:
    """Side-by-side bars per pool for several quantities (``{column: axis label}``)."""
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 4.0))
    axes = np.atleast_1d(axes)
    pools = [str(p) for p in summary["pool"]]
    colors = sns.color_palette(PALETTE, len(pools))
    for ax, (column, label) in zip(axes, columns.items()):
        # Plain bars: one value per pool, so seaborn's barplot (which bootstraps an error bar per
        # bar) would only add a second of work per chart.
        ax.bar(pools, np.asarray(summary[column], dtype=float), color=colors, width=0.8)
        ax.set_title(wrap(label, 30), fontsize=11)   # the quantity and unit, above its panel (never into the suptitle)
        ax.set_ylabel("")
        ax.set_xlabel("")
        ax.margins(y=0.12)
        for container in ax.containers:
            ax.bar_label(container, labels=[_short(v) for v in container.datavalues], fontsize=SMALL)
    fig.suptitle(title)
    lay_out(fig)
    return fig


def waterfall(factors: dict[str, float], start_label: str = "peak", end_label: str = "result",
              title: str = "", ax: plt.Axes | None = None, percent: bool = True) -> plt.Figure:
    """Multiplicative waterfall, read top to bottom: from 100% (``start_label``) each named
    factor keeps its share. Blue is the level after the factor, orange what the factor removes;
    each row is labelled with the factor (x0.91) and the last with the result."""
    names = list(factors)
    levels = np.cumprod([factors[n] for n in names])
    before = np.concatenate([[1.0], levels[:-1]])
    scale = 100 if percent else 1
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 0.3 * len(names) + 1.6))
    else:
        fig = ax.figure
    pal = sns.color_palette(PALETTE)
    y = np.arange(len(names) + 2)
    ax.barh(y[0], scale, color="0.55")
    ax.barh(y[1:-1], levels * scale, color=pal[0])
    ax.barh(y[1:-1], (before - levels) * scale, left=levels * scale, color=pal[3], alpha=0.8)
    ax.barh(y[-1], levels[-1] * scale, color="0.25")
    for yi, b, name in zip(y[1:-1], before, names):
        ax.text(b * scale, yi, f" ×{factors[name]:.2f}", va="center", fontsize=SMALL)
    ax.text(levels[-1] * scale, y[-1], f" {levels[-1] * scale:.1f}{'%' if percent else ''}", va="center", fontsize=SMALL,
            fontweight="bold")
    ax.set_yticks(y, [start_label, *names, end_label], fontsize=SMALL)
    ax.invert_yaxis()
    ax.set_xlim(0, scale * 1.08)
    ax.set_xlabel("% of peak" if percent else "fraction of peak")
    if title:
        ax.set_title(title, fontsize=10)
    lay_out(fig)
    return fig


def tornado(low: pd.Series, high: pd.Series, base: float, xlabel: str, title: str = "") -> plt.Figure:
    """One-at-a-time sensitivity: bars from base to the result at each parameter's low/high."""
    order = (high - low).abs().sort_values().index
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(order) + 1.5))
    pal = sns.color_palette(PALETTE)
    ax.barh(order, low[order] - base, left=base, color=pal[0], label="parameter at low")
    ax.barh(order, high[order] - base, left=base, color=pal[1], label="parameter at high", alpha=0.85)
    ax.axvline(base, color="k", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right", fontsize=SMALL)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def coefficient_bars(coefficients: pd.Series, xlabel: str, title: str = "") -> plt.Figure:
    """Horizontal bars of (standardized) regression coefficients, largest |value| on top."""
    order = coefficients.abs().sort_values().index
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(order) + 1.5))
    colors = [sns.color_palette(PALETTE)[0] if v >= 0 else sns.color_palette(PALETTE)[3] for v in coefficients[order]]
    ax.barh(order, coefficients[order], color=colors)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


# --------------------------------------------------------------------------- goodput (analysis.goodput)
def goodput_interruptions(table: pd.DataFrame, published: pd.DataFrame | None = None, marks: dict[str, float] | None = None,
                          title: str = "") -> plt.Figure:
    """Job interruptions per day vs GPUs in one job (log-log), with the rate's CI as a band.

    ``table`` from ``goodput.interruptions_table``; ``published`` (``goodput.published_interruptions``)
    adds labelled points; ``marks`` ``{label: gpus}`` draws vertical reference lines.
    """
    pal = sns.color_palette(PALETTE)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.fill_between(table["gpus"], table["interruptions_per_day_low"], table["interruptions_per_day_high"],
                    color=pal[0], alpha=0.25, label="95% CI of the per-GPU rate (Poisson GLM)")
    ax.plot(table["gpus"], table["interruptions_per_day"], color=pal[0], label="N x per-GPU rate")
    if published is not None and len(published):
        for (source, group), color, marker in zip(published.groupby("label", sort=False), pal[1:], "osD^v<>"):
            ax.scatter(group["gpus"], group["interruptions_per_day"], color=color, marker=marker, zorder=3, label=source)
    for i, (label, gpus) in enumerate((marks or {}).items()):
        ax.axvline(gpus, color="0.4", lw=0.8, ls="--")
        ax.text(gpus, 0.02, f" {label}", transform=ax.get_xaxis_transform(), fontsize=SMALL, va="bottom", rotation=90)
    log_axis(ax, "x")
    log_axis(ax, "y")
    ax.set_xlabel("GPUs in one synchronous job")
    ax.set_ylabel("job interruptions per day")
    ax.legend(fontsize=SMALL, loc="upper left", framealpha=0.9)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def checkpoint_tradeoff(curve: pd.DataFrame, optima_min: dict[str, float], title: str = "") -> plt.Figure:
    """Effective training time vs checkpoint interval (log x) with the optima marked.

    ``curve`` from ``goodput.interval_tradeoff``; ``optima_min`` ``{label: interval in minutes}``.
    """
    pal = sns.color_palette(PALETTE)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.plot(curve["checkpoint_interval_min"], 100 * curve["effective_training_time"], color=pal[0],
            label="effective training time (Daly complete model)")
    ax.plot(curve["checkpoint_interval_min"], 100 * curve["effective_training_time_young"], color=pal[0], ls=":",
            label="first-order (Young) approximation")
    ax.plot(curve["checkpoint_interval_min"], 100 * curve["checkpoint_overhead"], color=pal[1], ls="--",
            label="lost to checkpoint writes")
    ax.plot(curve["checkpoint_interval_min"], 100 * curve["lost_work"], color=pal[3], ls="--", label="lost work at failures")
    for i, ((label, minutes), color) in enumerate(zip(optima_min.items(), pal[2:])):
        ax.axvline(minutes, color=color, lw=1)
        ax.text(minutes, 0.97 - 0.07 * i, f" {label} optimum: {minutes:.3g} min", transform=ax.get_xaxis_transform(),
                fontsize=SMALL, va="top", color=color)
    log_axis(ax, "x")
    ax.set_ylim(0, 100)
    ax.set_xlabel("compute time between checkpoints (min)")
    ax.set_ylabel("% of wall-clock time")
    ax.legend(fontsize=SMALL, loc="center right")
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def analytic_vs_simulated(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Analytic (Daly complete, Young first-order) vs simulated effective training time across
    job sizes (``goodput.analytic_vs_simulated``), with the job MTBF / restart ratio on a top axis."""
    # The title must clear the top axis: automatic title placement (the theme turns it off).
    with plt.rc_context({"axes.titley": None}):
        return _analytic_vs_simulated(df, title)


def _analytic_vs_simulated(df: pd.DataFrame, title: str) -> plt.Figure:
    pal = sns.color_palette(PALETTE)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.fill_between(df["gpus"], 100 * df["simulated_ci_low"], 100 * df["simulated_ci_high"], color=pal[2], alpha=0.3)
    ax.plot(df["gpus"], 100 * df["simulated"], "o", color=pal[2], label="event simulation (mean, 95% CI)")
    ax.plot(df["gpus"], 100 * df["analytic_daly"], color=pal[0], label="analytic: Daly complete model")
    ax.plot(df["gpus"], 100 * df["analytic_young"], color=pal[3], ls="--", label="analytic: first-order (Young)")
    log_axis(ax, "x")
    ax.set_ylim(0, 100)
    ax.set_xlabel("GPUs in one synchronous job")
    ax.set_ylabel("effective training time (%)")
    top = ax.secondary_xaxis("top")
    top.set_xticks(df["gpus"].iloc[::2], [f"{v:.2g}" for v in df["mtbf_over_restart"].iloc[::2]], fontsize=SMALL)
    top.set_xlabel("job MTBF / restart time", fontsize=SMALL)
    ax.legend(fontsize=SMALL, loc="lower left")
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def published_vs_model(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Published effective training time (points; '>' rows drawn as lower bounds) beside the
    model's at the same job size (``goodput.published_comparison``)."""
    pal = sns.color_palette(PALETTE)
    labels = [f"{s}\n{g:,.0f} GPUs" for s, g in zip(df["system"], df["gpus"])]
    y = np.arange(len(df))
    fig, ax = plt.subplots(figsize=(7.5, 0.8 * len(df) + 1.5))
    ax.barh(y - 0.2, 100 * df["model_daly"], height=0.4, color=pal[0], label="model (Daly complete)")
    ax.barh(y + 0.2, 100 * df["published_ettr"], height=0.4, color=pal[1], label="published")
    for yi, (value, rel) in enumerate(zip(df["published_ettr"], df["relation"])):
        ax.text(100 * value, yi + 0.2, f" {'>' if rel == '>' else ''}{100 * value:.0f}%", va="center", fontsize=SMALL)
    for yi, value in enumerate(df["model_daly"]):
        ax.text(100 * value, yi - 0.2, f" {100 * value:.0f}%", va="center", fontsize=SMALL)
    ax.set_yticks(y, labels, fontsize=SMALL)
    ax.set_xlim(0, 110)
    ax.set_xlabel("effective training time (%)")
    ax.legend(fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


# --------------------------------------------------------------------------- power and cost (power.py / cost.py)
def stacked_bars(table: pd.DataFrame, category: str, components: dict[str, str], ylabel: str, title: str = "",
                 hlines: dict[str, float] | None = None, ax: plt.Axes | None = None, fmt: str = "{:,.3g}") -> plt.Figure:
    """Stacked bars: one bar per ``category`` row, one segment per component ``{column: label}``;
    the total is written on top; ``hlines`` adds labelled horizontal reference lines."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(table) + 3), 4))
    else:
        fig = ax.figure
    pal = sns.color_palette(PALETTE, len(components) + len(hlines or {}))
    bottom = np.zeros(len(table))
    x = np.arange(len(table))
    for i, (column, label) in enumerate(components.items()):
        values = table[column].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=pal[i], label=label, width=0.6)
        bottom = bottom + values
    for xi, total in zip(x, bottom):
        ax.text(xi, total, fmt.format(total), ha="center", va="bottom", fontsize=SMALL)
    for j, (label, value) in enumerate((hlines or {}).items()):
        ax.axhline(value, color=pal[len(components) + j], ls="--", lw=1.2, label=label)
    ax.set_xticks(x, table[category].astype(str))
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def estimate_bars(estimates: pd.Series, xlabel: str, title: str = "", reference: tuple[str, float] | None = None,
                  band: tuple[float, float] | None = None) -> plt.Figure:
    """Horizontal bars of alternative estimates of one quantity (index = label), with an
    optional reference line (label, value) and a shaded tolerance band (low, high)."""
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(estimates) + 2.0))
    pal = sns.color_palette(PALETTE)
    y = np.arange(len(estimates))
    ax.barh(y, estimates.to_numpy(dtype=float), color=pal[0])
    for yi, value in zip(y, estimates.to_numpy(dtype=float)):
        ax.text(value, yi, f" {value:,.0f}", va="center", fontsize=SMALL)
    if band is not None:
        ax.axvspan(band[0], band[1], color=pal[2], alpha=0.15)
    if reference is not None:
        ax.axvline(reference[1], color=pal[3], ls="--", lw=1.2, label=reference[0])
        ax.legend(fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.16 - 0.6 / max(len(estimates), 1)), ncol=2,
                  frameon=False)   # below the axes: never over a bar
    top = max([float(np.nanmax(estimates.to_numpy(dtype=float)))] + ([reference[1]] if reference else []) + ([band[1]] if band else []))
    ax.set_xlim(0, 1.15 * top)
    ax.set_yticks(y, estimates.index)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def utilization_curve(utilization, curves: dict[str, np.ndarray], ylabel: str, title: str = "",
                      marks: dict[str, tuple[float, float]] | None = None, references: dict[str, float] | None = None,
                      logy: bool = True) -> plt.Figure:
    """A quantity per useful FLOP against utilization (fraction of peak): one line per curve,
    labelled points ``marks`` {label: (u, y)} (modelled values) and dashed vertical lines
    ``references`` {label: u} (published observations)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    pal = sns.color_palette(PALETTE)
    u = np.asarray(utilization, dtype=float)
    for i, (label, y) in enumerate(curves.items()):
        ax.plot(u * 100, y, color=pal[i], lw=2, label=label)
    ref_colors = [pal[i % len(pal)] for i in (3, 2, 4, 1, 5, 6, 7)]
    ref_styles = ["--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1))]
    for j, (label, value) in enumerate((references or {}).items()):
        ax.axvline(value * 100, color=ref_colors[j % len(ref_colors)], ls=ref_styles[j % len(ref_styles)], lw=1.4, label=label)
    for k, (label, (ux, yx)) in enumerate((marks or {}).items()):
        ax.plot([ux * 100], [float(np.mean(yx))], marker="o", ms=8, color="k" if k == 0 else pal[(k + 6) % len(pal)],
                ls="none", label=label)
    if logy:
        log_axis(ax, "y", tick_label=lambda v: f"{v:.3g}")
    ax.set_xlabel("utilization (% of BF16 dense peak that becomes model FLOPs)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=SMALL)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def stacked_area(x, components: dict[str, np.ndarray], xlabel: str, ylabel: str, title: str = "",
                 hlines: dict[str, float] | None = None, vlines: dict[str, float] | None = None) -> plt.Figure:
    """Stacked areas of components over ``x`` with optional labelled reference lines."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    pal = sns.color_palette(PALETTE)
    ax.stackplot(np.asarray(x, dtype=float), *[np.asarray(v, dtype=float) for v in components.values()],
                 labels=list(components), colors=pal[:len(components)], alpha=0.85)
    n = len(components)
    for j, (label, value) in enumerate((hlines or {}).items()):
        ax.axhline(value, color=pal[(n + j) % len(pal)], ls="--", lw=1.2, label=label)
    for j, (label, value) in enumerate((vlines or {}).items()):
        ax.axvline(value, color="k", ls=":", lw=1.0, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=SMALL, loc="upper left")
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def rate_comparison(modelled: pd.Series, rates: pd.DataFrame, xlabel: str = "$ per GPU-hour", title: str = "") -> plt.Figure:
    """Market rental rates (one row each: ``rates`` with columns gpu, rate_usd_per_gpu_hour, kind,
    date) as points, each beside the modelled cost per GPU-hour of its GPU type (``modelled``
    indexed by GPU id; rows of other GPU types are left out)."""
    obs = rates[rates["gpu"].isin(modelled.index)].copy()
    obs["order"] = obs["gpu"].map({g: i for i, g in enumerate(modelled.index)})
    obs = obs.sort_values(["order", "rate_usd_per_gpu_hour"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * len(obs) + 1.8))
    pal = sns.color_palette(PALETTE)
    y = np.arange(len(obs))
    tco = obs["gpu"].map(modelled).to_numpy(dtype=float)
    ax.hlines(y, np.minimum(tco, obs["rate_usd_per_gpu_hour"]), np.maximum(tco, obs["rate_usd_per_gpu_hour"]),
              color="0.75", lw=1)
    ax.scatter(tco, y, marker="|", s=200, color="k", zorder=3, label="modelled TCO of that GPU type")
    ax.scatter(obs["rate_usd_per_gpu_hour"], y, color=pal[1], s=30, zorder=4, label="market rate (observation)")
    for gpu_id, group in obs.groupby("order"):
        if gpu_id > 0:
            ax.axhline(group.index.min() - 0.5, color="0.5", lw=0.6)
    ax.set_yticks(y, [f"{r.gpu}: {r.kind} ({r.date})" for r in obs.itertuples()], fontsize=SMALL)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, 1.08 * max(obs["rate_usd_per_gpu_hour"].max(), np.nanmax(tco)))
    ax.legend(fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def curves_by_group(frame: pd.DataFrame, x: str, y: str | list[str], hue: str, xlabel: str, ylabel: str, title: str = "",
           logx: bool = True, logy: bool = True, styles: dict[str, str] | None = None) -> plt.Figure:
    """Line chart of one or more ``y`` columns against ``x``, one colour per ``hue`` value; extra
    ``y`` columns are drawn dashed/dotted (``styles``: {column: legend text})."""
    ys = [y] if isinstance(y, str) else list(y)
    fig, ax = plt.subplots(figsize=(9, 4.4))
    colours = dict(zip(frame[hue].unique(), sns.color_palette(PALETTE)))
    dashes = ["-", "--", ":", "-."]
    for key, group in frame.groupby(hue, sort=False):
        for i, column in enumerate(ys):
            label = f"{key}" if i == 0 else f"{key} {(styles or {}).get(column, column)}"
            ax.plot(group[x], group[column], dashes[i % len(dashes)], color=colours[key], lw=1.6 if i == 0 else 1.0, label=label)
    if logx:
        log_axis(ax, "x")
    if logy:
        log_axis(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


# --------------------------------------------------------------------------- lease versus rebuild (economics.py)
def distributions_by_group(frame: pd.DataFrame, value: str, group: str, xlabel: str, title: str = "", scale: float = 1.0,
                           vlines: dict[str, float] | None = None) -> plt.Figure:
    """Monte Carlo distributions of ``value`` (divided by ``scale``), one histogram per ``group``,
    with dashed vertical reference lines ``vlines`` {label: value (unscaled)}."""
    data = frame.assign(_v=frame[value] / scale)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    sns.histplot(data=data, x="_v", hue=group, element="step", stat="density", common_norm=False, bins=60, ax=ax)
    pal = sns.color_palette(PALETTE)
    for i, (label, v) in enumerate((vlines or {}).items()):
        ax.axvline(v / scale, color=pal[(i + 4) % len(pal)], ls="--", lw=1.2, label=label)
    if vlines:
        ax.legend(handles=ax.get_legend().legend_handles + ax.get_lines(), labels=[t.get_text() for t in ax.get_legend().get_texts()]
                  + list(vlines), fontsize=SMALL)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def monthly_cash_flows(frame: pd.DataFrame, title: str = "", scale: float = 1e9, unit: str = "$B") -> plt.Figure:
    """Two panels from a long cash-flow table (option, component, month, period, usd):
    net operating cash flow per month by option, and cumulative cash flow including the
    month-0 capital and the residual value at the end."""
    net = frame.groupby(["option", "month"], sort=False)["usd"].sum().reset_index()
    periods = frame.drop_duplicates("month").set_index("month")["period"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    pal = dict(zip(net["option"].unique(), sns.color_palette(PALETTE)))
    operating = frame[~frame["component"].isin(["capital", "transition"])].groupby(["option", "month"], sort=False)["usd"].sum()
    for option, group in net.groupby("option", sort=False):
        op = operating[option]
        op = op[op.index >= 1]
        axes[0].plot(op.index, op.to_numpy() / scale, color=pal[option], lw=1.8, label=option)
        axes[1].plot(group["month"], group["usd"].cumsum() / scale, color=pal[option], lw=1.8, label=option)
    axes[0].set_title("operating cash flow per month", fontsize=10)
    axes[1].set_title("cumulative cash flow incl. capital, undiscounted", fontsize=10)
    axes[0].set_ylabel(f"{unit} per month")
    axes[1].set_ylabel(unit)
    for ax in axes:
        ax.axhline(0, color="k", lw=0.8)
        ticks = [m for m in periods.index if m % 6 == 0]
        ax.set_xticks(ticks, [periods[m] for m in ticks], rotation=35, ha="right")
        ax.legend(fontsize=SMALL)
    if title:
        fig.suptitle(title)
    lay_out(fig)
    return fig


def grouped_hbars(table: pd.DataFrame, label: str, value: str, group: str, xlabel: str, title: str = "",
                  fmt: str = "{:,.2f}", logx: bool = False) -> plt.Figure:
    """Horizontal bars (one per row of ``table``), coloured by ``group``, each labelled with ``fmt``."""
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(table) + 1.6))
    colours = dict(zip(table[group].unique(), sns.color_palette(PALETTE)))
    y = np.arange(len(table))
    values = table[value].to_numpy(dtype=float)
    ax.barh(y, values, color=[colours[g] for g in table[group]])
    for yi, v in zip(y, values):
        ax.text(v, yi, " " + fmt.format(v), va="center", fontsize=SMALL)
    ax.set_yticks(y, table[label])
    ax.invert_yaxis()
    if logx:
        log_axis(ax, "x")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax.legend(handles, list(colours), fontsize=SMALL, loc="best")
    ax.set_xlim(0, values.max() * 1.15)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def distribution_with_observation(values, observed: float, observed_label: str, xlabel: str, title: str = "",
                                  band: float | None = None, percent: bool = True) -> plt.Figure:
    """Histogram of Monte Carlo draws with an observed figure (and optional +/- band) marked."""
    scale = 100 if percent else 1
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    draws = np.asarray(values, dtype=float).ravel() * scale
    draws = draws[np.isfinite(draws)]
    # seaborn's histplot look (probability per bin, translucent bars, white edges) drawn directly:
    # one numpy histogram instead of seaborn's statistics machinery.
    counts, edges = np.histogram(draws, bins=60)
    ax.stairs(counts / max(draws.size, 1), edges, fill=True, color=sns.color_palette(PALETTE)[0], alpha=0.75)
    ax.set_ylabel("Probability")
    ax.axvline(observed * scale, color="k", ls="--", lw=1.2, label=observed_label)
    if band:
        ax.axvspan((observed - band) * scale, (observed + band) * scale, color="0.6", alpha=0.25, label=f"±{band * scale:g} points")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=SMALL)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def kept_vs_all(inputs: pd.DataFrame, keep, columns: list[str], title: str = "") -> plt.Figure:
    """Distributions of selected inputs over all draws and over the kept ("must be true") draws."""
    keep = np.asarray(keep, bool)
    fig, axes = plt.subplots(1, len(columns), figsize=(3.4 * len(columns), 3.2))
    axes = np.atleast_1d(axes)
    pal = sns.color_palette(PALETTE)
    for ax, column in zip(axes, columns):
        x = inputs[column].to_numpy(float)
        bins = np.histogram_bin_edges(x, bins=30)
        ax.hist(x, bins=bins, density=True, color=pal[0], alpha=0.45, label="all draws")
        if keep.any():
            ax.hist(x[keep], bins=bins, density=True, color=pal[3], alpha=0.6, label="kept draws")
        ax.set_xlabel(column, fontsize=SMALL)
        ax.set_yticks([])
    axes[0].legend(fontsize=SMALL)
    if title:
        fig.suptitle(title)
    lay_out(fig)
    return fig


def scenario_intervals(table: pd.DataFrame, value: str, low: str, high: str, xlabel: str, title: str = "",
                       reference: dict[str, float] | None = None, percent: bool = True) -> plt.Figure:
    """Point estimate per scenario with a p05-p95 interval; optional labelled reference lines."""
    scale = 100 if percent else 1
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(table) + 1.8 + 0.25 * len(reference or {})))
    y = np.arange(len(table))
    pal = sns.color_palette(PALETTE)
    ax.barh(y, table[value] * scale, color=pal[0], alpha=0.8)
    ax.errorbar(table[value] * scale, y, xerr=[(table[value] - table[low]).clip(lower=0) * scale,
                                              (table[high] - table[value]).clip(lower=0) * scale],
                fmt="none", ecolor="k", capsize=3, lw=1)
    for yi, v in zip(y, table[value]):
        ax.text(v * scale, yi + 0.3, f" {v * scale:.1f}{'%' if percent else ''}", va="center", fontsize=SMALL)
    for i, (label, ref) in enumerate((reference or {}).items()):
        ax.axvline(ref * scale, color=pal[(i + 3) % len(pal)], ls="--", lw=1.1, label=label)
    ax.set_yticks(y, table.index)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if reference:   # under the axes: scenario names are long, and a legend inside would cover a bar
        ax.legend(fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def parity_plot(table: pd.DataFrame, interval: pd.DataFrame | None = None, band_points: float = 3.0,
                title: str = "") -> plt.Figure:
    """Predicted vs published MFU (in %), one colour per ``group``; error bars from ``interval``
    (columns mfu_q05 / mfu_q95, same index); hollow markers for rows not in the fit
    (``in_fit`` False); dashed lines at +-``band_points`` percentage points."""
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    pal = sns.color_palette(PALETTE)
    for i, (group, rows) in enumerate(table.groupby("group", sort=False)):
        for in_fit, sub in rows.groupby("in_fit"):
            x, y = 100 * sub["published_mfu"], 100 * sub["predicted_mfu"]
            yerr = None
            if interval is not None:
                lo, hi = 100 * interval.loc[sub.index, "mfu_q05"], 100 * interval.loc[sub.index, "mfu_q95"]
                yerr = np.vstack([np.maximum(y - lo, 0), np.maximum(hi - y, 0)])
            ax.errorbar(x, y, yerr=yerr, fmt="o", ms=6, color=pal[i % len(pal)], mfc=pal[i % len(pal)] if in_fit else "white",
                        capsize=2, lw=0.8, label=group + ("" if in_fit else " (not in fit)"))
    lo = 100 * min(table["published_mfu"].min(), table["predicted_mfu"].min()) - 3
    hi = 100 * max(table["published_mfu"].max(), table["predicted_mfu"].max()) + 3
    grid = np.array([lo, hi])
    ax.plot(grid, grid, color="k", lw=0.8)
    for sign in (-1, 1):
        ax.plot(grid, grid + sign * band_points, color="0.5", lw=0.8, ls="--")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("published MFU (% of BF16 dense peak)")
    ax.set_ylabel("predicted MFU (% of BF16 dense peak)")
    ax.legend(fontsize=SMALL, loc="upper left")
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def scaling_plot(curves: dict[str, pd.DataFrame], points: pd.DataFrame | None = None, fit: pd.DataFrame | None = None,
                 title: str = "", ax: plt.Axes | None = None) -> plt.Figure:
    """MFU (%) against GPU count (log2 axis): model ``curves`` ({label: frame with gpus, mfu}),
    published ``points`` (gpus, mfu, label) and a regression ``fit`` (gpus, mean, lower, upper in %)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.2))
    else:
        fig = ax.figure
    pal = sns.color_palette(PALETTE)
    for i, (label, frame) in enumerate(curves.items()):
        ax.plot(frame["gpus"], 100 * frame["mfu"], marker=".", color=pal[i % len(pal)], label=label)
    if fit is not None:
        ax.plot(fit["gpus"], fit["mean"], color="0.3", ls="--", label="OLS on published (HC3 95% CI)")
        ax.fill_between(fit["gpus"], fit["lower"], fit["upper"], color="0.6", alpha=0.25)
    if points is not None:
        for j, (label, sub) in enumerate(points.groupby("label", sort=False)):
            ax.scatter(sub["gpus"], 100 * sub["mfu"], marker="D", s=36, color=pal[(len(curves) + j) % len(pal)], zorder=5,
                       edgecolor="k", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("GPUs (log2 scale)")
    ax.set_ylabel("MFU (% of BF16 dense peak)")
    ax.legend(fontsize=SMALL)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


# --------------------------------------------------------------------------- board brief (analysis.report.brief)
def decision_chart(curves: dict[str, pd.DataFrame], s1_rate: float | None = None, market_band: tuple[float, float] | None = None,
                   market_label: str = "market rent band", title: str = "", ax: plt.Axes | None = None) -> plt.Figure:
    """Incremental NPV of leasing (lease minus keep, $B) against the lease rate ($/GPU-hour), one
    line per scenario (``curves`` {label: frame with lease_usd_per_gpu_hour, npv_lease_minus_keep_busd}),
    with the market-rent band shaded and the S-1 rate marked; the zero line is the break-even."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 4.6))
    else:
        fig = ax.figure
    pal = sns.color_palette(PALETTE)
    if market_band is not None:
        ax.axvspan(market_band[0], market_band[1], color="0.6", alpha=0.25, label=market_label)
    for i, (label, frame) in enumerate(curves.items()):
        ax.plot(frame["lease_usd_per_gpu_hour"], frame["npv_lease_minus_keep_busd"], color=pal[i % len(pal)], lw=2, label=label)
    ax.axhline(0, color="k", lw=0.9)
    if s1_rate is not None:
        ax.axvline(s1_rate, color="k", ls="--", lw=1.3, label=f"S-1 lease rate (${s1_rate:.2f}/GPU-h)")
    ax.set_xlabel("lease rate paid by the lessee ($ per GPU-hour)")
    ax.set_ylabel("NPV of leasing minus keeping ($B)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.9)
    if title:
        ax.set_title(title)
    lay_out(fig)
    return fig


def small_texts(fig, minimum: float = MIN_FONT_PT) -> list[str]:
    """Visible texts of ``fig`` smaller than ``minimum`` points (for tests: should be empty)."""
    fig.canvas.draw()
    out = []
    for text in fig.findobj(matplotlib.text.Text):
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < minimum - 1e-9:
            out.append(f"{text.get_text()!r} at {text.get_fontsize():.1f} pt")
    return out
