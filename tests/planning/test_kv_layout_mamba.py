"""Mamba2 layers keep a per-request state sized as vLLM sizes it (planning/kv_layout.py
mamba2_state_bytes, from vllm/model_executor/layers/mamba/mamba_utils.py
MambaStateShapeCalculator.mamba2_state_shape and MambaStateDtypeCalculator.mamba2_state_dtype,
0.19.0-0.34.0 wheels): a conv state over the heads and the (TP-padded) groups' B and C, and an
SSM state in its own dtype, which Nemotron-H pins (vllm/model_executor/models/config.py
NemotronHForCausalLMConfig)."""

import pytest

from facts import model_families as mf
from facts import parse_version
from planning import kv_layout

# NVIDIA-Nemotron-Nano-9B-v2's Mamba2 mixer (config.json, as vLLM's nemotron_h.py reads it:
# mamba_num_heads 128, mamba_head_dim 80, n_groups 8, ssm_state_size 128, conv_kernel 4),
# in model.facts.linearAttention's keys: value heads/dim = the SSM heads, key heads = the
# groups (B and C), key dim = the state size.
NANO_9B_V2 = {"kind": "mamba2", "num_value_heads": 128, "value_head_dim": 80,
              "num_key_heads": 8, "key_head_dim": 128, "conv_kernel_dim": 4}


def test_a_mamba2_layer_keeps_a_conv_state_and_an_ssm_state_in_its_own_dtype():
    # conv: (128 × 80 + 2 × 8 × 128) × (4 − 1) × 2 B = 73,728; SSM 128 × 80 × 128 × ssm bytes.
    assert kv_layout.mamba2_state_bytes(NANO_9B_V2, 1, 2, 2) == 73_728 + 2_621_440
    assert kv_layout.mamba2_state_bytes(NANO_9B_V2, 1, 2, 4) == 73_728 + 5_242_880
    # TP 8 splits heads and groups: 12,288 / 8 × 3 × 2 + 16 × 80 × 128 × 4.
    assert kv_layout.mamba2_state_bytes(NANO_9B_V2, 8, 2, 4) == 9_216 + 655_360


def test_groups_that_tp_does_not_divide_are_replicated_to_one_per_rank():
    # extra_groups_for_head_shards: 1 group at TP 4 becomes 4 (one per rank), so the conv
    # state carries 2 × 4 × 128 group columns before the TP split; 8 groups at TP 4 stay 8.
    one_group = {**NANO_9B_V2, "num_key_heads": 1}
    assert kv_layout.extra_groups_for_head_shards(1, 4) == 3
    assert kv_layout.extra_groups_for_head_shards(8, 4) == 0
    assert kv_layout.extra_groups_for_head_shards(6, 4) == -2
    conv = (128 * 80 + 2 * 4 * 128) // 4 * 3 * 2
    assert kv_layout.mamba2_state_bytes(one_group, 4, 2, 2) == conv + 32 * 80 * 128 * 2


def test_nemotron_nano_9b_v2s_hybrid_block_is_672_tokens_with_a_16_bit_ssm_state():
    """vllm#24280 (a vLLM maintainer, 2025-09): hybrid mamba/attention models "might cause
    large attention page sizes (672 tokens for nvidia/NVIDIA-Nemotron-Nano-9B-v2)": 8 KV heads
    × 128 × 2 (K, V) × 2 B = 4,096 B a token at TP 1; 16 × cdiv(2,695,168, 16 × 4,096)."""
    state = kv_layout.linear_state_bytes(NANO_9B_V2, 1, 2)
    assert kv_layout.hybrid_block_size(state, 4096, 16) == 672
    # With the float32 SSM state vLLM pins from 0.20: 16 × cdiv(5,316,608, 65,536) = 1,312.
    assert kv_layout.hybrid_block_size(kv_layout.linear_state_bytes(NANO_9B_V2, 1, 2, 4),
                                       4096, 16) == 1312


@pytest.mark.parametrize("architecture,pinned,version,flag,expected", [
    ("NemotronHForCausalLM", None, "0.12.0", None, "auto"),
    ("NemotronHForCausalLM", None, "0.13.0", None, "float16"),
    ("NemotronHForCausalLM", None, "0.19.0", None, "float16"),
    ("NemotronHForCausalLM", None, "0.20.0", None, "float32"),
    ("NemotronHForCausalLM", "bfloat16", "0.32.0", None, "bfloat16"),
    ("NemotronHForCausalLM", "bfloat16", "0.32.0", "float16", "float16"),
    ("GraniteMoeHybridForCausalLM", "float32", "0.32.0", None, "auto"),
    ("GraniteMoeHybridForCausalLM", None, "0.32.0", "float32", "float32")],
    ids=lambda value: str(value))
def test_the_ssm_cache_dtype_is_the_flag_else_nemotron_hs_pin_by_version(
        architecture, pinned, version, flag, expected):
    assert kv_layout.ssm_cache_dtype(architecture, pinned, parse_version(version),
                                     flag) == expected


def test_an_ssm_cache_dtype_gives_its_bytes_and_auto_the_models():
    assert [kv_layout.state_dtype_bytes(name, 2) for name in
            ("auto", "float32", "float16", "bfloat16")] == [2, 4, 2, 2]


def test_nemotron_hs_pattern_gives_mamba_attention_and_cacheless_layers():
    config = {"model_type": "nemotron_h", "num_hidden_layers": 6,
              "hybrid_override_pattern": "M-M*-E", "mamba_num_heads": 128,
              "mamba_head_dim": 80, "n_groups": 8, "ssm_state_size": 128, "conv_kernel": 4}
    facts = kv_layout.layout_facts_from_config(config)
    assert facts["layer_types"] == [mf.LINEAR_ATTENTION, mf.NO_CACHE, mf.LINEAR_ATTENTION,
                                    mf.FULL_ATTENTION, mf.NO_CACHE, mf.NO_CACHE]
    assert facts["linear_attention"] == NANO_9B_V2


def test_granite_4_hs_layer_types_give_mamba_and_attention_layers():
    config = {"model_type": "granitemoehybrid", "num_hidden_layers": 3,
              "layer_types": ["mamba", "attention", "mamba"], "mamba_n_heads": 48,
              "mamba_d_head": 64, "mamba_n_groups": 1, "mamba_d_state": 128,
              "mamba_d_conv": 4}
    facts = kv_layout.layout_facts_from_config(config)
    assert facts["layer_types"] == [mf.LINEAR_ATTENTION, mf.FULL_ATTENTION,
                                    mf.LINEAR_ATTENTION]
    assert facts["linear_attention"] == {"kind": "mamba2", "num_value_heads": 48,
                                         "value_head_dim": 64, "num_key_heads": 1,
                                         "key_head_dim": 128, "conv_kernel_dim": 4}
