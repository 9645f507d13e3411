"""The report runner's public names (``python -m analysis reports``); the code is in
:mod:`analysis.runner` (execution), :mod:`analysis.kernels` (warm kernels),
:mod:`analysis.results` (one set of figures per scenario) and :mod:`analysis.report.brief` (the index).
"""
from __future__ import annotations

from analysis.report.brief import START_HERE
from analysis.runner import (PACKAGES, ReportJob, ReportResult, build_manifest, commit, export_html, list_notebooks,
                             notebook_scope, notebook_title, render_index, resolve_scenarios, run_one, run_reports)

__all__ = ["PACKAGES", "START_HERE", "ReportJob", "ReportResult", "build_manifest", "commit", "export_html",
           "list_notebooks", "notebook_scope", "notebook_title", "render_index", "resolve_scenarios", "run_one",
           "run_reports"]
