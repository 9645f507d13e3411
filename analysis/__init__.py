"""Reference analysis suite for the economics of hyperscale AI clusters.

Data (``data/``) -> typed objects (:mod:`analysis.catalog`, :mod:`analysis.scenario`) ->
pure vectorized model functions (training, heterogeneity, goodput, power, cost, inference,
economics) -> notebooks executed by :mod:`analysis.reports`.
"""
from analysis.errors import InputError

__all__ = ["InputError"]
