"""Scenario validation: every error names the key path, the value and what is allowed."""
import numpy as np
import pytest

from analysis import scenario as scenario_module
from analysis.errors import InputError
from analysis.params import Param, Spec, parse_param
from analysis.scenario import load_scenario, parse_scenario, scenario_names

FAKE_SPECS = {"power": {"pue": Spec("-", min=1.0, max=3.0), "split": Spec("-", choices=("uniform", "aware"))},
              "goodput": {"gpus": Spec("GPUs", min=1, integer=True)}}
FAKE_DEFAULTS = {"power": {"pue": Param(1.2, 1.1, 1.3, "Uptime 2024"), "split": Param("uniform")},
                 "goodput": {"gpus": Param(8, source="assumption")}}


@pytest.fixture
def fake_sections(monkeypatch):
    monkeypatch.setattr(scenario_module, "section_specs", lambda: FAKE_SPECS)
    monkeypatch.setattr(scenario_module, "defaults", lambda: FAKE_DEFAULTS)
    monkeypatch.setattr(scenario_module, "_cross_checks", lambda: iter(()))


def test_every_scenario_file_loads():
    names = scenario_names()
    assert {"colossus1", "colossus1-aware", "colossus1-islands", "colossus2", "llama3-16k"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name and sc.cluster.gpus > 0 and len(sc.hash) == 16


def test_defaults_have_sources_for_every_number():
    table = load_scenario("colossus1").table()
    assert len(table) > 20, "every model section should contribute sourced defaults"
    numeric = table[table["value"].map(lambda v: not isinstance(v, str))]
    assert (numeric["source"].str.len() > 0).all(), numeric[numeric["source"] == ""]["parameter"].tolist()


@pytest.mark.parametrize("doc, message", [
    ({"cluster": "colossus1", "power": {"pue": 0.7}}, r"^power\.pue: 0\.7 is below 1; expected a number in \[1, 3\]"),
    ({"cluster": "colossus1", "power": {"pue": "high"}}, r"^power\.pue: 'high' is not a number"),
    ({"cluster": "colossus1", "power": {"pue": {"value": 1.2, "low": 1.3, "high": 1.5}}}, r"^power\.pue: value 1\.2 is outside its range"),
    ({"cluster": "colossus1", "power": {"pue": {"value": 1.2, "low": 1.1}}}, r"give both 'low' and 'high'"),
    ({"cluster": "colossus1", "power": {"pue": {"value": 1.2, "sigma": 1}}}, r"power\.pue: unknown key 'sigma'"),
    ({"cluster": "colossus1", "power": {"pue": {"low": 1.1, "high": 1.3}}}, r"power\.pue: missing 'value'"),
    ({"cluster": "colossus1", "power": {"split": "random"}}, r"power\.split: 'random' is not allowed; use one of uniform, aware"),
    ({"cluster": "colossus1", "power": {"puе": 1.2}}, r"power\.puе: unknown parameter; power takes pue, split"),
    ({"cluster": "colossus1", "goodput": {"gpus": 8.5}}, r"goodput\.gpus: 8\.5 is not an integer"),
    ({"cluster": "colossus1", "power": {"pue": True}}, r"power\.pue: True is not a number"),
    ({"cluster": "colossus1", "cooling": {}}, r"^cooling: unknown key; a scenario takes name, title, description, cluster"),
    ({"cluster": "colossus1", "power": [1, 2]}, r"^power: expected a mapping"),
    ({"power": {}}, r"^cluster: missing"),
    ({"cluster": "colossus9"}, r"unknown cluster 'colossus9'; known clusters are"),
])
def test_scenario_errors(fake_sections, doc, message):
    with pytest.raises(InputError, match=message) as info:
        parse_scenario(doc)
    assert "\n" not in str(info.value)


def test_overrides_merge_over_defaults_and_sample_reproducibly(fake_sections):
    sc = parse_scenario({"name": "t", "cluster": "colossus1", "power": {"pue": {"value": 1.5, "low": 1.4, "high": 1.8, "source": "s"}}})
    assert sc.value("power.pue") == 1.5 and sc.value("power.split") == "uniform" and sc.value("goodput.gpus") == 8
    assert sc.overridden == {"power.pue"}
    a, b = sc.sample(1000, seed=3), sc.sample(1000, seed=3)
    assert np.array_equal(a["power.pue"], b["power.pue"])
    assert a["power.pue"].min() >= 1.4 and a["power.pue"].max() <= 1.8
    assert np.all(a["goodput.gpus"] == 8) and a["power.split"] == "uniform"
    assert not np.array_equal(a["power.pue"], sc.sample(1000, seed=4)["power.pue"])
    fixed = sc.sample(10, seed=3, vary=set())
    assert np.all(fixed["power.pue"] == 1.5)


def test_a_parameter_draws_the_same_whatever_else_varies(monkeypatch):
    """Each input has its own stream (keyed by seed and path): adding a ranged parameter that sorts before another, or
    fixing it, leaves the other's draws unchanged (one shared stream in sorted order would shift them)."""
    specs = {"power": {"pue": Spec("-", min=1.0, max=3.0), "aaa": Spec("-", min=0.0, max=1.0)}}
    monkeypatch.setattr(scenario_module, "section_specs", lambda: specs)
    monkeypatch.setattr(scenario_module, "_cross_checks", lambda: iter(()))
    alone = {"power": {"pue": Param(1.2, 1.1, 1.3, "s")}}
    monkeypatch.setattr(scenario_module, "defaults", lambda: alone)
    before = parse_scenario({"name": "t", "cluster": "colossus1"}).sample(200, seed=7)["power.pue"]
    both = {"power": {"pue": Param(1.2, 1.1, 1.3, "s"), "aaa": Param(0.5, 0.1, 0.9, "s")}}
    monkeypatch.setattr(scenario_module, "defaults", lambda: both)
    sc = parse_scenario({"name": "t", "cluster": "colossus1"})
    after = sc.sample(200, seed=7)
    assert np.array_equal(after["power.pue"], before) and not np.array_equal(after["power.aaa"], np.full(200, 0.5))
    assert np.array_equal(sc.sample(200, seed=7, vary={"power.pue"})["power.pue"], before)
    stream = scenario_module.draw_stream
    assert stream(7, "power.pue").random() == stream(7, "power.pue").random() != stream(7, "power.aaa").random()


def test_unknown_scenario_lists_known():
    with pytest.raises(InputError, match=r"unknown scenario 'colossus3'; known scenarios are .*colossus1"):
        load_scenario("colossus3")


def test_scenario_file_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("cluster: llama3-16k\ntitle: my run\n")
    sc = load_scenario(str(path))
    assert sc.name == "mine" and sc.cluster.id == "llama3-16k"
    with pytest.raises(InputError, match="not found"):
        load_scenario(str(tmp_path / "missing.yaml"))


def test_param_without_source_rejected_in_data():
    with pytest.raises(InputError, match="no source"):
        parse_param("cost.life_years", 5, Spec("years", min=1), require_source=True)
    with pytest.raises(InputError, match="no source"):
        parse_param("cost.life_years", {"value": 5, "source": " "}, Spec("years", min=1), require_source=True)


def test_sample_is_one_draws_object_with_pool_counts():
    from analysis.scenario import Draws, section_draws
    sc = load_scenario("colossus1")
    d = sc.sample(64, seed=5)
    assert isinstance(d, Draws) and d is sc.sample(64, seed=5) and d.dims == ("draw",) and d.n == 64
    assert d.pool_counts.shape == (64, 3) and np.array_equal(d.pool_counts[:, 0], d["pools.H100"])
    assert d["pools.H100"].min() >= 100_000 and d["pools.H100"].max() <= 170_000
    assert section_draws(d, "goodput") == d.section("goodput") and d["job.split"] == "uniform"
    with pytest.raises(TypeError, match="read-only"):
        d["power.pue"] = 1.0
    with pytest.raises(ValueError):
        d["power.pue"][0] = 1.0
    # the fleet inventory rides along; the varied frame has the named axis
    assert any(k.startswith("fleet_gpus.") for k in d) and d.varied().index.name == "draw"
    import pickle
    again = pickle.loads(pickle.dumps(d))
    assert isinstance(again, Draws) and np.array_equal(again["power.pue"], d["power.pue"])


def test_fleet_section_registered():
    from analysis.scenario import SECTIONS, section_specs
    assert SECTIONS["fleet"] == "fleet" and "inference_fraction" in section_specs()["fleet"]
    with pytest.raises(InputError, match=r"fleet\.inference_fraction: 0\.7 \+ fleet\.rl_fraction"):
        parse_scenario({"cluster": "colossus1", "fleet": {"inference_fraction": 0.7, "rl_fraction": 0.3}})


def test_short_title_and_scenario_label():
    from analysis.scenario import scenario_label, short_title

    assert short_title("Colossus 1 as operated (one job, uniform split)") == "Colossus 1 as operated"
    assert short_title("", "colossus1") == "colossus1" and short_title(None, "x") == "x"
    assert scenario_label("colossus1") == load_scenario("colossus1").label == "Colossus 1 as operated"
    assert scenario_label("no-such-scenario") == "no-such-scenario"
