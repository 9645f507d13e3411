"""The cluster-utilization chain and its uncertainty: invariants, hand-checked pieces, seeds.

Chain mechanics are tested on a stand-in MFU grid (so these tests pin the chain, not the
step model); the end-to-end figures on the real step model are in test_evaluate.py.
"""
import numpy as np
import pandas as pd
import pytest

from analysis import uncertainty, utilization
from analysis.scenario import load_scenario


def _fake_grid(model_id, gpu_id, precision, max_tp, hbm_gb, scale_out):
    x = utilization.TOKENS_PER_GPU_GRID
    base = {"H100": 0.40, "H200": 0.44, "GB200": 0.36, "GB300": 0.37}[gpu_id] * (0.9 if max_tp else 1.0)
    return base * x / (x + 1024)


class _Best:
    mfu = 0.3
    factors = {"GEMM efficiency": 0.6, "pipeline bubble": 0.5}


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(utilization, "_mfu_grid", _fake_grid)
    monkeypatch.setattr(utilization, "pool_step", lambda *a, **k: _Best())


@pytest.mark.parametrize("name", ["colossus1", "colossus1-aware", "colossus1-islands", "colossus2", "llama3-16k"])
def test_factors_in_unit_interval_and_multiply_to_value(stand_in, name):
    result = utilization.point(load_scenario(name))
    values = np.array(list(result.factors.values()))
    assert np.all((values > 0) & (values <= 1)), result.factors
    assert np.prod(values) == pytest.approx(result.value, rel=1e-9)
    assert 0 < result.value < 1
    # the other denominator: same useful FLOPs over the cluster's dense FP8 peak (about twice BF16)
    totals = load_scenario(name).cluster.totals()
    ratio = totals["peak_eflops_bf16_dense"] / totals["peak_eflops_fp8_dense"]
    assert result.value_other_denominator == pytest.approx(result.value * ratio, rel=1e-9)


def test_aware_at_least_uniform_and_homogeneous_has_no_pacing(stand_in):
    uniform = utilization.point(load_scenario("colossus1"))
    aware = utilization.point(load_scenario("colossus1-aware"))
    assert aware.value >= uniform.value
    llama = utilization.point(load_scenario("llama3-16k"))
    assert llama.factors["pacing by slowest GPU type"] == 1.0 and llama.factors["memory and NVLink-domain limits"] == 0.9


def test_pacing_factor_matches_hand_computation(stand_in):
    sc = load_scenario("colossus1")
    out = utilization.chain(sc.cluster, sc.values("job"), sc.values("heterogeneity"), sc.values("goodput"))
    tokens = float(np.asarray(out["tokens_per_gpu"])[0])
    mfu = np.array([0.36, 0.396, 0.324]) * tokens / (tokens + 1024)   # common limits (x0.9)
    rate = mfu * np.array([989, 989, 2500])
    n = np.array([150e3, 50e3, 30e3])
    assert float(out["factors"]["pacing by slowest GPU type"]) == pytest.approx(n.sum() * rate.min() / (n * rate).sum())


def test_bigger_global_batch_never_lowers_step_efficiency(stand_in):
    sc = load_scenario("colossus1")
    job = dict(sc.values("job"), global_batch_tokens=np.array([16e6, 64e6, 256e6]))
    out = utilization.chain(sc.cluster, job, sc.values("heterogeneity"), sc.values("goodput"))
    assert np.all(np.diff(out["factors"]["step model (best pool)"]) > 0)


def test_interpolation_is_exact_on_grid_and_zero_below_feasible():
    grid = np.array([[np.nan, 0.1, 0.2, 0.3] + [0.3] * (len(utilization.TOKENS_PER_GPU_GRID) - 4)])
    x = utilization.TOKENS_PER_GPU_GRID
    assert utilization.interpolate_mfu(grid, np.array([[x[2]]]))[0, 0] == pytest.approx(0.2)
    assert utilization.interpolate_mfu(grid, np.array([[x[0]]]))[0, 0] == 0.0
    mid = utilization.interpolate_mfu(grid, np.array([[np.sqrt(x[1] * x[2])]]))[0, 0]
    assert mid == pytest.approx(np.sqrt(0.1 * 0.2))


def test_monte_carlo_reproducible_and_what_must_be_true(stand_in):
    sc = load_scenario("colossus1")
    a, b = uncertainty.utilization_draws(sc, 3000, seed=7), uncertainty.utilization_draws(sc, 3000, seed=7)
    assert np.array_equal(a.value, b.value)
    assert not np.array_equal(a.value, uncertainty.utilization_draws(sc, 3000, seed=8).value)
    q = a.quantiles()
    assert q["p05"] <= q["p50"] <= q["p95"]
    target = q["p50"]
    table = uncertainty.what_must_be_true(a.inputs, a.value, target, 0.005)
    assert 0 < table["kept_share"].iloc[0] < 1 and "job.global_batch_tokens" in table.index


def test_standardized_regression_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(size=5000), "c": rng.normal(size=5000)})
    y = 3 * X["a"] - 1 * X["b"] + 0 * X["c"] + rng.normal(scale=0.1, size=5000)
    result = uncertainty.standardized_regression(X, y)
    # SRC_j = b_j sd(x_j) / sd(y) with sd(y) = sqrt(9 + 1 + 0.01)
    assert result.src["a"] == pytest.approx(3 / np.sqrt(10.01), abs=0.01)
    assert result.src["b"] == pytest.approx(-1 / np.sqrt(10.01), abs=0.01)
    assert abs(result.src["c"]) < 0.02 and result.r_squared > 0.99
    assert (result.src ** 2).sum() == pytest.approx(result.r_squared, abs=0.01)


def test_factor_families_multiply_to_the_same_value(stand_in):
    result = utilization.point(load_scenario("colossus1"))
    groups = utilization.group_factors(result.factors)
    assert list(groups) == list(utilization.FACTOR_GROUPS)
    assert np.prod(list(groups.values())) == pytest.approx(result.value, rel=1e-12)
    with pytest.raises(Exception, match="belongs to no loss family"):
        utilization.group_factors({"cosmic rays": 0.9})


def test_one_at_a_time_moves_utilization_the_right_way(stand_in):
    table = uncertainty.utilization_one_at_a_time(load_scenario("colossus1"))
    base = float(table["base"].iloc[0])
    # a longer restart or a slower straggler hurts; a bigger batch helps (more tokens per GPU)
    assert table.loc["goodput.restart_s", "high"] < base < table.loc["goodput.restart_s", "low"]
    assert table.loc["job.global_batch_tokens", "high"] > base > table.loc["job.global_batch_tokens", "low"]
    assert table.loc["heterogeneity.slow_host_slowdown", "high"] <= base
