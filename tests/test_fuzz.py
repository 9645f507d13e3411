"""Fuzz the scenario loader: random mutations of the shipped scenario files (deleted keys, swapped
types, huge/negative/NaN numbers, strings, lists, aliases, duplicate keys, broken bytes) end either
as a valid Scenario or as one InputError line -- never another exception. Seeded and fast."""
import copy
import math
import random

import pytest
import yaml

from analysis import io
from analysis.errors import MESSAGE_LIMIT, InputError
from analysis.paths import PARAMETER_DIR, SCENARIO_DIR
from analysis.scenario import Scenario, parse_scenario, section_specs

SEED = 20261201
CASES = 300

ODD_VALUES = [
    None, True, False, 0, -1, 1, 0.5, -0.0, 1e308, -1e308, 1e300, 10**400, float("nan"), float("inf"), float("-inf"),
    "", " ", "text", "1.2", "16e6", "-80", "nan", "1e309", "../../x", "<script>alert(1)</script>", "x" * 5000,
    "\u00e9\u4e2d\U0001f600", [], [1, 2], ["colossus1"], {}, {"value": 1}, {"value": "a"}, {"low": 1, "high": 2},
    {"value": 1.2, "low": 1.3, "high": 1.1}, {"value": 1, "low": None, "high": 2}, {"value": 1, "source": ["s"]},
    {"value": 1e308, "low": 0, "high": 1e308, "source": "s"}, {"nested": {"deeper": [1, {"a": None}]}},
]


def _shipped_docs() -> list[tuple[str, dict]]:
    """Each shipped scenario, plus the same with every section written out from its defaults (so that
    parameter mappings are mutated too)."""
    defaults = {section: yaml.safe_load((PARAMETER_DIR / f"{section}.yaml").read_text()) for section in section_specs()}
    docs = []
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        docs.append((path.stem, doc))
        full = copy.deepcopy(doc)
        for section, values in defaults.items():
            full[section] = {**copy.deepcopy(values), **(doc.get(section) or {})}
        docs.append((path.stem, full))
    return docs


def _paths(doc, prefix=()):
    """Every (path, container) position in a nested document."""
    out = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.append(prefix + (key,))
            out.extend(_paths(value, prefix + (key,)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out.append(prefix + (i,))
            out.extend(_paths(value, prefix + (i,)))
    return out


def _parent(doc, path):
    for step in path[:-1]:
        doc = doc[step]
    return doc


def _mutate(doc: dict, rng: random.Random) -> dict:
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice((1, 1, 2, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = rng.choice(paths)
        parent = _parent(doc, path)
        kind = rng.random()
        if kind < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]                                    # a deleted key
        elif kind < 0.3 and isinstance(parent, dict):
            parent[rng.choice(["colour", "pue ", "PUE", 7, "name"])] = rng.choice(ODD_VALUES)  # an extra key
        elif kind < 0.5:
            value = parent[path[-1]]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                huge = value * 10**300 if isinstance(value, int) else value * 1e300
                parent[path[-1]] = rng.choice([-value, huge, value * 10, str(value), [value], {"value": value}])
            else:
                parent[path[-1]] = rng.choice(ODD_VALUES)
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))  # a swapped type / odd value
    return doc


def _text_mutation(doc: dict, rng: random.Random) -> str:
    """YAML text of ``doc`` with a textual mutation: an alias, a duplicate key, a truncation, a bad byte."""
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    lines = text.splitlines()
    kind = rng.randrange(5)
    if kind == 0:
        return "x: &a [1, 2, 3]\n" + text + "y: *a\n"
    if kind == 1 and lines:
        line = rng.choice([ln for ln in lines if ":" in ln] or lines)
        return text + line.lstrip() + "\n"
    if kind == 2:
        return text[:rng.randrange(len(text) + 1)]
    if kind == 3:
        cut = rng.randrange(len(text) + 1)
        return text[:cut] + rng.choice(["\t", "{", "]", ": :", "\x00", "&", "*", "!!python/object:os.system ", "%"]) + text[cut:]
    return "\n".join(" " * rng.randrange(3) + ln for ln in lines)


def _check_outcome(outcome):
    if isinstance(outcome, InputError):
        message = str(outcome)
        assert "\n" not in message and 0 < len(message) <= MESSAGE_LIMIT
        return
    assert isinstance(outcome, Scenario)
    specs = section_specs()
    for section, table in outcome.params.items():
        for key, param in table.items():
            spec = specs[section][key]
            if spec.choices is None:
                for number in (param.value, param.low, param.high):
                    if number is not None:
                        assert math.isfinite(number) and spec.lower <= number <= spec.upper, (section, key, param)


def _load(doc, name):
    try:
        return parse_scenario(doc, SCENARIO_DIR / f"{name}.yaml")
    except InputError as exc:
        return exc


@pytest.mark.parametrize("chunk", range(3))
def test_mutated_scenarios_are_valid_or_one_input_error(chunk):
    rng = random.Random(SEED + chunk)
    docs = _shipped_docs()
    outcomes = {"valid": 0, "error": 0}
    for _ in range(CASES // 3):
        name, doc = rng.choice(docs)
        mutated = _mutate(doc, rng)
        outcome = _load(mutated, name)  # any other exception fails the test with its traceback
        _check_outcome(outcome)
        outcomes["valid" if isinstance(outcome, Scenario) else "error"] += 1
    assert outcomes["error"] > 0


def test_mutated_scenario_text_is_valid_or_one_input_error(tmp_path):
    rng = random.Random(SEED)
    docs = _shipped_docs()
    for i in range(100):
        name, doc = rng.choice(docs)
        path = tmp_path / f"{name}.yaml"
        text = _text_mutation(_mutate(doc, rng) if rng.random() < 0.3 else doc, rng)
        path.write_bytes(text.encode("utf-8") if rng.random() < 0.9 else text.encode("utf-16"))
        try:
            outcome = parse_scenario(io.read_yaml(path), path)
        except InputError as exc:
            outcome = exc
        _check_outcome(outcome)


def test_mutated_clusters_are_valid_or_one_input_error():
    from analysis.catalog import CLUSTER_DIR, Cluster, parse_cluster

    rng = random.Random(SEED + 99)
    clusters = [(path, yaml.safe_load(path.read_text())) for path in sorted(CLUSTER_DIR.glob("*.yaml"))]
    for _ in range(100):
        path, doc = rng.choice(clusters)
        try:
            cluster = parse_cluster(_mutate(doc, rng), path)
        except InputError as exc:
            assert "\n" not in str(exc) and len(str(exc)) <= MESSAGE_LIMIT
            continue
        assert isinstance(cluster, Cluster)
        assert all(math.isfinite(p.gpus) and 1 <= p.gpus <= 10_000_000 for p in cluster.pools)
