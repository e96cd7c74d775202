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
from facts import model_families, vllm_cli


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
    per_block_state: bool = False
    """A state layer that keeps one state per block of tokens (mamba cache mode 'all',
    before vLLM 0.32: keep_state_per_block), so its blocks grow with the request."""

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
        - linear-attention state: state_blocks, whatever the length; with a state per block
          (mamba cache mode 'all'), cdiv(max_model_len, block) (MambaSpec
          .max_memory_usage_bytes, 0.15.0-0.31.0; no DCP split: states are replicated)."""
        if model_families.keeps_state(self.kind) and self.per_block_state:
            return cdiv(max_model_len, self.block_size)
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
                self.attention_chunk_size, self.per_block_state)


def with_latent_pages(specs: Sequence[CacheSpec],
                      latent_bytes_per_token: Optional[int]) -> list[CacheSpec]:
    """Each MLA layer's own page at `latent_bytes_per_token` (a DSA cache in the format vLLM
    stores it: facts/sparse_mla.py latent_bytes_per_token), the indexer's and every other
    spec as they are; None keeps every spec."""
    if latent_bytes_per_token is None:
        return list(specs)
    return [dataclasses.replace(spec, page_bytes=spec.block_size * latent_bytes_per_token)
            if spec.kind == model_families.MLA and not spec.role else spec for spec in specs]


def attention_page_bytes(block_size: int, kv_heads: int, head_size: int, head_size_v: int,
                         dtype_bytes: float) -> float:
    """AttentionSpec.page_size_bytes = block × KV heads × (head_size + head_size_v) × dtype
    bytes. Standard attention keeps K and V (head_size_v = head_size); MLA keeps one latent
    of kv_lora_rank + qk_rope_head_dim in one head with no V. Example (vLLM's test layer:
    16 tokens, 2 heads, 64, fp32): 16 × 2 × 128 × 4 = 16,384 B."""
    return block_size * kv_heads * (head_size + head_size_v) * dtype_bytes


def gated_delta_net_state_bytes(linear: dict, tensor_parallel: int, conv_bytes: int,
                                ssm_bytes: Optional[int] = None,
                                speculative_tokens: int = 0) -> int:
    """One Gated DeltaNet layer's per-request state on one GPU (MambaStateShapeCalculator
    .gated_delta_net_state_shape; dtypes MambaStateDtypeCalculator.gated_delta_net_state_dtype,
    0.17.0-0.34.0 wheels: conv in --mamba-cache-dtype, temporal in --mamba-ssm-cache-dtype,
    the conv's when auto, so ssm_bytes None is conv_bytes):
      conv state  = (2 × key heads × key dim + value heads × value dim) / TP
                    × (conv kernel − 1 + speculative tokens), conv bytes
      temporal    = value heads / TP × value dim × key dim, SSM bytes
    Qwen3-Next-80B at TP 1, bf16: (8192 × 3 + 32 × 128 × 128) × 2 = 1,097,728 B; Qwen3.5-27B's
    float32 temporal state: 10,240 × 3 × 2 + 48 × 128 × 128 × 4 = 3,207,168 B."""
    conv_dim = (2 * linear["num_key_heads"] * linear["key_head_dim"]
                + linear["num_value_heads"] * linear["value_head_dim"])
    conv = conv_dim // tensor_parallel * (linear["conv_kernel_dim"] - 1 + speculative_tokens)
    temporal = (linear["num_value_heads"] // tensor_parallel * linear["value_head_dim"]
                * linear["key_head_dim"])
    return conv * conv_bytes + temporal * (conv_bytes if ssm_bytes is None else ssm_bytes)


GATED_DELTA_NET = "gated_delta_net"
KDA = "kda"
MAMBA2 = "mamba2"
"""A Mamba2 mixer (Nemotron-H, Granite-4.0-H), in the facts' key and value keys by the
state-space duality: value heads × value dim = the SSM heads × head dim (the intermediate
size), key heads = the groups of B and C, key dim = the state size."""
LINEAR_STATE_KINDS = (GATED_DELTA_NET, KDA, MAMBA2)
"""The linear-attention layers whose per-request state the plan sizes (model.facts
.linearAttention.kind): Qwen3-Next's Gated DeltaNet, Kimi-Linear's Kimi Delta Attention,
Mamba2."""
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


def extra_groups_for_head_shards(groups: int, tensor_parallel: int) -> int:
    """MambaStateShapeCalculator.extra_groups_for_head_shards (mamba_utils.py): 0 when TP
    divides the groups, else TP − groups (a single group is replicated to every rank)."""
    if groups % tensor_parallel == 0:
        return 0
    return tensor_parallel - groups


def mamba2_state_bytes(linear: dict, tensor_parallel: int, conv_bytes: int,
                       ssm_bytes: int, speculative_tokens: int = 0) -> int:
    """One Mamba2 layer's per-request state on one GPU (MambaStateShapeCalculator
    .mamba2_state_shape, 0.19.0-0.34.0 wheels; dtypes MambaStateDtypeCalculator
    .mamba2_state_dtype: conv in --mamba-cache-dtype, SSM in --mamba-ssm-cache-dtype):
      groups      = groups + extra_groups_for_head_shards(groups, TP)
      conv state  = (heads × head dim + 2 × groups × state size) / TP
                    × (conv kernel − 1 + speculative tokens), conv bytes
      SSM state   = heads / TP × head dim × state size, SSM bytes
    NVIDIA-Nemotron-Nano-9B-v2 at TP 1: 12,288 × 3 × 2 + 128 × 80 × 128 × 4 = 5,316,608 B."""
    heads, head_dim = linear["num_value_heads"], linear["value_head_dim"]
    groups = linear["num_key_heads"]
    groups += extra_groups_for_head_shards(groups, tensor_parallel)
    conv_dim = heads * head_dim + 2 * groups * linear["key_head_dim"]
    conv = conv_dim // tensor_parallel * (linear["conv_kernel_dim"] - 1 + speculative_tokens)
    ssm = heads // tensor_parallel * head_dim * linear["key_head_dim"]
    return conv * conv_bytes + ssm * ssm_bytes


def linear_state_bytes(linear: dict, tensor_parallel: int, dtype_bytes: int,
                       ssm_bytes: Optional[int] = None) -> int:
    """One linear-attention layer's per-request state by its kind (linear["kind"], Gated
    DeltaNet when absent): gated_delta_net_state_bytes, kda_state_bytes or
    mamba2_state_bytes (a Gated DeltaNet's or Mamba2's SSM state in ssm_bytes, the model's
    dtype_bytes when None)."""
    if linear.get("kind") == KDA:
        return kda_state_bytes(linear, tensor_parallel, dtype_bytes)
    if linear.get("kind") == MAMBA2:
        return mamba2_state_bytes(linear, tensor_parallel, dtype_bytes,
                                  dtype_bytes if ssm_bytes is None else ssm_bytes)
    return gated_delta_net_state_bytes(linear, tensor_parallel, dtype_bytes, ssm_bytes)


STATE_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
"""vLLM's MambaDType values (vllm/config/cache.py: auto, float32, float16, bfloat16) and
their bytes; auto is the model's dtype (get_kv_cache_torch_dtype)."""


def state_dtype_bytes(name: str, model_bytes: int) -> int:
    """Bytes of one state value in a --mamba(-ssm)-cache-dtype: the model's when auto."""
    return model_bytes if name == "auto" else STATE_DTYPE_BYTES[name]


NEMOTRON_H_SSM_PIN_SINCE = "0.13.0"
"""vllm/model_executor/models/config.py NemotronHForCausalLMConfig.verify_and_update_config
sets an auto mamba_ssm_cache_dtype to config.json's mamba_ssm_cache_dtype, else a default;
present in the 0.13.0 wheel, absent from 0.12.0."""
NEMOTRON_H_SSM_FLOAT32_SINCE = "0.20.0"
"""The default is "float16" in the 0.13.0-0.19.0 wheels and DEFAULT_MAMBA_SSM_CACHE_DTYPE
"float32" ("Only float32 is known to have no accuracy issues") from 0.20.0 (to 0.34.0)."""
QWEN3_5_SSM_PIN_SINCE = "0.17.0"
"""vllm/model_executor/models/config.py Qwen3_5ForConditionalGenerationConfig
.verify_and_update_config sets an auto mamba_ssm_cache_dtype to text_config's mamba_ssm_dtype
(Qwen3.5/3.6: float32) and leaves it auto when that is absent (no default); a flag other than
auto wins with a warning. In the 0.17.0 (the first wheel with qwen3_5.py; 0.16.0 has neither),
0.19.0, 0.26.0 and 0.34.0 wheels."""


def ssm_cache_dtype(architecture: str, pinned: Optional[str],
                    version: "facts.vllm_features.Version", flag: Optional[str]) -> str:
    """The SSM state dtype vLLM runs: --mamba-ssm-cache-dtype when given and not auto; for
    Nemotron-H (model_families.pins_ssm_cache_dtype) from NEMOTRON_H_SSM_PIN_SINCE its
    config.json pin (pinned), else float16 (float32 from NEMOTRON_H_SSM_FLOAT32_SINCE); for
    Qwen3.5 from QWEN3_5_SSM_PIN_SINCE its pin when it has one; else auto (the conv dtype)."""
    if flag and flag != "auto":
        return flag
    if not model_families.pins_ssm_cache_dtype(architecture):
        return "auto"
    if architecture in model_families.QWEN3_5_ARCHITECTURES:
        since = facts.parse_version(QWEN3_5_SSM_PIN_SINCE)
        return pinned if pinned and version >= since else "auto"
    if version >= facts.parse_version(NEMOTRON_H_SSM_PIN_SINCE):
        if pinned:
            return pinned
        return ("float32" if version >= facts.parse_version(NEMOTRON_H_SSM_FLOAT32_SINCE)
                else "float16")
    return "auto"


def state_dtypes(architecture: str, linear: Optional[dict], version:
                 "facts.vllm_features.Version", extra_args: Sequence[str],
                 model_bytes: int = 2) -> tuple[int, int]:
    """(conv bytes, SSM bytes) of a linear-attention state (MambaStateDtypeCalculator
    ._mamba_state_dtype): conv in --mamba-cache-dtype (auto: the model's), SSM in
    ssm_cache_dtype's choice, or the conv dtype when that is auto."""
    conv = state_dtype_bytes(vllm_cli.flag_value(extra_args, "--mamba-cache-dtype") or "auto",
                             model_bytes)
    ssm = ssm_cache_dtype(architecture, (linear or {}).get("ssm_cache_dtype"), version,
                          vllm_cli.flag_value(extra_args, "--mamba-ssm-cache-dtype"))
    return conv, state_dtype_bytes(ssm, conv)


def state_note(linear: dict, tensor_parallel: int, conv_bytes: int, ssm_bytes: int) -> str:
    """One layer's state, its dtypes and its vLLM source, for the plan's reason."""
    kind = linear.get("kind", GATED_DELTA_NET)
    state = linear_state_bytes(linear, tensor_parallel, conv_bytes, ssm_bytes)
    dtypes = (f"conv {conv_bytes} B, SSM {ssm_bytes} B a value" if kind != KDA
              else f"{conv_bytes} B a value")
    return (f"one {kind} layer's state {state:,} B at TP {tensor_parallel} ({dtypes}; vllm/"
            f"model_executor/layers/mamba/mamba_utils.py {kind}_state_shape)")


KERNEL_BLOCK_ALIGNMENT = 16
"""The smallest kernel block of vLLM's CUDA attention backends (FlashAttention takes
MultipleOf(16)); _align_hybrid_block_size rounds the hybrid block to it."""
MLA_HYBRID_ALIGNMENT = 128
"""TRTLLM/FlashInfer MLA decode kernels want hybrid MLA/Mamba blocks in multiples of 128
(_align_hybrid_block_size, from MLA_HYBRID_ALIGNMENT_SINCE)."""
MLA_HYBRID_ALIGNMENT_SINCE = "0.27.0"
"""vllm/platforms/interface.py _align_hybrid_block_size takes max(kernel block, 128) for MLA
in the 0.27.0-0.34.0 wheels; the 0.20.0-0.26.0 wheels have no such line."""
MLA_HYBRID_BACKEND_ALIGNMENT_SINCE = "0.20.0"
"""From 0.20.0 the rule moved to vllm/platforms/interface.py _align_hybrid_block_size: the
chosen backend's smallest kernel block (get_supported_kernel_block_sizes). Before, vllm/
model_executor/models/config.py HybridAttentionMambaModelConfig.verify_and_update_config
(0.12.0-0.19.0 wheels) took 64 for MLA, 128 with the CUTLASS_MLA backend only."""
MLA_HYBRID_ALIGNMENT_FIXED = 64
"""The MLA hybrid alignment before MLA_HYBRID_BACKEND_ALIGNMENT_SINCE (CUTLASS_MLA, 128,
is not the default backend and not configurable here). Kimi-Linear on 2 × RTX 3090 at TP 2
(vllm#28228): 64 × cdiv(1,085,440, 64 × 1,152) = 960-token blocks, 75,840 tokens logged."""
MLA_BACKEND_BLOCK_BY_MAJOR = {10: 32}
"""The default MLA backend's smallest kernel block by compute capability major (0.26.0
vllm/platforms/cuda.py _get_backend_priorities): FLASHINFER_MLA ([32, 64]) first on SM 10.x;
FLASH_ATTN_MLA (SM 9.x) or TRITON_MLA, both MultipleOf(16), elsewhere (KERNEL_BLOCK_ALIGNMENT)."""


def mla_hybrid_alignment(version: "facts.vllm_features.Version",
                         compute_capability: float) -> int:
    """The token multiple vLLM rounds an MLA hybrid's attention block to, by version:
    MLA_HYBRID_ALIGNMENT_FIXED before 0.20, the default MLA backend's smallest kernel block
    (MLA_BACKEND_BLOCK_BY_MAJOR) in 0.20-0.26, MLA_HYBRID_ALIGNMENT from 0.27."""
    if version >= facts.parse_version(MLA_HYBRID_ALIGNMENT_SINCE):
        return MLA_HYBRID_ALIGNMENT
    if version >= facts.parse_version(MLA_HYBRID_BACKEND_ALIGNMENT_SINCE):
        return MLA_BACKEND_BLOCK_BY_MAJOR.get(int(compute_capability), KERNEL_BLOCK_ALIGNMENT)
    return MLA_HYBRID_ALIGNMENT_FIXED


def hybrid_block_size(state_page_bytes: float, attention_bytes_per_token: float,
                      block_size: int, mla: bool = False,
                      mla_alignment: int = MLA_HYBRID_ALIGNMENT) -> int:
    """The attention block size vLLM picks for a hybrid attention/linear-attention model so
    that one attention page holds one layer's state (_align_hybrid_block_size):
      alignment = max(16, configured block[, the MLA alignment for MLA: mla_hybrid_alignment])
      block = alignment × cdiv(state bytes, alignment × attention bytes per token),
    kept when the configured block is larger. Qwen3-Next at TP 4: 16 × cdiv(274,432,
    16 × 1,024) = 272."""
    alignment = max(KERNEL_BLOCK_ALIGNMENT, block_size)
    if mla:
        alignment = max(alignment, mla_alignment)
    aligned = alignment * cdiv(state_page_bytes, alignment * attention_bytes_per_token)
    return max(block_size, aligned)


MAMBA_ALIGN_MODE_SINCE = "0.28.0"
"""From 0.28.0 prefix caching puts every Mamba layer in mamba cache mode 'align' (2 state
blocks a request; vllm/model_executor/models/config.py MambaModelConfig sets 'align' where
the mode is 'none', 0.28.0-0.34.0 wheels). Before, a model that supports Mamba prefix caching
(SupportsMambaPrefixCaching: nemotron_h, granitemoehybrid, falcon_h1, zamba2, jamba in the
0.14.0-0.27.0 wheels) kept a state per block: mode 'all' from 0.15.0 ("all" if
supports_mamba_prefix_caching else "align" in 0.26.0/0.27.0), mamba_block_size = block_size
in 0.13.0-0.14.0."""
HYBRID_PREFIX_CACHING_SINCE = "0.28.0"
"""Prefix caching is on by default for a hybrid (linear-attention/Mamba) model from 0.28.0
(vllm/engine/arg_utils.py default_prefix_caching = is_prefix_caching_supported, which
vllm/config/model.py makes True for a generative hybrid, 0.28.0-0.34.0 wheels). Before it is
opt-in: is_prefix_caching_supported is False for hybrids in the 0.15.0-0.25.0 wheels, and
arg_utils excludes is_hybrid in the 0.26.0 and 0.27.0 wheels."""


def prefix_caching_default(linear_layers: bool, version: "facts.vllm_features.Version"
                           ) -> bool:
    """Whether vLLM turns prefix caching on by default: always for a model without
    linear-attention layers, from HYBRID_PREFIX_CACHING_SINCE for one with them."""
    return not linear_layers or version >= facts.parse_version(HYBRID_PREFIX_CACHING_SINCE)


DEFAULT_MAMBA_CHUNK_SIZE = 2048
"""ModelConfig.get_mamba_chunk_size (vllm/config/model.py, 0.26.0) when config.json has
neither mamba_chunk_size nor chunk_size."""


def keeps_state_per_block(linear: Optional[dict], version: "facts.vllm_features.Version",
                          prefix_caching_on: bool) -> bool:
    """True when vLLM keeps a Mamba2 state per block of tokens: prefix caching on, before
    MAMBA_ALIGN_MODE_SINCE (the Mamba2 families the facts read all support it)."""
    return (prefix_caching_on and (linear or {}).get("kind") == MAMBA2
            and version < facts.parse_version(MAMBA_ALIGN_MODE_SINCE))


def prefix_cached_block_size(state_page_bytes: float, attention_bytes_per_token: float,
                             block_size: int, chunk_size: int) -> int:
    """The hybrid block with a state per block (_align_hybrid_block_size, mode 'all', 0.26.0;
    HybridAttentionMambaModelConfig with prefix caching before 0.20): the SSD chunk and the
    kernel block's least common multiple, times the chunks one state page needs:
      chunk = lcm(chunk size, max(16, configured block))
      block = chunk × cdiv(cdiv(state bytes, attention bytes per token), chunk),
    kept when the configured block is larger. Nemotron-Nano-9B-v2, float32 SSM state:
    128 × cdiv(cdiv(5,316,608, 4,096), 128) = 1,408."""
    chunk = math.lcm(chunk_size, max(KERNEL_BLOCK_ALIGNMENT, block_size))
    tokens = cdiv(state_page_bytes, attention_bytes_per_token)
    return max(block_size, chunk * cdiv(tokens, chunk))


def keep_state_per_block(specs: Sequence[CacheSpec]) -> list[CacheSpec]:
    """The specs with every state layer keeping a state per block (keeps_state_per_block)."""
    return [dataclasses.replace(s, per_block_state=True)
            if model_families.keeps_state(s.kind) else s for s in specs]


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


NEMOTRON_H_PATTERN = {"M": model_families.LINEAR_ATTENTION, "*": model_families.FULL_ATTENTION,
                      "-": model_families.NO_CACHE, "E": model_families.NO_CACHE}
"""hybrid_override_pattern's characters (vllm/model_executor/models/nemotron_h.py
ALL_DECODER_LAYER_TYPES: M Mamba2, * attention, - MLP, E MoE), one layer each."""
GRANITE_HYBRID_KINDS = {"mamba": model_families.LINEAR_ATTENTION,
                        "attention": model_families.FULL_ATTENTION}
"""granitemoehybrid's layer_types (granitemoehybrid.py ALL_DECODER_LAYER_TYPES)."""
MAMBA2_KEYS = {
    "nemotron_h": ("mamba_num_heads", "mamba_head_dim", "n_groups", "ssm_state_size",
                   "conv_kernel"),
    "granitemoehybrid": ("mamba_n_heads", "mamba_d_head", "mamba_n_groups", "mamba_d_state",
                         "mamba_d_conv")}
"""The config.json keys of the Mamba2 mixer's heads, head dim, groups, state size and conv
kernel, as each family's get_mamba_state_shape_from_config reads them (0.34.0 wheel)."""


def _mamba2_layer_types(config: dict) -> Optional[list[str]]:
    """Nemotron-H's kinds from hybrid_override_pattern (NEMOTRON_H_PATTERN), Granite-4.0-H's
    from its layer_types (GRANITE_HYBRID_KINDS); None for other families."""
    model_type = config.get("model_type")
    if model_type == "nemotron_h":
        table, names = NEMOTRON_H_PATTERN, list(config["hybrid_override_pattern"])
    elif model_type == "granitemoehybrid" and config.get("layer_types"):
        table, names = GRANITE_HYBRID_KINDS, list(config["layer_types"])
    else:
        return None
    unknown = sorted(set(names) - set(table))
    if unknown:
        raise ValueError(f"config.json of {model_type} has layer kinds the plan cannot size: "
                         f"{unknown} (known: {', '.join(table)})")
    return [table[name] for name in names]


def _mamba2_linear_facts(config: dict) -> dict:
    """model.facts.linearAttention of a Mamba2 hybrid (MAMBA2's key mapping), with config.json's
    mamba_ssm_cache_dtype when it pins one. Granite's intermediate size is mamba_expand ×
    hidden, which the facts keep as heads × head dim: a config where they differ is refused."""
    heads, dim, groups, state, kernel = (config[key] for key in MAMBA2_KEYS[config["model_type"]])
    expand = config.get("mamba_expand")
    if expand and expand * config["hidden_size"] != heads * dim:
        raise ValueError(f"config.json: mamba_expand × hidden_size ({expand} × "
                         f"{config['hidden_size']}) is not heads × head dim ({heads} × {dim}): "
                         "the Mamba2 state cannot be written in model.facts")
    facts = {"kind": MAMBA2, "num_value_heads": heads, "value_head_dim": dim,
             "num_key_heads": groups, "key_head_dim": state, "conv_kernel_dim": kernel}
    if config.get("mamba_ssm_cache_dtype"):
        facts["ssm_cache_dtype"] = config["mamba_ssm_cache_dtype"]
    chunk = config.get("mamba_chunk_size") or config.get("chunk_size")
    if chunk:
        facts["chunk_size"] = chunk
    return facts


def _kda_linear_facts(linear_attn_config: dict) -> dict:
    """model.facts.linearAttention of a KDA model: its heads and head_dim in the key/value
    keys (KDA's q, k and v share them) and short_conv_kernel_size as the conv kernel."""
    heads, dim = linear_attn_config["num_heads"], linear_attn_config["head_dim"]
    return {"kind": KDA, "num_key_heads": heads, "num_value_heads": heads,
            "key_head_dim": dim, "value_head_dim": dim,
            "conv_kernel_dim": linear_attn_config["short_conv_kernel_size"]}


INDEXER_TYPES = ("full", "shared")
DEFAULT_INDEX_SKIP_TOPK_OFFSET = 2


def shared_indexer_layers_from_config(config: dict) -> Optional[list[int]]:
    """model.facts shared_indexer_layers from config.json, as vLLM 0.34.0 decides which DSA
    layers build no indexer (vllm/model_executor/models/utils.py compute_skip_topk_layers):
    none without index_topk (no DSA); indexer_types' "shared" layers when given (one entry per
    layer, "full" or "shared"); else index_topk_pattern's "S" layers; else every layer i with
    max(i − index_skip_topk_offset + 1, 0) % index_topk_freq ≠ 0. None when no layer shares."""
    if "index_topk" not in config:
        return None
    layers = config["num_hidden_layers"]
    types = config.get("indexer_types")
    if types is not None:
        if len(types) != layers or set(types) - set(INDEXER_TYPES):
            raise ValueError(f"config.json indexer_types must give one of {INDEXER_TYPES} for "
                             f"each of the {layers} layers, got {types}")
        shared = [i for i, kind in enumerate(types) if kind == "shared"]
    elif config.get("index_topk_pattern") is not None:
        pattern = config["index_topk_pattern"]
        shared = [i for i in range(min(layers, len(pattern))) if pattern[i] == "S"]
    else:
        freq = config.get("index_topk_freq", 1)
        if not isinstance(freq, int) or freq <= 0:
            raise ValueError(f"config.json index_topk_freq must be a positive integer, "
                             f"got {freq!r}")
        offset = config.get("index_skip_topk_offset", DEFAULT_INDEX_SKIP_TOPK_OFFSET)
        shared = [i for i in range(layers) if max(i - offset + 1, 0) % freq != 0]
    return shared or None


def layout_facts_from_config(config: dict) -> dict:
    """The KV-layout keys of model.facts (layer_types, sliding_window, attention_chunk_size,
    linear_attention) from a
    model's config.json (its text_config for a multimodal one), for tools/model_facts. Kinds
    vLLM does not size differently are left out; a config without layer kinds gives {}."""
    config = config.get("text_config", config)
    kinds = (_kda_layer_types(config) or _mamba2_layer_types(config)
             or _chunked_layer_types(config)
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
    elif model_families.LINEAR_ATTENTION in kinds and config.get("model_type") in MAMBA2_KEYS:
        facts["linear_attention"] = _mamba2_linear_facts(config)
    elif model_families.LINEAR_ATTENTION in kinds:
        facts["linear_attention"] = _gated_delta_net_linear_facts(config)
    return facts


def _gated_delta_net_linear_facts(config: dict) -> dict:
    """model.facts.linearAttention of a Gated DeltaNet model (LINEAR_KEYS), with config.json's
    mamba_ssm_dtype as ssm_cache_dtype when it names one (Qwen3.5/3.6's text_config: float32,
    which vLLM applies: ssm_cache_dtype, QWEN3_5_SSM_PIN_SINCE)."""
    facts = {key: config[source] for key, source in LINEAR_KEYS.items()}
    if config.get("mamba_ssm_dtype") in STATE_DTYPE_BYTES:
        facts["ssm_cache_dtype"] = config["mamba_ssm_dtype"]
    return facts
