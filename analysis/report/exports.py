"""Machine-readable exports of one scenario's results (written by the report runner).

``figures_table(result)``: every headline figure with its 5-95% band and unit
(:meth:`analysis.evaluate.EvaluateResult.headlines`). ``cash_flow_table(result)``: the monthly
cash flows of each option at central values (``result.details["options"].cash_flows``).
"""
from __future__ import annotations

import pandas as pd


def figures_table(result) -> pd.DataFrame:
    """One row per headline figure: scenario, figure, value, p05, p95, unit, report."""
    table = result.headlines().reset_index()
    table.insert(0, "scenario", result.scenario)
    return table[["scenario", "figure", "value", "p05", "p95", "unit", "report"]]


def cash_flow_table(result) -> pd.DataFrame:
    """Monthly cash flows (USD) per option and component, central values."""
    flows = result.details["options"].cash_flows
    table = flows.rename(columns={"usd": "cash_flow_usd"}).copy()
    table.insert(0, "scenario", result.scenario)
    return table
