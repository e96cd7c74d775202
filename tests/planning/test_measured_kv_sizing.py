"""vLLM 0.34 sizes the KV cache from the memory measured after CUDA-graph capture
(`--enable-extensible-kv-cache`, on by default on CUDA): the plan follows that rule on 0.34 and
the estimate rule before it, and what vLLM would refuse at start is refused at preview."""

import pytest

from facts import vllm_features
from facts.vllm_features import parse as V
from planning import config, memory
from planning.plan import make_plan
from tests.planning.conftest import SMALL_7B

GIB = 1.0   # the arithmetic is in GiB; vLLM's own cases are in GiB multiples

BASE = {"vllmVersion": "0.34.0", **SMALL_7B}


def plan(**changes):
    values = {**BASE}
    for key, value in changes.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return make_plan(config.parse(values))


def refusal(**changes) -> str:
    with pytest.raises(config.ConfigError) as error:
        plan(**changes)
    return str(error.value)


# vLLM's own cases for the measured size (tests/v1/worker/test_extensible_kv_cache.py
# test_measure_kv_cache_bytes): 10 GiB free at start, 3 GiB resident now, 1 GiB committed.
@pytest.mark.parametrize("requested, peak, floor, fraction, expected", [
    (9, 0, 0, 0.0, 6),       # budget-bound: 9 − 3
    (20, 0, 0, 0.0, 7),      # headroom-bound: 10 − 3
    (20, 1, 0, 0.0, 6),      # the transient peak is kept free in full, on either bound
    (9, 1, 0, 0.0, 5),
    (20, 1, 1, 0.0, 5),      # the margin comes off the headroom …
    (20, 2, 0, 0.5, 4),      # … as a share of the peak when that is larger
    (9, 0, 1, 0.0, 6),       # … never off a budget that already leaves it free
    (3.5, 0, 1, 0.0, 0.5),   # a small budget survives a floor larger than itself
    (2, 0, 0, 0.0, 0),       # never negative
])
def test_the_measured_kv_size_follows_vllms_own_cases(requested, peak, floor, fraction,
                                                      expected):
    assert memory.measured_kv_gib(requested, 10, 3, peak, floor, fraction) == pytest.approx(
        expected)


def test_vllms_margin_is_one_gib_or_three_quarters_of_the_transient_peak():
    # 0.34's KV_CACHE_MARGIN_FLOOR_BYTES (CUDA) and KV_CACHE_MARGIN_FRACTION.
    assert memory.measured_kv_gib(100, 50, 10, 0) == pytest.approx(50 - 10 - 1)
    assert memory.measured_kv_gib(100, 50, 10, 4) == pytest.approx(50 - 10 - 3 - 4)


def test_vllm_0_34_measures_by_default_and_earlier_releases_estimate():
    assert not vllm_features.sizes_kv_from_measured_memory(V("0.33.0"), [])
    assert vllm_features.sizes_kv_from_measured_memory(V("0.34.0"), [])
    assert vllm_features.sizes_kv_from_measured_memory(V("0.35.1"), [])


@pytest.mark.parametrize("args", [
    ["--kv-cache-memory-bytes", "40000000000"],
    ["--kv_cache_memory_bytes=40000000000"],
    ["--num-gpu-blocks-override", "1000"],
    ["--enable-elastic-ep"],
    ["--no-enable-extensible-kv-cache"],
    ["--enable-extensible-kv-cache", "--no-enable-extensible-kv-cache"],   # the last wins
    ["--kv-transfer-config", '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'],
])
def test_flags_that_turn_the_measured_size_off_return_to_the_estimate(args):
    assert not vllm_features.sizes_kv_from_measured_memory(V("0.34.0"), args)


def test_asking_for_the_measured_size_keeps_it_beside_a_kv_connector():
    args = ["--kv-transfer-config", "{}", "--enable-extensible-kv-cache"]
    assert vllm_features.sizes_kv_from_measured_memory(V("0.34.0"), args)


def test_without_a_utilization_0_34_uses_all_memory_and_earlier_releases_their_default():
    assert vllm_features.default_gpu_memory_utilization(V("0.34.0"), measured_kv=True) == 1.0
    assert vllm_features.default_gpu_memory_utilization(V("0.34.0")) == 0.92
    assert vllm_features.default_gpu_memory_utilization(V("0.33.0")) == 0.92


def test_the_cuda_graph_estimate_counts_from_0_20_as_the_wheels_default_it():
    # envs.py: VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS "0" in 0.19.0, "1" in 0.20.0.
    assert memory.cuda_graph_gib(V("0.19.0")) == 0
    assert memory.cuda_graph_gib(V("0.20.0")) == memory.CUDA_GRAPH_GIB
    assert memory.cuda_graph_gib(V("0.34.0"), enforce_eager=True) == 0


def test_the_plan_on_0_34_sizes_the_cache_from_memory_free_after_capture():
    # 7B bf16 on one H100 (79.19 GiB): weights 14.19, activation peak 2.03 (8192 tokens),
    # non-torch 0.25 + graphs 1.0. Measured: resident 15.44, transient 3.03, margin 2.27;
    # min(79.19 − 15.44, 78.69 − 15.44 − 2.27) − 3.03 = 57.95 GiB at utilization 1.0.
    new = plan()
    weights, act = new.weights.per_gpu_gib, new.activations
    assert new.engine.gpu_memory_utilization == 1.0 and new.engine.measured_kv
    expected = memory.measured_kv_gib(79.19, 79.19 - memory.CUDA_CONTEXT_GIB,
                                      weights + act.non_torch_gib, act.peak_gib + 1.0)
    assert new.kv.budget_gib == pytest.approx(expected)
    assert new.kv.budget_gib == pytest.approx(57.95, abs=0.05)
    assert "measured after CUDA-graph capture" in new.kv.reason
    # 0.33 at its default 0.92: 72.85 − 14.19 − 2.03 − 1.25 = 55.38 GiB.
    old = plan(vllmVersion="0.33.0")
    assert old.engine.gpu_memory_utilization == 0.92 and not old.engine.measured_kv
    assert old.kv.budget_gib == pytest.approx(79.19 * 0.92 - weights - act.peak_gib
                                              - act.non_torch_gib)
    assert new.kv.tokens_per_rank > old.kv.tokens_per_rank


def test_turning_the_measured_size_off_on_0_34_returns_to_the_estimate_rule():
    off = plan(engine={"extraArgs": ["--no-enable-extensible-kv-cache"]})
    assert off.engine.gpu_memory_utilization == 0.92 and not off.engine.measured_kv
    assert off.kv.budget_gib == pytest.approx(plan(vllmVersion="0.33.0").kv.budget_gib)


def test_a_set_utilization_caps_the_measured_size():
    capped = plan(engine={"gpuMemoryUtilization": 0.5})
    act = capped.activations
    # min(39.6 − 15.44, 60.98) − 3.03 = 21.12 GiB: the request binds.
    assert capped.kv.budget_gib == pytest.approx(
        79.19 * 0.5 - capped.weights.per_gpu_gib - act.non_torch_gib - act.peak_gib - 1.0)


def test_asking_for_the_measured_size_where_vllm_refuses_it_fails_at_preview():
    message = refusal(engine={"extraArgs": ["--enable-extensible-kv-cache",
                                            "--kv-cache-memory-bytes", "1000000000"]})
    assert "engine.extraArgs" in message and "--kv-cache-memory-bytes" in message
    message = refusal(vllmVersion="0.33.0",
                      engine={"extraArgs": ["--enable-extensible-kv-cache"]})
    assert "engine.extraArgs" in message and "0.34.0" in message


@pytest.mark.parametrize("flag, value, removed_in", [
    ("--swap-space", "8", "0.18.0"),
])
def test_a_flag_vllm_removed_is_refused_from_the_release_that_removed_it(flag, value,
                                                                          removed_in):
    before = str(V(removed_in).major) + "." + str(V(removed_in).minor - 1) + ".0"
    assert plan(vllmVersion=before, engine={"extraArgs": [flag, value]})
    message = refusal(vllmVersion=removed_in, engine={"extraArgs": [flag, value]})
    assert f"engine.extraArgs: {flag} was removed in vLLM {removed_in}" in message
    assert "engine.extraArgs" in refusal(engine={"extraArgs": [f"{flag.replace('-', '_')}"
                                                               f"={value}".replace("__", "--")]})


def test_removed_flags_carry_the_release_read_from_the_wheels():
    assert vllm_features.removed_flag("--disable-log-requests", V("0.16.0")) is None
    assert "0.17.0" in vllm_features.removed_flag("--disable-log-requests", V("0.17.0"))
    assert vllm_features.removed_flag("--swap-space", V("0.17.0")) is None
    assert "0.18.0" in vllm_features.removed_flag("--swap-space", V("0.34.0"))
    assert vllm_features.removed_flag("--max-num-seqs", V("0.34.0")) is None

