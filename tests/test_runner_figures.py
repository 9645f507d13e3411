"""One set of figures (issue #13 item 2, #9 item 7): every figure repeated across the reports of a
scenario is the same number, and the same as :func:`analysis.evaluate.evaluate` (read once per
batch through :func:`analysis.results.scenario_results`).

Notebooks publish their key numbers with ``analysis.notebook.record``; a metric name that means
one of evaluate's figures is listed in ``EVALUATE`` below. A notebook that records such a name
must read it from ``scenario_results(scenario, quick)``.
"""
from __future__ import annotations

import math

import pytest

from conftest import SMOKE_SCENARIO

# recorded metric name -> path in EvaluateResult.to_dict()
EVALUATE = {
    "utilization": ("utilization", "value"),
    "utilization_p05": ("utilization", "p05"),
    "utilization_p50": ("utilization", "p50"),
    "utilization_p95": ("utilization", "p95"),
    "observed_quantile": ("utilization", "share_at_or_below_observed"),
    "effective_training_time": ("goodput", "effective_training_time"),
    "effective_training_time_p05": ("goodput", "effective_training_time_p05"),
    "effective_training_time_p95": ("goodput", "effective_training_time_p95"),
    "interruptions_per_day": ("goodput", "interruptions_per_day"),
    "checkpoint_interval_min": ("goodput", "checkpoint_interval_min"),
    "scheduling_goodput": ("goodput", "scheduling_goodput"),
    "facility_mw": ("power", "facility_mw"),
    "it_mw": ("power", "it_mw"),
    "epoch_method_mw": ("power", "epoch_method_mw"),
    "facility_nameplate_mw": ("power", "facility_nameplate_mw"),
    "stall_swing_mw": ("power", "stall_swing_mw"),
    "usd_per_useful_exaflop": ("usd_per_useful_exaflop",),
    "usd_per_useful_exaflop_p05": ("usd_per_useful_exaflop_p05",),
    "usd_per_useful_exaflop_p95": ("usd_per_useful_exaflop_p95",),
    "tco_usd_per_gpu_hour": ("tco_blend_usd_per_gpu_hour",),
    "tco_usd_per_gpu_hour_p05": ("tco_blend_usd_per_gpu_hour_p05",),
    "tco_usd_per_gpu_hour_p95": ("tco_blend_usd_per_gpu_hour_p95",),
    "energy_mwh_per_useful_exaflop": ("energy_mwh_per_useful_exaflop",),
    "usd_per_million_tokens": ("inference", "usd_per_million_tokens"),
    "fleet_tokens_per_s": ("inference", "tokens_per_s"),
    "fleet_tokens_per_day": ("inference", "tokens_per_day"),
    "npv_lease_minus_keep_usd": ("economics", "npv_lease_minus_keep_usd"),
    "npv_keep_usd": ("economics", "npv_usd", "keep"),
    "npv_lease_usd": ("economics", "npv_usd", "lease"),
    "npv_islands_usd": ("economics", "npv_usd", "islands"),
    "irr_keep": ("economics", "irr", "keep"),
    "irr_lease": ("economics", "irr", "lease"),
    "p_lease_beats_keep": ("economics", "p_lease_beats_keep"),
    "break_even_lease_usd_per_gpu_hour": ("economics", "break_even_lease_usd_per_gpu_hour"),
    "lease_usd_per_gpu_hour": ("economics", "lease_usd_per_gpu_hour"),
}

# (notebook, metric) pairs whose cells still compute the figure themselves. A pair that agrees
# passes normally; only these may disagree (reported as xfail), every other disagreement fails.
# Every notebook of the speed branch reads its figures from scenario_results: empty.
NOT_YET_FROM_RESULTS: set[tuple[str, str]] = set()

ECONOMICS_PENDING: set = set()   # 33 reads every economics figure from scenario_results


def _lookup(tree: dict, path: tuple):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def _disagreements(metrics_by_notebook: dict[str, dict], reference: dict) -> list[tuple[str, str, object, object]]:
    """``(notebook, metric, shown, expected)`` for every figure that differs from evaluate's or,
    for a name evaluate does not compute, from the first report that shows it."""
    out = []
    first: dict[str, tuple[str, object]] = {}
    for notebook in sorted(metrics_by_notebook):
        for name, value in metrics_by_notebook[notebook].items():
            if name in EVALUATE:
                expected = _lookup(reference, EVALUATE[name])
                if expected is not None and not _same(value, expected):
                    out.append((notebook, name, value, expected))
            elif name in first:
                if not _same(value, first[name][1]):
                    out.append((notebook, name, value, f"{first[name][1]} in {first[name][0]}"))
            else:
                first[name] = (notebook, value)
    return out


def test_disagreement_finder_on_a_hand_made_case():
    reference = {"utilization": {"value": 0.09}, "economics": {"npv_usd": {"keep": 1.0}}}
    metrics = {"01": {"utilization": 0.09, "gpus": 10}, "20": {"utilization": 0.091, "gpus": 10},
               "33": {"npv_keep_usd": 2.0, "gpus": 11}}
    found = {(nb, name) for nb, name, *_ in _disagreements(metrics, reference)}
    assert found == {("20", "utilization"), ("33", "npv_keep_usd"), ("33", "gpus")}


@pytest.mark.slow
def test_every_repeated_figure_is_identical_across_reports_and_to_evaluate(executed):
    from analysis import results

    _, executed_results = executed
    reference = results.scenario_results(SMOKE_SCENARIO, quick=True).to_dict()
    metrics = {stem: r.metrics for stem, r in executed_results.items() if r.status == "ok" and r.scenario == SMOKE_SCENARIO}
    assert metrics, "no executed scenario reports"
    found = _disagreements(metrics, reference)
    pending = NOT_YET_FROM_RESULTS | ECONOMICS_PENDING
    unexpected = [d for d in found if (d[0], d[1]) not in pending]
    assert not unexpected, "figures that differ between reports / from evaluate: " + "; ".join(
        f"{nb}.{name} = {shown!r}, expected {expected!r}" for nb, name, shown, expected in unexpected)
    if found:
        pytest.xfail(f"{len(found)} figure(s) still computed by the notebooks themselves: "
                     + ", ".join(f"{nb}.{name}" for nb, name, *_ in found))


@pytest.mark.slow
def test_effective_training_time_is_one_number(executed):
    """Issue #9 item 7: 01, 20, 21 and the index show the same effective training time."""
    from analysis import results

    out, executed_results = executed
    expected = results.scenario_results(SMOKE_SCENARIO, quick=True).to_dict()["goodput"]["effective_training_time"]
    shown = {stem: r.metrics["effective_training_time"] for stem, r in executed_results.items()
             if "effective_training_time" in (r.metrics or {})}
    wrong = {stem: v for stem, v in shown.items() if not _same(v, expected)}
    if wrong and all((stem, "effective_training_time") in NOT_YET_FROM_RESULTS | ECONOMICS_PENDING for stem in wrong):
        pytest.xfail(f"still computed by {sorted(wrong)}: {wrong} vs evaluate {expected}")
    assert not wrong, f"effective training time differs from evaluate's {expected}: {wrong}"
