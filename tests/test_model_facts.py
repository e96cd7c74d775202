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

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
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
