"""A headless Chromium kept ready to print the board brief, so its start-up overlaps the batch.

``chromium --print-to-pdf`` starts a browser for each PDF: about 2 s here, at the very end of a
batch, after the last report. :class:`PdfPrinter` starts ``python -m analysis.report.pdf_printer``
when the batch starts; that process launches Debian's Chromium through playwright (never
``playwright install``) and waits. Each request is one JSON line on its stdin (``{"src": HTML
path, "dst": PDF path}``), answered by one JSON line on its stdout (``{"ok": true}`` or ``{"ok":
false, "error": ...}``); end of input closes the browser. The page is printed as
``--print-to-pdf`` prints it: the page's own ``@page`` size (A4) and margins, no header or footer,
tagged (the structure a screen reader needs).

Anything that goes wrong (no playwright, the browser does not start, a print fails or hangs) makes
:meth:`PdfPrinter.print_pdf` return False, and the caller prints with the command line instead.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


class PdfPrinter:
    """The client side: start the printing process now, print with it later."""

    def __init__(self, browser: str):
        from analysis.kernels import die_with_parent

        self._lock = threading.Lock()
        try:
            self._proc = subprocess.Popen([sys.executable, "-m", "analysis.report.pdf_printer", browser],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          text=True, bufsize=1, preexec_fn=die_with_parent)
        except OSError:
            self._proc = None

    def print_pdf(self, src: Path | str, dst: Path | str, timeout_s: float = 60.0) -> bool:
        """Print ``src`` (an HTML file) to ``dst``; False when the printer cannot (the caller falls back)."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return False
        answer: list[str] = []
        with self._lock:
            try:
                proc.stdin.write(json.dumps({"src": str(Path(src).resolve()), "dst": str(Path(dst).resolve())}) + "\n")
                proc.stdin.flush()
            except (OSError, ValueError):
                return False
            reader = threading.Thread(target=lambda: answer.append(proc.stdout.readline()), daemon=True)
            reader.start()
            reader.join(timeout_s)
        if reader.is_alive() or not answer:     # hung: stop it, the caller prints the usual way
            self.close()
            return False
        try:
            return bool(json.loads(answer[0]).get("ok"))
        except ValueError:
            return False

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


def serve(browser: str) -> None:
    """The printing process: launch ``browser`` headless, print each request, exit at end of input."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=browser, args=BROWSER_ARGS, headless=True)
        try:
            for line in sys.stdin:
                try:
                    request = json.loads(line)
                    page = chromium.new_page()
                    try:
                        page.goto(Path(request["src"]).as_uri(), wait_until="load")
                        page.pdf(path=request["dst"], prefer_css_page_size=True, print_background=False, tagged=True)
                    finally:
                        page.close()
                    reply = {"ok": True}
                except Exception as exc:  # noqa: BLE001 - one failed print is an answer, not a crash
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
                sys.stdout.write(json.dumps(reply) + "\n")
                sys.stdout.flush()
        finally:
            chromium.close()


if __name__ == "__main__":
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    serve(sys.argv[1])
