"""Sweeps: parsing --set, the product of overrides, validation, the table, local vs Dask."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import sweep
from analysis.errors import InputError
from tests.conftest import run_cli

# A key whose effect has a known sign: a longer restart lowers the effective training time and
# so the job's utilization (every other assumption fixed at the same seed).
MONOTONE_KEY = "goodput.restart_s"


def test_parse_values_lists_and_ranges():
    assert sweep.parse_values("1,2,3") == [1.0, 2.0, 3.0]
    assert sweep.parse_values("60:600:4") == [60.0, 240.0, 420.0, 600.0]
    assert sweep.parse_values("16e6,64e6") == [16e6, 64e6]          # YAML 1.1 would read 16e6 as text
    assert sweep.parse_values("uniform,aware") == ["uniform", "aware"]


@pytest.mark.parametrize("bad", ["", "1:2:x", "1:2:1", "1:2:2.5", "nan:1:3", "1,,2"])
def test_parse_values_rejects(bad):
    with pytest.raises(InputError, match="--set"):
        sweep.parse_values(bad)


def test_parse_sets_product_and_limits():
    sets = sweep.parse_sets(["a.x=1,2", "b.y=10:30:3"])
    points = sweep.grid(sets)
    assert len(points) == 6
    assert points[0] == {"a.x": 1.0, "b.y": 10.0} and points[1] == {"a.x": 1.0, "b.y": 20.0}   # first key slowest
    with pytest.raises(InputError, match="twice"):
        sweep.parse_sets(["a.x=1", "a.x=2"])
    with pytest.raises(InputError, match="KEY=V1"):
        sweep.parse_sets(["a.x"])
    with pytest.raises(InputError, match="at most"):
        sweep.parse_sets(["a.x=0:1:1000", "b.y=0:1:1000"])


def test_apply_overrides_copies_and_replaces_the_range():
    doc = {"name": "s", "cluster": "c", "goodput": {"restart_s": {"value": 600, "low": 300, "high": 900, "source": "x"}}}
    out = sweep.apply_overrides(doc, {"goodput.restart_s": 120.0, "job.split": "aware", "cluster": "colossus2"})
    assert out["goodput"]["restart_s"] == 120.0 and out["job"] == {"split": "aware"} and out["cluster"] == "colossus2"
    assert doc["goodput"]["restart_s"]["value"] == 600 and "job" not in doc           # the base is untouched
    with pytest.raises(InputError, match="key path"):
        sweep.apply_overrides(doc, {"restart_s": 1})


def test_figure_column_names_carry_units():
    assert sweep.figure_column("Break-even lease rate (lease = keep)", "$/GPU-hour (S-1 implies 5.27)") == \
        "break_even_lease_rate_usd_per_gpu_hour"
    assert sweep.figure_column("NPV of leasing minus keeping", "$B over 36 months") == "npv_of_leasing_minus_keeping_usd_billions"
    assert sweep.figure_column("Training utilization of the cluster", "% of bf16 dense peak") == \
        "training_utilization_of_the_cluster_pct"


def test_bad_key_and_value_fail_before_running():
    with pytest.raises(InputError, match="goodput.no_such_key"):
        sweep.run_sweep("colossus1", {"goodput.no_such_key": [1.0]}, draws=10)
    with pytest.raises(InputError, match=MONOTONE_KEY):
        sweep.run_sweep("colossus1", {MONOTONE_KEY: [-5.0]}, draws=10)


def test_sweep_table_one_row_per_point_and_monotone():
    result = sweep.run_sweep("colossus1", {MONOTONE_KEY: [60.0, 1800.0]}, draws=40, jobs=1, progress=False)
    t = result.table
    assert len(t) == 2 and list(t[MONOTONE_KEY]) == [60.0, 1800.0]
    util = next(c for c in sweep.figure_columns(t) if "utilization" in c)
    assert t[util].iloc[0] > t[util].iloc[1]
    assert (t[f"{util}_p05"] <= t[util] + 1e-9).all() and (t[util] <= t[f"{util}_p95"] + 1e-9).all()
    assert "Sweep of colossus1: 2 points" in result.summary()


def test_write_and_read_back(tmp_path):
    table = pd.DataFrame({"point": [0, 1], "goodput.restart_s": [1.0, 2.0], "x_pct": [3.0, 4.0]})
    for name in ("t.csv", "t.parquet"):
        path = sweep.write_table(table, tmp_path / name)
        back = sweep.read_table(path)
        pd.testing.assert_frame_equal(back, table, check_dtype=False)
        assert sweep.override_columns(back) == ["goodput.restart_s"]
    with pytest.raises(InputError, match=r"\.csv or \.parquet"):
        sweep.write_table(table, tmp_path / "t.xlsx")
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.slow
def test_cli_sweep_writes_the_table_and_rejects_bad_input(tmp_path):
    out = tmp_path / "s.csv"
    proc = run_cli("sweep", "colossus1", "--set", f"{MONOTONE_KEY}=120,600", "--draws", "20", "--jobs", "1", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(out)) == 2
    bad = run_cli("sweep", "colossus1", "--set", "goodput.nope=1", "--out", tmp_path / "b.csv")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "goodput.nope" in bad.stderr
    assert not (tmp_path / "b.csv").exists()


@pytest.mark.slow
def test_dask_cluster_gives_the_local_numbers():
    distributed = pytest.importorskip("distributed")
    sets = {MONOTONE_KEY: [120.0, 900.0]}
    local = sweep.run_sweep("colossus1", sets, draws=30, jobs=1, progress=False).table
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = sweep.run_sweep("colossus1", sets, draws=30, scheduler=cluster.scheduler_address, progress=False).table
    pd.testing.assert_frame_equal(local, remote)


def test_unreachable_scheduler_is_one_line():
    with pytest.raises(InputError, match="scheduler"):
        sweep.connect("not an address")


@pytest.mark.slow
def test_report_batch_runs_on_a_dask_cluster(tmp_path):
    """``reports --scheduler``: the same notebooks, executed by the workers of a running scheduler."""
    distributed = pytest.importorskip("distributed")
    from analysis import reports
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        results = reports.run_reports(["colossus1"], out_dir=tmp_path, notebooks=["00_cluster_overview"],
                                      extra_parameters={"quick": True}, timeout_s=300, echo=lambda *a, **k: None,
                                      scheduler=cluster.scheduler_address)
    assert [r.status for r in results] == ["ok"], [r.error for r in results]
    assert (tmp_path / "colossus1" / "00_cluster_overview.html").is_file() and (tmp_path / "index.html").is_file()
