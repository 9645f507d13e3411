"""One set of figures per scenario: every notebook of a scenario reads them from here.

``scenario_results(scenario, quick)`` evaluates the scenario once (:func:`analysis.evaluate.evaluate`)
and returns the same :class:`~analysis.evaluate.EvaluateResult` to every caller in the process, so a
figure repeated across reports is the same number. (The report runner may cache it on disk per
scenario and data hash so separate kernels share it too.)
"""
from __future__ import annotations

from functools import lru_cache

FULL_DRAWS = 10_000
QUICK_DRAWS = 500
SEED = 0


@lru_cache(maxsize=16)
def _evaluate(scenario: str, draws: int, seed: int):
    from analysis import evaluate
    return evaluate.evaluate(scenario, draws=draws, seed=seed)


def scenario_results(scenario: str, quick: bool = False, seed: int = SEED):
    """The scenario's headline results at report size (``quick``: small Monte Carlo for tests)."""
    return _evaluate(str(scenario), QUICK_DRAWS if quick else FULL_DRAWS, int(seed))
