"""Helpers every notebook uses: literal dollar amounts, readable numbers, metrics round trip."""
import nbformat

from analysis import notebook as nbk


def test_markdown_keeps_dollar_amounts_literal():
    text = nbk.Markdown("lease **$5.27**/GPU-h vs $62.50 and an escaped \\$1").data
    assert text == "lease **\\$5.27**/GPU-h vs \\$62.50 and an escaped \\$1"


def test_format_number():
    assert nbk.format_number(230000.0) == "230,000"
    assert nbk.format_number(0.08976) == "0.08976"
    assert nbk.format_number(float("nan")) == "n/a"
    assert nbk.format_number(2.4e15) == "2.400e+15"


def test_record_round_trips_through_a_notebook_output():
    metrics = {"utilization": 0.0898, "denominator": "bf16 dense", "missing": float("nan")}
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={nbk.METRICS_MIME: {k: nbk._plain(v) for k, v in metrics.items()},
                                                                  "text/plain": ""})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert nbk.read_metrics(nb) == {"utilization": 0.0898, "denominator": "bf16 dense", "missing": None}


def test_show_assumptions_is_a_formatted_table_with_links():
    from analysis.scenario import load_scenario

    sc = load_scenario("colossus1")
    table = nbk.show_assumptions(sc, ["economics"])
    frame = table.to_frame()
    assert list(frame.columns) == ["Parameter", "Value", "Range", "Unit", "Source"]
    from analysis.report.labels import label
    assert label("economics.s1_gpus_covered") in frame["Parameter"].tolist()
    html = table._repr_html_()
    assert "NaN" not in html and "None" not in html and "economics.s1_gpus_covered" not in html
    raw = nbk.show_assumptions(sc, ["economics"], formatted=False)
    assert raw.index.name == "parameter" and "economics.s1_gpus_covered" in raw.index


def test_plot_theme_keeps_every_text_at_least_10_pt():
    import matplotlib.pyplot as plt
    import pandas as pd

    from analysis import plots

    plots.set_theme()
    figures = [
        plots.waterfall({"step: exposed_ep": 0.85, "goodput: restart": 0.49}, title="losses"),
        plots.estimate_bars(pd.Series({"bottom-up": 315.0, "Epoch AI": 369.0}), "MW", title="power",
                            reference=("reported site power", 300.0)),
        plots.pool_bars(pd.DataFrame({"pool": ["H100", "GB200"], "gpus": [1.0, 2.0], "mw": [3.0, 4.0]}),
                        {"gpus": "GPUs", "mw": "nameplate IT power (MW)"}, title="pools"),
        plots.tornado(pd.Series({"a": 1.0, "b": 2.0}), pd.Series({"a": 3.0, "b": 5.0}), 2.5, "NPV ($B)", title="t"),
        plots.decision_chart({"colossus1": pd.DataFrame({"lease_usd_per_gpu_hour": [0.0, 6.0],
                                                         "npv_lease_minus_keep_busd": [-3.0, 25.0]})},
                             s1_rate=5.27, market_band=(1.7, 2.95), title="decision"),
    ]
    for fig in figures:
        assert plots.small_texts(fig) == [], fig.axes[0].get_title()
        plt.close(fig)


def test_titles_clear_their_axes_and_a_top_axis():
    """The theme pins titles to the top of their axes (no automatic placement, which re-measures every
    tick label at each draw); the one chart with a top axis asks for automatic placement so that its
    title still sits above the top axis' ticks and label."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from analysis import plots

    plots.set_theme()
    df = pd.DataFrame({"gpus": [1e3, 1e4, 1e5], "simulated": [0.9, 0.8, 0.6], "simulated_ci_low": [0.88, 0.78, 0.58],
                       "simulated_ci_high": [0.92, 0.82, 0.62], "analytic_daly": [0.9, 0.8, 0.6],
                       "analytic_young": [0.9, 0.79, 0.55], "mtbf_over_restart": [100.0, 10.0, 1.0]})
    fig = plots.analytic_vs_simulated(df, title="analytic against simulated")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax, top = fig.axes[0], fig.axes[0].child_axes[0]
    assert ax.title.get_window_extent(renderer).y0 >= top.xaxis.get_tightbbox(renderer).y1 - 0.5
    plain = plots.waterfall({"a": 0.8, "b": 0.5}, title="losses")
    plain.canvas.draw()
    pax = plain.axes[0]
    assert pax.title.get_window_extent(plain.canvas.get_renderer()).y0 >= pax.get_window_extent().y1
    plt.close(fig)
    plt.close(plain)


def test_text_parameters_read_as_words_not_ids():
    from analysis.scenario import load_scenario

    assert nbk._choice_text("job.island_batch", "equal_tokens_per_gpu") == "equal tokens per GPU"
    assert nbk._choice_text("economics.options", "keep,lease,islands") == "keep, lease, islands"
    assert nbk._choice_text("job.precision", "bf16") == "BF16" and nbk._choice_text("cost.depreciation", "macrs5") == "MACRS 5-year"
    assert nbk._choice_text("job.model", "no-such-model") == "no-such-model"
    values = nbk.assumptions_table(load_scenario("colossus1").table()).to_frame()["Value"].tolist()
    assert "xai" not in values and "frontier-moe-3t" not in values and not any("_" in v for v in values)
