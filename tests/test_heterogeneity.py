"""Heterogeneity: hand-computed pacing and splits, invariants."""
import numpy as np
import pytest

from analysis import heterogeneity as het


def test_uniform_split_runs_at_slowest_pace_hand_computed():
    # 150k H100-class at 1.0, 50k at 1.0, 30k GB200-class at 2.5 (relative speed per GPU)
    gpus, rate = np.array([150e3, 50e3, 30e3]), np.array([1.0, 1.0, 2.5])
    assert het.uniform_split_throughput(gpus, rate) == pytest.approx(230e3)
    # own throughput 150k + 50k + 75k = 275k -> pacing 230/275
    assert het.pacing_factor(gpus, rate) == pytest.approx(230 / 275)
    # in peak terms (989 vs 2500 TFLOPS): 230k x 989 / (200k x 989 + 30k x 2500) = 0.8339
    assert het.peak_share_factor(gpus, [989, 989, 2500]) == pytest.approx(230e3 * 989 / (200e3 * 989 + 30e3 * 2500))


def test_homogeneous_cluster_has_no_pacing_loss():
    assert het.pacing_factor([100, 300], [2.0, 2.0]) == pytest.approx(1.0)
    assert het.granularity_efficiency(8, [2.0, 2.0]) == pytest.approx(1.0)


def test_proportional_split_minimises_step_time():
    # rates 1 : 1.3 : 2.4 over 16 units: best integer split is 3/4/9 (max(3, 3.08, 3.75) = 3.75)
    split = het.proportional_split(16, [1.0, 1.3, 2.4])
    assert split.tolist() == [3, 4, 9] and split.sum() == 16
    assert het.granularity_efficiency(16, [1.0, 1.3, 2.4]) == pytest.approx((16 / 4.7) / 3.75)


def test_finer_granularity_never_worse_and_vectorized():
    rate = np.array([1.0, 1.3, 2.4])
    eff = het.granularity_efficiency(np.array([3, 8, 16, 64, 256]), np.broadcast_to(rate, (5, 3)))
    assert np.all(np.diff(eff) >= -0.05) and eff[-1] > 0.99 and np.all((eff > 0) & (eff <= 1))


def test_aware_never_below_uniform_and_gains_with_fine_units():
    gpus, rate = np.array([150e3, 50e3, 30e3]), np.array([1.0, 1.0, 2.5])
    uniform = het.uniform_split_throughput(gpus, rate)
    # coarse units: granularity (16 units -> 4/4/8, eff 0.889) x planning 0.92 loses to uniform; the planner keeps uniform
    assert het.aware_split_throughput(gpus, rate, 0.92, 16) == pytest.approx(uniform)
    # fine units: 275k x ~1 x 0.95 = 261k > 230k
    fine = het.aware_split_throughput(gpus, rate, 0.95, 256)
    assert fine > uniform and fine == pytest.approx(275e3 * 0.95 * het.granularity_efficiency(256, rate))


@pytest.mark.parametrize("hosts", [1, 100, 10_000, 100_000])
def test_straggler_factor_bounds_and_monotone(hosts):
    f = het.straggler_factor(hosts, 0.005, 0.10, 0.0)
    assert 1 / 1.10 <= f <= 1.0
    assert het.straggler_factor(hosts * 2, 0.005, 0.10, 0.0) <= f
    assert het.straggler_factor(hosts, 0.005, 0.10, 0.5) >= f


def test_straggler_hand_computed():
    # 1 - (1 - 0.01)^100 = 0.634 chance of a slow host; 10% slower -> 1 / (1 + 0.0634) = 0.9404
    assert het.straggler_factor(100, 0.01, 0.10) == pytest.approx(1 / (1 + 0.1 * (1 - 0.99 ** 100)))
    assert het.straggler_factor(100, 0.0, 0.10) == 1.0


def test_cross_type_share_hand_computed():
    assert het.cross_type_share([1.0]) == pytest.approx(0.0)
    assert het.cross_type_share([0.5, 0.5]) == pytest.approx(0.5)
    # Colossus 1 by BF16 peak: 150k x 989, 50k x 989, 30k x 2500
    w = np.array([150e3 * 989, 50e3 * 989, 30e3 * 2500])
    w = w / w.sum()
    assert het.cross_type_share(w) == pytest.approx(1 - (w ** 2).sum()) and 0.55 < het.cross_type_share(w) < 0.62


def test_planning_efficiency_reproduces_hexiscale_gaps():
    # HexiScale (arXiv 2409.01143v2): average 3.5%, best 0.3% MFU gap to homogeneous at equal peak, two types (share 0.5)
    for gap in (0.035, 0.003, 0.1161):
        eta = het.planning_efficiency_from_gap(gap, 0.5)
        assert 1 - het.aware_planning_factor(eta, 0.5) == pytest.approx(gap)
    assert het.planning_efficiency_from_gap(0.035) == pytest.approx(0.93)
    # a homogeneous job loses nothing to planning, whatever eta
    assert het.aware_planning_factor(0.5, het.cross_type_share([3.0])) == pytest.approx(1.0)


def test_straggler_beyond_calibration_is_one_at_or_below_it():
    assert het.straggler_factor_beyond(1000, 2048, 0.005, 0.1, 0.5) == 1.0
    assert het.straggler_factor_beyond(2048, 2048, 0.001, 0.1, 0.5) == pytest.approx(1.0)
    assert het.straggler_factor_beyond(30000, 2048, 0.001, 0.1, 0.0) < 1.0
