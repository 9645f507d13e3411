"""Tests of the step-model calibration (analysis.training.fit / efficiency / published, and the
analysis.calibration re-export): published-figure conversions, the stored calibration, the error
bounds of issues 3 and 8 (in-sample, leave-one-out, leave-one-source-out) and reproducibility."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from analysis import calibration as cal
from analysis.errors import InputError
from analysis.paths import DATA_DIR
from analysis.training import fit as F
from analysis.training.efficiency import load_calibration
from analysis.training.published import calibration_runs, load_modern_runs, published_tokens_per_s_per_gpu, modern_run_config


@pytest.fixture(scope="module")
def runs():
    return cal.load_published_runs()


@pytest.fixture(scope="module")
def table():
    return calibration_runs()


@pytest.fixture(scope="module")
def fitted(table):
    return F.fit(table, with_loo=True, with_loso=True)


def test_published_runs_have_sources_and_full_configurations(runs):
    assert len(runs) >= 20
    assert runs["include"].sum() >= 15
    assert set(runs["group"]) >= {"Megatron-LM 2021 (A100)", "MegaScale 2024, Megatron-LM (A100)", "Llama 3 405B (H100)"}
    for run_id, row in runs.iterrows():
        assert len(str(row["source"])) > 40, run_id
        assert str(row["assumptions"]).startswith("assumption:"), run_id
        assert cal.run_config(row).gpus == row["gpus"]


def test_modern_runs_are_the_reference_facts_with_sources():
    modern = load_modern_runs()
    assert len(modern) == 20
    assert {e["gpu"] for e in modern} == {"H100", "H800", "B200", "GB200"}
    assert {e["precision"] for e in modern} == {"bf16", "fp8"}
    assert len({e["source_id"] for e in modern}) >= 8
    for entry in modern:
        assert len(entry["src"]) > 40 and entry["notes"]
        if entry["precision"] == "fp8":
            assert entry["fp8"]["note"].startswith(("as published", "assumption"))


def test_published_mfu_and_throughput_conversions_by_hand(runs, table):
    # Megatron 1T: 163 TFLOP/s counted with recompute (eq. 3) -> model-FLOP MFU
    s, h, l, V = 2048, 25600, 128, 51200
    by_hand = 163 * (72 * (1 + s / (6 * h) + V / (12 * l * h))) / (96 * (1 + s / (6 * h) + V / (16 * l * h))) / 312
    assert cal.published_mfu(runs.loc["megatron2021-1008b-3072"]) == pytest.approx(by_hand, rel=1e-12)
    assert cal.published_mfu(runs.loc["llama3-405b-16k"]) == pytest.approx(0.41)
    assert cal.published_mfu(runs.loc["mtnlg-530b-2240"]) == pytest.approx(0.302, abs=0.005)   # PaLM Table 3
    # dgxc GPT-3 175B BF16: 4096 x 2048 tokens / (8.49 s x 2048 GPUs) = 482 tokens/s per GPU (README: 988057 total)
    assert table.loc["dgxc-gpt3-175b-h100-bf16-2048", "published_tokens_per_s_per_gpu"] == pytest.approx(4096 * 2048 / 8.49 / 2048)
    assert table.loc["dgxc-gpt3-175b-h100-bf16-2048", "published_mfu"] == pytest.approx(0.524, abs=0.005)
    # Megatron-LM README 462B: 459.9 TFLOP/s / (model FLOPs per token with the non-causal s^2 term)
    entry = next(e for e in load_modern_runs() if e["id"] == "mlm-gpt-462b-h100-bf16-6144")
    tokens, how = published_tokens_per_s_per_gpu(entry, modern_run_config(entry))
    L, hh, ss, VV = 112, 18432, 4096, 131072
    flops = 72 * L * hh * hh * (1 + ss / (6 * hh) + VV / (12 * L * hh))
    assert tokens == pytest.approx(459.9e12 / flops, rel=1e-9) and "non-causal" in how
    # NeMo GPT-3 175B FP8: 888 TFLOP/s / 825 tokens/s = 1.076e12 FLOPs per token (the source's check)
    assert table.loc["nemo2407-gpt3-175b-h100-fp8-512", "published_mfu"] * 1979e12 / 825 == pytest.approx(888e12 / 825, rel=0.01)


def test_error_bounds_in_sample_loo_and_leave_one_source_out(fitted):
    m = fitted.metrics()
    assert m["modern_runs"] == 20 and m["v1_runs"] == 23
    assert m["modern_mae_pct"] <= 8.0
    assert m["loso_modern_mae_pct"] <= 10.0                        # issue 8: the honest generalization figure
    # the v1 A100 rows are no worse than the v1 model (in-sample 1.29, leave-one-out 1.39 MFU points)
    assert m["a100_mae_points"] <= 1.30 and m["loo_a100_mae_points"] <= 1.40
    assert m["v1_mae_points"] <= 3.0 and m["v1_max_abs_points"] <= 6.0
    summary = fitted.error_summary()
    assert list(summary.index) == ["in-sample", "leave-one-out", "leave-one-source-out"]
    assert np.isfinite(fitted.table["predicted_tokens_per_s_per_gpu"]).all()


def test_fit_is_reproducible_and_matches_the_stored_file(fitted, table):
    stored = load_calibration()
    for key, value in fitted.calibration.fitted_values().items():
        assert stored.fitted_values()[key] == pytest.approx(value, rel=1e-3), key
    again = F.fit(table, with_loo=False, with_loso=False)
    assert again.calibration.fitted_values() == pytest.approx(fitted.calibration.fitted_values(), rel=1e-9)


def test_shared_parameters_only_and_held_out_sources(fitted):
    fitted_keys = set(fitted.calibration.fitted_values())
    assert fitted_keys == set(F.FITTED)
    # never a per-run parameter: every fitted key is shared, per architecture x precision, or per stack
    for key in fitted_keys:
        assert key.count(":") <= 2 and not any(run in key for run in fitted.table.index)
    assert set(fitted.loso["held_out"]) == set(fitted.table.loc[fitted.table["in_fit"], "source"])
    assert len(fitted.loo) == fitted.runs


def test_fit_writes_nothing_unless_asked(tmp_path, table):
    target = tmp_path / "calibration.yaml"
    before = (DATA_DIR / "calibration.yaml").read_text()
    result = F.fit(table, with_loo=False, with_loso=False)
    assert (DATA_DIR / "calibration.yaml").read_text() == before
    F.write_calibration(result, target)
    loaded = load_calibration(target)
    assert loaded.fitted_values() == pytest.approx(result.calibration.fitted_values(), rel=1e-5)


def test_calibration_file_labels_every_parameter():
    doc = yaml.safe_load((DATA_DIR / "calibration.yaml").read_text())
    assert doc["label"] == "calibrated" and doc["reproduce"].startswith("from analysis.training.fit")
    entries = (list(doc["parameters"].items()) + list(doc["gemm_efficiency"].items())
               + list(doc["stack_efficiency_by_stack"].items()))
    assert {item["status"] for _, item in entries} == {"calibrated", "assumption"}
    for key, item in entries:
        assert item["source"].strip(), key
        if item["status"] == "assumption":
            assert item["source"].startswith(("assumption", "reference software stack")), key
        else:
            assert item["source"].startswith("calibrated"), key
            assert item["low"] <= item["value"] <= item["high"], key
    calibration = load_calibration()
    assert calibration.label.startswith("calibrated")
    h100, h200 = calibration.for_gpu("H100"), calibration.for_gpu("H200")
    assert h100.gemm_efficiency_max == h200.gemm_efficiency_max                  # same architecture
    assert calibration.for_gpu("GB200").gemm_efficiency_max == calibration.get("gemm_efficiency:blackwell:bf16")
    assert 0.5 < calibration.stack_efficiency("deepspeed-2021") < 1.0 == calibration.stack_efficiency("megatron-lm")
    with pytest.raises(InputError, match="unknown stack 'jax'"):
        calibration.stack_efficiency("jax")


# --------------------------------------------------------------------------- the stored validation (issue 13)
def _assert_same_result(a, b, rtol=1e-12):
    import pandas as pd

    assert a.calibration.fitted_values() == pytest.approx(b.calibration.fitted_values(), rel=rtol)
    assert a.calibration.ranges.keys() == b.calibration.ranges.keys()
    for key, (low, high) in b.calibration.ranges.items():
        assert a.calibration.ranges[key] == pytest.approx((low, high), rel=rtol), key
    assert a.calibration.sources == b.calibration.sources and a.calibration.status == b.calibration.status
    pd.testing.assert_frame_equal(a.table, b.table, rtol=rtol, atol=0)
    for attr in ("loo", "loso"):
        pd.testing.assert_frame_equal(getattr(a, attr), getattr(b, attr), rtol=rtol, atol=0)
    assert a.metrics().keys() == b.metrics().keys()
    assert a.metrics() == pytest.approx(b.metrics(), rel=rtol)


# A refit on another CPU reproduces the stored held-out refits only to ~1e-11 (the optimiser's iterates pass
# through BLAS and libm, whose SIMD paths differ between machines: 1.0e-11 seen on an AMD EPYC host against
# the file written on another), so the stored file is compared with a fresh fit to 1e-9; a stale file
# differs at the percent level. The exact round trip is test_written_validation_round_trips_exactly's.
CROSS_MACHINE_RTOL = 1e-9


def test_stored_validation_is_fresh_and_is_what_the_full_fit_gives(fitted, table):
    stored = F.stored_fit(table)
    assert stored is not None, ("data/calibration_validation.csv is stale (runs, fit settings or step model changed): "
                                "run `from analysis.training.fit import fit; fit(write=True)`")
    _assert_same_result(stored, fitted, rtol=CROSS_MACHINE_RTOL)
    doc = yaml.safe_load((DATA_DIR / "calibration.yaml").read_text())["validation"]
    import hashlib
    for name, digest in doc["inputs_sha256"].items():        # provenance: the run files it was computed on
        assert hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest()[:16] == digest, f"{name} changed since the fit"
    assert doc["fit_settings_sha256"] == F.fit_settings_hash()
    assert doc["fitted"] == pytest.approx(fitted.calibration.fitted_values(), rel=CROSS_MACHINE_RTOL)
    # the figures the notebook shows and records come from it
    m = stored.metrics()
    assert m["loo_modern_mae_pct"] == pytest.approx(fitted.metrics()["loo_modern_mae_pct"], rel=CROSS_MACHINE_RTOL)
    assert F.validated_fit(table).metrics() == pytest.approx(fitted.metrics(), rel=CROSS_MACHINE_RTOL)


def test_written_validation_round_trips_exactly(tmp_path, fitted, table):
    import pandas as pd

    target = tmp_path / "calibration.yaml"
    F.write_calibration(fitted, target)
    assert F.validation_path(target).exists()
    again = F.stored_fit(table, target)
    assert again is not None
    _assert_same_result(again, fitted, rtol=0)
    pd.testing.assert_frame_equal(again.loso, fitted.loso, check_exact=True)
    assert again.calibration.fitted_values() == fitted.calibration.fitted_values()


def test_stale_validation_is_not_used(tmp_path, fitted, table):
    target = tmp_path / "calibration.yaml"
    F.write_calibration(fitted, target)
    # a published figure changed: the stored refits are not those of this table
    changed = table.copy()
    changed.loc[changed.index[0], "published_tokens_per_s_per_gpu"] *= 1.01
    assert F.stored_fit(changed, target) is None
    # a run added or removed
    assert F.stored_fit(table.iloc[1:], target) is None
    # the fit settings changed
    doc = yaml.safe_load(target.read_text())
    doc["validation"]["fit_settings_sha256"] = "0" * 16
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    F._validation_doc.cache_clear()
    assert F.stored_fit(table, target) is None
    # no validation section (a fit written without its held-out refits) or no table
    F.write_calibration(F.CalibrationResult(fitted.calibration, fitted.table), target)
    assert F.stored_fit(table, target) is None
    F.write_calibration(fitted, target)
    assert F.stored_fit(table, target) is not None
    F.validation_path(target).unlink()
    assert F.stored_fit(table, target) is None


def test_step_model_change_makes_the_validation_stale(tmp_path, fitted, table, monkeypatch):
    target = tmp_path / "calibration.yaml"
    F.write_calibration(fitted, target)
    original = F.error_table

    def shifted(calibration=None, table=None):
        frame = original(calibration, table)
        frame["predicted_tokens_per_s_per_gpu"] *= 1 + 1e-9   # what a changed step model would predict
        return frame

    monkeypatch.setattr(F, "error_table", shifted)
    assert F.stored_fit(table, target) is None


def test_fit_settings_hash_ignores_prose_but_not_code():
    def a(x):
        """Some prose."""
        return x + 1  # a comment

    def b(x):
        return x + 1

    def c(x):
        return x + 2

    assert F._code_of(a).replace("'a'", "'b'") == F._code_of(b)
    assert F._code_of(b).replace("'b'", "'c'") != F._code_of(c)
