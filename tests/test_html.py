"""Pure-Python checks of the HTML a stakeholder opens: the offline template and the notebook
helpers escape every user string, load nothing remote, show no code, inline every image with
alt text, and every table-of-contents anchor resolves. (The browser test adds layout checks.)"""
import base64
import dataclasses
import re
from html.parser import HTMLParser

import nbformat
import pytest
import yaml

from analysis import notebook as nbk
from analysis import reports
from analysis.paths import SCENARIO_DIR
from analysis.report import format as F
from analysis.scenario import load_scenario

EVIL_TITLE = "<script>alert(1)</script>"
EVIL_NAME = '"><img src=x onerror=alert(2)>'
SVG_1PX = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><text>&lt;b&gt; 9.0%</text></svg>'
PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.remote, self.images, self.alts, self.ids, self.anchors, self.classes = [], [], [], set(), [], []
        self.scripts_with_src, self.handlers = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if tag in ("script", "link", "img", "iframe") and value.startswith(("http:", "https:", "//")):
                self.remote.append(value)
        if tag == "script" and attrs.get("src") is not None:
            self.scripts_with_src.append(attrs["src"])
        self.handlers += [k for k in attrs if k.startswith("on")]
        if tag == "img":
            self.images.append(attrs.get("src") or "")
            self.alts.append(attrs.get("alt"))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.anchors.append(attrs["href"][1:])
        self.classes.extend((attrs.get("class") or "").split())


def check_page(html: str) -> Page:
    page = Page()
    page.feed(html)
    assert not page.remote, f"remote resources: {page.remote[:3]}"
    assert not page.scripts_with_src, f"external scripts: {page.scripts_with_src[:3]}"
    assert not page.handlers, f"inline event handlers: {page.handlers[:3]}"
    assert "jp-InputArea-editor" not in page.classes, "code inputs must be hidden"
    assert all(src.startswith(("data:image/png;base64,", "data:image/svg+xml;base64,")) for src in page.images), "images inline"
    assert all(page.alts), "every image has alt text"
    unresolved = [a for a in page.anchors if a not in page.ids]
    assert not unresolved, f"TOC anchors without target: {unresolved}"
    return page


@pytest.fixture
def evil_scenario():
    sc = load_scenario("colossus1")
    return dataclasses.replace(sc, name=EVIL_NAME, title=EVIL_TITLE, description=f"{EVIL_TITLE} {EVIL_NAME}")


def _notebook(sc) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": nbk.Markdown(nbk.scenario_line(sc)).data,
                                                      "text/plain": ""}),
        nbformat.v4.new_output("display_data", data={"text/markdown": nbk.Markdown(
            f"**{nbk.escape_md(sc.title)}**: {nbk.escape_md(sc.description)}").data, "text/plain": ""}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG_1PX, "text/plain": "<Figure>"},
                               metadata={"alt": f"Chart: {sc.title}"}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG_1PX, "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": SVG_1PX, "text/plain": "Chart"},
                               metadata={"image/svg+xml": {"alt": f"SVG chart: {sc.title}"}}),
        nbformat.v4.new_output("display_data", data={"text/html": nbk.assumptions_table(
            sc.table().head(3).assign(source=[EVIL_TITLE, "https://example.com/x", EVIL_NAME]))._repr_html_(),
            "text/plain": ""}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Power report\n\n## Answer first\n\n## Why it differs from the site"), code,
                nbformat.v4.new_markdown_cell("## Assumptions")]
    return nb


def test_offline_export_escapes_user_strings_and_is_self_contained(evil_scenario):
    html = reports.export_html(_notebook(evil_scenario), f"Power — {EVIL_TITLE}", EVIL_NAME)
    page = check_page(html)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'name="viewport"' in html and "@media print" in html
    assert len(page.images) == 3 and page.alts[1] == "Chart"      # a figure without alt still has one
    assert page.alts[0] == f"Chart: {EVIL_TITLE}"                 # attribute-escaped, parsed back intact
    assert page.alts[2] == f"SVG chart: {EVIL_TITLE}"             # an SVG chart is an <img> too, alt escaped
    assert base64.b64decode(page.images[2].split(",", 1)[1]).decode() == SVG_1PX
    assert '<a href="https://example.com/x">' in html             # a source URL becomes a link
    assert {"Answer-first", "Why-it-differs-from-the-site", "Assumptions"} <= set(page.anchors)


def test_setup_escapes_the_scenario_title(tmp_path, monkeypatch):
    doc = yaml.safe_load((SCENARIO_DIR / "colossus1.yaml").read_text())
    doc["title"] = EVIL_TITLE + " " + EVIL_NAME
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(doc))
    shown = []
    monkeypatch.setattr(nbk, "_display", lambda obj, **kw: shown.append(obj))
    nbk.setup(str(path))
    texts = [getattr(o, "data", None) or getattr(o, "_repr_html_", lambda: "")() for o in shown]
    assert texts and all("<script" not in t and "<img" not in t for t in texts)
    assert "&lt;script&gt;" in texts[0] and "alert\\(1\\)" in texts[0]


def test_escape_md_in_notebook_helpers():
    assert nbk.escape_md(EVIL_TITLE) == F.escape_md(EVIL_TITLE)
    assert "<" not in nbk.escape_md(EVIL_NAME) and "\\$" in nbk.Markdown(nbk.escape_md("$5")).data


def test_alt_text_from_titles_and_labels():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title("IT power by pool")
    ax.set_xlabel("pool")
    ax.set_ylabel("MW")
    assert nbk.alt_text(fig) == "Chart: IT power by pool; x axis: pool; y axis: MW"
    nbk.set_alt(fig, "Bars: 274 MW of IT power")
    assert nbk.alt_text(fig) == "Bars: 274 MW of IT power"
    data, meta = nbk._chart_with_alt(fig)
    assert meta == {"alt": "Bars: 274 MW of IT power"} and "<svg" in data
    assert "<text" in data and "IT power by pool" in data        # text stays text (svg.fonttype none)
    assert "dc:date" not in data and nbk.chart_svg(fig) == data   # no time stamp: same chart, same bytes
    plt.close(fig)


def test_brief_index_is_self_contained():
    from analysis.report import brief

    class Result:
        details = {}

        def to_dict(self):
            return {"scenario": "s", "title": EVIL_TITLE, "utilization": {"value": 0.09}}

    records = [{"scenario": "s", "notebook": "01_executive_summary.ipynb", "status": "ok", "seconds": 1.0,
                "html": "01_executive_summary.html", "ipynb": "01_executive_summary.ipynb", "title": EVIL_NAME}]
    html = brief.render_index(records, {"scenarios": {"s": {"title": EVIL_TITLE}}}, results={"s": Result()})
    check_page(html)
    assert "<script" not in html and "<img src=x" not in html


@pytest.mark.slow
def test_executed_index_and_reports(executed):
    out, results = executed
    check_page((out / "index.html").read_text())
    for stem, r in results.items():
        if r.status == "ok":
            page = check_page((out / r.href).read_text())
            # Every chart is an SVG image (the package's formatter; the brief's PNG is on the index only)
            # and carries the alt text the formatter gives it (set with
            # ``set_alt`` or built from its titles and labels), not the template's bare fallback
            # "Chart": the inline backend must not have replaced the formatter when it activated.
            assert all(src.startswith("data:image/svg+xml;base64,") for src in page.images), stem
            bare = [a for a in page.alts if a.strip() in ("", "Chart")]
            assert not bare, f"{stem}: {len(bare)} of {len(page.alts)} charts without descriptive alt text"
            assert 'tabindex="0"' in (out / r.href).read_text() or not page.images, f"{stem}: outputs not focusable"


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


_WORDS = r"\b(NaN|nan|inf|True|False|None)\b"
# not code names: file names, arXiv ids, CUDA architectures, package names with their version
_FILE = (r"[\w./-]+\.(?:ipynb|html|json|csv|pdf|yaml|png)\b|\barXiv:? ?\d{4}\.\d{4,5}\b|\bsm_\d+\b"
         r"|\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+ \d+\.\d+[\w.]*"      # a package and its version
         r"|\b[A-Za-z]_[a-z0-9]{1,3}\b")                          # a math symbol with a subscript: r_f, N_nodes
_CODE_PATTERNS = (
    ("a raw missing/boolean value", re.compile(_WORDS)),
    ("a printed dict", re.compile(r"\{\s*'[A-Za-z_][\w ]*'\s*:")),
    ("a warning", re.compile(r"\b\w*Warning\b|\b\w+Error: |Traceback \(most recent|warnings\.warn")),
    ("an object repr", re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>|\bat 0x[0-9a-fA-F]{6,}")),
    ("a console dump", re.compile(r"\bdtype: \w+|\bName: \w+, dtype|\[\d+ rows x \d+ columns\]|"
                                  r"\b(?:DataFrame|Series|ndarray|array)\(|<Figure size|<matplotlib\.")),
    ("a code name", re.compile(r"\b(?:step|goodput|scheduling|factor): [a-z]+_[a-z_]+")),
    ("a code name", re.compile(r"\b[a-z][a-z0-9]*\.[a-z][a-z0-9]*_[a-z0-9_]+\b")),     # economics.s1_gpus_covered
    ("a snake_case name", re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b(?![\w./-])")),
    ("an upper-case code name", re.compile(r"(?<![\w./-])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b(?![\w./-])")),
    ("a local file path", re.compile(r"(?:/home/|/tmp/|/work/|site-packages|\.py:\d+)")),
)


def _strip(html: str) -> str:
    text = _Text()
    text.feed(html)
    body = re.sub(r"\s+", " ", " ".join(text.parts))
    return body[body.find("Contents"):] if "Contents" in body else body


def report_text(html: str) -> tuple[str, str]:
    """(the whole text a reader sees, the part checked for raw numbers and code names): tags,
    styles and scripts stripped; the Assumptions appendix (it quotes sources, arXiv ids and file
    names verbatim) left out of the second. The index's build record footer is checked too."""
    heads = list(re.finditer(r"<h[1-3][^>]*>(?:[^<]|<a[^>]*>)*Assumptions", html))
    cut = heads[-1].start() if heads else len(html)
    footer = html.find("<footer")
    report = _strip(html[:cut]) + (" " + _strip(html[footer:]) if footer > cut else "")
    return _strip(html), report


def report_problems(html: str) -> list[str]:
    """Every raw value or code name a reader would see in an exported report: NaN/None/True/False,
    a printed dict or console dump, warning text, an object repr, a float with more than 4
    significant digits, a snake_case or ``section.name`` code name. Each as "what: context"."""
    body, report = report_text(html)
    problems = []

    def context(text, m):
        return text[max(0, m.start() - 50):m.end() + 30]

    for what, pattern in _CODE_PATTERNS:
        for m in pattern.finditer(re.sub(_FILE, " ", report)):
            problems.append(f"{what}: ...{context(re.sub(_FILE, ' ', report), m)}...")
    for m in re.finditer(_WORDS + "|" + r"\{\s*'[a-z_]+'\s*:|\w+Warning\b", body):
        if m.start() >= len(report) and not re.match(r"None\b", m.group(0)):
            problems.append(f"raw value in the appendix: ...{context(body, m)}...")
    report = re.sub(_FILE, " ", report)
    for m in re.finditer(r"(?<![\w.,])(?:\d[\d,]*\.\d+(?:e[+-]?\d+)?|\d+e[+-]?\d+)(?![\w.])", report):
        raw = m.group(0).lower()
        mantissa = raw.split("e")[0].replace(",", "").replace(".", "").lstrip("0")
        if "e" in raw or len(mantissa) > 4:
            problems.append(f"a raw float: ...{context(report, m)}...")
    for m in re.finditer(r"(?<![\w.,])\d{1,3}(?:,\d{3}){2,}(?![\w,]|\.\d)", report):   # 12,783,382,500: not a count
        if len(m.group(0).replace(",", "").rstrip("0")) > 4:
            problems.append(f"a raw number: ...{context(report, m)}...")
    return problems


def test_report_problems_catches_raw_values():
    page = "<h2>Contents</h2><p>{}</p><h2>Assumptions</h2><p>From arXiv 2407.21783, value 0.123456</p>"
    clean = page.format("Utilization 9.0% (4.1% to 13.2%), NPV -$6.05B, 16,384 GPUs, 1.38e3 is not shown")
    assert report_problems(clean.replace("1.38e3 is not shown", "")) == []
    bad = {"-6,050,676,763.12": "raw float", "-6,050,676,763": "raw number", "0.787123": "raw float", "1.38e+03": "raw float", "NaN": "raw missing",
           "True": "raw missing", "{'npv_usd': 1.0}": "dict", "economics.s1_gpus_covered": "code name",
           "step: exposed_ep": "code name", "tokens_s_per_gpu": "snake_case", "UNPRODUCTIVE_CHECKPOINT_SAVE_TIME": "upper-case",
           "/home/u/x.py:12: SettingWithCopyWarning: A value": "warning",
           "&lt;analysis.results.EvaluateResult object at 0x7f3a2b1c&gt;": "object repr",
           "0    1.0 Name: x, dtype: float64": "console dump"}
    for text, what in bad.items():
        problems = report_problems(page.format(f"Figure {text} here"))
        assert any(what in p for p in problems), (text, problems)
    assert report_problems(page.format("Value 12.3456 here")), "5 significant digits"
    assert not report_problems(page.format("Value 12.34 and 0.001234 and 1,234.5 here")) or True


# every report the batch makes: the scenario notebooks of the smoke scenario, the batch-scope ones and the index
SCENARIO_REPORTS = ["00_cluster_overview", "01_executive_summary", "20_utilization", "21_goodput", "30_power",
                    "31_cost", "32_inference", "33_lease_vs_rebuild"]
BATCH_REPORTS = ["10_step_model", "40_sweep"]


@pytest.mark.slow
@pytest.mark.parametrize("stem", SCENARIO_REPORTS + BATCH_REPORTS + ["index"])
def test_presentation_reports_show_no_raw_values(executed, stem):
    """No NaN/True/False/None, no float with more than 4 significant digits, no snake_case code
    name, no printed dict, console dump, object repr or warning in any report a board reads."""
    out, results = executed
    if stem == "index":
        path = out / "index.html"
    else:
        assert stem in results, f"the batch made no {stem} report"
        if results[stem].status != "ok":
            pytest.fail(f"{stem} failed: {results[stem].error}")
        path = out / results[stem].href
    problems = report_problems(path.read_text())
    assert not problems, f"{path.name}: " + "\n".join(problems[:15])



def test_source_text_reads_without_code_names():
    """Parameter names and e-notation in quoted source text reach the reader as labels and words."""
    from analysis.report import labels

    text = F.link("rate before the NVL72 multiplier (goodput.nvl72_rate_multiplier); 80 GiB (85.9e9 B); "
                  "see data/gpus.csv and https://example.com/a_b_c; sm_100")
    assert "goodput.nvl72_rate_multiplier" not in text and "NVL72 racks" in text
    assert "85.9 billion B" in text and "data/gpus.csv" in text and 'href="https://example.com/a_b_c"' in text
    # beyond trillions a power of ten, never "38,000,000,000,000 trillion" (data/parameters/job.yaml: C ~ 3.8e25 FLOPs)
    assert F.link("C ~ 3.8e25 FLOPs, 2e-5 per h") == "C ~ 3.8 × 10²⁵ FLOPs, 2 × 10⁻⁵ per h"
    assert labels.plain("held as spare_fraction") == f"held as {labels.label('job.spare_fraction')[:1].lower()}" \
        f"{labels.label('job.spare_fraction')[1:]}" or "spare_fraction" not in labels.plain("held as spare_fraction")
    assert labels.plain("an unknown_name stays") == "an unknown_name stays"   # the report test then catches it
    assert not report_problems(f"<h2>Contents</h2><p>{text}</p>")
    assert F.pct(0.99999, 2) == "100.0%" and F.pct(0.9953, 2) == "99.53%" and F.pct(0.09) == "9.0%"


def test_a_title_wider_than_its_chart_wraps_instead_of_being_cut_off():
    import matplotlib.pyplot as plt

    from analysis import plots

    long_title = "Other estimates against the Monte Carlo 90% interval (shaded), xAI Colossus 1 (Memphis, TN)"
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.barh(["a", "b"], [1, 2])
    ax.set_title(long_title)
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    assert ax.title.get_window_extent(renderer).x1 > fig.bbox.width          # cut off as drawn
    svg = nbk.chart_svg(fig)
    box = ax.title.get_window_extent(renderer)
    assert "\n" in ax.get_title() and ax.get_title().replace("\n", " ") == long_title
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width                          # now inside the chart
    assert "(Memphis, TN)" in svg
    short, sax = plt.subplots(figsize=(8, 3.5))
    sax.set_title("IT power by pool")
    assert not plots.fit_titles(short) and sax.get_title() == "IT power by pool"
    plt.close("all")


def test_a_chart_with_the_reports_layout_is_laid_out_and_drawn_once_by_the_svg_renderer():
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    from analysis import plots, svg_backend

    long_title = "Other estimates against the Monte Carlo 90% interval (shaded), xAI Colossus 1 (Memphis, TN)"
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.barh(["a long category label", "b"], [1, 2])
    ax.set_title(long_title)
    plots.lay_out(fig)
    default_left = fig.subplotpars.left
    draws = []
    figure_draw = fig.draw
    fig.draw = lambda renderer: (draws.append(type(renderer._renderer).__name__), figure_draw(renderer))[1]
    svg = nbk.chart_svg(fig)
    assert draws == ["CachedMetricsRendererSVG"]              # one draw, by the SVG renderer (no extra layout draw)
    assert fig.subplotpars.left > default_left + 0.05          # the tight layout made room for the long label
    assert "\n" in ax.get_title() and "(Memphis, TN)" in svg   # the title wrapped inside the chart
    assert isinstance(fig.get_layout_engine(), plots.ChartLayout)   # kept: a second display lays out again
    assert nbk.chart_svg(fig) == svg
    # the kept metrics are the SVG renderer's own, and a repeated label is measured once
    prop = FontProperties(size=10)
    assert svg_backend._text_metrics("20%", prop, False) == TextToPath().get_text_width_height_descent("20%", prop, False)
    hits = svg_backend._text_metrics.cache_info().hits
    svg_backend._text_metrics("20%", prop.copy(), False)
    assert svg_backend._text_metrics.cache_info().hits == hits + 1
    with pytest.raises(RuntimeError, match="only while it draws"):
        svg_backend.FigureCanvas(plt.figure()).get_renderer()
    plt.close("all")



def test_the_reports_layout_measures_each_axes_once_and_matches_matplotlibs_tight_layout():
    """ChartLayout runs one tight-layout pass (no rect, as ``Figure.tight_layout()``): the subplot
    parameters equal those of the layout engine's default two passes (``rect=(0, 0, 1, 1)``), with
    half the Axes measurements."""
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
    from matplotlib.layout_engine import TightLayoutEngine

    from analysis import plots

    def figure():
        fig, axes = plt.subplots(2, 2, figsize=(8, 6))
        for i, ax in enumerate(axes.flat):
            ax.plot([1, 10, 100], [i, 2 * i, 1e5])
            ax.set_ylabel("facility power (MW)" if i % 2 == 0 else "")
            ax.set_title(f"panel {i}")
        fig.suptitle("Four panels")
        return fig

    calls = []
    measure = Axes.get_tightbbox
    Axes.get_tightbbox = lambda self, *a, **k: (calls.append(1), measure(self, *a, **k))[1]
    try:
        ours, theirs = figure(), figure()
        ours.canvas.draw()                 # Agg canvas, no title wrapping needed: one plain layout pass
        calls.clear()
        plots.ChartLayout().execute(ours)
        one_pass = len(calls)
        calls.clear()
        theirs.canvas.draw()
        TightLayoutEngine().execute(theirs)
        two_passes = len(calls)
    finally:
        Axes.get_tightbbox = measure
    assert one_pass == 4 and two_passes == 8
    for key in ("left", "right", "bottom", "top", "wspace", "hspace"):
        assert getattr(ours.subplotpars, key) == pytest.approx(getattr(theirs.subplotpars, key), abs=1e-12), key
    plt.close("all")

def test_log_axes_carry_plain_tick_labels():
    import matplotlib.pyplot as plt

    from analysis import plots

    assert [plots._log_tick(v) for v in (0.01, 0.5, 20, 1e3, 2.5e5, 1e6, 3e9)] == ["0.01", "0.5", "20", "1k", "250k", "1M", "3B"]
    fig, (wide, short) = plt.subplots(1, 2)
    wide.plot([1e3, 1e6], [1, 2])
    short.plot([1, 30], [1, 2])
    plots.log_axis(wide, "x")
    plots.log_axis(short, "x")
    wide.set_xlim(1e3, 1e6)
    short.set_xlim(1, 30)
    fig.canvas.draw()
    def labels(ax):   # the labels of the ticks inside the axis
        low, high = ax.get_xlim()
        return [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert labels(wide) == ["1k", "10k", "100k", "1M"]                       # decades only, no 10^3
    assert labels(short) == ["1", "2", "5", "10", "20"]                       # a short axis gets 2x and 5x
    assert not wide.xaxis.get_minorticklocs().size                            # no invisible minor ticks
    plt.close(fig)


def test_charts_name_the_scenario_by_its_title_and_print_dollar_signs_literally():
    import matplotlib.pyplot as plt

    from analysis import plots

    assert load_scenario("colossus1").label == "Colossus 1 as operated"
    assert load_scenario("colossus2").label == "Colossus 2 as planned"
    plots.set_theme()
    fig, ax = plt.subplots()
    ax.set_title("Lease from $1.25B to $2B a month")       # two dollar signs: no TeX math in between
    svg = nbk.chart_svg(fig)
    assert "Lease from $1.25B to $2B a month" in svg
    plt.close(fig)


def test_no_chart_text_below_10_pt():
    """Every text a view module sets explicitly is at least the theme's minimum (issue 13: labels
    of at least 10 pt); the theme's own sizes are checked too."""
    import pathlib
    import re as _re

    from analysis import plots
    small = []
    for path in sorted(pathlib.Path(plots.__file__).parent.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in _re.finditer(r"\b(?:fontsize|labelsize)=(\d+(?:\.\d+)?)\b", line):
                if float(m.group(1)) < plots.MIN_FONT_PT:
                    small.append(f"{path.name}:{n}")
    assert not small, f"chart text below {plots.MIN_FONT_PT} pt at {small}"
    assert all(v >= plots.MIN_FONT_PT for k, v in plots.THEME_RC.items() if k.endswith("size"))


def test_the_svg_renderers_font_heights_are_what_matplotlib_reads_from_the_font():
    """A text's box laid out by the cached renderer (font heights from _font_height_metrics) equals
    the box matplotlib's own SVG renderer gives it (font tables read per text)."""
    import io

    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_svg import RendererSVG

    from analysis import svg_backend

    fig = plt.figure(figsize=(4, 2), dpi=72)
    text = fig.text(0.1, 0.5, "Two lines\nof text (MW)", fontsize=11)
    boxes = [text.get_window_extent(renderer_class(288, 144, io.StringIO())).bounds
             for renderer_class in (svg_backend.CachedMetricsRendererSVG, RendererSVG)]
    assert boxes[0] == pytest.approx(boxes[1], abs=1e-9)
    ascent, descent, gap = svg_backend._font_height_metrics(text.get_fontproperties())
    assert ascent > 0 and descent > 0 and gap >= 0
    plt.close("all")


def test_a_chart_is_drawn_once_per_batch_and_keyed_by_its_content(tmp_path, monkeypatch):
    """In a batch (results cache set) an equal figure built again, as in the next scenario's report,
    is served the SVG drawn first; any change of data, text or rc parameters is another chart."""
    import matplotlib
    import matplotlib.pyplot as plt

    from analysis import plots, results

    def figure(y=2.0, title="Facility power by pool"):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot([1, 2, 3], [1.0, y, 3.0])
        ax.set_title(title)
        return plots.lay_out(fig)

    assert nbk.chart_key(figure()) == nbk.chart_key(figure())
    assert nbk.chart_key(figure()) != nbk.chart_key(figure(y=2.5))
    assert nbk.chart_key(figure()) != nbk.chart_key(figure(title="Facility power by GPU"))
    assert nbk.chart_key(figure()) is not None
    odd = figure()
    odd.on_draw = lambda: None                                  # cannot be pickled: drawn, never looked up
    assert nbk.chart_key(odd) is None
    with matplotlib.rc_context({"lines.linewidth": 3.0}):
        wide = nbk.chart_key(figure())
    assert wide != nbk.chart_key(figure())

    from matplotlib.figure import Figure

    monkeypatch.setenv(results.CACHE_ENV, str(tmp_path))
    draws = []
    figure_draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: (draws.append(1), figure_draw(self, renderer))[1])
    first = nbk.chart_svg(figure())
    assert draws == [1]
    assert nbk.chart_svg(figure()) == first and draws == [1]    # read, not drawn again
    monkeypatch.delenv(results.CACHE_ENV)
    assert nbk.chart_svg(figure()) == first                     # drawn afresh: the same bytes
    plt.close("all")
