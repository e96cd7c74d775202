"""tools.model_facts on 2026's families (qwen3_moe, gpt_oss, deepseek_v32, kimi_k2; qwen3_next
refused with what was read), written through a YAML library so what it prints loads back as
valid `model.facts`, with quantization_config read (ignore lists, group size, formats).

Fixtures (tests/fixtures/*.config.json) are abridged copies of the hub's config.json files;
each names the repository it mirrors in `_mirrors`."""

import json
import pathlib

import pytest
import yaml

from planning import config
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
QWEN3_MOE = FIXTURES / "qwen3-30b-a3b.config.json"
GPT_OSS = FIXTURES / "gpt-oss-20b.config.json"
V32 = FIXTURES / "deepseek-v3.2.config.json"
KIMI = FIXTURES / "kimi-k2-thinking.config.json"
QWEN3_NEXT = FIXTURES / "qwen3-next-80b-a3b.config.json"


def _config(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _run(capsys, *args):
    status = model_facts.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_what_the_tool_writes_loads_back_with_strings_yaml_would_misread():
    # Hand-written YAML read `yes` as a boolean and `0.10` as the float 0.1.
    facts = {"hf_id": "org/yes", "architecture": "0.10", "params_b": 1.5,
             "weights_dtype": "bf16", "attention": {"kind": "gqa", "heads": 8,
                                                    "kv_heads": 8, "head_dim": 64}}
    text = model_facts.to_yaml("no", facts)
    assert yaml.safe_load("models:\n" + text)["models"]["no"] == facts


def test_qwen3_moe_counts_by_role_match_the_benchmarks_facts():
    groups = model_facts.parameter_groups(_config(QWEN3_MOE))
    # benchmark/stack_facts.yaml qwen3-30b-a3b (published 30.5B).
    assert groups == {"embedding": 311164928, "head": 311164928,
                      "norms_and_gates": 12793856, "replicated_linear": 0,
                      "sharded_linear": 905969664, "experts": 28991029248}


def test_gpt_oss_counts_biases_sinks_and_router_by_where_vllm_keeps_them():
    groups = model_facts.parameter_groups(_config(GPT_OSS))
    # experts 24 × 32 × (2880 × 5760 + 2880 × 2880); attention q/k/v/o + biases + 64 sinks
    # per layer (split by TP with the heads); router 32 × 2880 + 32 and the experts' biases
    # 32 × (5760 + 2880) stay 16-bit (modules_to_not_convert, mxfp4 keeps biases BF16).
    assert groups["experts"] == 19_110_297_600
    assert groups["sharded_linear"] == 24 * (2880 * 80 * 64 + 4096 * 2880 + 80 * 64 + 2880 + 64)
    assert groups["norms_and_gates"] == 24 * (2 * 2880 + 32 * 2880 + 32 + 32 * 8640) + 2880
    assert sum(groups.values()) / 1e9 == pytest.approx(20.9, abs=0.05)


def test_deepseek_v32_adds_the_indexer_to_v3s_counts():
    v3 = dict(_config(V32), model_type="deepseek_v3")
    for key in ("index_head_dim", "index_n_heads", "index_topk"):
        del v3[key]
    base, v32 = model_facts.parameter_groups(v3), model_facts.parameter_groups(_config(V32))
    # vllm/model_executor/models/deepseek_v2.py Indexer (0.34): wq_b 1536 × 128·64 replicated
    # and quantized; wk_weights_proj 7168 × (128 + 64) unquantized; k_norm LayerNorm(128).
    assert v32["replicated_linear"] - base["replicated_linear"] == 61 * 1536 * 128 * 64
    assert v32["norms_and_gates"] - base["norms_and_gates"] == 61 * (7168 * 192 + 2 * 128)
    assert v32["experts"] == base["experts"]


def test_a_dsa_config_sharing_the_indexer_writes_its_shared_layers_as_facts():
    """GLM-5.2's indexer_types (vllm/model_executor/models/utils.py compute_skip_topk_layers):
    the "shared" layers keep no indexer cache; V3.2's config shares none and writes no key."""
    v32 = _config(V32)
    types = ["full", "shared", "shared", "shared"] * 15 + ["full"]
    glm = {**v32, "model_type": "glm_moe_dsa", "architectures": ["GlmMoeDsaForCausalLM"],
           "indexer_types": types}
    facts = model_facts.model_facts(glm, hf_id="zai-org/GLM-5.2")
    assert facts["shared_indexer_layers"] == [i for i, kind in enumerate(types)
                                              if kind == "shared"]
    config.ModelFacts.model_validate(facts)
    assert "shared_indexer_layers" not in model_facts.model_facts(v32, hf_id="d/v32")


def test_indexer_types_that_older_vllm_would_not_follow_are_said():
    """vLLM 0.24-0.33 read index_topk_freq / index_topk_pattern only (0.34 reads indexer_types
    first): a config whose two descriptions differ is planned as 0.34 runs it, and said."""
    v32 = _config(V32)
    types = ["full", "shared"] * 30 + ["full"]
    glm = {**v32, "indexer_types": types}
    notes = model_facts.could_not_determine(glm, "fp8")
    assert any("indexer_types" in note and "0.33" in note for note in notes)
    agreeing = {**glm, "index_topk_freq": 2, "index_skip_topk_offset": 1}
    assert not any("indexer_types" in note
                   for note in model_facts.could_not_determine(agreeing, "fp8"))


def test_kimi_k2_reads_as_deepseek_v3_layout_with_its_own_shape():
    groups = model_facts.parameter_groups(_config(KIMI))
    assert groups["experts"] == 60 * 384 * 3 * 7168 * 2048
    assert sum(groups.values()) / 1e9 == pytest.approx(1026, rel=0.01)   # "1T total"


def test_quantization_config_is_read_for_ignore_lists_group_size_and_format():
    quant = model_facts.quantization(_config(KIMI))
    assert quant == {"method": "compressed-tensors", "bits": 4, "group_size": 32,
                     "format": "pack-quantized",
                     "kept": ["lm_head", "re:.*self_attn.*", "re:.*shared_experts.*",
                              r"re:.*mlp\.(gate|up|gate_up|down)_proj.*"]}
    assert model_facts.quantization(_config(GPT_OSS))["kept"][0] == "model.layers.*.self_attn"
    assert model_facts.quantization(_config(V32))["block"] == [128, 128]
    assert model_facts.quantization(_config(QWEN3_MOE)) is None


def test_the_group_size_and_16_bit_modules_are_written_as_widths_by_role(capsys):
    # Before issue 18 item 2 these were only "could not determine" notes.
    status, out, err = _run(capsys, KIMI)
    assert status == 0
    entry = yaml.safe_load("models:\n" + out)["models"]["kimi-k2-thinking"]
    assert entry["weights_by_role"]["experts"] == {"dtype": "int4", "group_size": 32}
    assert entry["weights_by_role"]["sharded_linear"] == {"dtype": "bf16"}
    assert "could not determine: group size" not in out


@pytest.mark.parametrize("path, name, experts", [
    (QWEN3_MOE, "qwen3-30b-a3b", 128), (GPT_OSS, "gpt-oss-20b", 32),
    (V32, "deepseek-v3.2", 256), (KIMI, "kimi-k2-thinking", 384),
])
def test_each_new_family_prints_facts_the_config_accepts(capsys, path, name, experts):
    status, out, _ = _run(capsys, path, "--name", name, "--hf-id", "org/" + name)
    assert status == 0
    entry = yaml.safe_load("models:\n" + out)["models"][name]
    entry.update(min_vllm="0.20.0", min_compute_capability=8.0)
    facts = config.ModelFacts.model_validate(entry)
    assert facts.experts == experts and facts.parameters is not None


def test_a_hybrid_linear_attention_model_is_written_as_facts_the_plan_sizes(capsys):
    """Qwen3-Next: 12 full-attention and 36 Gated DeltaNet layers, written as layer_types and
    linear_attention (planning/kv_layout.py), parameters by role; the facts load and plan."""
    status, out, _ = _run(capsys, QWEN3_NEXT)
    assert status == 0
    [facts] = yaml.safe_load("models:\n" + out)["models"].values()
    kinds = facts["layer_types"]
    assert kinds.count("full_attention") == 12 and kinds.count("linear_attention") == 36
    assert facts["linear_attention"] == {"num_key_heads": 16, "num_value_heads": 32,
                                         "key_head_dim": 128, "value_head_dim": 128,
                                         "conv_kernel_dim": 4}
    facts.update(hf_id="Qwen/Qwen3-Next-80B-A3B-Instruct", min_vllm="0.10.2",
                 min_compute_capability=8.0)
    model = config.ModelFacts.model_validate(facts)
    assert model.parameters.experts == 48 * 512 * 3 * 2048 * 512


def test_a_hybrid_family_the_tool_cannot_count_is_refused_with_what_was_read(capsys):
    kimi_linear = {**_config(QWEN3_NEXT), "model_type": "kimi_linear"}
    with pytest.raises(model_facts.UnsupportedModel) as error:
        model_facts.model_facts(kimi_linear)
    assert "kimi_linear" in str(error.value) and "per request" in str(error.value)


def test_moe_facts_without_parameters_by_role_are_refused():
    entry = {"hf_id": "org/moe", "architecture": "X", "params_b": 30.5,
             "weights_dtype": "bf16", "layers": 48, "hidden_size": 2048,
             "intermediate_size": 768, "vocab_size": 151936, "max_context": 40960,
             "attention": {"kind": "gqa", "heads": 32, "kv_heads": 4, "head_dim": 128},
             "experts": 128}
    with pytest.raises(ValueError) as error:
        config.ModelFacts.model_validate(entry)
    assert "model.facts.parameters" in str(error.value) and "experts" in str(error.value)


def test_kv_parts_the_facts_cannot_express_are_said_and_sliding_windows_written(capsys):
    _, out, _ = _run(capsys, GPT_OSS)
    [facts] = yaml.safe_load("models:\n" + out.split("    # ", 1)[0])["models"].values()
    assert facts["sliding_window"] == 128
    assert facts["layer_types"].count("sliding_attention") == 12
    _, out, err = _run(capsys, V32)
    assert "index_head_dim 128" in err and "indexer" in out


@pytest.mark.parametrize("fixture, per_token, width", [
    (QWEN3_MOE, 8, 768),     # moe_intermediate_size
    (GPT_OSS, 4, 2880),      # no moe_intermediate_size: its experts are intermediate_size wide
])
def test_moe_facts_carry_the_routing_the_fused_moe_workspace_needs(fixture, per_token, width):
    facts = model_facts.model_facts(_config(fixture))
    assert (facts["experts_per_token"], facts["moe_intermediate_size"]) == (per_token, width)
