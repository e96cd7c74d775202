"""vLLM's grouping of layers into KV-cache groups and what a pool of blocks holds
(planning/kv_layout.py), pinned by the cases of vLLM's own tests/v1/core/test_kv_cache_utils.py
(vllm-project/vllm, read at 002f10e0): each case's inputs and expected outputs, layer_i of
the upstream test being index i − 1 here."""

from __future__ import annotations

import dataclasses

import pytest

from facts import model_families as mf
from planning import kv_layout as kvl

PAGE = 16 * 2 * 128 * 4
"""The upstream tests' layer: 16-token blocks, 2 KV heads, head_size 64, fp32
(mem_per_block_per_layer = 16 * 2 * 64 * 4 * 2)."""


def full(head_size: int = 64, block: int = 16, page_padded: float | None = None):
    """new_kv_cache_spec(): full attention, 2 KV heads, fp32."""
    page = kvl.attention_page_bytes(block, 2, head_size, head_size, 4)
    return kvl.CacheSpec(mf.FULL_ATTENTION, block, page_padded or page)


def sliding(head_size: int = 64, window: int = 1, block: int = 16):
    """new_sliding_window_spec(): sliding window, 2 KV heads, fp32."""
    page = kvl.attention_page_bytes(block, 2, head_size, head_size, 4)
    return kvl.CacheSpec(mf.SLIDING_ATTENTION, block, page, sliding_window=window)


def configure(specs, available: float, max_model_len: int = 16):
    groups = kvl.group_layers(specs)
    return groups, kvl.pool(groups, available, max_model_len, in_flight_tokens=1024,
                            concurrency_tokens=True)


def layer_sets(groups):
    return [group.layers for group in groups]


def test_the_attention_page_is_block_times_heads_times_k_and_v_times_dtype():
    assert kvl.attention_page_bytes(16, 2, 64, 64, 4) == PAGE
    # MLA: one head, the latent only (head_size_v 0): 16 × 2 × 64 × 2 = 4096 in vLLM's
    # test_unify_kv_cache_spec_page_size_mamba_fix.
    assert kvl.attention_page_bytes(16, 2, 64, 0, 2) == 4096


@dataclasses.dataclass(frozen=True)
class GroupingCase:
    """One block of test_get_kv_cache_config_one_worker: specs, available memory, the
    expected groups (layer indices) and num_blocks."""

    name: str
    specs: tuple
    available: float
    groups: list
    num_blocks: int


GROUPING_CASES = [
    GroupingCase("all full attention: one group", (full(), full()), PAGE * 2 * 32,
                 [(0, 1)], 32),
    GroupingCase("all sliding window: one group", (sliding(), sliding()), PAGE * 2 * 32,
                 [(0, 1)], 32),
    GroupingCase("full + sliding: one group each, one page per block",
                 (full(), sliding()), PAGE * 2 * 32, [(0,), (1,)], 64),
    GroupingCase("2 full + 4 sliding: 2 layers per group, every other sliding layer",
                 (full(), full(), sliding(), sliding(), sliding(), sliding()), PAGE * 2 * 32,
                 [(0, 1), (2, 4), (3, 5)], 32),
    GroupingCase("3 full + 7 sliding: padded to 3 + 9",
                 (full(),) * 3 + (sliding(),) * 7, PAGE * 3 * 32,
                 [(0, 1, 2), (3, 6, 9), (4, 7), (5, 8)], 32),
    GroupingCase("6 full + 5 sliding (gpt-oss + EAGLE): padded to 6 + 6, not 6 + 10",
                 (full(),) * 6 + (sliding(),) * 5, PAGE * 6 * 32,
                 [(0, 1, 2, 3, 4, 5), (6, 7, 8, 9, 10)], 32),
    GroupingCase("same type, different head sizes: one group, pages summed",
                 (full(head_size=128), full(head_size=64)), PAGE * 3 * 32, [(0, 1)], 32),
    GroupingCase("different types and sizes: the smaller page doubles its block",
                 (full(head_size=64), sliding(head_size=32)), PAGE * 32, [(0,), (1,)], 32),
    GroupingCase("a page that does not divide the largest is padded to it",
                 (full(head_size=64), sliding(head_size=96)), PAGE * 2 * 32,
                 [(0,), (1,)], 42),
]


@pytest.mark.parametrize("case", GROUPING_CASES, ids=[case.name for case in GROUPING_CASES])
def test_layers_are_grouped_and_pooled_as_vllm_test_get_kv_cache_config_one_worker(case):
    groups, result = configure(case.specs, case.available)
    assert layer_sets(groups) == case.groups
    assert result.num_blocks == case.num_blocks


def test_the_smaller_sliding_page_takes_a_larger_block_rather_than_padding():
    groups, _ = configure((full(head_size=64), sliding(head_size=32)), PAGE * 32)
    assert groups[1].spec == sliding(head_size=32, block=32)
    assert groups[1].spec.page_bytes == PAGE


def test_a_page_that_cannot_be_scaled_pads_the_smaller_full_attention_page():
    groups, _ = configure((full(head_size=64), sliding(head_size=96)), PAGE * 2 * 32)
    assert groups[0].spec == full(head_size=64, page_padded=sliding(head_size=96).page_bytes)


def test_a_state_page_is_padded_and_keeps_its_block_size():
    """test_unify_kv_cache_spec_page_size_mamba_fix: a 256 B Mamba page next to a 4096 B MLA
    page is padded to 4096; its block size stays 16."""
    mla = kvl.CacheSpec(mf.MLA, 16, 4096)
    state = kvl.CacheSpec(mf.LINEAR_ATTENTION, 16, 256)
    assert kvl.unify_page_sizes([mla, state]) == [mla, dataclasses.replace(state,
                                                                           page_bytes=4096)]


def test_an_mla_page_that_does_not_divide_the_largest_cannot_be_unified():
    with pytest.raises(kvl.UnifyError):
        kvl.unify_page_sizes([kvl.CacheSpec(mf.MLA, 16, 3000),
                              kvl.CacheSpec(mf.SLIDING_ATTENTION, 16, 4096, 128)])


def _fp16_layer(kind: str, window: int = 0):
    """test_get_max_concurrency_for_kv_cache_config's layers: 32 KV heads of 128, fp16."""
    return kvl.CacheSpec(kind, 16, kvl.attention_page_bytes(16, 32, 128, 128, 2),
                         sliding_window=window)


@pytest.mark.parametrize("groups, num_blocks, concurrency", [
    ([(mf.FULL_ATTENTION, 32)], int(1024 * 1.5), 1.5),
    ([(mf.SLIDING_ATTENTION, 32)], 129 * 3, 3),
    ([(mf.FULL_ATTENTION, 32), (mf.SLIDING_ATTENTION, 32)], (1024 + 129) * 3, 3),
    ([(mf.FULL_ATTENTION, 32), (mf.SLIDING_ATTENTION, 2)], 1153 * 3, 3),
], ids=["full attention", "sliding window 1024", "hybrid", "unequal groups"])
def test_concurrency_is_blocks_over_the_sum_of_each_groups_blocks_per_request(
        groups, num_blocks, concurrency):
    """test_get_max_concurrency_for_kv_cache_config: max_model_len 16384, 1024 batched
    tokens, synchronous scheduling (in flight = 1024); a sliding-window group needs
    cdiv(1023 + 1024, 16) + 1 = 129 blocks, a full one 1024."""
    built = [kvl.Group(_fp16_layer(kind, 1024 if kind == mf.SLIDING_ATTENTION else 0),
                       tuple(range(count)), 0.0) for kind, count in groups]
    per_request = kvl.blocks_per_request(built, 16384, 1024)
    assert num_blocks / per_request == concurrency


def test_the_logged_token_count_is_concurrency_times_max_model_len():
    """get_kv_cache_capacity (the hybrid case of the same upstream test): 3 × 16384."""
    spec = _fp16_layer(mf.FULL_ATTENTION)
    window = _fp16_layer(mf.SLIDING_ATTENTION, 1024)
    groups = [kvl.Group(spec, tuple(range(32)), spec.page_bytes * 32),
              kvl.Group(window, tuple(range(32, 64)), window.page_bytes * 32)]
    result = kvl.pool(groups, (1024 + 129) * 3 * spec.page_bytes * 32, 16384, 1024, True)
    assert (result.max_concurrency, result.tokens) == (3, 3 * 16384)


def test_before_the_concurrency_report_tokens_were_blocks_per_group_times_block():
    """vLLM 0.19 logged num_blocks // groups × block size (lldp2-gpt-oss-20b: 323,972
    blocks in 2 groups of 16-token blocks → 2,591,776 tokens)."""
    spec = kvl.CacheSpec(mf.FULL_ATTENTION, 16, 16384)
    groups = [kvl.Group(spec, (0,), 16384), kvl.Group(spec, (1,), 16384)]
    assert kvl.pool(groups, 323_972 * 16384, 8192, 16384, False).tokens == 2_591_776


def _kimi_linear_like():
    """test_get_kv_cache_config_mamba_hybrid_sharing_no_indexer: 27 layers, MLA (1024-token
    blocks, 576 bf16) where i % 4 == 3 or i == 26, new_mamba_spec() elsewhere (states
    (2, 512) + (3, 32, 32) fp32 = 16 KiB, 2 speculative blocks)."""
    mla = kvl.CacheSpec(mf.MLA, 1024, kvl.attention_page_bytes(1024, 1, 576, 0, 2))
    state = kvl.CacheSpec(mf.LINEAR_ATTENTION, 16, (2 * 512 + 3 * 32 * 32) * 4,
                          state_blocks=1 + 2)
    return [mla if i % 4 == 3 or i == 26 else state for i in range(27)], mla


def test_twenty_state_layers_beside_seven_mla_layers_form_three_state_groups():
    specs, mla = _kimi_linear_like()
    groups = kvl.group_layers(specs)
    state_groups = [g for g in groups if mf.keeps_state(g.spec.kind)]
    assert len(groups) == 4
    assert [len(g.layers) for g in state_groups] == [7, 7, 6]
    assert {g.spec.page_bytes for g in state_groups} == {mla.page_bytes}
    assert kvl.bytes_per_block(groups) == 7 * mla.page_bytes
    result = kvl.pool(groups, 7 * mla.page_bytes * 100 + 1, 8192, 8192, True)
    assert result.num_blocks == 100
    # cdiv(8192, 1024) MLA blocks + 3 state groups × (1 + 2 speculative) blocks
    assert result.blocks_per_request == 8 + 3 * 3


def test_an_mla_layer_and_its_dsa_indexer_share_one_group_and_add_their_pages():
    """A DeepSeek-V3.2 layer's MLA latent (576 × bf16) and indexer keys (132 B uint8) are one
    type with different pages: one group, both pages in every block."""
    latent = kvl.CacheSpec(mf.MLA, 64, kvl.attention_page_bytes(64, 1, 576, 0, 2))
    indexer = kvl.CacheSpec(mf.MLA, 64, kvl.attention_page_bytes(64, 1, 132, 0, 1),
                            role="indexer")
    groups = kvl.group_layers([latent, indexer] * 61)
    assert len(groups) == 1
    assert kvl.bytes_per_block(groups) == 61 * 64 * (1152 + 132)


def test_pipeline_stages_pool_the_fullest_stage_of_each_group():
    """_project_kv_cache_groups_to_worker: each stage holds its own layers of each group."""
    spec = kvl.CacheSpec(mf.FULL_ATTENTION, 16, 100)
    groups = kvl.group_layers([spec] * 5)
    assert kvl.bytes_per_block(groups, [range(0, 3), range(3, 5)]) == 300


def test_the_hybrid_block_makes_one_attention_page_hold_a_layer_state():
    """_align_hybrid_block_size with FlashAttention's 16-token kernel blocks: Qwen3-Next
    (2 KV heads of 256, bf16; Gated DeltaNet 16 key / 32 value heads of 128, kernel 4)."""
    linear = {"num_key_heads": 16, "num_value_heads": 32, "key_head_dim": 128,
              "value_head_dim": 128, "conv_kernel_dim": 4}
    state_tp1 = kvl.gated_delta_net_state_bytes(linear, 1, 2)
    state_tp4 = kvl.gated_delta_net_state_bytes(linear, 4, 2)
    assert (state_tp1, state_tp4) == (1_097_728, 274_432)
    assert kvl.hybrid_block_size(state_tp1, 2 * 512 * 2, 16) == 544
    assert kvl.hybrid_block_size(state_tp4, 1 * 512 * 2, 16) == 272
    assert kvl.hybrid_block_size(1000, 576 * 2, 16, mla=True) == 128


@pytest.mark.parametrize("max_model_len, expected", [(16385, 16384), (16383, 16383)])
def test_the_longest_request_is_vllms_estimate_of_the_max_model_len(max_model_len, expected):
    """test_estimate_max_model_len: 32 full-attention layers of 32 heads × 128, fp16, in 8 GiB
    hold 16,384 tokens; vLLM caps the estimate at the configured length."""
    spec = _fp16_layer(mf.FULL_ATTENTION)
    groups = kvl.group_layers([spec] * 32)
    blocks = int(8 * 2**30 // kvl.bytes_per_block(groups))
    assert min(kvl.longest_request(groups, blocks, 32768), max_model_len) == expected


def test_a_window_stops_limiting_the_longest_request():
    window = _fp16_layer(mf.SLIDING_ATTENTION, 128)
    assert kvl.longest_request([kvl.Group(window, (0,), 0.0)], 100, 1024) == 100 * 16 + 1
    # 10 blocks: cdiv(L, 16) + 1 ≤ 10 → 144 tokens, the window not reached
    assert kvl.longest_request([kvl.Group(window, (0,), 0.0)], 10, 1024) == 144


QWEN3_NEXT_CONFIG = {"num_hidden_layers": 8, "full_attention_interval": 4,
                     "linear_num_key_heads": 16, "linear_num_value_heads": 32,
                     "linear_key_head_dim": 128, "linear_value_head_dim": 128,
                     "linear_conv_kernel_dim": 4}


def test_layer_kinds_come_from_config_json_layer_types_or_their_interval():
    facts = kvl.layout_facts_from_config(QWEN3_NEXT_CONFIG)
    assert facts["layer_types"] == [mf.LINEAR_ATTENTION] * 3 + [mf.FULL_ATTENTION] + \
        [mf.LINEAR_ATTENTION] * 3 + [mf.FULL_ATTENTION]
    assert facts["linear_attention"]["num_value_heads"] == 32
    gpt_oss = {"num_hidden_layers": 2, "sliding_window": 128,
               "layer_types": ["sliding_attention", "full_attention"]}
    assert kvl.layout_facts_from_config(gpt_oss) == {
        "layer_types": ["sliding_attention", "full_attention"], "sliding_window": 128}
    gemma3 = {"text_config": {"num_hidden_layers": 6, "sliding_window": 1024,
                              "sliding_window_pattern": 6}}
    assert kvl.layout_facts_from_config(gemma3)["layer_types"] == \
        [mf.SLIDING_ATTENTION] * 5 + [mf.FULL_ATTENTION]


def test_a_config_without_other_kinds_adds_nothing_and_unknown_kinds_are_refused():
    assert kvl.layout_facts_from_config({"num_hidden_layers": 2}) == {}
    assert kvl.layout_facts_from_config(
        {"num_hidden_layers": 1, "layer_types": ["full_attention"]}) == {}
    with pytest.raises(ValueError, match="cross_attention"):
        kvl.layout_facts_from_config({"num_hidden_layers": 1,
                                      "layer_types": ["cross_attention"]})


# --- boundaries of the rules above (mutation survivors) -------------------------------------------

def test_state_layers_with_different_states_are_padded_to_one_page_not_summed():
    """MambaSpec.is_uniform_with_collection wants equal pages: two state sizes are not one
    type, so the smaller is padded (2 × 200 B per block), not summed as one type (300 B)."""
    small = kvl.CacheSpec(mf.LINEAR_ATTENTION, 16, 100)
    large = kvl.CacheSpec(mf.LINEAR_ATTENTION, 16, 200)
    (group,) = kvl.group_layers([small, large])
    assert group.page_bytes == 400


def test_at_exactly_one_and_a_half_times_the_smaller_kind_the_smaller_count_sets_the_group():
    """_get_kv_cache_groups_uniform_page_size: max < 1.5 × min picks the larger count; 3 = 1.5
    × 2 does not, so 2 full + 3 sliding layers form groups of 2 (one sliding group short)."""
    groups = kvl.group_layers((full(),) * 2 + (sliding(),) * 3)
    assert layer_sets(groups) == [(0, 1), (2, 4), (3,)]


def test_the_longest_request_counts_single_tokens_and_dcp():
    one_token_blocks = kvl.Group(kvl.CacheSpec(mf.FULL_ATTENTION, 1, 10), (0,), 10)
    assert kvl.longest_request([one_token_blocks], 1, 0) == 1
    spec = _fp16_layer(mf.FULL_ATTENTION)
    groups = [kvl.Group(spec, (0,), spec.page_bytes)]
    assert kvl.longest_request(groups, 10, 0, dcp=2) == 2 * kvl.longest_request(groups, 10, 0)


@pytest.mark.parametrize("pipeline_parallel, batches", [(1, 2), (2, 2), (3, 3), (4, 4)])
def test_tokens_in_flight_are_two_batches_or_one_per_pipeline_stage(pipeline_parallel, batches):
    # The V1 model runner with async scheduling (tests/planning/test_in_flight_batches.py
    # has the V2 runner's PP + 1).
    assert kvl.max_concurrent_batches(pipeline_parallel, True, False) == batches


def test_a_window_without_a_pattern_or_layer_types_derives_no_kinds():
    # Mistral-style configs give sliding_window for every layer without a pattern: nothing
    # tells which layers differ, so no kinds are derived.
    assert kvl.layout_facts_from_config({"num_hidden_layers": 2, "sliding_window": 4096}) == {}


def test_no_request_fits_an_empty_pool_and_speculative_tokens_widen_the_conv_state():
    spec = _fp16_layer(mf.FULL_ATTENTION)
    assert kvl.longest_request([kvl.Group(spec, (0,), spec.page_bytes)], 0, 0) == 0
    linear = {"num_key_heads": 16, "num_value_heads": 32, "key_head_dim": 128,
              "value_head_dim": 128, "conv_kernel_dim": 4}
    # conv state (kernel − 1 + 1 speculative token) × 8192 + temporal 32 × 128 × 128, bf16
    assert kvl.gated_delta_net_state_bytes(linear, 1, 2, speculative_tokens=1) == \
        (8192 * 4 + 32 * 128 * 128) * 2


def test_the_refusal_to_unify_names_the_mla_page_and_the_largest_page():
    with pytest.raises(kvl.UnifyError, match=r"an MLA page of 3000 B does not divide the "
                       r"largest page \(4096 B\) and cannot be padded"):
        kvl.unify_page_sizes([kvl.CacheSpec(mf.MLA, 16, 3000),
                              kvl.CacheSpec(mf.SLIDING_ATTENTION, 16, 4096, 128)])


def test_the_refusal_of_unknown_layer_kinds_lists_the_kinds_the_plan_can_size():
    with pytest.raises(ValueError, match="known: " + ", ".join(mf.LAYER_KINDS) + r"\)$"):
        # Not chunked_attention: a known kind since Llama 4's chunked local attention.
        kvl.layout_facts_from_config({"num_hidden_layers": 1, "layer_types": ["mamba"]})


def test_without_dcp_a_full_attention_request_holds_a_block_for_every_block_of_positions():
    """FullAttentionSpec.max_memory_usage_bytes: cdiv(max_model_len, block); DCP shards the
    positions only when asked for."""
    assert full().blocks_per_request(100, 0) == 7                # cdiv(100, 16)
    assert full().blocks_per_request(100, 0, dcp=2) == 4         # cdiv(cdiv(100, 2), 16)


def test_a_window_holds_its_last_tokens_and_those_in_flight_plus_a_block_for_a_mid_block_start():
    """SlidingWindowSpec.max_admission_blocks_per_request (vllm/v1/kv_cache_interface.py):
    min(window − 1 + in-flight tokens, max_model_len) tokens, cdiv by the block, + 1. A window
    of 4 with 2 tokens in flight spans 3 + 2 = 5 tokens: 2 blocks of 4, + 1."""
    window = sliding(window=4, block=4)
    assert window.blocks_per_request(1000, 2) == 3
    assert window.blocks_per_request(1000, 1) == 2               # 4 tokens: 1 block, + 1
    assert window.blocks_per_request(3, 2) == 2                  # max_model_len caps it


def test_with_three_pipeline_stages_each_stage_pools_only_its_own_layers():
    """_project_kv_cache_groups_to_worker: a group of 3 layers, one on each of 3 stages, takes
    one layer's page per block on every stage, not the other stages' two."""
    spec = kvl.CacheSpec(mf.FULL_ATTENTION, 16, 100)
    groups = kvl.group_layers([spec] * 3)
    assert kvl.bytes_per_block(groups, [range(0, 1), range(1, 2), range(2, 3)]) == 100


def test_the_older_token_report_multiplies_by_the_dcp_ranks():
    """vllm/v1/core/kv_cache_utils.py _report_kv_cache_config: num_blocks // groups × the
    smallest block, then `num_tokens *= pcp_size * dcp_size` when above 1."""
    spec = kvl.CacheSpec(mf.FULL_ATTENTION, 16, 16384)
    groups = [kvl.Group(spec, (0,), 16384)]
    assert kvl.pool(groups, 100 * 16384, 8192, 0, False, dcp=2).tokens == 100 * 16 * 2
