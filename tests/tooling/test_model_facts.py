"""tools.model_facts: config.json -> facts/models.yaml entry.

Fixtures reproduce the real config.json shapes of DeepSeek-R1-Distill-Qwen-7B (Qwen2, gqa) and
DeepSeek-V2-Lite (MLA + MoE); the parameter counts are checked against the published sizes.
"""

import json
import pathlib

import pytest
import yaml

import facts
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
QWEN_7B = FIXTURES / "deepseek-r1-distill-qwen-7b.config.json"
QWEN_7B_INDEX = FIXTURES / "deepseek-r1-distill-qwen-7b.model.safetensors.index.json"
V2_LITE = FIXTURES / "deepseek-v2-lite.config.json"
UNKNOWN = FIXTURES / "unknown-arch.config.json"


def _config(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _run(capsys, *args):
    """Run the CLI in-process; return (exit status, parsed YAML or None, stderr)."""
    status = model_facts.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, (yaml.safe_load(out) if out else None), err


@pytest.mark.parametrize("path, published_b", [(QWEN_7B, 7.62), (V2_LITE, 15.7)])
def test_params_match_published_size(path, published_b):
    params_b = model_facts.count_params(_config(path)) / 1e9
    assert abs(params_b - published_b) / published_b < 0.01


def test_deepseek_v3_shape_counts_671b_without_mtp():
    config = {
        "model_type": "deepseek_v3", "hidden_size": 7168, "num_hidden_layers": 61,
        "num_attention_heads": 128, "vocab_size": 129280, "intermediate_size": 18432,
        "moe_intermediate_size": 2048, "n_routed_experts": 256, "n_shared_experts": 1,
        "first_k_dense_replace": 3, "moe_layer_freq": 1, "q_lora_rank": 1536,
        "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
        "v_head_dim": 128, "topk_method": "noaux_tc", "tie_word_embeddings": False,
        "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]},
    }
    assert abs(model_facts.count_params(config) / 1e9 - 671) / 671 < 0.01
    assert model_facts.weights_dtype(config) == "fp8"
    groups = model_facts.parameter_groups(config)
    # The hub's per-dtype counts for deepseek-ai/DeepSeek-R1 less the MTP layer: BF16
    # 1,960,795,136 (+ 14,848 F32 e_score_correction_bias) and F8_E4M3 669,065,609,216.
    assert groups["embedding"] + groups["head"] + groups["norms_and_gates"] == (
        1_960_795_136 + 14_848)
    assert groups["replicated_linear"] + groups["sharded_linear"] + groups["experts"] == (
        669_065_609_216)
    assert groups == facts.models()["deepseek-r1"]["parameters"]


@pytest.mark.parametrize("path, preset", [
    (QWEN_7B, "deepseek-r1-distill-qwen-7b"),
    (V2_LITE, "deepseek-v2-lite"),
])
def test_output_parses_and_matches_preset(capsys, path, preset):
    status, parsed, _ = _run(capsys, path, "--name", preset)
    assert status == 0
    entry = parsed[preset]
    expected = facts.models()[preset]
    for key in ("architecture", "weights_dtype", "layers", "hidden_size", "intermediate_size",
                "vocab_size", "max_context"):
        assert entry[key] == expected[key], key
    assert entry["attention"] == expected["attention"]
    assert entry.get("experts") == expected.get("experts")
    assert entry["params_b"] == pytest.approx(expected["params_b"], rel=0.005)


def test_hf_id_and_name_default_from_option(capsys):
    status, parsed, _ = _run(capsys, QWEN_7B, "--hf-id", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B")
    assert status == 0
    assert parsed["deepseek-r1-distill-qwen-7b"]["hf_id"] == \
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"


def test_safetensors_index_adds_weights_gib(capsys):
    status, parsed, _ = _run(capsys, QWEN_7B, QWEN_7B_INDEX)
    assert status == 0
    entry = next(iter(parsed.values()))
    # 15,231,233,024 bytes = 7,615,616,512 bf16 parameters x 2 = 14.2 GiB
    assert entry["weights_gib"] == pytest.approx(14.2)


def test_unknown_architecture_says_what_to_fill(capsys):
    status, parsed, err = _run(capsys, UNKNOWN)
    assert status == 1 and parsed is None
    assert "Gemma2ForCausalLM" in err
    for field in ("params_b", "layers", "kv_heads", "head_dim", "max_context", "weights_dtype"):
        assert field in err


def test_quantized_gqa_and_head_dim_from_config():
    config = _config(QWEN_7B) | {"model_type": "qwen3", "head_dim": 256,
                                 "quantization_config": {"quant_method": "awq", "bits": 4}}
    assert model_facts.attention_facts(config)["head_dim"] == 256
    assert model_facts.weights_dtype(config) == "int4"


@pytest.mark.parametrize("path, preset", [(V2_LITE, "deepseek-v2-lite")])
def test_parameters_by_role_are_the_presets_and_sum_to_the_published_total(path, preset):
    groups = model_facts.parameter_groups(_config(path))
    assert groups == facts.models()[preset]["parameters"]
    assert sum(groups.values()) == 15_706_484_224      # the hub's total for V2-Lite-Chat


def test_dense_roles_put_embeddings_and_head_apart():
    groups = model_facts.parameter_groups(_config(QWEN_7B))
    assert groups["embedding"] == groups["head"] == 152064 * 3584
    assert groups["experts"] == groups["replicated_linear"] == 0
    assert sum(groups.values()) == 7_615_616_512      # Qwen2.5-7B's safetensors BF16 count
    tied = model_facts.parameter_groups({**_config(QWEN_7B), "tie_word_embeddings": True})
    assert tied["head"] == 0 and tied["embedding"] == groups["embedding"]


def _write_safetensors(path, tensors):
    """A real safetensors file: 8-byte header length, JSON header, then the tensor bytes."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = model_facts.SAFETENSORS_BYTES[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps({"__metadata__": {"format": "pt"}, **header}).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * offset)


def test_safetensors_headers_give_dtype_counts_and_exact_size(tmp_path, capsys):
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _write_safetensors(first, {"w": ("F8_E4M3", [256, 128]), "s": ("F32", [2, 1])})
    _write_safetensors(second, {"e": ("BF16", [64, 32])})
    counts, size = model_facts.dtype_counts_from_headers([first, second])
    assert counts == {"F8_E4M3": 32768, "F32": 2, "BF16": 2048}
    assert size == 32768 + 8 + 4096
    status, parsed, err = _run(capsys, V2_LITE, "--safetensors", first, second)
    assert status == 0
    entry = next(iter(parsed.values()))
    assert entry["weights_gib"] == round(size / 2**30, 1)
    assert "F8_E4M3 32,768" in err


def test_a_file_that_is_not_safetensors_is_an_error_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\xff" * 16)
    status, parsed, err = _run(capsys, V2_LITE, "--safetensors", bad)
    assert status == 1 and parsed is None
    assert "safetensors header" in err


def test_model_info_counts_are_compared_with_the_roles(tmp_path, capsys):
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"safetensors": {"parameters": {"BF16": 15_706_484_224}}}))
    status, _, err = _run(capsys, V2_LITE, "--model-info", info)
    assert status == 0
    assert "BF16 15,706,484,224" in err and "15,706,484,224 parameters" in err
    size, packed = model_facts.bytes_from_dtype_counts({"BF16": 10, "U8": 100, "F32": 1})
    assert (size, packed) == (24, ["U8"])
