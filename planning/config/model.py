"""`model`: which model is served, its facts and how vLLM reads it."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import ConfigDict, Field, field_validator, model_validator

import facts
from facts import model_families
from planning import pins
from planning.config.base import DNS_LABEL, VERSION, _Model


class ParameterGroups(_Model):
    """A model's parameters by where vLLM puts them (planning/memory.py WEIGHT_ROLES)."""

    embedding: int = Field(ge=0)
    head: int = Field(ge=0)
    norms_and_gates: int = Field(default=0, ge=0)
    replicated_linear: int = Field(default=0, ge=0)
    sharded_linear: int = Field(ge=0)
    experts: int = Field(default=0, ge=0)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @property
    def total(self) -> int:
        """All parameters."""
        return sum(self.model_dump().values())


def default_parameter_groups(params_b: float, vocab_size: int, hidden_size: int,
                             tie_word_embeddings: bool = False) -> dict[str, float]:
    """Parameter roles when the facts give only the total: embedding = vocab × hidden, head =
    the same unless tied, everything else TP-sharded linears (norms are < 0.01 %).
    Example (Llama-3.1-8B): 525.3 M + 525.3 M + 6,979.6 M."""
    embedding = vocab_size * hidden_size
    head = 0 if tie_word_embeddings else embedding
    rest = params_b * 1e9 - embedding - head
    if rest < 0:
        raise ValueError(f"params_b {params_b} is smaller than the embeddings alone")
    return {"embedding": embedding, "head": head, "norms_and_gates": 0,
            "replicated_linear": 0, "sharded_linear": rest, "experts": 0}


# --- Mixed-width checkpoints (issue 18 item 2): each role at its own width -----------------

ROLE_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4", model_families.MXFP4,
               model_families.NVFP4)
"""Widths a role of a checkpoint may be stored at (planning/memory.py quantized_bytes_per_param)."""

WEIGHT_ROLE_NAMES = ("embedding", "head", "norms_and_gates", "replicated_linear",
                     "sharded_linear", "experts")
"""The roles of ParameterGroups (planning/memory.py WEIGHT_ROLES)."""


class RoleWidth(_Model):
    """How one role of a mixed-width checkpoint is stored: its dtype, the weights per scale
    group (int4/int8: one 16-bit scale per group; unset = per channel for int8, 128 for int4)
    and whether the format keeps 4-bit zero points per group (AWQ)."""

    dtype: Literal[ROLE_DTYPES]
    group_size: Optional[int] = Field(default=None, gt=0)
    zero_points: bool = False
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
class LinearAttentionFacts(_Model):
    """A linear-attention layer's shape (Gated DeltaNet: config.json `linear_*` keys; KDA;
    Mamba2); its per-request state is planning/kv_layout.py linear_state_bytes."""

    num_key_heads: int = Field(gt=0)
    num_value_heads: int = Field(gt=0)
    key_head_dim: int = Field(gt=0)
    value_head_dim: int = Field(gt=0)
    conv_kernel_dim: int = Field(gt=0)
    kind: Literal["gated_delta_net", "kda", "mamba2"] = "gated_delta_net"
    """Which state the layer keeps (planning/kv_layout.py LINEAR_STATE_KINDS,
    linear_state_bytes): Gated DeltaNet, or Kimi Delta Attention (Kimi-Linear's
    linear_attn_config: its heads and head_dim in both the key and value keys), or a Mamba2
    mixer (value heads/dim = SSM heads and head dim, key heads = groups, key dim = state size:
    kv_layout.mamba2_state_bytes)."""
    ssm_cache_dtype: Optional[Literal["float32", "float16", "bfloat16"]] = None
    """The SSM state dtype config.json pins (Nemotron-H's mamba_ssm_cache_dtype, Qwen3.5's
    text_config mamba_ssm_dtype: its Gated DeltaNet temporal state; vLLM reads it for those
    families only: kv_layout.ssm_cache_dtype)."""
    chunk_size: Optional[int] = Field(default=None, gt=0)
    """A Mamba2 mixer's SSD chunk (config.json chunk_size or mamba_chunk_size): before vLLM
    0.32, prefix caching makes the hybrid block a multiple of it
    (kv_layout.prefix_cached_block_size)."""


class ModelFacts(_Model):
    """Shape of a model that is not a preset (see facts/models.yaml for field meanings)."""

    hf_id: str
    architecture: str
    params_b: float = Field(gt=0)
    weights_dtype: Literal[model_families.WEIGHT_SCHEMES]
    weights_gib: Optional[float] = Field(default=None, gt=0)
    parameters: Optional[ParameterGroups] = None
    block_quantized: bool = False
    tie_word_embeddings: bool = False
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    attention: dict
    max_context: int = Field(gt=0)
    min_vllm: VERSION = "0.6.0"
    min_compute_capability: float = 7.0
    experts: Optional[int] = None
    experts_per_token: Optional[int] = Field(default=None, gt=0)
    moe_intermediate_size: Optional[int] = Field(default=None, gt=0)
    weights_by_role: Optional[dict[Literal[WEIGHT_ROLE_NAMES], RoleWidth]] = None
    """Roles stored at another width than weights_dtype says (a quantization_config's ignore
    list, group size or per-module format; tools/model_facts writes it)."""
    trust_remote_code: bool = False
    reasoning_parser: Optional[str] = None
    tool_call_parser: Optional[str] = None
    # KV layout (issue 18): config.json layer_types, sliding_window and linear_* keys; without
    # layer_types every layer is `attention.kind` (planning/kv_layout.py groups them).
    layer_types: Optional[list[Literal[model_families.LAYER_KINDS]]] = None
    sliding_window: Optional[int] = Field(default=None, gt=0)
    attention_chunk_size: Optional[int] = Field(default=None, gt=0)
    """Tokens per chunk of the chunked_attention layers (config.json attention_chunk_size,
    Llama 4)."""
    linear_attention: Optional[LinearAttentionFacts] = None
    shared_indexer_layers: Optional[list[int]] = None
    """DSA layers (0-based) that reuse an earlier layer's top-k and so keep no indexer cache
    from vLLM 0.24 (config.json indexer_types "shared", or index_topk_freq / index_topk_pattern;
    facts/sparse_mla.py shared_indexer_layers). Without it every DSA layer has an indexer."""
    indexer_parameters: Optional[dict[Literal[WEIGHT_ROLE_NAMES], int]] = None
    """One layer's DSA indexer parameters by role (tools/model_facts indexer_parameters), which
    the shared_indexer_layers do not hold from vLLM 0.24 (planning/memory.py weights)."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @model_validator(mode="after")
    def _layer_kinds_are_described(self) -> "ModelFacts":
        kinds = self.layer_types or []
        if kinds and len(kinds) != self.layers:
            raise ValueError(f"model.facts.layerTypes: {len(kinds)} entries for {self.layers} "
                             "layers; give one kind per layer (config.json layer_types)")
        if model_families.SLIDING_ATTENTION in kinds and not self.sliding_window:
            raise ValueError("model.facts.slidingWindow: sliding_attention layers need the "
                             "window (config.json sliding_window)")
        if model_families.CHUNKED_ATTENTION in kinds and not self.attention_chunk_size:
            raise ValueError("model.facts.attentionChunkSize: chunked_attention layers need "
                             "their chunk (config.json attention_chunk_size)")
        if model_families.LINEAR_ATTENTION in kinds and self.linear_attention is None:
            raise ValueError("model.facts.linearAttention: linear_attention layers need their "
                             "shape (numKeyHeads, numValueHeads, keyHeadDim, valueHeadDim, "
                             "convKernelDim from config.json linear_*)")
        return self

    @model_validator(mode="after")
    def _shared_indexers_are_dsa_layers(self) -> "ModelFacts":
        shared = self.shared_indexer_layers or []
        outside = [layer for layer in shared if not 0 <= layer < self.layers]
        if outside:
            raise ValueError(f"model.facts.sharedIndexerLayers: {outside} are not layers of a "
                             f"{self.layers}-layer model; give 0-based layer indices below "
                             f"{self.layers}")
        if shared and not self.attention.get("index_head_dim"):
            raise ValueError("model.facts.sharedIndexerLayers: only a DSA model (attention "
                             "with index_head_dim) has an indexer to share; remove the key or "
                             "add attention.index_head_dim")
        return self

    @model_validator(mode="after")
    def _mixed_precision_states_its_parts(self) -> "ModelFacts":
        if (model_families.keeps_parts_in_mixed_precision(self.weights_dtype)
                and self.parameters is None):
            raise ValueError(
                f"model.facts.parameters: a {self.weights_dtype} checkpoint keeps its experts in "
                "4 bits and the rest wider, so the weights follow from the parameters by role; "
                "set parameters (embedding, head, norms_and_gates, replicated_linear, "
                "sharded_linear, experts; `python -m tools.model_facts config.json` writes them)")
        if self.experts and self.parameters is None:
            # Without roles every parameter past the embeddings counts as a TP-sharded linear
            # (default_parameter_groups), which misplaces the experts (spread over
            # TP × DP) and the replicated and 16-bit parts.
            raise ValueError(
                f"model.facts.parameters: a mixture-of-experts model ({self.experts} experts) "
                "needs its parameters by role (embedding, head, norms_and_gates, "
                "replicated_linear, sharded_linear, experts): without them the experts would "
                "count as tensor-parallel linears; `python -m tools.model_facts config.json` "
                "writes them")
        return self

    @model_validator(mode="after")
    def _moe_states_its_routing(self) -> "ModelFacts":
        # The fused-MoE kernels' workspace (planning/memory.py moe_workspace_gib) grows with
        # the experts each token is routed to and the experts' width: without them the
        # activation peak would miss gigabytes on a large MoE model.
        missing = [key for key, value in (("expertsPerToken", self.experts_per_token),
                                          ("moeIntermediateSize", self.moe_intermediate_size))
                   if value is None]
        if self.experts and missing:
            raise ValueError(
                f"model.facts: a mixture-of-experts model ({self.experts} experts) needs "
                f"{' and '.join(missing)} (config.json num_experts_per_tok and "
                "moe_intermediate_size): the fused-MoE workspace vLLM allocates for each "
                "batch follows from them; `python -m tools.model_facts config.json` writes them")
        return self

    def parameter_groups(self) -> dict[str, float]:
        """Parameters by role: the facts' `parameters`, else derived from the total (embedding
        and head from vocab × hidden, the rest TP-sharded linears)."""
        if self.parameters is not None:
            return {key: float(value) for key, value in self.parameters.model_dump().items()}
        return default_parameter_groups(self.params_b, self.vocab_size,
                                               self.hidden_size, self.tie_word_embeddings)

    @field_validator("attention")
    @classmethod
    def _attention_shape(cls, value: dict) -> dict:
        kind = value.get("kind")
        required = model_families.ATTENTION_FIELDS
        if kind not in required:
            raise ValueError(f"attention.kind must be one of {sorted(required)}, got {kind!r}")
        missing = required[kind] - set(value)
        if missing:
            raise ValueError(f"attention of kind {kind} needs {sorted(missing)}")
        return value


class ModelConfig(_Model):
    """Which model to serve and how vLLM presents it."""

    preset: Optional[str] = Field(
        default=None,
        description="One of the presets in facts/models.yaml (or describe another model in "
                    "model.facts)")
    facts: Optional[ModelFacts] = Field(
        default=None,
        description="A description of a model that is not a preset (field meanings in "
                    "facts/models.yaml)")
    revision: str = Field(min_length=1, description="Hub branch, tag or 40-hex commit SHA "
                                                    "(a commit with production)")
    served_name: DNS_LABEL = Field(
        description="--served-model-name, the model_name metric label, part of object names")
    dtype: Literal["auto", "bfloat16", "float16"] = Field(
        default="auto",
        description="auto, bfloat16 or float16")
    quantization: Optional[Literal["fp8", "fp8_per_tensor"]] = Field(
        default=None,
        description="Online FP8 weights of a 16-bit checkpoint: fp8 up to vLLM 0.30, "
                    "fp8_per_tensor from 0.20 (vLLM 0.31+ refuses online fp8)")
    kv_cache_dtype: Literal["auto", "fp8"] = Field(
        default="auto",
        description="auto or fp8 (halves the cache per token)")
    max_model_len: int = Field(gt=0,
        description="Context length per request")
    trust_remote_code: bool = Field(
        default=False,
        description="Required for models that ship their own code (V2-Lite)")
    reasoning_parser: Optional[str] = Field(
        default="auto",
        description="auto uses the model's parser when the pinned vLLM has it; null disables; a "
                    "name must be in the pinned vLLM's registry (facts/vllm_parsers.py, checked "
                    "for 0.20.0, 0.32.0, 0.33.0) unless engine.extraArgs registers a plugin")
    tool_call_parser: Optional[str] = Field(
        default="auto",
        description="As model.reasoningParser, for tool calls: auto, null, or a name in the "
                    "pinned vLLM's registry")

    @field_validator("revision")
    @classmethod
    def _revision_names_a_ref(cls, revision: str) -> str:
        problem = pins.revision_problem(revision)
        if problem:
            raise ValueError(f"{problem}; give a branch or tag name (main, v1.0, refs/pr/3) or "
                             "a full 40-hex commit SHA")
        return revision

    @model_validator(mode="after")
    def _preset_or_facts(self) -> "ModelConfig":
        if (self.preset is None) == (self.facts is None):
            raise ValueError(
                "set exactly one of model.preset (one of "
                f"{', '.join(sorted(facts.models()))}) or model.facts (a description of another "
                "model; `python -m tools.model_facts config.json` writes it)"
            )
        if self.preset is not None and self.preset not in facts.models():
            raise ValueError(
                f"model.preset {self.preset!r} is not a known preset; use one of "
                f"{', '.join(sorted(facts.models()))}, or describe the model under model.facts"
            )
        return self

    @property
    def shape(self) -> ModelFacts:
        """The model's facts, from the preset or the stack's own description."""
        if self.facts is not None:
            return self.facts
        return ModelFacts.model_validate(facts.models()[self.preset])

    @property
    def pinned(self) -> bool:
        """True when the revision is a full commit SHA rather than a moving branch."""
        return re.fullmatch(r"[0-9a-f]{40}", self.revision) is not None


