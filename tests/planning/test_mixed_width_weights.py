"""Mixed-width checkpoints (issue 18 item 2): each role of the weights at its own width and
scale overhead, so a compressed-tensors / AWQ / GPTQ checkpoint that keeps attention, shared
experts and dense layers in BF16 and quantizes only the routed experts (Kimi-K2-Thinking:
INT4, one BF16 scale per 32 weights) is sized as it loads, not as an all-INT4 model."""

import json
import pathlib

import pytest
from pydantic import ValidationError

import facts
from planning import config, memory
from planning.layout import Layout
from tests.planning.conftest import SMALL_7B, configured
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def _kimi():
    return config.ModelFacts.model_validate(facts.models()["kimi-k2-thinking"])


def test_an_int4_weight_costs_half_a_byte_plus_one_16_bit_scale_per_group():
    assert memory.quantized_bytes_per_param("int4", 32) == pytest.approx(0.5 + 2 / 32)
    assert memory.quantized_bytes_per_param("int4", 128) == pytest.approx(0.515625)
    assert memory.quantized_bytes_per_param("int4") == memory.GPTQ_INT4_BYTES


def test_awq_keeps_a_4_bit_zero_point_per_group_as_well():
    assert memory.quantized_bytes_per_param("int4", 128, zero_points=True) == pytest.approx(
        0.5 + 2 / 128 + 0.5 / 128)


def test_other_widths_follow_their_format():
    assert memory.quantized_bytes_per_param("bf16") == 2.0
    assert memory.quantized_bytes_per_param("fp8") == 1 + memory.FP8_BLOCK_SCALE_BYTES
    assert memory.quantized_bytes_per_param("int8") == 1.0
    assert memory.quantized_bytes_per_param("int8", 128) == pytest.approx(1 + 2 / 128)
    assert memory.quantized_bytes_per_param("mxfp4") == memory.MXFP4_BYTES


def test_roles_the_facts_name_take_their_own_width_and_the_rest_the_schemes():
    widths = memory.role_widths("int4", {"sharded_linear": {"dtype": "bf16"},
                                         "experts": {"dtype": "int4", "group_size": 32}})
    assert widths["sharded_linear"] == 2.0 and widths["experts"] == 0.5625
    assert widths["replicated_linear"] == memory.GPTQ_INT4_BYTES
    assert widths["embedding"] == 2.0
    assert memory.role_widths("fp8", None) == memory.ROLE_BYTES["fp8"]


def test_kimi_k2_thinking_sizes_bf16_attention_and_int4_group_32_experts_per_gpu():
    model = _kimi()
    groups = model.parameter_groups()
    cfg_widths = memory.role_widths(model.weights_dtype, model.weights_by_role)
    # TP 8 on one node: experts / 8 at 0.5625 B; attention, shared and dense MLP linears / 8
    # at 2 B; MLA's replicated q_a/kv_a projections whole at 2 B; norms and gates whole;
    # embedding and head / 8; + the BF16 kv_b copies of MLA (64 heads / 8 × 512 × 256 × 2).
    expected = (groups["experts"] * 0.5625 / 8 + groups["sharded_linear"] * 2 / 8
                + groups["replicated_linear"] * 2 + groups["norms_and_gates"] * 2
                + (groups["embedding"] + groups["head"]) * 2 / 8
                + 61 * 512 * 64 / 8 * 256 * 2) / memory.GIB
    per_gpu = memory.weight_gib_per_gpu(groups, model.weights_dtype, model.layers, 8,
                                        attention=model.attention, widths=cfg_widths)
    assert per_gpu == pytest.approx(expected, rel=1e-9)
    # All-INT4-at-group-128 (what the plan assumed before) was 8 GiB per GPU light.
    all_int4 = memory.weight_gib_per_gpu(groups, "int4", model.layers, 8,
                                         attention=model.attention)
    assert per_gpu - all_int4 > 7.5


def test_the_weights_step_reads_the_facts_widths_and_says_them():
    cfg = configured(SMALL_7B, model={"preset": "kimi-k2-thinking"}, gpu={"type": "h200"},
                     vllmVersion="0.20.0")
    model = cfg.model.shape
    step = memory.weights(cfg, model, Layout(8, 1, 1, True))
    assert "experts 1014.686 G × 0.5625 B" in step.reason
    assert "sharded_linear" in step.reason and "× 2 B" in step.reason
    assert step.checkpoint_gib == pytest.approx(step.total_gib, rel=1e-9)


def test_a_role_the_facts_do_not_have_is_refused_naming_the_key():
    entry = dict(facts.models()["kimi-k2-thinking"])
    entry["weights_by_role"] = {"attention": {"dtype": "bf16"}}
    with pytest.raises(ValidationError) as error:
        config.ModelFacts.model_validate(entry)
    assert "weights_by_role" in str(error.value) or "weightsByRole" in str(error.value)


def test_a_group_size_must_be_positive():
    with pytest.raises(ValidationError):
        config.RoleWidth.model_validate({"dtype": "int4", "group_size": 0})


def test_mxfp4_experts_on_hoppers_triton_backend_keep_the_checkpoints_scales_too():
    # The Triton branch swizzles weights and scales into new tensors and deletes only the old
    # weights: the E8M0 scales (1/32 byte per weight) stay resident twice.
    # Beside them, the swizzled scales' rows padded to 256 and the biases made float32
    # (facts/mxfp4_moe.py extra_resident_bytes_per_expert: 46,080 B at TP 1, 32,000 at TP 2).
    triton = memory.mxfp4_resident_factor(2880, 2880, 9.0)
    assert triton == pytest.approx(1 + (1 / 32) / memory.MXFP4_BYTES
                                   + 46_080 / (3 * 2880**2 * memory.MXFP4_BYTES))
    assert memory.mxfp4_resident_factor(2880, 1440, 9.0) == pytest.approx(
        1472 / 1440 + (1 / 32) / memory.MXFP4_BYTES
        + 32_000 / (3 * 2880 * 1440 * memory.MXFP4_BYTES))
    # Marlin (below Hopper) and FlashInfer (Blackwell) keep one copy, padded.
    assert memory.mxfp4_resident_factor(2880, 2880, 8.0) == memory.mxfp4_expert_padding(
        2880, 2880, 8.0)
    assert memory.mxfp4_resident_factor(2880, 2880, 10.0) == memory.mxfp4_expert_padding(
        2880, 2880, 10.0)


def test_16_bit_and_grouped_8_bit_roles_and_an_unknown_width():
    assert memory.quantized_bytes_per_param("fp16") == 2.0
    # int8 with one 16-bit scale and one 8-bit zero point per group of 64
    assert memory.quantized_bytes_per_param("int8", 64, zero_points=True) == pytest.approx(
        1 + 2 / 64 + 1 / 64)
    with pytest.raises(ValueError, match="int2"):
        memory.quantized_bytes_per_param("int2")


def test_online_fp8_of_a_16_bit_checkpoint_requantizes_every_role_the_facts_list():
    facts_ = dict(facts.models()["deepseek-r1-distill-qwen-7b"])
    facts_["weights_by_role"] = {"sharded_linear": {"dtype": "int4", "group_size": 32}}
    cfg = configured(SMALL_7B, model={"preset": None, "facts": facts_, "quantization": "fp8"},
                     vllmVersion="0.20.0")
    step = memory.weights(cfg, cfg.model.shape, Layout(1))
    assert "(fp8-online)" in step.reason and "× 0.5625 B" not in step.reason
    assert "sharded_linear 6.526 G × 1 B" in step.reason
    # the checkpoint on disk is still stored at the widths the facts give
    assert step.checkpoint_gib < step.total_gib


def test_the_weights_step_puts_a_tied_embedding_on_the_last_stage_too():
    facts_ = {**facts.models()["deepseek-r1-distill-qwen-7b"], "tie_word_embeddings": True}
    cfg = configured(SMALL_7B, model={"preset": None, "facts": facts_}, vllmVersion="0.20.0")
    model = cfg.model.shape
    step = memory.weights(cfg, model, Layout(1, 2))
    assert step.per_gpu_gib == pytest.approx(memory.weight_gib_per_gpu(
        model.parameter_groups(), "bf16", model.layers, 1, 2, 1, True, model.attention)
        + memory.rotary_cache_gib(model))
    with pytest.raises(KeyError):
        memory.weight_gib(model.parameter_groups(), "int3", memory.ROLE_BYTES["bf16"])


def test_the_weights_step_sizes_each_gpu_at_the_roles_own_widths():
    cfg = configured(SMALL_7B, model={"preset": "kimi-k2-thinking", "trustRemoteCode": True},
                     gpu={"type": "h200"}, vllmVersion="0.20.0")
    model = cfg.model.shape
    step = memory.weights(cfg, model, Layout(8), cfg.gpu.resolved())
    assert step.per_gpu_gib == pytest.approx(memory.weight_gib_per_gpu(
        model.parameter_groups(), "int4", model.layers, 8, attention=model.attention,
        widths=memory.role_widths("int4", model.weights_by_role)))


def test_awq_zero_points_given_by_role_are_counted():
    widths = memory.role_widths("int4", {"experts": {"dtype": "int4", "group_size": 128,
                                                     "zero_points": True}})
    assert widths["experts"] == pytest.approx(0.5 + 2 / 128 + 0.5 / 128)


def test_without_a_gpu_the_weights_step_pads_no_experts():
    raw = json.loads((FIXTURES / "gpt-oss-20b.config.json").read_text(encoding="utf-8"))
    entry = {**model_facts.model_facts(raw, hf_id="openai/gpt-oss-20b"),
             "min_vllm": "0.10.1", "min_compute_capability": 8.0}
    cfg = configured(SMALL_7B, model={"preset": None, "facts": entry, "maxModelLen": 8192},
                     vllmVersion="0.20.0")
    model = cfg.model.shape
    bare = memory.weights(cfg, model, Layout(1))
    padded = memory.weights(cfg, model, Layout(1), cfg.gpu.resolved())
    assert bare.per_gpu_gib == pytest.approx(memory.weight_gib_per_gpu(
        model.parameter_groups(), "mxfp4", model.layers, 1, attention=model.attention)
        + memory.rotary_cache_gib(model))
    assert padded.per_gpu_gib > bare.per_gpu_gib
