"""Turn a Hugging Face config.json into a facts/models.yaml entry.

    python -m tools.model_facts path/to/config.json [path/to/model.safetensors.index.json]
        [--hf-id org/name] [--name preset-name]

Prints one YAML block in the format of facts/models.yaml (paste it under `models:` or into a
stack's `model.facts`). Supports Llama/Mistral/Qwen2/Qwen3-style dense models with standard or
grouped-query attention (`gqa`) and DeepSeek V2/V3/R1 (`mla`, MoE). Anything else fails with a
message naming the fields to fill by hand. Parameter counts come from the shapes alone; the
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

from facts import model_families

GIB = 2**30

GQA_MODEL_TYPES = {"llama", "mistral", "qwen2", "qwen3"}
"""Dense decoder families whose weights follow the Llama layout (q/k/v/o + gate/up/down)."""
MLA_MODEL_TYPES = {"deepseek_v2", "deepseek_v3"}
"""DeepSeek families with multi-head latent attention and routed experts."""

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
        f"Llama/Mistral/Qwen2/Qwen3 (gqa) and DeepSeek V2/V3 (mla) configs only. Write the "
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
    raise _unsupported(config, f"unknown model_type {model_type!r}")


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
    return {"kind": model_families.MLA, "heads": heads, "kv_lora_rank": config["kv_lora_rank"],
            "qk_rope_head_dim": config["qk_rope_head_dim"],
            "qk_nope_head_dim": config["qk_nope_head_dim"], "v_head_dim": config["v_head_dim"]}


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
    if config.get("attention_bias") and model_type == "llama":
        sharded += hidden
    norms = 2 * dim if model_type == "qwen3" else 0
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
    return {"replicated_linear": replicated, "norms_and_gates": norms, "sharded_linear": sharded}


def _dense_mlp_params(hidden: int, intermediate: int, bias: bool = False) -> int:
    """SwiGLU MLP = 3 × H × I (gate, up, down) + biases (2 × I + H) when the config says so."""
    return 3 * hidden * intermediate + ((2 * intermediate + hidden) if bias else 0)


def _is_moe_layer(config: dict[str, Any], index: int) -> bool:
    """DeepSeek layers from first_k_dense_replace on (every moe_layer_freq-th) are MoE."""
    if not config.get("n_routed_experts"):
        return False
    first_dense = config.get("first_k_dense_replace", 0)
    return index >= first_dense and index % config.get("moe_layer_freq", 1) == 0


def _moe(config: dict[str, Any]) -> dict[str, int]:
    """One DeepSeek MoE block, by role.

    experts: n_routed × 3 × H × moe_I;  sharded: shared experts 3 × H × (moe_I × n_shared);
    gates: router n_routed × H + n_routed (V3's e_score_correction_bias with noaux_tc).
    Example (V2-Lite): 553.6 M + 17.3 M + 0.13 M = 571.1 M.
    """
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
    if kind == model_families.MLA and config.get("n_routed_experts"):
        facts["experts"] = config["n_routed_experts"]
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


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value) if re.search(r"[:#{}\[\],&*!|>'\"%@`]|^\s|\s$", value) else value
    return str(value)


def to_yaml(name: str, facts: dict[str, Any]) -> str:
    """One models.yaml entry, indented to paste under `models:`, with the hand-filled fields
    as comments."""
    lines = [f"  {name}:"]
    for key, value in facts.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
            lines.append(f"    {key}: {{{inner}}}")
        else:
            comment = ""
            if key == "hf_id" and value is None:
                comment = "   # fill by hand: Hugging Face repository id"
            if key == "weights_dtype" and value in ("fp8", "int8", "int4", model_families.MXFP4) \
                    and "weights_gib" not in facts:
                comment = ("   # quantized: the roles give the GPU memory; pass --safetensors "
                           "(or the index) for the checkpoint's size")
            lines.append(f"    {key}: {_scalar(value)}{comment}")
    lines.append('    # min_vllm: "X.Y.Z"            fill by hand: first vLLM release that serves it')
    lines.append("    # min_compute_capability: 8.0  fill by hand: lowest GPU generation it runs on")
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
    name = args.name or (hf_id.split("/")[-1] if hf_id else default_name(args.config))
    sys.stdout.write(to_yaml(name.lower(), facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
