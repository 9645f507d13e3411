"""The answer-first paragraph of notebooks/01_executive_summary.ipynb (analysis.report.executive) and the
board brief's utilization sentence, on hand-built results: xAI's reported figure is a whole-fleet MFU, so it is
set against the fleet draws where the scenario models the fleet, and against nothing where it does not."""
from __future__ import annotations

from types import SimpleNamespace

from analysis import catalog
from analysis.report import brief
from analysis.report import format as F
from analysis.report import fleet as fleet_view
from analysis.report.executive import ExecutiveSummary

JOB = {"value": 0.064, "p05": 0.031, "p95": 0.079, "denominator": "bf16 dense", "observed": 0.11,
       "share_at_or_below_observed": 1.0, "largest_job_gpus": 216_452, "split": "uniform",
       "value_fp8_dense": 0.032, "value_fp8_dense_p05": 0.016, "value_fp8_dense_p95": 0.039,
       "job": {"cluster": "colossus2"}}
FLEET = {"fleet": "xai", "as_of": "2026-04", "gpus": 520_000, "value_bf16_dense": 0.102, "p05": 0.058, "p95": 0.119,
         "value_fp8_dense": 0.051, "fp8_p05": 0.029, "fp8_p95": 0.059,
         "share_at_or_below_observed": 0.88, "share_at_or_below_observed_fp8": 1.0}
GOODPUT = {"effective_training_time": 0.35, "interruptions_per_day": 79.0}


def _summary(fleet: dict, cluster_id: str = "colossus2") -> ExecutiveSummary:
    d = {"utilization": JOB, "goodput": GOODPUT, "fleet": fleet, "economics": {}}
    sc = SimpleNamespace(title="Test cluster as planned", cluster=SimpleNamespace(id=cluster_id, name="Test cluster"))
    return ExecutiveSummary(sc, SimpleNamespace(to_dict=lambda: d))


def test_reported_figure_is_set_against_the_fleet_draws_not_the_job():
    text = _summary(FLEET).answer()
    assert ("the model puts xAI's whole fleet, with all its workloads, at **10.2%** of the BF16 dense peak "
            "(5-95%: 5.8% to 11.9%) and the scenario's training job at 6.4% of the BF16 dense peak "
            "(5-95%: 3.1% to 7.9%)") in text
    assert "xAI's reported 11%, an MFU over the whole fleet with its peak unstated, falls at the 88% quantile" in text
    assert "100% quantile" not in text and "bf16" not in text          # the job's quantile (1.0) is not the comparison


def test_without_a_fleet_the_reported_figure_is_not_compared():
    text = _summary({"fleet": "none"}).answer()
    assert "the model gives **6.4%** of the BF16 dense peak (5-95%: 3.1% to 7.9%) without being fitted" in text
    assert "xAI's reported 11% is an MFU over xAI's whole fleet, which this scenario does not model" in text
    assert "quantile" not in text and "concerns Colossus 1" not in text


def test_brief_sentence_compares_only_against_a_fleet():
    d = {"title": "T", "utilization": JOB, "fleet": FLEET}
    assert "sits at the 88% quantile of the fleet draws, without fitting the model to it." in \
        brief.why_utilization_is_low("t", d)[0]
    alone = brief.why_utilization_is_low("t", {"title": "T", "utilization": JOB, "fleet": {"fleet": "none"}})[0]
    assert "quantile" not in alone and alone.endswith("which this scenario does not model, so it is not compared.")


def test_job_quantile_column_only_beside_the_fleet():
    alone = fleet_view.side_by_side({"utilization": JOB, "fleet": {"fleet": "none"}})
    assert "reported 11% at quantile" not in alone.columns
    both = fleet_view.side_by_side({"utilization": JOB, "fleet": FLEET})
    assert both["reported 11% at quantile"].tolist() == ["100%", "88% (BF16), 100% (FP8)"]


def test_published_models_have_reader_names():
    """A scenario that trains a published model shows its name, never its id (data/models.yaml)."""
    names = {m: catalog.model(m).get("name") for m in catalog.load_models()}
    assert all(names.values()), [m for m, n in names.items() if not n]
    assert names["llama3-405b"] == "Llama 3 405B (dense)"


def test_islands_interruptions_add_up_over_their_jobs():
    d = {"utilization": {"split": "islands", "largest_job_gpus": 141_164.1},
         "goodput": {"interruptions_per_day": 79.4, "effective_training_time": 0.625}}
    assert brief.interruption_sentence(d) == (
        "Each GPU type trains its own synchronous job (the largest on 141,164 GPUs); between them they are interrupted "
        "about 79 times a day and spend only 62% of their time making progress (weighted by their useful FLOPs).")
    one = dict(d, utilization={"split": "uniform", "largest_job_gpus": 16_384})
    assert brief.interruption_sentence(one) == ("One synchronous job on 16,384 GPUs is interrupted about 79 times a day, "
                                                "so it spends only 62% of its time making progress.")
    assert brief.interruption_sentence({"utilization": {}, "goodput": {}}) == ""


def test_a_central_value_outside_its_band_is_explained_where_it_happens():
    inside = {"title": "A (x)", "goodput": {"effective_training_time": 0.9, "effective_training_time_p05": 0.8,
                                            "effective_training_time_p95": 0.95}}
    outside = {"title": "B (y)", "goodput": {"effective_training_time": 0.92, "effective_training_time_p05": 0.86,
                                             "effective_training_time_p95": 0.916}}
    assert brief.outside_note({"a": inside}) == ""
    note = brief.outside_note({"a": inside, "b": outside})
    assert note.startswith("A central value sets every parameter at its most likely value.")
    assert note.endswith("its own 5-95% range: here effective training time (B).")
    assert F.outside_band(0.92, 0.86, 0.916) and not F.outside_band(0.92, None, 0.916)
