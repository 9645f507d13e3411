"""What every notebook does first and last, so notebooks stay thin.

``sc = setup(scenario)`` loads and validates the scenario, applies the plot theme and shows
the scenario's title and parameter table (the injected parameters cell is hidden in HTML
exports, so the values used must be visible in an output). ``record({...})`` publishes a
notebook's headline numbers as a JSON output that tests and the report index read back.

Everything a user file supplies (scenario name, title, description, sources, pool and GPU
names) is escaped before it reaches Markdown or HTML: use :func:`escape_md` in f-strings given
to :class:`Markdown`. Charts are SVG with alt text: ``setup`` installs an SVG formatter that
writes each figure's alt text into the output's metadata (the offline template puts it on the
``<img>``);
the text is the one given with :func:`set_alt` / :func:`show`, else it is built from the
figure's titles and axis labels.
"""
from __future__ import annotations

import contextlib
import json
import math
import pickle
import re

import pandas as pd
from IPython.display import Markdown as _IPythonMarkdown

from analysis.report import format as _fmt
from analysis.report.format import escape_html, table  # noqa: F401 - re-exported for notebooks
from analysis.scenario import Scenario, load_scenario
from analysis.serialize import plain as _plain

METRICS_MIME = "application/vnd.cluster-economics.metrics+json"
ALT_KEY = "_report_alt_text"


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


def escape_md(text) -> str:
    """A string from a user file, safe inside Markdown: no HTML tag, link, emphasis or math survives."""
    return _fmt.escape_md(text)


def format_number(value: float) -> str:
    """Readable numbers in tables: thousands separators for large values, 4 significant digits otherwise."""
    if not math.isfinite(value):
        return _fmt.MISSING
    if abs(value) >= 1e4:
        return f"{value:,.0f}" if abs(value) < 1e15 else f"{value:.3e}"
    return f"{value:.4g}"


# --------------------------------------------------------------------------- alt text of charts
def set_alt(fig, text: str):
    """Give ``fig`` the alt text its exported ``<img>`` carries; returns ``fig``."""
    setattr(fig, ALT_KEY, str(text))
    return fig


def alt_text(fig) -> str:
    """The figure's alt text: the one set with :func:`set_alt`, else built from its titles and axis labels."""
    given = getattr(fig, ALT_KEY, None)
    if given:
        return given
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        parts.append(suptitle.get_text())
    for ax in fig.get_axes():
        bits = [t for t in (ax.get_title(), ax.get_title(loc="left")) if t]
        labels = [f"{name} axis: {text}" for name, text in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if text]
        if bits or labels:
            parts.append("; ".join(bits + labels))
    return "Chart: " + (". ".join(parts) if parts else "figure without a title")


#: The MIME type of every chart a report shows: SVG, with its text kept as text.
CHART_MIME = "image/svg+xml"
# Text stays text (the reader's browser draws it: no glyph rasterizing, a quarter of a PNG's bytes,
# sharp on a phone and in print); ids are seeded so the same chart gives the same bytes; no
# creation date or tool stamp in the file.
_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "cluster-economics"}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def chart_svg(fig) -> str:
    """The figure as an SVG document (text as text, deterministic ids, no metadata), drawn once by
    :mod:`analysis.svg_backend`; a figure with the reports' layout (:func:`analysis.plots.lay_out`)
    is laid out just before that draw, measured by the SVG renderer itself.

    In a report batch (the runner's results cache set) a chart is drawn once per batch: reports of
    scenarios that share a cluster show the same power, cost and goodput charts, and the second
    one is read by :func:`chart_key` (the figure's content) from :func:`analysis.results.memo`."""
    from analysis import results

    key = chart_key(fig) if results.batch_cache_dir() is not None else None
    if key is None:
        return _draw_svg(fig)
    return results.memo("chart-svg", lambda: _draw_svg(fig), key)


class _ContentPickler(pickle.Pickler):
    """Pickles a figure for its content key: without the ids that differ between two equal figures
    (the transforms' back references to their parents, keyed by ``id``; the pyplot figure number)."""

    def __init__(self, file, **kwargs):
        from matplotlib.figure import Figure
        from matplotlib.transforms import TransformNode

        super().__init__(file, **kwargs)
        self._dropped = ((TransformNode, "_parents"), (Figure, "_number"))   # looked up once, not per object

    def reducer_override(self, obj):
        drop = next((name for cls, name in self._dropped if isinstance(obj, cls)), None)
        if drop is None:
            return NotImplemented
        reduced = obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
        if len(reduced) < 3 or not isinstance(reduced[2], dict) or drop not in reduced[2]:
            return NotImplemented
        state = {k: v for k, v in reduced[2].items() if k != drop}
        return (*reduced[:2], state, *reduced[3:])


def chart_key(fig) -> str | None:
    """SHA-1 of everything that sets the figure's SVG: its pickled state (every artist, its data and
    style; matplotlib's version), the rc parameters it is drawn under and the SVG settings; equal
    figures built in two processes give one key. ``None`` when the figure cannot be pickled (it is
    then drawn, never looked up)."""
    import hashlib
    import io

    import matplotlib

    buffer = io.BytesIO()
    try:
        _ContentPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(fig)
    except Exception:  # noqa: BLE001 - an unpicklable artist only costs the cache
        return None
    digest = hashlib.sha1(buffer.getvalue())
    digest.update(repr(sorted((k, repr(v)) for k, v in matplotlib.rcParams.items())).encode())
    digest.update(repr((_SVG_RC, _SVG_METADATA)).encode())
    return digest.hexdigest()


def _draw_svg(fig) -> str:
    import io

    import matplotlib
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    from analysis import plots
    from analysis.svg_backend import BACKEND

    engine = fig.get_layout_engine()
    layout = engine if isinstance(engine, plots.ChartLayout) else None
    if layout is None and plots.fit_titles(fig) and isinstance(engine, PlaceHolderLayoutEngine):
        layout = plots.ChartLayout()     # laid out by ``tight_layout`` before a title wrapped: again
    # The figure goes to ``savefig`` without a layout engine: with one, matplotlib draws the figure
    # an extra time to lay it out; the canvas applies ``layout`` in its one draw instead. (A
    # placeholder left by ``tight_layout`` lays out nothing and is dropped.) No tight bounding box
    # either (a second full draw): every figure of the package lays itself out.
    fig.set_layout_engine(None)
    buffer = io.StringIO()
    try:
        with matplotlib.rc_context(_SVG_RC):
            fig.savefig(buffer, format="svg", metadata=_SVG_METADATA, backend=BACKEND, layout=layout)
    finally:
        if isinstance(engine, plots.ChartLayout):
            fig.set_layout_engine(engine)    # drawn again (a second display, a PNG), it lays out again
    return buffer.getvalue()


def _chart_with_alt(fig):
    alt = alt_text(fig)    # before the draw: the alt text reads the titles as written, not as wrapped to fit
    return chart_svg(fig), {"alt": alt}


def install_alt_text() -> bool:
    """Make every matplotlib figure a notebook displays an SVG chart with alt text (IPython formatter)."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    # Activate the inline backend first: on activation it registers its own figure formatters
    # (PNG with a tight bounding box, no alt text), which would otherwise replace this one at the
    # notebook's first chart.
    import matplotlib.pyplot as plt
    with contextlib.suppress(Exception):
        getattr(plt, "_get_backend_mod", lambda: None)()
        # pyplot's REPL hook draws every open figure after each cell, just before the inline
        # backend draws it again to show it: the first draw is wasted (a third of a chart's cost).
        plt.uninstall_repl_displayhook()
    formatters = shell.display_formatter.formatters
    for mime in ("image/png", "image/jpeg", "application/pdf"):   # one rendering per chart, not two
        formatters[mime].pop(Figure, None)
    formatters[CHART_MIME].for_type(Figure, _chart_with_alt)
    return True


def show(fig, alt: str | None = None):
    """Display ``fig`` now (with alt text) and close it, so it is not shown twice."""
    import matplotlib.pyplot as plt

    if alt:
        set_alt(fig, alt)
    data, meta = _chart_with_alt(fig)
    plt.close(fig)
    _display({CHART_MIME: data, "text/plain": "Chart"}, raw=True, metadata={CHART_MIME: meta})


# --------------------------------------------------------------------------- first cell
def scenario_line(sc: Scenario) -> str:
    """Markdown: the scenario's title, cluster, file name and hash, every user string escaped (the
    title names the scenario; the file name and hash, last, say which file produced the figures)."""
    cluster = getattr(sc.cluster, "name", None) or sc.cluster.id
    return (f"**Scenario:** {escape_md(sc.title)} (cluster {escape_md(cluster)}, {sc.cluster.gpus:,.0f} GPUs; "
            f"scenario file {escape_md(sc.name)}, hash {escape_md(sc.hash)})")


def setup(scenario: str, show_parameters: bool = True) -> Scenario:
    """Load ``scenario`` (name or YAML path), set the plot theme, display what it uses."""
    from analysis import plots

    plots.set_theme()
    install_alt_text()
    sc = load_scenario(scenario)
    pd.set_option("display.float_format", format_number)
    pd.set_option("display.max_colwidth", 120)
    _display(Markdown(scenario_line(sc)))
    if show_parameters:
        rows = sc.table()
        shown = rows[rows["set_by_scenario"]]
        if len(shown):
            _display(Markdown(f"Parameters set by this scenario ({len(shown)} of {len(rows)}; the rest are the sourced "
                              "defaults in `data/parameters/`, listed under *Assumptions* at the end):"))
            _display(assumptions_table(shown))
        else:
            _display(Markdown(f"This scenario uses the sourced defaults of all {len(rows)} parameters "
                              "(`data/parameters/`, listed with their sources under *Assumptions* at the end)."))
    return sc


def _range_text(low, high) -> str:
    if _fmt.finite(low) is None or _fmt.finite(high) is None:
        return ""
    return f"{_fmt.auto(low)} to {_fmt.auto(high)}"


_CHOICE_WORDS = {"gpus": "GPUs", "macrs5": "MACRS 5-year"}


def _choice_text(parameter: str, value: str) -> str:
    """A text parameter as a reader reads it: a model by its name, precisions and acronyms in
    capitals, other choices as words ("equal tokens per GPU")."""
    try:
        if str(parameter).endswith(".model"):
            from analysis import catalog
            return str(catalog.model(value).get("name") or value)
        if str(parameter).endswith(".fleet"):
            from analysis import fleet
            return fleet.load_fleet(value).name or value
    except Exception:  # noqa: BLE001 - an unknown id is shown as given
        return value
    words = str(value).replace("_", " ").replace(",", ", ").split(" ")
    return " ".join(w.upper() if w.lower() in _fmt.UPPER_WORDS else _CHOICE_WORDS.get(w.lower(), w) for w in words)


def assumptions_table(rows: pd.DataFrame, caption: str | None = None):
    """Parameter rows (``Scenario.table()``) for readers: human names, formatted values and
    ranges, sources as links."""
    from analysis.report.labels import label

    frame = pd.DataFrame({
        "parameter": [label(p) for p in rows["parameter"]],
        "value": [_choice_text(p, v) if isinstance(v, str) else _fmt.auto(v) for p, v in zip(rows["parameter"], rows["value"])],
        "range": [_range_text(lo, hi) for lo, hi in zip(rows["low"], rows["high"])],
        "unit": ["" if u in ("-", None) else _fmt.auto(u) for u in rows["unit"]],
        "source": list(rows["source"]),
    })
    return _fmt.table(frame, formats={"value": "text", "range": "text", "unit": "text", "source": "link"},
                      labels={"parameter": "Parameter", "value": "Value", "range": "Range", "unit": "Unit",
                              "source": "Source"}, index=False, caption=caption)


def show_assumptions(sc: Scenario, sections: list[str] | None = None, formatted: bool = True):
    """The full parameter table with sources (optionally only some sections): a formatted
    :class:`~analysis.report.format.Table` (``formatted=False``: the raw frame indexed by parameter path)."""
    rows = sc.table()
    if sections:
        rows = rows[rows["parameter"].str.split(".").str[0].isin(sections)]
    if not formatted:
        return rows.set_index("parameter")
    return assumptions_table(rows)


# --------------------------------------------------------------------------- last cell
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
