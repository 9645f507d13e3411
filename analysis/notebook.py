"""What every notebook does first and last, so notebooks stay thin.

``sc = setup(scenario)`` loads and validates the scenario, applies the plot theme and shows
the scenario's title and parameter table (the injected parameters cell is hidden in HTML
exports, so the values used must be visible in an output). ``record({...})`` publishes a
notebook's headline numbers as a JSON output that tests and the report index read back.
"""
from __future__ import annotations

import json
import math
import re

import pandas as pd
from IPython.display import Markdown as _IPythonMarkdown

from analysis.scenario import Scenario, load_scenario
from analysis.serialize import plain as _plain

METRICS_MIME = "application/vnd.cluster-economics.metrics+json"


class Markdown(_IPythonMarkdown):
    """IPython's Markdown with literal dollar signs: ``$5.27`` stays money, never a LaTeX span
    (JupyterLab would typeset ``$5.27 ... $12$`` as math, and the offline HTML has no MathJax)."""

    def __init__(self, data=None, *args, **kwargs):
        if isinstance(data, str):
            data = re.sub(r"(?<!\\)\$", r"\\$", data)
        super().__init__(data, *args, **kwargs)


def _display(obj, **kwargs):
    from IPython.display import display
    display(obj, **kwargs)


def format_number(value: float) -> str:
    """Readable numbers in tables: thousands separators for large values, 4 significant digits otherwise."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e4:
        return f"{value:,.0f}" if abs(value) < 1e15 else f"{value:.3e}"
    return f"{value:.4g}"


def setup(scenario: str, show_parameters: bool = True) -> Scenario:
    """Load ``scenario`` (name or YAML path), set the plot theme, display what it uses."""
    from analysis import plots

    plots.set_theme()
    sc = load_scenario(scenario)
    pd.set_option("display.float_format", format_number)
    pd.set_option("display.max_colwidth", 120)
    _display(Markdown(f"**Scenario:** `{sc.name}` — {sc.title} (cluster `{sc.cluster.id}`, {sc.cluster.gpus:,.0f} GPUs; "
                      f"scenario hash `{sc.hash}`)"))
    if show_parameters:
        table = sc.table()
        shown = table[table["set_by_scenario"]]
        if len(shown):
            _display(Markdown(f"Parameters set by this scenario ({len(shown)} of {len(table)}; the rest are the sourced "
                              "defaults in `data/parameters/`, listed under *Assumptions* at the end):"))
            _display(shown.drop(columns="set_by_scenario").set_index("parameter"))
        else:
            _display(Markdown(f"This scenario uses the sourced defaults of all {len(table)} parameters "
                              "(`data/parameters/`, listed with their sources under *Assumptions* at the end)."))
    return sc


def show_assumptions(sc: Scenario, sections: list[str] | None = None) -> pd.DataFrame:
    """The full parameter table with sources (optionally only some sections)."""
    table = sc.table()
    if sections:
        table = table[table["parameter"].str.split(".").str[0].isin(sections)]
    return table.set_index("parameter")


def record(metrics: dict) -> dict:
    """Publish headline numbers (a flat ``{name: number or text}``) as a hidden JSON output."""
    clean = {str(k): _plain(v) for k, v in metrics.items()}
    json.dumps(clean)  # fail here, not in the runner, on values JSON cannot hold
    _display({METRICS_MIME: clean, "text/plain": ""}, raw=True)
    return clean


def read_metrics(nb) -> dict:
    """Merge every :func:`record` output of an executed notebook (an nbformat node)."""
    metrics = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if METRICS_MIME in data:
                metrics.update(data[METRICS_MIME])
    return metrics
