"""tools.model_facts on NVFP4 checkpoints: TensorRT Model Optimizer's (config.json
quantization_config `quant_method: modelopt`, or hf_quant_config.json `quantization`, both read
by vllm/model_executor/layers/quantization/modelopt.py ModelOptQuantConfigBase.from_config) and
compressed-tensors' nvfp4-pack-quantized (config_groups weights: 4-bit float, tensor_group,
group 16: compressed_tensors.py _is_nvfp4_format / _is_fp4a4_nvfp4)."""

import json
import pathlib

from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
QWEN3_NVFP4 = FIXTURES / "qwen3-30b-a3b-nvfp4.config.json"
QWEN3 = FIXTURES / "qwen3-30b-a3b.config.json"


def _config(path=QWEN3_NVFP4):
    return json.loads(path.read_text(encoding="utf-8"))


def _compressed_tensors_nvfp4(ignore):
    weights = {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16,
               "symmetric": True}
    return {**_config(QWEN3), "quantization_config": {
        "quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights,
                                      "input_activations": dict(weights, dynamic="local")}},
        "ignore": ignore}}


def test_a_modelopt_nvfp4_config_reads_as_nvfp4():
    facts = model_facts.model_facts(_config())
    assert facts["weights_dtype"] == "nvfp4"
    assert "weights_by_role" not in facts        # lm_head and the routers are 16-bit anyway


def test_modelopt_exclude_modules_keep_the_attention_16_bit():
    config = _config()
    config["quantization_config"]["ignore"] = ["lm_head", "model.layers.*.self_attn*"]
    facts = model_facts.model_facts(config)
    assert facts["weights_by_role"] == {"sharded_linear": {"dtype": "bf16"},
                                        "experts": {"dtype": "nvfp4"}}


def test_hf_quant_config_json_is_read_like_vllm_reads_it(tmp_path):
    config = _config(QWEN3)
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "hf_quant_config.json").write_text(json.dumps({
        "producer": {"name": "modelopt", "version": "0.29.0"},
        "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": None, "group_size": 16,
                         "exclude_modules": ["lm_head", "model.layers.*.self_attn*"]}}),
        encoding="utf-8")
    merged = model_facts.with_hf_quant_config(config, tmp_path / "config.json")
    facts = model_facts.model_facts(merged)
    assert facts["weights_dtype"] == "nvfp4"
    assert facts["weights_by_role"]["sharded_linear"] == {"dtype": "bf16"}


def test_the_cli_reads_hf_quant_config_json_next_to_config_json(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps(_config(QWEN3)), encoding="utf-8")
    (tmp_path / "hf_quant_config.json").write_text(json.dumps({
        "quantization": {"quant_algo": "NVFP4", "group_size": 16,
                         "exclude_modules": ["lm_head"]}}), encoding="utf-8")
    assert model_facts.main([str(tmp_path / "config.json"), "--hf-id", "org/m"]) == 0
    assert "weights_dtype: nvfp4" in capsys.readouterr().out


def test_compressed_tensors_nvfp4_reads_as_nvfp4_with_its_ignore_list():
    facts = model_facts.model_facts(_compressed_tensors_nvfp4(
        ["lm_head", "re:.*self_attn.*"]))
    assert facts["weights_dtype"] == "nvfp4"
    assert facts["weights_by_role"] == {"sharded_linear": {"dtype": "bf16"},
                                        "experts": {"dtype": "nvfp4"}}


def test_an_nvfp4_group_other_than_16_is_said_not_modelled():
    config = _config()
    config["quantization_config"]["group_size"] = 32
    try:
        model_facts.model_facts(config)
    except model_facts.UnsupportedModel as exc:
        assert "group_size 32" in str(exc) and "16" in str(exc)
    else:
        raise AssertionError("an NVFP4 group of 32 was accepted")


def test_a_modelopt_algorithm_other_than_nvfp4_is_said_not_modelled():
    config = _config()
    config["quantization_config"]["quant_algo"] = "W4A16_NVFP4"
    try:
        model_facts.model_facts(config)
    except model_facts.UnsupportedModel as exc:
        assert "W4A16_NVFP4" in str(exc)
    else:
        raise AssertionError("a W4A16_NVFP4 modelopt checkpoint was accepted")


def test_an_exclude_list_keeping_part_of_a_role_is_said():
    config = _config()
    config["quantization_config"]["ignore"] = ["lm_head", "*q_proj"]
    notes = model_facts.could_not_determine(config, "nvfp4")
    assert any(note.startswith("sharded_linear: the checkpoint keeps "
                               "model.layers.0.self_attn.q_proj 16-bit") for note in notes)


def _mixed(quantized_layers):
    # ModelOpt MIXED_PRECISION (vLLM modelopt.py ModelOptMixedPrecisionConfig, 0.24.0): each
    # quantized module's algorithm in quantized_layers, modules absent from it unquantized.
    config = _config()
    config["quantization_config"] = {"quant_method": "modelopt",
                                     "quant_algo": "MIXED_PRECISION",
                                     "quantized_layers": quantized_layers}
    return config


def _layers(attention_algo, expert_algo, layers=48):
    entries = {}
    for layer in range(layers):
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            entries[f"model.language_model.layers.{layer}.self_attn.{proj}"] = \
                {"quant_algo": attention_algo}
        entries[f"model.language_model.layers.{layer}.mlp.experts"] = \
            {"quant_algo": expert_algo, "group_size": 16}
    return entries


def test_modelopt_mixed_precision_gives_each_role_its_algorithm():
    facts = model_facts.model_facts(_mixed(_layers("FP8", "NVFP4")))
    assert facts["weights_dtype"] == "nvfp4"
    assert facts["weights_by_role"] == {"sharded_linear": {"dtype": "fp8"},
                                        "experts": {"dtype": "nvfp4"}}


def test_modules_mixed_precision_does_not_list_stay_16_bit():
    layers = {key: value for key, value in _layers("FP8", "NVFP4").items()
              if "self_attn" not in key}
    facts = model_facts.model_facts(_mixed(layers))
    assert facts["weights_by_role"] == {"sharded_linear": {"dtype": "bf16"},
                                        "experts": {"dtype": "nvfp4"}}


def test_a_role_whose_parts_mixed_precision_stores_apart_is_said():
    layers = _layers("FP8", "NVFP4")
    del layers["model.language_model.layers.0.self_attn.o_proj"]
    notes = model_facts.could_not_determine(_mixed(layers), "nvfp4")
    assert any(note.startswith("sharded_linear: the checkpoint stores "
                               "model.layers.0.self_attn.q_proj as fp8, "
                               "model.layers.0.self_attn.o_proj as bf16") for note in notes)


def test_a_mixed_precision_algorithm_other_than_nvfp4_or_fp8_is_said_not_modelled():
    try:
        model_facts.model_facts(_mixed(_layers("FP8", "W4A16_NVFP4")))
    except model_facts.UnsupportedModel as exc:
        assert "W4A16_NVFP4" in str(exc)
    else:
        raise AssertionError("a W4A16_NVFP4 layer was accepted")


def test_mixed_precision_without_nvfp4_modules_is_fp8_and_its_nvfp4_groups_must_be_16():
    assert model_facts.weights_dtype(_mixed(_layers("FP8", "FP8"))) == "fp8"
    layers = _layers("FP8", "NVFP4")
    layers["model.language_model.layers.3.mlp.experts"]["group_size"] = 32
    try:
        model_facts.weights_dtype(_mixed(layers))
    except model_facts.UnsupportedModel as exc:
        assert "group_size 32" in str(exc)
    else:
        raise AssertionError("an NVFP4 group of 32 was accepted")


def test_an_nvfp4_config_without_group_size_takes_vllms_default_16():
    config = _config()
    del config["quantization_config"]["group_size"]
    assert model_facts.weights_dtype(config) == "nvfp4"


def test_mixed_precision_without_quantized_layers_is_said_not_modelled():
    # vLLM refuses it too (ModelOptMixedPrecisionConfig._from_config: "requires a
    # 'quantized_layers' mapping").
    try:
        model_facts.weights_dtype(_mixed({}))
    except model_facts.UnsupportedModel as exc:
        assert "MIXED_PRECISION of []" in str(exc)
    else:
        raise AssertionError("MIXED_PRECISION without quantized_layers was accepted")


def test_mixed_precision_keys_under_language_model_model_name_the_same_modules():
    layers = {key.replace("model.language_model.", "language_model.model."): value
              for key, value in _layers("FP8", "NVFP4").items()}
    assert model_facts.weights_by_role(_mixed(layers)) == {
        "sharded_linear": {"dtype": "fp8"}, "experts": {"dtype": "nvfp4"}}
