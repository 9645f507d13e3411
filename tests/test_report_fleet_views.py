"""The sentences, titles and small tables of notebooks/20_utilization.ipynb (analysis.report.fleet),
each checked against hand-built inputs with hand-computed figures."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from analysis.report import fleet as view

OBSERVED = {"value": 0.11, "date": "2026-04", "basis": "MFU over recent weeks, denominator unstated"}


def _job(**over):
    u = {"job": {"largest_job_gpus": 100_000, "model": "llama3-405b", "global_batch_tokens": 16e6},
         "split": "uniform", "value": 0.1, "p05": 0.08, "p95": 0.12, "denominator": "bf16 dense", "draws": 2000,
         "largest_job_gpus": 100_000, "share_at_or_below_observed": 0.9}
    u.update(over)
    return u


FACTORS = {"straggler tail": 0.9, "pacing by slowest GPU type": 0.5, "aware planning": 0.8, "split granularity": 0.95}
FLEET = {"gpus": 550_000, "as_of": "2026-03", "value_bf16_dense": 0.12, "p05": 0.09, "p95": 0.15,
         "value_fp8_dense": 0.06, "fp8_p05": 0.045, "fp8_p95": 0.075,
         "share_at_or_below_observed": 0.4, "share_at_or_below_observed_fp8": 1.0}


def test_answer_first_names_the_job_its_band_and_its_three_largest_losses():
    sc = SimpleNamespace(title="Test cluster as operated", label="Test cluster")
    result = SimpleNamespace(factors=FACTORS)
    text = view.answer_first(sc, result, _job(), {"fleet": "none"}, OBSERVED, has_fleet=False).data
    assert text.startswith("**Test cluster as operated.** The scenario's training job (100,000 GPUs, uniform split, ")
    assert "global batch 16.0M tokens) turns **10.0% (8.0% to 12.0%)** of the BF16 dense peak" in text
    assert "(5-95% over 2,000 draws)" in text
    # the three smallest factors, smallest first; split granularity (0.95) is not among them
    assert ("The largest losses: Pacing by the slowest GPU type ×0.50; Aware planning on the cross-type share ×0.80; "
            "Straggler tail beyond the calibration runs' scale ×0.90. ") in text
    assert "Split granularity" not in text
    assert text.endswith("\n\nThis scenario models no fleet: only the job is shown.")


def test_answer_first_with_a_fleet_gives_both_peaks_and_the_observed_quantiles():
    sc = SimpleNamespace(title="T", label="T")
    text = view.answer_first(sc, SimpleNamespace(factors=FACTORS), _job(), FLEET, OBSERVED, has_fleet=True).data
    assert "**The whole fleet** (550k GPUs as of 2026-03) reaches **12.0% (9.0% to 15.0%)** of its BF16 dense peak" in text
    assert "or **6.0% (4.5% to 7.5%)** of its FP8 dense peak" in text
    assert "The reported 11% sits at the 40% quantile" in text and "at the 100% quantile against the FP8 peak" in text
    assert "models no fleet" not in text


def test_headline_metrics_add_the_fleet_only_when_there_is_one():
    d = {"utilization": _job(), "fleet": FLEET, "goodput": {"effective_training_time": 0.8}}
    q = {"p05": 0.07, "p50": 0.1, "p95": 0.13}
    job_only = view.headline_metrics(d, q, has_fleet=False)
    assert job_only == {"utilization": 0.1, "utilization_p05": 0.07, "utilization_p50": 0.1, "utilization_p95": 0.13,
                        "observed_quantile": 0.9, "denominator": "bf16 dense", "effective_training_time": 0.8,
                        "job_gpus": 100_000}
    both = view.headline_metrics(d, q, has_fleet=True)
    assert both["fleet_mfu_fp8_dense"] == 0.06 and both["fleet_observed_quantile"] == 0.4 and len(both) == len(job_only) + 5


def test_band_and_reach_captions():
    assert view.band_fraction(1.5) == pytest.approx(0.015)
    assert view.mix_grid_caption(0.11, 1.5).data.endswith("a star marks the mixes within 11% ± 1.5 points:")
    reach = {"share_bf16": 0.25, "share_fp8": 0.001, "draws_fp8": 2, "fp8_p95": 0.0712}
    assert view.reach_caption(reach, 0.11, 2.0).data.startswith(
        "Over the Monte Carlo draws, 25.0% land within 11% ± 2 points of the BF16 peak.")
    few = view.fp8_reach_caption(reach, 0.11, 1.5).data
    assert few == ("Read against the **FP8** dense peak, 0.1% of the draws come within 1.5 points of 11% (the fleet's FP8 "
                   "MFU reaches 7.1% at its 95th percentile): no combination of the sourced ranges reproduces the report "
                   "on that basis.")
    enough = view.fp8_reach_caption({**reach, "draws_fp8": view.FP8_MIN_DRAWS}, 0.11, 1.5).data
    assert enough.endswith(": the table below shows what those draws need.")


def test_split_comparison_is_the_share_of_the_mixing_loss_recovered():
    cf = {"uniform": {"value": 0.30}, "aware": {"value": 0.36}, "homogeneous (no mixing loss)": {"value": 0.40}}
    text = view.split_comparison(cf).data
    # (0.36 - 0.30) / (0.40 - 0.30) = 60%
    assert text.startswith("The aware split recovers **60%** of what mixing GPU types costs the uniform split "
                           "(30.0% -> 36.0%, against 40.0% with no mixing loss)")
    no_gap = {**cf, "homogeneous (no mixing loss)": {"value": 0.30005}}
    assert view.split_comparison(no_gap) is None


def test_titles_and_captions_name_the_scenario_and_the_observation():
    from analysis.scenario import load_scenario
    sc = load_scenario("colossus1")
    title = view.job_waterfall_title(sc, SimpleNamespace(split="uniform"))
    assert title == "Colossus 1 as operated: the job, from peak to model FLOPs (uniform split)"
    assert view.observation_caption(OBSERVED) == "reported 11% (2026-04)"
    assert view.observation_basis(OBSERVED).data == "Basis of the reported figure: MFU over recent weeks, denominator unstated."
    result = SimpleNamespace(largest_job_gpus=98_304.4)
    assert view.pool_caption(result, _job()).data.endswith("Largest job: 98,304 GPUs; global batch 16.0M tokens.")


def test_references_metrics_and_loss_families():
    refs = pd.DataFrame({"label": ["Meta Llama 3 405B", "xAI fleet"], "date": ["2024-07", "2026-04"],
                         "utilization": [0.38, 0.11]})
    assert view.reference_lines(refs) == {"Meta Llama 3 405B (2024-07)": 0.38, "xAI fleet (2026-04)": 0.11}
    table = pd.DataFrame({"utilization": [0.064, 0.394]}, index=["colossus1", "llama3-16k"])
    assert view.comparison_metrics(table) == {"utilization_colossus1": 0.064, "utilization_llama3-16k": 0.394}
    families = view.loss_family_table(FACTORS)
    assert families.index.name == "loss family" and all(v.startswith("×") for v in families["factor"])


def test_sensitivity_headings_alternate_with_their_tables():
    comp = pd.DataFrame({"S1": [0.5], "ST": [0.6], "interactions (ST - S1)": [0.1], "SRC": [0.7], "SRRC": [0.71]},
                        index=["fleet.idle_fraction"])
    comp.attrs.update(r_squared=0.567, r_squared_rank=0.9)
    blocks = view.sensitivity_tables({"fleet MFU": comp, "job utilization": comp})
    assert len(blocks) == 4
    assert blocks[0].data == "**Fleet MFU** (SRC R² = 0.57, rank R² = 0.90):"
    assert blocks[2].data.startswith("**Job utilization** ")
    assert list(blocks[1]["Sobol total order (ST)"]) == ["0.60"]
    sens = {"sobol": SimpleNamespace(evaluations=14336), "samples": 512}
    assert view.sensitivity_summary(sens).data.startswith(
        "Sobol first-order (S1) and total-order (ST) indices from 14,336 model runs (SALib, N = 512;")
