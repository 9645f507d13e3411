"""The board brief (index page) and the exports: figures from the scenario results, n/a for
what a result does not hold, every user string escaped, nothing remote."""
import re
from pathlib import Path
from html.parser import HTMLParser

import pandas as pd
import pytest

from analysis.report import brief
from analysis.report import format as F, exports
from analysis.results import scenario_results

EVIL_TITLE = "<script>alert(1)</script>"
EVIL_NAME = '"><img src=x onerror=alert(2)>'


class FakeResult:
    """Only what the brief reads: ``to_dict()`` (and no details)."""

    def __init__(self, d):
        self.d, self.details = d, {}

    def to_dict(self):
        return self.d


def _records(names, stems=("01_executive_summary", "30_power")):
    return [{"scenario": n, "notebook": f"{s}.ipynb", "status": "ok", "seconds": 2.5, "html": f"{s}.html",
             "ipynb": f"{s}.ipynb", "error": None, "metrics": {}, "title": f"Report {s}"} for n in names for s in stems]


def _manifest(names, titles=None):
    return {"scenarios": {n: {"argument": n, "hash": "0123456789abcdef", "title": (titles or {}).get(n, n), "cluster": "c"}
                          for n in names},
            "commit": "abc123", "generated_utc": "2026-12-01T10:00:00+00:00", "started_utc": "2026-12-01T09:59:00+00:00",
            "packages": {"numpy": "2.4"}}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.remote, self.images, self.alts, self.ids, self.anchors, self.scripts = [], [], [], [], set(), [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if (attrs.get(key) or "").startswith(("http:", "https:", "//")) and tag in ("script", "link", "img"):
                self.remote.append(attrs[key])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
            self.alts.append(attrs.get("alt"))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.anchors.append(attrs["href"][1:])


@pytest.fixture(scope="module")
def colossus1():
    return scenario_results("colossus1", quick=True)


def test_brief_compares_scenarios_and_states_the_decision(colossus1):
    d = colossus1.to_dict()
    html = brief.render_index(_records(["colossus1"]), _manifest(["colossus1"]), results={"colossus1": colossus1})
    page = _Page()
    page.feed(html)
    assert '<meta name="viewport"' in html and "@media print" in html and "size: A4" in html
    assert page.scripts == 0 and not page.remote
    assert len(page.images) == 1 and page.images[0].startswith("data:image/png;base64,") and page.alts[0]
    # the figures, formatted, from the one result
    assert "Leasing wins." in html
    u = d["utilization"]
    assert f"{100 * u['value']:.1f}%" in html and f"({100 * u['p05']:.1f}% to {100 * u['p95']:.1f}%)" in html
    gap = d["economics"]["npv_lease_minus_keep_usd"]
    assert F.usd(gap) in html
    assert f"${d['economics']['break_even_lease_usd_per_gpu_hour']:.3g}/GPU-h" in html
    # the time stamps read as a person writes them, not in ISO 8601
    assert "generated 1 Dec 2026, 10:00 UTC" in html and "2026-12-01T10:00" not in html
    assert "Started 1 Dec 2026, 09:59 UTC" in html and "2026-12-01T09:59" not in html
    for figure in ("Fleet utilization", "Job utilization", "Effective training time", "TCO per GPU-hour",
                   "Cost per useful exaFLOP", "Facility power", "Incremental NPV", "Break-even lease rate",
                   "Probability that leasing wins", "What would change the decision", "Why utilization is low"):
        assert figure in html, figure
    assert f'href="colossus1/01_executive_summary.html"' in html and 'href="manifest.json"' in html
    assert 'href="colossus1/30_power.ipynb"' in html  # the build record, in the footer
    assert html.index("<footer>") > html.index("Reports by scenario") > html.index("side by side")
    # no raw floats, code names or NaN in the text a reader sees
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>|data:image/png;base64,[^\"]+", "", html, flags=re.S))
    assert not re.search(r"\d\.\d{5,}", text) and "NaN" not in text and "True" not in text
    assert "npv_lease_minus_keep" not in text and "p_lease_beats_keep" not in text


def test_why_sentences_are_generated_from_the_results(colossus1):
    d = colossus1.to_dict()
    sentences = brief.why_utilization_is_low("colossus1", d)
    assert len(sentences) == 3
    assert f"{100 * d['utilization']['value']:.1f}%" in sentences[0]
    assert f"{100 * d['goodput']['effective_training_time']:.0f}%" in sentences[2]
    changed = dict(d, goodput=dict(d["goodput"], effective_training_time=0.123))
    assert "12%" in brief.why_utilization_is_low("colossus1", changed)[2]


def test_missing_figures_read_na_and_never_crash():
    partial = FakeResult({"scenario": "bare", "title": "A bare result", "utilization": {"value": 0.1}})
    html = brief.render_index(_records(["bare"]), _manifest(["bare"]), results={"bare": partial})
    assert "n/a" in html and "10.0%" in html and "no lease-versus-keep figures" in html
    # a scenario whose results cannot be computed is listed with the reason
    html = brief.render_index(_records(["nope"]), _manifest(["nope"]), quick=True)
    assert "could not be computed" in html and "nope/01_executive_summary.html" in html
    # the fleet figure appears when the results hold it
    fleet = FakeResult({"scenario": "f", "fleet": {"utilization": 0.071, "utilization_p05": 0.05, "utilization_p95": 0.09}})
    html = brief.render_index([], _manifest(["f"]), results={"f": fleet})
    assert "<b>7.1%</b>" in html and "(5.0% to 9.0%)" in html


def test_failed_reports_and_user_strings_are_escaped():
    records = _records([EVIL_NAME])
    records[0].update(status="FAILED", html=None, error=f"RuntimeError: {EVIL_TITLE}")
    result = FakeResult({"scenario": EVIL_NAME, "title": EVIL_TITLE, "utilization": {"value": 0.1, "factors": {}},
                         "economics": {"npv_lease_minus_keep_usd": 1e9}})
    html = brief.render_index(records, _manifest([EVIL_NAME], {EVIL_NAME: EVIL_TITLE}), results={EVIL_NAME: result})
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "FAILED" in html
    page = _Page()
    page.feed(html)
    assert page.scripts == 0 and page.images == []


def test_figures_table_has_bands_and_units(colossus1):
    d = colossus1.to_dict()
    table = exports.figures_table(colossus1)
    assert list(table.columns) == ["scenario", "figure", "value", "p05", "p95", "unit", "report", "key"]
    row = table.set_index("key").loc["utilization.value"]
    assert row.value == pytest.approx(100 * d["utilization"]["value"], rel=1e-5)
    assert row.p05 == pytest.approx(100 * d["utilization"]["p05"], rel=1e-5) and row.unit == "% of BF16 dense peak"
    be = table.set_index("key").loc["economics.break_even_lease_usd_per_gpu_hour"]
    assert be.p05 <= be.value <= be.p95 and be.unit == "$ per GPU-hour"
    assert table["unit"].notna().all() and table["value"].notna().all()
    irr = table.set_index("key").loc["economics.irr.lease"]
    assert irr.unit == "% per year" and irr.value == pytest.approx(100 * d["economics"]["irr"]["lease"], rel=1e-5)
    # the fleet MFU on both peaks and the cluster's TCO and cost per useful exaFLOP carry their bands
    keyed = table.set_index("key")
    fleet = keyed.loc["fleet.value_bf16_dense"]
    assert fleet.value == pytest.approx(100 * d["fleet"]["value_bf16_dense"], rel=1e-5) and fleet.unit == "% of BF16 dense peak"
    assert fleet.p05 == pytest.approx(100 * d["fleet"]["p05"], rel=1e-5) and fleet.p95 > fleet.value
    assert keyed.loc["fleet.value_fp8_dense"].p95 == pytest.approx(100 * d["fleet"]["fp8_p95"], rel=1e-5)
    for key in ("tco_blend_usd_per_gpu_hour", "usd_per_useful_exaflop"):
        row = keyed.loc[key]
        assert row.p05 == pytest.approx(d[f"{key}_p05"], rel=1e-5) and row.p05 < row.value < row.p95
    assert "tco_usd_per_gpu_hour.blend" not in keyed.index     # the blend appears once, with its band


def test_cash_flow_table_sums_to_the_npv(colossus1):
    import numpy as np

    from analysis import economics

    flows = exports.cash_flow_table(colossus1)
    options = colossus1.details["options"]
    assert flows["month"].tolist() == list(range(options.horizon_months + 1))
    assert all(c.endswith("(USD)") for c in flows.columns[2:])
    for option in ("keep", "lease", "islands"):
        npv = float(economics.npv_usd(flows[f"{option}: net (USD)"].to_numpy(), options.discount_rate_annual))
        assert npv == pytest.approx(options.npv_usd[option], rel=1e-9)
    assert not (np.signbit(flows.select_dtypes("number").to_numpy()) & (flows.select_dtypes("number").to_numpy() == 0)).any()
    assert exports.cash_flow_table(FakeResult({})).columns.tolist() == ["month", "period"]


def test_write_exports_and_pdf(colossus1, tmp_path):
    written = exports.write_exports(colossus1, tmp_path / "colossus1")
    assert {p.name for p in (tmp_path / "colossus1").iterdir()} == {"figures.csv", "cashflows.csv"}
    assert written["figures.csv"].read_text().startswith("scenario,figure,value,p05,p95,unit")
    index = tmp_path / "index.html"
    index.write_text(brief.render_index(_records(["colossus1"]), _manifest(["colossus1"]), results={"colossus1": colossus1}))
    ok = exports.brief_pdf(index, tmp_path / "brief.pdf")
    if exports.chromium_path() is None:
        assert ok is False and not (tmp_path / "brief.pdf").exists()
        pytest.skip("no chromium installed: the PDF is skipped (the runner notes it)")
    assert ok and (tmp_path / "brief.pdf").read_bytes()[:5] == b"%PDF-"


def test_pdf_uses_the_started_printer_and_falls_back_to_the_command_line(monkeypatch, tmp_path):
    calls = []

    class Printer:
        def __init__(self, works):
            self.works = works

        def print_pdf(self, src, dst, timeout_s):
            calls.append("printer")
            if self.works:
                Path(dst).write_bytes(b"%PDF-1.4 printer")
            return self.works

    def command_line(args, tmp, timeout_s):
        calls.append("command line")
        tmp.write_bytes(b"%PDF-1.4 command line")
        return True

    monkeypatch.setattr(exports, "chromium_path", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(exports, "_print_pdf", command_line)
    index = tmp_path / "index.html"
    index.write_text("<html></html>")
    assert exports.brief_pdf(index, tmp_path / "a.pdf", printer=Printer(True))
    assert calls == ["printer"] and (tmp_path / "a.pdf").read_bytes().endswith(b"printer")
    calls.clear()
    assert exports.brief_pdf(index, tmp_path / "b.pdf", printer=Printer(False))
    assert calls == ["printer", "command line"] and (tmp_path / "b.pdf").read_bytes().endswith(b"command line")
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_started_printer_prints_the_page_as_a4(tmp_path):
    from analysis.report.pdf_printer import PdfPrinter

    browser = exports.chromium_path()
    if browser is None:
        pytest.skip("no chromium installed")
    index = tmp_path / "index.html"
    index.write_text("<html><head><style>@page { size: A4; margin: 14mm; }</style></head><body><h1>Brief</h1></body></html>")
    printer = PdfPrinter(browser)
    try:
        assert exports.brief_pdf(index, tmp_path / "brief.pdf", printer=printer)
        pdf = (tmp_path / "brief.pdf").read_bytes()
        assert pdf[:5] == b"%PDF-" and re.search(rb"/MediaBox\s*\[0 0 59[45]\.\d+ 84[12]\.\d+\]", pdf)   # A4 in points
    finally:
        printer.close()
    assert printer.print_pdf(index, tmp_path / "again.pdf") is False        # closed: the caller falls back


def test_reads_the_keys_other_modules_add():
    """fleet (value_bf16_dense with bands), economics (options, labels, incremental NPVs with
    quantiles, flip thresholds): shown when present, in the side-by-side table and the boxes."""
    d = {"scenario": "x", "title": "X as planned",
         "utilization": {"value": 0.2, "p05": 0.1, "p95": 0.3, "denominator": "bf16 dense", "observed": 0.11,
                         "factor_groups": {"stragglers": 0.9, "failures and checkpoints": 0.5},
                         "factors": {"goodput: restart": 0.5, "straggler tail": 0.9}},
         "fleet": {"fleet": "xAI", "value_bf16_dense": 0.095, "p05": 0.06, "p95": 0.13, "share_at_or_below_observed": 0.7},
         "economics": {"options": ["keep", "lease", "islands"], "base": "keep",
                       "option_labels": {"keep": "keep", "lease": "lease to Anthropic", "islands": "islands"},
                       "incremental_npv_usd": {"keep": 0.0, "lease": 2.5e9, "islands": -1e8},
                       "incremental_npv_usd_quantiles": {"lease": {"p05": 1e9, "p95": 4e9}},
                       "npv_lease_minus_keep_usd": 2.5e9, "break_even_lease_usd_per_gpu_hour": 1.9,
                       "lease_usd_per_gpu_hour": 2.6, "p_lease_beats_keep": 0.93,
                       "flip_thresholds": {"utilization.keep": {"current": 0.09, "flip_value": 0.31, "unit": "fraction",
                                                                "within_sourced_range": False},
                                           "economics.lease_usd_per_month_s1": {"current": 1.25e9, "flip_value": 0.9e9,
                                                                                "unit": "USD/month", "within_sourced_range": True}}}}
    html = brief.render_index(_records(["x"]), _manifest(["x"]), results={"x": FakeResult(d)})
    assert "<b>9.5%</b>" in html and "(6.0% to 13.0%)" in html                      # fleet utilization
    assert "Incremental NPV: lease to Anthropic" in html and "(5-95%: $1.00B to $4.00B)" not in html
    assert "$2.50B" in html and "($1.00B to $4.00B)" in html and "-$100M" in html
    assert "31.0%" in html and "$900M/month" in html and "inside its sourced range" in html
    assert "70% quantile of the fleet draws" in html and "failures and checkpoints" in html
    table = exports.figures_table(FakeResult(d)).set_index("key")
    assert table.loc["economics.incremental_npv_usd.lease", "p95"] == 4e9


def test_scenarios_are_named_by_their_titles_not_their_ids():
    d = {"scenario": "c1-x", "title": "Colossus 1 as operated (one synchronous job, uniform split)",
         "utilization": {"value": 0.2, "p05": 0.1, "p95": 0.3, "denominator": "bf16 dense"}}
    html = brief.comparison_table({"c1-x": d})
    assert '<th scope="col">Colossus 1 as operated</th>' in html and ">c1-x<" not in html
    assert '<td class="detail">one synchronous job, uniform split</td>' in html
    assert "% of BF16 dense peak" in html and "bf16" not in html
    links = brief._report_links("c1-x", [], {"title": d["title"]})
    assert "<h3>Colossus 1 as operated</h3>" in links and "one synchronous job, uniform split" in links
    assert brief._scenario_detail("No parenthesis") == "No parenthesis"
    assert brief._scenario_label("plain-id", {}) == "plain-id"


def test_decision_chart_marks_the_market_rent_band_of_the_leased_gpus(colossus1):
    from analysis import economics

    low, _, high = economics.market_rent_band(colossus1.details["options"])
    assert brief.market_band(colossus1) == pytest.approx((low, high)) and 0 < low < high
    brief._CHART_MEMO.clear()
    html = brief.decision_chart_html({"colossus1": colossus1}, {"colossus1": "colossus1"})
    assert f"the market-rent band is {F.usd(low)} to {F.usd(high)} per GPU-hour" in html
    assert brief.market_band(FakeResult({})) is None
    # the curve bends down where the lessee's exit comes sooner; the caption says where and why
    curves, s1 = brief.decision_curves({"colossus1": colossus1})
    npv = curves["colossus1"]["npv_lease_minus_keep_busd"].to_numpy()
    peak = curves["colossus1"]["lease_usd_per_gpu_hour"].iloc[npv.argmax()]
    assert 0 < npv.argmax() < len(npv) - 1
    assert f"leasing is worth most near {F.usd_per_gpu_hour(peak)}: a dearer lease is left sooner" in html
    be = colossus1.to_dict()["economics"]["break_even_lease_usd_per_gpu_hour"]
    assert "for 1 scenario;" in html and f"the line crosses zero (break-even) at {F.usd_per_gpu_hour(be)}" in html


def test_curve_peak_clause_only_for_an_interior_peak():
    rates = [0.0, 1.0, 2.0, 3.0]
    bent = {"a": pd.DataFrame({"lease_usd_per_gpu_hour": rates, "npv_lease_minus_keep_busd": [-1.0, 2.0, 3.0, 2.5]})}
    rising = {"a": pd.DataFrame({"lease_usd_per_gpu_hour": rates, "npv_lease_minus_keep_busd": [-1.0, 0.0, 1.0, 2.0]})}
    clause = brief.curve_peak_clause(bent, 2.5)
    assert clause.startswith(f"; leasing is worth most near {F.usd_per_gpu_hour(2.0)}:")
    assert clause.endswith("the S-1 rate lies past the peak")
    assert "past the peak" not in brief.curve_peak_clause(bent, 1.5)
    assert brief.curve_peak_clause(rising, 2.5) == ""
