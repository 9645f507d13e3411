"""Once-per-batch work (issue #13 item 7): the memo of scenario-independent computations, the
utilization comparison read from each scenario's results, and Sobol sampling at a peak on the bound."""
from __future__ import annotations

import numpy as np

from analysis import results


def test_memo_computes_once_and_rereads_the_same_value_from_disk(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"grid": np.arange(3.0)}

    first = results.memo("test-memo", compute, 1, "a", cache_dir=tmp_path)
    again = results.memo("test-memo", compute, 1, "a", cache_dir=tmp_path)
    assert again is first and len(calls) == 1
    results._MEMO.clear()                       # a new process: read back from disk, not recomputed
    from_disk = results.memo("test-memo", compute, 1, "a", cache_dir=tmp_path)
    assert len(calls) == 1 and np.array_equal(from_disk["grid"], first["grid"])
    results.memo("test-memo", compute, 2, "a", cache_dir=tmp_path)   # other parts: another entry
    assert len(calls) == 2
    assert len(list(tmp_path.glob("memo-test-memo-*.pkl"))) == 2


def test_two_processes_needing_one_entry_at_once_compute_it_once(tmp_path):
    """The farm and a kernel asking for the same MFU grid together: one computes, the other waits
    for the entry and reads it (a per-entry file lock)."""
    import multiprocessing
    import time

    log = tmp_path / "computed.txt"

    def compute():
        with open(log, "a") as handle:
            handle.write("x")
        time.sleep(0.5)                           # long enough for the other process to arrive
        return 42.0

    def child(queue):
        results._MEMO.clear()
        queue.put(results.memo("test-shared", compute, cache_dir=tmp_path / "cache"))

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=child, args=(queue,)) for _ in range(2)]
    for p in procs:
        p.start()
    values = [queue.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert values == [42.0, 42.0] and log.read_text() == "x"


def test_memo_key_depends_on_parts_code_and_data():
    assert results.memo_key("x", 1) == results.memo_key("x", 1)
    assert results.memo_key("x", 1) != results.memo_key("x", 2)
    assert results.memo_key("x", 1) != results.memo_key("y", 1)


def test_utilization_comparison_is_each_scenarios_own_result():
    name = "llama3-16k"
    table = results.utilization_comparison([name], quick=True)
    u = results.scenario_results(name, quick=True).to_dict()["utilization"]
    row = table.loc[name]
    assert (row["utilization"], row["p05"], row["p50"], row["p95"]) == (u["value"], u["p05"], u["p50"], u["p95"])
    # without cached results only the utilization section is computed, over the same draws: same numbers
    results._MEMORY.clear()
    again = results.utilization_comparison([name], quick=True).loc[name]
    assert (again["p05"], again["p95"]) == (u["p05"], u["p95"])


def test_sobol_accepts_an_input_whose_central_value_is_its_upper_bound():
    """colossus2's GB300 pool: central count 440,000 = its high (SALib's triangular scaling
    rejects a peak at the bound; the indices are computed from the same inverse CDF here)."""
    from analysis import uncertainty
    from analysis.scenario import load_scenario

    sc = load_scenario("colossus2")
    lo, mode, hi = uncertainty._ranged_inputs(sc)["pools.GB300"]
    assert mode == hi > lo
    r = uncertainty.sobol_indices(sc, base_samples=16, seed=0, outputs=("job utilization",))
    assert r.evaluations == 16 * (len(r.indices) + 2)
    assert np.isfinite(r.indices[("job utilization", "ST")]).all()
