"""Pure-Python checks of the HTML a stakeholder opens: the offline template and the notebook
helpers escape every user string, load nothing remote, show no code, inline every image with
alt text, and every table-of-contents anchor resolves. (The browser test adds layout checks.)"""
import dataclasses
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
    assert all(src.startswith("data:image/png;base64,") for src in page.images), "images inline"
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
    assert len(page.images) == 2 and page.alts[1] == "Chart"      # a figure without alt still has one
    assert page.alts[0] == f"Chart: {EVIL_TITLE}"                 # attribute-escaped, parsed back intact
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
    data, meta = nbk._png_with_alt(fig)
    assert meta == {"alt": "Bars: 274 MW of IT power"} and len(data) > 100
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
            check_page((out / r.href).read_text())


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


@pytest.mark.slow
@pytest.mark.parametrize("stem", ["00_cluster_overview", "01_executive_summary", "30_power"])
def test_presentation_reports_show_no_raw_values(executed, stem):
    """The reports this package's views build: no NaN/True/False, no float with more than 4
    significant digits, no snake_case code name, no printed dict."""
    import re

    out, results = executed
    if results[stem].status != "ok":
        pytest.skip(f"{stem} failed: {results[stem].error}")
    text = _Text()
    text.feed((out / "colossus1" / f"{stem}.html").read_text())
    body = " ".join(text.parts)
    body = body[body.find("Contents"):]
    report = body[:body.rfind("Assumptions")]     # the appendix quotes sources (arXiv ids, file names) verbatim
    assert not re.search(r"\b(NaN|nan|True|False|None)\b", body), re.search(r".{40}\b(NaN|nan|True|False|None)\b.{40}", body)
    assert not re.search(r"\{'[a-z_]+':", body), "a printed dict"
    for raw in re.finditer(r"(?<![\d.,])\d{1,3}\.\d{5,}", report):   # more than 4 significant digits
        significant = raw.group(0).replace(".", "").lstrip("0")
        assert len(significant) <= 4, report[max(0, raw.start() - 40):raw.end() + 20]
    assert not re.search(r"\b(step|goodput|scheduling): [a-z]+_[a-z_]+", report)
    code = re.search(r"\b(economics|power|cost|job|goodput|inference)\.[a-z0-9]+_[a-z0-9_]+\b", report)
    assert not code, report[max(0, code.start() - 40):code.end() + 20]
