"""Hostile and careless input (issue #15, input side): every case ends as one InputError line (exit 2
on the CLI) naming the file, the field, the value and what is allowed -- never a traceback, a hang,
exhausted memory, invalid JSON or a silently accepted absurd value."""
import json
import math
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import catalog, io, params, scenario as scenario_module, serialize
from analysis.__main__ import MAX_DRAWS, _print_json
from analysis.errors import MESSAGE_LIMIT, InputError, shown
from analysis.params import DEFAULT_MAX, Param, Spec, parse_param
from analysis.scenario import load_scenario, parse_scenario, section_specs
from conftest import PYTHON, ROOT, run_cli

GPUS_CSV = catalog.DATA_DIR / "gpus.csv"

# 480 bytes that expand to 9**9 (~387 million) strings if aliases are followed.
BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefg", "bcdefgh")]
    + ["cluster: colossus1", "description: *h", ""])


def _one_line(exc_info, *fragments):
    message = str(exc_info.value)
    assert "\n" not in message and len(message) <= MESSAGE_LIMIT
    for fragment in fragments:
        assert fragment in message, message
    return message


def _cli_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-300:], proc.stderr[-800:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-800:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


# --------------------------------------------------------------------------- the YAML loader
def test_billion_laughs_is_rejected_before_expanding(tmp_path):
    assert 300 <= len(BILLION_LAUGHS) <= 480
    path = _write(tmp_path, "laughs.yaml", BILLION_LAUGHS)
    with pytest.raises(InputError) as info:
        catalog.read_yaml(path)
    _one_line(info, "laughs.yaml line 1", "not allowed")
    # an alias alone (without the anchor on the same node) is rejected as well
    with pytest.raises(InputError, match=r"line 2: alias \*x is not allowed"):
        io.load_yaml_text("a: 1\nb: *x\n", "t.yaml")


def test_duplicate_keys_are_rejected_with_both_lines(tmp_path):
    path = _write(tmp_path, "dup.yaml", "cluster: colossus1\npower:\n  pue: 1.2\n  pue: 1.3\n")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    _one_line(info, "dup.yaml line 4", "duplicate key 'pue'", "first at line 3")
    with pytest.raises(InputError, match="duplicate key 'cluster'"):
        io.load_yaml_text("cluster: a\ncluster: b\n")


def test_yaml_12_exponent_floats_are_numbers():
    doc = io.load_yaml_text("a: 16e6\nb: 2.048e28\nc: -1.5E-3\nd: '16e6'\ne: 1.0e+308\nf: 12\ng: 1_000\nh: v1e6\n")
    assert doc == {"a": 16e6, "b": 2.048e28, "c": -1.5e-3, "d": "16e6", "e": 1.0e308, "f": 12, "g": 1000, "h": "v1e6"}
    # PyYAML's own SafeLoader is unchanged (the resolver belongs to StrictLoader only)
    assert yaml.safe_load("a: 16e6") == {"a": "16e6"}


@pytest.mark.parametrize("text, fragment", [
    ("a: [" * 100 + "]" * 100, "nested more than"),
    ("a: 2024-13-45\n", "not valid YAML"),                 # a timestamp that is no date (ValueError in PyYAML)
    ("a: " + "9" * 5000 + "\n", "not valid YAML"),          # beyond Python's int digit limit (ValueError)
    ("a: !!python/object:os.system\n", "not valid YAML"),
    ("a: [1, 2\n", "not valid YAML"),
    ("? [a, b]\n: 1\n", "not valid YAML"),                  # an unhashable key
])
def test_malformed_yaml_is_one_line(text, fragment):
    with pytest.raises(InputError) as info:
        io.load_yaml_text(text, "x.yaml")
    _one_line(info, "x.yaml", fragment)


def test_size_limit_and_non_files(tmp_path):
    big = _write(tmp_path, "big.yaml", "a: 1\n" + "#" * io.MAX_INPUT_BYTES)
    with pytest.raises(InputError) as info:
        catalog.read_yaml(big)
    _one_line(info, "big.yaml", "above the input size limit")
    with pytest.raises(InputError, match="is a directory"):
        catalog.read_yaml(tmp_path)
    with pytest.raises(InputError, match="file not found"):
        catalog.read_yaml(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="expected a mapping .* got list"):
        catalog.read_yaml(_write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(InputError, match="got an empty file"):
        catalog.read_yaml(_write(tmp_path, "empty.yaml", ""))


def test_non_utf8_yaml_and_csv_name_the_file_and_line(tmp_path):
    cluster = (catalog.CLUSTER_DIR / "colossus1.yaml").read_text().replace("xAI", "xAI caf\u00e9", 1)
    path = _write(tmp_path, "colossus1.yaml", cluster, encoding="latin-1")
    with pytest.raises(InputError) as info:
        catalog.read_yaml(path)
    _one_line(info, "colossus1.yaml line", "byte 0xe9", "is not UTF-8")
    csv_path = _write(tmp_path, "gpus.csv", GPUS_CSV.read_text().replace("NVIDIA", "NVIDIA\u00ae", 1), encoding="latin-1")
    with pytest.raises(InputError) as info:
        catalog.load_gpus(csv_path)
    _one_line(info, "gpus.csv line", "is not UTF-8")
    # a UTF-8 byte-order mark is fine
    bom = _write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + GPUS_CSV.read_bytes())
    assert "H100" in catalog.load_gpus(bom).index


# --------------------------------------------------------------------------- CSV tables
def _gpus_text(edit) -> str:
    lines = GPUS_CSV.read_text().splitlines()
    return "\n".join(edit(lines)) + "\n"


def test_csv_with_an_extra_field_names_the_line(tmp_path):
    path = _write(tmp_path, "gpus.csv", _gpus_text(lambda ls: ls[:3] + [ls[3] + ",surplus"] + ls[4:]))
    with pytest.raises(InputError) as info:
        catalog.load_gpus(path)
    _one_line(info, "gpus.csv line 4", "more than the header's")
    path = _write(tmp_path, "gpus.csv", _gpus_text(lambda ls: [ls[0]] + [line + ",x" for line in ls[1:]]))
    with pytest.raises(InputError, match=r"gpus.csv line 2: \d+ fields, more than the header's"):
        catalog.load_gpus(path)  # pandas alone would silently use the first column as the index


def test_gpus_csv_with_only_its_header_is_blamed_on_gpus_csv(tmp_path):
    path = _write(tmp_path, "gpus.csv", _gpus_text(lambda ls: ls[:1]))
    with pytest.raises(InputError) as info:
        catalog.load_gpus(path)
    _one_line(info, "gpus.csv", "no rows below the header")
    with pytest.raises(InputError, match="gpus.csv: empty file"):
        catalog.load_gpus(_write(tmp_path, "gpus.csv", ""))


def test_id_with_trailing_space_is_blamed_on_gpus_csv_row(tmp_path):
    path = _write(tmp_path, "gpus.csv", GPUS_CSV.read_text().replace("\nH100,", "\nH100 ,", 1))
    with pytest.raises(InputError) as info:
        catalog.load_gpus(path)
    _one_line(info, "gpus.csv row 3", "column 'id'", "'H100 '", "leading or trailing spaces")


def test_duplicate_id_names_both_rows(tmp_path):
    path = _write(tmp_path, "gpus.csv", _gpus_text(lambda ls: ls + [next(line for line in ls if line.startswith("H100,"))]))
    rows = len(GPUS_CSV.read_text().splitlines()) + 1
    with pytest.raises(InputError) as info:
        catalog.load_gpus(path)
    _one_line(info, f"gpus.csv row {rows}", "duplicate id 'H100'", "first in row 3")


@pytest.mark.slow
def test_cli_blames_a_header_only_gpus_csv_on_gpus_csv(tmp_path):
    """A copy of the project whose data/gpus.csv lost its rows: the CLI names gpus.csv, not a
    parameter file that lists GPU ids (economics.yaml before)."""
    for part in ("analysis", "data"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "data" / "gpus.csv").write_text(GPUS_CSV.read_text().splitlines()[0] + "\n")
    proc = subprocess.run([PYTHON, "-m", "analysis", "evaluate", "colossus1", "--draws", "10"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    line = _cli_error(proc, "data/gpus.csv", "no rows below the header")
    assert "economics" not in line


# --------------------------------------------------------------------------- numbers and bounds
def test_every_model_parameter_has_a_finite_physical_upper_bound():
    """Every Spec in every section's PARAMETERS declares a finite ``max`` (DESIGN: "Every model
    parameter Spec has a physical upper bound"). Nothing is skipped: a section added later must
    declare its bounds too."""
    specs = section_specs()
    assert set(specs) == set(scenario_module.SECTIONS), "every scenario section should declare PARAMETERS"
    missing = [f"{section}.{key}" for section, table in specs.items() for key, spec in table.items()
               if spec.choices is None and (spec.max is None or not math.isfinite(spec.max))]
    assert not missing, f"parameters without a physical upper bound (max=): {', '.join(missing)}"


def test_every_default_is_inside_its_bounds_and_absurd_values_fail():
    for section, table in section_specs().items():
        for key, spec in table.items():
            if spec.choices is not None:
                continue
            for absurd in (1.0e308, -1.0e308, float("nan"), float("inf"), 10**400, "1e308"):
                with pytest.raises(InputError) as info:
                    parse_param(f"{section}.{key}", absurd, spec)
                _one_line(info, f"{section}.{key}")


def test_spec_bounds():
    with pytest.raises(ValueError):
        Spec("x", max=float("inf"))
    unbounded = Spec("GPUs", min=1)
    assert unbounded.upper == DEFAULT_MAX and "1e+15" in unbounded.allowed()
    with pytest.raises(InputError, match=r"x: 1e\+300 is above 1e\+15"):
        unbounded.check("x", 1e300)
    with pytest.raises(InputError, match=r"x: 1e\+400 is above 1e\+15"):
        unbounded.check("x", 10**400)  # beyond the float range: still "too large", not a crash
    assert Spec("x", min=0, max=10).check("x", np.float64(2.5)) == 2.5


def test_numeric_strings_are_numbers_and_too_large_beats_not_an_integer():
    gpus = Spec("GPUs", min=1, max=200_000, integer=True)
    assert parse_param("job.max_job_gpus", "16e3", gpus).value == 16_000
    assert parse_param("job.max_job_gpus", {"value": " 100 ", "low": "50", "high": "1e3", "source": "s"}, gpus) == Param(100, 50, 1000.0, "s")
    for value in (2.048e28, "2.048e28"):
        with pytest.raises(InputError, match=r"job.max_job_gpus: 2.048e\+28 is above 200000"):
            parse_param("job.max_job_gpus", value, gpus)
    with pytest.raises(InputError, match=r"8.5 is not an integer"):
        parse_param("job.max_job_gpus", 8.5, gpus)
    for text in ("high", "nan", "1e", "0x10", "1,000"):
        with pytest.raises(InputError, match="is not a number|is not finite"):
            parse_param("job.max_job_gpus", text, gpus)


def test_scenario_numbers_16e6_accepted_1e308_rejected(tmp_path):
    ok = load_scenario(_write(tmp_path, "ok.yaml", "cluster: colossus1\njob:\n  max_job_gpus: 16e3\n"
                                                   "power:\n  pue: '1.25'\n"))
    assert ok.value("job.max_job_gpus") == 16_000 and ok.value("power.pue") == 1.25
    with pytest.raises(InputError) as info:
        load_scenario(_write(tmp_path, "huge.yaml", "cluster: colossus1\npower:\n  pue: 1.0e+308\n"))
    _one_line(info, "huge.yaml", "power.pue", "1e+308 is above", "expected a number in")
    with pytest.raises(InputError) as info:
        load_scenario(_write(tmp_path, "big.yaml", "cluster: colossus1\njob:\n  max_job_gpus: 2.048e28\n"))
    _one_line(info, "job.max_job_gpus", "2.048e+28 is above")


def test_pool_of_1e300_gpus_is_rejected_by_a_physical_bound(tmp_path):
    doc = yaml.safe_load((catalog.CLUSTER_DIR / "colossus1.yaml").read_text())
    doc["pools"][0]["count"] = {"value": 1e300, "source": "x"}
    with pytest.raises(InputError) as info:
        catalog.parse_cluster(doc, tmp_path / "colossus1.yaml")
    _one_line(info, "colossus1.yaml pools[0].count.value", "1e+300 is above 1e+07")
    doc["pools"][0]["count"] = {"value": 100, "source": "x"}
    doc["site_power_mw"] = {"value": 1e9, "source": "x"}
    with pytest.raises(InputError, match="site_power_mw.value: 1e\\+09 is above"):
        catalog.parse_cluster(doc, tmp_path / "colossus1.yaml")


@pytest.mark.parametrize("edit, fragment", [
    (lambda d: d.update(id="../x"), "id: '../x' is not allowed"),
    (lambda d: d.update(description=["a", "b"]), "description: ['a', 'b'] is not text"),
    (lambda d: d["pools"][0].update(gpu=["H100"]), "pools[0].gpu: ['H100'] is not a GPU id"),
    (lambda d: d["pools"][0].update(name={"a": 1}), "pools[0].name: {'a': 1} is not text"),
])
def test_cluster_text_fields(tmp_path, edit, fragment):
    doc = yaml.safe_load((catalog.CLUSTER_DIR / "colossus1.yaml").read_text())
    edit(doc)
    with pytest.raises(InputError) as info:
        catalog.parse_cluster(doc, tmp_path / "colossus1.yaml")
    _one_line(info, fragment)


def test_cluster_id_cannot_leave_the_cluster_folder():
    for bad in ("../scenarios/colossus1", "/etc/passwd", ["colossus1"]):
        with pytest.raises(InputError, match="is not a cluster id"):
            catalog.load_cluster(bad)


# --------------------------------------------------------------------------- scenario files
@pytest.mark.parametrize("text, fragments", [
    ("cluster: colossus1\nname: [a, b]\n", ("name: ['a', 'b'] is not text", "letters, digits")),
    ("cluster: colossus1\nname: ../../x\n", ("name: '../../x' is not allowed", "letters, digits, '-' or '_'")),
    ("cluster: colossus1\nname: /tmp/abs\n", ("name: '/tmp/abs' is not allowed",)),
    ("cluster: colossus1\nname: <script>alert(1)</script>\n", ("name: '<script>alert(1)</script>' is not allowed",)),
    ("cluster: colossus1\nname: ''\n", ("name: '' is not allowed",)),
    ("cluster: colossus1\npower: 0\n", ("power: expected a mapping of parameters", "got 0", "pue")),
    ("cluster: colossus1\npower: [pue]\n", ("power: expected a mapping of parameters",)),
    ("cluster: colossus1\ntitle: {a: 1}\n", ("title: {'a': 1} is not text",)),
    ("cluster: colossus1\ntitle: " + "t" * 300 + "\n", ("title: 300 characters is above the limit of 200",)),
    ("cluster: [colossus1]\n", ("cluster: ['colossus1'] is not a cluster id",)),
    ("cluster: ../clusters/colossus1\n", ("cluster: '../clusters/colossus1' is not a cluster id",)),
    ("- cluster\n", ("expected a mapping",)),
    ("cluster: colossus1\npower:\n  pue: " + "x" * 100_000 + "\n", ("power.pue: 'xxx", "...", "is not a number")),
    ("cluster: colossus1\n" + "k" * 1000 + ": 1\n", ("unknown key", "chars)")),
])
def test_bad_scenario_files_are_one_line_naming_file_field_value(tmp_path, text, fragments):
    path = _write(tmp_path, "s.yaml", text)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    message = _one_line(info, "s.yaml", *fragments)
    assert len(message) < 1000, "a long value is shown truncated"


def test_scenario_name_from_the_file_name_must_be_safe(tmp_path):
    with pytest.raises(InputError, match="file name 'my scenario' is not a safe name"):
        load_scenario(_write(tmp_path, "my scenario.yaml", "cluster: colossus1\n"))
    assert load_scenario(_write(tmp_path, "mine_2-b.yaml", "cluster: colossus1\npower:\n")).name == "mine_2-b"


def test_scenario_argument_is_a_name_or_a_regular_file(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="is a directory; give a scenario name"):
        load_scenario(tmp_path)
    monkeypatch.chdir(tmp_path)   # relative paths below resolve from a known folder, wherever the clone is
    for bad in ("../../etc/passwd", "colossus1/../colossus1", "a b"):
        with pytest.raises(InputError, match="neither a YAML file nor a scenario name|not found"):
            load_scenario(bad)


# --------------------------------------------------------------------------- error values
def test_shown_bounds_any_value():
    assert shown("x" * 10**6).startswith("'xxx") and "..." in shown("x" * 10**6) and len(shown("x" * 10**6)) <= 80
    nested = []
    for _ in range(500):
        nested = [nested, nested]  # 2**500 leaves if fully expanded
    assert len(shown(nested)) <= 80
    assert shown({"a": list(range(10**5))}).startswith("{'a': [0, 1, 2")

    class Broken:
        def __repr__(self):
            raise RuntimeError("no")
    assert shown(Broken()).startswith("<Broken")
    assert len(str(InputError("y" * 10**6))) <= MESSAGE_LIMIT


# --------------------------------------------------------------------------- strict JSON
def test_plain_makes_strict_json_and_records_why():
    nulls = {}
    value = {"npv": float("nan"), "rows": [1.0, np.inf, np.float32(-np.inf)], "ok": np.int64(3), "flag": np.bool_(True),
             "when": pd.Timestamp("2026-01-02"), "path": ROOT / "x", "set": {2, 1}, "na": pd.NA, "arr": np.array([1.5, np.nan])}
    out = serialize.plain(value, nulls=nulls)
    json.dumps(out, allow_nan=False)
    assert out["npv"] is None and out["rows"] == [1.0, None, None] and out["ok"] == 3 and out["flag"] is True
    assert out["set"] == [1, 2] and out["na"] is None and out["arr"] == [1.5, None] and out["when"].startswith("2026-01-02")
    assert nulls == {"npv": "NaN", "rows[1]": "Infinity", "rows[2]": "-Infinity", "arr[1]": "NaN"}
    assert serialize.plain(float("nan")) is None


def test_print_json_is_strict(capsys):
    _print_json({"a": float("nan"), "b": [np.float64(1.5)]})
    text = capsys.readouterr().out
    assert "NaN" not in text.replace('"NaN"', "")
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON")) == {
        "a": None, "b": [1.5], "non_finite": {"a": "NaN"}}


# --------------------------------------------------------------------------- the CLI
@pytest.mark.slow
def test_cli_hostile_scenario_files(tmp_path):
    laughs = _write(tmp_path, "laughs.yaml", BILLION_LAUGHS)
    _cli_error(run_cli("evaluate", laughs, "--draws", "10", timeout=120), "laughs.yaml line 1", "not allowed")
    latin = _write(tmp_path, "latin.yaml", "cluster: colossus1\ntitle: Caf\u00e9\n", encoding="latin-1")
    _cli_error(run_cli("evaluate", latin, "--draws", "10"), "latin.yaml line 2", "not UTF-8")
    _cli_error(run_cli("evaluate", tmp_path, "--draws", "10"), "is a directory")
    huge = _write(tmp_path, "huge.yaml", "cluster: colossus1\neconomics:\n  lease_usd_per_month_s1: 1.0e+308\n")
    _cli_error(run_cli("evaluate", huge, "--draws", "10"), "huge.yaml economics.lease_usd_per_month_s1", "1e+308 is above")


@pytest.mark.slow
def test_cli_seed_and_draws_are_checked():
    _cli_error(run_cli("evaluate", "colossus1", "--seed", "-1"), "--seed: -1 is below 0", "4294967295")
    _cli_error(run_cli("evaluate", "colossus1", "--draws", "1e9"), "--draws: 1,000,000,000 is above the maximum",
               f"{MAX_DRAWS:,}")
    _cli_error(run_cli("evaluate", "colossus1", "--draws", "0"), "--draws: 0 is below 1")
    _cli_error(run_cli("evaluate", "colossus1", "--draws", "2.5"), "'2.5' is not an integer")
    _cli_error(run_cli("reports", "--timeout", "nan"), "--timeout")


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ("evaluate", "colossus1", "--draws", "2e2", "--seed", "3", "--json"),  # 2e2 draws: an integer written as a number
    ("mfu", "data/runs/llama3-405b-8k.yaml", "--json"),
    ("inference", "data/serve/llama2-70b-h200.yaml", "--json"),
])
def test_cli_json_is_strict(args):
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr[-800:]
    json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))


def test_tables_read_by_other_loaders_still_catch_a_shifted_csv(tmp_path):
    """validate_table re-checks the file's field counts, so a loader that calls pd.read_csv itself
    (pandas silently takes one extra field on every row as the index) is still caught."""
    from analysis import cost

    source = catalog.DATA_DIR / "prices.csv"
    lines = source.read_text().splitlines()
    path = _write(tmp_path, "prices.csv", "\n".join([lines[0]] + [line + ",extra" for line in lines[1:]]) + "\n")
    with pytest.raises(InputError) as info:
        cost.load_prices(path)
    _one_line(info, "prices.csv line 2", "more than the header's")


def test_libyaml_and_pure_python_loaders_read_every_data_file_alike():
    """The fast path (libyaml, checks on its event stream) reads each data file exactly as the
    pure-Python StrictLoader does, and rejects what it rejects."""
    from analysis.paths import DATA_DIR
    if io._FastLoader is None:
        pytest.skip("PyYAML without libyaml")
    files = sorted(DATA_DIR.rglob("*.yaml"))
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert io.load_yaml_text(text, path.name) == yaml.load(text, Loader=io.StrictLoader), path.name
    for bad, fragment in [("a: &x 1\n", "anchor &x"), ("a: 1\nb: *x\n", "alias *x"),
                          ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 45)), "levels deep")]:
        for loader in (io.StrictLoader, None):
            with pytest.raises(InputError, match=re.escape(fragment)):
                io.load_yaml_text(bad, "t.yaml") if loader is None else _strict_python(bad)


def _strict_python(text):
    """The pure-Python path of load_yaml_text."""
    saved = io._FastLoader
    io._FastLoader = None
    try:
        return io.load_yaml_text(text, "t.yaml")
    finally:
        io._FastLoader = saved
