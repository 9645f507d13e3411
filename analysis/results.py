"""One set of figures per scenario: every notebook of a scenario reads them from here.

``scenario_results(scenario, quick)`` evaluates the scenario once (:func:`analysis.evaluate.evaluate`)
and returns the same :class:`~analysis.evaluate.EvaluateResult` to every caller in the process, so a
figure repeated across reports is the same number.

Across processes (the report runner's kernels) the result is shared through a disk cache: the
runner calls :func:`write_cache` once per scenario before any notebook runs and exports the cache
directory in the environment variable ``CLUSTER_ECONOMICS_RESULTS_CACHE``; every kernel then
reads the same pickle. The file name is a key of the scenario's hash, the hash of every file in
``data/``, the hash of the ``analysis`` source code, the draws and the seed, so a stale entry is
never read. Without the variable (JupyterLab) or without a matching entry, the result is computed
in process, as before.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from functools import lru_cache
from pathlib import Path

FULL_DRAWS = 10_000
QUICK_DRAWS = 500
SOBOL_SAMPLES = 512        # Sobol base samples N of the reports (N x (inputs + 2) model runs)
QUICK_SOBOL_SAMPLES = 128
SEED = 0
CACHE_ENV = "CLUSTER_ECONOMICS_RESULTS_CACHE"
FORMAT = 2  # bump when the pickled layout changes


def draws_for(quick: bool) -> int:
    return QUICK_DRAWS if quick else FULL_DRAWS


def sobol_samples_for(quick: bool) -> int:
    return QUICK_SOBOL_SAMPLES if quick else SOBOL_SAMPLES


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the ``analysis`` package's Python source (any code change invalidates the cache)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def data_version() -> str:
    """Hash of every file under ``data/``."""
    from analysis.paths import DATA_DIR

    digest = hashlib.sha256()
    for path in sorted(p for p in Path(DATA_DIR).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(DATA_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_key(scenario: str, draws: int, seed: int) -> str:
    """The cache file stem for one scenario at one Monte Carlo size."""
    from analysis.scenario import load_scenario

    sc = load_scenario(scenario)
    text = json.dumps({"format": FORMAT, "scenario": sc.name, "scenario_hash": sc.hash, "data": data_version(),
                       "code": code_version(), "draws": int(draws), "seed": int(seed)}, sort_keys=True)
    return f"{sc.name}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def batch_cache_dir() -> Path | None:
    """The batch's results cache directory (the runner exports it to every kernel as ``CACHE_ENV``), or
    ``None`` outside a batch: then nothing is kept on disk."""
    value = os.environ.get(CACHE_ENV)
    return Path(value) if value else None


def cache_path(scenario: str, quick: bool = False, seed: int = SEED, cache_dir: str | Path | None = None) -> Path | None:
    """Where the cached result of ``scenario`` lives (``None`` when no cache directory is set)."""
    directory = Path(cache_dir) if cache_dir is not None else batch_cache_dir()
    if directory is None:
        return None
    return directory / f"{cache_key(scenario, draws_for(quick), seed)}.pkl"


def _read(path: Path | None):
    if path is None or not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception:  # noqa: BLE001 - a damaged or foreign cache entry is recomputed, never trusted
        return None


@lru_cache(maxsize=16)
def _evaluate(scenario: str, draws: int, seed: int):
    from analysis import evaluate
    return evaluate.evaluate(scenario, draws=draws, seed=seed,
                             sobol_samples=sobol_samples_for(draws < FULL_DRAWS))


@lru_cache(maxsize=16)
def _cached(scenario: str, quick: bool, seed: int):
    # one object per scenario in a process: the one :func:`cached_results` read, if it did
    hit = _MEMORY.get((scenario, quick, seed))
    if hit is None:
        hit = _read(cache_path(scenario, quick, seed))
    result = hit if hit is not None else _evaluate(scenario, draws_for(quick), seed)
    _MEMORY[(scenario, quick, seed)] = result
    return result


def scenario_results(scenario: str, quick: bool = False, seed: int = SEED):
    """The scenario's headline results at report size (``quick``: small Monte Carlo for tests).

    Read from the runner's disk cache when there is one, else computed once in this process.
    """
    return _cached(str(scenario), bool(quick), int(seed))


def write_cache(scenario: str, quick: bool = False, seed: int = SEED, cache_dir: str | Path | None = None) -> Path:
    """Compute (or reuse) the result of ``scenario`` and store it atomically in the cache directory."""
    path = cache_path(scenario, quick, seed, cache_dir)
    if path is None:
        raise ValueError(f"no cache directory: pass cache_dir or set {CACHE_ENV}")
    if _read(path) is None:
        _write(path, _evaluate(str(scenario), draws_for(quick), int(seed)))
    return path


def _write(path: Path, value) -> None:
    """Pickle ``value`` to ``path`` atomically (a partial file under another name, then a rename),
    so a reader never sees half an entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open(tmp, "wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- scenario-independent work
_MEMO: dict[str, object] = {}


def memo_key(name: str, *parts) -> str:
    """Key of one memoized computation: its name, ``repr`` of its parts, the code and the data."""
    text = json.dumps({"format": FORMAT, "name": name, "parts": [repr(p) for p in parts], "data": data_version(),
                       "code": code_version()}, sort_keys=True)
    return f"memo-{''.join(c if c.isalnum() else '-' for c in name)[:40]}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def memo(name: str, compute, *parts, cache_dir: str | Path | None = None):
    """``compute()`` once per process and, when a results cache directory is set (the report
    runner's ``CLUSTER_ECONOMICS_RESULTS_CACHE``), once per batch: the value is pickled there under
    a key of ``name``, ``parts`` (whatever the result depends on besides code and data), the hash
    of ``data/`` and of the ``analysis`` code. For expensive scenario-independent work that every
    kernel would otherwise redo (the step model's MFU grids, calibration fits)."""
    key = memo_key(name, *parts)
    if key in _MEMO:
        return _MEMO[key]
    directory = Path(cache_dir) if cache_dir is not None else batch_cache_dir()
    path = directory / f"{key}.pkl" if directory is not None else None
    value = _read(path)
    if value is None:
        # Two processes of a batch can need the same entry at once (the kernel farm warming Colossus 1
        # and the sweep kernel evaluating it): the first computes it, the other waits and reads it.
        with _entry_lock(path):
            value = _read(path)
            if value is None:
                value = compute()
                if path is not None:
                    try:
                        _write(path, value)
                    except OSError:   # a read-only or full cache directory only costs the recomputation
                        pass
    _MEMO[key] = value
    return value


def _entry_lock(path: Path | None):
    """An exclusive lock on one cache entry across processes (on ``.<entry>.lock`` beside it), best
    effort: without a cache directory, or where files cannot be locked, the entry is computed, as it
    always could be, by whoever needs it."""
    from analysis.locks import exclusive_lock

    return exclusive_lock(None if path is None else path.with_name(f".{path.stem}.lock"), best_effort=True)


# --------------------------------------------------------------------------- several scenarios
def cached_results(scenario: str, quick: bool = False, seed: int = SEED):
    """The scenario's results if this process or the disk cache already has them, else ``None``
    (nothing is computed)."""
    key = (str(scenario), bool(quick), int(seed))
    hit = _MEMORY.get(key)
    if hit is None:
        hit = _read(cache_path(*key))
        if hit is not None:
            _MEMORY[key] = hit
    return hit


_MEMORY: dict[tuple, object] = {}


def utilization_comparison(names, quick: bool = False, seed: int = SEED):
    """Job utilization of several scenarios side by side (point, 5/50/95% over the report's draws,
    split, GPUs): the same numbers each scenario's own results hold. Read from the results when
    they exist (this process or the runner's cache); otherwise only the scenario's utilization
    section is computed (:func:`analysis.evaluate.utilization_section` over the same draws)."""
    import pandas as pd

    from analysis import evaluate
    from analysis.scenario import load_scenario

    rows = []
    for name in names:
        sc = load_scenario(name)
        res = cached_results(name, quick, seed)
        if res is not None:
            u, point = res.sections["utilization"], res.details["utilization"]
        else:
            u, _, point, _ = evaluate.utilization_section(sc, sc.sample(draws_for(quick), seed), seed)
        rows.append({"scenario": sc.name, "title": sc.title, "split": point.split, "gpus": sc.cluster.gpus,
                     "utilization": u["value"], "p05": u["p05"], "p50": u["p50"], "p95": u["p95"],
                     "denominator": u["denominator"], "utilization_other_denominator": point.value_other_denominator})
    return pd.DataFrame(rows).set_index("scenario")
