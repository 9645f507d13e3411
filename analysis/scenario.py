"""Scenarios: a cluster plus every model parameter as a sourced central value with a range.

A scenario file (``data/scenarios/<name>.yaml``) names a cluster and overrides some of the
defaults in ``data/parameters/<section>.yaml``. Each section belongs to one model module,
which declares what its parameters may be in ``PARAMETERS: dict[str, Spec]``::

    name: colossus1
    title: Colossus 1 as operated
    cluster: colossus1
    power:
      pue: {value: 1.2, low: 1.1, high: 1.3, source: "..."}

The same object serves a point estimate (:meth:`Scenario.values`) and Monte Carlo
(:meth:`Scenario.sample`). Unknown keys, wrong types, out-of-range values and unknown
cluster or GPU ids raise :class:`InputError` naming the key path and what is allowed.
"""
from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import io
from analysis.catalog import SAFE_ID, SAFE_ID_ALLOWED, Cluster, check_id, load_cluster, read_yaml, text_field
from analysis.errors import InputError, clip, shown
from analysis.params import Param, Spec, parse_param
from analysis.paths import PARAMETER_DIR, SCENARIO_DIR

# Scenario sections and the analysis module that owns (declares PARAMETERS for) each.
SECTIONS = {"job": "utilization", "heterogeneity": "heterogeneity", "goodput": "goodput", "power": "power",
            "cost": "cost", "inference": "inference", "economics": "economics", "fleet": "fleet"}
POOL_PREFIX = "pools."        # Draws keys of the cluster's pool counts: "pools.<pool name>"
TOP_LEVEL_KEYS = ("name", "title", "description", "cluster")


@lru_cache(maxsize=None)
def section_specs() -> dict[str, dict[str, Spec]]:
    """``{section: {key: Spec}}`` from the modules that exist."""
    specs = {}
    for section, module_name in SECTIONS.items():
        try:
            module = importlib.import_module(f"analysis.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"analysis.{module_name}":
                continue
            raise
        if hasattr(module, "PARAMETERS"):
            specs[section] = dict(module.PARAMETERS)
    return specs


@lru_cache(maxsize=None)
def defaults() -> dict[str, dict[str, Param]]:
    """Sourced defaults for every parameter, from ``data/parameters/<section>.yaml``."""
    out = {}
    for section, specs in section_specs().items():
        path = PARAMETER_DIR / f"{section}.yaml"
        doc = read_yaml(path)
        where = f"data/parameters/{section}.yaml"
        unknown = set(doc) - set(specs)
        if unknown:
            raise InputError(f"{where}: unknown key {shown(sorted(unknown, key=str)[0])}; {section} takes {', '.join(sorted(specs))}")
        missing = set(specs) - set(doc)
        if missing:
            raise InputError(f"{where}: missing default for {shown(sorted(missing)[0])}")
        out[section] = {key: parse_param(f"{where} {section}.{key}", doc[key], spec, require_source=spec.choices is None)
                        for key, spec in specs.items()}
    return out



def short_title(title, fallback: str = "") -> str:
    """A title without its parenthetical detail ("Colossus 1 as operated (one job, ...)" ->
    "Colossus 1 as operated"), or ``fallback`` when nothing is left: how scenarios and clusters
    are named in charts and table headings."""
    return str(title or "").split(" (", 1)[0].strip() or fallback


def scenario_label(name_or_file) -> str:
    """The short title of a scenario given by name or file (:attr:`Scenario.label`), or the name
    itself when it does not load: a label never fails a report."""
    try:
        return load_scenario(str(name_or_file)).label
    except Exception:  # noqa: BLE001
        return str(name_or_file)


def draw_stream(seed: int, path: str) -> np.random.Generator:
    """The random stream of one Monte Carlo input: NumPy's generator seeded by ``seed`` and the first 128 bits of
    the SHA-256 of ``path`` (``numpy.random.SeedSequence`` entropy words), independent of which other inputs exist
    or in what order they are drawn."""
    words = np.frombuffer(hashlib.sha256(path.encode()).digest()[:16], dtype="<u4")
    return np.random.default_rng([int(seed), *map(int, words)])


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. ``params[section][key]`` is a :class:`Param`."""

    name: str
    title: str
    description: str
    cluster: Cluster
    params: dict[str, dict[str, Param]]
    overridden: frozenset[str] = field(default_factory=frozenset)
    path: Path | None = None
    _draws: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    @property
    def label(self) -> str:
        """How charts and tables name the scenario: its title without the parenthetical detail
        ("Colossus 1 as operated"), or its name when it has no title."""
        return short_title(self.title, self.name)

    def param(self, path: str) -> Param:
        section, _, key = path.partition(".")
        try:
            return self.params[section][key]
        except KeyError:
            raise InputError(f"{path}: no such parameter; sections are {', '.join(self.params)}") from None

    def value(self, path: str):
        return self.param(path).value

    def values(self, section: str) -> dict:
        """Central values of one section, as keyword arguments for its model functions."""
        return {key: p.value for key, p in self.params[section].items()}

    def sample(self, n: int, seed: int = 0, vary: set[str] | None = None) -> "Draws":
        """The scenario's one seeded Monte Carlo sample: a :class:`Draws` with ``n`` draws along
        a named ``"draw"`` axis of every numeric parameter (``draws["section.key"]``, triangular
        within its range; constant when it has none; text parameters as their value) and of the
        cluster's pool counts (``draws["pools.<name>"]``, :attr:`Draws.pool_counts`).

        ``vary`` limits which parameters vary (pool counts vary only when ``vary`` is None or
        names them). Every parameter and pool count draws from its own stream, keyed by the seed
        and its path (:func:`draw_stream`), so a seed reproduces the draws exactly and adding,
        removing or fixing one parameter leaves every other's draws as they were. The same ``(n, seed, vary)`` returns the same
        object: every model of a scenario consumes one draw set, and none draws again to line
        rows up (the arrays are read-only)."""
        key = (int(n), int(seed), None if vary is None else frozenset(vary))
        if key in self._draws:
            return self._draws[key]
        out = {}
        for path in sorted(f"{s}.{k}" for s in self.params for k in self.params[s]):
            p = self.param(path)
            if isinstance(p.value, str):
                out[path] = p.value
            elif vary is None or path in vary:
                out[path] = p.sample(n, draw_stream(seed, path))
            else:
                out[path] = np.full(n, float(p.value))
        for pool in self.cluster.pools:
            path = f"{POOL_PREFIX}{pool.name}"
            varies = vary is None or path in vary
            out[path] = pool.count.sample(n, draw_stream(seed, path)) if varies else np.full(n, float(pool.count.value))
        # section modules may add draws of their own inputs (e.g. the fleet inventory), each from its own path's stream
        stream = lambda path: draw_stream(seed, path)
        for section in sorted(self.params):
            module = importlib.import_module(f"analysis.{SECTIONS[section]}")
            if hasattr(module, "sample_inventory"):
                out.update(module.sample_inventory(self.values(section), int(n), stream))
        draws = Draws(out, n=int(n), seed=int(seed), scenario=self.name, pool_names=tuple(p.name for p in self.cluster.pools))
        self._draws[key] = draws
        return draws

    def table(self) -> pd.DataFrame:
        """Every parameter with unit, central value, range, source and whether the scenario set it."""
        specs = section_specs()
        rows = [{"parameter": f"{s}.{k}", "value": p.value, "low": p.low, "high": p.high,
                 "unit": specs[s][k].unit, "set_by_scenario": f"{s}.{k}" in self.overridden, "source": p.source}
                for s, section in self.params.items() for k, p in section.items()]
        columns = ["parameter", "value", "low", "high", "unit", "set_by_scenario", "source"]
        return pd.DataFrame(rows, columns=columns)

    @property
    def hash(self) -> str:
        """Short SHA-256 of everything the scenario resolves to (cluster and parameters)."""
        payload = {"name": self.name, "cluster": self.cluster.id,
                   "pools": [(p.name, p.gpu.id, p.count.value, p.scale_out_gb_s_per_gpu.value) for p in self.cluster.pools],
                   "params": {f"{s}.{k}": [p.value, p.low, p.high] for s in self.params for k, p in self.params[s].items()}}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Draws(dict):
    """One seeded Monte Carlo sample of a scenario (from :meth:`Scenario.sample`).

    A read-only mapping ``{"section.key": array of n draws (or the text value)}`` plus the pool
    counts ``{"pools.<name>": array}``; every array lies along one named axis, ``"draw"``
    (:attr:`dims`), so row ``i`` of every model fed from it is the same draw. Utilization,
    goodput, power, cost, economics and the fleet model all consume this one object.
    """

    dims = ("draw",)

    def __init__(self, values: dict, *, n: int, seed: int, scenario: str = "", pool_names: tuple = ()):
        arrays = {}
        for k, v in values.items():
            if not isinstance(v, str):
                v = np.asarray(v, float)
                if v.shape != (n,):
                    raise InputError(f"draws: {shown(k)} has shape {v.shape}; expected ({n},) along the 'draw' axis")
                v = v.copy()
                v.flags.writeable = False
            arrays[k] = v
        super().__init__(arrays)
        self.n, self.seed, self.scenario, self.pool_names = int(n), int(seed), scenario, tuple(pool_names)

    def _readonly(self, *args, **kwargs):
        raise TypeError("Draws are read-only: copy them (dict(draws)) to change a value")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _readonly

    def section(self, section: str) -> dict:
        """``{key: draws}`` of one section (as :func:`section_draws`)."""
        return section_draws(self, section)

    @property
    def pool_counts(self) -> np.ndarray:
        """``(draws, pools)`` GPU counts of the scenario's cluster, pools in cluster order."""
        return np.stack([self[f"{POOL_PREFIX}{name}"] for name in self.pool_names], axis=-1)

    def varied(self) -> pd.DataFrame:
        """The inputs that vary across draws (numeric, non-constant), indexed by ``draw``."""
        cols = {k: v for k, v in self.items() if not isinstance(v, str) and np.ptp(v) > 0}
        return pd.DataFrame(cols, index=pd.RangeIndex(self.n, name="draw"))

    def to_frame(self) -> pd.DataFrame:
        """Every numeric draw as a column, indexed by ``draw``."""
        return pd.DataFrame({k: v for k, v in self.items() if not isinstance(v, str)}, index=pd.RangeIndex(self.n, name="draw"))

    def __repr__(self) -> str:
        return f"Draws({self.scenario!r}, n={self.n}, seed={self.seed}, {len(self)} inputs)"

    def __reduce__(self):
        return (_rebuild_draws, (dict(self), self.n, self.seed, self.scenario, self.pool_names))


def _rebuild_draws(values, n, seed, scenario, pool_names):
    return Draws(values, n=n, seed=seed, scenario=scenario, pool_names=pool_names)


def section_draws(draws: dict, section: str) -> dict:
    """``{key: draws}`` of one section from :meth:`Scenario.sample` output (``{"section.key": array}``)."""
    prefix = f"{section}."
    out = {k[len(prefix):]: v for k, v in draws.items() if k.startswith(prefix)}
    if not out:
        raise InputError(f"section: {shown(section)} has no draws; sampled sections are "
                         f"{', '.join(sorted({k.split('.', 1)[0] for k in draws}))}")
    return out


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def resolve_path(name_or_file: str | Path) -> Path:
    """A scenario name from ``data/scenarios`` or a path to a YAML file (a regular file, not a
    directory). A name that is not a file must be a safe identifier (no path separators)."""
    if not isinstance(name_or_file, (str, Path)):
        raise InputError(f"scenario: {shown(name_or_file)} is neither a scenario name nor a YAML file path")
    candidate = Path(name_or_file)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.exists():
            raise InputError(f"scenario: file {shown(str(candidate))} not found")
        if candidate.is_dir():
            raise InputError(f"scenario: {shown(str(candidate))} is a directory; give a scenario name "
                             f"({', '.join(scenario_names())}) or a YAML file")
        if not candidate.is_file():
            raise InputError(f"scenario: {shown(str(candidate))} is not a regular file; give a YAML file")
        return candidate
    if not SAFE_ID.fullmatch(str(name_or_file)):
        raise InputError(f"scenario: {shown(str(name_or_file))} is neither a YAML file nor a scenario name "
                         f"({SAFE_ID_ALLOWED}); known scenarios are {', '.join(scenario_names())}")
    path = SCENARIO_DIR / f"{name_or_file}.yaml"
    if not path.exists():
        raise InputError(f"scenario: unknown scenario {shown(str(name_or_file))}; known scenarios are {', '.join(scenario_names())}")
    return path


def parse_scenario(doc: dict, path: Path | None = None) -> Scenario:
    """Validate a scenario mapping against the section specs and merge it over the defaults.

    With ``path``, an error about the scenario's own keys starts with the file
    (``my.yaml power.pue: 0.7 is below 1; ...``); errors in the files it refers to (a cluster,
    data/gpus.csv) name those files instead."""
    if path is None:
        return _parse_scenario(doc, None)
    try:
        return _parse_scenario(doc, path)
    except InputError as exc:
        message = str(exc)
        head = message.split(":", 1)[0]
        if any(marker in head for marker in (".yaml", ".yml", ".csv", "/")):
            raise
        raise InputError(f"{io.where(path)} {message}") from None


def _parse_scenario(doc: dict, path: Path | None) -> Scenario:
    if not isinstance(doc, dict):
        raise InputError(f"scenario: expected a mapping (key: value lines) at the top level, got {type(doc).__name__}")
    specs, base = section_specs(), defaults()
    allowed = set(TOP_LEVEL_KEYS) | set(specs)
    unknown = set(doc) - allowed
    if unknown:
        first = sorted(unknown, key=str)[0]
        raise InputError(f"{clip(first, 60) if isinstance(first, str) else shown(first)}: unknown key; "
                         f"a scenario takes {', '.join(TOP_LEVEL_KEYS)} and the sections {', '.join(specs)}")
    if "cluster" not in doc:
        raise InputError("cluster: missing; name one of the clusters in data/clusters/")
    if not isinstance(doc["cluster"], str):
        raise InputError(f"cluster: {shown(doc['cluster'])} is not a cluster id (text)")
    if doc.get("name") is not None:
        name = check_id("name", doc["name"])
    else:
        stem = path.stem if path else "scenario"
        if not SAFE_ID.fullmatch(stem):
            raise InputError(f"name: missing, and the file name {shown(stem)} is not a safe name; "
                             f"add 'name:' with {SAFE_ID_ALLOWED}")
        name = stem
    title = text_field("title", doc["title"], limit=200) if doc.get("title") is not None else name
    description = text_field("description", doc["description"]) if doc.get("description") is not None else ""
    params = {section: dict(values) for section, values in base.items()}
    overridden = set()
    for section in specs:
        given = doc.get(section)
        if given is None:  # absent, or an empty section (`power:`)
            given = {}
        if not isinstance(given, dict):
            raise InputError(f"{section}: expected a mapping of parameters (key: value lines), got {shown(given)}; "
                             f"{section} takes {', '.join(sorted(specs[section]))}")
        for key, raw in given.items():
            if key not in specs[section]:
                key_text = clip(key, 60) if isinstance(key, str) else shown(key)
                raise InputError(f"{section}.{key_text}: unknown parameter; {section} takes {', '.join(sorted(specs[section]))}")
            params[section][key] = parse_param(f"{section}.{key}", raw, specs[section][key])
            overridden.add(f"{section}.{key}")
    cluster = load_cluster(doc["cluster"])
    for section, validate in _cross_checks():
        if section in params:
            validate({k: p.value for k, p in params[section].items()}, cluster)
    return Scenario(name, title, description.strip(), cluster, params, frozenset(overridden), path)


def _cross_checks():
    """Optional ``validate_section(values, cluster)`` hooks of the section modules (e.g. a
    GPU id in a parameter must exist, a split must be one the cluster supports)."""
    for section in section_specs():
        module = importlib.import_module(f"analysis.{SECTIONS[section]}")
        if hasattr(module, "validate_section"):
            yield section, module.validate_section


def load_scenario(name_or_file: str | Path | Scenario) -> Scenario:
    """Load and validate a scenario by name (``data/scenarios/<name>.yaml``) or file path
    (an already validated :class:`Scenario`, e.g. a sweep point, is returned as it is)."""
    if isinstance(name_or_file, Scenario):
        return name_or_file
    path = resolve_path(name_or_file)
    return parse_scenario(read_yaml(path), path)
