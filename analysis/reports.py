"""Batch runner: every notebook x every scenario -> executed .ipynb + offline HTML + index.

``python -m analysis reports [--scenario NAME_OR_FILE ...] [--jobs N] [--out DIR]``

* Scenarios are validated before anything runs (a bad one is an :class:`InputError`, exit 2).
* Each notebook runs through papermill with kernel ``python3``, ``cwd=notebooks/`` and a
  per-cell timeout, in at most ``--jobs`` worker processes (default: the core count).
* Outputs are written under a temporary name and renamed when complete, so an interrupted
  run never leaves a report that looks finished. A failed notebook keeps going for the
  others, is written as ``<notebook>.failed.ipynb``, shows FAILED in the index, and the
  command exits 1.
* ``DIR/index.html`` links every report with status, run time and headline numbers;
  ``DIR/manifest.json`` records scenario hashes, package versions, data file hashes and
  the git commit.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from analysis.errors import InputError
from analysis.paths import DATA_DIR, NOTEBOOK_DIR, PROJ_ROOT, REPORT_DIR, SCENARIO_DIR, TEMPLATE_DIR
from analysis.scenario import load_scenario, scenario_names

START_HERE = "01_executive_summary"   # linked first in the index, per scenario
PACKAGES = ("numpy", "pandas", "matplotlib", "seaborn", "statsmodels", "numpy-financial", "papermill",
            "nbconvert", "nbformat", "ipykernel", "pyyaml")


@dataclass
class ReportJob:
    scenario: str            # scenario name (the output folder)
    scenario_arg: str        # what the notebook's `scenario` parameter receives
    notebook: str            # notebook file name
    out_dir: str
    timeout_s: float
    extra_parameters: dict = field(default_factory=dict)
    notebook_dir: str = str(NOTEBOOK_DIR)


@dataclass
class ReportResult:
    scenario: str
    notebook: str
    status: str              # "ok" | "FAILED"
    seconds: float
    html: str | None = None
    ipynb: str | None = None
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    title: str = ""


# --------------------------------------------------------------------------- discovery
def list_notebooks(selected: list[str] | None = None, notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Notebooks in ``notebooks/`` (sorted); ``selected`` filters by file name or stem."""
    notebooks = sorted(Path(notebook_dir).glob("*.ipynb"))
    if not selected:
        return notebooks
    by_name = {p.name: p for p in notebooks} | {p.stem: p for p in notebooks}
    missing = [s for s in selected if s not in by_name]
    if missing:
        raise InputError(f"--notebook: unknown notebook {missing[0]!r}; known notebooks are {', '.join(p.stem for p in notebooks)}")
    return sorted({by_name[s] for s in selected})


def resolve_scenarios(selected: list[str] | None) -> list[tuple[str, str]]:
    """``[(name, notebook argument)]``, each validated now so a bad one fails before any run."""
    out = []
    for item in selected or scenario_names():
        sc = load_scenario(item)
        in_catalog = sc.path is not None and sc.path.resolve() == (SCENARIO_DIR / f"{sc.name}.yaml").resolve()
        out.append((sc.name, sc.name if in_catalog else str(Path(item).resolve())))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise InputError(f"--scenario: two scenarios share the name {max(names, key=names.count)!r}; names must be unique")
    return out


# --------------------------------------------------------------------------- HTML export
def export_html(nb, title: str, scenario: str) -> str:
    """Self-contained HTML: no code, images inline, TOC, nothing loaded from the network."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATE_DIR)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    resources = {"metadata": {"name": title}, "report_scenario": scenario,
                 "report_generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def notebook_title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- one notebook
def _quiet_kernel_manager():
    """A KernelManager that negotiates transport encryption, so ipykernel >= 7.3 does not print
    'Kernel is running over TCP without encryption' at every start (ipykernel PR #1515)."""
    from jupyter_client import KernelManager

    if "transport_encryption" not in KernelManager.class_traits():
        return KernelManager

    class QuietKernelManager(KernelManager):
        transport_encryption = "auto"

    return QuietKernelManager


def _is_kernel_start_error(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(s in text for s in ("Address already in use", "Kernel didn't respond", "DeadKernelError", "ZMQError"))


def run_one(job: ReportJob) -> ReportResult:
    """Execute one notebook for one scenario; never raises (errors become FAILED results)."""
    import nbformat
    import papermill as pm

    from analysis.notebook import read_metrics

    started = time.perf_counter()
    out_dir = Path(job.out_dir) / job.scenario
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(job.notebook).stem
    final_ipynb, final_html, failed_ipynb = out_dir / f"{stem}.ipynb", out_dir / f"{stem}.html", out_dir / f"{stem}.failed.ipynb"
    tmp_ipynb = out_dir / f".{stem}.partial.ipynb"
    for stale in (final_ipynb, final_html, failed_ipynb):  # a rerun never leaves an old success beside a new failure
        stale.unlink(missing_ok=True)
    parameters = {"scenario": job.scenario_arg, **job.extra_parameters}
    error = None
    for attempt in range(2):  # one retry on a kernel that failed to start (ZMQ port race)
        try:
            pm.execute_notebook(str(Path(job.notebook_dir) / job.notebook), str(tmp_ipynb), parameters=parameters,
                                kernel_name="python3", cwd=job.notebook_dir, progress_bar=False,
                                execution_timeout=job.timeout_s, start_timeout=120,
                                kernel_manager_class=_quiet_kernel_manager())
            error = None
            break
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the batch goes on
            error = exc
            if not (attempt == 0 and _is_kernel_start_error(exc)):
                break
    seconds = time.perf_counter() - started
    if error is not None:
        message = f"{getattr(error, 'ename', type(error).__name__)}: {getattr(error, 'evalue', str(error))}".strip()
        if tmp_ipynb.exists():
            os.replace(tmp_ipynb, failed_ipynb)
        return ReportResult(job.scenario, job.notebook, "FAILED", seconds, None,
                            failed_ipynb.name if failed_ipynb.exists() else None, " ".join(message.split())[:500])
    try:
        nb = nbformat.read(tmp_ipynb, as_version=4)
        body = export_html(nb, f"{notebook_title(nb, stem)} — {job.scenario}", job.scenario)
        _write_atomic(final_html, body)
        os.replace(tmp_ipynb, final_ipynb)
        metrics = read_metrics(nb)
        title = notebook_title(nb, stem)
    except Exception as exc:  # noqa: BLE001
        tmp_ipynb.unlink(missing_ok=True)
        final_html.unlink(missing_ok=True)
        return ReportResult(job.scenario, job.notebook, "FAILED", time.perf_counter() - started,
                            error=f"HTML export: {type(exc).__name__}: {exc}"[:500])
    return ReportResult(job.scenario, job.notebook, "ok", time.perf_counter() - started,
                        final_html.name, final_ipynb.name, None, metrics, title)


# --------------------------------------------------------------------------- manifest and index
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJ_ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJ_ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build_manifest(results: list[ReportResult], scenarios: list[tuple[str, str]], started: str) -> dict:
    return {
        "generated_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "started_utc": started,
        "commit": _git_commit(),
        "packages": _versions(),
        "scenarios": {name: {"argument": arg, "hash": sc.hash, "title": sc.title, "cluster": sc.cluster.id}
                      for name, arg in scenarios for sc in [load_scenario(arg)]},
        "data_files": {str(p.relative_to(PROJ_ROOT)): _sha256(p) for p in sorted(DATA_DIR.rglob("*")) if p.is_file()},
        "reports": [asdict(r) for r in results],
    }


def _compact(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:,.0f}" if magnitude >= 1e4 else f"{value:.3g}"


def _metric_text(metrics: dict, limit: int = 4) -> str:
    return "; ".join(f"{key} = {_compact(value)}" for key, value in list(metrics.items())[:limit])


def render_index(manifest: dict) -> str:
    """The index page: one table per scenario; no scripts, nothing remote."""
    esc = html.escape
    reports = manifest["reports"]
    failed = sum(r["status"] != "ok" for r in reports)
    sections = []
    for name, info in manifest["scenarios"].items():
        rows = []
        for r in (r for r in reports if r["scenario"] == name):
            label = esc(Path(r["notebook"]).stem) + (f'<br><span class="meta">{esc(r["title"])}</span>' if r.get("title") else "")
            link = f'<a href="{esc(name)}/{esc(r["html"])}">{label}</a>' if r["html"] else label
            nb_link = f' (<a href="{esc(name)}/{esc(r["ipynb"])}">ipynb</a>)' if r["ipynb"] else ""
            status = '<span class="ok">ok</span>' if r["status"] == "ok" else '<span class="failed">FAILED</span>'
            detail = esc(r["error"] or "") if r["status"] != "ok" else esc(_metric_text(r["metrics"]))
            rows.append(f"<tr><td>{link}{nb_link}</td><td>{status}</td><td>{r['seconds']:.1f} s</td><td>{detail}</td></tr>")
        sections.append(f'<h2 id="{esc(name)}">{esc(name)}</h2><p>{esc(info.get("title", ""))}</p>'
                        f'<p class="hash">cluster <code>{esc(info.get("cluster", ""))}</code>, scenario hash <code>{esc(info["hash"])}</code></p>'
                        f"<table><thead><tr><th>report</th><th>status</th><th>run time</th><th>headline / error</th></tr></thead>"
                        f"<tbody>{''.join(rows)}</tbody></table>")
    summary = f"{len(reports) - failed} of {len(reports)} reports ok" + (f", <span class='failed'>{failed} FAILED</span>" if failed else "")
    starts = [f'<li><a href="{esc(r["scenario"])}/{esc(r["html"])}">{esc(r["scenario"])}</a>: '
              f'{esc(manifest["scenarios"][r["scenario"]].get("title", ""))}</li>'
              for r in reports if r["html"] and Path(r["notebook"]).stem == START_HERE]
    start_here = f"<h2>Start here: the executive summary of each scenario</h2><ul>{''.join(starts)}</ul>" if starts else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Cluster economics reports</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5em; font-size: 0.92em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }}
.ok {{ color: #1b7f3b; font-weight: bold; }} .failed {{ color: #b00020; font-weight: bold; }}
.hash, .meta {{ color: #666; font-size: 0.85em; }}
</style></head><body>
<h1>Cluster economics reports</h1>
<p>{summary}. Generated {esc(manifest['generated_utc'])} from commit <code>{esc(str(manifest['commit']))}</code>.
Machine-readable manifest: <a href="manifest.json">manifest.json</a>.</p>
{start_here}
{''.join(sections)}
</body></html>
"""


# --------------------------------------------------------------------------- batch
def run_reports(scenarios: list[str] | None = None, out_dir: str | Path | None = None, jobs: int | None = None,
                notebooks: list[str] | None = None, timeout_s: float = 900, extra_parameters: dict | None = None,
                notebook_dir: Path = NOTEBOOK_DIR, echo=print) -> list[ReportResult]:
    """Run every notebook for every scenario; the results, in scenario x notebook order."""
    out = Path(out_dir) if out_dir else REPORT_DIR
    resolved = resolve_scenarios(scenarios)
    paths = list_notebooks(notebooks, notebook_dir)
    if not paths:
        raise InputError(f"notebooks: no .ipynb found in {notebook_dir}")
    out.mkdir(parents=True, exist_ok=True)
    for leftover in out.glob("*/.*.partial*"):  # from an earlier run that was interrupted
        leftover.unlink()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    work = [ReportJob(name, arg, p.name, str(out), timeout_s, dict(extra_parameters or {}), str(notebook_dir))
            for name, arg in resolved for p in paths]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    echo(f"running {len(work)} reports ({len(paths)} notebooks x {len(resolved)} scenarios) with {jobs} worker(s) into {out}")
    results: list[ReportResult] = []

    def progress(result: ReportResult) -> None:
        results.append(result)
        tail = f" - {result.error}" if result.error else ""
        echo(f"[{len(results)}/{len(work)}] {result.scenario} / {Path(result.notebook).stem}: {result.status} "
             f"({result.seconds:.1f} s; {len(work) - len(results)} left){tail}", flush=True)

    if jobs == 1:
        for job in work:
            progress(run_one(job))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for future in as_completed([pool.submit(run_one, job) for job in work]):
                progress(future.result())
    order = {(j.scenario, j.notebook): i for i, j in enumerate(work)}
    results.sort(key=lambda r: order[(r.scenario, r.notebook)])
    manifest = build_manifest(results, resolved, started)
    _write_atomic(out / "manifest.json", json.dumps(manifest, indent=2, default=str))
    from analysis.report.brief import render_index as render_brief  # the board brief (issue 13)
    _write_atomic(out / "index.html", render_brief(results, {**manifest, "quick": bool((extra_parameters or {}).get("quick"))}))
    failed = [r for r in results if r.status != "ok"]
    echo(f"{len(results) - len(failed)} ok, {len(failed)} failed; index: {out / 'index.html'}")
    return results
