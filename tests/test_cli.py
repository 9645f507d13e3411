"""The command line: bad input is one line on stderr and exit code 2, never a traceback."""
import pytest

from conftest import run_cli


def _one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-500:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.slow
def test_bad_scenario_file_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster: colossus1\npower:\n  pue: 0.7\n")
    _one_line_error(run_cli("reports", "--scenario", bad, "--out", tmp_path / "out"), "power.pue", "0.7")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_unknown_scenario_and_cluster_exit_2(tmp_path):
    _one_line_error(run_cli("evaluate", "colossus7"), "unknown scenario 'colossus7'", "colossus1")
    bad = tmp_path / "c.yaml"
    bad.write_text("cluster: mars1\n")
    _one_line_error(run_cli("evaluate", bad), "unknown cluster 'mars1'")


@pytest.mark.slow
def test_argument_errors_exit_2():
    _one_line_error(run_cli("reports", "--jobs", "0"), "--jobs")
    _one_line_error(run_cli("frobnicate"), "invalid choice")


def test_bench_reports_throughputs():
    from analysis import bench

    figures = bench.run(seconds=0.01)
    assert {"step_model_configurations_per_s", "utilization_monte_carlo_draws_per_s", "inference_fleet_draws_per_s",
            "economics_option_draws_per_s"} <= set(figures)
    assert all(value > 0 for value in figures.values())
