"""vLLM 0.8.0–0.9.0.x (V1) subtract from the KV budget everything the GPU holds after the
profile run (vllm/v1/worker/gpu_worker.py determine_available_memory: torch's peak plus
`mem_get_info` used − torch's current bytes, no baseline); from 0.9.1 only the weights, the
profile's peak increase and the non-torch memory grown since the worker's init snapshot. The
difference is what the GPU held before the weights loaded: the CUDA context
(memory.CUDA_CONTEXT_GIB) and the model runner's persistent input buffers. NCCL and custom
all-reduce memory, created after both releases' reference point, stay the communication
term, counted once."""

import pytest

from facts.vllm_features import parse as V
from planning import config, memory
from planning.plan import make_plan
from tests.planning.conftest import SMALL_7B

GIB = 2**30

R1_TP16 = {
    "model": {"preset": "deepseek-r1", "revision": "main", "servedName": "r1",
              "maxModelLen": 32768},
    "gpu": {"type": "h100-80gb", "tensorParallel": 16, "expertParallel": True},
    "engine": {"maxNumSeqs": 256, "maxNumBatchedTokens": 32768},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 4000},
    "network": {"gatewayNamespaces": ["gateway"]},
    "multiNode": {"launcher": "ray", "rdma": {"resourceName": "rdma/ib", "count": 1}},
}
"""DeepSeek-R1 over 2 × 8 GPUs, TP 16 with expert parallelism on Ray at 32,768 batched
tokens: the layout of vllm#16692 (0.8.4), on the catalogue's H100."""


def plan(base, version):
    return make_plan(config.parse({"vllmVersion": version, **base}))


def test_the_runner_keeps_token_ids_positions_and_embeddings_for_a_full_batch():
    # input_ids int32 + positions int64 + inputs_embeds (T, H) bf16, T = batched tokens.
    assert memory.runner_input_buffers_gib(32768, 7168) == pytest.approx(
        32768 * (7168 * 2 + 4 + 8) / GIB)
    assert memory.runner_input_buffers_gib(2048, 3584) == pytest.approx(
        2048 * 7180 / GIB)


@pytest.mark.parametrize("version, counted", [
    ("0.8.0", True), ("0.8.4", True), ("0.9.0.1", True), ("0.9.1", False), ("0.34.0", False)])
def test_memory_held_before_the_weights_counts_on_0_8_and_0_9_0_only(version, counted):
    held = memory.CUDA_CONTEXT_GIB + memory.runner_input_buffers_gib(32768, 7168)
    assert memory.pre_load_memory_gib(V(version), 32768, 7168) == pytest.approx(
        held if counted else 0.0)


def test_a_0_8_4_stack_budgets_the_held_memory_less_kv_than_0_9_1_and_says_why():
    old, new = plan(SMALL_7B, "0.8.4"), plan(SMALL_7B, "0.9.1")
    buffers = memory.runner_input_buffers_gib(8192, 3584)    # H100 default: 8,192 tokens
    assert old.activations.non_torch_gib == pytest.approx(0.25 + 0.5 + buffers)
    assert new.activations.non_torch_gib == pytest.approx(0.25)
    assert old.kv.budget_gib == pytest.approx(new.kv.budget_gib - 0.5 - buffers)
    assert (f"held before the weights {0.5 + buffers:.2f} GiB: CUDA context 0.50 + the "
            f"runner's input buffers {buffers:.2f} (V1 before 0.9.1 has no init snapshot)"
            in old.activations.reason)
    assert "before the weights" not in new.activations.reason


def test_a_0_8_4_stack_holds_the_tokens_its_smaller_budget_holds():
    old, new = plan(SMALL_7B, "0.8.4"), plan(SMALL_7B, "0.9.1")
    held = memory.CUDA_CONTEXT_GIB + memory.runner_input_buffers_gib(8192, 3584)
    # Qwen-7B, 28 layers × 4 KV heads × 128 × 2 (K, V) × 2 bytes = 57,344 B per token.
    assert old.kv.bytes_per_token == 57344
    assert new.kv.tokens_per_rank - old.kv.tokens_per_rank == pytest.approx(
        held * GIB / 57344, abs=old.kv.block_size)


def test_tp_16_across_nodes_on_0_8_4_adds_the_held_memory_to_nccl_not_a_second_nccl():
    old, new = plan(R1_TP16, "0.8.4"), plan(R1_TP16, "0.9.1")
    assert old.layout.tensor_parallel == 16 and old.layout.nodes == 2
    held = 0.5 + memory.runner_input_buffers_gib(32768, 7168)
    assert old.activations.non_torch_gib == pytest.approx(
        0.25 + 1.8 - memory.CUSTOM_ALL_REDUCE_GIB + held)
    assert old.activations.non_torch_gib - new.activations.non_torch_gib == pytest.approx(held)
