"""The resource model: each derived number against its arithmetic, and the presets' KV shapes."""

import math

import pytest

import facts
from planning import capacity, config, host, kv_layout, memory, timing
from planning.config import model as model_config
from facts import model_families, vllm_features
from planning.layout import tensor_parallel_candidates as candidate_splits
from planning.config import ModelFacts
from planning.plan import make_plan
from facts.vllm_features import parse as V
from tests.planning.conftest import configured

KIB = 1024

# Whole-model bf16 KV bytes per token, from ../shared/reference/vllm.md's DeepSeek table.
REFERENCE_KV_BYTES = {
    "deepseek-r1-distill-qwen-1.5b": 28 * KIB,
    "deepseek-r1-distill-qwen-7b": 56 * KIB,
    "deepseek-r1-distill-llama-8b": 128 * KIB,
    "deepseek-r1-distill-qwen-14b": 192 * KIB,
    "deepseek-r1-distill-qwen-32b": 256 * KIB,
    "deepseek-r1-distill-llama-70b": 320 * KIB,
    "deepseek-v2-lite": 27 * 1152,    # 30.4 KiB
    "deepseek-r1": 61 * 1152,         # 68.6 KiB
    "deepseek-v3": 61 * 1152,
}


@pytest.mark.parametrize("preset, expected", REFERENCE_KV_BYTES.items())
def test_preset_kv_bytes_per_token_match_the_models_shape_exactly(preset, expected):
    shape = facts.models()[preset]
    per_token = memory.kv_bytes_per_token_per_gpu(shape["attention"], shape["layers"], 1, 1, 2)
    assert per_token == expected


def test_mla_cache_is_not_split_by_tensor_parallelism():
    attention = facts.models()["deepseek-r1"]["attention"]
    tp1 = memory.kv_bytes_per_token_per_layer(attention, 61, 1, 2)
    tp8 = memory.kv_bytes_per_token_per_layer(attention, 61, 8, 2)
    assert tp1 == tp8 == 1152


def test_gqa_cache_splits_by_tensor_parallelism_until_one_kv_head_per_gpu():
    attention = {"kind": "gqa", "heads": 12, "kv_heads": 2, "head_dim": 128}
    assert memory.kv_bytes_per_token_per_layer(attention, 28, 2, 2) == 2 * 1 * 128 * 2
    assert memory.kv_bytes_per_token_per_layer(attention, 28, 4, 2) == 2 * 1 * 128 * 2


def test_pipeline_parallelism_splits_layers_and_fp8_halves_the_cache():
    attention = facts.models()["deepseek-r1-distill-qwen-32b"]["attention"]
    whole = memory.kv_bytes_per_token_per_gpu(attention, 64, 1, 1, 2)
    assert memory.kv_bytes_per_token_per_gpu(attention, 64, 1, 2, 2) == whole / 2
    assert memory.kv_bytes_per_token_per_gpu(attention, 64, 1, 1, 1) == whole / 2


def test_v4_cache_uses_the_compressed_per_token_figure():
    shape = facts.models()["deepseek-v4-flash"]
    per_token = memory.kv_bytes_per_token_per_gpu(shape["attention"], shape["layers"], 4, 1, 1)
    assert per_token == pytest.approx(3900)


def _groups(preset):
    return ModelFacts.model_validate(facts.models()[preset]).parameter_groups()


def test_dense_bf16_weights_split_evenly_over_tensor_parallel():
    # Qwen-32B: 32,763,876,352 params × 2 bytes = 61.03 GiB, half per GPU at TP 2.
    groups = _groups("deepseek-r1-distill-qwen-32b")
    assert memory.weight_gib(groups, "bf16") == pytest.approx(61.03, abs=0.01)
    assert memory.weight_gib_per_gpu(groups, "bf16", 64, 2) == pytest.approx(30.51, abs=0.01)


def test_online_fp8_keeps_embeddings_and_head_in_16_bits():
    # Llama-3.1-8B with --quantization fp8: 2 × 525,336,576 embedding/head params stay 2 bytes,
    # 6,979,588,096 others take 1: 9.08e9 bytes = 8.46 GiB (vLLM 0.19 logged 8.49 GiB,
    # llm-d-planner meta-llama---h100-80gb--tp1pp1dp1--8192-dtbf16-qfp8.log); all at 1 byte
    # would be 7.48 GiB.
    groups = model_config.default_parameter_groups(8.030261248, 128256, 4096)
    stored_as = memory.scheme("bf16", "fp8")
    assert stored_as == "fp8-online"
    assert memory.weight_gib(groups, stored_as) == pytest.approx(8.46, abs=0.01)
    assert memory.scheme("bf16", None) == "bf16" and memory.scheme("fp8", "fp8") == "fp8"


# DeepSeek-R1 (FP8 blocks, 61 layers): the fullest GPU per layout, from the hub's per-dtype
# counts and vLLM's placement rules, computed independently of sizing.py (issue 8 research):
R1_PER_GPU = [((8, 1, 1), 79.5), ((16, 1, 1), 40.3), ((1, 1, 8), 95.8), ((4, 1, 2), 81.9),
              ((2, 1, 4), 86.5)]


@pytest.mark.parametrize("split, expected", R1_PER_GPU)
def test_fp8_moe_weights_follow_vllms_placement(split, expected):
    tp, pp, dp = split
    model = ModelFacts.model_validate(facts.models()["deepseek-r1"])
    per_gpu = memory.weight_gib_per_gpu(model.parameter_groups(), "fp8", 61, tp, pp, dp,
                                        attention=model.attention)
    assert per_gpu == pytest.approx(expected, abs=0.05)


def test_r1_weights_total_the_checkpoints_own_dtype_counts():
    # BF16 1,960,795,136 × 2 + F8 669,065,609,216 × (1 + 4/16384) = 626.92 GiB (main model).
    assert memory.weight_gib(_groups("deepseek-r1"), "fp8") == pytest.approx(626.92, abs=0.01)


def test_pipeline_stages_split_layers_like_vllm_and_hold_embeddings_and_head_apart():
    assert memory.pipeline_stage_layers(61, 4) == [15, 15, 16, 15]
    assert memory.pipeline_stage_layers(27, 2) == [14, 13]
    assert memory.pipeline_stage_layers(28, 3) == [9, 10, 9]
    assert memory.pipeline_stage_layers(61, 8) == [7, 7, 8, 8, 8, 8, 8, 7]
    # Two stages of a 2-layer toy: stage 0 = 1 layer + embedding, stage 1 = 1 layer + head.
    toy = {"embedding": 100, "head": 300, "norms_and_gates": 0, "replicated_linear": 0,
           "sharded_linear": 1000, "experts": 0}
    per_gpu = memory.weight_gib_per_gpu(toy, "bf16", 2, 1, 2) * memory.GIB
    assert per_gpu == (500 + 300) * 2
    tied = memory.weight_gib_per_gpu({**toy, "head": 0}, "bf16", 2, 1, 2,
                                     tie_word_embeddings=True) * memory.GIB
    assert tied == (500 + 100) * 2       # a tied table sits on the last stage too


def test_replicated_roles_do_not_shrink_with_tensor_parallel():
    toy = {"embedding": 0, "head": 0, "norms_and_gates": 10, "replicated_linear": 90,
           "sharded_linear": 800, "experts": 3200}
    at = {tp: memory.weight_gib_per_gpu(toy, "bf16", 1, tp) * memory.GIB for tp in (1, 2, 4)}
    assert at == {1: 8200, 2: 2 * (100 + 400 + 1600), 4: 2 * (100 + 200 + 800)}
    # Experts spread over TP × DP; everything else is copied on every DP rank.
    assert memory.weight_gib_per_gpu(toy, "bf16", 1, 1, 1, 4) * memory.GIB == 2 * (900 + 800)


def test_mla_backends_add_bf16_copies_of_kv_b_proj():
    attention = facts.models()["deepseek-r1"]["attention"]
    assert memory.mla_decompressed_bytes_per_layer(attention, 8) == 512 * 16 * 256 * 2
    assert memory.mla_decompressed_bytes_per_layer({"kind": "gqa"}, 1) == 0


def test_mxfp4_and_int4_widths():
    assert memory.ROLE_BYTES["mxfp4"]["experts"] == 0.53125
    assert memory.ROLE_BYTES["mxfp4"]["sharded_linear"] == 2.0
    assert memory.ROLE_BYTES["int4"]["sharded_linear"] == pytest.approx(0.515625)
    assert memory.ROLE_BYTES["int4"]["embedding"] == 2.0


def test_kv_budget_and_tokens_follow_vllms_arithmetic():
    budget = memory.kv_budget_gib(79.15, 0.9, 30.5, 0.5, 0.75)
    assert budget == pytest.approx(39.485)                # 71.235 − 30.5 − 0.5 − 0.75
    # 39.485 GiB / 128 KiB = 323,461.1 tokens → 20,216 whole 16-token blocks.
    assert _one_group_tokens(budget, 131072, 16) == 323_456
    assert _one_group_tokens(budget, 131072, 64) == 323_456 - 323_456 % 64
    assert _one_group_tokens(-1, 131072, 16) == 0
    # 20,480 blocks of 16 tokens hold ten 32k requests
    assert _one_group_pool(327680 * 131072 / 2**30, 131072, 16, 32768).max_concurrency == 10


def _one_group_pool(budget_gib: float, bytes_per_token: float, block: int, length: int = 16):
    """A uniform model's pool: one group whose block holds `block` tokens of every layer."""
    spec = kv_layout.CacheSpec(model_families.FULL_ATTENTION, block, bytes_per_token * block)
    return kv_layout.pool(kv_layout.group_layers([spec]), max(budget_gib, 0) * 2**30, length,
                          length, concurrency_tokens=False)


def _one_group_tokens(budget_gib: float, bytes_per_token: float, block: int) -> int:
    return _one_group_pool(budget_gib, bytes_per_token, block).tokens


def test_default_utilization_changes_at_vllm_0_20():
    assert vllm_features.default_gpu_memory_utilization(V("0.19.0")) == 0.9
    assert vllm_features.default_gpu_memory_utilization(V("0.20.0")) == 0.92


def test_shm_grows_with_the_gpus_in_a_pod():
    assert [host.shm_gib(n) for n in (1, 2, 4, 8)] == [1, 2, 4, 15]


def test_host_memory_counts_workers_and_shm_and_keeps_page_cache_out_of_the_request():
    request = host.host_memory_request_gib(2, 2)
    assert request == 4 + 2 * 5 + 2
    assert host.host_memory_limit_gib(request, 8) == request + 8


def test_startup_budget_is_load_plus_engine_phases_times_safety():
    assert timing.weight_load_seconds(61.0, 400) == 157          # 62,464 MiB / 400 MiB/s
    assert timing.startup_budget_seconds(157, 144, 1.5) == 452   # 301 × 1.5 = 451.5
    assert timing.startup_failure_threshold(455, 10) == 46


def test_engine_phases_scale_with_the_model_and_what_vllm_does_at_start():
    # 32 layers, 51 captured sizes, cold compile: 30 + 10 + 32 + ceil(0.012 × 51 × 32 = 19.6)
    cold = timing.engine_start_seconds(32, 51, compile_cache=False, enforce_eager=False,
                                       deep_gemm=False)
    assert cold == {"process": 30, "profile": 10, "compile": 32, "graphs": 20}
    warm = timing.engine_start_seconds(32, 51, True, False, False)
    assert warm["compile"] == 8                                   # 0.25 s × 32 layers
    eager = timing.engine_start_seconds(32, 51, False, True, False)
    assert eager == {"process": 30, "profile": 10}                # no compile, no graphs
    fp8 = timing.engine_start_seconds(61, 51, False, False, deep_gemm=True)
    assert fp8["deepgemm"] == 180 and fp8["compile"] == 61
    assert sum(timing.engine_start_seconds(80, 67, False, False, False).values()) == (
        30 + 10 + 80 + 65)                                        # 0.012 × 67 × 80 = 64.3


def test_cuda_graph_sizes_follow_the_version_and_the_scheduler():
    assert timing.cuda_graph_sizes(1024, 8192, V("0.11.0")) == 67  # 1, 2, 4, 8 … 512
    assert timing.cuda_graph_sizes(1024, 8192, V("0.20.0")) == 51  # every 16 from 256
    assert timing.cuda_graph_sizes(256, 2048, V("0.20.0")) == 51
    assert timing.cuda_graph_sizes(64, 2048, V("0.20.0")) == 3 + 16   # 8 … 128: 19 sizes
    assert timing.cuda_graph_sizes(256, 256, V("0.20.0")) == 3 + 31 + 1


def test_deep_gemm_warms_up_only_for_fp8_blocks_on_hopper_from_0_11():
    assert vllm_features.warms_up_deep_gemm(V("0.11.0"), 9.0, True)
    assert not vllm_features.warms_up_deep_gemm(V("0.10.2"), 9.0, True)
    assert not vllm_features.warms_up_deep_gemm(V("0.20.0"), 8.0, True)
    assert not vllm_features.warms_up_deep_gemm(V("0.20.0"), 9.0, False)


def test_a_measured_engine_start_replaces_the_phases():
    measured = make_plan(_config(probes={"engineStartSeconds": 40}))
    assert measured.startup.engine_phases == {"measured": 40}
    assert measured.startup.estimated_seconds == measured.startup.load_seconds + 40


def test_r1_on_h200_budgets_deep_gemm_and_a_cold_compile():
    plan = make_plan(_config(vllmVersion="0.20.0",
                             model={"preset": "deepseek-r1", "maxModelLen": 32768},
                             gpu={"type": "h200", "tensorParallel": 8}))
    phases = plan.startup.engine_phases
    assert phases["deepgemm"] == 180 and phases["compile"] == 61
    # The load reads the whole checkpoint (641.3 GiB, MTP included) at the stack's read rate.
    assert plan.startup.load_seconds == math.ceil(641.3 * 1024 / 400)
    assert plan.startup.budget_seconds >= plan.startup.estimated_seconds


def test_grace_period_covers_prestop_and_the_longest_request():
    longest = timing.longest_request_seconds(8192, 40, 10)
    assert longest == 338
    assert timing.termination_grace_seconds(15, longest) == 15 + 338 + 15


def test_rollout_timeout_counts_sequential_pod_replacements():
    assert timing.rollout_rounds(4, 0) == 4
    assert timing.rollout_rounds(4, 2) == 2
    assert timing.rollout_timeout_seconds(2, 0, 600, 368) == 2 * (368 + 600 + 600)


def test_tensor_parallel_candidates_divide_the_heads_within_a_node():
    assert candidate_splits(40, 8) == [1, 2, 4, 8]
    assert candidate_splits(12, 8) == [1, 2, 4]
    assert candidate_splits(28, 8) == [1, 2, 4]


def _config(**changes):
    base = {
        "vllmVersion": "0.19.0",
        "model": {"preset": "deepseek-r1-distill-qwen-32b", "revision": "main",
                  "servedName": "m", "maxModelLen": 32768},
        "gpu": {"type": "a100-80gb"},
        "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                    "readMibPerSecond": 400},
        "engine": {},
        "network": {"gatewayNamespaces": ["gateway"]},
    }
    return configured(base, **changes)


def test_the_smallest_tensor_parallel_size_that_fits_is_chosen():
    assert make_plan(_config()).layout.tensor_parallel == 1
    assert make_plan(_config(model={"preset": "deepseek-r1-distill-llama-70b"})
                     ).layout.tensor_parallel == 4


def test_70b_on_two_a100s_at_32k_is_refused_with_the_arithmetic_and_fixes():
    cfg = _config(model={"preset": "deepseek-r1-distill-llama-70b"}, gpu={"tensorParallel": 2})
    with pytest.raises(config.ConfigError) as error:
        make_plan(cfg)
    message = str(error.value)
    assert "model.maxModelLen" in message and "5.0 GiB" in message
    assert "gpu.tensorParallel: 4" in message and "model.quantization: fp8" in message


def test_671b_on_one_node_of_80gb_gpus_is_refused_when_held_to_one_node():
    cfg = _config(model={"preset": "deepseek-r1", "maxModelLen": 8192},
                  gpu={"type": "h100-80gb", "layout": "single-node"})
    with pytest.raises(config.ConfigError) as error:
        make_plan(cfg)
    assert "more than one node" in str(error.value) and "gpu.layout: auto" in str(error.value)


def test_671b_fits_one_node_of_h200():
    plan = make_plan(_config(model={"preset": "deepseek-r1", "maxModelLen": 32768},
                             gpu={"type": "h200"}))
    assert plan.layout.tensor_parallel == 8 and plan.layout.nodes == 1
    assert plan.kv.block_size == 16   # FLASH_ATTN_MLA (16-token blocks) leads from vLLM 0.15


def test_mla_on_hopper_used_64_token_flashmla_blocks_before_vllm_0_15():
    attention = facts.models()["deepseek-r1"]["attention"]
    assert memory.kv_block_size(attention, 9.0, V("0.14.0")) == 64
    assert memory.kv_block_size(attention, 9.0, V("0.15.0")) == 16
    assert memory.kv_block_size(attention, 8.0, V("0.14.0")) == 16


def test_activation_peak_is_the_larger_of_forward_pass_and_sampler():
    forward_only = memory.activation_peak_gib(5120, 27648, 152064, 2, 8192, 1, V("0.20.0"))
    sampler_heavy = memory.activation_peak_gib(5120, 27648, 152064, 2, 256, 1024, V("0.20.0"))
    assert forward_only == pytest.approx((8192 * 3 * 13824 * 2 + 8192 * 4 * 5120 * 2) / 2**30)
    assert sampler_heavy == pytest.approx(1024 * 152064 * 14 / 2**30)
    older = memory.activation_peak_gib(5120, 27648, 152064, 2, 256, 1024, V("0.16.0"))
    assert older == pytest.approx(2 * sampler_heavy)


def test_communication_buffers_count_only_when_a_replica_spans_gpus():
    assert memory.non_torch_gib(1, V("0.19.0")) == 0.25
    assert memory.non_torch_gib(2, V("0.19.0"), "nvlink") == 0.25 + 1.8
    assert memory.non_torch_gib(2, V("0.19.0"), "pcie") == 0.25 + 0.5
    assert memory.non_torch_gib(1, V("0.20.0")) == 0.25 + 1.0
    assert memory.non_torch_gib(1, V("0.20.0"), enforce_eager=True) == 0.25


def test_v4_on_a100_or_old_vllm_is_refused():
    with pytest.raises(config.ConfigError) as error:
        make_plan(_config(vllmVersion="0.19.0", model={"preset": "deepseek-v4-flash"},
                          gpu={"type": "a100-80gb", "tensorParallel": 4}))
    message = str(error.value)
    assert "compute capability 9.0" in message and "0.20.0" in message


def test_v4_flash_gains_capacity_from_data_and_expert_parallelism():
    plan = make_plan(_config(vllmVersion="0.20.0",
                             model={"preset": "deepseek-v4-flash", "maxModelLen": 131072},
                             gpu={"type": "h200", "tensorParallel": 1, "dataParallel": 4,
                                  "expertParallel": True}))
    assert plan.layout.gpus == 4
    # Experts (277.0 G FP4 params, 147.2 GB) spread over the 4 GPUs; attention, shared experts
    # and embeddings (8.85 GB) on every one: 36.8 + 8.85 GB = 42.5 GiB.
    assert plan.weights.per_gpu_gib == pytest.approx(42.5, abs=0.05)
    assert plan.kv.max_concurrency == pytest.approx(plan.kv.tokens_per_rank * 4 / 131072)


def test_every_step_of_the_plan_states_its_reason():
    plan = make_plan(_config())
    steps = [plan.layout, plan.engine, plan.weights, plan.activations, plan.kv, plan.host,
             plan.startup, plan.drain, plan.rollout, plan.storage, plan.autoscaling]
    assert all(step.reason for step in steps)
    assert str(plan.startup.budget_seconds) in plan.startup.reason
    assert f"{plan.kv.tokens_per_rank} tokens" in plan.kv.reason


def test_default_scheduler_limits_follow_the_gpu_class():
    assert memory.default_scheduler_limits(79.19, 9.0) == (8192, 1024)   # H100
    assert memory.default_scheduler_limits(79.15, 8.0) == (2048, 256)    # A100 80 GB
    assert memory.default_scheduler_limits(21.96, 8.9) == (2048, 256)    # L4


def test_cpu_request_covers_a_core_budget_per_gpu_plus_the_api_server():
    assert host.cpu_request(2, 4) == 10


def test_download_budget_and_volume_size_follow_the_weights():
    assert capacity.download_seconds(14.2) == 291               # 14,540.8 MiB / 50 MiB/s
    assert capacity.download_timeout_seconds(14.2) == 891      # + 600 s for the pod
    assert capacity.storage_capacity_gi(14.2) == 18
    assert capacity.storage_capacity_gi(14.2, revisions=2) == 35
    assert capacity.storage_capacity_gi(1.0) == 10


def test_a_streaming_loader_shortens_the_budget_only_with_a_measured_rate():
    # The rate rule itself, loader by loader: tests/planning/test_delivery.py.
    slow = make_plan(_config())
    fast = make_plan(_config(engine={"loadFormat": "runai_streamer"},
                             storage={"streamingReadMibPerSecond": 2000}))
    assert fast.startup.load_seconds < slow.startup.load_seconds
    assert "runai_streamer" in fast.startup.reason


def test_a_warm_compile_cache_shows_in_the_restart_not_in_the_probes_budget():
    cold = make_plan(_config())
    warm = make_plan(_config(engine={"compileCacheGib": 20,
                                     "compileCacheStorageClass": "efs"}))
    assert warm.startup.warm_restart_seconds < cold.startup.warm_restart_seconds
    assert warm.startup.budget_seconds == cold.startup.budget_seconds
    assert "compile-cache entry" in warm.startup.reason


def test_an_fp8_kv_cache_halves_the_bytes_and_doubles_the_tokens():
    assert memory.kv_dtype_bytes("fp8") == 1 and memory.kv_dtype_bytes("auto") == 2
    auto = make_plan(_config())
    fp8 = make_plan(_config(model={"kvCacheDtype": "fp8"}))
    assert fp8.kv.bytes_per_token == auto.kv.bytes_per_token / 2
    assert fp8.kv.tokens_per_rank == pytest.approx(2 * auto.kv.tokens_per_rank, abs=16)


def test_before_vllm_0_18_the_prestop_bound_includes_the_drain_wait():
    measured = {"perTokenMs": 40, "prefillSeconds": 10}      # 8192 × 40 ms + 10 s = 338 s
    old = make_plan(_config(vllmVersion="0.17.0", shutdown=measured))
    new = make_plan(_config(vllmVersion="0.18.0", shutdown=measured))
    assert not old.drain.vllm_drains and new.drain.vllm_drains
    assert old.drain.shutdown_timeout_seconds == 0
    assert new.drain.shutdown_timeout_seconds == new.drain.longest_request_seconds == 338
    assert old.drain.pre_stop_bound_seconds == 15 + 338
    assert new.drain.pre_stop_bound_seconds == 15
    assert old.drain.grace_seconds == new.drain.grace_seconds == 15 + 338 + 15


# --- the autoscaler's per-replica target and the claim's release ----------------------------

def test_a_replica_runs_as_many_requests_as_its_kv_cache_holds_at_the_expected_length():
    # Prod: 317,408 KV tokens at 8,192 tokens a request -> 38, well under max-num-seqs 256.
    assert capacity.runnable_requests(317_408, 8192, 256) == 38
    assert capacity.runnable_requests(317_408, 4096, 256) == 77


def test_runnable_requests_are_capped_by_max_num_seqs_and_never_zero():
    assert capacity.runnable_requests(10_000_000, 1000, 256) == 256
    assert capacity.runnable_requests(4000, 8192, 256) == 1


def test_per_replica_target_is_runnable_requests_times_utilization():
    assert capacity.per_replica_target(38, 0.75) == 28
    assert capacity.per_replica_target(100, 0.5) == 50


def test_per_replica_target_rounds_down_and_never_reaches_zero():
    assert capacity.per_replica_target(10, 0.33) == 3
    assert capacity.per_replica_target(1, 0.1) == 1


@pytest.mark.parametrize("runnable, utilization", [(0, 0.5), (0, 0.75), (256, 0), (38, 0),
                                                   (256, 1.5), (38, 1.01)])
def test_per_replica_target_rejects_impossible_inputs(runnable, utilization):
    with pytest.raises(ValueError):
        capacity.per_replica_target(runnable, utilization)


def test_a_replaced_claim_is_waited_for_as_long_as_its_last_pod_may_drain():
    # Prod: grace 368 s + 300 s for the kubelet to unmount.
    assert timing.claim_release_seconds(368) == 668


# --- boundaries the mutation run found unpinned ------------------------------------------------

def test_runnable_requests_refuses_either_input_below_one_and_accepts_one():
    with pytest.raises(ValueError):
        capacity.runnable_requests(100_000, 0, 256)
    with pytest.raises(ValueError):
        capacity.runnable_requests(100_000, 8192, 0)
    assert capacity.runnable_requests(100_000, 8192, 1) == 1
    assert capacity.runnable_requests(100_000, 1, 256) == 256
    assert capacity.runnable_requests(100, 8192, 256) == 1          # at least one


def test_per_replica_target_accepts_the_boundaries():
    assert capacity.per_replica_target(38, 1) == 38
    assert capacity.per_replica_target(1, 0.5) == 1


def test_non_torch_memory_defaults_to_nvlink_buffers():
    assert memory.non_torch_gib(2, V("0.19.0")) == pytest.approx(0.25 + 1.8)
    assert memory.non_torch_gib(2, V("0.19.0"), "pcie") == pytest.approx(0.25 + 0.5)
    assert memory.non_torch_gib(1, V("0.20.0")) == pytest.approx(0.25 + 1.0)
    assert memory.non_torch_gib(1, V("0.20.0"), enforce_eager=True) == pytest.approx(0.25)


def test_deepseek_v4_uses_256_token_blocks_whatever_the_gpu():
    v4 = facts.models()["deepseek-v4-flash"]["attention"]
    assert memory.kv_block_size(v4, 9.0, V("0.20.0")) == 256
    assert memory.kv_block_size(v4, 10.0, V("0.33.0")) == 256


def test_a_zero_budget_holds_no_tokens():
    assert _one_group_tokens(0, 131072, 16) == 0
    assert _one_group_tokens(1 / 8192 * 16, 131072, 16) == 16   # exactly one block


def test_weight_load_and_longest_request_round_up_exact_units():
    assert timing.weight_load_seconds(100, 1024) == 100            # 102,400 MiB / 1024 MiB/s
    assert timing.weight_load_seconds(100.001, 1024) == 101
    assert timing.longest_request_seconds(2001, 1, 0) == 3          # 2.001 s rounds up
    assert timing.longest_request_seconds(2000, 1, 5) == 7


def test_the_large_gpu_scheduler_tier_starts_at_70_gib():
    assert memory.default_scheduler_limits(70, 9.0) == (8192, 1024)
    assert memory.default_scheduler_limits(69.9, 9.0) == (2048, 256)


@pytest.mark.parametrize("gib, capability, version, limits", [
    (178.35, 10.0, "0.27.0", (8192, 1024)),      # B200 before the 160 GiB tier
    (178.35, 10.0, "0.28.0", (16384, 1024)),     # B200: `device_memory >= 160 * GiB_bytes`
    (160, 10.0, "0.34.0", (16384, 1024)),
    (159.9, 10.0, "0.34.0", (8192, 1024)),
    (119.7, 12.1, "0.32.0", (8192, 1024)),       # GB10 (DGX Spark) as any 70 GiB GPU
    (119.7, 12.1, "0.33.0", (2048, 256)),        # GB10 excluded: `not is_gb10`
    (79.19, 9.0, "0.34.0", (8192, 1024))], ids=lambda value: str(value))
def test_the_scheduler_defaults_follow_vllms_tiers_by_version(gib, capability, version, limits):
    # EngineArgs.get_batch_defaults (vllm/engine/arg_utils.py): a >= 160 GiB tier from the
    # 0.28.0 wheel (not in 0.27.0), GB10 (compute capability 12.1) out of the 70 GiB tier from
    # the 0.33.0 wheel (not in 0.32.0).
    assert memory.default_scheduler_limits(gib, capability, V(version)) == limits


def test_mxfp4_experts_are_padded_for_the_kernel_vllm_picks():
    # gpt-oss (H = I = 2880): Hopper/Triton pads I per GPU to 64, below Hopper Marlin pads I
    # to 128 and H to 256, Blackwell's TRT-LLM kernel both to 256.
    assert memory.mxfp4_expert_padding(2880, 1440, 9.0) == pytest.approx(1472 / 1440)
    assert memory.mxfp4_expert_padding(2880, 2880, 9.0) == 1.0
    assert memory.mxfp4_expert_padding(2880, 2880, 8.0) == pytest.approx(3072 * 2944 / 2880**2)
    assert memory.mxfp4_expert_padding(2880, 2880, 10.0) == pytest.approx(3072 * 3072 / 2880**2)
    toy = {"embedding": 0, "head": 0, "norms_and_gates": 0, "replicated_linear": 0,
           "sharded_linear": 0, "experts": 1000}
    padded = memory.weight_gib_per_gpu(toy, "bf16", 1, 1, expert_padding=1.5) * memory.GIB
    assert padded == 3000


def test_default_parameter_roles_split_off_embeddings_and_head_exactly():
    groups = model_config.default_parameter_groups(8.030261248, 128256, 4096)
    assert groups == {"embedding": 525_336_576, "head": 525_336_576, "norms_and_gates": 0,
                      "replicated_linear": 0, "sharded_linear": 6_979_588_096, "experts": 0}
    tied = model_config.default_parameter_groups(8.030261248, 128256, 4096, tie_word_embeddings=True)
    assert tied["head"] == 0 and tied["sharded_linear"] == 6_979_588_096 + 525_336_576
    exact = model_config.default_parameter_groups(1.050673152, 128256, 4096)
    assert exact["sharded_linear"] == pytest.approx(0, abs=1)   # embeddings and head: all of it
    with pytest.raises(ValueError):
        model_config.default_parameter_groups(0.5, 128256, 4096)  # smaller than the embeddings


def test_mla_copies_need_the_head_dims():
    partial = {"kind": "mla", "heads": 16, "kv_lora_rank": 512, "qk_rope_head_dim": 64}
    assert memory.mla_decompressed_bytes_per_layer(partial, 1) == 0


def test_tiny_schedulers_capture_1_2_and_4():
    assert timing.cuda_graph_sizes(2, 2048, V("0.20.0")) == 3     # largest 4: sizes 1, 2, 4
    assert timing.cuda_graph_sizes(1, 2048, V("0.20.0")) == 2     # largest 2: sizes 1, 2


def test_the_download_budget_follows_the_configured_rate():
    assert capacity.download_timeout_seconds(14.2, 100) == 146 + 600   # 14,540.8 MiB / 100


def test_an_experts_intermediate_size_splits_over_tp_times_dp_in_whole_columns():
    # gpt-oss: I = 2880. TP 2 × DP 2 without EP: 2880 / 4 = 720; with EP experts stay whole.
    assert memory.expert_intermediate_per_gpu(2880, 2, 2, False) == 720
    assert memory.expert_intermediate_per_gpu(2880, 2, 2, True) == 2880
    split = memory.expert_intermediate_per_gpu(2880, 2, 1, False)
    assert split == 1440 and isinstance(split, int)
