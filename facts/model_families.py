"""Model families the program treats differently: every attention kind and checkpoint scheme
that changes a figure or a flag, in one place.

Shared by planning (config validation, weight and KV-cache sizing), rendering (vLLM flags) and
the benchmark, like the version switches in facts/vllm_features.py: each special case is a named
fact with its source and a predicate that reads it; nothing outside facts/ spells a family
(tests/architecture/test_model_families.py). The names are the values of facts/models.yaml `attention.kind` and
`weights_dtype` (and of a stack's `model.facts`).
"""

from __future__ import annotations

# --- Attention kinds (models.yaml attention.kind) -------------------------------------------

GQA = "gqa"
"""Grouped-query attention, multi-head included: K and V per KV head, KV heads split by tensor
parallelism and replicated when TP exceeds them (vllm/attention/layer.py Attention)."""

MLA = "mla"
"""Multi-head latent attention (DeepSeek V2/V3/R1): one latent of kv_lora_rank +
qk_rope_head_dim per token and layer that every TP rank holds whole
(vllm/model_executor/models/deepseek_v2.py DeepseekV2MLAAttention), plus BF16 copies of
kv_b_proj for decode (v1/attention/backends/mla/common.py process_weights_after_loading)."""

DEEPSEEK_V4 = "deepseek_v4"
"""DeepSeek V4's compressed attention: the facts give the whole model's cache bytes per token
(kv_bytes_per_token); one KV head, so TP does not split it."""

ATTENTION_FIELDS: dict[str, frozenset[str]] = {
    GQA: frozenset({"heads", "kv_heads", "head_dim"}),
    MLA: frozenset({"heads", "kv_lora_rank", "qk_rope_head_dim"}),
    DEEPSEEK_V4: frozenset({"heads", "kv_bytes_per_token"}),
}
"""What the facts of each attention kind must give (planning/config/model.py ModelFacts)."""

DEEPSEEK_V4_KV_CACHE_DTYPE = "fp8"
DEEPSEEK_V4_BLOCK_SIZE = 256
"""V4's cache exists only in vLLM's fp8 format with 256-token blocks: vLLM's V4 recipes pass
`--kv-cache-dtype fp8 --block-size 256` (vllm-project/recipes
models/deepseek-ai/DeepSeek-V4-Flash.yaml and DeepSeek-V4-Pro.yaml;
../shared/reference/multinode.md §3.2)."""


def is_gqa(attention: dict) -> bool:
    """True for grouped-query (and multi-head) attention."""
    return attention.get("kind") == GQA


def is_mla(attention: dict) -> bool:
    """True for multi-head latent attention (DeepSeek V2/V3/R1)."""
    return attention.get("kind") == MLA


def is_deepseek_v4(attention: dict) -> bool:
    """True for DeepSeek V4's compressed attention."""
    return attention.get("kind") == DEEPSEEK_V4


# --- Layer kinds (config.json layer_types; planning/kv_layout.py) ----------------------------

FULL_ATTENTION = "full_attention"
"""A layer that caches every token: vLLM's FullAttentionSpec (MLA layers are the MLA kind)."""
SLIDING_ATTENTION = "sliding_attention"
"""A layer that keeps the last `sliding_window` tokens: vLLM's SlidingWindowSpec (gpt-oss,
Gemma 2/3); its blocks beyond the window are freed."""
LINEAR_ATTENTION = "linear_attention"
"""A linear-attention layer (Qwen3-Next's Gated DeltaNet, Mamba): a fixed state per request,
not per token: vLLM's MambaSpec."""
CHUNKED_ATTENTION = "chunked_attention"
"""A layer that attends within fixed chunks of `attention_chunk_size` tokens (Llama 4's RoPE
layers, vllm/model_executor/models/llama4.py): vLLM's ChunkedLocalAttentionSpec; it holds the
current chunk and the tokens in flight, not the whole request."""
NO_CACHE = "no_cache"
"""A layer with nothing to cache: Nemotron-H's MLP ("-") and MoE ("E") blocks, each a layer
of its own in hybrid_override_pattern (vllm/model_executor/models/nemotron_h.py
ALL_DECODER_LAYER_TYPES); vLLM gives it no KV-cache spec."""
LAYER_KINDS = (FULL_ATTENTION, SLIDING_ATTENTION, LINEAR_ATTENTION, CHUNKED_ATTENTION,
               NO_CACHE)
"""The values config.json `layer_types` takes that vLLM sizes differently."""

NEMOTRON_H_ARCHITECTURES = ("NemotronHForCausalLM", "NemotronHPuzzleForCausalLM")
"""The architectures whose SSM cache dtype vLLM pins when --mamba-ssm-cache-dtype is auto
(vllm/model_executor/models/config.py NemotronHForCausalLMConfig, registered for both;
planning/kv_layout.py ssm_cache_dtype)."""


QWEN3_5_ARCHITECTURES = ("Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForConditionalGeneration",
                         "Qwen3_5ForCausalLM", "Qwen3_5MoeForCausalLM")
"""The architectures whose Gated DeltaNet temporal state vLLM keeps in config.json's
text_config mamba_ssm_dtype when --mamba-ssm-cache-dtype is auto
(vllm/model_executor/models/config.py Qwen3_5ForConditionalGenerationConfig, registered for the
first two from 0.17.0, Qwen3_5ForCausalLMConfig for the last two from 0.27.0, the same
release that registers those models; planning/kv_layout.py ssm_cache_dtype)."""


def pins_ssm_cache_dtype(architecture: str) -> bool:
    """True for a model whose SSM (temporal) state vLLM keeps in a pinned dtype (Nemotron-H,
    Qwen3.5)."""
    return architecture in NEMOTRON_H_ARCHITECTURES + QWEN3_5_ARCHITECTURES


def keeps_cache(kind: str) -> bool:
    """True for a layer kind that has a KV-cache spec (every kind but NO_CACHE)."""
    return kind != NO_CACHE


def keeps_state(kind: str) -> bool:
    """True for a layer (or cache spec) kind that holds a per-request state, not tokens."""
    return kind == LINEAR_ATTENTION


def keeps_window(kind: str) -> bool:
    """True for a sliding-window layer kind."""
    return kind == SLIDING_ATTENTION


def keeps_chunk(kind: str) -> bool:
    """True for a chunked-local-attention layer kind."""
    return kind == CHUNKED_ATTENTION


def is_mla_kind(kind: str) -> bool:
    """True for an MLA cache spec kind (attention.kind mla), whose page vLLM never pads."""
    return kind == MLA


def is_hybrid(layer_types: list[str] | None) -> bool:
    """True when the layers are not all full attention (vLLM's hybrid KV-cache manager)."""
    return bool(layer_types) and set(layer_types) != {FULL_ATTENTION}


def kv_cache_dtype(attention: dict, configured: str) -> str:
    """The cache dtype vLLM runs: fp8 for DeepSeek V4 whatever is configured (its only
    format), else the stack's model.kvCacheDtype."""
    return DEEPSEEK_V4_KV_CACHE_DTYPE if is_deepseek_v4(attention) else configured


# --- Checkpoint schemes (models.yaml weights_dtype) -------------------------------------------

MXFP4 = "mxfp4"
"""gpt-oss: routed experts in MXFP4, attention, router, embeddings and head in BF16 (its
quantization_config modules_to_not_convert)."""

FP4_FP8 = "fp4-fp8"
"""DeepSeek V4: experts MXFP4, the other linears FP8 with block scales."""

NVFP4 = "nvfp4"
"""NVIDIA FP4 checkpoints (TensorRT Model Optimizer `quant_algo: NVFP4`, compressed-tensors
nvfp4-pack-quantized): every linear and expert 4-bit with FP8 block scales per 16, the modules
the checkpoint excludes (lm_head, routers) 16-bit (planning/memory.py NVFP4_BYTES)."""

SIXTEEN_BIT = ("bf16", "fp16")
"""Checkpoints `--quantization fp8` quantizes online (vllm/model_executor/layers/quantization/
fp8.py Fp8Config: a 16-bit checkpoint's linears and experts at 1 byte)."""

WEIGHT_SCHEMES = (*SIXTEEN_BIT, "fp8", "int8", "int4", MXFP4, FP4_FP8, NVFP4)
"""Every checkpoint scheme the facts may name (planning/memory.py ROLE_BYTES has their widths)."""


def is_sixteen_bit(weights_dtype: str) -> bool:
    """True for a BF16/FP16 checkpoint (the only kind `--quantization fp8` applies to)."""
    return weights_dtype in SIXTEEN_BIT


def keeps_parts_in_mixed_precision(weights_dtype: str) -> bool:
    """True when the experts are 4-bit and the rest wider (mxfp4, fp4-fp8), so the weights
    follow only from the parameters by role."""
    return weights_dtype in (MXFP4, FP4_FP8)


def pads_mxfp4_experts(weights_dtype: str) -> bool:
    """True when vLLM pads the experts for its MXFP4 MoE kernel
    (vllm/model_executor/layers/fused_moe/oracle/mxfp4.py,
    mxfp4_round_up_hidden_size_and_intermediate_size; planning/memory.py mxfp4_expert_padding)."""
    return weights_dtype == MXFP4
