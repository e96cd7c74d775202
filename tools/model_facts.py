"""Turn a Hugging Face config.json into a facts/models.yaml entry.

    python -m tools.model_facts path/to/config.json [path/to/model.safetensors.index.json]
        [--hf-id org/name] [--name preset-name]

Prints one YAML block in the format of facts/models.yaml (paste it under `models:` or into a
stack's `model.facts`), written by yaml.safe_dump. Supports Llama/Mistral/Qwen2/Qwen3-style
dense models with standard or grouped-query attention (`gqa`), Qwen3-MoE and gpt-oss (`gqa`,
MoE), and the DeepSeek layout (`mla`, MoE: V2, V3/R1, V3.2 with DSA's indexer, Kimi-K2).
quantization_config is read (method, bits, group size, format, the modules kept in 16 bits);
what the plan's scheme cannot express is said as "could not determine". Hybrid
linear-attention models (qwen3_next, kimi_linear) and anything else fail with a message
saying what was read and which fields to fill by hand. Parameter counts come from the shapes alone; the
safetensors index, or the checkpoint's *.safetensors files (`--safetensors`, only their
headers are read), add the checkpoint's real size (`weights_gib`); a saved hub model-info JSON
(`--model-info`) is compared dtype by dtype with the parameters by role.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
from typing import Any

import yaml

from facts import model_families

GIB = 2**30

GQA_MODEL_TYPES = {"llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "gpt_oss"}
"""Decoder families whose attention follows the Llama layout (q/k/v/o): dense ones with
gate/up/down MLPs, Qwen3-MoE (vllm/model_executor/models/qwen3_moe.py) and gpt-oss (gpt_oss.py:
attention biases and sinks, experts with biases)."""
MLA_MODEL_TYPES = {"deepseek_v2", "deepseek_v3", "deepseek_v32", "kimi_k2"}
"""DeepSeek-layout families with multi-head latent attention and routed experts: Kimi-K2
ships DeepseekV3ForCausalLM under model_type kimi_k2; V3.2 adds DSA's indexer
(vllm/model_executor/models/deepseek_v2.py Indexer)."""
HYBRID_MODEL_TYPES = {"qwen3_next", "kimi_linear"}
"""Hybrid linear-attention families: their linear layers keep a per-request state instead of a
per-token cache, which the facts' attention kinds cannot express yet."""
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


def _unsupported(config: dict[str, Any], why: str) -> UnsupportedModel:
    arch = (config.get("architectures") or ["?"])[0]
    return UnsupportedModel(
        f"{why} (architecture {arch}, model_type {config.get('model_type')!r}). This tool reads "
        f"model types {', '.join(sorted(GQA_MODEL_TYPES))} (gqa) and "
        f"{', '.join(sorted(MLA_MODEL_TYPES))} (mla) only. Write the "
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
    if model_type in HYBRID_MODEL_TYPES:
        raise _unsupported(config, hybrid_layers(config))
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
            "no KV figure would be right. Could not determine: the KV layout; the parameters "
            "by role are not written either")


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
        # DSA's indexer (V3.2): wq_b q_lora × index_head_dim·index_n_heads, replicated and
        # quantized; wk_weights_proj H × (index_head_dim + index_n_heads), never quantized;
        # k_norm a LayerNorm (weight and bias) of index_head_dim.
        index_heads, index_dim = config["index_n_heads"], config["index_head_dim"]
        replicated += (q_lora or hidden) * index_dim * index_heads
        norms += hidden * (index_dim + index_heads) + 2 * index_dim
    return {"replicated_linear": replicated, "norms_and_gates": norms, "sharded_linear": sharded}


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
    2 × H norms, and the dense MLP (sharded) or the MoE block; the final norm H.
    """
    kind = attention_kind(config)
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
                hidden, config["intermediate_size"], bool(config.get("mlp_bias")))})
        for part in parts:
            for role, count in part.items():
                groups[role] += count
    return groups


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


def weights_dtype(config: dict[str, Any]) -> str:
    """bf16 | fp16 | fp8 | mxfp4 | int8 | int4 from quantization_config, else torch_dtype.

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
        if method == "compressed-tensors":
            groups = quant.get("config_groups") or {}
            for group in groups.values():
                weights = group.get("weights") or {}
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
             "kept": quant.get("ignore") or quant.get("modules_to_not_convert"),
             "block": quant.get("weight_block_size")}
    return {key: value for key, value in found.items() if value is not None}


PLANNED_GROUP_SIZE = 128
"""The group size planning/sizing.py GPTQ_INT4_BYTES counts scales for."""
ALWAYS_16_BIT = re.compile(r"lm_head|embed_tokens|\brouter\b|mlp\.gate$")
"""Modules the plan keeps 16-bit in every scheme (embeddings, head, router gates)."""


def could_not_determine(config: dict[str, Any], dtype: str) -> list[str]:
    """What the checkpoint does that the plan's scheme for `dtype` does not model (said, not
    silently dropped): a group size other than 128 for int4/int8 scales, and 16-bit modules
    beyond embeddings, head and router in a scheme that quantizes every linear."""
    quant = quantization(config) or {}
    notes = []
    group = quant.get("group_size")
    if dtype in ("int4", "int8") and group and group != PLANNED_GROUP_SIZE:
        notes.append(f"group size {group}: the plan's {dtype} counts one 16-bit scale per "
                     f"{PLANNED_GROUP_SIZE} weights; this checkpoint stores one per {group} "
                     f"(+{2 / group - 2 / PLANNED_GROUP_SIZE:.4f} B per quantized weight)")
    kept = [pattern for pattern in quant.get("kept") or [] if not ALWAYS_16_BIT.search(pattern)]
    if kept and dtype in ("int4", "int8", "fp8"):
        notes.append(f"kept in 16-bit by the checkpoint: {', '.join(kept)}; the plan's {dtype} "
                     "scheme quantizes every linear of its roles, so these weigh more on the "
                     "GPU than planned; check weights per GPU against a start-up log")
    return notes + _kv_layout_notes(config)


def _kv_layout_notes(config: dict[str, Any]) -> list[str]:
    """KV-cache parts the facts' attention kinds do not count: sliding-window layers (counted
    as full attention, so the plan's KV capacity is low, the safe side) and what DSA's
    indexer does beyond its cache (which the facts count from index_head_dim)."""
    notes = []
    types = config.get("layer_types") or []
    sliding = sum(1 for kind in types if kind == "sliding_attention")
    if sliding:
        notes.append(f"{sliding} of {len(types)} layers attend over a "
                     f"{config.get('sliding_window')}-token sliding window (layer_types); the "
                     "facts count every layer as full attention, so the planned KV capacity "
                     "is lower than vLLM's")
    if config.get("index_head_dim"):
        notes.append(f"the DSA indexer's cache is counted from index_head_dim "
                     f"{config['index_head_dim']}, but its top-{config.get('index_topk')} "
                     "selection and sparse kernels' 64-token blocks are not: the planned KV "
                     "tokens are rounded to 16-token blocks")
    return notes


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
    if (config.get("quantization_config") or {}).get("weight_block_size"):
        facts["block_quantized"] = True
    if config.get("tie_word_embeddings"):
        facts["tie_word_embeddings"] = True
    facts.update({
        "layers": config["num_hidden_layers"],
        "hidden_size": config["hidden_size"],
        "intermediate_size": config["intermediate_size"],
        "vocab_size": config["vocab_size"],
        "attention": attention_facts(config),
        "max_context": config.get("max_position_embeddings"),
    })
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
    if facts.get("weights_dtype") in ("fp8", "int8", "int4", model_families.MXFP4) \
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
    config = _read_json(args.config)
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
    notes = could_not_determine(config, facts["weights_dtype"])
    for note in notes:
        print(f"note: could not determine: {note}", file=sys.stderr)
    name = args.name or (hf_id.split("/")[-1] if hf_id else default_name(args.config))
    sys.stdout.write(to_yaml(name.lower(), facts, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
