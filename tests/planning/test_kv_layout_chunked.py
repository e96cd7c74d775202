"""Llama 4's chunked local attention as a KV layer kind (planning/kv_layout.py): its per-request
blocks (vLLM's ChunkedLocalAttentionSpec.max_memory_usage_bytes), its grouping beside full
attention, its conversion to full attention when the hybrid KV-cache manager is off
(unify_hybrid_kv_cache_specs, pinned by vLLM's own test_unify_hybrid_kv_cache_specs), and the
kinds read from a Llama 4 config.json (no_rope_layers, attention_chunk_size)."""

from __future__ import annotations

import dataclasses

import pytest

import facts
from facts import model_families as mf
from planning import kv_layout as kvl
from planning.config import ModelFacts

GIB = 2**30


def full(page_padded: float | None = None, block: int = 16):
    """vLLM's test new_kv_cache_spec(): 16-token blocks, 2 KV heads of 64, fp32."""
    return kvl.CacheSpec(mf.FULL_ATTENTION, block,
                         page_padded or kvl.attention_page_bytes(block, 2, 64, 64, 4))


def chunked(chunk: int = 4, page_padded: float | None = None, block: int = 16):
    """vLLM's test new_chunked_local_attention_spec()."""
    return kvl.CacheSpec(mf.CHUNKED_ATTENTION, block,
                         page_padded or kvl.attention_page_bytes(block, 2, 64, 64, 4),
                         attention_chunk_size=chunk)


def sliding(window: int = 1, page_padded: float | None = None):
    """vLLM's test new_sliding_window_spec()."""
    return kvl.CacheSpec(mf.SLIDING_ATTENTION, 16,
                         page_padded or kvl.attention_page_bytes(16, 2, 64, 64, 4),
                         sliding_window=window)


# --- One layer's blocks per request (ChunkedLocalAttentionSpec.max_memory_usage_bytes) ------

@pytest.mark.parametrize("max_model_len, in_flight, blocks", [
    (16, 1024, 1),             # capped by the request's length: cdiv(16, 16)
    (4096, 1024, 96),          # cdiv(512 + 1024, 16): the chunk and the tokens in flight
    (8192, 8192, 512),         # Llama-4-Scout's chunk of 8192 at 8192 tokens: the whole length
])
def test_a_chunked_layer_holds_its_chunk_and_the_tokens_in_flight_capped_by_the_length(
        max_model_len, in_flight, blocks):
    spec = chunked(chunk=512 if max_model_len < 8192 else 8192)
    assert spec.blocks_per_request(max_model_len, in_flight) == blocks


def test_a_chunk_starts_on_a_chunk_boundary_so_it_needs_no_extra_block_unlike_a_window():
    """SlidingWindowSpec adds one block (its window may start mid-block); a chunk does not."""
    assert chunked(chunk=512).blocks_per_request(4096, 1024) == 96
    assert sliding(window=513).blocks_per_request(4096, 1024) == 97


def test_chunked_layers_of_different_chunk_sizes_are_different_types():
    """UniformTypeKVCacheSpecs.is_uniform_type: chunked layers are one type only with one
    chunk size."""
    assert chunked(chunk=512).type_key() != chunked(chunk=1024).type_key()
    assert len(kvl.group_layers([chunked(chunk=512), chunked(chunk=512)])) == 1


# --- Grouping beside full attention (get_kv_cache_groups) -----------------------------------

def _llama4_layers(page: float = 16384):
    """Llama-4-Scout's 48 layers: chunked on the RoPE layers, full on every fourth."""
    return [kvl.CacheSpec(mf.FULL_ATTENTION, 16, page) if (i + 1) % 4 == 0
            else kvl.CacheSpec(mf.CHUNKED_ATTENTION, 16, page, attention_chunk_size=8192)
            for i in range(48)]


def test_llama4s_36_chunked_and_12_full_layers_form_three_chunked_groups_and_one_full():
    """vllm-project/vllm#21761: "(FullAttention x 12) (ChunkedLocalAttention x 12)
    (ChunkedLocalAttention x 12) (ChunkedLocalAttention x 12)"."""
    groups = kvl.group_layers(_llama4_layers())
    assert sorted((g.spec.kind, len(g.layers)) for g in groups) == sorted(
        [(mf.FULL_ATTENTION, 12)] + [(mf.CHUNKED_ATTENTION, 12)] * 3)
    chunked_layers = [i for i in range(48) if (i + 1) % 4]
    assert [g.layers for g in groups if g.spec.kind == mf.CHUNKED_ATTENTION] == [
        tuple(chunked_layers[k::3]) for k in range(3)]


def test_up_to_the_chunk_the_hybrid_pool_holds_what_an_all_full_pool_holds():
    """lldp2-llama4-scout-tp4 (vLLM 0.19.0, TP 4, 2 KV heads × 128 bf16 per GPU,
    max_model_len 8192 = the chunk): 16.75 GiB available → "GPU KV cache size: 365,968
    tokens" (16.75 is rounded to two decimals in the log)."""
    available = 16.75 * GIB
    hybrid = kvl.group_layers(_llama4_layers())
    as_full = kvl.group_layers([kvl.CacheSpec(mf.FULL_ATTENTION, 16, 16384)] * 48)
    hybrid_pool = kvl.pool(hybrid, available, 8192, 2 * 8192, concurrency_tokens=True)
    full_pool = kvl.pool(as_full, available, 8192, 2 * 8192, concurrency_tokens=True)
    assert abs(hybrid_pool.tokens - full_pool.tokens) <= 8192 // 48
    assert abs(hybrid_pool.tokens - 365_968) / 365_968 < 0.001


def test_beyond_the_chunk_the_hybrid_pool_holds_more_tokens_than_an_all_full_pool():
    available = 16.75 * GIB
    hybrid = kvl.pool(kvl.group_layers(_llama4_layers()), available, 131072, 16384, True)
    as_full = kvl.pool(kvl.group_layers([kvl.CacheSpec(mf.FULL_ATTENTION, 16, 16384)] * 48),
                       available, 131072, 16384, True)
    # per request: 8192 full blocks + 3 chunked groups × cdiv(8192 + 16384, 16) blocks,
    # against 4 × 8192 for the same 48 layers all full
    assert hybrid.blocks_per_request == 8192 + 3 * 1536
    assert hybrid.tokens > 2 * as_full.tokens


# --- Without the hybrid manager (unify_hybrid_kv_cache_specs) ---------------------------------

def test_without_the_hybrid_manager_chunked_layers_become_full_attention_with_their_page():
    """test_unify_hybrid_kv_cache_specs case 2: full + chunked (page padded to 32 KiB,
    chunk 512) → two full-attention specs, the second keeping its padded page."""
    unified = kvl.without_hybrid_manager([full(), chunked(512, page_padded=32 * 1024)])
    assert unified == [full(), full(page_padded=32 * 1024)]


def test_without_the_hybrid_manager_windows_and_chunks_beside_full_attention_all_become_full():
    """test_unify_hybrid_kv_cache_specs cases 1 and 3."""
    unified = kvl.without_hybrid_manager([full(), sliding(1024, page_padded=32 * 1024),
                                          chunked(512, page_padded=32 * 1024)])
    assert unified == [full(), full(page_padded=32 * 1024), full(page_padded=32 * 1024)]
    assert len(kvl.group_layers(unified)) == 1


def test_without_the_hybrid_manager_windows_and_chunks_without_full_attention_cannot_run():
    """test_unify_hybrid_kv_cache_specs case 4: no full attention, nothing to convert to."""
    with pytest.raises(kvl.UnifyError):
        kvl.without_hybrid_manager([sliding(1024), chunked(512)])


def test_one_type_of_layer_is_left_as_it_is_without_the_hybrid_manager():
    specs = [chunked(512), chunked(512)]
    assert kvl.without_hybrid_manager(specs) == specs


@pytest.mark.parametrize("version, hybrid", [
    ("0.11.0", False), ("0.13.0", False), ("0.14.0", True), ("0.19.0", True),
    ("0.20.0", True),
])
def test_chunked_local_attention_runs_on_the_hybrid_manager_from_vllm_0_14(version, hybrid):
    """vllm/envs.py VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE defaults to "0" in the
    0.11.0–0.13.0 wheels and "1" from 0.14.0 (vllm-project/vllm#29627); with "0"
    VllmConfig.__post_init__ disables the hybrid manager for a model with
    attention_chunk_size."""
    assert kvl.chunked_local_on_hybrid_manager(facts.parse_version(version)) is hybrid


# --- The kinds from config.json ---------------------------------------------------------------

SCOUT_TEXT_CONFIG = {
    "model_type": "llama4_text", "num_hidden_layers": 48, "attention_chunk_size": 8192,
    "no_rope_layers": [1, 1, 1, 0] * 12,
}
"""Llama-4-Scout-17B-16E's text_config (the keys read here; benchmark/stack_facts.yaml cites
the stored copy)."""


def test_llama4s_rope_layers_are_chunked_and_its_nope_layers_full():
    """llama4.py Llama4Attention: nope = no_rope_layers[i] == 0; use_chunked_local_attn =
    not nope and attention_chunk_size."""
    layout = kvl.layout_facts_from_config({"model_type": "llama4",
                                           "text_config": SCOUT_TEXT_CONFIG})
    assert layout["attention_chunk_size"] == 8192
    assert layout["layer_types"] == (
        [mf.CHUNKED_ATTENTION] * 3 + [mf.FULL_ATTENTION]) * 12


def test_a_llama4_config_without_a_chunk_size_has_only_full_attention():
    config = dict(SCOUT_TEXT_CONFIG, attention_chunk_size=None)
    assert kvl.layout_facts_from_config(config) == {}


def test_a_llama4_config_with_a_chunk_but_without_no_rope_layers_is_refused_naming_the_key():
    config = {key: value for key, value in SCOUT_TEXT_CONFIG.items()
              if key != "no_rope_layers"}
    with pytest.raises(ValueError, match="no_rope_layers"):
        kvl.layout_facts_from_config(config)


def test_chunked_layer_types_without_their_chunk_size_are_refused_naming_the_key():
    with pytest.raises(ValueError, match="attention_chunk_size"):
        kvl.layout_facts_from_config({"num_hidden_layers": 1,
                                      "layer_types": [mf.CHUNKED_ATTENTION]})


def _facts(**overrides):
    base = dict(hf_id="x/y", architecture="Llama4ForConditionalGeneration", params_b=1.0,
                weights_dtype="bf16", layers=4, hidden_size=64, intermediate_size=64,
                vocab_size=64, attention={"kind": "gqa", "heads": 4, "kv_heads": 2,
                                          "head_dim": 16}, max_context=1024,
                layer_types=[mf.CHUNKED_ATTENTION] * 3 + [mf.FULL_ATTENTION])
    base.update(overrides)
    return ModelFacts.model_validate(base)


def test_model_facts_with_chunked_layers_need_the_chunk_size():
    with pytest.raises(ValueError, match="attentionChunkSize"):
        _facts()
    assert _facts(attention_chunk_size=8192).attention_chunk_size == 8192


def test_a_chunked_spec_without_its_chunk_cannot_be_sized():
    with pytest.raises(ValueError, match="attention_chunk_size"):
        dataclasses.replace(chunked(), attention_chunk_size=0).blocks_per_request(64, 16)


def test_without_the_hybrid_manager_a_state_layer_beside_chunks_cannot_be_unified():
    """unify_hybrid_kv_cache_specs converts only windows and chunks: a Mamba-like state left
    beside full attention is not one type, so vLLM raises."""
    state = kvl.CacheSpec(mf.LINEAR_ATTENTION, 16, 16384)
    with pytest.raises(kvl.UnifyError):
        kvl.without_hybrid_manager([full(), chunked(512), state])


def test_a_chunk_plus_the_tokens_in_flight_equal_to_the_length_takes_the_whole_length():
    assert chunked(chunk=512).blocks_per_request(1536, 1024) == 96
    assert chunked(chunk=512).blocks_per_request(1537, 1024) == 96
    assert chunked(chunk=512).blocks_per_request(1535, 1024) == 96
    assert chunked(chunk=512).blocks_per_request(1520, 1024) == 95


def test_a_one_token_chunk_is_a_chunk_not_a_missing_one():
    """Any positive attention_chunk_size is sized (cdiv(min(1 + 16, 64), 16) = 2 blocks); only
    a chunked spec without one is refused."""
    assert chunked(chunk=1).blocks_per_request(64, 16) == 2
