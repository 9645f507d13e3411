"""The step-model and sweep reports' view functions: what 10_step_model and 40_sweep show comes
from them, not from notebook code."""
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from analysis.report import step
from analysis.report import sweep as sweep_view

PAR = {"tp": 8, "pp": 16, "cp": 2, "interleave": 4, "micro_batch": 1, "recompute": "selective"}


def test_layout_text_names_every_degree():
    assert step.layout_text(PAR) == "TP 8 PP 16 CP 2 VP 4, micro-batch 1, recompute selective"


def test_best_layout_chain_searches_each_gpu_and_precision_in_order(monkeypatch):
    from analysis import training
    calls = []

    def fake_search(model, gpu, gpus, global_batch, precision, top, calibration):
        calls.append((model, gpu, gpus, global_batch, precision, top, calibration))
        mfu = {"bf16": 0.4, "fp8": 0.3}[precision] + (0.05 if gpu == "GB200" else 0)
        best = SimpleNamespace(mfu=mfu, tokens_per_s_per_gpu=1000 * mfu, config={"parallelism": PAR})
        return SimpleNamespace(best=best)

    monkeypatch.setattr(training, "best_configuration", fake_search)
    rows = step.best_layout_chain("m", "cal", gpus=64, global_batch=32, gpu_types=("H100", "GB200"))
    assert [(r["gpu"], r["precision"]) for r in rows] == [("H100", "bf16"), ("H100", "fp8"), ("GB200", "bf16"),
                                                          ("GB200", "fp8")]
    assert calls[0] == ("m", "H100", 64, 32, "bf16", 1, "cal")
    assert rows[3] == {"gpu": "GB200", "precision": "fp8", "mfu": pytest.approx(0.35),
                       "tokens_per_s_per_gpu": pytest.approx(350.0), "layout": step.layout_text(PAR)}
    assert step.chain_mfu(rows, "GB200", "bf16") == pytest.approx(0.45)
    assert step.chain_mfu(rows, "H100", "fp8") == pytest.approx(0.3)
    with pytest.raises(KeyError, match="GB300 fp8"):
        step.chain_mfu(rows, "GB300", "fp8")
    table = step.chain_mfu_table(rows)
    assert table.loc[("GB200", "FP8"), "Best-layout MFU"] == "35.0% of FP8 dense"


def test_calibration_result_skips_leave_one_out_only_when_quick(monkeypatch):
    from analysis import results
    from analysis.training import fit
    seen = []
    monkeypatch.setattr(fit, "validated_fit", lambda runs, with_loo: ("fit", runs, with_loo))
    monkeypatch.setattr(results, "memo", lambda name, compute, *parts: seen.append((name, parts)) or compute())
    assert step.calibration_result("runs", quick=True) == ("fit", "runs", False)
    assert step.calibration_result("runs") == ("fit", "runs", True)
    assert seen == [("step-calibration-fit", (False,)), ("step-calibration-fit", (True,))]


def test_published_runs_table_and_source_list_name_the_sources():
    runs = pd.DataFrame({"set": ["modern", "v1"], "source": ["nemo-25.02-b200", "megatron-2021"],
                         "gpu": ["B200", "A100"], "precision": ["fp8", "bf16"], "gpus": [512, 3072],
                         "published_read_as": ["tokens/s per GPU", "MFU"], "config": [None, None]},
                        index=pd.Index(["r1", "r2"], name="run"))
    frame = step.published_runs_table(runs).to_frame()
    assert list(frame.columns) == ["Set", "Source", "GPU", "Precision", "GPUs", "Published figure read as"]
    assert list(frame["Source"]) == ["NeMo 25.02, B200 (FP8)", "megatron-2021"]   # unknown sources keep their id
    md = step.sources_list({"nemo-25.02-b200": "NVIDIA NeMo performance table", "x": "other"})
    assert md.data == "- **NeMo 25.02, B200 (FP8)**: NVIDIA NeMo performance table\n- **x**: other"


def test_sweep_size_keys_and_titles():
    assert sweep_view.sweep_size(True) == {"draws": 50, "points_per_key": 3, "jobs": 1}
    assert sweep_view.sweep_size(False) == {"draws": 300, "points_per_key": 5, "jobs": 1}
    assert sweep_view.swept_keys(SimpleNamespace(keys=["a", "b", "c"])) == ("a", "b")
    assert sweep_view.swept_keys(SimpleNamespace(keys=["a"])) == ("a", None)
    sc = SimpleNamespace(title="Colossus 1 as operated")
    title = sweep_view.chart_title("Training utilization", sc)
    assert title == "Training utilization, Colossus 1 as operated"
    table = pd.DataFrame({"goodput.restart_s": [60, 120], "u": [40.0, 38.0], "u_p05": [39.0, 37.0], "u_p95": [41.0, 39.0]})
    fig = sweep_view.lines(table, "goodput.restart_s", "u", None, title)
    assert fig.axes[0].get_title() == title
    plt.close(fig)


def test_sweep_result_memoizes_its_own_sweep_but_reads_a_table_directly(monkeypatch):
    from analysis import results, sweep
    memoized = []
    monkeypatch.setattr(sweep, "load_or_run", lambda *args, **size: ("sweep", args, size))
    monkeypatch.setattr(results, "memo", lambda name, compute, *parts: memoized.append((name, parts)) or compute())
    got = sweep_view.sweep_result("colossus1", None, "x.k", None, "y.k", [1, 2], quick=True)
    assert got == ("sweep", ("colossus1", None, "x.k", None, "y.k", [1, 2]), sweep_view.sweep_size(True))
    assert memoized == [("sweep", (got[1], got[2]))]
    got = sweep_view.sweep_result("colossus1", "t.csv", "x.k")
    assert got[1][1] == "t.csv" and got[2]["draws"] == 300 and len(memoized) == 1


def test_every_mfu_names_its_peak_and_gives_the_other():
    """H100 dense peaks 989 (BF16) and 1,979 (FP8) TFLOPS (data/gpus.csv): an FP8 run at 44.9% of the FP8 peak is
    89.8% of the BF16 one; A100 has no FP8 peak, so its BF16 runs have no other figure."""
    from analysis.report import step as step_view
    assert step_view.other_peak_mfu("H100", "fp8", 0.449) == "89.8% of BF16"
    assert step_view.other_peak_mfu("H100", "bf16", 0.41) == "20.5% of FP8"
    assert step_view.other_peak_mfu("A100", "bf16", 0.5) == "n/a"
    runs = pd.DataFrame({"set": ["modern"], "source": ["x"], "gpu": ["H100"], "precision": ["fp8"], "gpus": [8],
                         "published_read_as": ["as published"]}, index=pd.Index(["r1"], name="run"))
    frame = step_view.published_runs_table(runs).to_frame()
    assert frame["Precision"].tolist() == ["FP8"]


def test_every_headline_column_has_its_figures_name_and_the_table_has_no_row_numbers():
    """A sweep column is the slug of a headline figure and its unit (analysis.sweep.figure_column); each reads back
    as the figure's name, so a new headline without a label fails here rather than showing a slug in the report."""
    from analysis import evaluate
    from analysis.sweep import figure_column
    heads = evaluate.evaluate("colossus1", draws=20, seed=0, flip_thresholds=False).headlines()
    columns = [figure_column(f, str(h["unit"])) for f, h in heads.iterrows()]
    assert sorted(columns) == sorted(sweep_view.HEADLINE_COLUMN_LABELS)
    assert sweep_view._column_label("lessees_exit_option_usd_billions") == "Lessee's exit option ($B)"
    assert sweep_view._column_label("some_new_fp8_figure_pct") == "Some new FP8 figure (%)"       # fallback
    t = pd.DataFrame({"goodput.restart_s": [60.0, 120.0], "fleet_mfu_pct": [10.0, 9.0], "fleet_mfu_pct_p05": [8.0, 7.0],
                      "fleet_mfu_pct_p95": [12.0, 11.0], "point": [0, 1]})
    view = sweep_view.table_view(SimpleNamespace(table=t, keys=["goodput.restart_s"]))
    assert view.to_frame()["Fleet MFU (% of BF16 dense peak)"].tolist() == ["10.0 (8.00 to 12.0)", "9.00 (7.00 to 11.0)"]
    assert "<th>0</th>" not in view._repr_html_()
