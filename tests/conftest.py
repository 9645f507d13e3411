"""Shared fixtures. Notebook execution runs once per session (quick parameters)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SMOKE_SCENARIO = "colossus1"


@pytest.fixture
def tmp_data(tmp_path):
    """A writable copy location for broken data files."""
    return tmp_path


def run_cli(*args, timeout=600):
    """Run ``python -m analysis ...`` in a subprocess; returns CompletedProcess."""
    import subprocess
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([PYTHON, "-m", "analysis", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Run every notebook through the production runner once (quick parameters, 2 workers)."""
    from analysis import reports

    out = tmp_path_factory.mktemp("reports")
    results = reports.run_reports([SMOKE_SCENARIO], out_dir=out, jobs=2, extra_parameters={"quick": True},
                                  timeout_s=600, echo=lambda *a, **k: None)
    return out, {Path(r.notebook).stem: r for r in results}
