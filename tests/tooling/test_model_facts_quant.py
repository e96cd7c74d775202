"""tools.model_facts turns quantization_config into per-role widths (issue 18 item 2): the
modules an ignore list keeps 16-bit, the group size and zero points of 4-bit formats, and the
roles a pattern splits said as "could not determine"; MiniMax-M2's family is read.

Fixtures are abridged copies of the hub's config.json files (`_mirrors` names the source)."""

import copy
import json
import pathlib

import pytest
import yaml

from planning import config
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
KIMI = FIXTURES / "kimi-k2-thinking.config.json"
MINIMAX = FIXTURES / "minimax-m2.1.config.json"
V31 = FIXTURES / "deepseek-v3.1.config.json"


def _config(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_kimi_keeps_attention_shared_and_dense_linears_in_bf16_and_experts_int4_group_32():
    assert model_facts.weights_by_role(_config(KIMI)) == {
        "replicated_linear": {"dtype": "bf16"}, "sharded_linear": {"dtype": "bf16"},
        "experts": {"dtype": "int4", "group_size": 32}}


def test_an_ignore_list_that_splits_a_role_is_said_not_guessed():
    kimi = _config(KIMI)
    kimi["quantization_config"]["ignore"] = ["lm_head", "re:.*self_attn.*"]
    # attention kept 16-bit, but shared experts and the dense MLP (same role) quantized
    notes = model_facts.could_not_determine(kimi, model_facts.weights_dtype(kimi))
    assert any("sharded_linear" in note and "self_attn" in note for note in notes)


def test_awq_reads_group_size_zero_points_and_modules_to_not_convert():
    awq = _config(MINIMAX)
    awq["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128,
                                  "zero_point": True, "version": "gemm",
                                  "modules_to_not_convert": ["self_attn", "gate"]}
    assert model_facts.weights_dtype(awq) == "int4"
    assert model_facts.weights_by_role(awq) == {
        "sharded_linear": {"dtype": "bf16"},
        "experts": {"dtype": "int4", "group_size": 128, "zero_points": True}}


def test_an_fp8_block_checkpoint_that_quantizes_every_linear_needs_no_widths():
    assert model_facts.weights_by_role(_config(MINIMAX)) is None
    assert model_facts.weights_by_role(_config(V31)) is None


def test_minimax_m2_counts_by_role_from_its_shape():
    groups = model_facts.parameter_groups(_config(MINIMAX))
    hidden, layers, experts = 3072, 62, 256
    assert groups["experts"] == layers * experts * 3 * hidden * 1536
    # q/k/v/o with 48 heads and 8 KV heads of 128
    assert groups["sharded_linear"] == layers * (hidden * (48 + 16) * 128 + 48 * 128 * hidden)
    # router E × H + e_score_correction_bias E, per-layer q_norm/k_norm, two RMSNorms; final norm
    assert groups["norms_and_gates"] == layers * (experts * hidden + experts + 56 * 128
                                                  + 2 * hidden) + hidden
    assert sum(groups.values()) / 1e9 == pytest.approx(228.7, abs=0.1)   # "230B" published


def test_a_mixed_width_entry_prints_facts_the_config_accepts(capsys):
    status = model_facts.main([str(KIMI), "--name", "k", "--hf-id", "org/k"])
    out, err = capsys.readouterr()
    assert status == 0
    entry = yaml.safe_load("models:\n" + out)["models"]["k"]
    assert "could not determine: group size" not in out
    facts = config.ModelFacts.model_validate(entry)
    assert facts.weights_by_role["experts"].group_size == 32


QWEN3_NEXT = FIXTURES / "qwen3-next-80b-a3b.config.json"


def test_qwen3_next_is_counted_by_role(capsys):
    groups = model_facts.hybrid_parameter_groups(_config(QWEN3_NEXT))
    hidden, key_dim, value_dim = 2048, 16 * 128, 32 * 128
    linear = (hidden * (2 * key_dim + 2 * value_dim) + hidden * 2 * 32
              + (2 * key_dim + value_dim) * 4 + 2 * 32 + value_dim * hidden)
    gated_full = hidden * 16 * 256 * 2 + 2 * hidden * 2 * 256 + 16 * 256 * hidden
    assert groups["sharded_linear"] == 36 * linear + 12 * gated_full + 48 * 3 * hidden * 512
    assert groups["experts"] == 48 * 512 * 3 * hidden * 512
    assert sum(groups.values()) / 1e9 == pytest.approx(79.7, abs=0.1)   # "80B" published
    status = model_facts.main([str(QWEN3_NEXT)])
    out, _ = capsys.readouterr()
    assert status == 0 and "experts: 77309411328" in out


def _safetensors(path, tensors):
    """A safetensors file: 8-byte header length, the JSON header, then zero bytes."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = model_facts.SAFETENSORS_BYTES[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * offset)


def test_the_checkpoints_headers_give_bytes_by_role_from_the_tensor_names(tmp_path):
    shard = tmp_path / "model-00001.safetensors"
    _safetensors(shard, {
        "model.embed_tokens.weight": ("BF16", [16, 8]),
        "lm_head.weight": ("BF16", [16, 8]),
        "model.layers.0.input_layernorm.weight": ("BF16", [8]),
        "model.layers.0.mlp.gate.weight": ("BF16", [4, 8]),
        "model.layers.0.self_attn.kv_a_proj_with_mqa.weight": ("BF16", [6, 8]),
        "model.layers.0.self_attn.o_proj.weight": ("BF16", [8, 8]),
        "model.layers.0.mlp.shared_experts.down_proj.weight": ("BF16", [8, 8]),
        # compressed-tensors pack-quantized: 8 int4 per int32 + one BF16 scale per 32
        "model.layers.0.mlp.experts.0.down_proj.weight_packed": ("I32", [8, 8]),
        "model.layers.0.mlp.experts.0.down_proj.weight_scale": ("BF16", [8, 2]),
        "model.layers.61.mlp.experts.0.down_proj.weight_packed": ("I32", [8, 8]),   # MTP
    })
    by_role = model_facts.bytes_by_role_from_headers([shard], layers=61)
    assert by_role == {"embedding": 256, "head": 256, "norms_and_gates": 16 + 64,
                       "replicated_linear": 96, "sharded_linear": 256, "experts": 256 + 32}


def test_the_checkpoints_bytes_per_parameter_are_compared_with_the_widths(tmp_path, capsys):
    kimi = _config(KIMI)
    groups = model_facts.parameter_groups(kimi)
    note = model_facts.widths_note({"experts": int(groups["experts"] * 0.5625),
                                    "sharded_linear": groups["sharded_linear"] * 2}, groups,
                                   model_facts.weights_by_role(kimi), "int4")
    assert "experts 0.5625 B (facts 0.5625 B)" in note
    assert "sharded_linear 2 B (facts 2 B)" in note


def test_given_the_checkpoint_the_tool_says_its_bytes_per_parameter_by_role(tmp_path, capsys):
    shard = tmp_path / "model.safetensors"
    _safetensors(shard, {"model.layers.0.mlp.experts.0.down_proj.weight_packed": ("I32", [8, 8]),
                         "model.layers.0.self_attn.o_proj.weight": ("BF16", [8, 8])})
    status = model_facts.main([str(KIMI), "--safetensors", str(shard)])
    _, err = capsys.readouterr()
    assert status == 0 and "checkpoint bytes per parameter by role" in err
    assert "experts" in err and "(facts 0.5625 B)" in err


def test_glm_moe_dsa_reads_as_deepseek_v32s_layout():
    # vLLM registers GlmMoeDsaForCausalLM from deepseek_v2.py as a subclass of
    # DeepseekV2ForCausalLM (MLA + DSA indexer + shared/routed experts): same roles, same KV.
    v32 = _config(FIXTURES / "deepseek-v3.2.config.json")
    glm = {**v32, "model_type": "glm_moe_dsa", "architectures": ["GlmMoeDsaForCausalLM"]}
    assert model_facts.parameter_groups(glm) == model_facts.parameter_groups(v32)
    assert model_facts.attention_facts(glm) == model_facts.attention_facts(v32)
