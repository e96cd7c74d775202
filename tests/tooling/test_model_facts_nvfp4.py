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
    config["quantization_config"]["quant_algo"] = "MIXED_PRECISION"
    try:
        model_facts.model_facts(config)
    except model_facts.UnsupportedModel as exc:
        assert "MIXED_PRECISION" in str(exc)
    else:
        raise AssertionError("a MIXED_PRECISION modelopt checkpoint was accepted")


def test_an_exclude_list_keeping_part_of_a_role_is_said():
    config = _config()
    config["quantization_config"]["ignore"] = ["lm_head", "*q_proj"]
    notes = model_facts.could_not_determine(config, "nvfp4")
    assert any(note.startswith("sharded_linear: the checkpoint keeps "
                               "model.layers.0.self_attn.q_proj 16-bit") for note in notes)
