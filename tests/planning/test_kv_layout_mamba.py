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


def test_speculative_tokens_lengthen_the_mamba2_conv_state():
    # mamba2_state_shape(num_spec): conv kernel − 1 + 2 speculative tokens = 5 columns.
    assert kv_layout.mamba2_state_bytes(NANO_9B_V2, 1, 2, 4, speculative_tokens=2) == \
        12_288 * 5 * 2 + 5_242_880


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


@pytest.mark.parametrize("linear_layers,version,on", [
    (False, "0.19.0", True), (True, "0.19.0", False), (True, "0.27.9", False),
    (True, "0.28.0", True), (True, "0.31.9", True),
    (True, "0.32.0", True), (True, "0.34.0", True)], ids=lambda value: str(value))
def test_a_hybrids_prefix_caching_is_opt_in_before_vllm_0_28(linear_layers, version, on):
    # 0.26.0/0.27.0 arg_utils: `is_prefix_caching_supported and not is_hybrid`; from 0.28.0
    # default_prefix_caching = is_prefix_caching_supported, True for a generative hybrid
    # (vllm/config/model.py, read in the 0.28.0-0.31.0 wheels).
    assert kv_layout.prefix_caching_default(linear_layers, parse_version(version)) is on


@pytest.mark.parametrize("kind,version,caching,per_block", [
    ("mamba2", "0.26.0", True, True), ("mamba2", "0.27.9", True, True),
    ("mamba2", "0.28.0", True, False), ("mamba2", "0.31.9", True, False),
    ("mamba2", "0.32.0", True, False), ("mamba2", "0.26.0", False, False),
    ("gated_delta_net", "0.26.0", True, False)], ids=lambda value: str(value))
def test_a_mamba2_state_is_kept_per_block_only_with_prefix_caching_before_0_28(
        kind, version, caching, per_block):
    # 0.27.0 MambaModelConfig: mode 'all' for SupportsMambaPrefixCaching models; 0.28.0
    # sets 'align' whatever the model (vllm/model_executor/models/config.py).
    assert kv_layout.keeps_state_per_block({"kind": kind}, parse_version(version),
                                           caching) is per_block
    assert kv_layout.keeps_state_per_block(None, parse_version(version), caching) is False


def test_a_state_per_block_takes_the_ssd_chunks_multiple_and_grows_with_the_request():
    # lcm(128, 16) × cdiv(cdiv(5,316,608, 4,096), 128) = 128 × 11; lcm(256, 16) = 256;
    # lcm(100, 16) = 400; a larger configured block stays.
    assert kv_layout.prefix_cached_block_size(5_316_608, 4096, 16, 128) == 1408
    assert kv_layout.prefix_cached_block_size(5_316_608, 4096, 16, 256) == 1536
    assert kv_layout.prefix_cached_block_size(5_316_608, 4096, 16, 100) == 1600
    assert kv_layout.prefix_cached_block_size(5_316_608, 4096, 2048, 128) == 2048
    spec = kv_layout.CacheSpec(mf.LINEAR_ATTENTION, 1408, 1.0)
    full = kv_layout.CacheSpec(mf.FULL_ATTENTION, 1408, 1.0)
    per_block = kv_layout.keep_state_per_block([spec, full])
    assert per_block[1] == full
    assert per_block[0].blocks_per_request(32768, 8192) == 24
    assert spec.blocks_per_request(32768, 8192) == 1
    assert per_block[0].type_key() != spec.type_key()


def test_the_plans_state_note_names_the_kind_its_bytes_and_dtypes():
    note = kv_layout.state_note(NANO_9B_V2, 1, 2, 4)
    assert note == ("one mamba2 layer's state 5,316,608 B at TP 1 (conv 2 B, SSM 4 B a value; "
                    "vllm/model_executor/layers/mamba/mamba_utils.py mamba2_state_shape)")
    gdn = {key: value for key, value in NANO_9B_V2.items() if key != "kind"}
    assert "(conv 2 B, SSM 4 B a value;" in kv_layout.state_note(gdn, 1, 2, 4)
    assert "(2 B a value;" in kv_layout.state_note({**gdn, "kind": "kda"}, 1, 2, 4)
    assert "gated_delta_net_state_shape" in kv_layout.state_note(gdn, 1, 2, 4)


def test_state_dtypes_read_the_mamba_cache_flags():
    arch, v32 = "NemotronHForCausalLM", parse_version("0.32.0")
    assert kv_layout.state_dtypes(arch, NANO_9B_V2, v32, ()) == (2, 4)
    assert kv_layout.state_dtypes(arch, None, v32, ("--mamba-cache-dtype", "float32")) == (4, 4)
    assert kv_layout.state_dtypes("Other", NANO_9B_V2, v32, ("--mamba-cache-dtype=float32",)
                                  ) == (4, 4)
    assert kv_layout.state_dtypes("Other", NANO_9B_V2, v32, ()) == (2, 2)
    assert kv_layout.state_dtypes(arch, {**NANO_9B_V2, "ssm_cache_dtype": "bfloat16"}, v32,
                                  ("--mamba-ssm-cache-dtype", "auto")) == (2, 2)


def test_a_config_reader_refuses_what_the_facts_cannot_say():
    with pytest.raises(ValueError, match=r"layer kinds the plan cannot size: \['X'\]"):
        kv_layout.layout_facts_from_config({"model_type": "nemotron_h", "num_hidden_layers": 2,
                                            "hybrid_override_pattern": "MX"})
    granite = {"model_type": "granitemoehybrid", "num_hidden_layers": 2, "hidden_size": 1536,
               "mamba_expand": 2, "layer_types": ["mamba", "attention"], "mamba_n_heads": 48,
               "mamba_d_head": 32, "mamba_n_groups": 1, "mamba_d_state": 128,
               "mamba_d_conv": 4, "mamba_chunk_size": 256}
    with pytest.raises(ValueError, match=r"mamba_expand × hidden_size \(2 × 1536\) is not "
                                         r"heads × head dim \(48 × 32\)"):
        kv_layout.layout_facts_from_config(granite)
    facts = kv_layout.layout_facts_from_config({**granite, "mamba_d_head": 64})
    assert facts["linear_attention"]["chunk_size"] == 256
    assert "ssm_cache_dtype" not in facts["linear_attention"]
    pinned = kv_layout.layout_facts_from_config(
        {**granite, "mamba_d_head": 64, "mamba_ssm_cache_dtype": "float32"})
    assert pinned["linear_attention"]["ssm_cache_dtype"] == "float32"
    assert kv_layout.layout_facts_from_config(
        {**granite, "model_type": "granite", "layer_types": None}) == {}
