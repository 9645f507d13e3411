"""Notebooks: committed clean, parameterized alike, and executed end to end through the runner.

The whole report path runs once per session (every notebook, scenario ``colossus1``,
``quick=True``); the tests below then check each executed notebook and its HTML export.
"""
from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from analysis import reports
from analysis.notebook import read_metrics
from analysis.paths import NOTEBOOK_DIR

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# the batch runs every notebook but "lab" ones (interactive explorers, never executed by the runner)
BATCH_NOTEBOOKS = [p for p in NOTEBOOKS if reports.notebook_scope(p) != "lab"]
REQUIRED = {"00_cluster_overview", "10_step_model", "20_utilization", "21_goodput", "30_power", "31_cost",
            "32_inference", "33_lease_vs_rebuild", "01_executive_summary"}
from conftest import SMOKE_SCENARIO


def test_every_required_notebook_exists():
    missing = REQUIRED - {p.stem for p in NOTEBOOKS}
    assert not missing, f"missing notebooks: {sorted(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterized(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit notebooks without outputs"
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert re.search(r"^scenario\s*=", tagged[0].source, re.M) and re.search(r"^quick\s*=", tagged[0].source, re.M)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "first cell is the title"
    headings = [line[3:] for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("## ")]
    assert headings and all(h.isascii() for h in headings), "## headings (ASCII) build the table of contents"
    assert "Assumptions" in headings
    sources = "\n".join(c.source for c in code)
    assert not re.search(r"from IPython\.display import .*\bMarkdown\b", sources), \
        "use analysis.notebook.Markdown (keeps $ amounts literal)"


# What a notebook cell may not hold (issue 13: notebooks only import and call; the view functions in
# analysis/report/ hold the arithmetic and the wording): arithmetic or string concatenation, f-strings and
# str.format / % formatting, loops, comprehensions, lambdas and definitions. The parameters cell is exempt.
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult)
_NOT_IN_A_CELL = (ast.JoinedStr, ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.DictComp, ast.SetComp,
                  ast.GeneratorExp, ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def plumbing(source: str) -> list[str]:
    """What in one cell's code is arithmetic or string plumbing, as ``line: construct`` items."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC):
            found.append(f"{node.lineno}: {type(node.op).__name__.lower()}")
        elif isinstance(node, ast.AugAssign):
            found.append(f"{node.lineno}: augmented assignment")
        elif isinstance(node, _NOT_IN_A_CELL):
            found.append(f"{node.lineno}: {'f-string' if isinstance(node, ast.JoinedStr) else type(node).__name__}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                and isinstance(node.func.value, ast.Constant):
            found.append(f"{node.lineno}: str.format")
    return found


def test_plumbing_finds_what_a_cell_may_not_hold():
    assert plumbing("view.table(result, quick)\nif has_lease:\n    display(views.flip(econ['x']))") == []
    assert plumbing('x = a / 60\ny = f"{x} min"\nz = [k for k in d]\nw = lambda v: v\nt = "{}".format(1)') == [
        "1: div", "2: f-string", "3: ListComp", "4: Lambda", "5: str.format"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_cells_only_import_and_call(path):
    nb = nbformat.read(path, as_version=4)
    found = [f"cell {n}, line {item}" for n, c in enumerate(nb.cells)
             if c.cell_type == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])
             for item in plumbing(c.source)]
    assert not found, f"{path.name}: move this into a view function in analysis/report/: {found[:8]}"


@pytest.mark.slow
@pytest.mark.parametrize("path", BATCH_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_records_metrics(executed, path):
    out, results = executed
    result = results[path.stem]
    assert result.status == "ok", result.error
    nb = nbformat.read(out / result.ipynb_href, as_version=4)
    assert nb.metadata["papermill"]["parameters"]["quick"] is True
    metrics = read_metrics(nb)
    assert metrics, "each notebook records its headline numbers with nbk.record"
    stray = [o["data"]["text/plain"][:60] for c in nb.cells for o in c.get("outputs", [])
             if o.get("output_type") == "execute_result" and not {"image/png", "image/svg+xml"} & set(o.get("data", {}))
             and re.match(r"(Text\(|<matplotlib|\[<matplotlib|\(<Figure)", o["data"].get("text/plain", ""))]
    assert not stray, f"stray object reprs in the report (end the cell with ';'): {stray}"
    assert all(v is None or isinstance(v, (int, float, str)) for v in metrics.values())


@pytest.mark.slow
def test_recorded_figures_are_plausible_and_agree_across_reports(executed):
    """The same function gives the same number in every report that shows it."""
    out, results = executed
    m = {stem: r.metrics for stem, r in results.items()}
    assert m["00_cluster_overview"]["gpus"] == 230_000
    assert m["00_cluster_overview"]["peak_eflops_bf16_dense"] == pytest.approx(272.8)
    u = m["20_utilization"]
    assert 0 < u["utilization_p05"] <= u["utilization_p50"] <= u["utilization_p95"] < 1
    assert u["utilization_colossus1-aware"] >= u["utilization_colossus1"]
    assert 0.30 <= u["utilization_llama3-16k"] <= 0.42
    assert m["01_executive_summary"]["utilization"] == pytest.approx(u["utilization"])
    assert m["30_power"]["utilization_bf16"] == pytest.approx(u["utilization"])
    assert m["01_executive_summary"]["break_even_lease_usd_per_gpu_hour"] == pytest.approx(
        m["33_lease_vs_rebuild"]["break_even_lease_usd_per_gpu_hour"])
    assert 0 <= m["01_executive_summary"]["p_lease_beats_keep"] <= 1
    assert 0 < m["21_goodput"]["effective_training_time"] < 1
    assert abs(m["30_power"]["facility_mw"] / 300 - 1) <= 0.25
    assert m["10_step_model"]["calibration_mae_points"] <= 3 and m["10_step_model"]["calibration_max_abs_points"] <= 6
    # MLPerf v4.1-v5.1 closed rows (29, Llama 2 70B / Llama 3.1 405B / DeepSeek-R1 on H100..GB200):
    # median leave-one-out error 4.8% on the quick grid (25 of 29 rows within 15%), 4.7% on the full one (issue 12 asks
    # <= 15% per row: 26 of 29 rows on the full grid, stated in 32_inference)
    assert m["32_inference"]["mlperf_median_abs_loo_error_pct"] <= 6
    assert m["32_inference"]["mlperf_rows"] >= 29


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.remote, self.images, self.ids, self.anchors, self.classes = [], [], set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if re.match(r"^(https?:)?//", value) and tag in ("script", "link", "img", "iframe"):
                self.remote.append((tag, value))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.anchors.append(attrs["href"][1:])
        self.classes.extend((attrs.get("class") or "").split())


@pytest.mark.slow
@pytest.mark.parametrize("path", BATCH_NOTEBOOKS, ids=lambda p: p.stem)
def test_html_is_self_contained_without_code(executed, path):
    out, results = executed
    page = _Page()
    page.feed((out / results[path.stem].href).read_text())
    assert not page.remote, f"remote resources: {page.remote[:3]}"
    assert "jp-InputArea-editor" not in page.classes and "hl-ipython3" not in page.classes, "code inputs must be hidden"
    assert page.images and all(src.startswith("data:image/svg+xml;base64,") for src in page.images)
    assert page.anchors, "a table of contents"
    unresolved = [a for a in page.anchors if a not in page.ids]
    assert not unresolved, f"TOC anchors without target: {unresolved}"


CODE_NAME = re.compile(r"\b(colossus[12](-[a-z]+)?|llama3-16k|xai)\b|\b[a-z0-9]+_[a-z0-9_]+\b")


@pytest.mark.slow
def test_charts_titles_and_banners_use_no_code_names(executed):
    """Every text drawn in a chart, and each report's title and banner, names scenarios, clusters,
    fleets and factors as a reader would (issue 13: no code names)."""
    import base64

    out, results = executed
    for stem, result in results.items():
        html = (out / result.href).read_text()
        texts = re.findall(r"<title>([^<]*)</title>", html) + re.findall(r'<div class="report-banner">(.*?)</div>', html)
        for data in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html):
            texts += re.findall(r"<text[^>]*>([^<]*)</text>", base64.b64decode(data).decode())
        named = [t for t in texts if CODE_NAME.search(re.sub(r"<[^>]+>|\.\./index\.html", "", t))]
        assert not named, f"{stem}: {named[:5]}"


@pytest.mark.slow
def test_index_and_manifest(executed):
    out, results = executed
    index = (out / "index.html").read_text()
    for stem, result in results.items():
        assert result.href in index
        scope = reports.notebook_scope(NOTEBOOK_DIR / result.notebook)
        assert result.href == (f"{SMOKE_SCENARIO}/{stem}.html" if scope == "scenario" else f"{stem}.html")
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["scenarios"]) == {SMOKE_SCENARIO} and len(manifest["scenarios"][SMOKE_SCENARIO]["hash"]) == 16
    assert "data/gpus.csv" in manifest["data_files"] and manifest["packages"]["papermill"] != "not installed"
    assert "commit" in manifest and len(manifest["reports"]) == len(BATCH_NOTEBOOKS)
    assert not list(out.rglob(".*partial*")), "no temporary files left behind"
