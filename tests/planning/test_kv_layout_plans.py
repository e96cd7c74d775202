"""The plan's KV cache for models whose layers differ in kind (planning/memory.py kv_cache with
planning/kv_layout.py): a hybrid linear-attention model (the Qwen3-Next preset), a
sliding-window model (the gpt-oss-120b preset), DSA's indexer, and the model facts that
describe the kinds (config.json layer_types, sliding_window, linear_*)."""

import dataclasses

import pytest

import facts
from facts import model_families as mf
from planning import config, kv_layout, memory
from planning.plan import make_plan

BASE = {
    "vllmVersion": "0.32.0",
    "model": {"preset": "qwen3-next-80b-a3b", "revision": "main", "servedName": "next",
              "maxModelLen": 32768},
    "gpu": {"type": "h100-80gb", "tensorParallel": 4},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 1000},
    "network": {"gatewayNamespaces": ["gateway"]},
}


def _plan(**changes):
    stack = {**BASE, **{key: ({**BASE.get(key, {}), **value} if isinstance(value, dict) else value)
                        for key, value in changes.items()}}
    return make_plan(config.parse(stack))


def test_qwen3_next_takes_the_hybrid_block_and_four_groups_of_twelve_layers():
    # 12 full-attention + 36 Gated DeltaNet layers at TP 4: one attention page (272 tokens ×
    # 1 KV head × 512 × 2 B) holds one layer's 274,432 B state; 36 state layers form 3 groups
    # of 12 beside the attention group.
    plan = _plan()
    assert plan.kv.block_size == 272
    assert plan.kv.groups == 4
    page = 272 * 1024
    blocks = int(plan.kv.budget_gib * 2**30 // (12 * page))
    # a 32768-token request: cdiv(32768, 272) attention blocks + 3 state groups × 2 blocks
    per_request = -(-32768 // 272) + 3 * 2
    assert plan.kv.tokens_per_rank == int(blocks / per_request * 32768)
    assert plan.kv.state_gib_per_request == pytest.approx(3 * 2 * 12 * page / 2**30)


def test_without_prefix_caching_a_state_layer_holds_one_block():
    cached = _plan()
    uncached = _plan(engine={"extraArgs": ["--no-enable-prefix-caching"]})
    assert uncached.kv.state_gib_per_request == pytest.approx(
        cached.kv.state_gib_per_request / 2)
    assert uncached.kv.tokens_per_rank > cached.kv.tokens_per_rank


@pytest.mark.parametrize("args, on", [
    ([], True), (["--no_enable_prefix_caching"], False),
    (["--no-enable-prefix-caching", "--enable-prefix-caching"], True),
], ids=["default", "underscore spelling", "last one wins"])
def test_prefix_caching_is_read_as_vllms_parser_reads_extra_args(args, on):
    cfg = config.parse({**BASE, "engine": {"extraArgs": args}})
    assert memory.prefix_caching(cfg) is on


def test_a_hybrid_model_holds_far_more_tokens_than_all_attention_layers_would():
    hybrid = _plan()
    shape = dict(facts.models()["qwen3-next-80b-a3b"])
    shape.pop("layer_types"), shape.pop("linear_attention")
    dense = _plan(model={"preset": None, "facts": shape})
    assert hybrid.kv.tokens_per_rank > 3 * dense.kv.tokens_per_rank


def test_gpt_oss_120b_groups_its_sliding_and_full_layers_and_reports_as_the_version_does():
    # 18 sliding (window 128) + 18 full layers: two groups of 18. From 0.26 vLLM logs
    # concurrency × maxModelLen; 0.19 logged blocks // groups × block.
    new = _plan(model={"preset": "gpt-oss-120b", "servedName": "oss", "maxModelLen": 131072},
                gpu={"type": "h100-80gb", "tensorParallel": 2})
    assert (new.kv.groups, new.kv.block_size) == (2, 16)
    page = 16 * 4 * 128 * 2
    blocks = int(new.kv.budget_gib * 2**30 // (18 * page))
    window_blocks = -(-(128 - 1 + 2 * new.engine.max_num_batched_tokens) // 16) + 1
    concurrency = blocks / (131072 // 16 + window_blocks)
    assert new.kv.tokens_per_rank == int(concurrency * 131072)
    assert new.kv.max_concurrency == pytest.approx(concurrency)
    old = _plan(vllmVersion="0.19.0", model={"preset": "gpt-oss-120b", "servedName": "oss",
                                              "maxModelLen": 131072},
                gpu={"type": "h100-80gb", "tensorParallel": 2})
    old_blocks = int(old.kv.budget_gib * 2**30 // (18 * page))
    assert old.kv.tokens_per_rank == old_blocks // 2 * 16


def test_before_0_26_a_window_reserves_one_batch_in_flight_not_two():
    # vLLM 0.20.0-0.25.0 SlidingWindowSpec / ChunkedLocalAttentionSpec.max_memory_usage_bytes:
    # window - 1 + max_num_batched_tokens (vllm/v1/kv_cache_interface.py); from 0.26.0
    # VllmConfig.max_in_flight_tokens = max_concurrent_batches × max_num_batched_tokens.
    plan = _plan(vllmVersion="0.25.0",
                 model={"preset": "gpt-oss-120b", "servedName": "oss", "maxModelLen": 131072},
                 gpu={"type": "h100-80gb", "tensorParallel": 2})
    blocks = int(plan.kv.budget_gib * 2**30 // (18 * 16 * 4 * 128 * 2))
    window_blocks = -(-(128 - 1 + plan.engine.max_num_batched_tokens) // 16) + 1
    assert plan.kv.max_concurrency == pytest.approx(blocks / (131072 // 16 + window_blocks))


def test_a_sliding_window_request_fits_where_the_token_count_alone_would_refuse():
    # Older vLLM logs blocks // groups × block, half the pool for two groups; the window's
    # blocks stop growing, so the longest request is what decides.
    plan = _plan(vllmVersion="0.19.0",
                 model={"preset": "gpt-oss-120b", "servedName": "oss", "maxModelLen": 131072},
                 gpu={"type": "h100-80gb", "tensorParallel": 2})
    assert plan.kv.longest_request > plan.kv.tokens_per_rank
    assert plan.kv.holds(plan.kv.longest_request)
    assert not plan.kv.holds(plan.kv.longest_request + 1)


def test_the_dsa_indexer_rides_in_the_mla_group():
    plan = _plan(vllmVersion="0.34.0", gpu={"type": "h200", "tensorParallel": 8},
                 model={"preset": "deepseek-v3.2", "servedName": "v32"})
    assert plan.kv.groups == 1
    assert plan.kv.bytes_per_token == (576 * 2 + 132) * 61


def test_layer_specs_follow_the_layer_types_and_pipeline_stages():
    shape = config.ModelFacts.model_validate(facts.models()["gpt-oss-120b"])
    layout = make_plan(config.parse({**BASE, "model": {**BASE["model"],
                                                       "preset": "gpt-oss-120b"}})).layout
    specs, stages = memory.kv_layer_specs(shape, layout, 2, 16)
    assert [s.kind for s in specs[:2]] == [mf.SLIDING_ATTENTION, mf.FULL_ATTENTION]
    assert specs[0].sliding_window == 128 and stages == []
    _, stages = memory.kv_layer_specs(shape, dataclasses.replace(layout, pipeline_parallel=4),
                                      2, 16)
    assert [len(stage) for stage in stages] == memory.pipeline_stage_layers(36, 4)


@pytest.mark.parametrize("changes, key", [
    ({"layer_types": ["full_attention"] * 3}, "layerTypes"),
    ({"linear_attention": None}, "linearAttention"),
    ({"sliding_window": None, "layer_types": ["sliding_attention"] * 48}, "slidingWindow"),
], ids=["wrong count", "linear layers without their shape", "window layers without a window"])
def test_layer_kinds_without_their_facts_are_refused_naming_the_key(changes, key):
    shape = {**facts.models()["qwen3-next-80b-a3b"], **changes}
    with pytest.raises(config.ConfigError) as error:
        config.parse({**BASE, "model": {**BASE["model"], "preset": None, "facts": shape}})
    assert key in str(error.value)


def test_the_state_page_never_exceeds_the_attention_page_it_is_padded_to():
    for tp in (1, 2, 4, 8):
        linear = facts.models()["qwen3-next-80b-a3b"]["linear_attention"]
        state = kv_layout.gated_delta_net_state_bytes(linear, tp, 2)
        per_token = max(1, 2 // tp) * 256 * 2 * 2
        assert kv_layout.hybrid_block_size(state, per_token, 16) * per_token >= state


def test_decode_context_parallel_multiplies_the_tokens_a_rank_holds():
    # DCP 2 over TP 4: each rank keeps every other position of each request, so a request
    # takes half the attention blocks (FullAttentionSpec.max_memory_usage_bytes: cdiv(L, DCP)).
    # An MLA model: vLLM takes DCP for GQA only above one TP rank per KV head.
    dense = {"preset": "deepseek-v2-lite", "servedName": "d", "maxModelLen": 32768,
             "trustRemoteCode": True}
    plain = _plan(model=dense)
    split = _plan(model=dense, engine={"decodeContextParallel": 2})
    assert split.kv.tokens_per_rank == pytest.approx(2 * plain.kv.tokens_per_rank, rel=1e-3)
    assert split.kv.max_concurrency == pytest.approx(2 * plain.kv.max_concurrency, rel=1e-3)


@pytest.mark.parametrize("changes, words", [
    ({"engine": {"decodeContextParallel": 3}}, "does not divide gpu.tensorParallel 4"),
    ({"engine": {"decodeContextParallel": 2},
      "model": {"preset": "gpt-oss-120b", "servedName": "oss"}}, "sliding-window layers"),
    ({"engine": {"decodeContextParallel": 2},
      "model": {"preset": "deepseek-r1-distill-llama-70b", "servedName": "d"}},
     "needs gpu.tensorParallel above the model's 8 KV heads"),
    ({"engine": {"decodeContextParallel": 4}}, "at most 2 (gpu.tensorParallel 4 // 2 KV heads)"),
], ids=["not a divisor of TP", "sliding windows", "GQA with TP up to its KV heads",
        "GQA above TP per KV head"])
def test_decode_context_parallel_vllm_would_refuse_is_refused_naming_the_key(changes, words):
    with pytest.raises(config.ConfigError) as error:
        _plan(**changes)
    assert "engine.decodeContextParallel" in str(error.value) and words in str(error.value)


def test_the_dcp_flag_is_the_config_keys_not_extra_args():
    with pytest.raises(config.ConfigError) as error:
        _plan(engine={"extraArgs": ["--decode-context-parallel-size=2"]})
    assert "engine.decodeContextParallel" in str(error.value)


def test_the_presets_layer_kinds_are_what_their_config_json_keys_give():
    qwen = {"num_hidden_layers": 48, "full_attention_interval": 4,
            "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
            "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4}
    preset = facts.models()["qwen3-next-80b-a3b"]
    derived = kv_layout.layout_facts_from_config(qwen)
    assert derived == {key: preset[key] for key in ("layer_types", "linear_attention")}
    oss = {"num_hidden_layers": 36, "sliding_window": 128,
           "layer_types": ["sliding_attention", "full_attention"] * 18}
    preset = facts.models()["gpt-oss-120b"]
    assert kv_layout.layout_facts_from_config(oss) == {
        key: preset[key] for key in ("layer_types", "sliding_window")}


def test_a_long_context_that_vllm_starts_is_not_refused_for_its_logged_token_count():
    # gpt-oss-120b on one H100 at 128k on vLLM 0.19 with 92 % of the GPU (at vLLM's 90 % it
    # does not fit: benchmark case is23278, "Available KV cache memory: -2.14 GiB"): the log
    # would say fewer tokens than 131072 (blocks // 2 groups × 16), yet one request needs only
    # its full group's blocks and the window's, which fit (vLLM's check_enough_kv_cache_memory
    # is per group).
    plan = _plan(vllmVersion="0.19.0", gpu={"type": "h100-80gb", "tensorParallel": 1},
                 engine={"gpuMemoryUtilization": 0.92},
                 model={"preset": "gpt-oss-120b", "servedName": "oss", "maxModelLen": 131072})
    assert plan.kv.tokens_per_rank < 131072 <= plan.kv.longest_request
