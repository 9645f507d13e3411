"""The cluster-utilization chain and its uncertainty: invariants, hand-checked pieces, seeds.

Chain mechanics are tested on a stand-in MFU grid (so these tests pin the chain, not the
step model); the end-to-end figures on the real step model are in test_evaluate.py.
"""
import numpy as np
import pandas as pd
import pytest

from analysis import memo, uncertainty, utilization
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
    # chain() memoizes by argument content: a result of the real step model from an earlier test would be served
    # for the same scenario here, so the stand-in runs with the memo off.
    with memo.disabled():
        yield


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
    assert llama.factors[utilization.OTHER_TYPES_FACTOR] == 1.0


def test_islands_show_no_mixing_loss_and_per_type_mfu_is_step_model(stand_in):
    islands = utilization.point(load_scenario("colossus1-islands"))
    mixing = utilization.FACTOR_GROUPS["mixing GPU types"]
    assert not [k for k in islands.factors if mixing(k)], islands.factors
    assert "pool mix" not in islands.factors and "pool mix" not in utilization.point(load_scenario("colossus1")).factors
    # the other GPU types' own MFU sits in the step-model family
    assert utilization.FACTOR_GROUPS["step model (each GPU type)"](utilization.OTHER_TYPES_FACTOR)
    assert islands.factors[utilization.OTHER_TYPES_FACTOR] < 1


def test_islands_at_equal_tokens_per_gpu(stand_in):
    sc = load_scenario("colossus1")
    uniform = utilization.chain(sc.cluster, sc.values("job"), sc.values("heterogeneity"), sc.values("goodput"))
    job = dict(sc.values("job"), split="islands", islands_batch="equal_tokens_per_gpu")
    islands = utilization.chain(sc.cluster, job, sc.values("heterogeneity"), sc.values("goodput"))
    per_gpu = float(np.asarray(uniform["tokens_per_gpu"])[0])
    assert np.allclose(islands["tokens_per_gpu"], per_gpu)
    # the islands' batches add up to the one job's batch (same tokens per step over the cluster)
    assert float(np.sum(islands["global_batch_tokens"])) == pytest.approx(float(uniform["global_batch_tokens"]))
    own = utilization.chain(sc.cluster, dict(job, islands_batch="own_critical_batch"), sc.values("heterogeneity"),
                            sc.values("goodput"))
    assert np.all(np.asarray(own["tokens_per_gpu"]) > per_gpu)     # B ~ C^0.33: a smaller job keeps more tokens per GPU


def test_critical_batch_rule_hand_computed():
    # C = 3.8e25 FLOPs (Llama 3 405B): 0.292 x C^0.3271 = 68.0M tokens; Llama 3's 16M is 0.247 of it
    c = 3.8e25
    flops = c / (utilization.PLANNING_MFU * 54 * 86400)
    b = float(utilization.critical_batch_tokens(flops, 54))
    assert b == pytest.approx(0.292 * c ** 0.3271, rel=1e-9) and b == pytest.approx(68.0e6, rel=0.01)
    assert 16.8e6 / b == pytest.approx(0.247, abs=0.005)
    # grows with the job: 8x the GPUs -> 8^0.3271 = 1.97x the batch
    assert float(utilization.critical_batch_tokens(8 * flops, 54)) / b == pytest.approx(8 ** 0.3271)


def test_batch_scales_with_job_size(stand_in):
    sc = load_scenario("colossus1")
    job = dict(sc.values("job"), max_job_gpus=np.array([25e3, 50e3, 1e7]))
    out = utilization.chain(sc.cluster, job, sc.values("heterogeneity"), sc.values("goodput"))
    assert np.all(np.diff(out["global_batch_tokens"]) > 0)
    assert np.all(np.diff(np.asarray(out["tokens_per_gpu"])[:, 0]) < 0)   # ... but less than in proportion


def test_stragglers_counted_once(stand_in):
    # at the calibration scale (Llama 3, 16k GPUs) the calibrated step model already holds them
    llama = utilization.point(load_scenario("llama3-16k"))
    assert llama.factors["straggler tail"] == 1.0
    het = load_scenario("colossus1").values("heterogeneity")
    f = float(utilization.heterogeneity.straggler_factor_beyond(216e3 / 8, utilization.CALIBRATION_HOSTS, 0.001, 0.10, 0.5))
    hand = (1 - 0.5 * (1 - 1 / (1 + 0.1 * (1 - 0.999 ** 27e3)))) / (1 - 0.5 * (1 - 1 / (1 + 0.1 * (1 - 0.999 ** 2048))))
    assert f == pytest.approx(min(1.0, hand)) and f < 1
    assert het["slow_host_fraction"] == 0.005


def test_job_is_computed_once_and_matches_point(stand_in):
    sc = load_scenario("colossus2")
    job = utilization.job(sc)
    result = utilization.point(sc)
    assert job.largest_job_gpus == pytest.approx(result.largest_job_gpus)
    assert job.largest_job_gpus <= sc.value("job.max_job_gpus") and float(job.jobs) == 4
    assert job.to_dict()["gpus_per_pool"]["GB300"] > 0
    d = sc.sample(50, seed=1)
    per_draw = utilization.job(sc, d)
    assert np.shape(per_draw.job_gpus) == (50,) and np.all(per_draw.job_gpus <= d["job.max_job_gpus"] + 1e-6)


def test_option_utilization_lines_up_with_the_draws(stand_in):
    sc = load_scenario("colossus1")
    d = sc.sample(40, seed=2)
    keep = utilization.option_utilization(sc, None, d)
    assert keep == pytest.approx(uncertainty.utilization_draws(sc, d).value)
    rebuild = utilization.option_utilization(sc, "colossus2", d)
    assert rebuild.shape == (40,) and np.all(rebuild > 0)
    assert utilization.option_utilization(sc) == pytest.approx(utilization.point(sc).value_bf16_dense)


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
    job = dict(sc.values("job"), batch_policy="fixed", global_batch_tokens=np.array([16e6, 64e6, 256e6]))
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
    assert 0 < table["kept_share"].iloc[0] < 1 and "job.critical_batch_multiplier" in table.index


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
    assert table.loc["job.critical_batch_multiplier", "high"] > base > table.loc["job.critical_batch_multiplier", "low"]
    assert table.loc["heterogeneity.slow_host_slowdown", "high"] <= base


def test_sobol_indices_of_an_additive_toy_match_the_analytic_values(monkeypatch, stand_in):
    # y = restart only through a linear stand-in: S1 = ST = 1 for that input, 0 for the rest
    sc = load_scenario("llama3-16k")
    monkeypatch.setattr(utilization, "chain_draws",
                        lambda sc, d, split=None: {"value": 2.0 * np.asarray(d["goodput.restart_s"])})
    r = uncertainty.sobol_indices(sc, base_samples=256, seed=0, outputs=("job utilization",))
    t = r.table("job utilization")
    assert t.index[0] == "goodput.restart_s" and t.loc["goodput.restart_s", "ST"] == pytest.approx(1.0, abs=0.1)
    assert t.drop("goodput.restart_s")["ST"].abs().max() < 0.05


def test_sobol_confidence_intervals_do_not_depend_on_numpy_global_random_state():
    """SALib bootstraps the intervals from numpy's global state when given seed 0: the package
    passes its own generator, so the same scenario and seed give the same table whatever ran before."""
    from analysis import uncertainty
    sc = load_scenario("llama3-16k")
    first = uncertainty.sobol_indices(sc, base_samples=32).indices
    np.random.seed(7)
    np.random.random(100)
    again = uncertainty.sobol_indices(sc, base_samples=32).indices
    assert (first == again).all().all() and first.filter(like="_conf").abs().to_numpy().sum() > 0


def test_the_sobol_design_is_salibs_number_for_number():
    """uncertainty._unit_design assembles SALib's Saltelli design with array copies: the same matrix."""
    from SALib.sample import sobol as salib_sobol

    for d, n, seed in ((3, 8, 0), (11, 64, 3)):
        problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
        expected = salib_sobol.sample(problem, n, calc_second_order=False, seed=seed)
        design = uncertainty._unit_design(d, n, seed)
        assert design.shape == (n * (d + 2), d) and np.array_equal(design, expected)
        assert not design.flags.writeable
