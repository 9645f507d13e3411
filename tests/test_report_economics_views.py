"""The view functions behind 31_cost and 33_lease_vs_rebuild (analysis.report.economics): given small
hand-built inputs they give the hand-computed text, titles that name the scenario, tables of the scenario's pools."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis.report import economics as views  # noqa: E402

SC = SimpleNamespace(label="Colossus 1 as operated")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _pools(*gpus):
    return SimpleNamespace(cluster=SimpleNamespace(pools=[SimpleNamespace(gpu=SimpleNamespace(id=g)) for g in gpus]))


# --------------------------------------------------------------------------- 31_cost

def _text(markdown) -> str:
    """A sentence view's Markdown as written (its dollar signs unescaped)."""
    return markdown.data.replace("\\$", "$")

def test_utilization_on_the_bf16_denominator_and_the_curve_grid():
    assert views.bf16_utilization(SimpleNamespace(denominator="bf16 dense", value=0.3, value_other_denominator=0.15)) == 0.3
    assert views.bf16_utilization(SimpleNamespace(denominator="fp8 dense", value=0.15, value_other_denominator=0.3)) == 0.3
    quick, full = views.utilization_grid(True), views.utilization_grid(False)
    assert len(quick) == 12 and len(full) == 91 and quick[0] == full[0] == 0.05 and quick[-1] == full[-1] == 0.5
    assert np.diff(full) == pytest.approx(0.005)     # every half point


def test_cost_metrics_keep_the_recorded_names_in_order():
    cr = SimpleNamespace(to_dict=lambda: {"total_usd_per_year": 5e9, "capex_usd": 2e10, "capex_usd_per_gpu": 87_000.0,
                                          "tco_usd_per_gpu_hour": 2.4, "other": 1},
                         tco_by_gpu=lambda: pd.Series({"H100": 2.2, "H200": 2.6, "blend": 2.4}))
    cmp = {"utilization": 0.11, "usd_per_useful_exaflop": 9.0, "usd_per_useful_exaflop_reference": 2.7,
           "reference_utilization": 0.369, "cost_ratio": 3.33, "excess_usd_per_year": 3.5e9}
    m = views.cost_metrics(cr, cmp)
    assert list(m) == ["tco_usd_per_year", "capex_usd", "capex_usd_per_gpu", "tco_usd_per_gpu_hour",
                       "tco_usd_per_gpu_hour_H100", "tco_usd_per_gpu_hour_H200", "tco_usd_per_gpu_hour_blend",
                       "utilization_bf16", "usd_per_useful_exaflop", "usd_per_useful_exaflop_reference",
                       "reference_utilization", "cost_ratio_vs_reference", "excess_usd_per_year"]
    assert m["tco_usd_per_gpu_hour_H200"] == 2.6 and m["cost_ratio_vs_reference"] == 3.33 and m["tco_usd_per_year"] == 5e9


def test_chart_titles_name_the_scenario():
    by_pool = pd.DataFrame({"pool": ["h100", "h200"], **{c: [1.0, 2.0] for c in views.TCO_COMPONENTS},
                            **{c: [1e4, 2e4] for c in views.CAPEX_COMPONENTS}})
    cr = SimpleNamespace(by_pool=by_pool, usd_per_useful_exaflop=lambda u: 1.0 / np.asarray(u))
    assert views.tco_by_pool_figure(cr, SC).axes[0].get_title() == "TCO per GPU-hour by pool, Colossus 1 as operated"
    assert views.capex_by_pool_figure(cr, SC).axes[0].get_title() == "All-in capex per GPU, Colossus 1 as operated"

    refs = pd.DataFrame({"label": ["Llama 3 405B"], "utilization": [0.369]})
    ax = views.cost_per_exaflop_figure(cr, 0.11, refs, SC, views.utilization_grid(True)).axes[0]
    assert ax.get_title() == "Cost per useful exaFLOP vs utilization, Colossus 1 as operated"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Colossus 1 as operated: TCO / useful FLOPs" in legend and "modelled utilization (11.0%)" in legend
    assert "Llama 3 405B (observation)" in legend

    sens = pd.DataFrame({"low": [8.0, 8.5], "high": [10.0, 9.2], "base": [9.0, 9.0]},
                        index=["cost.wacc", "cost.electricity_usd_per_mwh"])
    ax = views.sensitivity_figure(sens, 0.4125, SC).axes[0]
    assert ax.get_title() == "One-at-a-time sensitivity at 41.2% utilization, Colossus 1 as operated"
    assert {t.get_text() for t in ax.get_yticklabels()} == {"Cost of capital (per year)", "Electricity price (USD/MWh)"}

    from analysis import cost
    fig = views.rate_comparison_figure(pd.Series({"H100": 2.0}), cost.load_rental_rates(), SC)
    assert fig.axes[0].get_title() == "Modelled TCO vs market rates, Colossus 1 as operated"


def test_price_tables_hold_one_row_per_pool_of_the_scenario():
    sc = _pools("H100", "H100", "GB200")
    assert views.pool_gpu_ids(sc) == ["H100", "H100", "GB200"]
    gpus = views.gpu_price_table(sc).to_frame()
    assert list(gpus.index) == ["H100", "H100", "GB200"] and len(gpus.columns) == 4
    assert gpus.iloc[0, :3].tolist() == ["$25.0k", "$30.0k", "$40.0k"]       # data/gpus.csv: H100 $25k / $30k / $40k
    systems = views.system_price_table(_pools("A100")).to_frame()
    assert list(systems.index) == ["A100"]
    assert systems.iloc[0, :4].tolist() == ["A100", "$3.00k", "$5.00k", "$8.00k"]   # data/prices.csv: A100 $3k / $5k / $8k


# --------------------------------------------------------------------------- 33_lease_vs_rebuild
def test_no_lease_answer():
    econ = {"options": ["keep"], "npv_usd": {"keep": 12.345e9}, "horizon_months": 60}
    from analysis.notebook import Markdown
    assert isinstance(views.no_lease_answer(econ, "Colossus 2"), Markdown)     # displayed as is, like the other modules' views
    assert _text(views.no_lease_answer(econ, "Colossus 2")) == (
        f"**This scenario defines no lease** (options: {views.label('keep')}): only keeping Colossus 2 for training "
        "is valued, at an after-tax NPV of $12.3B over 60 months.")


def _econ():
    alloc = {"rental_value": {"label": "by rental value", "lease_usd_per_c1_gpu_hour": 2.5,
                              "break_even_contract_usd_per_gpu_hour": 1.75},
             "per_gpu": {"label": "per GPU", "lease_usd_per_c1_gpu_hour": 3.1, "break_even_contract_usd_per_gpu_hour": 1.5}}
    exit_option = {"lessee_value_usd": 1.2e9, "lessee_value_usd_p05": 3e8, "lessee_value_usd_p95": 2.4e9,
                   "cost_to_lessor_usd": 8e8, "p_exit_before_horizon": 0.25}
    return {"best_option": "lease", "npv_lease_minus_keep_usd": 4.56e9, "npv_lease_minus_keep_usd_p05": -1e9,
            "npv_lease_minus_keep_usd_p95": 9.87e9, "horizon_months": 60, "monte_carlo_draws": 2000,
            "p_lease_beats_keep": 0.8, "p_lease_beats_keep_pooled": 0.725, "contract_usd_per_gpu_hour": 2.8,
            "break_even_by_allocation": alloc, "break_even_lease_usd_per_gpu_hour": 1.9, "exit_option": exit_option,
            "sunk_book_value_usd_excluded": 7e9, "lease_usd_per_gpu_hour": 2.5,
            "rebuild_capacity_gpus": 110_000, "rebuild_gpus": 54_321}


def test_lease_answer_metrics_and_notes():
    result = SimpleNamespace(label={"keep": "keep for training", "lease": "lease and rebuild"}.get,
                             decision={"contract_gpus": 1_000_000})
    econ = _econ()
    text = _text(views.lease_answer(econ, result))
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith("**Lease and rebuild** is the best option. Against the base (**keep for training**), "
                                    "leasing is worth **$4.56B (-$1.00B to $9.87B)** after tax over 60 months "
                                    "(5-95% over 2,000 draws) and wins in **80.0%** of draws")
    assert paragraphs[0].endswith("it wins in 72.5%.")
    assert paragraphs[1].startswith("The S-1 fee covers 1.00M GPUs at $2.80 per GPU-hour; allocated **by rental value** "
                                    "this cluster's share is **$2.50** per GPU-hour, **per GPU** $3.10.")
    assert "**$1.75** (rental-value allocation) or **$1.50** (per GPU)" in paragraphs[1] and "$1.90 per GPU-hour of this" in paragraphs[1]
    assert paragraphs[2] == ("The lessee's right to leave is worth **$1.20B** to it on the median rent path (5-95%: $300M to "
                             "$2.40B) and costs xAI $800M; the lessee leaves before the end in 25.0% of draws. Sunk book "
                             "value left out of every option: $7.00B.")

    m = views.lease_metrics(econ)
    assert m["break_even_contract_rental_value_usd_per_gpu_hour"] == 1.75 and m["break_even_contract_per_gpu_usd_per_gpu_hour"] == 1.5
    assert m["exit_option_lessee_value_usd"] == 1.2e9 and m["has_lease"] == "yes" and len(m) == 11

    assert _text(views.fee_allocation_note(econ)).endswith("never counted as capacity for the rebuild (110k GPUs left, 54.3k needed).")

    fleet = SimpleNamespace(load_factor=0.6, usd_per_million_output_tokens=1.8)
    api = pd.DataFrame({"api_usd_per_million_output_tokens": [15.0, 3.0]})
    assert _text(views.lessee_cost_sentence(econ, fleet, api)) == (
        "At $2.50 per GPU-hour and a 60% load factor, the lessee pays **$1.80 per million output tokens** (prompts "
        "included); the API list prices for the same requests range from $3.00 to $15.0.")


def test_lease_tornado_title_names_the_scenario():
    oat = pd.DataFrame({"low": [-1e9, 2e9], "high": [3e9, 2.5e9], "low_value": [0.05, 40], "high_value": [0.12, 90]},
                       index=["cost.wacc", "cost.electricity_usd_per_mwh"])
    oat.attrs["base"] = 2.2e9
    ax = views.lease_tornado_figure(oat, SC).axes[0]
    assert ax.get_title() == "NPV of leasing minus keeping, one parameter at a time (Colossus 1 as operated)"
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "Cost of capital (per year) (0.0500 to 0.120)"   # widest on top


def test_public_tco_and_fabric_tables_read_as_words():
    """No row numbers, no grade letters, no fabric ids: the H100 row at $1.52 against Latent Space's $1.65 (M) reads
    0.92, medium; Colossus's spectrum-x fabric reads as NVIDIA's product name."""
    fake = SimpleNamespace(tco_by_gpu=lambda: pd.Series({"H100": 1.52}))
    table = views.public_tco_table(fake)
    frame, html = table.to_frame(), table._repr_html_()
    assert "Published" in frame.columns and "<th>0</th>" not in html and ">medium<" in html
    latent = frame[frame["Published"] == "$1.65"].iloc[0]
    assert latent["Modelled"] == "$1.52" and latent["Modelled / published"] == "0.92" and latent["Confidence"] == "medium"
    assert set(frame["Confidence"]) <= {"high", "medium", "low", "unverified"}
    fabrics = pd.DataFrame({"pool": ["H100"], "fabric": ["spectrum-x"], "network_usd_per_gpu": [3500.0],
                            "facility": ["greenfield"], "facility_usd_per_gpu": [12_200.0],
                            "fabric_source": ["s"], "facility_source": ["t"]})
    table = views.fabric_facility_table(SimpleNamespace(fabric_table=lambda: fabrics))
    assert table.loc["H100", "fabric"] == "NVIDIA Spectrum-X Ethernet" and table.loc["H100", "network capex per GPU"] == "$3.50k"


def test_capex_table_says_why_a_rack_priced_pool_has_no_server_cost():
    row = {"gpus": 10.0, "gpu_usd_per_gpu": 42e3, "system_usd_per_gpu": 0.0, "network_usd_per_gpu": 3.5e3,
           "storage_usd_per_gpu": 1e3, "facility_usd_per_gpu": 15.6e3, "capex_usd_per_gpu": 62.1e3, "capex_usd": 621e3}
    pools = pd.DataFrame([{"pool": "GB200", "gpu": "GB200", **row},
                          {"pool": "H100", "gpu": "H100", **dict(row, system_usd_per_gpu=6.7e3)}])
    table = views.capex_by_pool_table(SimpleNamespace(by_pool=pools))
    assert table.caption.startswith("GB200: the GPU price is the rack price over its GPUs")
    assert views.capex_by_pool_table(SimpleNamespace(by_pool=pools.iloc[1:])).caption is None
