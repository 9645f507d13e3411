"""Open the index and every report in headless Chromium from disk: images render, no request
leaves the machine, no console error. Skipped only when no browser is installed."""
import shutil
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("no chromium installed (CI installs Debian's chromium)", allow_module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.mark.slow
@pytest.mark.browser
def test_reports_render_offline_in_chromium(executed):
    out, results = executed
    pages = [out / "index.html"] + [out / r.href for r in results.values() if r.status == "ok"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for path in pages:
                page = browser.new_page()
                remote, errors = [], []
                page.on("request", lambda req: remote.append(req.url) if not req.url.startswith(("file:", "data:", "about:")) else None)
                page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(path.as_uri(), wait_until="load")
                broken = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length")
                assert not remote, f"{path.name}: requests left the machine: {remote[:3]}"
                assert not errors, f"{path.name}: console errors: {errors[:3]}"
                assert broken == 0, f"{path.name}: {broken} image(s) did not render"
                if path.name == "index.html":
                    assert page.locator("a").count() >= len(results)
                else:
                    assert page.locator(".jp-CodeCell .jp-InputArea").count() == 0
                page.close()
        finally:
            browser.close()
