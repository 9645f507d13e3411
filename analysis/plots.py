"""Seaborn/matplotlib figures used by the notebooks. Functions return the Figure."""
from __future__ import annotations

import matplotlib

if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline", "inline"):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"


def set_theme() -> None:
    sns.set_theme(style="whitegrid", palette=PALETTE, rc={"figure.dpi": 100, "savefig.dpi": 100})


def pool_bars(summary: pd.DataFrame, columns: dict[str, str], title: str) -> plt.Figure:
    """Side-by-side bars per pool for several quantities (``{column: axis label}``)."""
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.6))
    axes = np.atleast_1d(axes)
    for ax, (column, label) in zip(axes, columns.items()):
        sns.barplot(data=summary, x="pool", y=column, hue="pool", legend=False, ax=ax)
        ax.set_ylabel(label)
        ax.set_xlabel("")
        for container in ax.containers:
            ax.bar_label(container, fmt="%.3g", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def waterfall(factors: dict[str, float], start_label: str = "peak", end_label: str = "result",
              title: str = "", ax: plt.Axes | None = None, percent: bool = True) -> plt.Figure:
    """Multiplicative waterfall: from 1.0 (``start_label``) each factor removes its share.

    Bars show the level after each named factor; the red part is what that factor loses.
    """
    names = list(factors)
    levels = np.cumprod([factors[n] for n in names])
    before = np.concatenate([[1.0], levels[:-1]])
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6, 1.0 * len(names) + 3), 4))
    else:
        fig = ax.figure
    scale = 100 if percent else 1
    x = np.arange(len(names) + 2)
    ax.bar(x[0], scale, color="0.55")
    ax.bar(x[1:-1], levels * scale, color=sns.color_palette(PALETTE)[0])
    ax.bar(x[1:-1], (before - levels) * scale, bottom=levels * scale, color=sns.color_palette(PALETTE)[3], alpha=0.8)
    ax.bar(x[-1], levels[-1] * scale, color="0.25")
    for xi, level, name in zip(x[1:-1], levels, names):
        ax.text(xi, level * scale, f"×{factors[name]:.2f}", ha="center", va="bottom", fontsize=8)
    ax.text(x[-1], levels[-1] * scale, f"{levels[-1] * scale:.1f}{'%' if percent else ''}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, [start_label, *names, end_label], rotation=35, ha="right")
    ax.set_ylabel("% of peak" if percent else "fraction of peak")
    if title:
        ax.set_title(title)
    fig.tight_layout()
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
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
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
    fig.tight_layout()
    return fig
