"""21_goodput shows the scenario's JOB effective training time, the one the utilization chain and
``evaluate`` use (job size capped by ``job.max_job_gpus``), never the whole cluster as one job."""
import pytest

from analysis.results import scenario_results


@pytest.fixture(scope="module")
def colossus2_report(tmp_path_factory):
    from analysis import reports

    out = tmp_path_factory.mktemp("goodput_reports")
    results = reports.run_reports(["colossus2"], out_dir=out, jobs=1, notebooks=["21_goodput"],
                                  extra_parameters={"quick": True}, timeout_s=600, echo=lambda *a, **k: None)
    assert len(results) == 1
    return results[0]


def test_21_goodput_uses_the_scenarios_job(colossus2_report):
    r = colossus2_report
    assert r.status == "ok", r.error
    m = r.metrics
    section = scenario_results("colossus2", quick=True).sections["goodput"]
    point = scenario_results("colossus2", quick=True).details["utilization"]
    assert m["effective_training_time"] == pytest.approx(section["effective_training_time"], rel=1e-9)
    assert m["job_gpus"] == pytest.approx(point.largest_job_gpus, rel=1e-9)
    assert m["job_gpus"] <= 131072                              # colossus2's job.max_job_gpus, not 517k GPUs
    assert m["effective_training_time"] > 0.45                  # the 129k-GPU job, not the ~10% of one 517k-GPU job
    assert m["whole_cluster_effective_training_time"] < m["effective_training_time"]
