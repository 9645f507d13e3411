"""Sweeps: a scenario's headline figures over the full product of parameter overrides.

``python -m analysis sweep SCENARIO --set KEY=V1,V2,... [--set KEY=LOW:HIGH:N ...] [--draws N]
[--seed S] [--jobs N] [--out FILE.parquet|.csv] [--scheduler tcp://HOST:PORT]``

* ``KEY`` is any scenario key path (``job.global_batch_tokens``, ``goodput.restart_s``,
  ``cluster``); every point is validated like a scenario file before anything runs, so a bad
  key or value is one :class:`~analysis.errors.InputError` line (exit 2 from the CLI).
* Each point is evaluated with its own Monte Carlo (:func:`analysis.evaluate.evaluate` at
  ``draws`` draws) and the same seed for every point (common random numbers: differences
  between points come from the overrides, not from sampling noise).
* Points run in local worker processes, or on a running ``dask.distributed`` scheduler with
  ``--scheduler``; the same seed gives the same table either way.
* The result is one tidy table, one row per point: the overrides, then every headline figure
  of :meth:`~analysis.evaluate.EvaluateResult.headlines` with its 5-95% band, units in the
  column names.
"""
from __future__ import annotations

import copy
import itertools
import math
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.errors import InputError, shown

MAX_POINTS = 100_000
MAX_LINSPACE = 10_000
OUTPUT_SUFFIXES = (".csv", ".parquet")
TOP_LEVEL_OVERRIDES = ("cluster",)


# --------------------------------------------------------------------------- parsing --set
def parse_values(spec: str) -> list:
    """Values of one ``--set`` right-hand side: ``V1,V2,...`` (each read as YAML: numbers,
    text) or ``LOW:HIGH:N`` (``N`` evenly spaced values, ends included)."""
    text = spec.strip()
    if not text:
        raise InputError("--set: a key needs at least one value (KEY=V1,V2 or KEY=LOW:HIGH:N)")
    parts = text.split(":")
    if len(parts) == 3 and all(p.strip() for p in parts) and not text.startswith(("tcp", "http")):
        low, high, count = (_number("--set", p) for p in parts)
        if count != int(count) or not 2 <= count <= MAX_LINSPACE:
            raise InputError(f"--set: {shown(text)}: N in LOW:HIGH:N must be an integer from 2 to {MAX_LINSPACE:,}")
        return [float(v) for v in np.linspace(low, high, int(count))]
    return [_scalar(v) for v in text.split(",")]


def _number(where: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {shown(text[:40])} is not a number (LOW:HIGH:N takes three numbers)") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {shown(text[:40])} is not a finite number")
    return value


def _scalar(text: str):
    text = text.strip()
    if not text:
        raise InputError("--set: empty value in a comma-separated list")
    try:
        return float(text) if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text) else yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_sets(items: list[str] | None) -> dict[str, list]:
    """``["job.split=uniform,aware", "goodput.restart_s=60:600:4"]`` -> ``{key: [values]}``."""
    out: dict[str, list] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set: {shown(item[:60])} is not KEY=V1,V2,... or KEY=LOW:HIGH:N")
        if key in out:
            raise InputError(f"--set: {key} is given twice; give all its values in one --set")
        out[key] = parse_values(values)
    total = math.prod(len(v) for v in out.values()) if out else 1
    if total > MAX_POINTS:
        raise InputError(f"--set: the overrides make {total:,} points; a sweep takes at most {MAX_POINTS:,}")
    return out


# --------------------------------------------------------------------------- points
def base_document(scenario: str) -> dict:
    """The scenario file's mapping (what a point's overrides are applied to)."""
    from analysis.catalog import read_yaml
    from analysis.scenario import resolve_path
    return read_yaml(resolve_path(scenario))


def apply_overrides(doc: dict, overrides: dict) -> dict:
    """A copy of a scenario mapping with ``{"section.key": value}`` set (a swept value replaces
    the parameter's range: within a point it is fixed, the other ranges still vary)."""
    out = copy.deepcopy(doc)
    for path, value in overrides.items():
        section, dot, key = path.partition(".")
        if not dot:
            if path not in TOP_LEVEL_OVERRIDES:
                raise InputError(f"--set: {shown(path)} is not a key path; use section.key (e.g. job.global_batch_tokens)"
                                 f" or one of {', '.join(TOP_LEVEL_OVERRIDES)}")
            out[path] = value
            continue
        given = out.get(section)
        out[section] = dict(given) if isinstance(given, dict) else {}
        out[section][key] = value
    return out


def grid(sets: dict[str, list]) -> list[dict]:
    """The full product of the overrides, as one ``{key: value}`` per point (first key slowest)."""
    keys = list(sets)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(sets[k] for k in keys))]


def validate_points(scenario: str, points: list[dict]) -> dict:
    """Parse every point's scenario now (bad keys and values fail before any run); returns the base mapping."""
    from analysis.scenario import parse_scenario
    doc = base_document(scenario)
    seen = {}
    for point in points:
        for key, value in point.items():     # each distinct value once: that is what can be wrong
            if (key, repr(value)) not in seen:
                seen[(key, repr(value))] = True
                try:
                    parse_scenario(apply_overrides(doc, {key: value}))
                except InputError as exc:
                    raise InputError(f"--set {key}={value}: {exc}") from None
    return doc


# --------------------------------------------------------------------------- one point
_UNIT_WORDS = (("%", " pct "), ("$B", " usd_billions "), ("$M", " usd_millions "), ("$", " usd "), ("/", " per "))


def figure_column(figure: str, unit: str) -> str:
    """Column name of a headline figure with its unit: ``('Break-even lease rate', '$/GPU-hour')``
    -> ``break_even_lease_rate_usd_per_gpu_hour``. Only the unit's leading words are kept (a
    unit like ``$B over 36 months`` -> ``usd_billions``)."""
    unit = re.split(r"\s+(?:over|of|at|for|\()\b|\(", unit, maxsplit=1)[0]
    for old, new in _UNIT_WORDS:
        unit = unit.replace(old, new)
    name = re.sub(r"\(.*?\)", "", figure).replace("'", "")
    slug = re.sub(r"[^a-z0-9]+", "_", f"{name} {unit}".lower()).strip("_")
    return re.sub(r"_+", "_", slug)


def evaluate_point(doc: dict, draws: int, seed: int) -> dict:
    """Headline figures of one overridden scenario mapping: ``{column: value}`` with ``_p05``/``_p95``."""
    from analysis import evaluate
    from analysis.scenario import parse_scenario
    result = evaluate.evaluate(parse_scenario(doc), draws=draws, seed=seed, flip_thresholds=False)
    row = {}
    for figure, h in result.headlines().iterrows():
        column = figure_column(figure, str(h["unit"]))
        row[column], row[f"{column}_p05"], row[f"{column}_p95"] = (float(h["value"]), float(h["p05"]), float(h["p95"]))
    return row


def _run_point(payload: tuple) -> tuple[int, dict]:
    index, doc, draws, seed = payload
    return index, evaluate_point(doc, draws, seed)


DESCRIPTIVE_COLUMNS = ("point", "scenario", "draws", "seed")


def figure_columns(table: pd.DataFrame) -> list[str]:
    """Headline-figure columns of a sweep table (not the overrides, not the 5-95% band columns)."""
    keys = set(override_columns(table))
    return [c for c in table.columns if c not in keys and c not in DESCRIPTIVE_COLUMNS and not c.endswith(("_p05", "_p95"))]


# --------------------------------------------------------------------------- executors
def _local_results(payloads, jobs: int, progress):
    if jobs == 1 or len(payloads) == 1:
        for payload in payloads:
            yield _run_point(payload)
        return
    from concurrent.futures import as_completed
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_point, p) for p in payloads]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def connect(scheduler: str):
    """A ``dask.distributed`` client of a running scheduler (one line on failure)."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - a dependency of the project
        raise InputError("--scheduler: dask.distributed is not installed; pip install 'dask[distributed]'") from None
    if not re.fullmatch(r"(tcp|tls|inproc|ws|wss)://[^\s/]+(:\d+)?/?", scheduler):
        raise InputError(f"--scheduler: {shown(scheduler[:80])} is not a scheduler address; use tcp://HOST:PORT")
    try:
        return Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler: cannot reach {scheduler}: {type(exc).__name__}") from None


def _dask_results(payloads, scheduler):
    client = connect(scheduler) if isinstance(scheduler, str) else scheduler
    try:
        futures = client.map(_run_point, payloads, pure=False)
        for future in futures:       # in grid order; the cluster runs them all meanwhile
            yield future.result()
    finally:
        if isinstance(scheduler, str):
            client.close()


# --------------------------------------------------------------------------- the sweep
@dataclass
class SweepResult:
    """One row per point: the overrides, then each headline figure with its 5-95% band."""

    scenario: str
    keys: list[str]
    draws: int
    seed: int
    table: pd.DataFrame = field(repr=False)

    def summary(self) -> str:
        figures = figure_columns(self.table)
        lines = [f"Sweep of {self.scenario}: {len(self.table):,} points over {', '.join(self.keys) or 'no keys'} "
                 f"({self.draws:,} draws a point, seed {self.seed})"]
        for column in figures:
            values = self.table[column]
            lines.append(f"  {column:<60} min {values.min():,.4g}  max {values.max():,.4g}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<p>{self.summary().splitlines()[0]}</p>" + self.table.head(20).to_html(index=False)


def run_sweep(scenario: str, sets: dict[str, list], draws: int = 2_000, seed: int = 0, jobs: int | None = None,
              scheduler=None, progress: bool | None = None) -> SweepResult:
    """Evaluate ``scenario`` at every point of the product of ``sets`` (``{key: [values]}``).

    ``scheduler``: ``None`` for local processes (``jobs`` of them, default the core count), a
    ``tcp://`` address or a ``distributed.Client``. Rows come back in grid order whatever the
    order the points finish in, so the table is the same for the same seed on any executor.
    """
    from tqdm.auto import tqdm

    if not 1 <= draws <= 1_000_000:
        raise InputError(f"--draws: {draws} is outside 1 to 1,000,000")
    points = grid(sets)
    doc = validate_points(scenario, points)
    name = str(doc.get("name") or Path(str(scenario)).stem)
    payloads = [(i, apply_overrides(doc, point), int(draws), int(seed)) for i, point in enumerate(points)]
    jobs = jobs or os.cpu_count() or 1
    results = _dask_results(payloads, scheduler) if scheduler is not None else _local_results(payloads, jobs, progress)
    rows: dict[int, dict] = {}
    for index, row in tqdm(results, total=len(payloads), disable=None if progress is None else not progress,
                           desc=f"sweep {name}", unit="point", leave=False):
        rows[index] = row
    table = pd.DataFrame([{"point": i, "scenario": name, "draws": int(draws), "seed": int(seed), **points[i], **rows[i]}
                          for i in range(len(points))])
    return SweepResult(name, list(sets), int(draws), int(seed), table)


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the table as CSV or Parquet (by suffix), atomically: a failed write leaves nothing."""
    path = Path(path)
    if path.suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"--out: {shown(str(path)[:80])} must end in {' or '.join(OUTPUT_SUFFIXES)}")
    if path.exists() and path.is_dir():
        raise InputError(f"--out: {shown(str(path)[:80])} is a directory; give a file name ending in .csv or .parquet")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out: cannot create {shown(str(path.parent)[:80])} ({exc.strerror})") from None
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"--out: cannot write {shown(str(path)[:80])} ({exc.strerror})") from None
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """A sweep table written by :func:`write_table` (CSV or Parquet)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"sweep_table: {shown(str(path)[:80])} is not a file")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def benchmark(seconds: float = 1.5) -> dict[str, float]:
    """Sweep points per second on one core at the default draws (grids warm)."""
    from analysis.bench import throughput
    doc = base_document("colossus1")
    # a new batch at every point: repeated points would be served by the model's memo (analysis.memo)
    values = (16e6 + 1e5 * i for i in itertools.count())

    def one():
        evaluate_point(apply_overrides(doc, {"job.global_batch_tokens": next(values)}), 2_000, 0)

    return {"sweep: points/s (2,000 draws a point, one core)": throughput(one, seconds)}


# --------------------------------------------------------------------------- notebook entry points
def range_values(scenario, key: str, count: int) -> list[float]:
    """``count`` evenly spaced values across a parameter's sourced range (its low to high; the
    central value +-50% where the source gives no range)."""
    from analysis.scenario import load_scenario
    param = load_scenario(scenario).param(key)
    if isinstance(param.value, str):
        raise InputError(f"{key}: a text parameter has no range; give its values explicitly")
    value = float(param.value)
    low = float(param.low) if param.low is not None else 0.5 * value
    high = float(param.high) if param.high is not None else 1.5 * value
    return [float(v) for v in np.linspace(low, high, count)]


def override_columns(table: pd.DataFrame) -> list[str]:
    """The override columns of a sweep table: key paths (``section.key``) and top-level keys."""
    return [c for c in table.columns if "." in c or c in TOP_LEVEL_OVERRIDES]


def load_or_run(scenario, sweep_table=None, x_key: str | None = None, x_values=None, y_key: str | None = None,
                y_values=None, draws: int = 300, points_per_key: int = 4, jobs: int | None = None) -> SweepResult:
    """The sweep a report draws: a table written by ``python -m analysis sweep`` when
    ``sweep_table`` is given, else a small sweep of ``scenario`` over ``x_key`` x ``y_key``
    (values default to each parameter's sourced range)."""
    if sweep_table:
        table = read_table(sweep_table)
        keys = override_columns(table)
        name = str(table["scenario"].iloc[0]) if "scenario" in table else Path(str(sweep_table)).stem
        draws = int(table["draws"].iloc[0]) if "draws" in table else 0
        seed = int(table["seed"].iloc[0]) if "seed" in table else 0
        return SweepResult(name, keys, draws, seed, table)
    sets = {}
    for key, values in ((x_key, x_values), (y_key, y_values)):
        if key:
            sets[key] = list(values) if values is not None else range_values(scenario, key, points_per_key)
    return run_sweep(scenario, sets, draws=draws, jobs=jobs, progress=False)
