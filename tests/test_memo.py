"""Process-local memoization by argument content (analysis.memo): hits, misses and what a caller may change."""
from dataclasses import dataclass

import numpy as np
import pytest

from analysis import memo


def counted():
    calls = []

    @memo.memoized(maxsize=2)
    def f(x, values=None):
        calls.append(1)
        return {"twice": np.asarray(x, float) * 2, "nested": {"n": len(calls)}}

    return f, calls


def test_equal_content_hits_changed_content_misses():
    f, calls = counted()
    a = np.array([1.0, 2.0])
    f(a, values={"k": 1.0})
    f(a.copy(), values={"k": 1.0})                # a new array with the same bytes
    assert len(calls) == 1
    f(np.array([1.0, 2.5]), values={"k": 1.0})    # one element differs
    f(a, values={"k": 1})                         # int 1 is not float 1.0
    f(a, values={"k": 1.0, "extra": "x"})
    assert len(calls) == 4
    assert f.cache_info() == {"hits": 1, "misses": 4, "entries": 2}


def test_least_recently_used_is_evicted():
    f, calls = counted()
    f(1.0), f(2.0), f(1.0), f(3.0)                # 2.0 is the least recently used when 3.0 arrives
    f(1.0)
    assert len(calls) == 3
    f(2.0)
    assert len(calls) == 4


def test_a_caller_cannot_change_what_the_next_caller_reads():
    f, _ = counted()
    first = f(np.array([1.0, 2.0]))
    first["added"] = True
    first["nested"]["n"] = 99
    with pytest.raises(ValueError):
        first["twice"][0] = 0.0                   # shared arrays are read-only
    again = f(np.array([1.0, 2.0]))
    assert "added" not in again and again["nested"]["n"] == 1
    np.testing.assert_array_equal(again["twice"], [2.0, 4.0])


@dataclass
class Result:
    value: np.ndarray
    label: str


def test_dataclass_results_are_copied_per_caller():
    @memo.memoized()
    def g(x):
        return Result(np.asarray(x, float), "original")

    r = g(3.0)
    r.label = "changed by one caller"
    assert g(3.0).label == "original"


@dataclass(frozen=True)
class Spec:
    name: str
    peak: float


def test_frozen_dataclasses_fingerprint_by_content():
    assert memo.fingerprint(Spec("h100", 989.0)) == memo.fingerprint(Spec("h100", 989.0))
    assert memo.fingerprint(Spec("h100", 989.0)) != memo.fingerprint(Spec("h100", 990.0))
    assert memo.fingerprint([1, 2]) != memo.fingerprint((1, 2))


def test_an_unreadable_argument_skips_the_cache():
    calls = []

    @memo.memoized()
    def h(x):
        calls.append(1)
        return 1.0

    class Opaque:
        pass

    h(Opaque()), h(Opaque())
    assert len(calls) == 2 and h.cache_info()["misses"] == 0


def test_model_functions_return_what_they_compute_afresh():
    """The memoized chain and TCO equal the undecorated computation, and a repeat is a hit."""
    from analysis import cost, utilization
    from analysis.scenario import load_scenario

    sc = load_scenario("colossus1")
    args = (sc.cluster, sc.values("job"), sc.values("heterogeneity"), sc.values("goodput"))
    before = utilization.chain.cache_info()["hits"]
    cached, again = utilization.chain(*args), utilization.chain(*args)
    fresh = utilization.chain.__wrapped__(*args)
    assert utilization.chain.cache_info()["hits"] >= before + 1
    assert float(cached["value"]) == float(again["value"]) == float(fresh["value"])
    tco = cost.cluster_tco(sc.cluster, sc.values("power"), sc.values("cost"))
    assert float(tco.tco_usd_per_gpu_hour) == float(cost.cluster_tco.__wrapped__(sc.cluster, sc.values("power"),
                                                                                   sc.values("cost")).tco_usd_per_gpu_hour)


def test_a_default_passed_or_left_out_is_one_call():
    calls = []

    @memo.memoized()
    def power(values, load_fraction=None):
        calls.append(1)
        return 2.0 * values

    power(1.0), power(1.0, None), power(values=1.0, load_fraction=None)
    assert len(calls) == 1
    power(1.0, 0.5)
    assert len(calls) == 2
    with pytest.raises(TypeError):
        power()                                   # a wrong call still fails as the function's own


def test_batch_memo_is_read_back_by_another_process_of_the_batch(tmp_path, monkeypatch):
    """batch=True: a value computed in one report kernel is read, not recomputed, by a kernel of
    another scenario (a new process: empty caches, same cache directory)."""
    from analysis import results

    monkeypatch.setenv(results.CACHE_ENV, str(tmp_path))
    calls = []

    @memo.memoized(batch=True)
    def simulate(values, runs=200):
        calls.append(1)
        return {"ettr": np.full(3, values["mtbf_h"])}

    first = simulate({"mtbf_h": 2.0})
    simulate.cache_clear(), results._MEMO.clear()          # as a freshly forked kernel
    again = simulate({"mtbf_h": 2.0}, 200)
    assert len(calls) == 1 and np.array_equal(first["ettr"], again["ettr"])
    simulate({"mtbf_h": 3.0})
    assert len(calls) == 2 and len(list(tmp_path.glob("memo-*.pkl"))) == 2


@dataclass(frozen=True)
class Holder:
    values: dict


def test_a_frozen_dataclass_holding_a_dict_is_read_again_each_time():
    held = Holder({"a": 1.0})
    before = memo.fingerprint(held)
    held.values["a"] = 2.0                        # frozen, yet its dict changed
    assert memo.fingerprint(held) != before
    spec = Spec("h100", 989.0)
    assert memo.fingerprint(spec) == memo.fingerprint(spec)   # immutable: its digest is kept


def test_disabled_computes_afresh_and_the_cache_returns_after():
    f, calls = counted()
    f(5.0)
    with memo.disabled():
        f(5.0), f(5.0)
    assert len(calls) == 3
    f(5.0)
    assert len(calls) == 3                        # the cache is back, with its entry
