"""A Gated DeltaNet layer's temporal (recurrent) state in the SSM cache dtype, its conv state
in the conv dtype (vllm/model_executor/layers/mamba/mamba_utils.py MambaStateDtypeCalculator
.gated_delta_net_state_dtype -> _mamba_state_dtype, the same in the 0.17.0, 0.19.0, 0.26.0
and 0.34.0 wheels). Qwen3.5/3.6's config.json sets text_config mamba_ssm_dtype: float32, which
vLLM applies as --mamba-ssm-cache-dtype when that is auto, from 0.17.0 (the first wheel with
qwen3_5.py) to 0.34.0 (vllm/model_executor/models/config.py
Qwen3_5ForConditionalGenerationConfig.verify_and_update_config; a flag other than auto wins).
Pinned by the block vllm#40691 logs for Qwen3.5-27B at TP 1: 290,864 = 371 × 784 tokens."""

import pytest

from facts import model_families
from facts import parse_version
from planning import kv_layout

QWEN35_27B = {"num_key_heads": 16, "num_value_heads": 48, "key_head_dim": 128,
              "value_head_dim": 128, "conv_kernel_dim": 4}
CONV = (2 * 16 * 128 + 48 * 128) * 3          # values per request at TP 1
TEMPORAL = 48 * 128 * 128


def test_the_temporal_state_takes_the_ssm_bytes_and_the_conv_state_the_conv_bytes():
    assert kv_layout.gated_delta_net_state_bytes(QWEN35_27B, 1, 2, 4) == CONV * 2 + TEMPORAL * 4
    assert kv_layout.gated_delta_net_state_bytes(QWEN35_27B, 1, 2, 4) == 3_207_168
    assert kv_layout.gated_delta_net_state_bytes(QWEN35_27B, 1, 4, 2) == CONV * 4 + TEMPORAL * 2
    assert kv_layout.gated_delta_net_state_bytes(QWEN35_27B, 1, 2) == 1_634_304
    assert kv_layout.gated_delta_net_state_bytes(QWEN35_27B, 2, 2, 4,
                                                 speculative_tokens=1) == (
        CONV // 3 // 2 * 4 * 2 + TEMPORAL // 2 * 4)


def test_linear_state_bytes_hands_the_ssm_bytes_to_a_gated_delta_net_layer():
    assert kv_layout.linear_state_bytes(QWEN35_27B, 1, 2, 4) == 3_207_168
    assert kv_layout.linear_state_bytes({**QWEN35_27B, "kind": "gated_delta_net"}, 1, 2,
                                        4) == 3_207_168
    assert kv_layout.linear_state_bytes(QWEN35_27B, 1, 2) == 1_634_304


def test_qwen3_5_27b_takes_the_784_token_block_vllm_40691_logs():
    per_token = 2 * 4 * 256 * 2                  # K and V, 4 KV heads × 256, BF16, TP 1
    assert kv_layout.hybrid_block_size(kv_layout.linear_state_bytes(QWEN35_27B, 1, 2, 4),
                                       per_token, 16) == 784
    assert kv_layout.hybrid_block_size(kv_layout.linear_state_bytes(QWEN35_27B, 1, 2, 2),
                                       per_token, 16) == 400


@pytest.mark.parametrize("architecture,pinned,version,flag,expected", [
    ("Qwen3_5ForConditionalGeneration", "float32", "0.17.0", None, "float32"),
    ("Qwen3_5ForConditionalGeneration", "float32", "0.16.0", None, "auto"),
    ("Qwen3_5MoeForConditionalGeneration", "float32", "0.34.0", None, "float32"),
    ("Qwen3_5ForCausalLM", "float32", "0.34.0", None, "float32"),
    ("Qwen3_5MoeForCausalLM", "float32", "0.34.0", None, "float32"),
    ("Qwen3_5ForConditionalGeneration", None, "0.19.0", None, "auto"),
    ("Qwen3_5ForConditionalGeneration", "float32", "0.19.0", "auto", "float32"),
    ("Qwen3_5ForConditionalGeneration", "float32", "0.19.0", "bfloat16", "bfloat16"),
    ("Qwen3NextForCausalLM", "float32", "0.19.0", None, "auto")],
    ids=lambda value: str(value))
def test_qwen3_5_runs_its_config_jsons_ssm_dtype_from_0_17_0_unless_the_flag_says(
        architecture, pinned, version, flag, expected):
    assert kv_layout.ssm_cache_dtype(architecture, pinned, parse_version(version),
                                     flag) == expected


def test_the_qwen3_5_architectures_pin_the_ssm_cache_dtype_and_qwen3_next_does_not():
    assert all(model_families.pins_ssm_cache_dtype(arch)
               for arch in model_families.QWEN3_5_ARCHITECTURES)
    assert model_families.QWEN3_5_ARCHITECTURES == (
        "Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForConditionalGeneration",
        "Qwen3_5ForCausalLM", "Qwen3_5MoeForCausalLM")
    assert not model_families.pins_ssm_cache_dtype("Qwen3NextForCausalLM")


def test_state_dtypes_give_qwen3_5_a_float32_temporal_state_and_a_model_dtype_conv_state():
    v19, wide = parse_version("0.19.0"), {**QWEN35_27B, "ssm_cache_dtype": "float32"}
    assert kv_layout.state_dtypes("Qwen3_5ForConditionalGeneration", wide, v19, ()) == (2, 4)
    assert kv_layout.state_dtypes("Qwen3NextForCausalLM", wide, v19, ()) == (2, 2)


def test_the_plans_state_note_says_a_gated_delta_net_layers_ssm_bytes():
    note = kv_layout.state_note(QWEN35_27B, 1, 2, 4)
    assert note.startswith("one gated_delta_net layer's state 3,207,168 B at TP 1 "
                           "(conv 2 B, SSM 4 B a value;")


def test_the_config_jsons_mamba_ssm_dtype_is_written_as_the_facts_ssm_cache_dtype():
    config = {"num_hidden_layers": 4, "full_attention_interval": 4,
              "linear_num_key_heads": 16, "linear_num_value_heads": 48,
              "linear_key_head_dim": 128, "linear_value_head_dim": 128,
              "linear_conv_kernel_dim": 4, "mamba_ssm_dtype": "float32"}
    facts = kv_layout.layout_facts_from_config(config)
    assert facts["linear_attention"] == {**QWEN35_27B, "ssm_cache_dtype": "float32"}
    for absent in ({}, {"mamba_ssm_dtype": "auto"}):
        config.pop("mamba_ssm_dtype", None)
        config.update(absent)
        assert kv_layout.layout_facts_from_config(config)["linear_attention"] == QWEN35_27B


def test_with_the_same_ssm_bytes_only_a_mamba2_layer_replicates_a_group_tp_does_not_divide():
    """Gated DeltaNet and Mamba2 states have the same shape in the facts' keys once both take
    the SSM bytes; they part where TP does not divide Mamba2's groups
    (extra_groups_for_head_shards): one group at TP 2 is two."""
    one_group = {**QWEN35_27B, "num_key_heads": 1}
    gdn_conv = (2 * 1 * 128 + 48 * 128) // 2 * 3
    mamba_conv = (48 * 128 + 2 * 2 * 128) // 2 * 3
    assert kv_layout.linear_state_bytes(one_group, 2, 2, 4) == gdn_conv * 2 + TEMPORAL // 2 * 4
    assert kv_layout.linear_state_bytes({**one_group, "kind": "mamba2"}, 2, 2, 4) == (
        mamba_conv * 2 + TEMPORAL // 2 * 4)
