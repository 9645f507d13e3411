"""Validation in the open: ONE set of goodput parameters (data/parameters/goodput.yaml) against every
published figure in data/goodput_references.csv, a test per figure with its tolerance stated; and the
analytic model against the event simulation from 1k to 500k GPUs.

Tolerances (also in the CSV column ``tolerance``):

* Llama 3 unplanned interruptions per day (7.76): the Poisson 95% interval of 419 counts, 7.03-8.54.
* Llama 3 effective training time ">90%": the source's own bound, [0.90, 1.00].
* Meta RSC-1 node failure rate 6.5 per 1,000 node-days and the projected 1.8 h MTTF at 16,384 GPUs: 10%.
* Meta RSC-1 measured MTTF 7.9 h at 1,024 GPUs: 5 points of effective training time between the model's
  MTTF and the published one (the figure counts every job failure cause of a research cluster).
* Meta O(100k) fully synchronous stall ~10 min: 7-13 min; its 44% effective training time: 5 points.
"""
import numpy as np
import pandas as pd
import pytest

from analysis import goodput as g

REFERENCES = g.load_references()


@pytest.fixture(scope="module")
def table():
    return g.validation_table()


def test_references_are_sourced_and_ranged():
    assert len(REFERENCES) >= 7
    assert REFERENCES["source"].str.len().min() > 20
    assert (REFERENCES["low"] <= REFERENCES["published"]).all() and (REFERENCES["published"] <= REFERENCES["high"]).all()
    assert REFERENCES["tolerance"].str.len().min() > 3


def row(table, key):
    r = table.loc[key]
    return r, f"{key}: model {r['model']:.4g} vs published {r['published']:g} (accepted {r['low']:g}-{r['high']:g})"


def test_llama3_unplanned_interruptions_per_day(table):
    """419 unexpected interruptions in 54 days at 16,384 H100 (arXiv 2407.21783): within the Poisson 95% interval."""
    r, msg = row(table, "llama3-unplanned")
    assert 7.03 <= r["model"] <= 8.54 and r["within"], msg


def test_llama3_effective_training_time_above_90_percent(table):
    """'higher than 90%' effective training time (arXiv 2407.21783 Sec. 3.3.4): the source's bound."""
    r, msg = row(table, "llama3-ettr")
    assert 0.90 <= r["model"] <= 1.0 and r["within"], msg


def test_rsc1_node_failure_rate(table):
    """Kokolis et al. (arXiv 2410.21680): RSC-1 r_f = 6.5 per 1,000 node-days, within 10%."""
    r, msg = row(table, "rsc1-node-failure-rate")
    assert abs(r["model"] / 6.5 - 1) <= 0.10 and r["within"], msg


def test_rsc_projected_mttf_16k(table):
    """Kokolis et al.: projected MTTF 1.8 h for a 16,384-GPU job, within 10%."""
    r, msg = row(table, "rsc-projected-16k-mttf")
    assert abs(r["model"] / 1.8 - 1) <= 0.10 and r["within"], msg


def test_rsc1_measured_mttf_1k_within_5_ettr_points(table):
    """Kokolis et al.: measured MTTF 7.9 h of 1,024-GPU jobs (all causes). The model's hardware-driven MTTF is
    longer; what it changes in effective training time must stay within 5 points."""
    r, msg = row(table, "rsc1-1k-mttf")
    assert r["model"] > 7.9                                   # stated, not hidden: the model's MTTF is longer
    assert abs(r["ettr_gap_pts"]) <= 5 and r["within"], msg


def test_meta_100k_stall_about_10_min(table):
    """Salpekar et al. 2026 (arXiv 2602.00277): ~10 min stall per failure, fully synchronous, O(100K) GPUs: 7-13 min."""
    r, msg = row(table, "meta-100k-stall")
    assert 7 <= r["model"] <= 13 and r["within"], msg


def test_meta_100k_effective_training_time_44_percent(table):
    """Salpekar et al. 2026 (arXiv 2602.00277): 44% effective training time, fully synchronous, O(100K) GPUs:
    within 5 points."""
    r, msg = row(table, "meta-100k-ettr")
    assert abs(r["model"] - 0.44) <= 0.05 and r["within"], msg


def test_one_parameter_set_for_every_case():
    """The cases differ only in their facts (GPUs, GPU type, fleet age, model), never in model parameters."""
    facts = {"id", "system", "kind", "gpus", "gpu", "months_in_service", "model", "published", "low", "high", "relation",
             "tolerance", "note", "source", "source_date", "status"}
    assert set(REFERENCES.columns) == facts
    assert not set(REFERENCES.columns) & set(g.PARAMETERS) - {"months_in_service"}


def test_mature_fleet_at_100k_is_far_above_44_percent():
    """Stated sensitivity: the 44% needs a young fleet (early-life failures); a mature H100 fleet gives far more."""
    case = REFERENCES.loc["meta-100k-ettr"].copy()
    case["months_in_service"] = 24
    assert float(g.validation.case_result(case).effective_training_time) > 0.6


@pytest.mark.parametrize("horizon_h,n_runs", [(24 * 14, 40)])
def test_analytic_and_simulated_agree_from_1k_to_500k(horizon_h, n_runs):
    """The full analytic model and the event simulation (same MTBF, write, interval and stall) agree within
    1.5 points of effective training time at every job size from 1,000 to 500,000 GPUs."""
    from analysis.scenario import defaults
    values = {k: p.value for k, p in defaults()["goodput"].items()}
    sizes = np.geomspace(1000, 500_000, 7)
    df = g.analytic_vs_simulated_values(values, sizes, horizon_h=horizon_h, n_runs=n_runs, seed=0)
    assert isinstance(df, pd.DataFrame) and len(df) == 7
    assert df["analytic_minus_simulated_pts"].abs().max() <= 1.5, df[["gpus", "analytic", "simulated"]]
    assert df["analytic"].is_monotonic_decreasing
