"""How vLLM lays out one GPU's KV cache: each layer's cache spec (its kind, page bytes and
block size), vLLM's grouping of the layers into KV-cache groups that share one page size,
and what a pool of blocks then holds (blocks per request, concurrency, the token figure vLLM
logs as "GPU KV cache size: N tokens").

Encoded from vLLM's source, read in the 0.32.0 wheel (the pinned prod version; the same
functions in the 0.26.0–0.31.0 wheels):
- specs, vllm/v1/kv_cache_interface.py: AttentionSpec.page_size_bytes (block × KV heads ×
  (head_size + head_size_v) × dtype bytes; MLA has one head and no V), the per-request bytes
  FullAttentionSpec / SlidingWindowSpec / MambaSpec.max_memory_usage_bytes, and
  ChunkedLocalAttentionSpec's (read in the 0.19.0 and 0.20.0 wheels);
- grouping, vllm/v1/core/kv_cache_utils.py: unify_hybrid_kv_cache_specs when the hybrid
  manager is off (without_hybrid_manager), get_kv_cache_groups (one spec → one group; one
  type → UniformTypeKVCacheSpecs; else unify_kv_cache_spec_page_size, then
  _get_kv_cache_groups_uniform_page_size with its group size and padding rule);
- the pool, same file: get_kv_cache_config_from_groups (num_blocks = available //
  bytes per block, the fullest group's pages), get_max_concurrency_for_kv_cache_config and
  get_kv_cache_capacity;
- the hybrid attention/linear-attention block size, vllm/platforms/interface.py
  _align_hybrid_block_size, and the Gated DeltaNet state, vllm/model_executor/layers/mamba/
  mamba_utils.py MambaStateShapeCalculator.gated_delta_net_state_shape (Kimi-Linear's KDA
  state: kda_state_shape and MambaStateDtypeCalculator.kda_state_dtype, 0.12.0 and 0.20.0).
tests/planning/test_kv_layout.py pins it with the cases of vLLM's own
tests/v1/core/test_kv_cache_utils.py.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import facts
from facts import model_families


def cdiv(value: float, divisor: float) -> int:
    """Ceiling division, as vllm.utils.math_utils.cdiv."""
    return -(-int(value) // int(divisor))


# --- One layer's cache -----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CacheSpec:
    """One layer's KV-cache spec, as vLLM's KVCacheSpec: two layers with equal specs share a
    group. kind is model_families.FULL_ATTENTION, SLIDING_ATTENTION, CHUNKED_ATTENTION, MLA
    or LINEAR_ATTENTION (per-request state, vLLM's MambaSpec)."""

    kind: str
    block_size: int
    page_bytes: float
    """Bytes of one block of this layer, padding included (page_size_bytes)."""
    sliding_window: int = 0
    state_blocks: int = 1
    """Blocks a request holds of a state layer: 1 (+ speculative tokens), 2 when prefix
    caching keeps a checkpoint (MambaSpec.max_memory_usage_bytes, mamba_cache_mode align)."""
    role: str = ""
    """Tells apart specs of one kind that differ in size only (DSA's indexer beside MLA)."""
    attention_chunk_size: int = 0
    """Tokens per chunk of a chunked-local-attention layer (Llama 4: 8192)."""

    def blocks_per_request(self, max_model_len: int, in_flight_tokens: int,
                           dcp: int = 1) -> int:
        """Blocks one max_model_len request holds in this layer's group:
        - full attention and MLA: cdiv(max_model_len / DCP, block) (DCP shards positions);
        - sliding window: cdiv(min(window − 1 + in-flight tokens, max_model_len), block) + 1
          (SlidingWindowSpec.max_admission_blocks_per_request: +1 as the window may start
          mid-block);
        - chunked local attention: cdiv(min(chunk + in-flight tokens, max_model_len), block)
          (ChunkedLocalAttentionSpec.max_memory_usage_bytes: chunks start on a chunk, and so
          on a block, boundary, so no extra block);
        - linear-attention state: state_blocks, whatever the length."""
        if model_families.keeps_state(self.kind):
            return self.state_blocks
        if model_families.keeps_chunk(self.kind):
            if self.attention_chunk_size <= 0:
                raise ValueError("a chunked-local-attention spec needs its "
                                 "attention_chunk_size")
            tokens = min(self.attention_chunk_size + in_flight_tokens, max_model_len)
            return cdiv(tokens, self.block_size)
        if model_families.keeps_window(self.kind):
            tokens = min(self.sliding_window - 1 + in_flight_tokens, max_model_len)
            return cdiv(tokens, self.block_size) + 1
        return cdiv(cdiv(max_model_len, dcp), self.block_size)

    def type_key(self) -> tuple:
        """What UniformTypeKVCacheSpecs.is_uniform_type compares: the kind, the block size
        and, for sliding windows and chunks, the window or chunk (layers needing the same
        token slots)."""
        return (self.kind, self.block_size, self.sliding_window, self.state_blocks,
                self.page_bytes if model_families.keeps_state(self.kind) else 0,
                self.attention_chunk_size)


def attention_page_bytes(block_size: int, kv_heads: int, head_size: int, head_size_v: int,
                         dtype_bytes: float) -> float:
    """AttentionSpec.page_size_bytes = block × KV heads × (head_size + head_size_v) × dtype
    bytes. Standard attention keeps K and V (head_size_v = head_size); MLA keeps one latent
    of kv_lora_rank + qk_rope_head_dim in one head with no V. Example (vLLM's test layer:
    16 tokens, 2 heads, 64, fp32): 16 × 2 × 128 × 4 = 16,384 B."""
    return block_size * kv_heads * (head_size + head_size_v) * dtype_bytes


def gated_delta_net_state_bytes(linear: dict, tensor_parallel: int, dtype_bytes: int,
                                speculative_tokens: int = 0) -> int:
    """One Gated DeltaNet layer's per-request state on one GPU (MambaStateShapeCalculator
    .gated_delta_net_state_shape; both states in the model dtype unless
    --mamba-ssm-cache-dtype says otherwise):
      conv state  = (2 × key heads × key dim + value heads × value dim) / TP
                    × (conv kernel − 1 + speculative tokens)
      temporal    = value heads / TP × value dim × key dim
    Qwen3-Next-80B at TP 1, bf16: (8192 × 3 + 32 × 128 × 128) × 2 = 1,097,728 B."""
    conv_dim = (2 * linear["num_key_heads"] * linear["key_head_dim"]
                + linear["num_value_heads"] * linear["value_head_dim"])
    conv = conv_dim // tensor_parallel * (linear["conv_kernel_dim"] - 1 + speculative_tokens)
    temporal = (linear["num_value_heads"] // tensor_parallel * linear["value_head_dim"]
                * linear["key_head_dim"])
    return (conv + temporal) * dtype_bytes


GATED_DELTA_NET = "gated_delta_net"
KDA = "kda"
LINEAR_STATE_KINDS = (GATED_DELTA_NET, KDA)
"""The linear-attention layers whose per-request state the plan sizes (model.facts
.linearAttention.kind): Qwen3-Next's Gated DeltaNet, Kimi-Linear's Kimi Delta Attention."""
KDA_RECURRENT_STATE_BYTES = 4
"""KDA's recurrent state is float32 whatever the model dtype (MambaStateDtypeCalculator
.kda_state_dtype: (state, state, state, torch.float32))."""


def kda_state_bytes(linear: dict, tensor_parallel: int, dtype_bytes: int) -> int:
    """One Kimi Delta Attention layer's per-request state on one GPU
    (vllm/model_executor/layers/mamba/mamba_utils.py MambaStateShapeCalculator.kda_state_shape,
    read in the 0.12.0 and 0.20.0 wheels; kda.py KimiDeltaAttention.get_state_shape):
      three conv states (q, k, v) = 3 × heads × head_dim / TP × (conv kernel − 1), model dtype
      recurrent state = heads / TP × head_dim × head_dim, float32
    (the facts carry KDA's heads and head_dim in the key/value keys: num_value_heads, key_head_dim).
    Kimi-Linear-48B at TP 1, bf16: 3 × 4096 × 3 × 2 + 32 × 128 × 128 × 4 = 2,170,880 B."""
    projection = linear["num_value_heads"] * linear["value_head_dim"]
    conv = 3 * (projection // tensor_parallel) * (linear["conv_kernel_dim"] - 1)
    recurrent = (linear["num_value_heads"] // tensor_parallel * linear["value_head_dim"]
                 * linear["key_head_dim"])
    return conv * dtype_bytes + recurrent * KDA_RECURRENT_STATE_BYTES


def linear_state_bytes(linear: dict, tensor_parallel: int, dtype_bytes: int) -> int:
    """One linear-attention layer's per-request state by its kind (linear["kind"], Gated
    DeltaNet when absent): gated_delta_net_state_bytes or kda_state_bytes."""
    if linear.get("kind", GATED_DELTA_NET) == KDA:
        return kda_state_bytes(linear, tensor_parallel, dtype_bytes)
    return gated_delta_net_state_bytes(linear, tensor_parallel, dtype_bytes)


KERNEL_BLOCK_ALIGNMENT = 16
"""The smallest kernel block of vLLM's CUDA attention backends (FlashAttention takes
MultipleOf(16)); _align_hybrid_block_size rounds the hybrid block to it."""
MLA_HYBRID_ALIGNMENT = 128
"""TRTLLM/FlashInfer MLA decode kernels want hybrid MLA/Mamba blocks in multiples of 128
(_align_hybrid_block_size)."""


def hybrid_block_size(state_page_bytes: float, attention_bytes_per_token: float,
                      block_size: int, mla: bool = False) -> int:
    """The attention block size vLLM picks for a hybrid attention/linear-attention model so
    that one attention page holds one layer's state (_align_hybrid_block_size):
      alignment = max(16, configured block[, 128 for MLA])
      block = alignment × cdiv(state bytes, alignment × attention bytes per token),
    kept when the configured block is larger. Qwen3-Next at TP 4: 16 × cdiv(274,432,
    16 × 1,024) = 272."""
    alignment = max(KERNEL_BLOCK_ALIGNMENT, block_size)
    if mla:
        alignment = max(alignment, MLA_HYBRID_ALIGNMENT)
    aligned = alignment * cdiv(state_page_bytes, alignment * attention_bytes_per_token)
    return max(block_size, aligned)


# --- Grouping layers (get_kv_cache_groups) ----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Group:
    """One KV-cache group: layers (indices into the model's spec list) that share a block
    table, and its spec (the first layer's; a one-type group may mix page sizes)."""

    spec: CacheSpec
    layers: tuple[int, ...]
    page_bytes: float
    """Bytes one block of the group takes: the sum of its layers' pages."""


class UnifyError(ValueError):
    """vLLM cannot bring the layers to one page size (unify_kv_cache_spec_page_size raises
    NotImplementedError): an MLA page that does not divide the largest page."""


def _one_group(specs: Sequence[CacheSpec]) -> Group:
    return Group(specs[0], tuple(range(len(specs))), sum(s.page_bytes for s in specs))


def unify_page_sizes(specs: Sequence[CacheSpec]) -> list[CacheSpec]:
    """unify_kv_cache_spec_page_size: every layer to the largest page. A smaller page that
    divides it grows its block size by the ratio; a state page, or a non-MLA attention page
    that does not divide it, is padded to it; anything else cannot be unified."""
    largest = max(s.page_bytes for s in specs)
    unified = []
    for spec in specs:
        if spec.page_bytes == largest:
            unified.append(spec)
        elif model_families.keeps_state(spec.kind):
            unified.append(dataclasses.replace(spec, page_bytes=largest))
        elif largest % spec.page_bytes == 0:
            ratio = int(largest // spec.page_bytes)
            unified.append(dataclasses.replace(spec, block_size=spec.block_size * ratio,
                                               page_bytes=largest))
        elif not model_families.is_mla_kind(spec.kind):
            unified.append(dataclasses.replace(spec, page_bytes=largest))
        else:
            raise UnifyError(f"an MLA page of {spec.page_bytes:g} B does not divide the "
                             f"largest page ({largest:g} B) and cannot be padded")
    return unified


PADDING_TOLERANCE = 1.5
"""_get_kv_cache_groups_uniform_page_size: when the largest kind has fewer than 1.5 × the
smallest kind's layers, the group size is the largest count (gpt-oss + EAGLE: 12 sliding +
13 full pad to 13 + 13), else the smallest count."""


def uniform_page_size_groups(specs: Sequence[CacheSpec]) -> list[Group]:
    """_get_kv_cache_groups_uniform_page_size: layers bucketed by equal spec (first
    appearance first), a group size from the smallest bucket (or the largest, within
    PADDING_TOLERANCE), each bucket split into cdiv(n, group size) groups taking every
    num_groups-th layer; the last group of a bucket may be short (padding layers)."""
    buckets: dict[CacheSpec, list[int]] = {}
    for index, spec in enumerate(specs):
        buckets.setdefault(spec, []).append(index)
    counts = [len(layers) for layers in buckets.values()]
    group_size = min(counts)
    if max(counts) < group_size * PADDING_TOLERANCE:
        group_size = max(counts)
    groups = []
    for spec, layers in buckets.items():
        num_groups = cdiv(len(layers), group_size)
        for start in range(num_groups):
            members = tuple(layers[start::num_groups])
            groups.append(Group(spec, members, spec.page_bytes * len(members)))
    return groups


CHUNKED_LOCAL_HYBRID_SINCE = "0.14.0"
"""vllm/envs.py VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE defaults to "0" in the 0.11.0
–0.13.0 wheels and to "1" from 0.14.0 (0.14.0–0.20.0 read; vllm-project/vllm#29627 flipped
it). With "0", VllmConfig.__post_init__ (vllm/config/vllm.py) disables the hybrid KV-cache
manager for any model with attention_chunk_size, and get_kv_cache_groups then runs
unify_hybrid_kv_cache_specs (without_hybrid_manager)."""


def chunked_local_on_hybrid_manager(version: "facts.vllm_features.Version") -> bool:
    """True when vLLM keeps chunked-local-attention layers as their own groups by default
    (CHUNKED_LOCAL_HYBRID_SINCE); False when it turns them into full attention."""
    return version >= facts.parse_version(CHUNKED_LOCAL_HYBRID_SINCE)


def without_hybrid_manager(specs: Sequence[CacheSpec]) -> list[CacheSpec]:
    """unify_hybrid_kv_cache_specs (vllm/v1/core/kv_cache_utils.py), for a hybrid manager that
    is off: layers of one type stay as they are; beside full attention, every sliding-window
    and chunked layer becomes full attention with its own page (FullAttentionSpec keeps
    page_size_padded); anything else cannot be brought to one type (vLLM's ValueError)."""
    if not specs or len({s.type_key() for s in specs}) == 1:
        return list(specs)
    if not any(s.kind == model_families.FULL_ATTENTION for s in specs):
        raise UnifyError("the hybrid KV-cache manager is off and the layers have no full "
                         "attention to convert their windows or chunks to")
    unified = [dataclasses.replace(s, kind=model_families.FULL_ATTENTION, sliding_window=0,
                                   attention_chunk_size=0)
               if model_families.keeps_window(s.kind) or model_families.keeps_chunk(s.kind)
               else s for s in specs]
    if len({s.type_key() for s in unified}) != 1:
        raise UnifyError("the hybrid KV-cache manager is off but the layers cannot be "
                         "converted to one type")
    return unified


def group_layers(specs: Sequence[CacheSpec]) -> list[Group]:
    """get_kv_cache_groups for the default configuration: no layers, no groups; one spec,
    one group; one type (equal token slots: all full attention, or all one window) with
    different pages, one group whose block is the sum of its pages; else the pages unified
    and the layers grouped by uniform_page_size_groups."""
    if not specs:
        return []
    if len(set(specs)) == 1 or len({s.type_key() for s in specs}) == 1:
        return [_one_group(specs)]
    return uniform_page_size_groups(unify_page_sizes(specs))


# --- The pool of blocks (get_kv_cache_config_from_groups, get_kv_cache_capacity) -----------

@dataclasses.dataclass(frozen=True)
class Pool:
    """What one GPU's KV budget holds under a grouping."""

    groups: tuple[Group, ...]
    bytes_per_block: float
    num_blocks: int
    blocks_per_request: int
    max_concurrency: float
    tokens: int


def bytes_per_block(groups: Sequence[Group], stages: Sequence[range] = ()) -> float:
    """_get_kv_cache_bytes_per_block: the fullest group's pages, on the pipeline stage whose
    groups are fullest (each stage's worker holds its own layers of every group,
    _project_kv_cache_groups_to_worker)."""
    if not stages:
        return max(group.page_bytes for group in groups)
    return max(sum(group.page_bytes / len(group.layers) for index in group.layers
                   if index in stage)
               for stage in stages for group in groups)


def blocks_per_request(groups: Sequence[Group], max_model_len: int, in_flight_tokens: int,
                       dcp: int = 1) -> int:
    """Blocks one max_model_len request takes from the shared pool: the sum over groups,
    each group's blocks at its own spec (get_max_concurrency_for_kv_cache_config)."""
    return sum(group.spec.blocks_per_request(max_model_len, in_flight_tokens, dcp)
               for group in groups)


def pool(groups: Sequence[Group], available_bytes: float, max_model_len: int,
         in_flight_tokens: int, concurrency_tokens: bool, dcp: int = 1,
         stages: Sequence[range] = ()) -> Pool:
    """The pool vLLM allocates and the figures it logs:
      num_blocks      = available bytes // bytes per block (0 when negative)
      max_concurrency = num_blocks / blocks per request
      tokens          = int(max_concurrency × max_model_len) when vLLM derives its "GPU KV
                        cache size" from the concurrency (concurrency_tokens), else
                        num_blocks // groups × the smallest block × DCP (the older report).
    """
    per_block = bytes_per_block(groups, stages)
    blocks = max(int(available_bytes // per_block), 0)
    per_request = blocks_per_request(groups, max_model_len, in_flight_tokens, dcp)
    concurrency = blocks / per_request
    if concurrency_tokens:
        tokens = int(concurrency * max_model_len)
    else:
        tokens = blocks // len(groups) * min(g.spec.block_size for g in groups) * dcp
    return Pool(tuple(groups), per_block, blocks, per_request, concurrency, tokens)


def longest_request(groups: Sequence[Group], num_blocks: int, in_flight_tokens: int,
                    dcp: int = 1) -> int:
    """The longest request whose blocks fit the pool (estimate_max_model_len's search,
    _estimate_max_model_len_from_groups, uncapped): 0 when not even one token fits. Groups
    that stop growing with the length (windows, states) stop limiting it; with no group that
    grows, the bound is num_blocks × the largest block × DCP + 1."""
    def fits(length: int) -> bool:
        return blocks_per_request(groups, length, in_flight_tokens, dcp) <= num_blocks

    if not fits(1):
        return 0
    low, high = 1, num_blocks * max(g.spec.block_size for g in groups) * dcp + 1
    if fits(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


CONCURRENT_BATCHES = 2
"""Batches scheduled but not yet settled with asynchronous scheduling (on by default: "Asynchronous
scheduling is enabled" in the 0.19 logs) on one pipeline stage of the V1 model runner
(max_concurrent_batches)."""


def max_concurrent_batches(pipeline_parallel: int, async_scheduling: bool,
                           v2_runner: bool) -> int:
    """VllmConfig.max_concurrent_batches (vllm/config/vllm.py, 0.26.0–0.33.0): with async
    scheduling PP + 1 on the V2 model runner and CONCURRENT_BATCHES at PP 1 on the V1 runner;
    otherwise PP (the V1 runner with PP, or no async scheduling). 0.34.0: PP + 1 with async
    scheduling (V2 only), else PP."""
    if async_scheduling:
        if v2_runner:
            return pipeline_parallel + 1
        if pipeline_parallel <= 1:
            return CONCURRENT_BATCHES
    return pipeline_parallel


# --- Reading the kinds from config.json ---------------------------------------------------------

LINEAR_KEYS = {"num_key_heads": "linear_num_key_heads",
               "num_value_heads": "linear_num_value_heads",
               "key_head_dim": "linear_key_head_dim",
               "value_head_dim": "linear_value_head_dim",
               "conv_kernel_dim": "linear_conv_kernel_dim"}
"""model.facts.linearAttention's keys and the config.json keys they come from (Qwen3-Next,
Qwen3.5: the names vLLM's qwen3_next.py get_mamba_state_shape_from_config reads)."""


def _config_layer_types(config: dict, layers: int) -> Optional[list[str]]:
    """config.json `layer_types` as given; else derived as the model's vLLM class does:
    full_attention_interval (Qwen3-Next: every n-th layer full, the rest linear), or
    sliding_window_pattern (Gemma 3: every n-th layer full, the rest sliding)."""
    if config.get("layer_types"):
        return list(config["layer_types"])
    if config.get("full_attention_interval"):
        every = config["full_attention_interval"]
        return [model_families.FULL_ATTENTION if (i + 1) % every == 0
                else model_families.LINEAR_ATTENTION for i in range(layers)]
    if config.get("sliding_window_pattern") and config.get("sliding_window"):
        every = config["sliding_window_pattern"]
        return [model_families.FULL_ATTENTION if (i + 1) % every == 0
                else model_families.SLIDING_ATTENTION for i in range(layers)]
    return None


def _kda_layer_types(config: dict) -> Optional[list[str]]:
    """Kimi-Linear's kinds from linear_attn_config: the 1-based kda_layers are KDA
    (linear_attention), the others full attention (MLA), as KimiLinearConfig.is_kda_layer
    reads them (vllm/transformers_utils/configs/kimi_linear.py)."""
    linear = config.get("linear_attn_config") or {}
    if not linear.get("kda_layers"):
        return None
    kda = set(linear["kda_layers"])
    return [model_families.LINEAR_ATTENTION if index + 1 in kda
            else model_families.FULL_ATTENTION for index in range(config["num_hidden_layers"])]


def _chunked_layer_types(config: dict) -> Optional[list[str]]:
    """Llama 4's kinds (vllm/model_executor/models/llama4.py Llama4Attention, 0.19.0/0.20.0):
    a layer is NoPE when no_rope_layers[i] == 0 and then full attention; the others take
    ChunkedLocalAttention when the config sets attention_chunk_size. None without a chunk."""
    if not config.get("attention_chunk_size"):
        return None
    rope = config.get("no_rope_layers")
    if not rope or len(rope) != config["num_hidden_layers"]:
        raise ValueError(
            f"config.json sets attention_chunk_size {config['attention_chunk_size']} but its "
            f"no_rope_layers ({rope!r}) does not give one entry per layer "
            f"({config['num_hidden_layers']}): which layers are chunked cannot be told; "
            "write model.facts.layerTypes by hand (chunked_attention where the layer uses "
            "RoPE, full_attention where no_rope_layers is 0)")
    return [model_families.FULL_ATTENTION if uses_rope == 0
            else model_families.CHUNKED_ATTENTION for uses_rope in rope]


def _kda_linear_facts(linear_attn_config: dict) -> dict:
    """model.facts.linearAttention of a KDA model: its heads and head_dim in the key/value
    keys (KDA's q, k and v share them) and short_conv_kernel_size as the conv kernel."""
    heads, dim = linear_attn_config["num_heads"], linear_attn_config["head_dim"]
    return {"kind": KDA, "num_key_heads": heads, "num_value_heads": heads,
            "key_head_dim": dim, "value_head_dim": dim,
            "conv_kernel_dim": linear_attn_config["short_conv_kernel_size"]}


def layout_facts_from_config(config: dict) -> dict:
    """The KV-layout keys of model.facts (layer_types, sliding_window, attention_chunk_size,
    linear_attention) from a
    model's config.json (its text_config for a multimodal one), for tools/model_facts. Kinds
    vLLM does not size differently are left out; a config without layer kinds gives {}."""
    config = config.get("text_config", config)
    kinds = (_kda_layer_types(config) or _chunked_layer_types(config)
             or _config_layer_types(config, config["num_hidden_layers"]))
    if not kinds or set(kinds) == {model_families.FULL_ATTENTION}:
        return {}
    unknown = set(kinds) - set(model_families.LAYER_KINDS)
    if unknown:
        raise ValueError(f"config.json layer_types has kinds the plan cannot size: "
                         f"{sorted(unknown)} (known: {', '.join(model_families.LAYER_KINDS)})")
    facts: dict = {"layer_types": kinds}
    if model_families.SLIDING_ATTENTION in kinds:
        facts["sliding_window"] = config["sliding_window"]
    if model_families.CHUNKED_ATTENTION in kinds and not config.get("attention_chunk_size"):
        raise ValueError("config.json layer_types has chunked_attention layers but no "
                         "attention_chunk_size: their chunk cannot be sized")
    if model_families.CHUNKED_ATTENTION in kinds:
        facts["attention_chunk_size"] = config["attention_chunk_size"]
    if model_families.LINEAR_ATTENTION in kinds and config.get("linear_attn_config"):
        facts["linear_attention"] = _kda_linear_facts(config["linear_attn_config"])
    elif model_families.LINEAR_ATTENTION in kinds:
        facts["linear_attention"] = {key: config[source] for key, source in LINEAR_KEYS.items()}
    return facts
