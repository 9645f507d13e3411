"""The runner's robustness: noise, timeouts and dead kernels fail one report and the batch goes on;
outputs stay inside --out; the index and manifest are merged, current and never list a missing
report; workers and kernels stop with the runner; one set of results per scenario on disk."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from analysis import reports, results, runner
from analysis.errors import InputError
from conftest import PYTHON, ROOT, run_cli


def _notebook(path: Path, body: str, title: str = "T", scope: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if scope:
        nb.metadata["cluster_economics"] = {"scope": scope}
    params = nbformat.v4.new_code_cell('scenario = "colossus1"\nquick = False')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n## Section"), params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def _quiet(*_args, **_kwargs):
    return None


# --------------------------------------------------------------------------- execution failures
@pytest.mark.slow
def test_noise_timeout_and_dead_kernel_fail_their_report_and_the_batch_goes_on(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "a_good.ipynb", "from analysis import notebook as nbk\nnbk.record({'scenario': scenario})")
    _notebook(nbs / "b_warning.ipynb", "import warnings\nwarnings.warn('careful: this is noise')")
    _notebook(nbs / "c_stderr.ipynb", "import sys\nprint('a log line', file=sys.stderr)")
    _notebook(nbs / "d_dead.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    _notebook(nbs / "e_slow.ipynb", "import time\ntime.sleep(60)")
    _notebook(nbs / "f_batch.ipynb", "from analysis import notebook as nbk\nnbk.record({'ran_with': scenario})", scope="batch")
    _notebook(nbs / "g_lab.ipynb", "raise RuntimeError('never run by the batch')", scope="lab")
    out = tmp_path / "out"
    started = time.perf_counter()
    got = reports.run_reports(["colossus1"], out_dir=out, jobs=2, notebook_dir=nbs, timeout_s=4, echo=_quiet,
                              extra_parameters={"quick": True})
    assert time.perf_counter() - started < 240, "a dead kernel or a sleeping cell must not hang the batch"
    by = {Path(r.notebook).stem: r for r in got}
    assert set(by) == {"a_good", "b_warning", "c_stderr", "d_dead", "e_slow", "f_batch"}, "lab notebooks never run"
    assert by["a_good"].status == "ok" and by["a_good"].metrics == {"scenario": "colossus1"}
    assert by["b_warning"].status == "FAILED" and "UserWarning: careful: this is noise" in by["b_warning"].error
    assert by["c_stderr"].status == "FAILED" and "stderr" in by["c_stderr"].error and "a log line" in by["c_stderr"].error
    assert by["d_dead"].status == "FAILED" and "DeadKernelError" in by["d_dead"].error
    assert by["e_slow"].status == "FAILED" and "timeout" in by["e_slow"].error.lower()
    # a batch-scope notebook runs once with its own parameters, into --out itself
    assert by["f_batch"].status == "ok" and by["f_batch"].scenario == "" and by["f_batch"].href == "f_batch.html"
    assert (out / "f_batch.html").is_file() and not (out / "colossus1" / "f_batch.html").exists()
    folder = {p.name for p in (out / "colossus1").iterdir()}
    assert {"a_good.html", "a_good.ipynb", "b_warning.failed.ipynb", "figures.csv", "cashflows.csv"} <= folder
    # a run cut short (timeout, dead kernel) still leaves what ran, for the reader of the failure
    assert {"d_dead.failed.ipynb", "e_slow.failed.ipynb"} <= folder
    for path in (out / "colossus1").glob("*.ipynb"):
        nbformat.validate(nbformat.read(path, as_version=4))   # outputs are not checked one by one while running
    assert not {"b_warning.html", "c_stderr.html", "d_dead.html", "e_slow.html"} & folder
    index = (out / "index.html").read_text()
    assert index.count("FAILED") >= 4 and "colossus1/a_good.html" in index and "f_batch.html" in index
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["batch"]["complete"] and manifest["last_batch_seconds"] > 0
    assert not list(out.rglob(f"*{runner.PARTIAL}*")), "no temporary files left"


def test_noise_reads_stderr_streams():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x")]
    assert runner.noise(nb) is None
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="fine\n")]
    assert runner.noise(nb) is None
    nb.cells[0].outputs.append(nbformat.v4.new_output("stream", name="stderr", text="/x.py:3: RuntimeWarning: boom\n  y\n"))
    assert "code cell 1" in runner.noise(nb) and "RuntimeWarning: boom" in runner.noise(nb)


# --------------------------------------------------------------------------- paths
@pytest.mark.parametrize("name", ["../../x", "..", ".", "/abs/path", "a/b", ".hidden", ""])
def test_output_folder_must_stay_inside_out(tmp_path, name):
    with pytest.raises(InputError, match="outside --out"):
        runner.safe_folder(tmp_path, name)


def test_output_folder_ok_and_symlink_escape_refused(tmp_path):
    assert runner.safe_folder(tmp_path, "colossus1") == (tmp_path / "colossus1").resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "evil").symlink_to(elsewhere)
    with pytest.raises(InputError, match="outside --out"):
        runner.safe_folder(out, "evil")


def test_scenario_named_to_escape_is_refused_before_anything_runs(tmp_path):
    from analysis.paths import SCENARIO_DIR

    text = (SCENARIO_DIR / "colossus1.yaml").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("name:")]
    bad = tmp_path / "evil.yaml"
    bad.write_text("name: ../../escaped\n" + "\n".join(lines) + "\n")
    out = tmp_path / "deep" / "out"
    with pytest.raises(InputError):
        reports.run_reports([str(bad)], out_dir=out, echo=_quiet)
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
    assert not out.exists(), "nothing written for a run that could not start"


def test_out_that_is_a_file_or_unusable_is_one_line(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        runner.check_out_dir(target)
    with pytest.raises(InputError, match="cannot write"):
        runner.check_out_dir(target / "sub")


@pytest.mark.slow
def test_cli_out_is_a_file_exit_2(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    proc = run_cli("reports", "--out", target, "--notebook", "00_cluster_overview", "--scenario", "colossus1")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "is a file" in proc.stderr, proc.stderr


# --------------------------------------------------------------------------- index and manifest
def _fake_report(out: Path, scenario: str, stem: str) -> runner.ReportResult:
    folder = out / scenario if scenario else out
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.html").write_text("<html></html>")
    (folder / f"{stem}.ipynb").write_text("{}")
    prefix = f"{scenario}/" if scenario else ""
    return runner.ReportResult(scenario, f"{stem}.ipynb", "ok", 1.0, f"{stem}.html", f"{stem}.ipynb",
                               href=f"{prefix}{stem}.html", ipynb_href=f"{prefix}{stem}.ipynb")


def test_manifest_merges_runs_and_lists_only_reports_that_exist(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    first = runner.Batch(out, [("colossus1", "colossus1")], [], _quiet)
    first.results = [_fake_report(out, "colossus1", "a"), _fake_report(out, "colossus1", "b")]
    first.write(final=True)
    second = runner.Batch(out, [("llama3-16k", "llama3-16k")], [], _quiet)
    second.results = [_fake_report(out, "llama3-16k", "a")]
    second.write()
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {(r["scenario"], r["notebook"]) for r in manifest["reports"]}
    assert listed == {("colossus1", "a.ipynb"), ("colossus1", "b.ipynb"), ("llama3-16k", "a.ipynb")}
    assert set(manifest["scenarios"]) == {"colossus1", "llama3-16k"}
    # a report deleted meanwhile (an interrupted rerun, a user) is no longer listed
    (out / "colossus1" / "b.html").unlink()
    second.write()
    manifest = json.loads((out / "manifest.json").read_text())
    assert ("colossus1", "b.ipynb") not in {(r["scenario"], r["notebook"]) for r in manifest["reports"]}
    index = (out / "index.html").read_text()
    assert "colossus1/a.html" in index and "llama3-16k/a.html" in index and "colossus1/b.html" not in index
    assert not list(out.glob(f".*{runner.PARTIAL}")), "written atomically"


def test_commit_replaces_old_success_only_when_the_new_one_is_complete(tmp_path):
    out = tmp_path
    job = runner.ReportJob("colossus1", "colossus1", "a.ipynb", str(out), 10)
    old = _fake_report(out, "colossus1", "a")
    assert old.status == "ok"
    tmp_ipynb, _ = runner._tmp_paths(job)
    tmp_ipynb.write_text("{}")
    failed = runner.commit(job, runner.ReportResult("colossus1", "a.ipynb", "FAILED", 1.0, error="boom"))
    assert failed.ipynb == "a.failed.ipynb" and failed.ipynb_href == "colossus1/a.failed.ipynb" and failed.href is None
    assert {p.name for p in (out / "colossus1").iterdir()} == {"a.failed.ipynb"}


@pytest.mark.slow
def test_sigterm_stops_workers_and_kernels(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    marker = tmp_path / "pids"
    marker.mkdir()
    body = (f"import os, time\nopen(os.path.join({str(marker)!r}, str(os.getpid())), 'w').write(str(os.getppid()))\n"
            "time.sleep(300)")
    for name in ("a", "b", "c"):
        _notebook(nbs / f"{name}.ipynb", body)
    out = tmp_path / "out"
    code = (f"from analysis import reports\nreports.run_reports(['colossus1'], out_dir={str(out)!r}, jobs=2, "
            f"notebook_dir={str(nbs)!r}, timeout_s=600, extra_parameters={{'quick': True}})")
    proc = subprocess.Popen([PYTHON, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while len(list(marker.iterdir())) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        kernels = [int(p.name) for p in marker.iterdir()]
        assert len(kernels) == 2, "two kernels running"
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in kernels) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not any(_alive(pid) for pid in kernels), "kernels outlived the runner"
    finally:
        if proc.poll() is None:
            proc.kill()
    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["batch"]["complete"] and not manifest["reports"], "nothing finished, nothing listed"


def _alive(pid: int) -> bool:
    from analysis.kernels import _alive as alive

    return alive(pid)


# --------------------------------------------------------------------------- results cache
def test_results_cache_is_keyed_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv(results.CACHE_ENV, str(tmp_path))
    results._cached.cache_clear()
    path = results.write_cache("llama3-16k", quick=True)
    assert path.parent == tmp_path and path.name.startswith("llama3-16k-")
    assert results.cache_path("llama3-16k", quick=True) == path
    assert results.cache_path("llama3-16k", quick=False) != path, "draws are part of the key"
    assert results.cache_path("llama3-16k", quick=True, seed=1) != path, "the seed is part of the key"
    results._cached.cache_clear()
    got = results.scenario_results("llama3-16k", quick=True)
    assert got.scenario == "llama3-16k"
    assert got.to_dict() == results._evaluate("llama3-16k", results.QUICK_DRAWS, results.SEED).to_dict()
    path.write_bytes(b"not a pickle")   # a damaged entry is recomputed, never trusted
    results._cached.cache_clear()
    assert results.scenario_results("llama3-16k", quick=True).scenario == "llama3-16k"
    results._cached.cache_clear()


def test_results_without_cache_compute_in_process(monkeypatch):
    monkeypatch.delenv(results.CACHE_ENV, raising=False)
    assert results.cache_path("llama3-16k", quick=True) is None
    results._cached.cache_clear()
    first = results.scenario_results("llama3-16k", quick=True)
    assert results.scenario_results("llama3-16k", quick=True) is first, "one object per process"


# --------------------------------------------------------------------------- exports
@pytest.mark.slow
def test_executed_notebooks_are_valid_and_written_once_at_the_end(executed):
    out, _ = executed
    notebooks = sorted(out.rglob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["papermill"]["end_time"], path   # papermill's final write, not a partial one


def test_exports_written_per_scenario(executed):
    import pandas as pd

    out, _ = executed
    figures = pd.read_csv(out / "colossus1" / "figures.csv")
    assert {"figure", "value", "p05", "p95", "unit"} <= set(figures.columns) and len(figures) >= 5
    banded = figures.dropna(subset=["p05", "p95"])     # figures without a Monte Carlo band leave it empty
    assert len(banded) >= 5 and (banded["p05"] <= banded["p95"]).all()
    assert ((banded["p05"] <= banded["value"] + 1e-9) & (banded["value"] <= banded["p95"] + 1e-9)).all()
    flows = pd.read_csv(out / "colossus1" / "cashflows.csv")
    # one row per month, a column per option and component (USD) and each option's net
    assert "month" in flows.columns and {"keep: net (USD)", "lease: net (USD)"} <= set(flows.columns)
    assert flows["month"].is_monotonic_increasing and len(flows) == flows["month"].nunique()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exports"]["colossus1"] == ["figures.csv", "cashflows.csv"]


def test_bench_reads_the_last_batch_time(tmp_path):
    from analysis import bench

    assert bench.batch_seconds(tmp_path) is None
    (tmp_path / "manifest.json").write_text(json.dumps({"last_batch_seconds": 42.5, "batch": {"reports": 41}}))
    assert bench.batch_seconds(tmp_path) == 42.5


def test_executor_is_one_small_swappable_function():
    pool = runner._executor(1)
    try:
        assert pool.submit(os.getpid).result(timeout=60) != os.getpid()
    finally:
        pool.shutdown()



def test_leftovers_of_dead_runs_are_removed_but_not_a_concurrent_runs(tmp_path):
    (tmp_path / "s").mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = tmp_path / "s" / f".a.{dead.pid}{runner.PARTIAL}.ipynb"
    legacy = tmp_path / "s" / f".b{runner.PARTIAL}.ipynb"
    running = tmp_path / "s" / f".c.{os.getppid()}{runner.PARTIAL}.ipynb"   # pytest's parent: alive
    for path in (mine, legacy, running):
        path.write_text("x")
    assert set(runner._leftovers(tmp_path)) == {mine, legacy}


def test_only_the_cross_scenario_report_waits_for_every_scenario():
    """20_utilization compares all scenarios, so the batch starts it once all are computed."""
    from analysis import runner

    waiting = {p.stem for p in runner.list_notebooks() if runner.reads_all_scenarios(p)}
    assert waiting == {"20_utilization"}


def test_kernels_wait_for_a_starting_farm_but_not_for_a_failed_or_absent_one(tmp_path):
    import threading

    from analysis import kernels

    assert kernels.farm_socket(tmp_path, wait_s=5) is None            # no farm started here: no wait
    (tmp_path / "farm.log").write_text("")
    started = time.monotonic()
    timer = threading.Timer(0.3, lambda: (tmp_path / "base.sock").write_text(""))
    timer.start()
    assert kernels.farm_socket(tmp_path, wait_s=5) == tmp_path / "base.sock"
    assert 0.25 <= time.monotonic() - started < 5
    timer.join()
    (tmp_path / "base.sock").unlink()
    (tmp_path / "base.failed").write_text("ImportError: x")
    started = time.monotonic()
    assert kernels.farm_socket(tmp_path, wait_s=5) is None and time.monotonic() - started < 1
    (tmp_path / "base.failed").unlink()
    assert kernels.farm_socket(tmp_path, wait_s=0.2) is None           # still starting after the wait: start cold
