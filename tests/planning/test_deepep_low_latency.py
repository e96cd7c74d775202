"""DeepEP's low-latency all-to-all keeps an RDMA buffer on every GPU beside its NVLink one:
vLLM's DeepEPLLAll2AllManager._make_all2all_kwargs (vllm/distributed/device_communicators/
all2all.py, 0.20–0.34) asks DeepEP's get_low_latency_rdma_size_hint for it with the MoE
layer's max_num_tokens, hidden size and global expert count (fused_moe/all2all_utils.py), and
DeepEP's Buffer allocates it with nvshmem::alloc on the device (csrc/legacy/buffer.hpp). The
token count is VLLM_MOE_DP_CHUNK_SIZE (256) before vLLM 0.20 and the scheduler's
max_num_batched_tokens from 0.20, whose default is then 256 for this backend
(SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS_FOR_BATCHED_DP, ParallelConfig.use_batched_dp_moe)."""

import pytest

from facts.vllm_features import parse as V
from planning import memory
from planning.config import ConfigError
from planning.layout import Layout
from planning.plan import make_plan
from tests.planning.conftest import configured

GIB = 2**30


@pytest.mark.parametrize("tokens, gib", [
    (2048, 35.55), (1840, 31.94), (1536, 26.66),
])
def test_the_rdma_hint_matches_the_sizes_vllm_users_measured(tokens, gib):
    # vllm-project/vllm#57894's table: hidden 5120, 448 experts (384 routed + 64 redundant).
    size = memory.deepep_low_latency_rdma_bytes(tokens, 5120, 448)
    assert round(size / GIB, 2) == gib


def test_the_rdma_hint_is_deepeps_layout_to_the_byte():
    # DeepEP's own test case (tests/legacy/test_low_latency.py defaults: 128 tokens, hidden
    # 7168, 288 experts). Per message: dispatch 16 + max(7168 × 2, 7168 + 56 × 4) = 14,352 B,
    # combine 56 × 4 + 7168 × 2 = 14,560 B; send and receive both 288 × 128 × 14,560 B,
    # twice each; signaling 288 × 4 = 1,152 B, twice; then + 128 rounded down to 128.
    body = 2 * 288 * 128 * 14560 * 2 + 2 * 1152
    assert memory.deepep_low_latency_rdma_bytes(128, 7168, 288) == (body + 128) // 128 * 128
    assert memory.deepep_low_latency_rdma_bytes(128, 7168, 288) == 2_146_961_792


@pytest.mark.parametrize("version, batched, tokens", [
    ("0.19.0", 8192, 256),      # FusedMoEConfig.max_num_tokens = VLLM_MOE_DP_CHUNK_SIZE
    ("0.20.0", 8192, 8192),     # = scheduler_config.max_num_batched_tokens
    ("0.34.0", 256, 256),
])
def test_the_buffer_is_sized_for_the_tokens_the_moe_layer_declares(version, batched, tokens):
    assert memory.deepep_low_latency_dispatch_tokens(batched, V(version)) == tokens


BASE = {
    "vllmVersion": "0.20.0",
    "model": {"preset": "deepseek-r1", "revision": "main", "servedName": "r1",
              "maxModelLen": 32768},
    "gpu": {"type": "h100-80gb", "layout": "data-expert"},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"}},
    "network": {"gatewayNamespaces": ["gateway"]},
    "multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8}},
}
LOW_LATENCY = ["--all2all-backend", "deepep_low_latency"]


def test_low_latency_counts_its_rdma_buffer_on_each_gpu_and_names_the_hint():
    plain = make_plan(configured(BASE, engine={"maxNumBatchedTokens": 256, "maxNumSeqs": 256}))
    ll = make_plan(configured(BASE, engine={"maxNumBatchedTokens": 256, "maxNumSeqs": 256,
                                            "extraArgs": LOW_LATENCY}))
    rdma = memory.deepep_low_latency_rdma_bytes(256, 7168, 256) / GIB    # 3.55 GiB
    assert ll.layout.data_parallel == 16 and ll.layout.expert_parallel
    assert (ll.activations.non_torch_gib - plain.activations.non_torch_gib
            == pytest.approx(1.0 + rdma))
    reason = ll.activations.reason
    assert ("(no all-reduce at TP 1; deepep_low_latency all-to-all buffers 4.55 GiB (across "
            "nodes: num_nvl_bytes 1.00 GiB + num_rdma_bytes 3.55 GiB = "
            "get_low_latency_rdma_size_hint(256 tokens, hidden 7168, 256 experts)))") in reason


def _engine(version, extra, layout, tokens=None):
    cfg = configured(BASE, vllmVersion=version,
                     engine={"extraArgs": extra, "maxNumBatchedTokens": tokens})
    return memory.engine_limits(cfg, cfg.gpu.resolved(), V(version), layout)


DP16_EP = Layout(1, 1, 16, True, nodes=2)


@pytest.mark.parametrize("version, extra, layout, tokens", [
    ("0.20.0", LOW_LATENCY, DP16_EP, 256),                      # use_batched_dp_moe: 256
    ("0.34.0", ["--all2all-backend=nixl_ep"], DP16_EP, 256),    # the other batched backend
    ("0.19.0", LOW_LATENCY, DP16_EP, 8192),                     # no batched default yet
    ("0.20.0", [], DP16_EP, 8192),                              # allgather_reducescatter
    ("0.20.0", LOW_LATENCY, Layout(8, 1, 2, False), 8192),      # no expert parallelism
    ("0.20.0", LOW_LATENCY, Layout(1, 1, 1, True), 8192),       # no data parallelism
    ("0.20.0", LOW_LATENCY, Layout(1, 1, 2, True), 256),        # two DP ranks already
])
def test_batched_all_to_all_backends_default_to_vllms_small_batch(version, extra, layout,
                                                                  tokens):
    engine = _engine(version, extra, layout)
    assert engine.max_num_batched_tokens == tokens
    assert engine.reason.startswith(f"utilization {engine.gpu_memory_utilization}, ")
    assert ("DEFAULT_MAX_NUM_BATCHED_TOKENS_FOR_BATCHED_DP" in engine.reason) is (tokens == 256)


def test_a_configured_batch_is_kept_with_a_batched_backend():
    assert _engine("0.20.0", LOW_LATENCY, DP16_EP, 512).max_num_batched_tokens == 512


def test_the_plan_renders_the_batched_default_with_low_latency():
    plan = make_plan(configured(BASE, engine={"extraArgs": LOW_LATENCY, "maxNumSeqs": 256}))
    assert plan.layout.expert_parallel and plan.layout.data_parallel > 1
    assert plan.engine.max_num_batched_tokens == 256


def test_batched_experts_keep_a_workspace_for_every_local_expert_and_dispatcher():
    # BatchedDeepGemmExperts / BatchedTritonExperts.workspace_shapes (0.33.0):
    # (E_local, T × dispatchers, max(K, N)) + (E_local, T × dispatchers, N / 2) at 2 B, with
    # dispatchers the EP group and E_local = E / group: E × T × (max(K, N) + N / 2) × 2 B.
    # DeepSeek-R1: 256 experts, 256 tokens, K 7168, N 2 × 2048.
    gib = memory.batched_moe_workspace_gib(256, 256, 2048, 7168)
    assert gib == pytest.approx(256 * 256 * (7168 + 2048) * 2 / GIB)     # 1.125 GiB


def test_low_latency_plans_the_batched_workspace_not_the_gathered_batch():
    plan = make_plan(configured(BASE, engine={"extraArgs": LOW_LATENCY, "maxNumSeqs": 256}))
    assert plan.activations.moe_workspace_gib == pytest.approx(
        256 * 256 * (7168 + 2048) * 2 / GIB
        + memory.deepep_low_latency_receive_bytes(256, 256, 7168, True) / GIB)
    assert "batched experts" in plan.activations.reason


DEEPEP_LIMIT = 16 * (2**31 - 1)
"""DeepEP's Buffer refuses num_rdma_bytes / sizeof(int4) ≥ INT_MAX (csrc/legacy/buffer.hpp)."""


@pytest.mark.parametrize("tokens, gib", [(4096, "56.88"), (4097, "56.89")])
def test_a_low_latency_buffer_deepep_would_refuse_is_refused_naming_the_batch_key(tokens, gib):
    assert memory.deepep_low_latency_rdma_bytes(2304, 7168, 256) < DEEPEP_LIMIT
    assert memory.deepep_low_latency_rdma_bytes(2305, 7168, 256) >= DEEPEP_LIMIT
    with pytest.raises(ConfigError) as refused:
        make_plan(configured(BASE, engine={"maxNumBatchedTokens": tokens,
                                           "extraArgs": LOW_LATENCY},
                             gpu={"type": "h100-80gb", "tensorParallel": 1,
                                  "dataParallel": 16, "expertParallel": True}))
    message = str(refused.value)
    assert f"engine.maxNumBatchedTokens: {tokens}" in message
    # 2304 tokens would fit the 32 GiB buffer, but DeepEP's default NVSHMEM queue depth (1024)
    # caps a low-latency dispatch at 511 tokens: the advice is the batch that passes both.
    buffer_refusal = message[message.index("sizes DeepEP's"):]
    buffer_refusal = buffer_refusal[:buffer_refusal.index("--all2all-backend")]
    assert f"{gib} GiB" in buffer_refusal and "at most 511," in buffer_refusal
    assert "get_low_latency_rdma_size_hint" in message


def test_a_low_latency_buffer_under_deepeps_limit_is_not_refused():
    plan = make_plan(configured(BASE, engine={"maxNumBatchedTokens": 511, "maxNumSeqs": 256,
                                              "extraArgs": LOW_LATENCY}))
    assert plan.engine.max_num_batched_tokens == 511


@pytest.mark.parametrize("tokens, hidden, experts, size", [
    # hidden 256: dispatch 16 + max(512, 256 + 2 × 4) = 528 B, combine 2 × 4 + 512 = 520 B.
    (4, 256, 1, 8832),        # one expert: the dispatch side is the larger send and receive
    (4, 256, 8, 67456),       # receive 8 × 4 × 528; send 8 × 4 × 520; signaling 32 → 128
    (3, 256, 1, 6656),        # 6,592 B + 128, rounded down to 128
    (64, 256, 1, 135552),     # 2 × (2 × 64 × 528 + 128) + 128: one more dispatch byte shows
    (64, 2880, 1, 1497472),   # gpt-oss: 22 scales (2880 // 128), combine 88 + 5760 B
])
def test_the_rdma_hint_follows_each_term_of_deepeps_layout(tokens, hidden, experts, size):
    assert memory.deepep_low_latency_rdma_bytes(tokens, hidden, experts) == size


def test_the_batched_default_below_the_h100s_max_num_seqs_is_refused_as_vllm_refuses_it():
    # On an 80 GB H100 vLLM's default max_num_seqs is 1024 (get_batch_defaults) and the batched
    # default 256 tokens; SchedulerConfig then raises "max_num_batched_tokens (256) must be
    # greater than or equal to max_num_seqs (1024)", and the program renders both flags.
    with pytest.raises(ConfigError) as refused:
        make_plan(configured(BASE, engine={"extraArgs": LOW_LATENCY}))
    assert "engine.maxNumBatchedTokens: 256 is below engine.maxNumSeqs 1024" in str(refused.value)
    plan = make_plan(configured(BASE, engine={"extraArgs": LOW_LATENCY, "maxNumSeqs": 256}))
    assert (plan.engine.max_num_batched_tokens, plan.engine.max_num_seqs) == (256, 256)


@pytest.mark.parametrize("tokens, refused", [(511, False), (512, True)])
def test_a_low_latency_batch_past_nvshmems_default_qp_depth_is_refused(tokens, refused):
    # DeepEP's Buffer.low_latency_dispatch asserts nvshmem_qp_depth >= (num_max_dispatch_
    # tokens_per_rank + 1) × 2, the depth being NVSHMEM_QP_DEPTH or 1024 (deep_ep/buffers/
    # legacy.py); the stack sets no NVSHMEM environment, and from 0.20 vLLM dispatches
    # max_num_batched_tokens per rank: 511 is the most a 1024-deep QP holds.
    cfg = configured(BASE, engine={"maxNumBatchedTokens": tokens, "maxNumSeqs": 256,
                                   "extraArgs": LOW_LATENCY})
    if not refused:
        assert make_plan(cfg).engine.max_num_batched_tokens == tokens
        return
    with pytest.raises(ConfigError) as refused_error:
        make_plan(cfg)
    message = str(refused_error.value)
    assert ("engine.maxNumBatchedTokens: 512 has DeepEP's low-latency dispatch send 512 tokens "
            "per rank") in message
    assert "(512 + 1) × 2 = 1026" in message and "at most 511" in message


def test_before_0_20_low_latency_dispatches_vllms_256_token_chunks_whatever_the_batch():
    # VLLM_MOE_DP_CHUNK_SIZE (256) is the dispatch size before 0.20: no QP depth refusal.
    cfg = configured(BASE, vllmVersion="0.19.0",
                     engine={"maxNumBatchedTokens": 4096, "extraArgs": LOW_LATENCY})
    assert make_plan(cfg).engine.max_num_batched_tokens == 4096


def test_low_latency_dispatch_receives_every_local_experts_tokens_in_fp8_with_scales():
    # DeepEP Buffer::low_latency_dispatch (csrc/deep_ep.cpp): packed_recv_x (E_local,
    # ranks × T, hidden) in fp8 (1 B) or bf16 (2 B), fp32 scales hidden / 128 per row in fp8,
    # packed_recv_src_info (E_local, ranks × T) int32, packed_recv_layout_range
    # (E_local, ranks) int64; E_local × ranks = E on each GPU. DeepSeek-R1 at 256 tokens:
    fp8 = 256 * 256 * (7168 + 56 * 4 + 4) + 256 * 8
    assert memory.deepep_low_latency_receive_bytes(256, 256, 7168, True) == fp8
    assert round(fp8 / GIB, 2) == 0.45
    bf16 = 256 * 256 * (7168 * 2 + 4) + 256 * 8
    assert memory.deepep_low_latency_receive_bytes(256, 256, 7168, False) == bf16
    assert round(memory.deepep_low_latency_receive_bytes(256, 511, 7168, True) / GIB, 2) == 0.9


def test_low_latency_counts_the_received_tokens_beside_the_batched_workspace():
    plan = make_plan(configured(BASE, engine={"extraArgs": LOW_LATENCY, "maxNumSeqs": 256}))
    workspace = memory.batched_moe_workspace_gib(256, 256, 2048, 7168)
    receive = memory.deepep_low_latency_receive_bytes(256, 256, 7168, True) / GIB
    assert plan.activations.moe_workspace_gib == pytest.approx(workspace + receive)
    assert ("+ packed_recv_x 0.45 GiB (256 experts × 256 tokens × (hidden 7168 × 1 B fp8 "
            "+ 56 scales × 4 B + 4 B src_info))") in plan.activations.reason


@pytest.mark.parametrize("weights_dtype, block_quantized, quantization, fp8", [
    ("fp8", True, None, True),       # DeepSeek-R1: fp8 with 128 × 128 blocks
    ("fp8", False, None, False),     # per-tensor fp8: not DEEPEP_QUANT_BLOCK_SHAPE
    ("bf16", False, "fp8", False),   # online fp8 is per-tensor
    ("bf16", False, None, False),
])
def test_low_latency_dispatches_fp8_only_for_128_blocks(weights_dtype, block_quantized,
                                                        quantization, fp8):
    assert memory.deepep_dispatches_fp8(weights_dtype, block_quantized, quantization) is fp8


NIXL_EP = ["--all2all-backend", "nixl_ep"]


def test_nixl_ep_counts_its_deepep_layout_buffer_on_each_gpu():
    base = {**BASE, "vllmVersion": "0.34.0"}
    plain = make_plan(configured(base, engine={"maxNumBatchedTokens": 256, "maxNumSeqs": 256}))
    nixl = make_plan(configured(base, engine={"maxNumBatchedTokens": 256, "maxNumSeqs": 256,
                                              "extraArgs": NIXL_EP}))
    rdma = memory.deepep_low_latency_rdma_bytes(256, 7168, 256, 8) / GIB    # 3.55 GiB
    assert (nixl.activations.non_torch_gib - plain.activations.non_torch_gib
            == pytest.approx(rdma))
    assert ("nixl_ep all-to-all buffers 3.55 GiB (across nodes: num_rdma_bytes 3.55 GiB = "
            "get_rdma_size_hint(256 tokens, hidden 7168, 256 experts))"
            ) in nixl.activations.reason
    assert memory.all2all_buffer_gib("nixl_ep", 16, True, rdma) == pytest.approx(rdma)


def test_nixl_eps_hint_is_deepeps_layout_with_eight_byte_signals():
    # ai-dynamo/nixl examples/device/ep/csrc/config.hpp (c4d818e) EPLayout: the signaling
    # buffers hold a uint64_t per expert, 256 × 8 = 2,048 B twice, where DeepEP's hold 1,024 B.
    deepep = memory.deepep_low_latency_rdma_bytes(256, 7168, 256)
    assert memory.deepep_low_latency_rdma_bytes(256, 7168, 256, 8) == deepep + 2 * 1024
