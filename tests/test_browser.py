"""Open the index and every report in headless Chromium from disk, at desktop (1280 px) and phone
(420 px) width: no horizontal page overflow (wide tables scroll in their own box), every image
renders (at phone width at its drawn size, scrolling in its box), no request leaves the machine, no console error. Skipped only when no browser is
installed (Debian's chromium at /usr/bin/chromium; never `playwright install`)."""
import shutil
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("no chromium installed (apt-get install chromium)", allow_module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WIDTHS = (1280, 420)
OVERFLOW_JS = "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"
BROKEN_IMAGES_JS = "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt || i.src.slice(0, 40))"
# At phone width a chart keeps its drawn size and scrolls in its own box: scaled to the screen, a 1,100 px chart's
# 10 pt labels would shrink to a third (the index's decision chart did, its phone rule losing to a more specific one).
SHRUNK_CHARTS_JS = ("imgs => imgs.filter(i => i.naturalWidth > 0 && i.getBoundingClientRect().width < 0.98 * i.naturalWidth)"
                    ".map(i => `${Math.round(i.getBoundingClientRect().width)} of ${i.naturalWidth} px: ${(i.alt || '').slice(0, 40)}`)")


def check_pages(paths, index_links: int = 0):
    problems = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for path in paths:
                for width in WIDTHS:
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    remote, errors = [], []
                    page.on("request", lambda req: remote.append(req.url)
                            if not req.url.startswith(("file:", "data:", "about:")) else None)
                    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.goto(path.as_uri(), wait_until="load")
                    where = f"{path.parent.name}/{path.name} at {width} px"
                    overflow = page.evaluate(OVERFLOW_JS)
                    broken = page.eval_on_selector_all("img", BROKEN_IMAGES_JS)
                    no_alt = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !i.alt).length")
                    if overflow > 1:
                        problems.append(f"{where}: page scrolls sideways by {overflow} px")
                    if remote:
                        problems.append(f"{where}: requests left the machine: {remote[:3]}")
                    if errors:
                        problems.append(f"{where}: console errors: {errors[:3]}")
                    if broken:
                        problems.append(f"{where}: images did not render: {broken[:3]}")
                    if no_alt:
                        problems.append(f"{where}: {no_alt} image(s) without alt text")
                    shrunk = page.eval_on_selector_all("figure img, .jp-OutputArea img", SHRUNK_CHARTS_JS) if width < 600 else []
                    if shrunk:
                        problems.append(f"{where}: charts scaled below their drawn size (labels under 10 pt): {shrunk[:3]}")
                    if path.name == "index.html":
                        if page.locator("a").count() < index_links:
                            problems.append(f"{where}: fewer links than reports")
                    elif page.locator(".jp-CodeCell .jp-InputArea").count():
                        problems.append(f"{where}: code is shown")
                    page.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


@pytest.mark.browser
def test_brief_renders_at_both_widths(tmp_path):
    from analysis.report import brief
    from analysis.results import scenario_results

    names = ["colossus1", "colossus1-aware", "colossus2"]
    results = {n: scenario_results(n, quick=True) for n in names}
    records = [{"scenario": n, "notebook": f"{s}.ipynb", "status": "ok" if s != "30_power" else "FAILED", "seconds": 2.0,
                "html": f"{s}.html" if s != "30_power" else None, "ipynb": f"{s}.ipynb",
                "error": "RuntimeError: a long error message " * 5 if s == "30_power" else None,
                "title": f"A report title {s}"} for n in names for s in ("01_executive_summary", "30_power")]
    manifest = {"scenarios": {n: {"argument": n, "hash": "0123456789abcdef", "title": results[n].title} for n in names},
                "commit": "0123456789abcdef0123456789abcdef01234567+dirty", "generated_utc": "2026-12-01T10:00:00+00:00",
                "packages": {"numpy": "2.4.6", "pandas": "3.1.1"}}
    index = tmp_path / "index.html"
    index.write_text(brief.render_index(records, manifest, results=results))
    check_pages([index], index_links=len(records) // 2)


@pytest.mark.slow
@pytest.mark.browser
def test_reports_render_offline_in_chromium(executed):
    out, results = executed
    pages = [out / "index.html"] + [out / r.href for r in results.values() if r.status == "ok"]
    check_pages(pages, index_links=len(results))
