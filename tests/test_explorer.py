"""The live explorer's update function, without a browser."""
from __future__ import annotations

import numpy as np
import pytest

import analysis
from analysis import explorer, utilization
from analysis.errors import InputError
from analysis.scenario import load_scenario
from analysis.sweep import base_document


@pytest.fixture(scope="module")
def doc():
    return base_document("colossus1")


def test_view_matches_the_chain_and_factors_multiply(doc):
    view = explorer.compute(doc, {}, draw=False)
    assert view.utilization == pytest.approx(utilization.point(load_scenario("colossus1")).value)
    assert np.prod(list(view.factors.values())) == pytest.approx(view.utilization, rel=1e-9)
    assert view.best_option in view.npv_usd


def test_moving_a_slider_moves_the_figures(doc):
    fast = explorer.compute(doc, {"goodput.restart_s": 60.0}, draw=False)
    slow = explorer.compute(doc, {"goodput.restart_s": 1800.0}, draw=False)
    assert fast.utilization > slow.utilization


def test_bad_slider_value_is_an_input_error(doc):
    with pytest.raises(InputError, match="restart_s"):
        explorer.compute(doc, {"goodput.restart_s": -1.0}, draw=False)


def test_controls_follow_the_scenario_and_ranges():
    sc = load_scenario("colossus1")
    paths = [c.path for c, _ in explorer.available_controls(sc)]
    assert "goodput.restart_s" in paths
    assert all(sc.param(p) is not None for p in paths)
    for control, param in explorer.available_controls(sc):
        if not control.choices:
            low, high = explorer.slider_range(param, control.log)
            assert low < float(param.value) < high or low == high


def test_widgets_redraw_without_a_browser():
    pytest.importorskip("ipywidgets")
    ex = analysis.explore("colossus1")
    before = ex.view.utilization
    _, slider = ex.controls["goodput.restart_s"]
    slider.value = slider.max
    assert ex.view.utilization < before and ex.view.figure is not None
