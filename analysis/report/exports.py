"""Exports a board can take away: per scenario ``figures.csv`` and ``cashflows.csv``, and a PDF of the brief.

* :func:`figures_table` -- every headline figure of a scenario's ``EvaluateResult`` with its
  5-95% band and its unit (one row per figure; ``value``/``p05``/``p95`` are in ``unit``);
* :func:`cash_flow_table` -- monthly cash flows per option (USD, one column per option and
  component, plus the net of each option);
* :func:`write_exports` -- both as CSV into a scenario's output folder;
* :func:`brief_pdf` -- the board brief printed to A4 by headless Chromium when it is installed.

Figures are read defensively from ``result.to_dict()``: a figure the result does not hold is
left out, never guessed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd

from analysis.report.brief import compared_options, get, incremental_band
from analysis.report.format import finite as _num
from analysis.report.format import peak_basis
from analysis.report.labels import label

FIGURE_COLUMNS = ["figure", "value", "p05", "p95", "unit", "report", "key"]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")




def _round(x, digits: int = 6):
    return None if x is None else float(f"{x:.{digits}g}")


def figures_table(result) -> pd.DataFrame:
    """Every headline figure with its 5-95% band and unit (``value``, ``p05``, ``p95`` in ``unit``)."""
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    rows = []

    def add(figure, key, unit, report, scale=1.0, low_key=None, high_key=None, value=None, low=None, high=None):
        v = _num(value if value is not None else get(d, key))
        if v is None:
            return
        lo = _num(low if low is not None else (get(d, low_key) if low_key else None))
        hi = _num(high if high is not None else (get(d, high_key) if high_key else None))
        rows.append({"figure": figure, "value": _round(v * scale), "p05": _round(lo * scale) if lo is not None else None,
                     "p95": _round(hi * scale) if hi is not None else None, "unit": unit, "report": report, "key": key})

    denominator = get(d, "utilization.denominator", default="dense")
    add("Job utilization", "utilization.value", f"% of {peak_basis(denominator)} peak", "20_utilization", 100,
        "utilization.p05", "utilization.p95")
    add("Fleet MFU (whole fleet, workload mix)", "fleet.value_bf16_dense", "% of BF16 dense peak", "20_utilization", 100,
        "fleet.p05", "fleet.p95")
    add("Fleet MFU against the FP8 dense peak", "fleet.value_fp8_dense", "% of FP8 dense peak", "20_utilization", 100,
        "fleet.fp8_p05", "fleet.fp8_p95")
    add("Effective training time", "goodput.effective_training_time", "% of wall-clock time", "21_goodput", 100,
        "goodput.effective_training_time_p05", "goodput.effective_training_time_p95")
    add("Job interruptions per day", "goodput.interruptions_per_day", "per day", "21_goodput")
    add("Optimal checkpoint interval", "goodput.checkpoint_interval_min", "min", "21_goodput")
    add("IT power at training load", "power.it_mw", "MW", "30_power")
    add("Facility power at training load", "power.facility_mw", "MW", "30_power")
    add("Facility power at nameplate", "power.facility_nameplate_mw", "MW", "30_power")
    add("Facility power by Epoch AI's method", "power.epoch_method_mw", "MW", "30_power")
    add("Reported site power", "power.site_power_mw", "MW", "30_power")
    add("Power swing when the job stalls", "power.stall_swing_mw", "MW", "30_power")
    for gpu, v in (get(d, "tco_usd_per_gpu_hour", default={}) or {}).items():
        if gpu == "blend" and get(d, "tco_blend_usd_per_gpu_hour") is not None:
            add("TCO per GPU-hour (all GPUs, blended)", "tco_blend_usd_per_gpu_hour", "$ per GPU-hour", "31_cost", 1,
                "tco_blend_usd_per_gpu_hour_p05", "tco_blend_usd_per_gpu_hour_p95")
            continue
        add(f"TCO per GPU-hour ({'all GPUs, blended' if gpu == 'blend' else gpu})", f"tco_usd_per_gpu_hour.{gpu}",
            "$ per GPU-hour", "31_cost")
    add("Cost per useful exaFLOP", "usd_per_useful_exaflop", "$ per useful exaFLOP", "31_cost", 1,
        "usd_per_useful_exaflop_p05", "usd_per_useful_exaflop_p95")
    add("Energy per useful exaFLOP", "energy_mwh_per_useful_exaflop", "MWh per useful exaFLOP", "30_power")
    add("Fleet inference throughput", "inference.tokens_per_s", "tokens/s", "32_inference", 1,
        "inference.tokens_per_s_p05", "inference.tokens_per_s_p95")
    add("Fleet inference tokens per day", "inference.tokens_per_day", "tokens/day", "32_inference")
    add("Lessee's cost per million output tokens", "inference.usd_per_million_tokens", "$ per million tokens", "32_inference",
        1, "inference.usd_per_million_tokens_p05", "inference.usd_per_million_tokens_p95")
    quantiles = get(d, "economics.npv_usd_quantiles", default={}) or {}
    for option in ("keep", "lease", "islands"):
        q = quantiles.get(option, {}) if isinstance(quantiles, dict) else {}
        add(f"NPV: {label(option).lower()}", f"economics.npv_usd.{option}", "$", "33_lease_vs_rebuild",
            low=q.get("p05"), high=q.get("p95"))
    for option, name in compared_options(d).items():
        value, low, high = incremental_band(d, option)
        if value is not None:
            add(f"Incremental NPV: {name} minus keep", f"economics.incremental_npv_usd.{option}", "$", "33_lease_vs_rebuild",
                value=value, low=low, high=high)
    for option in ("keep", "lease", "islands"):
        add(f"IRR: {label(option).lower()}", f"economics.irr.{option}", "% per year", "33_lease_vs_rebuild", 100)
    add("Break-even lease rate (lease = keep)", "economics.break_even_lease_usd_per_gpu_hour", "$ per GPU-hour",
        "33_lease_vs_rebuild", 1, "economics.break_even_lease_usd_per_gpu_hour_p05",
        "economics.break_even_lease_usd_per_gpu_hour_p95")
    add("Break-even lease rate (lease = islands)", "economics.break_even_vs_islands_usd_per_gpu_hour", "$ per GPU-hour",
        "33_lease_vs_rebuild")
    add("Lease rate implied by the S-1", "economics.lease_usd_per_gpu_hour", "$ per GPU-hour", "33_lease_vs_rebuild")
    add("Probability that leasing beats keeping", "economics.p_lease_beats_keep", "% of draws", "33_lease_vs_rebuild", 100)
    add("Probability that leasing beats islands", "economics.p_lease_beats_islands", "% of draws", "33_lease_vs_rebuild", 100)
    add("Cash-flow horizon", "economics.horizon_months", "months", "33_lease_vs_rebuild")
    frame = pd.DataFrame(rows, columns=FIGURE_COLUMNS)
    frame.insert(0, "scenario", d.get("scenario", ""))
    return frame


def cash_flow_table(result) -> pd.DataFrame:
    """Monthly cash flows per option (USD; month 0 is the start: capital and transition).

    Columns: ``month``, ``period``, then ``<option>: <component> (USD)`` for every component and
    ``<option>: net (USD)`` per option. Empty (with those two columns) when the result holds no
    point-estimate cash flows.
    """
    options = getattr(result, "details", {}).get("options") if hasattr(result, "details") else None
    flows = getattr(options, "cash_flows", None)
    if flows is None or not len(flows):
        return pd.DataFrame(columns=["month", "period"])
    wide = flows.pivot_table(index=["month", "period"], columns=["option", "component"], values="usd", aggfunc="sum",
                             sort=False).sort_index(level="month")
    out = pd.DataFrame(index=wide.index)
    for option in dict.fromkeys(flows["option"]):
        part = wide[option]
        for component in part.columns:
            out[f"{option}: {component} (USD)"] = part[component].to_numpy() + 0.0   # no -0.0 in the CSV
        out[f"{option}: net (USD)"] = part.sum(axis=1).to_numpy() + 0.0
    return out.reset_index()


def write_exports(result, out_dir) -> dict[str, Path]:
    """``figures.csv`` and ``cashflows.csv`` of one scenario into ``out_dir`` (written atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in (("figures.csv", figures_table(result)), ("cashflows.csv", cash_flow_table(result))):
        path = out_dir / name
        tmp = path.with_name(f".{name}.partial")
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
        written[name] = path
    return written


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None)


def brief_pdf(index_html_path, pdf_path, timeout_s: float = 120, printer=None) -> bool:
    """Print the board brief to an A4 PDF with headless Chromium; False (and no file) when no
    Chromium is installed or printing fails. The page's print stylesheet sets A4 margins.
    ``printer``: a :class:`analysis.report.pdf_printer.PdfPrinter` started earlier (its browser is
    already up); without one, or when it fails, Chromium's command line prints the page."""
    browser = chromium_path()
    if browser is None:
        return False
    src, pdf = Path(index_html_path).resolve(), Path(pdf_path).resolve()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf.with_name(f".{pdf.name}.partial")
    tmp.unlink(missing_ok=True)
    if printer is not None and printer.print_pdf(src, tmp, timeout_s) and _is_pdf(tmp):
        os.replace(tmp, pdf)
        return True
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}", src.as_uri()]
    if _print_pdf(args, tmp, timeout_s):
        os.replace(tmp, pdf)
        return True
    return False


def _is_pdf(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0 and path.read_bytes()[:5] == b"%PDF-"


def _print_pdf(args: list[str], tmp: Path, timeout_s: float) -> bool:
    tmp.unlink(missing_ok=True)
    try:
        subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        tmp.unlink(missing_ok=True)
        return False
    if not _is_pdf(tmp):
        tmp.unlink(missing_ok=True)
        return False
    return True
