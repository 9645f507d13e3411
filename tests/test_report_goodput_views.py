"""The view functions behind notebooks/21_goodput.ipynb: hand-built inputs, hand-computed figures."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.report import goodput as view


@pytest.fixture(scope="module")
def colossus1():
    from analysis.scenario import load_scenario

    sc = load_scenario("colossus1")
    return sc, sc.values("goodput")


def _islands_job():
    """Three jobs, the largest (4,000 GPUs) second; the whole cluster as one job for contrast."""
    gp = SimpleNamespace(
        job_gpus=np.array([1000.0, 4000.0, 2000.0]), gpus=np.array([1000.0, 4000.0, 2000.0]),
        interruptions_per_day=np.array([1.0, 2.5, 1.5]), planned_interruptions_per_day=np.array([0.1, 0.2, 0.1]),
        mean_time_to_interruption_h=np.array([20.0, 0.5, 10.0]), restart_s=np.array([300.0, 900.0, 600.0]),
        checkpoint_interval_s=np.array([600.0, 1500.0, 900.0]), checkpoint_mode="async", interval_source="optimal",
        effective_training_time=np.array([0.95, 0.9, 0.93]),
        runtime_factors=lambda: {"lost_work": np.array([0.99, 0.97, 0.98]), "restart": np.array([0.98, 0.96, 0.97])})
    job = {"result": gp, "effective_training_time": 0.912, "effective_training_time_p05": 0.85,
           "effective_training_time_p95": 0.95, "job_gpus": 4000.0, "jobs": 3.0, "interruptions_per_day": 5.0,
           "checkpoint_interval_min": 25.0, "scheduling_goodput": 0.97}
    whole = SimpleNamespace(effective_training_time=np.float64(0.1), job_mtbf_h=np.float64(0.25), job_gpus=np.float64(6790.0))
    sc = SimpleNamespace(label="Test *cluster*", cluster=SimpleNamespace(gpus=7000))
    return sc, job, whole


def test_simulation_settings_and_draws():
    assert view.simulation_settings(True) == (30, 168, 6)
    assert view.simulation_settings(False) == (200, 672, 11)
    assert (view.sensitivity_draws(True), view.sensitivity_draws(False)) == (200, 2000)


def test_largest_job_picks_the_largest_jobs_entry():
    _, job, _ = _islands_job()
    gp = job["result"]
    assert view.largest_job_index(gp) == 1
    assert view.largest_job_value(gp, gp.restart_s) == 900.0
    one = SimpleNamespace(job_gpus=5.0)                     # one job: scalars pass through
    assert view.largest_job_index(one) == 0 and view.largest_job_value(one, 7) == 7.0
    assert view.largest_job_factors(gp) == {"lost_work": 0.97, "restart": 0.96}


def test_answer_first_and_record_use_the_largest_job():
    sc, job, whole = _islands_job()
    text = view.answer_first(sc, job, whole).data
    assert text.startswith(r"**Test \*cluster\*: the scenario's synchronous jobs keep 91.2% of their wall-clock time")
    assert "time for training, weighted by their useful FLOPs** (5-95% over the sourced ranges: 85.0% to 95.0%)" in text
    assert "3 job(s), the largest on 4,000 GPUs" in text and "most likely value" not in text   # 91.2% lies inside its band
    # the largest job: 2.5 unplanned, 0.2 planned a day, MTTI 0.5 h = 30 min, stall 900 s = 15 min, interval 25 min
    assert "The largest is interrupted 2.50 times a day without plan and 0.200 times with plan" in text
    assert "(mean time to interruption 30.0 min), with a stall of 15.0 min per failure" in text
    assert "a async checkpoint every 25.0 min (optimal)." in text
    # the whole cluster: 10% kept, MTBF 0.25 h = 15 min
    assert "all 7,000 GPUs the cluster would keep only 10.0%: a job that size fails every 15.0 min." in text
    record = view.job_record(job, whole)
    assert record["largest_job_interruptions_per_day"] == 2.5
    assert record["largest_job_checkpoint_interval_min"] == pytest.approx(25.0)
    assert record["stall_min"] == pytest.approx(15.0)
    assert record["whole_cluster_effective_training_time"] == pytest.approx(0.1)
    assert view.waterfall_title(sc, job) == "Test *cluster*: effective training time of the largest 4,000-GPU job"


def test_answer_first_for_one_job_says_it():
    sc, job, whole = _islands_job()
    text = view.answer_first(sc, dict(job, jobs=1.0), whole).data
    assert "synchronous job keeps 91.2% of its wall-clock time for training** (5-95%" in text
    assert " It is interrupted " in text
    assert view.waterfall_title(sc, dict(job, jobs=1.0)).endswith("effective training time of the 4,000-GPU job")
    assert "the cluster would keep only 10.0%" in text


def test_a_job_that_spans_the_cluster_is_not_contrasted_with_itself():
    """Colossus 1 as operated runs one job on the whole cluster (less spares, repair, fragmentation): the contrast
    would repeat the job's own figure, so the paragraph says the job already spans the cluster."""
    sc, job, whole = _islands_job()
    text = view.answer_first(sc, dict(job, jobs=1.0), SimpleNamespace(**{**vars(whole), "job_gpus": 4000.0})).data
    assert "The job already spans the whole cluster (7,000 GPUs less spares, nodes in repair and fragmentation)" in text
    assert "fails every 15.0 min" in text and "would keep only" not in text


def test_validation_paragraph_counts_and_gaps():
    validation = pd.DataFrame({"model": [0.93, 0.45, np.nan], "within": [True, True, False],
                               "ettr_gap_pts": [np.nan, np.nan, -3.2]},
                              index=["llama3-ettr", "meta-100k-ettr", "rsc1-1k-mttf"])
    text = view.validation_paragraph(validation, mature=0.612).data
    assert "2 of 3 figures fall in their accepted range" in text
    assert "comes out at 93.0% (published: more than 90%)" in text
    assert "comes out at 45.0% against the published 44%" in text
    assert "on a mature fleet would keep 61.2%" in text
    assert text.endswith("changes effective training time by +3.2 pts.")


def test_simulation_title_and_paragraph():
    sc = SimpleNamespace(label="X")
    assert view.simulation_title(sc, 30, 168) == "Effective training time vs job size (X; 30 simulated runs of 7.00 days)"
    simulated = pd.DataFrame({"analytic_minus_simulated_pts": [-0.31, 0.12, 0.05]})
    assert "agrees with the analytic model within +0.31 pts at every size" in view.simulation_paragraph(simulated).data


def test_checkpoint_modes_table(colossus1):
    _, values = colossus1
    table = view.checkpoint_modes_table(values, 16384)
    assert list(table.columns) == ["sync", "async"]
    assert list(table.index) == ["effective training time", "blocking write (s)", "interval (min)",
                                 "checkpoint size (TB)", "checkpoint save factor", "lost work factor"]
    # the same checkpoint either way; an asynchronous snapshot blocks for less time than a synchronous write
    assert table.loc["checkpoint size (TB)", "sync"] == table.loc["checkpoint size (TB)", "async"]
    assert float(table.loc["blocking write (s)", "async"]) < float(table.loc["blocking write (s)", "sync"])
    assert all(v.endswith("%") and len(v.split(".")[1]) == 3 for v in table.loc["checkpoint save factor"])


def test_fleet_age_table(colossus1):
    _, values = colossus1
    table = view.fleet_age_table(values, 16384, months=[1, 6, 24])
    assert list(table.columns) == ["1 months", "6 months", "24 months"]
    assert list(table.index) == ["16,384-GPU cluster share, H100 rates"]
    kept = [float(v.rstrip("%")) for v in table.iloc[0]]
    assert kept == sorted(kept) and kept[0] < kept[-1]      # early-life failures fade as the fleet ages


def test_rank_correlation_sorted_by_absolute_value(colossus1):
    sc, values = colossus1
    corr = view.goodput_rank_correlation(sc, values, 16384, 60)
    assert len(corr) >= 3 and set(corr.index) <= set(values)
    assert list(corr.abs()) == sorted(corr.abs(), reverse=True)
    assert corr.abs().max() <= 1


def test_rank_correlation_sentence_and_table():
    corr = pd.Series({"months_in_service": 0.61, "planned_interruptions_per_day": -0.374,
                      "early_life_decay_months": -0.2, "nvl72_rate_multiplier": 0.01})
    text = view.rank_correlation_sentence(corr).data
    assert "(Spearman +0.61)" in text and "(-0.37) and" in text and text.endswith("(-0.20).")
    assert view.label("goodput.planned_interruptions_per_day").lower() in text
    table = view.rank_correlation_table(corr, rows=2)
    frame = table.to_frame()
    assert list(frame.iloc[:, 0]) == ["+0.61", "-0.37"]
    assert list(frame.columns) == ["Spearman rank correlation"]


def test_answer_first_explains_a_central_value_above_its_band():
    """Llama 3 405B on 16k H100 reads 92.2% (86.4% to 91.6%): every input at its most likely value, most draws worse."""
    sc, job, whole = _islands_job()
    text = view.answer_first(sc, dict(job, effective_training_time=0.922, effective_training_time_p05=0.864,
                                      effective_training_time_p95=0.916), whole).data
    assert "(5-95% over the sourced ranges: 86.4% to 91.6%). A central value sets every parameter at its most likely" in text
    assert "it can lie outside its own 5-95% range: here the effective training time. This is the job definition" in text


def test_the_whole_cluster_contrast_uses_the_jobs_facts():
    """The contrast and the curve take the job's GPU mix and model (its failure rates and checkpoint size), so on
    Colossus 1, whose one job spans the cluster, the whole cluster as one job is the scenario's job: 35%, not the
    43% of an HGX H100 cluster checkpointing Llama 3 405B that the contrast used to show."""
    from analysis import goodput
    from analysis.scenario import load_scenario
    sc = load_scenario("colossus1")
    facts = view.scenario_facts(sc)
    assert facts["gpu_mix"] == {"H100": 150_000.0, "H200": 50_000.0, "GB200": 30_000.0}
    assert facts["model_parameters"] == pytest.approx(goodput.model_parameters("frontier-moe-3t"))
    whole = goodput.from_scenario_values(sc.values("goodput"), sc.cluster.gpus, **facts)
    job = view.scenario_job("colossus1", quick=True)
    assert float(whole.effective_training_time) == pytest.approx(job["effective_training_time"], rel=1e-6)
    plain = goodput.from_scenario_values(sc.values("goodput"), sc.cluster.gpus)
    assert float(plain.effective_training_time) > job["effective_training_time"] + 0.05
