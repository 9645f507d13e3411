"""The batch runner: failures are isolated, marked, and never look like finished reports."""
import os
from pathlib import Path

import nbformat
import pytest

from analysis import reports
from analysis.errors import InputError


def _notebook(path: Path, body: str, title: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('scenario = "colossus1"\nquick = False')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n## Section one"), params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


@pytest.mark.slow
def test_failing_notebook_is_marked_and_others_still_run(tmp_path, monkeypatch):
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    # the kernel also reports its BLAS thread setting: one per kernel while the batch runs, the caller's after
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    _notebook(notebooks / "a_good.ipynb", "import os\nfrom analysis import notebook as nbk\n"
              "nbk.record({'answer': 42, 'blas_threads': os.environ.get('OPENBLAS_NUM_THREADS')})", "Good")
    _notebook(notebooks / "b_bad.ipynb", "raise RuntimeError('boom')", "Bad")
    out = tmp_path / "out"
    # a stale success from an earlier run must not survive a failure now
    (out / "colossus1").mkdir(parents=True)
    (out / "colossus1" / "b_bad.html").write_text("old")
    (out / "colossus1" / ".a_good.partial.ipynb").write_text("interrupted")
    lines = []
    results = reports.run_reports(["colossus1"], out_dir=out, jobs=1, notebook_dir=notebooks,
                                  echo=lambda *a, **k: lines.append(" ".join(map(str, a))))
    status = {Path(r.notebook).stem: r for r in results}
    assert status["a_good"].status == "ok" and status["a_good"].metrics == {"answer": 42, "blas_threads": "1"}
    assert "OPENBLAS_NUM_THREADS" not in os.environ, "the batch restores the caller's environment"
    assert status["b_bad"].status == "FAILED" and "RuntimeError: boom" in status["b_bad"].error
    produced = {p.name for p in (out / "colossus1").iterdir()}
    assert produced == {"a_good.html", "a_good.ipynb", "b_bad.failed.ipynb", "figures.csv", "cashflows.csv"}
    index = (out / "index.html").read_text()
    assert "FAILED" in index and "RuntimeError: boom" in index and "colossus1/a_good.html" in index
    assert any("[1/2]" in line for line in lines) and any("[2/2]" in line and "0 left" in line for line in lines)


def test_unknown_notebook_and_scenario_fail_before_running(tmp_path):
    with pytest.raises(InputError, match="unknown notebook 'zz'"):
        reports.run_reports(["colossus1"], out_dir=tmp_path, notebooks=["zz"])
    with pytest.raises(InputError, match="unknown scenario 'nope'"):
        reports.run_reports(["nope"], out_dir=tmp_path)
    assert not any(tmp_path.iterdir()), "nothing written for a run that could not start"
