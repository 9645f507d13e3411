"""Tests of analysis.goodput (v2): hand-computed cases, invariants, the parts of the model, simulation.

Validation against published figures: tests/test_goodput_validation.py; the CLI: tests/test_goodput_cli.py.
"""
import math

import numpy as np
import pytest
import yaml
from scipy.stats import poisson

from analysis import goodput as g
from analysis.errors import InputError
from analysis.params import parse_param
from analysis.paths import PARAMETER_DIR

LLAMA3_RATE = 419 / (16384 * 54 * 24)


@pytest.fixture(scope="module")
def defaults():
    """Central values of data/parameters/goodput.yaml, checked against PARAMETERS (sourced, bounded)."""
    doc = yaml.safe_load((PARAMETER_DIR / "goodput.yaml").read_text())
    assert set(doc) == set(g.PARAMETERS)
    for key, spec in g.PARAMETERS.items():
        if spec.choices is None:
            assert spec.min is not None and spec.max is not None, key
            assert "low" in doc[key] and "high" in doc[key], f"{key} has no range"
    return {k: parse_param(f"goodput.{k}", doc[k], spec, require_source=True).value for k, spec in g.PARAMETERS.items()}


def simple(defaults, **over):
    """Defaults with the other-badput, planned and early-life terms switched off (hand-computable core)."""
    v = dict(defaults, planned_interruptions_per_day=0.0, rollbacks_per_million_gpu_hours=0.0,
             data_loading_stall_fraction=0.0, manual_interventions_per_day=0.0, queueing_fraction=0.0,
             early_life_multiplier=0.0, spare_fraction=0.0, repair_fraction=0.0, fragmentation_fraction=0.0)
    v.update(over)
    return v


# ------------------------------------------------------------------ interruption rate (unchanged from v1)
def test_glm_rate_equals_llama3_record_with_ci():
    est = g.estimate_interruption_rate(419, 16384, 54 * 24)
    assert est.rate == pytest.approx(LLAMA3_RATE, rel=1e-9)
    assert est.ci_low < LLAMA3_RATE < est.ci_high
    # Wald interval on the log scale: rate * exp(+-1.96 / sqrt(419))
    assert est.ci_low == pytest.approx(LLAMA3_RATE * math.exp(-1.959964 / math.sqrt(419)), rel=1e-4)
    assert est.ci_high == pytest.approx(LLAMA3_RATE * math.exp(1.959964 / math.sqrt(419)), rel=1e-4)
    assert est.exact_ci_low < LLAMA3_RATE < est.exact_ci_high
    assert est.mtbf_per_gpu_h == pytest.approx(50677, rel=1e-3)   # ~51,000 h (reference Sec. 2.1 derived)
    assert set(est.to_dict()) >= {"rate_per_gpu_hour", "ci_low", "ci_high"}
    assert "per GPU-hour" in est.summary()


def test_rate_from_data_file_matches_yaml_default(defaults):
    est = g.estimate_from_reliability()
    assert est.rate == pytest.approx(LLAMA3_RATE, rel=1e-9)
    doc = yaml.safe_load((PARAMETER_DIR / "goodput.yaml").read_text())["interruption_rate_per_gpu_hour"]
    assert doc["value"] == pytest.approx(est.rate, rel=1e-3)
    assert doc["low"] == pytest.approx(est.ci_low, rel=1e-3)
    assert doc["high"] == pytest.approx(est.ci_high, rel=1e-3)


def test_pooled_glm_is_total_over_exposure():
    est = g.estimate_interruption_rate([10, 30], [100, 200], [10, 10])
    assert est.rate == pytest.approx(40 / 3000)
    assert g.interruption_rate_per_gpu_hour(419, 16384, 1296) == pytest.approx(LLAMA3_RATE)


def test_job_interruptions_linear_in_gpus():
    # Llama 3: ~3.1 h between unexpected interruptions at 16,384 GPUs (reference Sec. 2.1 derived)
    assert 1 / g.job_interruptions_per_hour(16384, LLAMA3_RATE) == pytest.approx(54 * 24 / 419)
    per_hour = g.job_interruptions_per_hour(np.array([1000, 2000, 4000]), 1e-5)
    np.testing.assert_allclose(per_hour, [0.01, 0.02, 0.04])
    # 100k GPUs at the same rate: one interruption every ~30 min (reference Sec. 2.1)
    assert g.job_mtbf_s(100_000, LLAMA3_RATE) / 60 == pytest.approx(30.4, abs=0.1)


# ------------------------------------------------------------------ Young / Daly
def test_young_hand_computed():
    # delta = 60 s, M = 3 h = 10,800 s: sqrt(2 * 60 * 10800) = sqrt(1,296,000) = 1138.42 s
    assert g.young_daly_interval_s(60, 10800) == pytest.approx(1138.4200, rel=1e-6)
    # delta = 5 min, M = 24 h: sqrt(2 * 5 * 1440) = 120 min
    assert g.young_daly_interval_s(300, 86400) / 60 == pytest.approx(120.0)


def test_daly_higher_order_matches_paper_figures():
    # Daly 2006, Fig. 3-5 captions: delta = 5 min, M = 24 h / 6 h / 15 min -> tau_opt = 117 / 57 / 9.1 min
    tau_min = g.young_daly_interval_s(300, np.array([86400, 21600, 900]), "daly") / 60
    np.testing.assert_allclose(tau_min, [117, 57, 9.1], atol=0.5)
    # delta >= 2M: tau = M
    assert g.young_daly_interval_s(1000, 400, "daly") == pytest.approx(400)


def test_exact_interval_minimizes_daly_cost():
    d, m = 60.0, 3600.0
    tau = g.young_daly_interval_s(d, m, "exact")
    cost = lambda t: np.expm1((t + d) / m) / t
    grid = np.linspace(0.3 * tau, 3 * tau, 2001)
    assert cost(tau) <= cost(grid).min() + 1e-12
    # agrees with the series near the branch point, and with Young to first order
    tiny = g.young_daly_interval_s(1e-3, 1e6, "exact")
    assert tiny == pytest.approx(math.sqrt(2 * 1e-3 * 1e6), rel=1e-3)


@pytest.mark.parametrize("model", ["daly", "young"])
def test_optimal_interval_beats_half_and_double(model):
    kw = dict(gpus=16384, rate_per_gpu_hour=LLAMA3_RATE, checkpoint_write_s=30, restart_s=600, model=model)
    tau = g.optimal_checkpoint_interval_s(16384, LLAMA3_RATE, 30, model)
    best = g.effective_training_time(checkpoint_interval_s=tau, **kw)
    assert best > g.effective_training_time(checkpoint_interval_s=0.5 * tau, **kw)
    assert best > g.effective_training_time(checkpoint_interval_s=2.0 * tau, **kw)
    assert best == pytest.approx(g.effective_training_time(**kw))   # None -> optimum


# ------------------------------------------------------------------ effective time and factors
def test_daly_factors_hand_computed():
    # M = 1 h (1 GPU at 1 per hour), delta = 60 s, R = 300 s, tau = 600 s
    f = g.runtime_factors(1, 1.0, 60, 300, 600)
    assert f["checkpoint"] == pytest.approx(600 / 660)
    x = 660 / 3600
    assert f["lost_work"] == pytest.approx(x / math.expm1(x))
    assert f["restart"] == pytest.approx(math.exp(-300 / 3600))
    assert f["planned_maintenance"] == 1.0
    total = g.effective_training_time(1, 1.0, 60, 300, 600)
    assert total == pytest.approx(600 / (3600 * math.exp(300 / 3600) * math.expm1(660 / 3600)))
    young = g.runtime_factors(1, 1.0, 60, 300, 600, model="young")
    assert young["lost_work"] == pytest.approx(1 - x / 2)
    assert young["restart"] == pytest.approx(1 - 300 / 3600)


def test_more_gpus_never_more_effective_time():
    gpus = np.geomspace(64, 1e6, 60)
    for model in g.MODELS:
        ett = g.effective_training_time(gpus, LLAMA3_RATE, 30, 600, planned_interruptions_per_day=0.87, model=model)
        assert np.all(np.diff(ett) <= 1e-12)
        assert np.all((ett >= 0) & (ett <= 1))


def test_scheduling_goodput_hand_computed():
    assert g.scheduling_goodput(0.1, 0.05, 0.02) == pytest.approx(0.9 * 0.95 * 0.98)
    np.testing.assert_allclose(g.scheduling_goodput(np.array([0, 0.5]), 0, 0), [1, 0.5])
    with pytest.raises(InputError, match="spare_fraction"):
        g.scheduling_goodput(1.2, 0, 0)


def test_planned_maintenance_fraction():
    # 0.87 stops/day x (10 s + 600 s) / 86,400 s
    assert g.planned_maintenance_fraction(0.87, 10, 600) == pytest.approx(0.87 * 610 / 86400)


# ------------------------------------------------------------------ simulation
def test_simulation_matches_analytic_when_interval_much_shorter_than_mtbf(defaults):
    rate, d, r = LLAMA3_RATE, 30.0, 600.0
    for gpus in (2048, 16384):
        tau = g.optimal_checkpoint_interval_s(gpus, rate, d)
        sim = g.simulate_effective_time(gpus, rate, d, r, tau, horizon_h=24 * 21, n_runs=100, seed=1)
        for model in g.MODELS:
            assert abs(sim.mean - g.effective_training_time(gpus, rate, d, r, tau, model=model)) < 0.02
    assert sim.to_dict()["runs"] == 100 and "effective training time" in sim.summary()


def test_simulation_shows_first_order_breakdown_near_restart_time():
    # 230k GPUs at the Llama 3 rate: job MTBF ~13 min, close to the 10 min restart
    df = g.analytic_vs_simulated([230_000], LLAMA3_RATE, 10, 600, horizon_h=24 * 7, n_runs=40, seed=3)
    row = df.iloc[0]
    assert row["mtbf_over_restart"] < 2
    assert abs(row["daly_minus_simulated_pts"]) < 2          # the complete model still holds
    assert row["young_minus_simulated_pts"] < -5             # first order breaks down


def test_simulation_reproducible_with_seed():
    a = g.simulate_effective_time(50_000, LLAMA3_RATE, 20, 600, None, horizon_h=24 * 7, n_runs=30, seed=42)
    b = g.simulate_effective_time(50_000, LLAMA3_RATE, 20, 600, None, horizon_h=24 * 7, n_runs=30, seed=42)
    c = g.simulate_effective_time(50_000, LLAMA3_RATE, 20, 600, None, horizon_h=24 * 7, n_runs=30, seed=43)
    np.testing.assert_array_equal(a.effective_time, b.effective_time)
    assert not np.array_equal(a.effective_time, c.effective_time)
    # chunking over runs does not change the draws' use within a chunk size
    shares = a.checkpoint_fraction + a.restart_fraction + a.lost_fraction + a.effective_time
    np.testing.assert_allclose(shares, 1.0)
    assert np.all(a.lost_fraction >= -1e-12)


def test_reliability_table_sourced():
    table = g.load_reliability()
    assert table.loc["llama3-405b-unexpected", "interruptions"] == 419
    assert table["source"].str.strip().str.len().min() > 10
    pub = g.published_interruptions(table)
    assert pub["interruptions_per_day"].gt(0).all()


# ------------------------------------------------------------------ the v2 model, part by part
def test_factor_names_product_and_split(defaults):
    result = g.from_scenario_values(defaults, np.array([1024, 16384, 100_000, 230_000]))
    assert list(result.factors) == list(g.FACTOR_NAMES)
    stacked = np.array([result.factors[k] for k in result.factors])
    assert np.all((stacked > 0) & (stacked <= 1))
    np.testing.assert_allclose(stacked.prod(axis=0), result.total)
    np.testing.assert_allclose(result.effective_training_time * result.scheduling_goodput, result.total)
    runtime = result.runtime_factors()
    assert set(runtime) == set(g.RUNTIME_FACTORS)
    np.testing.assert_allclose(np.prod([runtime[k] for k in runtime], axis=0), result.effective_training_time)
    assert np.all(np.diff(result.effective_training_time) < 0)     # bigger jobs lose more
    assert "effective training time" in g.from_scenario_values(defaults, 16384).summary()
    assert "<table>" in g.from_scenario_values(defaults, 16384)._repr_html_()


def test_hand_computed_sync_job(defaults):
    """One 16,384-GPU H100 job, every part by hand (Daly complete model)."""
    v = simple(defaults)
    r = g.from_scenario_values(v, 16384, job_from_cluster=False, model_parameters=100e9)
    size = 100e9 * v["checkpoint_bytes_per_param"]
    assert r.checkpoint_bytes == pytest.approx(size)
    delta = v["checkpoint_fixed_s"] + size / (v["storage_write_gb_s"] * 1e9)
    assert r.checkpoint_write_s == pytest.approx(delta)
    lam = v["interruption_rate_per_gpu_hour"] / (1 + 0)            # no early life: m(t) = 1
    m = 3600 / (16384 * lam)
    assert r.job_mtbf_h * 3600 == pytest.approx(m)
    assert r.interruptions_per_day == pytest.approx(16384 * lam * 24)
    tau = g.young_daly_interval_s(delta, m, "exact")
    assert r.checkpoint_interval_s == pytest.approx(tau)
    stall = {"detection": 0.9 * v["heartbeat_detection_s"] + 0.1 * v["hang_timeout_s"],
             "node_swap": v["hot_spare_swap_s"] * float(r.p_hot_spare) + v["repair_wait_s"] * (1 - float(r.p_hot_spare)),
             "reinitialization": v["restart_s"], "checkpoint_restore": size / (v["storage_read_gb_s"] * 1e9),
             "warm_up": v["warmup_s"]}
    for k, s in stall.items():
        assert r.stall_s[k] == pytest.approx(s), k
        assert r.factors[k] == pytest.approx(math.exp(-s / m)), k
    x = (tau + delta) / m
    assert r.factors["checkpoint_save"] == pytest.approx(tau / (tau + delta))
    assert r.factors["lost_work"] == pytest.approx(x / math.expm1(x))
    # the product is Daly's complete expression tau / (M e^{R/M} (e^{(tau+delta)/M} - 1))
    total_r = sum(stall.values())
    assert r.effective_training_time == pytest.approx(tau / (m * math.exp(total_r / m) * math.expm1(x)))


def test_reinitialization_grows_with_job_size(defaults):
    v = simple(defaults, reinit_growth_exponent=0.5)
    r = g.from_scenario_values(v, np.array([16384, 65536]), job_from_cluster=False)
    np.testing.assert_allclose(r.stall_s["reinitialization"], [v["restart_s"], 2 * v["restart_s"]])
    flat = g.from_scenario_values(dict(v, reinit_growth_exponent=0.0), np.array([16384, 65536]), job_from_cluster=False)
    np.testing.assert_allclose(flat.stall_s["reinitialization"], v["restart_s"])


def test_spares_shorten_the_swap():
    # no spares: always wait for repair; P(spare) = P(Poisson(a) <= S - 1)
    assert g.recovery.hot_spare_probability(0, 1.0, 24) == 0.0
    assert g.recovery.hot_spare_probability(30, 1.0, 24) == pytest.approx(poisson.cdf(29, 24))
    p = np.asarray(g.recovery.hot_spare_probability(np.array([5, 20, 60]), 1.0, 24))
    assert np.all(np.diff(p) > 0)
    swap = np.asarray(g.recovery.node_swap_s(p, 120, 3600))
    assert np.all(np.diff(swap) < 0) and swap[-1] == pytest.approx(120, rel=0.01)


def test_detection_mixes_heartbeat_and_hang_timeout():
    assert g.recovery.detection_s(30, 0.1, 600) == pytest.approx(0.9 * 30 + 0.1 * 600)
    assert g.recovery.detection_s(30, 0.0, 600) == 30


def test_gpu_type_and_system_rates(defaults):
    table = g.load_failure_rates()
    assert set(table["system"]) <= {"hgx8", "nvl72"} and table["source"].str.len().min() > 20
    assert g.gpu_profile("GB200", 1.25)["rate_multiplier"] == pytest.approx(1.25 * table.loc["GB200", "rate_multiplier"])
    assert g.gpu_profile("GB200")["domain_gpus"] == 72 and g.gpu_profile("H100")["gpus_per_node"] == 8
    mix = g.gpu_profile({"H100": 150_000, "GB200": 50_000}, 2.0)
    assert mix["rate_multiplier"] == pytest.approx(0.75 * 1.0 + 0.25 * 2.0)
    h100 = g.from_scenario_values(defaults, 72_000, job_from_cluster=False, gpu_mix="H100")
    gb200 = g.from_scenario_values(defaults, 72_000, job_from_cluster=False, gpu_mix="GB200")
    assert gb200.interruptions_per_day == pytest.approx(h100.interruptions_per_day * defaults["nvl72_rate_multiplier"])
    # A100 (Kokolis RSC-1) fails more often per GPU than Llama 3's H100 at the same age
    a100 = g.from_scenario_values(defaults, 72_000, job_from_cluster=False, gpu_mix="A100")
    assert a100.interruptions_per_day > 2 * h100.interruptions_per_day
    with pytest.raises(InputError, match="gpu: 'X100'"):
        g.gpu_profile("X100")


def test_early_life_elevation_decays_and_reference_age_reproduces_rate(defaults):
    m = np.asarray(g.early_life_multiplier(np.array([0, 3, 6, 120]), 3.0, 3.0))
    np.testing.assert_allclose(m[:3], [4.0, 1 + 3 / math.e, 1 + 3 / math.e ** 2])
    assert m[3] == pytest.approx(1.0) and np.all(np.diff(m) < 0)
    # at the reference age the fleet rate is the measured reference rate
    assert g.fleet_rate_per_gpu_hour(LLAMA3_RATE, 6, 6, 3, 3) == pytest.approx(LLAMA3_RATE)
    new = g.fleet_rate_per_gpu_hour(LLAMA3_RATE, 0, 6, 3, 3)
    assert new == pytest.approx(LLAMA3_RATE * 4 / (1 + 3 / math.e ** 2))


def test_kokolis_scaling_mttf_inverse_in_nodes(defaults):
    v = simple(defaults)
    r = g.from_scenario_values(v, np.array([1024, 16384, 131072]), job_from_cluster=False, gpu_mix="A100")
    mttf = np.asarray(r.job_mtbf_h)
    np.testing.assert_allclose(mttf[0] / mttf, [1, 16, 128])
    # r_f round trip: per 1,000 node-days <-> per GPU-hour
    assert g.per_gpu_rate_from_node_rate(g.node_failure_rate_per_1000_node_days(1e-5, 8), 8) == pytest.approx(1e-5)


def test_correlated_domain_failures_add_interruptions(defaults):
    base = g.from_scenario_values(simple(defaults), 72_000, job_from_cluster=False, gpu_mix="GB200")
    corr = g.from_scenario_values(simple(defaults, domain_failures_per_1000_domain_days=2.0), 72_000,
                                  job_from_cluster=False, gpu_mix="GB200")
    assert corr.interruptions_per_day - base.interruptions_per_day == pytest.approx(1000 * 2.0 / 1000)


def test_async_checkpoint_blocks_less_and_waits_for_persist(defaults):
    v = simple(defaults)
    sync = g.from_scenario_values(v, 100_000, job_from_cluster=False)
    asyn = g.from_scenario_values(v, 100_000, job_from_cluster=False, checkpoint_mode="async")
    assert asyn.checkpoint_write_s < sync.checkpoint_write_s
    assert asyn.factors["checkpoint_save"] > sync.factors["checkpoint_save"]
    assert asyn.effective_training_time > sync.effective_training_time
    assert asyn.checkpoint_interval_s >= asyn.checkpoint_persist_s
    size = float(asyn.checkpoint_bytes)
    assert asyn.checkpoint_write_s == pytest.approx(v["checkpoint_fixed_s"] + size / (100_000 * v["snapshot_gb_s_per_gpu"] * 1e9))
    # very slow storage: the background write, not the optimum, sets the interval
    slow = g.from_scenario_values(dict(v, storage_write_gb_s=5), 100_000, job_from_cluster=False, checkpoint_mode="async")
    assert slow.checkpoint_interval_s == pytest.approx(size / 5e9)


def test_user_interval_and_restart_override(defaults):
    r = g.from_scenario_values(defaults, 16384, job_from_cluster=False, checkpoint_interval_s=1800, restart_s=900)
    assert r.checkpoint_interval_s == 1800 and r.interval_source == "user input"
    assert r.restart_s == pytest.approx(900) and sum(r.stall_s.values()) == pytest.approx(900)
    opt = g.from_scenario_values(defaults, 16384, job_from_cluster=False, restart_s=900)
    assert opt.effective_training_time > r.effective_training_time        # the optimum beats 30 min here


def test_badput_factors_hand_computed():
    f = g.badput_factors(100_000, rollbacks_per_million_gpu_hours=0.5, rollback_lost_h=2, data_loading_stall_fraction=0.01,
                         manual_interventions_per_day=0.1, manual_intervention_h=3, queueing_fraction=0.02)
    assert f["rollbacks"] == pytest.approx(1 - 0.5 * 0.1 * 2)
    assert f["data_loading"] == pytest.approx(0.99)
    assert f["manual_interventions"] == pytest.approx(1 - 0.1 * 3 / 24)
    assert f["queueing"] == pytest.approx(0.98)
    assert set(g.BUCKETS) >= set(g.FACTOR_NAMES)


def test_checkpoint_size_from_models_yaml():
    assert g.model_parameters("llama3-405b") == pytest.approx(405e9, rel=0.01)
    assert g.checkpoint_bytes(405e9, 14) == pytest.approx(5.67e12)
    assert g.model_parameters("grok-1") == pytest.approx(314e9, rel=0.03)


def test_draws_broadcast_and_cluster_job(defaults):
    rng = np.random.default_rng(0)
    draws = dict(defaults, interruption_rate_per_gpu_hour=rng.uniform(1.7e-5, 2.2e-5, 500),
                 restart_s=rng.uniform(60, 600, 500), spare_fraction=rng.uniform(0, 0.1, 500))
    r = g.from_scenario_values(draws, 230_000)
    assert np.shape(r.effective_training_time) == (500,) and np.shape(r.job_gpus) == (500,)
    np.testing.assert_allclose(r.job_gpus, 230_000 * r.scheduling_goodput)
    prefixed = g.from_scenario_values({f"goodput.{k}": x for k, x in draws.items()} | {"job.model": "x"}, 230_000)
    np.testing.assert_allclose(prefixed.effective_training_time, r.effective_training_time)


def test_bad_inputs_raise_one_line_input_error(defaults):
    with pytest.raises(InputError, match="checkpoint_write_s"):
        g.young_daly_interval_s(-1, 100)
    with pytest.raises(InputError, match="method"):
        g.young_daly_interval_s(1, 100, "bogus")
    with pytest.raises(InputError, match="gpus"):
        g.from_scenario_values(defaults, 0)
    with pytest.raises(InputError, match="n_runs"):
        g.simulate_effective_time(1000, LLAMA3_RATE, 10, 600, n_runs=0)
    with pytest.raises(InputError, match=r"goodput\.rate_reference_months_in_service: missing"):
        g.from_scenario_values({"interruption_rate_per_gpu_hour": 1e-5}, 1000)
    with pytest.raises(InputError, match="checkpoint_mode"):
        g.from_scenario_values(defaults, 1000, checkpoint_mode="sometimes")


def test_scenario_override_out_of_range_names_key():
    from analysis.scenario import parse_scenario
    with pytest.raises(InputError, match=r"goodput\.spare_fraction"):
        parse_scenario({"cluster": "llama3-16k", "goodput": {"spare_fraction": 0.9}})
    with pytest.raises(InputError, match=r"goodput\.interruption_rate_per_gpu_hour"):
        parse_scenario({"cluster": "llama3-16k", "goodput": {"interruption_rate_per_gpu_hour": -1}})
    with pytest.raises(InputError, match=r"goodput\.bogus"):
        parse_scenario({"cluster": "llama3-16k", "goodput": {"bogus": 1}})
    with pytest.raises(InputError, match=r"goodput\.checkpoint_mode"):
        parse_scenario({"cluster": "llama3-16k", "goodput": {"checkpoint_mode": "never"}})


def test_chain_consumes_all_runtime_factors():
    """utilization.chain carries every runtime factor as 'goodput: <name>'; their product is the job's ETTR."""
    from analysis import utilization
    from analysis.scenario import load_scenario

    r = utilization.point(load_scenario("colossus2"))
    chain = np.prod([v for k, v in r.factors.items() if k.startswith("goodput:")])
    assert chain == pytest.approx(float(r.goodput.effective_training_time))
    assert float(r.goodput.job_gpus) == pytest.approx(r.largest_job_gpus)
    assert r.largest_job_gpus <= 131072                  # the scenario's job.max_job_gpus, not the whole cluster


def test_spare_pool_sets_the_swap_in_the_full_model(defaults):
    """Without any hot spare every failure waits for a repair; the cluster's spares (spare_fraction) fix that."""
    none = g.from_scenario_values(dict(defaults, spare_fraction=0.0, shared_spare_fraction=0.0), 100_000)
    some = g.from_scenario_values(dict(defaults, spare_fraction=0.03, shared_spare_fraction=0.0), 100_000)
    assert none.p_hot_spare == 0.0 and none.stall_s["node_swap"] == pytest.approx(defaults["repair_wait_s"])
    assert some.p_hot_spare > 0.99 and some.stall_s["node_swap"] == pytest.approx(defaults["hot_spare_swap_s"], rel=0.02)
    assert some.effective_training_time > none.effective_training_time + 0.2


def test_async_restore_from_host_memory_is_faster(defaults):
    sync = g.from_scenario_values(defaults, 16384, job_from_cluster=False)
    asyn = g.from_scenario_values(defaults, 16384, job_from_cluster=False, checkpoint_mode="async")
    assert asyn.stall_s["checkpoint_restore"] < sync.stall_s["checkpoint_restore"]
    assert sync.stall_s["checkpoint_restore"] == pytest.approx(float(sync.checkpoint_bytes) / (defaults["storage_read_gb_s"] * 1e9))


def test_planned_stop_costs_a_sync_save_and_restart_without_detection(defaults):
    v = dict(simple(defaults), planned_interruptions_per_day=2.0)
    r = g.from_scenario_values(v, 16384, job_from_cluster=False)
    planned = r.stall_s["reinitialization"] + r.stall_s["checkpoint_restore"] + r.stall_s["warm_up"] + r.checkpoint_write_s
    assert r.factors["planned_maintenance"] == pytest.approx(1 - 2.0 * planned / 86400)
