"""Reference analysis suite for the economics of hyperscale AI clusters.

Data (``data/``) -> typed objects (:mod:`analysis.catalog`, :mod:`analysis.scenario`) ->
pure vectorized model functions (training, heterogeneity, goodput, power, cost, inference,
economics) -> notebooks executed by :mod:`analysis.reports`.
"""
from analysis.errors import InputError

__all__ = ["InputError"]


def explore(scenario: str = "colossus1"):
    """Live explorer in JupyterLab: sliders for the main drivers of ``scenario``
    (:mod:`analysis.explorer`)."""
    from analysis.explorer import explore as _explore
    return _explore(scenario)


__all__ += ["explore"]
