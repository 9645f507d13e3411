"""The one formatter and the one label registry: hand-checked strings a reader sees."""
import math

import numpy as np
import pandas as pd
import pytest

from analysis.report import format as F
from analysis.report import labels as L


@pytest.mark.parametrize("value, text", [
    (13.29e9, "$13.3B"), (-6_050_676_763, "-$6.05B"), (1.81, "$1.81"), (450e3, "$450k"), (999.95e9, "$1.00T"),
    (0.0, "$0"), (float("nan"), "n/a"), (None, "n/a"), (True, "n/a"),
])
def test_usd(value, text):
    assert F.usd(value) == text


def test_percent_irr_points_factor():
    assert F.pct(0.09) == "9.0%" and F.pct(0.8443, 0) == "84%" and F.pct(float("inf")) == "n/a"
    assert F.irr(0.9222770411245256) == "92.2%/yr" and F.irr(-0.0257) == "-2.6%/yr"
    assert F.points(0.021) == "+2.1 pts" and F.factor(0.4907) == "\u00d70.49"


def test_scaled_and_units():
    assert F.tokens_per_day(2_410_011_447_634.4) == "2.4T tokens/day"
    assert F.scaled(999.9) == "1.00k" and F.scaled(999_999) == "1.00M" and F.scaled(-2500) == "-2.50k"
    assert F.mw(315.43349) == "315 MW" and F.mw(0.4217) == "0.422 MW"
    assert F.usd_per_gpu_hour(5.2651) == "$5.27/GPU-h"
    assert F.number(0.7871) == "0.787" and F.number(1380.4) == "1,380" and F.number(0.0009999) == "0.00100"


def test_band_and_auto_never_dump_raw_values():
    assert F.band(0.0898, 0.0407, 0.1325) == "9.0% (4.1% to 13.2%)"
    assert F.band(0.0898, float("nan"), 0.1) == "9.0%"
    assert F.auto(True) == "yes" and F.auto(False) == "no" and F.auto(float("nan")) == "n/a" and F.auto(None) == "n/a"
    assert F.auto(0.08976561979037734) == "0.0898" and F.auto(216451) == "216,451"
    assert F.auto({"a": 1.23456789, "b": True}) == "a: 1.23; b: yes"
    assert F.auto(np.float64(2.5)) == "2.50"


def test_link_renders_urls_and_escapes_the_rest():
    html = F.link('SemiAnalysis <b>index</b> https://example.com/a?b=1&c=2. (2026)')
    assert '<a href="https://example.com/a?b=1&amp;c=2">' in html and "&lt;b&gt;" in html and "<b>" not in html
    assert html.endswith(". (2026)")
    assert F.link("assumption: 70-100%") == "assumption: 70-100%"
    assert F.link('"><img src=x onerror=alert(2)>') == "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"
    assert F.md_link("see https://x.org/p") == "see [https://x.org/p](https://x.org/p)"


def test_escape_md_leaves_no_tag_link_or_math():
    assert F.escape_md("<script>alert(1)</script>") == "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    assert F.escape_md("[x](javascript:y) *b* $5") == "\\[x\\]\\(javascript:y\\) \\*b\\* \\$5"
    assert "<" not in F.escape_md('"><img src=x onerror=alert(2)>')


def test_table_formats_by_column_unit_and_labels_columns():
    df = pd.DataFrame({"npv_usd": [-6.17e9, 13.29e9], "irr": [-0.1917, 0.9223], "utilization_keep": [0.0898, np.nan],
                       "is_best": [False, True], "facility_mw": [315.43, 0.0], "source": ["https://a.org/x", "<i>"]},
                      index=pd.Index(["keep", "lease"], name="option"))
    t = F.table(df)
    frame = t.to_frame()
    assert list(frame.columns) == ["NPV", "IRR", "Utilization keep", "Is best", "Facility power (MW)", "Source"]
    assert frame["NPV"].tolist() == ["-$6.17B", "$13.3B"] and frame["IRR"].tolist() == ["-19.2%/yr", "92.2%/yr"]
    assert frame["Utilization keep"].tolist() == ["9.0%", "n/a"] and frame["Is best"].tolist() == ["no", "yes"]
    assert list(frame.index) == ["Keep for training", "Lease and rebuild"] and frame.index.name == "Option"
    html = t._repr_html_()
    assert 'overflow-x:auto' in html and '<a href="https://a.org/x">' in html and "&lt;i&gt;" in html
    assert "NaN" not in html and "True" not in html and "False" not in html
    explicit = F.table(df[["npv_usd"]], formats={"npv_usd": "number"}, labels={"npv_usd": "NPV (USD)"}, index=False)
    assert explicit.to_frame().columns.tolist() == ["NPV (USD)"] and explicit.to_frame().iloc[0, 0] == "-6,170,000,000"


def test_table_plain_text_and_html_rows_follow_the_cells():
    t = F.table(pd.DataFrame({"gpus": [1000.0, 200000.0], "utilization": [0.1, 0.25]},
                             index=pd.Index(["H100", "GB200"], name="pool")), label_index=False)
    assert repr(t).splitlines() == ["Pool      GPUs  Training utilization",
                                    "H100     1,000                 10.0%",
                                    "GB200  200,000                 25.0%"]
    html = t.to_html()
    assert html.count("<tr>") == 3 and '<tr><th>GB200</th><td class="num">200,000</td><td class="num">25.0%</td></tr>' in html
    plain = F.table(pd.DataFrame({"gpus": [8.0]}))
    assert repr(plain).splitlines() == ["GPUs", "   8"] and "<th></th>" not in plain.to_html()


def test_counts_read_as_whole_numbers():
    """A replica size or a batch is a count: 8, not 8.00 (a float column of counts from the roofline)."""
    assert F.infer_format("gpus_per_replica") == F.infer_format("batch") == F.infer_format("decode_batch") == "integer"
    assert F.infer_format("batch_kv_limit") != "integer"          # a limit in requests is a different figure
    t = F.table(pd.DataFrame({"gpus_per_replica": [8.0, 72.0], "batch": [142.0, 1033.0]}), index=False)
    assert t.to_frame().values.tolist() == [["8", "142"], ["72", "1,033"]]
    assert F.number(8.0) == "8.00"                                # a measured quantity keeps 3 significant digits


def test_key_values_is_a_table_not_a_dict():
    t = F.key_values({"p_lease_beats_keep": 1.0, "npv_lease_minus_keep_usd": 19.46e9})
    assert t.to_frame().values.tolist() == [["Probability that leasing wins", "100.0%"],
                                             ["NPV of leasing minus keeping", "$19.5B"]]


def test_labels_for_factor_names_and_parameter_paths():
    assert L.label("step: exposed_ep") == "Exposed expert-parallel (all-to-all) communication"
    assert L.label("goodput: restart") == "Failures: time restarting the job"
    assert L.label("scheduling (spares, repair, fragmentation)").startswith("Scheduling")
    # a parameter path defaults to its Spec's description, with the unit
    # a human name (the Spec's doc or a module's registered label, whichever imported last), never the path
    assert "GPUs" in L.label("economics.s1_gpus_covered") and "S-1" in L.label("economics.s1_gpus_covered")
    assert "." not in L.label("economics.s1_gpus_covered")
    # fallbacks never show snake_case
    assert "_" not in L.label("npv_lease_minus_keep_usd_p05")
    assert L.label("it_w_per_gpu") == "IT (W per GPU)" and L.label("step: some_new_factor") == "Some new factor"
    L.register({"my_topic_figure": "My topic figure"})
    assert L.label("my_topic_figure") == "My topic figure"


def test_every_current_factor_has_a_registered_label():
    from analysis.results import scenario_results

    factors = scenario_results("colossus1", quick=True).to_dict()["utilization"]["factors"]
    missing = [k for k in factors if k not in L.registered()]
    assert not missing, f"factors without a label: {missing}"
    assert all("_" not in L.label(k) for k in factors)


def test_number_rounding_never_shows_more_than_four_significant_digits():
    for x in np.geomspace(1e-4, 1e9, 200):
        text = F.number(x).replace(",", "").replace(".", "").lstrip("0")
        assert len(text.rstrip("0")) <= 4 or x >= 1e3, (x, F.number(x))
    assert math.isclose(float(F.number(123456.7).replace(",", "")), 123457)


def test_peak_basis_reads_as_written():
    assert F.peak_basis("bf16 dense") == "BF16 dense" and F.peak_basis("fp8_dense") == "FP8 dense"
    assert F.peak_basis("dense") == "dense"


def test_utc_time_reads_like_a_date():
    assert F.utc_time("2026-12-01T20:52:10+00:00") == "1 Dec 2026, 20:52 UTC"
    assert F.utc_time("2026-12-01T21:52:10+01:00") == "1 Dec 2026, 20:52 UTC"       # converted to UTC
    assert F.utc_time(None) == F.MISSING and F.utc_time("not a time") == "not a time"


def test_signed_percentages_never_read_minus_zero():
    assert [F.signed_pct(x) for x in (0.194, -0.268, -0.004, 0.004, 0.0, None)] == ["+19%", "-27%", "0%", "0%", "0%", F.MISSING]
    assert F.signed_pct(-0.0041, 1) == "-0.4%" and F.FORMATS["signed_pct"] is F.signed_pct


def test_factors_from_ten_up_keep_three_significant_figures():
    """Claude 3 Opus at $188 per million output tokens against a $3.80 lease cost reads ×49.3, not ×49.29."""
    from analysis.report import format as F
    assert [F.factor(v) for v in (0.82, 1.5, 49.29, 188.3)] == ["×0.82", "×1.50", "×49.3", "×188"]
    assert F.factor(0.5619, 3) == "×0.562" and F.factor(None) == F.MISSING
