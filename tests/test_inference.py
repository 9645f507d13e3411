"""Inference v2: hand-computed cases, invariants, latency targets, MoE serving features, fleet totals, CLI errors."""
import json
import math

import numpy as np
import pytest

from analysis import inference as inf
from analysis.catalog import gpu, load_cluster, read_yaml
from analysis.errors import InputError
from analysis.inference import roofline
from analysis.paths import PROJ_ROOT
from tests.conftest import run_cli

LLAMA2 = dict(params=70e9, active_params=70e9, layers=80, hidden=8192, heads=64, kv_heads=8)
MOE = dict(params=1e12, active_params=1e11, layers=96, hidden=12288, heads=96, kv_heads=8)
H200 = dict(hbm_gb=141, hbm_tb_s=4.8, peak_tflops=1979)
BASE_DOC = {"model": {"params": 70e9, "layers": 80, "hidden": 8192, "heads": 64, "kv_heads": 8},
            "workload": {"input_tokens": 500, "output_tokens": 300}}
# The small dense case of test_small_dense_case_by_hand (1 GPU: 100 GB at 1 TB/s, 1,000 TFLOPS; 10B at 1 byte).
SMALL = dict(params=10e9, active_params=10e9, layers=10, hidden=1000, heads=10, kv_heads=10, input_tokens=100, output_tokens=100,
             hbm_gb=100, hbm_tb_s=1.0, peak_tflops=1000, compute_efficiency=1.0, bandwidth_efficiency=1.0,
             kv_memory_fraction=0.5, reserved_gb_per_gpu=0.0)


# --------------------------------------------------------------------------- by hand
def test_kv_bytes_per_token_gqa_and_mla_by_hand():
    # GQA: 2 (K,V) x 80 layers x 8 KV heads x 128 head_dim x 1 byte (FP8) = 163,840 bytes
    assert inf.kv_bytes_per_token(80, 8192, 64, 8, 1.0) == 163840
    assert inf.kv_bytes_per_token(80, 8192, 64, 8, 2.0) == 2 * 163840
    # MLA (DeepSeek-V3): 61 layers x 576 latent values x 1 byte = 35,136 bytes, whatever the heads
    assert inf.kv_bytes_per_token(61, 7168, 128, 128, 1.0, mla_kv_dim=576) == 61 * 576


def test_small_dense_case_by_hand():
    """1 GPU, 100 GB HBM at 1 TB/s, 1,000 TFLOPS; 10B dense model at 1 byte; no reserve; KV 0.5 of free;
    smooth roofline (memory^2 + compute^2)^(1/2) per kernel; attention FLOPs at FlashAttention-3's 0.68 of the peak (no
    exponential limit passed); no latency target. The max_util scheduler (default) holds a request's prompt and half its
    output: 150 tokens of KV; a no-evict scheduler reserves all 200."""
    t = inf.replica_throughput(**SMALL, gpus_per_replica=1)
    kv_token = 2 * 10 * 10 * 100 * 1.0                     # 20,000 bytes
    batch = np.floor(0.5 * 90e9 / (kv_token * 150))        # 15,000 requests
    assert float(t.batch) == batch and str(t.limit) == "kv-capacity"
    reserving = inf.replica_throughput(**SMALL, gpus_per_replica=1, scheduler="no_evict")
    assert float(reserving.batch) == np.floor(0.5 * 90e9 / (kv_token * 200))   # 11,250
    assert float(reserving.kv_gb_per_request) == pytest.approx(kv_token * 200 / 1e9)
    ctx = 150
    roof = lambda m, c: math.hypot(m, c)
    weights_s = roof(10e9 / 1e12, batch * 2 * 10e9 / 1e15)
    attn_peak = 0.68 * 1e15                                # attention kernels at FlashAttention-3's share of their roofline
    attn_s = roof(batch * kv_token * ctx / 1e12, batch * 4 * 10 * 1000 * ctx / attn_peak)
    prefill_s = 100 * 2 * 10e9 / 1e15 + 2 * 10 * 1000 * 100 ** 2 / attn_peak
    expected = batch * 100 / (100 * (weights_s + attn_s) + batch * prefill_s)
    assert float(t.tokens_per_s_per_gpu) == pytest.approx(expected, rel=1e-12)
    assert float(t.step_comm_s) == 0.0


def test_attention_roofline_of_tensor_cores_and_exponentials_by_hand():
    """Per score 4 x head_dim tensor FLOPs and one exponential; 16 exponentials per clock per SM against 4,096 (Hopper) or
    8,192 (Blackwell) dense BF16 FLOPs (FlashAttention-4, Sec. 2). H100: 989 TFLOPS BF16 -> 3.86e12 exp/s; B200: 2,250 ->
    4.39e12."""
    h100_exp = float(roofline.softmax_exp_per_s(989, "hopper"))
    b200_exp = float(roofline.softmax_exp_per_s(2250, "blackwell"))
    assert h100_exp == pytest.approx(989e12 * 16 / 4096) and b200_exp == pytest.approx(2250e12 * 16 / 8192)
    assert float(roofline.softmax_exp_per_s(2500, "blackwell", "GB300")) == pytest.approx(2 * 2500e12 * 16 / 8192)
    assert roofline.softmax_exp_per_s(312, "unknown") is None
    # H100 FP8 at head_dim 128: 512 FLOPs per score take 512 / 1979e12 s = one exponential's 1 / 3.86e12 s: balanced,
    # the smooth roofline gives 1 / sqrt(2) of the tensor peak.
    h100 = float(roofline.attention_rate(1979e12, h100_exp, 128))
    assert h100 == pytest.approx(512 / math.hypot(512 / 1979e12, 1 / h100_exp))
    assert h100 / 1979e12 == pytest.approx(1 / math.sqrt(2), rel=2e-3)
    # B200 FP8: the tensor cores are twice as fast as its exponentials: bound by the exponential (< half the peak)
    b200 = float(roofline.attention_rate(4500e12, b200_exp, 128))
    assert b200 == pytest.approx(512 / math.hypot(512 / 4500e12, 1 / b200_exp)) and b200 / 4500e12 < 0.45
    # a quarter of the exponentials on the FMA units (FlashAttention-4's FP8 setting on sm_100): the MUFU's share of a
    # score's time is 3/4 of it; a B200 then runs FP8 attention 1.78x an H100 (1.44x on the MUFU alone); none above
    # head_dim 128, nor on GB300 (sm_103: fast native exp2)
    assert roofline.fma_exp_share("blackwell", "fp8") == 0.25 and roofline.fma_exp_share("blackwell", "bf16") == 0.125
    assert roofline.fma_exp_share("hopper", "fp8") == 0.0 and roofline.fma_exp_share("blackwell", "fp8", "GB300") == 0.0
    emulated = float(roofline.attention_rate(4500e12, b200_exp, 128, 0.25))
    assert emulated == pytest.approx(512 / math.hypot(512 / 4500e12, 0.75 / b200_exp))
    assert emulated / h100 == pytest.approx(1.784, abs=0.002) and b200 / h100 == pytest.approx(1.438, abs=0.002)
    assert float(roofline.attention_rate(4500e12, b200_exp, 576, 0.25)) == float(roofline.attention_rate(4500e12, b200_exp, 576))
    # wider heads carry more FLOPs per exponential (MLA's 576): closer to the tensor peak; no exponential limit: the peak
    assert float(roofline.attention_rate(4500e12, b200_exp, 576)) / 4500e12 > 0.85
    assert float(roofline.attention_rate(4500e12, None, 128)) == 4500e12


def test_speculative_tokens_per_step_by_hand():
    # k = 1 draft accepted with a = 0.85: 1 + 0.85 = 1.85 tokens per step; k = 3, a = 0.5: 1 + .5 + .25 + .125
    assert float(inf.tokens_per_step(1, 0.85)) == pytest.approx(1.85)
    assert float(inf.tokens_per_step(3, 0.5)) == pytest.approx(1.875)
    assert float(inf.tokens_per_step(0, 0.9)) == 1.0


def test_queue_p99_by_hand():
    # M/M/1: P(W > t) = rho exp(-(1 - rho) t / S)  ->  t99 / S = ln(100 rho) / (1 - rho)
    assert float(roofline.queue_wait_p99(0.5)) == pytest.approx(math.log(50) / 0.5)
    assert float(roofline.queue_wait_p99(0.005)) == 0.0


def test_pooled_prefill_queue_is_erlang_c_by_hand():
    """Two servers at 50% (offered load a = 1): Erlang C = (a^2/2! x 2/(2 - a)) / (1 + a + a^2/2! x 2/(2 - a)) = 1/3;
    P(W > t) = C exp(-c (1 - rho) t / S): p99 = S ln(100/3) / (2 x 0.5), mean = S C / (c (1 - rho)) = S / 3."""
    assert float(roofline.erlang_c(0.5, 2)) == pytest.approx(1 / 3)
    assert float(roofline.erlang_c(0.7, 1)) == pytest.approx(0.7)            # one server: M/M/1, C = rho
    assert float(roofline.queue_wait_p99(0.5, 2)) == pytest.approx(math.log(100 / 3) / 1.0)
    assert float(roofline.queue_wait_mean(0.5, 2)) == pytest.approx(1 / 3)
    assert float(roofline.queue_wait_mean(0.5)) == pytest.approx(1.0)         # M/M/1: rho / (1 - rho)
    # the recursion (few servers) and the closed form (many) are the same Erlang B
    c = np.arange(1.0, 41.0)[:, None]
    a = c * np.array([0.1, 0.5, 0.8, 0.97])
    assert np.allclose(roofline._erlang_b_recursion(a, c), roofline._erlang_b_closed(a, c), rtol=1e-10, atol=0)
    # vectorized over both, and more servers never wait longer at the same load
    waits = roofline.queue_wait_p99(np.array([[0.6], [0.9]]), np.array([1, 2, 4, 14, 64]))
    assert waits.shape == (2, 5) and np.all(np.diff(waits, axis=1) <= 0) and waits[0, -1] == 0.0


def test_round_robin_prefill_queue_by_hand():
    """E_c/M/1 (Kleinrock 1975, Sec. 6.4): a prompt waits with probability sigma, the root of sigma = (c rho / (c rho +
    1 - sigma))^c, and then an exponential time of mean S / (1 - sigma). One server is M/M/1 (sigma = rho); two servers
    at rho = 0.5: sigma = (1 / (2 - sigma))^2, the root of sigma^3 - 4 sigma^2 + 4 sigma - 1 = (sigma - 1)(sigma^2 - 3
    sigma + 1) in (0, 1): (3 - sqrt 5) / 2 = 0.382; many servers: the D/M/1 root of sigma = exp(-(1 - sigma) / rho)
    (0.2032 at rho = 0.5)."""
    assert float(roofline.round_robin_wait_share(0.7, 1)) == pytest.approx(0.7, abs=1e-9)
    assert float(roofline.round_robin_wait_share(0.5, 2)) == pytest.approx((3 - math.sqrt(5)) / 2, abs=1e-9)
    assert float(roofline.round_robin_wait_share(0.5, 4096)) == pytest.approx(0.2032, abs=2e-4)
    # pooled (M/M/c) and round robin agree at one server; with more, turns wait less than a Poisson share each (M/M/1)
    # and more than one pooled queue: at 14 servers and 70% load, 7.7 prefill times at the 99th percentile against 0.65
    share, theta = roofline.prefill_queue(np.array([0.7, 0.7]), 1, np.array(["pooled", "round_robin"]))
    assert np.allclose(share, 0.7) and np.allclose(theta, 1 / 0.3)
    p99 = lambda router: float(np.log(100 * roofline.prefill_queue(0.7, 14, router)[0]) * roofline.prefill_queue(0.7, 14, router)[1])
    assert p99("pooled") == pytest.approx(float(roofline.queue_wait_p99(0.7, 14))) == pytest.approx(0.65, abs=0.005)
    assert p99("round_robin") == pytest.approx(7.72, abs=0.01) and p99("round_robin") < float(roofline.queue_wait_p99(0.7, 1))
    # vectorized: more servers fed in turn wait less at the same load
    sigma = roofline.round_robin_wait_share(np.array([[0.6], [0.9]]), np.array([1, 2, 4, 14, 64]))
    assert sigma.shape == (2, 5) and np.all(np.diff(sigma, axis=1) < 0)


def test_ttft_at_load_is_the_m_m_1_wait_at_the_batch_full_load_by_hand():
    """Held at 256 requests with no target (MLPerf's operating point), ``ttft_at_load`` reads the prefill queue at the
    batch's full load: one replica is an M/M/1 queue busy the prefill share rho of its time, so the mean TTFT grows by
    rho / (1 - rho) prefill times and the wait exceeds t with probability rho exp(-(1 - rho) t / S). The batch cap is a
    mean here, not a cap: no admission queue. Throughput and batch do not move."""
    kw = dict(**SMALL, gpus_per_replica=1, max_batch=256)
    base = inf.replica_throughput(**kw)
    loaded = inf.replica_throughput(**kw, ttft_at_load=True)
    rho, s = float(base.prefill_time_fraction), float(base.prefill_s_per_request)
    assert 0.2 < rho < 0.9
    assert float(loaded.ttft_ms) - float(base.ttft_ms) == pytest.approx(1e3 * s * rho / (1 - rho), rel=1e-9)
    assert float(loaded.tokens_per_s_per_gpu) == float(base.tokens_per_s_per_gpu) and float(loaded.batch) == 256
    # equal-length prompts: the p99 is the no-queue TTFT plus the wait's own 99th percentile
    wait_p99_s = s / (1 - rho) * math.log(100 * rho)
    assert float(loaded.ttft_p99_ms) == pytest.approx(float(base.ttft_ms) + 1e3 * wait_p99_s, rel=1e-6)
    # without the flag there is no arrival process: equal-length prompts all take the no-queue TTFT
    assert float(base.ttft_p99_ms) == float(base.ttft_ms)


def test_a_router_over_prefill_replicas_serves_more_at_the_same_ttft_target():
    kw = dict(**MOE, input_tokens=3000, output_tokens=400, hbm_gb=80, hbm_tb_s=3.35, peak_tflops=1979, gpus_per_replica=64,
              prefill_gpus_per_replica=32, disaggregated=True, experts_per_token=8, mla_kv_dim=576, cache_hit_rate=0.5,
              max_tpot_ms=40, max_ttft_ms=450, latency_tail_factor=1.5, moe_efficiency=0.3)
    by_servers = [inf.replica_throughput(**kw, prefill_queue_servers=c) for c in (1, 4, 14)]
    per_gpu = [float(t.tokens_per_s_per_gpu) for t in by_servers]
    assert per_gpu[0] < per_gpu[1] < per_gpu[2]
    assert all(float(t.ttft_p99_ms) <= 450 * (1 + 1e-6) for t in by_servers)
    # 14 servers taking turns: between one queue per server and one pooled queue
    turns = inf.replica_throughput(**kw, prefill_queue_servers=14, prefill_router="round_robin")
    assert per_gpu[0] < float(turns.tokens_per_s_per_gpu) < per_gpu[2] and float(turns.ttft_p99_ms) <= 450 * (1 + 1e-6)
    # the decode replica is the same; only the prefill pool's headroom shrinks
    assert len({float(t.batch) for t in by_servers}) == 1
    assert float(by_servers[2].prefill_time_fraction) < float(by_servers[0].prefill_time_fraction)


def test_prefix_cache_cuts_prefill_by_hand():
    kw = dict(**LLAMA2, input_tokens=1000, output_tokens=200, **H200, gpus_per_replica=1, compute_efficiency=1.0)
    cold = inf.replica_throughput(**kw)
    warm = inf.replica_throughput(**kw, cache_hit_rate=0.5)
    gemm = 1000 * 2 * 70e9 / 1979e12
    attn = 2 * 80 * 8192 * 1000 ** 2 / (0.68 * 1979e12)     # attention at FlashAttention-3's share of its roofline
    assert float(cold.prefill_s_per_request) == pytest.approx(gemm + attn)
    assert float(warm.prefill_s_per_request) == pytest.approx(0.5 * gemm + 0.75 * attn)
    assert float(warm.tokens_per_s_per_gpu) > float(cold.tokens_per_s_per_gpu)


def test_usd_per_million_tokens_by_hand():
    # $3.6 per GPU-hour at 1,000 tokens/s per GPU = 3.6M tokens per hour -> $1 per million
    assert inf.usd_per_million_tokens(3.6, 1000.0) == pytest.approx(1.0)
    assert inf.api_usd_per_million_output_tokens(5, 25, 3000, 400) == pytest.approx(25 + 5 * 7.5)


# --------------------------------------------------------------------------- invariants
def test_vectorized_matches_scalar_calls():
    bws = np.array([2.0, 3.35, 4.8, 8.0])
    kw = dict(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=141, peak_tflops=1979, gpus_per_replica=1,
              max_tpot_ms=50, max_ttft_ms=500, latency_tail_factor=1.3)
    grid = inf.replica_throughput(**kw, hbm_tb_s=bws)
    for i, bw in enumerate(bws):
        one = inf.replica_throughput(**kw, hbm_tb_s=bw)
        assert float(one.tokens_per_s_per_gpu) == grid.tokens_per_s_per_gpu[i]
        assert str(one.bound) == grid.bound[i] and str(one.limit) == grid.limit[i]


@pytest.mark.parametrize("model, extra", [(LLAMA2, {}), (MOE, {"experts_per_token": 8, "mla_kv_dim": 576})])
@pytest.mark.parametrize("tpot_ms", [np.inf, 40.0])
def test_more_hbm_bandwidth_never_fewer_tokens(model, extra, tpot_ms):
    bws = np.linspace(1.0, 12.0, 45)
    for g in (1, 2, 8, 16, 64):
        t = inf.replica_throughput(**model, **extra, input_tokens=2000, output_tokens=400, hbm_gb=141, hbm_tb_s=bws,
                                   peak_tflops=1979, gpus_per_replica=g, max_batch=1024, max_tpot_ms=tpot_ms, max_ttft_ms=450)
        # 1e-5: where the TTFT target binds, a batch the TPOT target lets grow lengthens the decode step each pipeline
        # stage adds to the first token, a few millionths of the prefill utilisation (the 16-GPU replica's two stages).
        assert np.all(np.diff(t.tokens_per_s_per_gpu) >= -1e-5 * t.tokens_per_s_per_gpu[1:]), (g, t.tokens_per_s_per_gpu)


def test_looser_targets_never_fewer_tokens():
    targets = np.array([10, 20, 40, 80, 160, 1e6])
    t = inf.replica_throughput(**LLAMA2, input_tokens=1000, output_tokens=300, **H200, gpus_per_replica=2, max_tpot_ms=targets)
    assert np.all(np.diff(t.tokens_per_s_per_gpu) >= 0) and np.all(np.diff(t.batch) >= 0)


def test_longer_outputs_with_fixed_memory_give_smaller_max_batch():
    outputs = np.array([100, 200, 400, 800, 1600, 3200, 6400])
    t = inf.replica_throughput(**LLAMA2, input_tokens=1000, output_tokens=outputs, **H200, gpus_per_replica=1)
    assert np.all(np.diff(t.batch_kv_limit) < 0) and np.all(np.diff(t.batch) <= 0)


def test_dense_reads_all_weights_moe_a_growing_share():
    assert inf.touched_weight_fraction(70e9, 70e9, 1) == 1.0
    moe = inf.touched_weight_fraction(1e12, 1e11, np.array([1, 8, 64, 1024]))
    assert moe[0] == pytest.approx(0.1) and np.all(np.diff(moe) > 0) and moe[-1] <= 1.0


def test_weights_that_do_not_fit_give_zero_throughput():
    t = inf.replica_throughput(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=80, hbm_tb_s=3.35, peak_tflops=1979,
                               gpus_per_replica=1, weight_bytes_per_param=2.0)
    assert float(t.tokens_per_s_per_gpu) == 0.0 and str(t.bound) == "does-not-fit"


def test_latency_targets_cap_batch_and_are_met():
    kw = dict(**LLAMA2, input_tokens=500, output_tokens=300, **H200, gpus_per_replica=1, latency_tail_factor=1.5)
    loose = inf.replica_throughput(**kw)
    tight = inf.replica_throughput(**kw, max_tpot_ms=40, max_ttft_ms=450)
    assert float(tight.batch) < float(loose.batch) and str(tight.limit) in ("tpot", "ttft")
    assert float(tight.tpot_p99_ms) <= 40.0 + 1e-9 and float(tight.tpot_p99_ms) == pytest.approx(1.5 * float(tight.tpot_ms))
    assert float(tight.ttft_p99_ms) <= 450.0 + 1e-9
    impossible = inf.replica_throughput(**kw, max_tpot_ms=0.5)
    assert float(impossible.tokens_per_s_per_gpu) == 0 and str(impossible.limit) == "target-not-met"


def test_disaggregated_decode_has_no_prefill_interference():
    kw = dict(**LLAMA2, input_tokens=2000, output_tokens=300, **H200, gpus_per_replica=2, max_batch=64)
    agg = inf.replica_throughput(**kw)
    dis = inf.replica_throughput(**kw, disaggregated=True, prefill_gpus_per_replica=2)
    assert float(dis.tpot_ms) == pytest.approx(float(dis.decode_step_s) * 1e3)          # TPOT = step / tau
    assert float(agg.tpot_ms) > float(agg.decode_step_s) * 1e3                          # prefill interleaved
    assert float(dis.gpus_per_unit) > 2                                                  # decode + share of prefill GPUs


def test_expert_all_to_all_slower_across_the_scale_out_network():
    kw = dict(**MOE, input_tokens=2000, output_tokens=400, hbm_gb=80, hbm_tb_s=3.35, peak_tflops=1979,
              experts_per_token=8, mla_kv_dim=576, max_batch=512)
    inside = inf.replica_throughput(**kw, gpus_per_replica=8, nvlink_domain_gpus=8)
    across = inf.replica_throughput(**kw, gpus_per_replica=64, nvlink_domain_gpus=8, scale_out_gb_s_per_gpu=50)
    nvl72 = inf.replica_throughput(**kw, gpus_per_replica=64, nvlink_domain_gpus=72, nvlink_gb_s_per_gpu=1800)
    per_token = lambda t: float(t.step_comm_s) / float(t.batch)
    assert per_token(across) > per_token(nvl72)
    # MLA holds more requests than GQA in the same memory
    gqa = inf.replica_throughput(**{**kw, "mla_kv_dim": 0}, gpus_per_replica=64)
    assert float(across.batch_kv_limit) > 3 * float(gqa.batch_kv_limit)


def test_scale_out_all_to_all_runs_at_the_nic_share_by_hand():
    """Across nodes the all-to-all is bound by the NICs at ``scaleout_all_to_all_efficiency`` of their bandwidth (DeepEP's
    measured share), not slowed by the expert layers' ``moe_efficiency``, which the NVLink all-to-all keeps."""
    kw = dict(**MOE, input_tokens=2000, output_tokens=400, hbm_gb=80, hbm_tb_s=3.35, peak_tflops=1979, experts_per_token=8,
              mla_kv_dim=576, max_batch=64, gpus_per_replica=64, nvlink_domain_gpus=8, scale_out_gb_s_per_gpu=50,
              nvlink_gb_s_per_gpu=900, moe_efficiency=0.25)
    copies = 8 * 96 * 12288 * (1.0 + 2.0)                       # FP8 dispatch + BF16 combine, every layer
    nvlink = copies * (63 / 64) * (7 / 63) / 450e9 / 0.25        # the 7 other GPUs of the node, at the expert-layer share
    latency = 2 * 96 * 25e-6                                     # two collectives per layer across the scale-out network
    for share in (1.0, 0.5):
        t = inf.replica_throughput(**kw, scaleout_all_to_all_efficiency=share)
        nic = copies * (63 / 64) * (56 / 63) * (4 / 8) / (50e9 * share)   # other nodes, at most 4 of 8 experts' nodes
        assert float(t.batch) == 64
        assert float(t.step_comm_s) == pytest.approx(64 * max(nvlink, nic) / 64 + latency)
    inside = dict(kw, gpus_per_replica=8)                        # one node: no NIC in the all-to-all
    assert float(inf.replica_throughput(**inside, scaleout_all_to_all_efficiency=0.5).step_comm_s) == \
        float(inf.replica_throughput(**inside, scaleout_all_to_all_efficiency=1.0).step_comm_s)


def test_speculative_decoding_helps_at_a_tight_target():
    kw = dict(**LLAMA2, input_tokens=500, output_tokens=300, **H200, gpus_per_replica=1, max_tpot_ms=20)
    assert float(inf.replica_throughput(**kw, spec_tokens=1, spec_acceptance=0.85).tokens_per_s_per_gpu) > \
        float(inf.replica_throughput(**kw).tokens_per_s_per_gpu)


# --------------------------------------------------------------------------- presets and data
def test_slo_presets_are_mlperf_conf():
    # mlcommons/inference loadgen/mlperf.conf (ms): llama2-70b server 2000/200, interactive 450/40,
    # llama3_1-405b server 6000/175, interactive 4500/80, deepseek-r1 server 2000/80, interactive 1500/15
    assert inf.slo_preset("server", "llama2-70b") == {"max_ttft_ms": 2000, "max_tpot_ms": 200}
    assert inf.slo_preset("interactive", "llama2-70b") == {"max_ttft_ms": 450, "max_tpot_ms": 40}
    assert inf.slo_preset("server", "llama3.1-405b") == {"max_ttft_ms": 6000, "max_tpot_ms": 175}
    assert inf.slo_preset("interactive", "llama3.1-405b") == {"max_ttft_ms": 4500, "max_tpot_ms": 80}
    assert inf.slo_preset("interactive", "deepseek-r1") == {"max_ttft_ms": 1500, "max_tpot_ms": 15}
    assert math.isinf(inf.slo_preset("offline")["max_tpot_ms"])
    with pytest.raises(InputError, match=r"^scenario: 'batch' is not an MLPerf scenario"):
        inf.slo_preset("batch")


def test_mlperf_rows_are_the_published_ones():
    table = inf.load_mlperf()
    assert table.loc["v4.1-dgx-h100-llama2-offline", "tokens_s_per_gpu"] == pytest.approx(24524.9 / 8)
    assert table.loc["v4.1-h200-llama2-offline", "tokens_s_per_gpu"] == pytest.approx(31302.7 / 8)
    assert table.loc["v5.1-dgx-b200-llama2-interactive", "tokens_s"] == pytest.approx(59545.4)
    assert table.loc["v5.1-gb200x72-dsr1-offline", "tokens_s"] == 289712
    assert table.loc["v5.0-h200-llama31-server", "tokens_s"] == pytest.approx(291.37)
    assert set(table["gpu"]) >= {"H100", "H200", "B200", "GB200"}
    assert set(table["benchmark"]) == {"llama2-70b", "llama3.1-405b", "deepseek-r1"}
    assert set(table["scenario"]) == {"offline", "server", "interactive"}
    assert (table["source"].str.len() > 20).all()


def test_api_prices_are_the_published_list_prices():
    prices = inf.load_api_prices()
    assert tuple(prices.loc["Claude Opus 4.5", ["input_usd_per_mtok", "output_usd_per_mtok"]]) == (5, 25)
    assert tuple(prices.loc["Claude Sonnet 4.5", ["input_usd_per_mtok", "output_usd_per_mtok"]]) == (3, 15)
    assert (prices["source"].str.len() > 10).all()


def test_lease_price_is_the_s1_derivation():
    p = inf._defaults()["lease_usd_per_gpu_hour"]
    assert p.value == pytest.approx(1.25e9 / (325_000 * 730.5), abs=0.01)
    assert p.low <= p.value <= p.high == pytest.approx(1.25e9 / (220_000 * 730.5), abs=0.01)


def test_every_parameter_has_a_physical_upper_bound():
    for key, spec in inf.PARAMETERS.items():
        assert spec.choices or spec.max is not None, key


# --------------------------------------------------------------------------- fleet
@pytest.fixture(scope="module")
def colossus():
    return load_cluster("colossus1")


def test_fleet_totals_are_sums_of_pools_and_costs_add_up(colossus):
    values = inf.default_values()
    fleet = inf.fleet_capacity(colossus, values)
    pools = fleet.pools
    assert fleet.tokens_per_s == pytest.approx(pools["tokens_per_s"].sum())
    assert fleet.tokens_per_day == pytest.approx(fleet.tokens_per_s * 86400 * values["load_factor"])
    assert (pools["tokens_per_s"] > 0).all()
    expected_cost = values["lease_usd_per_gpu_hour"] * fleet.gpus / (fleet.tokens_per_s * values["load_factor"] * 3600) * 1e6
    assert fleet.usd_per_million_output_tokens == pytest.approx(expected_cost)
    # the input/output split conserves the bill: input $ per M x input/output + output $ per M = all-in $ per M output
    split = fleet.usd_per_million_input_tokens * fleet.input_tokens / fleet.output_tokens + fleet.usd_per_million_output_tokens_decode
    assert split == pytest.approx(fleet.usd_per_million_output_tokens)
    assert fleet.max_tpot_ms == values["max_tpot_ms"] and fleet.max_ttft_ms == values["max_ttft_ms"]
    d = fleet.to_dict()
    json.dumps(d, allow_nan=False)
    assert "fleet" in fleet.summary() and len(d["pools"]) == len(colossus.pools)


def test_offline_serves_more_than_interactive(colossus):
    values = inf.default_values()
    interactive = inf.fleet_capacity(colossus, values, slo="interactive")
    offline = inf.fleet_capacity(colossus, values, slo="offline")
    assert offline.tokens_per_s >= interactive.tokens_per_s > 0
    assert math.isinf(offline.max_tpot_ms) and interactive.max_tpot_ms == 40


def test_fleet_draws_match_fleet_capacity_and_vectorize(colossus):
    from analysis.scenario import load_scenario

    sc = load_scenario("colossus1")
    central = sc.values("inference")
    point = inf.fleet_capacity(sc.cluster, central)
    same = inf.fleet_draws(sc.cluster, central)
    assert float(same["tokens_per_s"]) == pytest.approx(point.tokens_per_s)
    assert float(same["usd_per_million_output_tokens"]) == pytest.approx(point.usd_per_million_output_tokens)
    draws = {k.split(".", 1)[1]: v for k, v in sc.sample(200, 1).items() if k.startswith("inference.")}
    many = inf.fleet_draws(sc.cluster, draws)
    assert many["tokens_per_s"].shape == (200,) and np.all(many["tokens_per_s"] >= 0)
    # the one vectorized function equals a loop of point calls
    for i in (0, 7):
        one = inf.fleet_capacity(sc.cluster, {k: (v[i] if isinstance(v, np.ndarray) else v) for k, v in draws.items()})
        assert many["tokens_per_s"][i] == pytest.approx(one.tokens_per_s)


def test_replicas_hold_the_weights():
    values = inf.default_values()
    t, size, _ = inf.best_replica(gpu("H100"), values)
    assert float(size) * (80 - values["reserved_gb_per_gpu"]) > values["total_params_b"]
    assert float(t.tokens_per_s_per_gpu) > 0


def test_fp4_falls_back_to_fp8_on_hopper():
    assert inf.serving_precision(gpu("H100"), "fp4") == "fp8"
    assert inf.serving_precision(gpu("GB200"), "fp4") == "fp4"


def test_latency_curve_is_monotone():
    curve = inf.latency_curve(inf.default_values(), ["H100"], [20, 40, 80, 160])
    assert np.all(np.diff(curve["tokens_per_s_per_gpu"]) >= 0)


# --------------------------------------------------------------------------- serve files and CLI
def test_run_from_file_example():
    result = inf.run_from_file(PROJ_ROOT / "data/serve/llama2-70b-h100.yaml")
    d = result.to_dict()
    json.dumps(d, allow_nan=False)
    assert {"tokens_per_s_per_gpu", "batch", "bound", "limit", "null_reasons"} <= set(d)
    assert d["bound"] in inf.BOUNDS and d["batch"] <= 896
    assert d["max_tpot_ms"] is None and d["null_reasons"]["max_tpot_ms"] == "no TPOT target"
    assert "tokens/s per GPU" in result.summary() and "the batch is limited by" in result.summary()
    # the calibrated attention efficiency is the one the file is evaluated with, and the summary states it
    assert d["attention_efficiency"] == inf.default_values()["attention_efficiency"]
    assert f"attention {d['attention_efficiency']:.2f} of its roofline" in result.summary()


def test_scheduler_and_fp4_weight_reads_in_a_serve_file():
    """scheduler: no_evict reserves each request's whole sequence (fewer requests fit than under max_util, which holds the
    prompt and half the output); an NVFP4 file reads its weights at efficiency.fp4_read of the bandwidth (slower decode
    when memory-bound); the CLI states both."""
    doc = {**BASE_DOC, "gpu": "B200", "gpus_per_replica": 1, "precision": "fp4", "max_batch": 64}
    util, evict = (inf.parse_serve({**doc, "scheduler": k}) for k in ("max_util", "no_evict"))
    assert float(inf.evaluate_serve(util).batch_kv_limit) > float(inf.evaluate_serve(evict).batch_kv_limit)
    # 500 + 300 / 2 = 650 tokens held against 800 reserved
    assert float(inf.evaluate_serve(util).kv_gb_per_request) == pytest.approx(float(inf.evaluate_serve(evict).kv_gb_per_request) * 650 / 800)
    slow, fast = (inf.parse_serve({**doc, "efficiency": {"fp4_read": r}}) for r in (0.3, 1.0))
    assert float(inf.evaluate_serve(slow).step_weights_s) > float(inf.evaluate_serve(fast).step_weights_s)
    assert inf.parse_serve(doc).values["fp4_weight_read_efficiency"] == inf.default_values()["fp4_weight_read_efficiency"]
    result = inf.run_from_file(PROJ_ROOT / "data/serve/llama2-70b-b200.yaml")
    d = result.to_dict()
    assert d["scheduler"] == "max_util" and d["weight_read_efficiency"] == pytest.approx(inf.default_values()["fp4_weight_read_efficiency"])
    assert "NVFP4 weight reads" in result.summary() and "half the output" in result.summary()


def test_wide_ep_serve_file_accepts_the_new_keys():
    r = inf.run_from_file(PROJ_ROOT / "data/serve/moe-1t-h100-wide-ep.yaml").to_dict()
    assert r["serving_mode"] == "disaggregated" and r["attention"] == "mla" and r["gpus_per_replica"] == 64
    assert r["max_tpot_ms"] == 40 and r["max_ttft_ms"] == 450 and r["tokens_per_step"] == pytest.approx(1.85)
    assert r["tokens_per_s_per_gpu"] > 0 and r["tpot_p99_ms"] <= 40 + 1e-6 and r["ttft_p99_ms"] <= 450 + 1e-6
    # 64 GPUs over 8-GPU NVLink domains: the all-to-all crosses the NICs, at the sourced share, beside the fitted MoE share
    defaults = inf.default_values()
    assert r["scaleout_all_to_all_efficiency"] == defaults["scaleout_all_to_all_efficiency"] == 0.89
    assert r["moe_efficiency"] == defaults["moe_efficiency"]
    inside = inf.run_from_file(PROJ_ROOT / "data/serve/deepseek-r1-b200.yaml")
    assert inside.to_dict()["scaleout_all_to_all_efficiency"] is None and "across nodes" not in inside.summary()
    assert inside.to_dict()["null_reasons"]["scaleout_all_to_all_efficiency"] == "the all-to-all stays inside the NVLink domain"


@pytest.mark.parametrize("doc, message", [
    ({"gpu": "X100", "gpus_per_replica": 1}, r"^gpu: unknown GPU 'X100'; known GPUs are"),
    ({"gpu": "H100"}, r"^gpus_per_replica: missing"),
    ({"gpu": "H100", "gpus_per_replica": 1, "precision": "fp4"}, r"^precision: H100 has no dense fp4 peak"),
    ({"gpu": "H100", "gpus_per_replica": 1, "precision": "int3"}, r"^precision: 'int3' is not allowed"),
    ({"gpu": "H100", "gpus_per_replica": 1, "precision": "bf16"}, r"^gpus_per_replica: 1 x H100 \(80 GB\) cannot hold 140 GB"),
    ({"gpu": "H100", "gpus_per_replica": 2, "workload": {"input_tokens": -5, "output_tokens": 300}}, r"^workload\.input_tokens: -5 is below 1"),
    ({"gpu": "H100", "gpus_per_replica": 2, "model": {"params": 70e9, "active_params": 80e9, "layers": 80, "hidden": 8192,
      "heads": 64, "kv_heads": 8}}, r"^model\.active_params: 8e\+10 exceeds"),
    ({"gpu": "H100", "gpus_per_replica": 2, "workload": {"input_tokens": 5}}, r"^workload\.output_tokens: missing"),
    ({"gpu": "H100", "gpus_per_replica": 2, "speed": 3}, r"^speed: unknown key"),
    # quoted numbers are numbers and are checked like numbers
    ({"gpu": "H100", "gpus_per_replica": 2, "model": {**BASE_DOC["model"], "layers": "-80"}}, r"^model\.layers: -80 is below 1"),
    ({"gpu": "H100", "gpus_per_replica": 2, "model": {**BASE_DOC["model"], "layers": "eighty"}}, r"^model\.layers: 'eighty' is not a number"),
    ({"gpu": "H100", "gpus_per_replica": 2, "model": {**BASE_DOC["model"], "layers": True}}, r"^model\.layers: True is not a number"),
    ({"gpu": "H100", "gpus_per_replica": "two"}, r"^gpus_per_replica: 'two' is not a number"),
    ({"gpu": "H100", "gpus_per_replica": 2, "slo": {"ttft_s": 0.45, "tpot": 0.04}}, r"^slo\.tpot: unknown key"),
    ({"gpu": "H100", "gpus_per_replica": 2, "slo": "fast"}, r"^slo: 'fast' is not allowed"),
    ({"gpu": "H100", "gpus_per_replica": 2, "slo": {"tpot_s": -1}}, r"^slo\.tpot_s: -1 is below 0"),
    ({"gpu": "H100", "gpus_per_replica": 2, "cache_hit_rate": 1.5}, r"^cache_hit_rate: 1\.5 is above 0\.99"),
    ({"gpu": "H100", "gpus_per_replica": 2, "ep": 4}, r"^ep: 4 differs|^gpus_per_replica: 2 differs"),
    ({"gpu": "H100", "gpus_per_replica": 2, "prefill": {"gpus": 2}}, r"^decode: missing"),
    ({"gpu": "H100", "prefill": {"gpus": 2, "replicas": 0}, "decode": {"gpus": 2}}, r"^prefill\.replicas: 0 is below 1"),
    ({"gpu": "H100", "gpus_per_replica": 2, "mla": {"kv_dim": 0}}, r"^mla\.kv_dim: 0 is below 1"),
    ({"gpu": "H100", "gpus_per_replica": 2, "speculative": {"tokens": 1, "acceptance": 1.2}}, r"^speculative\.acceptance: 1\.2 is above"),
    ({"gpu": "H100", "gpus_per_replica": 2, "benchmark": "gpt-9"}, r"^benchmark: 'gpt-9' is not allowed"),
    ({"gpu": "H100", "gpus_per_replica": 3, "system_gpus": 8}, r"^system_gpus: 8 is not a multiple of the 3-GPU replica"),
    ({"gpu": "H100", "gpus_per_replica": 2, "tensor_parallel": 3}, r"^tensor_parallel: 3 must divide the replica's GPUs \(2\)"),
    ({"gpu": "H100", "gpus_per_replica": "auto", "system_gpus": 8, "tensor_parallel": 1}, r"^tensor_parallel: 1 must divide the replica's GPUs \(auto\)"),
    ({"gpu": "H100", "gpus_per_replica": 2, "workload": {"input_tokens": 500, "output_tokens": 300, "input_tokens_cv": -1}},
     r"^workload\.input_tokens_cv: -1 is below 0"),
    ({"gpu": "H100", "gpus_per_replica": 2, "gemm_allreduce": "yes"}, r"^gemm_allreduce: 'yes' is not allowed; use true or false"),
    ({"gpu": "H100", "gpus_per_replica": 2, "max_num_tokens": 0}, r"^max_num_tokens: 0 is below 1"),
    ({"gpu": "H100", "prefill": {"gpus": 2}, "decode": {"gpus": 2, "replicas": 2}}, r"^prefill\.replicas: missing; fixed pools"),
    ({"gpu": "H100", "prefill": {"gpus": 2, "replicas": 3}, "decode": {"gpus": 2, "replicas": 2}, "system_gpus": 8},
     r"^system_gpus: 8 differs from the fixed pools' 10 GPUs"),
    ({"gpu": "H100", "gpus_per_replica": 2, "scenarios": {"server": {"max_num_tokens": "many"}}}, r"^scenarios\.server\.max_num_tokens: 'many' is not a number"),
    ({"gpu": "H100", "gpus_per_replica": 2, "scenarios": {"interactive": {"gemm_allreduce": 1}}},
     r"^scenarios\.interactive\.gemm_allreduce: 1 is not allowed"),
    ({"gpu": "H100", "gpus_per_replica": 2, "scenarios": {"server": {"tensor_parallel": 0}}}, r"^scenarios\.server\.tensor_parallel: 0 is below 1"),
    ({"gpu": "H100", "gpus_per_replica": 2, "scheduler": "greedy"}, r"^scheduler: 'greedy' is not allowed; use one of max_util, no_evict"),
    ({"gpu": "H100", "prefill": {"gpus": 2, "replicas": 4, "router": "random"}, "decode": {"gpus": 2}},
     r"^prefill\.router: 'random' is not allowed; use one of pooled, round_robin"),
    ({"gpu": "B200", "gpus_per_replica": 1, "precision": "fp4", "efficiency": {"fp4_read": 1.5}}, r"^efficiency\.fp4_read: 1\.5 is above 1"),
    ({"gpu": "H100", "gpus_per_replica": 2, "efficiency": {"all_to_all": 0}}, r"^efficiency\.all_to_all: 0 is equal to 0; expected a number in \(0, 1\]"),
])
def test_bad_serve_files_raise_one_line(doc, message):
    doc = {**BASE_DOC, **doc}
    with pytest.raises(InputError, match=message) as info:
        inf.parse_serve(doc)
    assert "\n" not in str(info.value)


def test_numbers_written_as_text_are_read():
    doc = {**BASE_DOC, "gpu": "H100", "gpus_per_replica": "2", "model": {**BASE_DOC["model"], "params": "70e9", "layers": "80"},
           "workload": {"input_tokens": "16e2", "output_tokens": "3_00"}}
    serve = inf.parse_serve(doc)
    assert serve.values["total_params_b"] == 70 and serve.values["layers"] == 80 and serve.values["input_tokens"] == 1600
    assert serve.values["output_tokens"] == 300 and serve.gpus_per_replica == 2


def test_validate_section_cross_checks():
    values = dict(inf.default_values(), active_params_b=2000)
    with pytest.raises(InputError, match=r"^inference\.active_params_b: 2000 exceeds total_params_b"):
        inf.validate_section(values, None)


@pytest.mark.slow
def test_cli_json_is_strict_and_errors_exit_2(tmp_path):
    ok = run_cli("inference", "data/serve/llama2-70b-h200.yaml", "--json")
    assert ok.returncode == 0, ok.stderr
    d = json.loads(ok.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert d["gpu"] == "H200" and d["tokens_per_s_per_gpu"] > 0 and d["bound"] in inf.BOUNDS
    assert d["batch_latency_limit"] is None and "batch_latency_limit" in d["null_reasons"]
    text = run_cli("inference", "data/serve/moe-1t-h100-wide-ep.yaml")
    assert text.returncode == 0 and "the batch is limited by" in text.stdout and "disaggregated" in text.stdout
    cases = {"zero.yaml": "gpus_per_replica: 0", "quoted.yaml": "gpus_per_replica: 2\nmax_batch: '-80'",
             "key.yaml": "gpus_per_replica: 2\nslo: {ttft: 1}"}
    for name, extra in cases.items():
        bad = tmp_path / name
        bad.write_text(f"gpu: H100\n{extra}\nmodel: {{params: 7e9, layers: 32, hidden: 4096, heads: 32, kv_heads: 8}}\n"
                       "workload: {input_tokens: 100, output_tokens: 100}\n")
        r = run_cli("inference", str(bad))
        assert r.returncode == 2 and r.stdout == "", (name, r.stdout)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    r = run_cli("inference", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and r.stderr.startswith("error: serve file")


# --------------------------------------------------------------------------- v2.1 physics and the lessee's lease price
def test_nvfp4_weights_carry_their_block_scales():
    """NVFP4: 4-bit values plus one FP8 scale per 16 values = 0.5 + 1/16 bytes per weight; 70B weights = 39.4 GB."""
    assert inf.PRECISION_BYTES["fp4"] == pytest.approx(0.5625)
    t = inf.replica_throughput(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=180, hbm_tb_s=8.0, peak_tflops=9000,
                               gpus_per_replica=1, weight_bytes_per_param=inf.PRECISION_BYTES["fp4"])
    assert float(t.weights_gb_per_gpu) == pytest.approx(70e9 * 0.5625 / 1e9)


def test_software_factor_multiplies_compute_efficiency_capped_at_the_peak():
    kw = dict(**LLAMA2, input_tokens=1000, output_tokens=200, **H200, gpus_per_replica=1)
    a = inf.replica_throughput(**kw, compute_efficiency=0.5, software_factor=1.2)
    b = inf.replica_throughput(**kw, compute_efficiency=0.6)
    assert float(a.tokens_per_s_per_gpu) == pytest.approx(float(b.tokens_per_s_per_gpu))
    capped = inf.replica_throughput(**kw, compute_efficiency=0.9, software_factor=2.0)
    peak = inf.replica_throughput(**kw, compute_efficiency=1.0)
    assert float(capped.tokens_per_s_per_gpu) == pytest.approx(float(peak.tokens_per_s_per_gpu))


def test_dense_tensor_parallel_all_reduce_is_not_overlapped():
    """comm_overlap is the MoE all-to-all's two-micro-batch overlap; a dense TP8 step keeps its all-reduce time."""
    kw = dict(**LLAMA2, input_tokens=500, output_tokens=300, **H200, gpus_per_replica=8)
    a, b = inf.replica_throughput(**kw, comm_overlap=0.0), inf.replica_throughput(**kw, comm_overlap=0.9)
    assert float(a.step_comm_s) == pytest.approx(float(b.step_comm_s)) and float(a.step_comm_s) > 0


def test_moe_efficiency_does_not_slow_weight_streaming():
    """At batch 1 a MoE decode step reads its touched experts at the HBM bandwidth whatever the expert-layer efficiency."""
    kw = dict(**MOE, input_tokens=100, output_tokens=100, hbm_gb=80, hbm_tb_s=3.35, peak_tflops=1979, gpus_per_replica=16,
              experts_per_token=8, max_batch=1)
    slow, fast = inf.replica_throughput(**kw, moe_efficiency=0.1), inf.replica_throughput(**kw, moe_efficiency=1.0)
    assert float(slow.decode_memory_s) == pytest.approx(float(fast.decode_memory_s))
    assert float(slow.decode_compute_s) > float(fast.decode_compute_s)


def test_lessee_pays_colossus1s_allocated_s1_fee():
    """With a lease, the cost per token uses Colossus 1's rental-value share of the $1.25B/month S-1 fee (~$4.48/GPU-h),
    not the inference section's $5.27 (the fee over all ~325k GPUs); a scenario that sets the parameter keeps it;
    without a lease the parameter is the fallback."""
    from analysis import economics
    from analysis.scenario import load_scenario
    sc = load_scenario("colossus1")
    point = economics.from_scenario(sc, utilization_by_option=economics.modelled_utilization(sc)).to_dict()
    rate, source = inf.lessee_lease(sc, point)
    assert rate == pytest.approx(point["lease_usd_per_gpu_hour"]) and 4.0 < rate < 5.0 and source.startswith("S-1 fee")
    values = inf.with_lessee_lease(sc.values("inference"), sc, point)
    f = inf.fleet_capacity(sc.cluster, values)
    assert f.lease_usd_per_gpu_hour == pytest.approx(rate) and f.lease_source == source
    base = inf.fleet_capacity(sc.cluster, sc.values("inference"))
    assert f.usd_per_million_output_tokens == pytest.approx(base.usd_per_million_output_tokens * rate / base.lease_usd_per_gpu_hour)
    assert inf.lessee_lease(sc, {"options": ["keep"]}) == (None, "inference.lease_usd_per_gpu_hour")
    overridden = type("S", (), {"overridden": frozenset({"inference.lease_usd_per_gpu_hour"}), "cluster": sc.cluster})()
    assert inf.lessee_lease(overridden, point)[0] is None


# --------------------------------------------------------------------------- pipeline stages, attention, prompt spread, attention DP
def test_pipeline_stages_layout_by_hand():
    # tensor parallel inside the NVLink domain, the rest pipeline stages; a MoE is one expert-parallel stage
    tp, stages = roofline.pipeline_stages(np.array([8.0, 16.0, 8.0, 16.0]), None, 8, np.array([False, False, False, True]))
    assert tp.tolist() == [8.0, 8.0, 8.0, 8.0] and stages.tolist() == [1.0, 2.0, 1.0, 1.0]
    tp, stages = roofline.pipeline_stages(8.0, 1, 8)          # tensor_parallel 1: every GPU a stage
    assert (float(tp), float(stages)) == (1.0, 8.0)
    assert float(roofline.pipeline_stages(4.0, 8, 72)[1]) == 1.0   # a degree above the replica is the replica


def test_pipeline_stages_have_no_all_reduce_by_hand():
    """NVIDIA's v5.0 H100 Llama 2 70B config is TP1 x PP2: a 2-GPU replica with tensor_parallel 1 sends one BF16 activation
    per token across the stage boundary (NVLink, 450 GB/s per direction) and has no all-reduce and no collective latency."""
    kw = dict(**LLAMA2, input_tokens=500, output_tokens=300, hbm_gb=80, hbm_tb_s=3.35, peak_tflops=1979, gpus_per_replica=2,
              max_batch=256)
    tp2 = inf.replica_throughput(**kw)
    pp2 = inf.replica_throughput(**kw, tensor_parallel=1)
    assert float(pp2.step_comm_s) == pytest.approx(256 * 8192 * 2.0 / 450e9)
    all_reduce = 256 * 2 * 80 * 2 * (1 / 2) * 8192 * 2.0 / 450e9 + 2 * 80 * roofline.COLLECTIVE_LATENCY_NVLINK_S
    assert float(tp2.step_comm_s) == pytest.approx(all_reduce)
    assert float(pp2.tokens_per_s_per_gpu) > float(tp2.tokens_per_s_per_gpu)
    # the default is tensor parallel inside the NVLink domain
    same = inf.replica_throughput(**kw, tensor_parallel=2)
    assert float(same.tokens_per_s_per_gpu) == float(tp2.tokens_per_s_per_gpu)


def test_h100_v5_serve_file_is_pipeline_parallel():
    serve = inf.parse_serve(read_yaml(PROJ_ROOT / "data/serve/llama2-70b-h100-v5.0.yaml"))
    assert serve.values["tensor_parallel"] == 1 and serve.gpus_per_replica == 2


def test_pipeline_stages_hold_micro_batches_and_add_their_latency_by_hand():
    """TP1 x PP2 (TensorRT-LLM: pp micro-batches of up to max_batch each). Two GPUs of the small case: 5 GB of weights each,
    KV 0.5 x 95 GB x 2 = 95 GB for 23,750 requests of 4 MB in flight, so micro-batches of 11,875; a stage reads its 5 GB
    at 1 TB/s in the time the replica reads 10 GB at 2 TB/s, so throughput is the 2-GPU replica's at batch 11,875, and a
    token crosses both stages: TPOT (and the first token) is twice one stage's time. A no-evict scheduler (each request
    reserves its 200 tokens)."""
    t = inf.replica_throughput(**SMALL, gpus_per_replica=2, tensor_parallel=1, nvlink_gb_s_per_gpu=900, scheduler="no_evict")
    micro = np.floor(0.5 * 95e9 * 2 / (20_000 * 200 * 2))
    assert micro == 11_875 and float(t.batch) == 2 * micro and float(t.batch_kv_limit) == 2 * micro
    roof = lambda m, c: math.hypot(m, c)
    attn_flops = 2 * 0.68e15
    boundary = 1000 * 2.0 / 450e9                           # one BF16 activation per token across the stage boundary
    step = (roof(10e9 / 2e12, micro * 2 * 10e9 / 2e15) + roof(micro * 20_000 * 150 / 2e12, micro * 4 * 10 * 1000 * 150 / attn_flops)
            + micro * boundary)
    prefill = 100 * 2 * 10e9 / 2e15 + 2 * 10 * 1000 * 100 ** 2 / attn_flops + 100 * boundary
    cycle = 100 * step + micro * prefill
    assert float(t.tokens_per_s_per_gpu) == pytest.approx(micro * 100 / (2 * cycle), rel=1e-12)
    assert float(t.tpot_ms) == pytest.approx(2 * cycle / 100 * 1e3, rel=1e-12)
    assert float(t.ttft_ms) == pytest.approx(2 * (prefill + step) * 1e3, rel=1e-12)
    # max_batch limits each micro-batch, not the requests in flight
    capped = inf.replica_throughput(**SMALL, gpus_per_replica=2, tensor_parallel=1, max_batch=100)
    assert float(capped.batch) == 200 and str(capped.limit) == "max-batch"


def _erlang_c_by_recursion(u, c):
    """Erlang C by the textbook recursion (Kleinrock 1975, Sec. 3.5), independent of the model's closed form."""
    a, b = u * c, 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b / (1 - u * (1 - b))


def _exceeds_by_quadrature(x_s, share_1, mean_1_s, share_2, mean_2_s):
    """P(W1 + W2 > x) for two M/M/c waits (zero with probability 1 - C, else exponential), by numerical integration over
    W1's density: independent of the model's closed form."""
    from scipy.integrate import quad

    over_2 = lambda y: 1.0 if y < 0 else share_2 * math.exp(-y / mean_2_s)
    waited, _ = quad(lambda w: math.exp(-w / mean_1_s) / mean_1_s * over_2(x_s - w), 0.0, x_s, limit=200)
    return (1 - share_1) * over_2(x_s) + share_1 * (waited + math.exp(-x_s / mean_1_s))


def test_prompt_length_nodes_keep_the_mean_and_second_moment():
    """The TTFT tail's quadrature over prompt lengths: one node at the mean without spread; a Beta on [0, cap] with the
    mean and (within the quadrature's error) the second moment the prefill's attention uses, min(1 + cv^2, cap / mean);
    without a cap a Gamma: at cv = 1 the exponential, whose mean over the quantiles [x0, x1] of an interval of
    probability w is ((1 + x0) e^-x0 - (1 + x1) e^-x1) / w."""
    ratio, weights = roofline.prompt_length_nodes(9400.0, 0.0, 20000.0)
    assert ratio.shape == (1,) and float(ratio[0]) == 1.0 and weights.tolist() == [1.0]
    ratio, weights = roofline.prompt_length_nodes(9400.0, 1.0, 20000.0)
    assert weights.sum() == pytest.approx(1.0) and len(weights) == roofline.PROMPT_NODES
    assert float(np.sum(weights * ratio)) == pytest.approx(1.0, rel=1e-9)
    assert float(np.sum(weights * ratio ** 2)) == pytest.approx(2.0, rel=0.05)
    assert float(ratio.max()) <= 20000 / 9400 + 1e-9 and float(ratio[-1]) == pytest.approx(20000 / 9400, rel=1e-3)
    edges = 1 - (1 - np.arange(roofline.PROMPT_NODES + 1) / roofline.PROMPT_NODES) ** 3
    x = -np.log(1 - edges[:-1])                                       # the last edge is at infinity
    partial = (1 + x) * np.exp(-x) - np.append((1 + x[1:]) * np.exp(-x[1:]), 0.0)
    ratio, weights = roofline.prompt_length_nodes(500.0, 1.0)
    assert np.allclose(weights, np.diff(edges)) and np.allclose(ratio, partial / weights, rtol=1e-9)
    # arrays broadcast, the node axis last
    assert roofline.prompt_length_nodes(np.array([500.0, 900.0]), 0.5, 2000.0)[0].shape == (2, roofline.PROMPT_NODES)


def test_two_queue_waits_add_as_a_hypoexponential_by_hand():
    """P(W1 + W2 > t): one wait alone, C e^(-t / theta); both always waiting, (theta1 e^(-t/theta1) - theta2
    e^(-t/theta2)) / (theta1 - theta2), at equal means (1 + t / theta) e^(-t / theta); and a mixed case against numerical
    integration."""
    assert float(roofline.wait_exceedance(1.0, 0.5, 2.0)) == pytest.approx(0.5 * math.exp(-0.5))
    assert float(roofline.wait_exceedance(1.0, 1.0, 1.0, 1.0, 2.0)) == pytest.approx(2 * math.exp(-0.5) - math.exp(-1))
    assert float(roofline.wait_exceedance(1.5, 1.0, 1.0, 1.0, 1.0)) == pytest.approx(2.5 * math.exp(-1.5))
    assert float(roofline.wait_exceedance(-0.1, 0.0, 1.0)) == 1.0
    assert float(roofline.wait_exceedance(0.8, 0.3, 0.4, 0.6, 1.1)) == pytest.approx(_exceeds_by_quadrature(0.8, 0.3, 0.4, 0.6, 1.1), rel=1e-6)


def test_ttft_quantile_reads_the_long_prompts_and_the_queue_by_hand():
    """The p99 TTFT: with 2% of prompts at a 3 s floor and no queue it is 3 s (more than 1% miss 1 s); one prompt length
    and one M/M/1 queue give the floor plus the queue's own p99, S ln(100 rho) / (1 - rho) (:func:`queue_wait_p99`)."""
    floor, weights = np.array([1.0, 3.0]), np.array([0.98, 0.02])
    assert float(roofline.ttft_quantile(floor, weights, 0.0, 1.0)) == pytest.approx(3.0, abs=1e-5)
    assert float(roofline.ttft_quantile(floor[:1], weights[:1] / 0.98, 0.0, 1.0)) == pytest.approx(1.0, abs=1e-5)
    s, rho = 0.4, 0.7
    p99 = roofline.ttft_quantile(np.array([1.0]), np.array([1.0]), rho, s / (1 - rho))
    assert float(p99) == pytest.approx(1.0 + s * float(roofline.queue_wait_p99(rho)), rel=1e-5)


def test_a_spread_of_prompt_lengths_meets_a_ttft_target_at_a_lower_load():
    """Same mean prompt: prompts spread up to twice the mean (cv 1, cap 2 x mean: half short, half at the cap) put the
    1% tail at the longest prompts' prefill, so the replica meets the same p99 TTFT target (200 ms against a 40 ms mean
    prefill) at a lower share of its offline throughput, and reports that p99 at the target."""
    kw = dict(**{**SMALL, "input_tokens": 2000}, gpus_per_replica=1, max_batch=64)
    spread = dict(input_tokens_cv=1.0, max_input_tokens=4000)
    target = {"max_ttft_ms": 200.0}
    flat = inf.replica_throughput(**kw, **target).tokens_per_s_per_gpu / inf.replica_throughput(**kw).tokens_per_s_per_gpu
    wide_server = inf.replica_throughput(**kw, **spread, **target)
    wide = wide_server.tokens_per_s_per_gpu / inf.replica_throughput(**kw, **spread).tokens_per_s_per_gpu
    assert 0 < float(wide) < float(flat) < 1
    assert float(wide_server.ttft_p99_ms) == pytest.approx(200.0, rel=1e-3)


def test_admission_queue_at_a_full_batch_runs_below_offline_by_hand():
    """Under Poisson arrivals with a TTFT target, the 256 requests the scheduler allows are 256 slots of an M/M/c queue whose
    service time is a request's life (TPOT x 100 output tokens): a prompt finding them all taken waits, exponentially
    with mean ``life / (256 (1 - x))`` at a share ``x`` of full load, with probability Erlang C; its prefill server
    (M/M/1, C = rho) adds its own wait. The replica runs at the highest ``x`` whose p99 TTFT, prefill + one step + both
    waits together, meets the target. Offline (no arrivals) and a TPOT target alone run at full load."""
    kw = dict(**SMALL, gpus_per_replica=1, max_batch=256)
    offline = inf.replica_throughput(**kw)
    target_ms = 1500.0
    server = inf.replica_throughput(**kw, max_ttft_ms=target_ms)
    assert float(server.batch) == float(offline.batch) == 256 and str(server.limit) == "max-batch"
    base = float(server.prefill_s_per_request) + float(server.decode_step_s)
    life = float(server.tpot_ms) / 1e3 * 100
    prefill = float(server.prefill_s_per_request)

    def exceeds(x):
        r = x * 256 * prefill / life                     # the prefill server's share of the cycle, 256 prefills a life
        slot = _erlang_c_by_recursion(x, 256)
        return _exceeds_by_quadrature(target_ms / 1e3 - base, slot, life / (256 * (1 - x)), r, prefill / (1 - r))

    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if exceeds(mid) <= 0.01 else (lo, mid)
    load = float(server.tokens_per_s_per_gpu) / float(offline.tokens_per_s_per_gpu)
    assert load == pytest.approx(lo, abs=1e-5) and 0.9 < load < 0.99      # the model bisects 18 times: 2^-18 = 4e-6
    assert float(server.ttft_p99_ms) == pytest.approx(target_ms, rel=1e-3)    # at the bisected load, just inside
    assert float(inf.replica_throughput(**kw, max_tpot_ms=1e6).tokens_per_s_per_gpu) == float(offline.tokens_per_s_per_gpu)
    # a larger cap keeps a larger share busy at the same wait (Halfin-Whitt: ~1 - 2/sqrt(slots))
    big, big_offline = (inf.replica_throughput(**{**kw, "max_batch": 2048}, **t) for t in ({"max_ttft_ms": target_ms}, {}))
    assert float(big.tokens_per_s_per_gpu) / float(big_offline.tokens_per_s_per_gpu) > load


def test_gemm_allreduce_fusion_hides_the_allreduce_behind_the_row_parallel_gemms_by_hand():
    """TP8 Llama 2 70B on H200 at batch 64: unfused, the ring all-reduce sends 2 x 7/8 of each activation per layer twice,
    between the GEMMs; fused (gemm_allreduce_plugin), the data once, overlapped (smooth roofline) with the row-parallel
    share 0.35 of the GEMM time. The collective latency stays."""
    kw = dict(**LLAMA2, input_tokens=500, output_tokens=300, **H200, gpus_per_replica=8, max_batch=64, nvlink_gb_s_per_gpu=900)
    plain = inf.replica_throughput(**kw)
    fused = inf.replica_throughput(**kw, gemm_allreduce=True)
    latency = 2 * 80 * roofline.COLLECTIVE_LATENCY_NVLINK_S
    ring = 64 * 2 * 80 * 2 * 7 / 8 * 8192 * 2.0 / 450e9
    assert float(plain.step_comm_s) == pytest.approx(ring + latency)
    once = 64 * 2 * 80 * 8192 * 2.0 / 450e9
    row = roofline.ROW_PARALLEL_SHARE * float(fused.step_weights_s)
    assert float(fused.step_weights_s) == pytest.approx(float(plain.step_weights_s))
    assert float(fused.step_comm_s) == pytest.approx(math.hypot(row, once) - row + latency)
    assert float(fused.tokens_per_s_per_gpu) > float(plain.tokens_per_s_per_gpu)
    # a pipeline-only replica has no all-reduce to fuse
    pp = dict(kw, gpus_per_replica=2, tensor_parallel=1)
    assert float(inf.replica_throughput(**pp, gemm_allreduce=True).step_comm_s) == float(inf.replica_throughput(**pp).step_comm_s)


def test_token_budget_caps_the_micro_batch_and_chunks_the_prompt_by_hand():
    """Budget M tokens per iteration: b decode tokens plus prefill chunks; requests finish at b / output per iteration and
    prompts are prefilled at (M - b) / input, so b = M / (1 + input / output). M 1,000, 900 in, 100 out: b = 100, one
    chunk; 2,700 in: b = floor(1000 / 28) = 35 and a prompt takes ceil(2,700 / 965) = 3 iterations to its first token."""
    t = inf.replica_throughput(**{**SMALL, "input_tokens": 900}, gpus_per_replica=1, max_num_tokens=1000)
    assert float(t.batch) == 100 and str(t.limit) == "token-budget"
    assert float(t.ttft_ms) == pytest.approx((float(t.prefill_s_per_request) + float(t.decode_step_s)) * 1e3)
    long = inf.replica_throughput(**{**SMALL, "input_tokens": 2700}, gpus_per_replica=1, max_num_tokens=1000)
    assert float(long.batch) == 35
    assert float(long.ttft_ms) == pytest.approx((float(long.prefill_s_per_request) + 3 * float(long.decode_step_s)) * 1e3)
    unlimited = inf.replica_throughput(**{**SMALL, "input_tokens": 900}, gpus_per_replica=1)
    assert float(unlimited.batch) > 100 and float(unlimited.tokens_per_s_per_gpu) > float(t.tokens_per_s_per_gpu)


def test_fixed_pools_deliver_what_the_smaller_pool_allows_by_hand():
    """Disaggregated, pools fixed as deployed: the model's decode replica needs gpus_per_unit - g prefill GPUs at the TTFT
    target; a pool of half that serves half the requests, one of twice that idles."""
    kw = dict(**LLAMA2, input_tokens=2000, output_tokens=300, **H200, gpus_per_replica=8, prefill_gpus_per_replica=8,
              disaggregated=True, max_tpot_ms=100, max_ttft_ms=3000)
    t = inf.replica_throughput(**kw)
    need = float(t.gpus_per_unit) - 8
    replica = float(t.tokens_per_s_per_replica)
    half = roofline.fixed_pools(t, 8, 2, need)               # 2 decode replicas, a pool of half their need
    assert float(half.tokens_per_s_per_gpu) == pytest.approx(2 * replica * 0.5 / (need + 16))
    assert str(half.bound) == "prefill-pool" and float(half.tokens_per_s_per_replica) == pytest.approx(replica / 2)
    ample = roofline.fixed_pools(t, 8, 2, 4 * need)
    assert float(ample.tokens_per_s_per_gpu) == pytest.approx(2 * replica / (4 * need + 16)) and str(ample.bound) == str(t.bound)


def test_nvidia_405b_configs_are_read_per_scenario():
    """The v5.0 H200 Llama 3.1 405B file carries NVIDIA's two submitted configs (TP4 x PP2 offline, TP8 server, both with
    the GEMM + all-reduce fusion); the v5.0 GB200 NVL72 file its Triton-harness TP2 x PP2 replicas of batch 128."""
    doc = read_yaml(PROJ_ROOT / "data/serve/llama3.1-405b-h200.yaml")
    off, srv = inf.parse_serve(doc, scenario="offline"), inf.parse_serve(doc, scenario="server")
    assert (off.values["tensor_parallel"], off.values["max_batch"], off.values["max_num_tokens"], off.values["kv_memory_fraction"]) == (4, 512, 1536, 0.95)
    assert (srv.values["tensor_parallel"], srv.values["max_batch"], srv.values["max_num_tokens"], srv.values["kv_memory_fraction"]) == (8, 64, 2560, 0.9)
    assert off.values["gemm_allreduce"] and srv.values["gemm_allreduce"] and off.gpus_per_replica == srv.gpus_per_replica == 8
    gb = inf.parse_serve(read_yaml(PROJ_ROOT / "data/serve/llama3.1-405b-gb200-v5.0.yaml"), scenario="server")
    assert (gb.gpus_per_replica, gb.values["tensor_parallel"], gb.values["max_batch"], gb.values["max_num_tokens"]) == (4, 2, 128, 1024)
    assert not gb.values["gemm_allreduce"]


def test_attention_runs_at_its_efficiency_of_its_roofline():
    """Attention FLOPs at min(compute efficiency, attention efficiency) of the attention roofline (tensor peak of the KV
    precision and the GPU's exponential rate), GEMMs at the compute efficiency. H200: 989 TFLOPS BF16 -> 3.86e12 exp/s."""
    exp = float(roofline.softmax_exp_per_s(989, "hopper"))
    kw = dict(**LLAMA2, input_tokens=1000, output_tokens=200, **H200, gpus_per_replica=1, exp_per_s=exp, attention_efficiency=0.3)
    fp8 = inf.replica_throughput(**kw, compute_efficiency=0.8)
    bf16 = inf.replica_throughput(**kw, compute_efficiency=0.8, kv_bytes_per_value=2.0, attention_peak_tflops=989)
    low = inf.replica_throughput(**kw, compute_efficiency=0.2)
    gemm = lambda e: 1000 * 2 * 70e9 / (1979e12 * e)
    attn = 2 * 80 * 8192 * 1000 ** 2
    per_score = 4 * 128                                   # head_dim 8192 / 64
    rate = lambda peak: per_score / math.hypot(per_score / peak, 1 / exp)
    assert float(fp8.prefill_s_per_request) == pytest.approx(gemm(0.8) + attn / (0.3 * rate(1979e12)))
    assert float(bf16.prefill_s_per_request) == pytest.approx(gemm(0.8) + attn / (0.3 * rate(989e12)))
    assert float(low.prefill_s_per_request) == pytest.approx(gemm(0.2) + attn / (0.2 * rate(1979e12)))   # capped by the compute efficiency
    # without an exponential rate attention runs on the tensor peak alone (FlashAttention-3's share by default)
    plain = inf.replica_throughput(**{**kw, "exp_per_s": None, "attention_efficiency": roofline.ATTENTION_EFFICIENCY_FA3},
                                   compute_efficiency=0.8)
    assert float(plain.prefill_s_per_request) == pytest.approx(gemm(0.8) + attn / (0.68 * 1979e12))


def test_prompt_spread_sets_the_quadratic_attention_by_hand():
    """E[n^2] = mean^2 (1 + cv^2), at most mean x cap: cv 1 doubles the prefill's attention term; a cap at 1.5 x the mean
    bounds it at 1.5; the linear (GEMM) part is unchanged."""
    kw = dict(**LLAMA2, input_tokens=8000, output_tokens=500, **H200, gpus_per_replica=8, compute_efficiency=0.8)
    base = float(inf.replica_throughput(**kw).prefill_s_per_request)
    spread = float(inf.replica_throughput(**kw, input_tokens_cv=1.0).prefill_s_per_request)
    capped = float(inf.replica_throughput(**kw, input_tokens_cv=1.0, max_input_tokens=12000).prefill_s_per_request)
    attn = 2 * 80 * 8192 * 8000 ** 2 / (8 * 0.68 * 1979e12)    # FlashAttention-3's share of the peak (no exponential rate)
    assert spread - base == pytest.approx(attn)
    assert capped - base == pytest.approx(0.5 * attn)


@pytest.mark.parametrize("scenario", ["offline", "server", "interactive"])
def test_longer_or_more_spread_prompts_never_raise_throughput(scenario):
    """At a fixed output length and fixed latency targets, a longer mean prompt or a wider spread of prompt lengths never
    raises tokens/s per GPU (more prefill work, more KV per request)."""
    slo = inf.slo_preset(scenario, "llama2-70b")
    kw = dict(**LLAMA2, output_tokens=300, **H200, gpus_per_replica=2, latency_tail_factor=2.0, **slo)
    prompts = np.array([100, 300, 1000, 3000, 10000, 30000], float)
    t = inf.replica_throughput(**kw, input_tokens=prompts).tokens_per_s_per_gpu
    assert np.all(np.diff(t) <= 1e-9 * t[:-1]), t
    cvs = np.array([0.0, 0.5, 1.0, 2.0])
    t = inf.replica_throughput(**kw, input_tokens=3000, input_tokens_cv=cvs).tokens_per_s_per_gpu
    assert np.all(np.diff(t) <= 1e-9 * t[:-1]), t


def test_attention_data_parallel_prefill_stall_by_hand():
    """A MoE replica of g GPUs (attention data parallel) under latency targets: a prompt's rank-local share
    phi = 4 L h^2 / active runs on one GPU while the group waits, so each prefill occupies the cycle phi g + 1 - phi times its
    balanced time; offline (no targets) and disaggregated prefill are balanced. A loose TPOT target alone (no TTFT target,
    so no admission headroom below the cap) keeps the batch at its limit."""
    g = 8
    kw = dict(**MOE, input_tokens=2000, output_tokens=400, hbm_gb=141, hbm_tb_s=4.8, peak_tflops=1979, gpus_per_replica=g,
              experts_per_token=8, mla_kv_dim=576, max_batch=256)
    offline = inf.replica_throughput(**kw)
    server = inf.replica_throughput(**kw, max_tpot_ms=1e6)
    assert float(server.batch) == float(offline.batch) == 256
    phi = 4 * 96 * 12288 ** 2 / 1e11
    stall = lambda t: (float(t.tpot_ms) / 1e3 * 400 - 400 * float(t.decode_step_s)) / (256 * float(t.prefill_s_per_request))
    assert stall(offline) == pytest.approx(1.0)
    assert stall(server) == pytest.approx(phi * g + 1 - phi)
    assert float(server.tokens_per_s_per_gpu) < float(offline.tokens_per_s_per_gpu)
    dense = inf.replica_throughput(**{**kw, "active_params": 1e12, "experts_per_token": 0}, max_tpot_ms=1e6)
    assert stall(dense) == pytest.approx(1.0)                # tensor parallel prefill uses every GPU


def test_two_micro_batch_overlap_reads_the_weights_twice_by_hand():
    """comm_overlap > 0 means two micro-batches (DeepSeek-V3 Sec. 3.4; vLLM dual-batch overlap): each runs every layer, so a
    decode step streams the weights twice, each read touching the experts of half the batch; without overlap, once."""
    kw = dict(**MOE, input_tokens=500, output_tokens=100, hbm_gb=141, hbm_tb_s=4.8, peak_tflops=1979, gpus_per_replica=16,
              experts_per_token=8, mla_kv_dim=576, max_batch=64, bandwidth_efficiency=0.8)
    one, two = inf.replica_throughput(**kw, comm_overlap=0.0), inf.replica_throughput(**kw, comm_overlap=0.5)
    assert float(one.batch) == float(two.batch) == 64
    bw = 16 * 4.8e12 * 0.8
    touched = lambda tokens: 1 - (1 - 0.1) ** tokens
    kv_reads = float(one.decode_memory_s) - 1e12 * touched(64) / bw          # the same batch reads the same KV cache
    assert kv_reads > 0
    assert float(two.decode_memory_s) - kv_reads == pytest.approx(2 * 1e12 * touched(32) / bw)
    assert float(two.step_comm_s) < float(one.step_comm_s)           # half of the all-to-all hidden
    dense = dict(**LLAMA2, input_tokens=500, output_tokens=100, **H200, gpus_per_replica=8, max_batch=64)
    assert float(inf.replica_throughput(**dense, comm_overlap=0.5).decode_memory_s) == \
        pytest.approx(float(inf.replica_throughput(**dense, comm_overlap=0.0).decode_memory_s))


def test_aggregated_replica_prefills_on_itself_whatever_the_prefill_pool():
    """A prefill pool size only means something when disaggregated: aggregated chunked prefill runs on the replica's own
    GPUs (the fleet's replica search passes a pool size in every mode)."""
    kw = dict(**MOE, input_tokens=2000, output_tokens=500, hbm_gb=80, hbm_tb_s=3.35, peak_tflops=1979, gpus_per_replica=64,
              experts_per_token=8, mla_kv_dim=576, max_tpot_ms=100, max_ttft_ms=2000)
    alone = inf.replica_throughput(**kw)
    for pool in (16, 64, 128):
        with_pool = inf.replica_throughput(**kw, prefill_gpus_per_replica=pool, disaggregated=False)
        assert float(with_pool.tokens_per_s_per_gpu) == float(alone.tokens_per_s_per_gpu)
        assert float(with_pool.prefill_s_per_request) == float(alone.prefill_s_per_request)


def test_disaggregated_prefill_communicates_at_its_own_degree_by_hand():
    """Decode on 8 H200 (TP8), prefill on 4 (TP4, its own layout): a prompt's all-reduces run over the 4 prefill GPUs,
    2 per layer x 2 (4 - 1) / 4 x hidden x 2 bytes per token at 450 GB/s (half the 900 GB/s bidirectional NVLink)."""
    kw = dict(**LLAMA2, input_tokens=1000, output_tokens=200, **H200, compute_efficiency=0.5, max_tpot_ms=100,
              max_ttft_ms=2000)
    t = inf.replica_throughput(**kw, gpus_per_replica=8, prefill_gpus_per_replica=4, disaggregated=True)
    peak = 1979e12 * 0.5
    attn_peak = 1979e12 * 0.5                             # min(compute efficiency 0.5, attention efficiency 0.68)
    comm_per_token = 2 * 80 * 2 * (3 / 4) * 8192 * 2.0 / 450e9
    prefill = 1000 * 2 * 70e9 / (4 * peak) + 2 * 80 * 8192 * 1000 ** 2 / (4 * attn_peak) + 1000 * comm_per_token
    assert float(t.prefill_s_per_request) == pytest.approx(prefill, rel=1e-12)
    # the same prefill pool inside an aggregated 4-GPU TP4 replica costs the same per prompt
    same = inf.replica_throughput(**kw, gpus_per_replica=4)
    assert float(same.prefill_s_per_request) == pytest.approx(prefill, rel=1e-12)


def test_cli_states_the_parallel_layout_fusion_budget_and_fixed_pools():
    text = run_cli("inference", "data/serve/llama3.1-405b-h200.yaml").stdout
    assert "tensor parallel 4 x 2 pipeline stages, all-reduce fused into the GEMMs, token budget 1,536 per iteration" in text
    d = json.loads(run_cli("inference", "data/serve/llama3.1-405b-gb200-disagg.yaml", "--json").stdout)
    assert d["decode_replicas"] == 2 and d["max_num_tokens"] == 1024 and d["gemm_allreduce"] is False
    assert d["tensor_parallel"] is None and d["null_reasons"]["tensor_parallel"].startswith("default")
    assert d["gpus_per_replica"] == 8 and d["prefill_router_replicas"] == 14 and d["prefill_router"] == "round_robin"
    assert "4-GPU prefill replicas, 14 behind one round-robin router" in run_cli("inference", "data/serve/llama3.1-405b-gb200-disagg.yaml").stdout


def test_disaggregated_kv_cache_crosses_nvlink_inside_one_domain_by_hand():
    """A 4-GPU prefill replica hands each prompt's KV cache to an 8-GPU decode replica: inside one NVLink domain (an
    NVL72 rack) at NVLink's per-direction bandwidth (450 GB/s per GPU of 900 bidirectional), across domains at the
    scale-out bandwidth (50 GB/s per GPU); the TTFT differs by ``KV bytes x prompt / 4 x (1/50 - 1/450) GB/s`` and
    nothing else does."""
    kw = dict(**SMALL, gpus_per_replica=8, disaggregated=True, prefill_gpus_per_replica=4, nvlink_gb_s_per_gpu=900,
              scale_out_gb_s_per_gpu=50)
    rack, nodes = (inf.replica_throughput(**kw, nvlink_domain_gpus=d) for d in (72, 8))
    kv_bytes = float(roofline.kv_bytes_per_token(10, 1000, 10, 10, 1.0)) * 100
    assert float(nodes.ttft_ms) - float(rack.ttft_ms) == pytest.approx(kv_bytes / 4 * (1 / 50e9 - 1 / 450e9) * 1e3, rel=1e-9)
    assert float(nodes.tokens_per_s_per_gpu) == float(rack.tokens_per_s_per_gpu)
