"""Turn a Hugging Face config.json into a facts/models.yaml entry.

    python -m tools.model_facts path/to/config.json [path/to/model.safetensors.index.json]
        [--hf-id org/name] [--name preset-name]

Prints one YAML block in the format of facts/models.yaml (paste it under `models:` or into a
stack's `model.facts`), written by yaml.safe_dump. Supports Llama/Mistral/Qwen2/Qwen3-style
dense models with standard or grouped-query attention (`gqa`), Qwen3-MoE, gpt-oss and
MiniMax-M2 (`gqa`, MoE), and the DeepSeek layout (`mla`, MoE: V2, V3/R1, V3.2 with DSA's
indexer, Kimi-K2, GLM-5). quantization_config is read (method, bits, group size, zero points, format,
the modules kept in 16 bits) into `weights_by_role`, each role at its own width; an ignore list
that splits a role is said as "could not determine". Sliding-window and Qwen3-Next's
linear-attention layers are written as `layer_types` / `sliding_window` / `linear_attention`
(planning/kv_layout.py layout_facts_from_config), and so are Kimi-Linear's KDA layers
(linear_attn_config, `linear_attention` with kind kda) between its MLA layers, Qwen3.5 /
Qwen3.6's (qwen3_5, qwen3_5_moe: the text_config's Gated DeltaNet layers, the vision tower
counted with the weights), and the Mamba2 hybrids Nemotron-H and Granite-4.0-H
(`linear_attention` with kind mamba2); anything else
fails with a message saying what was read and which fields to fill by hand. Parameter counts come from the shapes alone; the
safetensors index, or the checkpoint's *.safetensors files (`--safetensors`, only their
headers are read), add the checkpoint's real size (`weights_gib`) and its bytes per parameter
of each role from the tensor names (beside the widths the facts give); a saved hub model-info JSON
(`--model-info`) is compared dtype by dtype with the parameters by role.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import pathlib
import re
import sys
from typing import Any

import yaml

from facts import model_families
from planning import kv_layout
from planning import memory

GIB = 2**30

GQA_MODEL_TYPES = {"llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "gpt_oss", "minimax_m2",
                   "llama4_text"}
"""Decoder families whose attention follows the Llama layout (q/k/v/o): dense ones with
gate/up/down MLPs, Qwen3-MoE (vllm/model_executor/models/qwen3_moe.py) and gpt-oss (gpt_oss.py:
attention biases and sinks, experts with biases) and MiniMax-M2 (minimax_m2.py: q/k norms over
all heads, every layer MoE with a sigmoid router and its correction bias, no shared expert)."""
MLA_MODEL_TYPES = {"deepseek_v2", "deepseek_v3", "deepseek_v32", "kimi_k2", "glm_moe_dsa"}
"""DeepSeek-layout families with multi-head latent attention and routed experts: Kimi-K2
ships DeepseekV3ForCausalLM under model_type kimi_k2; V3.2 adds DSA's indexer
(vllm/model_executor/models/deepseek_v2.py Indexer); GLM-5's glm_moe_dsa is served by
deepseek_v2.py's GlmMoeDsaForCausalLM, a subclass of DeepseekV2ForCausalLM
(vllm/model_executor/models/registry.py), with V3.2's config fields."""
HYBRID_MODEL_TYPES = {"qwen3_next", "kimi_linear"}
"""Hybrid linear-attention families: their linear layers keep a per-request state instead of a
per-token cache (model.facts layer_types and linear_attention); one whose layers the config
does not tell apart is refused with what was read (hybrid_layers)."""
LLAMA4, LLAMA4_TEXT = "llama4", "llama4_text"
"""Llama 4 (vllm/model_executor/models/llama4.py, mllama4.py; read in the 0.19.0 wheel): a
multimodal config.json (llama4) whose text model is its text_config (llama4_text); chunked
local attention on the RoPE layers (planning/kv_layout.py), MoE every
interleave_moe_layer_step-th layer with one shared expert, a vision tower."""
QK_NORM_MODEL_TYPES = {"qwen3", "qwen3_moe"}
"""Per-head q_norm and k_norm in every attention layer."""

HAND_FILLED_FIELDS = (
    "hf_id, architecture, params_b, weights_dtype (and weights_gib for mixed-precision "
    "checkpoints), layers, hidden_size, intermediate_size, vocab_size, attention (kind, heads, "
    "kv_heads + head_dim for gqa, kv_lora_rank + qk_rope_head_dim for mla), max_context, "
    "min_vllm, min_compute_capability, experts (MoE)"
)


class UnsupportedModel(ValueError):
    """The config is not one this tool can read; the message says what to fill by hand."""


def text_model_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config the text model is read from: a Llama 4 config.json's text_config with the
    top level's architectures, quantization_config, tie_word_embeddings and vision_config
    (Llama4ForConditionalGeneration builds its language model from text_config); any other
    config as it is."""
    if config.get("model_type") in QWEN3_5_MODEL_TYPES and config.get("text_config"):
        return qwen3_5_text_config(config)
    if config.get("model_type") != LLAMA4 or not config.get("text_config"):
        return config
    text = dict(config["text_config"])
    for key in ("architectures", "quantization_config", "tie_word_embeddings",
                "vision_config", "_name_or_path"):
        if key in config and key not in text:
            text[key] = config[key]
    return text


def _unsupported(config: dict[str, Any], why: str) -> UnsupportedModel:
    arch = (config.get("architectures") or ["?"])[0]
    return UnsupportedModel(
        f"{why} (architecture {arch}, model_type {config.get('model_type')!r}). This tool reads "
        f"model types {', '.join(sorted(GQA_MODEL_TYPES))} (gqa) and "
        f"{', '.join(sorted(MLA_MODEL_TYPES))} (mla) and the hybrids "
        f"{', '.join(sorted(HYBRID_MODEL_TYPES | QWEN3_5_MODEL_TYPES | MAMBA2_MODEL_TYPES))} "
        f"only. Write the "
        f"facts/models.yaml entry by hand from the model's config.json and model card: "
        f"{HAND_FILLED_FIELDS}."
    )


def _require(config: dict[str, Any], *keys: str) -> None:
    missing = [key for key in keys if config.get(key) is None]
    if missing:
        raise _unsupported(config, f"config.json lacks {', '.join(missing)}")


def attention_kind(config: dict[str, Any]) -> str:
    """'gqa' or 'mla' from config.json `model_type`; anything else is unsupported."""
    model_type = config.get("model_type")
    if model_type in GQA_MODEL_TYPES:
        return model_families.GQA
    if model_type in MLA_MODEL_TYPES:
        return model_families.MLA
    if model_type in QWEN3_5_TEXT_TYPES:
        # Gated full attention (qwen3_next.py Qwen3NextAttention) between Gated DeltaNet layers.
        return model_families.GQA
    if model_type in HYBRID_COUNTED:
        # Its full-attention layers are GQA; the linear-attention layers' per-request state is
        # model.facts.linearAttention (planning/kv_layout.py layout_facts_from_config).
        return model_families.GQA
    if model_type == KIMI_LINEAR:
        # Its full-attention layers are MLA (kimi_linear.py KimiMLAAttention); the KDA layers'
        # per-request state is model.facts.linearAttention with kind kda.
        if not (config.get("linear_attn_config") or {}).get("kda_layers"):
            raise _unsupported(config, hybrid_layers(config) + "; config.json has no "
                               "linear_attn_config.kda_layers to tell its KDA layers apart")
        return model_families.MLA
    if model_type in HYBRID_MODEL_TYPES:
        raise _unsupported(config, hybrid_layers(config))
    if model_type in MAMBA2_MODEL_TYPES:
        # Its attention layers are GQA; the Mamba2 layers' state is model.facts.linearAttention.
        return model_families.GQA
    raise _unsupported(config, f"unknown model_type {model_type!r}")


def hybrid_layers(config: dict[str, Any]) -> str:
    """What a hybrid model's config.json says about its layers, for the refusal: how many are
    full attention (every full_attention_interval-th, or layer_types) and how many linear
    attention with a per-request state."""
    layers = config.get("num_hidden_layers") or 0
    types = config.get("layer_types")
    if types:
        full = sum(1 for kind in types if kind == "full_attention")
    else:
        interval = config.get("full_attention_interval") or 0
        full = layers // interval if interval else 0
    linear = (f"{config.get('linear_num_value_heads')} value heads × "
              f"{config.get('linear_value_head_dim')} and {config.get('linear_num_key_heads')} "
              f"key heads × {config.get('linear_key_head_dim')}, conv kernel "
              f"{config.get('linear_conv_kernel_dim')}")
    return (f"{config.get('model_type')} is a hybrid: of {layers} layers, {full} full-attention "
            f"(a per-token KV cache: {config.get('num_key_value_heads')} KV heads × "
            f"{head_dim(config) if config.get('hidden_size') else '?'}) and {layers - full} "
            f"linear-attention layers that keep a state per request, not per token ({linear}); "
            "the facts' attention kinds (gqa, mla, deepseek_v4) cannot express that layout, so "
            "no KV figure would be right. Could not determine: the KV layout. "
            + _hybrid_roles_note(config))


def _hybrid_roles_note(config: dict[str, Any]) -> str:
    """The weights side of a hybrid the tool can count (hybrid_parameter_groups), said in
    the refusal so the parameters by role are known before its KV kinds are."""
    if config.get("model_type") not in HYBRID_COUNTED:
        return "The parameters by role are not written either"
    groups = hybrid_parameter_groups(config)
    return ("Parameters by role (the weights side, for model.facts.parameters): "
            + ", ".join(f"{role}: {count}" for role, count in groups.items())
            + f" ({sum(groups.values()) / 1e9:.3f} B)")


HYBRID_COUNTED = {"qwen3_next"}
"""Hybrid families whose parameters by role hybrid_parameter_groups counts."""
KIMI_LINEAR = "kimi_linear"
"""Kimi-Linear: KDA linear-attention layers interleaved with MLA layers (linear_attn_config),
counted by kimi_linear_parameter_groups, its KDA state sized by planning/kv_layout.py
kda_state_bytes."""


def _kda_layer(config: dict[str, Any]) -> dict[str, int]:
    """One Kimi Delta Attention layer, by role (vllm/model_executor/layers/kda.py
    KimiDeltaAttention, 0.20.0 wheel), with P = heads × head_dim (linear_attn_config):
    sharded (split by TP): q/k/v_proj 3 × H × P, f_b_proj and g_b_proj 2 × head_dim × P,
      b_proj H × heads, o_proj P × H, the three short convolutions 3 × P × kernel, dt_bias P
      and A_log heads;
    replicated: f_a_proj and g_a_proj 2 × H × head_dim (ReplicatedLinear);
    norms: o_norm head_dim (FusedRMSNormGated)."""
    linear = config["linear_attn_config"]
    hidden, heads, dim = config["hidden_size"], linear["num_heads"], linear["head_dim"]
    projection = heads * dim
    sharded = (3 * hidden * projection + 2 * dim * projection + hidden * heads
               + projection * hidden + 3 * projection * linear["short_conv_kernel_size"]
               + projection + heads)
    return {"sharded_linear": sharded, "replicated_linear": 2 * hidden * dim,
            "norms_and_gates": dim}


def _kimi_moe(config: dict[str, Any]) -> dict[str, int]:
    """One Kimi-Linear MoE block (kimi_linear.py KimiMoE): experts E × 3 × H × moe_I, the
    shared experts 3 × H × moe_I × num_shared_experts (sharded), the router E × H
    (ReplicatedLinear, never quantized) and its e_score_correction_bias E."""
    hidden, count, width = (config["hidden_size"], config["num_experts"],
                            config["moe_intermediate_size"])
    return {"experts": count * 3 * hidden * width,
            "sharded_linear": 3 * hidden * width * (config.get("num_shared_experts") or 0),
            "norms_and_gates": count * hidden + count}


def kimi_linear_parameter_groups(config: dict[str, Any]) -> dict[str, int]:
    """Parameters by role of Kimi-Linear: the 1-based linear_attn_config.kda_layers are KDA
    (_kda_layer), the others MLA (_mla_attention, q_proj without q_lora); layers from
    first_k_dense_replace (every moe_layer_freq-th) MoE (_kimi_moe), the others a dense MLP
    3 × H × intermediate_size; 2 × H norms per layer, the final norm H, embedding and head
    V × H (untied). Kimi-Linear-48B-A3B: 49.1 B (published "48B")."""
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    kda = set(config["linear_attn_config"]["kda_layers"])
    groups = dict.fromkeys(ROLES, 0)
    groups["embedding"] = vocab * hidden
    groups["head"] = 0 if config.get("tie_word_embeddings") else vocab * hidden
    groups["norms_and_gates"] = hidden
    for index in range(config["num_hidden_layers"]):
        mixer = _kda_layer(config) if index + 1 in kda else _mla_attention(config)
        mlp = (_kimi_moe(config) if _is_moe_layer(config, index) else
               {"sharded_linear": _dense_mlp_params(hidden, config["intermediate_size"])})
        for part in (mixer, mlp, {"norms_and_gates": 2 * hidden}):
            for role, number in part.items():
                groups[role] += number
    return groups


QWEN3_5_MODEL_TYPES = {"qwen3_5", "qwen3_5_moe"}
"""Qwen3.5 / Qwen3.6 (vllm/model_executor/models/qwen3_5.py, read in the 0.19.0 wheel):
Qwen3_5ForConditionalGeneration and Qwen3_5MoeForConditionalGeneration, a multimodal config
whose text model is its text_config (model_type qwen3_5_text / qwen3_5_moe_text): Qwen3-Next's
Gated DeltaNet and gated full-attention layers (layer_types), a dense MLP (qwen3_5_text) or
Qwen3-Next's MoE block with a shared expert (qwen3_5_moe_text) on every layer, and Qwen3-VL's
vision tower (qwen3_vl.py Qwen3_VisionTransformer)."""
QWEN3_5_TEXT_TYPES = {"qwen3_5_text", "qwen3_5_moe_text"}
QWEN3_5_FULL_ATTENTION_INTERVAL = 4
"""Every 4th layer is full attention when a config gives neither layer_types nor
full_attention_interval (transformers configuration_qwen3_5.py Qwen3_5TextConfig
__post_init__)."""


def qwen3_5_text_config(config: dict[str, Any]) -> dict[str, Any]:
    """A Qwen3.5 config.json's text_config with the top level's architectures,
    quantization_config, vision_config and _name_or_path (vLLM builds the language model from
    hf_text_config and the vision tower from vision_config). A MoE text config has no dense
    width: intermediate_size is the experts' (every layer is MoE, as model_facts writes it)."""
    text = dict(config["text_config"])
    for key in ("architectures", "quantization_config", "vision_config", "_name_or_path"):
        if key in config and key not in text:
            text[key] = config[key]
    if text.get("model_type") == "qwen3_5_moe_text" and not text.get("intermediate_size"):
        text["intermediate_size"] = text.get("moe_intermediate_size")
    return text


def _qwen3_5_layer_types(config: dict[str, Any]) -> list[str]:
    """layer_types as given, else every full_attention_interval-th layer full attention."""
    if config.get("layer_types"):
        return list(config["layer_types"])
    every = config.get("full_attention_interval") or QWEN3_5_FULL_ATTENTION_INTERVAL
    return [model_families.FULL_ATTENTION if (i + 1) % every == 0
            else model_families.LINEAR_ATTENTION for i in range(config["num_hidden_layers"])]


def _qwen3_5_attention(config: dict[str, Any]) -> dict[str, int]:
    """Qwen3NextAttention as Qwen3.5 builds it: q_proj carries the output gate only when
    attn_output_gate (default true: qwen3_next.py, heads × (1 + attn_output_gate))."""
    part = _gated_attention(config)
    if config.get("attn_output_gate", True) is False:
        part["sharded_linear"] -= (config["hidden_size"] * config["num_attention_heads"]
                                   * head_dim(config))
    return part


def _qwen3_5_mlp(config: dict[str, Any]) -> dict[str, int]:
    """qwen3_5_text: Qwen2MoeMLP gate/up/down 3 × H × I (sharded). qwen3_5_moe_text:
    Qwen3NextSparseMoeBlock, experts E × 3 × H × moe_I, router E × H and shared_expert_gate
    1 × H (ReplicatedLinear, kept 16-bit), shared expert 3 × H × shared_I (sharded)."""
    hidden = config["hidden_size"]
    if config["model_type"] != "qwen3_5_moe_text":
        return {"sharded_linear": _dense_mlp_params(hidden, config["intermediate_size"])}
    count = config["num_experts"]
    return {"experts": count * 3 * hidden * config["moe_intermediate_size"],
            "norms_and_gates": count * hidden + hidden,
            "sharded_linear": 3 * hidden * config["shared_expert_intermediate_size"]}


def qwen3_5_parameter_groups(config: dict[str, Any]) -> dict[str, int]:
    """Parameters by role of Qwen3.5 (qwen3_5.py Qwen3_5Model; the MTP layer, skipped on load,
    left out): linear_attention layers Gated DeltaNet (_gated_delta_net: gdn_linear_attn.py
    keeps Qwen3-Next's shapes, in_proj_qkvz and in_proj_ba split into four and two outputs),
    full_attention layers _qwen3_5_attention; _qwen3_5_mlp on every layer; 2 × H norms per
    layer, the final norm H, embedding and head V × H (untied); the vision tower
    (_qwen3_vl_vision). Qwen3.6-27B: 26.9 B + 0.46 B."""
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    groups = dict.fromkeys(ROLES, 0)
    groups["embedding"] = vocab * hidden
    groups["head"] = 0 if config.get("tie_word_embeddings") else vocab * hidden
    groups["norms_and_gates"] = hidden
    for kind in _qwen3_5_layer_types(config):
        mixer = (_qwen3_5_attention(config) if kind == model_families.FULL_ATTENTION
                 else _gated_delta_net(config))
        for part in (mixer, _qwen3_5_mlp(config), {"norms_and_gates": 2 * hidden}):
            for role, number in part.items():
                groups[role] += number
    for role, number in _qwen3_vl_vision(config.get("vision_config") or {},
                                         hidden).items():
        groups[role] += number
    return groups


def _qwen3_vl_merger(vision: dict[str, Any], text_hidden: int,
                     postshuffle: bool) -> dict[str, int]:
    """Qwen3_VisionPatchMerger: LayerNorm (weight and bias) of h, or of h × merge² after the
    shuffle; fc1 (h × merge²)² + bias (column-parallel), fc2 h × merge² × text H (row-parallel,
    its bias whole)."""
    h = vision["hidden_size"]
    merged = h * vision.get("spatial_merge_size", 2) ** 2
    return {"sharded_linear": merged * merged + merged + merged * text_hidden,
            "norms_and_gates": 2 * (merged if postshuffle else h) + text_hidden}


def _qwen3_vl_vision(vision: dict[str, Any], text_hidden: int) -> dict[str, int]:
    """Qwen3-VL's vision tower as Qwen3.5 builds it (qwen3_vl.py Qwen3_VisionTransformer; {}
    without a vision_config), TP-sharded with the default mm_encoder_tp_mode "weights": per
    block qkv h × 3h + 3h bias, proj h × h, fc1 h × i + i, fc2 i × h; whole on every rank per
    block two LayerNorms (weight and bias), the proj and fc2 biases; the patch embedding (a
    Conv3d of channels × temporal × patch² × h + h, not parallel) and num_position_embeddings
    × h positions; the merger and one per deepstack_visual_indexes (_qwen3_vl_merger)."""
    if not vision.get("depth"):
        return {}
    h, i, blocks = vision["hidden_size"], vision["intermediate_size"], vision["depth"]
    parts = [{"sharded_linear": blocks * (4 * h * h + 3 * h + 2 * h * i + i),
              "norms_and_gates": blocks * 6 * h
              + vision["in_channels"] * vision["temporal_patch_size"]
              * vision["patch_size"] ** 2 * h + h + vision["num_position_embeddings"] * h},
             _qwen3_vl_merger(vision, text_hidden, False)]
    parts += [_qwen3_vl_merger(vision, text_hidden, True)
              for _ in vision.get("deepstack_visual_indexes") or []]
    groups: dict[str, int] = {}
    for part in parts:
        for role, number in part.items():
            groups[role] = groups.get(role, 0) + number
    return groups


def qwen3_5_notes(config: dict[str, Any]) -> list[str]:
    """What the facts cannot say about a Qwen3.5 model: that its vision tower is counted
    although a deployment may not load it. (Its float32 recurrent state, text_config
    mamba_ssm_dtype, is written: linear_attention.ssm_cache_dtype, planning/kv_layout.py
    _gated_delta_net_linear_facts.)"""
    if config.get("model_type") not in QWEN3_5_TEXT_TYPES:
        return []
    notes = []
    vision = sum(_qwen3_vl_vision(config.get("vision_config") or {},
                                  config["hidden_size"]).values())
    if vision:
        notes.append(
            f"the vision tower and merger ({vision:,} parameters, {vision * 2 / GIB:.2f} GiB "
            "at 16 bits) are counted in parameters, as vLLM loads them by default; with "
            "--language-model-only (or --limit-mm-per-prompt 0 for image and video) vLLM "
            "does not build them (models/interfaces.py _mark_tower_model), which the facts "
            "cannot say; nor does the plan count the vision encoder's profiling run or its "
            "encoder cache")
    return notes


def _gated_delta_net(config: dict[str, Any]) -> dict[str, int]:
    """One Qwen3-Next Gated DeltaNet layer (vllm/model_executor/models/qwen3_next.py
    Qwen3NextGatedDeltaNet): in_proj_qkvz H × (2 key_dim + 2 value_dim), in_proj_ba
    H × 2 value heads, conv1d (2 key_dim + value_dim) × kernel, dt_bias and A_log per value
    head, out_proj value_dim × H, all split by TP with the heads; the gated RMSNorm of one
    value head's width whole on every rank."""
    hidden = config["hidden_size"]
    key_dim = config["linear_num_key_heads"] * config["linear_key_head_dim"]
    value_heads = config["linear_num_value_heads"]
    value_dim = value_heads * config["linear_value_head_dim"]
    conv = (2 * key_dim + value_dim) * config["linear_conv_kernel_dim"]
    return {"sharded_linear": hidden * (2 * key_dim + 2 * value_dim) + hidden * 2 * value_heads
            + conv + 2 * value_heads + value_dim * hidden,
            "norms_and_gates": config["linear_value_head_dim"]}


def _gated_attention(config: dict[str, Any]) -> dict[str, int]:
    """One Qwen3-Next full-attention layer (Qwen3NextAttention): q_proj carries the output
    gate (H × 2 heads × head_dim), k/v H × KV heads × head_dim, o heads × head_dim × H;
    per-head q_norm and k_norm."""
    hidden, heads, dim = config["hidden_size"], config["num_attention_heads"], head_dim(config)
    kv_heads = config["num_key_value_heads"]
    return {"sharded_linear": hidden * heads * dim * 2 + 2 * hidden * kv_heads * dim
            + heads * dim * hidden, "norms_and_gates": 2 * dim}


def hybrid_parameter_groups(config: dict[str, Any]) -> dict[str, int]:
    """Parameters by role of a Qwen3-Next hybrid: every full_attention_interval-th layer gated
    full attention, the others Gated DeltaNet; every layer MoE with routed experts (E × 3 × H
    × moe_I), a router E × H and a shared expert 3 × H × shared_I (sharded) with its 1 × H
    gate; 2 × H norms per layer, the final norm H, embedding and head V × H."""
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    interval, count = config["full_attention_interval"], config["num_experts"]
    groups = dict.fromkeys(ROLES, 0)
    groups["embedding"] = vocab * hidden
    groups["head"] = 0 if config.get("tie_word_embeddings") else vocab * hidden
    groups["norms_and_gates"] = hidden
    for index in range(config["num_hidden_layers"]):
        mixer = _gated_attention if (index + 1) % interval == 0 else _gated_delta_net
        moe = {"experts": count * 3 * hidden * config["moe_intermediate_size"],
               "norms_and_gates": count * hidden + hidden + 2 * hidden,
               "sharded_linear": 3 * hidden * config["shared_expert_intermediate_size"]}
        for part in (mixer(config), moe):
            for role, number in part.items():
                groups[role] += number
    return groups


MAMBA2_MODEL_TYPES = {"nemotron_h", "granitemoehybrid"}
"""Mamba2 hybrids (vllm/model_executor/models/nemotron_h.py, granitemoehybrid.py): Mamba2
mixers between GQA attention layers; their layers and state shape are read by
planning/kv_layout.py layout_facts_from_config, their parameters by mamba2_parameter_groups."""


def _mamba2_mixer(hidden: int, heads: int, head_dim_: int, groups: int, state: int,
                  kernel: int, conv_bias: bool, proj_bias: bool) -> dict[str, int]:
    """One MambaMixer2 (vllm/model_executor/layers/mamba/mamba_mixer2.py, 0.34.0 wheel), all
    split by TP with the heads, with I = heads × head dim and C = I + 2 × groups × state:
    in_proj H × (2 I + 2 × groups × state + heads), conv1d C × kernel (+ C bias), A, D and
    dt_bias one per head, the gated RMSNorm I, out_proj I × H (+ biases when the config says
    so). Groups replicated for TP (extra_groups_for_head_shards) are not in the checkpoint."""
    inner = heads * head_dim_
    conv_dim = inner + 2 * groups * state
    in_out = hidden * (inner + conv_dim + heads) + inner * hidden
    if proj_bias:
        in_out += inner + conv_dim + heads + hidden
    conv = conv_dim * kernel + (conv_dim if conv_bias else 0)
    return {"sharded_linear": in_out + conv + 3 * heads + inner}


def _mamba2_of(config: dict[str, Any]) -> dict[str, int]:
    """The Mamba2 mixer of a Nemotron-H or Granite-4.0-H layer, from its family's keys
    (kv_layout.MAMBA2_KEYS); conv bias on unless the config says otherwise (vLLM's
    NemotronHConfig mamba_conv_bias=True), projection biases off (use_bias=False)."""
    heads, dim, groups, state, kernel = (config[key] for key in
                                         kv_layout.MAMBA2_KEYS[config["model_type"]])
    conv_bias = config.get("use_conv_bias", config.get("mamba_conv_bias", True))
    proj_bias = config.get("use_bias", config.get("mamba_proj_bias", False))
    return _mamba2_mixer(config["hidden_size"], heads, dim, groups, state, kernel,
                         bool(conv_bias), bool(proj_bias))


def _nemotron_h_layer(config: dict[str, Any], kind: str, mlp_index: int) -> dict[str, int]:
    """One Nemotron-H block (nemotron_h.py, 0.34.0): its RMSNorm H and one mixer: Mamba2 (M),
    attention (*: qkv H × (heads + 2 KV heads) × head_dim, o heads × head_dim × H, no bias)
    or an MLP (-: up H × I and down I × H, I = intermediate_size or its mlp_index-th entry,
    biases with mlp_bias). MoE blocks (E) are refused: their roles are not counted here."""
    hidden = config["hidden_size"]
    if kind == "M":
        return {**_mamba2_of(config), "norms_and_gates": hidden}
    if kind == "*":
        heads, dim = config["num_attention_heads"], head_dim(config)
        qkv = hidden * (heads + 2 * config["num_key_value_heads"]) * dim
        return {"sharded_linear": qkv + heads * dim * hidden, "norms_and_gates": hidden}
    if kind == "-":
        widths = config["intermediate_size"]
        width = (widths if not isinstance(widths, list)
                 else widths[0] if len(widths) == 1 else widths[mlp_index])
        bias = (width + hidden) if config.get("mlp_bias") else 0
        return {"sharded_linear": 2 * hidden * width + bias, "norms_and_gates": hidden}
    raise _unsupported(config, f"nemotron_h's MoE layers (E) are not counted: "
                       f"{config['hybrid_override_pattern'].count('E')} of "
                       f"{len(config['hybrid_override_pattern'])} layers in "
                       "hybrid_override_pattern; write the parameters by role by hand")


def _granite_hybrid_layer(config: dict[str, Any], kind: str) -> dict[str, int]:
    """One Granite-4.0-H layer (granitemoehybrid.py, 0.34.0): two RMSNorms 2 H; a Mamba2 mixer
    or attention (qkv H × (heads + 2 KV heads) × d, o heads × d × H, d = H / heads, biases
    with attention_bias); a GraniteMoeMoE when num_local_experts (experts E × 3 × H × I, its
    router E × H) and a shared MLP when shared_intermediate_size (input 2 × H × S, output
    S × H)."""
    hidden, experts = config["hidden_size"], config.get("num_local_experts") or 0
    shared = config.get("shared_intermediate_size") or 0
    if kind == "mamba":
        groups = _mamba2_of(config)
    else:
        heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
        dim = hidden // heads
        sharded = hidden * (heads + 2 * kv_heads) * dim + heads * dim * hidden
        if config.get("attention_bias"):
            sharded += (heads + 2 * kv_heads) * dim + hidden
        groups = {"sharded_linear": sharded}
    groups["sharded_linear"] += 3 * hidden * shared
    groups["experts"] = experts * 3 * hidden * config["intermediate_size"]
    groups["norms_and_gates"] = 2 * hidden + experts * hidden
    return groups


def mamba2_parameter_groups(config: dict[str, Any]) -> dict[str, int]:
    """Parameters by role of a Mamba2 hybrid: embedding V × H, head V × H unless tied, the
    final norm H, and each layer by its kind (_nemotron_h_layer for hybrid_override_pattern,
    _granite_hybrid_layer for layer_types). NVIDIA-Nemotron-Nano-9B-v2: 8.888 B."""
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    groups = dict.fromkeys(ROLES, 0)
    groups["embedding"] = vocab * hidden
    groups["head"] = 0 if config.get("tie_word_embeddings") else vocab * hidden
    groups["norms_and_gates"] = hidden
    if config["model_type"] == "nemotron_h":
        pattern = config["hybrid_override_pattern"]
        layers = [_nemotron_h_layer(config, kind, pattern[:index + 1].count("-") - 1)
                  for index, kind in enumerate(pattern)]
    else:
        layers = [_granite_hybrid_layer(config, kind) for kind in config["layer_types"]]
    for layer in layers:
        for role, number in layer.items():
            groups[role] += number
    return groups


def head_dim(config: dict[str, Any]) -> int:
    """config `head_dim` when set (Mistral Nemo, Qwen3), else hidden_size / num_attention_heads."""
    if config.get("head_dim"):
        return int(config["head_dim"])
    return config["hidden_size"] // config["num_attention_heads"]


def attention_facts(config: dict[str, Any]) -> dict[str, Any]:
    """The `attention` mapping of a models.yaml entry.

    gqa: heads, kv_heads (num_key_value_heads, = heads for MHA configs that omit it), head_dim.
    mla: heads, kv_lora_rank, qk_rope_head_dim (the latent cache is kv_lora_rank + rope dims).
    """
    kind = attention_kind(config)
    heads = config["num_attention_heads"]
    if kind == model_families.GQA:
        kv_heads = config.get("num_key_value_heads") or heads
        return {"kind": model_families.GQA, "heads": heads, "kv_heads": kv_heads,
                "head_dim": head_dim(config)}
    _require(config, "kv_lora_rank", "qk_rope_head_dim")
    _require(config, "qk_nope_head_dim", "v_head_dim")
    mla = {"kind": model_families.MLA, "heads": heads, "kv_lora_rank": config["kv_lora_rank"],
           "qk_rope_head_dim": config["qk_rope_head_dim"],
           "qk_nope_head_dim": config["qk_nope_head_dim"], "v_head_dim": config["v_head_dim"]}
    if config.get("index_head_dim"):
        mla["index_head_dim"] = config["index_head_dim"]     # DSA's indexer cache (V3.2)
    return mla


def _gqa_attention(config: dict[str, Any]) -> dict[str, int]:
    """Attention weights of one Llama-layout layer, by role.

    sharded: H × (heads + 2 × kv_heads) × head_dim (q, k, v) + heads × head_dim × H (o)
      + biases: q/k/v biases in Qwen2 (always) or when `attention_bias` (Llama, also on o);
    norms: Qwen3's per-head q_norm and k_norm (2 × head_dim).
    """
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    dim = head_dim(config)
    qkv_out = (heads + 2 * kv_heads) * dim
    sharded = hidden * qkv_out + heads * dim * hidden
    model_type = config["model_type"]
    if model_type == "qwen2" or config.get("attention_bias"):
        sharded += qkv_out
    if config.get("attention_bias") and model_type in ("llama", "gpt_oss"):
        sharded += hidden
    if model_type == "gpt_oss":
        sharded += heads            # attention sinks, one per head, split with the heads
    norms = 2 * dim if model_type in QK_NORM_MODEL_TYPES else 0
    if model_type == "minimax_m2" and config.get("use_qk_norm"):
        norms = (heads + kv_heads) * dim        # per_layer q_norm and k_norm over all heads
    return {"sharded_linear": sharded, "norms_and_gates": norms}


def _mla_attention(config: dict[str, Any]) -> dict[str, int]:
    """Attention weights of one DeepSeek MLA layer, by role.

    replicated (every TP rank holds them whole): q_a_proj H × q_lora (when q_lora_rank is set)
      and kv_a_proj_with_mqa H × (kv_lora_rank + rope);
    norms: q_a_layernorm q_lora + kv_a_layernorm kv_lora_rank;
    sharded: q_b_proj q_lora × heads × (nope + rope) (or q_proj H × heads × (nope + rope)),
      kv_b_proj kv_lora_rank × heads × (nope + v_head_dim), o_proj heads × v_head_dim × H.
    Example (V2-Lite): replicated 1,179,648, norms 512, sharded 12,582,912.
    """
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    nope, rope = config["qk_nope_head_dim"], config["qk_rope_head_dim"]
    lora, v_dim = config["kv_lora_rank"], config["v_head_dim"]
    q_lora = config.get("q_lora_rank")
    replicated = hidden * (lora + rope)
    norms = lora
    if q_lora:
        replicated += hidden * q_lora
        norms += q_lora
        sharded = q_lora * heads * (nope + rope)
    else:
        sharded = hidden * heads * (nope + rope)
    sharded += lora * heads * (nope + v_dim) + heads * v_dim * hidden
    if config.get("index_n_heads"):
        indexer = indexer_parameters(config)
        replicated += indexer["replicated_linear"]
        norms += indexer["norms_and_gates"]
    return {"replicated_linear": replicated, "norms_and_gates": norms, "sharded_linear": sharded}


def indexer_parameters(config: dict[str, Any]) -> dict[str, int]:
    """One layer's DSA indexer (V3.2, GLM-5) by role: wq_b q_lora × index_head_dim ×
    index_n_heads, replicated and quantized; wk_weights_proj H × (index_head_dim +
    index_n_heads), never quantized; k_norm a LayerNorm (weight and bias) of index_head_dim."""
    hidden = config["hidden_size"]
    index_heads, index_dim = config["index_n_heads"], config["index_head_dim"]
    return {"replicated_linear": (config.get("q_lora_rank") or hidden) * index_dim * index_heads,
            "norms_and_gates": hidden * (index_dim + index_heads) + 2 * index_dim}


def _dense_mlp_params(hidden: int, intermediate: int, bias: bool = False) -> int:
    """SwiGLU MLP = 3 × H × I (gate, up, down) + biases (2 × I + H) when the config says so."""
    return 3 * hidden * intermediate + ((2 * intermediate + hidden) if bias else 0)


def routed_experts(config: dict[str, Any]) -> int:
    """Routed experts per MoE layer: n_routed_experts (DeepSeek, Kimi), num_experts (Qwen3-MoE),
    num_local_experts (gpt-oss); 0 for a dense model."""
    return (config.get("n_routed_experts") or config.get("num_experts")
            or config.get("num_local_experts") or 0)


def _is_moe_layer(config: dict[str, Any], index: int) -> bool:
    """DeepSeek layers from first_k_dense_replace on (every moe_layer_freq-th) are MoE;
    Qwen3-MoE's every decoder_sparse_step-th layer not in mlp_only_layers
    (qwen3_moe.py Qwen3MoeDecoderLayer); every gpt-oss layer."""
    if not routed_experts(config):
        return False
    if config.get("model_type") == LLAMA4_TEXT:
        # llama4.py Llama4DecoderLayer: is_moe_layer = step > 0 and (index + 1) % step == 0
        step = config.get("interleave_moe_layer_step") or 0
        return step > 0 and (index + 1) % step == 0
    if config.get("model_type") == "qwen3_moe":
        return (index not in (config.get("mlp_only_layers") or [])
                and (index + 1) % (config.get("decoder_sparse_step") or 1) == 0)
    first_dense = config.get("first_k_dense_replace", 0)
    return index >= first_dense and index % config.get("moe_layer_freq", 1) == 0


def _qwen3_gpt_oss_moe(config: dict[str, Any]) -> dict[str, int]:
    """One Qwen3-MoE or gpt-oss MoE block, by role. Qwen3-MoE: experts E × 3 × H × moe_I,
    router E × H, no shared expert. gpt-oss: experts E × 3 × H × I, router E × H + E, and the
    experts' biases E × (2I + H), kept 16-bit with the router (mxfp4 packs weights only)."""
    hidden, count = config["hidden_size"], routed_experts(config)
    if config["model_type"] == "gpt_oss":
        inner = config["intermediate_size"]
        return {"experts": count * 3 * hidden * inner,
                "norms_and_gates": count * hidden + count + count * (2 * inner + hidden)}
    _require(config, "moe_intermediate_size")
    return {"experts": count * 3 * hidden * config["moe_intermediate_size"],
            "norms_and_gates": count * hidden}


def _moe(config: dict[str, Any]) -> dict[str, int]:
    """One DeepSeek MoE block, by role.

    experts: n_routed × 3 × H × moe_I;  sharded: shared experts 3 × H × (moe_I × n_shared);
    gates: router n_routed × H + n_routed (V3's e_score_correction_bias with noaux_tc).
    Example (V2-Lite): 553.6 M + 17.3 M + 0.13 M = 571.1 M.
    """
    if config["model_type"] in ("qwen3_moe", "gpt_oss"):
        return _qwen3_gpt_oss_moe(config)
    if config["model_type"] == LLAMA4_TEXT:
        # llama4.py Llama4MoE: routed experts E × 3 × H × I (intermediate_size), one shared
        # expert (a TP-sharded LlamaMLP of the same width), a ReplicatedLinear router E × H.
        count, hidden = routed_experts(config), config["hidden_size"]
        inner = config["intermediate_size"]
        return {"experts": count * 3 * hidden * inner, "sharded_linear": 3 * hidden * inner,
                "norms_and_gates": count * hidden}
    if config["model_type"] == "minimax_m2":
        # experts E × 3 × H × I (intermediate_size is the expert's); router E × H (16-bit,
        # modules_to_not_convert "gate") + e_score_correction_bias E with use_routing_bias.
        count, hidden = routed_experts(config), config["hidden_size"]
        return {"experts": count * 3 * hidden * config["intermediate_size"],
                "norms_and_gates": count * hidden
                + (count if config.get("use_routing_bias") else 0)}
    _require(config, "moe_intermediate_size")
    hidden = config["hidden_size"]
    experts = config["n_routed_experts"]
    moe_i = config["moe_intermediate_size"]
    gates = experts * hidden + (experts if config.get("topk_method") == "noaux_tc" else 0)
    return {"experts": experts * 3 * hidden * moe_i,
            "sharded_linear": 3 * hidden * moe_i * (config.get("n_shared_experts") or 0),
            "norms_and_gates": gates}


ROLES = ("embedding", "head", "norms_and_gates", "replicated_linear", "sharded_linear",
         "experts")
"""Parameter roles, as planning/memory.py WEIGHT_ROLES (where vLLM puts each weight)."""


def parameter_groups(config: dict[str, Any]) -> dict[str, int]:
    """Parameters by role from the shapes (DeepSeek MTP layers excluded).

    embedding V × H; head V × H unless tie_word_embeddings; per layer the attention's roles,
    2 × H norms, and the dense MLP (sharded) or the MoE block; the final norm H; Llama 4's
    vision tower (_llama4_vision).
    """
    config = text_model_config(config)
    kind = attention_kind(config)
    if config.get("model_type") in HYBRID_COUNTED:
        return hybrid_parameter_groups(config)
    if config.get("model_type") == KIMI_LINEAR:
        return kimi_linear_parameter_groups(config)
    if config.get("model_type") in QWEN3_5_TEXT_TYPES:
        return qwen3_5_parameter_groups(config)
    if config.get("model_type") in MAMBA2_MODEL_TYPES:
        return mamba2_parameter_groups(config)
    _require(config, "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
             "intermediate_size")
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    attention = _gqa_attention if kind == model_families.GQA else _mla_attention
    groups = dict.fromkeys(ROLES, 0)
    groups["embedding"] = vocab * hidden
    groups["head"] = 0 if config.get("tie_word_embeddings", False) else vocab * hidden
    groups["norms_and_gates"] = hidden
    for index in range(config["num_hidden_layers"]):
        parts = [attention(config), {"norms_and_gates": 2 * hidden}]
        if _is_moe_layer(config, index):
            parts.append(_moe(config))
        else:
            parts.append({"sharded_linear": _dense_mlp_params(
                hidden, dense_intermediate_size(config), bool(config.get("mlp_bias")))})
        for part in parts:
            for role, count in part.items():
                groups[role] += count
    for role, count in _llama4_vision(config.get("vision_config") or {},
                                      hidden).items():
        groups[role] += count
    return groups


def dense_intermediate_size(config: dict[str, Any]) -> int:
    """A dense layer's MLP width: Llama 4's intermediate_size_mlp (its intermediate_size is
    the experts'), else intermediate_size."""
    return config.get("intermediate_size_mlp") or config["intermediate_size"]


def _llama4_vision(vision: dict[str, Any], text_hidden: int) -> dict[str, int]:
    """Llama 4's vision tower and projector by role (mllama4.py; {} without a
    llama4_vision_model). TP-sharded with the default mm_encoder_tp_mode "weights": per layer
    q/k/v/o h × h and q/k/v biases, fc1 h × i + bias, fc2 i × h; the patch embedding
    (channels × patch²) × h; the pixel-shuffle adapter i × projector_input_dim and
    projector_input_dim × projector_output_dim; the projector vision_output_dim × text H.
    Whole on every rank: o and fc2 biases, two LayerNorms (weight and bias) per layer, the
    class and positional embeddings ((image / patch)² + 1 positions), LayerNorms pre and post.
    Scout: 870,825,728 sharded + 1,106,688 whole."""
    if vision.get("model_type") != "llama4_vision_model":
        return {}
    h, i = vision["hidden_size"], vision["intermediate_size"]
    layers = vision["num_hidden_layers"]
    patches = (vision["image_size"] // vision["patch_size"]) ** 2 + 1
    sharded = layers * (4 * h * h + 3 * h + 2 * h * i + i)
    sharded += vision["num_channels"] * vision["patch_size"] ** 2 * h
    sharded += (i * vision["projector_input_dim"]
                + vision["projector_input_dim"] * vision["projector_output_dim"]
                + vision["vision_output_dim"] * text_hidden)
    whole = layers * 6 * h + h + patches * h + 4 * h
    return {"sharded_linear": sharded, "norms_and_gates": whole}


def count_params(config: dict[str, Any]) -> int:
    """Total parameters from the shapes = the sum of parameter_groups.

    Example (Qwen2-7B shape): 0.545 B + 28 × 233.06 M + 3584 + 0.545 B = 7.616 B.
    """
    return sum(parameter_groups(config).values())


SAFETENSORS_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "F8_E4M3": 1, "F8_E5M2": 1,
                     "F8_E8M0": 1, "I8": 1, "U8": 1, "I16": 2, "I32": 4, "I64": 8, "BOOL": 1}
"""Bytes per element of each safetensors dtype (the format's own table)."""


def safetensors_header(path: pathlib.Path) -> dict[str, Any]:
    """The JSON header of a .safetensors file: 8 bytes little-endian length, then the JSON."""
    with open(path, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        if not 0 < length < 100 * 2**20:
            raise ValueError(f"{path} does not start with a safetensors header")
        return json.loads(handle.read(length))


def dtype_counts_from_headers(paths: list[pathlib.Path]) -> tuple[dict[str, int], int]:
    """(elements per dtype, tensor bytes) over the checkpoint's .safetensors files."""
    counts: dict[str, int] = {}
    total_bytes = 0
    for path in paths:
        for name, tensor in safetensors_header(path).items():
            if name == "__metadata__":
                continue
            elements = 1
            for dim in tensor["shape"]:
                elements *= dim
            counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + elements
            start, end = tensor["data_offsets"]
            total_bytes += end - start
    return counts, total_bytes


LAYER_INDEX = re.compile(r"\.layers\.(\d+)\.")
GATE_OR_NORM = re.compile(r"norm|\.mlp\.gate\.|router|e_score_correction_bias|sinks|"
                          r"shared_expert_gate|_bias$|indexer\.(?!wq_b)")
REPLICATED = re.compile(r"q_a_proj|kv_a_proj_with_mqa|indexer\.wq_b")


def role_of_tensor(name: str) -> str:
    """The ROLES entry a checkpoint tensor (weight, packed weight, scale or zero point) belongs
    to, from its name as Hugging Face checkpoints write it; scales and zero points go with
    their weight's role."""
    if "embed_tokens" in name:
        return "embedding"
    if name.startswith("lm_head"):
        return "head"
    if GATE_OR_NORM.search(name):
        return "norms_and_gates"
    if ".experts." in name or name.endswith(".experts"):
        return "experts"
    if REPLICATED.search(name):
        return "replicated_linear"
    return "sharded_linear"


def bytes_by_role_from_headers(paths: list[pathlib.Path], layers: int) -> dict[str, int]:
    """Checkpoint bytes per role from the .safetensors headers (tensor names and data offsets;
    no tensor data is read), layers from `layers` on (DeepSeek's MTP layer) left out."""
    by_role = dict.fromkeys(ROLES, 0)
    for path in paths:
        for name, tensor in safetensors_header(path).items():
            match = LAYER_INDEX.search(name)
            if name == "__metadata__" or (match and int(match.group(1)) >= layers):
                continue
            start, end = tensor["data_offsets"]
            by_role[role_of_tensor(name)] += end - start
    return by_role


def widths_note(by_role: dict[str, int], groups: dict[str, int],
                width_facts: dict[str, Any] | None, dtype: str) -> str:
    """The checkpoint's bytes per parameter of each role (header bytes ÷ parameters from the
    shapes) beside the widths the facts give it (planning/memory.py role_widths)."""
    scheme = dtype if dtype in memory.ROLE_BYTES else "bf16"
    widths = memory.role_widths(scheme, width_facts)
    shown = ", ".join(f"{role} {by_role[role] / groups[role]:.4g} B (facts {widths[role]:.4g} B)"
                      for role in ROLES if by_role.get(role) and groups.get(role))
    return ("note: checkpoint bytes per parameter by role (safetensors headers ÷ parameters "
            f"from the shapes): {shown}. A role far from its facts' width is misread: check "
            "quantization_config and weights_by_role by hand.")


def dtype_counts_from_model_info(info: dict[str, Any]) -> dict[str, int]:
    """`safetensors.parameters` of a saved hub model-info JSON (GET /api/models/<id>)."""
    try:
        return dict(info["safetensors"]["parameters"])
    except (KeyError, TypeError) as exc:
        raise ValueError("the model-info JSON has no safetensors.parameters; save it with "
                         "`curl https://huggingface.co/api/models/<org>/<name>`") from exc


PACKED_DTYPES = ("U8", "I8")
"""Dtypes 4-bit checkpoints pack into; the hub's element counts of these are not bytes for
every checkpoint (gpt-oss's U8 count is 2 × block bytes + scale bytes), so a size from model
info excludes them and says so."""


def bytes_from_dtype_counts(counts: dict[str, int]) -> tuple[int, list[str]]:
    """(bytes of the unpacked dtypes, the packed dtypes left out)."""
    size = sum(count * SAFETENSORS_BYTES[dtype] for dtype, count in counts.items()
               if dtype not in PACKED_DTYPES)
    return size, sorted(d for d in counts if d in PACKED_DTYPES)


def _bits_dtype(config: dict[str, Any], bits: int, kind: str) -> str:
    if kind == "float" and bits == 8:
        return "fp8"
    if kind == "int" and bits in (4, 8):
        return f"int{bits}"
    raise _unsupported(config, f"quantized weights of {bits}-bit {kind} are not modelled")


NVFP4_GROUP = 16
"""Weights per FP8 block scale of an NVFP4 checkpoint (planning/memory.py NVFP4_BYTES)."""


def _nvfp4(config: dict[str, Any], group_size: Any) -> str:
    """nvfp4, when the group is the 16 NVFP4_BYTES counts (modelopt.py ModelOptNvFp4Config
    defaults a missing group_size to 16; compressed-tensors' _is_nvfp4_format requires 16)."""
    if int(group_size or NVFP4_GROUP) != NVFP4_GROUP:
        raise _unsupported(config, f"NVFP4 with group_size {group_size} is not modelled (the "
                                   f"block scales are counted one per {NVFP4_GROUP} weights)")
    return model_families.NVFP4


MIXED_ALGOS = {"NVFP4": model_families.NVFP4, "FP8": "fp8"}
"""The per-module algorithms of a ModelOpt MIXED_PRECISION checkpoint read, as role dtypes
(FP8 is per-tensor there: 1 B, the fp8 width's block scales add 4/16384)."""


def _modelopt_dtype(config: dict[str, Any], quant: dict[str, Any]) -> str:
    """A TensorRT Model Optimizer checkpoint's scheme: NVFP4, or MIXED_PRECISION of NVFP4 and
    FP8 modules (nvfp4 when any module is NVFP4; weights_by_role gives each role's). vLLM's
    modelopt.py also serves FP8, W4A16_NVFP4 and MXFP8, whose widths are not modelled here."""
    algo = quant.get("quant_algo")
    if algo == "MIXED_PRECISION":
        layers = (quant.get("quantized_layers") or {}).values()
        algos = {str(info.get("quant_algo")).upper() for info in layers}
        if not algos or not algos <= set(MIXED_ALGOS):
            raise _unsupported(config, f"modelopt MIXED_PRECISION of {sorted(algos)} is not "
                                       f"modelled (NVFP4 and FP8 modules are)")
        for info in layers:
            if str(info.get("quant_algo")).upper() == "NVFP4":
                _nvfp4(config, info.get("group_size"))
        return model_families.NVFP4 if "NVFP4" in algos else "fp8"
    if algo != "NVFP4":
        raise _unsupported(config, f"modelopt quant_algo {algo!r} is not modelled (NVFP4 and "
                                   "MIXED_PRECISION are)")
    return _nvfp4(config, quant.get("group_size"))


def _mixed_layers(config: dict[str, Any]) -> dict[str, str] | None:
    """A MIXED_PRECISION checkpoint's quantized_layers as {module name: role dtype}, the
    language model's prefix written as this tool names modules (model.layers...); None for
    any other checkpoint."""
    quant = config.get("quantization_config") or {}
    if quant.get("quant_method") != "modelopt" or quant.get("quant_algo") != "MIXED_PRECISION":
        return None
    names = {}
    for key, info in (quant.get("quantized_layers") or {}).items():
        for prefix in ("model.language_model.", "language_model.model."):
            if key.startswith(prefix):
                key = "model." + key[len(prefix):]
        names[key] = MIXED_ALGOS[str(info.get("quant_algo")).upper()]
    return names


def _mixed_dtype(name: str, layers: dict[str, str]) -> str:
    """A module's dtype as vLLM resolves it (modelopt.py ModelOptMixedPrecisionConfig.
    _resolve_quant_algo: the entry of the module itself or of a module containing it (an
    expert's FusedMoE); absent, unquantized (16-bit)). vLLM also takes an entry inside the
    module, which a leaf module (the names _module_names gives) cannot have."""
    for key, dtype in layers.items():
        if name == key or name.startswith(key + "."):
            return dtype
    return "bf16"


def _mixed_role_dtypes(config: dict[str, Any], layers: dict[str, str]) -> dict[str, list[str]]:
    groups = parameter_groups(config)
    return {role: [_mixed_dtype(name, layers) for name in names]
            for role, names in _module_names(config).items() if names and groups[role]}


def weights_dtype(config: dict[str, Any]) -> str:
    """bf16 | fp16 | fp8 | mxfp4 | nvfp4 | int8 | int4 from quantization_config, else
    torch_dtype.

    fp32 checkpoints are served in 16 bits by vLLM's `--dtype auto`, so they count as bf16.
    """
    quant = config.get("quantization_config")
    if quant:
        method = quant.get("quant_method")
        if method == "fp8":
            return "fp8"
        if method == model_families.MXFP4:
            return model_families.MXFP4
        if method in ("awq", "gptq"):
            return _bits_dtype(config, int(quant.get("bits", 0)), "int")
        if method == "modelopt":
            return _modelopt_dtype(config, quant)
        if method == "compressed-tensors":
            groups = quant.get("config_groups") or {}
            for group in groups.values():
                weights = group.get("weights") or {}
                if weights.get("type") == "float" and int(weights.get("num_bits", 0)) == 4:
                    return _nvfp4(config, weights.get("group_size"))
                return _bits_dtype(config, int(weights.get("num_bits", 0)),
                                   weights.get("type", "int"))
        raise _unsupported(config, f"quantization method {method!r} is not modelled")
    dtype = config.get("torch_dtype") or config.get("dtype") or "bfloat16"
    return {"bfloat16": "bf16", "float16": "fp16", "float32": "bf16"}.get(dtype, dtype)


def quantization(config: dict[str, Any]) -> dict[str, Any] | None:
    """What quantization_config says, in one shape for every method (None when unquantized):
    method; bits and group_size (GPTQ/AWQ top level, compressed-tensors' config_groups
    weights); format (compressed-tensors `format`, FP8's `fmt`); kept, the modules left in 16
    bits (compressed-tensors `ignore`, AWQ/mxfp4 `modules_to_not_convert`); block (FP8's
    weight_block_size). Keys the config does not give are left out."""
    quant = config.get("quantization_config")
    if not quant:
        return None
    weights: dict[str, Any] = {}
    for group in (quant.get("config_groups") or {}).values():
        weights = group.get("weights") or {}
        break
    found = {"method": quant.get("quant_method"),
             "bits": quant.get("bits") or weights.get("num_bits"),
             "group_size": quant.get("group_size") or weights.get("group_size"),
             "format": quant.get("format") or quant.get("fmt"),
             "kept": (quant.get("ignore") or quant.get("modules_to_not_convert")
                      or quant.get("exclude_modules")),
             "block": quant.get("weight_block_size")}
    return {key: value for key, value in found.items() if value is not None}


def _quantized_width(config: dict[str, Any], dtype: str) -> dict[str, Any]:
    """How the checkpoint stores the roles it quantizes, in models.yaml `weights_by_role`
    form: dtype, group_size (weights per 16-bit scale; per-channel strategies give none) and
    zero_points (asymmetric formats: AWQ's zero_point, GPTQ's or compressed-tensors' symmetric
    false)."""
    quant = config.get("quantization_config") or {}
    weights: dict[str, Any] = {}
    for group in (quant.get("config_groups") or {}).values():
        weights = group.get("weights") or {}
        break
    width: dict[str, Any] = {"dtype": dtype}
    if dtype in ("int4", "int8"):
        group_size = quant.get("group_size") or weights.get("group_size")
        if group_size and group_size > 0 and weights.get("strategy") != "channel":
            width["group_size"] = int(group_size)
        if quant.get("quant_method") == "awq":
            zero_points = quant.get("zero_point", True)
        else:
            zero_points = not quant.get("sym", weights.get("symmetric", True))
        if zero_points:
            width["zero_points"] = True
    return width


def _module_names(config: dict[str, Any]) -> dict[str, list[str]]:
    """A representative module name of every part of each quantizable role, as vLLM names the
    layers (the names an ignore list is matched against): MLA's replicated q_a/kv_a
    projections; attention, the dense layers' MLP and the shared experts for sharded_linear;
    one routed expert for experts."""
    moe = next((index for index in range(config.get("num_hidden_layers") or 0)
                if _is_moe_layer(config, index)), None)
    dense = next((index for index in range(config.get("num_hidden_layers") or 0)
                  if not _is_moe_layer(config, index)), None)
    names: dict[str, list[str]] = {"replicated_linear": [], "sharded_linear": [], "experts": []}
    if attention_kind(config) == model_families.MLA:
        names["replicated_linear"] = ["model.layers.0.self_attn.kv_a_proj_with_mqa"]
        names["sharded_linear"] = ["model.layers.0.self_attn.kv_b_proj",
                                   "model.layers.0.self_attn.o_proj"]
    else:
        names["sharded_linear"] = ["model.layers.0.self_attn.q_proj",
                                   "model.layers.0.self_attn.o_proj"]
    if dense is not None:
        names["sharded_linear"].append(f"model.layers.{dense}.mlp.down_proj")
    if moe is not None and config.get("n_shared_experts"):
        names["sharded_linear"].append(f"model.layers.{moe}.mlp.shared_experts.down_proj")
    if moe is not None:
        names["experts"] = [f"model.layers.{moe}.block_sparse_moe.experts.0.w2"
                            if config["model_type"] == "minimax_m2"
                            else f"model.layers.{moe}.mlp.experts.0.down_proj"]
    return names


def _kept(name: str, patterns: list[str], method: str | None) -> bool:
    """Whether the checkpoint keeps module `name` unquantized, by the method's own rule:
    compressed-tensors matches "re:" patterns with re.match and other targets by the whole
    name (vllm/model_executor/layers/quantization/compressed_tensors/utils.py
    should_ignore_layer); AWQ skips a layer whose name contains any entry
    (quantization/awq.py is_layer_skipped_awq); FP8 and GPTQ entries name a module or a
    dotted part of it (quantization/utils/quant_utils.py is_layer_skipped); Model Optimizer
    entries are also substrings or fnmatch wildcards (modelopt.py
    ModelOptQuantConfigBase.is_layer_excluded)."""
    for pattern in patterns:
        if method == "modelopt" and (pattern in name or fnmatch.fnmatch(name, pattern)):
            return True
        if pattern.startswith("re:"):
            if re.match(pattern[3:], name):
                return True
        elif method == "awq":
            if pattern in name:
                return True
        elif name == pattern or name.endswith("." + pattern) or f".{pattern}." in name:
            return True
    return False


def _role_keeping(config: dict[str, Any]) -> dict[str, list[bool]]:
    """For each quantizable role with parameters, whether each of its parts stays 16-bit."""
    quant = quantization(config) or {}
    patterns, groups = quant.get("kept") or [], parameter_groups(config)
    return {role: [_kept(name, patterns, quant.get("method")) for name in names]
            for role, names in _module_names(config).items() if names and groups[role]}


def weights_by_role(config: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """models.yaml `weights_by_role` from quantization_config: roles every part of which the
    ignore list keeps are 16-bit, the others at the checkpoint's quantized width (its group
    size and zero points); None when every role is what the scheme's own widths say (an FP8
    block or a group-128 symmetric int4 checkpoint quantizing every linear; mxfp4)."""
    dtype = weights_dtype(config)
    layers = _mixed_layers(config)
    if layers is not None:
        return {role: {"dtype": dtypes[0]}
                for role, dtypes in _mixed_role_dtypes(config, layers).items()} or None
    if dtype not in ("fp8", "int8", "int4", model_families.NVFP4):
        return None
    width, by_role = _quantized_width(config, dtype), {}
    for role, kept in _role_keeping(config).items():
        by_role[role] = {"dtype": "bf16"} if all(kept) else width
    default = {"dtype": dtype} if dtype != "int4" else {"dtype": dtype, "group_size": 128}
    if all(spec in (width, {"dtype": dtype}) for spec in by_role.values()) and \
            width in (default, {"dtype": dtype}):
        return None
    return by_role or None


def could_not_determine(config: dict[str, Any], dtype: str) -> list[str]:
    """What the checkpoint does that the facts cannot express (said, not silently dropped): an
    ignore list that keeps some parts of a role 16-bit and quantizes the others (the role is
    counted at the quantized width, so the plan is light by the kept parts), and the KV
    layout's parts the attention kinds do not count."""
    quant = quantization(config) or {}
    notes = []
    if dtype in ("int4", "int8", "fp8", model_families.NVFP4):
        for role, kept in _role_keeping(config).items():
            if any(kept) and not all(kept):
                parts = [name for name, keep in zip(_module_names(config)[role], kept) if keep]
                notes.append(
                    f"{role}: the checkpoint keeps {', '.join(parts)} 16-bit (ignore list "
                    f"{', '.join(quant.get('kept') or [])}) but quantizes the role's other "
                    "parts; weights_by_role counts the whole role at the quantized width, so "
                    "the plan is light by the kept parts: check weights per GPU against a "
                    "start-up log")
    return notes + _mixed_notes(config) + _kv_layout_notes(config) + qwen3_5_notes(config)


def _mixed_notes(config: dict[str, Any]) -> list[str]:
    """MIXED_PRECISION roles whose parts are stored at different widths (weights_by_role
    counts the whole role at its first part's)."""
    layers = _mixed_layers(config)
    if layers is None:
        return []
    notes = []
    for role, dtypes in _mixed_role_dtypes(config, layers).items():
        if len(set(dtypes)) > 1:
            parts = ", ".join(f"{name} as {dtype}"
                              for name, dtype in zip(_module_names(config)[role], dtypes))
            notes.append(f"{role}: the checkpoint stores {parts} (quantized_layers); "
                         f"weights_by_role counts the role as {dtypes[0]}: check weights per "
                         "GPU against a start-up log")
    return notes


def _kv_layout_notes(config: dict[str, Any]) -> list[str]:
    """KV-cache parts the facts do not count: what DSA's indexer does beyond its cache (which
    the facts count from index_head_dim). Sliding-window and linear-attention layers are
    written as layer_types (planning/kv_layout.py sizes them as vLLM groups them)."""
    notes = []
    if (config.get("model_type") in MAMBA2_MODEL_TYPES and not config.get("chunk_size")
            and not config.get("mamba_chunk_size")):
        notes.append("the Mamba2 SSD chunk (chunk_size / mamba_chunk_size) is not in "
                     "config.json: before vLLM 0.32 with --enable-prefix-caching the hybrid "
                     f"block is a multiple of it and the plan takes vLLM's fallback "
                     f"{kv_layout.DEFAULT_MAMBA_CHUNK_SIZE}; set "
                     "model.facts.linearAttention.chunkSize from the checkpoint")
    if config.get("index_head_dim"):
        notes.append(f"the DSA indexer's cache is counted from index_head_dim "
                     f"{config['index_head_dim']}, but its top-{config.get('index_topk')} "
                     "selection and sparse kernels' 64-token blocks are not: the planned KV "
                     "tokens are rounded to 16-token blocks")
    return notes + _indexer_types_notes(config)


def _indexer_types_notes(config: dict[str, Any]) -> list[str]:
    """vLLM 0.24-0.33 decide the shared indexer layers from index_topk_freq / pattern only;
    0.34 reads indexer_types first (facts/vllm_features.py DSA_SHARED_INDEXER_SINCE)."""
    if config.get("indexer_types") is None:
        return []
    legacy = {key: value for key, value in config.items() if key != "indexer_types"}
    older = kv_layout.shared_indexer_layers_from_config(legacy) or []
    if older == (kv_layout.shared_indexer_layers_from_config(config) or []):
        return []
    return [f"config.json indexer_types and index_topk_freq / index_topk_pattern describe "
            f"different shared indexer layers: the facts follow indexer_types (vLLM 0.34); "
            f"vLLM 0.24-0.33 read only the latter and share layers {older or 'none'}, "
            f"so their indexer caches differ from the plan there"]


def checkpoint_gib(index: dict[str, Any]) -> float:
    """Checkpoint size in GiB = safetensors index metadata.total_size / 2**30."""
    try:
        return index["metadata"]["total_size"] / GIB
    except (KeyError, TypeError) as exc:
        raise ValueError("the safetensors index has no metadata.total_size; is it a "
                         "model.safetensors.index.json?") from exc


def _hf_id_from_path(config_path: pathlib.Path) -> str | None:
    """org/name from a Hugging Face cache path (models--org--name/snapshots/<rev>/config.json)."""
    for part in config_path.resolve().parts:
        match = re.fullmatch(r"models--([^-].*?)--(.+)", part)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return None


def guess_hf_id(config: dict[str, Any], config_path: pathlib.Path) -> str | None:
    """The repository id: config `_name_or_path` when it looks like org/name, else the cache
    directory name, else None (to be filled by hand)."""
    name = config.get("_name_or_path") or ""
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        return name
    return _hf_id_from_path(config_path)


def default_name(config_path: pathlib.Path) -> str:
    """Preset name without an hf_id: `x.config.json` -> x, `x/config.json` -> x."""
    stem = re.sub(r"\.?config$", "", config_path.name.removesuffix(".json"))
    return stem or config_path.resolve().parent.name


def model_facts(config: dict[str, Any], index: dict[str, Any] | None = None,
                hf_id: str | None = None, checkpoint_bytes: int | None = None) -> dict[str, Any]:
    """The models.yaml fields derivable from config.json (+ the checkpoint's size, from the
    safetensors index or the files' headers)."""
    config = text_model_config(config)
    kind = attention_kind(config)
    dtype = weights_dtype(config)
    groups = parameter_groups(config)
    facts: dict[str, Any] = {
        "hf_id": hf_id,
        "architecture": (config.get("architectures") or [None])[0],
        "params_b": round(sum(groups.values()) / 1e9, 6),
        "weights_dtype": dtype,
    }
    if checkpoint_bytes is not None:
        facts["weights_gib"] = round(checkpoint_bytes / GIB, 1)
    elif index is not None:
        facts["weights_gib"] = round(checkpoint_gib(index), 1)
    facts["parameters"] = groups
    by_role = weights_by_role(config)
    if by_role:
        facts["weights_by_role"] = by_role
    if (config.get("quantization_config") or {}).get("weight_block_size"):
        facts["block_quantized"] = True
    if config.get("tie_word_embeddings"):
        facts["tie_word_embeddings"] = True
    facts.update({
        "layers": config["num_hidden_layers"],
        "hidden_size": config["hidden_size"],
        "intermediate_size": dense_intermediate_size(config),
        "vocab_size": config["vocab_size"],
        "attention": attention_facts(config),
        "max_context": config.get("max_position_embeddings"),
    })
    # Sliding-window and linear-attention layers, as vLLM groups them (planning/kv_layout.py).
    facts.update(kv_layout.layout_facts_from_config(config))
    # DSA layers that share an earlier layer's top-k keep no indexer cache (GLM-5.2).
    shared = kv_layout.shared_indexer_layers_from_config(config)
    if shared:
        facts["shared_indexer_layers"] = shared
        # What each of them does not load from vLLM 0.24 (planning/memory.py weights).
        facts["indexer_parameters"] = indexer_parameters(config)
    if routed_experts(config):
        facts["experts"] = routed_experts(config)
        facts["experts_per_token"] = (config.get("num_experts_per_tok")
                                      or config.get("num_experts_per_token"))
        # Mixtral and gpt-oss name their experts' width intermediate_size.
        facts["moe_intermediate_size"] = (config.get("moe_intermediate_size")
                                          or config["intermediate_size"])
        if not any(not _is_moe_layer(config, index)
                   for index in range(config["num_hidden_layers"])):
            # Every layer is MoE: the activation peak follows the experts' width.
            facts["intermediate_size"] = (config.get("moe_intermediate_size")
                                          or config["intermediate_size"])
    return facts


def dtype_note(counts: dict[str, int], groups: dict[str, int]) -> str:
    """How the checkpoint's elements per dtype compare with the parameters from the shapes:
    16-bit elements should be the never-quantized roles, the rest the quantized ones (scales
    and packed 4-bit dtypes aside)."""
    sixteen = counts.get("BF16", 0) + counts.get("F16", 0)
    kept = groups["embedding"] + groups["head"] + groups["norms_and_gates"]
    shown = ", ".join(f"{dtype} {count:,}" for dtype, count in sorted(counts.items()))
    total = sum(groups.values())
    return (f"note: checkpoint elements per dtype: {shown}; from the shapes: {total:,} "
            f"parameters, of which embeddings, head, norms and gates {kept:,} (16-bit in "
            f"quantized checkpoints; the checkpoint has {sixteen:,} 16-bit elements). A "
            "difference beyond the MTP layers or scales means a role is misread: check the "
            "parameters by hand.")


def to_yaml(name: str, facts: dict[str, Any], notes: list[str] | None = None) -> str:
    """One models.yaml entry, indented to paste under `models:`, written by yaml.safe_dump (so
    strings such as `yes` or `0.10` stay strings when read back), with the hand-filled fields
    and what could not be determined as comments after it."""
    body = yaml.safe_dump({name: facts}, sort_keys=False, default_flow_style=None,
                          allow_unicode=True, width=100)
    lines = ["  " + line for line in body.splitlines()]
    if facts.get("hf_id") is None:
        lines.append("    # fill by hand: hf_id, the Hugging Face repository id")
    if facts.get("weights_dtype") in ("fp8", "int8", "int4", model_families.MXFP4,
                                      model_families.NVFP4) \
            and "weights_gib" not in facts:
        lines.append("    # quantized: the roles give the GPU memory; pass --safetensors (or the "
                     "index) for the checkpoint's size (weights_gib)")
    lines.append('    # min_vllm: "X.Y.Z"            fill by hand: first vLLM release that serves it')
    lines.append("    # min_compute_capability: 8.0  fill by hand: lowest GPU generation it runs on")
    lines += [f"    # could not determine: {note}" for note in notes or []]
    return "\n".join(lines) + "\n"


def _read_json(path: pathlib.Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"error: {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: {path} is not valid JSON: {exc}") from None


def with_hf_quant_config(config: dict[str, Any], config_path: pathlib.Path) -> dict[str, Any]:
    """config.json with the hf_quant_config.json beside it as its quantization_config, the way
    vLLM finds a Model Optimizer checkpoint's quantization: config.json's quantization_config
    first, else the file (model_loader/weight_utils.py get_quant_config), whose `quantization`
    section names the excluded modules `exclude_modules` (modelopt.py
    ModelOptQuantConfigBase.from_config)."""
    path = config_path.parent / "hf_quant_config.json"
    if config.get("quantization_config") or not path.is_file():
        return config
    section = _read_json(path).get("quantization") or {}
    return {**config, "quantization_config": {"quant_method": "modelopt", **section}}


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: print the entry, or the reason it cannot be derived (exit status 1)."""
    parser = argparse.ArgumentParser(prog="python -m tools.model_facts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=pathlib.Path, help="the model's config.json")
    parser.add_argument("index", type=pathlib.Path, nargs="?",
                        help="model.safetensors.index.json (adds weights_gib)")
    parser.add_argument("--safetensors", type=pathlib.Path, nargs="+", default=[],
                        help="the checkpoint's *.safetensors files: their headers give the "
                             "exact size (weights_gib) and the elements per dtype")
    parser.add_argument("--model-info", type=pathlib.Path,
                        help="a saved hub model-info JSON (api/models/<id>): its "
                             "safetensors.parameters per dtype are checked against the shapes")
    parser.add_argument("--hf-id", help="Hugging Face repository id (org/name)")
    parser.add_argument("--name", help="preset name (default: the repository name, lower case)")
    args = parser.parse_args(argv)
    config = text_model_config(with_hf_quant_config(_read_json(args.config), args.config))
    index = _read_json(args.index) if args.index else None
    hf_id = args.hf_id or guess_hf_id(config, args.config)
    try:
        counts, checkpoint_bytes = (dtype_counts_from_headers(args.safetensors)
                                    if args.safetensors else ({}, None))
        if args.model_info:
            counts = dtype_counts_from_model_info(_read_json(args.model_info))
        facts = model_facts(config, index, hf_id, checkpoint_bytes)
    except (UnsupportedModel, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if counts:
        print(dtype_note(counts, facts["parameters"]), file=sys.stderr)
    if args.safetensors:
        by_role = bytes_by_role_from_headers(args.safetensors, config["num_hidden_layers"])
        print(widths_note(by_role, facts["parameters"], facts.get("weights_by_role"),
                          facts["weights_dtype"]), file=sys.stderr)
    notes = could_not_determine(config, facts["weights_dtype"])
    for note in notes:
        print(f"note: could not determine: {note}", file=sys.stderr)
    name = args.name or (hf_id.split("/")[-1] if hf_id else default_name(args.config))
    sys.stdout.write(to_yaml(name.lower(), facts, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
