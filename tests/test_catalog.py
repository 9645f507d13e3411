"""Data catalog: published values load correctly, and every bad input fails with one clear line."""
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis import catalog
from analysis.errors import InputError

GPUS_CSV = catalog.DATA_DIR / "gpus.csv"


def _broken_gpus(tmp_path: Path, edit) -> Path:
    df = pd.read_csv(GPUS_CSV, dtype=str)
    df = edit(df)
    path = tmp_path / "gpus.csv"
    df.to_csv(path, index=False)
    return path


def test_gpu_table_has_every_required_gpu_with_dense_peaks():
    table = catalog.load_gpus()
    assert {"A100", "H100", "H800", "H200", "B200", "GB200", "GB300"} <= set(table.index)
    h100 = catalog.gpu("H100")
    assert h100.peak_tflops("bf16") == 989 and h100.peak_tflops("fp16") == 989  # dense, not 1979 sparse
    assert h100.peak_tflops("fp8") == 1979 and h100.hbm_gb == 80 and h100.nvlink_domain_gpus == 8
    assert catalog.gpu("GB200").nvlink_domain_gpus == 72 and catalog.gpu("GB200").peak_tflops("bf16") == 2500
    assert catalog.gpu("H200").hbm_gb == 141 and catalog.gpu("H200").hbm_tb_s == pytest.approx(4.8)


def test_every_gpu_row_has_source_and_ordered_price():
    table = catalog.load_gpus()
    assert table["source"].str.len().min() > 20 and table["price_source"].str.len().min() > 10
    assert (table["price_usd_low"] <= table["price_usd_central"]).all()
    assert (table["price_usd_central"] <= table["price_usd_high"]).all()


def test_unknown_gpu_lists_known_ones():
    with pytest.raises(InputError, match=r"unknown GPU 'H300'; known GPUs are A100, H100, .*GB300"):
        catalog.gpu("H300")


def test_unknown_precision():
    with pytest.raises(InputError, match="precision: 'int4'"):
        catalog.gpu("H100").peak_tflops("int4")


@pytest.mark.parametrize("edit, message", [
    (lambda df: df.drop(columns="hbm_gb"), r"missing column 'hbm_gb'"),
    (lambda df: df.assign(tdp_w=df["tdp_w"].where(df["id"] != "H200", "-700")), r"row 5 \(id='H200'\) column 'tdp_w': -700 is below 0"),
    (lambda df: df.assign(hbm_gb=df["hbm_gb"].where(df["id"] != "A100", "eighty")), r"row 2 .*'hbm_gb': 'eighty' is not a number"),
    (lambda df: df.assign(source=df["source"].where(df["id"] != "B200", "")), r"row 6 \(id='B200'\) column 'source': empty; expected a source"),
    (lambda df: pd.concat([df, df[df["id"] == "H100"]]), r"duplicate id 'H100'"),
    (lambda df: df.assign(bf16_tflops_dense=df["bf16_tflops_dense"].where(df["id"] != "H100", "1979")),
     r"'bf16_tflops_dense': 1979 exceeds the known dense peak 989 TFLOPS; this looks like the 2:4-sparse figure"),
    (lambda df: df.assign(price_usd_low=df["price_usd_low"].where(df["id"] != "H100", "50000")), r"not ordered"),
    (lambda df: df.assign(nvlink_domain_gpus=df["nvlink_domain_gpus"].where(df["id"] != "H100", "8.5")), r"not an integer"),
])
def test_gpu_table_errors_name_file_row_column_value(tmp_path, edit, message):
    path = _broken_gpus(tmp_path, edit)
    with pytest.raises(InputError, match=message) as info:
        catalog.load_gpus(path)
    assert "gpus.csv" in str(info.value) and "\n" not in str(info.value)


def test_cluster_colossus1_pools_and_totals():
    cluster = catalog.load_cluster("colossus1")
    assert [p.gpu.id for p in cluster.pools] == ["H100", "H200", "GB200"]
    assert cluster.gpus == 230_000
    totals = cluster.totals()
    # 150k x 989 + 50k x 989 + 30k x 2500 TFLOPS = 272.8 EFLOPS (reference: "~273 EFLOPS" derived)
    assert totals["peak_eflops_bf16_dense"] == pytest.approx(272.8)
    assert cluster.site_power_mw.value == 300
    assert all(p.count.source for p in cluster.pools)


def test_reference_clusters_load():
    assert catalog.load_cluster("llama3-16k").gpus == 16384
    c2 = catalog.load_cluster("colossus2")
    assert {p.gpu.id for p in c2.pools} <= {"GB200", "GB300"}


def test_unknown_cluster_lists_known():
    with pytest.raises(InputError, match=r"unknown cluster 'colossus9'; known clusters are .*colossus1"):
        catalog.load_cluster("colossus9")


def _cluster_doc():
    return yaml.safe_load((catalog.CLUSTER_DIR / "colossus1.yaml").read_text())


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["pools"][0].update(gpu="H300"), r"unknown GPU 'H300'"),
    (lambda d: d["pools"][0].update(count={"value": 100}), r"pools\[0\].count: no source"),
    (lambda d: d["pools"][1].update(count={"value": -5, "source": "x"}), r"pools\[1\].count.value: -5 is below 1"),
    (lambda d: d["pools"][0].update(colour="red"), r"pools\[0\]: unknown key 'colour'"),
    (lambda d: d.update(pools=[]), r"pools: expected a non-empty list"),
    (lambda d: d["pools"][2].update(name="H100"), r"duplicate pool name 'H100'"),
    (lambda d: d["pools"][0].update(count={"value": 200000, "low": 100000, "high": 170000, "source": "x"}), r"outside its range"),
])
def test_cluster_errors(tmp_path, edit, message):
    doc = _cluster_doc()
    edit(doc)
    with pytest.raises(InputError, match=message):
        catalog.parse_cluster(doc, tmp_path / "colossus1.yaml")


def test_models_have_sources():
    models = catalog.load_models()
    assert models["grok-1"]["experts"] == 8 and models["grok-1"]["top_k"] == 2
    assert models["llama3-405b"]["layers"] == 126
    with pytest.raises(InputError, match="unknown model 'gpt-9'"):
        catalog.model("gpt-9")


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(InputError, match=r"bad.yaml line \d+: not valid YAML"):
        catalog.read_yaml(path)


def test_utilization_references_reject_impossible_values(tmp_path):
    table = catalog.load_utilization_references()
    assert catalog.observed_utilization()["value"] == 0.11 and (table["utilization"] <= 1).all()
    broken = pd.read_csv(catalog.DATA_DIR / "utilization_references.csv", dtype=str)
    broken.loc[0, "utilization"] = "1.1"
    path = tmp_path / "utilization_references.csv"
    broken.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"row 2 .*'utilization': 1.1 is above 1"):
        catalog.load_utilization_references(path)
