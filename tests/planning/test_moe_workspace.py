"""The activation peak of a mixture-of-experts model carries the fused-MoE workspace vLLM keeps
for a batch (vllm/model_executor/layers/fused_moe/modular_kernel.py `_allocate_buffers`, the
experts kernels' `workspace_shapes`, vLLM 0.33.0): what the profiling run finds besides the
forward pass or the sampler, worked out by hand from the kernels' shapes."""

import pytest

from planning import config, memory
from planning.plan import make_plan
from tests.planning.conftest import configured

GIB = 2**30


def test_r1_with_expert_parallelism_keeps_seven_gib_of_triton_workspace_at_32k_tokens():
    # M 32,768 × topk 8 rows; N = 2 × 2048 (experts whole under EP), K = 7168:
    # (M, topk, max(2048, 7168)) + (M, topk, max(4096, 7168)), 2 bytes each.
    gib = memory.moe_workspace_gib(32768, 8, 2048, 7168, 1, "triton")
    assert gib == pytest.approx(32768 * 8 * (7168 + 7168) * 2 / GIB) == pytest.approx(7.0)


def test_deep_gemm_keeps_its_first_buffer_in_fp8_bytes():
    gib = memory.moe_workspace_gib(32768, 8, 2048, 7168, 1, "deep_gemm")
    assert gib == pytest.approx(32768 * 8 * (7168 * 1 + 7168 * 2) / GIB) == pytest.approx(5.25)


def test_tensor_parallel_experts_shrink_the_workspace_only_where_their_width_dominates():
    # Mixtral (hidden 4096, experts 14,336 wide, top-2) at TP 2: N = 14,336, N/2 = 7,168, both
    # wider than K; at TP 8: N = 3,584 is narrower than K, so K sets both buffers.
    tp2 = memory.moe_workspace_gib(8192, 2, 14336, 4096, 2, "triton")
    tp8 = memory.moe_workspace_gib(8192, 2, 14336, 4096, 8, "triton")
    assert tp2 == pytest.approx(8192 * 2 * (7168 + 14336) * 2 / GIB)
    assert tp8 == pytest.approx(8192 * 2 * (4096 + 4096) * 2 / GIB)


def test_openai_triton_kernels_size_the_first_buffer_by_the_activation_alone():
    # gpt-oss-20b: hidden 2880, experts 2880 wide, top-4: (M·topk, N/2) + (M·topk, max(N, K)).
    gib = memory.moe_workspace_gib(8192, 4, 2880, 2880, 1, "oai_triton")
    assert gib == pytest.approx(8192 * 4 * (2880 + 5760) * 2 / GIB)
    # Experts narrower than the hidden size: N/2 = 1024 stays 1024 (Triton would take 2880).
    narrow = memory.moe_workspace_gib(8192, 4, 1024, 2880, 1, "oai_triton")
    assert narrow == pytest.approx(8192 * 4 * (1024 + 2880) * 2 / GIB)


@pytest.mark.parametrize("dtype, block, capability, backend", [
    ("fp8", True, 9.0, "deep_gemm"),     # DeepSeek-R1 on Hopper before 0.17 (the default here)
    ("fp8", True, 8.0, "triton"),        # the same weights on Ampere: no DeepGEMM
    ("mxfp4", False, 9.0, "oai_triton"),
    ("bf16", False, 9.0, "triton"),
])
def test_the_experts_kernel_follows_the_weights_and_the_gpu(dtype, block, capability, backend):
    assert memory.moe_backend(dtype, block, capability) == backend


@pytest.mark.parametrize("version, capability, expert_parallel, backend", [
    ("0.16.0", 9.0, False, "deep_gemm"),   # no Hopper preference in 0.16.0's oracle/fp8.py
    ("0.17.0", 9.0, False, "triton"),      # "prefer Triton for TP" from 0.17.0 to 0.33.0
    ("0.33.0", 9.0, False, "triton"),
    ("0.33.0", 9.0, True, "deep_gemm"),    # EP: FlashInfer CUTLASS or DeepGEMM, the larger kept
    ("0.33.0", 10.0, False, "deep_gemm"),  # the rule is for capability 9.0 only
])
def test_block_fp8_experts_on_hopper_run_on_triton_under_tensor_parallelism_from_0_17(
        version, capability, expert_parallel, backend):
    assert memory.moe_backend("fp8", True, capability, memory.vllm_features.parse(version),
                              expert_parallel) == backend


R1_ON_H200 = {
    "vllmVersion": "0.20.0",
    "model": {"preset": "deepseek-r1", "revision": "main", "servedName": "r1",
              "maxModelLen": 32768},
    "gpu": {"type": "h200", "tensorParallel": 8},
    "engine": {"maxNumBatchedTokens": 8192},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 1000},
    "network": {"gatewayNamespaces": ["gateway"]},
}


def test_the_plan_adds_the_workspace_to_a_moe_models_peak_and_says_so():
    plan = make_plan(configured(R1_ON_H200))
    # vLLM 0.20 on Hopper runs block-FP8 experts under TP on Triton (oracle/fp8.py
    # _get_priority_backends): N = 4096 / 8 = 512; 8192 × 8 rows × (7168 + 7168) × 2 B.
    workspace = 8192 * 8 * 7168 * 4 / GIB
    without = memory.activation_peak_gib(7168, 18432, 129280, 8, 8192,
                                         plan.engine.max_num_seqs, memory.vllm_features.parse(
                                             "0.20.0"))
    assert plan.activations.peak_gib == pytest.approx(without + workspace)
    assert "fused-MoE workspace 1.75 GiB, triton kernels at 8192 tokens × 8 experts" in (
        plan.activations.reason)


def test_a_dense_models_peak_has_no_workspace():
    plan = make_plan(configured(R1_ON_H200, model={"preset": "deepseek-r1-distill-qwen-32b"},
                                gpu={"type": "h200", "tensorParallel": 2}))
    assert "fused-MoE" not in plan.activations.reason


def test_moe_facts_without_their_routing_are_refused_naming_the_keys():
    entry = config.ModelFacts.model_validate  # the facts of a stack's model.facts
    facts = {"hf_id": "org/moe", "architecture": "X", "params_b": 30.5,
             "weights_dtype": "bf16", "layers": 48, "hidden_size": 2048,
             "intermediate_size": 768, "vocab_size": 151936, "max_context": 40960,
             "attention": {"kind": "gqa", "heads": 32, "kv_heads": 4, "head_dim": 128},
             "parameters": {"embedding": 311164928, "head": 311164928,
                            "sharded_linear": 905969664, "experts": 28991029248},
             "experts": 128, "experts_per_token": 8}
    with pytest.raises(ValueError) as error:
        entry(facts)
    assert "moeIntermediateSize" in str(error.value)
    assert "expertsPerToken" not in str(error.value)
    assert entry({**facts, "moe_intermediate_size": 768}).moe_intermediate_size == 768


@pytest.mark.parametrize("version, tokens, dp, expected", [
    ("0.11.0", 65536, 1, 32768),     # VLLM_FUSED_MOE_CHUNK_SIZE "32768" (0.8.2–0.11.0 envs.py)
    ("0.12.0", 65536, 1, 16384),     # 16 × 1024 from 0.12.0 to 0.17.0
    ("0.17.0", 8192, 4, 16384),      # DP 4 × 8,192 gathered, then chunked
    ("0.18.0", 65536, 1, 65536),     # no chunking from 0.18.0
    ("0.20.0", 8192, 8, 65536),      # every DP rank's batch gathered before the experts
    ("0.20.0", 2048, 1, 2048),
])
def test_the_experts_see_every_data_parallel_ranks_batch_within_the_chunk_of_the_version(
        version, tokens, dp, expected):
    assert memory.tokens_at_experts(tokens, dp, memory.vllm_features.parse(version)) == expected


def test_a_data_times_expert_parallel_replica_sizes_the_workspace_for_the_gathered_batch():
    plan = make_plan(configured(
        R1_ON_H200, gpu={"type": "h200", "tensorParallel": 1, "dataParallel": 8,
                         "expertParallel": True}))
    # 8 ranks × 8,192 tokens reach the experts, whole (EP): 65,536 × 8 × (7168 + 7168 × 2) B.
    assert "fused-MoE workspace 10.50 GiB, deep_gemm kernels at 65536 tokens × 8 experts" in (
        plan.activations.reason)


def test_a_gathered_batch_that_does_not_fit_is_refused_naming_the_batch_key():
    from planning.config import ConfigError, parse
    from planning.stack_files import stack_values
    values = {**stack_values("r1-h100"),
              "multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8}},
              "gpu": {"type": "h100-80gb", "layout": "data-expert", "nodes": 2}}
    with pytest.raises(ConfigError) as caught:
        make_plan(parse(values))
    message = str(caught.value)
    # 16 ranks × 8,192 tokens × 8 experts × (7168 + 2 × 7168) B = 21.0 GiB per GPU.
    assert "engine.maxNumBatchedTokens: the weights fit but the fused-MoE workspace" in message
    assert "× DP 16 and take 21.0 GiB per GPU" in message
    assert "lower engine.maxNumBatchedTokens" in message


def test_a_workspace_that_is_not_what_overflows_is_not_blamed_for_the_refusal():
    # R1 at TP 8 on H200 holds 79.5 GiB of weights per GPU; at utilization 0.576 vLLM may use
    # 80.5 GiB, which the weights fit but non-torch (3.05 GiB) alone overflows. The workspace
    # of 256 batched tokens is 0.04 GiB: lowering engine.maxNumBatchedTokens cannot help.
    from planning.config import ConfigError
    engine = {"maxNumBatchedTokens": 256, "maxNumSeqs": 16, "gpuMemoryUtilization": 0.576}
    with pytest.raises(ConfigError) as caught:
        make_plan(configured(R1_ON_H200, engine=engine))
    message = str(caught.value)
    assert "the fused-MoE workspace does not" not in message
    assert "lower engine.maxNumBatchedTokens" not in message
    assert "model: the weights do not fit" in message


def test_the_expert_kernel_runs_tensor_parallel_experts_unless_told_otherwise():
    # Block FP8 on Hopper from 0.17: Triton for tensor-parallel experts, the default.
    assert memory.moe_backend("fp8", True, 9.0, memory.vllm_features.parse("0.17.0")) == "triton"


def test_tensor_and_data_parallel_ranks_both_split_the_experts_width():
    # Mixtral-8x7B (experts 14336 wide, hidden 4096) at TP 2 × DP 2 without expert
    # parallelism: N = 2 × 14336 / 4 = 7168, so max(N/2, K) = 4096 and max(N, K) = 7168.
    from benchmark.cases import load_stack_facts
    from planning.config import ModelFacts
    from planning.layout import Layout
    from tests.planning.conftest import SMALL_7B
    model = ModelFacts.model_validate(load_stack_facts()["models"]["mixtral-8x7b-instruct"])
    cfg = configured(SMALL_7B, vllmVersion="0.20.0", gpu={"type": "h100-80gb"})
    gpu, version = cfg.gpu.resolved(), memory.vllm_features.parse("0.20.0")
    engine = memory.engine_limits(cfg, gpu, version)
    gib, _ = memory._moe_workspace(cfg, model, gpu, version, Layout(2, 1, 2), engine)
    tokens = engine.max_num_batched_tokens * 2
    assert gib == pytest.approx(tokens * 2 * (4096 + 7168) * 2 / GIB)
