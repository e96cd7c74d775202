"""tools.model_facts reads Qwen3.5 / Qwen3.6 (model_type qwen3_5 and qwen3_5_moe): the text
model is the multimodal config's text_config, its Gated DeltaNet and gated full-attention
layers are written as layer_types and a gated_delta_net linear_attention the plan sizes, and
its parameters by role are counted where vLLM 0.19.0 keeps them (models/qwen3_5.py
Qwen3_5DecoderLayer, layers/mamba/gdn_linear_attn.py GatedDeltaNetAttention, models/qwen3_vl.py
Qwen3_VisionTransformer) — the vision tower and its merger included, which vLLM loads unless
--language-model-only. The float32 recurrent state (text_config mamba_ssm_dtype) is written
as linear_attention.ssm_cache_dtype; what the facts cannot say (a deployment that drops the
vision tower) is said.

The fixtures say in `_mirrors` where their values come from."""

import json
import pathlib

import pytest
import yaml

from planning import config
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
QWEN36_27B = FIXTURES / "qwen3.6-27b.config.json"
QWEN35_MOE = FIXTURES / "qwen3.5-35b-a3b-style.config.json"


def _config(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _facts(capsys, path):
    status = model_facts.main([str(path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    [facts] = yaml.safe_load("models:\n" + out)["models"].values()
    return facts, out, err


def _vision_27b():
    """Qwen3_VisionTransformer of the 27B (h 1152, i 4304, 27 blocks, patch 16 × 16 × 2
    frames, 2304 positions, merge 2 into the text model's 5120), by where vLLM keeps it."""
    h, i, merged = 1152, 4304, 4 * 1152
    block_sharded = 3 * h * h + 3 * h + h * h + h * i + i + i * h    # qkv (+bias), proj, fc1, fc2
    block_whole = 4 * h + h + h               # two LayerNorms, proj and fc2 biases (row-parallel)
    merger_sharded = merged * merged + merged + merged * 5120
    merger_whole = 2 * h + 5120
    patch_and_positions = 3 * 2 * 16 * 16 * h + h + 2304 * h
    return (27 * block_sharded + merger_sharded,
            27 * block_whole + merger_whole + patch_and_positions)


def test_qwen3_5_is_written_as_gated_delta_net_and_full_attention_layers_the_config_accepts(
        capsys):
    facts, _, _ = _facts(capsys, QWEN36_27B)
    kinds = facts["layer_types"]
    assert len(kinds) == 64 and kinds.count("linear_attention") == 48
    assert [i for i, kind in enumerate(kinds) if kind == "full_attention"] == list(
        range(3, 64, 4))
    assert facts["linear_attention"] == {"num_key_heads": 16, "num_value_heads": 48,
                                         "key_head_dim": 128, "value_head_dim": 128,
                                         "conv_kernel_dim": 4, "ssm_cache_dtype": "float32"}
    assert facts["attention"] == {"kind": "gqa", "heads": 24, "kv_heads": 4, "head_dim": 256}
    assert (facts["architecture"], facts["layers"], facts["hidden_size"],
            facts["intermediate_size"], facts["vocab_size"], facts["max_context"]) == (
        "Qwen3_5ForConditionalGeneration", 64, 5120, 17408, 248320, 262144)
    assert facts["weights_dtype"] == "bf16" and "experts" not in facts
    facts.update(hf_id="Qwen/Qwen3.6-27B", min_vllm="0.17.0", min_compute_capability=8.0)
    model = config.ModelFacts.model_validate(facts)
    assert model.linear_attention.kind == "gated_delta_net"


def test_qwen3_5_counts_text_layers_and_the_vision_tower_where_vllm_keeps_them():
    groups = model_facts.parameter_groups(_config(QWEN36_27B))
    hidden, key_dim, value_dim, value_heads = 5120, 16 * 128, 48 * 128, 48
    delta_net = (hidden * (2 * key_dim + 2 * value_dim) + hidden * 2 * value_heads
                 + (2 * key_dim + value_dim) * 4 + 2 * value_heads + value_dim * hidden)
    gated_attention = hidden * 24 * 256 * 2 + 2 * hidden * 4 * 256 + 24 * 256 * hidden
    vision_sharded, vision_whole = _vision_27b()
    assert groups["sharded_linear"] == (48 * delta_net + 16 * gated_attention
                                        + 64 * 3 * hidden * 17408 + vision_sharded)
    assert groups["norms_and_gates"] == (48 * 128 + 16 * 2 * 256 + 64 * 2 * hidden + hidden
                                         + vision_whole)
    assert groups["embedding"] == groups["head"] == 248320 * hidden
    assert groups["experts"] == groups["replicated_linear"] == 0
    # "27B": 26.9 B in the language model, 0.46 B in the vision tower and merger.
    assert 27.3e9 < sum(groups.values()) < 27.4e9


def test_a_text_only_qwen3_5_config_counts_no_vision_tower():
    text = _config(QWEN36_27B)["text_config"]
    with_vision = model_facts.parameter_groups(_config(QWEN36_27B))
    alone = model_facts.parameter_groups(text)
    vision_sharded, vision_whole = _vision_27b()
    assert with_vision["sharded_linear"] - alone["sharded_linear"] == vision_sharded
    assert with_vision["norms_and_gates"] - alone["norms_and_gates"] == vision_whole


def test_qwen3_5_moe_counts_experts_router_and_shared_expert_on_every_layer(capsys):
    facts, _, _ = _facts(capsys, QWEN35_MOE)
    hidden = 2048
    assert facts["experts"] == 256 and facts["experts_per_token"] == 8
    assert facts["moe_intermediate_size"] == 512
    assert facts["intermediate_size"] == 512      # every layer MoE: the experts' width
    assert facts["parameters"]["experts"] == 40 * 256 * 3 * hidden * 512
    assert facts["layer_types"].count("full_attention") == 10
    assert facts["attention"] == {"kind": "gqa", "heads": 16, "kv_heads": 2, "head_dim": 256}
    groups = model_facts.parameter_groups(_config(QWEN35_MOE)["text_config"])
    key_dim, value_dim = 16 * 128, 32 * 128
    delta_net = (hidden * (2 * key_dim + 2 * value_dim) + hidden * 2 * 32
                 + (2 * key_dim + value_dim) * 4 + 2 * 32 + value_dim * hidden)
    gated_attention = hidden * 16 * 256 * 2 + 2 * hidden * 2 * 256 + 16 * 256 * hidden
    assert groups["sharded_linear"] == (30 * delta_net + 10 * gated_attention
                                        + 40 * 3 * hidden * 512)          # shared expert
    assert groups["norms_and_gates"] == (30 * 128 + 10 * 2 * 256 + 40 * (256 * hidden + hidden)
                                         + 40 * 2 * hidden + hidden)      # router, its gate
    facts.update(hf_id="Qwen/Qwen3.5-35B-A3B", min_vllm="0.17.0", min_compute_capability=8.0)
    assert config.ModelFacts.model_validate(facts).experts == 256


def test_what_the_facts_cannot_say_about_qwen3_5_is_said(capsys):
    _, out, err = _facts(capsys, QWEN36_27B)
    notes = [line for line in out.splitlines() if "could not determine" in line]
    vision = next(note for note in notes if "vision tower" in note)
    assert "--language-model-only" in vision and f"{sum(_vision_27b()):,}" in vision
    assert not [note for note in notes if "mamba_ssm_dtype" in note]   # written, not noted
    assert "could not determine" in err


def test_the_qwen3_5_benchmark_facts_carry_the_fixtures_float32_ssm_cache_dtype(capsys):
    facts, _, _ = _facts(capsys, QWEN36_27B)
    stack_facts = yaml.safe_load((FIXTURES.parents[1] / "benchmark" / "stack_facts.yaml"
                                  ).read_text(encoding="utf-8"))
    assert stack_facts["models"]["qwen3.5-27b"]["linear_attention"] == facts[
        "linear_attention"]


def test_a_qwen3_5_attention_without_its_output_gate_has_no_gate_rows():
    text = _config(QWEN36_27B)["text_config"]
    gated = model_facts.parameter_groups(text)
    plain = model_facts.parameter_groups({**text, "attn_output_gate": False})
    assert gated["sharded_linear"] - plain["sharded_linear"] == 16 * 5120 * 24 * 256
