"""Views of a sweep table (:mod:`analysis.sweep`): response surfaces, lines and the decision boundary."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import plots
from analysis.errors import InputError
from analysis.report.labels import label, register

# Short axis names for the keys the sweep report sweeps by default (the registry falls back to
# each parameter's description for any other key).
register({"goodput.restart_s": "Job re-initialization at 16,384 GPUs (s)",
          "economics.lease_usd_per_month_s1": "Lease fee ($ per month)",
          "job.global_batch_tokens": "Global batch (tokens)",
          "job.max_job_gpus": "Largest synchronous job (GPUs)"})


def find_column(table: pd.DataFrame, *words: str) -> str:
    """The first headline column whose name contains every word (e.g. ``"npv", "lease"``)."""
    from analysis.sweep import figure_columns
    columns = figure_columns(table)
    for column in columns:
        if all(w in column for w in words):
            return column
    raise InputError(f"sweep_table: no column with {' and '.join(words)}; it has {', '.join(columns)}")


def _axis_label(key: str) -> str:
    return label(key)


# The headline figures' sweep columns (analysis.sweep.figure_column of evaluate's figure and unit) under the figure's
# own name and the short form of its unit; tests/test_report_step_sweep_views.py checks every headline has one.
HEADLINE_COLUMN_LABELS = {
    "training_utilization_of_the_job_pct": "Training utilization of the job (% of its dense peak)",
    "fleet_mfu_pct": "Fleet MFU (% of BF16 dense peak)",
    "fleet_mfu_against_the_fp8_dense_peak_pct": "Fleet MFU (% of FP8 dense peak)",
    "tco_per_gpu_hour_usd_per_gpu_hour": "TCO per GPU-hour ($)",
    "cost_per_useful_exaflop_usd_per_useful_exaflop": "Cost per useful exaFLOP ($)",
    "effective_training_time_of_the_job_pct": "Effective training time of the job (% of wall-clock time)",
    "npv_of_leasing_minus_keeping_after_tax_usd_billions": "NPV of leasing minus keeping, after tax ($B)",
    "break_even_lease_rate_usd_per_gpu_hour": "Break-even lease rate ($ per GPU-hour)",
    "lessees_exit_option_usd_billions": "Lessee's exit option ($B)",
    "lessees_cost_per_million_output_tokens_at_the_lease_rate_usd_per_million_tokens":
        "Lessee's cost per million output tokens ($)",
}
_ACRONYMS = {"npv": "NPV", "tco": "TCO", "mfu": "MFU", "irr": "IRR", "gpu": "GPU", "s 1": "S-1", "fp8": "FP8",
             "bf16": "BF16", "exaflop": "exaFLOP"}


def _column_label(column: str) -> str:
    """A headline column by its figure's name (:data:`HEADLINE_COLUMN_LABELS`); any other column (a sweep table
    written by another version) from its words: ``npv_of_lease_..._usd_billions`` -> ``NPV of lease ... ($B)``."""
    if column in HEADLINE_COLUMN_LABELS:
        return HEADLINE_COLUMN_LABELS[column]
    text = column.replace("_pct", " (%)").replace("_usd_billions", " ($B)").replace("_usd_per_gpu_hour", " ($/GPU-hour)")
    text = " " + text.replace("_", " ") + " "
    for word, acronym in _ACRONYMS.items():
        text = text.replace(f" {word} ", f" {acronym} ")
    text = text.strip()
    return text[:1].upper() + text[1:]


def _ticks(values, key: str = "") -> list[str]:
    from analysis.report.format import scaled, usd
    money = "usd" in key
    return [(usd(v) if money else scaled(v)) if isinstance(v, (int, float, np.floating)) else str(v) for v in values]


def heatmap(table: pd.DataFrame, x: str, y: str, value: str, title: str, boundary: str | None = None,
            cmap: str = "viridis") -> plt.Figure:
    """``value`` over two swept keys (mean over any other keys), with the zero contour of
    ``boundary`` (e.g. the NPV of leasing minus keeping: where leasing stops winning) drawn in white."""
    grid = table.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    image = ax.imshow(grid.values, origin="lower", aspect="auto", cmap=cmap)
    ax.grid(False)
    ax.set_xticks(range(grid.shape[1]), _ticks(grid.columns, x), rotation=30, ha="right")
    ax.set_yticks(range(grid.shape[0]), _ticks(grid.index, y))
    for (i, j), v in np.ndenumerate(grid.values):
        ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=10, color="k",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "w", "alpha": 0.6, "linewidth": 0})
    if boundary is not None:
        b = table.pivot_table(index=y, columns=x, values=boundary, aggfunc="mean").reindex_like(grid)
        if np.nanmin(b.values) < 0 < np.nanmax(b.values) and min(b.shape) >= 2:
            ax.contour(np.arange(b.shape[1]), np.arange(b.shape[0]), b.values, levels=[0.0], colors="white",
                       linewidths=2.5, linestyles="--")
            ax.plot([], [], "w--", lw=2.5, label="decision boundary (leasing stops winning)")
            ax.legend(loc="upper left", fontsize=10, facecolor="0.3", labelcolor="w", framealpha=0.8)
    fig.colorbar(image, ax=ax, label=_column_label(value))
    ax.set_xlabel(_axis_label(x))
    ax.set_ylabel(_axis_label(y))
    ax.set_title(_wrap(title), fontsize=12)
    plots.lay_out(fig)
    return fig


def _wrap(title: str, width: int = 70) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(title, width))


def lines(table: pd.DataFrame, x: str, value: str, hue: str | None, title: str) -> plt.Figure:
    """``value`` against one swept key with its 5-95% band, one line per value of ``hue``."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    groups = table.groupby(hue) if hue else [(None, table)]
    for name, group in groups:
        g = group.groupby(x)[[value, f"{value}_p05", f"{value}_p95"]].mean().sort_index()
        shown = f"{_axis_label(hue)} = {_ticks([name], hue)[0]}" if hue else None
        line, = ax.plot(g.index, g[value], marker="o", label=shown)
        ax.fill_between(g.index, g[f"{value}_p05"], g[f"{value}_p95"], color=line.get_color(), alpha=0.15)
    ax.set_xlabel(_axis_label(x))
    ax.set_ylabel(_column_label(value))
    ax.set_title(_wrap(title), fontsize=12)
    if hue:
        ax.legend(fontsize=10)
    plots.lay_out(fig)
    return fig


def boundary_table(table: pd.DataFrame, x: str, y: str, boundary: str) -> pd.DataFrame:
    """For each value of ``y``: the ``x`` at which ``boundary`` crosses zero (linear
    interpolation between the two grid points around the sign change), or n/a where it does not."""
    rows = []
    for yv, group in table.groupby(y):
        g = group.groupby(x)[boundary].mean().sort_index()
        xs, vs = np.asarray(g.index, float), g.values
        cross = np.nonzero(np.sign(vs[:-1]) != np.sign(vs[1:]))[0]
        if len(cross):
            i = cross[0]
            at = xs[i] - vs[i] * (xs[i + 1] - xs[i]) / (vs[i + 1] - vs[i])
            text = _ticks([at], x)[0]
        else:
            text = "no crossing in the swept range"
        rows.append({_axis_label(y): _ticks([yv], y)[0], f"Leasing stops winning at {_axis_label(x)}": text})
    frame = pd.DataFrame(rows)
    return frame.set_index(_axis_label(y)) if len(frame) else frame   # no 0..n row numbers in the report


def headline(result, x: str, y: str | None, utilization: str, npv: str) -> str:
    """Two sentences on what the grid shows, from the table (never typed numbers)."""
    from analysis.report.format import number
    t = result.table
    wins = int((t[npv] > 0).sum())
    keys = " and ".join(_axis_label(k) for k in (x, y) if k)
    return (f"Over {len(t):,} combinations of {keys} ({result.draws:,} Monte Carlo draws each), training utilization "
            f"runs from **{number(t[utilization].min())}% to {number(t[utilization].max())}%** of the peak, and leasing "
            f"beats keeping in **{wins:,} of {len(t):,}** combinations (NPV of leasing minus keeping from "
            f"{number(t[npv].min())} to {number(t[npv].max())} $B).")


def table_view(result, rows: int = 40):
    """The first ``rows`` points with readable headers and formatted numbers (the full table is the CSV), one row a
    point and no row numbers."""
    from analysis.report.format import number, table
    from analysis.sweep import figure_columns
    t = result.table
    out = pd.DataFrame(index=t.index[:rows])
    for key in result.keys:
        out[_axis_label(key)] = _ticks(list(t[key][:rows]), key)
    for column in figure_columns(t):
        out[_column_label(column)] = [f"{number(v)} ({number(lo)} to {number(hi)})" for v, lo, hi in
                                      zip(t[column][:rows], t[f"{column}_p05"][:rows], t[f"{column}_p95"][:rows])]
    return table(out.reset_index(drop=True), "text", labels=False, index=False)


# --------------------------------------------------------------------------- what 40_sweep computes and shows
def sweep_size(quick: bool = False) -> dict:
    """Draws, grid points per key and jobs of the report's own sweep (small when ``quick``).

    One job: the sweep runs in the notebook's kernel, which holds the scenario's warm caches,
    and the batch already uses every core.
    """
    return dict(draws=50 if quick else 300, points_per_key=3 if quick else 5, jobs=1)


def sweep_result(scenario, sweep_table=None, x_key: str | None = None, x_values=None, y_key: str | None = None,
                 y_values=None, quick: bool = False):
    """The sweep the report draws: ``sweep_table`` read from disk when given, else the small sweep
    of ``scenario`` over ``x_key`` x ``y_key`` (:func:`sweep_size`), computed once per batch.

    Returns
    -------
    SweepResult
        :func:`analysis.sweep.load_or_run`, memoized (:func:`analysis.results.memo`) unless read
        from a table.
    """
    from analysis import results, sweep

    args, size = (scenario, sweep_table, x_key, x_values, y_key, y_values), sweep_size(quick)
    if sweep_table:
        return sweep.load_or_run(*args, **size)
    return results.memo("sweep", lambda: sweep.load_or_run(*args, **size), args, size)


def swept_keys(result) -> tuple[str, str | None]:
    """The keys on the x and y axes of a sweep: its first two keys (y is None for a one-key sweep)."""
    keys = result.keys
    return keys[0], (keys[1] if len(keys) > 1 else None)


def chart_title(subject: str, scenario) -> str:
    """A chart title naming the scenario: ``"<subject>, <scenario title>"``."""
    return f"{subject}, {scenario.title}"
