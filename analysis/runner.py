"""Batch execution: every notebook x every scenario -> executed .ipynb + offline HTML + index.

``python -m analysis reports [--scenario NAME_OR_FILE ...] [--jobs N] [--out DIR] [--timeout S]``

How a batch runs (see also :mod:`analysis.kernels` and :mod:`analysis.results`):

1. Scenarios, notebooks and ``--out`` are validated before anything runs (bad input is one
   :class:`~analysis.errors.InputError` line, exit 2). Every output path must resolve inside
   ``--out``.
2. A kernel farm starts: one zygote process imports numpy/pandas/matplotlib/IPython/analysis
   once and forks a warm child that evaluates each scenario once
   (:func:`analysis.results.write_cache` into ``DIR/.cache/results``, exported to kernels as
   ``CLUSTER_ECONOMICS_RESULTS_CACHE``) and warms the model caches. Kernels are forked from it,
   so a kernel starts in milliseconds with the scenario's results already in memory.
3. Notebooks run through papermill in at most ``--jobs`` worker processes (longest first, from
   the run times in the previous manifest). Notebook metadata ``cluster_economics.scope``:
   ``"scenario"`` (default) runs once per scenario into ``DIR/<scenario>/``; ``"batch"`` runs once
   per batch with the notebook's own parameters into ``DIR/``; ``"lab"`` is never run here.
4. A notebook fails (status FAILED with the reason; the batch goes on; exit code 1) when a cell
   raises, a cell exceeds ``--timeout``, the kernel dies, or any cell writes to stderr (warnings
   included). A failed notebook is kept as ``<notebook>.failed.ipynb``.
5. Each finished report is moved into place by the runner and the manifest and index are
   rewritten at once (atomically, under a lock, merged with what other runs left in ``DIR``,
   listing only reports whose files exist). An interrupted batch therefore never shows a report
   that is not there. Ctrl-C or SIGTERM stops the workers and their kernels.
6. After a scenario's notebooks, ``DIR/<scenario>/figures.csv`` and ``cashflows.csv`` are written
   from the scenario's cached results (:mod:`analysis.report.exports`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from analysis.errors import InputError, shown
from analysis.paths import DATA_DIR, NOTEBOOK_DIR, PROJ_ROOT, REPORT_DIR, SCENARIO_DIR, TEMPLATE_DIR

# jsonschema (imported by nbformat) compiles about 40 lark grammars at import when the optional
# rfc3987-syntax package is installed (a jupyter-events dependency): 2 s of CPU in every process that
# reads or writes a notebook. It backs only the "iri"/"iri-reference" format checks, which the
# notebook schema does not use and nbformat does not enable, so the runner's processes go without it.
sys.modules.setdefault("rfc3987_syntax", None)

PACKAGES = ("numpy", "pandas", "matplotlib", "seaborn", "statsmodels", "numpy-financial", "papermill",
            "nbconvert", "nbformat", "ipykernel", "jupyter_client", "pyyaml")
SCOPES = ("scenario", "batch", "lab")
CACHE_SUBDIR = Path(".cache") / "results"
#: Thread counts of the BLAS / OpenMP libraries in the batch's kernels (unless the caller set them): the batch
#: already runs a process per core (the workers' kernels and the warming farm), so BLAS's own threads only
#: oversubscribe the cores. Measured here (2 cores): the 18 least-squares fits of the Sobol/SRC comparison took
#: 6.0 s in the farm with OpenBLAS's default threads and 0.37 s with one thread (0.25 s alone in a process).
BLAS_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PARTIAL = ".partial"


@dataclass
class ReportJob:
    scenario: str            # scenario name (the output folder); "" for a batch-scope notebook
    scenario_arg: str | None  # what the notebook's `scenario` parameter receives (None: the notebook's default)
    notebook: str            # notebook file name
    out_dir: str
    timeout_s: float
    extra_parameters: dict = field(default_factory=dict)
    notebook_dir: str = str(NOTEBOOK_DIR)
    scope: str = "scenario"
    run_id: int = field(default_factory=os.getpid)   # the runner's pid: temporary names of concurrent runs differ

    @property
    def folder(self) -> Path:
        return Path(self.out_dir) / self.scenario if self.scenario else Path(self.out_dir)


@dataclass
class ReportResult:
    scenario: str            # "" for a batch-scope notebook
    notebook: str
    status: str              # "ok" | "FAILED"
    seconds: float
    html: str | None = None  # file name inside the report's folder
    ipynb: str | None = None
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    title: str = ""
    scope: str = "scenario"
    href: str | None = None        # HTML path relative to --out (what an index links)
    ipynb_href: str | None = None  # executed notebook relative to --out (.failed.ipynb when FAILED)
    kernel_cpu_s: float | None = None  # CPU seconds of the notebook's kernel (forked kernels only)
    kernel_pid: int | None = None


# --------------------------------------------------------------------------- discovery
def notebook_scope(path: Path) -> str:
    """``cluster_economics.scope`` of a notebook's metadata (default ``"scenario"``)."""
    import nbformat

    scope = nbformat.read(path, as_version=4).metadata.get("cluster_economics", {}).get("scope", "scenario")
    if scope not in SCOPES:
        raise InputError(f"{path.name}: metadata cluster_economics.scope is {shown(scope)}; allowed: {', '.join(SCOPES)}")
    return scope


def reads_all_scenarios(path: Path) -> bool:
    """``cluster_economics.reads_all_scenarios`` of a notebook's metadata: the notebook compares
    every scenario's results, so in a batch it waits until all of them are computed (it would
    otherwise compute the others' again in its own kernel)."""
    import nbformat

    return bool(nbformat.read(path, as_version=4).metadata.get("cluster_economics", {}).get("reads_all_scenarios", False))


def list_notebooks(selected: list[str] | None = None, notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Notebooks in ``notebooks/`` (sorted); ``selected`` filters by file name or stem."""
    notebooks = sorted(Path(notebook_dir).glob("*.ipynb"))
    if not selected:
        return notebooks
    by_name = {p.name: p for p in notebooks} | {p.stem: p for p in notebooks}
    missing = [s for s in selected if s not in by_name]
    if missing:
        raise InputError(f"--notebook: unknown notebook {shown(missing[0])}; known notebooks are {', '.join(p.stem for p in notebooks)}")
    return sorted({by_name[s] for s in selected})


def resolve_scenarios(selected: list[str] | None) -> list[tuple[str, str]]:
    """``[(name, notebook argument)]``, each validated now so a bad one fails before any run."""
    from analysis.scenario import load_scenario, scenario_names

    out = []
    for item in selected or scenario_names():
        sc = load_scenario(item)
        in_catalog = sc.path is not None and sc.path.resolve() == (SCENARIO_DIR / f"{sc.name}.yaml").resolve()
        out.append((sc.name, sc.name if in_catalog else str(Path(item).resolve())))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise InputError(f"--scenario: two scenarios share the name {shown(max(names, key=names.count))}; names must be unique")
    return out


def safe_folder(out: Path, name: str) -> Path:
    """``out / name`` when it is one folder directly inside ``out``; else an InputError."""
    text = str(name)
    bad = (not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text or text.startswith(".")
           or Path(text).is_absolute())
    target = (out / text).resolve() if not bad else None
    if bad or target.parent != out.resolve():
        raise InputError(f"scenario name {shown(text[:80])}: its reports would be written outside --out {str(out)[:120]}; "
                         "use letters, digits, '-' and '_'")
    return target


def check_out_dir(out: Path) -> Path:
    """Create ``--out`` if needed; a file, an unwritable or uncreatable folder is one InputError line."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise InputError(f"--out: cannot write to {out} ({exc.strerror or type(exc).__name__})") from None
    return out


# --------------------------------------------------------------------------- HTML export
_FOCUSABLE = re.compile(r'<div class="([^"]*\b(?:jp-OutputArea-output|jp-Cell-inputWrapper)\b[^"]*)"(?! tabindex)')


def _base64_text(text: str) -> str:
    """A text output (an SVG chart) as base64, for a ``data:`` URI."""
    import base64

    return base64.b64encode(str(text).encode("utf-8")).decode("ascii")


@lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class OfflineExporter(HTMLExporter):
        """nbconvert's HTML exporter without its BeautifulSoup pass (most of a report's export
        time) and without re-validating the notebook after each preprocessor: the offline
        template writes every image's alt text itself, and the outputs are made focusable
        (``tabindex="0"``, as nbconvert does) by one regular expression."""

        def _validate_preprocessor(self, nbc, preprocessor):
            """No check after each preprocessor (twelve schema validations a report): papermill
            validated the notebook when it wrote it, and the enabled preprocessors only remove
            cells, outputs or tags."""

        def from_notebook_node(self, nb, resources=None, **kw):
            lexer = nb.metadata.get("language_info", {}).get("pygments_lexer")
            self.register_filter("highlight_code", self.filters.get("highlight_code",
                                                                    Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("base64_text", _base64_text)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                           parent=self, resources=resources))
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _FOCUSABLE.sub(r'<div class="\1" tabindex="0"', html), resources

    return OfflineExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATE_DIR)],
                           exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)


def export_html(nb, title: str, scenario: str) -> str:
    """Self-contained HTML: no code, images inline, TOC, nothing loaded from the network."""
    from analysis.report.format import utc_time
    resources = {"metadata": {"name": title}, "report_scenario": scenario,
                 "report_generated": utc_time(dt.datetime.now(dt.timezone.utc).isoformat())}
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    return body


def notebook_title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


_write_atomic = write_atomic


# --------------------------------------------------------------------------- one notebook
def noise(nb) -> str | None:
    """Why an executed notebook is noisy (stderr output, e.g. a warning), or ``None``."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = "".join(output.get("text", "")).strip()
                first = next((line.strip() for line in text.splitlines() if "Warning" in line), None) \
                    or (text.splitlines() or [""])[0].strip()
                return f"stderr output in code cell {number} (a warning or log line; fix its cause): {first[:300]}"
    return None


def _error_text(exc: BaseException) -> str:
    name = getattr(exc, "ename", None) or type(exc).__name__
    value = getattr(exc, "evalue", None) or str(exc)
    if name == "CellTimeoutError" or "timed out" in value.lower():
        value = f"a cell ran longer than the --timeout ({value.splitlines()[0] if value else ''})"
    if name == "DeadKernelError" or "Kernel died" in value:
        from analysis.kernels import LAST_KERNEL_LOG, log_tail

        tail = log_tail(LAST_KERNEL_LOG[0])
        value = f"the kernel died (out of memory or killed?){': ' + tail if tail else ''} ({value})"
    return " ".join(f"{name}: {value}".split())[:500]


ENGINE = "cluster-economics"


@contextlib.contextmanager
def _outputs_unchecked():
    """nbformat checks every output the kernel sends against its JSON schema as it builds it (a
    sixth of the runner's CPU per report). The outputs come from ipykernel, and the executed
    notebook is still checked as a whole when papermill writes it."""
    from nbformat.v4 import nbbase

    checked = nbbase.validate
    nbbase.validate = lambda node, ref=None: None
    try:
        yield
    finally:
        nbbase.validate = checked


def _engine() -> str:
    """A papermill engine: nbclient as papermill's own, but the executed notebook is written once,
    by papermill when the run ends (not at the start, twice per cell and again at the end: ~0.4 s
    CPU per report); when the run fails (a timeout, a dead kernel) the engine writes what ran."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    if ENGINE in papermill_engines._engines:
        return ENGINE

    class Manager(NotebookExecutionManager):
        failed = False

        def save(self, **kwargs):
            if self.failed and self.output_path:
                super().save(**kwargs)
            self.last_save_time = self.now()

    class Engine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                             autosave_cell_every=30, **kwargs):
            nb_man = Manager(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                             autosave_cell_every=autosave_cell_every)
            with _outputs_unchecked():
                nb_man.notebook_start()
                try:
                    cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
                except BaseException:
                    nb_man.failed = True
                    raise
                finally:
                    nb_man.cleanup_pbar()
                    nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register(ENGINE, Engine)
    return ENGINE


def _tmp_paths(job: ReportJob) -> tuple[Path, Path]:
    stem = Path(job.notebook).stem
    return (job.folder / f".{stem}.{job.run_id}{PARTIAL}.ipynb", job.folder / f".{stem}.{job.run_id}{PARTIAL}.html")


def _leftovers(out: Path) -> list[Path]:
    """Temporary files of runs that are no longer running (an interrupted run's; not a concurrent one's)."""
    import re

    from analysis.kernels import _alive

    found = []
    for path in [*out.glob(f".*{PARTIAL}*"), *out.glob(f"*/.*{PARTIAL}*")]:
        match = re.search(r"\.(\d+)" + re.escape(PARTIAL), path.name)
        if match and int(match.group(1)) != os.getpid() and _alive(int(match.group(1))):
            continue
        found.append(path)
    return found


def run_one(job: ReportJob) -> ReportResult:
    """Execute one notebook; write it (and its HTML when clean) under temporary names in its
    folder. Never raises: errors become FAILED results. :func:`commit` moves files into place."""
    import nbformat
    import papermill as pm

    from analysis.kernels import LAST_KERNEL_PID, FarmKernelManager
    from analysis.notebook import read_metrics
    from analysis.scenario import scenario_label

    started = time.perf_counter()
    job.folder.mkdir(parents=True, exist_ok=True)
    stem = Path(job.notebook).stem
    tmp_ipynb, tmp_html = _tmp_paths(job)
    parameters = dict(job.extra_parameters)
    if job.scenario_arg is not None:
        parameters["scenario"] = job.scenario_arg
    error, nb = None, None
    try:
        nb = pm.execute_notebook(str(Path(job.notebook_dir) / job.notebook), str(tmp_ipynb), parameters=parameters,
                                 kernel_name="python3", cwd=job.notebook_dir, progress_bar=False, engine_name=_engine(),
                                 execution_timeout=job.timeout_s, start_timeout=120, kernel_manager_class=FarmKernelManager,
                                 # every output has arrived when the last cell ends: stop the kernel
                                 # at once, not after jupyter_client's 0.1 s polls for a clean exit
                                 shutdown_kernel="immediate")
    except BaseException as exc:  # noqa: BLE001 - any failure is reported, the batch goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = _error_text(exc)
    title = stem
    if error is None:
        try:
            nb = nb if nb is not None else nbformat.read(tmp_ipynb, as_version=4)
            title = notebook_title(nb, stem)
            error = noise(nb)
            if error is None:
                named = scenario_label(job.scenario_arg or job.scenario) if job.scenario else "all scenarios"
                label = f"{title} — {named}" if job.scenario else title
                tmp_html.write_text(export_html(nb, label, named), encoding="utf-8")
                return ReportResult(job.scenario, job.notebook, "ok", time.perf_counter() - started,
                                    metrics=read_metrics(nb), title=title, scope=job.scope, kernel_pid=LAST_KERNEL_PID[0])
        except Exception as exc:  # noqa: BLE001
            error = f"HTML export: {type(exc).__name__}: {exc}"[:500]
    tmp_html.unlink(missing_ok=True)
    return ReportResult(job.scenario, job.notebook, "FAILED", time.perf_counter() - started, error=error,
                        title=title, scope=job.scope, kernel_pid=LAST_KERNEL_PID[0])


def commit(job: ReportJob, result: ReportResult) -> ReportResult:
    """Move a finished report into place (runner side): a success replaces the old report, a
    failure removes it and keeps the executed notebook as ``<stem>.failed.ipynb``."""
    stem = Path(job.notebook).stem
    tmp_ipynb, tmp_html = _tmp_paths(job)
    final_ipynb, final_html, failed = job.folder / f"{stem}.ipynb", job.folder / f"{stem}.html", job.folder / f"{stem}.failed.ipynb"
    prefix = f"{job.scenario}/" if job.scenario else ""
    if result.status == "ok" and tmp_html.exists() and tmp_ipynb.exists():
        os.replace(tmp_ipynb, final_ipynb)
        os.replace(tmp_html, final_html)
        failed.unlink(missing_ok=True)
        result.html, result.ipynb = final_html.name, final_ipynb.name
        result.href, result.ipynb_href = prefix + final_html.name, prefix + final_ipynb.name
        return result
    if result.status == "ok":
        result.status, result.error = "FAILED", "the executed notebook is missing"
    final_html.unlink(missing_ok=True)
    final_ipynb.unlink(missing_ok=True)
    tmp_html.unlink(missing_ok=True)
    if tmp_ipynb.exists():
        os.replace(tmp_ipynb, failed)
    else:
        failed.unlink(missing_ok=True)
    result.html = result.href = None
    result.ipynb = failed.name if failed.exists() else None
    result.ipynb_href = prefix + result.ipynb if result.ipynb else None
    return result


def precompute(scenario_arg: str, quick: bool, cache_dir: str) -> str:
    """Executor task (when no kernel farm runs): evaluate one scenario into the disk cache."""
    from analysis import results

    return str(results.write_cache(scenario_arg, quick, cache_dir=cache_dir))


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
    """A manifest of this run alone (what :class:`Batch` merges into ``DIR/manifest.json``)."""
    from analysis.scenario import load_scenario

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


def render_index(records: list[dict], manifest: dict, available_only: bool = False) -> str:
    """The index page: the board brief (:func:`analysis.report.brief.render_index`).
    ``available_only``: the brief compares only the scenarios whose results are already computed
    (in this process or the results cache): an interim index during a batch never evaluates a
    scenario in the runner itself (the kernel farm does that once)."""
    from analysis.report.brief import render_index as render
    if not available_only:
        return render(records, manifest)
    from analysis import results

    quick = bool(manifest.get("quick"))
    have = {}
    for name, info in (manifest.get("scenarios") or {}).items():
        with contextlib.suppress(Exception):
            hit = results.cached_results((info or {}).get("argument") or name, quick)
            if hit is not None:
                have[name] = hit
    # the decision chart compares every scenario: an interim index draws it once all are computed
    complete = len(have) == len(manifest.get("scenarios") or {})
    return render(records, manifest, results=have, quick=quick, chart=complete)


def _present(out: Path, record: dict) -> bool:
    folder = out / record["scenario"] if record.get("scenario") else out
    if record.get("status") == "ok":
        return bool(record.get("html")) and (folder / record["html"]).is_file()
    return True  # a FAILED record links no report; it is replaced when the report runs again


def _locked(out: Path):
    """The batch's manifest lock (``out/.manifest.lock``): required, since two writers would corrupt it."""
    from analysis.locks import exclusive_lock

    return exclusive_lock(out / ".manifest.lock")


def read_manifest(out: Path) -> dict:
    try:
        manifest = json.loads((Path(out) / "manifest.json").read_text())
        return manifest if isinstance(manifest, dict) else {}
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- executor
def _preimport() -> None:
    """Import what every worker needs before the workers are forked, so they inherit it (each
    would otherwise import papermill, nbclient and nbconvert and compile the HTML template on its
    own: about 2 s of CPU)."""
    import nbformat
    import papermill  # noqa: F401

    _engine()
    with contextlib.suppress(Exception):
        export_html(nbformat.v4.new_notebook(), "warm-up", "")


def _worker_init() -> None:
    import logging

    from analysis.kernels import die_with_parent

    for name in ("papermill", "traitlets", "nbclient"):   # the runner reports failures itself, on one line
        logging.getLogger(name).setLevel(logging.CRITICAL)

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the runner handles Ctrl-C and stops the workers
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(signal.SIGTERM)


def _executor(jobs: int, scheduler=None) -> Executor:
    """Where notebooks run: ``jobs`` local worker processes, or the workers of a running
    ``dask.distributed`` scheduler (``tcp://HOST:PORT`` or a ``Client``) through its
    ``concurrent.futures`` executor. Dask workers start kernels the ordinary way (no warm farm)
    and write into ``--out``, which they must therefore see (same machine or a shared file system)."""
    import multiprocessing

    if scheduler is not None:
        from analysis.sweep import connect
        client = connect(scheduler) if isinstance(scheduler, str) else scheduler
        return client.get_executor(pure=False)
    context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    if context is not None:
        _preimport()
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_init)


def _stop_executor(pool: Executor) -> None:
    """Cancel queued work and stop running workers now (their kernels die with them)."""
    processes = list(getattr(pool, "_processes", None) or {}).copy()
    processes = [pool._processes[p] for p in processes] if processes else []
    try:
        pool.shutdown(wait=False, cancel_futures=True)
    except TypeError:   # an executor without cancel_futures (e.g. a Dask client's)
        pool.shutdown(wait=False)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(3)
            if proc.is_alive():
                proc.kill()


class _Terminated(KeyboardInterrupt):
    pass


def _raise_terminated(signum, frame):
    raise _Terminated()


# --------------------------------------------------------------------------- batch
INTERIM_INDEX_S = 5.0     # at most this often the index is rewritten while reports run


class Batch:
    """One run of the runner: its jobs, the merged manifest and index it keeps current."""

    def __init__(self, out: Path, scenarios: list[tuple[str, str]], work: list[ReportJob], echo):
        self.out, self.scenarios, self.work, self.echo = out, scenarios, work, echo
        self.started_utc = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.t0 = time.perf_counter()
        self.results: list[ReportResult] = []
        self.exports: dict[str, list[str]] = {}
        self.base = build_manifest([], scenarios, self.started_utc)
        self.cpu0 = _cpu_seconds()
        self.warm: dict = {}
        self.cpu_s: float | None = None
        self.quick = bool(work[0].extra_parameters.get("quick", False)) if work else False
        self.printer = None     # a browser started early prints the brief at the end (report.pdf_printer)
        self.last_write = 0.0

    def start_printer(self) -> None:
        from analysis.report import exports
        from analysis.report.pdf_printer import PdfPrinter

        browser = exports.chromium_path()
        if browser is not None:
            self.printer = PdfPrinter(browser)

    def stop_printer(self) -> None:
        if self.printer is not None:
            self.printer.close()
            self.printer = None

    def write_interim(self, force: bool = False) -> None:
        """The index while the batch runs: rewritten when a scenario finishes or a report fails, else at
        most every :data:`INTERIM_INDEX_S` seconds (each rewrite renders the brief again: ~50 ms of the
        runner's CPU, some forty times a batch). The final :meth:`write` lists everything."""
        now = time.perf_counter()
        if force or now - self.last_write >= INTERIM_INDEX_S:
            self.write()

    def write(self, final: bool = False) -> None:
        """Merge this run's results into ``DIR/manifest.json`` and rewrite it and the index."""
        self.last_write = time.perf_counter()
        with _locked(self.out):
            old = read_manifest(self.out)
            mine = {(r.scenario, r.notebook): asdict(r) for r in self.results}
            merged = {(r.get("scenario", ""), r.get("notebook")): r for r in old.get("reports", [])
                      if isinstance(r, dict) and "notebook" in r}
            merged.update(mine)
            records = [r for r in merged.values() if _present(self.out, r)]
            records.sort(key=lambda r: (r.get("scenario") != "", r.get("scenario", ""), r.get("notebook", "")))
            names = {r.get("scenario") for r in records} | {n for n, _ in self.scenarios}
            scenarios = {k: v for k, v in {**old.get("scenarios", {}), **self.base["scenarios"]}.items() if k in names}
            exports = {k: v for k, v in {**old.get("exports", {}), **self.exports}.items()
                       if all((self.out / k / f).is_file() for f in v)}
            manifest = {**self.base, "generated_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                        "scenarios": scenarios, "reports": records, "exports": exports,
                        "batch": {"started_utc": self.started_utc, "reports": len(self.work),
                                  "finished": len(self.results), "seconds": round(time.perf_counter() - self.t0, 1),
                                  "complete": final}}
            if self.warm:
                manifest["batch"]["kernel_farm"] = self.warm
            if self.cpu_s is not None:
                manifest["batch"]["cpu_seconds"] = round(self.cpu_s, 1)
            if final:
                manifest["last_batch_seconds"] = round(time.perf_counter() - self.t0, 1)
            elif "last_batch_seconds" in old:
                manifest["last_batch_seconds"] = old["last_batch_seconds"]
            manifest["quick"] = self.quick
            write_atomic(self.out / "manifest.json", json.dumps(manifest, indent=2, default=str))
            write_atomic(self.out / "index.html", render_index(records, manifest, available_only=not final))
            if final and self._brief_pdf():
                manifest["brief_pdf"] = True   # the footer links it
                write_atomic(self.out / "manifest.json", json.dumps(manifest, indent=2, default=str))
                write_atomic(self.out / "index.html", render_index(records, manifest))

    def _brief_pdf(self) -> bool:
        """``DIR/brief.pdf`` of the board brief through headless Chromium, when it is installed."""
        from analysis.report import exports
        if exports.brief_pdf(self.out / "index.html", self.out / "brief.pdf", printer=self.printer):
            return True
        self.echo("brief.pdf skipped: no headless Chromium (apt-get install chromium)", flush=True)
        return False

    def export(self, name: str, arg: str, quick: bool) -> None:
        """``figures.csv`` and ``cashflows.csv`` of one scenario, from its (cached) results."""
        from analysis import results
        from analysis.report import exports

        try:
            result = results.scenario_results(arg, quick)
            folder = safe_folder(self.out, name)
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / "figures.csv", exports.figures_table(result).to_csv(index=False))
            write_atomic(folder / "cashflows.csv", exports.cash_flow_table(result).to_csv(index=False))
            self.exports[name] = ["figures.csv", "cashflows.csv"]
        except Exception as exc:  # noqa: BLE001 - a failed export is reported, the reports stay
            self.echo(f"{name}: exports FAILED - {type(exc).__name__}: {exc}"[:300], flush=True)


def _expected_seconds(out: Path) -> dict[tuple[str, str], float]:
    """Run times from the previous manifest (longest jobs go first)."""
    seen: dict[tuple[str, str], float] = {}
    by_notebook: dict[str, list[float]] = {}
    for r in read_manifest(out).get("reports", []):
        if isinstance(r, dict) and isinstance(r.get("seconds"), (int, float)):
            seen[(r.get("scenario", ""), r.get("notebook", ""))] = float(r["seconds"])
            by_notebook.setdefault(r.get("notebook", ""), []).append(float(r["seconds"]))
    for notebook, times in by_notebook.items():
        seen[("*", notebook)] = sum(times) / len(times)
    return seen


def run_reports(scenarios: list[str] | None = None, out_dir: str | Path | None = None, jobs: int | None = None,
                notebooks: list[str] | None = None, timeout_s: float = 900, extra_parameters: dict | None = None,
                notebook_dir: Path = NOTEBOOK_DIR, echo=print, farm: bool = True, scheduler=None) -> list[ReportResult]:
    """Run every notebook for every scenario; the results (scenario x notebook order, batch
    notebooks first). ``farm=False`` starts every kernel cold (no fork, no pre-warming);
    ``scheduler`` sends the notebooks to a running Dask scheduler instead of local processes."""
    farm = farm and scheduler is None
    out = Path(out_dir) if out_dir else REPORT_DIR
    resolved = resolve_scenarios(scenarios)
    paths = list_notebooks(notebooks, notebook_dir)
    if not paths:
        raise InputError(f"notebooks: no .ipynb found in {notebook_dir}")
    scopes = {p.name: notebook_scope(p) for p in paths}
    waits_for_all = {p.name for p in paths if reads_all_scenarios(p)}
    for name, _ in resolved:
        safe_folder(out, name)
    check_out_dir(out)
    extra = dict(extra_parameters or {})
    work = [ReportJob("", None, p.name, str(out), timeout_s, extra, str(notebook_dir), "batch")
            for p in paths if scopes[p.name] == "batch"]
    work += [ReportJob(name, arg, p.name, str(out), timeout_s, extra, str(notebook_dir))
             for name, arg in resolved for p in paths if scopes[p.name] == "scenario"]
    for leftover in _leftovers(out):  # from an interrupted run
        with contextlib.suppress(OSError):
            leftover.unlink()
    quick = bool(extra.get("quick", False))
    cache_dir = out / CACHE_SUBDIR
    cache_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs or os.cpu_count() or 1, max(1, len(work))))
    skipped = [p.stem for p in paths if scopes[p.name] == "lab"]
    echo(f"running {len(work)} reports ({sum(s == 'scenario' for s in scopes.values())} notebooks x {len(resolved)} scenarios"
         f" + {sum(s == 'batch' for s in scopes.values())} once per batch{'; lab only: ' + ', '.join(skipped) if skipped else ''})"
         f" with {jobs} worker(s) into {out}", flush=True)

    from analysis import results as _results
    saved_cache_env = os.environ.get(_results.CACHE_ENV)
    os.environ[_results.CACHE_ENV] = str(cache_dir)   # the interim index reads cached results, never computes them
    batch = Batch(out, resolved, work, echo)
    batch.write()
    expected = _expected_seconds(out)
    order = {(j.scenario, j.notebook): i for i, j in enumerate(work)}
    queue = sorted(work, key=lambda j: -expected.get((j.scenario, j.notebook), expected.get(("*", j.notebook), 1e6)))
    left = {name: sum(j.scenario == name for j in work) for name, _ in resolved}
    args = dict(resolved)

    saved_env = {k: os.environ.get(k) for k in ("CLUSTER_ECONOMICS_RESULTS_CACHE", "CLUSTER_ECONOMICS_KERNEL_FARM",
                                                 *BLAS_THREAD_ENV)}
    saved_env["CLUSTER_ECONOMICS_RESULTS_CACHE"] = saved_cache_env
    from analysis import kernels, results

    os.environ[results.CACHE_ENV] = str(cache_dir)
    for key in BLAS_THREAD_ENV:        # read when a kernel or the farm imports numpy (both start after this)
        os.environ.setdefault(key, "1")
    farm_dir = Path(tempfile.mkdtemp(prefix="ce-farm-"))
    kernel_farm = None
    warm: set[str] = set()
    pre_futures: dict = {}
    old_term = signal.signal(signal.SIGTERM, _raise_terminated) if _main_thread() else None
    pool = None
    try:
        if farm and sys.platform.startswith("linux") and work:
            kernel_farm = kernels.Farm(farm_dir, [a for _, a in resolved], quick, cache_dir)
            os.environ[kernels.FARM_ENV] = str(farm_dir)
        pool = _executor(jobs, scheduler)
        batch.start_printer()
        if kernel_farm is None:
            pre_futures = {pool.submit(precompute, arg, quick, str(cache_dir)): name for name, arg in resolved}
        running: dict = {}
        farm_state = "pending" if kernel_farm else "none"

        farm_ready: set[str] = set()

        def ready(job: ReportJob) -> bool:
            if job.scope == "batch":
                return True
            if kernel_farm is not None:
                if job.notebook in waits_for_all and len(resolved) > 1:
                    return farm_state != "pending"
                return farm_state != "pending" or job.scenario_arg in farm_ready
            return job.scenario in warm

        while queue or running or pre_futures:
            if kernel_farm is not None and farm_state == "pending":
                now_ready = kernel_farm.ready()
                if now_ready - farm_ready and len(resolved) > 1:
                    echo(f"kernel farm: {', '.join(sorted(now_ready - farm_ready))} warm after "
                         f"{time.perf_counter() - batch.t0:.1f} s", flush=True)
                farm_ready = now_ready
                farm_state = kernel_farm.state()
                if farm_state != "pending":
                    report = kernel_farm.warm_report()
                    batch.warm = {"ready_after_s": round(time.perf_counter() - batch.t0, 1), "scenarios": report}
                    echo(f"kernel farm {'ready' if farm_state == 'warm' else 'FAILED (kernels start cold)'} after "
                         f"{time.perf_counter() - batch.t0:.1f} s"
                         + "".join(f"; {k}: {v.get('error')}" for k, v in report.items() if v.get("error")), flush=True)
            # The warming farm does not take a worker's place: with it beside ``jobs`` workers the cores
            # stay busy while a worker starts a kernel or exports a report (measured ~2 s faster here).
            busy = len(running) + len(pre_futures)
            while queue and busy < jobs:
                job = next((j for j in queue if ready(j)), None)
                if job is None:
                    break
                queue.remove(job)
                running[pool.submit(run_one, job)] = job
                busy += 1
            waiting = list(running) + list(pre_futures)
            if not waiting:
                time.sleep(0.05)
                continue
            done, _ = wait(waiting, timeout=0.1 if farm_state == "pending" or not running else None,
                           return_when=FIRST_COMPLETED)
            for future in done:
                if future in pre_futures:
                    name = pre_futures.pop(future)
                    warm.add(name)
                    if future.exception() is not None:
                        echo(f"{name}: results could not be precomputed ({future.exception()}); notebooks compute them", flush=True)
                    continue
                job = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died is a FAILED report, not a crash
                    result = ReportResult(job.scenario, job.notebook, "FAILED", 0.0, error=f"worker: {type(exc).__name__}: {exc}"[:500],
                                          scope=job.scope)
                result = commit(job, result)
                if kernel_farm is not None and result.kernel_pid:
                    result.kernel_cpu_s = kernels.kernel_cpu_seconds(farm_dir).get(result.kernel_pid)
                batch.results.append(result)
                tail = f" - {result.error}" if result.error else ""
                label = f"{job.scenario} / {Path(job.notebook).stem}" if job.scenario else f"(batch) {Path(job.notebook).stem}"
                echo(f"[{len(batch.results)}/{len(work)}] {label}: {result.status} ({result.seconds:.1f} s"
                     + (f", kernel CPU {result.kernel_cpu_s:.1f} s" if result.kernel_cpu_s is not None else "") + "; "
                     f"{len(work) - len(batch.results)} left){tail}", flush=True)
                finished_scenario = False
                if job.scenario:
                    left[job.scenario] -= 1
                    if left[job.scenario] == 0:
                        batch.export(job.scenario, args[job.scenario], quick)
                        finished_scenario = True
                batch.write_interim(force=finished_scenario or result.status != "ok")
    except KeyboardInterrupt:
        if pool is not None:
            _stop_executor(pool)
            pool = None
        echo(f"interrupted after {len(batch.results)} of {len(work)} reports; index lists only finished reports", flush=True)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        if kernel_farm is not None:
            kernel_farm.stop()
            cpu = kernels.kernel_cpu_seconds(farm_dir)   # kernels reaped after their report was committed
            for result in batch.results:
                if result.kernel_cpu_s is None and result.kernel_pid in cpu:
                    result.kernel_cpu_s = cpu[result.kernel_pid]
        shutil.rmtree(farm_dir, ignore_errors=True)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        batch.cpu_s = _cpu_seconds() - batch.cpu0
        with contextlib.suppress(Exception):
            batch.write(final=len(batch.results) == len(work))
        batch.stop_printer()
    batch.results.sort(key=lambda r: order.get((r.scenario, r.notebook), len(order)))
    failed = [r for r in batch.results if r.status != "ok"]
    seconds = time.perf_counter() - batch.t0
    echo(f"{len(batch.results) - len(failed)} ok, {len(failed)} failed; batch time {seconds:.1f} s "
         f"(CPU {batch.cpu_s:.0f} s on {os.cpu_count()} cores); index: {out / 'index.html'}", flush=True)
    return batch.results


def _cpu_seconds() -> float:
    """CPU seconds of this process and every finished child (workers, zygotes and their kernels)."""
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                   resource.getrusage(resource.RUSAGE_CHILDREN)))


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
