"""``python -m analysis goodput``: output, JSON keys, factors whose product is the effective training time, exit 2."""
import json
import math

import pytest

from tests.conftest import run_cli


def test_goodput_cli_text():
    proc = run_cli("goodput", "--gpus", "16384")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ("Effective training time", "interruptions per day", "mean time to interruption", "checkpoint interval",
                 "factors"):
        assert text in out
    assert proc.stderr == ""


def test_goodput_cli_json_factors_multiply_to_ettr():
    proc = run_cli("goodput", "--gpus", "100000", "--gpu", "GB200", "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert {"effective_training_time", "interruptions_per_day", "mean_time_to_interruption_h", "checkpoint_interval_min",
            "factors"} <= set(d)
    assert math.prod(d["factors"].values()) == pytest.approx(d["effective_training_time"], rel=1e-9)
    assert d["mean_time_to_interruption_h"] == pytest.approx(24 / d["interruptions_per_day"])
    assert d["gpu"] == "GB200" and d["checkpoint_interval_source"] == "optimum"


def test_goodput_cli_overrides():
    base = json.loads(run_cli("goodput", "--gpus", "65536", "--json").stdout)
    user = json.loads(run_cli("goodput", "--gpus", "65536", "--checkpoint-interval-min", "30", "--restart-min", "20",
                              "--json").stdout)
    assert user["checkpoint_interval_min"] == pytest.approx(30) and user["checkpoint_interval_source"] == "user input"
    assert user["stall_min"] == pytest.approx(20)
    assert user["effective_training_time"] < base["effective_training_time"]
    asyn = json.loads(run_cli("goodput", "--gpus", "65536", "--async-checkpoint", "--json").stdout)
    assert asyn["checkpoint_mode"] == "async" and asyn["factors"]["checkpoint_save"] > base["factors"]["checkpoint_save"]


@pytest.mark.parametrize("args,option", [
    (["--gpus", "0"], "--gpus"), (["--gpus", "1000", "--gpu", "TPUv9"], "--gpu"),
    (["--gpus", "1000", "--checkpoint-interval-min", "-5"], "--checkpoint-interval-min"),
    ([], "--gpus"),
])
def test_goodput_cli_bad_input_one_line_exit_2(args, option):
    proc = run_cli("goodput", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "Traceback" not in proc.stderr


def test_the_command_line_parser_does_not_import_the_goodput_models():
    """Registering the ``goodput`` subcommand must not import scipy.stats (~2 s at every ``python -m analysis`` start):
    the package loads its modules on first use, and every name it exported is still there."""
    import subprocess
    import sys
    code = ("import sys; from analysis.__main__ import build_parser; build_parser(); "
            "print('scipy.stats' in sys.modules, 'analysis.goodput.model' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
    import analysis.goodput as goodput
    from analysis.goodput.model import from_scenario_values
    assert goodput.from_scenario_values is from_scenario_values and goodput.validation.case_result
    assert set(goodput.__all__) <= set(dir(goodput))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        goodput.nope
