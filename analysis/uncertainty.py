"""Monte Carlo over the sourced ranges, "what must be true", and sensitivity.

* :func:`sample_inputs` returns the scenario's one draw set (:meth:`analysis.scenario.Scenario.sample`:
  every ranged parameter triangular within its sourced range, plus the pool counts).
* :func:`utilization_draws` runs :func:`analysis.utilization.chain` on all draws at once; it takes
  the scenario's :class:`~analysis.scenario.Draws` so every model's row ``i`` is the same draw.
* :func:`what_must_be_true` keeps the draws that land within a band around an observed figure
  (e.g. 11% +/- 1.5 points) and compares their inputs with all draws: which parameter values an
  explanation of the observation needs. The observation is never used to fit anything.
* :func:`standardized_regression` gives standardized regression coefficients (SRC) from a
  statsmodels OLS on z-scored draws, with R^2 (Saltelli et al., *Global Sensitivity Analysis:
  The Primer*, 2008, Sec. 1.2.5): SRC ranks inputs when R^2 is high (>= 0.7); below that,
  rank-transformed SRRC is reported as well.
* :func:`sobol_indices` gives Sobol first- and total-order indices (SALib: Saltelli's design and
  estimators, Saltelli et al. 2010, *Comput. Phys. Commun.* 181; Jansen 1999) of the job
  utilization and the fleet MFU, and :func:`sensitivity_comparison` sets them beside SRC: where
  the model is far from linear (low R^2, ST >> S1), the Sobol indices are the ones to read.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis import utilization
from analysis.scenario import section_draws

UTILIZATION_SECTIONS = ("job", "heterogeneity", "goodput")


def sample_pool_counts(cluster, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``(draws, pools)`` GPU counts, each pool triangular within its sourced range."""
    return np.stack([p.count.sample(draws, rng) for p in cluster.pools], axis=-1)


def sample_inputs(sc, draws: int, seed: int = 0, sections=UTILIZATION_SECTIONS) -> tuple[dict, np.ndarray]:
    """``({"section.key": draws or text}, pool_counts)`` for ``sections`` from the scenario's one
    draw set (:meth:`~analysis.scenario.Scenario.sample`); reproducible by ``seed``."""
    d = sc.sample(draws, seed)
    values = {k: v for k, v in d.items() if k.split(".")[0] in sections}
    return values, d.pool_counts


def _as_draws(sc, draws, seed):
    """The scenario's :class:`~analysis.scenario.Draws`: given, or sampled (``draws`` = how many)."""
    from analysis.scenario import Draws
    return draws if isinstance(draws, Draws) else sc.sample(int(draws), seed)


@dataclass
class UtilizationDraws:
    """Monte Carlo draws of a scenario's utilization: ``inputs`` (varied parameters) and ``outputs``."""

    scenario: str
    denominator: str
    inputs: pd.DataFrame
    outputs: pd.DataFrame

    @property
    def value(self) -> np.ndarray:
        return self.outputs["utilization"].to_numpy()

    def quantiles(self, qs=(0.05, 0.5, 0.95)) -> dict:
        return {f"p{int(round(q * 100)):02d}": float(np.quantile(self.value, q)) for q in qs}

    def share_at_or_below(self, observed: float) -> float:
        """Share of draws at or below ``observed`` (where an observation falls in the distribution)."""
        return float(np.mean(self.value <= observed))

    def summary(self) -> str:
        q = self.quantiles()
        return (f"{self.scenario}: utilization ({self.denominator} peak) over {len(self.outputs):,} draws: "
                f"p05 {q['p05']:.1%}, median {q['p50']:.1%}, p95 {q['p95']:.1%}")


def utilization_draws(sc, draws=10_000, seed: int = 0, split: str | None = None) -> UtilizationDraws:
    """The utilization chain over the scenario's Monte Carlo draws (one vectorized evaluation).

    ``draws`` is the scenario's :class:`~analysis.scenario.Draws` (the one draw set every model
    of the scenario consumes) or a number of draws to take with ``seed``. ``split`` overrides
    the scenario's ``job.split``. Row ``i`` of the outputs is draw ``i`` of the inputs."""
    d = _as_draws(sc, draws, seed)
    out = utilization.chain_draws(sc, d, split)
    inputs = d.varied()
    unused = utilization.inactive_parameters({"batch_policy": d["job.batch_policy"]})
    inputs = inputs[[c for c in inputs.columns if (c.split(".")[0] in UTILIZATION_SECTIONS or c.startswith("pools."))
                     and c not in unused]]
    inputs.columns = [f"gpus.{c[len('pools.'):]}" if c.startswith("pools.") else c for c in inputs.columns]
    outputs = pd.DataFrame({"utilization": out["value"], "utilization_other_denominator": out["value_other"],
                            "job_gpus": np.asarray(out["job"].job_gpus, float).reshape(d.n, -1).max(axis=-1),
                            "global_batch_tokens": np.asarray(out["global_batch_tokens"], float).reshape(d.n, -1).max(axis=-1),
                            **{f"factor: {k}": v for k, v in out["factors"].items()}})
    precision = d["job.precision"] if split is None or "job.precision" in d else sc.value("job.precision")
    return UtilizationDraws(sc.name, utilization.denominator(precision), inputs, outputs)


def what_must_be_true(inputs: pd.DataFrame, output: np.ndarray, observed: float, tolerance: float) -> pd.DataFrame:
    """Compare the draws whose output lies within ``observed +/- tolerance`` with all draws.

    Returns one row per input: median of all draws, median of the kept draws, the shift in
    units of the input's standard deviation, and the kept share (same in every row). An empty
    kept set returns NaN medians: then no combination of the sourced ranges reproduces it.
    """
    keep = np.abs(np.asarray(output) - observed) <= tolerance
    rows = []
    for column in inputs.columns:
        x = inputs[column].to_numpy(float)
        kept = x[keep]
        sd = x.std(ddof=1) if len(x) > 1 else np.nan
        rows.append({"parameter": column, "median_all": float(np.median(x)),
                     "median_kept": float(np.median(kept)) if kept.size else np.nan,
                     "p10_kept": float(np.quantile(kept, 0.1)) if kept.size else np.nan,
                     "p90_kept": float(np.quantile(kept, 0.9)) if kept.size else np.nan,
                     "shift_in_sd": float((np.median(kept) - np.median(x)) / sd) if kept.size and sd > 0 else np.nan,
                     "kept_share": float(keep.mean())})
    table = pd.DataFrame(rows).set_index("parameter")
    return table.reindex(table["shift_in_sd"].abs().sort_values(ascending=False).index)


@dataclass
class SensitivityResult:
    """Standardized regression coefficients (SRC) and rank SRC (SRRC) with their R^2."""

    src: pd.Series
    r_squared: float
    srrc: pd.Series
    r_squared_rank: float
    output: str

    @property
    def coefficients(self) -> pd.Series:
        """The SRC (alias used by the economics report)."""
        return self.src

    def to_dict(self) -> dict:
        return {"output": self.output, "r_squared": self.r_squared, "r_squared_rank": self.r_squared_rank,
                "src": {k: float(v) for k, v in self.src.items()}, "srrc": {k: float(v) for k, v in self.srrc.items()}}

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"src": self.src, "srrc": self.srrc}).reindex(self.src.abs().sort_values(ascending=False).index)

    def summary(self) -> str:
        order = self.src.abs().sort_values(ascending=False).index[:5]
        top = ", ".join(f"{k} {self.src[k]:+.2f}" for k in order)
        return f"SRC of {self.output} (R^2 {self.r_squared:.2f}; rank R^2 {self.r_squared_rank:.2f}): {top}"


def _src(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.Series, float]:
    """OLS without intercept of z-scores, as ``statsmodels.OLS(yz, Z).fit()`` (minimum-norm least
    squares, the pseudo-inverse solution; R^2 = 1 - SSR / sum(yz^2), yz being centred), solved with
    one ``numpy.linalg.lstsq`` instead of statsmodels' several SVDs."""
    Z = (X - X.mean()) / X.std(ddof=1)
    yz = np.asarray((y - y.mean()) / y.std(ddof=1), float)
    beta, *_ = np.linalg.lstsq(Z.to_numpy(float), yz, rcond=None)
    residual = yz - Z.to_numpy(float) @ beta
    return pd.Series(beta, index=X.columns), float(1.0 - residual @ residual / (yz @ yz))


def standardized_regression(inputs: pd.DataFrame, output, name: str = "output") -> SensitivityResult:
    """SRC: OLS of the z-scored output on z-scored inputs (no intercept); SRC_j = b_j sd(x_j)/sd(y).

    Inputs with no variance are dropped. SRRC repeats the fit on ranks (robust to monotone
    non-linearity). Both R^2 are reported: SRC is a valid ranking only when R^2 is high.
    """
    X = inputs.loc[:, inputs.std(ddof=1) > 0].astype(float)
    y = pd.Series(np.asarray(output, float), index=X.index)
    src, r2 = _src(X, y)
    srrc, r2_rank = _src(X.rank(), y.rank())
    return SensitivityResult(src, r2, srrc, r2_rank, name)


def one_at_a_time(evaluate, sc_params: dict, names: list[str]) -> pd.DataFrame:
    """Tornado data: ``evaluate(overrides)`` at each parameter's low and high, others central.

    ``sc_params`` maps ``"section.key"`` to :class:`~analysis.params.Param`. Returns a frame
    with ``low``, ``high`` (outputs) and ``base``, indexed by parameter.
    """
    base = evaluate({})
    rows = {}
    for name in names:
        p = sc_params[name]
        if not p.has_range:
            continue
        rows[name] = {"low": evaluate({name: p.low}), "high": evaluate({name: p.high}), "base": base}
    return pd.DataFrame.from_dict(rows, orient="index")


def utilization_one_at_a_time(sc) -> pd.DataFrame:
    """Tornado of the utilization chain over every ranged parameter of job/heterogeneity/goodput."""
    params = {f"{s}.{k}": p for s in UTILIZATION_SECTIONS for k, p in sc.params[s].items() if not isinstance(p.value, str)}
    grids = (utilization.mfu_grid(sc.cluster, sc.value("job.model"), sc.value("job.precision"), False),
             utilization.mfu_grid(sc.cluster, sc.value("job.model"), sc.value("job.precision"), True))

    def evaluate(overrides: dict) -> float:
        sections = {s: dict(sc.values(s)) for s in UTILIZATION_SECTIONS}
        for path, value in overrides.items():
            section, key = path.split(".", 1)
            sections[section][key] = value
        return float(utilization.chain(sc.cluster, sections["job"], sections["heterogeneity"], sections["goodput"],
                                       grids=grids)["value"])

    return one_at_a_time(evaluate, params, list(params))


def benchmark(seconds: float = 1.5) -> dict[str, float]:
    """Monte Carlo draws of the whole utilization chain per second (Colossus 1, 100,000 draws a call)."""
    from analysis import memo
    from analysis.bench import throughput
    from analysis.scenario import load_scenario

    sc = load_scenario("colossus1")
    draws = 100_000
    with memo.disabled():   # the same call again and again: time the chain, not its memo
        return {"utilization_monte_carlo_draws_per_s": throughput(lambda: utilization_draws(sc, draws, seed=0), seconds, draws)}


def compare_scenarios(names, draws: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Point estimate and Monte Carlo quantiles of utilization for several scenarios."""
    from analysis.scenario import load_scenario

    rows = []
    for name in names:
        sc = load_scenario(name)
        point = utilization.point(sc)
        mc = utilization_draws(sc, draws, seed)
        rows.append({"scenario": sc.name, "title": sc.title, "split": point.split, "gpus": sc.cluster.gpus,
                     "utilization": point.value, **mc.quantiles(), "denominator": point.denominator,
                     "utilization_other_denominator": point.value_other_denominator})
    return pd.DataFrame(rows).set_index("scenario")


# --------------------------------------------------------------------------- Sobol indices
SOBOL_SECTIONS = ("job", "heterogeneity", "goodput", "fleet")


@dataclass
class SobolResult:
    """First-order (S1) and total-order (ST) Sobol indices of one or more outputs, with their
    bootstrap 95% half-widths (Saltelli et al. 2010 estimators via SALib; Saltelli et al.,
    *Global Sensitivity Analysis: The Primer*, 2008, Ch. 4). ``ST - S1`` is the share of the
    output's variance an input carries only through interactions: where it is large, the model
    is far from additive and SRC under-reads that input."""

    scenario: str
    indices: pd.DataFrame      # index: parameter; columns: (output, S1 | S1_conf | ST | ST_conf)
    base_samples: int
    evaluations: int

    def table(self, output: str) -> pd.DataFrame:
        t = self.indices[output]
        return t.reindex(t["ST"].sort_values(ascending=False).index)

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "base_samples": self.base_samples, "evaluations": self.evaluations,
                "indices": {out: {p: {k: float(v) for k, v in row.items()} for p, row in self.indices[out].iterrows()}
                            for out in self.indices.columns.get_level_values(0).unique()}}

    def summary(self) -> str:
        lines = [f"Sobol indices of {self.scenario} ({self.evaluations:,} model runs, N = {self.base_samples}):"]
        for out in self.indices.columns.get_level_values(0).unique():
            top = self.table(out).head(5)
            lines.append(f"  {out}: " + ", ".join(f"{p} S1 {r.S1:.2f} / ST {r.ST:.2f}" for p, r in top.iterrows()))
        return "\n".join(lines)


def _ranged_inputs(sc) -> dict:
    """``{path: (low, mode, high)}`` of every ranged numeric input the utilization and fleet
    models read: parameters, the cluster's pool counts, the fleet inventory at ``as_of``."""
    from analysis import fleet

    out = {}
    for s in SOBOL_SECTIONS:
        if s == "fleet" and not fleet.enabled(sc):
            continue
        for k, p in sc.params.get(s, {}).items():
            if not isinstance(p.value, str) and p.has_range:
                out[f"{s}.{k}"] = (float(p.low), float(min(max(p.value, p.low), p.high)), float(p.high))
    for pool in sc.cluster.pools:
        if pool.count.has_range:
            out[f"pools.{pool.name}"] = (float(pool.count.low), float(pool.count.value), float(pool.count.high))
    if fleet.enabled(sc):
        inv = fleet.load_fleet(sc.value("fleet.fleet"))
        day = fleet._day(sc.value("fleet.as_of"))
        for c, p in inv.pools:
            lo, v, hi = (float(inv.count((c, p), day, w)) for w in ("low", "value", "high"))
            if hi > lo:
                out[f"{fleet.FLEET_PREFIX}{c}.{p}"] = (lo, v, hi)
    return out


def _draws_at(sc, columns: dict, n: int, seed: int):
    """A :class:`~analysis.scenario.Draws` of ``n`` rows: ``columns`` where given, the central
    value elsewhere (so a SALib design runs through the same model code as the Monte Carlo)."""
    from analysis.scenario import Draws

    central = sc.sample(n, seed, vary=set())
    values = {k: (columns[k] if k in columns else v) for k, v in central.items()}
    return Draws(values, n=n, seed=seed, scenario=sc.name, pool_names=central.pool_names)


@lru_cache(maxsize=8)
def _unit_design(num_vars: int, base_samples: int, seed: int) -> np.ndarray:
    """SALib's Saltelli/Sobol' design on the unit cube (no second order;
    ``SALib.sample.sobol.sample(problem, N, calc_second_order=False, seed=seed)`` with unit bounds),
    assembled with whole-array copies instead of SALib's loop over rows and columns (the same
    numbers: every entry is a copy of the scrambled Sobol' base sequence). For each base point ``i``
    the rows are A_i, then A_i with column k taken from B_i for each k, then B_i. It depends only
    on the number of inputs, N and the seed, so scenarios with as many ranged inputs share it.
    Read-only."""
    from scipy.stats import qmc

    d, n = int(num_vars), int(base_samples)
    base = qmc.Sobol(d=2 * d, scramble=True, seed=seed).random(n)
    a, b = base[:, :d], base[:, d:]
    design = np.repeat(a[:, None, :], d + 2, axis=1)          # (N, D + 2, D): A_i in every row
    design[:, np.arange(1, d + 1), np.arange(d)] = b          # row 1 + k: column k from B_i
    design[:, -1, :] = b
    design = design.reshape(n * (d + 2), d)
    design.flags.writeable = False
    return design


def sobol_indices(sc, base_samples: int = 256, seed: int = 0, outputs=("job utilization", "fleet MFU")) -> SobolResult:
    """Sobol first- and total-order indices (SALib's Saltelli/Sobol' design and estimator, each
    input triangular within its sourced range as in the Monte Carlo) of the job utilization and
    the fleet MFU (BF16 dense). ``base_samples`` N (a power of 2) gives N (D + 2) model runs."""
    from SALib.analyze import sobol as sobol_analyze

    from analysis import fleet

    unused = utilization.inactive_parameters(sc.values("job"))
    ranged = {k: v for k, v in _ranged_inputs(sc).items() if k not in unused}
    names = list(ranged)
    # SALib's own triangular scaling rejects a peak at the upper bound (c = 1, e.g. a pool whose
    # central count is its maximum): sample the unit cube and apply the same inverse CDF here
    from scipy.stats import triang

    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    U = _unit_design(len(names), int(base_samples), seed)
    X = np.column_stack([triang.ppf(U[:, i], c=(mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
                         for i, (lo, mode, hi) in enumerate(ranged.values())])
    d = _draws_at(sc, {name: X[:, i] for i, name in enumerate(names)}, X.shape[0], seed)
    ys = {}
    if "job utilization" in outputs:
        ys["job utilization"] = np.asarray(utilization.chain_draws(sc, d)["value"], float)
    if "fleet MFU" in outputs and fleet.enabled(sc):
        ys["fleet MFU"] = fleet.fleet_draws(sc, d).value
    frames = {}
    for out, y in ys.items():
        # A Generator, not the int: SALib treats seed 0 as "no seed" and then bootstraps the
        # confidence intervals from numpy's global random state (not reproducible).
        s = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=np.random.default_rng(seed))
        frames[out] = pd.DataFrame({"S1": s["S1"], "S1_conf": s["S1_conf"], "ST": s["ST"], "ST_conf": s["ST_conf"]}, index=names)
    indices = pd.concat(frames, axis=1)
    indices.index.name = "parameter"
    return SobolResult(sc.name, indices, int(base_samples), int(X.shape[0]))


def sensitivity_comparison(sobol: SobolResult, inputs: pd.DataFrame, output: np.ndarray, name: str) -> pd.DataFrame:
    """Sobol S1 and ST of ``name`` beside the SRC (and rank SRRC) of the same output on the
    Monte Carlo draws: one row per input, sorted by ST. Inputs named ``gpus.<pool>`` in the
    Monte Carlo are the Sobol ``pools.<pool>``."""
    src = standardized_regression(inputs, output, name)
    srcs = src.src.rename(lambda c: f"pools.{c[5:]}" if c.startswith("gpus.") else c)
    srrc = src.srrc.rename(lambda c: f"pools.{c[5:]}" if c.startswith("gpus.") else c)
    t = sobol.table(name)[["S1", "ST"]].copy()
    t["interactions (ST - S1)"] = (t["ST"] - t["S1"]).clip(lower=0)
    t["SRC"] = srcs.reindex(t.index)
    t["SRRC"] = srrc.reindex(t.index)
    t.attrs["r_squared"], t.attrs["r_squared_rank"] = src.r_squared, src.r_squared_rank
    return t
