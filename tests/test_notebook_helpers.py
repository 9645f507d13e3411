"""Helpers every notebook uses: literal dollar amounts, readable numbers, metrics round trip."""
import nbformat

from analysis import notebook as nbk


def test_markdown_keeps_dollar_amounts_literal():
    text = nbk.Markdown("lease **$5.27**/GPU-h vs $62.50 and an escaped \\$1").data
    assert text == "lease **\\$5.27**/GPU-h vs \\$62.50 and an escaped \\$1"


def test_format_number():
    assert nbk.format_number(230000.0) == "230,000"
    assert nbk.format_number(0.08976) == "0.08976"
    assert nbk.format_number(float("nan")) == "nan"
    assert nbk.format_number(2.4e15) == "2.400e+15"


def test_record_round_trips_through_a_notebook_output():
    metrics = {"utilization": 0.0898, "denominator": "bf16 dense", "missing": float("nan")}
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={nbk.METRICS_MIME: {k: nbk._plain(v) for k, v in metrics.items()},
                                                                  "text/plain": ""})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert nbk.read_metrics(nb) == {"utilization": 0.0898, "denominator": "bf16 dense", "missing": None}
